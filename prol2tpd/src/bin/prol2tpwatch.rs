//! `prol2tpwatch`: prints prol2tpd's tunnel and session events as they
//! happen, one line each (see `prol2tpwatch(1)`).
//!
//! It subscribes on the daemon's control socket (`$PROL2TP_CONTROL` or
//! [`control::DEFAULT_CONTROL`], like `prol2tp`) with [`Client::subscribe`]:
//! events come on an event socket of their own, connected to a sender the
//! daemon made for this watcher, so none is lost while the watcher keeps
//! reading, and one that falls behind only loses its own (counted by the
//! daemon). Lines are `KIND: key=value ...` with the watcher fields of the
//! kind ([`EVENT_KINDS`]), strings in single quotes; `-j` prints every
//! field as one JSON object. A gap in the sequence numbers is reported on
//! stderr.
//!
//! Whenever no event is waiting it checks that its sender still exists
//! ([`Client::subscription_alive`]), and every two seconds that the daemon
//! answers `show system`. When either fails (the daemon exited or
//! restarted) it prints what was still queued, subscribes again (retrying
//! for up to six seconds) and says `prol2tpd restarted; N events may be
//! lost` (N: what the new daemon published before the new subscription).
//! Exit status: 0 after `-n COUNT` events or on SIGINT/SIGTERM (after
//! unsubscribing), 1 the daemon refused the subscription, 2 usage error, 3
//! the daemon is not running, or stayed unreachable after it went away.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::ipc::{json_string, Client, ClientError, Record, Request, Selector, Subscription, Value};
use prol2tp::daemon::control;
use prol2tp::daemon::events::{event_kind, EVENT_KINDS};

const USAGE: &str = "Usage: prol2tpwatch [-n COUNT] [-t TUNNEL] [-e EVENTS] [-T] [-j] [-h] [-v]
EVENTS: comma-separated tunnel-created, tunnel-up, tunnel-down, tunnel-deleted,
        session-created, session-up, session-down, session-deleted, or the groups
        tunnel, session, created, up, down, deleted, all";

/// Time allowed for the daemon to answer a request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the daemon's liveness is checked.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// Unanswered liveness checks in a row after which the daemon is taken
/// for gone (it may be busy).
const PING_MISSES: u32 = 3;
/// How long the daemon may stay unreachable after it went away before the
/// watcher gives up (exit status 3).
const GONE_AFTER: Duration = Duration::from_secs(6);
/// Pause between two attempts to subscribe again.
const RETRY_INTERVAL: Duration = Duration::from_millis(250);
/// Longest wait for one event, so signals and pings are handled promptly.
const EVENT_WAIT: Duration = Duration::from_millis(250);

/// Set by the SIGINT/SIGTERM handler.
static STOP: AtomicBool = AtomicBool::new(false);

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

/// Outcome of parsing the command line.
#[derive(Debug, PartialEq)]
enum Parsed {
    Run(Invocation),
    /// Print this and exit 0 (`-h`, `-v`).
    Print(String),
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut o = getopts::Options::new();
    o.optopt("n", "", "exit after COUNT events", "COUNT");
    o.optopt("t", "", "only events of this tunnel (id or name)", "TUNNEL");
    o.optopt("e", "", "only these events (comma-separated)", "EVENTS");
    o.optflag("T", "", "print a local timestamp before each event");
    o.optflag("j", "", "print each event as one JSON object");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    let m = o.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        return Ok(Parsed::Print(o.usage(USAGE)));
    }
    if m.opt_present("v") {
        return Ok(Parsed::Print(format!("prol2tpwatch {}", env!("CARGO_PKG_VERSION"))));
    }
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let count = match m.opt_str("n") {
        Some(s) => Some(s.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("-n: '{s}' is not a positive number"))?),
        None => None,
    };
    let events = match m.opt_str("e") {
        Some(s) => parse_events(&s)?,
        None => 0,
    };
    Ok(Parsed::Run(Invocation { count, tunnel: m.opt_str("t").map(|t| Selector::parse(&t)), events, timestamps: m.opt_present("T"), json: m.opt_present("j") }))
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
    let fields: Vec<&(String, Value)> = match event_kind(&record.kind) {
        Some(k) => k.watch_fields.iter().filter_map(|f| record.fields.iter().find(|(key, _)| key == f)).collect(),
        None => record.fields.iter().collect(),
    };
    let mut line = format!("{}:", record.kind);
    for (k, v) in fields {
        match v {
            Value::Str(s) => line.push_str(&format!(" {k}='{s}'")),
            v => line.push_str(&format!(" {k}={v}")),
        }
    }
    line
}

/// One event as a JSON object: `event`, `seq`, then every field.
fn render_json(seq: u64, record: &Record) -> String {
    let mut parts = vec![format!("\"event\":{}", json_string(&record.kind)), format!("\"seq\":{seq}")];
    parts.extend(record.fields.iter().map(|(k, v)| format!("{}:{}", json_string(k), v.to_json())));
    format!("{{{}}}", parts.join(","))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match parse_args(&args) {
        Ok(Parsed::Run(inv)) => inv,
        Ok(Parsed::Print(s)) => {
            println!("{s}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("prol2tpwatch: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = control::control_path();
    sys::on_stop_signals();
    let client = match subscribe(&path, &inv) {
        Ok((c, _)) => c,
        Err(Fail::Refused(message)) => {
            eprintln!("prol2tpwatch: {message}");
            return ExitCode::FAILURE;
        }
        Err(Fail::Unreachable(e)) => {
            eprintln!("prol2tpwatch: prol2tpd is not running or not reachable at {}: {e}", path.display());
            return ExitCode::from(3);
        }
    };
    match watch(&path, client, &inv) {
        (Exit::Done, client) => {
            if let Some(mut c) = client {
                let _ = c.unsubscribe(REPLY_TIMEOUT);
            }
            ExitCode::SUCCESS
        }
        (Exit::Refused, _) => ExitCode::FAILURE,
        (Exit::Gone, _) => ExitCode::from(3),
    }
}

/// Why a subscription could not be made.
#[derive(Debug)]
enum Fail {
    /// The daemon said no (too many watchers).
    Refused(String),
    /// No daemon answered.
    Unreachable(String),
}

/// A client of the daemon at `path` subscribed as `inv` asks.
fn subscribe(path: &Path, inv: &Invocation) -> Result<(Client, Subscription), Fail> {
    let mut c = Client::connect(path).map_err(|e| Fail::Unreachable(e.to_string()))?;
    match c.subscribe(inv.events, inv.tunnel.clone(), REPLY_TIMEOUT) {
        Ok(sub) => Ok((c, sub)),
        Err(ClientError::Refused { message, .. }) => Err(Fail::Refused(message)),
        Err(e) => Err(Fail::Unreachable(e.to_string())),
    }
}

/// How watching ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// Count reached, signal, or stdout closed.
    Done,
    /// The daemon went away for good (already reported).
    Gone,
    /// A restarted daemon refused the subscription (already reported).
    Refused,
}

/// Prints events and reports gaps in their sequence numbers.
struct Printer<'a> {
    inv: &'a Invocation,
    out: std::io::StdoutLock<'static>,
    /// Sequence number of the last event of the current subscription.
    last_seq: u64,
    printed: u64,
}

impl Printer<'_> {
    /// Prints one event; true when watching should end (count reached,
    /// stdout closed).
    fn print(&mut self, seq: u64, record: &Record) -> bool {
        if seq > self.last_seq.saturating_add(1) {
            eprintln!("prol2tpwatch: {} events lost", seq - self.last_seq - 1);
        }
        self.last_seq = seq;
        let mut line = if self.inv.json { render_json(seq, record) } else { render_line(record) };
        if self.inv.timestamps {
            line = format!("{} {line}", sys::local_timestamp());
        }
        if writeln!(self.out, "{line}").and_then(|()| self.out.flush()).is_err() {
            return true;
        }
        self.printed = self.printed.saturating_add(1);
        self.inv.count.is_some_and(|n| self.printed >= n)
    }
}

/// Prints events until the count is reached, a signal comes or the daemon
/// goes away for good; re-subscribes when it restarts. Returns how it
/// ended, with the client when it is still subscribed.
fn watch(path: &Path, mut client: Client, inv: &Invocation) -> (Exit, Option<Client>) {
    let mut p = Printer { inv, out: std::io::stdout().lock(), last_seq: 0, printed: 0 };
    let mut next_ping = Instant::now() + PING_INTERVAL;
    let mut misses = 0u32;
    loop {
        if STOP.load(Ordering::Relaxed) {
            return (Exit::Done, Some(client));
        }
        let mut lost = match client.next_event(EVENT_WAIT) {
            Ok(Some((seq, record))) => {
                if p.print(seq, &record) {
                    return (Exit::Done, Some(client));
                }
                false
            }
            // Idle: is the daemon's sender for this watcher still there?
            Ok(None) => !client.subscription_alive().unwrap_or(false),
            Err(ClientError::Protocol(e)) => {
                eprintln!("prol2tpwatch: skipped a message: {e}");
                false
            }
            Err(_) => true,
        };
        if !lost && Instant::now() >= next_ping {
            next_ping = Instant::now() + PING_INTERVAL;
            lost = match client.call(Request::ShowSystem, REPLY_TIMEOUT) {
                Ok(_) => {
                    misses = 0;
                    !client.subscription_alive().unwrap_or(false)
                }
                Err(ClientError::Timeout) if misses + 1 < PING_MISSES => {
                    misses += 1;
                    false
                }
                Err(_) => true,
            };
        }
        if !lost {
            continue;
        }
        // What the old sender queued before it went is still readable.
        while let Ok(Some((seq, record))) = client.next_event(Duration::from_millis(1)) {
            if p.print(seq, &record) {
                return (Exit::Done, None);
            }
        }
        match resubscribe(path, inv) {
            Ok(Some((c, sub))) => {
                eprintln!("prol2tpwatch: prol2tpd restarted; {} events may be lost", sub.events_before);
                client = c;
                p.last_seq = 0;
                misses = 0;
                next_ping = Instant::now() + PING_INTERVAL;
            }
            Ok(None) => return (Exit::Done, None),
            Err(Fail::Refused(message)) => {
                eprintln!("prol2tpwatch: {message}");
                return (Exit::Refused, None);
            }
            Err(Fail::Unreachable(e)) => {
                eprintln!("prol2tpwatch: prol2tpd has gone away: {e}");
                return (Exit::Gone, None);
            }
        }
    }
}

/// Subscribes again, retrying every [`RETRY_INTERVAL`] while the daemon is
/// unreachable, for at most [`GONE_AFTER`]. `Ok(None)`: a stop signal came.
fn resubscribe(path: &Path, inv: &Invocation) -> Result<Option<(Client, Subscription)>, Fail> {
    let deadline = Instant::now() + GONE_AFTER;
    loop {
        if STOP.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match subscribe(path, inv) {
            Ok(s) => return Ok(Some(s)),
            Err(Fail::Unreachable(e)) if Instant::now() >= deadline => return Err(Fail::Unreachable(e)),
            Err(Fail::Unreachable(_)) => std::thread::sleep(RETRY_INTERVAL),
            Err(e) => return Err(e),
        }
    }
}

/// The few calls into libc this program makes.
mod sys {
    use std::sync::atomic::Ordering;

    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

    extern "C" fn on_signal(_: libc::c_int) {
        super::STOP.store(true, Ordering::Relaxed);
    }

    /// Sets [`super::STOP`] on SIGINT and SIGTERM. Without SA_RESTART, so a
    /// wait for an event returns early.
    pub fn on_stop_signals() {
        let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler is async-signal-safe (one atomic store).
            let _ = unsafe { sigaction(sig, &action) };
        }
    }

    /// Local time now as `YYYY-MM-DD HH:MM:SS.mmm`.
    pub fn local_timestamp() -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let secs = libc::time_t::try_from(now.as_secs()).unwrap_or(0);
        // SAFETY: `tm` is plain data; localtime_r fills it from `secs` and
        // touches nothing else (thread-safe variant).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call.
        let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
        if !ok {
            return format!("{}.{:03}", now.as_secs(), now.subsec_millis());
        }
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            i64::from(tm.tm_year) + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            now.subsec_millis()
        )
    }
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
        let json = render_json(9, &r);
        assert!(json.starts_with("{\"event\":\"SESSION DOWN\",\"seq\":9,\"handle\":3,\"tid\":2871686446,"), "{json}");
        assert!(json.ends_with("\"tunnel_name\":\"t1\",\"session_type\":\"PPP\"}"), "{json}");
        let mut t = Record::new("TUNNEL CREATED");
        t.num("handle", 1u64).num("tid", 7u64).str("name", "t1").str("profile", "default").str("peer", "192.0.2.1:1701").num("version", 2u64);
        assert_eq!(render_line(&t), "TUNNEL CREATED: handle=1 tid=7 name='t1' profile='default' peer='192.0.2.1:1701'");
        let mut u = Record::new("FUTURE THING");
        u.num("a", 1u64).str("b", "x");
        assert_eq!(render_line(&u), "FUTURE THING: a=1 b='x'");
    }

    #[test]
    fn timestamp_shape() {
        let ts = sys::local_timestamp();
        let b = ts.as_bytes();
        assert_eq!(ts.len(), 23, "{ts}");
        for (i, c) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':'), (19, b'.')] {
            assert_eq!(b[i], c, "{ts}");
        }
    }
}
