//! LAC against LNS in memory (test layer 3 of DESIGN.md): two
//! [`Endpoint`]s on virtual time over a seeded lossy, duplicating and
//! reordering network (see `sim/harness.rs`). Every test drives the public
//! API only and checks events, tunnel/session state and counters.

#[path = "sim/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use harness::{lac_v4, lac_v6, lns_v4, lns_v6, NetConfig, Pair, Verdict};
use prol2tp::proto::endpoint::{EndpointConfig, Event};
use prol2tp::proto::header::{Transport, Version};
use prol2tp::proto::message::MessageType;
use prol2tp::proto::result::{cdn, stop_ccn};
use prol2tp::proto::session::{CallType, Pseudowire, SessionParams, SessionState};
use prol2tp::proto::tunnel::{TunnelParams, TunnelState};

const LAC: usize = 0;

/// Sends log lines to the per-thread capture buffer (keeps test output
/// readable; `common::log::take_captured` reads them when needed).
fn quiet() {
    common::log::init(common::log::Target::Capture, common::log::Level::Debug).expect("log init");
    common::log::set_system_mask(common::trace::TraceFlags(u32::MAX));
}

/// Prints the captured log (call before failing an assertion).
fn dump_log() {
    for line in common::log::take_captured().iter().take(200) {
        eprintln!("{line}");
    }
}
const LNS: usize = 1;

fn v2_params(secret: Option<&[u8]>, hide: bool, max_retries: u32) -> TunnelParams {
    TunnelParams { secret: secret.map(|s| s.to_vec()), hide_avps: hide, max_retries, ..TunnelParams::default() }
}

/// LAC-side params dialling `peer`.
fn dial(mut p: TunnelParams, peer: SocketAddr) -> Rc<TunnelParams> {
    p.peer = Some(peer);
    p.name = Some("t1".into());
    Rc::new(p)
}

/// Creates a tunnel on the LAC to the LNS with `n` sessions of `sp`.
fn open(pair: &mut Pair, p: Rc<TunnelParams>, n: usize, call: CallType, sp: Rc<SessionParams>) -> (u32, Vec<u32>) {
    let now = pair.now;
    let tid = pair.ep(LAC).create_tunnel(now, p).expect("create_tunnel");
    let mut sids = Vec::new();
    for _ in 0..n {
        sids.push(pair.ep(LAC).create_session(now, tid, call, sp.clone()).expect("create_session"));
    }
    (tid, sids)
}

fn sessions_up(pair: &Pair, i: usize) -> usize {
    pair.nodes[i].count(|e| matches!(e, Event::SessionUp(_)))
}

/// Asserts the tunnel `tid` of the LAC and its sessions `sids` are up on
/// both sides with crosswise-matching ids, each SessionUp/TunnelUp seen
/// exactly once per side. Returns the LNS tunnel id.
fn assert_all_up(pair: &Pair, tid: u32, sids: &[u32]) -> u32 {
    let lac = &pair.nodes[LAC];
    let lns = &pair.nodes[LNS];
    let t = lac.ep.tunnel(tid).expect("LAC tunnel exists");
    assert_eq!(t.state, TunnelState::Established, "LAC tunnel state");
    let lt = lns.ep.tunnel(t.peer_id).expect("LNS tunnel with the LAC's peer_tunnel_id");
    assert_eq!(lt.state, TunnelState::Established, "LNS tunnel state");
    assert_eq!(lt.peer_id, tid, "LNS peer_tunnel_id == LAC tunnel_id");
    assert_eq!(lac.count(|e| matches!(e, Event::TunnelUp(i) if i.tunnel_id == tid)), 1, "one TunnelUp on the LAC");
    assert_eq!(lns.count(|e| matches!(e, Event::TunnelUp(i) if i.tunnel_id == lt.id)), 1, "one TunnelUp on the LNS");
    assert_eq!(lt.session_count(), sids.len(), "LNS session count");
    for &sid in sids {
        let s = t.session(sid).expect("LAC session");
        assert_eq!(s.state, SessionState::Established, "LAC session {sid}");
        let ls = lt.session(s.peer_id).expect("LNS session with the LAC's peer_session_id");
        assert_eq!(ls.state, SessionState::Established);
        assert_eq!(ls.peer_id, sid, "LNS peer_session_id == LAC session_id");
        let up_lac = lac.count(|e| matches!(e, Event::SessionUp(i) if i.tunnel_id == tid && i.session_id == sid));
        let up_lns = lns.count(|e| matches!(e, Event::SessionUp(i) if i.tunnel_id == lt.id && i.session_id == ls.id));
        assert_eq!((up_lac, up_lns), (1, 1), "exactly one SessionUp per side for session {sid}");
    }
    lt.id
}

fn rx_good(pair: &Pair, i: usize, t: MessageType) -> u64 {
    pair.nodes[i].ep.stats().rx_good[t as u16 as usize]
}

fn v2_run(seed: u64, loss: u32) {
    quiet();
    let net = if loss == 0 { NetConfig::perfect() } else { NetConfig::lossy(loss) };
    let mut pair = Pair::v4(seed, net);
    let retries = if loss >= 200 { 12 } else { 5 };
    pair.accept_all(LNS, Rc::new(v2_params(Some(b"s3cret"), true, retries)));
    let p = dial(v2_params(Some(b"s3cret"), true, retries), lns_v4());
    let (tid, sids) = open(&mut pair, p, 10, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(600), |p| sessions_up(p, LAC) == 10 && sessions_up(p, LNS) == 10);
    assert!(ok, "seed {seed} loss {loss}: all sessions up (LAC {}, LNS {})", sessions_up(&pair, LAC), sessions_up(&pair, LNS));
    // Let retransmissions and duplicates settle, then check nothing was
    // delivered twice to an FSM.
    pair.run_for(Duration::from_secs(40));
    assert_all_up(&pair, tid, &sids);
    assert_eq!(rx_good(&pair, LNS, MessageType::Sccrq), 1, "one SCCRQ reached the LNS FSM");
    assert_eq!(rx_good(&pair, LNS, MessageType::Scccn), 1);
    assert_eq!(rx_good(&pair, LAC, MessageType::Sccrp), 1);
    assert_eq!(rx_good(&pair, LNS, MessageType::Icrq), 10, "each ICRQ reached the LNS FSM once");
    assert_eq!(rx_good(&pair, LAC, MessageType::Icrp), 10, "each ICRP reached the LAC FSM once");
    assert_eq!(rx_good(&pair, LNS, MessageType::Iccn), 10);
    assert_eq!(pair.nodes[LNS].ep.stats().auth_failures, 0);
    assert_eq!(pair.nodes[LNS].ep.tunnels().count(), 1, "no stray tunnel on the LNS");
    if loss > 0 {
        let dups = pair.nodes[LNS].ep.stats().sequence_errors + pair.nodes[LAC].ep.stats().sequence_errors;
        assert!(dups > 0, "the network did inject duplicates/retransmissions");
    }
}

#[test]
fn v2_tunnel_and_ten_sessions_no_loss() {
    v2_run(1, 0);
}

#[test]
fn v2_tunnel_and_ten_sessions_10_percent_loss() {
    for seed in 1..=8 {
        v2_run(seed, 100);
    }
}

#[test]
fn v2_tunnel_and_ten_sessions_30_percent_loss() {
    for seed in 1..=8 {
        v2_run(seed, 300);
    }
}

fn v3_params(transport: Transport, secret: Option<&[u8]>, cookie: &[u8]) -> TunnelParams {
    let sp = SessionParams { pseudowire: Pseudowire::Eth, cookie: cookie.to_vec(), ..SessionParams::default() };
    TunnelParams {
        version: Version::V3,
        v2_fallback: false,
        transport,
        secret: secret.map(|s| s.to_vec()),
        session: Rc::new(sp),
        trace_flags: common::trace::TraceFlags(u32::MAX),
        ..TunnelParams::default()
    }
}

fn v3_run(seed: u64, transport: Transport, v6: bool, loss: u32) {
    quiet();
    let net = if loss == 0 { NetConfig::perfect() } else { NetConfig::lossy(loss) };
    let addrs = if v6 { [lac_v6(), lns_v6()] } else { [lac_v4(), lns_v4()] };
    let mut pair = Pair::new(seed, addrs, [EndpointConfig::default(), EndpointConfig::default()], net);
    let lns_cookie = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];
    let lac_cookie = [0x51, 0x52, 0x53, 0x54];
    pair.accept_all(LNS, Rc::new(v3_params(transport, Some(b"v3-secret"), &lns_cookie)));
    let mut peer = addrs[LNS];
    if transport == Transport::Ip {
        peer.set_port(0);
    }
    let lac = v3_params(transport, Some(b"v3-secret"), &lac_cookie);
    let sp = lac.session.clone();
    let (tid, sids) = open(&mut pair, dial(lac, peer), 3, CallType::IncomingLac, sp);
    let ok = pair.run_until(Duration::from_secs(300), |p| sessions_up(p, LAC) == 3 && sessions_up(p, LNS) == 3);
    if !ok {
        dump_log();
        eprintln!("LAC {:?}\nLNS {:?}", pair.nodes[LAC].ep.stats(), pair.nodes[LNS].ep.stats());
        for i in [LAC, LNS] {
            for t in pair.nodes[i].ep.tunnels() {
                eprintln!("node {i} tunnel {} {:?} stats {:?}", t.id, t.state, t.stats);
            }
        }
    }
    assert!(ok, "v3 {transport:?} v6={v6} seed {seed}: sessions up (LAC {}, LNS {})", sessions_up(&pair, LAC), sessions_up(&pair, LNS));
    pair.run_for(Duration::from_secs(20));
    let lns_tid = assert_all_up(&pair, tid, &sids);
    let t = pair.nodes[LAC].ep.tunnel(tid).expect("LAC tunnel");
    assert_eq!((t.version, t.transport), (Version::V3, transport));
    let lt = pair.nodes[LNS].ep.tunnel(lns_tid).expect("LNS tunnel");
    assert_eq!((lt.version, lt.transport), (Version::V3, transport));
    for &sid in &sids {
        let s = t.session(sid).expect("LAC session");
        let ls = lt.session(s.peer_id).expect("LNS session");
        let li = t.session_info(s);
        let ni = lt.session_info(ls);
        assert_eq!((li.pseudowire, ni.pseudowire), (Pseudowire::Eth, Pseudowire::Eth));
        assert_eq!(li.cookie, lac_cookie.to_vec(), "LAC's own cookie");
        assert_eq!(li.peer_cookie, lns_cookie.to_vec(), "LAC carries the LNS cookie");
        assert_eq!(ni.cookie, lns_cookie.to_vec(), "LNS's own cookie");
        assert_eq!(ni.peer_cookie, lac_cookie.to_vec(), "LNS carries the LAC cookie");
        assert_eq!((li.transport, ni.transport), (transport, transport));
    }
    assert_eq!(pair.nodes[LNS].ep.stats().auth_failures, 0);
    assert_eq!(pair.nodes[LAC].ep.stats().auth_failures, 0);
    assert_eq!(rx_good(&pair, LNS, MessageType::Icrq), 3);
    assert_eq!(rx_good(&pair, LAC, MessageType::Icrp), 3);
}

#[test]
fn v3_udp_eth_pseudowires_with_cookies_and_digest() {
    v3_run(11, Transport::Udp, false, 0);
    v3_run(12, Transport::Udp, true, 100);
}

#[test]
fn v3_ip_eth_pseudowires_with_cookies_and_digest() {
    v3_run(21, Transport::Ip, false, 0);
    v3_run(22, Transport::Ip, true, 0);
    for seed in 23..=26 {
        v3_run(seed, Transport::Ip, false, 200);
    }
}

#[test]
fn v3_wrong_secret_brings_nothing_up() {
    quiet();
    for transport in [Transport::Udp, Transport::Ip] {
        let mut pair = Pair::v4(31, NetConfig::perfect());
        pair.accept_all(LNS, Rc::new(v3_params(transport, Some(b"right"), &[1, 2, 3, 4])));
        let mut peer = lns_v4();
        if transport == Transport::Ip {
            peer.set_port(0);
        }
        let lac = v3_params(transport, Some(b"wrong"), &[5, 6, 7, 8]);
        let sp = lac.session.clone();
        let (tid, _) = open(&mut pair, dial(lac, peer), 2, CallType::IncomingLac, sp);
        pair.run_for(Duration::from_secs(120));
        for i in [LAC, LNS] {
            assert_eq!(pair.nodes[i].count(|e| matches!(e, Event::TunnelUp(_) | Event::SessionUp(_))), 0, "{transport:?}: nothing up on node {i}");
        }
        let failures = pair.nodes[LNS].ep.stats().auth_failures + pair.nodes[LAC].ep.stats().auth_failures;
        assert!(failures > 0, "{transport:?}: auth_failures moved");
        assert!(pair.nodes[LAC].ep.tunnel(tid).is_none(), "{transport:?}: the LAC gave up the tunnel");
        assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::TunnelDeleted { tunnel_id, .. } if *tunnel_id == tid)), 1);
    }
}

/// A v2 tunnel with `n` sessions up over a perfect network.
fn v2_up(seed: u64, lac: TunnelParams, lns: TunnelParams, n: usize) -> (Pair, u32, u32, Vec<u32>) {
    let mut pair = Pair::v4(seed, NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(lns));
    let (tid, sids) = open(&mut pair, dial(lac, lns_v4()), n, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(30), |p| {
        sessions_up(p, LAC) == n && sessions_up(p, LNS) == n && p.nodes[LNS].count(|e| matches!(e, Event::TunnelUp(_))) == 1
    });
    assert!(ok, "tunnel and {n} sessions up");
    let lns_tid = assert_all_up(&pair, tid, &sids);
    (pair, tid, lns_tid, sids)
}

#[test]
fn hello_keeps_an_idle_tunnel_up() {
    quiet();
    let p = TunnelParams { hello_interval: Some(Duration::from_secs(60)), ..TunnelParams::default() };
    let (mut pair, tid, lns_tid, sids) = v2_up(41, p.clone(), p, 1);
    let start = pair.elapsed();
    pair.run_for(Duration::from_secs(600));
    assert!(pair.elapsed() >= start + Duration::from_secs(600));
    assert_all_up(&pair, tid, &sids);
    let lac_hello = pair.nodes[LAC].ep.tunnel(tid).map(|t| t.stats.hello_tx).unwrap_or(0);
    let lns_hello = pair.nodes[LNS].ep.tunnel(lns_tid).map(|t| t.stats.hello_tx).unwrap_or(0);
    // Each side sends one HELLO per 60 s of silence from the other; the
    // other's HELLO resets the idle timer, so together at least ~10.
    assert!(lac_hello + lns_hello >= 9, "HELLOs sent: LAC {lac_hello} LNS {lns_hello}");
    assert!(lac_hello > 0 || lns_hello > 0);
    let hello_rx = pair.nodes[LAC].ep.tunnel(tid).map(|t| t.stats.hello_rx).unwrap_or(0);
    assert_eq!(hello_rx, lns_hello, "every LNS HELLO reached the LAC");
    for i in [LAC, LNS] {
        assert_eq!(pair.nodes[i].count(|e| matches!(e, Event::TunnelDown { .. } | Event::SessionDown { .. })), 0);
        assert_eq!(pair.nodes[i].ep.stats().peer_timeouts, 0);
    }
    // No HELLO without silence: with hello disabled nothing is sent at all.
    let p = TunnelParams { hello_interval: None, ..TunnelParams::default() };
    let (mut pair, tid, _, _) = v2_up(42, p.clone(), p, 0);
    let before = pair.nodes[LAC].sent.len();
    pair.run_for(Duration::from_secs(600));
    assert_eq!(pair.nodes[LAC].sent.len(), before, "idle tunnel without HELLO is silent");
    assert_eq!(pair.nodes[LAC].ep.tunnel(tid).map(|t| t.state), Some(TunnelState::Established));
}

/// The time from the first transmission of a message to the death of the
/// channel: `max_retries` retransmissions with doubling timeouts capped at
/// `max_retry_timeout`, then one last timeout (RFC 2661 §5.8).
fn death_delay(p: &TunnelParams) -> Duration {
    let mut total = Duration::ZERO;
    let mut rto = p.retry_timeout;
    for _ in 0..=p.max_retries {
        total += rto;
        rto = (rto * 2).min(p.max_retry_timeout);
    }
    total
}

#[test]
fn dead_peer_is_detected_after_the_retry_limit() {
    quiet();
    let p = TunnelParams { hello_interval: Some(Duration::from_secs(60)), ..TunnelParams::default() };
    let (mut pair, tid, _, sids) = v2_up(51, p.clone(), p.clone(), 2);
    pair.run_for(Duration::from_secs(1));
    let cut = pair.elapsed();
    pair.nodes[LNS].filter = Some(Box::new(|_, _| Verdict::Drop));
    let lac_sent_before = pair.nodes[LAC].sent.len();
    let ok = pair.run_until(Duration::from_secs(300), |p| p.nodes[LAC].count(|e| matches!(e, Event::TunnelDeleted { .. })) == 1);
    assert!(ok, "LAC deleted the tunnel");
    // The first message the LAC sent after the cut (its HELLO) starts the
    // retransmission cycle.
    let (first, _) = pair.nodes[LAC].sent[lac_sent_before].clone();
    assert!(first >= cut + Duration::from_secs(55) && first <= cut + Duration::from_secs(61), "HELLO after ~60 s idle, at {first:?}");
    let expected = first + death_delay(&p);
    assert_eq!(death_delay(&p), Duration::from_secs(1 + 2 + 4 + 8 + 8 + 8));
    let (down_at, result) = pair.nodes[LAC]
        .events
        .iter()
        .find_map(|(at, e)| match e {
            Event::TunnelDown { tunnel_id, was_up: true, result } if *tunnel_id == tid => Some((*at, result.clone())),
            _ => None,
        })
        .expect("TunnelDown on the LAC");
    let deleted_at = pair.nodes[LAC]
        .events
        .iter()
        .find_map(|(at, e)| matches!(e, Event::TunnelDeleted { tunnel_id, .. } if *tunnel_id == tid).then_some(*at))
        .expect("deleted");
    assert!(down_at >= expected && down_at <= expected + Duration::from_millis(300), "TunnelDown at {down_at:?}, expected {expected:?}");
    assert!(deleted_at >= down_at && deleted_at <= down_at + Duration::from_secs(1), "TunnelDeleted at {deleted_at:?}");
    assert_eq!(result.result, stop_ccn::GENERAL_ERROR);
    assert_eq!(pair.nodes[LAC].ep.stats().peer_timeouts, 1);
    assert!(pair.nodes[LAC].ep.tunnel(tid).is_none());
    assert_eq!(pair.nodes[LAC].ep.session_count(), 0);
    // Retransmissions: the HELLO went out max_retries + 1 times.
    let hellos = pair.nodes[LAC].sent[lac_sent_before..].len();
    assert_eq!(hellos, p.max_retries as usize + 1, "HELLO sent and retransmitted");
    for sid in sids {
        assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::SessionDown { info, was_up: true, .. } if info.session_id == sid)), 1);
    }
}

/// Runs a v2 tunnel between mismatched secrets and returns the LAC's and
/// the LNS's TunnelDown results.
fn v2_auth_mismatch(seed: u64, lac_secret: Option<&[u8]>, lns_secret: Option<&[u8]>) -> (Pair, u16, u16) {
    let mut pair = Pair::v4(seed, NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(v2_params(lns_secret, false, 5)));
    let (tid, _) = open(&mut pair, dial(v2_params(lac_secret, false, 5), lns_v4()), 1, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(60), |p| (0..2).all(|i| p.nodes[i].count(|e| matches!(e, Event::TunnelDown { .. })) == 1));
    assert!(ok, "both sides saw TunnelDown");
    let down = |i: usize| {
        pair.nodes[i].events.iter().find_map(|(_, e)| match e {
            Event::TunnelDown { was_up: false, result, .. } => Some(result.result),
            _ => None,
        })
    };
    let (lac, lns) = (down(LAC).expect("LAC down"), down(LNS).expect("LNS down"));
    assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::TunnelDown { tunnel_id, .. } if *tunnel_id == tid)), 1);
    assert!(pair.run_to_quiet(Duration::from_secs(120)), "both ends forget the tunnel");
    for i in [LAC, LNS] {
        assert_eq!(pair.nodes[i].ep.tunnels().count(), 0, "node {i} has no tunnel");
        assert_eq!(pair.nodes[i].count(|e| matches!(e, Event::TunnelUp(_) | Event::SessionUp(_))), 0);
    }
    (pair, lac, lns)
}

#[test]
fn v2_wrong_secret_is_refused_with_not_authorized() {
    quiet();
    // Different secrets: the LAC checks the LNS's Challenge Response in
    // SCCRP first (RFC 2661 §5.1.1) and stops with result 4; the LNS gets
    // that StopCCN.
    let (pair, lac, lns) = v2_auth_mismatch(61, Some(b"wrong"), Some(b"right"));
    assert_eq!((lac, lns), (stop_ccn::NOT_AUTHORIZED, stop_ccn::NOT_AUTHORIZED));
    assert_eq!(pair.nodes[LAC].ep.stats().auth_failures, 1);
    // The LNS has no secret but is challenged: it refuses the SCCRQ with
    // StopCCN result 4 itself.
    let (pair, lac, lns) = v2_auth_mismatch(62, Some(b"s3cret"), None);
    assert_eq!((lac, lns), (stop_ccn::NOT_AUTHORIZED, stop_ccn::NOT_AUTHORIZED));
    assert_eq!(pair.nodes[LNS].ep.stats().auth_failures, 1);
    assert_eq!(pair.nodes[LNS].ep.stats().rx_good[MessageType::Scccn as usize], 0);
    // The LNS challenges a LAC that has no secret: the LAC cannot answer
    // and stops with result 4.
    let (pair, lac, lns) = v2_auth_mismatch(63, None, Some(b"s3cret"));
    assert_eq!((lac, lns), (stop_ccn::NOT_AUTHORIZED, stop_ccn::NOT_AUTHORIZED));
    assert_eq!(pair.nodes[LAC].ep.stats().auth_failures, 1);
}

#[test]
fn cdn_then_stop_ccn_teardown() {
    quiet();
    let (mut pair, tid, lns_tid, sids) = v2_up(71, TunnelParams::default(), TunnelParams::default(), 2);
    let lns_sid = pair.nodes[LAC].ep.tunnel(tid).and_then(|t| t.session(sids[0])).map(|s| s.peer_id).expect("peer sid");
    let now = pair.now;
    pair.ep(LAC).close_session(now, tid, sids[0], None).expect("close_session");
    let ok = pair.run_until(Duration::from_secs(10), |p| p.nodes[LNS].count(|e| matches!(e, Event::SessionDeleted { .. })) == 1);
    assert!(ok, "LNS deleted the session");
    let lac_down =
        pair.nodes[LAC].count(|e| matches!(e, Event::SessionDown { info, was_up: true, result } if info.session_id == sids[0] && result.result == cdn::ADMIN));
    let lns_down =
        pair.nodes[LNS].count(|e| matches!(e, Event::SessionDown { info, was_up: true, result } if info.session_id == lns_sid && result.result == cdn::ADMIN));
    assert_eq!((lac_down, lns_down), (1, 1), "SessionDown with result 3 on both sides");
    assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::SessionDeleted { session_id, .. } if *session_id == sids[0])), 1);
    assert_eq!(pair.nodes[LNS].ep.tunnel(lns_tid).map(|t| t.session_count()), Some(1));
    assert_eq!(pair.nodes[LAC].ep.session_count(), 1);
    assert_eq!(pair.nodes[LNS].ep.stats().session_setup_failures, 0);

    let now = pair.now;
    pair.ep(LAC).close_tunnel(now, tid, None).expect("close_tunnel");
    let ok = pair.run_until(Duration::from_secs(120), |p| (0..2).all(|i| p.nodes[i].count(|e| matches!(e, Event::TunnelDeleted { .. })) == 1));
    assert!(ok, "both sides deleted the tunnel");
    for (i, id) in [(LAC, tid), (LNS, lns_tid)] {
        let n = &pair.nodes[i];
        let down = n.events.iter().position(|(_, e)| matches!(e, Event::TunnelDown { tunnel_id, was_up: true, result } if *tunnel_id == id && result.result == stop_ccn::GENERAL_REQUEST_TO_CLEAR));
        let deleted = n.events.iter().position(|(_, e)| matches!(e, Event::TunnelDeleted { tunnel_id, .. } if *tunnel_id == id));
        let (down, deleted) = (down.expect("TunnelDown result 1"), deleted.expect("TunnelDeleted"));
        assert!(down < deleted, "node {i}: down before deleted");
        assert_eq!(n.ep.tunnels().count(), 0, "node {i}: no tunnels");
        assert_eq!(n.ep.session_count(), 0, "node {i}: no sessions");
        assert_eq!(n.count(|e| matches!(e, Event::SessionDeleted { .. })), 2, "node {i}: both sessions deleted");
    }
    // The receiver of StopCCN holds the tunnel for a full retransmission
    // cycle (RFC 2661 §5.7) before deleting it.
    let lns_down_at = pair.nodes[LNS].events.iter().find_map(|(at, e)| matches!(e, Event::TunnelDown { .. }).then_some(*at)).expect("down");
    let lns_del_at = pair.nodes[LNS].events.iter().find_map(|(at, e)| matches!(e, Event::TunnelDeleted { .. }).then_some(*at)).expect("deleted");
    assert!(lns_del_at - lns_down_at >= Duration::from_secs(20), "LNS held the tunnel {:?}", lns_del_at - lns_down_at);
    assert!(pair.run_to_quiet(Duration::from_secs(60)), "nothing left armed");
}

/// Both ends dial each other at the same instant, `n` sessions each.
fn simultaneous_open(seed: u64, net: NetConfig, n: usize) {
    let mut pair = Pair::v4(seed, net);
    let retries = 10;
    for i in [LAC, LNS] {
        pair.accept_all(i, Rc::new(v2_params(Some(b"tie"), true, retries)));
    }
    let now = pair.now;
    for (i, peer) in [(LAC, lns_v4()), (LNS, lac_v4())] {
        let tid = pair.ep(i).create_tunnel(now, dial(v2_params(Some(b"tie"), true, retries), peer)).expect("create_tunnel");
        for _ in 0..n {
            pair.ep(i).create_session(now, tid, CallType::IncomingLac, Rc::new(SessionParams::default())).expect("create_session");
        }
    }
    let ok = pair.run_until(Duration::from_secs(300), |p| (0..2).all(|i| sessions_up(p, i) == 2 * n));
    if !ok {
        dump_log();
    }
    assert!(ok, "seed {seed}: all sessions up (A {}, B {})", sessions_up(&pair, LAC), sessions_up(&pair, LNS));
    pair.run_for(Duration::from_secs(60));
    for i in [LAC, LNS] {
        let n_tunnels = pair.nodes[i].ep.tunnels().count();
        if n_tunnels != 1 {
            for (at, e) in &pair.nodes[i].events {
                if !matches!(e, Event::SessionCreated(_) | Event::SessionUp(_)) {
                    eprintln!("{at:?} {e:?}");
                }
            }
            for t in pair.nodes[i].ep.tunnels() {
                eprintln!("tunnel {} peer {} {:?} nc={}", t.id, t.peer_id, t.state, t.network_created);
            }
        }
        assert_eq!(n_tunnels, 1, "seed {seed}: node {i} has exactly one tunnel");
        assert_eq!(pair.nodes[i].count(|e| matches!(e, Event::TunnelUp(_))), 1, "seed {seed}: node {i} one TunnelUp");
        assert_eq!(sessions_up(&pair, i), 2 * n, "seed {seed}: node {i} no extra SessionUp");
    }
    let a = pair.nodes[LAC].ep.tunnels().next().expect("A tunnel");
    let b = pair.nodes[LNS].ep.tunnels().next().expect("B tunnel");
    assert_eq!((a.state, b.state), (TunnelState::Established, TunnelState::Established));
    assert_eq!((a.peer_id, b.peer_id), (b.id, a.id), "seed {seed}: crosswise tunnel ids");
    assert_ne!(a.network_created, b.network_created, "one initiator, one responder");
    assert_eq!((a.session_count(), b.session_count()), (2 * n, 2 * n));
    for s in a.sessions() {
        assert_eq!(s.state, SessionState::Established);
        let bs = b.session(s.peer_id).expect("peer session");
        assert_eq!((bs.peer_id, bs.state), (s.id, SessionState::Established));
        assert_ne!(s.call_type, bs.call_type, "LAC on one side, LNS on the other");
    }
}

#[test]
fn simultaneous_open_tie_breaker() {
    quiet();
    for seed in 1..=40 {
        simultaneous_open(seed, NetConfig::perfect(), 2);
    }
    for seed in 41..=80 {
        simultaneous_open(seed, NetConfig::lossy(150), 2);
    }
}

#[test]
fn session_limit_refuses_with_cdn_result_4() {
    quiet();
    let mut pair =
        Pair::new(91, [lac_v4(), lns_v4()], [EndpointConfig::default(), EndpointConfig { max_sessions: 5, ..EndpointConfig::default() }], NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    let (tid, sids) = open(&mut pair, dial(TunnelParams::default(), lns_v4()), 8, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(30), |p| p.nodes[LAC].count(|e| matches!(e, Event::SessionDeleted { .. })) == 3 && sessions_up(p, LAC) == 5);
    assert!(ok, "5 up, 3 refused (up {}, deleted {})", sessions_up(&pair, LAC), pair.nodes[LAC].count(|e| matches!(e, Event::SessionDeleted { .. })));
    pair.run_for(Duration::from_secs(30));
    assert_eq!((sessions_up(&pair, LAC), sessions_up(&pair, LNS)), (5, 5));
    let refused = pair.nodes[LAC].count(|e| matches!(e, Event::SessionDown { was_up: false, result, .. } if result.result == cdn::NO_RESOURCES_TEMP));
    assert_eq!(refused, 3, "3 CDNs with result 4");
    assert_eq!(pair.nodes[LNS].ep.stats().resource_failures, 3);
    assert_eq!(pair.nodes[LNS].ep.session_count(), 5);
    assert_eq!(pair.nodes[LAC].ep.session_count(), 5);
    let t = pair.nodes[LAC].ep.tunnel(tid).expect("tunnel");
    let up: Vec<u32> = sids.iter().copied().filter(|s| t.session(*s).is_some()).collect();
    assert_eq!(up.len(), 5);
    assert_all_up(&pair, tid, &up);
    assert_eq!(pair.nodes[LNS].count(|e| matches!(e, Event::SessionCreated(_))), 5, "no LNS session for refused calls");
}

#[test]
fn tunnel_limit_refuses_extra_tunnels() {
    quiet();
    let mut pair =
        Pair::new(92, [lac_v4(), lns_v4()], [EndpointConfig::default(), EndpointConfig { max_tunnels: 2, ..EndpointConfig::default() }], NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    let now = pair.now;
    let mut tids = Vec::new();
    for _ in 0..3 {
        tids.push(pair.ep(LAC).create_tunnel(now, dial(TunnelParams::default(), lns_v4())).expect("create_tunnel"));
    }
    let ok = pair.run_until(Duration::from_secs(120), |p| p.nodes[LAC].count(|e| matches!(e, Event::TunnelDeleted { .. })) == 1);
    assert!(ok, "the extra tunnel gave up");
    assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::TunnelUp(_))), 2);
    assert_eq!(pair.nodes[LNS].count(|e| matches!(e, Event::TunnelUp(_))), 2);
    assert_eq!(pair.nodes[LNS].ep.tunnels().count(), 2);
    assert_eq!(pair.nodes[LAC].ep.tunnels().filter(|t| t.state == TunnelState::Established).count(), 2);
    assert_eq!(pair.nodes[LNS].ep.stats().resource_failures, 1, "one refused tunnel counted once");
    let down: Vec<(Duration, u16, Option<u16>)> = pair.nodes[LAC]
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::TunnelDown { was_up: false, result, .. } => Some((*at, result.result, result.error)),
            _ => None,
        })
        .collect();
    assert_eq!(down.len(), 1, "one LAC tunnel down");
    let (at, res, err) = down[0];
    assert_eq!((res, err), (stop_ccn::GENERAL_ERROR, Some(prol2tp::proto::result::error::NO_RESOURCE)), "StopCCN result 2 error 4");
    assert!(at < Duration::from_secs(1), "refused at once, not after a retry cycle: {at:?}");
    assert_eq!(pair.nodes[LAC].ep.stats().peer_timeouts, 0);
}

/// Decodes a datagram an endpoint sent: its header and message.
fn decode_sent(t: &prol2tp::proto::endpoint::Transmit) -> Option<(prol2tp::proto::header::ControlHeader, prol2tp::proto::message::ControlMessage)> {
    use prol2tp::proto::header::{parse_packet, Packet};
    use prol2tp::proto::message::{decode, DecodeCtx};
    match parse_packet(t.transport, &t.bytes) {
        Ok(Packet::Control { header, avps }) if !avps.is_empty() => decode(avps, &DecodeCtx { secret: None }).ok().map(|m| (header, m)),
        _ => None,
    }
}

/// A v3-with-fallback LAC against an LNS that only speaks v2, simulated by
/// `v2_only` (a filter on what the LAC sends). Returns the pair, the LAC
/// tunnel id and the virtual time it came up.
fn fallback_run(seed: u64, v2_only: harness::Filter) -> (Pair, u32, Duration) {
    let mut pair = Pair::v4(seed, NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    pair.nodes[LAC].filter = Some(v2_only);
    let lac = TunnelParams { version: Version::V3, v2_fallback: true, ..TunnelParams::default() };
    let (tid, sids) = open(&mut pair, dial(lac, lns_v4()), 2, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(120), |p| sessions_up(p, LAC) == 2 && sessions_up(p, LNS) == 2);
    if !ok {
        dump_log();
        for (at, e) in &pair.nodes[LAC].events {
            eprintln!("LAC {at:?} {e:?}");
        }
        for (at, e) in &pair.nodes[LNS].events {
            eprintln!("LNS {at:?} {e:?}");
        }
        eprintln!("LNS {:?}", pair.nodes[LNS].ep.stats());
    }
    assert!(ok, "sessions up after fallback");
    let up_at = pair.nodes[LAC].events.iter().find_map(|(at, e)| matches!(e, Event::TunnelUp(_)).then_some(*at)).expect("up");
    pair.run_for(Duration::from_secs(10));
    assert_all_up(&pair, tid, &sids);
    let t = pair.nodes[LAC].ep.tunnel(tid).expect("tunnel");
    assert_eq!((t.version, t.transport), (Version::V2, Transport::Udp));
    let fallback = pair.nodes[LAC].events.iter().position(|(_, e)| matches!(e, Event::VersionFallback { tunnel_id } if *tunnel_id == tid));
    let up = pair.nodes[LAC].events.iter().position(|(_, e)| matches!(e, Event::TunnelUp(_)));
    assert!(fallback.is_some() && fallback < up, "VersionFallback before TunnelUp");
    assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::VersionFallback { .. })), 1);
    assert_eq!(pair.nodes[LAC].count(|e| matches!(e, Event::SessionDown { .. })), 0, "PPP sessions survive the fallback under their ids");
    for (_, s) in &pair.nodes[LAC].events {
        if let Event::SessionUp(i) = s {
            assert_eq!((i.version, i.pseudowire), (Version::V2, Pseudowire::Ppp));
        }
    }
    (pair, tid, up_at)
}

fn is_v3(t: &prol2tp::proto::endpoint::Transmit) -> bool {
    matches!(prol2tp::proto::header::parse_packet(t.transport, &t.bytes), Ok(prol2tp::proto::header::Packet::Control { header, .. }) if header.version == Version::V3)
}

#[test]
fn v3_falls_back_to_v2_when_v3_is_ignored() {
    quiet();
    let (pair, _, up_at) = fallback_run(101, Box::new(|_, t| if is_v3(t) { Verdict::Drop } else { Verdict::Pass }));
    // Three v3 SCCRQs (1 + 2 s of retransmission back-off, cut short to 2
    // retries), then 4 s more before giving up on v3.
    let v3_sent = pair.nodes[LAC].sent.iter().filter(|(_, t)| is_v3(t)).count();
    assert_eq!(v3_sent, 3, "SCCRQ and two retransmissions in v3");
    assert!(up_at >= Duration::from_secs(7) && up_at < Duration::from_secs(8), "fell back after 1+2+4 s: {up_at:?}");
}

#[test]
fn v3_falls_back_to_v2_on_stop_ccn_result_5() {
    quiet();
    let answer = |_: Duration, t: &prol2tp::proto::endpoint::Transmit| -> Verdict {
        use prol2tp::proto::header::{emit_control, ControlHeader};
        use prol2tp::proto::message::{encode, Avps, ControlMessage, EncodeCtx, ResultCode};
        if !is_v3(t) {
            return Verdict::Pass;
        }
        let Some((h, m)) = decode_sent(t) else { return Verdict::Drop };
        let Some(lac_tid) = m.avps.assigned_control_connection_id else {
            return Verdict::Drop;
        };
        // What a v2-only LNS says to a version it does not speak:
        // StopCCN, result 5 (RFC 2661 §4.4.2), in an L2TPv2 header.
        let avps = Avps {
            assigned_tunnel_id: Some(7),
            result_code: Some(ResultCode { result: stop_ccn::UNSUPPORTED_VERSION, error: None, message: None }),
            ..Avps::default()
        };
        let mut body = Vec::new();
        let mut fill = |b: &mut [u8]| b.fill(0x5a);
        encode(
            &ControlMessage { msg_type: MessageType::StopCcn, avps },
            &mut EncodeCtx { secret: None, hide: false, random: &mut fill, digest: None },
            &mut body,
        );
        let header = ControlHeader { version: Version::V2, tunnel_id: lac_tid, session_id: 0, ns: 0, nr: h.ns.wrapping_add(1) };
        let mut bytes = Vec::new();
        emit_control(Transport::Udp, &header, &body, &mut bytes);
        Verdict::Answer(vec![bytes])
    };
    let (pair, _, up_at) = fallback_run(102, Box::new(answer));
    let v3_sent = pair.nodes[LAC].sent.iter().filter(|(_, t)| is_v3(t)).count();
    assert_eq!(v3_sent, 1, "one v3 SCCRQ, answered at once");
    assert!(up_at < Duration::from_millis(500), "fell back at once: {up_at:?}");
}

#[test]
fn undecodable_icrq_is_answered_with_cdn() {
    quiet();
    let mut pair = Pair::v4(111, NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    // Strip the Call Serial Number (required, RFC 2661 §6.6) from the first
    // ICRQ the LAC sends.
    let mut done = false;
    pair.nodes[LAC].filter = Some(Box::new(move |_, t| {
        use prol2tp::proto::header::emit_control;
        use prol2tp::proto::message::{encode, EncodeCtx};
        let Some((h, mut m)) = decode_sent(t) else { return Verdict::Pass };
        if done || m.msg_type != MessageType::Icrq {
            return Verdict::Pass;
        }
        done = true;
        m.avps.call_serial_number = None;
        let mut body = Vec::new();
        let mut fill = |b: &mut [u8]| b.fill(1);
        encode(&m, &mut EncodeCtx { secret: None, hide: false, random: &mut fill, digest: None }, &mut body);
        let mut bytes = Vec::new();
        emit_control(t.transport, &h, &body, &mut bytes);
        Verdict::Replace(bytes)
    }));
    let (tid, sids) = open(&mut pair, dial(TunnelParams::default(), lns_v4()), 2, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let ok = pair.run_until(Duration::from_secs(30), |p| sessions_up(p, LAC) == 1 && p.nodes[LAC].count(|e| matches!(e, Event::SessionDeleted { .. })) == 1);
    assert!(ok, "one session up, the mangled one refused by CDN");
    let refused: Vec<u32> = pair.nodes[LAC]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::SessionDown { info, was_up: false, result } if result.result == cdn::GENERAL_ERROR => Some(info.session_id),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 1);
    assert!(sids.contains(&refused[0]));
    assert_eq!(pair.nodes[LNS].ep.stats().session_setup_failures, 1);
    assert_eq!(pair.nodes[LNS].ep.session_count(), 1);
    let t = pair.nodes[LAC].ep.tunnel(tid).expect("tunnel survives");
    assert_eq!(t.state, TunnelState::Established);
}

/// A session the peer never completes is closed after the setup timeout:
/// the LAC's ICCN is swapped in flight for a HELLO (same Ns, so the channel
/// stays in step), leaving the LNS in wait-connect; after
/// `SESSION_SETUP_TIMEOUT` the LNS clears the call with CDN and the LAC sees
/// it go down.
#[test]
fn session_never_connected_is_closed_after_setup_timeout() {
    use prol2tp::proto::tunnel::SESSION_SETUP_TIMEOUT;
    quiet();
    let mut pair = Pair::v4(7, NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    pair.nodes[LAC].filter = Some(Box::new(move |_, t| {
        use prol2tp::proto::header::emit_control;
        use prol2tp::proto::message::{encode, EncodeCtx};
        let Some((mut h, m)) = decode_sent(t) else { return Verdict::Pass };
        if m.msg_type != MessageType::Iccn {
            return Verdict::Pass;
        }
        h.session_id = 0;
        let hello = prol2tp::proto::message::ControlMessage { msg_type: MessageType::Hello, avps: Default::default() };
        let mut body = Vec::new();
        let mut fill = |b: &mut [u8]| b.fill(1);
        encode(&hello, &mut EncodeCtx { secret: None, hide: false, random: &mut fill, digest: None }, &mut body);
        let mut bytes = Vec::new();
        emit_control(t.transport, &h, &body, &mut bytes);
        Verdict::Replace(bytes)
    }));
    let (_tid, _sids) = open(&mut pair, dial(TunnelParams::default(), lns_v4()), 1, CallType::IncomingLac, Rc::new(SessionParams::default()));
    let created = pair.elapsed();
    let ok = pair.run_until(Duration::from_secs(120), |p| p.nodes[LAC].count(|e| matches!(e, Event::SessionDeleted { .. })) == 1);
    assert!(ok, "the half-open session is cleared");
    let gone_at = pair.nodes[LNS]
        .events
        .iter()
        .find_map(|(at, e)| match e {
            Event::SessionDown { was_up: false, result, .. } if result.message.as_deref() == Some("session setup timed out") => Some(*at),
            _ => None,
        })
        .expect("LNS closed the session for its setup timeout");
    assert!(gone_at >= created + SESSION_SETUP_TIMEOUT && gone_at <= created + SESSION_SETUP_TIMEOUT + Duration::from_secs(2), "closed at {gone_at:?}");
    assert_eq!(pair.nodes[LNS].ep.session_count(), 0);
    assert_eq!(pair.nodes[LAC].ep.session_count(), 0);
    assert_eq!(pair.nodes[LNS].ep.stats().session_setup_failures, 1);
}

/// Outgoing calls (RFC 2661 §7.4.3, §7.4.4): once the LAC's tunnel is up,
/// the LNS places three calls with OCRQ; the LAC answers OCRP and OCCN;
/// both sides see the sessions up with crosswise ids and the right call
/// types, and a CDN from the LAC ends one of them on both sides.
#[test]
fn outgoing_calls_from_the_lns() {
    quiet();
    let mut pair = Pair::v4(21, NetConfig::lossy(100));
    pair.accept_all(LNS, Rc::new(TunnelParams { max_retries: 10, ..TunnelParams::default() }));
    let (tid, _) = open(
        &mut pair,
        dial(TunnelParams { max_retries: 10, ..TunnelParams::default() }, lns_v4()),
        0,
        CallType::IncomingLac,
        Rc::new(SessionParams::default()),
    );
    assert!(pair.run_until(Duration::from_secs(60), |p| p.nodes[LNS].count(|e| matches!(e, Event::TunnelUp(_))) == 1), "tunnel up");
    let lns_tid = pair.nodes[LAC].ep.tunnel(tid).expect("LAC tunnel").peer_id;
    let now = pair.now;
    let sids: Vec<u32> =
        (0..3).map(|_| pair.ep(LNS).create_session(now, lns_tid, CallType::OutgoingLns, Rc::new(SessionParams::default())).expect("OCRQ")).collect();
    assert!(pair.run_until(Duration::from_secs(60), |p| sessions_up(p, LAC) == 3 && sessions_up(p, LNS) == 3), "three outgoing calls up");
    assert_eq!(pair.nodes[LNS].ep.stats().rx_good[MessageType::Ocrp as usize], 3);
    assert_eq!(pair.nodes[LNS].ep.stats().rx_good[MessageType::Occn as usize], 3);
    let lns_t = pair.nodes[LNS].ep.tunnel(lns_tid).expect("LNS tunnel");
    let lac_t = pair.nodes[LAC].ep.tunnel(tid).expect("LAC tunnel");
    for sid in &sids {
        let s = lns_t.session(*sid).expect("LNS session");
        assert_eq!(s.call_type, CallType::OutgoingLns);
        let peer = lac_t.session(s.peer_id).expect("LAC has the LNS's peer session id");
        assert_eq!(peer.call_type, CallType::OutgoingLac);
        assert_eq!(peer.peer_id, *sid);
    }
    let lac_sid = lns_t.session(sids[0]).expect("session").peer_id;
    let now = pair.now;
    pair.ep(LAC).close_session(now, tid, lac_sid, None).expect("CDN");
    assert!(
        pair.run_until(Duration::from_secs(60), |p| p.nodes[LNS].count(|e| matches!(e, Event::SessionDeleted { session_id, .. } if *session_id == sids[0]))
            == 1),
        "CDN reaches the LNS"
    );
    assert_eq!(pair.nodes[LNS].ep.session_count(), 2);
    assert_eq!(pair.nodes[LAC].ep.session_count(), 2);
}

/// `max_halfopen_tunnels`: with SCCCN lost for good, the LNS's tunnels stay
/// in wait-ctl-conn; beyond the limit new SCCRQs are dropped and counted,
/// and once the half-open ones time out a new tunnel is accepted again.
#[test]
fn halfopen_limit_holds_and_frees_up() {
    quiet();
    let lns_cfg = EndpointConfig { max_halfopen_tunnels: 2, ..EndpointConfig::default() };
    let mut pair = Pair::new(93, [lac_v4(), lns_v4()], [EndpointConfig::default(), lns_cfg], NetConfig::perfect());
    pair.accept_all(LNS, Rc::new(TunnelParams::default()));
    pair.nodes[LAC].filter = Some(Box::new(|_, t| match decode_sent(t) {
        Some((_, m)) if m.msg_type == MessageType::Scccn => Verdict::Drop,
        _ => Verdict::Pass,
    }));
    let now = pair.now;
    for _ in 0..4 {
        pair.ep(LAC).create_tunnel(now, dial(TunnelParams::default(), lns_v4())).expect("create_tunnel");
    }
    pair.run_for(Duration::from_secs(5));
    let halfopen = |p: &Pair| p.nodes[LNS].ep.tunnels().filter(|t| t.state == TunnelState::WaitCtlConn).count();
    assert_eq!(halfopen(&pair), 2, "only two half-open tunnels are kept");
    assert!(pair.nodes[LNS].ep.stats().resource_failures >= 2, "the other SCCRQs were counted");
    // Everything times out; then a tunnel whose SCCCN gets through comes up.
    assert!(pair.run_until(Duration::from_secs(300), |p| p.nodes[LNS].ep.tunnels().count() == 0 && p.nodes[LAC].ep.tunnels().count() == 0));
    pair.nodes[LAC].filter = None;
    let now = pair.now;
    pair.ep(LAC).create_tunnel(now, dial(TunnelParams::default(), lns_v4())).expect("create_tunnel");
    assert!(pair.run_until(Duration::from_secs(30), |p| p.nodes[LNS].ep.tunnels().any(|t| t.state == TunnelState::Established)), "a slot freed up");
}
