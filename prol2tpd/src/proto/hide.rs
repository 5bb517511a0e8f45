//! Hidden AVP values (RFC 2661 §4.3).
//!
//! The hidden subformat is `original length (2 octets) || value || padding`.
//! It is split into 16-octet chunks p1, p2, ... and XORed with an MD5
//! keystream: `b1 = MD5(attribute type (2 octets, network order) || secret ||
//! random vector)`, `c1 = p1 ^ b1`, then `bi = MD5(secret || c(i-1))`,
//! `ci = pi ^ bi`. A final short chunk is XORed with the start of its block.
//! The random vector is the value of the most recent Random Vector AVP that
//! precedes the hidden AVP in the message.

use md5::{Digest, Md5};
use std::fmt;

/// Why a hidden value could not be revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HideError {
    /// The hidden value is shorter than the 2-octet length prefix.
    TooShort,
    /// The revealed original length exceeds the hidden data (wrong secret or
    /// corrupted value).
    BadLength {
        /// The revealed original length, octets.
        claimed: u16,
        /// Octets of value available after the prefix.
        available: usize,
    },
}

impl fmt::Display for HideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HideError::TooShort => write!(f, "hidden AVP value shorter than 2 octets"),
            HideError::BadLength { claimed, available } => write!(f, "hidden AVP original length {claimed} exceeds {available} octets (wrong secret?)"),
        }
    }
}

impl std::error::Error for HideError {}

/// XORs `data` in place with the RFC 2661 §4.3 keystream. When `encrypting`
/// the chaining input is the output block, otherwise the input block; either
/// way it is the ciphertext.
fn xor_stream(attr_type: u16, data: &mut [u8], secret: &[u8], random_vector: &[u8], encrypting: bool) {
    let mut h = Md5::new();
    h.update(attr_type.to_be_bytes());
    h.update(secret);
    h.update(random_vector);
    let mut block: [u8; 16] = h.finalize().into();
    for chunk in data.chunks_mut(16) {
        let mut cipher = [0u8; 16];
        for (i, (d, k)) in chunk.iter_mut().zip(block.iter()).enumerate() {
            let c_in = *d;
            *d ^= *k;
            if let Some(c) = cipher.get_mut(i) {
                *c = if encrypting { *d } else { c_in };
            }
        }
        let mut h = Md5::new();
        h.update(secret);
        h.update(cipher.get(..chunk.len()).unwrap_or(&cipher));
        block = h.finalize().into();
    }
}

/// Hides `value` of an AVP of type `attr_type` (RFC 2661 §4.3).
///
/// `pad_random` is appended after the value as padding (any length, may be
/// empty; RFC 2661 suggests padding to hide the real length). `value` must be
/// at most 65,535 octets (the prefix is 16 bits; an AVP holds far less).
/// Returns the octets to put in the AVP with the H bit set.
pub fn hide(attr_type: u16, value: &[u8], secret: &[u8], random_vector: &[u8], pad_random: &[u8]) -> Vec<u8> {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    let mut data = Vec::with_capacity(2 + value.len() + pad_random.len());
    data.extend_from_slice(&len.to_be_bytes());
    data.extend_from_slice(value);
    data.extend_from_slice(pad_random);
    xor_stream(attr_type, &mut data, secret, random_vector, true);
    data
}

/// Reveals a hidden AVP value (RFC 2661 §4.3): returns the original value
/// with the length prefix and padding removed.
///
/// Errors: [`HideError::TooShort`] when `hidden` has fewer than 2 octets,
/// [`HideError::BadLength`] when the revealed length is larger than the data
/// (typically a wrong secret).
pub fn unhide(attr_type: u16, hidden: &[u8], secret: &[u8], random_vector: &[u8]) -> Result<Vec<u8>, HideError> {
    if hidden.len() < 2 {
        return Err(HideError::TooShort);
    }
    let mut data = hidden.to_vec();
    xor_stream(attr_type, &mut data, secret, random_vector, false);
    let claimed = match data.get(..2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => return Err(HideError::TooShort),
    };
    let available = data.len().saturating_sub(2);
    let end = usize::from(claimed).saturating_add(2);
    match data.get(2..end) {
        Some(v) if usize::from(claimed) <= available => Ok(v.to_vec()),
        _ => Err(HideError::BadLength { claimed, available }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_various_lengths() {
        let secret = b"s3cret";
        let rv = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        for n in [0usize, 1, 13, 14, 15, 16, 30, 31, 32, 33, 100] {
            let value: Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5a).collect();
            for pad in [&[][..], &[0xee; 7][..]] {
                let h = hide(9, &value, secret, &rv, pad);
                assert_eq!(h.len(), 2 + n + pad.len());
                assert_eq!(unhide(9, &h, secret, &rv), Ok(value.clone()));
            }
        }
    }

    #[test]
    fn first_block_matches_definition() {
        // Independent computation of c1 for a 2-octet value: the 4-octet
        // subformat XOR MD5(type || secret || RV).
        let mut h = Md5::new();
        h.update([0u8, 14]);
        h.update(b"k");
        h.update(b"RV");
        let b1: [u8; 16] = h.finalize().into();
        let plain = [0u8, 2, 0xab, 0xcd];
        let expect: Vec<u8> = plain.iter().zip(b1.iter()).map(|(p, k)| p ^ k).collect();
        assert_eq!(hide(14, &[0xab, 0xcd], b"k", b"RV", &[]), expect);
    }

    #[test]
    fn second_block_chains_on_ciphertext() {
        let value = [7u8; 20]; // subformat 22 octets: 2 blocks
        let h = hide(7, &value, b"k", b"RV", &[]);
        let mut m = Md5::new();
        m.update(b"k");
        m.update(&h[..16]);
        let b2: [u8; 16] = m.finalize().into();
        assert_eq!(h[16] ^ b2[0], 7);
        assert_eq!(h[21] ^ b2[5], 7);
    }

    #[test]
    fn wrong_secret_detected_or_garbled() {
        let h = hide(9, &[0, 1], b"right", b"rv", &[]);
        assert_ne!(unhide(9, &h, b"wrong", b"rv"), Ok(vec![0, 1]));
        assert_eq!(unhide(9, &[1], b"k", b"rv"), Err(HideError::TooShort));
    }
}
