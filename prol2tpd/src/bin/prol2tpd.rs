//! `prol2tpd`: the L2TP control-plane daemon (see `prol2tpd(8)`).

use std::process::ExitCode;

use common::daemon::{self as cdaemon, CommonArgs, Program};
use common::log::{self, Level};
use common::trace::TraceFlags;
use prol2tp::daemon::{self, ppp, proppp, Daemon, Options};

const PROGRAM: Program = Program {
    name: "prol2tpd",
    version: env!("CARGO_PKG_VERSION"),
    usage: "Usage: prol2tpd [-f] [-D] [-d debugmask] [-L log-facility] [-p plugin] [-u udp-port] [-c config-file] [-n] [-h] [-v]",
    default_config: daemon::DEFAULT_CONFIG,
    check_help: "check the configuration file and exit",
};

/// prol2tpd's own options, listed between `-f` and `-c`.
fn own_options(o: &mut getopts::Options) {
    o.optflag("D", "", "all trace on for new tunnels and sessions");
    o.optopt("d", "", "system trace mask (number or list)", "MASK");
    o.optopt("L", "", "syslog facility: daemon, local0..local7", "FACILITY");
    o.optmulti("p", "", "PPP side: propppd (default) or ppp_unix", "PLUGIN");
    o.optopt("u", "", "UDP port (default 1701)", "PORT");
}

/// The daemon's options from the command line, and the syslog facility.
fn parse_own(common: &CommonArgs, m: &getopts::Matches) -> Result<(Options, log::Facility), String> {
    let debug_mask = m.opt_str("d").map(|s| TraceFlags::parse(&s).map_err(|e| format!("-d: {e}"))).transpose()?;
    let udp_port = m.opt_str("u").map(|s| s.parse::<u16>().ok().filter(|p| *p != 0).ok_or(format!("-u: '{s}' is not a port number (1..65535)"))).transpose()?;
    let facility = cdaemon::facility_arg(m)?;
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
        config_path: common.config_path.clone(),
        foreground: common.foreground,
        trace_all: m.opt_present("D"),
        debug_mask,
        facility: m.opt_str("L"),
        udp_port,
        plugins: m.opt_strs("p"),
    };
    Ok((opts, facility))
}

fn main() -> ExitCode {
    start().unwrap_or_else(|code| code)
}

/// Everything up to [`Program::serve`]; `Err`: exit now with this status.
fn start() -> Result<ExitCode, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (common, (opts, facility)) = PROGRAM.command_line(&args, own_options, parse_own)?;
    let cfg = PROGRAM.load_config(common.check_only, || daemon::load_config(&opts), |_| cdaemon::config_ok(&common.config_path))?;
    PROGRAM.start_logging(opts.foreground, facility, Level::Debug)?;
    log::set_system_mask(opts.debug_mask.unwrap_or(cfg.system.trace_flags));
    Ok(PROGRAM.serve(opts.foreground, std::path::Path::new(daemon::PID_FILE), || Daemon::new(opts, cfg), Daemon::run))
}
