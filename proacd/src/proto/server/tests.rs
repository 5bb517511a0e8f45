//! Unit tests of the discovery engine's internals (id allocation, limits bookkeeping).

use super::*;

fn limits() -> Limits {
    Limits { max_sessions: 0, max_sessions_per_mac: 0, cookie_lifetime: Duration::from_secs(60) }
}

fn server(t0: Instant) -> Server {
    let mut s = Server::new(limits(), [3; 32], t0);
    let params =
        InterfaceParams { mac: MacAddr([2, 0, 0, 0, 0, 1]), ac_name: "ac".into(), service_names: Vec::new(), max_sessions: 0, padi_rate: 0, padi_burst: 1 };
    s.set_interface(1, params);
    s
}

fn padr(s: &mut Server, now: Instant, client: MacAddr) -> Vec<Output> {
    let mut d = Discovery::new(Code::Padr, 0);
    d.push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, &s.jar.make(now, 1, client));
    let eth = EthHeader { dst: MacAddr([2, 0, 0, 0, 0, 1]), src: client, ethertype: super::super::packet::ETH_P_PPP_DISC };
    s.input(now, 1, &eth, &d.emit(), &|_, _, _| Some(0))
}

#[test]
fn allocation_wraps_at_fffe() {
    let t0 = Instant::now();
    let mut s = server(t0);
    s.last_id = 0xFFFD;
    assert!(matches!(padr(&mut s, t0, MacAddr([2, 1, 0, 0, 0, 1]))[..], [_, Output::Opened { session_id: 0xFFFE, .. }]));
    assert!(matches!(padr(&mut s, t0, MacAddr([2, 1, 0, 0, 0, 2]))[..], [_, Output::Opened { session_id: 1, .. }]));
}

#[test]
fn bookkeeping_follows_open_and_close() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let a = MacAddr([2, 1, 0, 0, 0, 1]);
    assert_eq!(padr(&mut s, t0, a).len(), 2);
    assert_eq!((s.per_mac.get(&a).map(Vec::len), s.ifaces.get(&1).map(|i| i.sessions)), (Some(1), Some(1)));
    // Without Host-Uniq a second PADR from the same client is a retransmission.
    assert_eq!(padr(&mut s, t0, a).len(), 1);
    assert!(s.close(1, 1, "").is_some());
    assert_eq!((s.per_mac.get(&a), s.ifaces.get(&1).map(|i| i.sessions)), (None, Some(0)));
}
