//! MS-CHAPv2 (RFC 2759): the algorithms of §8 — `GenerateNTResponse`,
//! `ChallengeHash`, `NtPasswordHash`, `ChallengeResponse`, `DesEncrypt`,
//! `GenerateAuthenticatorResponse`, `CheckAuthenticatorResponse` — the layout
//! of the 49-octet Response value (§4) and the text of the Success (§5) and
//! Failure (§6) messages.
//!
//! MS-CHAPv2 travels in CHAP packets (RFC 1994) with algorithm 0x81; the
//! packet codec and the state machines are in [`crate::proto::chap`].
//!
//! Passwords are octet strings as in pppd's secrets files. For the NT hash
//! they are turned into UTF-16LE: a valid UTF-8 password is encoded
//! character by character (as Windows does); any other octet string is
//! zero-extended octet by octet (as pppd's `ascii2unicode` does). Both give
//! the same result for ASCII. At most 256 UTF-16 units are used (RFC 2759
//! §8.3 "0-to-256-unicode-char Password").

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;
use md4::{Digest as _, Md4};
use sha1::Sha1;
use std::fmt;

/// Length of the Authenticator and Peer challenges, octets (RFC 2759 §4).
pub const CHALLENGE_LEN: usize = 16;
/// Length of the NT-Response, octets (RFC 2759 §4).
pub const NT_RESPONSE_LEN: usize = 24;
/// Length of the Response packet's Value field, octets (RFC 2759 §4).
pub const RESPONSE_VALUE_LEN: usize = 49;
/// Length of the authenticator response string `S=` + 40 hex digits.
pub const AUTHENTICATOR_RESPONSE_LEN: usize = 42;
/// The CHAP algorithm number of MS-CHAPv2 (RFC 2759 §2).
pub const CHAP_ALGORITHM_MSCHAPV2: u8 = 0x81;
/// Error code of an authentication failure (RFC 2759 §6, `E=691`).
pub const ERROR_AUTHENTICATION_FAILURE: u32 = 691;
/// Most UTF-16 units of a password that take part in the NT hash.
pub const MAX_PASSWORD_UNITS: usize = 256;

/// Magic1 of `GenerateAuthenticatorResponse` (RFC 2759 §8.7).
const MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// Magic2 of `GenerateAuthenticatorResponse` (RFC 2759 §8.7).
const MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";

/// A malformed MS-CHAPv2 value or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsChapError {
    /// The Response value is not 49 octets (RFC 2759 §4); carries the length.
    BadResponseLength(usize),
    /// The reserved octets of the Response value are not zero (RFC 2759 §4).
    ReservedNotZero,
    /// The Success message has no well-formed `S=` + 40 hex digits (§5).
    BadSuccessMessage,
    /// The Failure message has no well-formed `E=` field (§6).
    BadFailureMessage,
}

impl fmt::Display for MsChapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsChapError::BadResponseLength(n) => write!(f, "MS-CHAPv2 Response value of {n} octets, want 49"),
            MsChapError::ReservedNotZero => f.write_str("MS-CHAPv2 Response reserved octets not zero"),
            MsChapError::BadSuccessMessage => f.write_str("MS-CHAPv2 Success message without S=<40 hex>"),
            MsChapError::BadFailureMessage => f.write_str("MS-CHAPv2 Failure message without E=<code>"),
        }
    }
}

impl std::error::Error for MsChapError {}

/// The password as UTF-16LE octets, at most [`MAX_PASSWORD_UNITS`] units
/// (see the module documentation for non-UTF-8 passwords).
pub fn password_utf16le(password: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = match std::str::from_utf8(password) {
        Ok(s) => s.encode_utf16().take(MAX_PASSWORD_UNITS).collect(),
        Err(_) => password.iter().take(MAX_PASSWORD_UNITS).map(|&b| u16::from(b)).collect(),
    };
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

/// `NtPasswordHash` (RFC 2759 §8.3): MD4 of the UTF-16LE password.
pub fn nt_password_hash(password: &[u8]) -> [u8; 16] {
    Md4::digest(password_utf16le(password)).into()
}

/// `HashNtPasswordHash` (RFC 2759 §8.4): MD4 of the 16-octet NT hash.
pub fn hash_nt_password_hash(password_hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(password_hash).into()
}

/// `ChallengeHash` (RFC 2759 §8.2): the first 8 octets of
/// `SHA1(PeerChallenge || AuthenticatorChallenge || UserName)`. `user_name`
/// is the name without any Windows domain (see [`strip_domain`]).
pub fn challenge_hash(peer_challenge: &[u8; 16], authenticator_challenge: &[u8; 16], user_name: &[u8]) -> [u8; 8] {
    let mut h = Sha1::new();
    h.update(peer_challenge);
    h.update(authenticator_challenge);
    h.update(user_name);
    let digest: [u8; 20] = h.finalize().into();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The user name used in [`challenge_hash`]: the part after the last `\`
/// of `DOMAIN\user` (RFC 2759 §8.2 "stripped of any Windows domain").
pub fn strip_domain(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'\\') {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name,
    }
}

/// Spread 7 key octets over 8, seven bits each in the high bits; the low
/// (parity) bit is left zero, DES ignores it (RFC 2759 §8.6, RFC 2433 A.8).
fn expand_des_key(key: &[u8; 7]) -> [u8; 8] {
    let bits = key.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        let shift = 49 - 7 * i as u32;
        *o = (((bits >> shift) & 0x7f) as u8) << 1;
    }
    out
}

/// `DesEncrypt` (RFC 2759 §8.6): DES-ECB of one 8-octet block with a
/// 7-octet key expanded to 8 octets.
pub fn des_encrypt(clear: &[u8; 8], key: &[u8; 7]) -> [u8; 8] {
    let cipher = Des::new(&expand_des_key(key).into());
    let mut block = (*clear).into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// `ChallengeResponse` (RFC 2759 §8.5): the 16-octet hash padded to 21 with
/// zeros, cut into three 7-octet DES keys, each encrypting `challenge`.
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = [0u8; 21];
    z[..16].copy_from_slice(password_hash);
    let mut out = [0u8; 24];
    for (k, chunk) in z.chunks_exact(7).zip(out.chunks_exact_mut(8)) {
        let mut key = [0u8; 7];
        key.copy_from_slice(k);
        chunk.copy_from_slice(&des_encrypt(challenge, &key));
    }
    out
}

/// `GenerateNTResponse` (RFC 2759 §8.1) from the clear password.
pub fn generate_nt_response(authenticator_challenge: &[u8; 16], peer_challenge: &[u8; 16], user_name: &[u8], password: &[u8]) -> [u8; 24] {
    generate_nt_response_from_hash(authenticator_challenge, peer_challenge, user_name, &nt_password_hash(password))
}

/// `GenerateNTResponse` (RFC 2759 §8.1) from the NT password hash.
pub fn generate_nt_response_from_hash(authenticator_challenge: &[u8; 16], peer_challenge: &[u8; 16], user_name: &[u8], password_hash: &[u8; 16]) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    challenge_response(&challenge, password_hash)
}

/// `GenerateAuthenticatorResponse` (RFC 2759 §8.7) from the clear password:
/// `S=` followed by 40 upper-case hex digits, 42 characters.
pub fn generate_authenticator_response(
    password: &[u8],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> String {
    generate_authenticator_response_from_hash(&nt_password_hash(password), nt_response, peer_challenge, authenticator_challenge, user_name)
}

/// `GenerateAuthenticatorResponse` (RFC 2759 §8.7) from the NT password hash.
pub fn generate_authenticator_response_from_hash(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> String {
    let hash_hash = hash_nt_password_hash(password_hash);
    let mut h = Sha1::new();
    h.update(hash_hash);
    h.update(nt_response);
    h.update(MAGIC1);
    let digest: [u8; 20] = h.finalize().into();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    let mut h = Sha1::new();
    h.update(digest);
    h.update(challenge);
    h.update(MAGIC2);
    let digest: [u8; 20] = h.finalize().into();
    format!("S={}", hex_upper(&digest))
}

/// `CheckAuthenticatorResponse` (RFC 2759 §8.8): whether `received` (the
/// `S=...` text, hex in either case) is the expected authenticator response.
pub fn check_authenticator_response(
    password: &[u8],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
    received: &[u8],
) -> bool {
    let want = generate_authenticator_response(password, nt_response, peer_challenge, authenticator_challenge, user_name);
    received.len() == want.len() && received.iter().zip(want.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a.to_ascii_uppercase() ^ b)) == 0
}

/// Upper-case hex of `bytes`.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The Value field of an MS-CHAPv2 Response packet (RFC 2759 §4):
/// Peer-Challenge (16), Reserved (8, zero), NT-Response (24), Flags (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseValue {
    /// The peer's 16-octet challenge.
    pub peer_challenge: [u8; 16],
    /// The 24-octet NT-Response.
    pub nt_response: [u8; 24],
    /// Flags, zero in RFC 2759.
    pub flags: u8,
}

impl ResponseValue {
    /// Parse a 49-octet Value. Errors: [`MsChapError::BadResponseLength`];
    /// non-zero reserved octets are accepted (Windows clients may set them)
    /// — use [`ResponseValue::parse_strict`] to refuse them.
    pub fn parse(value: &[u8]) -> Result<ResponseValue, MsChapError> {
        let v: &[u8; RESPONSE_VALUE_LEN] = value.try_into().map_err(|_| MsChapError::BadResponseLength(value.len()))?;
        let mut peer_challenge = [0u8; 16];
        peer_challenge.copy_from_slice(&v[..16]);
        let mut nt_response = [0u8; 24];
        nt_response.copy_from_slice(&v[24..48]);
        Ok(ResponseValue { peer_challenge, nt_response, flags: v[48] })
    }

    /// Like [`ResponseValue::parse`] but refuses non-zero reserved octets
    /// with [`MsChapError::ReservedNotZero`].
    pub fn parse_strict(value: &[u8]) -> Result<ResponseValue, MsChapError> {
        let r = ResponseValue::parse(value)?;
        if value.get(16..24).is_some_and(|res| res.iter().any(|&b| b != 0)) {
            return Err(MsChapError::ReservedNotZero);
        }
        Ok(r)
    }

    /// The 49-octet Value.
    pub fn encode(&self) -> [u8; RESPONSE_VALUE_LEN] {
        let mut v = [0u8; RESPONSE_VALUE_LEN];
        v[..16].copy_from_slice(&self.peer_challenge);
        v[24..48].copy_from_slice(&self.nt_response);
        v[48] = self.flags;
        v
    }
}

/// The Message of a Success packet (RFC 2759 §5):
/// `S=<auth_string> M=<message>`.
pub fn success_message(authenticator_response: &str, message: &str) -> String {
    format!("{authenticator_response} M={message}")
}

/// Split a Success message into the 42-octet `S=...` part and the text after
/// ` M=`, if any. Errors: [`MsChapError::BadSuccessMessage`] when it does
/// not start with `S=` and 40 hex digits.
pub fn parse_success_message(message: &[u8]) -> Result<(&[u8], Option<&[u8]>), MsChapError> {
    let s = message.get(..AUTHENTICATOR_RESPONSE_LEN).ok_or(MsChapError::BadSuccessMessage)?;
    let hex = s.strip_prefix(b"S=").ok_or(MsChapError::BadSuccessMessage)?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(MsChapError::BadSuccessMessage);
    }
    let rest = message.get(AUTHENTICATOR_RESPONSE_LEN..).unwrap_or_default();
    let text = rest.strip_prefix(b" M=").or_else(|| rest.strip_prefix(b" "));
    Ok((s, text))
}

/// The Message of a Failure packet (RFC 2759 §6):
/// `E=<error> R=<0|1> C=<32 hex of the next challenge> V=3 M=<message>`.
pub fn failure_message(error: u32, retry: bool, next_challenge: &[u8; 16], message: &str) -> String {
    format!("E={error} R={} C={} V=3 M={message}", u8::from(retry), hex_upper(next_challenge))
}

/// The fields of a Failure message (RFC 2759 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureMessage {
    /// `E=`: 646 restricted hours, 647 disabled, 648 expired, 649 no dial-in
    /// permission, 691 authentication failure, 709 error changing password.
    pub error: u32,
    /// `R=1`: the peer may retry.
    pub retry: bool,
    /// `C=`: the challenge for a retry, when present and well formed.
    pub challenge: Option<[u8; 16]>,
    /// `V=`: the password-change protocol version, when present.
    pub version: Option<u32>,
    /// `M=`: the text, possibly empty.
    pub message: String,
}

/// Parse a Failure message. Errors: [`MsChapError::BadFailureMessage`] when
/// the `E=` field is missing or not a number.
pub fn parse_failure_message(message: &[u8]) -> Result<FailureMessage, MsChapError> {
    let text = String::from_utf8_lossy(message);
    let (head, m) = match text.find("M=") {
        Some(i) => (text.get(..i).unwrap_or_default(), text.get(i + 2..).unwrap_or_default()),
        None => (&*text, ""),
    };
    let mut out = FailureMessage { error: 0, retry: false, challenge: None, version: None, message: m.to_string() };
    let mut have_error = false;
    for field in head.split_ascii_whitespace() {
        if let Some(v) = field.strip_prefix("E=") {
            out.error = v.parse().map_err(|_| MsChapError::BadFailureMessage)?;
            have_error = true;
        } else if let Some(v) = field.strip_prefix("R=") {
            out.retry = v == "1";
        } else if let Some(v) = field.strip_prefix("C=") {
            out.challenge = parse_hex16(v);
        } else if let Some(v) = field.strip_prefix("V=") {
            out.version = v.parse().ok();
        }
    }
    if have_error {
        Ok(out)
    } else {
        Err(MsChapError::BadFailureMessage)
    }
}

/// 32 hex digits to 16 octets.
fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2759 §9.2.
    const USER: &[u8] = b"User";
    const PASSWORD: &[u8] = b"clientPass";
    const AUTH_CHALLENGE: [u8; 16] = [0x5B, 0x5D, 0x7C, 0x7D, 0x7B, 0x3F, 0x2F, 0x3E, 0x3C, 0x2C, 0x60, 0x21, 0x32, 0x26, 0x26, 0x28];
    const PEER_CHALLENGE: [u8; 16] = [0x21, 0x40, 0x23, 0x24, 0x25, 0x5E, 0x26, 0x2A, 0x28, 0x29, 0x5F, 0x2B, 0x3A, 0x33, 0x7C, 0x7E];
    const CHALLENGE: [u8; 8] = [0xD0, 0x2E, 0x43, 0x86, 0xBC, 0xE9, 0x12, 0x26];
    const PASSWORD_HASH: [u8; 16] = [0x44, 0xEB, 0xBA, 0x8D, 0x53, 0x12, 0xB8, 0xD6, 0x11, 0x47, 0x44, 0x11, 0xF5, 0x69, 0x89, 0xAE];
    const NT_RESPONSE: [u8; 24] =
        [0x82, 0x30, 0x9E, 0xCD, 0x8D, 0x70, 0x8B, 0x5E, 0xA0, 0x8F, 0xAA, 0x39, 0x81, 0xCD, 0x83, 0x54, 0x42, 0x33, 0x11, 0x4A, 0x3D, 0x85, 0xD6, 0xDF];
    const PASSWORD_HASH_HASH: [u8; 16] = [0x41, 0xC0, 0x0C, 0x58, 0x4B, 0xD2, 0xD9, 0x1C, 0x40, 0x17, 0xA2, 0xA1, 0x2F, 0xA5, 0x9F, 0x3F];
    const AUTH_RESPONSE: &str = "S=407A5589115FD0D6209F510FE9C04566932CDA56";

    #[test]
    fn rfc2759_unicode_password() {
        let want = [0x63, 0x00, 0x6C, 0x00, 0x69, 0x00, 0x65, 0x00, 0x6E, 0x00, 0x74, 0x00, 0x50, 0x00, 0x61, 0x00, 0x73, 0x00, 0x73, 0x00];
        assert_eq!(password_utf16le(PASSWORD), want);
    }

    #[test]
    fn rfc2759_every_intermediate_value() {
        assert_eq!(challenge_hash(&PEER_CHALLENGE, &AUTH_CHALLENGE, USER), CHALLENGE);
        assert_eq!(nt_password_hash(PASSWORD), PASSWORD_HASH);
        assert_eq!(challenge_response(&CHALLENGE, &PASSWORD_HASH), NT_RESPONSE);
        assert_eq!(generate_nt_response(&AUTH_CHALLENGE, &PEER_CHALLENGE, USER, PASSWORD), NT_RESPONSE);
        assert_eq!(hash_nt_password_hash(&PASSWORD_HASH), PASSWORD_HASH_HASH);
        let auth = generate_authenticator_response(PASSWORD, &NT_RESPONSE, &PEER_CHALLENGE, &AUTH_CHALLENGE, USER);
        assert_eq!(auth, AUTH_RESPONSE);
        assert_eq!(auth.len(), AUTHENTICATOR_RESPONSE_LEN);
    }

    #[test]
    fn check_authenticator_response_accepts_only_the_right_one() {
        let ok = |r: &[u8]| check_authenticator_response(PASSWORD, &NT_RESPONSE, &PEER_CHALLENGE, &AUTH_CHALLENGE, USER, r);
        assert!(ok(AUTH_RESPONSE.as_bytes()));
        assert!(ok(AUTH_RESPONSE.to_ascii_lowercase().replace("s=", "S=").as_bytes()));
        assert!(!ok(b"S=407A5589115FD0D6209F510FE9C04566932CDA57"));
        assert!(!ok(b"S=407A"));
        assert!(!check_authenticator_response(b"wrong", &NT_RESPONSE, &PEER_CHALLENGE, &AUTH_CHALLENGE, USER, AUTH_RESPONSE.as_bytes()));
    }

    #[test]
    fn des_key_expansion_spreads_seven_bits() {
        assert_eq!(expand_des_key(&[0xff; 7]), [0xfe; 8]);
        assert_eq!(expand_des_key(&[0x80, 0, 0, 0, 0, 0, 0x01]), [0x80, 0, 0, 0, 0, 0, 0, 0x02]);
    }

    #[test]
    fn response_value_round_trip() {
        let r = ResponseValue { peer_challenge: PEER_CHALLENGE, nt_response: NT_RESPONSE, flags: 0 };
        let v = r.encode();
        assert_eq!(v.len(), 49);
        assert_eq!(&v[16..24], &[0u8; 8]);
        assert_eq!(ResponseValue::parse(&v), Ok(r));
        assert_eq!(ResponseValue::parse(&v[..48]), Err(MsChapError::BadResponseLength(48)));
        let mut bad = v;
        bad[20] = 1;
        assert_eq!(ResponseValue::parse_strict(&bad), Err(MsChapError::ReservedNotZero));
        assert!(ResponseValue::parse(&bad).is_ok());
    }

    #[test]
    fn success_and_failure_messages() {
        let s = success_message(AUTH_RESPONSE, "Access granted");
        assert_eq!(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted");
        let (auth, text) = parse_success_message(s.as_bytes()).unwrap();
        assert_eq!(auth, AUTH_RESPONSE.as_bytes());
        assert_eq!(text, Some(&b"Access granted"[..]));
        assert_eq!(parse_success_message(AUTH_RESPONSE.as_bytes()).unwrap().1, None);
        assert_eq!(parse_success_message(b"S=12"), Err(MsChapError::BadSuccessMessage));
        assert_eq!(parse_success_message(b"X=407A5589115FD0D6209F510FE9C04566932CDA56"), Err(MsChapError::BadSuccessMessage));

        let f = failure_message(691, false, &AUTH_CHALLENGE, "Authentication failed");
        assert_eq!(f, "E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3 M=Authentication failed");
        let p = parse_failure_message(f.as_bytes()).unwrap();
        assert_eq!(p.error, 691);
        assert!(!p.retry);
        assert_eq!(p.challenge, Some(AUTH_CHALLENGE));
        assert_eq!(p.version, Some(3));
        assert_eq!(p.message, "Authentication failed");
        assert_eq!(parse_failure_message(b"R=0 M=x"), Err(MsChapError::BadFailureMessage));
        assert_eq!(parse_failure_message(b"E=abc"), Err(MsChapError::BadFailureMessage));
    }

    #[test]
    fn strip_domain_keeps_the_user() {
        assert_eq!(strip_domain(b"DOMAIN\\user"), b"user");
        assert_eq!(strip_domain(b"user"), b"user");
        assert_eq!(strip_domain(b"a\\"), b"");
    }
}
