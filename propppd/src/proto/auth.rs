//! PPP authentication: what PAP ([`crate::proto::pap`]), CHAP-MD5 and
//! MS-CHAPv2 ([`crate::proto::chap`]) share.
//!
//! - [`AuthMethod`]: the method the authenticator asks for in LCP's
//!   Authentication-Protocol option (RFC 1661 §6.2, RFC 1994 §3, RFC 2759
//!   §2), with the option's encoding.
//! - The control-packet layout `Code, Identifier, Length, Data` (RFC 1661
//!   §5) is [`crate::proto::frame::Packet`], shared with LCP and the NCPs.
//! - The seam between the protocol machines and whoever knows the secrets:
//!   an authenticator machine hands an [`AuthRequest`] (method, peer name,
//!   proof) to an [`AuthBackend`], which answers [`Answer::Now`] with a
//!   [`Verdict`] or [`Answer::Pending`]; in the latter case the daemon later
//!   gives the verdict to the machine (`handle_verdict`). A RADIUS client is
//!   such a backend. [`SecretsBackend`] is the simple in-memory one, and any
//!   `FnMut(&AuthRequest) -> Answer` closure is one too.
//! - What the machines output ([`AuthOutput`]) and report ([`AuthEvent`]).
//!
//! The machines are sans-IO: they are fed `(now, packet)` and timeouts, and
//! return packets (the PPP Information field, to send under the PPP protocol
//! given with it) and events; they never read a clock.

use crate::proto::frame::{FrameError, Packet};
use crate::proto::mschap;
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// PPP protocol number of PAP (RFC 1334 §2).
pub const PROTO_PAP: u16 = 0xc023;
/// PPP protocol number of CHAP (RFC 1994 §3).
pub const PROTO_CHAP: u16 = 0xc223;
/// LCP option type of Authentication-Protocol (RFC 1661 §6.2).
pub const LCP_OPTION_AUTH_PROTOCOL: u8 = 3;
/// CHAP algorithm number of MD5 (RFC 1994 §3).
pub const CHAP_ALGORITHM_MD5: u8 = 5;

/// A malformed PAP or CHAP packet, or an unsupported Authentication-Protocol
/// option. Parsing never panics: every malformed input maps to one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPacketError {
    /// Fewer than 4 octets (Code, Identifier, Length); carries the length.
    Truncated(usize),
    /// The Length field is below 4 or beyond the octets received.
    BadLength {
        /// The Length field, octets.
        length: u16,
        /// The octets received.
        available: usize,
    },
    /// A Code this protocol does not define (the caller sends Code-Reject
    /// through LCP, RFC 1661 §5.6).
    UnknownCode(u8),
    /// A length octet inside the Data (Value-Size, Peer-ID Length, Passwd
    /// Length, Msg-Length) points beyond the packet.
    BadFieldLength,
    /// A field is too long to encode (a length octet is 255 at most, the
    /// packet 65535 octets at most).
    FieldTooLong,
    /// An Authentication-Protocol option this implementation does not speak
    /// (the LCP helper Naks it with one it does).
    UnsupportedAuthMethodcol,
}

impl fmt::Display for AuthPacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthPacketError::Truncated(n) => write!(f, "packet of {n} octets, shorter than its 4-octet header"),
            AuthPacketError::BadLength { length, available } => write!(f, "Length {length} with {available} octets received"),
            AuthPacketError::UnknownCode(c) => write!(f, "unknown code {c}"),
            AuthPacketError::BadFieldLength => f.write_str("field length beyond the packet"),
            AuthPacketError::FieldTooLong => f.write_str("field too long to encode"),
            AuthPacketError::UnsupportedAuthMethodcol => f.write_str("unsupported Authentication-Protocol"),
        }
    }
}

impl std::error::Error for AuthPacketError {}

/// Parses the Code/Identifier/Length layer of a PAP or CHAP packet with
/// [`Packet::parse`] (RFC 1661 §5; octets beyond Length are padding).
/// Errors: [`AuthPacketError::Truncated`] under 4 octets,
/// [`AuthPacketError::BadLength`] for a Length below 4 or beyond the input.
pub(crate) fn parse_packet(bytes: &[u8]) -> Result<Packet, AuthPacketError> {
    Packet::parse(bytes).map_err(|e| match e {
        FrameError::BadLength { length, available } => AuthPacketError::BadLength { length, available },
        _ => AuthPacketError::Truncated(bytes.len()),
    })
}

/// Emits a PAP or CHAP packet through [`Packet`]: Code, Identifier and the
/// Data parts, concatenated. Errors: [`AuthPacketError::FieldTooLong`]
/// beyond 65,535 octets in all.
pub(crate) fn emit_packet(code: u8, identifier: u8, parts: &[&[u8]]) -> Result<Vec<u8>, AuthPacketError> {
    let data = parts.concat();
    Packet::new(code, identifier, data).to_bytes().map_err(|_| AuthPacketError::FieldTooLong)
}

/// The one-octet length of a field. Errors: [`AuthPacketError::FieldTooLong`]
/// beyond 255 octets.
pub(crate) fn len_octet(field: &[u8]) -> Result<u8, AuthPacketError> {
    u8::try_from(field.len()).map_err(|_| AuthPacketError::FieldTooLong)
}

/// Take a field preceded by its one-octet length from `data`; returns the
/// field and the rest. Errors: [`AuthPacketError::BadFieldLength`].
pub(crate) fn take_len_prefixed(data: &[u8]) -> Result<(&[u8], &[u8]), AuthPacketError> {
    let (&len, rest) = data.split_first().ok_or(AuthPacketError::BadFieldLength)?;
    let field = rest.get(..usize::from(len)).ok_or(AuthPacketError::BadFieldLength)?;
    let rest = rest.get(usize::from(len)..).unwrap_or_default();
    Ok((field, rest))
}

/// An authentication method, as the authenticator asks for it in LCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// PAP (RFC 1334 §2); option data `C0 23`.
    Pap,
    /// CHAP with MD5 (RFC 1994); option data `C2 23 05`.
    ChapMd5,
    /// MS-CHAPv2 (RFC 2759); option data `C2 23 81`.
    MsChapV2,
}

impl AuthMethod {
    /// All methods, strongest first (the default order of preference).
    pub const ALL: [AuthMethod; 3] = [AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap];

    /// The PPP protocol that carries the method: [`PROTO_PAP`] or [`PROTO_CHAP`].
    pub fn protocol(self) -> u16 {
        match self {
            AuthMethod::Pap => PROTO_PAP,
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => PROTO_CHAP,
        }
    }

    /// The CHAP Algorithm octet (RFC 1994 §3), `None` for PAP.
    pub fn chap_algorithm(self) -> Option<u8> {
        match self {
            AuthMethod::Pap => None,
            AuthMethod::ChapMd5 => Some(CHAP_ALGORITHM_MD5),
            AuthMethod::MsChapV2 => Some(mschap::CHAP_ALGORITHM_MSCHAPV2),
        }
    }

    /// The Data of the Authentication-Protocol option (after Type and
    /// Length): 2 octets for PAP, 3 for CHAP.
    pub fn option_data(self) -> &'static [u8] {
        match self {
            AuthMethod::Pap => &[0xc0, 0x23],
            AuthMethod::ChapMd5 => &[0xc2, 0x23, CHAP_ALGORITHM_MD5],
            AuthMethod::MsChapV2 => &[0xc2, 0x23, mschap::CHAP_ALGORITHM_MSCHAPV2],
        }
    }

    /// The whole option: Type 3, Length, Data (RFC 1661 §6.2).
    pub fn encode_option(self) -> Vec<u8> {
        let data = self.option_data();
        let mut out = vec![LCP_OPTION_AUTH_PROTOCOL, (data.len() + 2) as u8];
        out.extend_from_slice(data);
        out
    }

    /// The method named by an option's Data. PAP's option carries no more
    /// data than the protocol (RFC 1334 §2.1); CHAP's carries exactly one
    /// Algorithm octet. Errors: [`AuthPacketError::UnsupportedAuthMethodcol`]
    /// for anything else (including CHAP with MS-CHAPv1, 0x80).
    pub fn from_option_data(data: &[u8]) -> Result<AuthMethod, AuthPacketError> {
        match data {
            [0xc0, 0x23] => Ok(AuthMethod::Pap),
            [0xc2, 0x23, CHAP_ALGORITHM_MD5] => Ok(AuthMethod::ChapMd5),
            [0xc2, 0x23, mschap::CHAP_ALGORITHM_MSCHAPV2] => Ok(AuthMethod::MsChapV2),
            _ => Err(AuthPacketError::UnsupportedAuthMethodcol),
        }
    }

    /// The method of a CHAP Algorithm octet, if supported.
    pub fn from_chap_algorithm(algorithm: u8) -> Option<AuthMethod> {
        match algorithm {
            CHAP_ALGORITHM_MD5 => Some(AuthMethod::ChapMd5),
            mschap::CHAP_ALGORITHM_MSCHAPV2 => Some(AuthMethod::MsChapV2),
            _ => None,
        }
    }

    /// A short lower-case name for logs and configuration: `pap`, `chap`,
    /// `mschapv2`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Pap => "pap",
            AuthMethod::ChapMd5 => "chap",
            AuthMethod::MsChapV2 => "mschapv2",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the peer sent to prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// PAP: the clear password (RFC 1334 §2.2.1).
    Pap {
        /// Password field.
        password: Vec<u8>,
    },
    /// CHAP-MD5: `response` should be `MD5(identifier || secret || challenge)`
    /// (RFC 1994 §4.1).
    ChapMd5 {
        /// Identifier of the Challenge and Response.
        identifier: u8,
        /// The Challenge Value we sent.
        challenge: Vec<u8>,
        /// The Response Value, 16 octets when well formed.
        response: Vec<u8>,
    },
    /// MS-CHAPv2 (RFC 2759 §4).
    MsChapV2 {
        /// The 16-octet challenge we sent.
        authenticator_challenge: [u8; 16],
        /// The Peer-Challenge of the Response.
        peer_challenge: [u8; 16],
        /// The NT-Response of the Response.
        nt_response: [u8; 24],
        /// The Name of the Response, as sent (a `DOMAIN\` prefix included);
        /// ChallengeHash uses it with the domain stripped.
        user_name: Vec<u8>,
    },
}

/// A question to the [`AuthBackend`]: may this peer in?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The method in use.
    pub method: AuthMethod,
    /// PAP Peer-ID or CHAP Name.
    pub peer_name: Vec<u8>,
    /// The proof.
    pub proof: Proof,
}

/// The backend's yes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accept {
    /// For MS-CHAPv2: the `S=` + 40 hex authenticator response (RFC 2759
    /// §5) the Success packet carries. Required for MS-CHAPv2: without it the
    /// machine refuses the peer.
    pub authenticator_response: Option<String>,
    /// A static address for this peer (e.g. from the secrets file).
    pub address: Option<Ipv4Addr>,
}

/// The backend's answer once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The peer is who it says.
    Accept(Accept),
    /// It is not; `message` (if any) goes into the Failure / Nak.
    Reject {
        /// Text for the peer, e.g. a RADIUS Reply-Message.
        message: Option<String>,
    },
}

/// The backend's immediate answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The verdict is known now.
    Now(Verdict),
    /// It will come later (e.g. a RADIUS round trip); the daemon hands it to
    /// the machine with its `handle_verdict`.
    Pending,
}

/// The authentication seam: the daemon implements it from its secrets
/// files, a RADIUS client from its server's answers.
pub trait AuthBackend {
    /// Decide on `request`, now or later.
    fn verify(&mut self, request: &AuthRequest) -> Answer;
}

impl<F: FnMut(&AuthRequest) -> Answer> AuthBackend for F {
    fn verify(&mut self, request: &AuthRequest) -> Answer {
        self(request)
    }
}

/// Constant-time comparison of two octet strings (the length is not hidden).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CHAP-MD5 Response Value (RFC 1994 §4.1): `MD5(Identifier || secret ||
/// Challenge)`, 16 octets.
pub fn chap_md5_response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([identifier]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Check `proof` against the clear `secret` of the peer and build the
/// verdict; `address` goes into an [`Accept`]. For MS-CHAPv2 the Accept
/// carries the authenticator response.
pub fn verdict_from_secret(proof: &Proof, secret: &[u8], address: Option<Ipv4Addr>) -> Verdict {
    let reject = Verdict::Reject { message: None };
    match proof {
        Proof::Pap { password } if ct_eq(password, secret) => Verdict::Accept(Accept { authenticator_response: None, address }),
        Proof::ChapMd5 { identifier, challenge, response } if ct_eq(response, &chap_md5_response(*identifier, secret, challenge)) => {
            Verdict::Accept(Accept { authenticator_response: None, address })
        }
        Proof::MsChapV2 { authenticator_challenge, peer_challenge, nt_response, user_name } => {
            let name = mschap::strip_domain(user_name);
            let hash = mschap::nt_password_hash(secret);
            let want = mschap::generate_nt_response_from_hash(authenticator_challenge, peer_challenge, name, &hash);
            if !ct_eq(&want, nt_response) {
                return reject;
            }
            let auth = mschap::generate_authenticator_response_from_hash(&hash, nt_response, peer_challenge, authenticator_challenge, name);
            Verdict::Accept(Accept { authenticator_response: Some(auth), address })
        }
        _ => reject,
    }
}

/// A peer's secret and its optional static address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSecret {
    /// The clear secret (PAP password, CHAP secret).
    pub secret: Vec<u8>,
    /// A static address to give this peer.
    pub address: Option<Ipv4Addr>,
}

/// An in-memory [`AuthBackend`]: peer name → secret. Unknown names are
/// rejected. Answers at once.
#[derive(Debug, Clone, Default)]
pub struct SecretsBackend {
    /// The secrets, by PAP Peer-ID / CHAP Name (as sent, domain included).
    pub secrets: HashMap<Vec<u8>, PeerSecret>,
}

impl SecretsBackend {
    /// An empty backend.
    pub fn new() -> SecretsBackend {
        SecretsBackend::default()
    }

    /// Add (or replace) `name` with `secret` and no static address.
    pub fn insert(&mut self, name: &[u8], secret: &[u8]) {
        self.secrets.insert(name.to_vec(), PeerSecret { secret: secret.to_vec(), address: None });
    }
}

impl AuthBackend for SecretsBackend {
    fn verify(&mut self, request: &AuthRequest) -> Answer {
        match self.secrets.get(&request.peer_name) {
            Some(s) => Answer::Now(verdict_from_secret(&request.proof, &s.secret, s.address)),
            None => Answer::Now(Verdict::Reject { message: None }),
        }
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The authenticator answered Failure / Authenticate-Nak (peer side),
    /// or the backend rejected the peer (authenticator side); carries the
    /// message text.
    Rejected(Vec<u8>),
    /// No answer after the configured number of transmissions or time.
    Timeout,
    /// MS-CHAPv2: the Success packet's authenticator response is wrong or
    /// missing: the authenticator does not know our password (RFC 2759 §5).
    BadAuthenticatorResponse,
    /// The authenticator asked for a CHAP algorithm we were not set up for.
    UnexpectedAlgorithm,
    /// MS-CHAPv2: the backend accepted without an authenticator response.
    BackendError,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::Rejected(m) => write!(f, "rejected message={:?}", String::from_utf8_lossy(m)),
            AuthFailure::Timeout => f.write_str("timeout"),
            AuthFailure::BadAuthenticatorResponse => f.write_str("bad authenticator response"),
            AuthFailure::UnexpectedAlgorithm => f.write_str("unexpected algorithm"),
            AuthFailure::BackendError => f.write_str("backend error"),
        }
    }
}

/// What a machine reports. After `PeerRejected` or `Refused` the link must
/// end (RFC 1994 §4.2, RFC 1334 §2.2.2): the LCP layer sends
/// Terminate-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// Authenticator side: the peer proved its identity (Success / Ack sent).
    /// Sent again after each successful re-challenge.
    PeerAccepted {
        /// The method used.
        method: AuthMethod,
        /// PAP Peer-ID or CHAP Name.
        peer_name: Vec<u8>,
        /// A static address from the backend.
        address: Option<Ipv4Addr>,
    },
    /// Authenticator side: the peer failed (Failure / Nak sent) or never answered.
    PeerRejected {
        /// The method used.
        method: AuthMethod,
        /// PAP Peer-ID or CHAP Name, empty on timeout.
        peer_name: Vec<u8>,
        /// Why.
        reason: AuthFailure,
    },
    /// Peer side: the authenticator accepted us (Success / Ack received).
    Accepted {
        /// The method used.
        method: AuthMethod,
        /// The message of Success / Ack (for MS-CHAPv2 the text after `M=`).
        message: Vec<u8>,
    },
    /// Peer side: we could not authenticate.
    Refused {
        /// The method used.
        method: AuthMethod,
        /// Why.
        reason: AuthFailure,
    },
}

/// What a machine asks the daemon to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutput {
    /// Send `packet` as the Information field of a PPP frame of `protocol`.
    Send {
        /// [`PROTO_PAP`] or [`PROTO_CHAP`].
        protocol: u16,
        /// Code, Identifier, Length, Data.
        packet: Vec<u8>,
    },
    /// Report an event.
    Event(AuthEvent),
}

/// Timers and counters of the machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTimers {
    /// Retransmission interval of Challenge / Response /
    /// Authenticate-Request (RFC 1661 Restart timer); default 3 s.
    pub restart: Duration,
    /// Transmissions of one packet before giving up (RFC 1661
    /// Max-Configure); default 10.
    pub max_transmits: u32,
    /// How long a side waits for the other to start (PAP authenticator
    /// waiting for a Request, CHAP peer waiting for a Challenge); default 30 s.
    pub wait: Duration,
}

impl Default for AuthTimers {
    fn default() -> AuthTimers {
        AuthTimers { restart: Duration::from_secs(3), max_transmits: 10, wait: Duration::from_secs(30) }
    }
}

/// Whether `deadline` has come at `now`: an early or stale wake-up (no
/// deadline, or one still in the future) is not due.
pub(crate) fn is_due(deadline: Option<Instant>, now: Instant) -> bool {
    matches!(deadline, Some(d) if d <= now)
}

/// Where challenges come from: [`common::rng::Rng`] (its CSPRNG path,
/// `fill_secret`) in the daemon, anything deterministic in tests.
pub trait ChallengeSource {
    /// Fill `buf` with unpredictable octets.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> ChallengeSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}

impl ChallengeSource for common::rng::Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        self.fill_secret(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_protocol_option_bytes() {
        assert_eq!(AuthMethod::Pap.encode_option(), [3, 4, 0xc0, 0x23]);
        assert_eq!(AuthMethod::ChapMd5.encode_option(), [3, 5, 0xc2, 0x23, 0x05]);
        assert_eq!(AuthMethod::MsChapV2.encode_option(), [3, 5, 0xc2, 0x23, 0x81]);
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::from_option_data(m.option_data()), Ok(m));
        }
        for bad in [&[0xc2, 0x23, 0x80][..], &[0xc2, 0x23], &[0xc0, 0x23, 0x00], &[], &[0xc2, 0x27, 0x05]] {
            assert_eq!(AuthMethod::from_option_data(bad), Err(AuthPacketError::UnsupportedAuthMethodcol));
        }
    }

    #[test]
    fn control_packet_bounds() {
        assert_eq!(parse_packet(&[1, 2, 0]), Err(AuthPacketError::Truncated(3)));
        assert_eq!(parse_packet(&[1, 2, 0, 3]), Err(AuthPacketError::BadLength { length: 3, available: 4 }));
        assert_eq!(parse_packet(&[1, 2, 0, 6, 9]), Err(AuthPacketError::BadLength { length: 6, available: 5 }));
        let p = parse_packet(&[1, 2, 0, 5, 9, 0xee, 0xee]).unwrap();
        assert_eq!((p.code, p.identifier, p.data.as_slice()), (1, 2, &[9u8][..]));
        assert_eq!(emit_packet(3, 7, &[b"ab", b"c"]).unwrap(), [3, 7, 0, 7, b'a', b'b', b'c']);
        assert_eq!(emit_packet(3, 7, &[&vec![0u8; 65532]]), Err(AuthPacketError::FieldTooLong));
        assert!(emit_packet(3, 7, &[&vec![0u8; 65531]]).is_ok());
    }

    #[test]
    fn len_prefixed_fields() {
        assert_eq!(take_len_prefixed(&[2, b'a', b'b', 9]), Ok((&b"ab"[..], &[9u8][..])));
        assert_eq!(take_len_prefixed(&[3, b'a']), Err(AuthPacketError::BadFieldLength));
        assert_eq!(take_len_prefixed(&[]), Err(AuthPacketError::BadFieldLength));
    }

    #[test]
    fn secrets_backend_checks_each_proof() {
        let mut b = SecretsBackend::new();
        b.insert(b"alice", b"wonder");
        let req = |name: &[u8], proof| AuthRequest { method: AuthMethod::Pap, peer_name: name.to_vec(), proof };
        let accepted = |a: Answer| matches!(a, Answer::Now(Verdict::Accept(_)));
        assert!(accepted(b.verify(&req(b"alice", Proof::Pap { password: b"wonder".to_vec() }))));
        assert!(!accepted(b.verify(&req(b"alice", Proof::Pap { password: b"wonde".to_vec() }))));
        assert!(!accepted(b.verify(&req(b"bob", Proof::Pap { password: b"wonder".to_vec() }))));
        let response = chap_md5_response(7, b"wonder", b"0123456789abcdef").to_vec();
        let chap = Proof::ChapMd5 { identifier: 7, challenge: b"0123456789abcdef".to_vec(), response };
        assert!(accepted(b.verify(&req(b"alice", chap.clone()))));
        let Proof::ChapMd5 { challenge, response, .. } = chap else { unreachable!() };
        assert!(!accepted(b.verify(&req(b"alice", Proof::ChapMd5 { identifier: 8, challenge, response }))));
    }
}
