//! PAP, the Password Authentication Protocol (RFC 1334 §2): the packets and
//! the two machines, [`PapAuthenticator`] (server: waits for an
//! Authenticate-Request, asks the [`AuthBackend`], answers Ack or Nak) and
//! [`PapPeer`] (client: sends Authenticate-Request until Ack or Nak, at most
//! Max-Configure times, one Restart interval apart).
//!
//! Both are sans-IO: `handle_packet(now, ..)`, `handle_timeout(now)`,
//! `poll_output()`, `poll_timeout()`. A Nak, a rejection or a timeout ends
//! with an event after which the link must be terminated (RFC 1334 §2.2.2).

use crate::proto::auth::{
    emit_packet, is_due, len_octet, parse_packet, take_len_prefixed, Answer, AuthBackend, AuthEvent, AuthFailure, AuthMethod, AuthOutput, AuthPacketError,
    AuthRequest, AuthTimers, Proof, Verdict, PROTO_PAP,
};
use std::collections::VecDeque;
use std::time::Instant;

/// Code of Authenticate-Request (RFC 1334 §2.2.1).
pub const CODE_AUTHENTICATE_REQUEST: u8 = 1;
/// Code of Authenticate-Ack (RFC 1334 §2.2.2).
pub const CODE_AUTHENTICATE_ACK: u8 = 2;
/// Code of Authenticate-Nak (RFC 1334 §2.2.2).
pub const CODE_AUTHENTICATE_NAK: u8 = 3;

/// Message of our Authenticate-Ack.
const ACK_MESSAGE: &[u8] = b"Access granted";
/// Message of our Authenticate-Nak when the backend gives none.
const NAK_MESSAGE: &[u8] = b"Authentication failed";

/// A PAP packet (RFC 1334 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapPacket {
    /// Authenticate-Request: Peer-ID and Password, each at most 255 octets.
    AuthenticateRequest {
        /// Identifier; changes with each transmission.
        identifier: u8,
        /// Peer-ID.
        peer_id: Vec<u8>,
        /// Password, in clear.
        password: Vec<u8>,
    },
    /// Authenticate-Ack with a message of at most 255 octets.
    AuthenticateAck {
        /// Identifier of the Request acknowledged.
        identifier: u8,
        /// Message.
        message: Vec<u8>,
    },
    /// Authenticate-Nak with a message of at most 255 octets.
    AuthenticateNak {
        /// Identifier of the Request refused.
        identifier: u8,
        /// Message.
        message: Vec<u8>,
    },
}

impl PapPacket {
    /// Parse the PPP Information field of a PAP frame. A Message missing
    /// from Ack / Nak is read as empty (some peers omit Msg-Length).
    /// Errors: the [`AuthPacketError`] of the header, an unknown Code, or a
    /// length octet beyond the packet.
    pub fn parse(bytes: &[u8]) -> Result<PapPacket, AuthPacketError> {
        let p = parse_packet(bytes)?;
        let identifier = p.identifier;
        match p.code {
            CODE_AUTHENTICATE_REQUEST => {
                let (peer_id, rest) = take_len_prefixed(&p.data)?;
                let (password, _) = take_len_prefixed(rest)?;
                Ok(PapPacket::AuthenticateRequest { identifier, peer_id: peer_id.to_vec(), password: password.to_vec() })
            }
            CODE_AUTHENTICATE_ACK | CODE_AUTHENTICATE_NAK => {
                let message = if p.data.is_empty() { Vec::new() } else { take_len_prefixed(&p.data)?.0.to_vec() };
                if p.code == CODE_AUTHENTICATE_ACK {
                    Ok(PapPacket::AuthenticateAck { identifier, message })
                } else {
                    Ok(PapPacket::AuthenticateNak { identifier, message })
                }
            }
            code => Err(AuthPacketError::UnknownCode(code)),
        }
    }

    /// The packet's octets. Errors: [`AuthPacketError::FieldTooLong`] for a
    /// field over 255 octets.
    pub fn encode(&self) -> Result<Vec<u8>, AuthPacketError> {
        match self {
            PapPacket::AuthenticateRequest { identifier, peer_id, password } => {
                emit_packet(CODE_AUTHENTICATE_REQUEST, *identifier, &[&[len_octet(peer_id)?], peer_id, &[len_octet(password)?], password])
            }
            PapPacket::AuthenticateAck { identifier, message } => emit_packet(CODE_AUTHENTICATE_ACK, *identifier, &[&[len_octet(message)?], message]),
            PapPacket::AuthenticateNak { identifier, message } => emit_packet(CODE_AUTHENTICATE_NAK, *identifier, &[&[len_octet(message)?], message]),
        }
    }
}

/// State of the [`PapAuthenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapAuthenticatorState {
    /// Not started.
    Initial,
    /// Waiting for an Authenticate-Request.
    Listen,
    /// The backend is deciding on the Request of `identifier`.
    Pending {
        /// Identifier of the Request.
        identifier: u8,
        /// Its Peer-ID.
        peer_id: Vec<u8>,
        /// Its Password.
        password: Vec<u8>,
    },
    /// Ack sent: the peer is authenticated.
    Open {
        /// The accepted Peer-ID.
        peer_id: Vec<u8>,
        /// The accepted Password (to Ack a retransmitted Request again).
        password: Vec<u8>,
    },
    /// Nak sent, or no Request in time.
    Failed,
}

/// The authenticator (server) side of PAP (RFC 1334 §2.1).
#[derive(Debug)]
pub struct PapAuthenticator {
    timers: AuthTimers,
    state: PapAuthenticatorState,
    nak_message: Vec<u8>,
    deadline: Option<Instant>,
    out: VecDeque<AuthOutput>,
}

impl PapAuthenticator {
    /// A machine in `Initial`; [`PapAuthenticator::start`] opens it.
    pub fn new(timers: AuthTimers) -> PapAuthenticator {
        PapAuthenticator { timers, state: PapAuthenticatorState::Initial, nak_message: NAK_MESSAGE.to_vec(), deadline: None, out: VecDeque::new() }
    }

    /// LCP reached the Authenticate phase: wait for a Request for at most
    /// `timers.wait`.
    pub fn start(&mut self, now: Instant) {
        if self.state == PapAuthenticatorState::Initial {
            self.state = PapAuthenticatorState::Listen;
            self.deadline = now.checked_add(self.timers.wait);
        }
    }

    /// The current state.
    pub fn state(&self) -> &PapAuthenticatorState {
        &self.state
    }

    /// A PAP packet from the peer. Requests are answered; Ack / Nak (which
    /// only an authenticator sends) are ignored. Errors: a malformed packet
    /// (the machine is unchanged; an unknown Code is the caller's to
    /// Code-Reject).
    pub fn handle_packet(&mut self, _now: Instant, packet: &[u8], backend: &mut dyn AuthBackend) -> Result<(), AuthPacketError> {
        let PapPacket::AuthenticateRequest { identifier, peer_id, password } = PapPacket::parse(packet)? else {
            return Ok(());
        };
        match &self.state {
            // RFC 1334 §2.2.1: verify the Peer-ID/Password pair.
            PapAuthenticatorState::Listen => {
                let request = AuthRequest { method: AuthMethod::Pap, peer_name: peer_id.clone(), proof: Proof::Pap { password: password.clone() } };
                match backend.verify(&request) {
                    Answer::Now(verdict) => self.apply_verdict(identifier, peer_id, password, verdict),
                    Answer::Pending => {
                        self.deadline = None;
                        self.state = PapAuthenticatorState::Pending { identifier, peer_id, password };
                    }
                }
            }
            // RFC 1334 §2.2.2: the Ack may have been lost; a repeated Request
            // with the same credentials is acknowledged again.
            PapAuthenticatorState::Open { peer_id: p, password: w } if *p == peer_id && *w == password => {
                self.send_reply(true, identifier, ACK_MESSAGE.to_vec())
            }
            PapAuthenticatorState::Failed => self.send_reply(false, identifier, self.nak_message.clone()),
            _ => {}
        }
        Ok(())
    }

    /// The verdict of a backend that answered [`Answer::Pending`]; ignored
    /// unless a Request is pending.
    pub fn handle_verdict(&mut self, _now: Instant, verdict: Verdict) {
        if !matches!(self.state, PapAuthenticatorState::Pending { .. }) {
            return;
        }
        if let PapAuthenticatorState::Pending { identifier, peer_id, password } = std::mem::replace(&mut self.state, PapAuthenticatorState::Failed) {
            self.apply_verdict(identifier, peer_id, password, verdict);
        }
    }

    fn apply_verdict(&mut self, identifier: u8, peer_id: Vec<u8>, password: Vec<u8>, verdict: Verdict) {
        self.deadline = None;
        match verdict {
            Verdict::Accept(a) => {
                self.send_reply(true, identifier, ACK_MESSAGE.to_vec());
                self.event(AuthEvent::PeerAccepted { method: AuthMethod::Pap, peer_name: peer_id.clone(), address: a.address });
                self.state = PapAuthenticatorState::Open { peer_id, password };
            }
            Verdict::Reject { message } => {
                if let Some(m) = message {
                    self.nak_message = m.into_bytes();
                    self.nak_message.truncate(255);
                }
                self.send_reply(false, identifier, self.nak_message.clone());
                let reason = AuthFailure::Rejected(self.nak_message.clone());
                self.event(AuthEvent::PeerRejected { method: AuthMethod::Pap, peer_name: peer_id, reason });
                self.state = PapAuthenticatorState::Failed;
            }
        }
    }

    fn send_reply(&mut self, ack: bool, identifier: u8, message: Vec<u8>) {
        let p = if ack { PapPacket::AuthenticateAck { identifier, message } } else { PapPacket::AuthenticateNak { identifier, message } };
        if let Ok(packet) = p.encode() {
            self.out.push_back(AuthOutput::Send { protocol: PROTO_PAP, packet });
        }
    }

    fn event(&mut self, e: AuthEvent) {
        self.out.push_back(AuthOutput::Event(e));
    }

    /// The deadline passed: no Request came in time (RFC 1334 §2.1 leaves
    /// the wait to the implementation). Early or stale calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if is_due(self.deadline, now) && self.state == PapAuthenticatorState::Listen {
            self.deadline = None;
            self.state = PapAuthenticatorState::Failed;
            self.event(AuthEvent::PeerRejected { method: AuthMethod::Pap, peer_name: Vec::new(), reason: AuthFailure::Timeout });
        }
    }

    /// The next packet to send or event to report.
    pub fn poll_output(&mut self) -> Option<AuthOutput> {
        self.out.pop_front()
    }

    /// When [`PapAuthenticator::handle_timeout`] should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

/// State of the [`PapPeer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PapPeerState {
    /// Not started.
    Initial,
    /// Authenticate-Request sent, waiting for Ack / Nak.
    ReqSent,
    /// Ack received.
    Open,
    /// Nak received, or no answer after Max-Configure transmissions.
    Failed,
}

/// The peer (client) side of PAP (RFC 1334 §2.1).
#[derive(Debug)]
pub struct PapPeer {
    timers: AuthTimers,
    peer_id: Vec<u8>,
    password: Vec<u8>,
    state: PapPeerState,
    next_identifier: u8,
    sent_identifiers: Vec<u8>,
    deadline: Option<Instant>,
    out: VecDeque<AuthOutput>,
}

impl PapPeer {
    /// A peer that will log in as `peer_id` with `password`. Errors:
    /// [`AuthPacketError::FieldTooLong`] if either is over 255 octets.
    pub fn new(timers: AuthTimers, peer_id: &[u8], password: &[u8]) -> Result<PapPeer, AuthPacketError> {
        len_octet(peer_id)?;
        len_octet(password)?;
        Ok(PapPeer {
            timers,
            peer_id: peer_id.to_vec(),
            password: password.to_vec(),
            state: PapPeerState::Initial,
            next_identifier: 1,
            sent_identifiers: Vec::new(),
            deadline: None,
            out: VecDeque::new(),
        })
    }

    /// The current state.
    pub fn state(&self) -> PapPeerState {
        self.state
    }

    /// LCP reached the Authenticate phase: send the first Request.
    pub fn start(&mut self, now: Instant) {
        if self.state == PapPeerState::Initial {
            self.state = PapPeerState::ReqSent;
            self.send_request(now);
        }
    }

    /// RFC 1334 §2.2.1: each transmission carries a new Identifier.
    fn send_request(&mut self, now: Instant) {
        let identifier = self.next_identifier;
        self.next_identifier = identifier.wrapping_add(1);
        self.sent_identifiers.push(identifier);
        let p = PapPacket::AuthenticateRequest { identifier, peer_id: self.peer_id.clone(), password: self.password.clone() };
        if let Ok(packet) = p.encode() {
            self.out.push_back(AuthOutput::Send { protocol: PROTO_PAP, packet });
        }
        self.deadline = now.checked_add(self.timers.restart);
    }

    /// A PAP packet from the authenticator: an Ack or Nak answering one of
    /// our Requests ends the exchange; anything else is ignored. Errors: a
    /// malformed packet (the machine is unchanged).
    pub fn handle_packet(&mut self, _now: Instant, packet: &[u8]) -> Result<(), AuthPacketError> {
        let (ack, identifier, message) = match PapPacket::parse(packet)? {
            PapPacket::AuthenticateAck { identifier, message } => (true, identifier, message),
            PapPacket::AuthenticateNak { identifier, message } => (false, identifier, message),
            PapPacket::AuthenticateRequest { .. } => return Ok(()),
        };
        if self.state != PapPeerState::ReqSent || !self.sent_identifiers.contains(&identifier) {
            return Ok(());
        }
        self.deadline = None;
        let event = if ack {
            self.state = PapPeerState::Open;
            AuthEvent::Accepted { method: AuthMethod::Pap, message }
        } else {
            self.state = PapPeerState::Failed;
            AuthEvent::Refused { method: AuthMethod::Pap, reason: AuthFailure::Rejected(message) }
        };
        self.out.push_back(AuthOutput::Event(event));
        Ok(())
    }

    /// The Restart timer expired: send the Request again, or give up after
    /// `max_transmits` transmissions. Early or stale calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !is_due(self.deadline, now) || self.state != PapPeerState::ReqSent {
            return;
        }
        if self.sent_identifiers.len() >= self.timers.max_transmits as usize {
            self.deadline = None;
            self.state = PapPeerState::Failed;
            self.out.push_back(AuthOutput::Event(AuthEvent::Refused { method: AuthMethod::Pap, reason: AuthFailure::Timeout }));
        } else {
            self.send_request(now);
        }
    }

    /// The next packet to send or event to report.
    pub fn poll_output(&mut self) -> Option<AuthOutput> {
        self.out.pop_front()
    }

    /// When [`PapPeer::handle_timeout`] should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        let req = PapPacket::AuthenticateRequest { identifier: 1, peer_id: b"bob".to_vec(), password: b"pw".to_vec() };
        let bytes = req.encode().unwrap();
        assert_eq!(bytes, [1, 1, 0, 11, 3, b'b', b'o', b'b', 2, b'p', b'w']);
        assert_eq!(PapPacket::parse(&bytes), Ok(req));
        let ack = PapPacket::AuthenticateAck { identifier: 1, message: b"ok".to_vec() };
        assert_eq!(ack.encode().unwrap(), [2, 1, 0, 7, 2, b'o', b'k']);
        assert_eq!(PapPacket::parse(&[3, 9, 0, 4]), Ok(PapPacket::AuthenticateNak { identifier: 9, message: Vec::new() }));
        assert_eq!(PapPacket::parse(&[1, 1, 0, 6, 3, b'b']), Err(AuthPacketError::BadFieldLength));
        assert_eq!(PapPacket::parse(&[1, 1, 0, 5, 0]), Err(AuthPacketError::BadFieldLength));
        assert_eq!(PapPacket::parse(&[4, 1, 0, 4]), Err(AuthPacketError::UnknownCode(4)));
        let long = PapPacket::AuthenticateRequest { identifier: 1, peer_id: vec![b'x'; 256], password: Vec::new() };
        assert_eq!(long.encode(), Err(AuthPacketError::FieldTooLong));
        assert!(PapPeer::new(AuthTimers::default(), &[0; 256], b"").is_err());
    }
}
