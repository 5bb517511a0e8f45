//! The host's side of PPPoE discovery (RFC 2516 §5.1–5.5).
//!
//! `Idle` → [`Client::start`] broadcasts a PADI (§5.1) → `Discovering`: the
//! first acceptable PADO (§5.2; AC-Name as wanted, the wanted Service-Name
//! offered, our Host-Uniq echoed) is answered with a PADR (§5.3) to that AC
//! → `Requesting`: its PADS (§5.4) gives `Session` ([`ClientOutput::Up`]),
//! or `Closed` with [`ClientOutput::Failed`] when it carries an error tag or
//! SESSION_ID 0. PADI and PADR are resent on timeout, the timeout doubling
//! each time (§5 "the Host SHOULD ... double the waiting period"), up to
//! `attempts` sends. In `Session`, a PADT (§5.5) from the AC gives
//! [`ClientOutput::Down`]; [`Client::close`] sends our PADT.

use super::packet::{tag, Code, Discovery, EthHeader, MacAddr, ETH_P_PPP_DISC, PPPOE_STD_PAYLOAD};
use std::time::{Duration, Instant};

/// What the client asks for.
#[derive(Clone, Debug)]
pub struct ClientParams {
    /// Service-Name to request; "" = any service.
    pub service_name: String,
    /// Only accept a PADO with this AC-Name; None = the first acceptable AC.
    pub ac_name: Option<String>,
    /// Host-Uniq sent in PADI/PADR and required in the answers; empty = no Host-Uniq tag.
    pub host_uniq: Vec<u8>,
    /// PPP-Max-Payload to ask for (RFC 4638 §4), octets; sent only when set and > 1492.
    pub max_payload: Option<u16>,
    /// First PADI/PADR timeout, doubled per retry (a zero timeout is treated as 1 ms).
    pub timeout: Duration,
    /// PADIs (and PADRs) sent before giving up, ≥ 1 (0 is treated as 1).
    pub attempts: u32,
}

/// Discovery state of the host (RFC 2516 §5).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientState {
    /// Not started.
    Idle,
    /// PADI sent, waiting for a PADO.
    Discovering,
    /// PADR sent, waiting for the PADS.
    Requesting,
    /// PADS received: the session is up.
    Session,
    /// Gave up, failed, or the session ended.
    Closed,
}

/// One action or event for the daemon, in order.
#[derive(Clone, Debug)]
pub enum ClientOutput {
    /// Send `packet` (ethertype 0x8863) to `dst` from our MAC.
    Send {
        /// Ethernet destination: broadcast for PADI, the AC otherwise.
        dst: MacAddr,
        /// The PADI, PADR or PADT.
        packet: Discovery,
    },
    /// PADS received: the session is up.
    Up {
        /// The AC's MAC.
        ac: MacAddr,
        /// The session id, ≠ 0.
        session_id: u16,
        /// The AC-Name of the chosen PADO.
        ac_name: String,
        /// The Service-Name in the PADS (else the one requested).
        service_name: String,
        /// The agreed PPP-Max-Payload (RFC 4638): the AC's echo when we asked.
        max_payload: Option<u16>,
    },
    /// Discovery gave up (timeouts, or an error tag: its text).
    Failed(String),
    /// The AC sent PADT (its Generic-Error text, or "PADT from access concentrator").
    Down(String),
}

/// The AC chosen from its PADO.
#[derive(Clone, Debug)]
struct Chosen {
    ac: MacAddr,
    ac_name: String,
    cookie: Option<Vec<u8>>,
    relay_session_id: Option<Vec<u8>>,
}

/// The host's discovery state machine; see the module documentation.
#[derive(Clone, Debug)]
pub struct Client {
    our_mac: MacAddr,
    params: ClientParams,
    state: ClientState,
    chosen: Option<Chosen>,
    session_id: u16,
    /// Sends of the current PADI or PADR so far.
    sent: u32,
    /// The current timeout (doubles per resend).
    wait: Duration,
    deadline: Option<Instant>,
}

impl Client {
    /// A client sending from `our_mac`; nothing is sent before [`Client::start`].
    pub fn new(our_mac: MacAddr, params: ClientParams) -> Client {
        Client { our_mac, params, state: ClientState::Idle, chosen: None, session_id: 0, sent: 0, wait: Duration::ZERO, deadline: None }
    }

    /// The PPP-Max-Payload we ask for, if any (> 1492 only: 1492 is the default).
    fn wanted_max_payload(&self) -> Option<u16> {
        self.params.max_payload.filter(|v| *v > PPPOE_STD_PAYLOAD)
    }

    fn padi(&self) -> Discovery {
        let mut p = Discovery::new(Code::Padi, 0);
        p.push(tag::SERVICE_NAME, self.params.service_name.as_bytes());
        if !self.params.host_uniq.is_empty() {
            p.push(tag::HOST_UNIQ, &self.params.host_uniq);
        }
        if let Some(mp) = self.wanted_max_payload() {
            p.push(tag::PPP_MAX_PAYLOAD, &mp.to_be_bytes());
        }
        p
    }

    fn padr(&self, c: &Chosen) -> Discovery {
        let mut p = Discovery::new(Code::Padr, 0);
        p.push(tag::SERVICE_NAME, self.params.service_name.as_bytes());
        if !self.params.host_uniq.is_empty() {
            p.push(tag::HOST_UNIQ, &self.params.host_uniq);
        }
        if let Some(cookie) = &c.cookie {
            p.push(tag::AC_COOKIE, cookie);
        }
        if let Some(r) = &c.relay_session_id {
            p.push(tag::RELAY_SESSION_ID, r);
        }
        if let Some(mp) = self.wanted_max_payload() {
            p.push(tag::PPP_MAX_PAYLOAD, &mp.to_be_bytes());
        }
        p
    }

    /// The current packet to (re)send and its destination.
    fn current(&self) -> Option<ClientOutput> {
        match (self.state, &self.chosen) {
            (ClientState::Discovering, _) => Some(ClientOutput::Send { dst: MacAddr::BROADCAST, packet: self.padi() }),
            (ClientState::Requesting, Some(c)) => Some(ClientOutput::Send { dst: c.ac, packet: self.padr(c) }),
            _ => None,
        }
    }

    /// Enters `state` and sends its first packet, arming the timer with the initial timeout.
    fn enter(&mut self, now: Instant, state: ClientState) -> Vec<ClientOutput> {
        self.state = state;
        self.sent = 1;
        self.wait = self.params.timeout.max(Duration::from_millis(1));
        self.deadline = now.checked_add(self.wait);
        self.current().into_iter().collect()
    }

    fn fail(&mut self, why: String) -> Vec<ClientOutput> {
        self.state = ClientState::Closed;
        self.deadline = None;
        vec![ClientOutput::Failed(why)]
    }

    /// Starts discovery: the PADI (RFC 2516 §5.1). Only from `Idle`; otherwise nothing.
    pub fn start(&mut self, now: Instant) -> Vec<ClientOutput> {
        if self.state != ClientState::Idle {
            return Vec::new();
        }
        self.enter(now, ClientState::Discovering)
    }

    /// True when the packet's Host-Uniq is ours (absent when we sent none).
    fn host_uniq_ok(&self, pkt: &Discovery) -> bool {
        let want = (!self.params.host_uniq.is_empty()).then_some(self.params.host_uniq.as_slice());
        pkt.tag(tag::HOST_UNIQ) == want
    }

    /// One received discovery frame (Ethernet header split; `pppoe` from the PPPoE header on).
    /// Frames not for us, malformed, or not expected in the current state are ignored (no output).
    pub fn input(&mut self, now: Instant, eth: &EthHeader, pppoe: &[u8]) -> Vec<ClientOutput> {
        if eth.dst != self.our_mac || eth.ethertype != ETH_P_PPP_DISC || eth.src.is_multicast() {
            return Vec::new();
        }
        let Ok(pkt) = Discovery::parse(pppoe) else {
            return Vec::new();
        };
        match (self.state, pkt.code) {
            (ClientState::Discovering, Code::Pado) => self.on_pado(now, eth.src, &pkt),
            (ClientState::Requesting, Code::Pads) => self.on_pads(eth.src, &pkt),
            (ClientState::Session, Code::Padt) => self.on_padt(eth.src, &pkt),
            _ => Vec::new(),
        }
    }

    /// PADO (RFC 2516 §5.2): take the first acceptable one and send the PADR (§5.3).
    fn on_pado(&mut self, now: Instant, ac: MacAddr, pkt: &Discovery) -> Vec<ClientOutput> {
        if pkt.session_id != 0 || !self.host_uniq_ok(pkt) || pkt.error().is_some() {
            return Vec::new();
        }
        let Some(ac_name) = pkt.tag(tag::AC_NAME).map(|v| String::from_utf8_lossy(v).into_owned()) else {
            return Vec::new();
        };
        if self.params.ac_name.as_ref().is_some_and(|want| *want != ac_name) {
            return Vec::new();
        }
        let want = self.params.service_name.as_bytes();
        if !want.is_empty() && !pkt.tags_of(tag::SERVICE_NAME).any(|s| s == want) {
            return Vec::new();
        }
        self.chosen = Some(Chosen {
            ac,
            ac_name,
            cookie: pkt.tag(tag::AC_COOKIE).map(<[u8]>::to_vec),
            relay_session_id: pkt.tag(tag::RELAY_SESSION_ID).map(<[u8]>::to_vec),
        });
        self.enter(now, ClientState::Requesting)
    }

    /// PADS (RFC 2516 §5.4) from the chosen AC: Up, or Failed on an error tag / SESSION_ID 0.
    fn on_pads(&mut self, from: MacAddr, pkt: &Discovery) -> Vec<ClientOutput> {
        let Some(c) = self.chosen.as_ref().filter(|c| c.ac == from) else {
            return Vec::new();
        };
        if !self.host_uniq_ok(pkt) {
            return Vec::new();
        }
        if let Some((t, text)) = pkt.error() {
            return self.fail(format!("{}: {}", tag::name(t), text));
        }
        if pkt.session_id == 0 {
            return self.fail("PADS with session id 0".to_string());
        }
        let (ac, ac_name) = (c.ac, c.ac_name.clone());
        let service_name = pkt.tag(tag::SERVICE_NAME).map_or_else(|| self.params.service_name.clone(), |v| String::from_utf8_lossy(v).into_owned());
        let max_payload = self.wanted_max_payload().and_then(|want| pkt.max_payload().map(|got| got.min(want))).filter(|v| *v >= PPPOE_STD_PAYLOAD);
        self.state = ClientState::Session;
        self.session_id = pkt.session_id;
        self.deadline = None;
        vec![ClientOutput::Up { ac, session_id: pkt.session_id, ac_name, service_name, max_payload }]
    }

    /// PADT (RFC 2516 §5.5) from the AC for our session: Down.
    fn on_padt(&mut self, from: MacAddr, pkt: &Discovery) -> Vec<ClientOutput> {
        if self.chosen.as_ref().is_none_or(|c| c.ac != from) || pkt.session_id != self.session_id {
            return Vec::new();
        }
        self.state = ClientState::Closed;
        let reason = match pkt.error() {
            Some((_, text)) if !text.is_empty() => text,
            _ => "PADT from access concentrator".to_string(),
        };
        vec![ClientOutput::Down(reason)]
    }

    /// The timer: resends PADI/PADR with a doubled timeout, or gives up after `attempts` sends.
    /// An early or stale call does nothing.
    pub fn on_timer(&mut self, now: Instant) -> Vec<ClientOutput> {
        let Some(deadline) = self.deadline else {
            return Vec::new();
        };
        if now < deadline {
            return Vec::new();
        }
        if self.sent >= self.params.attempts.max(1) {
            let what = if self.state == ClientState::Discovering { "PADO" } else { "PADS" };
            return self.fail(format!("timeout waiting for {what} after {} attempts", self.sent));
        }
        self.sent += 1;
        self.wait = self.wait.saturating_mul(2);
        self.deadline = now.checked_add(self.wait);
        self.current().into_iter().collect()
    }

    /// When [`Client::on_timer`] wants to run next; None when no timer is armed.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Ends the client: a PADT (RFC 2516 §5.5, `reason` as Generic-Error when not empty) when in
    /// `Session`; from any state the client is `Closed` afterwards.
    pub fn close(&mut self, reason: &str) -> Vec<ClientOutput> {
        let was = self.state;
        self.state = ClientState::Closed;
        self.deadline = None;
        let Some(c) = self.chosen.as_ref().filter(|_| was == ClientState::Session) else {
            return Vec::new();
        };
        let mut padt = Discovery::new(Code::Padt, self.session_id);
        if !self.params.host_uniq.is_empty() {
            padt.push(tag::HOST_UNIQ, &self.params.host_uniq);
        }
        if let Some(r) = &c.relay_session_id {
            padt.push(tag::RELAY_SESSION_ID, r);
        }
        if !reason.is_empty() {
            padt.push(tag::GENERIC_ERROR, reason.as_bytes());
        }
        vec![ClientOutput::Send { dst: c.ac, packet: padt }]
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// (AC MAC, session id) while in `Session`.
    pub fn session(&self) -> Option<(MacAddr, u16)> {
        match (self.state, &self.chosen) {
            (ClientState::Session, Some(c)) => Some((c.ac, self.session_id)),
            _ => None,
        }
    }

    /// Our MAC.
    pub fn our_mac(&self) -> MacAddr {
        self.our_mac
    }
}
