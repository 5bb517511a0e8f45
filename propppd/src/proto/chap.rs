//! CHAP, the Challenge-Handshake Authentication Protocol (RFC 1994), with
//! the MD5 algorithm (5, RFC 1994 §4.1) and MS-CHAPv2 (0x81, RFC 2759): the
//! packets and the two machines.
//!
//! - [`ChapAuthenticator`] (server): sends a Challenge with a fresh 16-octet
//!   value from its [`ChallengeSource`], retransmits it with the same
//!   Identifier every Restart interval (at most Max-Configure times), hands
//!   the Response to the [`AuthBackend`] and answers Success or Failure;
//!   optionally challenges again every `rechallenge` interval (RFC 1994 §2).
//! - [`ChapPeer`] (client): answers each Challenge, repeats its Response
//!   every Restart interval until Success or Failure (the authenticator
//!   must accept repeated Responses, RFC 1994 §4.1), and for MS-CHAPv2
//!   checks the authenticator response of the Success (RFC 2759 §5): a
//!   mismatch fails the link.
//!
//! Both are sans-IO like the rest of the PPP core.

use crate::proto::auth::{
    chap_md5_response, emit_packet, is_due, len_octet, parse_packet, take_len_prefixed, Answer, AuthBackend, AuthEvent, AuthFailure, AuthMethod, AuthOutput,
    AuthPacketError, AuthRequest, AuthTimers, ChallengeSource, Proof, Verdict, PROTO_CHAP,
};
use crate::proto::mschap::{self, ResponseValue};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Code of Challenge (RFC 1994 §4.1).
pub const CODE_CHALLENGE: u8 = 1;
/// Code of Response (RFC 1994 §4.1).
pub const CODE_RESPONSE: u8 = 2;
/// Code of Success (RFC 1994 §4.2).
pub const CODE_SUCCESS: u8 = 3;
/// Code of Failure (RFC 1994 §4.2).
pub const CODE_FAILURE: u8 = 4;
/// Length of the challenges we send, octets.
pub const CHALLENGE_LEN: usize = 16;

/// Message of our Success.
const SUCCESS_TEXT: &str = "Access granted";
/// Message of our Failure when the backend gives none.
const FAILURE_TEXT: &str = "Authentication failed";

/// A CHAP packet (RFC 1994 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChapPacket {
    /// Challenge: Value (1–255 octets) and the authenticator's Name.
    Challenge {
        /// Identifier.
        identifier: u8,
        /// Value: the challenge.
        value: Vec<u8>,
        /// Name of the authenticator.
        name: Vec<u8>,
    },
    /// Response: Value (16 octets for MD5, 49 for MS-CHAPv2) and the peer's Name.
    Response {
        /// Identifier of the Challenge answered.
        identifier: u8,
        /// Value: the response.
        value: Vec<u8>,
        /// Name of the peer.
        name: Vec<u8>,
    },
    /// Success with a Message (for MS-CHAPv2 `S=... M=...`).
    Success {
        /// Identifier of the Response accepted.
        identifier: u8,
        /// Message.
        message: Vec<u8>,
    },
    /// Failure with a Message (for MS-CHAPv2 `E=... R=... C=... V=... M=...`).
    Failure {
        /// Identifier of the Response refused.
        identifier: u8,
        /// Message.
        message: Vec<u8>,
    },
}

impl ChapPacket {
    /// Parse the PPP Information field of a CHAP frame. Errors: the
    /// [`AuthPacketError`] of the header, an unknown Code, or a Value-Size
    /// beyond the packet.
    pub fn parse(bytes: &[u8]) -> Result<ChapPacket, AuthPacketError> {
        let p = parse_packet(bytes)?;
        let identifier = p.identifier;
        match p.code {
            CODE_CHALLENGE | CODE_RESPONSE => {
                let (value, name) = take_len_prefixed(&p.data)?;
                let (value, name) = (value.to_vec(), name.to_vec());
                if p.code == CODE_CHALLENGE {
                    Ok(ChapPacket::Challenge { identifier, value, name })
                } else {
                    Ok(ChapPacket::Response { identifier, value, name })
                }
            }
            CODE_SUCCESS => Ok(ChapPacket::Success { identifier, message: p.data }),
            CODE_FAILURE => Ok(ChapPacket::Failure { identifier, message: p.data }),
            code => Err(AuthPacketError::UnknownCode(code)),
        }
    }

    /// The packet's octets. Errors: [`AuthPacketError::FieldTooLong`] for a
    /// Value over 255 octets or a packet over 65535.
    pub fn encode(&self) -> Result<Vec<u8>, AuthPacketError> {
        match self {
            ChapPacket::Challenge { identifier, value, name } => emit_packet(CODE_CHALLENGE, *identifier, &[&[len_octet(value)?], value, name]),
            ChapPacket::Response { identifier, value, name } => emit_packet(CODE_RESPONSE, *identifier, &[&[len_octet(value)?], value, name]),
            ChapPacket::Success { identifier, message } => emit_packet(CODE_SUCCESS, *identifier, &[message]),
            ChapPacket::Failure { identifier, message } => emit_packet(CODE_FAILURE, *identifier, &[message]),
        }
    }
}

/// A CHAP machine set up with something it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapConfigError {
    /// The method is PAP, not a CHAP algorithm.
    NotChap,
    /// The name is longer than a packet can carry.
    NameTooLong,
}

impl fmt::Display for ChapConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChapConfigError::NotChap => f.write_str("method is not a CHAP algorithm"),
            ChapConfigError::NameTooLong => f.write_str("name too long"),
        }
    }
}

impl std::error::Error for ChapConfigError {}

/// Checks shared by both machines' constructors.
fn check_config(method: AuthMethod, name: &[u8]) -> Result<(), ChapConfigError> {
    if method == AuthMethod::Pap {
        return Err(ChapConfigError::NotChap);
    }
    // Leave room for the header, Value-Size and a 49-octet Value.
    if name.len() > 1024 {
        return Err(ChapConfigError::NameTooLong);
    }
    Ok(())
}

/// Encode `p` and queue it; the constructors bound every field, so encoding
/// does not fail for packets the machines build.
fn queue_packet(out: &mut VecDeque<AuthOutput>, p: &ChapPacket) {
    if let Ok(packet) = p.encode() {
        out.push_back(AuthOutput::Send { protocol: PROTO_CHAP, packet });
    }
}

/// Setup of a [`ChapAuthenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapAuthenticatorConfig {
    /// [`AuthMethod::ChapMd5`] or [`AuthMethod::MsChapV2`], as negotiated by LCP.
    pub method: AuthMethod,
    /// Our Name in the Challenge (the system's host name in pppd).
    pub name: Vec<u8>,
    /// Restart interval and Max-Configure for the Challenge.
    pub timers: AuthTimers,
    /// Challenge again this long after each success; `None` (the default
    /// in pppd) for never.
    pub rechallenge: Option<Duration>,
}

/// State of the [`ChapAuthenticator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapAuthenticatorState {
    /// Not started.
    Initial,
    /// Challenge sent, waiting for the Response.
    ChallengeSent,
    /// The backend is deciding.
    Pending,
    /// Success sent.
    Open,
    /// Failure sent, or no Response after Max-Configure Challenges.
    Failed,
}

/// The authenticator (server) side of CHAP (RFC 1994 §2).
pub struct ChapAuthenticator {
    config: ChapAuthenticatorConfig,
    source: Box<dyn ChallengeSource>,
    state: ChapAuthenticatorState,
    identifier: u8,
    challenge: [u8; CHALLENGE_LEN],
    transmits: u32,
    peer_name: Vec<u8>,
    last_reply: Option<ChapPacket>,
    deadline: Option<Instant>,
    out: VecDeque<AuthOutput>,
}

impl fmt::Debug for ChapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChapAuthenticator").field("method", &self.config.method).field("state", &self.state).field("identifier", &self.identifier).finish()
    }
}

impl ChapAuthenticator {
    /// A machine in `Initial` drawing challenges (and the first Identifier)
    /// from `source`. Errors: [`ChapConfigError`].
    pub fn new(config: ChapAuthenticatorConfig, source: Box<dyn ChallengeSource>) -> Result<ChapAuthenticator, ChapConfigError> {
        check_config(config.method, &config.name)?;
        Ok(ChapAuthenticator {
            config,
            source,
            state: ChapAuthenticatorState::Initial,
            identifier: 0,
            challenge: [0; CHALLENGE_LEN],
            transmits: 0,
            peer_name: Vec::new(),
            last_reply: None,
            deadline: None,
            out: VecDeque::new(),
        })
    }

    /// The current state.
    pub fn state(&self) -> ChapAuthenticatorState {
        self.state
    }

    /// The Identifier of the current Challenge.
    pub fn identifier(&self) -> u8 {
        self.identifier
    }

    /// LCP reached the Authenticate phase: send the first Challenge.
    pub fn start(&mut self, now: Instant) {
        if self.state == ChapAuthenticatorState::Initial {
            let mut id = [0u8; 1];
            self.source.fill(&mut id);
            self.identifier = id[0].wrapping_sub(1);
            self.new_challenge(now);
        }
    }

    /// RFC 1994 §4.1: a new Identifier and a new, unpredictable Value.
    fn new_challenge(&mut self, now: Instant) {
        self.identifier = self.identifier.wrapping_add(1);
        self.source.fill(&mut self.challenge);
        self.state = ChapAuthenticatorState::ChallengeSent;
        self.transmits = 0;
        self.send_challenge(now);
    }

    fn send_challenge(&mut self, now: Instant) {
        let p = ChapPacket::Challenge { identifier: self.identifier, value: self.challenge.to_vec(), name: self.config.name.clone() };
        queue_packet(&mut self.out, &p);
        self.transmits = self.transmits.saturating_add(1);
        self.deadline = now.checked_add(self.config.timers.restart);
    }

    /// A CHAP packet from the peer. A Response to the current Challenge is
    /// verified; a repeated Response after Success / Failure gets the same
    /// answer again (RFC 1994 §4.1); anything else is discarded. Errors: a
    /// malformed packet (the machine is unchanged).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8], backend: &mut dyn AuthBackend) -> Result<(), AuthPacketError> {
        let ChapPacket::Response { identifier, value, name } = ChapPacket::parse(packet)? else {
            return Ok(());
        };
        if identifier != self.identifier {
            return Ok(());
        }
        match self.state {
            ChapAuthenticatorState::ChallengeSent => self.verify(now, value, name, backend),
            ChapAuthenticatorState::Open | ChapAuthenticatorState::Failed => {
                if let Some(reply) = self.last_reply.clone() {
                    queue_packet(&mut self.out, &reply);
                }
            }
            ChapAuthenticatorState::Initial | ChapAuthenticatorState::Pending => {}
        }
        Ok(())
    }

    fn verify(&mut self, now: Instant, value: Vec<u8>, name: Vec<u8>, backend: &mut dyn AuthBackend) {
        self.peer_name = name.clone();
        let proof = match self.config.method {
            AuthMethod::MsChapV2 => match ResponseValue::parse(&value) {
                Ok(r) => Proof::MsChapV2 {
                    authenticator_challenge: self.challenge,
                    peer_challenge: r.peer_challenge,
                    nt_response: r.nt_response,
                    user_name: name.clone(),
                },
                Err(_) => return self.apply_verdict(now, Verdict::Reject { message: None }),
            },
            _ => Proof::ChapMd5 { identifier: self.identifier, challenge: self.challenge.to_vec(), response: value },
        };
        let request = AuthRequest { method: self.config.method, peer_name: name, proof };
        match backend.verify(&request) {
            Answer::Now(verdict) => self.apply_verdict(now, verdict),
            Answer::Pending => {
                self.state = ChapAuthenticatorState::Pending;
                self.deadline = None;
            }
        }
    }

    /// The verdict of a backend that answered [`Answer::Pending`]; ignored
    /// unless a Response is pending.
    pub fn handle_verdict(&mut self, now: Instant, verdict: Verdict) {
        if self.state == ChapAuthenticatorState::Pending {
            self.apply_verdict(now, verdict);
        }
    }

    fn apply_verdict(&mut self, now: Instant, verdict: Verdict) {
        let method = self.config.method;
        let peer_name = self.peer_name.clone();
        let (identifier, accept) = (self.identifier, matches!(verdict, Verdict::Accept(_)));
        let success = match (&verdict, method) {
            (Verdict::Accept(a), AuthMethod::MsChapV2) => a.authenticator_response.as_deref().map(|s| mschap::success_message(s, SUCCESS_TEXT)),
            (Verdict::Accept(_), _) => Some(SUCCESS_TEXT.to_string()),
            (Verdict::Reject { .. }, _) => None,
        };
        if let (Some(message), Verdict::Accept(a)) = (success, &verdict) {
            // RFC 1994 §4.2 Success; RFC 2759 §5 with the authenticator response.
            self.reply(ChapPacket::Success { identifier, message: message.into_bytes() });
            self.state = ChapAuthenticatorState::Open;
            self.deadline = self.config.rechallenge.and_then(|d| now.checked_add(d));
            self.out.push_back(AuthOutput::Event(AuthEvent::PeerAccepted { method, peer_name, address: a.address }));
            return;
        }
        let text = match verdict {
            Verdict::Reject { message: Some(m) } => m,
            _ => FAILURE_TEXT.to_string(),
        };
        let message = match method {
            AuthMethod::MsChapV2 => mschap::failure_message(mschap::ERROR_AUTHENTICATION_FAILURE, false, &self.challenge, &text),
            _ => text,
        };
        // RFC 1994 §4.2 Failure; RFC 2759 §6.
        self.reply(ChapPacket::Failure { identifier, message: message.clone().into_bytes() });
        self.state = ChapAuthenticatorState::Failed;
        self.deadline = None;
        let reason = if accept { AuthFailure::BackendError } else { AuthFailure::Rejected(message.into_bytes()) };
        self.out.push_back(AuthOutput::Event(AuthEvent::PeerRejected { method, peer_name, reason }));
    }

    fn reply(&mut self, p: ChapPacket) {
        queue_packet(&mut self.out, &p);
        self.last_reply = Some(p);
    }

    /// The Restart timer expired: send the Challenge again (same Identifier
    /// and Value) or give up after Max-Configure; in `Open` with
    /// re-challenge on, start a new Challenge. Early or stale calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !is_due(self.deadline, now) {
            return;
        }
        self.deadline = None;
        match self.state {
            ChapAuthenticatorState::ChallengeSent if self.transmits >= self.config.timers.max_transmits => {
                self.state = ChapAuthenticatorState::Failed;
                let e = AuthEvent::PeerRejected { method: self.config.method, peer_name: self.peer_name.clone(), reason: AuthFailure::Timeout };
                self.out.push_back(AuthOutput::Event(e));
            }
            ChapAuthenticatorState::ChallengeSent => self.send_challenge(now),
            ChapAuthenticatorState::Open => self.new_challenge(now),
            _ => {}
        }
    }

    /// The next packet to send or event to report.
    pub fn poll_output(&mut self) -> Option<AuthOutput> {
        self.out.pop_front()
    }

    /// When [`ChapAuthenticator::handle_timeout`] should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

/// Setup of a [`ChapPeer`].
#[derive(Clone, PartialEq, Eq)]
pub struct ChapPeerConfig {
    /// [`AuthMethod::ChapMd5`] or [`AuthMethod::MsChapV2`], as negotiated by LCP.
    pub method: AuthMethod,
    /// Our Name in the Response (the user name; for MS-CHAPv2 `DOMAIN\user`
    /// is allowed).
    pub name: Vec<u8>,
    /// Our secret (password).
    pub secret: Vec<u8>,
    /// Restart interval and Max-Configure for the Response; `wait` for the
    /// first Challenge.
    pub timers: AuthTimers,
}

impl fmt::Debug for ChapPeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChapPeerConfig").field("method", &self.method).field("name", &String::from_utf8_lossy(&self.name)).finish_non_exhaustive()
    }
}

/// State of the [`ChapPeer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapPeerState {
    /// Not started.
    Initial,
    /// Waiting for a Challenge.
    Listen,
    /// Response sent, waiting for Success or Failure.
    ResponseSent,
    /// Success received (a later Challenge is answered again).
    Open,
    /// Failure received, bad authenticator response, or timeout.
    Failed,
}

/// What the peer remembers of its last Response.
#[derive(Debug, Clone)]
struct SentResponse {
    challenge: Vec<u8>,
    packet: ChapPacket,
    mschap: Option<ResponseValue>,
}

/// The peer (client) side of CHAP (RFC 1994 §2).
pub struct ChapPeer {
    config: ChapPeerConfig,
    source: Box<dyn ChallengeSource>,
    state: ChapPeerState,
    last: Option<SentResponse>,
    transmits: u32,
    deadline: Option<Instant>,
    out: VecDeque<AuthOutput>,
}

impl fmt::Debug for ChapPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChapPeer").field("config", &self.config).field("state", &self.state).finish_non_exhaustive()
    }
}

impl ChapPeer {
    /// A machine in `Initial`; `source` gives the MS-CHAPv2 Peer-Challenge.
    /// Errors: [`ChapConfigError`].
    pub fn new(config: ChapPeerConfig, source: Box<dyn ChallengeSource>) -> Result<ChapPeer, ChapConfigError> {
        check_config(config.method, &config.name)?;
        Ok(ChapPeer { config, source, state: ChapPeerState::Initial, last: None, transmits: 0, deadline: None, out: VecDeque::new() })
    }

    /// The current state.
    pub fn state(&self) -> ChapPeerState {
        self.state
    }

    /// LCP reached the Authenticate phase: wait for a Challenge for at most
    /// `timers.wait`.
    pub fn start(&mut self, now: Instant) {
        if self.state == ChapPeerState::Initial {
            self.state = ChapPeerState::Listen;
            self.deadline = now.checked_add(self.config.timers.wait);
        }
    }

    /// A CHAP packet from the authenticator. Errors: a malformed packet
    /// (the machine is unchanged).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) -> Result<(), AuthPacketError> {
        match (self.state, ChapPacket::parse(packet)?) {
            (ChapPeerState::Initial | ChapPeerState::Failed, _) => {}
            (_, ChapPacket::Challenge { identifier, value, name }) => self.answer(now, identifier, value, &name),
            (ChapPeerState::ResponseSent, ChapPacket::Success { identifier, message }) if self.is_current(identifier) => self.success(message),
            (ChapPeerState::ResponseSent, ChapPacket::Failure { identifier, message }) if self.is_current(identifier) => {
                self.fail(AuthFailure::Rejected(message));
            }
            _ => {}
        }
        Ok(())
    }

    fn is_current(&self, identifier: u8) -> bool {
        self.last.as_ref().is_some_and(|l| matches!(l.packet, ChapPacket::Response { identifier: i, .. } if i == identifier))
    }

    /// RFC 1994 §4.1: answer a Challenge; a retransmitted one (same
    /// Identifier and Value) gets the same Response.
    fn answer(&mut self, now: Instant, identifier: u8, challenge: Vec<u8>, _authenticator_name: &[u8]) {
        let repeat = self.is_current(identifier) && self.last.as_ref().is_some_and(|l| l.challenge == challenge);
        if !repeat {
            let (value, mschap) = match self.config.method {
                AuthMethod::MsChapV2 => {
                    let Ok(auth_challenge) = <[u8; 16]>::try_from(challenge.as_slice()) else {
                        return self.fail(AuthFailure::UnexpectedAlgorithm);
                    };
                    let mut peer_challenge = [0u8; 16];
                    self.source.fill(&mut peer_challenge);
                    let user = mschap::strip_domain(&self.config.name);
                    let nt_response = mschap::generate_nt_response(&auth_challenge, &peer_challenge, user, &self.config.secret);
                    let r = ResponseValue { peer_challenge, nt_response, flags: 0 };
                    (r.encode().to_vec(), Some(r))
                }
                _ => (chap_md5_response(identifier, &self.config.secret, &challenge).to_vec(), None),
            };
            let packet = ChapPacket::Response { identifier, value, name: self.config.name.clone() };
            self.last = Some(SentResponse { challenge, packet, mschap });
        }
        if let Some(l) = &self.last {
            queue_packet(&mut self.out, &l.packet);
        }
        self.state = ChapPeerState::ResponseSent;
        self.transmits = 1;
        self.deadline = now.checked_add(self.config.timers.restart);
    }

    /// RFC 1994 §4.2 Success; for MS-CHAPv2 the authenticator must prove it
    /// knows our password too (RFC 2759 §5).
    fn success(&mut self, message: Vec<u8>) {
        let method = self.config.method;
        let text = match (&self.last, method) {
            (Some(SentResponse { challenge, mschap: Some(r), .. }), AuthMethod::MsChapV2) => {
                let Ok(auth_challenge) = <[u8; 16]>::try_from(challenge.as_slice()) else {
                    return self.fail(AuthFailure::BadAuthenticatorResponse);
                };
                let user = mschap::strip_domain(&self.config.name);
                let checked = mschap::parse_success_message(&message)
                    .ok()
                    .filter(|(s, _)| mschap::check_authenticator_response(&self.config.secret, &r.nt_response, &r.peer_challenge, &auth_challenge, user, s));
                match checked {
                    Some((_, text)) => text.unwrap_or_default().to_vec(),
                    None => return self.fail(AuthFailure::BadAuthenticatorResponse),
                }
            }
            _ => message,
        };
        self.state = ChapPeerState::Open;
        self.deadline = None;
        self.out.push_back(AuthOutput::Event(AuthEvent::Accepted { method, message: text }));
    }

    fn fail(&mut self, reason: AuthFailure) {
        self.state = ChapPeerState::Failed;
        self.deadline = None;
        self.out.push_back(AuthOutput::Event(AuthEvent::Refused { method: self.config.method, reason }));
    }

    /// A timer expired: no Challenge in `wait`, or resend the Response, or
    /// give up after Max-Configure. Early or stale calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !is_due(self.deadline, now) {
            return;
        }
        self.deadline = None;
        match self.state {
            ChapPeerState::Listen => self.fail(AuthFailure::Timeout),
            ChapPeerState::ResponseSent if self.transmits >= self.config.timers.max_transmits => self.fail(AuthFailure::Timeout),
            ChapPeerState::ResponseSent => {
                if let Some(l) = &self.last {
                    queue_packet(&mut self.out, &l.packet);
                }
                self.transmits = self.transmits.saturating_add(1);
                self.deadline = now.checked_add(self.config.timers.restart);
            }
            _ => {}
        }
    }

    /// The next packet to send or event to report.
    pub fn poll_output(&mut self) -> Option<AuthOutput> {
        self.out.pop_front()
    }

    /// When [`ChapPeer::handle_timeout`] should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        let c = ChapPacket::Challenge { identifier: 7, value: vec![1, 2, 3], name: b"lns".to_vec() };
        let bytes = c.encode().unwrap();
        assert_eq!(bytes, [1, 7, 0, 11, 3, 1, 2, 3, b'l', b'n', b's']);
        assert_eq!(ChapPacket::parse(&bytes), Ok(c));
        let s = ChapPacket::Success { identifier: 7, message: b"ok".to_vec() };
        assert_eq!(s.encode().unwrap(), [3, 7, 0, 6, b'o', b'k']);
        assert_eq!(ChapPacket::parse(&[4, 7, 0, 4]), Ok(ChapPacket::Failure { identifier: 7, message: Vec::new() }));
        assert_eq!(ChapPacket::parse(&[2, 7, 0, 6, 3, 1]), Err(AuthPacketError::BadFieldLength));
        assert_eq!(ChapPacket::parse(&[2, 7, 0, 4]), Err(AuthPacketError::BadFieldLength));
        assert_eq!(ChapPacket::parse(&[5, 7, 0, 4]), Err(AuthPacketError::UnknownCode(5)));
        let long = ChapPacket::Response { identifier: 1, value: vec![0; 256], name: Vec::new() };
        assert_eq!(long.encode(), Err(AuthPacketError::FieldTooLong));
    }

    #[test]
    fn pap_is_not_a_chap_algorithm() {
        let config = ChapAuthenticatorConfig { method: AuthMethod::Pap, name: Vec::new(), timers: AuthTimers::default(), rechallenge: None };
        let source: Box<dyn ChallengeSource> = Box::new(|b: &mut [u8]| b.fill(1));
        assert_eq!(ChapAuthenticator::new(config, source).err(), Some(ChapConfigError::NotChap));
    }
}
