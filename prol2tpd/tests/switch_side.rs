//! prol2tpd's switch channel, end to end: a LAC prol2tpd (userspace data
//! plane) with a fake proacd connected to its `[system] switch_socket`,
//! dialling a prol2tpd LNS whose PPP side is a fake propppd, in two
//! network namespaces.
//!
//! Checked: `CreateSession` through a tunnel profile answers `Records`
//! with the session's ids and reference; `PppOpen` follows with that
//! reference, `role=client`, `linktype=pppoltp` and a framed fd whose
//! frames reach the LNS's PPP side and back; the LAC does not try
//! propppd for it; `PppStatus up` completes the LAC's session; a second
//! `CreateSession` reuses the tunnel; `PppStatus down` gives the LNS a
//! CDN (Result Code 1, the reason); `prol2tp delete session` gives the
//! fake a `PppClose`; closing the connection closes its sessions (CDN
//! Result Code 2, "access concentrator went away"); bad requests get
//! `Error`.

mod support;

use std::time::Duration;

use common::ipc::{ErrorCode, Reply, Request, Selector};
use support::chan::{Fake, Open, WAIT};
use support::*;

/// LNS (192.0.2.1) accepting L2TPv2 from the LAC; PPP side: a fake
/// propppd at `chan`.
fn lns_conf(chan: &std::path::Path) -> String {
    format!(
        "[system]\ndataplane = userspace\nhost_name = lns.example\nlisten = 192.0.2.1\nscripts = no\npropppd_socket = {}\n\n\
         [tunnel_profile \"v2\"]\nversion = 2\nsecret = s3cret\n\n\
         [peer_profile \"lac\"]\npeer = 192.0.2.2\ntunnel_profile = v2\n",
        chan.display()
    )
}

/// LAC with the switch socket `sw`, a tunnel profile `wholesale` towards
/// the LNS and no propppd (`nobody.chan`).
fn lac_conf(sw: &std::path::Path, nobody: &std::path::Path) -> String {
    format!(
        "[system]\ndataplane = userspace\nhost_name = lac.example\nlisten = 192.0.2.2\nscripts = no\n\
         switch_socket = {}\npropppd_socket = {}\n\n\
         [tunnel_profile \"wholesale\"]\npeer = 192.0.2.1\nversion = 2\nsecret = s3cret\n",
        sw.display(),
        nobody.display()
    )
}

fn create(name: &str, tunnel: Selector, mac: &str) -> Request {
    Request::CreateSession { tunnel, name: name.into(), params: vec![("calling_number".into(), mac.into())] }
}

/// The `(tunnel_id, session_id, reference)` of a `CreateSession` answer.
fn created(r: &Reply) -> (u64, u64, u64) {
    let Reply::Records { records, .. } = r else { panic!("expected Records, got {r:?}") };
    assert_eq!(records.len(), 1, "{records:?}");
    let rec = records.first().unwrap_or_else(|| panic!("no record"));
    assert_eq!(rec.kind, "session");
    let num = |k: &str| match rec.get(k) {
        Some(common::ipc::Value::U64(n)) => *n,
        other => panic!("{k}: {other:?} in {rec:?}"),
    };
    (num("tunnel_id"), num("session_id"), num("reference"))
}

/// Sends `frame` on `from` and asserts that `to` reads the same bytes.
fn crosses(from: &Open, to: &Open, frame: &[u8]) {
    from.sock.send(frame).unwrap_or_else(|e| panic!("send: {e}"));
    let mut buf = [0u8; 2048];
    let n = to.sock.recv(&mut buf).unwrap_or_else(|e| panic!("the frame did not cross: {e}"));
    assert_eq!(buf.get(..n), Some(frame));
}

fn session_down(d: &Prol2tpd<'_>, tid: &str, sid: &str) -> Fields {
    d.wait_event("session down", WAIT, |f| f.get("tunnel_id") == Some(tid) && f.get("session_id") == Some(sid))
}

#[test]
fn proacd_gets_lac_sessions_through_the_switch_socket() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("swn", "swc", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("switch-side");
    let mut ppp = Fake::bind(dir.join("lns.chan"));
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(&dir.join("lns.chan")));
    ppp.accept(&lns);
    let sw = dir.join("run").join("lac.sw");
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&sw, &dir.join("nobody.chan")));
    let mut ac = Fake::connect(&sw, &lac);
    let mode = std::fs::metadata(&sw).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o600, "switch socket mode");

    // Bad requests.
    let r = ac.ask(&lac, 1, create("x", Selector::Name("nope".into()), "02:00:00:00:00:01"));
    assert!(matches!(r, Reply::Error { code: ErrorCode::NotFound, .. }), "{r:?}");
    let r = ac.ask(&lac, 2, create("x", Selector::Id(1), "02:00:00:00:00:01"));
    assert!(matches!(r, Reply::Error { code: ErrorCode::BadRequest, .. }), "{r:?}");
    let bad = Request::CreateSession { tunnel: Selector::Name("wholesale".into()), name: "x".into(), params: vec![("no_such_key".into(), "1".into())] };
    let r = ac.ask(&lac, 3, bad);
    assert!(matches!(r, Reply::Error { code: ErrorCode::BadRequest, .. }), "{r:?}");
    let r = ac.ask(&lac, 4, Request::ShowSystem);
    assert!(matches!(r, Reply::Error { code: ErrorCode::Unsupported, .. }), "{r:?}");

    // A session through the profile: Records, then PppOpen, frames cross.
    let (tid, sid, reference) = created(&ac.ask(&lac, 10, create("eth0/5", Selector::Name("wholesale".into()), "02:00:00:00:00:05")));
    assert_ne!(reference, 0);
    let open = ac.open(&lac);
    assert_eq!(u64::from(open.reference), reference);
    for (key, want) in [
        ("framing", "frames"),
        ("linktype", "pppoltp"),
        ("role", "client"),
        ("name", "eth0-5"),
        ("tunnel_id", &tid.to_string()),
        ("session_id", &sid.to_string()),
    ] {
        assert_eq!(open.get(key), want, "{key} of {:?}", open.params);
    }
    let lns_open = ppp.open(&lns);
    crosses(&open, &lns_open, &[0xc0, 0x21, 0x01, 0x01, 0x00, 0x04]);
    crosses(&lns_open, &open, &[0xc0, 0x21, 0x02, 0x01, 0x00, 0x04]);
    assert!(!lac.log().contains("propppd unreachable"), "the switched session went to propppd:\n{}", lac.log());
    let named = lac.cli_record(&format!("show tunnel {tid}"));
    assert_eq!(named.get("name").map(String::as_str), Some("wholesale"), "{named:?}");

    // PppStatus up completes the LAC's session.
    ac.status(open.reference, &[("state", "up")]);
    lac.wait_event("ppp up", WAIT, |f| f.get("side") == Some("switch") && f.get("reference") == Some(&reference.to_string()));

    // A second session shares the tunnel.
    let (tid2, sid2, reference2) = created(&ac.ask(&lac, 11, create("eth0/6", Selector::Name("wholesale".into()), "02:00:00:00:00:06")));
    assert_eq!(tid2, tid, "the tunnel is reused");
    assert_ne!((sid2, reference2), (sid, reference));
    let open2 = ac.open(&lac);
    let lns_open2 = ppp.open(&lns);
    crosses(&open2, &lns_open2, &[0xc0, 0x21, 0x01, 0x02, 0x00, 0x04]);

    // PppStatus down: CDN with the reason at the LNS, no PppClose back.
    ac.status(open.reference, &[("state", "down"), ("reason", "PADT from client")]);
    let down = session_down(&lns, lns_open.get("tunnel_id"), lns_open.get("session_id"));
    assert_eq!((down.req("result"), down.req("message")), ("1", "PADT from client"));
    assert_eq!(ppp.close(&lns), lns_open.reference);

    // prol2tp delete session: PppClose to proacd.
    lac.cli_ok(&format!("delete session {tid} {sid2}"));
    assert_eq!(ac.close(&lac), open2.reference);
    assert_eq!(ppp.close(&lns), lns_open2.reference);

    // proacd goes away: its sessions are closed.
    let (_, sid3, _) = created(&ac.ask(&lac, 12, create("eth0/7", Selector::Name("wholesale".into()), "02:00:00:00:00:07")));
    let _open3 = ac.open(&lac);
    let lns_open3 = ppp.open(&lns);
    ac.chan = None;
    let down = session_down(&lac, &tid.to_string(), &sid3.to_string());
    assert_eq!((down.req("result"), down.req("message")), ("2", "access concentrator went away"));
    let lns_down = session_down(&lns, lns_open3.get("tunnel_id"), lns_open3.get("session_id"));
    assert_eq!(lns_down.req("result"), "2", "{lns_down:?}");
    assert!(lac.wait_log_contains("switch lost", Duration::from_secs(5)), "{}", lac.log());

    // A new connection is served.
    let mut ac2 = Fake::connect(&sw, &lac);
    let (tid4, _, _) = created(&ac2.ask(&lac, 13, create("eth0/8", Selector::Name("wholesale".into()), "02:00:00:00:00:08")));
    assert_eq!(tid4, tid);
    ac2.open(&lac);
}
