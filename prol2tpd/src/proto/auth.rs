//! Tunnel authentication: the L2TPv2 CHAP-like challenge (RFC 2661 §5.1.1,
//! §4.4.3) and the L2TPv3 Message Digest (RFC 3931 §4.3, §5.4.1).
//!
//! L2TPv3 control message authentication, as implemented here:
//! - The key is `Shared-Key = HMAC_Hash(shared secret, 0x02)`
//!   ([`v3_control_key`]), with the hash of the negotiated digest type.
//! - The Message Digest AVP value is one octet of Digest Type (0 = HMAC-MD5,
//!   16 octets; 1 = HMAC-SHA-1, 20 octets) followed by the digest.
//! - The digest is `HMAC_Hash(Shared-Key, sender nonce || receiver nonce ||
//!   message)`, where `message` is the control message from the first octet
//!   of the L2TP control header to the end given by its Length field (over IP
//!   the four zero Session ID octets are not included), with the digest octets
//!   of the Message Digest AVP set to zero. The nonces are the values of the
//!   Control Message Authentication Nonce AVPs of the two LCCEs.
//! - SCCRQ is digested without nonces (the responder's nonce does not exist
//!   yet). The same rule is applied by Wireshark's L2TPv3 dissector.

use crate::proto::avp::{attr, AvpIter};
use crate::proto::header::{parse_packet, Packet, Transport};
use crate::proto::message::MessageType;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use std::fmt;

/// RFC 2661 §4.4.3 / §5.1.1 Challenge Response: `MD5(ID || secret ||
/// challenge)` where the one-octet ID is the Message Type of the message that
/// carries the response (2 for SCCRP, 3 for SCCCN).
pub fn challenge_response(msg_type: MessageType, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([(msg_type as u16 & 0xff) as u8]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Digest algorithm of the Message Digest AVP (RFC 3931 §5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// Digest Type 0: HMAC-MD5, 16-octet digest.
    HmacMd5,
    /// Digest Type 1: HMAC-SHA-1, 20-octet digest.
    HmacSha1,
}

impl DigestAlg {
    /// The Digest Type octet.
    pub fn wire_value(self) -> u8 {
        match self {
            DigestAlg::HmacMd5 => 0,
            DigestAlg::HmacSha1 => 1,
        }
    }

    /// The algorithm of a Digest Type octet, if known.
    pub fn from_wire(v: u8) -> Option<Self> {
        match v {
            0 => Some(DigestAlg::HmacMd5),
            1 => Some(DigestAlg::HmacSha1),
            _ => None,
        }
    }

    /// Digest length in octets (16 or 20).
    pub fn digest_len(self) -> usize {
        match self {
            DigestAlg::HmacMd5 => 16,
            DigestAlg::HmacSha1 => 20,
        }
    }
}

/// HMAC (RFC 2104) of the concatenation of `parts` under `key`.
pub fn hmac(alg: DigestAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail; the
    // fallbacks below only keep the code panic-free.
    match alg {
        DigestAlg::HmacMd5 => match Hmac::<Md5>::new_from_slice(key) {
            Ok(mut m) => {
                parts.iter().for_each(|p| m.update(p));
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => vec![0; 16],
        },
        DigestAlg::HmacSha1 => match Hmac::<Sha1>::new_from_slice(key) {
            Ok(mut m) => {
                parts.iter().for_each(|p| m.update(p));
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => vec![0; 20],
        },
    }
}

/// RFC 3931 §4.3: `Shared-Key = HMAC_Hash(shared secret, 0x02)`.
pub fn v3_control_key(secret: &[u8], alg: DigestAlg) -> Vec<u8> {
    hmac(alg, secret, &[&[2u8]])
}

/// Everything needed to compute the digest of messages in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestKey {
    /// Digest algorithm.
    pub alg: DigestAlg,
    /// The derived Shared-Key ([`v3_control_key`]).
    pub shared_key: Vec<u8>,
    /// Control Message Authentication Nonce of the LCCE sending the message.
    pub sender_nonce: Vec<u8>,
    /// Nonce of the LCCE receiving the message (empty when unknown).
    pub receiver_nonce: Vec<u8>,
}

impl DigestKey {
    /// A key for messages sent by the holder of `sender_nonce`: to sign our
    /// messages pass (our nonce, peer nonce); to verify the peer's pass
    /// (peer nonce, our nonce).
    pub fn new(secret: &[u8], alg: DigestAlg, sender_nonce: &[u8], receiver_nonce: &[u8]) -> Self {
        DigestKey { alg, shared_key: v3_control_key(secret, alg), sender_nonce: sender_nonce.to_vec(), receiver_nonce: receiver_nonce.to_vec() }
    }
}

/// Why a digest could not be filled in or did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthError {
    /// Not a well-formed control message.
    Malformed,
    /// No Message Digest AVP in the message.
    NoDigestAvp,
    /// The Message Digest AVP has an unknown Digest Type.
    UnknownDigestType(u8),
    /// The digest length does not match its type.
    BadDigestLength,
    /// The digest type differs from the key's algorithm.
    AlgMismatch,
    /// The digest does not match: drop the message (RFC 3931 §5.4.1).
    Mismatch,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Malformed => write!(f, "malformed control message"),
            AuthError::NoDigestAvp => write!(f, "no Message Digest AVP"),
            AuthError::UnknownDigestType(t) => write!(f, "unknown digest type {t}"),
            AuthError::BadDigestLength => write!(f, "bad Message Digest length"),
            AuthError::AlgMismatch => write!(f, "digest type differs from configured"),
            AuthError::Mismatch => write!(f, "message digest mismatch"),
        }
    }
}

impl std::error::Error for AuthError {}

/// Location of the digest in a packet.
struct DigestSpot {
    /// Offset of the control header in the packet (4 over IP, else 0).
    msg_start: usize,
    /// End of the message (per the Length field), packet offset.
    msg_end: usize,
    /// Packet offset of the digest octets (after the Digest Type octet).
    digest_at: usize,
    /// Algorithm named by the Digest Type octet.
    alg: DigestAlg,
    /// Whether the message is an SCCRQ.
    is_sccrq: bool,
}

/// Finds the first Message Digest AVP of a control packet.
fn find_digest(packet: &[u8], transport: Transport) -> Result<DigestSpot, AuthError> {
    let msg_start = if transport == Transport::Ip { 4 } else { 0 };
    let avps = match parse_packet(transport, packet) {
        Ok(Packet::Control { avps, .. }) => avps,
        _ => return Err(AuthError::Malformed),
    };
    // The AVPs follow the 12-octet header; their offset in `packet`:
    let avps_at = msg_start + crate::proto::header::V3_CONTROL_HEADER_LEN;
    let msg_end = avps_at.checked_add(avps.len()).ok_or(AuthError::Malformed)?;
    let mut it = AvpIter::new(avps);
    let mut is_sccrq = false;
    loop {
        let at = it.offset();
        let avp = match it.next() {
            Some(Ok(a)) => a,
            Some(Err(_)) => return Err(AuthError::Malformed),
            None => return Err(AuthError::NoDigestAvp),
        };
        if avp.vendor_id != 0 {
            continue;
        }
        if avp.attr_type == attr::MESSAGE_TYPE && avp.value == [0, MessageType::Sccrq as u8] {
            is_sccrq = true;
        }
        if avp.attr_type != attr::MESSAGE_DIGEST {
            continue;
        }
        let (&t, digest) = avp.value.split_first().ok_or(AuthError::BadDigestLength)?;
        let alg = DigestAlg::from_wire(t).ok_or(AuthError::UnknownDigestType(t))?;
        if digest.len() != alg.digest_len() {
            return Err(AuthError::BadDigestLength);
        }
        // header (6) + digest type (1)
        let digest_at = avps_at + at + 7;
        return Ok(DigestSpot { msg_start, msg_end, digest_at, alg, is_sccrq });
    }
}

/// Computes the digest for the message located by `spot`, treating the digest
/// octets as zero.
fn compute(packet: &[u8], spot: &DigestSpot, key: &DigestKey) -> Result<Vec<u8>, AuthError> {
    let dlen = spot.alg.digest_len();
    let digest_end = spot.digest_at + dlen;
    let before = packet.get(spot.msg_start..spot.digest_at).ok_or(AuthError::Malformed)?;
    let after = packet.get(digest_end..spot.msg_end).ok_or(AuthError::Malformed)?;
    let zeros = [0u8; 20];
    let zeros = zeros.get(..dlen).ok_or(AuthError::BadDigestLength)?;
    let (n1, n2): (&[u8], &[u8]) = if spot.is_sccrq { (&[], &[]) } else { (&key.sender_nonce, &key.receiver_nonce) };
    Ok(hmac(key.alg, &key.shared_key, &[n1, n2, before, zeros, after]))
}

/// Finds the Message Digest AVP in an emitted control packet (as produced by
/// [`crate::proto::header::emit_control`], IP session id included for
/// [`Transport::Ip`]) and writes the HMAC into it (RFC 3931 §5.4.1).
///
/// Errors: [`AuthError::NoDigestAvp`], [`AuthError::AlgMismatch`] when the AVP's
/// Digest Type is not `key.alg`, [`AuthError::Malformed`].
pub fn fill_digest(packet: &mut [u8], transport: Transport, key: &DigestKey) -> Result<(), AuthError> {
    let spot = find_digest(packet, transport)?;
    if spot.alg != key.alg {
        return Err(AuthError::AlgMismatch);
    }
    let digest = compute(packet, &spot, key)?;
    let end = spot.digest_at + digest.len();
    let dst = packet.get_mut(spot.digest_at..end).ok_or(AuthError::Malformed)?;
    dst.copy_from_slice(&digest);
    Ok(())
}

/// Verifies the Message Digest of a received control packet (RFC 3931
/// §5.4.1). Errors: [`AuthError::Mismatch`] when the digest is wrong (drop the
/// message), or the errors of [`fill_digest`].
pub fn verify_digest(packet: &[u8], transport: Transport, key: &DigestKey) -> Result<(), AuthError> {
    let spot = find_digest(packet, transport)?;
    if spot.alg != key.alg {
        return Err(AuthError::AlgMismatch);
    }
    let expect = compute(packet, &spot, key)?;
    let got = packet.get(spot.digest_at..spot.digest_at + expect.len()).ok_or(AuthError::Malformed)?;
    // Constant-time comparison.
    let diff = got.iter().zip(expect.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff == 0 {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()
    }

    #[test]
    fn rfc2202_hmac_md5() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 3] = [
            (vec![0x0b; 16], b"Hi There".to_vec(), "9294727a3638bb1c13f48ef8158bfc9d"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "750c783e6ab0b503eaa86e310a5db738"),
            (vec![0xaa; 16], vec![0xdd; 50], "56be34521d144c88dbb8c733f0e8b3f6"),
        ];
        for (key, data, want) in cases {
            assert_eq!(hmac(DigestAlg::HmacMd5, &key, &[&data]), hex(want));
        }
    }

    #[test]
    fn rfc2202_hmac_sha1() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 3] = [
            (vec![0x0b; 20], b"Hi There".to_vec(), "b617318655057264e28bc0b6fb378c8ef146be00"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (vec![0xaa; 20], vec![0xdd; 50], "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        ];
        for (key, data, want) in cases {
            // Split the data to check that parts are concatenated.
            let (a, b) = data.split_at(3);
            assert_eq!(hmac(DigestAlg::HmacSha1, &key, &[a, b]), hex(want));
        }
    }

    #[test]
    fn challenge_response_definition() {
        let mut h = Md5::new();
        h.update([2u8]);
        h.update(b"secret");
        h.update([1u8, 2, 3, 4]);
        let want: [u8; 16] = h.finalize().into();
        assert_eq!(challenge_response(MessageType::Sccrp, b"secret", &[1, 2, 3, 4]), want);
        assert_ne!(challenge_response(MessageType::Scccn, b"secret", &[1, 2, 3, 4]), want);
    }
}
