//! `prol2tp`: the command-line interface of prol2tpd (see `prol2tp(1)`).
//!
//! Each invocation sends one request over the control socket
//! ([`prol2tp::daemon::control`]) and prints the reply as text (one line
//! per tunnel or session for lists, `key: value` lines for one object) or,
//! with `-j`, as JSON. Exit status: 0 done, 1 the daemon refused (no such
//! tunnel or session, reload failed), 2 usage error, 3 the daemon is not
//! running or did not answer.

use std::process::ExitCode;
use std::time::Duration;

use common::ipc::{Client, ClientError, Record, Reply, Request, Selector, Value};
use prol2tp::daemon::control;

const USAGE: &str = "Usage: prol2tp [-j] [-t SECONDS] COMMAND
Commands:
  show system
  show tunnels
  show tunnel ID|NAME
  show sessions [TUNNEL]
  show session TUNNEL SESSION
  show statistics
  clear statistics
  reload
  delete tunnel ID|NAME
  delete session TUNNEL SESSION";

/// Default time to wait for the daemon's reply.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the user asked for.
#[derive(Debug, PartialEq)]
struct Invocation {
    request: Request,
    json: bool,
    timeout: Duration,
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
    o.optflag("j", "", "print JSON");
    o.optopt("t", "", "seconds to wait for the reply (default 5)", "SECONDS");
    o.optflag("h", "", "print this help");
    o.optflag("v", "", "print the version");
    o.parsing_style(getopts::ParsingStyle::StopAtFirstFree);
    let m = o.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        return Ok(Parsed::Print(o.usage(USAGE)));
    }
    if m.opt_present("v") {
        return Ok(Parsed::Print(format!("prol2tp {}", env!("CARGO_PKG_VERSION"))));
    }
    let timeout = match m.opt_str("t") {
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|t| (1..=3600).contains(t))
            .map(Duration::from_secs)
            .ok_or(format!("-t: '{s}' is not a number of seconds (1..3600)"))?,
        None => DEFAULT_TIMEOUT,
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let request = parse_command(&words)?;
    Ok(Parsed::Run(Invocation { request, json: m.opt_present("j"), timeout }))
}

fn parse_command(words: &[&str]) -> Result<Request, String> {
    let sel = |s: &str| Selector::parse(s);
    Ok(match words {
        ["show", "system"] => Request::ShowSystem,
        ["show", "tunnels"] => Request::ShowTunnels,
        ["show", "tunnel", t] => Request::ShowTunnel(sel(t)),
        ["show", "sessions"] => Request::ShowSessions(None),
        ["show", "sessions", t] => Request::ShowSessions(Some(sel(t))),
        ["show", "session", t, s] => Request::ShowSession { tunnel: sel(t), session: sel(s) },
        ["show", "statistics"] => Request::ShowStatistics,
        ["clear", "statistics"] => Request::ClearStatistics,
        ["reload"] => Request::Reload,
        ["delete", "tunnel", t] => Request::DeleteTunnel(sel(t)),
        ["delete", "session", t, s] => Request::DeleteSession { tunnel: sel(t), session: sel(s) },
        [] => return Err("no command given".into()),
        _ => return Err(format!("unknown command '{}'", words.join(" "))),
    })
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
            eprintln!("prol2tp: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = control::control_path();
    let not_running = |e: &dyn std::fmt::Display| {
        eprintln!("prol2tp: prol2tpd is not running or not reachable at {}: {e}", path.display());
        ExitCode::from(3)
    };
    let mut client = match Client::connect(&path) {
        Ok(c) => c,
        Err(e) => return not_running(&e),
    };
    let list = matches!(inv.request, Request::ShowTunnels | Request::ShowSessions(_));
    let kind = match &inv.request {
        Request::ShowTunnels => Some(ListKind::Tunnels),
        Request::ShowSessions(_) => Some(ListKind::Sessions),
        _ => None,
    };
    match client.call(inv.request, inv.timeout) {
        Ok(Reply::Done) => {
            if inv.json {
                println!("{{\"ok\":true}}");
            }
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { message, .. }) => {
            eprintln!("prol2tp: {message}");
            ExitCode::FAILURE
        }
        Ok(Reply::Records { records, .. }) => {
            print!("{}", render(&records, list, kind, inv.json));
            ExitCode::SUCCESS
        }
        Ok(Reply::Event { .. }) => {
            eprintln!("prol2tp: unexpected event in reply");
            ExitCode::FAILURE
        }
        Err(e @ (ClientError::Io(_) | ClientError::Timeout)) => not_running(&e),
        Err(e) => {
            eprintln!("prol2tp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Which one-line-per-object layout a list uses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListKind {
    Tunnels,
    Sessions,
}

/// The reply's records as the text or JSON printed on stdout.
fn render(records: &[Record], list: bool, kind: Option<ListKind>, json: bool) -> String {
    if json {
        let objs: Vec<String> = records.iter().map(Record::to_json).collect();
        return match (list, objs.as_slice()) {
            (false, [one]) => format!("{one}\n"),
            _ => format!("[{}]\n", objs.join(",")),
        };
    }
    match kind {
        Some(ListKind::Tunnels) => render_table(records, TUNNEL_COLUMNS),
        Some(ListKind::Sessions) => render_table(records, SESSION_COLUMNS),
        None => {
            let blocks: Vec<String> = records.iter().map(render_object).collect();
            blocks.join("\n")
        }
    }
}

/// A list column: heading, record key, width (negative: left-aligned).
type Column = (&'static str, &'static str, i32);

const TUNNEL_COLUMNS: &[Column] = &[
    ("TUNNEL", "tunnel_id", 10),
    ("NAME", "name", -16),
    ("STATE", "state", -14),
    ("UPTIME", "uptime", 12),
    ("PEER", "peer", -30),
    ("VER", "version", 3),
    ("SESSIONS", "sessions", 8),
];

const SESSION_COLUMNS: &[Column] = &[
    ("TUNNEL", "tunnel_id", 10),
    ("SESSION", "session_id", 10),
    ("NAME", "name", -16),
    ("STATE", "state", -14),
    ("UPTIME", "uptime", 12),
    ("PEER-SESSION", "peer_session_id", 12),
    ("CALL-TYPE", "call_type", -12),
    ("PW", "pseudowire", -6),
];

/// One line per record; `*` in the first column marks objects the peer
/// created (`network_created`).
fn render_table(records: &[Record], cols: &[Column]) -> String {
    let mut out = String::new();
    let heads: Vec<String> = cols.iter().map(|(h, _, w)| pad(h, *w)).collect();
    out.push_str(&format!("  {}\n", heads.join(" ").trim_end()));
    for r in records {
        let mark = if matches!(r.get("network_created"), Some(Value::Bool(true))) { '*' } else { ' ' };
        let cells: Vec<String> = cols
            .iter()
            .map(|(_, key, w)| {
                let v = match (key, r.get(key)) {
                    (&"uptime", Some(Value::U64(s))) => duration(*s),
                    (&"name", Some(Value::Str(s))) if s.is_empty() => "-".to_string(),
                    (_, Some(v)) => v.to_string(),
                    (_, None) => "-".to_string(),
                };
                pad(&v, *w)
            })
            .collect();
        out.push_str(&format!("{mark} {}\n", cells.join(" ").trim_end()));
    }
    out
}

/// `key: value` lines; empty strings print as `-`.
fn render_object(r: &Record) -> String {
    let width = r.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in &r.fields {
        let v = match v {
            Value::Str(s) if s.is_empty() => "-".to_string(),
            v => v.to_string(),
        };
        out.push_str(&format!("{:<w$} {v}\n", format!("{k}:"), w = width + 1));
    }
    out
}

fn pad(s: &str, w: i32) -> String {
    let n = w.unsigned_abs() as usize;
    if w < 0 {
        format!("{s:<n$}")
    } else {
        format!("{s:>n$}")
    }
}

/// Seconds as `H:MM:SS`, with `Nd ` in front past a day.
fn duration(secs: u64) -> String {
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let hms = format!("{}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if d > 0 {
        format!("{d}d {hms}")
    } else {
        hms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn req(s: &str) -> Request {
        match parse_args(&args(s)).unwrap() {
            Parsed::Run(i) => i.request,
            Parsed::Print(p) => panic!("printed {p}"),
        }
    }

    #[test]
    fn commands_parse() {
        assert_eq!(req("show tunnel 12"), Request::ShowTunnel(Selector::Id(12)));
        assert_eq!(req("show tunnel t1"), Request::ShowTunnel(Selector::Name("t1".into())));
        assert_eq!(req("show sessions"), Request::ShowSessions(None));
        assert_eq!(req("delete session t1 s1"), Request::DeleteSession { tunnel: Selector::Name("t1".into()), session: Selector::Name("s1".into()) });
        let Parsed::Run(i) = parse_args(&args("-j -t 2 show system")).unwrap() else { panic!() };
        assert_eq!(i, Invocation { request: Request::ShowSystem, json: true, timeout: Duration::from_secs(2) });
        assert!(parse_args(&args("show")).is_err());
        assert!(parse_args(&args("show tunnel")).is_err());
        assert!(parse_args(&args("")).is_err());
        assert!(parse_args(&args("-t 0 reload")).is_err());
    }

    #[test]
    fn rendering() {
        assert_eq!(duration(3725), "1:02:05");
        assert_eq!(duration(90_061), "1d 1:01:01");
        let mut t = Record::new("tunnel");
        t.num("tunnel_id", 7u64)
            .str("name", "")
            .str("state", "established")
            .num("uptime", 61u64)
            .str("peer", "192.0.2.1:1701")
            .num("version", 2u64)
            .num("sessions", 1u64)
            .flag("network_created", true);
        let text = render(std::slice::from_ref(&t), true, Some(ListKind::Tunnels), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("      TUNNEL NAME"), "{text}");
        assert!(lines[1].starts_with("*          7 -"), "{text}");
        assert!(lines[1].contains("0:01:01") && lines[1].contains("192.0.2.1:1701"), "{text}");
        assert!(render(&[t.clone()], false, None, false).contains("state:           established\n"));
        assert_eq!(render(&[t.clone()], true, None, true).chars().next(), Some('['));
        assert!(render(&[t], false, None, true).starts_with("{\"tunnel_id\":7,\"name\":\"\""));
    }
}
