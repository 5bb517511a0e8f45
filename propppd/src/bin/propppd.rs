//! `propppd`: the PPP daemon (see `propppd(8)`).

use std::process::ExitCode;

use common::daemon::{self as cdaemon, CommonArgs, Program};
use common::log::{self, Level};
use proppp::daemon::{self, Daemon, Options};

const PROGRAM: Program = Program {
    name: "propppd",
    version: env!("CARGO_PKG_VERSION"),
    usage: "Usage: propppd [-f] [-d ...] [-c config-file] [-n] [-h] [-v]",
    default_config: daemon::DEFAULT_CONFIG,
    check_help: "check the configuration, secrets and pools, and exit",
};

/// propppd's own option, listed between `-f` and `-c`.
fn own_options(o: &mut getopts::Options) {
    o.optflagmulti("d", "", "raise the log levels one step (repeatable)");
}

/// The daemon's options from the command line.
fn parse_own(common: &CommonArgs, m: &getopts::Matches) -> Result<Options, String> {
    Ok(Options { config_path: common.config_path.clone(), foreground: common.foreground, debug: u8::try_from(m.opt_count("d")).unwrap_or(u8::MAX) })
}

fn main() -> ExitCode {
    start().unwrap_or_else(|code| code)
}

/// Everything up to [`Program::serve`]; `Err`: exit now with this status.
fn start() -> Result<ExitCode, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (common, opts) = PROGRAM.command_line(&args, own_options, parse_own)?;
    let checked = PROGRAM.load_config(common.check_only, || daemon::load(&opts), |_| cdaemon::config_ok(&common.config_path))?;
    PROGRAM.start_logging(opts.foreground, log::Facility::LOG_DAEMON, Level::Debug)?;
    daemon::set_levels(&checked.config.system, opts.debug);
    let pid_file = checked.config.system.pid_file.clone();
    Ok(PROGRAM.serve(opts.foreground, &pid_file, || Daemon::new(opts, checked), Daemon::run))
}
