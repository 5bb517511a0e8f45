//! `proacd`: the PPPoE access concentrator (see `proacd(8)`).
//!
//! `proacd [-f] [-D] [-d mask] [-L facility] [-c FILE] [-n] [-h] [-v]`

use std::process::ExitCode;

use common::daemon::{self as cdaemon, CommonArgs, Program};
use common::log::{self, Level};
use common::trace::TraceFlags;
use proac::config::{self, Config};
use proac::daemon::{self, Daemon, Options};

const PROGRAM: Program = Program {
    name: "proacd",
    version: env!("CARGO_PKG_VERSION"),
    usage: "Usage: proacd [-f] [-D] [-d mask] [-L facility] [-c config-file] [-n] [-h] [-v]",
    default_config: config::DEFAULT_CONFIG,
    check_help: "check the configuration, print it and exit",
};

/// proacd's own options, listed between `-f` and `-c`.
fn own_options(o: &mut getopts::Options) {
    o.optflag("D", "", "debug messages (log level debug)");
    o.optopt("d", "", "debug categories: route,pppoe,l2tp,ppp,ctrl,system,parser,all (or a number)", "MASK");
    o.optopt("L", "", "syslog facility: daemon, local0..local7", "FACILITY");
}

/// The daemon's options from the command line, and the syslog facility.
fn parse_own(common: &CommonArgs, m: &getopts::Matches) -> Result<(Options, log::Facility), String> {
    let debug_mask = m.opt_str("d").map(|s| daemon::parse_debug_mask(&s).map_err(|e| format!("-d: {e}"))).transpose()?.unwrap_or(TraceFlags::NONE);
    let facility = cdaemon::facility_arg(m)?;
    let opts = Options { config_path: common.config_path.clone(), foreground: common.foreground, debug: m.opt_present("D"), debug_mask };
    Ok((opts, facility))
}

/// The log level: the most verbose of the configured categories, debug
/// with `-D`.
fn level_of(cfg: &Config, debug: bool) -> Level {
    if debug {
        return Level::Debug;
    }
    let l = &cfg.system.log;
    [l.event, l.main, l.mgmt, l.pppoe].into_iter().max().unwrap_or(Level::Info)
}

fn main() -> ExitCode {
    start().unwrap_or_else(|code| code)
}

/// Everything up to [`Program::serve`]; `Err`: exit now with this status.
fn start() -> Result<ExitCode, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (common, (opts, facility)) = PROGRAM.command_line(&args, own_options, parse_own)?;
    let cfg = PROGRAM.load_config(common.check_only, || daemon::load(&opts), Config::describe)?;
    PROGRAM.start_logging(opts.foreground, facility, level_of(&cfg, opts.debug))?;
    log::set_system_mask(opts.debug_mask);
    let pid_file = cfg.system.pid_file.clone();
    Ok(PROGRAM.serve(opts.foreground, &pid_file, || Daemon::new(opts, cfg), Daemon::run))
}
