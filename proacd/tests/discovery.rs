//! The AC discovery engine driven by the client state machine, in memory
//! (RFC 2516 §5): full discovery, cookies, limits, PADI rate limiting, id
//! allocation, PADT both ways, tag echoes, AC/Service-Name selection.

use proac::proto::client::{Client, ClientOutput, ClientParams, ClientState};
use proac::proto::packet::{eth_frame, parse_eth, tag, Code, Discovery, EthHeader, MacAddr, ETH_P_PPP_DISC};
use proac::proto::server::{Drop, IfaceId, InterfaceParams, Limits, Output, RouteId, Server};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const IF1: IfaceId = 7;
const AC_MAC: MacAddr = MacAddr([0x02, 0xac, 0, 0, 0, 1]);

fn client_mac(n: u32) -> MacAddr {
    let b = n.to_be_bytes();
    MacAddr([0x02, 0x11, b[0], b[1], b[2], b[3]])
}

fn limits() -> Limits {
    Limits { max_sessions: 0, max_sessions_per_mac: 0, cookie_lifetime: Duration::from_secs(60) }
}

fn iface(names: &[&str]) -> InterfaceParams {
    InterfaceParams {
        mac: AC_MAC,
        ac_name: "ac-test".into(),
        service_names: names.iter().map(|s| s.to_string()).collect(),
        max_sessions: 0,
        padi_rate: 0,
        padi_burst: 10,
    }
}

fn server(t0: Instant) -> Server {
    let mut s = Server::new(limits(), [0x5a; 32], t0);
    s.set_interface(IF1, iface(&[]));
    s
}

fn any_route(_: IfaceId, _: MacAddr, _: &str) -> Option<RouteId> {
    Some(3)
}

fn params() -> ClientParams {
    ClientParams { service_name: String::new(), ac_name: None, host_uniq: vec![1, 2, 3], max_payload: None, timeout: Duration::from_secs(1), attempts: 3 }
}

/// The frame a client output sends, as (EthHeader, PPPoE octets).
fn client_frame(from: MacAddr, out: &ClientOutput) -> Option<(EthHeader, Vec<u8>)> {
    match out {
        ClientOutput::Send { dst, packet } => {
            let f = eth_frame(*dst, from, ETH_P_PPP_DISC, &packet.emit());
            let (eth, p) = parse_eth(&f).ok()?;
            Some((eth, p.to_vec()))
        }
        _ => None,
    }
}

fn server_frame(out: &Output) -> Option<(EthHeader, Vec<u8>)> {
    match out {
        Output::Send { dst, packet, .. } => Some((EthHeader { dst: *dst, src: AC_MAC, ethertype: ETH_P_PPP_DISC }, packet.emit())),
        _ => None,
    }
}

/// Runs the exchange until nothing more is sent; returns every client output and server output.
fn exchange(s: &mut Server, c: &mut Client, now: Instant, route: &dyn Fn(IfaceId, MacAddr, &str) -> Option<RouteId>) -> (Vec<ClientOutput>, Vec<Output>) {
    let (mut c_all, mut s_all) = (Vec::new(), Vec::new());
    let mut pending = c.start(now);
    while !pending.is_empty() {
        let mut next = Vec::new();
        for o in &pending {
            if let Some((eth, p)) = client_frame(c.our_mac(), o) {
                let outs = s.input(now, IF1, &eth, &p, route);
                for so in &outs {
                    if let Some((eth, p)) = server_frame(so) {
                        next.extend(c.input(now, &eth, &p));
                    }
                }
                s_all.extend(outs);
            }
        }
        c_all.extend(pending);
        pending = next;
    }
    (c_all, s_all)
}

fn up_session(outs: &[ClientOutput]) -> Option<u16> {
    outs.iter().find_map(|o| match o {
        ClientOutput::Up { session_id, .. } => Some(*session_id),
        _ => None,
    })
}

fn padi(src: MacAddr, service: &str) -> (EthHeader, Vec<u8>) {
    let mut d = Discovery::new(Code::Padi, 0);
    d.push(tag::SERVICE_NAME, service.as_bytes());
    (EthHeader { dst: MacAddr::BROADCAST, src, ethertype: ETH_P_PPP_DISC }, d.emit())
}

fn drops(outs: &[Output]) -> Vec<Drop> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Dropped { why, .. } => Some(*why),
            _ => None,
        })
        .collect()
}

#[test]
fn full_discovery_and_padt_from_client() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut c = Client::new(client_mac(1), params());
    let (couts, souts) = exchange(&mut s, &mut c, t0, &any_route);
    let sid = up_session(&couts).expect("client up");
    assert_ne!(sid, 0);
    assert_eq!(c.state(), ClientState::Session);
    assert_eq!(c.session(), Some((AC_MAC, sid)));
    let opened: Vec<_> = souts.iter().filter(|o| matches!(o, Output::Opened { .. })).collect();
    assert_eq!(opened.len(), 1);
    match opened[0] {
        Output::Opened { iface, client, session_id, route, service_name, max_payload } => {
            assert_eq!((*iface, *client, *session_id, *route, service_name.as_str(), *max_payload), (IF1, client_mac(1), sid, 3, "", None));
        }
        _ => unreachable!(),
    }
    match couts.iter().find(|o| matches!(o, ClientOutput::Up { .. })) {
        Some(ClientOutput::Up { ac, ac_name, .. }) => assert_eq!((*ac, ac_name.as_str()), (AC_MAC, "ac-test")),
        _ => unreachable!(),
    }
    let e = s.session(IF1, sid).expect("live");
    assert_eq!((e.client, e.route, e.opened_at), (client_mac(1), 3, t0));
    let st = s.stats();
    assert_eq!((st.padi_rx, st.pado_tx, st.padr_rx, st.pads_tx, st.sessions_opened), (1, 1, 1, 1, 1));
    // PADT from the client.
    let padt = c.close("bye");
    let (eth, p) = client_frame(c.our_mac(), &padt[0]).unwrap();
    let outs = s.input(t0, IF1, &eth, &p, &any_route);
    assert!(matches!(&outs[..], [Output::ClientClosed { session_id, reason, .. }] if *session_id == sid && reason == "bye"));
    assert_eq!(s.session_count(), 0);
    assert_eq!(c.state(), ClientState::Closed);
    // A second PADT for the same id is unknown now.
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::UnknownSession]);
}

#[test]
fn padt_from_ac() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut c = Client::new(client_mac(1), params());
    let sid = up_session(&exchange(&mut s, &mut c, t0, &any_route).0).unwrap();
    assert!(s.close(IF1, sid.wrapping_add(1), "x").is_none());
    assert!(s.close(IF1 + 1, sid, "x").is_none());
    let out = s.close(IF1, sid, "admin").expect("PADT");
    let (eth, p) = server_frame(&out).unwrap();
    let d = Discovery::parse(&p).unwrap();
    assert_eq!((d.code, d.session_id, eth.dst), (Code::Padt, sid, client_mac(1)));
    assert_eq!(d.tag(tag::HOST_UNIQ), Some(&[1u8, 2, 3][..]));
    assert_eq!(c.input(t0, &eth, &p).len(), 1);
    assert_eq!(c.state(), ClientState::Closed);
    assert_eq!((s.session_count(), s.stats().padt_tx), (0, 1));
}

#[test]
fn client_down_reason_from_padt() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut c = Client::new(client_mac(1), params());
    let sid = up_session(&exchange(&mut s, &mut c, t0, &any_route).0).unwrap();
    let (eth, p) = server_frame(&s.close(IF1, sid, "maintenance").unwrap()).unwrap();
    let outs = c.input(t0, &eth, &p);
    assert!(matches!(&outs[..], [ClientOutput::Down(r)] if r == "maintenance"));
}

/// Sends a PADI from `mac` and returns the PADO's cookie.
fn get_cookie(s: &mut Server, now: Instant, mac: MacAddr) -> Vec<u8> {
    let (eth, p) = padi(mac, "");
    let outs = s.input(now, IF1, &eth, &p, &any_route);
    match &outs[..] {
        [Output::Send { packet, .. }] => packet.tag(tag::AC_COOKIE).unwrap().to_vec(),
        o => panic!("no PADO: {o:?}"),
    }
}

fn padr(src: MacAddr, cookie: Option<&[u8]>, host_uniq: Option<&[u8]>) -> (EthHeader, Vec<u8>) {
    let mut d = Discovery::new(Code::Padr, 0);
    d.push(tag::SERVICE_NAME, b"");
    if let Some(h) = host_uniq {
        d.push(tag::HOST_UNIQ, h);
    }
    if let Some(c) = cookie {
        d.push(tag::AC_COOKIE, c);
    }
    (EthHeader { dst: AC_MAC, src, ethertype: ETH_P_PPP_DISC }, d.emit())
}

#[test]
fn bad_cookies_allocate_nothing() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let a = client_mac(1);
    let cookie = get_cookie(&mut s, t0, a);
    let mut forged = cookie.clone();
    forged[10] ^= 0x80;
    let cases: Vec<(MacAddr, Option<Vec<u8>>, Instant)> = vec![
        (a, None, t0),                                            // no cookie
        (a, Some(forged), t0),                                    // forged
        (a, Some(vec![0; 20]), t0),                               // zeros
        (client_mac(2), Some(cookie.clone()), t0),                // another MAC's cookie
        (a, Some(cookie.clone()), t0 + Duration::from_secs(120)), // expired (two windows later)
    ];
    for (i, (mac, c, now)) in cases.iter().enumerate() {
        let (eth, p) = padr(*mac, c.as_deref(), None);
        let outs = s.input(*now, IF1, &eth, &p, &any_route);
        assert_eq!(drops(&outs), vec![Drop::BadCookie], "case {i}");
        assert_eq!(outs.len(), 1, "nothing sent, case {i}");
    }
    assert_eq!((s.session_count(), s.stats().bad_cookie, s.stats().pads_tx), (0, 5, 0));
    // The cookie on another interface is not valid either.
    s.set_interface(IF1 + 1, iface(&[]));
    let (eth, p) = padr(a, Some(&cookie), None);
    assert_eq!(drops(&s.input(t0, IF1 + 1, &eth, &p, &any_route)), vec![Drop::BadCookie]);
    // The good one still works within its lifetime.
    let outs = s.input(t0 + Duration::from_secs(59), IF1, &eth, &p, &any_route);
    assert!(outs.iter().any(|o| matches!(o, Output::Opened { .. })));
}

#[test]
fn duplicate_padr_gets_same_pads() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let a = client_mac(1);
    let cookie = get_cookie(&mut s, t0, a);
    let (eth, p) = padr(a, Some(&cookie), Some(b"hu"));
    let first = s.input(t0, IF1, &eth, &p, &any_route);
    let again = s.input(t0, IF1, &eth, &p, &any_route);
    assert_eq!(first.len(), 2);
    assert_eq!(again.len(), 1, "no second Opened");
    let (f, g) = (server_frame(&first[0]).unwrap().1, server_frame(&again[0]).unwrap().1);
    assert_eq!(f, g);
    assert_eq!(s.session_count(), 1);
    // A different Host-Uniq is another session.
    let (eth, p) = padr(a, Some(&cookie), Some(b"hv"));
    assert_eq!(s.input(t0, IF1, &eth, &p, &any_route).len(), 2);
    assert_eq!(s.session_count(), 2);
}

#[test]
fn limits_total_per_interface_per_mac() {
    let t0 = Instant::now();
    let mut s = server(t0);
    s.set_limits(Limits { max_sessions: 3, max_sessions_per_mac: 2, cookie_lifetime: Duration::from_secs(60) });
    let open = |s: &mut Server, mac: MacAddr, hu: &[u8]| {
        let cookie = get_cookie(s, t0, mac);
        let (eth, p) = padr(mac, Some(&cookie), Some(hu));
        s.input(t0, IF1, &eth, &p, &any_route)
    };
    let a = client_mac(1);
    assert_eq!(open(&mut s, a, b"1").len(), 2);
    assert_eq!(open(&mut s, a, b"2").len(), 2);
    // Per MAC: no PADO for a third from the same MAC.
    let (eth, p) = padi(a, "");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Limit]);
    assert_eq!(open(&mut s, client_mac(2), b"x").len(), 2);
    assert_eq!(s.session_count(), 3);
    // Total reached: PADI gets nothing; a PADR with a valid cookie gets an AC-System-Error PADS.
    let (eth, p) = padi(client_mac(3), "");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Limit]);
    let (eth, p) = padr(client_mac(9), Some(&get_cookie_raw(t0, client_mac(9))), None);
    let outs = s.input(t0, IF1, &eth, &p, &any_route);
    let pads = match &outs[..] {
        [Output::Send { packet, .. }] => packet.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!((pads.code, pads.session_id), (Code::Pads, 0));
    assert_eq!(pads.error().map(|e| e.0), Some(tag::AC_SYSTEM_ERROR));
    assert_eq!(s.session_count(), 3);
    // Interface limit.
    let mut s2 = server(t0);
    let mut p1 = iface(&[]);
    p1.max_sessions = 1;
    s2.set_interface(IF1, p1);
    assert_eq!(open(&mut s2, client_mac(1), b"1").len(), 2);
    let (eth, p) = padi(client_mac(2), "");
    assert_eq!(drops(&s2.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Limit]);
    assert!(s2.stats().limit_refused >= 1);
}

/// A valid cookie for `mac` made while limits allow a PADO (the jar does not depend on limits).
fn get_cookie_raw(now: Instant, mac: MacAddr) -> Vec<u8> {
    let mut probe = Server::new(limits(), [0x5a; 32], now);
    probe.set_interface(IF1, iface(&[]));
    get_cookie(&mut probe, now, mac)
}

#[test]
fn padi_burst_is_rate_limited() {
    let t0 = Instant::now();
    let mut s = Server::new(limits(), [1; 32], t0);
    let mut p = iface(&[]);
    p.padi_rate = 200;
    p.padi_burst = 400;
    s.set_interface(IF1, p);
    // 10,000 PADIs from pseudo-random MACs over 2 s of virtual time.
    let mut x: u32 = 12345;
    let mut answered = 0u64;
    for i in 0..10_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let now = t0 + Duration::from_micros(u64::from(i) * 200);
        let (eth, pk) = padi(client_mac(x), "");
        answered += s.input(now, IF1, &eth, &pk, &any_route).iter().filter(|o| matches!(o, Output::Send { .. })).count() as u64;
    }
    let elapsed = 10_000.0 * 200e-6;
    let bound = 400.0 + 200.0 * elapsed;
    assert!(answered as f64 <= bound, "{answered} > {bound}");
    assert!(answered >= 790, "the bucket should give about {bound}, got {answered}");
    assert_eq!(s.stats().rate_limited, 10_000 - answered);
    assert_eq!(s.stats().pado_tx, answered);
    assert_eq!(s.session_count(), 0);
}

#[test]
fn mac_lists() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let (a, b) = (client_mac(1), client_mac(2));
    s.set_mac_lists(None, HashSet::from([a]));
    let (eth, p) = padi(a, "");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Denied]);
    let (eth, p) = padi(b, "");
    assert!(drops(&s.input(t0, IF1, &eth, &p, &any_route)).is_empty());
    s.deny_mac(a, false);
    s.allow_mac(b, true);
    let (eth, p) = padi(a, "");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Denied], "not on the allow list");
    s.allow_mac(a, true);
    assert!(drops(&s.input(t0, IF1, &eth, &p, &any_route)).is_empty());
    // A PADR from a MAC denied after its PADO allocates nothing.
    let cookie = get_cookie(&mut s, t0, a);
    s.deny_mac(a, true);
    let (eth, p) = padr(a, Some(&cookie), None);
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::Denied]);
    assert_eq!((s.session_count(), s.stats().denied), (0, 3));
}

#[test]
fn id_allocation_wraps_without_reusing_live_ids() {
    let t0 = Instant::now();
    let mut s = server(t0);
    // One client MAC per session, as on a real access network.
    let mut n = 0u32;
    let mut open = |s: &mut Server| -> u16 {
        n += 1;
        let cookie = get_cookie(s, t0, client_mac(n));
        let (eth, p) = padr(client_mac(n), Some(&cookie), None);
        let outs = s.input(t0, IF1, &eth, &p, &any_route);
        outs.iter().find_map(|o| if let Output::Opened { session_id, .. } = o { Some(*session_id) } else { None }).expect("opened")
    };
    assert_eq!(open(&mut s), 1);
    assert_eq!(open(&mut s), 2);
    assert_eq!(open(&mut s), 3);
    // Free 2: the next is still 4 (no immediate reuse).
    assert!(s.close(IF1, 2, "").is_some());
    assert_eq!(open(&mut s), 4);
    // Fill up to 0xFFFE: ids 5..=0xFFFE, then wrap to 2 (1 and 3 live).
    for expect in 5..=0xFFFEu16 {
        assert_eq!(open(&mut s), expect);
    }
    assert_eq!(open(&mut s), 2);
    assert_eq!(s.session_count(), 0xFFFE);
    // Every id live: PADS with AC-System-Error.
    let cookie = get_cookie_raw(t0, client_mac(0x10_0000));
    let (eth, p) = padr(client_mac(0x10_0000), Some(&cookie), None);
    let outs = s.input(t0, IF1, &eth, &p, &any_route);
    assert!(matches!(&outs[..], [Output::Send { packet, .. }] if packet.session_id == 0 && packet.error().is_some()));
    assert!(s.close(IF1, 100, "").is_some());
    assert_eq!(open(&mut s), 100);
}

#[test]
fn tags_echoed() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let a = client_mac(1);
    let mut d = Discovery::new(Code::Padi, 0);
    d.push(tag::SERVICE_NAME, b"").push(tag::HOST_UNIQ, b"uniq").push(tag::RELAY_SESSION_ID, b"relay").push(tag::PPP_MAX_PAYLOAD, &1500u16.to_be_bytes());
    let eth = EthHeader { dst: MacAddr::BROADCAST, src: a, ethertype: ETH_P_PPP_DISC };
    let outs = s.input(t0, IF1, &eth, &d.emit(), &any_route);
    let pado = match &outs[..] {
        [Output::Send { packet, dst, .. }] if *dst == a => packet.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(pado.tag(tag::AC_NAME), Some(&b"ac-test"[..]));
    assert_eq!(pado.tag(tag::HOST_UNIQ), Some(&b"uniq"[..]));
    assert_eq!(pado.tag(tag::RELAY_SESSION_ID), Some(&b"relay"[..]));
    assert_eq!(pado.max_payload(), Some(1500));
    let mut r = Discovery::new(Code::Padr, 0);
    r.push(tag::SERVICE_NAME, b"").push(tag::HOST_UNIQ, b"uniq").push(tag::RELAY_SESSION_ID, b"relay2");
    r.push(tag::AC_COOKIE, pado.tag(tag::AC_COOKIE).unwrap()).push(tag::PPP_MAX_PAYLOAD, &1500u16.to_be_bytes());
    let eth = EthHeader { dst: AC_MAC, src: a, ethertype: ETH_P_PPP_DISC };
    let outs = s.input(t0, IF1, &eth, &r.emit(), &any_route);
    let pads = match &outs[..] {
        [Output::Send { packet, .. }, Output::Opened { max_payload: Some(1500), .. }] => packet.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(pads.tag(tag::HOST_UNIQ), Some(&b"uniq"[..]));
    assert_eq!(pads.tag(tag::RELAY_SESSION_ID), Some(&b"relay2"[..]));
    assert_eq!(pads.max_payload(), Some(1500));
    // Below 1492 is not echoed.
    let mut d = Discovery::new(Code::Padi, 0);
    d.push(tag::SERVICE_NAME, b"").push(tag::PPP_MAX_PAYLOAD, &1400u16.to_be_bytes());
    let eth = EthHeader { dst: MacAddr::BROADCAST, src: a, ethertype: ETH_P_PPP_DISC };
    let outs = s.input(t0, IF1, &eth, &d.emit(), &any_route);
    assert!(matches!(&outs[..], [Output::Send { packet, .. }] if packet.tag(tag::PPP_MAX_PAYLOAD).is_none()));
}

#[test]
fn service_names_and_routes() {
    let t0 = Instant::now();
    let mut s = server(t0);
    s.set_interface(IF1, iface(&["isp", "vod"]));
    let a = client_mac(1);
    // Empty request: every offered name.
    let (eth, p) = padi(a, "");
    let outs = s.input(t0, IF1, &eth, &p, &any_route);
    let names: Vec<Vec<u8>> = match &outs[..] {
        [Output::Send { packet, .. }] => packet.tags_of(tag::SERVICE_NAME).map(<[u8]>::to_vec).collect(),
        o => panic!("{o:?}"),
    };
    assert_eq!(names, vec![b"isp".to_vec(), b"vod".to_vec()]);
    // A named request is echoed alone; an unknown one gets nothing.
    let (eth, p) = padi(a, "vod");
    assert!(
        matches!(&s.input(t0, IF1, &eth, &p, &any_route)[..], [Output::Send { packet, .. }] if packet.tags_of(tag::SERVICE_NAME).count() == 1 && packet.tag(tag::SERVICE_NAME) == Some(&b"vod"[..]))
    );
    let (eth, p) = padi(a, "other");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &any_route)), vec![Drop::NoService]);
    // No route: no PADO, and a PADR gets Service-Name-Error.
    let only_isp = |_: IfaceId, _: MacAddr, sn: &str| if sn == "isp" { Some(1) } else { None };
    let (eth, p) = padi(a, "vod");
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p, &only_isp)), vec![Drop::NoRoute]);
    let mut c = Client::new(a, ClientParams { service_name: "vod".into(), ..params() });
    let (couts, _) = exchange(&mut s, &mut c, t0, &|_, _, _| Some(1));
    assert!(up_session(&couts).is_some());
    let mut c = Client::new(client_mac(2), ClientParams { service_name: "vod".into(), ..params() });
    c.start(t0);
    let cookie = get_cookie(&mut s, t0, client_mac(2));
    let mut r = Discovery::new(Code::Padr, 0);
    r.push(tag::SERVICE_NAME, b"vod").push(tag::HOST_UNIQ, &[1, 2, 3]).push(tag::AC_COOKIE, &cookie);
    let eth = EthHeader { dst: AC_MAC, src: client_mac(2), ethertype: ETH_P_PPP_DISC };
    let outs = s.input(t0, IF1, &eth, &r.emit(), &only_isp);
    assert!(matches!(&outs[..], [Output::Send { packet, .. }] if packet.session_id == 0 && packet.error().map(|e| e.0) == Some(tag::SERVICE_NAME_ERROR)));
    assert_eq!(s.stats().no_service, 3);
}

/// A second AC on the same wire, for the client's choice.
fn pado_from(ac: MacAddr, ac_name: &str, services: &[&str], to: MacAddr, host_uniq: &[u8]) -> (EthHeader, Vec<u8>) {
    let mut d = Discovery::new(Code::Pado, 0);
    d.push(tag::AC_NAME, ac_name.as_bytes());
    for s in services {
        d.push(tag::SERVICE_NAME, s.as_bytes());
    }
    d.push(tag::HOST_UNIQ, host_uniq).push(tag::AC_COOKIE, b"cookie").push(tag::RELAY_SESSION_ID, b"rsid");
    (EthHeader { dst: to, src: ac, ethertype: ETH_P_PPP_DISC }, d.emit())
}

#[test]
fn client_selects_ac_and_service() {
    let t0 = Instant::now();
    let me = client_mac(1);
    let ac1 = MacAddr([2, 0xac, 0, 0, 0, 0x11]);
    let ac2 = MacAddr([2, 0xac, 0, 0, 0, 0x22]);
    let mut c = Client::new(me, ClientParams { service_name: "isp".into(), ac_name: Some("wanted".into()), ..params() });
    let first = c.start(t0);
    assert!(
        matches!(&first[..], [ClientOutput::Send { dst, packet }] if dst.is_broadcast() && packet.code == Code::Padi && packet.tag(tag::SERVICE_NAME) == Some(&b"isp"[..]) && packet.tag(tag::HOST_UNIQ) == Some(&[1u8,2,3][..]))
    );
    // Wrong AC-Name, wrong service, wrong Host-Uniq, not to us: ignored.
    for (eth, p) in [
        pado_from(ac1, "other", &["isp"], me, &[1, 2, 3]),
        pado_from(ac2, "wanted", &["vod"], me, &[1, 2, 3]),
        pado_from(ac2, "wanted", &["isp"], me, &[9]),
        pado_from(ac2, "wanted", &["isp"], client_mac(2), &[1, 2, 3]),
    ] {
        assert!(c.input(t0, &eth, &p).is_empty());
        assert_eq!(c.state(), ClientState::Discovering);
    }
    let (eth, p) = pado_from(ac2, "wanted", &["vod", "isp"], me, &[1, 2, 3]);
    let outs = c.input(t0, &eth, &p);
    let padr = match &outs[..] {
        [ClientOutput::Send { dst, packet }] if *dst == ac2 => packet.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(padr.code, Code::Padr);
    assert_eq!(padr.tag(tag::AC_COOKIE), Some(&b"cookie"[..]));
    assert_eq!(padr.tag(tag::RELAY_SESSION_ID), Some(&b"rsid"[..]));
    assert_eq!(padr.tag(tag::SERVICE_NAME), Some(&b"isp"[..]));
    assert_eq!(c.state(), ClientState::Requesting);
    // An error PADS fails with its text.
    let mut pads = Discovery::new(Code::Pads, 0);
    pads.push(tag::HOST_UNIQ, &[1, 2, 3]).push(tag::AC_SYSTEM_ERROR, b"full");
    let outs = c.input(t0, &EthHeader { dst: me, src: ac2, ethertype: ETH_P_PPP_DISC }, &pads.emit());
    assert!(matches!(&outs[..], [ClientOutput::Failed(t)] if t.contains("full") && t.contains("AC-System-Error")));
    assert_eq!(c.state(), ClientState::Closed);
}

#[test]
fn client_retries_with_doubling_timeout() {
    let t0 = Instant::now();
    let mut c = Client::new(client_mac(1), params());
    assert_eq!(c.start(t0).len(), 1);
    assert_eq!(c.next_timeout(), Some(t0 + Duration::from_secs(1)));
    assert!(c.on_timer(t0 + Duration::from_millis(999)).is_empty(), "early wake-up is a no-op");
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(c.on_timer(t1).len(), 1);
    assert_eq!(c.next_timeout(), Some(t1 + Duration::from_secs(2)));
    let t2 = t1 + Duration::from_secs(2);
    assert_eq!(c.on_timer(t2).len(), 1);
    assert_eq!(c.next_timeout(), Some(t2 + Duration::from_secs(4)));
    let outs = c.on_timer(t2 + Duration::from_secs(4));
    assert!(matches!(&outs[..], [ClientOutput::Failed(t)] if t.contains("PADO")));
    assert_eq!((c.state(), c.next_timeout()), (ClientState::Closed, None));
}

#[test]
fn client_max_payload() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut c = Client::new(client_mac(1), ClientParams { max_payload: Some(1500), ..params() });
    let (couts, souts) = exchange(&mut s, &mut c, t0, &any_route);
    assert!(couts.iter().any(|o| matches!(o, ClientOutput::Up { max_payload: Some(1500), .. })));
    assert!(souts.iter().any(|o| matches!(o, Output::Opened { max_payload: Some(1500), .. })));
}

#[test]
fn server_ignores_junk() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let a = client_mac(1);
    let (eth, p) = padi(a, "");
    // Unknown interface, unicast PADI, malformed, PADO to the AC, multicast source.
    assert_eq!(drops(&s.input(t0, 99, &eth, &p, &any_route)), vec![Drop::NotForUs]);
    let uni = EthHeader { dst: AC_MAC, ..eth };
    assert_eq!(drops(&s.input(t0, IF1, &uni, &p, &any_route)), vec![Drop::NotForUs]);
    assert_eq!(drops(&s.input(t0, IF1, &eth, &p[..5], &any_route)), vec![Drop::Malformed]);
    let pado = Discovery::new(Code::Pado, 0).emit();
    assert_eq!(drops(&s.input(t0, IF1, &uni, &pado, &any_route)), vec![Drop::UnknownCode]);
    let mc = EthHeader { src: MacAddr::BROADCAST, ..eth };
    assert_eq!(drops(&s.input(t0, IF1, &mc, &p, &any_route)), vec![Drop::Malformed]);
    // A PADR to another MAC.
    let (mut e2, p2) = padr(a, Some(&get_cookie(&mut s, t0, a)), None);
    e2.dst = client_mac(77);
    assert_eq!(drops(&s.input(t0, IF1, &e2, &p2, &any_route)), vec![Drop::NotForUs]);
    assert_eq!((s.session_count(), s.stats().malformed), (0, 2));
}

#[test]
fn remove_interface_frees_its_sessions() {
    let t0 = Instant::now();
    let mut s = server(t0);
    for i in 0..3 {
        let mut c = Client::new(client_mac(i), params());
        assert!(up_session(&exchange(&mut s, &mut c, t0, &any_route).0).is_some());
    }
    // Reload keeps sessions.
    s.set_interface(IF1, iface(&["x"]));
    assert_eq!(s.session_count(), 3);
    let gone = s.remove_interface(IF1);
    assert_eq!(gone.len(), 3);
    assert_eq!(s.session_count(), 0);
    assert_eq!(s.sessions().count(), 0);
}
