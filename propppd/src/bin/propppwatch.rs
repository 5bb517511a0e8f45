//! `propppwatch`: prints propppd's PPP events as they happen, one line
//! each (see `propppwatch(1)`).
//!
//! It subscribes on propppd's control socket (`-s SOCKET`, default
//! [`cli::DEFAULT_CONTROL`]) and runs [`common::cli::watch`]: lines in the
//! seeds' format ([`cli::event_line`]), or one JSON object per event with
//! `-j`; `N events lost` on stderr for a gap in the sequence numbers;
//! subscribing again when propppd restarts (`propppd restarted; N events
//! may be lost`). Exit status: 0 after `-n COUNT` events or on
//! SIGINT/SIGTERM, 1 propppd refused the subscription, 2 usage error, 3
//! propppd is not running, or stayed away longer than `-T SECONDS`
//! (default 6) after it went.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use common::cli::{self as ccli, getopts, Parsed, Tool, WatchOptions};
use proppp::cli;

const USAGE: &str = "Usage: propppwatch [-s SOCKET] [-n COUNT] [-e EVENTS] [-t] [-T SECONDS] [-j] [-h] [-v]
EVENTS: comma-separated created, up, down, destroyed (or PPP_UP_IND ...), all";

const TOOL: Tool = Tool { name: "propppwatch", daemon: "propppd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

/// What the user asked for.
#[derive(Debug, PartialEq)]
struct Invocation {
    socket: PathBuf,
    opts: WatchOptions,
}

fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    let mut o = getopts::Options::new();
    o.optopt("s", "", "propppd's control socket", "SOCKET");
    o.optopt("n", "", "exit after COUNT events", "COUNT");
    o.optopt("e", "", "only these events (comma-separated)", "EVENTS");
    o.optflag("t", "", "print a local timestamp before each event");
    o.optopt("T", "", "seconds propppd may stay away before giving up (default 6)", "SECONDS");
    o.optflag("j", "", "print each event as one JSON object");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    TOOL.parse_matches(&o, args)?.try_map(|m| {
        ccli::no_free_words(&m)?;
        let socket = ccli::socket_path(&m, cli::DEFAULT_CONTROL)?;
        let count = m.opt_str("n").map(|s| ccli::parse_count("-n", &s)).transpose()?;
        let events = m.opt_str("e").map(|s| cli::parse_events(&s)).transpose()?.unwrap_or(0);
        let gone_after: Duration = m.opt_str("T").map(|s| ccli::parse_seconds("-T", &s)).transpose()?.unwrap_or(ccli::DEFAULT_GONE_AFTER);
        let opts = WatchOptions { events, tunnel: None, count, timestamps: m.opt_present("t"), json: m.opt_present("j"), gone_after };
        Ok(Invocation { socket, opts })
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    TOOL.main(parse_args(&args), |inv| ccli::watch(&TOOL, &inv.socket, &inv.opts, &cli::event_line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn inv(s: &str) -> Invocation {
        match parse_args(&args(s)) {
            Ok(Parsed::Run(i)) => i,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn options_parse() {
        let i = inv("");
        assert_eq!(i.socket, PathBuf::from("/run/proppp/propppd.ctl"));
        assert_eq!(i.opts, WatchOptions { events: 0, tunnel: None, count: None, timestamps: false, json: false, gone_after: Duration::from_secs(6) });
        let i = inv("-s /tmp/p.ctl -n 3 -e up,down -t -T 2 -j");
        assert_eq!(i.socket, PathBuf::from("/tmp/p.ctl"));
        assert_eq!(i.opts, WatchOptions { events: 0x6, tunnel: None, count: Some(3), timestamps: true, json: true, gone_after: Duration::from_secs(2) });
        assert_eq!(inv("-e all").opts.events, 0xF);
        for (bad, want) in [
            ("-n 0", "-n: '0' is not a positive number"),
            ("-e sideways", "-e: unknown event 'sideways'"),
            ("-T 0", "-T: '0' is not a number of seconds (1..3600)"),
            ("extra", "unexpected argument 'extra'"),
        ] {
            assert_eq!(parse_args(&args(bad)), Err(want.to_string()), "{bad}");
        }
        assert!(parse_args(&args("-q")).is_err());
        assert!(matches!(parse_args(&args("-v")), Ok(Parsed::Print(p)) if p.starts_with("propppwatch ")));
    }
}
