//! `propppd`: the PPP daemon (see `propppd(8)`).

use std::path::PathBuf;
use std::process::ExitCode;

use common::log::{self, Level, Target};
use proppp::daemon::{self, Daemon, Options};

const USAGE: &str = "Usage: propppd [-f] [-d ...] [-c config-file] [-n] [-h] [-v]";

/// Parses the command line: the options and whether `-n` was given.
fn parse_args(args: &[String]) -> Result<(Options, bool), String> {
    let mut o = getopts::Options::new();
    o.optflag("f", "", "run in the foreground, log to the terminal");
    o.optflagmulti("d", "", "raise the log levels one step (repeatable)");
    o.optopt("c", "", "configuration file", "FILE");
    o.optflag("n", "", "check the configuration, secrets and pools, and exit");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    let m = o.parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    if m.opt_present("h") {
        println!("{}", o.usage(USAGE));
        std::process::exit(0);
    }
    if m.opt_present("v") {
        println!("propppd {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'\n{USAGE}"));
    }
    let opts = Options {
        config_path: PathBuf::from(m.opt_str("c").unwrap_or_else(|| daemon::DEFAULT_CONFIG.to_string())),
        foreground: m.opt_present("f"),
        debug: u8::try_from(m.opt_count("d")).unwrap_or(u8::MAX),
    };
    Ok((opts, m.opt_present("n")))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, check_only) = match parse_args(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("propppd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let checked = match daemon::load(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if check_only {
        println!("Using config file: {}", opts.config_path.display());
        println!("Config file OK.");
        return ExitCode::SUCCESS;
    }
    let target = if opts.foreground { Target::Stderr } else { Target::Syslog { facility: log::Facility::LOG_DAEMON, ident: "propppd".into() } };
    if let Err(e) = log::init(target, Level::Debug) {
        eprintln!("propppd: cannot start logging: {e}");
        return ExitCode::FAILURE;
    }
    daemon::set_levels(&checked.config.system, opts.debug);
    let pid_file = checked.config.system.pid_file.clone();
    common::daemon::serve("propppd", env!("CARGO_PKG_VERSION"), opts.foreground, &pid_file, || Daemon::new(opts, checked), Daemon::run)
}
