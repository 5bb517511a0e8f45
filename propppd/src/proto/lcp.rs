//! LCP, the Link Control Protocol (RFC 1661 §5–§6): the options policy for
//! the generic automaton, and the link-maintenance codes around it —
//! Echo-Request/Reply keepalive (§5.8), Discard-Request (§5.9),
//! Protocol-Reject (§5.7) and Code-Reject (§5.6).
//!
//! Options: Maximum-Receive-Unit (§6.1), Authentication-Protocol (§6.2;
//! PAP RFC 1334, CHAP-MD5 RFC 1994, MS-CHAPv2 RFC 2759), Magic-Number
//! (§6.4, loop detection), Protocol-Field-Compression (§6.5) and
//! Address-and-Control-Field-Compression (§6.6). Anything else is rejected.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use super::auth::AuthMethod;
use super::frame::{code, protocol, Compression, ConfOption, Packet};
use super::fsm::{ConfigPolicy, Fsm, FsmConfig, FsmEvent, Rng, State, Verdict};

/// LCP option types (RFC 1661 §6, IANA "PPP LCP Configuration Option
/// Types").
pub mod option {
    /// Maximum-Receive-Unit, 2 octets (RFC 1661 §6.1).
    pub const MRU: u8 = 1;
    /// Authentication-Protocol, 2 octets + data (RFC 1661 §6.2).
    pub const AUTH_PROTOCOL: u8 = 3;
    /// Magic-Number, 4 octets (RFC 1661 §6.4).
    pub const MAGIC_NUMBER: u8 = 5;
    /// Protocol-Field-Compression, no data (RFC 1661 §6.5).
    pub const PFC: u8 = 7;
    /// Address-and-Control-Field-Compression, no data (RFC 1661 §6.6).
    pub const ACFC: u8 = 8;
}

/// The default MRU (RFC 1661 §6.1), octets.
pub const DEFAULT_MRU: u16 = 1500;
/// The smallest MRU the suite accepts from a peer, octets (pppd's MINMRU).
pub const MIN_MRU: u16 = 128;

/// What LCP asks for and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcpConfig {
    /// The MRU we request, octets (requested only when not 1500).
    pub mru: u16,
    /// The largest MRU we accept from the peer, octets; larger values are
    /// Naked down to it, values under [`MIN_MRU`] up to that.
    pub max_peer_mru: u16,
    /// As authenticator: the methods we require of the peer, most preferred
    /// first; empty means no authentication.
    pub require_auth: Vec<AuthMethod>,
    /// As peer: the methods we agree to authenticate with, most preferred
    /// first; empty means we refuse to authenticate.
    pub accept_auth: Vec<AuthMethod>,
    /// Whether to negotiate a Magic-Number.
    pub magic: bool,
    /// Whether to request Protocol-Field-Compression.
    pub pfc: bool,
    /// Whether to request Address-and-Control-Field-Compression.
    pub acfc: bool,
    /// Echo-Request interval once Opened; `None` disables keepalive.
    pub echo_interval: Option<Duration>,
    /// Unanswered Echo-Requests after which the link is dead (0: never).
    pub echo_failure: u32,
    /// Restart timer and counters.
    pub fsm: FsmConfig,
}

impl Default for LcpConfig {
    fn default() -> Self {
        LcpConfig {
            mru: DEFAULT_MRU,
            max_peer_mru: u16::MAX,
            require_auth: Vec::new(),
            accept_auth: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
            magic: true,
            pfc: false,
            acfc: false,
            echo_interval: Some(Duration::from_secs(30)),
            echo_failure: 4,
            fsm: FsmConfig::default(),
        }
    }
}

/// What the last LCP negotiation agreed (valid once Opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LcpNegotiated {
    /// The MRU the peer agreed to respect when sending to us, octets.
    pub local_mru: u16,
    /// The peer's MRU: the largest frame we may send, octets.
    pub peer_mru: u16,
    /// The method the peer agreed to authenticate itself with.
    pub auth_of_peer: Option<AuthMethod>,
    /// The method the peer requires us to authenticate with.
    pub auth_of_us: Option<AuthMethod>,
    /// Our Magic-Number, 0 when not negotiated.
    pub local_magic: u32,
    /// The peer's Magic-Number, 0 when not negotiated.
    pub peer_magic: u32,
    /// Compression we may use when sending.
    pub tx: Compression,
    /// Compression the peer may use when sending to us.
    pub rx: Compression,
}

/// The LCP options policy for the generic automaton.
pub struct LcpPolicy {
    config: LcpConfig,
    rng: Box<dyn Rng>,
    want_mru: u16,
    auth_index: Option<usize>,
    magic: Option<u32>,
    pfc: bool,
    acfc: bool,
    /// What the peer's latest request asked (kept on Ack).
    peer: LcpNegotiated,
    negotiated: LcpNegotiated,
    auth_refused: bool,
    looped_back: u32,
}

impl std::fmt::Debug for LcpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LcpPolicy").field("config", &self.config).field("negotiated", &self.negotiated).finish_non_exhaustive()
    }
}

impl LcpPolicy {
    /// A policy for `config`, drawing Magic-Numbers from `rng`.
    pub fn new(config: LcpConfig, rng: Box<dyn Rng>) -> LcpPolicy {
        let mut policy = LcpPolicy {
            config,
            rng,
            want_mru: DEFAULT_MRU,
            auth_index: None,
            magic: None,
            pfc: false,
            acfc: false,
            peer: LcpNegotiated::default(),
            negotiated: LcpNegotiated::default(),
            auth_refused: false,
            looped_back: 0,
        };
        // The automaton calls reset() before its first request; drawing
        // the Magic-Number there keeps the RNG sequence predictable.
        policy.want_mru = policy.config.mru;
        policy
    }

    /// What the last negotiation agreed.
    pub fn negotiated(&self) -> &LcpNegotiated {
        &self.negotiated
    }

    /// Whether the peer refused every authentication method we require.
    pub fn auth_refused(&self) -> bool {
        self.auth_refused
    }

    /// How many Configure-Requests carried our own Magic-Number (RFC 1661
    /// §6.4: the link may be looped back).
    pub fn looped_back(&self) -> u32 {
        self.looped_back
    }

    fn random_magic(&mut self, avoid: u32) -> u32 {
        loop {
            let m = self.rng.next_u32();
            if m != 0 && m != avoid {
                return m;
            }
        }
    }

    fn judge_auth(&mut self, o: &ConfOption) -> Option<ConfOption> {
        match AuthMethod::from_option_data(&o.data).ok() {
            Some(p) if self.config.accept_auth.contains(&p) => {
                self.peer.auth_of_us = Some(p);
                None
            }
            _ => self.config.accept_auth.first().map(|p| ConfOption::new(option::AUTH_PROTOCOL, p.option_data().to_vec())),
        }
    }
}

impl ConfigPolicy for LcpPolicy {
    fn protocol(&self) -> u16 {
        protocol::LCP
    }

    fn reset(&mut self) {
        self.want_mru = self.config.mru;
        self.auth_index = if self.config.require_auth.is_empty() { None } else { Some(0) };
        self.magic = if self.config.magic { Some(self.random_magic(0)) } else { None };
        self.pfc = self.config.pfc;
        self.acfc = self.config.acfc;
        self.peer = LcpNegotiated { peer_mru: DEFAULT_MRU, ..LcpNegotiated::default() };
        self.negotiated = LcpNegotiated::default();
        self.auth_refused = false;
    }

    fn request_options(&mut self) -> Vec<ConfOption> {
        let mut options = Vec::new();
        if self.want_mru != DEFAULT_MRU {
            options.push(ConfOption::new(option::MRU, self.want_mru.to_be_bytes().to_vec()));
        }
        if let Some(p) = self.auth_index.and_then(|i| self.config.require_auth.get(i)) {
            options.push(ConfOption::new(option::AUTH_PROTOCOL, p.option_data().to_vec()));
        }
        if let Some(m) = self.magic {
            options.push(ConfOption::new(option::MAGIC_NUMBER, m.to_be_bytes().to_vec()));
        }
        if self.pfc {
            options.push(ConfOption::new(option::PFC, Vec::new()));
        }
        if self.acfc {
            options.push(ConfOption::new(option::ACFC, Vec::new()));
        }
        options
    }

    /// RFC 1661 §6: unknown or malformed options are rejected; an MRU out
    /// of range, an authentication method we do not accept, and a zero or
    /// looped-back Magic-Number are Naked.
    fn judge_request(&mut self, options: &[ConfOption]) -> Verdict {
        self.peer = LcpNegotiated { peer_mru: DEFAULT_MRU, ..LcpNegotiated::default() };
        let mut naks = Vec::new();
        let mut rejects = Vec::new();
        for o in options {
            match (o.kind, o.data.len()) {
                (option::MRU, 2) => {
                    let mru = o.as_u16().unwrap_or(DEFAULT_MRU);
                    let allowed = mru.clamp(MIN_MRU, self.config.max_peer_mru.max(MIN_MRU));
                    if allowed == mru {
                        self.peer.peer_mru = mru;
                    } else {
                        naks.push(ConfOption::new(option::MRU, allowed.to_be_bytes().to_vec()));
                    }
                }
                (option::AUTH_PROTOCOL, 2..) => match self.judge_auth(o) {
                    None => {}
                    Some(nak) => naks.push(nak),
                    // (accept_auth empty is handled below)
                },
                (option::MAGIC_NUMBER, 4) => {
                    let theirs = o.as_u32().unwrap_or(0);
                    let ours = self.magic.unwrap_or(0);
                    if theirs != 0 && theirs == ours {
                        self.looped_back = self.looped_back.saturating_add(1);
                    }
                    if theirs == 0 || theirs == ours {
                        let suggestion = self.random_magic(ours);
                        naks.push(ConfOption::new(option::MAGIC_NUMBER, suggestion.to_be_bytes().to_vec()));
                    } else {
                        self.peer.peer_magic = theirs;
                    }
                }
                (option::PFC, 0) => self.peer.tx.pfc = true,
                (option::ACFC, 0) => self.peer.tx.acfc = true,
                _ => rejects.push(o.clone()),
            }
            if o.kind == option::AUTH_PROTOCOL && self.config.accept_auth.is_empty() && !rejects.contains(o) {
                rejects.push(o.clone());
            }
        }
        if !rejects.is_empty() {
            Verdict::Reject(rejects)
        } else if !naks.is_empty() {
            Verdict::Nak(naks)
        } else {
            self.negotiated.peer_mru = self.peer.peer_mru;
            self.negotiated.auth_of_us = self.peer.auth_of_us;
            self.negotiated.peer_magic = self.peer.peer_magic;
            self.negotiated.tx = self.peer.tx;
            Verdict::Ack
        }
    }

    fn apply_ack(&mut self, options: &[ConfOption]) {
        self.negotiated.local_mru = DEFAULT_MRU;
        self.negotiated.auth_of_peer = None;
        self.negotiated.local_magic = 0;
        self.negotiated.rx = Compression::default();
        for o in options {
            match o.kind {
                option::MRU => self.negotiated.local_mru = o.as_u16().unwrap_or(DEFAULT_MRU),
                option::AUTH_PROTOCOL => self.negotiated.auth_of_peer = AuthMethod::from_option_data(&o.data).ok(),
                option::MAGIC_NUMBER => self.negotiated.local_magic = o.as_u32().unwrap_or(0),
                option::PFC => self.negotiated.rx.pfc = true,
                option::ACFC => self.negotiated.rx.acfc = true,
                _ => {}
            }
        }
    }

    fn apply_nak(&mut self, options: &[ConfOption]) {
        for o in options {
            match o.kind {
                option::MRU => {
                    if let Some(mru) = o.as_u16().filter(|m| *m >= MIN_MRU) {
                        self.want_mru = mru;
                    }
                }
                option::AUTH_PROTOCOL => {
                    // Take the peer's suggestion when we allow it, else
                    // fall back to our next method.
                    let list = &self.config.require_auth;
                    let suggested = AuthMethod::from_option_data(&o.data).ok().and_then(|p| list.iter().position(|q| *q == p));
                    let current = self.auth_index;
                    self.auth_index = match (suggested, current) {
                        (Some(i), Some(c)) if i != c => Some(i),
                        (_, Some(c)) => Some(c.saturating_add(1)).filter(|n| *n < list.len()),
                        (_, None) => None,
                    };
                    if self.auth_index.is_none() && !list.is_empty() {
                        self.auth_refused = true;
                        self.auth_index = current;
                    }
                }
                option::MAGIC_NUMBER => {
                    let avoid = o.as_u32().unwrap_or(0);
                    if self.magic.is_some() {
                        self.magic = Some(self.random_magic(avoid));
                    }
                }
                _ => {}
            }
        }
    }

    fn apply_reject(&mut self, options: &[ConfOption]) {
        for o in options {
            match o.kind {
                option::MRU => self.want_mru = DEFAULT_MRU,
                option::AUTH_PROTOCOL => self.auth_refused = true,
                option::MAGIC_NUMBER => self.magic = None,
                option::PFC => self.pfc = false,
                option::ACFC => self.acfc = false,
                _ => {}
            }
        }
    }
}

/// What LCP tells the layer above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcpEvent {
    /// The automaton's this-layer events (RFC 1661 §4.4).
    Fsm(FsmEvent),
    /// Echo-Requests went unanswered `echo_failure` times; the link is being
    /// closed.
    LinkDead,
    /// The peer sent Protocol-Reject for this protocol (RFC 1661 §5.7):
    /// stop that protocol (e.g. IPv6CP).
    ProtocolRejected(u16),
    /// An Echo-Request or Configure-Request carried our own Magic-Number.
    LoopedBack,
    /// The peer refused every authentication method we require; the link
    /// is being closed.
    AuthRefused,
}

/// LCP: the automaton with [`LcpPolicy`] plus keepalive and the rejects.
#[derive(Debug)]
pub struct Lcp {
    fsm: Fsm<LcpPolicy>,
    echo_interval: Option<Duration>,
    echo_failure: u32,
    echo_pending: u32,
    echo_deadline: Option<Instant>,
    looped_seen: u32,
    events: VecDeque<LcpEvent>,
}

impl Lcp {
    /// LCP in the Initial state.
    pub fn new(config: LcpConfig, rng: Box<dyn Rng>) -> Lcp {
        let echo_interval = config.echo_interval;
        let echo_failure = config.echo_failure;
        let fsm_config = config.fsm;
        Lcp {
            fsm: Fsm::new(LcpPolicy::new(config, rng), fsm_config),
            echo_interval,
            echo_failure,
            echo_pending: 0,
            echo_deadline: None,
            looped_seen: 0,
            events: VecDeque::new(),
        }
    }

    /// The automaton's state.
    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// What the last negotiation agreed (meaningful once Opened).
    pub fn negotiated(&self) -> &LcpNegotiated {
        self.fsm.policy().negotiated()
    }

    /// The underlying automaton.
    pub fn fsm(&self) -> &Fsm<LcpPolicy> {
        &self.fsm
    }

    /// The lower layer (the channel) is up.
    pub fn up(&mut self, now: Instant) {
        self.fsm.up(now);
        self.pump(now);
    }

    /// The lower layer is down.
    pub fn down(&mut self, now: Instant) {
        self.fsm.down(now);
        self.pump(now);
    }

    /// Administrative Open.
    pub fn open(&mut self, now: Instant) {
        self.fsm.open(now);
        self.pump(now);
    }

    /// Administrative Close; `reason` goes in the Terminate-Request.
    pub fn close(&mut self, now: Instant, reason: &[u8]) {
        self.fsm.close(now, reason);
        self.pump(now);
    }

    /// A received LCP packet (RFC 1661 §5).
    pub fn handle_packet(&mut self, now: Instant, packet: &Packet) {
        let opened = self.fsm.state() == State::Opened;
        match packet.code {
            code::ECHO_REQ if opened => self.handle_echo_request(packet),
            code::ECHO_REPLY if opened => {
                if !self.is_own_magic(&packet.data) {
                    self.echo_pending = 0;
                }
            }
            // §5.8: Echo outside Opened is discarded; §5.9: Discard-Request.
            code::ECHO_REQ | code::ECHO_REPLY | code::DISCARD_REQ => {}
            code::PROTO_REJ if opened => {
                if let [hi, lo, ..] = *packet.data.as_slice() {
                    let rejected = u16::from_be_bytes([hi, lo]);
                    if rejected == protocol::LCP {
                        self.fsm.handle_reject(now, true);
                    } else {
                        self.events.push_back(LcpEvent::ProtocolRejected(rejected));
                        self.fsm.handle_reject(now, false);
                    }
                }
            }
            code::PROTO_REJ => {}
            code::CODE_REJ if packet.data.first() == Some(&code::ECHO_REQ) => {
                // The peer does not do Echo: stop keepalive (RXJ+).
                self.echo_interval = None;
                self.echo_deadline = None;
                self.fsm.handle_reject(now, false);
            }
            _ => self.fsm.handle_packet(now, packet),
        }
        self.pump(now);
    }

    /// A frame of a protocol nobody handles arrived: Protocol-Reject it
    /// when Opened (RFC 1661 §5.7), silently discard it otherwise. The
    /// rejected information is truncated to fit the peer's MRU.
    pub fn handle_unknown_protocol(&mut self, protocol: u16, payload: &[u8]) {
        if self.fsm.state() != State::Opened {
            return;
        }
        let room = usize::from(self.negotiated().peer_mru.max(MIN_MRU)).saturating_sub(6);
        let mut data = protocol.to_be_bytes().to_vec();
        data.extend_from_slice(payload.get(..room.min(payload.len())).unwrap_or_default());
        let id = self.fsm.take_identifier();
        self.fsm.queue(Packet::new(code::PROTO_REJ, id, data));
    }

    /// Timers: the restart timer and the Echo-Request keepalive. An early
    /// call is a no-op. With `echo_failure` N and interval I, a silent peer
    /// is declared dead (N + 1) × I after Opened.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fsm.handle_timeout(now);
        if let (Some(deadline), Some(interval)) = (self.echo_deadline, self.echo_interval) {
            if now >= deadline {
                if self.echo_failure > 0 && self.echo_pending >= self.echo_failure {
                    self.echo_deadline = None;
                    self.events.push_back(LcpEvent::LinkDead);
                    self.fsm.close(now, b"peer not responding");
                } else {
                    let magic = self.negotiated().local_magic;
                    let id = self.fsm.take_identifier();
                    self.fsm.queue(Packet::new(code::ECHO_REQ, id, magic.to_be_bytes().to_vec()));
                    self.echo_pending = self.echo_pending.saturating_add(1);
                    self.echo_deadline = Some(now + interval);
                }
            }
        }
        self.pump(now);
    }

    /// The next LCP packet to send.
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        self.fsm.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<LcpEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of the restart timer and the keepalive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.fsm.poll_timeout(), self.echo_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn is_own_magic(&self, data: &[u8]) -> bool {
        let ours = self.negotiated().local_magic;
        let [a, b, c, d, ..] = *data else { return false };
        ours != 0 && u32::from_be_bytes([a, b, c, d]) == ours
    }

    /// §5.8: reply with our Magic-Number and the request's data.
    fn handle_echo_request(&mut self, packet: &Packet) {
        if packet.data.len() < 4 {
            return;
        }
        if self.is_own_magic(&packet.data) {
            self.events.push_back(LcpEvent::LoopedBack);
            return;
        }
        let mut data = self.negotiated().local_magic.to_be_bytes().to_vec();
        data.extend_from_slice(packet.data.get(4..).unwrap_or_default());
        self.fsm.queue(Packet::new(code::ECHO_REPLY, packet.identifier, data));
    }

    /// Moves the automaton's events up, starting and stopping keepalive and
    /// closing on refused authentication.
    fn pump(&mut self, now: Instant) {
        let looped = self.fsm.policy().looped_back();
        if looped != self.looped_seen {
            self.looped_seen = looped;
            self.events.push_back(LcpEvent::LoopedBack);
        }
        if self.fsm.policy().auth_refused() && matches!(self.fsm.state(), State::ReqSent | State::AckRcvd | State::AckSent | State::Opened) {
            self.events.push_back(LcpEvent::AuthRefused);
            self.fsm.close(now, b"authentication required");
        }
        while let Some(event) = self.fsm.poll_event() {
            match event {
                FsmEvent::Up => {
                    self.echo_pending = 0;
                    self.echo_deadline = self.echo_interval.map(|i| now + i);
                }
                FsmEvent::Down => self.echo_deadline = None,
                FsmEvent::Starting | FsmEvent::Finished => {}
            }
            self.events.push_back(LcpEvent::Fsm(event));
        }
    }
}
