//! A raw PPPoE peer for proacd's host tests: [`Host`] speaks discovery
//! (RFC 2516 §5) itself through `proac::proto` and a
//! `proac::sys::PacketSocket` opened in the client's namespace, from its
//! own MAC or from made-up ones ([`fake_mac`]). [`setup`] gives the two
//! namespaces (AC and client) joined by a veth pair; [`ac_mac`] is the
//! AC end's MAC address.

use std::time::Duration;

use proac::proto::{self, tag, Code, Discovery, MacAddr, ETH_P_PPP_DISC};
use proac::sys::PacketSocket;

use super::{link_veth, packet_socket_in, require_root_and_netns, wait_until, Netns, TempDir, VethPair};

/// The client end: a discovery socket in the client namespace.
pub struct Host {
    /// The socket (ethertype `ETH_P_PPP_DISC`).
    pub sock: PacketSocket,
    /// The MAC address of its interface.
    pub mac: MacAddr,
}

impl Host {
    /// A discovery socket on `ifname` in `ns`.
    pub fn new(ns: &Netns, ifname: &str) -> Host {
        let sock = packet_socket_in(ns, ifname, ETH_P_PPP_DISC);
        let mac = sock.info().mac;
        Host { sock, mac }
    }

    /// Sends the PPPoE packet `pppoe` (header and payload, as is) from
    /// `src` to `dst`.
    pub fn send_raw(&self, src: MacAddr, dst: MacAddr, pppoe: &[u8]) {
        self.sock.send(&proto::eth_frame(dst, src, ETH_P_PPP_DISC, pppoe)).unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends `d` from `src` to `dst`.
    pub fn send(&self, src: MacAddr, dst: MacAddr, d: &Discovery) {
        self.send_raw(src, dst, &d.emit());
    }

    /// Broadcasts the PADI of `src` (empty Service-Name).
    pub fn padi(&self, src: MacAddr) {
        let mut padi = Discovery::new(Code::Padi, 0);
        padi.push(tag::SERVICE_NAME, b"");
        self.send(src, MacAddr::BROADCAST, &padi);
    }

    /// Every discovery packet but PADIs and PADRs (what the test itself
    /// sends), with its Ethernet destination, received within `timeout` or
    /// until `done` says enough (polled).
    pub fn collect(&self, timeout: Duration, done: impl FnMut(&[(MacAddr, Discovery)]) -> bool) -> Vec<(MacAddr, Discovery)> {
        self.collect_map(timeout, |dst, d| (d.code != Code::Padi && d.code != Code::Padr).then_some((dst, d)), done)
    }

    /// The discovery packets addressed to `dst` received within `timeout`
    /// or until `done` holds (polled).
    pub fn collect_for(&self, dst: MacAddr, timeout: Duration, done: impl FnMut(&[Discovery]) -> bool) -> Vec<Discovery> {
        self.collect_map(timeout, |to, d| (to == dst).then_some(d), done)
    }

    /// Reads discovery packets until `timeout` or until `done` holds on
    /// what `keep` made of them (it gets the Ethernet destination and the
    /// packet; `None` drops it). Unparsable frames are skipped.
    fn collect_map<T>(&self, timeout: Duration, mut keep: impl FnMut(MacAddr, Discovery) -> Option<T>, mut done: impl FnMut(&[T]) -> bool) -> Vec<T> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 2048];
        wait_until(timeout, || {
            while let Ok(Some(n)) = self.sock.recv(&mut buf) {
                let Some(frame) = buf.get(..n) else { continue };
                if let Ok((eth, pppoe)) = proto::parse_eth(frame) {
                    if let Some(t) = Discovery::parse(pppoe).ok().and_then(|d| keep(eth.dst, d)) {
                        got.push(t);
                    }
                }
            }
            done(&got)
        });
        got
    }

    /// PADI from `src` → the PADO's AC-Cookie (panics without either).
    pub fn discover(&self, src: MacAddr) -> Vec<u8> {
        self.padi(src);
        let is_pado = |(dst, d): &(MacAddr, Discovery)| *dst == src && d.code == Code::Pado;
        let got = self.collect(Duration::from_secs(5), |g| g.iter().any(is_pado));
        let pado = got.into_iter().find(is_pado).map(|(_, d)| d).unwrap_or_else(|| panic!("no PADO for {src}"));
        pado.tag(tag::AC_COOKIE).unwrap_or_else(|| panic!("PADO without AC-Cookie: {pado:?}")).to_vec()
    }

    /// PADI → PADO → PADR (Host-Uniq `ops`, to `ac`) → PADS from `src`:
    /// the session id (panics when a step fails or the id is 0).
    pub fn open_session(&self, src: MacAddr, ac: MacAddr) -> u16 {
        self.padi(src);
        let got = self.collect_for(src, Duration::from_secs(5), |g| g.iter().any(|d| d.code == Code::Pado));
        let pado = got.iter().find(|d| d.code == Code::Pado).unwrap_or_else(|| panic!("no PADO for {src}: {got:?}"));
        let cookie = pado.tag(tag::AC_COOKIE).unwrap_or_else(|| panic!("PADO without cookie: {pado:?}"));
        let mut padr = Discovery::new(Code::Padr, 0);
        padr.push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, cookie).push(tag::HOST_UNIQ, b"ops");
        self.send(src, ac, &padr);
        let got = self.collect_for(src, Duration::from_secs(5), |g| g.iter().any(|d| d.code == Code::Pads));
        let pads = got.iter().find(|d| d.code == Code::Pads).unwrap_or_else(|| panic!("no PADS for {src}: {got:?}"));
        assert_ne!(pads.session_id, 0, "{pads:?}");
        pads.session_id
    }
}

/// A locally administered unicast MAC `02:SERIES:n` (`n` big-endian in
/// the last four octets); `series` keeps one test file's MACs apart from
/// another's.
pub fn fake_mac(series: u8, n: u32) -> MacAddr {
    let b = n.to_be_bytes();
    MacAddr([0x02, series, b[0], b[1], b[2], b[3]])
}

/// The AC and client namespaces (`TAGa`, `TAGc`) joined by a veth pair
/// (192.0.2.1/24 on the AC end `a`, 192.0.2.2/24 on the client end `b`)
/// and a test directory; `None` (after a SKIP line) without root or
/// network namespaces.
pub fn setup(tag: &str) -> Option<(Netns, Netns, VethPair, TempDir)> {
    if !require_root_and_netns() {
        return None;
    }
    let ac = Netns::new(&format!("{tag}a"));
    let cl = Netns::new(&format!("{tag}c"));
    let veth = link_veth(&ac, &cl, &["192.0.2.1/24"], &["192.0.2.2/24"]);
    Some((ac, cl, veth, TempDir::new(tag)))
}

/// The MAC address of `ifname` in `ac`.
pub fn ac_mac(ac: &Netns, ifname: &str) -> MacAddr {
    packet_socket_in(ac, ifname, ETH_P_PPP_DISC).info().mac
}
