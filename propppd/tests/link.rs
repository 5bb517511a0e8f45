//! The PPP link (RFC 1661 §3 phases) end to end: a client [`Link`] against a
//! server [`Link`] over a seeded lossy, reordering channel with a virtual
//! clock — each authentication method, method negotiation through LCP Nak,
//! wrong passwords, a silent peer, idle and session limits, a peer that
//! Protocol-Rejects IPv6CP, data before the Network phase — and random
//! frames thrown at a server in every phase.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use proppp::proto::auth::{Accept, Answer, AuthBackend, AuthMethod, AuthRequest, ChallengeSource, SecretsBackend, Verdict};
use proppp::proto::frame::{protocol, Frame};
use proppp::proto::fsm::{Rng, SplitMix64, State};
use proppp::proto::ipcp::IpcpConfig;
use proppp::proto::lcp::LcpConfig;
use proppp::proto::link::{AuthRole, DownReason, DropReason, Link, LinkConfig, LinkEvent, LinkOutput, Phase};

const CLIENT: usize = 0;
const SERVER: usize = 1;

fn server_addr() -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 1)
}
fn pool_addr() -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 77)
}
fn dns() -> [Option<Ipv4Addr>; 2] {
    [Some(Ipv4Addr::new(198, 51, 100, 53)), Some(Ipv4Addr::new(198, 51, 100, 54))]
}

fn server_config(require: &[AuthMethod]) -> LinkConfig {
    LinkConfig {
        lcp: LcpConfig { require_auth: require.to_vec(), accept_auth: vec![], ..LcpConfig::default() },
        name: b"lns".to_vec(),
        ipcp: IpcpConfig { local_addr: Some(server_addr()), peer_addr: Some(pool_addr()), dns: dns(), request_dns: false },
        ..LinkConfig::default()
    }
}

fn client_config(accept: &[AuthMethod], password: &[u8]) -> LinkConfig {
    LinkConfig {
        lcp: LcpConfig { accept_auth: accept.to_vec(), pfc: true, acfc: true, ..LcpConfig::default() },
        user: b"alice".to_vec(),
        password: password.to_vec(),
        ipcp: IpcpConfig { request_dns: true, ..IpcpConfig::default() },
        ..LinkConfig::default()
    }
}

fn backend() -> SecretsBackend {
    let mut b = SecretsBackend::new();
    b.insert(b"alice", b"wonderland");
    b
}

fn source(seed: u64) -> Box<dyn ChallengeSource> {
    let mut rng = SplitMix64(seed);
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            *b = rng.next_u32() as u8;
        }
    })
}

fn link(config: LinkConfig, backend: Box<dyn AuthBackend>, seed: u64) -> Link {
    Link::new(config, backend, Box::new(SplitMix64(seed)), source(seed ^ 0xA5A5))
}

/// What a NetworkUp event said: local, peer, DNS.
type NetworkUp = (Option<Ipv4Addr>, Option<Ipv4Addr>, [Option<Ipv4Addr>; 2]);

/// One side: its link and everything it did, with virtual times.
struct Side {
    link: Link,
    events: Vec<(Instant, LinkEvent)>,
    data: Vec<(u16, Vec<u8>)>,
    dropped: Vec<DropReason>,
    sent: Vec<Vec<u8>>,
    phases: Vec<(Instant, Phase)>,
}

impl Side {
    fn new(link: Link) -> Side {
        Side { link, events: Vec::new(), data: Vec::new(), dropped: Vec::new(), sent: Vec::new(), phases: Vec::new() }
    }

    fn after(&mut self, now: Instant) {
        while let Some(e) = self.link.poll_event() {
            self.events.push((now, e));
        }
        if self.phases.last().map(|p| p.1) != Some(self.link.phase()) {
            self.phases.push((now, self.link.phase()));
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        match self.link.handle_frame(now, bytes) {
            LinkOutput::Data { protocol, payload } => self.data.push((protocol, payload.to_vec())),
            LinkOutput::Dropped(r) => self.dropped.push(r),
            LinkOutput::Control => {}
        }
        self.after(now);
    }

    fn find(&self, f: impl Fn(&LinkEvent) -> bool) -> Option<(Instant, &LinkEvent)> {
        self.events.iter().find(|(_, e)| f(e)).map(|(t, e)| (*t, e))
    }

    fn network_up(&self) -> Option<NetworkUp> {
        self.events.iter().find_map(|(_, e)| match e {
            LinkEvent::NetworkUp { local_ip, peer_ip, dns } => Some((*local_ip, *peer_ip, *dns)),
            _ => None,
        })
    }

    fn ipv6_up(&self) -> Option<(u64, u64)> {
        self.events.iter().find_map(|(_, e)| match e {
            LinkEvent::Ipv6Up { local_id, peer_id } => Some((*local_id, *peer_id)),
            _ => None,
        })
    }

    fn down(&self) -> Option<(Instant, DownReason, u8)> {
        self.events.iter().find_map(|(t, e)| match e {
            LinkEvent::Down { reason, reason_code } => Some((*t, *reason, *reason_code)),
            _ => None,
        })
    }

    fn finished(&self) -> bool {
        self.events.iter().any(|(_, e)| *e == LinkEvent::Finished)
    }

    fn count(&self, f: impl Fn(&LinkEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }

    fn first_up_at(&self) -> Option<Instant> {
        self.find(|e| matches!(e, LinkEvent::NetworkUp { .. } | LinkEvent::Ipv6Up { .. })).map(|(t, _)| t)
    }

    fn fully_up(&self) -> bool {
        self.network_up().is_some() && self.ipv6_up().is_some()
    }
}

type Sim = common::Sim<Side>;

impl common::Peer for Side {
    fn transmit(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(bytes) = self.link.poll_transmit() {
            self.sent.push(bytes.clone());
            out.push(bytes);
        }
        out
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        Side::receive(self, now, bytes);
    }
    fn timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
        self.after(now);
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }
}

/// Opens both links.
fn open(sim: &mut Sim) {
    let now = sim.now;
    for side in &mut sim.sides {
        side.link.open(now);
        side.after(now);
    }
}

fn both_up(s: &Sim) -> bool {
    s.sides.iter().all(Side::fully_up)
}

fn both_finished(s: &Sim) -> bool {
    s.sides.iter().all(Side::finished)
}

fn pair(server: LinkConfig, client: LinkConfig, seed: u64, loss: u32, jitter: u32) -> Sim {
    let server = link(server, Box::new(backend()), seed.wrapping_mul(7919).wrapping_add(1));
    let client = link(client, Box::new(SecretsBackend::new()), seed);
    let mut sim = Sim::new(Side::new(client), Side::new(server), seed, loss, jitter);
    open(&mut sim);
    sim
}

#[test]
fn each_method_reaches_network_over_lossy_reordering_channel() {
    for (proto, method) in [(AuthMethod::Pap, AuthMethod::Pap), (AuthMethod::ChapMd5, AuthMethod::ChapMd5), (AuthMethod::MsChapV2, AuthMethod::MsChapV2)] {
        for seed in 0..60u64 {
            let mut sim = pair(server_config(&[proto]), client_config(&[proto], b"wonderland"), seed, 120, 300);
            let ok = sim.run_for(Duration::from_secs(300), both_up);
            let [c, s] = &sim.sides;
            assert!(ok, "{method} seed {seed}: client {:?} server {:?}", c.link, s.link);
            assert_eq!(c.network_up(), Some((Some(pool_addr()), Some(server_addr()), dns())), "{method} seed {seed}");
            assert_eq!(s.network_up().map(|n| (n.0, n.1)), Some((Some(server_addr()), Some(pool_addr()))));
            let (c6, s6) = (c.ipv6_up().unwrap(), s.ipv6_up().unwrap());
            assert_ne!(c6.0, c6.1);
            assert_eq!(c6, (s6.1, s6.0));
            assert!(s.find(|e| *e == LinkEvent::Authenticated { role: AuthRole::Authenticator, method, name: b"alice".to_vec() }).is_some());
            assert!(c.find(|e| *e == LinkEvent::Authenticated { role: AuthRole::Peer, method, name: b"alice".to_vec() }).is_some());
            assert_eq!(s.link.peer_name(), Some(&b"alice"[..]));
            assert!(c.down().is_none() && s.down().is_none());
            assert_eq!((c.link.phase(), s.link.phase()), (Phase::Network, Phase::Network));
            // RFC 1661 §3: Authenticate only after Establish, Network only
            // after Authenticate; a late Configure-Request may send LCP back
            // to Establish (renegotiation), never straight to Network.
            for side in [c, s] {
                let phases: Vec<Phase> = side.phases.iter().map(|p| p.1).collect();
                assert_eq!(phases.first(), Some(&Phase::Establish));
                for w in phases.windows(2) {
                    let allowed = matches!(
                        (w[0], w[1]),
                        (Phase::Establish, Phase::Authenticate)
                            | (Phase::Authenticate, Phase::Network)
                            | (Phase::Authenticate | Phase::Network, Phase::Establish)
                    );
                    assert!(allowed, "{method} seed {seed}: {phases:?}");
                }
            }
            // The client asked for PFC/ACFC: the server's frames after LCP
            // opened use them, except LCP's.
            for f in s.sent.iter().filter_map(|f| Frame::decode(f).ok()) {
                if f.protocol == protocol::LCP {
                    assert!(f.address_control && !f.protocol_compressed);
                }
            }
            let after_auth = s.sent.iter().filter_map(|f| Frame::decode(f).ok()).filter(|f| f.protocol == protocol::IPCP);
            assert!(after_auth.clone().count() > 0 && after_auth.clone().all(|f| !f.address_control && !f.protocol_compressed));
        }
    }
}

#[test]
fn authentication_method_converges_through_lcp_nak_or_fails_cleanly() {
    for seed in 0..40u64 {
        // The server prefers MS-CHAPv2 but also allows CHAP-MD5: the
        // client's Nak moves it to CHAP-MD5.
        let server = server_config(&[AuthMethod::MsChapV2, AuthMethod::ChapMd5]);
        let mut sim = pair(server, client_config(&[AuthMethod::ChapMd5], b"wonderland"), seed, 120, 300);
        assert!(sim.run_for(Duration::from_secs(300), both_up), "seed {seed}");
        let method = AuthMethod::ChapMd5;
        assert!(sim.sides[SERVER].find(|e| matches!(e, LinkEvent::Authenticated { method: m, .. } if *m == method)).is_some());

        // MS-CHAPv2 only: nothing in common; both end, nobody reaches Network.
        let mut sim = pair(server_config(&[AuthMethod::MsChapV2]), client_config(&[AuthMethod::ChapMd5], b"wonderland"), seed, 120, 300);
        assert!(sim.run_for(Duration::from_secs(300), both_finished), "seed {seed}");
        let [c, s] = &sim.sides;
        assert_eq!(s.down().map(|d| (d.1, d.2)), Some((DownReason::PeerAuthFailed, 11)), "seed {seed}");
        assert!(c.down().is_some());
        assert!(c.network_up().is_none() && s.network_up().is_none());
        assert!(s.link.lcp().negotiated().auth_of_peer.is_none());
    }
}

fn failure_sent(side: &Side) -> bool {
    side.sent
        .iter()
        .filter_map(|f| Frame::decode(f).ok())
        .any(|f| matches!((f.protocol, f.payload.first()), (protocol::CHAP, Some(4)) | (protocol::PAP, Some(3))))
}

#[test]
fn wrong_password_ends_both_sides_with_auth_failure() {
    for proto in [AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        for seed in 0..40u64 {
            let mut sim = pair(server_config(&[proto]), client_config(&[proto], b"looking-glass"), seed, 120, 300);
            assert!(sim.run_for(Duration::from_secs(300), both_finished), "{proto:?} seed {seed}");
            let [c, s] = &sim.sides;
            assert_eq!(s.down().map(|d| (d.1, d.2)), Some((DownReason::PeerAuthFailed, 11)), "{proto:?} seed {seed}");
            assert_eq!(c.down().map(|d| (d.1, d.2)), Some((DownReason::AuthToPeerFailed, 19)), "{proto:?} seed {seed}");
            assert!(failure_sent(s), "{proto:?} seed {seed}");
            assert!(s.find(|e| matches!(e, LinkEvent::AuthFailed { role: AuthRole::Authenticator, .. })).is_some());
            assert!(c.network_up().is_none() && s.network_up().is_none());
            assert_eq!((c.link.phase(), s.link.phase()), (Phase::Dead, Phase::Dead));
            for side in [c, s] {
                assert_eq!(side.count(|e| matches!(e, LinkEvent::Down { .. })), 1);
                assert_eq!(side.count(|e| *e == LinkEvent::Finished), 1);
            }
        }
    }
}

#[test]
fn silent_client_is_dropped_after_the_echo_limit() {
    let interval = Duration::from_secs(5);
    let failures = 3;
    let mut server = server_config(&[AuthMethod::Pap]);
    server.lcp.echo_interval = Some(interval);
    server.lcp.echo_failure = failures;
    let mut sim = pair(server, client_config(&[AuthMethod::Pap], b"wonderland"), 5, 0, 0);
    assert!(sim.run_for(Duration::from_secs(30), |s| s.sides[SERVER].link.phase() != Phase::Establish));
    let opened_at = sim.now;
    // From now on the client says nothing, not even what it already sent.
    sim.cut[CLIENT] = true;
    sim.in_flight.retain(|f| f.2 != SERVER);
    assert!(sim.run_for(Duration::from_secs(120), |s| s.sides[SERVER].finished()));
    let (at, reason, code) = sim.sides[SERVER].down().unwrap();
    assert_eq!((reason, code), (DownReason::PeerDead, 15));
    assert_eq!(at, opened_at + interval * (failures + 1));
}

#[test]
fn idle_timeout_and_maximum_session_time_end_the_link() {
    // Idle: 10 s without data; one packet 4 s after the network came up
    // pushes the end to 14 s.
    let mut server = server_config(&[AuthMethod::ChapMd5]);
    server.idle_timeout = Some(Duration::from_secs(10));
    let mut sim = pair(server, client_config(&[AuthMethod::ChapMd5], b"wonderland"), 7, 0, 0);
    assert!(sim.run_for(Duration::from_secs(60), both_up));
    let up_at = sim.sides[SERVER].first_up_at().unwrap();
    assert!(!sim.run_until(up_at + Duration::from_secs(4), |s| s.sides[SERVER].down().is_some()));
    assert!(sim.sides[CLIENT].link.send_data(sim.now, protocol::IP, &[0x45, 0, 0, 20]));
    assert!(sim.run_for(Duration::from_secs(60), |s| s.sides[SERVER].down().is_some()));
    assert_eq!(sim.sides[SERVER].data, [(protocol::IP, vec![0x45, 0, 0, 20])]);
    let (at, reason, code) = sim.sides[SERVER].down().unwrap();
    assert_eq!((reason, code), (DownReason::IdleTimeout, 12));
    assert_eq!(at, up_at + Duration::from_secs(14));
    assert!(sim.run_for(Duration::from_secs(60), both_finished));
    assert_eq!(sim.sides[CLIENT].down().map(|d| (d.1, d.2)), Some((DownReason::PeerTerminated, 0)));

    // Maximum session time: 60 s after the network came up, data or not.
    let mut server = server_config(&[AuthMethod::Pap]);
    server.max_session = Some(Duration::from_secs(60));
    server.idle_timeout = Some(Duration::from_secs(3600));
    let mut sim = pair(server, client_config(&[AuthMethod::Pap], b"wonderland"), 8, 0, 0);
    assert!(sim.run_for(Duration::from_secs(60), both_up));
    let up_at = sim.sides[SERVER].first_up_at().unwrap();
    for k in 1..12u32 {
        assert!(!sim.run_until(up_at + Duration::from_secs(5) * k, |s| s.sides[SERVER].down().is_some()));
        assert!(sim.sides[CLIENT].link.send_data(sim.now, protocol::IPV6, &[0x60, 0, 0, 0]));
    }
    assert!(sim.run_for(Duration::from_secs(120), both_finished));
    let (at, reason, code) = sim.sides[SERVER].down().unwrap();
    assert_eq!((reason, code), (DownReason::MaxSessionTime, 13));
    assert_eq!(at, up_at + Duration::from_secs(60));
    assert_eq!(sim.sides[SERVER].link.connect_time(sim.now), Duration::from_secs(60));
    assert_eq!(sim.sides[SERVER].data.len(), 11);
    let stats = sim.sides[SERVER].link.stats();
    assert_eq!((stats.rx_data_packets, stats.rx_dropped), (11, 0));
    assert!(stats.tx_packets > 0 && stats.rx_octets > 0);
}

#[test]
fn ipv6cp_protocol_reject_leaves_ipcp_up() {
    let mut server = server_config(&[AuthMethod::ChapMd5]);
    server.ipv6 = false;
    for seed in 0..20u64 {
        let mut sim = pair(server.clone(), client_config(&[AuthMethod::ChapMd5], b"wonderland"), seed, 100, 200);
        let ok = sim.run_for(Duration::from_secs(120), |s| {
            let c = &s.sides[CLIENT];
            c.network_up().is_some() && c.link.ipv6cp().state() == State::Stopped && s.sides[SERVER].network_up().is_some()
        });
        assert!(ok, "seed {seed}: {:?}", sim.sides[CLIENT].link);
        // Nothing ends the link for it.
        assert!(!sim.run_for(Duration::from_secs(60), |s| s.sides.iter().any(|x| x.down().is_some())));
        let c = &sim.sides[CLIENT];
        assert!(c.ipv6_up().is_none() && sim.sides[SERVER].ipv6_up().is_none());
        assert_eq!((c.link.phase(), c.link.ipcp().state()), (Phase::Network, State::Opened));
        assert!(!sim.sides[CLIENT].link.send_data(sim.now, protocol::IPV6, &[0x60]));
    }
}

#[test]
fn data_before_the_network_phase_is_dropped_and_counted() {
    let mut sim = pair(server_config(&[AuthMethod::ChapMd5]), client_config(&[AuthMethod::ChapMd5], b"wonderland"), 3, 0, 0);
    let ip = [0x00, 0x21, 0x45, 0, 0, 20];
    let now = sim.now;
    let server = &mut sim.sides[SERVER];
    assert_eq!(server.link.handle_frame(now, &ip), LinkOutput::Dropped(DropReason::NotNetwork));
    assert!(!server.link.send_data(now, protocol::IP, &[0x45]));
    // In the Authenticate phase too (the Response is withheld).
    assert!(sim.run_for(Duration::from_secs(10), |s| s.sides[SERVER].link.phase() == Phase::Authenticate));
    let now = sim.now;
    let server = &mut sim.sides[SERVER];
    assert_eq!(server.link.handle_frame(now, &ip), LinkOutput::Dropped(DropReason::NotNetwork));
    // IPCP before the Network phase is discarded (RFC 1661 §3.4).
    assert_eq!(server.link.handle_frame(now, &[0x80, 0x21, 1, 1, 0, 4]), LinkOutput::Dropped(DropReason::WrongPhase));
    assert_eq!(server.link.stats().rx_dropped, 3);
    assert!(sim.run_for(Duration::from_secs(60), both_up));
    let now = sim.now;
    let server = &mut sim.sides[SERVER];
    assert_eq!(server.link.handle_frame(now, &ip), LinkOutput::Data { protocol: protocol::IP, payload: &ip[2..] });
    // PFC form too; and an unknown protocol is Protocol-Rejected.
    assert_eq!(server.link.handle_frame(now, &[0x21, 0x45]), LinkOutput::Data { protocol: protocol::IP, payload: &[0x45][..] });
    assert_eq!(server.link.handle_frame(now, &[0x80, 0xFD, 1, 1, 0, 4]), LinkOutput::Dropped(DropReason::UnknownProtocol));
    let rejected =
        std::iter::from_fn(|| server.link.poll_transmit()).filter_map(|f| Frame::decode(&f).ok().map(|f| (f.protocol, f.payload.to_vec()))).collect::<Vec<_>>();
    assert!(rejected.iter().any(|(p, d)| *p == protocol::LCP && d.first() == Some(&8) && d.get(4..6) == Some(&[0x80, 0xFD][..])));
    assert_eq!(server.link.stats().rx_dropped, 4);
    assert_eq!(server.link.stats().rx_data_packets, 2);
}

#[test]
fn pending_verdict_with_static_address_wins_over_the_pool() {
    let pending = |_: &AuthRequest| Answer::Pending;
    let server = link(server_config(&[AuthMethod::MsChapV2]), Box::new(pending), 11);
    let client = link(client_config(&[AuthMethod::MsChapV2], b"wonderland"), Box::new(SecretsBackend::new()), 12);
    let mut sim = Sim::new(Side::new(client), Side::new(server), 13, 0, 0);
    open(&mut sim);
    // The server waits for its backend: no Success, no Network.
    assert!(!sim.run_for(Duration::from_secs(2), |s| s.sides[SERVER].link.phase() == Phase::Network));
    assert_eq!(sim.sides[SERVER].link.phase(), Phase::Authenticate);
    // The daemon's backend answers later, with the user's static address
    // (from its secrets file), which wins over the configured pool address.
    let fixed = Ipv4Addr::new(192, 0, 2, 99);
    let verdict = mschap_verdict(&mut sim);
    let Verdict::Accept(accept) = verdict else { panic!("rejected") };
    let now = sim.now;
    sim.sides[SERVER].link.handle_verdict(now, Verdict::Accept(Accept { address: Some(fixed), ..accept }));
    sim.sides[SERVER].after(now);
    assert!(sim.run_for(Duration::from_secs(60), both_up));
    assert_eq!(sim.sides[CLIENT].network_up().map(|n| n.0), Some(Some(fixed)));
    assert_eq!(sim.sides[SERVER].network_up().map(|n| n.1), Some(Some(fixed)));
}

/// The MS-CHAPv2 verdict for the exchange in flight: the server's last
/// Challenge and the client's Response, checked with the known password.
fn mschap_verdict(sim: &mut Sim) -> Verdict {
    use proppp::proto::auth::{verdict_from_secret, Proof};
    use proppp::proto::chap::ChapPacket;
    use proppp::proto::mschap::ResponseValue;
    let chap = |frames: &[Vec<u8>]| -> Vec<ChapPacket> {
        frames.iter().filter_map(|f| Frame::decode(f).ok()).filter(|f| f.protocol == protocol::CHAP).filter_map(|f| ChapPacket::parse(f.payload).ok()).collect()
    };
    let challenge = chap(&sim.sides[SERVER].sent).into_iter().rev().find_map(|p| match p {
        ChapPacket::Challenge { value, .. } => <[u8; 16]>::try_from(value.as_slice()).ok(),
        _ => None,
    });
    let response = chap(&sim.sides[CLIENT].sent).into_iter().rev().find_map(|p| match p {
        ChapPacket::Response { value, name, .. } => ResponseValue::parse(&value).ok().map(|r| (r, name)),
        _ => None,
    });
    let (Some(authenticator_challenge), Some((r, user_name))) = (challenge, response) else { panic!("no exchange") };
    let proof = Proof::MsChapV2 { authenticator_challenge, peer_challenge: r.peer_challenge, nt_response: r.nt_response, user_name };
    verdict_from_secret(&proof, b"wonderland", None)
}

/// Random frames: mostly well-framed control packets of every protocol the
/// link knows (and a few it does not), some garbage.
fn random_frame(rng: &mut SplitMix64) -> Vec<u8> {
    const PROTOCOLS: [u16; 9] =
        [protocol::LCP, protocol::PAP, protocol::CHAP, protocol::IPCP, protocol::IPV6CP, protocol::IP, protocol::IPV6, protocol::CCP, 0x0031];
    let r = rng.next_u32();
    let len = (rng.next_u32() % 48) as usize;
    let mut body: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
    if r.is_multiple_of(8) {
        return body;
    }
    let proto = PROTOCOLS[(r >> 3) as usize % PROTOCOLS.len()];
    if !r.is_multiple_of(3) && body.len() >= 4 {
        body[0] = (rng.next_u32() % 13) as u8;
        let length = if r.is_multiple_of(5) { rng.next_u32() as u16 } else { body.len() as u16 };
        body[2..4].copy_from_slice(&length.to_be_bytes());
    }
    let mut frame = Vec::new();
    let compression = proppp::proto::frame::Compression { pfc: r & 0x100 != 0, acfc: r & 0x200 != 0 };
    Frame::encode(proto, &body, compression, &mut frame);
    frame
}

fn check_sane(side: &Side) {
    let link = &side.link;
    if matches!(link.phase(), Phase::Authenticate | Phase::Network) {
        assert_eq!(link.lcp().state(), State::Opened);
    }
    if link.phase() == Phase::Dead {
        assert_eq!(link.poll_timeout(), None);
    }
    if link.down_reason().is_some() {
        assert!(matches!(link.phase(), Phase::Terminate | Phase::Dead));
    }
    assert!(side.count(|e| matches!(e, LinkEvent::Down { .. })) <= 1);
    assert!(side.count(|e| *e == LinkEvent::Finished) <= 1);
    if side.finished() {
        assert!(side.down().is_some());
    }
}

#[test]
fn random_frames_in_every_phase_never_panic() {
    let targets = [Phase::Establish, Phase::Authenticate, Phase::Network, Phase::Terminate, Phase::Dead];
    for (i, target) in targets.into_iter().enumerate() {
        let pending = |_: &AuthRequest| Answer::Pending;
        let server_backend: Box<dyn AuthBackend> = if target == Phase::Authenticate { Box::new(pending) } else { Box::new(backend()) };
        let server = link(server_config(&[AuthMethod::ChapMd5]), server_backend, 21);
        let client = link(client_config(&[AuthMethod::ChapMd5], b"wonderland"), Box::new(SecretsBackend::new()), 22);
        let mut sim = Sim::new(Side::new(client), Side::new(server), 23, 0, 0);
        open(&mut sim);
        match target {
            Phase::Establish => {}
            Phase::Authenticate => assert!(sim.run_for(Duration::from_secs(10), |s| s.sides[SERVER].link.phase() == Phase::Authenticate)),
            _ => assert!(sim.run_for(Duration::from_secs(60), both_up)),
        }
        if matches!(target, Phase::Terminate | Phase::Dead) {
            let now = sim.now;
            sim.sides[SERVER].link.close(now, DownReason::AdminClose);
            sim.sides[SERVER].after(now);
        }
        if target == Phase::Dead {
            sim.cut[CLIENT] = true;
            assert!(sim.run_for(Duration::from_secs(60), |s| s.sides[SERVER].finished()));
        }
        assert_eq!(sim.sides[SERVER].link.phase(), target);
        let mut rng = SplitMix64(100 + i as u64);
        let mut now = sim.now;
        let server = &mut sim.sides[SERVER];
        for n in 0..10_000u32 {
            let frame = random_frame(&mut rng);
            server.receive(now, &frame);
            while server.link.poll_transmit().is_some() {}
            if n % 16 == 0 {
                now += Duration::from_millis(700);
                server.link.handle_timeout(now);
                server.after(now);
            }
            check_sane(server);
        }
    }
}
