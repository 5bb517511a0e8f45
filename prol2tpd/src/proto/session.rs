//! L2TP sessions (calls) and their state machines.
//!
//! RFC 2661 §7.4 (L2TPv2) and RFC 3931 §3.4, §6.5–§6.10 (L2TPv3) define four
//! call FSMs; one [`Session`] holds whichever of them [`CallType`] selects:
//!
//! | call type | we send | we expect | RFC |
//! |---|---|---|---|
//! | [`CallType::IncomingLac`] | ICRQ, then ICCN | ICRP | RFC 2661 §7.4.1 |
//! | [`CallType::IncomingLns`] | ICRP | ICRQ, then ICCN | RFC 2661 §7.4.2 |
//! | [`CallType::OutgoingLns`] | OCRQ | OCRP, then OCCN | RFC 2661 §7.4.4 |
//! | [`CallType::OutgoingLac`] | OCRP, then OCCN | OCRQ | RFC 2661 §7.4.3 |
//!
//! A session never sees bytes: the tunnel decodes and validates a message and
//! hands it here as a [`ControlMessage`]; the session answers with the
//! messages to send ([`SessionOutput`]). CDN ends any call in any state.

use std::rc::Rc;
use std::time::Instant;

use common::trace::TraceFlags;

use super::header::Version;
use super::message::{Avps, ControlMessage, MessageType, ResultCode};
use super::result::{cdn, error};

/// Pseudowire type of a session: what it carries (RFC 3931 §5.4.4, the
/// Pseudowire Type AVP, with the IANA values of RFC 4446 §3.2). L2TPv2
/// sessions are always [`Pseudowire::Ppp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pseudowire {
    /// PPP frames (pseudowire type 0x0007).
    Ppp,
    /// Ethernet frames, port mode (pseudowire type 0x0005).
    Eth,
    /// 802.1Q-tagged Ethernet frames (pseudowire type 0x0004).
    Vlan,
}

impl Pseudowire {
    /// The 16-bit IANA pseudowire type carried in the Pseudowire Type AVP.
    pub fn iana_type(self) -> u16 {
        match self {
            Pseudowire::Ppp => 0x0007,
            Pseudowire::Eth => 0x0005,
            Pseudowire::Vlan => 0x0004,
        }
    }

    /// The pseudowire for an IANA pseudowire type, or `None` for a type this
    /// implementation does not carry.
    pub fn from_iana_type(value: u16) -> Option<Pseudowire> {
        match value {
            0x0007 => Some(Pseudowire::Ppp),
            0x0005 => Some(Pseudowire::Eth),
            0x0004 => Some(Pseudowire::Vlan),
            _ => None,
        }
    }

    /// Short upper-case name used in logs and hook scripts (`PPP`, `ETH`, `VLAN`).
    pub fn name(self) -> &'static str {
        match self {
            Pseudowire::Ppp => "PPP",
            Pseudowire::Eth => "ETH",
            Pseudowire::Vlan => "VLAN",
        }
    }
}

/// L2-Specific Sublayer of L2TPv3 data packets (RFC 3931 §4.6, §5.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2SpecType {
    /// No sublayer (type 0).
    None,
    /// The default sublayer of RFC 3931 §4.6 (type 1): 4 octets carrying
    /// the S bit and a 24-bit sequence number.
    Default,
}

impl L2SpecType {
    /// The value carried in the L2-Specific Sublayer AVP.
    pub fn wire(self) -> u16 {
        match self {
            L2SpecType::None => 0,
            L2SpecType::Default => 1,
        }
    }
}

/// Which side of which call this session is (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    /// Incoming call, LAC side: we send ICRQ (the usual LAC/client session).
    IncomingLac,
    /// Incoming call, LNS side: the peer sent ICRQ.
    IncomingLns,
    /// Outgoing call, LNS side: we send OCRQ.
    OutgoingLns,
    /// Outgoing call, LAC side: the peer sent OCRQ.
    OutgoingLac,
}

impl CallType {
    /// True when this end plays the LNS role for the call (the kernel's
    /// `lns_mode` and pppd's `pppol2tp_lns_mode`).
    pub fn is_lns(self) -> bool {
        matches!(self, CallType::IncomingLns | CallType::OutgoingLns)
    }
}

/// Session parameters, resolved from session profile and instance
/// (`prol2tpd.conf(5)`), shared by all sessions created from one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionParams {
    /// Instance name from the config (`[session "TUNNEL/NAME"]`), if any.
    pub name: Option<String>,
    /// Name of the session profile the parameters came from.
    pub profile: String,
    /// Name of the PPP profile for PPP pseudowires.
    pub ppp_profile: String,
    /// Name of the Ethernet profile for Ethernet/VLAN pseudowires.
    pub eth_profile: String,
    /// What the session carries; L2TPv2 forces [`Pseudowire::Ppp`].
    pub pseudowire: Pseudowire,
    /// Our cookie (L2TPv3 only): 0, 4 or 8 octets the peer must put in
    /// every data packet it sends us (RFC 3931 §4.1, Assigned Cookie AVP).
    pub cookie: Vec<u8>,
    /// The cookie we expect the peer to assign, if configured: a session
    /// whose peer assigns a different one is refused (CDN).
    pub peer_cookie: Option<Vec<u8>>,
    /// L2-Specific Sublayer to request (L2TPv3 only).
    pub l2spec: L2SpecType,
    /// Ask for data sequence numbers (v2: Sequencing Required AVP; v3:
    /// Data Sequencing AVP).
    pub seqnum: bool,
    /// Interface name for the data plane, if configured.
    pub interface_name: Option<String>,
    /// VLAN id (1..=4094) of VLAN pseudowires.
    pub vlan_id: Option<u16>,
    /// Trace categories enabled for the session.
    pub trace_flags: TraceFlags,
    /// Calling Number sent in our ICRQ (RFC 2661 §4.4.5, RFC 3931
    /// §5.4.5 for v3), e.g. the PPPoE client's MAC address on a switching
    /// LAC; `None`: no Calling Number AVP.
    pub calling_number: Option<Vec<u8>>,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            name: None,
            profile: "default".into(),
            ppp_profile: "default".into(),
            eth_profile: "default".into(),
            pseudowire: Pseudowire::Ppp,
            cookie: Vec::new(),
            peer_cookie: None,
            l2spec: L2SpecType::None,
            seqnum: false,
            interface_name: None,
            vlan_id: None,
            trace_flags: TraceFlags::default(),
            calling_number: None,
        }
    }
}

/// Session states (RFC 2661 §7.4; one set for all four call types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Created locally, waiting for the tunnel to be established before the
    /// ICRQ/OCRQ can be sent.
    WaitTunnel,
    /// ICRQ or OCRQ sent; waiting for ICRP or OCRP (`wait-reply`).
    WaitReply,
    /// LNS side: ICRP or OCRP seen/sent; waiting for ICCN or OCCN
    /// (`wait-connect`).
    WaitConnect,
    /// The call is up; data may flow.
    Established,
    /// CDN sent or received; the session is gone once the event is out.
    Closed,
}

impl SessionState {
    /// Lower-case name for logs and `prol2tp show`.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::WaitTunnel => "wait-tunnel",
            SessionState::WaitReply => "wait-reply",
            SessionState::WaitConnect => "wait-connect",
            SessionState::Established => "established",
            SessionState::Closed => "closed",
        }
    }
}

/// Per-session counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Control messages received for this session.
    pub ctrl_rx: u64,
    /// Control messages sent for this session.
    pub ctrl_tx: u64,
    /// WAN-Error-Notify messages received (RFC 2661 §6.14).
    pub wen_rx: u64,
    /// Set-Link-Info messages received (RFC 2661 §6.15, RFC 3931 §6.11).
    pub sli_rx: u64,
}

/// One L2TP session inside a tunnel.
#[derive(Debug)]
pub struct Session {
    /// Our session id: 16 bits in v2, 32 bits in v3 (never 0).
    pub id: u32,
    /// The peer's session id, 0 until it has assigned one.
    pub peer_id: u32,
    /// Which call FSM applies.
    pub call_type: CallType,
    /// Current state.
    pub state: SessionState,
    /// Parameters the session was created with.
    pub params: Rc<SessionParams>,
    /// Negotiated pseudowire (v3: from the ICRQ; v2: always PPP).
    pub pseudowire: Pseudowire,
    /// Cookie the peer assigned (v3): what we put in data packets we send.
    pub peer_cookie: Vec<u8>,
    /// Negotiated L2-Specific Sublayer (v3).
    pub l2spec: L2SpecType,
    /// True when data packets we send must carry sequence numbers (peer asked).
    pub send_seq: bool,
    /// True when we asked the peer to sequence its data packets.
    pub recv_seq: bool,
    /// Call Serial Number (RFC 2661 §4.4.5) of the call.
    pub call_serial: u32,
    /// Trace categories in force for this session (from its profile or
    /// `prol2tp trace`).
    pub trace_flags: TraceFlags,
    /// When the session was created.
    pub created_at: Instant,
    /// When it reached [`SessionState::Established`].
    pub up_at: Option<Instant>,
    /// Why it closed, once it has.
    pub result: Option<ResultCode>,
    /// Counters.
    pub stats: SessionStats,
}

/// What the session FSM asks the tunnel to do after an input.
#[derive(Debug, Default)]
pub struct SessionOutput {
    /// Messages to send for this session, in order.
    pub send: Vec<ControlMessage>,
    /// The session reached Established.
    pub up: bool,
    /// The session is closed (a CDN was sent or received); the tunnel
    /// removes it and reports it down.
    pub closed: bool,
}

/// Result code used when a session message arrives in a state that does
/// not expect it (RFC 2661 §4.4.2: CDN result 2 "general error", error
/// code 4? no: the generic "FSM" case is not listed for CDN, so the general
/// error with error code 0 and a message is used).
fn fsm_error(msg: MessageType, state: SessionState) -> ResultCode {
    ResultCode {
        result: cdn::GENERAL_ERROR,
        error: Some(error::NO_GENERAL_ERROR),
        message: Some(format!("unexpected {} in state {}", msg.name(), state.name())),
    }
}

impl Session {
    /// A new session in its first state: locally created calls wait for the
    /// tunnel, network-created ones start from the received request.
    pub fn new(id: u32, call_type: CallType, params: Rc<SessionParams>, version: Version, call_serial: u32, now: Instant) -> Session {
        let pseudowire = if version == Version::V2 { Pseudowire::Ppp } else { params.pseudowire };
        Session {
            id,
            peer_id: 0,
            call_type,
            state: SessionState::WaitTunnel,
            pseudowire,
            peer_cookie: Vec::new(),
            l2spec: if version == Version::V3 { params.l2spec } else { L2SpecType::None },
            send_seq: false,
            recv_seq: params.seqnum,
            call_serial,
            trace_flags: params.trace_flags,
            params,
            created_at: now,
            up_at: None,
            result: None,
            stats: SessionStats::default(),
        }
    }

    /// True for calls this end started (ICRQ/OCRQ sender).
    pub fn locally_initiated(&self) -> bool {
        matches!(self.call_type, CallType::IncomingLac | CallType::OutgoingLns)
    }

    /// The tunnel is established: a locally created session sends its
    /// ICRQ (RFC 2661 §7.4.1) or OCRQ (§7.4.4).
    pub fn start(&mut self, version: Version) -> SessionOutput {
        let mut out = SessionOutput::default();
        if self.state != SessionState::WaitTunnel {
            return out;
        }
        let msg_type = match self.call_type {
            CallType::IncomingLac => MessageType::Icrq,
            CallType::OutgoingLns => MessageType::Ocrq,
            _ => return out,
        };
        let mut avps = self.id_avps(version);
        avps.call_serial_number = Some(self.call_serial);
        if msg_type == MessageType::Icrq {
            avps.calling_number = self.params.calling_number.clone();
        }
        match version {
            Version::V2 => {
                avps.bearer_type = Some(0);
                if msg_type == MessageType::Ocrq {
                    // RFC 2661 §6.7: OCRQ carries bearer and framing types,
                    // the speed range and the number to call.
                    avps.minimum_bps = Some(0);
                    avps.maximum_bps = Some(100_000_000);
                    avps.framing_type = Some(3);
                    avps.called_number = Some(Vec::new());
                }
            }
            Version::V3 => {
                self.v3_offer(&mut avps);
                // RFC 3931 §6.6, §6.9: ICRQ and OCRQ MUST carry the Remote
                // End ID AVP (§5.4.4), which the peer validates as
                // required; without it every v3 session was refused. The
                // value is opaque: the session instance name, else empty.
                let end_id = self.params.name.as_deref().unwrap_or("");
                avps.remote_end_id = Some(end_id.as_bytes().to_vec());
            }
        }
        out.send.push(ControlMessage { msg_type, avps });
        self.state = SessionState::WaitReply;
        out
    }

    /// Handles a request (ICRQ/OCRQ) that created this session on the
    /// network side: records the peer's choices and answers with ICRP/OCRP
    /// (RFC 2661 §7.4.2, §7.4.3; RFC 3931 §6.5–§6.7). For an outgoing call
    /// the LAC side answers OCRP and at once OCCN: there is no real call to
    /// place.
    pub fn accept_request(&mut self, version: Version, msg: &ControlMessage) -> SessionOutput {
        let mut out = SessionOutput::default();
        if let Err(result) = self.take_peer_avps(version, &msg.avps) {
            return self.close_with(version, result);
        }
        let reply = match msg.msg_type {
            MessageType::Icrq => MessageType::Icrp,
            MessageType::Ocrq => MessageType::Ocrp,
            _ => return out,
        };
        let mut avps = self.id_avps(version);
        if version == Version::V3 {
            self.v3_offer(&mut avps);
        }
        out.send.push(ControlMessage { msg_type: reply, avps });
        if reply == MessageType::Ocrp {
            out.send.push(self.connected_message(version, MessageType::Occn));
            self.establish(&mut out);
        } else {
            self.state = SessionState::WaitConnect;
        }
        out
    }

    /// Dispatches a session message for this session: one match over
    /// (state, message), RFC 2661 §7.4.
    pub fn handle(&mut self, version: Version, msg: &ControlMessage) -> SessionOutput {
        self.stats.ctrl_rx += 1;
        let mut out = SessionOutput::default();
        use MessageType as M;
        use SessionState as S;
        match (self.state, msg.msg_type) {
            // RFC 2661 §6.14 (CDN): ends the call in any state.
            (_, M::Cdn) => {
                self.result = msg.avps.result_code.clone();
                self.state = S::Closed;
                out.closed = true;
            }
            // RFC 2661 §7.4.1: LAC, wait-reply, ICRP → send ICCN, established.
            (S::WaitReply, M::Icrp) if self.call_type == CallType::IncomingLac => {
                if let Err(result) = self.take_peer_avps(version, &msg.avps) {
                    return self.close_with(version, result);
                }
                out.send.push(self.connected_message(version, M::Iccn));
                self.establish(&mut out);
            }
            // RFC 2661 §7.4.4: LNS, wait-reply, OCRP → wait-connect.
            (S::WaitReply, M::Ocrp) if self.call_type == CallType::OutgoingLns => {
                if let Err(result) = self.take_peer_avps(version, &msg.avps) {
                    return self.close_with(version, result);
                }
                self.state = S::WaitConnect;
            }
            // RFC 2661 §7.4.2 / §7.4.4: LNS, wait-connect, ICCN/OCCN → established.
            (S::WaitConnect, M::Iccn) if self.call_type == CallType::IncomingLns => {
                self.take_sequencing(version, &msg.avps);
                self.establish(&mut out);
            }
            (S::WaitConnect, M::Occn) if self.call_type == CallType::OutgoingLns => {
                self.take_sequencing(version, &msg.avps);
                self.establish(&mut out);
            }
            // RFC 2661 §6.14, §6.15; RFC 3931 §6.11: informational in Established.
            (S::Established, M::Wen) => self.stats.wen_rx += 1,
            (S::Established, M::Sli) => self.stats.sli_rx += 1,
            // Anything else is out of sequence: CDN (RFC 2661 §7.4 "clean up").
            (state, other) => return self.close_with(version, fsm_error(other, state)),
        }
        out
    }

    /// Closes the call locally: a CDN with `result` (RFC 2661 §6.13,
    /// RFC 3931 §6.10). A session still waiting for its tunnel is dropped
    /// without any message.
    pub fn close_with(&mut self, version: Version, result: ResultCode) -> SessionOutput {
        let mut out = SessionOutput::default();
        if self.state == SessionState::Closed {
            return out;
        }
        if self.state != SessionState::WaitTunnel {
            let mut avps = self.id_avps(version);
            avps.result_code = Some(result.clone());
            out.send.push(ControlMessage { msg_type: MessageType::Cdn, avps });
        }
        self.result = Some(result);
        self.state = SessionState::Closed;
        out.closed = true;
        out
    }

    fn establish(&mut self, out: &mut SessionOutput) {
        self.state = SessionState::Established;
        out.up = true;
    }

    /// The session-identifying AVPs of every message this end sends:
    /// v2 Assigned Session ID (RFC 2661 §4.4.4); v3 Local and Remote
    /// Session ID (RFC 3931 §5.4.4).
    fn id_avps(&self, version: Version) -> Avps {
        let mut avps = Avps::default();
        match version {
            Version::V2 => avps.assigned_session_id = Some(self.id as u16),
            Version::V3 => {
                avps.local_session_id = Some(self.id);
                avps.remote_session_id = Some(self.peer_id);
            }
        }
        avps
    }

    /// What a v3 ICRQ/ICRP/OCRQ/OCRP offers: pseudowire type, our cookie,
    /// L2-Specific Sublayer, data sequencing, circuit status (RFC 3931 §6.5–§6.7).
    fn v3_offer(&self, avps: &mut Avps) {
        avps.pseudowire_type = Some(self.pseudowire.iana_type());
        if !self.params.cookie.is_empty() {
            avps.assigned_cookie = Some(self.params.cookie.clone());
        }
        avps.l2_specific_sublayer = Some(self.l2spec.wire());
        // RFC 3931 §5.4.4 Data Sequencing: 0 none, 2 all packets.
        avps.data_sequencing = Some(if self.recv_seq { 2 } else { 0 });
        if self.pseudowire != Pseudowire::Ppp {
            // RFC 3931 §5.4.5: A (active) = 0x0001, N (new) = 0x0002.
            avps.circuit_status = Some(0x0003);
        }
    }

    /// ICCN / OCCN: connect speed and framing (v2, RFC 2661 §6.10, §6.9),
    /// sequencing request; v3 just the ids (RFC 3931 §6.7).
    fn connected_message(&self, version: Version, msg_type: MessageType) -> ControlMessage {
        let mut avps = self.id_avps(version);
        if version == Version::V2 {
            avps.tx_connect_speed = Some(100_000_000);
            avps.framing_type = Some(1);
            avps.sequencing_required = self.recv_seq;
        }
        ControlMessage { msg_type, avps }
    }

    /// Takes the peer's session id, pseudowire, cookie and sublayer from a
    /// request or reply. Errors are the CDN result to close with.
    fn take_peer_avps(&mut self, version: Version, avps: &Avps) -> Result<(), ResultCode> {
        let bad = |error_code: u16, what: &str| ResultCode { result: cdn::GENERAL_ERROR, error: Some(error_code), message: Some(what.to_string()) };
        let peer_id = match version {
            Version::V2 => avps.assigned_session_id.map(u32::from),
            Version::V3 => avps.local_session_id,
        };
        match peer_id {
            Some(id) if id != 0 => self.peer_id = id,
            _ => return Err(bad(error::INVALID_SESSION_ID, "peer session id missing or zero")),
        }
        self.take_sequencing(version, avps);
        if version == Version::V2 {
            return Ok(());
        }
        if let Some(pw) = avps.pseudowire_type {
            match Pseudowire::from_iana_type(pw) {
                Some(p) if self.locally_initiated() && p != self.pseudowire => {
                    return Err(bad(error::BAD_VALUE, "pseudowire type mismatch"));
                }
                Some(p) => self.pseudowire = p,
                None => return Err(bad(error::BAD_VALUE, "unsupported pseudowire type")),
            }
        }
        let cookie = avps.assigned_cookie.clone().unwrap_or_default();
        if !matches!(cookie.len(), 0 | 4 | 8) {
            return Err(bad(error::BAD_LENGTH, "cookie must be 0, 4 or 8 octets"));
        }
        if let Some(expected) = &self.params.peer_cookie {
            if *expected != cookie {
                return Err(bad(error::BAD_VALUE, "peer cookie does not match peer_cookie"));
            }
        }
        self.peer_cookie = cookie;
        match avps.l2_specific_sublayer {
            Some(0) => self.l2spec = L2SpecType::None,
            Some(1) => self.l2spec = L2SpecType::Default,
            Some(_) => return Err(bad(error::BAD_VALUE, "unsupported L2-Specific Sublayer")),
            None => {}
        }
        Ok(())
    }

    /// v2 Sequencing Required (RFC 2661 §4.4.6) / v3 Data Sequencing
    /// (RFC 3931 §5.4.4): the peer wants our data packets sequenced.
    fn take_sequencing(&mut self, version: Version, avps: &Avps) {
        match version {
            Version::V2 => self.send_seq |= avps.sequencing_required,
            Version::V3 => {
                if let Some(v) = avps.data_sequencing {
                    self.send_seq = v != 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icrq_carries_the_calling_number_when_set() {
        let now = Instant::now();
        let with = Rc::new(SessionParams { calling_number: Some(b"02:00:00:00:00:05".to_vec()), ..SessionParams::default() });
        for version in [Version::V2, Version::V3] {
            let mut s = Session::new(1, CallType::IncomingLac, with.clone(), version, 1, now);
            let out = s.start(version);
            let icrq = out.send.first().unwrap_or_else(|| panic!("no ICRQ"));
            assert_eq!(icrq.msg_type, MessageType::Icrq);
            assert_eq!(icrq.avps.calling_number.as_deref(), Some(&b"02:00:00:00:00:05"[..]));
        }
        let mut s = Session::new(1, CallType::IncomingLac, Rc::new(SessionParams::default()), Version::V2, 1, now);
        assert_eq!(s.start(Version::V2).send.first().map(|m| m.avps.calling_number.clone()), Some(None));
    }
}
