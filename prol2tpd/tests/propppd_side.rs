//! prol2tpd's default PPP side, propppd (`-p propppd`), end to end: a LAC
//! and an LNS prol2tpd with the userspace data plane in two network
//! namespaces, each with a fake propppd — a `common::channel`
//! `ChannelListener` in this test process, on a path given by
//! `[system] propppd_socket` — that plays propppd's part of the channel
//! contract by hand.
//!
//! Checked: each daemon connects at start; a PPP session is handed over
//! with `PppOpen` (framing `frames`, role `server` on the LNS, `client` on
//! the LAC, name, profile, MTU/MRU, the four ids) and its channel fd; a
//! frame written on the LAC's fd comes out of the LNS's with the same
//! bytes and back; SESSION UP waits for `PppStatus up` and carries its
//! interface and addresses; `prol2tp delete session` gives both fakes a
//! `PppClose`; `PppStatus down` closes the session on both daemons (CDN
//! Result Code 1 with the reason); propppd's `CreateSession` creates a
//! session (`Done`), an unknown tunnel gets `Error`, another request
//! `Unsupported`; a fake that drops its connection gets its sessions
//! closed (CDN Result Code 2, "PPP daemon went away") and the next session
//! connects again; with nobody listening the session is closed and that
//! is logged.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use common::ipc::{ErrorCode, Reply, Request, Selector};
use support::chan::{Fake, Open, WAIT};
use support::*;

/// LNS (192.0.2.1) accepting L2TPv2 from the LAC with PPP profile `isp`.
fn lns_conf(chan: &std::path::Path) -> String {
    format!(
        "[system]\ndataplane = userspace\nhost_name = lns.example\nlisten = 192.0.2.1\nscripts = no\npropppd_socket = {}\n\n\
         [tunnel_profile \"v2\"]\nversion = 2\nsecret = s3cret\nppp_profile = isp\n\n\
         [ppp_profile \"isp\"]\nmtu = 1400\nmru = 1450\n\n\
         [peer_profile \"lac\"]\npeer = 192.0.2.2\ntunnel_profile = v2\n",
        chan.display()
    )
}

/// LAC dialling the LNS with one PPP session `t/s1` (profile `dsl`,
/// interface `ppp7`).
fn lac_conf(chan: &std::path::Path) -> String {
    format!(
        "[system]\ndataplane = userspace\nhost_name = lac.example\nlisten = 192.0.2.2\nscripts = no\npropppd_socket = {}\n\n\
         [ppp_profile \"dsl\"]\nmtu = 1460\nmru = 1460\n\n\
         [tunnel \"t\"]\npeer = 192.0.2.1\nversion = 2\nsecret = s3cret\n\n\
         [session \"t/s1\"]\npseudowire = ppp\nppp_profile = dsl\ninterface_name = ppp7\n",
        chan.display()
    )
}

/// The `session up` line of a daemon whose `(tunnel_id, session_id)`
/// satisfy `pred`.
fn session_up(d: &Prol2tpd<'_>, pred: impl Fn(&Fields) -> bool) -> Fields {
    d.wait_event("session up", WAIT, pred)
}

/// The `session down` line of `(tunnel_id, session_id)`.
fn session_down(d: &Prol2tpd<'_>, tid: &str, sid: &str) -> Fields {
    d.wait_event("session down", WAIT, |f| f.get("tunnel_id") == Some(tid) && f.get("session_id") == Some(sid))
}

/// Sends `frame` on `from` and asserts that `to` reads the same bytes.
fn crosses(from: &Open, to: &Open, frame: &[u8]) {
    from.sock.send(frame).unwrap_or_else(|e| panic!("send: {e}"));
    let mut buf = [0u8; 2048];
    let n = to.sock.recv(&mut buf).unwrap_or_else(|e| panic!("the frame did not cross: {e}"));
    assert_eq!(buf.get(..n), Some(frame));
}

fn hosts(tag: &str) -> (Netns, Netns, VethPair) {
    two_netns(&format!("{tag}n"), &format!("{tag}c"), &["192.0.2.1/24"], &["192.0.2.2/24"])
}

/// `prol2tpwatch -j -n 1 -e session-up` against `d`, its output in
/// `<dir>/<name>.out`; returns once `d` counts the watcher.
fn watch_session_up(ns: &Netns, d: &Prol2tpd<'_>, dir: &TempDir, name: &str) -> (std::process::Child, PathBuf) {
    let out = dir.join(&format!("{name}.out"));
    let env = format!("PROL2TP_CONTROL={}", d.ctl.display());
    let file = std::fs::File::create(&out).unwrap_or_else(|e| panic!("{e}"));
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "env", &env, env!("CARGO_BIN_EXE_prol2tpwatch"), "-j", "-n", "1", "-e", "session-up"])
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let subscribed = wait_until(Duration::from_secs(10), || d.cli_stdout("-j show system").contains("\"watchers\":1"));
    assert!(subscribed, "watcher did not subscribe: {}", d.cli_stdout("show system"));
    (child, out)
}

#[test]
fn sessions_are_handed_to_propppd_and_follow_its_status() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("pph");
    let dir = TempDir::new("propppd-side");
    let mut lns_fake = Fake::bind(dir.join("lns.chan"));
    let mut lac_fake = Fake::bind(dir.join("lac.chan"));
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(&dir.join("lns.chan")));
    lns_fake.accept(&lns);
    assert!(lns.log().contains("propppd connected"), "{}", lns.log());
    let (mut watcher, watched) = watch_session_up(&lns_ns, &lns, &dir, "lns-watch");
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&dir.join("lac.chan")));
    lac_fake.accept(&lac);

    // Both sides get their channel, with what the contract asks for.
    let lns_open = lns_fake.open(&lns);
    let lac_open = lac_fake.open(&lac);
    let lns_up = session_up(&lns, |_| true);
    let lac_up = session_up(&lac, |_| true);
    let (tid, sid) = (lns_up.req("tunnel_id"), lns_up.req("session_id"));
    for (key, want) in [
        ("framing", "frames"),
        ("linktype", "pppoltp"),
        ("role", "server"),
        ("profile", "isp"),
        ("mtu", "1400"),
        ("mru", "1450"),
        ("tunnel_id", tid),
        ("session_id", sid),
        ("peer_tunnel_id", lac_up.req("tunnel_id")),
        ("peer_session_id", lac_up.req("session_id")),
    ] {
        assert_eq!(lns_open.get(key), want, "{key} of the LNS's PppOpen {:?}", lns_open.params);
    }
    assert_eq!(lns_open.get("name"), format!("{tid}/{sid}"), "an unnamed session is named TID/SID");
    for (key, want) in [
        ("framing", "frames"),
        ("role", "client"),
        ("name", "s1"),
        ("profile", "dsl"),
        ("ifname", "ppp7"),
        ("mtu", "1460"),
        ("tunnel_id", lac_up.req("tunnel_id")),
        ("peer_session_id", sid),
    ] {
        assert_eq!(lac_open.get(key), want, "{key} of the LAC's PppOpen {:?}", lac_open.params);
    }

    // Frames cross, without address/control octets at either end.
    crosses(&lac_open, &lns_open, &[0xc0, 0x21, 0x01, 0x01, 0x00, 0x04]);
    crosses(&lns_open, &lac_open, &[0x80, 0x21, 0x02, 0x07, 0x00, 0x04]);

    // SESSION UP waited for PPP, and carries what propppd reported.
    assert_eq!(std::fs::read_to_string(&watched).unwrap_or_default(), "", "SESSION UP before PPP was up");
    lns_fake.status(lns_open.reference, &[("state", "up"), ("ifname", "ppp5"), ("local_ip", "203.0.113.1"), ("peer_ip", "203.0.113.2")]);
    lns.wait_event("ppp up", WAIT, |f| f.get("ifname") == Some("ppp5") && f.get("peer_ip") == Some("203.0.113.2"));
    let mut line = String::new();
    let seen = wait_until(Duration::from_secs(5), || {
        line = std::fs::read_to_string(&watched).unwrap_or_default();
        line.ends_with('\n')
    });
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(seen, "no SESSION UP after PppStatus up:\n{}", lns.log());
    for want in ["\"interface_name\":\"ppp5\"", "\"local_ip\":\"203.0.113.1\"", "\"peer_ip\":\"203.0.113.2\"", "\"session_type\":\"PPP\""] {
        assert!(line.contains(want), "{want} not in {line}");
    }

    // propppd's own requests on the connection.
    let r = lac_fake.ask(&lac, 5, Request::ShowSystem);
    assert!(matches!(r, Reply::Error { code: ErrorCode::Unsupported, .. }), "{r:?}");
    let create =
        |tunnel: &str| Request::CreateSession { tunnel: Selector::Name(tunnel.into()), name: "s2".into(), params: vec![("ppp_profile".into(), "dsl".into())] };
    let r = lac_fake.ask(&lac, 7, create("nope"));
    assert!(matches!(r, Reply::Error { code: ErrorCode::NotFound, .. }), "{r:?}");
    assert_eq!(lac_fake.ask(&lac, 6, create("t")), Reply::Done);
    let lac_open2 = lac_fake.open(&lac);
    let lns_open2 = lns_fake.open(&lns);
    assert_eq!((lac_open2.get("name"), lac_open2.get("role")), ("s2", "client"));
    assert_ne!(lns_open2.reference, lns_open.reference);
    crosses(&lac_open2, &lns_open2, &[0xc0, 0x21, 0x05, 0x09, 0x00, 0x04]);

    // prol2tp delete session: PppClose on the LAC and, after the CDN, on the LNS.
    lac.cli_ok("delete session t s1");
    assert_eq!(lac_fake.close(&lac), lac_open.reference);
    assert_eq!(lns_fake.close(&lns), lns_open.reference);

    // PppStatus down on the LNS: CDN Loss of carrier with the reason, both sides.
    lns_fake.status(lns_open2.reference, &[("state", "down"), ("reason", "Authentication failed")]);
    let down = session_down(&lns, lns_open2.get("tunnel_id"), lns_open2.get("session_id"));
    assert_eq!((down.req("result"), down.req("message")), ("1", "Authentication failed"));
    let lac_down = session_down(&lac, lac_open2.get("tunnel_id"), lac_open2.get("session_id"));
    assert_eq!((lac_down.req("result"), lac_down.req("message")), ("1", "Authentication failed"), "the CDN the LAC got");
    assert_eq!(lac_fake.close(&lac), lac_open2.reference);
    assert_eq!(lac.cli_stdout("-j show sessions t").matches("\"state\":\"established\"").count(), 0);
}

#[test]
fn losing_propppd_closes_its_sessions_and_the_next_session_reconnects() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("ppl");
    let dir = TempDir::new("propppd-lost");
    let mut lns_fake = Fake::bind(dir.join("lns.chan"));
    let mut lac_fake = Fake::bind(dir.join("lac.chan"));
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(&dir.join("lns.chan")));
    lns_fake.accept(&lns);
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&dir.join("lac.chan")));
    lac_fake.accept(&lac);
    let lns_open = lns_fake.open(&lns);
    let lac_open = lac_fake.open(&lac);

    // propppd "dies": its end of the connection closes.
    lns_fake.chan = None;
    let down = session_down(&lns, lns_open.get("tunnel_id"), lns_open.get("session_id"));
    assert_eq!((down.req("result"), down.req("message")), ("2", "PPP daemon went away"));
    assert!(lns.wait_log_contains("propppd lost", WAIT), "{}", lns.log());
    let lac_down = session_down(&lac, lac_open.get("tunnel_id"), lac_open.get("session_id"));
    assert_eq!((lac_down.req("result"), lac_down.req("message")), ("2", "PPP daemon went away"), "the CDN the LAC got");
    assert_eq!(lac_fake.close(&lac), lac_open.reference);

    // The tunnel stays; the next PPP session makes the LNS connect again.
    lac.cli_ok("create session t s2 ppp_profile=dsl");
    lns_fake.accept(&lns);
    let again = lns_fake.open(&lns);
    assert_eq!(again.get("role"), "server");
    let lac_open2 = lac_fake.open(&lac);
    crosses(&lac_open2, &again, &[0xc0, 0x21, 0x01, 0x02, 0x00, 0x04]);
}

#[test]
fn propppd_not_running_closes_the_session_and_says_so() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("ppn");
    let dir = TempDir::new("propppd-none");
    let mut lac_fake = Fake::bind(dir.join("lac.chan"));
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(&dir.join("nobody.chan")));
    assert!(lns.log().contains("propppd not connected"), "{}", lns.log());
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&dir.join("lac.chan")));
    lac_fake.accept(&lac);
    let lac_open = lac_fake.open(&lac);
    let unreachable = lns.wait_event("propppd unreachable", WAIT, |_| true);
    assert!(unreachable.req("path").ends_with("nobody.chan"), "{unreachable:?}");
    let down = session_down(&lns, unreachable.req("tunnel_id"), unreachable.req("session_id"));
    assert_eq!(down.req("result"), "2");
    assert!(down.req("message").starts_with("cannot reach the PPP daemon"), "{down:?}");
    assert_eq!(lac_fake.close(&lac), lac_open.reference);
    session_down(&lac, lac_open.get("tunnel_id"), lac_open.get("session_id"));
}

#[test]
fn the_p_option_names_one_ppp_side() {
    let dir = TempDir::new("propppd-opt");
    let conf = dir.write("c.conf", "[system]\ndataplane = null\n");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(daemon_bin()).args(args).arg("-n").arg("-c").arg(&conf).output().unwrap_or_else(|e| panic!("{e}"));
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert!(run(&[]).0);
    assert!(run(&["-p", "propppd"]).0);
    assert!(run(&["-p", "ppp_unix"]).0);
    assert!(run(&["-p", "/usr/lib/prol2tp/ppp_unix.so", "-p", "ppp_unix"]).0);
    let (ok, err) = run(&["-p", "pppoe"]);
    assert!(!ok && err.contains("unknown plugin 'pppoe' (known: propppd, ppp_unix)"), "{err}");
    let (ok, err) = run(&["-p", "propppd", "-p", "ppp_unix"]);
    assert!(!ok && err.contains("alternative PPP sides"), "{err}");
}

#[test]
fn with_ppp_unix_propppd_is_not_contacted() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("ppu");
    let dir = TempDir::new("propppd-unix");
    let lac_fake = Fake::bind(dir.join("lac.chan"));
    let lns_fake = Fake::bind(dir.join("lns.chan"));
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(&dir.join("lns.chan")));
    let conf = dir.write("lac.conf", &lac_conf(&dir.join("lac.chan")));
    let ctl = dir.join("lac.ctl");
    let (bin, conf_s, ctl_s) = (daemon_bin().to_string_lossy().into_owned(), conf.to_string_lossy().into_owned(), ctl.to_string_lossy().into_owned());
    let lac = lac_ns.spawn_env(&[&bin, "-f", "-p", "ppp_unix", "-c", &conf_s], &[("PROL2TP_CONTROL", &ctl_s)], &dir.join("lac.log"));
    assert!(lac.wait_log("ppp side=ppp_unix", WAIT), "{}", lac.log());
    let mut lns_fake = lns_fake;
    lns_fake.accept(&lns);
    lns_fake.open(&lns);
    // The LAC's session is up on its side, and no connection came to its fake.
    assert!(lac.wait_log("session up tunnel_id=", WAIT), "{}", lac.log());
    assert!(lac_fake.listener.as_ref().is_some_and(|l| matches!(l.accept(), Ok(None))), "the ppp_unix LAC connected to propppd:\n{}", lac.log());
    assert!(lns.log().contains("ppp side=propppd"), "{}", lns.log());
}
