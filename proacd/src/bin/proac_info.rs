//! `proac_info`: shows proacd's state over its control socket (see
//! `proac_info(1)` and [`proac::cli::info`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    proac::cli::info::main(&args)
}
