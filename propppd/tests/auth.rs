//! PPP authentication against published vectors, real captures and itself:
//! RFC 2759 §9.2, a CHAP-MD5 vector computed independently, the MS-CHAPv2
//! exchanges of the PPTP captures under `corpus/captures/`, and in-memory
//! authenticator-against-peer runs for PAP, CHAP-MD5 and MS-CHAPv2 with
//! wrong passwords, lost packets and a slow backend.

use proppp::proto::auth::{
    chap_md5_response, verdict_from_secret, Accept, Answer, AuthBackend, AuthEvent, AuthFailure, AuthMethod, AuthOutput, AuthRequest, AuthTimers,
    ChallengeSource, Proof, SecretsBackend, Verdict, PROTO_CHAP, PROTO_PAP,
};
use proppp::proto::chap::{ChapAuthenticator, ChapAuthenticatorConfig, ChapPacket, ChapPeer, ChapPeerConfig};
use proppp::proto::mschap::{self, ResponseValue};
use proppp::proto::pap::{PapAuthenticator, PapPacket, PapPeer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- vectors

#[test]
fn rfc2759_section_9_2() {
    let auth: [u8; 16] = hex("5B5D7C7D7B3F2F3E3C2C602132262628").try_into().unwrap();
    let peer: [u8; 16] = hex("21402324255E262A28295F2B3A337C7E").try_into().unwrap();
    assert_eq!(mschap::challenge_hash(&peer, &auth, b"User").to_vec(), hex("D02E4386BCE91226"));
    assert_eq!(mschap::nt_password_hash(b"clientPass").to_vec(), hex("44EBBA8D5312B8D611474411F56989AE"));
    let nt = mschap::generate_nt_response(&auth, &peer, b"User", b"clientPass");
    assert_eq!(nt.to_vec(), hex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"));
    assert_eq!(mschap::hash_nt_password_hash(&mschap::nt_password_hash(b"clientPass")).to_vec(), hex("41C00C584BD2D91C4017A2A12FA59F3F"));
    let s = mschap::generate_authenticator_response(b"clientPass", &nt, &peer, &auth, b"User");
    assert_eq!(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
    // The backend path gives the same authenticator response.
    let proof = Proof::MsChapV2 { authenticator_challenge: auth, peer_challenge: peer, nt_response: nt, user_name: b"User".to_vec() };
    let Verdict::Accept(a) = verdict_from_secret(&proof, b"clientPass", None) else { panic!("RFC vector rejected") };
    assert_eq!(a.authenticator_response.as_deref(), Some("S=407A5589115FD0D6209F510FE9C04566932CDA56"));
}

#[test]
fn chap_md5_vector() {
    // python3 -c 'import hashlib; print(hashlib.md5(bytes([0x2a])+b"wonderland"+bytes(range(16))).hexdigest())'
    let challenge: Vec<u8> = (0u8..16).collect();
    assert_eq!(chap_md5_response(0x2a, b"wonderland", &challenge).to_vec(), hex("0bf175e539dde27bf75374f19ad0223f"));
    // python3 -c 'import hashlib; print(hashlib.md5(bytes([1])+b"secret"+bytes.fromhex("0123456789abcdeffedcba9876543210")).hexdigest())'
    assert_eq!(chap_md5_response(1, b"secret", &hex("0123456789abcdeffedcba9876543210")).to_vec(), hex("c09f6861ad280fb0a722a411a2fbba8c"));
}

// ---------------------------------------------------------------- captures

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// Frames of a classic pcap file (either byte order, µs or ns), link type
/// Ethernet only.
fn pcap_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let magic = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let le = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        m => panic!("not a pcap file: magic {m:#x}"),
    };
    let u32_at = |b: &[u8], o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32_at(bytes, 20), 1, "link type must be Ethernet");
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= bytes.len() {
        let incl = u32_at(bytes, off + 8) as usize;
        off += 16;
        out.push(bytes[off..(off + incl).min(bytes.len())].to_vec());
        off += incl;
    }
    out
}

/// The PPP frame (protocol, information) inside an Ethernet / IPv4 / GRE
/// (RFC 2637 §4.1, enhanced GRE, version 1) frame, if it is one.
fn ppp_in_gre(frame: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut eth = frame.get(12..14)?;
    let mut l3 = frame.get(14..)?;
    if eth == [0x81, 0x00] {
        eth = frame.get(16..18)?;
        l3 = frame.get(18..)?;
    }
    if eth != [0x08, 0x00] || *l3.get(9)? != 47 {
        return None;
    }
    let gre = l3.get(usize::from(l3[0] & 0x0f) * 4..)?;
    let flags = u16::from_be_bytes([gre[0], gre[1]]);
    // RFC 2637: C, R, s must be zero, K set, version 1, protocol 0x880B.
    if flags & 0x0007 != 1 || flags & 0x2000 == 0 || gre.get(2..4)? != [0x88, 0x0b] {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([gre[4], gre[5]]));
    let mut hdr = 8;
    if flags & 0x1000 != 0 {
        hdr += 4; // sequence number
    }
    if flags & 0x0080 != 0 {
        hdr += 4; // acknowledgment number
    }
    if flags & 0x1000 == 0 {
        return None; // ack-only, no payload
    }
    let mut ppp = gre.get(hdr..hdr + payload_len).or_else(|| gre.get(hdr..))?;
    if ppp.starts_with(&[0xff, 0x03]) {
        ppp = &ppp[2..];
    }
    let (proto, info) = if ppp.first()? & 1 == 1 { (u16::from(ppp[0]), &ppp[1..]) } else { (u16::from_be_bytes([ppp[0], *ppp.get(1)?]), &ppp[2..]) };
    Some((proto, info.to_vec()))
}

/// One MS-CHAPv2 exchange seen in a capture.
#[derive(Debug)]
struct Exchange {
    authenticator_challenge: [u8; 16],
    user_name: Vec<u8>,
    response: ResponseValue,
    success: Option<Vec<u8>>,
}

fn mschapv2_exchanges(file: &str) -> Vec<Exchange> {
    let bytes = std::fs::read(corpus(file)).unwrap();
    let mut challenges: Vec<(u8, [u8; 16])> = Vec::new();
    let mut out: Vec<(u8, Exchange)> = Vec::new();
    for frame in pcap_frames(&bytes) {
        let Some((PROTO_CHAP, info)) = ppp_in_gre(&frame) else { continue };
        match ChapPacket::parse(&info).expect("CHAP packet of the capture decodes") {
            ChapPacket::Challenge { identifier, value, .. } => challenges.push((identifier, value.try_into().expect("16-octet MS-CHAPv2 challenge"))),
            ChapPacket::Response { identifier, value, name } => {
                let (_, auth) = *challenges.iter().rev().find(|(i, _)| *i == identifier).expect("Response follows its Challenge");
                let response = ResponseValue::parse(&value).expect("49-octet MS-CHAPv2 Response");
                out.push((identifier, Exchange { authenticator_challenge: auth, user_name: name, response, success: None }));
            }
            ChapPacket::Success { identifier, message } => {
                if let Some((_, e)) = out.iter_mut().rev().find(|(i, _)| *i == identifier) {
                    e.success = Some(message);
                }
            }
            ChapPacket::Failure { .. } => {}
        }
    }
    out.into_iter().map(|(_, e)| e).collect()
}

/// The candidates (from the file names and the usual suspects) whose
/// NT-Response verifies.
fn verifying_passwords(e: &Exchange, candidates: &[&str]) -> Vec<String> {
    let user = mschap::strip_domain(&e.user_name);
    candidates
        .iter()
        .filter(|p| mschap::generate_nt_response(&e.authenticator_challenge, &e.response.peer_challenge, user, p.as_bytes()) == e.response.nt_response)
        .map(|p| p.to_string())
        .collect()
}

const CANDIDATES: &[&str] =
    &["password", "lulu", "solar", "solarisalwaysbusy", "solarisalwaysbusy-pptp", "pptp", "chapcrack", "moxie", "test", "secret", "pptpd", "lulu-password"];

fn check_capture(file: &str, user: &str, password: &str) {
    let exchanges = mschapv2_exchanges(file);
    assert_eq!(exchanges.len(), 1, "{file}: one MS-CHAPv2 exchange");
    let e = &exchanges[0];
    assert_eq!(e.user_name, user.as_bytes());
    assert_eq!(verifying_passwords(e, CANDIDATES), [password], "{file}");
    // The authenticator response of the capture's Success checks too.
    let success = e.success.as_deref().expect("Success captured");
    let (s, text) = mschap::parse_success_message(success).unwrap();
    assert_eq!(text, Some(&b"Access granted"[..]));
    let r = &e.response;
    assert!(mschap::check_authenticator_response(password.as_bytes(), &r.nt_response, &r.peer_challenge, &e.authenticator_challenge, user.as_bytes(), s));
    assert!(!mschap::check_authenticator_response(b"wrong", &r.nt_response, &r.peer_challenge, &e.authenticator_challenge, user.as_bytes(), s));
    // And the backend accepts it with that authenticator response.
    let mut backend = SecretsBackend::new();
    backend.insert(user.as_bytes(), password.as_bytes());
    let proof = Proof::MsChapV2 {
        authenticator_challenge: e.authenticator_challenge,
        peer_challenge: r.peer_challenge,
        nt_response: r.nt_response,
        user_name: e.user_name.clone(),
    };
    let answer = backend.verify(&AuthRequest { method: AuthMethod::MsChapV2, peer_name: e.user_name.clone(), proof });
    let Answer::Now(Verdict::Accept(a)) = answer else { panic!("{file}: backend rejected") };
    assert_eq!(a.authenticator_response.as_deref().map(str::as_bytes), Some(s));
}

#[test]
fn john_lulu_capture_verifies_with_password() {
    check_capture("john-samples/lulu-password-pptp.pcap", "lulu", "password");
}

#[test]
fn john_solar_capture_verifies_with_solarisalwaysbusy() {
    check_capture("john-samples/solar-solarisalwaysbusy-pptp.pcap", "solar", "solarisalwaysbusy");
}

#[test]
fn chapcrack_capture_decodes_but_no_candidate_verifies() {
    // The chapcrack sample's password is not published with it: the
    // exchange decodes and is well formed, and none of the guesses verify.
    let exchanges = mschapv2_exchanges("chapcrack/pptp.cap");
    assert_eq!(exchanges.len(), 1);
    let e = &exchanges[0];
    assert_eq!(e.user_name, b"moxie");
    assert!(e.success.as_deref().is_some_and(|s| mschap::parse_success_message(s).is_ok()));
    assert_eq!(verifying_passwords(e, CANDIDATES), Vec::<String>::new());
}

#[test]
fn capture_lcp_asks_for_mschapv2() {
    // The LNS's LCP Configure-Request carries Authentication-Protocol C223 81.
    let bytes = std::fs::read(corpus("john-samples/lulu-password-pptp.pcap")).unwrap();
    let found = pcap_frames(&bytes).iter().filter_map(|f| ppp_in_gre(f)).any(|(proto, info)| {
        proto == 0xc021
            && info.first() == Some(&1)
            && info.windows(5).any(|w| w[0] == 3 && w[1] == 5 && AuthMethod::from_option_data(&w[2..]) == Ok(AuthMethod::MsChapV2))
    });
    assert!(found);
}

// ---------------------------------------------------------------- simulation

/// A machine of either side behind one interface.
trait Side {
    fn packet(&mut self, now: Instant, protocol: u16, bytes: &[u8]);
    fn timeout(&mut self, now: Instant);
    fn output(&mut self) -> Option<AuthOutput>;
    fn deadline(&self) -> Option<Instant>;
}

struct PapServer<B>(PapAuthenticator, B);
impl<B: AuthBackend> Side for PapServer<B> {
    fn packet(&mut self, now: Instant, protocol: u16, bytes: &[u8]) {
        assert_eq!(protocol, PROTO_PAP);
        self.0.handle_packet(now, bytes, &mut self.1).unwrap();
    }
    fn timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now)
    }
    fn output(&mut self) -> Option<AuthOutput> {
        self.0.poll_output()
    }
    fn deadline(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

impl Side for PapPeer {
    fn packet(&mut self, now: Instant, protocol: u16, bytes: &[u8]) {
        assert_eq!(protocol, PROTO_PAP);
        self.handle_packet(now, bytes).unwrap();
    }
    fn timeout(&mut self, now: Instant) {
        self.handle_timeout(now)
    }
    fn output(&mut self) -> Option<AuthOutput> {
        self.poll_output()
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
}

struct ChapServer<B>(ChapAuthenticator, B);
impl<B: AuthBackend> Side for ChapServer<B> {
    fn packet(&mut self, now: Instant, protocol: u16, bytes: &[u8]) {
        assert_eq!(protocol, PROTO_CHAP);
        self.0.handle_packet(now, bytes, &mut self.1).unwrap();
    }
    fn timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now)
    }
    fn output(&mut self) -> Option<AuthOutput> {
        self.0.poll_output()
    }
    fn deadline(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
}

impl Side for ChapPeer {
    fn packet(&mut self, now: Instant, protocol: u16, bytes: &[u8]) {
        assert_eq!(protocol, PROTO_CHAP);
        self.handle_packet(now, bytes).unwrap();
    }
    fn timeout(&mut self, now: Instant) {
        self.handle_timeout(now)
    }
    fn output(&mut self) -> Option<AuthOutput> {
        self.poll_output()
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
}

/// What a run produced.
#[derive(Debug, Default)]
struct Run {
    server_events: Vec<AuthEvent>,
    peer_events: Vec<AuthEvent>,
    /// Packets the server sent / the peer sent, dropped ones included.
    to_peer: Vec<Vec<u8>>,
    to_server: Vec<Vec<u8>>,
    /// Packets that reached the peer.
    delivered_to_peer: Vec<Vec<u8>>,
    elapsed: Duration,
}

/// Run both machines at virtual time until both have reported an event and
/// no packet is in flight (or nothing is left to do); `drop_to_peer` / `drop_to_server` are the indexes of the
/// packets (per direction) the network loses.
fn run(server: &mut dyn Side, peer: &mut dyn Side, start: Instant, drop_to_peer: &[usize], drop_to_server: &[usize]) -> Run {
    let mut r = Run::default();
    let mut now = start;
    for _ in 0..1000 {
        let mut progressed = false;
        while let Some(o) = server.output() {
            progressed = true;
            match o {
                AuthOutput::Send { protocol, packet } => {
                    let lost = drop_to_peer.contains(&r.to_peer.len());
                    r.to_peer.push(packet.clone());
                    if !lost {
                        r.delivered_to_peer.push(packet.clone());
                        peer.packet(now, protocol, &packet);
                    }
                }
                AuthOutput::Event(e) => r.server_events.push(e),
            }
        }
        while let Some(o) = peer.output() {
            progressed = true;
            match o {
                AuthOutput::Send { protocol, packet } => {
                    let lost = drop_to_server.contains(&r.to_server.len());
                    r.to_server.push(packet.clone());
                    if !lost {
                        server.packet(now, protocol, &packet);
                    }
                }
                AuthOutput::Event(e) => r.peer_events.push(e),
            }
        }
        if progressed {
            continue;
        }
        if !r.server_events.is_empty() && !r.peer_events.is_empty() {
            break;
        }
        let Some(next) = [server.deadline(), peer.deadline()].into_iter().flatten().min() else { break };
        now = now.max(next);
        server.timeout(now);
        peer.timeout(now);
    }
    r.elapsed = now - start;
    r
}

fn timers() -> AuthTimers {
    AuthTimers { restart: Duration::from_secs(3), max_transmits: 5, wait: Duration::from_secs(30) }
}

fn backend() -> SecretsBackend {
    let mut b = SecretsBackend::new();
    b.insert(b"alice", b"wonderland");
    b
}

/// A deterministic challenge source.
fn counter(seed: u8) -> Box<dyn ChallengeSource> {
    let mut n = seed;
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_mul(31).wrapping_add(7);
            *b = n;
        }
    })
}

fn chap_pair(method: AuthMethod, password: &[u8]) -> (ChapServer<SecretsBackend>, ChapPeer) {
    let sc = ChapAuthenticatorConfig { method, name: b"lns".to_vec(), timers: timers(), rechallenge: None };
    let pc = ChapPeerConfig { method, name: b"alice".to_vec(), secret: password.to_vec(), timers: timers() };
    (ChapServer(ChapAuthenticator::new(sc, counter(1)).unwrap(), backend()), ChapPeer::new(pc, counter(2)).unwrap())
}

fn pap_pair(password: &[u8]) -> (PapServer<SecretsBackend>, PapPeer) {
    (PapServer(PapAuthenticator::new(timers()), backend()), PapPeer::new(timers(), b"alice", password).unwrap())
}

fn run_chap(method: AuthMethod, password: &[u8], drop_to_peer: &[usize], drop_to_server: &[usize]) -> Run {
    let (mut s, mut p) = chap_pair(method, password);
    let t0 = Instant::now();
    p.start(t0);
    s.0.start(t0);
    run(&mut s, &mut p, t0, drop_to_peer, drop_to_server)
}

fn run_pap(password: &[u8], drop_to_peer: &[usize], drop_to_server: &[usize]) -> Run {
    let (mut s, mut p) = pap_pair(password);
    let t0 = Instant::now();
    s.0.start(t0);
    p.start(t0);
    run(&mut s, &mut p, t0, drop_to_peer, drop_to_server)
}

fn assert_success(r: &Run, method: AuthMethod) {
    assert_eq!(r.server_events, [AuthEvent::PeerAccepted { method, peer_name: b"alice".to_vec(), address: None }], "{r:?}");
    assert!(matches!(&r.peer_events[..], [AuthEvent::Accepted { method: m, message }] if *m == method && message == b"Access granted"), "{r:?}");
}

fn assert_wrong_password(r: &Run, method: AuthMethod) {
    assert!(matches!(&r.server_events[..], [AuthEvent::PeerRejected { method: m, reason: AuthFailure::Rejected(_), .. }] if *m == method), "{r:?}");
    assert!(matches!(&r.peer_events[..], [AuthEvent::Refused { method: m, reason: AuthFailure::Rejected(_) }] if *m == method), "{r:?}");
}

#[test]
fn chap_md5_success() {
    let r = run_chap(AuthMethod::ChapMd5, b"wonderland", &[], &[]);
    assert_success(&r, AuthMethod::ChapMd5);
    assert_eq!((r.to_peer.len(), r.to_server.len()), (2, 1), "Challenge, Response, Success");
    assert_eq!(r.elapsed, Duration::ZERO);
}

#[test]
fn mschapv2_success_checks_the_authenticator_response() {
    let r = run_chap(AuthMethod::MsChapV2, b"wonderland", &[], &[]);
    assert_success(&r, AuthMethod::MsChapV2);
    let Ok(ChapPacket::Success { message, .. }) = ChapPacket::parse(&r.to_peer[1]) else { panic!() };
    assert!(message.starts_with(b"S=") && message.ends_with(b" M=Access granted"));
}

#[test]
fn pap_success() {
    let r = run_pap(b"wonderland", &[], &[]);
    assert_success(&r, AuthMethod::Pap);
    assert_eq!((r.to_server.len(), r.to_peer.len()), (1, 1));
}

#[test]
fn wrong_password_fails_on_both_sides() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let r = run_chap(method, b"rabbit", &[], &[]);
        assert_wrong_password(&r, method);
        let last = ChapPacket::parse(r.delivered_to_peer.last().unwrap()).unwrap();
        assert!(matches!(last, ChapPacket::Failure { .. }), "{method}: peer saw {last:?}");
        if method == AuthMethod::MsChapV2 {
            let ChapPacket::Failure { message, .. } = last else { unreachable!() };
            let f = mschap::parse_failure_message(&message).unwrap();
            assert_eq!((f.error, f.retry, f.version), (691, false, Some(3)));
        }
    }
    let r = run_pap(b"rabbit", &[], &[]);
    assert_wrong_password(&r, AuthMethod::Pap);
    assert!(matches!(PapPacket::parse(r.delivered_to_peer.last().unwrap()), Ok(PapPacket::AuthenticateNak { .. })));
}

#[test]
fn unknown_user_is_rejected() {
    let sc = ChapAuthenticatorConfig { method: AuthMethod::ChapMd5, name: b"lns".to_vec(), timers: timers(), rechallenge: None };
    let pc = ChapPeerConfig { method: AuthMethod::ChapMd5, name: b"mallory".to_vec(), secret: b"wonderland".to_vec(), timers: timers() };
    let mut s = ChapServer(ChapAuthenticator::new(sc, counter(1)).unwrap(), backend());
    let mut p = ChapPeer::new(pc, counter(2)).unwrap();
    let t0 = Instant::now();
    p.start(t0);
    s.0.start(t0);
    let r = run(&mut s, &mut p, t0, &[], &[]);
    assert!(matches!(&r.peer_events[..], [AuthEvent::Refused { reason: AuthFailure::Rejected(_), .. }]));
    assert!(matches!(&r.server_events[..], [AuthEvent::PeerRejected { peer_name, .. }] if peer_name == b"mallory"));
}

#[test]
fn lost_challenge_and_response_are_retransmitted() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        // First Challenge lost, then the first Response lost.
        let r = run_chap(method, b"wonderland", &[0], &[0]);
        assert_success(&r, method);
        let ids: Vec<u8> = r.to_peer.iter().filter(|p| p[0] == 1).map(|p| p[1]).collect();
        assert_eq!(ids.len(), 3, "{method}: three Challenges");
        assert!(ids.iter().all(|&i| i == ids[0]), "{method}: same Identifier on retransmission");
        assert_eq!(r.to_peer.iter().filter(|p| p[0] == 1).collect::<std::collections::HashSet<_>>().len(), 1, "same Value");
        assert!(r.elapsed >= Duration::from_secs(6));
    }
}

#[test]
fn lost_success_is_sent_again_for_the_repeated_response() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let r = run_chap(method, b"wonderland", &[1], &[]);
        assert_success(&r, method);
        assert_eq!(r.to_server.len(), 2, "{method}: the peer repeated its Response");
        assert_eq!(r.to_server[0], r.to_server[1]);
        assert_eq!(r.to_peer[1], r.to_peer[2], "{method}: the same Success again");
    }
}

#[test]
fn pap_lost_request_and_ack_are_recovered() {
    let r = run_pap(b"wonderland", &[0], &[0]);
    assert_success(&r, AuthMethod::Pap);
    // Request lost, Request answered by a lost Ack, Request answered again.
    assert_eq!(r.to_server.len(), 3);
    let ids: Vec<u8> = r.to_server.iter().map(|p| p[1]).collect();
    assert_eq!(ids, [1, 2, 3], "a new Identifier for each transmission");
}

#[test]
fn silent_peer_times_out_after_max_transmits() {
    let (mut s, mut p) = chap_pair(AuthMethod::ChapMd5, b"wonderland");
    let t0 = Instant::now();
    s.0.start(t0);
    p.start(t0);
    let r = run(&mut s, &mut p, t0, &[0, 1, 2, 3, 4, 5], &[]);
    assert_eq!(r.to_peer.len(), 5);
    assert!(matches!(&r.server_events[..], [AuthEvent::PeerRejected { reason: AuthFailure::Timeout, .. }]));
    assert!(matches!(&r.peer_events[..], [AuthEvent::Refused { reason: AuthFailure::Timeout, .. }]));

    let (mut s, mut p) = pap_pair(b"wonderland");
    s.0.start(t0);
    p.start(t0);
    let r = run(&mut s, &mut p, t0, &[], &[0, 1, 2, 3, 4, 5]);
    assert_eq!(r.to_server.len(), 5);
    assert!(matches!(&r.peer_events[..], [AuthEvent::Refused { reason: AuthFailure::Timeout, .. }]));
    assert!(matches!(&r.server_events[..], [AuthEvent::PeerRejected { reason: AuthFailure::Timeout, .. }]));
}

#[test]
fn mschapv2_peer_refuses_a_wrong_authenticator_response() {
    // A backend that accepts anyone but cannot prove it knows the password.
    let liar = |_: &AuthRequest| Answer::Now(Verdict::Accept(Accept { authenticator_response: Some(format!("S={}", "0".repeat(40))), address: None }));
    let sc = ChapAuthenticatorConfig { method: AuthMethod::MsChapV2, name: b"lns".to_vec(), timers: timers(), rechallenge: None };
    let pc = ChapPeerConfig { method: AuthMethod::MsChapV2, name: b"alice".to_vec(), secret: b"wonderland".to_vec(), timers: timers() };
    let mut s = ChapServer(ChapAuthenticator::new(sc, counter(1)).unwrap(), liar);
    let mut p = ChapPeer::new(pc, counter(2)).unwrap();
    let t0 = Instant::now();
    p.start(t0);
    s.0.start(t0);
    let r = run(&mut s, &mut p, t0, &[], &[]);
    assert!(matches!(&r.server_events[..], [AuthEvent::PeerAccepted { .. }]));
    assert_eq!(r.peer_events, [AuthEvent::Refused { method: AuthMethod::MsChapV2, reason: AuthFailure::BadAuthenticatorResponse }]);
}

#[test]
fn pending_backend_answers_later() {
    for method in [AuthMethod::ChapMd5, AuthMethod::MsChapV2] {
        let mut seen: Vec<AuthRequest> = Vec::new();
        let sc = ChapAuthenticatorConfig { method, name: b"lns".to_vec(), timers: timers(), rechallenge: None };
        let mut a = ChapAuthenticator::new(sc, counter(1)).unwrap();
        let pc = ChapPeerConfig { method, name: b"alice".to_vec(), secret: b"wonderland".to_vec(), timers: timers() };
        let mut p = ChapPeer::new(pc, counter(2)).unwrap();
        let t0 = Instant::now();
        p.start(t0);
        a.start(t0);
        let Some(AuthOutput::Send { packet: challenge, .. }) = a.poll_output() else { panic!() };
        p.handle_packet(t0, &challenge).unwrap();
        let Some(AuthOutput::Send { packet: response, .. }) = p.poll_output() else { panic!() };
        a.handle_packet(t0, &response, &mut |r: &AuthRequest| {
            seen.push(r.clone());
            Answer::Pending
        })
        .unwrap();
        assert_eq!(a.poll_output(), None);
        assert_eq!(a.poll_timeout(), None, "no Challenge retransmission while pending");
        // The backend (a RADIUS server, say) decides one second later.
        let verdict = verdict_from_secret(&seen[0].proof, b"wonderland", Some("192.0.2.7".parse().unwrap()));
        a.handle_verdict(t0 + Duration::from_secs(1), verdict);
        let Some(AuthOutput::Send { packet: success, .. }) = a.poll_output() else { panic!() };
        assert_eq!(
            a.poll_output(),
            Some(AuthOutput::Event(AuthEvent::PeerAccepted { method, peer_name: b"alice".to_vec(), address: Some("192.0.2.7".parse().unwrap()) }))
        );
        p.handle_packet(t0 + Duration::from_secs(1), &success).unwrap();
        assert!(matches!(p.poll_output(), Some(AuthOutput::Event(AuthEvent::Accepted { .. }))));
    }
}

#[test]
fn rechallenge_when_enabled() {
    let sc = ChapAuthenticatorConfig { method: AuthMethod::ChapMd5, name: b"lns".to_vec(), timers: timers(), rechallenge: Some(Duration::from_secs(60)) };
    let pc = ChapPeerConfig { method: AuthMethod::ChapMd5, name: b"alice".to_vec(), secret: b"wonderland".to_vec(), timers: timers() };
    let mut s = ChapServer(ChapAuthenticator::new(sc, counter(1)).unwrap(), backend());
    let mut p = ChapPeer::new(pc, counter(2)).unwrap();
    let t0 = Instant::now();
    p.start(t0);
    s.0.start(t0);
    let first = run(&mut s, &mut p, t0, &[], &[]);
    assert_eq!(first.server_events.len(), 1);
    let again = s.0.poll_timeout().expect("re-challenge scheduled");
    assert_eq!(again, t0 + Duration::from_secs(60));
    s.0.handle_timeout(again);
    let second = run(&mut s, &mut p, again, &[], &[]);
    assert!(matches!(&second.server_events[..], [AuthEvent::PeerAccepted { .. }, ..]));
    assert!(matches!(&second.peer_events[..], [AuthEvent::Accepted { .. }, ..]));
    assert_ne!(first.to_peer[0][1], second.to_peer[0][1], "a new Identifier");
}

#[test]
fn pap_pending_backend_and_malformed_packets() {
    use proppp::proto::auth::AuthPacketError;
    use proppp::proto::chap::ChapAuthenticatorState;
    use proppp::proto::pap::{PapAuthenticatorState, PapPeerState};
    let t0 = Instant::now();
    let mut a = PapAuthenticator::new(timers());
    let mut p = PapPeer::new(timers(), b"alice", b"wonderland").unwrap();
    a.start(t0);
    p.start(t0);
    // Malformed input is refused with a typed error and changes nothing.
    let mut pending = |_: &AuthRequest| Answer::Pending;
    assert_eq!(a.handle_packet(t0, &[1, 1, 0, 9, 200], &mut pending), Err(AuthPacketError::BadLength { length: 9, available: 5 }));
    assert_eq!(a.state(), &PapAuthenticatorState::Listen);
    assert_eq!(p.handle_packet(t0, &[2, 1]), Err(AuthPacketError::Truncated(2)));
    assert_eq!(p.state(), PapPeerState::ReqSent);
    let Some(AuthOutput::Send { packet, .. }) = p.poll_output() else { panic!() };
    a.handle_packet(t0, &packet, &mut pending).unwrap();
    assert!(matches!(a.state(), PapAuthenticatorState::Pending { .. }));
    assert_eq!(a.poll_output(), None);
    a.handle_verdict(t0, Verdict::Reject { message: Some("account disabled".into()) });
    let Some(AuthOutput::Send { packet: nak, .. }) = a.poll_output() else { panic!() };
    assert_eq!(PapPacket::parse(&nak), Ok(PapPacket::AuthenticateNak { identifier: 1, message: b"account disabled".to_vec() }));
    p.handle_packet(t0, &nak).unwrap();
    assert_eq!(
        p.poll_output(),
        Some(AuthOutput::Event(AuthEvent::Refused { method: AuthMethod::Pap, reason: AuthFailure::Rejected(b"account disabled".to_vec()) }))
    );
    // A verdict nobody waits for is ignored.
    a.handle_verdict(t0, Verdict::Accept(Accept::default()));
    assert_eq!(a.state(), &PapAuthenticatorState::Failed);

    let (mut s, _) = chap_pair(AuthMethod::MsChapV2, b"x");
    s.0.start(t0);
    let id = s.0.identifier();
    // An MS-CHAPv2 Response whose Value is not 49 octets is a failure.
    let bad = ChapPacket::Response { identifier: id, value: vec![0; 16], name: b"alice".to_vec() }.encode().unwrap();
    s.0.handle_packet(t0, &bad, &mut backend()).unwrap();
    assert_eq!(s.0.state(), ChapAuthenticatorState::Failed);
}
