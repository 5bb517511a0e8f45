//! `prol2tp` against running `prol2tpd`s: every command, as text and as
//! JSON, and the error exits (no daemon, no such object, usage, not root).
//!
//! The real-process test runs an LNS and a LAC in two network namespaces
//! joined by veth (192.0.2.0/24), both with `dataplane = null`, so there is
//! a real tunnel and session to show on each side. Each daemon's control
//! socket is put in the test's temporary directory with `PROL2TP_CONTROL`.

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

    for bad in [&["show"][..], &["frobnicate"], &["show", "tunnel"], &["delete", "session", "1"], &[]] {
        let r = CliRun::from(Command::new(CLI).args(bad).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap());
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("Usage"), "{}", r.stderr);
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
