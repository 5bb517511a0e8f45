//! L2TP control connections (tunnels) and their state machine.
//!
//! A [`Tunnel`] joins the pieces of one control connection: the reliable
//! channel ([`super::reliable`]) that orders and acknowledges messages, the
//! codec that turns them into bytes, the tunnel FSM of RFC 2661 §7.2 /
//! RFC 3931 §3.3 and the sessions it carries. States are the RFC's:
//!
//! ```text
//!  initiator:  Idle --SCCRQ--> WaitCtlReply --SCCRP/SCCCN--> Established
//!  responder:  Idle <--SCCRQ-- (SCCRP) WaitCtlConn --SCCCN--> Established
//!  any:        StopCCN sent or received --> Closing --(acked / hold)--> gone
//! ```
//!
//! Each reliable-channel frame we queue is our own: two octets holding the
//! L2TPv2 header Session ID, then the encoded AVPs; the header is built at
//! transmission time because Nr (and, in v3, the Message Digest) change
//! with every retransmission.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::trace::TraceFlags;

use super::auth::{self, DigestAlg, DigestKey};
use super::avp::AvpIter;
use super::endpoint::{Cx, Event, SessionInfo, TunnelInfo};
use super::header::{emit_control, ControlHeader, Transport, Version};
use super::message::{self, Avps, ControlMessage, DecodeCtx, DecodeError, EncodeCtx, MessageType, ResultCode};
use super::reliable::{ReliableChannel, ReliableConfig, RxVerdict};
use super::result::{cdn, error, stop_ccn};
use super::session::{CallType, Pseudowire, Session, SessionOutput, SessionParams, SessionState};

/// Tunnel parameters, resolved from tunnel profile and instance
/// (`prol2tpd.conf(5)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TunnelParams {
    /// Instance name from the config (`[tunnel "NAME"]`); `None` for tunnels
    /// a peer created.
    pub name: Option<String>,
    /// Name of the tunnel profile the parameters came from.
    pub profile: String,
    /// L2TP version to speak (a responder follows the peer's SCCRQ).
    pub version: Version,
    /// When `version` is 3 and the peer refuses or ignores it, try v2.
    pub v2_fallback: bool,
    /// UDP, or IP (protocol 115, L2TPv3 only).
    pub transport: Transport,
    /// The peer to dial (initiators only).
    pub peer: Option<SocketAddr>,
    /// Local address to send from, if configured.
    pub local: Option<SocketAddr>,
    /// Shared tunnel secret: enables Challenge/Challenge Response (v2,
    /// RFC 2661 §5.1.1) or the Message Digest (v3, RFC 3931 §4.3), and AVP
    /// hiding.
    pub secret: Option<Vec<u8>>,
    /// Hide the AVPs that may be hidden (RFC 2661 §4.3); needs `secret`.
    pub hide_avps: bool,
    /// v3 Message Digest algorithm.
    pub digest: DigestAlg,
    /// Host Name AVP value; `None` uses the system host name.
    pub host_name: Option<String>,
    /// Idle time after which a HELLO is sent; `None` disables HELLO.
    pub hello_interval: Option<Duration>,
    /// First retransmission timeout.
    pub retry_timeout: Duration,
    /// Cap of the exponential retransmission back-off.
    pub max_retry_timeout: Duration,
    /// Retransmissions of one message before the peer is declared dead.
    pub max_retries: u32,
    /// Our receive window, advertised in the Receive Window Size AVP.
    pub rx_window_size: u16,
    /// Most sessions this tunnel may carry; 0 = no tunnel limit.
    pub max_sessions: u32,
    /// Trace categories for the tunnel.
    pub trace_flags: TraceFlags,
    /// Parameters of sessions the peer creates in this tunnel.
    pub session: Rc<SessionParams>,
}

impl Default for TunnelParams {
    fn default() -> Self {
        TunnelParams {
            name: None,
            profile: "default".into(),
            version: Version::V2,
            v2_fallback: true,
            transport: Transport::Udp,
            peer: None,
            local: None,
            secret: None,
            hide_avps: false,
            digest: DigestAlg::HmacMd5,
            host_name: None,
            hello_interval: Some(Duration::from_secs(60)),
            retry_timeout: Duration::from_millis(1000),
            max_retry_timeout: Duration::from_millis(8000),
            max_retries: 5,
            rx_window_size: 10,
            max_sessions: 0,
            trace_flags: TraceFlags::default(),
            session: Rc::new(SessionParams::default()),
        }
    }
}

/// Tunnel states (RFC 2661 §7.2.1; RFC 3931 §3.3 names them alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelState {
    /// SCCRQ sent; waiting for SCCRP (`wait-ctl-reply`).
    WaitCtlReply,
    /// SCCRP sent; waiting for SCCCN (`wait-ctl-conn`).
    WaitCtlConn,
    /// Control connection up; sessions may be set up.
    Established,
    /// StopCCN sent or received, or the peer is dead: only acknowledging
    /// until the hold time ends (RFC 2661 §5.7).
    Closing,
}

impl TunnelState {
    /// Lower-case name for logs and `prol2tp show`.
    pub fn name(self) -> &'static str {
        match self {
            TunnelState::WaitCtlReply => "wait-ctl-reply",
            TunnelState::WaitCtlConn => "wait-ctl-conn",
            TunnelState::Established => "established",
            TunnelState::Closing => "closing",
        }
    }
}

/// What the peer told us about itself in SCCRQ/SCCRP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// Host Name AVP (RFC 2661 §4.4.3).
    pub host_name: Vec<u8>,
    /// Vendor Name AVP.
    pub vendor_name: Vec<u8>,
    /// Router ID AVP (v3, RFC 3931 §5.4.3).
    pub router_id: Option<u32>,
    /// Firmware Revision AVP.
    pub firmware_revision: Option<u16>,
    /// Framing Capabilities AVP (v2).
    pub framing_capabilities: Option<u32>,
    /// Receive Window Size AVP; 4 when absent (RFC 2661 §4.4.3).
    pub rx_window_size: u16,
}

/// Per-tunnel counters (the seeds' "low-level transport status").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Control messages (not ZLBs) received and accepted in order.
    pub ctrl_rx: u64,
    /// Control messages queued for sending.
    pub ctrl_tx: u64,
    /// Control packets that failed to decode or validate.
    pub ctrl_rx_bad: u64,
    /// HELLOs received.
    pub hello_rx: u64,
    /// HELLOs sent.
    pub hello_tx: u64,
    /// Control packets received, octets (headers included).
    pub ctrl_rx_octets: u64,
    /// Control packets sent (including retransmissions and ZLBs), octets.
    pub ctrl_tx_octets: u64,
    /// Control packets sent including retransmissions and ZLBs.
    pub ctrl_tx_packets: u64,
    /// Control packets received including ZLBs.
    pub ctrl_rx_packets: u64,
}

/// One control connection.
#[derive(Debug)]
pub struct Tunnel {
    /// Our tunnel id (v2 Tunnel ID / v3 Control Connection ID), never 0;
    /// always at most 0xffff so a v3 attempt can fall back to v2.
    pub id: u32,
    /// The peer's tunnel id; 0 until it has assigned one.
    pub peer_id: u32,
    /// Version spoken on this tunnel.
    pub version: Version,
    /// UDP or IP encapsulation.
    pub transport: Transport,
    /// Peer address (port included for UDP).
    pub peer: SocketAddr,
    /// Local address the peer reached us on, if known.
    pub local: Option<SocketAddr>,
    /// Parameters the tunnel was created with.
    pub params: Rc<TunnelParams>,
    /// FSM state.
    pub state: TunnelState,
    /// True when the peer created the tunnel (we are the responder).
    pub network_created: bool,
    /// Trace categories in force (from the profile, or `prol2tp trace`).
    pub trace_flags: TraceFlags,
    /// What the peer said about itself.
    pub peer_info: PeerInfo,
    /// Why the tunnel closed, once it has.
    pub result: Option<ResultCode>,
    /// When the tunnel was created.
    pub created_at: Instant,
    /// When it reached Established.
    pub up_at: Option<Instant>,
    /// Counters.
    pub stats: TunnelStats,
    /// Our Tie Breaker (RFC 2661 §4.4.3), sent in our SCCRQ.
    pub tie_breaker: Option<[u8; 8]>,
    /// False when the peer is known not to read hidden AVPs (see
    /// [`peer_reads_hidden_avps`]): we then send ours unhidden.
    pub peer_reads_hidden: bool,
    pub(crate) chan: ReliableChannel,
    sessions: BTreeMap<u32, Session>,
    /// (deadline, session id) of every session not yet established.
    setup_deadlines: BTreeSet<(Instant, u32)>,
    /// The challenge we sent (v2), whose response we expect.
    our_challenge: Option<Vec<u8>>,
    /// v3: our Control Message Authentication Nonce and the peer's.
    local_nonce: Option<Vec<u8>>,
    peer_nonce: Option<Vec<u8>>,
    /// Closing: when the tunnel may be forgotten.
    close_deadline: Option<Instant>,
    /// True once anything at all was received from the peer.
    heard_from_peer: bool,
    /// v3 initiator that may still fall back to v2.
    may_fall_back: bool,
}

/// Whether a peer, known by its Vendor Name AVP (RFC 2661 §4.4.3), can
/// read hidden AVPs. xl2tpd (`xelerance.com`, up to 1.3.18 at least)
/// cannot: its `decrypt_avp()` keys the MD5 with `chal_us.secret`, which it
/// fills in only when it challenges us and only after the message is
/// processed, so it unhides our SCCRP, and everything when it does not
/// challenge, with an empty secret and refuses the tunnel.
pub fn peer_reads_hidden_avps(vendor_name: &[u8]) -> bool {
    let v = String::from_utf8_lossy(vendor_name).to_ascii_lowercase();
    !(v.contains("xelerance") || v.contains("xl2tpd"))
}

/// How long a session may take to become established (ICRQ to ICCN, or
/// OCRQ to OCCN, including waiting for its tunnel) before it is closed with
/// a CDN. The RFCs set no limit; without one a peer that stops half way
/// would hold the session and its id for ever.
pub const SESSION_SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Tie breaker verdict for simultaneous SCCRQs (RFC 2661 §4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieBreak {
    /// No conflict, or neither side sent a Tie Breaker: two tunnels.
    NoConflict,
    /// Our SCCRQ wins: the peer's is ignored.
    WeWin,
    /// The peer's SCCRQ wins: ours is silently discarded.
    PeerWins,
    /// Equal values: both are discarded.
    BothLose,
}

/// Decides a simultaneous open: lower value wins; a side that sent no Tie
/// Breaker loses to one that did; equal values lose on both sides
/// (RFC 2661 §4.4.3).
pub fn tie_break(ours: Option<[u8; 8]>, theirs: Option<[u8; 8]>) -> TieBreak {
    match (ours, theirs) {
        (None, None) => TieBreak::NoConflict,
        (Some(_), None) => TieBreak::WeWin,
        (None, Some(_)) => TieBreak::PeerWins,
        (Some(a), Some(b)) if a < b => TieBreak::WeWin,
        (Some(a), Some(b)) if a > b => TieBreak::PeerWins,
        _ => TieBreak::BothLose,
    }
}

fn result(result: u16, error_code: Option<u16>, message: &str) -> ResultCode {
    ResultCode { result, error: error_code, message: if message.is_empty() { None } else { Some(message.to_string()) } }
}

/// Reads the Message Type from the first AVP of an undecodable message, so
/// its error can be routed to the tunnel or to a session (RFC 2661 §4.1).
pub(crate) fn peek_message_type(avps: &[u8]) -> Option<MessageType> {
    let first = AvpIter::new(avps).next()?.ok()?;
    if first.vendor_id != 0 || first.attr_type != 0 || first.hidden {
        return None;
    }
    let raw = first.value.get(..2)?;
    MessageType::from_u16(u16::from_be_bytes([raw[0], raw[1]]))
}

/// Vendor-specific AVPs (vendor id ≠ 0) in a message's AVP octets, up to
/// the first framing error (the seeds' `vendor_avps` counter); 0 when the
/// octets do not start with a known Message Type (noise is no message).
pub(crate) fn count_vendor_avps(avps: &[u8]) -> u64 {
    if peek_message_type(avps).is_none() {
        return 0;
    }
    AvpIter::new(avps).map_while(Result::ok).filter(|a| a.vendor_id != 0).count() as u64
}

/// Reads a plain (unhidden) u32 AVP from undecodable AVP bytes; used to
/// find the v3 Remote Session ID of a session message that failed to decode.
pub(crate) fn peek_u32_avp(avps: &[u8], attr_type: u16) -> Option<u32> {
    for avp in AvpIter::new(avps) {
        let avp = avp.ok()?;
        if avp.vendor_id == 0 && avp.attr_type == attr_type && !avp.hidden {
            let b = avp.value.get(..4)?;
            return Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
    }
    None
}

/// Reads a plain (unhidden) u16 AVP from undecodable AVP bytes; used to
/// find the v2 Assigned Session ID of a request that failed to decode.
pub(crate) fn peek_u16_avp(avps: &[u8], attr_type: u16) -> Option<u16> {
    for avp in AvpIter::new(avps) {
        let avp = avp.ok()?;
        if avp.vendor_id == 0 && avp.attr_type == attr_type && !avp.hidden {
            let b = avp.value.get(..2)?;
            return Some(u16::from_be_bytes([b[0], b[1]]));
        }
    }
    None
}

/// ` result=.. error=.. message=".."` of a StopCCN or CDN in a trace line;
/// nothing without a Result Code.
struct ResultText<'a>(Option<&'a ResultCode>);

impl std::fmt::Display for ResultText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(r) => write!(f, " result={} error={} message=\"{}\"", r.result, r.error.unwrap_or(0), r.message.as_deref().unwrap_or("").replace('"', "'")),
            None => Ok(()),
        }
    }
}

/// The channel configuration for a tunnel's parameters.
fn channel_config(p: &TunnelParams) -> ReliableConfig {
    ReliableConfig {
        rx_window_size: p.rx_window_size.max(1),
        peer_rx_window_size: 4,
        retry_timeout: p.retry_timeout,
        max_retry_timeout: p.max_retry_timeout,
        max_retries: p.max_retries,
        ack_delay: (p.retry_timeout / 4).min(Duration::from_millis(200)),
        hello_interval: p.hello_interval,
        slow_start: false,
    }
}

impl Tunnel {
    fn new(id: u32, version: Version, peer: SocketAddr, params: Rc<TunnelParams>, state: TunnelState, now: Instant) -> Tunnel {
        let mut cfg = channel_config(&params);
        let may_fall_back = !matches!(state, TunnelState::WaitCtlConn) && version == Version::V3 && params.v2_fallback;
        if may_fall_back {
            // A v2-only peer ignores a v3 SCCRQ: give up on v3 after a short
            // cycle (1 + 2 + 4 s at the default timeout) instead of the full one.
            cfg.max_retries = cfg.max_retries.min(2);
        }
        Tunnel {
            id,
            peer_id: 0,
            version,
            transport: params.transport,
            peer,
            local: params.local,
            trace_flags: params.trace_flags,
            state,
            network_created: state == TunnelState::WaitCtlConn,
            peer_info: PeerInfo { rx_window_size: 4, ..PeerInfo::default() },
            result: None,
            created_at: now,
            up_at: None,
            stats: TunnelStats::default(),
            tie_breaker: None,
            peer_reads_hidden: true,
            chan: ReliableChannel::new(cfg, now),
            sessions: BTreeMap::new(),
            setup_deadlines: BTreeSet::new(),
            our_challenge: None,
            local_nonce: None,
            peer_nonce: None,
            close_deadline: None,
            heard_from_peer: false,
            may_fall_back,
            params,
        }
    }

    /// Creates a tunnel as initiator and queues its SCCRQ
    /// (RFC 2661 §7.2.1 "idle, local open request").
    pub(crate) fn open(cx: &mut Cx<'_>, id: u32, peer: SocketAddr, params: Rc<TunnelParams>) -> Tunnel {
        let mut t = Tunnel::new(id, params.version, peer, params, TunnelState::WaitCtlReply, cx.now);
        t.trace_fsm("idle", t.state, "open");
        let mut tb = [0u8; 8];
        cx.rng.fill(&mut tb);
        t.tie_breaker = Some(tb);
        t.send_sccrq(cx);
        t
    }

    fn send_sccrq(&mut self, cx: &mut Cx<'_>) {
        let mut avps = self.start_avps(cx);
        avps.tie_breaker = self.tie_breaker;
        if self.version == Version::V2 && self.params.secret.is_some() {
            let mut ch = vec![0u8; 16];
            cx.rng.fill(&mut ch);
            avps.challenge = Some(ch.clone());
            self.our_challenge = Some(ch);
        }
        self.queue(cx, 0, ControlMessage { msg_type: MessageType::Sccrq, avps });
    }

    /// The AVPs common to SCCRQ and SCCRP (RFC 2661 §6.1, §6.2;
    /// RFC 3931 §6.1, §6.2).
    fn start_avps(&mut self, cx: &mut Cx<'_>) -> Avps {
        let mut avps = Avps::default();
        let host = self.params.host_name.as_deref().unwrap_or(cx.host_name);
        avps.host_name = Some(host.as_bytes().to_vec());
        avps.vendor_name = Some(b"prol2tp".to_vec());
        avps.firmware_revision = Some(0x0100);
        avps.receive_window_size = Some(self.params.rx_window_size.max(1));
        match self.version {
            Version::V2 => {
                avps.protocol_version = Some((1, 0));
                avps.framing_capabilities = Some(3);
                avps.bearer_capabilities = Some(0);
                avps.assigned_tunnel_id = Some(self.id as u16);
            }
            Version::V3 => {
                avps.router_id = Some(cx.router_id);
                avps.assigned_control_connection_id = Some(self.id);
                avps.pseudowire_capabilities = Some(vec![Pseudowire::Ppp.iana_type(), Pseudowire::Eth.iana_type(), Pseudowire::Vlan.iana_type()]);
                if self.params.secret.is_some() {
                    let mut nonce = vec![0u8; 16];
                    cx.rng.fill(&mut nonce);
                    avps.control_message_auth_nonce = Some(nonce.clone());
                    self.local_nonce = Some(nonce);
                }
            }
        }
        avps
    }

    /// Creates a tunnel as responder for a peer's SCCRQ; the caller then
    /// feeds the SCCRQ through [`Tunnel::handle_packet`], which answers it
    /// with SCCRP or refuses it with StopCCN (RFC 2661 §7.2.1 "idle,
    /// receive SCCRQ"; §5.1.1 tunnel authentication).
    pub(crate) fn responder(id: u32, version: Version, peer: SocketAddr, local: Option<SocketAddr>, params: Rc<TunnelParams>, now: Instant) -> Tunnel {
        let mut t = Tunnel::new(id, version, peer, params, TunnelState::WaitCtlConn, now);
        t.local = local;
        t.trace_fsm("idle", t.state, "SCCRQ");
        t
    }

    /// Key for the v3 Message Digest (RFC 3931 §4.3): for messages we
    /// send (`outbound`) keyed by (our nonce, the peer's), for messages we
    /// receive the other way round. `None` without a secret or in v2.
    fn digest_key(&self, outbound: bool) -> Option<DigestKey> {
        if self.version != Version::V3 {
            return None;
        }
        let secret = self.params.secret.as_deref()?;
        let local = self.local_nonce.as_deref().unwrap_or(&[]);
        let peer = self.peer_nonce.as_deref().unwrap_or(&[]);
        let (sender, receiver) = if outbound { (local, peer) } else { (peer, local) };
        Some(DigestKey::new(secret, self.params.digest, sender, receiver))
    }

    /// Encodes `msg` and queues it on the reliable channel. `hdr_session_id`
    /// is the v2 header Session ID (the peer's session id, 0 for tunnel
    /// messages).
    pub(crate) fn queue(&mut self, cx: &mut Cx<'_>, hdr_session_id: u16, msg: ControlMessage) {
        self.queue_for(cx, hdr_session_id, 0, msg);
    }

    /// The trace flags for a message of session `sid` (0: a tunnel
    /// message): the tunnel's, and the session's when it exists. The wire
    /// is the tunnel's, the message the session's: either instance's trace
    /// shows it, and no other tunnel's ever does.
    fn msg_flags(&self, sid: u32) -> TraceFlags {
        match self.sessions.get(&sid) {
            Some(s) if sid != 0 => self.trace_flags | s.trace_flags,
            _ => self.trace_flags,
        }
    }

    /// [`Tunnel::queue`] for a message of our session `sid` (0 for tunnel
    /// messages), which its `protocol` and `avp` trace lines name.
    fn queue_for(&mut self, cx: &mut Cx<'_>, hdr_session_id: u16, sid: u32, msg: ControlMessage) {
        let mut frame = Vec::with_capacity(96);
        frame.extend_from_slice(&hdr_session_id.to_be_bytes());
        let secret = self.params.secret.as_deref();
        // Nothing in SCCRQ is sensitive, and until the peer answers we do
        // not know whether it can read hidden AVPs (see
        // `peer_reads_hidden_avps`): SCCRQ goes out unhidden (RFC 2661 §4.3
        // leaves hiding to the sender).
        let hide = self.params.hide_avps && secret.is_some() && msg.msg_type != MessageType::Sccrq && self.peer_reads_hidden;
        let digest = if self.version == Version::V3 && secret.is_some() { Some(self.params.digest) } else { None };
        let rng = &mut *cx.rng;
        let mut fill = |buf: &mut [u8]| rng.fill(buf);
        let mut ecx = EncodeCtx { secret, hide, random: &mut fill, digest };
        message::encode(&msg, &mut ecx, &mut frame);
        let flags = self.msg_flags(sid);
        if flags.intersects(TraceFlags::PROTOCOL | super::trace::AVP_CATEGORIES) {
            let seq = (self.chan.next_ns().wrapping_add(self.chan.queued() as u16), self.chan.next_nr());
            self.trace_message(flags, "send", sid, hdr_session_id.into(), seq, &msg, frame.get(2..).unwrap_or(&[]));
        }
        self.stats.ctrl_tx += 1;
        cx.stats.ctrl_tx += 1;
        self.chan.send(cx.now, frame);
    }

    /// The `protocol` line of a message sent or received (`dir`), with the
    /// ids of both ends, Ns/Nr and, for StopCCN and CDN, the result code;
    /// then its `avp` lines. A sent message gets its Ns now: messages are
    /// numbered in the order they are queued (RFC 2661 §5.8); the Nr shown
    /// is the current one (a retransmission may carry a later one, see the
    /// `xprt` lines). `peer_sid` is the peer's session id as far as known.
    #[allow(clippy::too_many_arguments)]
    fn trace_message(&self, flags: TraceFlags, dir: &'static str, sid: u32, peer_sid: u32, (ns, nr): (u16, u16), msg: &ControlMessage, avps: &[u8]) {
        let peer_sid = self.sessions.get(&sid).filter(|_| sid != 0).map_or(peer_sid, |s| s.peer_id);
        common::trace!(
            flags,
            TraceFlags::PROTOCOL,
            "{dir} msg={} tunnel_id={} session_id={} peer_tunnel_id={} peer_session_id={} ns={} nr={} peer={}{}",
            msg.msg_type.name(),
            self.id,
            sid,
            self.peer_id,
            peer_sid,
            ns,
            nr,
            self.peer,
            ResultText(msg.avps.result_code.as_ref())
        );
        let secret = self.params.secret.as_deref();
        super::trace::trace_avps(&super::trace::MsgTrace { flags, tunnel_id: self.id, session_id: sid, dir, secret }, avps);
    }

    /// Moves everything the reliable channel wants to send onto the
    /// endpoint's transmit queue, building headers (and v3 digests) now.
    pub(crate) fn flush(&mut self, cx: &mut Cx<'_>) {
        let key = self.digest_key(true);
        while let Some(out) = self.chan.poll_transmit(cx.now) {
            let frame: &[u8] = &out.payload;
            let (sid, avps) = match frame {
                [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
                _ => (0, &[][..]),
            };
            let header = ControlHeader { version: self.version, tunnel_id: self.peer_id, session_id: sid, ns: out.ns, nr: out.nr };
            let mut bytes = Vec::with_capacity(avps.len() + 20);
            emit_control(self.transport, &header, avps, &mut bytes);
            if let (Some(key), false) = (&key, avps.is_empty()) {
                if auth::fill_digest(&mut bytes, self.transport, key).is_err() {
                    common::log::log(common::log::Level::Error, format_args!("digest tunnel_id={} error=no-digest-avp", self.id));
                }
            }
            if avps.is_empty() {
                common::log::trace(self.trace_flags, TraceFlags::XPRT, format_args!("send msg=ZLB tunnel_id={} ns={} nr={}", self.id, out.ns, out.nr));
            } else {
                common::trace!(
                    self.trace_flags,
                    TraceFlags::XPRT,
                    "{} msg={} tunnel_id={} peer_tunnel_id={} ns={} nr={} len={} outstanding={} window={}",
                    if out.retransmission { "retransmit" } else { "xmit" },
                    peek_message_type(avps).map_or("?", |m| m.name()),
                    self.id,
                    self.peer_id,
                    out.ns,
                    out.nr,
                    bytes.len(),
                    self.chan.outstanding(),
                    self.chan.send_window()
                );
            }
            self.stats.ctrl_tx_packets += 1;
            self.stats.ctrl_tx_octets += bytes.len() as u64;
            cx.transmits.push_back(super::endpoint::Transmit { tunnel_id: self.id, to: self.peer, from: self.local, transport: self.transport, bytes });
        }
    }

    /// Handles a control packet addressed to this tunnel. `raw` is the
    /// whole packet (for the v3 digest); `avps` its AVP part.
    pub(crate) fn handle_packet(&mut self, cx: &mut Cx<'_>, from: SocketAddr, header: &ControlHeader, avps: &[u8], raw: &[u8]) {
        self.stats.ctrl_rx_packets += 1;
        self.stats.ctrl_rx_octets += raw.len() as u64;
        if from != self.peer {
            if self.state == TunnelState::WaitCtlReply && from.ip() == self.peer.ip() {
                // RFC 2661 §8.1: the responder may answer from another port;
                // the initiator must then use it.
                self.peer = from;
            } else {
                cx.stats.illegal_messages += 1;
                common::log::trace(
                    self.trace_flags,
                    TraceFlags::XPRT,
                    format_args!("drop reason=wrong-peer tunnel_id={} from={} peer={}", self.id, from, self.peer),
                );
                return;
            }
        }
        if !avps.is_empty() && self.version == Version::V3 && self.params.secret.is_some() {
            // SCCRQ/SCCRP carry the nonce the key depends on: take it first.
            self.note_peer_nonce(avps);
            let key = self.digest_key(false).ok_or(()).ok();
            let Some(key) = key else { return };
            if auth::verify_digest(raw, self.transport, &key).is_err() {
                cx.stats.auth_failures += 1;
                self.stats.ctrl_rx_bad += 1;
                common::log::log(common::log::Level::Warning, format_args!("auth tunnel_id={} peer={} error=bad-message-digest", self.id, self.peer));
                return;
            }
        }
        let frame = if avps.is_empty() {
            None
        } else {
            let mut f = Vec::with_capacity(avps.len() + 2);
            f.extend_from_slice(&header.session_id.to_be_bytes());
            f.extend_from_slice(avps);
            Some(f)
        };
        self.receive_frame(cx, header, frame, 0);
    }

    fn note_peer_nonce(&mut self, avps: &[u8]) {
        if self.peer_nonce.is_some() {
            return;
        }
        for avp in AvpIter::new(avps).flatten() {
            if avp.vendor_id == 0 && avp.attr_type == super::avp::attr::CONTROL_MESSAGE_AUTH_NONCE && !avp.hidden {
                self.peer_nonce = Some(avp.value.to_vec());
            }
        }
    }

    fn receive_frame(&mut self, cx: &mut Cx<'_>, header: &ControlHeader, frame: Option<Vec<u8>>, _depth: u8) {
        self.heard_from_peer = true;
        let is_zlb = frame.is_none();
        if is_zlb {
            common::log::trace(self.trace_flags, TraceFlags::XPRT, format_args!("recv msg=ZLB tunnel_id={} ns={} nr={}", self.id, header.ns, header.nr));
        }
        let first_ns = self.chan.next_nr();
        let verdict = self.chan.on_receive(cx.now, header.ns, header.nr, frame);
        if matches!(verdict, RxVerdict::Duplicate | RxVerdict::OutOfWindow) {
            cx.stats.sequence_errors += 1;
        }
        if !is_zlb {
            common::trace!(
                self.trace_flags,
                TraceFlags::XPRT,
                "recv tunnel_id={} peer_tunnel_id={} ns={} nr={} verdict={} next_nr={} outstanding={}",
                self.id,
                self.peer_id,
                header.ns,
                header.nr,
                match verdict {
                    RxVerdict::Deliver => "deliver",
                    RxVerdict::Buffered => "buffered",
                    RxVerdict::Duplicate => "duplicate",
                    RxVerdict::OutOfWindow => "out-of-window",
                    RxVerdict::Ack => "ack",
                },
                self.chan.next_nr(),
                self.chan.outstanding()
            );
        }
        // Delivered messages carry consecutive Ns from the Nr expected
        // before this packet (RFC 2661 §5.8).
        let mut ns = first_ns;
        while let Some(frame) = self.chan.poll_delivered() {
            self.dispatch(cx, &frame, (ns, header.nr));
            ns = ns.wrapping_add(1);
            if self.state == TunnelState::Closing && self.close_deadline.is_none() {
                break;
            }
        }
    }

    /// Decodes, validates and dispatches one in-order control message;
    /// `seq` is its (Ns, Nr) for the trace.
    fn dispatch(&mut self, cx: &mut Cx<'_>, frame: &[u8], seq: (u16, u16)) {
        let (hdr_sid, avps) = match frame {
            [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
            _ => return,
        };
        let secret = self.params.secret.as_deref();
        cx.stats.vendor_avps += count_vendor_avps(avps);
        let decoded = message::decode(avps, &DecodeCtx { secret }).and_then(|m| message::validate(&m, self.version).map(|_| m));
        let msg = match decoded {
            Ok(m) => m,
            Err(e) => {
                let secret = self.params.secret.as_deref();
                let t = super::trace::MsgTrace { flags: self.trace_flags, tunnel_id: self.id, session_id: u32::from(hdr_sid), dir: "recv", secret };
                super::trace::trace_avps(&t, avps);
                return self.on_decode_error(cx, hdr_sid, avps, e);
            }
        };
        self.stats.ctrl_rx += 1;
        cx.stats.count_rx(msg.msg_type, true);
        let sid = match (msg.msg_type.is_session_message(), self.version) {
            (false, _) => 0,
            (true, Version::V2) => u32::from(hdr_sid),
            (true, Version::V3) => msg.avps.remote_session_id.unwrap_or(0),
        };
        let flags = self.msg_flags(sid);
        if flags.intersects(TraceFlags::PROTOCOL | super::trace::AVP_CATEGORIES) {
            let peer_sid = match self.version {
                Version::V2 => msg.avps.assigned_session_id.map_or(0, u32::from),
                Version::V3 => msg.avps.local_session_id.unwrap_or(0),
            };
            self.trace_message(flags, "recv", sid, peer_sid, seq, &msg, avps);
        }
        if msg.msg_type.is_session_message() {
            self.session_message(cx, hdr_sid, msg);
        } else {
            self.tunnel_fsm(cx, msg);
        }
    }

    /// RFC 2661 §4.1: an unknown AVP with the M bit set ends the session
    /// (session message) or the tunnel (tunnel message); other decode and
    /// validation failures do the same with the matching result code.
    fn on_decode_error(&mut self, cx: &mut Cx<'_>, hdr_sid: u16, avps: &[u8], e: DecodeError) {
        self.stats.ctrl_rx_bad += 1;
        let msg_type = peek_message_type(avps);
        cx.stats.illegal_messages += 1;
        if let Some(t) = msg_type {
            cx.stats.count_rx(t, false);
        }
        common::log::log(
            common::log::Level::Warning,
            format_args!("recv msg={} tunnel_id={} peer={} error=\"{}\"", msg_type.map(|t| t.name()).unwrap_or("?"), self.id, self.peer, e),
        );
        if matches!(e, DecodeError::UnknownMessageType { mandatory: false, .. }) {
            return; // RFC 2661 §4.4.1: ignored when the M bit is clear.
        }
        let (res, err) = e.result_code().unwrap_or((stop_ccn::GENERAL_ERROR, error::BAD_VALUE));
        let text = e.to_string();
        match msg_type {
            // RFC 2661 §4.1, RFC 3931 §4.4: a session message that cannot be
            // processed tears its session down with CDN. A request that
            // would create one has no session yet: answer the peer's call
            // with a CDN of its own, or it waits in wait-reply forever.
            Some(t @ (MessageType::Icrq | MessageType::Ocrq)) if self.state == TunnelState::Established => {
                self.refuse_undecodable_request(cx, t, avps, err, &text);
            }
            Some(t) if t.is_session_message() => {
                let sid = match self.version {
                    Version::V2 => Some(u32::from(hdr_sid)),
                    Version::V3 => peek_u32_avp(avps, super::avp::attr::REMOTE_SESSION_ID),
                };
                if let Some(sid) = sid {
                    let r = result(cdn::GENERAL_ERROR, Some(err), &text);
                    self.drive_session(cx, sid, "bad-message", |s, v| s.close_with(v, r));
                }
                // A session-creating request that cannot be decoded has no
                // session yet: nothing to close.
                let _ = res;
            }
            _ => self.close(cx, result(res, Some(err), &text)),
        }
    }

    /// Answers an ICRQ/OCRQ that failed to decode or validate with a CDN
    /// (result 2 "general error", `err` as error code) addressed to the
    /// peer's session id, when it can be read (RFC 2661 §6.13,
    /// RFC 3931 §6.10).
    fn refuse_undecodable_request(&mut self, cx: &mut Cx<'_>, t: MessageType, avps: &[u8], err: u16, text: &str) {
        let peer_sid = match self.version {
            Version::V2 => peek_u16_avp(avps, super::avp::attr::ASSIGNED_SESSION_ID).map(u32::from),
            Version::V3 => peek_u32_avp(avps, super::avp::attr::LOCAL_SESSION_ID),
        };
        let Some(peer_sid) = peer_sid.filter(|&s| s != 0) else { return };
        cx.stats.session_setup_failures += 1;
        common::log::log(
            common::log::Level::Notice,
            format_args!("session refused tunnel_id={} msg={} peer_session_id={} error={}", self.id, t.name(), peer_sid, err),
        );
        let mut reply = Avps::default();
        match self.version {
            Version::V2 => reply.assigned_session_id = Some(0),
            Version::V3 => {
                reply.local_session_id = Some(0);
                reply.remote_session_id = Some(peer_sid);
            }
        }
        reply.result_code = Some(result(cdn::GENERAL_ERROR, Some(err), text));
        self.queue(cx, peer_sid as u16, ControlMessage { msg_type: MessageType::Cdn, avps: reply });
    }

    /// The tunnel FSM: one match over (state, message), RFC 2661 §7.2.1.
    fn tunnel_fsm(&mut self, cx: &mut Cx<'_>, msg: ControlMessage) {
        use MessageType as M;
        use TunnelState as S;
        match (self.state, msg.msg_type) {
            // A peer's SCCRQ that created this tunnel.
            (S::WaitCtlConn, M::Sccrq) if self.peer_id == 0 => self.on_sccrq(cx, &msg.avps),
            // RFC 2661 §7.2.1: wait-ctl-reply, SCCRP acceptable → send SCCCN, established.
            (S::WaitCtlReply, M::Sccrp) => self.on_sccrp(cx, &msg.avps),
            // wait-ctl-conn, SCCCN acceptable → established (ack by ZLB).
            (S::WaitCtlConn, M::Scccn) => self.on_scccn(cx, &msg.avps),
            // RFC 2661 §5.7: StopCCN in any state: clean up, keep acking.
            (_, M::StopCcn) => self.on_stop_ccn(cx, msg.avps.result_code.clone()),
            // Keepalive and explicit ACK (RFC 3931 §5.3): the channel acks.
            (_, M::Hello) => self.stats.hello_rx += 1,
            (_, M::Ack) => {}
            // Anything may still trickle in while closing.
            (S::Closing, _) => {}
            // The one exit for unexpected messages (STYLE: npppd).
            (state, other) => {
                let text = format!("unexpected {} in state {}", other.name(), state.name());
                self.close(cx, result(stop_ccn::FSM_ERROR, None, &text));
            }
        }
    }

    fn on_sccrq(&mut self, cx: &mut Cx<'_>, avps: &Avps) {
        if let Err(r) = self.take_peer_start_avps(avps) {
            return self.refuse(cx, r);
        }
        self.take_peer_info(avps);
        let mut reply = self.start_avps(cx);
        if let Err(r) = self.answer_challenge(avps, MessageType::Sccrp, &mut reply) {
            cx.stats.auth_failures += 1;
            return self.refuse(cx, r);
        }
        if self.version == Version::V2 && self.params.secret.is_some() {
            let mut ch = vec![0u8; 16];
            cx.rng.fill(&mut ch);
            reply.challenge = Some(ch.clone());
            self.our_challenge = Some(ch);
        }
        self.queue(cx, 0, ControlMessage { msg_type: MessageType::Sccrp, avps: reply });
    }

    fn on_sccrp(&mut self, cx: &mut Cx<'_>, avps: &Avps) {
        if let Err(r) = self.take_peer_start_avps(avps) {
            return self.close(cx, r);
        }
        self.take_peer_info(avps);
        if let Err(r) = self.check_challenge_response(avps, MessageType::Sccrp) {
            cx.stats.auth_failures += 1;
            return self.close(cx, r);
        }
        let mut conn = Avps::default();
        if let Err(r) = self.answer_challenge(avps, MessageType::Scccn, &mut conn) {
            cx.stats.auth_failures += 1;
            return self.close(cx, r);
        }
        self.may_fall_back = false;
        self.queue(cx, 0, ControlMessage { msg_type: MessageType::Scccn, avps: conn });
        self.establish(cx, "SCCRP");
    }

    fn on_scccn(&mut self, cx: &mut Cx<'_>, avps: &Avps) {
        if let Err(r) = self.check_challenge_response(avps, MessageType::Scccn) {
            cx.stats.auth_failures += 1;
            return self.close(cx, r);
        }
        self.establish(cx, "SCCCN");
    }

    /// The `fsm` trace line of a tunnel state change; `event` names its
    /// cause (a message name, `open`, `close`, `timeout`, ...).
    fn trace_fsm(&self, from: &str, to: TunnelState, event: &str) {
        common::trace!(
            self.trace_flags,
            TraceFlags::FSM,
            "tunnel_id={} peer_tunnel_id={} from={} to={} event={}",
            self.id,
            self.peer_id,
            from,
            to.name(),
            event
        );
    }

    /// Moves to `to`, with its `fsm` trace line.
    fn set_state(&mut self, to: TunnelState, event: &str) {
        if self.state != to {
            self.trace_fsm(self.state.name(), to, event);
        }
        self.state = to;
    }

    fn establish(&mut self, cx: &mut Cx<'_>, event: &str) {
        self.set_state(TunnelState::Established, event);
        self.up_at = Some(cx.now);
        common::log::log(
            common::log::Level::Info,
            format_args!("tunnel up tunnel_id={} peer_tunnel_id={} peer={} version={:?}", self.id, self.peer_id, self.peer, self.version),
        );
        cx.events.push_back(Event::TunnelUp(self.info()));
        let waiting: Vec<u32> = self.sessions.iter().filter(|(_, s)| s.state == SessionState::WaitTunnel).map(|(id, _)| *id).collect();
        for sid in waiting {
            self.drive_session(cx, sid, "tunnel-up", |s, v| s.start(v));
        }
    }

    /// Peer's tunnel id, window and version checks common to SCCRQ/SCCRP.
    fn take_peer_start_avps(&mut self, avps: &Avps) -> Result<(), ResultCode> {
        match self.version {
            Version::V2 => {
                if let Some((ver, rev)) = avps.protocol_version {
                    if (ver, rev) != (1, 0) {
                        return Err(result(stop_ccn::UNSUPPORTED_VERSION, None, "L2TPv2 protocol version 1.0 required"));
                    }
                }
                match avps.assigned_tunnel_id {
                    Some(id) if id != 0 => self.peer_id = u32::from(id),
                    _ => return Err(result(stop_ccn::GENERAL_ERROR, Some(error::BAD_VALUE), "missing or zero Assigned Tunnel ID")),
                }
            }
            Version::V3 => match avps.assigned_control_connection_id {
                Some(id) if id != 0 => self.peer_id = id,
                _ => return Err(result(stop_ccn::GENERAL_ERROR, Some(error::BAD_VALUE), "missing or zero Assigned Control Connection ID")),
            },
        }
        if let Some(w) = avps.receive_window_size {
            let w = w.max(1);
            self.peer_info.rx_window_size = w;
            self.chan.set_peer_window(w);
        }
        if let Some(n) = &avps.control_message_auth_nonce {
            self.peer_nonce = Some(n.clone());
        }
        if self.version == Version::V3 && self.params.secret.is_some() && self.peer_nonce.is_none() {
            return Err(result(stop_ccn::NOT_AUTHORIZED, None, "secret configured but the peer sent no authentication nonce"));
        }
        Ok(())
    }

    fn take_peer_info(&mut self, avps: &Avps) {
        self.peer_info.host_name = avps.host_name.clone().unwrap_or_default();
        self.peer_info.vendor_name = avps.vendor_name.clone().unwrap_or_default();
        self.peer_reads_hidden = peer_reads_hidden_avps(&self.peer_info.vendor_name);
        if !self.peer_reads_hidden && self.params.hide_avps {
            common::log::log(
                common::log::Level::Notice,
                format_args!("tunnel hide-avps=off tunnel_id={} peer={} reason=\"xl2tpd cannot unhide AVPs\"", self.id, self.peer),
            );
        }
        self.peer_info.router_id = avps.router_id;
        self.peer_info.firmware_revision = avps.firmware_revision;
        self.peer_info.framing_capabilities = avps.framing_capabilities;
    }

    /// RFC 2661 §5.1.1: answer the peer's Challenge in SCCRP (or SCCCN).
    fn answer_challenge(&self, avps: &Avps, reply_type: MessageType, reply: &mut Avps) -> Result<(), ResultCode> {
        let Some(challenge) = &avps.challenge else { return Ok(()) };
        let Some(secret) = self.params.secret.as_deref() else {
            return Err(result(stop_ccn::NOT_AUTHORIZED, None, "peer sent a Challenge but no secret is configured"));
        };
        reply.challenge_response = Some(auth::challenge_response(reply_type, secret, challenge));
        Ok(())
    }

    /// RFC 2661 §5.1.1: check the Challenge Response to our challenge.
    fn check_challenge_response(&self, avps: &Avps, in_msg: MessageType) -> Result<(), ResultCode> {
        let (Some(challenge), Some(secret)) = (&self.our_challenge, self.params.secret.as_deref()) else { return Ok(()) };
        let expected = auth::challenge_response(in_msg, secret, challenge);
        match avps.challenge_response {
            Some(got) if got == expected => Ok(()),
            Some(_) => Err(result(stop_ccn::NOT_AUTHORIZED, None, "bad Challenge Response")),
            None => Err(result(stop_ccn::NOT_AUTHORIZED, None, "Challenge Response missing")),
        }
    }

    fn refuse(&mut self, cx: &mut Cx<'_>, r: ResultCode) {
        common::log::log(
            common::log::Level::Notice,
            format_args!("tunnel refused tunnel_id={} peer={} result={} message=\"{}\"", self.id, self.peer, r.result, r.message.as_deref().unwrap_or("")),
        );
        self.close(cx, r);
    }

    fn on_stop_ccn(&mut self, cx: &mut Cx<'_>, r: Option<ResultCode>) {
        let r = r.unwrap_or_else(|| result(stop_ccn::GENERAL_REQUEST_TO_CLEAR, None, ""));
        if self.state == TunnelState::WaitCtlReply && self.may_fall_back && r.result == stop_ccn::UNSUPPORTED_VERSION {
            return self.fall_back(cx, "peer refused L2TPv3 (StopCCN result 5)");
        }
        common::log::log(
            common::log::Level::Info,
            format_args!(
                "tunnel stopped-by-peer tunnel_id={} peer={} result={} error={} message=\"{}\"",
                self.id,
                self.peer,
                r.result,
                r.error.unwrap_or(0),
                r.message.as_deref().unwrap_or("")
            ),
        );
        self.enter_closing(cx, r, true, "StopCCN");
    }

    /// The peer answered our v3 SCCRQ in L2TPv2 (xl2tpd sends a v2 ZLB):
    /// fall back at once if this tunnel may. Returns whether it did.
    pub(crate) fn v2_answer(&mut self, cx: &mut Cx<'_>) -> bool {
        if self.state != TunnelState::WaitCtlReply || !self.may_fall_back {
            return false;
        }
        self.fall_back(cx, "peer answered in L2TPv2");
        true
    }

    /// True for a locally opened v3 tunnel still waiting for SCCRP that may
    /// fall back to v2.
    pub(crate) fn awaiting_v3_answer(&self) -> bool {
        self.state == TunnelState::WaitCtlReply && self.may_fall_back && self.version == Version::V3
    }

    /// Restarts a v3 attempt as L2TPv2 (the seeds' automatic fallback).
    fn fall_back(&mut self, cx: &mut Cx<'_>, why: &str) {
        common::log::log(
            common::log::Level::Notice,
            format_args!("tunnel version-fallback tunnel_id={} peer={} from=3 to=2 reason=\"{}\"", self.id, self.peer, why),
        );
        cx.events.push_back(Event::VersionFallback { tunnel_id: self.id });
        common::trace!(self.trace_flags, TraceFlags::FSM, "tunnel_id={} from=wait-ctl-reply to=wait-ctl-reply event=version-fallback version=2", self.id);
        self.version = Version::V2;
        self.transport = Transport::Udp;
        self.may_fall_back = false;
        self.peer_id = 0;
        self.local_nonce = None;
        self.peer_nonce = None;
        self.heard_from_peer = false;
        if let Some(p) = self.params.peer {
            self.peer = p;
        }
        self.chan = ReliableChannel::new(channel_config(&self.params), cx.now);
        // v2 sessions carry only PPP and 16-bit ids: sessions that cannot be
        // carried are closed; PPP ones keep waiting.
        let ids: Vec<u32> = self.sessions.keys().copied().collect();
        for sid in ids {
            // Every id was taken from the node-wide v3 pool; as a v2 id it
            // is only unique in this tunnel, and a v2 tunnel releases into
            // no pool: give it back now, or it leaks.
            cx.release_session_id(Version::V3, sid);
            let unfit = self.sessions.get(&sid).is_some_and(|s| s.params.pseudowire != Pseudowire::Ppp || sid > 0xffff);
            if unfit {
                let r = result(cdn::GENERAL_ERROR, None, "L2TPv2 cannot carry this pseudowire");
                self.drive_session(cx, sid, "version-fallback", |s, v| s.close_with(v, r));
            } else if let Some(s) = self.sessions.get_mut(&sid) {
                s.pseudowire = Pseudowire::Ppp;
                s.l2spec = super::session::L2SpecType::None;
            }
        }
        self.send_sccrq(cx);
    }

    /// Closes the tunnel locally: StopCCN with `r` (RFC 2661 §6.4), every
    /// session down without CDN (§5.7), then Closing until the StopCCN is
    /// acknowledged or the retry limit passes.
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>, r: ResultCode) {
        if self.state == TunnelState::Closing {
            return;
        }
        let mut avps = Avps::default();
        match self.version {
            Version::V2 => avps.assigned_tunnel_id = Some(self.id as u16),
            Version::V3 => avps.assigned_control_connection_id = Some(self.id),
        }
        avps.result_code = Some(r.clone());
        if self.peer_id != 0 || self.network_created {
            self.queue(cx, 0, ControlMessage { msg_type: MessageType::StopCcn, avps });
        }
        common::log::log(
            common::log::Level::Info,
            format_args!(
                "tunnel closing tunnel_id={} peer={} result={} error={} message=\"{}\"",
                self.id,
                self.peer,
                r.result,
                r.error.unwrap_or(0),
                r.message.as_deref().unwrap_or("")
            ),
        );
        self.enter_closing(cx, r, false, "close");
    }

    fn enter_closing(&mut self, cx: &mut Cx<'_>, r: ResultCode, by_peer: bool, event: &str) {
        let was_up = self.state == TunnelState::Established;
        self.set_state(TunnelState::Closing, event);
        // RFC 2661 §5.7: the receiver of StopCCN keeps state for a full
        // retransmission cycle; the sender until its StopCCN is acked.
        self.close_deadline = if by_peer || self.peer_id == 0 && !self.network_created { Some(cx.now + self.hold_time()) } else { None };
        self.setup_deadlines.clear();
        let ids: Vec<u32> = self.sessions.keys().copied().collect();
        for sid in ids {
            if let Some(mut s) = self.sessions.remove(&sid) {
                s.result = Some(r.clone());
                common::trace!(
                    s.trace_flags,
                    TraceFlags::FSM,
                    "tunnel_id={} session_id={} peer_tunnel_id={} peer_session_id={} from={} to=closed event=tunnel-closing",
                    self.id,
                    sid,
                    self.peer_id,
                    s.peer_id,
                    s.state.name()
                );
                s.state = SessionState::Closed;
                self.report_session_gone(cx, &s);
            }
        }
        cx.events.push_back(Event::TunnelDown { tunnel_id: self.id, was_up, result: r.clone() });
        self.result = Some(r);
    }

    /// A full retransmission cycle: the sum of the back-off intervals.
    pub(crate) fn hold_time(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut t = self.params.retry_timeout;
        for _ in 0..=self.params.max_retries {
            total += t;
            t = (t * 2).min(self.params.max_retry_timeout);
        }
        total
    }

    /// Timer expiry: retransmissions, ZLB acks, HELLO, dead peers, the end
    /// of the Closing hold. An early or stale call does nothing.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Cx<'_>) {
        self.chan.handle_timeout(cx.now);
        if self.chan.is_dead() && self.state != TunnelState::Closing {
            if self.may_fall_back && !self.heard_from_peer {
                return self.fall_back(cx, "no answer to L2TPv3 SCCRQ");
            }
            cx.stats.peer_timeouts += 1;
            let r = result(stop_ccn::GENERAL_ERROR, Some(error::NO_GENERAL_ERROR), "peer not responding");
            common::log::log(
                common::log::Level::Warning,
                format_args!("tunnel dead tunnel_id={} peer={} retries={}", self.id, self.peer, self.params.max_retries),
            );
            self.enter_closing(cx, r, false, "peer-dead");
            self.close_deadline = Some(cx.now);
            return;
        }
        self.expire_session_setups(cx);
        if self.state == TunnelState::WaitCtlConn && cx.now >= self.created_at + self.hold_time() {
            // RFC 2661 §7.2.1 leaves wait-ctl-conn without a timer of its
            // own: once our SCCRP is acknowledged the channel is idle, and a
            // peer that never sends SCCCN would hold the tunnel (and a
            // max_halfopen_tunnels slot) for ever. One retransmission cycle
            // is the peer's whole chance.
            cx.stats.peer_timeouts += 1;
            return self.close(cx, result(stop_ccn::GENERAL_ERROR, Some(error::NO_GENERAL_ERROR), "no SCCCN within one retransmission cycle"));
        }
        if self.state == TunnelState::Established && self.chan.hello_due() {
            self.stats.hello_tx += 1;
            self.queue(cx, 0, ControlMessage { msg_type: MessageType::Hello, avps: Avps::default() });
        }
        if self.state == TunnelState::Closing && self.close_deadline.is_none() && (self.chan.is_idle() || self.chan.is_dead()) {
            // Our StopCCN is acknowledged (or never will be): linger briefly
            // to ack the peer's last retransmissions, then go.
            self.close_deadline = Some(cx.now + self.params.retry_timeout);
        }
    }

    /// Closes sessions that did not come up within [`SESSION_SETUP_TIMEOUT`].
    fn expire_session_setups(&mut self, cx: &mut Cx<'_>) {
        while let Some(&(deadline, sid)) = self.setup_deadlines.first() {
            if deadline > cx.now || self.state == TunnelState::Closing {
                return;
            }
            self.setup_deadlines.remove(&(deadline, sid));
            let r = result(cdn::GENERAL_ERROR, Some(error::NO_GENERAL_ERROR), "session setup timed out");
            self.drive_session(cx, sid, "setup-timeout", |s, v| s.close_with(v, r));
        }
    }

    /// True when nothing we sent on this tunnel still waits for the peer:
    /// it is closing and the channel holds no unacknowledged message. A
    /// daemon shutting down need not wait for such a tunnel's hold period
    /// (RFC 2661 §5.7 asks the hold of the StopCCN's receiver, which only
    /// matters while the process lives).
    pub fn quiescent(&self) -> bool {
        self.state == TunnelState::Closing && self.chan.is_idle()
    }

    /// True once a Closing tunnel may be forgotten.
    pub(crate) fn finished(&self, now: Instant) -> bool {
        self.state == TunnelState::Closing && self.close_deadline.is_some_and(|d| now >= d)
    }

    /// The earliest instant this tunnel needs [`Tunnel::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let chan = self.chan.poll_timeout();
        let close = if self.state == TunnelState::Closing {
            // An acked StopCCN is only noticed on a timeout: poll soon.
            // Once the channel is idle nothing else would wake us (its next
            // deadline is the HELLO timer).
            self.close_deadline.or_else(|| if self.chan.is_idle() { Some(self.created_at) } else { chan })
        } else if self.state == TunnelState::WaitCtlConn {
            Some(self.created_at + self.hold_time())
        } else {
            self.setup_deadlines.first().map(|d| d.0)
        };
        match (chan, close) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- sessions -----

    /// Sessions of this tunnel, by our session id.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// One session by our session id.
    pub fn session(&self, id: u32) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Mutable access for run-time changes such as `prol2tp trace`.
    pub fn session_mut(&mut self, id: u32) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    /// Number of sessions (any state).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn session_limit_reached(&self, cx: &Cx<'_>) -> bool {
        (self.params.max_sessions != 0 && self.sessions.len() >= self.params.max_sessions as usize) || cx.sessions_full()
    }

    /// Creates a session locally (ICRQ as LAC or OCRQ as LNS); it starts
    /// when the tunnel is established. Errors: the tunnel is closing, or a
    /// limit is reached.
    pub(crate) fn create_session(&mut self, cx: &mut Cx<'_>, call_type: CallType, params: Rc<SessionParams>) -> Result<u32, &'static str> {
        if self.state == TunnelState::Closing {
            return Err("tunnel is closing");
        }
        if self.session_limit_reached(cx) {
            cx.stats.resource_failures += 1;
            return Err("session limit reached");
        }
        if self.version == Version::V2 && params.pseudowire != Pseudowire::Ppp {
            return Err("L2TPv2 carries only PPP pseudowires");
        }
        // A v3 attempt that may fall back to v2 takes 16-bit ids, or its
        // PPP sessions could not follow it to v2.
        let sid = if self.may_fall_back { cx.alloc_session_id_narrow(&self.sessions) } else { cx.alloc_session_id(self.version, &self.sessions) };
        let Some(sid) = sid else {
            cx.stats.resource_failures += 1;
            return Err("no free session id");
        };
        let serial = cx.next_call_serial();
        let s = Session::new(sid, call_type, params, self.version, serial, cx.now);
        cx.events.push_back(Event::SessionCreated(self.session_info(&s)));
        self.setup_deadlines.insert((s.created_at + SESSION_SETUP_TIMEOUT, sid));
        self.sessions.insert(sid, s);
        *cx.total_sessions += 1;
        if let Some(s) = self.sessions.get(&sid) {
            common::trace!(s.trace_flags, TraceFlags::FSM, "tunnel_id={} session_id={} from=idle to={} event=open", self.id, sid, s.state.name());
        }
        if self.state == TunnelState::Established {
            self.drive_session(cx, sid, "open", |s, v| s.start(v));
        }
        Ok(sid)
    }

    /// Closes one session with a CDN (RFC 2661 §6.13). Errors: no such session.
    pub(crate) fn close_session(&mut self, cx: &mut Cx<'_>, sid: u32, r: ResultCode) -> Result<(), &'static str> {
        if self.drive_session(cx, sid, "close", |s, v| s.close_with(v, r)) {
            Ok(())
        } else {
            Err("no such session")
        }
    }

    fn session_message(&mut self, cx: &mut Cx<'_>, hdr_sid: u16, msg: ControlMessage) {
        if self.state != TunnelState::Established {
            if self.state != TunnelState::Closing {
                let text = format!("{} before the tunnel is established", msg.msg_type.name());
                self.close(cx, result(stop_ccn::FSM_ERROR, None, &text));
            }
            return;
        }
        match msg.msg_type {
            MessageType::Icrq | MessageType::Ocrq => self.session_request(cx, msg),
            _ => {
                let sid = match self.version {
                    Version::V2 => u32::from(hdr_sid),
                    Version::V3 => msg.avps.remote_session_id.unwrap_or(0),
                };
                if !self.sessions.contains_key(&sid) {
                    cx.stats.illegal_messages += 1;
                    common::log::trace(
                        self.trace_flags,
                        TraceFlags::PROTOCOL,
                        format_args!("drop msg={} tunnel_id={} session_id={} reason=unknown-session", msg.msg_type.name(), self.id, sid),
                    );
                    return;
                }
                self.drive_session(cx, sid, msg.msg_type.name(), |s, v| s.handle(v, &msg));
            }
        }
    }

    /// A peer's ICRQ or OCRQ: a new network-created session, or a CDN when
    /// a limit stops it (RFC 2661 §6.6, §6.7; result 4 "temporary lack of
    /// resources").
    fn session_request(&mut self, cx: &mut Cx<'_>, msg: ControlMessage) {
        let call_type = if msg.msg_type == MessageType::Icrq { CallType::IncomingLns } else { CallType::OutgoingLac };
        let peer_sid = match self.version {
            Version::V2 => msg.avps.assigned_session_id.map(u32::from),
            Version::V3 => msg.avps.local_session_id,
        }
        .unwrap_or(0);
        let sid = if self.session_limit_reached(cx) { None } else { cx.alloc_session_id(self.version, &self.sessions) };
        let Some(sid) = sid else {
            cx.stats.resource_failures += 1;
            cx.stats.session_setup_failures += 1;
            let mut avps = Avps::default();
            match self.version {
                Version::V2 => avps.assigned_session_id = Some(0),
                Version::V3 => {
                    avps.local_session_id = Some(0);
                    avps.remote_session_id = Some(peer_sid);
                }
            }
            avps.result_code = Some(result(cdn::NO_RESOURCES_TEMP, Some(error::NO_RESOURCE), "session limit reached"));
            return self.queue(cx, peer_sid as u16, ControlMessage { msg_type: MessageType::Cdn, avps });
        };
        let serial = msg.avps.call_serial_number.unwrap_or(0);
        let mut s = Session::new(sid, call_type, self.params.session.clone(), self.version, serial, cx.now);
        s.state = SessionState::WaitReply;
        cx.events.push_back(Event::SessionCreated(self.session_info(&s)));
        *cx.total_sessions += 1;
        let out = s.accept_request(self.version, &msg);
        self.setup_deadlines.insert((s.created_at + SESSION_SETUP_TIMEOUT, sid));
        self.sessions.insert(sid, s);
        self.apply_session_output(cx, sid, out, None, msg.msg_type.name());
    }

    /// Runs one input of session `sid`'s FSM (`f`, given the session and
    /// the tunnel's version) and applies its output; `event` names the
    /// input in the `fsm` trace line. Returns false when there is no such
    /// session.
    fn drive_session(&mut self, cx: &mut Cx<'_>, sid: u32, event: &str, f: impl FnOnce(&mut Session, Version) -> SessionOutput) -> bool {
        let v = self.version;
        let Some(s) = self.sessions.get_mut(&sid) else { return false };
        let from = s.state;
        let out = f(s, v);
        self.apply_session_output(cx, sid, out, Some(from), event);
        true
    }

    /// Sends what a session asked for and reports its transitions: the
    /// `fsm` trace line (`from` is `None` for a session a request just
    /// created), the messages, up and down.
    fn apply_session_output(&mut self, cx: &mut Cx<'_>, sid: u32, out: SessionOutput, from: Option<SessionState>, event: &str) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        if from != Some(s.state) {
            common::trace!(
                s.trace_flags,
                TraceFlags::FSM,
                "tunnel_id={} session_id={} peer_tunnel_id={} peer_session_id={} from={} to={} event={}",
                self.id,
                sid,
                self.peer_id,
                s.peer_id,
                from.map_or("idle", |f| f.name()),
                s.state.name(),
                event
            );
        }
        let peer_sid = s.peer_id as u16;
        s.stats.ctrl_tx += out.send.len() as u64;
        if out.closed && s.result.as_ref().is_some_and(|r| r.result != cdn::ADMIN && s.up_at.is_none()) {
            cx.stats.session_setup_failures += 1;
        }
        for m in out.send {
            self.queue_for(cx, peer_sid, sid, m);
        }
        if out.up {
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.up_at = Some(cx.now);
                self.setup_deadlines.remove(&(s.created_at + SESSION_SETUP_TIMEOUT, sid));
            }
            if let Some(s) = self.sessions.get(&sid) {
                common::log::trace(
                    s.trace_flags,
                    TraceFlags::FSM,
                    format_args!("session up tunnel_id={} session_id={} peer_tunnel_id={} peer_session_id={}", self.id, sid, self.peer_id, s.peer_id),
                );
                cx.events.push_back(Event::SessionUp(self.session_info(s)));
            }
        }
        if out.closed {
            if let Some(s) = self.sessions.remove(&sid) {
                self.setup_deadlines.remove(&(s.created_at + SESSION_SETUP_TIMEOUT, sid));
                self.report_session_gone(cx, &s);
            }
        }
    }

    fn report_session_gone(&self, cx: &mut Cx<'_>, s: &Session) {
        cx.release_session_id(self.version, s.id);
        *cx.total_sessions = cx.total_sessions.saturating_sub(1);
        let r = s.result.clone().unwrap_or_else(|| result(cdn::ADMIN, None, ""));
        common::log::trace(
            s.trace_flags,
            TraceFlags::FSM,
            format_args!("session down tunnel_id={} session_id={} result={} error={}", self.id, s.id, r.result, r.error.unwrap_or(0)),
        );
        cx.events.push_back(Event::SessionDown { info: self.session_info(s), was_up: s.up_at.is_some(), result: r });
        cx.events.push_back(Event::SessionDeleted { tunnel_id: self.id, session_id: s.id });
    }

    /// A snapshot of a session for events and the data plane.
    pub fn session_info(&self, s: &Session) -> SessionInfo {
        SessionInfo {
            tunnel_id: self.id,
            session_id: s.id,
            peer_tunnel_id: self.peer_id,
            peer_session_id: s.peer_id,
            version: self.version,
            transport: self.transport,
            peer: self.peer,
            local: self.local,
            pseudowire: s.pseudowire,
            call_type: s.call_type,
            cookie: if self.version == Version::V3 { s.params.cookie.clone() } else { Vec::new() },
            peer_cookie: s.peer_cookie.clone(),
            l2spec: s.l2spec,
            send_seq: s.send_seq,
            recv_seq: s.recv_seq,
            name: s.params.name.clone(),
            tunnel_name: self.params.name.clone(),
            interface_name: s.params.interface_name.clone(),
            vlan_id: s.params.vlan_id,
            profile: s.params.profile.clone(),
            ppp_profile: s.params.ppp_profile.clone(),
            eth_profile: s.params.eth_profile.clone(),
            trace_flags: s.trace_flags,
        }
    }

    /// A snapshot of the tunnel for events.
    pub fn info(&self) -> TunnelInfo {
        TunnelInfo {
            tunnel_id: self.id,
            peer_tunnel_id: self.peer_id,
            name: self.params.name.clone(),
            profile: self.params.profile.clone(),
            version: self.version,
            transport: self.transport,
            peer: self.peer,
            local: self.local,
            network_created: self.network_created,
        }
    }
}
