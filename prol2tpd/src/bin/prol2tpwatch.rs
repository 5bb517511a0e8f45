//! `prol2tpwatch`: prints prol2tpd's tunnel and session events as they
//! happen, one line each (see `prol2tpwatch(1)`).
//!
//! It subscribes on the daemon's control socket (`$PROL2TP_CONTROL` or
//! [`control::DEFAULT_CONTROL`], like `prol2tp`) through [`cli::watch`]:
//! events come on an event socket of their own, connected to a sender the
//! daemon made for this watcher, so none is lost while the watcher keeps
//! reading, and one that falls behind only loses its own (counted by the
//! daemon). Lines are `KIND: key=value ...` with the watcher fields of the
//! kind ([`EVENT_KINDS`]), strings in single quotes; `-j` prints every
//! field as one JSON object. A gap in the sequence numbers is reported on
//! stderr.
//!
//! Whenever no event is waiting it checks that its sender still exists
//! (`Client::subscription_alive`), and every two seconds that the daemon
//! answers `show system`. When either fails (the daemon exited or
//! restarted) it prints what was still queued, subscribes again (retrying
//! for up to six seconds) and says `prol2tpd restarted; N events may be
//! lost` (N: what the new daemon published before the new subscription).
//! Exit status: 0 after `-n COUNT` events or on SIGINT/SIGTERM (after
//! unsubscribing), 1 the daemon refused the subscription, 2 usage error, 3
//! the daemon is not running, or stayed unreachable after it went away.

use std::process::ExitCode;

use common::cli::{self, getopts, Parsed, Tool, WatchOptions};
use common::ipc::{Record, Selector};
use prol2tp::daemon::control;
use prol2tp::daemon::events::{event_kind, EVENT_KINDS};

const USAGE: &str = "Usage: prol2tpwatch [-n COUNT] [-t TUNNEL] [-e EVENTS] [-T] [-j] [-h] [-v]
EVENTS: comma-separated tunnel-created, tunnel-up, tunnel-down, tunnel-deleted,
        session-created, session-up, session-down, session-deleted, or the groups
        tunnel, session, created, up, down, deleted, all";

const TOOL: Tool = Tool { name: "prol2tpwatch", daemon: "prol2tpd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

/// What the user asked for.
#[derive(Debug, PartialEq)]
struct Invocation {
    /// Exit after this many events.
    count: Option<u64>,
    /// Only this tunnel's events.
    tunnel: Option<Selector>,
    /// Event bits; 0 = all.
    events: u32,
    /// `-T`: local timestamp before each line.
    timestamps: bool,
    /// `-j`: JSON lines.
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    let mut o = getopts::Options::new();
    o.optopt("n", "", "exit after COUNT events", "COUNT");
    o.optopt("t", "", "only events of this tunnel (id or name)", "TUNNEL");
    o.optopt("e", "", "only these events (comma-separated)", "EVENTS");
    o.optflag("T", "", "print a local timestamp before each event");
    o.optflag("j", "", "print each event as one JSON object");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    TOOL.parse_matches(&o, args)?.try_map(|m| {
        cli::no_free_words(&m)?;
        let count = match m.opt_str("n") {
            Some(s) => Some(cli::parse_count("-n", &s)?),
            None => None,
        };
        let events = match m.opt_str("e") {
            Some(s) => parse_events(&s)?,
            None => 0,
        };
        Ok(Invocation { count, tunnel: m.opt_str("t").map(|t| Selector::parse(&t)), events, timestamps: m.opt_present("T"), json: m.opt_present("j") })
    })
}

/// The event bits of a `-e` list. Errors: an unknown name.
fn parse_events(list: &str) -> Result<u32, String> {
    let mut mask = 0u32;
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let bits: u32 = match word {
            "all" => EVENT_KINDS.iter().map(|k| k.bit).fold(0, |a, b| a | b),
            "tunnel" | "session" => EVENT_KINDS.iter().filter(|k| k.name.starts_with(&format!("{word}-"))).map(|k| k.bit).fold(0, |a, b| a | b),
            "created" | "up" | "down" | "deleted" => EVENT_KINDS.iter().filter(|k| k.name.ends_with(&format!("-{word}"))).map(|k| k.bit).fold(0, |a, b| a | b),
            name => EVENT_KINDS.iter().find(|k| k.name == name).map(|k| k.bit).ok_or(format!("-e: unknown event '{name}'"))?,
        };
        mask |= bits;
    }
    if mask == 0 {
        return Err("-e: no event named".into());
    }
    Ok(mask)
}

/// One event as the text line (without timestamp and newline): the kind's
/// watcher fields in order (all fields for a kind this version does not
/// know), strings single-quoted.
fn render_line(record: &Record) -> String {
    cli::render_event_fields(record, event_kind(&record.kind).map(|k| k.watch_fields))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    TOOL.main(parse_args(&args), |inv| {
        let opts = WatchOptions {
            events: inv.events,
            tunnel: inv.tunnel,
            count: inv.count,
            timestamps: inv.timestamps,
            json: inv.json,
            gone_after: cli::DEFAULT_GONE_AFTER,
        };
        cli::watch(&TOOL, &control::control_path(), &opts, &render_line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn inv(s: &str) -> Invocation {
        match parse_args(&args(s)).unwrap() {
            Parsed::Run(i) => i,
            Parsed::Print(p) => panic!("printed {p}"),
        }
    }

    #[test]
    fn options_parse() {
        assert_eq!(inv(""), Invocation { count: None, tunnel: None, events: 0, timestamps: false, json: false });
        let i = inv("-n 1 -e session-up -t t1 -T -j");
        assert_eq!(i, Invocation { count: Some(1), tunnel: Some(Selector::Name("t1".into())), events: 1 << 5, timestamps: true, json: true });
        assert_eq!(inv("-t 42").tunnel, Some(Selector::Id(42)));
        assert_eq!(inv("-e tunnel").events, 0x0F);
        assert_eq!(inv("-e session").events, 0xF0);
        assert_eq!(inv("-e up,down").events, 0x66);
        assert_eq!(inv("-e created,tunnel-deleted").events, 0x19);
        assert_eq!(inv("-e all").events, 0xFF);
        for bad in ["-n 0", "-n x", "-e sideways", "-e ,", "extra", "-q"] {
            assert!(parse_args(&args(bad)).is_err(), "{bad}");
        }
        assert!(matches!(parse_args(&args("-v")), Ok(Parsed::Print(p)) if p.starts_with("prol2tpwatch ")));
    }

    #[test]
    fn lines_match_the_contract() {
        let mut r = Record::new("SESSION DOWN");
        r.num("handle", 3u64)
            .num("tid", 2871686446u64)
            .num("sid", 2447900232u64)
            .num("peer_tid", 65483u64)
            .num("peer_sid", 1487060649u64)
            .num("result", 3u64)
            .num("error", 0u64)
            .str("message", "")
            .str("tunnel_name", "t1")
            .str("session_type", "PPP");
        assert_eq!(render_line(&r), "SESSION DOWN: handle=3 tid=2871686446 sid=2447900232 peer_tid=65483 peer_sid=1487060649 result=3 error=0 message=''");
        let json = cli::render_event_json(9, &r);
        assert!(json.starts_with("{\"event\":\"SESSION DOWN\",\"seq\":9,\"handle\":3,\"tid\":2871686446,"), "{json}");
        assert!(json.ends_with("\"tunnel_name\":\"t1\",\"session_type\":\"PPP\"}"), "{json}");
        let mut t = Record::new("TUNNEL CREATED");
        t.num("handle", 1u64).num("tid", 7u64).str("name", "t1").str("profile", "default").str("peer", "192.0.2.1:1701").num("version", 2u64);
        assert_eq!(render_line(&t), "TUNNEL CREATED: handle=1 tid=7 name='t1' profile='default' peer='192.0.2.1:1701'");
        let mut u = Record::new("FUTURE THING");
        u.num("a", 1u64).str("b", "x");
        assert_eq!(render_line(&u), "FUTURE THING: a=1 b='x'");
    }
}
