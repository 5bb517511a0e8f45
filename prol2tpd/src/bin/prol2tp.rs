//! `prol2tp`: the command-line interface of prol2tpd (see `prol2tp(1)`).
//!
//! Each invocation sends one request over the control socket
//! ([`prol2tp::daemon::control`]) and prints the reply as text (one line
//! per tunnel, session or profile for lists, `key: value` lines for one
//! object, the new id for `create`) or, with `-j`, as JSON. Exit status: 0
//! done, 1 the daemon refused (no such tunnel or session, a bad parameter
//! or trace flag, reload failed), 2 usage error (including a malformed
//! `KEY=VALUE`), 3 the daemon is not running or did not answer.

use std::process::ExitCode;

use common::cli::{self, pad, parse_pairs, Answer, ClientSpec, Column, Parsed, SocketArg, Tool};
use common::ipc::{Record, Request, Selector, Value};
use prol2tp::daemon::control;

const USAGE: &str = "Usage: prol2tp [-j] [-t SECONDS] COMMAND
Commands:
  show system
  show tunnels
  show tunnel ID|NAME
  show sessions [TUNNEL]
  show session TUNNEL SESSION
  show statistics
  show profiles
  clear statistics
  reload
  create tunnel NAME KEY=VALUE...
  create session TUNNEL NAME KEY=VALUE...
  delete tunnel ID|NAME
  delete session TUNNEL SESSION
  trace tunnel TUNNEL FLAGS
  trace session TUNNEL SESSION FLAGS
KEY=VALUE: the parameters of a [tunnel \"NAME\"] or [session \"TUNNEL/NAME\"]
section of prol2tpd.conf(5); FLAGS: as trace_flags (all, none, protocol,fsm, 0x3)";

const TOOL: Tool = Tool { name: "prol2tp", daemon: "prol2tpd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

/// No `-s`: the socket is `$PROL2TP_CONTROL` or the default, as for the
/// daemon.
const SPEC: ClientSpec =
    ClientSpec { socket: SocketArg::Fixed(control::control_path), timeout_help: "seconds to wait for the reply (default 5)", stop_at_free: true };

/// What the user asked for.
type Invocation = cli::Invocation<Request>;

fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    TOOL.parse_client(&SPEC, args, parse_command)
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
        ["show", "profiles"] => Request::ShowProfiles,
        ["clear", "statistics"] => Request::ClearStatistics,
        ["reload"] => Request::Reload,
        ["delete", "tunnel", t] => Request::DeleteTunnel(sel(t)),
        ["delete", "session", t, s] => Request::DeleteSession { tunnel: sel(t), session: sel(s) },
        ["create", "tunnel", name, pairs @ ..] => Request::CreateTunnel { name: name.to_string(), params: parse_pairs(pairs)? },
        ["create", "session", t, name, pairs @ ..] => Request::CreateSession { tunnel: sel(t), name: name.to_string(), params: parse_pairs(pairs)? },
        ["trace", "tunnel", t, flags] => Request::SetTrace { tunnel: sel(t), session: None, flags: flags.to_string() },
        ["trace", "session", t, s, flags] => Request::SetTrace { tunnel: sel(t), session: Some(sel(s)), flags: flags.to_string() },
        [] => return Err("no command given".into()),
        _ => return Err(format!("unknown command '{}'", words.join(" "))),
    })
}

/// How a reply is printed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// One line per object under a heading.
    Table(ListKind),
    /// One line per profile: kind, name, main parameters.
    Profiles,
    /// `key: value` lines for each object.
    Object,
    /// The value of this field alone (the id a `create` made).
    NewId(&'static str),
}

impl Layout {
    fn of(req: &Request) -> Layout {
        match req {
            Request::ShowTunnels => Layout::Table(ListKind::Tunnels),
            Request::ShowSessions(_) => Layout::Table(ListKind::Sessions),
            Request::ShowProfiles => Layout::Profiles,
            Request::CreateTunnel { .. } => Layout::NewId("tunnel_id"),
            Request::CreateSession { .. } => Layout::NewId("session_id"),
            _ => Layout::Object,
        }
    }

    /// JSON is an array (even of one or none) for lists.
    fn is_list(self) -> bool {
        matches!(self, Layout::Table(_) | Layout::Profiles)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    TOOL.main(parse_args(&args), |inv| cli::print_output(run(inv)))
}

/// Carries out `inv`: the text to print, or the exit status after the
/// message was printed.
fn run(inv: Invocation) -> Result<String, ExitCode> {
    let layout = Layout::of(&inv.command);
    Ok(match TOOL.link(&inv.opts)?.ask(inv.command)? {
        Answer::Done => cli::done_text(inv.opts.json),
        Answer::Records(records) => render(&records, layout, inv.opts.json),
    })
}

/// Which one-line-per-object layout a list uses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListKind {
    Tunnels,
    Sessions,
}

/// The reply's records as the text or JSON printed on stdout.
fn render(records: &[Record], layout: Layout, json: bool) -> String {
    if json {
        return cli::render_json(records, layout.is_list());
    }
    match layout {
        Layout::Table(ListKind::Tunnels) => cli::render_table(records, TUNNEL_COLUMNS, uptime_cell),
        Layout::Table(ListKind::Sessions) => cli::render_table(records, SESSION_COLUMNS, uptime_cell),
        Layout::Profiles => render_profiles(records),
        Layout::NewId(key) => records.iter().filter_map(|r| r.get(key)).map(|v| format!("{v}\n")).collect(),
        Layout::Object => cli::render_objects(records),
    }
}

/// `uptime` cells as `H:MM:SS`.
fn uptime_cell(key: &str, v: &Value) -> Option<String> {
    match (key, v) {
        ("uptime", Value::U64(s)) => Some(cli::duration(*s)),
        _ => None,
    }
}

/// The parameters `show profiles` prints in text, per profile kind (JSON
/// holds them all).
const PROFILE_MAIN_KEYS: &[(&str, &[&str])] = &[
    ("tunnel_profile", &["version", "encap", "peer", "secret", "hello_timeout", "session_profile", "ppp_profile", "eth_profile", "trace_flags"]),
    ("session_profile", &["pseudowire", "l2spec_type", "seqnum", "ppp_profile", "eth_profile", "trace_flags"]),
    ("ppp_profile", &["mtu", "mru", "trace_flags"]),
    ("eth_profile", &["mtu", "bridge", "trace_flags"]),
    ("peer_profile", &["peer", "tunnel_profile", "session_profile", "ppp_profile", "eth_profile"]),
];

/// One line per profile: kind, name, then `key=value` for its main
/// parameters that are set (empty text is left out).
fn render_profiles(records: &[Record]) -> String {
    let mut out = format!("{} {} PARAMETERS\n", pad("KIND", -15), pad("NAME", -16));
    for r in records {
        let keys = PROFILE_MAIN_KEYS.iter().find(|(k, _)| *k == r.kind).map_or(&[][..], |(_, keys)| *keys);
        let params: Vec<String> = keys
            .iter()
            .filter_map(|k| match r.get(k) {
                None => None,
                Some(Value::Str(s)) if s.is_empty() => None,
                Some(v) => Some(format!("{k}={v}")),
            })
            .collect();
        let name = r.get("name").map(Value::to_string).unwrap_or_default();
        let line = format!("{} {} {}", pad(&r.kind, -15), pad(&name, -16), params.join(" "));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

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

#[cfg(test)]
mod tests {
    use common::cli::ClientOpts;

    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    use common::cli::duration;

    fn req(s: &str) -> Request {
        match parse_args(&args(s)).unwrap() {
            Parsed::Run(i) => i.command,
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
        let opts = ClientOpts { socket: control::control_path(), json: true, timeout: std::time::Duration::from_secs(2) };
        assert_eq!(i, Invocation { command: Request::ShowSystem, opts });
        assert!(matches!(parse_args(&args("-v")), Ok(Parsed::Print(p)) if p == format!("prol2tp {}", env!("CARGO_PKG_VERSION"))));
        assert!(matches!(parse_args(&args("-h")), Ok(Parsed::Print(p)) if p.starts_with("Usage: prol2tp [-j]") && !p.contains("-s SOCKET")));
        assert_eq!(parse_args(&args("-s x reload")), Err("Unrecognized option: 's'".to_string()));
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
        let text = render(std::slice::from_ref(&t), Layout::Table(ListKind::Tunnels), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("      TUNNEL NAME"), "{text}");
        assert!(lines[1].starts_with("*          7 -"), "{text}");
        assert!(lines[1].contains("0:01:01") && lines[1].contains("192.0.2.1:1701"), "{text}");
        assert!(render(&[t.clone()], Layout::Object, false).contains("state:           established\n"));
        assert_eq!(render(&[t.clone()], Layout::Table(ListKind::Tunnels), true).chars().next(), Some('['));
        assert!(render(&[t], Layout::Object, true).starts_with("{\"tunnel_id\":7,\"name\":\"\""));
    }

    fn err(s: &str) -> String {
        match parse_args(&args(s)) {
            Err(e) => e,
            Ok(p) => panic!("{s}: parsed as {p:?}"),
        }
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn create_and_trace_parse() {
        assert_eq!(req("show profiles"), Request::ShowProfiles);
        assert_eq!(
            req("create tunnel t9 peer=192.0.2.1 tunnel_profile=v3 secret="),
            Request::CreateTunnel { name: "t9".into(), params: kv(&[("peer", "192.0.2.1"), ("tunnel_profile", "v3"), ("secret", "")]) }
        );
        assert_eq!(req("create tunnel t9"), Request::CreateTunnel { name: "t9".into(), params: vec![] });
        // A value may hold `=` (only the first one splits).
        assert_eq!(
            req("create session 7 s1 user_name=a=b"),
            Request::CreateSession { tunnel: Selector::Id(7), name: "s1".into(), params: kv(&[("user_name", "a=b")]) }
        );
        assert_eq!(req("trace tunnel t1 protocol,fsm"), Request::SetTrace { tunnel: Selector::Name("t1".into()), session: None, flags: "protocol,fsm".into() });
        assert_eq!(
            req("trace session t1 9 all"),
            Request::SetTrace { tunnel: Selector::Name("t1".into()), session: Some(Selector::Id(9)), flags: "all".into() }
        );
    }

    #[test]
    fn create_and_trace_usage_errors() {
        assert_eq!(err("create tunnel t9 peer"), "malformed parameter 'peer': expected KEY=VALUE");
        assert_eq!(err("create tunnel t9 =192.0.2.1"), "malformed parameter '=192.0.2.1': expected KEY=VALUE");
        assert_eq!(err("create session t1 s1 peer=1 peer=2"), "parameter 'peer' given twice");
        assert!(err("create tunnel").starts_with("unknown command"));
        assert!(err("create session t1").starts_with("unknown command"));
        assert!(err("trace tunnel t1").starts_with("unknown command"));
        assert!(err("trace session t1 s1").starts_with("unknown command"));
        assert!(err("trace tunnel t1 all extra").starts_with("unknown command"));
        assert!(err("show profiles x").starts_with("unknown command"));
    }

    #[test]
    fn create_and_profile_rendering() {
        let mut t = Record::new("tunnel");
        t.num("tunnel_id", 4242u64);
        assert_eq!(render(std::slice::from_ref(&t), Layout::NewId("tunnel_id"), false), "4242\n");
        assert_eq!(render(std::slice::from_ref(&t), Layout::NewId("tunnel_id"), true), "{\"tunnel_id\":4242}\n");
        let mut s = Record::new("session");
        s.num("tunnel_id", 4242u64).num("session_id", 17u64);
        assert_eq!(render(std::slice::from_ref(&s), Layout::NewId("session_id"), false), "17\n");

        let mut p = Record::new("tunnel_profile");
        p.str("kind", "tunnel_profile")
            .str("name", "v3")
            .num("line", 1u64)
            .str("version", "3")
            .str("peer", "")
            .flag("secret", true)
            .num("retry_timeout", 1000u64);
        let mut q = Record::new("ppp_profile");
        q.str("kind", "ppp_profile").str("name", "default").num("line", 0u64).num("mtu", 1500u64).num("mru", 1500u64).str("trace_flags", "none");
        let text = render(&[p.clone(), q.clone()], Layout::Profiles, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("KIND") && lines[0].ends_with("PARAMETERS"), "{text}");
        // Main keys only (no retry_timeout), empty ones left out (peer).
        assert_eq!(lines[1], "tunnel_profile  v3               version=3 secret=yes");
        assert_eq!(lines[2], "ppp_profile     default          mtu=1500 mru=1500 trace_flags=none");
        let json = render(&[p], Layout::Profiles, true);
        assert!(json.starts_with("[{\"kind\":\"tunnel_profile\",\"name\":\"v3\"") && json.contains("\"retry_timeout\":1000"), "{json}");
        assert_eq!(render(&[], Layout::Profiles, true), "[]\n");
    }
}
