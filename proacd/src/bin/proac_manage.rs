//! `proac_manage`: deletes sessions, edits the MAC lists, reloads and
//! clears proacd's statistics over its control socket (see
//! `proac_manage(1)` and [`proac::cli::manage`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    proac::cli::manage::main(&args)
}
