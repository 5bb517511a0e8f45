//! `prol2tpd`: the L2TP control-plane daemon (see `prol2tpd(8)`).

use std::path::PathBuf;
use std::process::ExitCode;

use common::log::{self, Level, Target};
use common::trace::TraceFlags;
use prol2tp::daemon::{self, ppp, proppp, Daemon, Options};

const USAGE: &str = "Usage: prol2tpd [-f] [-D] [-d debugmask] [-L log-facility] [-p plugin] [-u udp-port] [-c config-file] [-n] [-h] [-v]";

fn parse_args(args: &[String]) -> Result<(Options, bool), String> {
    let mut o = getopts::Options::new();
    o.optflag("f", "", "run in the foreground, log to the terminal");
    o.optflag("D", "", "all trace on for new tunnels and sessions");
    o.optopt("d", "", "system trace mask (number or list)", "MASK");
    o.optopt("L", "", "syslog facility: daemon, local0..local7", "FACILITY");
    o.optmulti("p", "", "PPP side: propppd (default) or ppp_unix", "PLUGIN");
    o.optopt("u", "", "UDP port (default 1701)", "PORT");
    o.optopt("c", "", "configuration file", "FILE");
    o.optflag("n", "", "check the configuration file and exit");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    let m = o.parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    if m.opt_present("h") {
        println!("{}", o.usage(USAGE));
        std::process::exit(0);
    }
    if m.opt_present("v") {
        println!("prol2tpd {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'\n{USAGE}"));
    }
    let debug_mask = m.opt_str("d").map(|s| TraceFlags::parse(&s).map_err(|e| format!("-d: {e}"))).transpose()?;
    let udp_port = m.opt_str("u").map(|s| s.parse::<u16>().ok().filter(|p| *p != 0).ok_or(format!("-u: '{s}' is not a port number (1..65535)"))).transpose()?;
    if let Some(f) = m.opt_str("L") {
        log::parse_facility(&f).map_err(|e| format!("-L: {e}"))?;
    }
    let mut sides: Vec<String> = Vec::new();
    for p in m.opt_strs("p") {
        let name = proppp::plugin_name(&p);
        if name != proppp::PLUGIN && name != ppp::PLUGIN {
            return Err(format!("-p: unknown plugin '{p}' (known: {}, {})", proppp::PLUGIN, ppp::PLUGIN));
        }
        if !sides.iter().any(|s: &String| s == name) {
            sides.push(name.to_string());
        }
    }
    if sides.len() > 1 {
        return Err(format!("-p: {} and {} are alternative PPP sides; name one", proppp::PLUGIN, ppp::PLUGIN));
    }
    let opts = Options {
        config_path: PathBuf::from(m.opt_str("c").unwrap_or_else(|| daemon::DEFAULT_CONFIG.to_string())),
        foreground: m.opt_present("f"),
        trace_all: m.opt_present("D"),
        debug_mask,
        facility: m.opt_str("L"),
        udp_port,
        plugins: m.opt_strs("p"),
    };
    Ok((opts, m.opt_present("n")))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, check_only) = match parse_args(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("prol2tpd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = match daemon::load_config(&opts) {
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
    let target = if opts.foreground {
        Target::Stderr
    } else {
        // -L was checked by parse_args; "daemon" is the default.
        match log::parse_facility(opts.facility.as_deref().unwrap_or("daemon")) {
            Ok(facility) => Target::Syslog { facility, ident: "prol2tpd".into() },
            Err(e) => {
                eprintln!("prol2tpd: -L: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Err(e) = log::init(target, Level::Debug) {
        eprintln!("prol2tpd: cannot start logging: {e}");
        return ExitCode::FAILURE;
    }
    log::set_system_mask(opts.debug_mask.unwrap_or(cfg.system.trace_flags));
    common::daemon::serve(
        "prol2tpd",
        env!("CARGO_PKG_VERSION"),
        opts.foreground,
        std::path::Path::new(daemon::PID_FILE),
        || Daemon::new(opts, cfg),
        Daemon::run,
    )
}
