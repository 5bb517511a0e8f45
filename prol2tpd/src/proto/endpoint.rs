//! All tunnels and sessions of one L2TP node: the entry point of the core.
//!
//! An [`Endpoint`] is driven quinn-style (STYLE.md rule 1): inputs are
//! [`Endpoint::handle_datagram`], [`Endpoint::handle_timeout`] and the
//! commands ([`Endpoint::create_tunnel`], [`Endpoint::create_session`],
//! [`Endpoint::close_tunnel`], …); outputs are pulled with
//! [`Endpoint::poll_transmit`] (datagrams), [`Endpoint::poll_event`]
//! (lifecycle events for the data plane, hooks and watchers) and
//! [`Endpoint::poll_timeout`] (the next deadline). It owns the id spaces,
//! the limits a peer cannot push us past, the node-wide counters and the
//! timer wheel in which every tunnel keeps one deadline.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use common::rng::Rng;
use common::timer::TimerWheel;
use common::trace::TraceFlags;

use super::header::{parse_packet, ControlHeader, DataPacket, Packet, Transport, Version};
use super::message::{self, DecodeCtx, MessageType, ResultCode};
use super::result::{cdn, stop_ccn};
use super::session::{CallType, L2SpecType, Pseudowire, Session, SessionParams};
use super::tunnel::{tie_break, TieBreak, Tunnel, TunnelParams, TunnelState};

/// Node-wide settings of the `[system]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Host Name AVP sent when a tunnel sets none (RFC 2661 §4.4.3).
    pub host_name: String,
    /// Router ID AVP of L2TPv3 (RFC 3931 §5.4.3).
    pub router_id: u32,
    /// Most tunnels at once (any state); 0 = no limit but the 16-bit id space.
    pub max_tunnels: u32,
    /// Most sessions at once over all tunnels; 0 = no limit.
    pub max_sessions: u32,
    /// Most peer-created tunnels not yet established; 0 = no limit.
    pub max_halfopen_tunnels: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig { host_name: "prol2tpd".into(), router_id: 0, max_tunnels: 0, max_sessions: 0, max_halfopen_tunnels: 0 }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our id of the tunnel that sends it.
    pub tunnel_id: u32,
    /// Destination (port ignored for IP encapsulation).
    pub to: SocketAddr,
    /// Source address to use, when the tunnel has one.
    pub from: Option<SocketAddr>,
    /// UDP or IP (protocol 115).
    pub transport: Transport,
    /// The whole L2TP packet.
    pub bytes: Vec<u8>,
}

/// What a tunnel is, for events and the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// The peer's tunnel id (0 until known).
    pub peer_tunnel_id: u32,
    /// Instance name, if configured.
    pub name: Option<String>,
    /// Tunnel profile name.
    pub profile: String,
    /// L2TP version.
    pub version: Version,
    /// Encapsulation.
    pub transport: Transport,
    /// Peer address.
    pub peer: SocketAddr,
    /// Local address, if known.
    pub local: Option<SocketAddr>,
    /// True when the peer created the tunnel.
    pub network_created: bool,
}

/// What a session is, for events and the data plane: everything a kernel
/// or userspace data plane needs to carry its packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id.
    pub session_id: u32,
    /// The peer's tunnel id.
    pub peer_tunnel_id: u32,
    /// The peer's session id (0 until known).
    pub peer_session_id: u32,
    /// L2TP version of the tunnel.
    pub version: Version,
    /// Encapsulation of the tunnel.
    pub transport: Transport,
    /// Peer address.
    pub peer: SocketAddr,
    /// Local address, if known.
    pub local: Option<SocketAddr>,
    /// What the session carries.
    pub pseudowire: Pseudowire,
    /// Which call FSM (and so LAC or LNS role).
    pub call_type: CallType,
    /// Our cookie (v3): expected in received data packets.
    pub cookie: Vec<u8>,
    /// The peer's cookie (v3): put in sent data packets.
    pub peer_cookie: Vec<u8>,
    /// L2-Specific Sublayer (v3).
    pub l2spec: L2SpecType,
    /// Sequence numbers on data packets we send.
    pub send_seq: bool,
    /// Sequence numbers expected on data packets we receive.
    pub recv_seq: bool,
    /// Session instance name, if configured.
    pub name: Option<String>,
    /// Tunnel instance name, if configured.
    pub tunnel_name: Option<String>,
    /// Interface name, if configured.
    pub interface_name: Option<String>,
    /// VLAN id of VLAN pseudowires.
    pub vlan_id: Option<u16>,
    /// Session profile name.
    pub profile: String,
    /// PPP profile name.
    pub ppp_profile: String,
    /// Ethernet profile name.
    pub eth_profile: String,
    /// The session's trace flags when the snapshot was taken (the data
    /// plane traces its packets with them).
    pub trace_flags: TraceFlags,
}

/// Lifecycle events, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A tunnel instance exists (locally opened, or a peer's SCCRQ accepted).
    TunnelCreated(TunnelInfo),
    /// The control connection is established.
    TunnelUp(TunnelInfo),
    /// The tunnel is going down (StopCCN sent or received, or peer dead).
    TunnelDown {
        /// Our tunnel id.
        tunnel_id: u32,
        /// True when it had been up.
        was_up: bool,
        /// Why (the StopCCN Result Code).
        result: ResultCode,
    },
    /// The tunnel is gone; its id may be reused.
    TunnelDeleted {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Instance name, if configured.
        name: Option<String>,
    },
    /// A v3 attempt fell back to L2TPv2.
    VersionFallback {
        /// Our tunnel id.
        tunnel_id: u32,
    },
    /// A session exists.
    SessionCreated(SessionInfo),
    /// A session is established; the data plane should carry it now.
    SessionUp(SessionInfo),
    /// A session went down (CDN, or its tunnel closed).
    SessionDown {
        /// The session as it was.
        info: SessionInfo,
        /// True when it had been up.
        was_up: bool,
        /// Why (the CDN or StopCCN Result Code).
        result: ResultCode,
    },
    /// A session is gone.
    SessionDeleted {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
    },
}

/// Number of message-type slots in the per-type counters (types 0..=23).
pub const MSG_TYPE_SLOTS: usize = 24;

/// Node-wide counters (the seeds' system statistics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Good control messages received, by message type: decoded, valid,
    /// delivered in order to an existing tunnel (`rx_good_<TYPE>`).
    pub rx_good: [u64; MSG_TYPE_SLOTS],
    /// Bad control messages received, by message type (`rx_bad_<TYPE>`):
    /// the Message Type could be read but the message failed to decode or
    /// validate, or it is a non-SCCRQ sent to tunnel id 0. Always counted
    /// together with [`EndpointStats::illegal_messages`].
    pub rx_bad: [u64; MSG_TYPE_SLOTS],
    /// Control messages queued for sending (first transmissions only).
    pub ctrl_tx: u64,
    /// Datagrams dropped as illegal: unparsable headers, unknown tunnel
    /// ids, wrong source address, undecodable or invalid messages, ZLBs to
    /// tunnel id 0, SCCRQs from unknown peers, messages for unknown sessions.
    pub illegal_messages: u64,
    /// Vendor-specific AVPs (vendor id ≠ 0) in received control messages
    /// that reached decoding, good or bad.
    pub vendor_avps: u64,
    /// Tunnel authentication failures: a wrong or missing Challenge
    /// Response (RFC 2661 §5.1.1), a Challenge without a configured secret,
    /// a bad v3 Message Digest (RFC 3931 §4.3).
    pub auth_failures: u64,
    /// Sessions that failed before coming up: refused requests (limits,
    /// undecodable ICRQ/OCRQ) and sessions closed before Established for any
    /// reason but an administrative close.
    pub session_setup_failures: u64,
    /// Requests refused because a limit or id space was exhausted
    /// (`max_tunnels`, `max_halfopen_tunnels`, `max_sessions`, no free id).
    pub resource_failures: u64,
    /// Control messages with a duplicate or out-of-window Ns (RFC 2661
    /// §5.8), and SCCRQs whose Ns is not 0.
    pub sequence_errors: u64,
    /// Tunnels closed because the peer stopped answering.
    pub peer_timeouts: u64,
    /// SCCRQs from addresses no peer profile matches.
    pub unknown_peer_sccrq: u64,
    /// Data packets that reached the control plane.
    pub data_packets: u64,
}

impl EndpointStats {
    /// Counts one received control message of `msg_type`, good or bad.
    pub fn count_rx(&mut self, msg_type: MessageType, good: bool) {
        let i = (msg_type as u16 as usize).min(MSG_TYPE_SLOTS - 1);
        let slot = if good { &mut self.rx_good } else { &mut self.rx_bad };
        if let Some(c) = slot.get_mut(i) {
            *c += 1;
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// No tunnel with that id.
    NoSuchTunnel(u32),
    /// No session with that id in that tunnel.
    NoSuchSession(u32, u32),
    /// A limit (`max_tunnels`, `max_sessions`) or an id space is exhausted.
    LimitReached(&'static str),
    /// The request does not fit the tunnel (e.g. Ethernet over L2TPv2).
    Invalid(&'static str),
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointError::NoSuchTunnel(t) => write!(f, "no tunnel {t}"),
            EndpointError::NoSuchSession(t, s) => write!(f, "no session {s} in tunnel {t}"),
            EndpointError::LimitReached(w) => write!(f, "limit reached: {w}"),
            EndpointError::Invalid(w) => write!(f, "{w}"),
        }
    }
}

impl std::error::Error for EndpointError {}

/// Decides the parameters of a tunnel a peer opens, or refuses it (`None`):
/// the daemon's peer-profile lookup.
pub type Acceptor = Box<dyn Fn(&SocketAddr) -> Option<Rc<TunnelParams>>>;

/// State shared by all tunnels, lent to them as a [`Cx`].
struct Shared {
    config: EndpointConfig,
    rng: Rng,
    events: VecDeque<Event>,
    transmits: VecDeque<Transmit>,
    stats: EndpointStats,
    total_sessions: u32,
    v3_session_ids: HashSet<u32>,
    call_serial: u32,
}

/// What a tunnel may touch of the endpoint while it handles an input.
pub(crate) struct Cx<'a> {
    pub now: Instant,
    pub rng: &'a mut Rng,
    pub events: &'a mut VecDeque<Event>,
    pub transmits: &'a mut VecDeque<Transmit>,
    pub stats: &'a mut EndpointStats,
    pub host_name: &'a str,
    pub router_id: u32,
    pub total_sessions: &'a mut u32,
    max_sessions: u32,
    v3_session_ids: &'a mut HashSet<u32>,
    call_serial: &'a mut u32,
}

impl Cx<'_> {
    /// True when the node-wide session limit is reached.
    pub fn sessions_full(&self) -> bool {
        self.max_sessions != 0 && *self.total_sessions >= self.max_sessions
    }

    /// A free, random, non-zero session id: 16 bits unique in the tunnel
    /// (v2), 32 bits unique in the node (v3, so IP-encapsulated data can be
    /// demultiplexed by session id alone, RFC 3931 §4.1).
    pub fn alloc_session_id(&mut self, version: Version, in_tunnel: &BTreeMap<u32, Session>) -> Option<u32> {
        for _ in 0..64 {
            let id = match version {
                Version::V2 => self.rng.range_u32(1, 0xffff),
                Version::V3 => self.rng.range_u32(1, u32::MAX),
            };
            let free = match version {
                Version::V2 => !in_tunnel.contains_key(&id),
                Version::V3 => !self.v3_session_ids.contains(&id),
            };
            if free {
                if version == Version::V3 {
                    self.v3_session_ids.insert(id);
                }
                return Some(id);
            }
        }
        if version == Version::V2 {
            return (1..=0xffffu32).find(|id| !in_tunnel.contains_key(id));
        }
        None
    }

    /// A session id for a v3 tunnel that may still fall back to v2: unique
    /// in the node like any v3 id, but within 16 bits so that the session
    /// survives the fallback under the same id (RFC 2661 §3.1: v2 Session
    /// IDs are 16-bit).
    pub fn alloc_session_id_narrow(&mut self, in_tunnel: &BTreeMap<u32, Session>) -> Option<u32> {
        let v3 = &*self.v3_session_ids;
        let free = |id: u32| !in_tunnel.contains_key(&id) && !v3.contains(&id);
        let mut found = None;
        for _ in 0..64 {
            let id = self.rng.range_u32(1, 0xffff);
            if free(id) {
                found = Some(id);
                break;
            }
        }
        let id = found.or_else(|| (1..=0xffffu32).find(|&id| free(id)))?;
        self.v3_session_ids.insert(id);
        Some(id)
    }

    /// Returns a session id to the pool.
    pub fn release_session_id(&mut self, version: Version, id: u32) {
        if version == Version::V3 {
            self.v3_session_ids.remove(&id);
        }
    }

    /// Next Call Serial Number (RFC 2661 §4.4.5).
    pub fn next_call_serial(&mut self) -> u32 {
        *self.call_serial = self.call_serial.wrapping_add(1);
        *self.call_serial
    }
}

fn cx<'a>(now: Instant, sh: &'a mut Shared) -> Cx<'a> {
    Cx {
        now,
        rng: &mut sh.rng,
        events: &mut sh.events,
        transmits: &mut sh.transmits,
        stats: &mut sh.stats,
        host_name: &sh.config.host_name,
        router_id: sh.config.router_id,
        total_sessions: &mut sh.total_sessions,
        max_sessions: sh.config.max_sessions,
        v3_session_ids: &mut sh.v3_session_ids,
        call_serial: &mut sh.call_serial,
    }
}

/// All tunnels and sessions of one node.
pub struct Endpoint {
    tunnels: BTreeMap<u32, Tunnel>,
    /// (peer address, the peer's tunnel id) → our tunnel id: recognises a
    /// retransmitted SCCRQ (RFC 2661 §5.8) and binds a peer to one tunnel.
    by_peer: HashMap<(SocketAddr, u32), u32>,
    /// Tunnels this node opened (initiator side): the only candidates for
    /// the tie breaker and the v3-to-v2 fallback, so packets from peers
    /// never cost a walk over every tunnel.
    locally_opened: BTreeSet<u32>,
    /// Peer-created tunnels not yet established (`max_halfopen_tunnels`),
    /// kept up to date by [`Endpoint::after`].
    halfopen: BTreeSet<u32>,
    timers: TimerWheel<u32>,
    acceptor: Option<Acceptor>,
    sh: Shared,
}

impl Endpoint {
    /// A node with no tunnels. `rng` supplies tunnel and session ids,
    /// challenges, nonces and random vectors: seed it from the OS in the
    /// daemon and with a fixed seed in tests.
    pub fn new(config: EndpointConfig, rng: Rng, now: Instant) -> Endpoint {
        Endpoint {
            tunnels: BTreeMap::new(),
            by_peer: HashMap::new(),
            locally_opened: BTreeSet::new(),
            halfopen: BTreeSet::new(),
            timers: TimerWheel::new(now),
            acceptor: None,
            sh: Shared {
                config,
                rng,
                events: VecDeque::new(),
                transmits: VecDeque::new(),
                stats: EndpointStats::default(),
                total_sessions: 0,
                v3_session_ids: HashSet::new(),
                call_serial: 0,
            },
        }
    }

    /// Installs the policy for tunnels peers open (LNS side). Without one,
    /// every SCCRQ is refused.
    pub fn set_acceptor(&mut self, acceptor: Acceptor) {
        self.acceptor = Some(acceptor);
    }

    /// Replaces the node-wide settings (SIGHUP); established tunnels keep
    /// their own parameters.
    pub fn set_config(&mut self, config: EndpointConfig) {
        self.sh.config = config;
    }

    /// Node-wide settings in force.
    pub fn config(&self) -> &EndpointConfig {
        &self.sh.config
    }

    /// Node-wide counters.
    pub fn stats(&self) -> &EndpointStats {
        &self.sh.stats
    }

    /// Resets the node-wide counters (`prol2tp clear statistics`).
    pub fn clear_stats(&mut self) {
        self.sh.stats = EndpointStats::default();
    }

    /// All tunnels, by our tunnel id.
    pub fn tunnels(&self) -> impl Iterator<Item = &Tunnel> {
        self.tunnels.values()
    }

    /// One tunnel by our id.
    pub fn tunnel(&self, id: u32) -> Option<&Tunnel> {
        self.tunnels.get(&id)
    }

    /// Mutable access for run-time changes (`prol2tp trace`).
    pub fn tunnel_mut(&mut self, id: u32) -> Option<&mut Tunnel> {
        self.tunnels.get_mut(&id)
    }

    /// Live sessions over all tunnels.
    pub fn session_count(&self) -> u32 {
        self.sh.total_sessions
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.sh.transmits.pop_front()
    }

    /// The next lifecycle event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.sh.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    fn alloc_tunnel_id(&mut self) -> Option<u32> {
        let max = self.sh.config.max_tunnels;
        if self.tunnels.len() >= 0xffff || (max != 0 && self.tunnels.len() >= max as usize) {
            return None;
        }
        for _ in 0..64 {
            let id = self.sh.rng.range_u32(1, 0xffff);
            if !self.tunnels.contains_key(&id) {
                return Some(id);
            }
        }
        (1..=0xffffu32).find(|id| !self.tunnels.contains_key(id))
    }

    /// Opens a tunnel to `params.peer` (SCCRQ). Errors: no peer address,
    /// IP encapsulation with v2, or the tunnel limit.
    pub fn create_tunnel(&mut self, now: Instant, params: Rc<TunnelParams>) -> Result<u32, EndpointError> {
        let peer = params.peer.ok_or(EndpointError::Invalid("tunnel has no peer address"))?;
        if params.version == Version::V2 && params.transport == Transport::Ip {
            return Err(EndpointError::Invalid("IP encapsulation needs L2TPv3"));
        }
        let Some(id) = self.alloc_tunnel_id() else {
            self.sh.stats.resource_failures += 1;
            return Err(EndpointError::LimitReached("max_tunnels"));
        };
        let mut c = cx(now, &mut self.sh);
        let t = Tunnel::open(&mut c, id, peer, params);
        c.events.push_back(Event::TunnelCreated(t.info()));
        self.locally_opened.insert(id);
        self.tunnels.insert(id, t);
        self.after(now, id);
        Ok(id)
    }

    /// Creates a session in a tunnel (ICRQ as LAC, OCRQ as LNS); it starts
    /// once the tunnel is up. Errors: no such tunnel, a limit, or a
    /// pseudowire the tunnel cannot carry.
    pub fn create_session(&mut self, now: Instant, tunnel_id: u32, call_type: CallType, params: Rc<SessionParams>) -> Result<u32, EndpointError> {
        let t = self.tunnels.get_mut(&tunnel_id).ok_or(EndpointError::NoSuchTunnel(tunnel_id))?;
        let mut c = cx(now, &mut self.sh);
        let r = t.create_session(&mut c, call_type, params).map_err(|w| match w {
            "session limit reached" | "no free session id" => EndpointError::LimitReached("max_sessions"),
            other => EndpointError::Invalid(other),
        });
        self.after(now, tunnel_id);
        r
    }

    /// Closes a tunnel with StopCCN (result 1 "general request to clear" by
    /// default). Errors: no such tunnel.
    pub fn close_tunnel(&mut self, now: Instant, tunnel_id: u32, result: Option<ResultCode>) -> Result<(), EndpointError> {
        let t = self.tunnels.get_mut(&tunnel_id).ok_or(EndpointError::NoSuchTunnel(tunnel_id))?;
        let r = result.unwrap_or(ResultCode { result: stop_ccn::GENERAL_REQUEST_TO_CLEAR, error: None, message: None });
        t.close(&mut cx(now, &mut self.sh), r);
        self.after(now, tunnel_id);
        Ok(())
    }

    /// Closes a session with CDN (result 3 "administrative" by default).
    /// Errors: no such tunnel or session.
    pub fn close_session(&mut self, now: Instant, tunnel_id: u32, session_id: u32, result: Option<ResultCode>) -> Result<(), EndpointError> {
        let t = self.tunnels.get_mut(&tunnel_id).ok_or(EndpointError::NoSuchTunnel(tunnel_id))?;
        let r = result.unwrap_or(ResultCode { result: cdn::ADMIN, error: None, message: None });
        t.close_session(&mut cx(now, &mut self.sh), session_id, r).map_err(|_| EndpointError::NoSuchSession(tunnel_id, session_id))?;
        self.after(now, tunnel_id);
        Ok(())
    }

    /// Closes every tunnel (daemon shutdown: StopCCN result 6 "shutting
    /// down"). The caller keeps driving the endpoint until
    /// [`Endpoint::tunnels`] is empty or its patience ends.
    pub fn close_all(&mut self, now: Instant) {
        let ids: Vec<u32> = self.tunnels.keys().copied().collect();
        for id in ids {
            let r = ResultCode { result: stop_ccn::SHUTTING_DOWN, error: None, message: None };
            let _ = self.close_tunnel(now, id, Some(r));
        }
    }

    /// Changes the trace flags of one tunnel (its sessions keep theirs).
    /// Errors: no such tunnel.
    pub fn set_tunnel_trace(&mut self, tunnel_id: u32, flags: TraceFlags) -> Result<(), EndpointError> {
        let t = self.tunnels.get_mut(&tunnel_id).ok_or(EndpointError::NoSuchTunnel(tunnel_id))?;
        t.trace_flags = flags;
        Ok(())
    }

    /// Changes the trace flags of one session. Errors: no such tunnel or
    /// session.
    pub fn set_session_trace(&mut self, tunnel_id: u32, session_id: u32, flags: TraceFlags) -> Result<(), EndpointError> {
        let t = self.tunnels.get_mut(&tunnel_id).ok_or(EndpointError::NoSuchTunnel(tunnel_id))?;
        let s = t.session_mut(session_id).ok_or(EndpointError::NoSuchSession(tunnel_id, session_id))?;
        s.trace_flags = flags;
        Ok(())
    }

    /// Timer expiry: drives every tunnel whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        self.timers.expire(now, &mut due);
        for id in due {
            if let Some(t) = self.tunnels.get_mut(&id) {
                t.handle_timeout(&mut cx(now, &mut self.sh));
            }
            self.after(now, id);
        }
    }

    /// After a tunnel handled an input: flush its datagrams, re-arm its
    /// timer, forget it when finished.
    fn after(&mut self, now: Instant, id: u32) {
        let Some(t) = self.tunnels.get_mut(&id) else {
            self.timers.cancel(id);
            return;
        };
        t.flush(&mut cx(now, &mut self.sh));
        if t.finished(now) {
            let name = t.params.name.clone();
            let key = (t.peer, t.peer_id);
            if self.by_peer.get(&key) == Some(&id) {
                self.by_peer.remove(&key);
            }
            self.tunnels.remove(&id);
            self.locally_opened.remove(&id);
            self.halfopen.remove(&id);
            self.timers.cancel(id);
            self.sh.events.push_back(Event::TunnelDeleted { tunnel_id: id, name });
            return;
        }
        if t.network_created && t.peer_id != 0 {
            self.by_peer.entry((t.peer, t.peer_id)).or_insert(id);
        }
        if t.network_created && t.state == TunnelState::WaitCtlConn {
            self.halfopen.insert(id);
        } else {
            self.halfopen.remove(&id);
        }
        match t.poll_timeout() {
            Some(d) => self.timers.set(id, d.max(now)),
            None => self.timers.cancel(id),
        }
    }

    /// Handles one received datagram: `local` is the address it arrived
    /// on, `from` the sender. Malformed packets are counted and dropped;
    /// nothing a peer sends can disturb another tunnel.
    ///
    /// Returns the parsed data packet when the datagram is one (counted in
    /// [`EndpointStats::data_packets`], not handled here): the caller hands
    /// it to its data plane. Control packets return `None`.
    pub fn handle_datagram<'b>(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        from: SocketAddr,
        transport: Transport,
        bytes: &'b [u8],
    ) -> Option<DataPacket<'b>> {
        match parse_packet(transport, bytes) {
            Ok(Packet::Control { header, avps }) => {
                self.handle_control(now, local, from, transport, &header, avps, bytes);
                None
            }
            Ok(Packet::Data(d)) => {
                self.sh.stats.data_packets += 1;
                Some(d)
            }
            Err(e) => {
                self.sh.stats.illegal_messages += 1;
                common::log::trace(common::log::system_mask(), TraceFlags::XPRT, format_args!("drop from={from} reason=\"{e}\" len={}", bytes.len()));
                None
            }
        }
    }

    /// A received control packet (see [`Endpoint::handle_datagram`]).
    #[allow(clippy::too_many_arguments)]
    fn handle_control(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        from: SocketAddr,
        transport: Transport,
        header: &ControlHeader,
        avps: &[u8],
        bytes: &[u8],
    ) {
        if header.tunnel_id == 0 {
            return self.on_tunnel_zero(now, local, from, transport, header, avps, bytes);
        }
        let id = header.tunnel_id;
        match self.tunnels.get_mut(&id) {
            Some(t) if t.transport == transport || t.state == TunnelState::WaitCtlReply => {
                t.handle_packet(&mut cx(now, &mut self.sh), from, header, avps, bytes);
                self.after(now, id);
            }
            _ => {
                if header.version == Version::V2 && self.v2_answer(now, from) {
                    return;
                }
                self.sh.stats.illegal_messages += 1;
                common::log::trace(common::log::system_mask(), TraceFlags::XPRT, format_args!("drop from={from} tunnel_id={id} reason=unknown-tunnel"));
            }
        }
    }

    /// Answers an SCCRQ we keep no state for with one StopCCN (RFC 2661
    /// §6.4; Assigned Tunnel ID 0: no tunnel exists here), acknowledging
    /// the SCCRQ (Ns 0, Nr = its Ns + 1). Sent once per received copy, not
    /// retransmitted, never hidden nor digested (there is no shared state).
    fn refuse_statelessly(&mut self, local: Option<SocketAddr>, from: SocketAddr, transport: Transport, header: &ControlHeader, peer_tid: u32, r: ResultCode) {
        if peer_tid == 0 {
            return;
        }
        let mut avps = message::Avps::default();
        match header.version {
            Version::V2 => avps.assigned_tunnel_id = Some(0),
            Version::V3 => avps.assigned_control_connection_id = Some(0),
        }
        avps.result_code = Some(r);
        let msg = message::ControlMessage { msg_type: MessageType::StopCcn, avps };
        let mut body = Vec::with_capacity(64);
        let rng = &mut self.sh.rng;
        let mut fill = |buf: &mut [u8]| rng.fill(buf);
        message::encode(&msg, &mut message::EncodeCtx { secret: None, hide: false, random: &mut fill, digest: None }, &mut body);
        let reply = ControlHeader { version: header.version, tunnel_id: peer_tid, session_id: 0, ns: 0, nr: header.ns.wrapping_add(1) };
        let mut bytes = Vec::with_capacity(body.len() + 16);
        super::header::emit_control(transport, &reply, &body, &mut bytes);
        self.sh.stats.ctrl_tx += 1;
        self.sh.transmits.push_back(Transmit { tunnel_id: 0, to: from, from: local, transport, bytes });
    }

    /// A peer sends StopCCN with tunnel id 0 when it gave up before
    /// learning our id (xl2tpd does, after an SCCRP it could not process).
    /// RFC 2661 §6.4: the StopCCN's Assigned Tunnel ID names the peer's
    /// tunnel; deliver it to ours. Returns whether a tunnel took it.
    fn stop_ccn_to_zero(&mut self, now: Instant, from: SocketAddr, header: &ControlHeader, avps: &[u8], bytes: &[u8]) -> bool {
        // The Assigned Tunnel ID as sent in the clear (a hidden one cannot
        // be read without knowing whose tunnel it is: such a StopCCN stays
        // dropped, and the tunnel times out instead).
        let peer_tid = match header.version {
            Version::V2 => super::tunnel::peek_u16_avp(avps, super::avp::attr::ASSIGNED_TUNNEL_ID).map(u32::from),
            Version::V3 => super::tunnel::peek_u32_avp(avps, super::avp::attr::ASSIGNED_CONTROL_CONNECTION_ID),
        };
        let Some(peer_tid) = peer_tid.filter(|t| *t != 0) else { return false };
        let target = self
            .by_peer
            .get(&(from, peer_tid))
            .copied()
            .or_else(|| self.locally_opened.iter().copied().find(|id| self.tunnels.get(id).is_some_and(|t| t.peer == from && t.peer_id == peer_tid)));
        let Some(id) = target else { return false };
        if let Some(t) = self.tunnels.get_mut(&id) {
            t.handle_packet(&mut cx(now, &mut self.sh), from, header, avps, bytes);
        }
        self.after(now, id);
        true
    }

    /// An L2TPv2 packet from a peer we are opening an L2TPv3 tunnel to: a
    /// v2-only peer answering our SCCRQ (xl2tpd sends a v2 ZLB). Falls back
    /// at once instead of waiting out the retries. Returns whether it did.
    fn v2_answer(&mut self, now: Instant, from: SocketAddr) -> bool {
        let found = self.locally_opened.iter().copied().find(|id| self.tunnels.get(id).is_some_and(|t| t.awaiting_v3_answer() && t.peer.ip() == from.ip()));
        let Some(id) = found else { return false };
        let fell_back = self.tunnels.get_mut(&id).is_some_and(|t| t.v2_answer(&mut cx(now, &mut self.sh)));
        self.after(now, id);
        fell_back
    }

    /// A control packet with tunnel id 0: a peer's SCCRQ, or a
    /// retransmission of one (RFC 2661 §3.1: the Tunnel ID is 0 until the
    /// peer learns ours).
    #[allow(clippy::too_many_arguments)]
    fn on_tunnel_zero(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        from: SocketAddr,
        transport: Transport,
        header: &ControlHeader,
        avps: &[u8],
        bytes: &[u8],
    ) {
        if avps.is_empty() {
            // A ZLB for tunnel 0 acknowledges nothing we keep state for
            // (e.g. a refused peer acking a stateless StopCCN).
            self.sh.stats.illegal_messages += 1;
            common::log::trace(common::log::system_mask(), TraceFlags::XPRT, format_args!("drop msg=ZLB from={from} reason=tunnel-id-0"));
            return;
        }
        let msg_type = super::tunnel::peek_message_type(avps);
        if msg_type == Some(MessageType::StopCcn) && self.stop_ccn_to_zero(now, from, header, avps, bytes) {
            return;
        }
        if header.version == Version::V2 && msg_type != Some(MessageType::Sccrq) && self.v2_answer(now, from) {
            return;
        }
        let Some(params) = self.acceptor.as_ref().and_then(|a| a(&from)) else {
            self.sh.stats.unknown_peer_sccrq += 1;
            self.sh.stats.illegal_messages += 1;
            common::log::log(common::log::Level::Notice, format_args!("drop from={from} reason=no-peer-profile"));
            return;
        };
        let secret = params.secret.as_deref();
        let msg = match message::decode(avps, &DecodeCtx { secret }) {
            Ok(m) if m.msg_type == MessageType::Sccrq => m,
            Ok(m) => {
                // Only an SCCRQ may open a tunnel: any other message is a
                // bad one of its type here.
                self.sh.stats.illegal_messages += 1;
                self.sh.stats.count_rx(m.msg_type, false);
                self.sh.stats.vendor_avps += super::tunnel::count_vendor_avps(avps);
                common::log::trace(
                    common::log::system_mask() | params.trace_flags,
                    TraceFlags::PROTOCOL,
                    format_args!("drop msg={} from={from} reason=tunnel-id-0", m.msg_type.name()),
                );
                return;
            }
            Err(e) => {
                // Counted, and traced rather than logged: anyone can send
                // these, and a flood must not become a syslog flood. The
                // per-type counter moves only when the Message Type can be
                // read at all.
                self.sh.stats.illegal_messages += 1;
                if let Some(t) = msg_type {
                    self.sh.stats.count_rx(t, false);
                }
                self.sh.stats.vendor_avps += super::tunnel::count_vendor_avps(avps);
                common::log::trace(
                    common::log::system_mask() | params.trace_flags,
                    TraceFlags::PROTOCOL,
                    format_args!("drop msg=SCCRQ? from={from} error=\"{e}\""),
                );
                return;
            }
        };
        if header.ns != 0 {
            // RFC 2661 §5.8: a control connection's first message has Ns 0.
            // Anything else would sit in the reliable channel's reorder
            // buffer and park a half-open tunnel for ever.
            self.sh.stats.illegal_messages += 1;
            self.sh.stats.sequence_errors += 1;
            common::log::trace(
                common::log::system_mask() | params.trace_flags,
                TraceFlags::PROTOCOL,
                format_args!("drop msg=SCCRQ from={from} ns={} reason=first-ns-not-0", header.ns),
            );
            return;
        }
        let peer_tid = match header.version {
            Version::V2 => msg.avps.assigned_tunnel_id.map(u32::from),
            Version::V3 => msg.avps.assigned_control_connection_id,
        }
        .unwrap_or(0);
        if let Some(&id) = self.by_peer.get(&(from, peer_tid)) {
            if let Some(t) = self.tunnels.get_mut(&id) {
                t.handle_packet(&mut cx(now, &mut self.sh), from, header, avps, bytes);
                self.after(now, id);
                return;
            }
        }
        // RFC 2661 §4.4.3 tie breaker: are we opening a tunnel to this peer too?
        let mut params = params;
        let mut carried: Vec<(CallType, Rc<SessionParams>)> = Vec::new();
        // A tunnel that won the tie may already be established when a late
        // or duplicated copy of the losing SCCRQ arrives (the network
        // reorders and duplicates): within one retransmission cycle of
        // coming up it still counts as the rival, or the late copy would
        // open a second, half-open tunnel the peer no longer knows.
        let recent = |t: &Tunnel| t.state == TunnelState::Established && t.up_at.is_some_and(|u| now < u + t.hold_time());
        let rival = self
            .locally_opened
            .iter()
            .filter_map(|id| self.tunnels.get(id))
            .find(|t| t.peer.ip() == from.ip() && (t.state == TunnelState::WaitCtlReply || recent(t)))
            .map(|t| (t.id, t.tie_breaker, t.state));
        if let Some((rival_id, ours, state)) = rival {
            let verdict = match tie_break(ours, msg.avps.tie_breaker) {
                TieBreak::WeWin if state == TunnelState::Established && msg.avps.tie_breaker.is_none() => TieBreak::NoConflict,
                TieBreak::WeWin => TieBreak::WeWin,
                // An established tunnel is never discarded for a new SCCRQ.
                _ if state == TunnelState::Established => TieBreak::NoConflict,
                v => v,
            };
            match verdict {
                TieBreak::NoConflict => {}
                TieBreak::WeWin => {
                    common::log::log(common::log::Level::Info, format_args!("tie-breaker from={from} verdict=we-win tunnel_id={rival_id}"));
                    return;
                }
                verdict => {
                    common::log::log(common::log::Level::Info, format_args!("tie-breaker from={from} verdict={verdict:?} discard_tunnel_id={rival_id}"));
                    if let Some(t) = self.tunnels.remove(&rival_id) {
                        self.timers.cancel(rival_id);
                        self.locally_opened.remove(&rival_id);
                        carried = t.sessions().filter(|s| s.locally_initiated()).map(|s| (s.call_type, s.params.clone())).collect();
                        let mut p = (*t.params).clone();
                        p.peer = Some(from);
                        params = Rc::new(p);
                        self.sh.total_sessions = self.sh.total_sessions.saturating_sub(t.session_count() as u32);
                        for s in t.sessions() {
                            self.sh.events.push_back(Event::SessionDeleted { tunnel_id: rival_id, session_id: s.id });
                            if t.version == Version::V3 {
                                self.sh.v3_session_ids.remove(&s.id);
                            }
                        }
                        self.sh.events.push_back(Event::TunnelDeleted { tunnel_id: rival_id, name: t.params.name.clone() });
                    }
                    if verdict == TieBreak::BothLose {
                        return;
                    }
                }
            }
        }
        let max_half = self.sh.config.max_halfopen_tunnels;
        if max_half != 0 && self.halfopen.len() >= max_half as usize {
            self.sh.stats.resource_failures += 1;
            common::log::log(common::log::Level::Warning, format_args!("drop msg=SCCRQ from={from} reason=max_halfopen_tunnels"));
            return;
        }
        let Some(id) = self.alloc_tunnel_id() else {
            self.sh.stats.resource_failures += 1;
            common::log::log(common::log::Level::Warning, format_args!("refuse msg=SCCRQ from={from} peer_tunnel_id={peer_tid} reason=max_tunnels"));
            // RFC 2661 §4.4.2 (result 2, error 4 "insufficient resources"):
            // tell the peer at once instead of letting it retransmit its
            // SCCRQ for a whole cycle and count a failure per copy.
            let r =
                ResultCode { result: stop_ccn::GENERAL_ERROR, error: Some(super::result::error::NO_RESOURCE), message: Some("tunnel limit reached".into()) };
            return self.refuse_statelessly(local, from, transport, header, peer_tid, r);
        };
        let mut p = (*params).clone();
        p.version = header.version;
        p.transport = transport;
        let t = Tunnel::responder(id, header.version, from, local, Rc::new(p), now);
        self.sh.events.push_back(Event::TunnelCreated(t.info()));
        self.tunnels.insert(id, t);
        if let Some(t) = self.tunnels.get_mut(&id) {
            let mut c = cx(now, &mut self.sh);
            t.handle_packet(&mut c, from, header, avps, bytes);
            for (call_type, sp) in carried {
                let _ = t.create_session(&mut c, call_type, sp);
            }
        }
        self.after(now, id);
    }
}
