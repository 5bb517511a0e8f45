//! One PPP session: the link phases of RFC 1661 §3 tying LCP, PAP/CHAP
//! and the NCPs (IPCP, IPv6CP) together, sans-IO.
//!
//! ```text
//!  Dead ──open──▶ Establish ──LCP up──▶ Authenticate ──success──▶ Network
//!   ▲                │  (no auth: straight to Network)   │ failure     │
//!   └── Finished ◀── Terminate ◀─────────────────────────┴─────────────┘
//! ```
//!
//! A [`Link`] is fed channel frames (`handle_frame`), timeouts, the
//! administrative `open`/`close`, the lower layer going away and the verdict
//! of a pending authentication; it returns encoded frames
//! ([`Link::poll_transmit`]), [`LinkEvent`]s and its next deadline. It plays
//! both roles at once as LCP negotiated them: authenticator when the peer
//! agreed to authenticate itself (server), peer when it asked us to
//! (client). Frames are routed by protocol per phase (§3.4, §3.5): LCP
//! always; PAP/CHAP once LCP is Opened; IPCP/IPv6CP only in the Network
//! phase; IP/IPv6 data only once its NCP is Opened, returned to the caller
//! ([`LinkOutput::Data`]); any other protocol gets an LCP Protocol-Reject
//! (§5.7).
//!
//! Down reasons carry pppd's exit statuses where one maps (`pppd/pppd.h`
//! `EXIT_*`, e.g. as kept in RMerl/asuswrt-merlin
//! `release/src/router/pppd/pppd/pppd.h`), so tools that know pppd read
//! them the same way.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::auth::{AuthBackend, AuthEvent, AuthFailure, AuthMethod, AuthOutput, AuthTimers, ChallengeSource, Verdict};
use super::chap::{self, ChapAuthenticator, ChapAuthenticatorConfig, ChapPeer, ChapPeerConfig};
use super::frame::{protocol, Compression, Frame, Packet};
use super::fsm::{FsmEvent, Rng, SplitMix64, State};
use super::ipcp::{Ipcp, IpcpConfig, IpcpPolicy};
use super::ipv6cp::{Ipv6cp, Ipv6cpPolicy};
use super::lcp::{Lcp, LcpConfig, LcpEvent};
use super::pap::{self, PapAuthenticator, PapPeer};

/// The link phases of RFC 1661 §3.2–§3.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Link Dead (§3.2): before `open`, and after the link finished.
    Dead,
    /// Link Establishment (§3.3): LCP negotiating.
    Establish,
    /// Authentication (§3.4): LCP Opened, PAP/CHAP running.
    Authenticate,
    /// Network-Layer Protocol (§3.5): IPCP/IPv6CP negotiating or Opened.
    Network,
    /// Link Termination (§3.6): Terminate-Request sent or received.
    Terminate,
}

/// Why a link went down. [`DownReason::code`] gives pppd's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// Administrative close (pppd: `EXIT_USER_REQUEST`, 5).
    AdminClose,
    /// The peer sent Terminate-Request (pppd: `EXIT_OK`, 0, once a network
    /// protocol had come up; `EXIT_NEGOTIATION_FAILED`, 10, before).
    PeerTerminated,
    /// The lower layer (the L2TP session or PPPoE channel) went away
    /// (pppd: `EXIT_HANGUP`, 16).
    LowerDown,
    /// LCP gave up before Opened, or a Configure exchange failed
    /// (pppd: `EXIT_NEGOTIATION_FAILED`, 10).
    NegotiationFailed,
    /// Every NCP stopped (pppd "No network protocols running": 0 once one
    /// had come up, 10 before).
    NoNetworkProtocols,
    /// The peer failed to authenticate itself, refused every method we
    /// require, or never answered (pppd: `EXIT_PEER_AUTH_FAILED`, 11).
    PeerAuthFailed,
    /// We failed to authenticate ourselves to the peer
    /// (pppd: `EXIT_AUTH_TOPEER_FAILED`, 19).
    AuthToPeerFailed,
    /// No data for the idle timeout (pppd: `EXIT_IDLE_TIMEOUT`, 12).
    IdleTimeout,
    /// The maximum session time passed (pppd: `EXIT_CONNECT_TIME`, 13).
    MaxSessionTime,
    /// Echo-Requests went unanswered (pppd: `EXIT_PEER_DEAD`, 15).
    PeerDead,
}

/// The registry of down reasons (STYLE.md rule 2): reason, pppd exit
/// status once a network protocol had come up, status before, and the text
/// that goes in our Terminate-Request.
const DOWN_REASONS: &[(DownReason, u8, u8, &str)] = &[
    (DownReason::AdminClose, 5, 5, "Administrative close"),
    (DownReason::PeerTerminated, 0, 10, "Terminated by peer"),
    (DownReason::LowerDown, 16, 16, "Lower layer down"),
    (DownReason::NegotiationFailed, 10, 10, "Negotiation failed"),
    (DownReason::NoNetworkProtocols, 0, 10, "No network protocols running"),
    (DownReason::PeerAuthFailed, 11, 11, "Authentication failed"),
    (DownReason::AuthToPeerFailed, 19, 19, "Failed to authenticate ourselves to peer"),
    (DownReason::IdleTimeout, 12, 12, "Link inactive"),
    (DownReason::MaxSessionTime, 13, 13, "Connect time expired"),
    (DownReason::PeerDead, 15, 15, "Peer not responding"),
];

impl DownReason {
    fn entry(self) -> (u8, u8, &'static str) {
        DOWN_REASONS.iter().find(|e| e.0 == self).map_or((1, 1, "Error"), |e| (e.1, e.2, e.3))
    }

    /// pppd's exit status for this reason; `network_reached` says whether a
    /// network protocol had come up (pppd's `np_up` sets `EXIT_OK`).
    pub fn code(self, network_reached: bool) -> u8 {
        let (up, before, _) = self.entry();
        if network_reached {
            up
        } else {
            before
        }
    }

    /// The text of our Terminate-Request for this reason.
    pub fn message(self) -> &'static str {
        self.entry().2
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Which side of an authentication an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRole {
    /// We verified the peer (server).
    Authenticator,
    /// The peer verified us (client).
    Peer,
}

/// What a link reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// One direction of authentication succeeded (RFC 1334 §2.2.2, RFC 1994
    /// §4.2). `name` is the peer's PAP Peer-ID / CHAP Name as authenticator,
    /// our own user name as peer.
    Authenticated {
        /// Which direction.
        role: AuthRole,
        /// The method.
        method: AuthMethod,
        /// The authenticated identity.
        name: Vec<u8>,
    },
    /// One direction of authentication failed; a [`LinkEvent::Down`]
    /// follows.
    AuthFailed {
        /// Which direction.
        role: AuthRole,
        /// The method.
        method: AuthMethod,
        /// Why.
        reason: AuthFailure,
    },
    /// IPCP is Opened (RFC 1332): addresses as acknowledged, DNS servers the
    /// peer gave us (RFC 1877).
    NetworkUp {
        /// Our address.
        local_ip: Option<Ipv4Addr>,
        /// The peer's address.
        peer_ip: Option<Ipv4Addr>,
        /// Primary and secondary DNS servers received.
        dns: [Option<Ipv4Addr>; 2],
    },
    /// IPv6CP is Opened (RFC 5072 §4.1): the interface identifiers.
    Ipv6Up {
        /// Our interface identifier.
        local_id: u64,
        /// The peer's interface identifier.
        peer_id: u64,
    },
    /// The link is going down (emitted once, when the decision is made or
    /// seen); `reason_code` is pppd's exit status for it.
    Down {
        /// Why.
        reason: DownReason,
        /// pppd's exit status.
        reason_code: u8,
    },
    /// The link is in the Dead phase (RFC 1661 §3.2, after This-Layer-
    /// Finished): the channel may be released. Emitted once.
    Finished,
}

/// Why [`Link::handle_frame`] dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The frame, or its control packet, did not decode.
    Malformed,
    /// The link is Dead (not opened, or finished).
    Dead,
    /// A control packet not allowed in the current phase (RFC 1661 §3.4,
    /// §3.5: silently discarded), or for an authentication not negotiated.
    WrongPhase,
    /// IP/IPv6 data before its NCP is Opened.
    NotNetwork,
    /// A protocol the link does not run: Protocol-Rejected when LCP is
    /// Opened (RFC 1661 §5.7), discarded otherwise.
    UnknownProtocol,
}

/// What [`Link::handle_frame`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutput<'a> {
    /// A control packet, handled.
    Control,
    /// IP or IPv6 data for the kernel or TUN device: the Protocol field and
    /// the packet, borrowed from the input frame.
    Data {
        /// [`protocol::IP`] or [`protocol::IPV6`].
        protocol: u16,
        /// The network-layer packet.
        payload: &'a [u8],
    },
    /// Dropped, and counted in [`LinkStats::rx_dropped`].
    Dropped(DropReason),
}

/// Counters of one link. Octets are whole channel frames (PPP header
/// included), control and data alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Octets received.
    pub rx_octets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Octets sent.
    pub tx_octets: u64,
    /// Frames received and dropped (see [`DropReason`]).
    pub rx_dropped: u64,
    /// Data packets (IP/IPv6) received and passed up.
    pub rx_data_packets: u64,
    /// Data packets (IP/IPv6) sent.
    pub tx_data_packets: u64,
}

/// Everything a session needs to know (a `[profile]` of propppd.conf,
/// resolved).
#[derive(Clone)]
pub struct LinkConfig {
    /// LCP: MRU, methods required of the peer (server) and accepted from it
    /// (client), in order of preference, Magic-Number, PFC/ACFC, Echo
    /// interval and failures, restart timer and counters (also used for
    /// the NCPs).
    pub lcp: LcpConfig,
    /// Our Name in CHAP Challenges (as authenticator).
    pub name: Vec<u8>,
    /// Our user name (PAP Peer-ID, CHAP Name) as peer; at most 255 octets
    /// for PAP.
    pub user: Vec<u8>,
    /// Our password as peer.
    pub password: Vec<u8>,
    /// Restart interval, Max-Configure and wait of PAP/CHAP.
    pub auth_timers: AuthTimers,
    /// IPCP: our address (or ask), the peer's (or accept its own; the
    /// authentication verdict's static address wins over both), DNS
    /// servers to give, whether to ask for DNS.
    pub ipcp: IpcpConfig,
    /// Whether to run IPv6CP; when off, the peer's IPv6CP is
    /// Protocol-Rejected.
    pub ipv6: bool,
    /// A fixed IPv6 interface identifier; `None` draws random ones.
    pub ipv6_id: Option<u64>,
    /// End the link after this long without data (pppd `idle`); counted
    /// from the first NCP up.
    pub idle_timeout: Option<Duration>,
    /// End the link this long after the first NCP came up (pppd
    /// `maxconnect`).
    pub max_session: Option<Duration>,
}

impl fmt::Debug for LinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkConfig")
            .field("lcp", &self.lcp)
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("ipcp", &self.ipcp)
            .field("ipv6", &self.ipv6)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_session", &self.max_session)
            .finish_non_exhaustive()
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            lcp: LcpConfig::default(),
            name: Vec::new(),
            user: Vec::new(),
            password: Vec::new(),
            auth_timers: AuthTimers::default(),
            ipcp: IpcpConfig::default(),
            ipv6: true,
            ipv6_id: None,
            idle_timeout: None,
            max_session: None,
        }
    }
}

/// The authenticator machine LCP negotiated.
#[derive(Debug)]
enum Authenticator {
    Pap(PapAuthenticator),
    Chap(ChapAuthenticator),
}

/// The peer machine LCP negotiated.
#[derive(Debug)]
enum AuthPeer {
    Pap(PapPeer),
    Chap(ChapPeer),
}

/// State of one direction of authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthState {
    /// Not negotiated, or succeeded.
    Done,
    /// Running.
    Pending(AuthMethod),
}

/// One PPP session (RFC 1661 §3), both roles.
pub struct Link {
    config: LinkConfig,
    phase: Phase,
    lcp: Lcp,
    ipcp: Ipcp,
    ipv6cp: Ipv6cp,
    backend: Box<dyn AuthBackend>,
    challenges: Rc<RefCell<Box<dyn ChallengeSource>>>,
    authenticator: Option<Authenticator>,
    auth_peer: Option<AuthPeer>,
    auth_of_peer: AuthState,
    auth_of_us: AuthState,
    peer_name: Option<Vec<u8>>,
    down: Option<DownReason>,
    network_up_at: Option<Instant>,
    ended_at: Option<Instant>,
    last_activity: Option<Instant>,
    stats: LinkStats,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<LinkEvent>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("phase", &self.phase)
            .field("lcp", &self.lcp.state())
            .field("ipcp", &self.ipcp.state())
            .field("ipv6cp", &self.ipv6cp.state())
            .field("down", &self.down)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link in the Dead phase. `backend` verifies peers (it may answer
    /// [`super::auth::Answer::Pending`]; see [`Link::handle_verdict`]);
    /// `rng` draws Magic-Numbers and interface identifiers; `challenges`
    /// draws CHAP challenges and MS-CHAPv2 Peer-Challenges (a CSPRNG in the
    /// daemon).
    pub fn new(config: LinkConfig, backend: Box<dyn AuthBackend>, mut rng: Box<dyn Rng>, challenges: Box<dyn ChallengeSource>) -> Link {
        let fsm = config.lcp.fsm;
        let v6_rng = SplitMix64(rng.next_u64());
        Link {
            lcp: Lcp::new(config.lcp.clone(), rng),
            ipcp: Ipcp::new(IpcpPolicy::new(config.ipcp), fsm),
            ipv6cp: Ipv6cp::new(Ipv6cpPolicy::new(config.ipv6_id, Box::new(v6_rng)), fsm),
            config,
            phase: Phase::Dead,
            backend,
            challenges: Rc::new(RefCell::new(challenges)),
            authenticator: None,
            auth_peer: None,
            auth_of_peer: AuthState::Done,
            auth_of_us: AuthState::Done,
            peer_name: None,
            down: None,
            network_up_at: None,
            ended_at: None,
            last_activity: None,
            stats: LinkStats::default(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// LCP, with its state and negotiated values.
    pub fn lcp(&self) -> &Lcp {
        &self.lcp
    }

    /// IPCP, with its state and negotiated values.
    pub fn ipcp(&self) -> &Ipcp {
        &self.ipcp
    }

    /// IPv6CP, with its state and negotiated values.
    pub fn ipv6cp(&self) -> &Ipv6cp {
        &self.ipv6cp
    }

    /// The counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Why the link went down, once it did.
    pub fn down_reason(&self) -> Option<DownReason> {
        self.down
    }

    /// The name the peer authenticated with (as authenticator), once it did.
    pub fn peer_name(&self) -> Option<&[u8]> {
        self.peer_name.as_deref()
    }

    /// Time from the first NCP up to the end of the link (or `now` while it
    /// lasts); zero when no NCP came up.
    pub fn connect_time(&self, now: Instant) -> Duration {
        match self.network_up_at {
            Some(up) => self.ended_at.unwrap_or(now).saturating_duration_since(up),
            None => Duration::ZERO,
        }
    }

    /// Changes the address assigned to the peer (e.g. from the pool) before
    /// IPCP negotiates; the authentication verdict's static address still
    /// wins.
    pub fn set_peer_addr(&mut self, addr: Option<Ipv4Addr>) {
        self.ipcp.policy_mut().set_peer_addr(addr);
    }

    /// Administrative Open with the lower layer up (RFC 1661 §3.2 → §3.3):
    /// LCP sends its Configure-Request. Only from Dead before the link ever
    /// ran; later calls do nothing.
    pub fn open(&mut self, now: Instant) {
        if self.phase != Phase::Dead || self.down.is_some() {
            return;
        }
        self.phase = Phase::Establish;
        self.lcp.open(now);
        self.lcp.up(now);
        self.pump(now);
    }

    /// Administrative Close (RFC 1661 §3.6): `reason` is reported in
    /// [`LinkEvent::Down`] and its text sent in the Terminate-Request.
    pub fn close(&mut self, now: Instant, reason: DownReason) {
        self.terminate(now, reason);
        self.pump(now);
    }

    /// The lower layer went away (RFC 1661 §4.3 Down): the link goes Dead
    /// at once, without Terminate packets.
    pub fn lower_down(&mut self, now: Instant) {
        if self.phase == Phase::Dead {
            return;
        }
        self.report_down(now, DownReason::LowerDown);
        self.lcp.down(now);
        self.pump(now);
        self.enter_dead(now);
    }

    /// The verdict of an authentication the backend answered
    /// [`super::auth::Answer::Pending`] for; ignored unless one is pending.
    pub fn handle_verdict(&mut self, now: Instant, verdict: Verdict) {
        match &mut self.authenticator {
            Some(Authenticator::Pap(a)) => a.handle_verdict(now, verdict),
            Some(Authenticator::Chap(a)) => a.handle_verdict(now, verdict),
            None => return,
        }
        self.pump(now);
    }

    /// A frame as it arrived on the channel (RFC 1662 §3 header optional,
    /// Protocol field compressed or not). Never panics; malformed input is
    /// dropped and counted.
    pub fn handle_frame<'a>(&mut self, now: Instant, bytes: &'a [u8]) -> LinkOutput<'a> {
        self.stats.rx_packets = self.stats.rx_packets.saturating_add(1);
        self.stats.rx_octets = self.stats.rx_octets.saturating_add(bytes.len() as u64);
        let output = self.route(now, bytes);
        match output {
            LinkOutput::Dropped(_) => self.stats.rx_dropped = self.stats.rx_dropped.saturating_add(1),
            LinkOutput::Data { .. } => {
                self.stats.rx_data_packets = self.stats.rx_data_packets.saturating_add(1);
                self.last_activity = Some(now);
            }
            LinkOutput::Control => {}
        }
        self.pump(now);
        output
    }

    /// Queues an IP or IPv6 packet for the peer (the userspace data path).
    /// Returns false, sending nothing, unless the link is in the Network
    /// phase with that protocol's NCP Opened.
    pub fn send_data(&mut self, now: Instant, protocol: u16, payload: &[u8]) -> bool {
        if !self.data_allowed(protocol) {
            return false;
        }
        self.queue_frame(protocol, payload);
        self.stats.tx_data_packets = self.stats.tx_data_packets.saturating_add(1);
        self.last_activity = Some(now);
        true
    }

    /// Data moved outside the link (the kernel data path): resets the idle
    /// timer.
    pub fn note_activity(&mut self, now: Instant) {
        if self.network_up_at.is_some() {
            self.last_activity = Some(now);
        }
    }

    /// Timers: LCP restart and keepalive, NCP restart, PAP/CHAP
    /// retransmission, idle timeout and maximum session time. An early or
    /// stale call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Dead {
            return;
        }
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        self.ipv6cp.handle_timeout(now);
        match &mut self.authenticator {
            Some(Authenticator::Pap(a)) => a.handle_timeout(now),
            Some(Authenticator::Chap(a)) => a.handle_timeout(now),
            None => {}
        }
        match &mut self.auth_peer {
            Some(AuthPeer::Pap(p)) => p.handle_timeout(now),
            Some(AuthPeer::Chap(p)) => p.handle_timeout(now),
            None => {}
        }
        if self.down.is_none() {
            if self.session_deadline().is_some_and(|d| now >= d) {
                self.terminate(now, DownReason::MaxSessionTime);
            } else if self.idle_deadline().is_some_and(|d| now >= d) {
                self.terminate(now, DownReason::IdleTimeout);
            }
        }
        self.pump(now);
    }

    /// The next encoded frame to send on the channel, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// When [`Link::handle_timeout`] is next due; `None` when Dead.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Dead {
            return None;
        }
        let auth = match &self.authenticator {
            Some(Authenticator::Pap(a)) => a.poll_timeout(),
            Some(Authenticator::Chap(a)) => a.poll_timeout(),
            None => None,
        };
        let peer = match &self.auth_peer {
            Some(AuthPeer::Pap(p)) => p.poll_timeout(),
            Some(AuthPeer::Chap(p)) => p.poll_timeout(),
            None => None,
        };
        let limits = if self.down.is_none() { [self.session_deadline(), self.idle_deadline()] } else { [None, None] };
        [self.lcp.poll_timeout(), self.ipcp.poll_timeout(), self.ipv6cp.poll_timeout(), auth, peer].into_iter().chain(limits).flatten().min()
    }

    fn session_deadline(&self) -> Option<Instant> {
        self.network_up_at?.checked_add(self.config.max_session?)
    }

    fn idle_deadline(&self) -> Option<Instant> {
        self.last_activity.or(self.network_up_at)?.checked_add(self.config.idle_timeout?)
    }

    /// Routes one frame by protocol and phase (RFC 1661 §3.4, §3.5, §5.7).
    fn route<'a>(&mut self, now: Instant, bytes: &'a [u8]) -> LinkOutput<'a> {
        use LinkOutput::Dropped;
        if self.phase == Phase::Dead {
            return Dropped(DropReason::Dead);
        }
        let Ok(frame) = Frame::decode(bytes) else {
            return Dropped(DropReason::Malformed);
        };
        let ncp_phase = self.phase == Phase::Network;
        match frame.protocol {
            protocol::LCP => match Packet::parse(frame.payload) {
                Ok(packet) => {
                    self.lcp.handle_packet(now, &packet);
                    LinkOutput::Control
                }
                Err(_) => Dropped(DropReason::Malformed),
            },
            protocol::PAP | protocol::CHAP => self.route_auth(now, frame.protocol, frame.payload),
            protocol::IPCP if ncp_phase => Self::ncp_packet(now, &mut self.ipcp, frame.payload),
            protocol::IPV6CP if ncp_phase && self.config.ipv6 => Self::ncp_packet(now, &mut self.ipv6cp, frame.payload),
            protocol::IPCP => Dropped(DropReason::WrongPhase),
            protocol::IPV6CP if self.config.ipv6 => Dropped(DropReason::WrongPhase),
            p @ (protocol::IP | protocol::IPV6) if self.data_allowed(p) => LinkOutput::Data { protocol: p, payload: frame.payload },
            protocol::IP | protocol::IPV6 => Dropped(DropReason::NotNetwork),
            p => {
                self.lcp.handle_unknown_protocol(p, frame.payload);
                Dropped(DropReason::UnknownProtocol)
            }
        }
    }

    fn ncp_packet<P: super::fsm::ConfigPolicy>(now: Instant, ncp: &mut super::fsm::Fsm<P>, payload: &[u8]) -> LinkOutput<'static> {
        match Packet::parse(payload) {
            Ok(packet) => {
                ncp.handle_packet(now, &packet);
                LinkOutput::Control
            }
            Err(_) => LinkOutput::Dropped(DropReason::Malformed),
        }
    }

    /// PAP/CHAP packets go to the machine their Code is meant for: requests
    /// and responses to the authenticator, the rest to the peer (RFC 1334
    /// §2.2, RFC 1994 §4). Only once LCP is Opened (RFC 1661 §3.4).
    fn route_auth<'a>(&mut self, now: Instant, proto: u16, payload: &[u8]) -> LinkOutput<'a> {
        let dropped = LinkOutput::Dropped(DropReason::WrongPhase);
        if !matches!(self.phase, Phase::Authenticate | Phase::Network | Phase::Terminate) {
            return dropped;
        }
        let code = payload.first().copied().unwrap_or(0);
        let to_authenticator = match proto {
            protocol::PAP => code == pap::CODE_AUTHENTICATE_REQUEST,
            _ => code == chap::CODE_RESPONSE,
        };
        let result = match (to_authenticator, &mut self.authenticator, &mut self.auth_peer) {
            (true, Some(Authenticator::Pap(a)), _) if proto == protocol::PAP => a.handle_packet(now, payload, self.backend.as_mut()),
            (true, Some(Authenticator::Chap(a)), _) if proto == protocol::CHAP => a.handle_packet(now, payload, self.backend.as_mut()),
            (false, _, Some(AuthPeer::Pap(p))) if proto == protocol::PAP => p.handle_packet(now, payload),
            (false, _, Some(AuthPeer::Chap(p))) if proto == protocol::CHAP => p.handle_packet(now, payload),
            _ => return dropped,
        };
        match result {
            Ok(()) => LinkOutput::Control,
            Err(_) => LinkOutput::Dropped(DropReason::Malformed),
        }
    }

    fn data_allowed(&self, proto: u16) -> bool {
        self.phase == Phase::Network
            && match proto {
                protocol::IP => self.ipcp.state() == State::Opened,
                protocol::IPV6 => self.config.ipv6 && self.ipv6cp.state() == State::Opened,
                _ => false,
            }
    }

    /// Encodes a frame with the header compression the peer agreed to (LCP
    /// never compressed: [`Frame::encode`]) and queues it.
    fn queue_frame(&mut self, proto: u16, payload: &[u8]) {
        let tx = if self.lcp.state() == State::Opened { self.lcp.negotiated().tx } else { Compression::default() };
        let mut bytes = Vec::with_capacity(payload.len().saturating_add(4));
        Frame::encode(proto, payload, tx, &mut bytes);
        self.stats.tx_packets = self.stats.tx_packets.saturating_add(1);
        self.stats.tx_octets = self.stats.tx_octets.saturating_add(bytes.len() as u64);
        self.transmit.push_back(bytes);
    }

    fn queue_packet(&mut self, proto: u16, packet: &Packet) {
        if let Ok(bytes) = packet.to_bytes() {
            self.queue_frame(proto, &bytes);
        }
    }

    /// Moves every machine's packets and events along until nothing is
    /// left, in an order that keeps replies before what they trigger (an
    /// LCP Configure-Ack before the first Challenge, a CHAP Failure before
    /// the Terminate-Request).
    fn pump(&mut self, now: Instant) {
        // Each round either moves something or stops; the bound only guards
        // against a machine that would keep producing forever.
        for _ in 0..64 {
            let mut work = false;
            while let Some(p) = self.lcp.poll_transmit() {
                self.queue_packet(protocol::LCP, &p);
                work = true;
            }
            while let Some(e) = self.lcp.poll_event() {
                self.on_lcp_event(now, e);
                work = true;
            }
            work |= self.drain_auth(now);
            while let Some(p) = self.ipcp.poll_transmit() {
                self.queue_packet(protocol::IPCP, &p);
                work = true;
            }
            while let Some(p) = self.ipv6cp.poll_transmit() {
                self.queue_packet(protocol::IPV6CP, &p);
                work = true;
            }
            while let Some(e) = self.ipcp.poll_event() {
                self.on_ncp_event(now, protocol::IPCP, e);
                work = true;
            }
            while let Some(e) = self.ipv6cp.poll_event() {
                self.on_ncp_event(now, protocol::IPV6CP, e);
                work = true;
            }
            if !work {
                break;
            }
        }
        self.settle(now);
    }

    /// LCP's events: the phase transitions of RFC 1661 §3.3–§3.6.
    fn on_lcp_event(&mut self, now: Instant, event: LcpEvent) {
        match event {
            LcpEvent::Fsm(FsmEvent::Up) => self.lcp_up(now),
            LcpEvent::Fsm(FsmEvent::Down) => self.lcp_down(now),
            LcpEvent::Fsm(FsmEvent::Starting | FsmEvent::Finished) => {}
            LcpEvent::LinkDead => self.report_down(now, DownReason::PeerDead),
            LcpEvent::AuthRefused => self.report_down(now, DownReason::PeerAuthFailed),
            LcpEvent::ProtocolRejected(p) => {
                // §5.7: stop the rejected protocol at once (RXJ-).
                if p == protocol::IPCP {
                    self.ipcp.handle_reject(now, true);
                } else if p == protocol::IPV6CP {
                    self.ipv6cp.handle_reject(now, true);
                }
            }
            LcpEvent::LoopedBack => {}
        }
    }

    /// This-Layer-Up of LCP: Authenticate when either side asked for it,
    /// else Network (RFC 1661 §3.4).
    fn lcp_up(&mut self, now: Instant) {
        if self.down.is_some() {
            return;
        }
        let negotiated = *self.lcp.negotiated();
        self.authenticator = None;
        self.auth_peer = None;
        self.auth_of_peer = AuthState::Done;
        self.auth_of_us = AuthState::Done;
        if let Some(p) = negotiated.auth_of_peer {
            self.start_authenticator(now, p);
        }
        if let Some(p) = negotiated.auth_of_us {
            self.start_auth_peer(now, p);
        }
        if self.down.is_some() {
            return;
        }
        self.phase = Phase::Authenticate;
        self.check_auth_done(now);
    }

    fn source(&self) -> Box<dyn ChallengeSource> {
        let shared = Rc::clone(&self.challenges);
        Box::new(move |buf: &mut [u8]| {
            if let Ok(mut s) = shared.try_borrow_mut() {
                s.fill(buf);
            }
        })
    }

    fn start_authenticator(&mut self, now: Instant, method: AuthMethod) {
        let timers = self.config.auth_timers;
        let machine = match method {
            AuthMethod::Pap => Ok(Authenticator::Pap(PapAuthenticator::new(timers))),
            _ => {
                let config = ChapAuthenticatorConfig { method, name: self.config.name.clone(), timers, rechallenge: None };
                ChapAuthenticator::new(config, self.source()).map(Authenticator::Chap)
            }
        };
        match machine {
            Ok(mut m) => {
                match &mut m {
                    Authenticator::Pap(a) => a.start(now),
                    Authenticator::Chap(a) => a.start(now),
                }
                self.authenticator = Some(m);
                self.auth_of_peer = AuthState::Pending(method);
            }
            Err(_) => self.terminate(now, DownReason::PeerAuthFailed),
        }
    }

    fn start_auth_peer(&mut self, now: Instant, method: AuthMethod) {
        let timers = self.config.auth_timers;
        let machine = match method {
            AuthMethod::Pap => PapPeer::new(timers, &self.config.user, &self.config.password).map(AuthPeer::Pap).ok(),
            _ => {
                let config = ChapPeerConfig { method, name: self.config.user.clone(), secret: self.config.password.clone(), timers };
                ChapPeer::new(config, self.source()).map(AuthPeer::Chap).ok()
            }
        };
        match machine {
            Some(mut m) => {
                match &mut m {
                    AuthPeer::Pap(p) => p.start(now),
                    AuthPeer::Chap(p) => p.start(now),
                }
                self.auth_peer = Some(m);
                self.auth_of_us = AuthState::Pending(method);
            }
            None => self.terminate(now, DownReason::AuthToPeerFailed),
        }
    }

    /// This-Layer-Down of LCP: the NCPs go down with it (RFC 1661 §3.5);
    /// either the link is terminating (§3.6) or LCP renegotiates (§3.3).
    fn lcp_down(&mut self, now: Instant) {
        self.ipcp.down(now);
        self.ipv6cp.down(now);
        let terminating = matches!(self.lcp.state(), State::Closing | State::Stopping);
        if terminating && self.down.is_none() {
            // A Terminate-Request from the authenticator while it still
            // judges us is how it tells us we failed (RFC 1994 §4.2).
            let reason = if matches!(self.auth_of_us, AuthState::Pending(_)) && self.phase == Phase::Authenticate {
                DownReason::AuthToPeerFailed
            } else {
                DownReason::PeerTerminated
            };
            self.report_down(now, reason);
        }
        self.authenticator = None;
        self.auth_peer = None;
        if self.phase != Phase::Terminate {
            self.phase = Phase::Establish;
        }
    }

    fn drain_auth(&mut self, now: Instant) -> bool {
        let mut work = false;
        loop {
            let out = match &mut self.authenticator {
                Some(Authenticator::Pap(a)) => a.poll_output(),
                Some(Authenticator::Chap(a)) => a.poll_output(),
                None => None,
            };
            let out = match out {
                Some(o) => Some(o),
                None => match &mut self.auth_peer {
                    Some(AuthPeer::Pap(p)) => p.poll_output(),
                    Some(AuthPeer::Chap(p)) => p.poll_output(),
                    None => None,
                },
            };
            match out {
                Some(AuthOutput::Send { protocol, packet }) => self.queue_frame(protocol, &packet),
                Some(AuthOutput::Event(e)) => self.on_auth_event(now, e),
                None => return work,
            }
            work = true;
        }
    }

    /// Results of PAP/CHAP: success in every direction → Network; any
    /// failure → Terminate (RFC 1661 §3.4; the machine already sent the
    /// Failure / Authenticate-Nak).
    fn on_auth_event(&mut self, now: Instant, event: AuthEvent) {
        match event {
            AuthEvent::PeerAccepted { method, peer_name, address } => {
                if address.is_some() {
                    self.ipcp.policy_mut().set_peer_addr(address);
                }
                self.peer_name = Some(peer_name.clone());
                self.auth_of_peer = AuthState::Done;
                self.events.push_back(LinkEvent::Authenticated { role: AuthRole::Authenticator, method, name: peer_name });
                self.check_auth_done(now);
            }
            AuthEvent::Accepted { method, .. } => {
                self.auth_of_us = AuthState::Done;
                self.events.push_back(LinkEvent::Authenticated { role: AuthRole::Peer, method, name: self.config.user.clone() });
                self.check_auth_done(now);
            }
            AuthEvent::PeerRejected { method, reason, .. } => {
                if self.down.is_none() {
                    self.events.push_back(LinkEvent::AuthFailed { role: AuthRole::Authenticator, method, reason });
                }
                self.terminate(now, DownReason::PeerAuthFailed);
            }
            AuthEvent::Refused { method, reason } => {
                if self.down.is_none() {
                    self.events.push_back(LinkEvent::AuthFailed { role: AuthRole::Peer, method, reason });
                }
                self.terminate(now, DownReason::AuthToPeerFailed);
            }
        }
    }

    /// Authenticate → Network once no direction is pending (RFC 1661 §3.5):
    /// the NCPs are opened.
    fn check_auth_done(&mut self, now: Instant) {
        if self.phase != Phase::Authenticate || self.down.is_some() {
            return;
        }
        if self.auth_of_peer != AuthState::Done || self.auth_of_us != AuthState::Done {
            return;
        }
        self.phase = Phase::Network;
        self.ipcp.open(now);
        self.ipcp.up(now);
        if self.config.ipv6 {
            self.ipv6cp.open(now);
            self.ipv6cp.up(now);
        }
    }

    /// NCP events: report addresses on This-Layer-Up; when every NCP has
    /// finished, the link has nothing left to carry (pppd "No network
    /// protocols running").
    fn on_ncp_event(&mut self, now: Instant, proto: u16, event: FsmEvent) {
        match event {
            FsmEvent::Up => {
                if self.network_up_at.is_none() {
                    self.network_up_at = Some(now);
                }
                let event = if proto == protocol::IPCP {
                    let n = self.ipcp.policy().negotiated();
                    LinkEvent::NetworkUp { local_ip: n.local_addr, peer_ip: n.peer_addr, dns: n.dns }
                } else {
                    let n = self.ipv6cp.policy().negotiated();
                    LinkEvent::Ipv6Up { local_id: n.local_id, peer_id: n.peer_id }
                };
                self.events.push_back(event);
            }
            FsmEvent::Finished if self.phase == Phase::Network && self.down.is_none() => {
                let alive = |s: State| matches!(s, State::ReqSent | State::AckRcvd | State::AckSent | State::Opened);
                let v6_alive = self.config.ipv6 && alive(self.ipv6cp.state());
                if !alive(self.ipcp.state()) && !v6_alive {
                    self.terminate(now, DownReason::NoNetworkProtocols);
                }
            }
            _ => {}
        }
    }

    /// Decides to end the link: reports [`LinkEvent::Down`] once and closes
    /// LCP with the reason's text (RFC 1661 §3.6).
    fn terminate(&mut self, now: Instant, reason: DownReason) {
        if self.down.is_some() || self.phase == Phase::Dead {
            return;
        }
        self.report_down(now, reason);
        self.lcp.close(now, reason.message().as_bytes());
    }

    fn report_down(&mut self, now: Instant, reason: DownReason) {
        if self.down.is_some() {
            return;
        }
        self.down = Some(reason);
        self.ended_at = Some(now);
        if self.phase != Phase::Dead {
            self.phase = Phase::Terminate;
        }
        let reason_code = reason.code(self.network_up_at.is_some());
        self.events.push_back(LinkEvent::Down { reason, reason_code });
    }

    /// Once LCP no longer runs (This-Layer-Finished, or never opened), the
    /// link is Dead (RFC 1661 §3.7 → §3.2).
    fn settle(&mut self, now: Instant) {
        if self.phase == Phase::Dead {
            return;
        }
        if matches!(self.lcp.state(), State::Initial | State::Starting | State::Closed | State::Stopped) {
            self.report_down(now, DownReason::NegotiationFailed);
            self.enter_dead(now);
        }
    }

    fn enter_dead(&mut self, now: Instant) {
        if self.phase == Phase::Dead {
            return;
        }
        self.report_down(now, DownReason::NegotiationFailed);
        self.phase = Phase::Dead;
        self.authenticator = None;
        self.auth_peer = None;
        self.ipcp.down(now);
        self.ipv6cp.down(now);
        // Whatever the NCPs still had to say is moot once the link is Dead.
        while self.ipcp.poll_event().is_some() || self.ipv6cp.poll_event().is_some() {}
        while self.ipcp.poll_transmit().is_some() || self.ipv6cp.poll_transmit().is_some() {}
        self.events.push_back(LinkEvent::Finished);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_reasons_map_to_pppd_exit_statuses() {
        let all = [
            DownReason::AdminClose,
            DownReason::PeerTerminated,
            DownReason::LowerDown,
            DownReason::NegotiationFailed,
            DownReason::NoNetworkProtocols,
            DownReason::PeerAuthFailed,
            DownReason::AuthToPeerFailed,
            DownReason::IdleTimeout,
            DownReason::MaxSessionTime,
            DownReason::PeerDead,
        ];
        let codes: Vec<(u8, u8)> = all.iter().map(|r| (r.code(true), r.code(false))).collect();
        assert_eq!(codes, [(5, 5), (0, 10), (16, 16), (10, 10), (0, 10), (11, 11), (19, 19), (12, 12), (13, 13), (15, 15)]);
        assert!(all.iter().all(|r| !r.message().is_empty() && r.message() != "Error"));
    }
}
