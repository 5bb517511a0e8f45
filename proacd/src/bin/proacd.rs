//! `proacd`: the PPPoE access concentrator (see `proacd(8)`).
//!
//! `proacd [-f] [-D] [-d mask] [-L facility] [-c FILE] [-n] [-h] [-v]`

use std::path::PathBuf;
use std::process::ExitCode;

use common::log::{self, Level, Target};
use common::trace::TraceFlags;
use proac::config::{self, Config};
use proac::daemon::{self, Daemon, Options};

const USAGE: &str = "Usage: proacd [-f] [-D] [-d mask] [-L facility] [-c config-file] [-n] [-h] [-v]";

/// What the command line asks for.
struct Args {
    opts: Options,
    check_only: bool,
    facility: log::Facility,
}

/// Parses the command line. Errors: the problem and the usage line.
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut o = getopts::Options::new();
    o.optflag("f", "", "run in the foreground, log to the terminal");
    o.optflag("D", "", "debug messages (log level debug)");
    o.optopt("d", "", "debug categories: route,pppoe,l2tp,ppp,ctrl,system,parser,all (or a number)", "MASK");
    o.optopt("L", "", "syslog facility: daemon, local0..local7", "FACILITY");
    o.optopt("c", "", "configuration file", "FILE");
    o.optflag("n", "", "check the configuration, print it and exit");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    let m = o.parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    if m.opt_present("h") {
        println!("{}", o.usage(USAGE));
        std::process::exit(0);
    }
    if m.opt_present("v") {
        println!("proacd {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'\n{USAGE}"));
    }
    let debug_mask = m.opt_str("d").map(|s| daemon::parse_debug_mask(&s).map_err(|e| format!("-d: {e}"))).transpose()?.unwrap_or(TraceFlags::NONE);
    let facility = match m.opt_str("L") {
        Some(f) => log::parse_facility(&f).map_err(|e| format!("-L: {e}"))?,
        None => log::Facility::LOG_DAEMON,
    };
    let opts = Options {
        config_path: PathBuf::from(m.opt_str("c").unwrap_or_else(|| config::DEFAULT_CONFIG.to_string())),
        foreground: m.opt_present("f"),
        debug: m.opt_present("D"),
        debug_mask,
    };
    Ok(Args { opts, check_only: m.opt_present("n"), facility })
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
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("proacd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = match daemon::load(&args.opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_only {
        print!("{}", cfg.describe());
        return ExitCode::SUCCESS;
    }
    let target = if args.opts.foreground { Target::Stderr } else { Target::Syslog { facility: args.facility, ident: "proacd".into() } };
    if let Err(e) = log::init(target, level_of(&cfg, args.opts.debug)) {
        eprintln!("proacd: cannot start logging: {e}");
        return ExitCode::FAILURE;
    }
    log::set_system_mask(args.opts.debug_mask);
    let pid_file = cfg.system.pid_file.clone();
    let opts = args.opts;
    common::daemon::serve("proacd", env!("CARGO_PKG_VERSION"), opts.foreground, &pid_file, || Daemon::new(opts, cfg), Daemon::run)
}
