//! `prol2tp` against running `prol2tpd`s: every command, as text and as
//! JSON, and the error exits (no daemon, no such object, usage, not root).
//!
//! The real-process test runs an LNS and a LAC in two network namespaces
//! joined by veth (192.0.2.0/24), both with `dataplane = null`, so there is
//! a real tunnel and session to show on each side. Each daemon's control
//! socket is put in the test's temporary directory with `PROL2TP_CONTROL`.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::*;

const CLI: &str = env!("CARGO_BIN_EXE_prol2tp");
const WAIT: Duration = Duration::from_secs(15);

/// The outcome of one `prol2tp` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `prol2tp ARGS` in `ns` against the control socket `ctl`.
fn cli(ns: &Netns, ctl: &Path, args: &str) -> Run {
    let env = format!("PROL2TP_CONTROL={}", ctl.display());
    let mut cmd = vec!["env", env.as_str(), CLI];
    cmd.extend(args.split_whitespace());
    ns.exec(&cmd).into()
}

/// Like [`cli`], and asserts exit status 0.
fn cli_ok(ns: &Netns, ctl: &Path, args: &str) -> String {
    let r = cli(ns, ctl, args);
    assert_eq!(r.code, 0, "prol2tp {args}: stdout={} stderr={}", r.stdout, r.stderr);
    r.stdout
}

/// The value printed for `key` in `key: value` text output.
fn text_value(out: &str, key: &str) -> Option<String> {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim().to_string()))
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
    let r = Run::from(out);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stdout.is_empty());

    // A stale socket file left by a dead daemon: connection refused.
    let stale = dir.join("stale.ctl");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    let r = Run::from(Command::new(CLI).args(["-j", "show", "tunnels"]).env("PROL2TP_CONTROL", &stale).output().unwrap());
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);

    for bad in [&["show"][..], &["frobnicate"], &["show", "tunnel"], &["delete", "session", "1"], &[]] {
        let r = Run::from(Command::new(CLI).args(bad).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap());
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("Usage"), "{}", r.stderr);
    }
}

const LNS_CONF: &str = "[system]
dataplane = null
host_name = lns.test
listen = 192.0.2.1

[peer_profile \"default\"]
peer = any
";

const LAC_CONF: &str = "[system]
dataplane = null
host_name = lac.test
listen = 192.0.2.2

[tunnel \"t1\"]
peer = 192.0.2.1

[session \"t1/s1\"]
call_type = incoming
";

#[test]
fn every_command_against_lac_and_lns() {
    if !require_root_and_netns() {
        return;
    }
    let lns_ns = Netns::new("clilns");
    let lac_ns = Netns::new("clilac");
    link_veth(&lns_ns, &lac_ns, &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("cli");
    let lns_conf = dir.write("lns.conf", LNS_CONF);
    let lac_conf = dir.write("lac.conf", LAC_CONF);
    let lns_ctl = dir.join("run/lns.ctl");
    let lac_ctl = dir.join("run/lac.ctl");
    let bin = daemon_bin();
    let bin = bin.to_str().unwrap();
    let lns_env = lns_ctl.to_str().unwrap();
    let lac_env = lac_ctl.to_str().unwrap();
    let lns = lns_ns.spawn_env(&[bin, "-f", "-c", lns_conf.to_str().unwrap()], &[("PROL2TP_CONTROL", lns_env)], &dir.join("lns.log"));
    assert!(wait_until(WAIT, || lns_ctl.exists()), "LNS control socket missing; log:\n{}", lns.log());
    let mut lac = lac_ns.spawn_env(&[bin, "-f", "-c", lac_conf.to_str().unwrap()], &[("PROL2TP_CONTROL", lac_env)], &dir.join("lac.log"));

    let up = wait_until(WAIT, || cli(&lac_ns, &lac_ctl, "-j show session t1 s1").stdout.contains("\"state\":\"established\""));
    assert!(up, "session did not come up; LAC log:\n{}\nLNS log:\n{}", lac.log(), lns.log());
    // The socket is the daemon's, mode 0600, in a directory it created.
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&lac_ctl).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    check_show_system(&lac_ns, &lac_ctl);
    check_show_tunnels(&lac_ns, &lac_ctl, &lns_ns, &lns_ctl);
    check_show_tunnel(&lac_ns, &lac_ctl);
    check_show_sessions(&lac_ns, &lac_ctl, &lns_ns, &lns_ctl);
    check_statistics(&lns_ns, &lns_ctl);
    check_not_found(&lac_ns, &lac_ctl);
    check_reload(&lac_ns, &lac_ctl, &dir);
    check_not_root(&lac_ns, &lac_ctl);
    check_delete(&lac_ns, &lac_ctl, &lns_ns, &lns_ctl);

    // The daemon removes its socket when it exits.
    let status = lac.stop(Duration::from_secs(10));
    assert!(status.is_some(), "LAC did not exit; log:\n{}", lac.log());
    assert!(!lac_ctl.exists(), "control socket left behind");
    let r = cli(&lac_ns, &lac_ctl, "show system");
    assert_eq!(r.code, 3, "{}", r.stderr);
}

fn check_show_system(ns: &Netns, ctl: &Path) {
    let text = cli_ok(ns, ctl, "show system");
    assert_eq!(text_value(&text, "host_name").as_deref(), Some("lac.test"), "{text}");
    assert_eq!(text_value(&text, "tunnels").as_deref(), Some("1"), "{text}");
    assert_eq!(text_value(&text, "sessions").as_deref(), Some("1"), "{text}");
    assert_eq!(text_value(&text, "dataplane").as_deref(), Some("null"), "{text}");
    assert_eq!(text_value(&text, "version").as_deref(), Some(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text_value(&text, "listen").is_some_and(|l| l.contains("udp:192.0.2.2:1701")), "{text}");
    assert!(text_value(&text, "router_id").is_some() && text_value(&text, "uptime").is_some(), "{text}");
    let json = cli_ok(ns, ctl, "-j show system");
    assert!(json.starts_with('{') && json.trim_end().ends_with('}'), "{json}");
    assert!(json.contains("\"host_name\":\"lac.test\""), "{json}");
    assert_eq!(json_num(&json, "tunnels"), Some(1), "{json}");
}

fn check_show_tunnels(lac_ns: &Netns, lac_ctl: &Path, lns_ns: &Netns, lns_ctl: &Path) {
    let text = cli_ok(lac_ns, lac_ctl, "show tunnels");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("TUNNEL") && lines[0].contains("PEER"), "{text}");
    let row = lines[1];
    assert!(row.starts_with(' '), "LAC's own tunnel marked network-created: {text}");
    for want in ["t1", "established", "192.0.2.1:1701"] {
        assert!(row.contains(want), "{want} missing: {text}");
    }
    let text = cli_ok(lns_ns, lns_ctl, "show tunnels");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with('*'), "LNS tunnel not marked network-created: {text}");
    assert!(lines[1].contains("192.0.2.2:1701"), "{text}");
    let json = cli_ok(lns_ns, lns_ctl, "-j show tunnels");
    assert!(json.starts_with("[{") && json.contains("\"network_created\":true"), "{json}");
}

fn check_show_tunnel(ns: &Netns, ctl: &Path) {
    let text = cli_ok(ns, ctl, "show tunnel t1");
    assert_eq!(text_value(&text, "state").as_deref(), Some("established"), "{text}");
    assert_eq!(text_value(&text, "peer_host_name").as_deref(), Some("lns.test"), "{text}");
    assert_eq!(text_value(&text, "version").as_deref(), Some("2"), "{text}");
    assert_eq!(text_value(&text, "transport").as_deref(), Some("udp"), "{text}");
    for key in ["next_ns", "next_nr", "zlb_tx", "zlb_rx", "hello_tx", "hello_rx", "retransmissions", "retry_timeout_ms", "rx_window_size", "ctrl_rx_octets"] {
        assert!(text_value(&text, key).is_some(), "{key} missing:\n{text}");
    }
    // Sent SCCRQ, SCCCN, ICRQ, ICCN; received SCCRP, ICRP.
    let json = cli_ok(ns, ctl, "-j show tunnel t1");
    assert!(json_num(&json, "next_ns").is_some_and(|n| n >= 4), "{json}");
    assert!(json_num(&json, "next_nr").is_some_and(|n| n >= 2), "{json}");
    let id = json_num(&json, "tunnel_id").unwrap();
    let by_id = cli_ok(ns, ctl, &format!("-j show tunnel {id}"));
    assert_eq!(json_num(&by_id, "tunnel_id"), Some(id), "{by_id}");
}

fn check_show_sessions(lac_ns: &Netns, lac_ctl: &Path, lns_ns: &Netns, lns_ctl: &Path) {
    for cmd in ["show sessions", "show sessions t1"] {
        let text = cli_ok(lac_ns, lac_ctl, cmd);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{cmd}: {text}");
        assert!(lines[1].starts_with(' ') && lines[1].contains("s1") && lines[1].contains("lac-incoming"), "{cmd}: {text}");
    }
    let text = cli_ok(lac_ns, lac_ctl, "show session t1 s1");
    assert_eq!(text_value(&text, "state").as_deref(), Some("established"), "{text}");
    assert_eq!(text_value(&text, "pseudowire").as_deref(), Some("PPP"), "{text}");
    assert!(text_value(&text, "peer_session_id").is_some_and(|v| v != "0"), "{text}");
    let text = cli_ok(lns_ns, lns_ctl, "show sessions");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with('*') && lines[1].contains("lns-incoming"), "{text}");
    let json = cli_ok(lns_ns, lns_ctl, "-j show sessions");
    assert!(json.starts_with("[{") && json.contains("\"state\":\"established\""), "{json}");
}

fn check_statistics(ns: &Netns, ctl: &Path) {
    let text = cli_ok(ns, ctl, "show statistics");
    assert_eq!(text_value(&text, "rx_good_SCCRQ").as_deref(), Some("1"), "{text}");
    assert_eq!(text_value(&text, "rx_good_ICRQ").as_deref(), Some("1"), "{text}");
    assert_eq!(text_value(&text, "auth_failures").as_deref(), Some("0"), "{text}");
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
    let json = cli_ok(ns, ctl, "-j show statistics");
    assert_eq!(json_num(&json, "rx_good_SCCCN"), Some(1), "{json}");
    let r = cli(ns, ctl, "clear statistics");
    assert!(r.code == 0 && r.stdout.is_empty(), "{} {}", r.stdout, r.stderr);
    let json = cli_ok(ns, ctl, "-j show statistics");
    assert_eq!(json_num(&json, "rx_good_SCCRQ"), Some(0), "{json}");
    assert_eq!(cli_ok(ns, ctl, "-j clear statistics").trim(), "{\"ok\":true}");
}

fn check_not_found(ns: &Netns, ctl: &Path) {
    for (cmd, want) in [
        ("show tunnel nosuch", "no tunnel nosuch"),
        ("show tunnel 4000000000", "no tunnel 4000000000"),
        ("-j show sessions nosuch", "no tunnel nosuch"),
        ("show session t1 99", "no session 99 in tunnel t1"),
        ("show session nosuch s1", "no tunnel nosuch"),
        ("delete tunnel nosuch", "no tunnel nosuch"),
        ("delete session t1 nosuch", "no session nosuch"),
    ] {
        let r = cli(ns, ctl, cmd);
        assert_eq!(r.code, 1, "{cmd}: {} {}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want) && r.stderr.lines().count() == 1, "{cmd}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{cmd}: {}", r.stdout);
    }
}

fn check_reload(ns: &Netns, ctl: &Path, dir: &TempDir) {
    assert!(cli(ns, ctl, "reload").stdout.is_empty());
    assert_eq!(cli(ns, ctl, "reload").code, 0);
    // A broken file is refused, the running configuration kept.
    dir.write("lac.conf", "[system]\nno_such_parameter = 1\n");
    let r = cli(ns, ctl, "reload");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("reload failed"), "{}", r.stderr);
    dir.write("lac.conf", LAC_CONF);
    let text = cli_ok(ns, ctl, "show tunnels");
    assert!(text.contains("established"), "tunnel lost by a failed reload: {text}");
}

fn check_not_root(ns: &Netns, ctl: &Path) {
    if !have_program("setpriv") {
        eprintln!("SKIP part: setpriv missing, non-root access not checked");
        return;
    }
    let env = format!("PROL2TP_CONTROL={}", ctl.display());
    let r: Run = ns.exec(&["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", &env, CLI, "show", "system"]).into();
    assert_ne!(r.code, 0, "non-root user got an answer: {}", r.stdout);
    assert!(r.stdout.is_empty());
}

fn check_delete(lac_ns: &Netns, lac_ctl: &Path, lns_ns: &Netns, lns_ctl: &Path) {
    let r = cli(lac_ns, lac_ctl, "delete session t1 s1");
    assert!(r.code == 0 && r.stdout.is_empty(), "{} {}", r.stdout, r.stderr);
    let gone = wait_until(WAIT, || cli(lns_ns, lns_ctl, "-j show sessions").stdout.trim() == "[]");
    assert!(gone, "LNS still has the session: {}", cli(lns_ns, lns_ctl, "show sessions").stdout);
    assert!(wait_until(WAIT, || cli(lac_ns, lac_ctl, "-j show sessions t1").stdout.trim() == "[]"));

    let r = cli(lac_ns, lac_ctl, "-j delete tunnel t1");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "{\"ok\":true}");
    // StopCCN sent and received: each side either forgot the tunnel or
    // holds it in `closing` until its hold time ends (RFC 2661 section 5.7).
    let closed = |out: String| out.trim() == "[]" || (out.contains("\"state\":\"closing\"") && !out.contains("established"));
    let gone = wait_until(WAIT, || closed(cli(lns_ns, lns_ctl, "-j show tunnels").stdout));
    assert!(gone, "LNS tunnel still up: {}", cli(lns_ns, lns_ctl, "show tunnels").stdout);
    let gone = wait_until(WAIT, || closed(cli(lac_ns, lac_ctl, "-j show tunnels").stdout));
    assert!(gone, "LAC tunnel still up: {}", cli(lac_ns, lac_ctl, "show tunnels").stdout);
    // The node-wide counts follow.
    let text = cli_ok(lac_ns, lac_ctl, "show system");
    assert_eq!(text_value(&text, "sessions").as_deref(), Some("0"), "{text}");
}
