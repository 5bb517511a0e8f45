//! `prol2tp` against running `prol2tpd`s: every command, as text and as
//! JSON, and the error exits (no daemon, no such object, usage, not root).
//!
//! The real-process tests run an LNS and a LAC in two network namespaces
//! joined by veth (192.0.2.0/24), both with `dataplane = null`, so there is
//! a real tunnel and session to show on each side. Each daemon's control
//! socket is put in the test's temporary directory with `PROL2TP_CONTROL`.
//! `every_command_against_lac_and_lns` covers the show, clear, reload and
//! delete commands on configured instances; `create_trace_and_profiles`
//! the instances made with `create`, `trace` and `show profiles`.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

const WAIT: Duration = Duration::from_secs(15);

/// The value printed for `key` in `key: value` text output.
fn text_value(out: &str, key: &str) -> Option<String> {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim().to_string()))
}

/// Asserts that `text` (`key: value` lines) shows each `(key, value)` of
/// `want`.
fn assert_values(text: &str, want: &[(&str, &str)]) {
    for (key, value) in want {
        assert_eq!(text_value(text, key).as_deref(), Some(*value), "{key} in:\n{text}");
    }
}

/// The number after `"key":` in JSON output.
fn json_num(out: &str, key: &str) -> Option<u64> {
    let i = out.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = out.get(i..)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn no_daemon_and_usage_errors() {
    let dir = TempDir::new("cli-nodaemon");
    let out = Command::new(CLI).args(["show", "system"]).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap();
    let r = CliRun::from(out);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stdout.is_empty());

    // A stale socket file left by a dead daemon: connection refused.
    let stale = dir.join("stale.ctl");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    let r = CliRun::from(Command::new(CLI).args(["-j", "show", "tunnels"]).env("PROL2TP_CONTROL", &stale).output().unwrap());
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);

    for bad in [
        &["show"][..],
        &["frobnicate"],
        &["show", "tunnel"],
        &["delete", "session", "1"],
        &[],
        &["create", "tunnel"],
        &["create", "session", "t1"],
        &["trace", "tunnel", "t1"],
        &["trace", "session", "t1", "s1"],
        &["show", "profiles", "extra"],
    ] {
        let r = CliRun::from(Command::new(CLI).args(bad).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap());
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("Usage"), "{}", r.stderr);
    }
    // A malformed KEY=VALUE is the CLI's to report, before any daemon is
    // asked (exit 2, naming the word).
    for (bad, want) in [
        (&["create", "tunnel", "x", "peer"][..], "malformed parameter 'peer': expected KEY=VALUE"),
        (&["create", "session", "t1", "s", "=ppp"], "malformed parameter '=ppp'"),
        (&["create", "tunnel", "x", "peer=192.0.2.1", "peer=192.0.2.2"], "parameter 'peer' given twice"),
    ] {
        let r = CliRun::from(Command::new(CLI).args(bad).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap());
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.lines().next().is_some_and(|l| l.contains(want)), "{bad:?}: {}", r.stderr);
    }
    // Well-formed new commands without a daemon: exit 3.
    for cmd in [&["show", "profiles"][..], &["create", "tunnel", "x", "peer=192.0.2.1"], &["create", "session", "x", "s"], &["trace", "tunnel", "x", "all"]] {
        let r = CliRun::from(Command::new(CLI).args(cmd).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap());
        assert_eq!(r.code, 3, "{cmd:?}: {}", r.stderr);
        assert!(r.stderr.contains("not running") && r.stdout.is_empty(), "{cmd:?}: {}", r.stderr);
    }
}

/// The LNS: accepts any peer.
fn lns_conf() -> String {
    null_system("lns.test", "192.0.2.1") + "[peer_profile \"default\"]\npeer = any\n"
}

/// The LAC: tunnel `t1` to the LNS with one session `t1/s1`.
fn lac_conf() -> String {
    null_system("lac.test", "192.0.2.2") + "[tunnel \"t1\"]\npeer = 192.0.2.1\n\n[session \"t1/s1\"]\ncall_type = incoming\n"
}

#[test]
fn every_command_against_lac_and_lns() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("clilns", "clilac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("cli");
    let lns = Prol2tpd::spawn_with_ctl(&lns_ns, &dir, "lns", &lns_conf(), dir.join("run/lns.ctl"));
    assert!(lns.wait_control_socket(WAIT), "LNS control socket missing; log:\n{}", lns.log());
    let mut lac = Prol2tpd::spawn_with_ctl(&lac_ns, &dir, "lac", &lac_conf(), dir.join("run/lac.ctl"));

    let up = wait_until(WAIT, || lac.cli("-j show session t1 s1").stdout.contains("\"state\":\"established\""));
    assert!(up, "session did not come up; LAC log:\n{}\nLNS log:\n{}", lac.log(), lns.log());
    // The socket is the daemon's, mode 0600, in a directory it created.
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&lac.ctl).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    check_show_system(&lac);
    check_show_tunnels(&lac, &lns);
    check_show_tunnel(&lac);
    check_show_sessions(&lac, &lns);
    check_statistics(&lns);
    check_not_found(&lac);
    check_reload(&lac);
    check_not_root(&lac);
    check_delete(&lac, &lns);

    // The daemon removes its socket when it exits.
    let status = lac.child.stop(Duration::from_secs(10));
    assert!(status.is_some(), "LAC did not exit; log:\n{}", lac.log());
    assert!(!lac.ctl.exists(), "control socket left behind");
    let r = lac.cli("show system");
    assert_eq!(r.code, 3, "{}", r.stderr);
}

fn check_show_system(d: &Prol2tpd) {
    let text = d.cli_ok("show system");
    assert_values(
        &text,
        &[
            ("host_name", "lac.test"),
            ("tunnels", "1"),
            ("sessions", "1"),
            ("dataplane", "null"),
            ("dataplane_requested", "null"),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
    );
    assert!(text_value(&text, "listen").is_some_and(|l| l.contains("udp:192.0.2.2:1701")), "{text}");
    assert!(text_value(&text, "router_id").is_some() && text_value(&text, "uptime").is_some(), "{text}");
    let json = d.cli_ok("-j show system");
    assert!(json.starts_with('{') && json.trim_end().ends_with('}'), "{json}");
    assert!(json.contains("\"host_name\":\"lac.test\""), "{json}");
    assert_eq!(json_num(&json, "tunnels"), Some(1), "{json}");
}

fn check_show_tunnels(lac: &Prol2tpd, lns: &Prol2tpd) {
    let text = lac.cli_ok("show tunnels");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("TUNNEL") && lines[0].contains("PEER"), "{text}");
    let row = lines[1];
    assert!(row.starts_with(' '), "LAC's own tunnel marked network-created: {text}");
    for want in ["t1", "established", "192.0.2.1:1701"] {
        assert!(row.contains(want), "{want} missing: {text}");
    }
    let text = lns.cli_ok("show tunnels");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with('*'), "LNS tunnel not marked network-created: {text}");
    assert!(lines[1].contains("192.0.2.2:1701"), "{text}");
    let json = lns.cli_ok("-j show tunnels");
    assert!(json.starts_with("[{") && json.contains("\"network_created\":true"), "{json}");
}

fn check_show_tunnel(d: &Prol2tpd) {
    let text = d.cli_ok("show tunnel t1");
    assert_values(&text, &[("state", "established"), ("peer_host_name", "lns.test"), ("version", "2"), ("transport", "udp")]);
    for key in ["next_ns", "next_nr", "zlb_tx", "zlb_rx", "hello_tx", "hello_rx", "retransmissions", "retry_timeout_ms", "rx_window_size", "ctrl_rx_octets"] {
        assert!(text_value(&text, key).is_some(), "{key} missing:\n{text}");
    }
    // Sent SCCRQ, SCCCN, ICRQ, ICCN; received SCCRP, ICRP.
    let json = d.cli_ok("-j show tunnel t1");
    assert!(json_num(&json, "next_ns").is_some_and(|n| n >= 4), "{json}");
    assert!(json_num(&json, "next_nr").is_some_and(|n| n >= 2), "{json}");
    let id = json_num(&json, "tunnel_id").unwrap();
    let by_id = d.cli_ok(&format!("-j show tunnel {id}"));
    assert_eq!(json_num(&by_id, "tunnel_id"), Some(id), "{by_id}");
}

fn check_show_sessions(lac: &Prol2tpd, lns: &Prol2tpd) {
    for cmd in ["show sessions", "show sessions t1"] {
        let text = lac.cli_ok(cmd);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{cmd}: {text}");
        assert!(lines[1].starts_with(' ') && lines[1].contains("s1") && lines[1].contains("lac-incoming"), "{cmd}: {text}");
    }
    let text = lac.cli_ok("show session t1 s1");
    assert_values(&text, &[("state", "established"), ("pseudowire", "PPP")]);
    // The null plane keeps no data counters: the fields are left out.
    assert!(!text.contains("data_"), "{text}");
    assert!(!lac.cli_ok("show tunnel t1").contains("data_"), "null plane reported tunnel data counters");
    assert!(text_value(&text, "peer_session_id").is_some_and(|v| v != "0"), "{text}");
    let text = lns.cli_ok("show sessions");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with('*') && lines[1].contains("lns-incoming"), "{text}");
    let json = lns.cli_ok("-j show sessions");
    assert!(json.starts_with("[{") && json.contains("\"state\":\"established\""), "{json}");
}

fn check_statistics(d: &Prol2tpd) {
    let text = d.cli_ok("show statistics");
    assert_values(&text, &[("rx_good_SCCRQ", "1"), ("rx_good_ICRQ", "1"), ("auth_failures", "0")]);
    for key in [
        "illegal_messages",
        "vendor_avps",
        "session_setup_failures",
        "resource_failures",
        "sequence_errors",
        "peer_timeouts",
        "unknown_peer_sccrq",
        "data_packets",
        "rx_bad_StopCCN",
    ] {
        assert!(text_value(&text, key).is_some(), "{key} missing:\n{text}");
    }
    let json = d.cli_ok("-j show statistics");
    assert_eq!(json_num(&json, "rx_good_SCCCN"), Some(1), "{json}");
    let r = d.cli("clear statistics");
    assert!(r.code == 0 && r.stdout.is_empty(), "{} {}", r.stdout, r.stderr);
    let json = d.cli_ok("-j show statistics");
    assert_eq!(json_num(&json, "rx_good_SCCRQ"), Some(0), "{json}");
    assert_eq!(d.cli_ok("-j clear statistics").trim(), "{\"ok\":true}");
}

fn check_not_found(d: &Prol2tpd) {
    for (cmd, want) in [
        ("show tunnel nosuch", "no tunnel nosuch"),
        ("show tunnel 4000000000", "no tunnel 4000000000"),
        ("-j show sessions nosuch", "no tunnel nosuch"),
        ("show session t1 99", "no session 99 in tunnel t1"),
        ("show session nosuch s1", "no tunnel nosuch"),
        ("delete tunnel nosuch", "no tunnel nosuch"),
        ("delete session t1 nosuch", "no session nosuch"),
    ] {
        let r = d.cli(cmd);
        assert_eq!(r.code, 1, "{cmd}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want) && r.stderr.lines().count() == 1, "{cmd}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{cmd}: {}", r.stdout);
    }
}

fn check_reload(d: &Prol2tpd) {
    assert!(d.cli("reload").stdout.is_empty());
    assert_eq!(d.cli("reload").code, 0);
    // A broken file is refused, the running configuration kept.
    d.write_conf("[system]\nno_such_parameter = 1\n");
    let r = d.cli("reload");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("reload failed"), "{}", r.stderr);
    d.write_conf(&lac_conf());
    let text = d.cli_ok("show tunnels");
    assert!(text.contains("established"), "tunnel lost by a failed reload: {text}");
}

fn check_not_root(d: &Prol2tpd) {
    if !have_program("setpriv") {
        eprintln!("SKIP part: setpriv missing, non-root access not checked");
        return;
    }
    let env = format!("PROL2TP_CONTROL={}", d.ctl.display());
    let r: CliRun = d.ns.exec(&["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", &env, CLI, "show", "system"]).into();
    assert_ne!(r.code, 0, "non-root user got an answer: {}", r.stdout);
    assert!(r.stdout.is_empty());
}

fn check_delete(lac: &Prol2tpd, lns: &Prol2tpd) {
    let r = lac.cli("delete session t1 s1");
    assert!(r.code == 0 && r.stdout.is_empty(), "{} {}", r.stdout, r.stderr);
    let gone = wait_until(WAIT, || lns.cli("-j show sessions").stdout.trim() == "[]");
    assert!(gone, "LNS still has the session: {}", lns.cli("show sessions").stdout);
    assert!(wait_until(WAIT, || lac.cli("-j show sessions t1").stdout.trim() == "[]"));

    let r = lac.cli("-j delete tunnel t1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "{\"ok\":true}");
    // StopCCN sent and received: each side either forgot the tunnel or
    // holds it in `closing` until its hold time ends (RFC 2661 section 5.7).
    let closed = |out: String| out.trim() == "[]" || (out.contains("\"state\":\"closing\"") && !out.contains("established"));
    let gone = wait_until(WAIT, || closed(lns.cli("-j show tunnels").stdout));
    assert!(gone, "LNS tunnel still up: {}", lns.cli("show tunnels").stdout);
    let gone = wait_until(WAIT, || closed(lac.cli("-j show tunnels").stdout));
    assert!(gone, "LAC tunnel still up: {}", lac.cli("show tunnels").stdout);
    // The node-wide counts follow.
    let text = lac.cli_ok("show system");
    assert_values(&text, &[("sessions", "0")]);
}

/// Profiles both sides share, so that the profile listing has named ones
/// of each kind and a CLI-created tunnel can use one.
const PROFILES: &str = "[tunnel_profile \"fast\"]\nretry_timeout = 500\nhello_timeout = 0\n\n\
    [session_profile \"quiet\"]\nseqnum = yes\n\n\
    [ppp_profile \"small\"]\nmtu = 1400\nmru = 1400\n\n\
    [eth_profile \"br\"]\nbridge = br0\n\n";

/// The LNS of the create test: accepts any peer.
fn create_lns_conf() -> String {
    null_system("lns.test", "192.0.2.1") + PROFILES + "[peer_profile \"default\"]\npeer = any\n"
}

/// The LAC of the create test: configured tunnel `t1` (session `t1/s1`)
/// and, unless `without_t1`, nothing else; `t9` only in the reloaded file.
fn create_lac_conf(with_t1: bool) -> String {
    let t1 = if with_t1 { "[tunnel \"t1\"]\npeer = 192.0.2.1\n\n[session \"t1/s1\"]\n" } else { "" };
    null_system("lac.test", "192.0.2.2") + PROFILES + "[peer_profile \"lan\"]\npeer = 192.0.2.0/24\ntunnel_profile = fast\n\n" + t1
}

/// The value of `key` in the text output of `show tunnel|session`.
fn shown(d: &Prol2tpd, cmd: &str, key: &str) -> String {
    text_value(&d.cli_ok(cmd), key).unwrap_or_else(|| panic!("{cmd}: no {key}"))
}

/// Polls until `show tunnel|session` (text) shows `state: established`.
fn wait_established(d: &Prol2tpd, cmd: &str) -> bool {
    wait_until(WAIT, || text_value(&d.cli_stdout(cmd), "state").as_deref() == Some("established"))
}

/// Asserts that `cmd` exits 1 with one line on stderr containing `want`,
/// and nothing on stdout.
#[track_caller]
fn assert_refused(d: &Prol2tpd, cmd: &str, want: &str) {
    let r = d.cli(cmd);
    assert_eq!(r.code, 1, "{cmd}: stdout={} stderr={}", r.stdout, r.stderr);
    assert!(r.stderr.contains(want), "{cmd}: `{want}` not in {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{cmd}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{cmd}: {}", r.stdout);
}

#[test]
fn create_trace_and_profiles() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("clicl", "clicc", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("cli-create");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &create_lns_conf());
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &create_lac_conf(true));
    assert!(wait_established(&lac, "show session t1 s1"), "t1/s1 did not come up; LAC log:\n{}\nLNS log:\n{}", lac.log(), lns.log());

    check_show_profiles(&lac);
    let (cli1, peer1) = check_create_tunnel(&lac, &lns);
    check_create_session(&lac, &lns, cli1, peer1);
    check_trace(&lac, cli1);
    check_trace_takes_effect(&lac, &lns, cli1, peer1);
    check_create_errors(&lac);
    check_reload_keeps_created(&lac, &lns, cli1, peer1);
    check_delete_created(&lac, &lns, peer1);
}

fn check_show_profiles(d: &Prol2tpd) {
    let text = d.cli_ok("show profiles");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("KIND") && lines[0].contains("NAME"), "{text}");
    let line = |kind: &str, name: &str| {
        lines.iter().find(|l| l.split_whitespace().take(2).eq([kind, name])).unwrap_or_else(|| panic!("no {kind} {name} in:\n{text}")).to_string()
    };
    assert!(line("tunnel_profile", "fast").contains("hello_timeout=0"), "{text}");
    assert!(line("tunnel_profile", "default").contains("version=2 encap=udp"), "{text}");
    assert!(line("session_profile", "quiet").contains("seqnum=yes"), "{text}");
    assert!(line("ppp_profile", "small").contains("mtu=1400 mru=1400"), "{text}");
    assert!(line("eth_profile", "br").contains("bridge=br0"), "{text}");
    assert!(line("peer_profile", "lan").contains("peer=192.0.2.0/24 tunnel_profile=fast"), "{text}");
    for kind in ["tunnel_profile", "session_profile", "ppp_profile", "eth_profile", "peer_profile"] {
        line(kind, "default");
    }
    // 5 defaults, 5 named, and the heading.
    assert_eq!(lines.len(), 11, "{text}");

    // JSON: every parameter, typed.
    let json = d.cli_ok("-j show profiles");
    assert!(json.starts_with("[{") && json.trim_end().ends_with("}]"), "{json}");
    assert_eq!(json.matches("\"kind\":").count(), 10, "{json}");
    let fast = json.split("},{").find(|o| o.contains("\"name\":\"fast\"")).unwrap_or_else(|| panic!("{json}"));
    assert!(fast.contains("\"kind\":\"tunnel_profile\""), "{fast}");
    assert_eq!(json_num(fast, "retry_timeout"), Some(500), "{fast}");
    assert_eq!(json_num(fast, "max_retry_timeout"), Some(8000), "{fast}");
    assert!(fast.contains("\"secret\":false") && fast.contains("\"trace_flags\":\"none\""), "{fast}");
    let small = json.split("},{").find(|o| o.contains("\"name\":\"small\"")).unwrap_or_else(|| panic!("{json}"));
    assert_eq!(json_num(small, "mtu"), Some(1400), "{small}");
    assert!(json_num(small, "line").is_some_and(|l| l > 0), "{small}");
}

/// Creates `cli1` (text) and `cli2` (JSON); returns cli1's id and the LNS's
/// id of the same tunnel.
fn check_create_tunnel(lac: &Prol2tpd, lns: &Prol2tpd) -> (u64, u64) {
    let out = lac.cli_ok("create tunnel cli1 peer=192.0.2.1 tunnel_profile=fast secret= trace_flags=none");
    let cli1: u64 = out.trim().parse().unwrap_or_else(|_| panic!("create tunnel printed {out:?}"));
    assert!(wait_established(lac, "show tunnel cli1"), "cli1 did not come up; LAC log:\n{}", lac.log());
    let t = lac.cli_ok(&format!("show tunnel {cli1}"));
    assert_values(&t, &[("name", "cli1"), ("profile", "fast"), ("retry_timeout_ms", "500"), ("hello_interval_ms", "0"), ("peer", "192.0.2.1:1701")]);
    assert!(lac.log().contains(&format!("control create tunnel_id={cli1} name=cli1 peer=192.0.2.1:1701")), "{}", lac.log());
    // It came up at the peer too.
    let peer1: u64 = text_value(&t, "peer_tunnel_id").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{t}"));
    let at_lns = lns.cli_ok(&format!("show tunnel {peer1}"));
    assert_values(&at_lns, &[("state", "established"), ("peer_tunnel_id", &cli1.to_string()), ("network_created", "yes")]);

    let json = lac.cli_ok("-j create tunnel cli2 peer=192.0.2.1");
    let cli2 = json_num(&json, "tunnel_id").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(json.trim(), format!("{{\"tunnel_id\":{cli2}}}"));
    assert!(wait_established(lac, "show tunnel cli2"), "cli2 did not come up");
    assert!(wait_until(WAIT, || lns.cli_ok("show tunnels").matches("established").count() == 3), "{}", lns.cli_ok("show tunnels"));
    assert_eq!(lac.cli_ok("-j delete tunnel cli2").trim(), "{\"ok\":true}");
    (cli1, peer1)
}

fn check_create_session(lac: &Prol2tpd, lns: &Prol2tpd, cli1: u64, peer1: u64) {
    let out = lac.cli_ok("create session cli1 cs1 session_profile=quiet");
    let cs1: u64 = out.trim().parse().unwrap_or_else(|_| panic!("create session printed {out:?}"));
    assert!(wait_established(lac, "show session cli1 cs1"), "cs1 did not come up; LAC log:\n{}", lac.log());
    let s = lac.cli_ok(&format!("show session {cli1} {cs1}"));
    assert_values(&s, &[("name", "cs1"), ("profile", "quiet"), ("call_type", "lac-incoming"), ("recv_seq", "yes")]);
    // The session is up at the peer, in the tunnel the CLI created.
    let peer_sid = text_value(&s, "peer_session_id").unwrap_or_else(|| panic!("{s}"));
    assert!(wait_established(lns, &format!("show session {peer1} {peer_sid}")), "{}", lns.cli_ok("show sessions"));

    // JSON, by tunnel id, and into the configured tunnel t1 by name.
    let json = lac.cli_ok(&format!("-j create session {cli1} cs2 call_type=incoming ppp_profile=small"));
    let cs2 = json_num(&json, "session_id").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(json.trim(), format!("{{\"tunnel_id\":{cli1},\"session_id\":{cs2}}}"));
    assert!(wait_established(lac, &format!("show session cli1 {cs2}")));
    assert_eq!(shown(lac, "show session cli1 cs2", "ppp_profile"), "small");
    let out = lac.cli_ok("create session t1 cs3");
    assert!(out.trim().parse::<u64>().is_ok(), "{out}");
    assert!(wait_established(lac, "show session t1 cs3"));
    assert!(wait_until(WAIT, || lns.cli_ok(&format!("show sessions {peer1}")).matches("established").count() == 2), "{}", lns.cli_ok("show sessions"));
    assert_eq!(lns.cli_ok("show sessions").matches("established").count(), 4, "{}", lns.cli_ok("show sessions"));
}

fn check_trace(d: &Prol2tpd, cli1: u64) {
    assert_eq!(shown(d, "show tunnel cli1", "trace_flags"), "none");
    let r = d.cli("trace tunnel cli1 protocol,fsm");
    assert!(r.code == 0 && r.stdout.is_empty() && r.stderr.is_empty(), "{r:?}");
    assert_eq!(shown(d, "show tunnel cli1", "trace_flags"), "protocol,fsm");
    // Only that tunnel, not its sessions nor the other tunnel.
    assert_eq!(shown(d, "show tunnel t1", "trace_flags"), "none");
    assert_eq!(shown(d, "show session cli1 cs1", "trace_flags"), "none");
    assert!(d.wait_log_contains(&format!("control trace tunnel_id={cli1} trace_flags=protocol,fsm"), WAIT), "{}", d.log());

    assert_eq!(d.cli_ok("-j trace session cli1 cs1 all").trim(), "{\"ok\":true}");
    assert_eq!(shown(d, "show session cli1 cs1", "trace_flags"), "protocol,fsm,api,avp,avp_hide,avp_data,func,xprt,data,system,ppp");
    assert_eq!(shown(d, "show session cli1 cs2", "trace_flags"), "none");
    d.cli_ok(&format!("trace session {cli1} cs1 0x3"));
    assert_eq!(shown(d, "show session cli1 cs1", "trace_flags"), "protocol,fsm");
    d.cli_ok("trace tunnel t1 xprt");
    assert_eq!(shown(d, "show tunnel t1", "trace_flags"), "xprt");
    d.cli_ok("trace tunnel t1 none");
    assert_eq!(shown(d, "show tunnel t1", "trace_flags"), "none");

    assert_refused(d, "trace tunnel cli1 protocol,fsn", "unknown trace category `fsn`");
    assert_refused(d, "trace session cli1 cs1 0xzz", "bad trace mask `0xzz`");
    assert_eq!(shown(d, "show tunnel cli1", "trace_flags"), "protocol,fsm", "a refused trace changed the mask");
    assert_refused(d, "trace tunnel nosuch all", "no tunnel nosuch");
    assert_refused(d, "trace session cli1 nosuch all", "no session nosuch in tunnel cli1");
}

/// The protocol trace lines of tunnel `tid` logged so far.
fn protocol_lines(d: &Prol2tpd, tid: u64) -> Vec<String> {
    let want = format!(" tunnel_id={tid} ");
    d.log().lines().filter(|l| l.contains("trace=protocol ") && l.contains(&want)).map(str::to_string).collect()
}

/// With `protocol` on for cli1 (set by `check_trace`) and off for t1,
/// closing a session in each logs the CDN of cli1's only.
fn check_trace_takes_effect(lac: &Prol2tpd, lns: &Prol2tpd, cli1: u64, peer1: u64) {
    let t1: u64 = shown(lac, "show tunnel t1", "tunnel_id").parse().unwrap();
    assert!(protocol_lines(lac, t1).is_empty(), "t1 traced before any trace command: {:?}", protocol_lines(lac, t1));
    lac.cli_ok("delete session cli1 cs2");
    lac.cli_ok("delete session t1 cs3");
    let cdn = format!("trace=protocol send msg=CDN tunnel_id={cli1} ");
    assert!(
        lac.wait_log_contains(&cdn, WAIT),
        "no traced CDN in cli1:
{}",
        lac.log()
    );
    assert!(wait_until(WAIT, || lns.cli_ok("show sessions").matches("established").count() == 2), "{}", lns.cli_ok("show sessions"));
    assert!(protocol_lines(lac, t1).is_empty(), "t1 traced: {:?}", protocol_lines(lac, t1));
    assert!(lns.cli_ok(&format!("show sessions {peer1}")).contains("established"));
}

fn check_create_errors(d: &Prol2tpd) {
    for (cmd, want) in [
        ("create tunnel x peer=192.0.2.1 frob=1", "unknown parameter `frob` in [tunnel]"),
        ("create tunnel x peer=not-an-address", "bad value `not-an-address` for `peer`"),
        ("create tunnel x peer=192.0.2.1 hello_timeout=forever", "for `hello_timeout`"),
        ("create tunnel x peer=192.0.2.1 tunnel_profile=nosuch", "tunnel_profile: no [tunnel_profile \"nosuch\"] is defined"),
        ("create tunnel x peer=192.0.2.1 hide_avps=yes", "`hide_avps = yes` needs a `secret`"),
        ("create tunnel x hello_timeout=5", "needs a `peer`"),
        ("create tunnel x peer=192.0.2.1 persist=yes", "persist:"),
        ("create tunnel cli1 peer=192.0.2.1", "tunnel name `cli1` is in use by tunnel"),
        ("create tunnel t1 peer=192.0.2.1", "tunnel name `t1` is a configured instance"),
        ("create tunnel 77 peer=192.0.2.1", "is a number"),
        ("create session nosuch s peer=1", "no tunnel nosuch"),
        ("create session 4000000000 s", "no tunnel 4000000000"),
        ("create session cli1 cs1", "session name `cs1` is in use in tunnel cli1"),
        ("create session t1 s1", "session name `s1` is in use in tunnel t1"),
        ("create session cli1 x pseudowire=eth", "L2TPv2, which carries only `pseudowire = ppp`"),
        ("create session cli1 x ppp_profile=nosuch", "no [ppp_profile \"nosuch\"] is defined"),
        ("create session cli1 x frob=1", "unknown parameter `frob` in [session]"),
        ("create session cli1 x call_type=sideways", "for `call_type`"),
    ] {
        assert_refused(d, cmd, want);
    }
    // Nothing was created by the refused requests.
    let tunnels = d.cli_ok("-j show tunnels");
    assert!(!tunnels.contains("\"name\":\"x\"") && !tunnels.contains("\"name\":\"77\""), "{tunnels}");
    assert!(!d.cli_ok("-j show sessions cli1").contains("\"name\":\"x\""));
}

fn check_reload_keeps_created(lac: &Prol2tpd, lns: &Prol2tpd, cli1: u64, peer1: u64) {
    // The same file: nothing changes.
    let r = lac.cli("reload");
    assert!(r.code == 0 && r.stdout.is_empty(), "{r:?}");
    assert_eq!(shown(lac, "show tunnel t1", "state"), "established");
    // A file without t1: t1 closes, cli1 (in no file) stays up with its
    // session, under the same id, at both ends.
    lac.write_conf(&create_lac_conf(false));
    lac.cli_ok("reload");
    let closed = |r: CliRun| r.code == 1 || (r.stdout.contains("\"state\":\"closing\"") && r.code == 0);
    assert!(wait_until(WAIT, || closed(lac.cli("-j show tunnel t1"))), "t1 not closed: {}", lac.cli_ok("show tunnels"));
    assert!(lac.log().contains("reload tunnel=t1 action=close") && !lac.log().contains("reload tunnel=cli1"), "{}", lac.log());
    assert_eq!(shown(lac, "show tunnel cli1", "state"), "established");
    assert_eq!(shown(lac, "show tunnel cli1", "tunnel_id"), cli1.to_string());
    assert_eq!(shown(lac, "show session cli1 cs1", "state"), "established");
    assert_eq!(shown(lns, &format!("show tunnel {peer1}"), "state"), "established");
    // Its trace setting survived too.
    assert_eq!(shown(lac, "show tunnel cli1", "trace_flags"), "protocol,fsm");
}

fn check_delete_created(lac: &Prol2tpd, lns: &Prol2tpd, peer1: u64) {
    let r = lac.cli("delete session cli1 cs1");
    assert!(r.code == 0 && r.stdout.is_empty(), "{r:?}");
    assert!(wait_until(WAIT, || !lac.cli_ok("show sessions cli1").contains("cs1")), "{}", lac.cli_ok("show sessions cli1"));
    assert!(wait_until(WAIT, || !lns.cli_ok(&format!("show sessions {peer1}")).contains("established")), "{}", lns.cli_ok("show sessions"));
    let r = lac.cli("delete tunnel cli1");
    assert!(r.code == 0 && r.stdout.is_empty(), "{r:?}");
    let gone = |r: CliRun| r.code == 1 || (r.stdout.contains("closing") && !r.stdout.contains("established"));
    assert!(wait_until(WAIT, || gone(lns.cli(&format!("show tunnel {peer1}")))), "LNS tunnel still up: {}", lns.cli_ok("show tunnels"));
    assert!(wait_until(WAIT, || gone(lac.cli("show tunnel cli1"))), "LAC tunnel still up: {}", lac.cli_ok("show tunnels"));
    assert_refused(lac, "delete tunnel nosuch", "no tunnel nosuch");
}
