//! proacd's operations on the host (issue 6): what the control socket and a
//! reload do to a running daemon, and the `[client]` redial, with real
//! processes in network namespaces joined by a veth pair (userspace data
//! plane). propppd is played by the test ([`FakePpp`]): it takes every
//! `PppOpen` and keeps its channel open, so sessions stay live.
//!
//! - `MacList` deny add → a PADI from that MAC gets no PADO; remove → it does;
//! - a malformed discovery packet is counted (`malformed`) and
//!   `ClearStatistics` zeroes every counter;
//! - a reload that removes an interface with a live session ends it: the
//!   PPP side gets `PppClose` and its channel hangs up, no PADT is sent;
//! - a `[client]` with `persist` redials after the AC ends its session
//!   with PADT: two proacds, one the AC and one the client.

mod support;

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use common::channel::{Channel, ChannelListener, Received};
use common::ipc::{Body, Reply, Request, Selector};
use proac::proto::{Code, MacAddr};
use support::*;

/// A stand-in for propppd on a proacd's channel socket: keeps every
/// channel fd it is given (closing one would end its session) and records
/// the requests.
struct FakePpp {
    listener: ChannelListener,
    chan: Option<Channel>,
    got: Vec<Request>,
    fds: Vec<(u32, OwnedFd)>,
}

impl FakePpp {
    fn bind(dir: &TempDir, name: &str) -> FakePpp {
        let listener = ChannelListener::bind(&dir.join(&format!("{name}-propppd.chan"))).unwrap_or_else(|e| panic!("bind: {e}"));
        FakePpp { listener, chan: None, got: Vec::new(), fds: Vec::new() }
    }

    /// Accepts and reads what came.
    fn pump(&mut self) {
        if self.chan.is_none() {
            self.chan = self.listener.accept().ok().flatten();
        }
        let Some(chan) = self.chan.as_mut() else { return };
        while let Received::Message(m, fd) = chan.recv() {
            if let Body::Request(r) = m.body {
                if let (Request::PppOpen { reference, .. }, Some(fd)) = (&r, fd) {
                    self.fds.push((*reference, fd));
                }
                self.got.push(r);
            }
        }
    }

    /// Polls until `cond` holds on the requests received.
    fn wait(&mut self, what: &str, cond: impl Fn(&[Request]) -> bool) {
        let ok = wait_until(Duration::from_secs(10), || {
            self.pump();
            cond(&self.got)
        });
        assert!(ok, "stand-in propppd never got {what}: {:?}", self.got);
    }

    fn opens(&self) -> Vec<(u32, &Vec<(String, String)>)> {
        self.got
            .iter()
            .filter_map(|r| match r {
                Request::PppOpen { reference, params } => Some((*reference, params)),
                _ => None,
            })
            .collect()
    }

    fn closes(&self) -> Vec<(u32, &str)> {
        self.got
            .iter()
            .filter_map(|r| match r {
                Request::PppClose { reference, reason } => Some((*reference, reason.as_str())),
                _ => None,
            })
            .collect()
    }
}

fn param<'a>(ps: &'a [(String, String)], key: &str) -> Option<&'a str> {
    ps.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The [`fake_mac`] series of these tests.
const MACS: u8 = 0x0e;

#[test]
fn mac_list_deny_add_stops_pado_and_remove_restores_it() {
    let Some((ac, cl, veth, dir)) = setup("macl") else { return };
    let conf = format!("{}\n[interface \"{}\"]\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let host = Host::new(&cl, &veth.b);
    let (denied, other) = (fake_mac(MACS, 1), fake_mac(MACS, 2));
    let deny = |add: bool, mac: &str| Request::MacList { deny: true, add, mac: mac.to_string() };
    assert_eq!(p.call(deny(true, &denied.to_string())), Reply::Done);
    assert!(matches!(p.call(deny(true, "not-a-mac")), Reply::Error { .. }));
    host.padi(denied);
    assert!(wait_until(Duration::from_secs(5), || p.stat("denied") == 1), "denied never counted:\n{}", p.log());
    // Another MAC still gets its PADO; it comes after any PADO to the denied one would have.
    host.padi(other);
    assert!(!host.collect_for(other, Duration::from_secs(5), |g| !g.is_empty()).is_empty(), "no PADO for {other}");
    let to_denied = host.collect_for(denied, Duration::from_millis(200), |_| false);
    assert!(to_denied.is_empty(), "a denied MAC got {to_denied:?}");
    assert_eq!(p.stat("pado_tx"), 1);
    assert_eq!(p.call(deny(false, &denied.to_string())), Reply::Done);
    host.padi(denied);
    let got = host.collect_for(denied, Duration::from_secs(5), |g| g.iter().any(|d| d.code == Code::Pado));
    assert!(got.iter().any(|d| d.code == Code::Pado), "no PADO after the deny entry was removed: {got:?}\n{}", p.log());
    assert_eq!(p.stat("denied"), 1);
    assert_eq!(p.stat("pado_tx"), 2);
}

#[test]
fn malformed_packets_are_counted_and_clear_statistics_zeroes_every_counter() {
    let Some((ac, cl, veth, dir)) = setup("stat") else { return };
    let conf = format!("{}\n[interface \"{}\"]\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let host = Host::new(&cl, &veth.b);
    // Version/type 0x22 (RFC 2516 §4 wants 0x11), then a LENGTH beyond the payload.
    host.send_raw(host.mac, MacAddr::BROADCAST, &[0x22, 0x09, 0, 0, 0, 0]);
    host.send_raw(host.mac, MacAddr::BROADCAST, &[0x11, 0x09, 0, 0, 0, 200, 0x01, 0x01, 0, 0]);
    assert!(wait_until(Duration::from_secs(5), || p.stat("malformed") == 2), "malformed={}\n{}", p.stat("malformed"), p.log());
    host.padi(host.mac);
    assert!(wait_until(Duration::from_secs(5), || p.stat("pado_tx") == 1));
    assert_eq!(p.stat("padi_rx"), 1, "the malformed frames are not PADIs");
    assert_eq!(p.call(Request::ClearStatistics), Reply::Done);
    let recs = p.records(Request::ShowStatistics);
    let r = recs.first().unwrap_or_else(|| panic!("no statistics record"));
    let mut keys = 0;
    for key in ["padi_rx", "pado_tx", "malformed", "padr_rx", "pads_tx", "denied", "padi_tx", "relay_frames_in", "ppp_failures"] {
        assert_eq!(num(r, key), Some(0), "{key} after ClearStatistics: {r:?}");
        keys += 1;
    }
    assert_eq!(keys, 9);
    // Counting goes on from zero.
    host.padi(host.mac);
    assert!(wait_until(Duration::from_secs(5), || p.stat("padi_rx") == 1 && p.stat("pado_tx") == 1), "{}", p.log());
}

#[test]
fn a_reload_removing_an_interface_ends_its_sessions_and_tells_propppd() {
    let Some((ac, cl, veth, dir)) = setup("rmif") else { return };
    let system = Proacd::system_section(&dir, "ac", "");
    let with = format!("{system}\n[interface \"{}\"]\n\n[route \"all\"]\nppp_profile = pppoe\n", veth.a);
    let without = format!("{system}\n[route \"all\"]\nppp_profile = pppoe\n");
    let mut ppp = FakePpp::bind(&dir, "ac");
    let mut p = Proacd::start(&ac, &dir, "ac", &with);
    let host = Host::new(&cl, &veth.b);
    let acm = ac_mac(&ac, &veth.a);
    let sid = host.open_session(host.mac, acm);
    ppp.wait("a PppOpen", |g| g.iter().any(|r| matches!(r, Request::PppOpen { .. })));
    let (reference, params) = ppp.opens().first().map(|(r, ps)| (*r, (*ps).clone())).unwrap_or_else(|| panic!("no open"));
    assert_eq!(param(&params, "pppoe_session_id"), Some(sid.to_string().as_str()), "{params:?}");
    assert_eq!(p.records(Request::ListPppoe).len(), 1);

    std::fs::write(&p.conf, &without).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.call(Request::Reload), Reply::Done, "{}", p.log());
    ppp.wait("a PppClose", |g| g.iter().any(|r| matches!(r, Request::PppClose { .. })));
    let closes = ppp.closes();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(closes.first().map(|c| c.0), Some(reference));
    assert!(closes.first().is_some_and(|c| c.1.contains("interface")), "{closes:?}");
    assert!(p.records(Request::ListPppoe).is_empty());
    assert!(p.records(Request::ListInterfaces).is_empty());
    // The framed channel proacd handed over hangs up (its end is closed).
    let fd = ppp.fds.first().map(|(_, fd)| fd.as_raw_fd()).unwrap_or_else(|| panic!("no channel fd"));
    let mut b = [0u8; 64];
    let hung_up = wait_until(Duration::from_secs(5), || {
        matches!(nix::sys::socket::recv(fd, &mut b, nix::sys::socket::MsgFlags::MSG_DONTWAIT), Ok(0) | Err(nix::errno::Errno::ECONNRESET))
    });
    assert!(hung_up, "the session's channel is still open");
    // The interface is gone: no PADT was sent on it.
    assert_eq!(p.stat("padt_tx"), 0);
    let padt = host.collect_for(host.mac, Duration::from_millis(200), |_| false);
    assert!(padt.iter().all(|d| d.code != Code::Padt), "{padt:?}");
    // And it answers no more.
    host.padi(fake_mac(MACS, 9));
    assert!(host.collect_for(fake_mac(MACS, 9), Duration::from_millis(300), |_| false).is_empty());
}

#[test]
fn a_persistent_client_redials_after_the_ac_sends_padt() {
    let Some((ac, cl, veth, dir)) = setup("redial") else { return };
    let ac_conf = format!("{}\n[interface \"{}\"]\nac_name = ops-ac\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let cl_conf = format!("{}\n[client \"dsl0\"]\ninterface = {}\npersist = yes\nholdoff = 200ms\n", Proacd::system_section(&dir, "cl", ""), veth.b);
    let mut ac_ppp = FakePpp::bind(&dir, "ac");
    let mut cl_ppp = FakePpp::bind(&dir, "cl");
    let mut a = Proacd::start(&ac, &dir, "ac", &ac_conf);
    let mut c = Proacd::start(&cl, &dir, "cl", &cl_conf);
    let opened = |ppp: &[Request]| ppp.iter().filter(|r| matches!(r, Request::PppOpen { .. })).count();
    cl_ppp.wait("the client's PppOpen", |g| opened(g) >= 1);
    ac_ppp.wait("the AC's PppOpen", |g| opened(g) >= 1);
    let first = c.records(Request::ListPppoe);
    assert_eq!(first.len(), 1, "{first:?}");
    let first = first.first().cloned().unwrap_or_else(|| panic!("no session"));
    assert_eq!(text(&first, "role"), "client");
    assert_eq!(text(&first, "interface"), veth.b);
    let sid = num(&first, "session_id").unwrap_or(0);
    assert_ne!(sid, 0);
    let (ref1, ps) = cl_ppp.opens().first().map(|(r, ps)| (*r, (*ps).clone())).unwrap_or_else(|| panic!("no open"));
    assert_eq!(param(&ps, "role"), Some("client"));
    assert_eq!(param(&ps, "name"), Some("dsl0"));
    assert_eq!(param(&ps, "pppoe_session_id"), Some(sid.to_string().as_str()));

    // The AC ends the session: PADT to the client.
    assert_eq!(a.call(Request::DeletePppoe(Selector::Name(format!("{}/{sid}", veth.a)))), Reply::Done);
    cl_ppp.wait("PppClose then a second PppOpen", |g| opened(g) >= 2);
    let closes = cl_ppp.closes();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(closes.first().map(|c| c.0), Some(ref1));
    let close_at = cl_ppp.got.iter().position(|r| matches!(r, Request::PppClose { .. }));
    let second_open_at = cl_ppp.got.iter().enumerate().filter(|(_, r)| matches!(r, Request::PppOpen { .. })).nth(1).map(|(i, _)| i);
    assert!(close_at < second_open_at, "{:?}", cl_ppp.got);
    // A new session: the AC gives the next id, not the one just freed.
    let again = c.records(Request::ListPppoe);
    assert_eq!(again.len(), 1, "{again:?}");
    let sid2 = again.first().and_then(|r| num(r, "session_id")).unwrap_or(0);
    assert!(sid2 != 0 && sid2 != sid, "redial got session {sid2} (first {sid})");
    assert_eq!(c.stat("pads_rx"), 2);
    assert!(c.stat("padi_tx") >= 2);
    let ac_sessions = a.records(Request::ListPppoe);
    assert_eq!(ac_sessions.len(), 1, "{ac_sessions:?}");
    assert_eq!(ac_sessions.first().and_then(|r| num(r, "session_id")), Some(sid2));
    assert_eq!(a.stat("padt_tx"), 1);
    ac_ppp.wait("the AC's second PppOpen", |g| opened(g) >= 2);
}
