//! The PPPoE packet and tag codec (RFC 2516 §4, Appendix A; RFC 4638 §4).
//!
//! A PPPoE packet is a 6-octet header (VER/TYPE, CODE, SESSION_ID, LENGTH)
//! followed by LENGTH octets of payload. Discovery packets (ethertype
//! 0x8863) carry TLV tags; session packets (ethertype 0x8864, code 0x00)
//! carry one PPP frame from the Protocol field on. Parsing is checked: it
//! never panics and returns a [`PacketError`] for anything malformed.

use std::fmt;
use std::str::FromStr;

/// Ethertype of PPPoE Discovery Stage frames (RFC 2516 §4).
pub const ETH_P_PPP_DISC: u16 = 0x8863;
/// Ethertype of PPPoE Session Stage frames (RFC 2516 §4).
pub const ETH_P_PPP_SES: u16 = 0x8864;
/// The VER (4 bits, 1) and TYPE (4 bits, 1) octet every PPPoE packet starts with (RFC 2516 §4).
pub const PPPOE_VER_TYPE: u8 = 0x11;
/// Length of the PPPoE header in octets (RFC 2516 §4).
pub const PPPOE_HEADER_LEN: usize = 6;
/// Length of an Ethernet header without 802.1Q tag, in octets.
pub const ETH_HEADER_LEN: usize = 14;
/// Largest PPPoE payload that fits a standard 1500-octet Ethernet MTU (RFC 2516 §7: MRU 1492).
pub const PPPOE_STD_PAYLOAD: u16 = 1492;

/// An Ethernet (IEEE 802) MAC address.
///
/// Displays as `aa:bb:cc:dd:ee:ff`; parses from six hex octets separated by
/// `:` or `-`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff` (PADI destination, RFC 2516 §5.1).
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// True for `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// True when the group bit (least significant bit of the first octet) is set; includes broadcast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// True for `00:00:00:00:00:00`.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// Error from parsing a [`MacAddr`] from text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MacParseError(pub String);

impl fmt::Display for MacParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid MAC address {:?} (want six hex octets separated by ':' or '-')", self.0)
    }
}

impl std::error::Error for MacParseError {}

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// Six one- or two-digit hex octets separated by `:` or `-` (one kind throughout).
    fn from_str(s: &str) -> Result<MacAddr, MacParseError> {
        let err = || MacParseError(s.to_string());
        let sep = if s.contains(':') { ':' } else { '-' };
        let mut out = [0u8; 6];
        let mut n = 0usize;
        for part in s.split(sep) {
            let slot = out.get_mut(n).ok_or_else(err)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| err())?;
            n += 1;
        }
        if n != 6 {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

/// The CODE field of a PPPoE packet (RFC 2516 §4, §5).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Code {
    /// PPPoE Active Discovery Initiation, 0x09 (§5.1).
    Padi,
    /// PPPoE Active Discovery Offer, 0x07 (§5.2).
    Pado,
    /// PPPoE Active Discovery Request, 0x19 (§5.3).
    Padr,
    /// PPPoE Active Discovery Session-confirmation, 0x65 (§5.4).
    Pads,
    /// PPPoE Active Discovery Terminate, 0xa7 (§5.5).
    Padt,
    /// Session Stage data, 0x00 (§6).
    Session,
}

impl Code {
    /// The octet on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            Code::Padi => 0x09,
            Code::Pado => 0x07,
            Code::Padr => 0x19,
            Code::Pads => 0x65,
            Code::Padt => 0xa7,
            Code::Session => 0x00,
        }
    }

    /// The code for an octet; None for codes RFC 2516 does not define.
    pub fn from_u8(v: u8) -> Option<Code> {
        Some(match v {
            0x09 => Code::Padi,
            0x07 => Code::Pado,
            0x19 => Code::Padr,
            0x65 => Code::Pads,
            0xa7 => Code::Padt,
            0x00 => Code::Session,
            _ => return None,
        })
    }

    /// The RFC name in capitals (`PADI` …, `SESSION`), for logs.
    pub fn name(self) -> &'static str {
        match self {
            Code::Padi => "PADI",
            Code::Pado => "PADO",
            Code::Padr => "PADR",
            Code::Pads => "PADS",
            Code::Padt => "PADT",
            Code::Session => "SESSION",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// PPPoE tag types (RFC 2516 Appendix A; RFC 4638 §4 for PPP-Max-Payload), declared once in [`TAGS`].
pub mod tag {
    /// End-Of-List: ends the tag list; value empty (optional).
    pub const END_OF_LIST: u16 = 0x0000;
    /// Service-Name: UTF-8 service name, empty = any service.
    pub const SERVICE_NAME: u16 = 0x0101;
    /// AC-Name: UTF-8 name of the access concentrator.
    pub const AC_NAME: u16 = 0x0102;
    /// Host-Uniq: opaque host data the AC echoes.
    pub const HOST_UNIQ: u16 = 0x0103;
    /// AC-Cookie: opaque AC data the host echoes in PADR.
    pub const AC_COOKIE: u16 = 0x0104;
    /// Vendor-Specific: 4-octet vendor id (0, IANA enterprise number) then vendor data.
    pub const VENDOR_SPECIFIC: u16 = 0x0105;
    /// Relay-Session-Id: opaque data a relay adds; echoed by everyone.
    pub const RELAY_SESSION_ID: u16 = 0x0110;
    /// PPP-Max-Payload (RFC 4638): 2-octet maximum PPP payload, ≥ 1492 when sent.
    pub const PPP_MAX_PAYLOAD: u16 = 0x0120;
    /// Service-Name-Error: the requested service is not offered; optional UTF-8 text.
    pub const SERVICE_NAME_ERROR: u16 = 0x0201;
    /// AC-System-Error: the AC cannot serve the request (e.g. resources); optional UTF-8 text.
    pub const AC_SYSTEM_ERROR: u16 = 0x0202;
    /// Generic-Error: an unrecoverable error; optional UTF-8 text.
    pub const GENERIC_ERROR: u16 = 0x0203;

    /// Every tag type this implementation knows, with its RFC name.
    pub const TAGS: &[(u16, &str)] = &[
        (END_OF_LIST, "End-Of-List"),
        (SERVICE_NAME, "Service-Name"),
        (AC_NAME, "AC-Name"),
        (HOST_UNIQ, "Host-Uniq"),
        (AC_COOKIE, "AC-Cookie"),
        (VENDOR_SPECIFIC, "Vendor-Specific"),
        (RELAY_SESSION_ID, "Relay-Session-Id"),
        (PPP_MAX_PAYLOAD, "PPP-Max-Payload"),
        (SERVICE_NAME_ERROR, "Service-Name-Error"),
        (AC_SYSTEM_ERROR, "AC-System-Error"),
        (GENERIC_ERROR, "Generic-Error"),
    ];

    /// The RFC name of a tag type, `"unknown"` for types not in [`TAGS`].
    pub fn name(t: u16) -> &'static str {
        TAGS.iter().find(|(v, _)| *v == t).map(|(_, n)| *n).unwrap_or("unknown")
    }

    /// True for the three error tags (0x0201–0x0203).
    pub fn is_error(t: u16) -> bool {
        matches!(t, SERVICE_NAME_ERROR | AC_SYSTEM_ERROR | GENERIC_ERROR)
    }
}

/// One TLV tag of a discovery packet (RFC 2516 Appendix A): TAG_TYPE, TAG_LENGTH (implied by `value`), TAG_VALUE.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Tag {
    /// TAG_TYPE, see [`tag`].
    pub tag_type: u16,
    /// TAG_VALUE, 0..=65535 octets (bounded further by the packet's LENGTH).
    pub value: Vec<u8>,
}

/// Why a PPPoE packet or Ethernet frame could not be parsed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PacketError {
    /// Fewer octets than the header needs (the count received).
    Short(usize),
    /// VER/TYPE was not 0x11 (RFC 2516 §4).
    BadVerType(u8),
    /// CODE is not one RFC 2516 defines, or not the kind expected.
    BadCode(u8),
    /// LENGTH says more octets than there are after the header.
    BadLength {
        /// The LENGTH field.
        header: u16,
        /// Octets present after the 6-octet header.
        actual: usize,
    },
    /// A tag's TAG_LENGTH runs past the payload (tag type, offset of the tag in the payload).
    TagOverrun {
        /// TAG_TYPE of the offending tag.
        tag_type: u16,
        /// Offset of the tag header from the start of the payload, in octets.
        at: usize,
    },
    /// Expected a session packet (code 0x00).
    NotSession,
    /// The packet would not fit the 16-bit LENGTH field.
    TooLong,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Short(n) => write!(f, "packet too short ({n} octets)"),
            PacketError::BadVerType(v) => write!(f, "bad VER/TYPE 0x{v:02x} (want 0x11)"),
            PacketError::BadCode(c) => write!(f, "bad or unexpected CODE 0x{c:02x}"),
            PacketError::BadLength { header, actual } => write!(f, "LENGTH {header} exceeds the {actual} octets present"),
            PacketError::TagOverrun { tag_type, at } => write!(f, "tag 0x{tag_type:04x} at offset {at} runs past the payload"),
            PacketError::NotSession => write!(f, "not a session packet (code 0x00)"),
            PacketError::TooLong => write!(f, "packet longer than 65535 octets"),
        }
    }
}

impl std::error::Error for PacketError {}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let hi = *b.get(at)?;
    let lo = *b.get(at.checked_add(1)?)?;
    Some(u16::from_be_bytes([hi, lo]))
}

/// Checks the 6-octet header; returns (code octet, session id, payload of LENGTH octets).
fn split_header(pppoe: &[u8]) -> Result<(u8, u16, &[u8]), PacketError> {
    if pppoe.len() < PPPOE_HEADER_LEN {
        return Err(PacketError::Short(pppoe.len()));
    }
    let (hdr, rest) = pppoe.split_at(PPPOE_HEADER_LEN);
    let vt = hdr[0];
    if vt != PPPOE_VER_TYPE {
        return Err(PacketError::BadVerType(vt));
    }
    let code = hdr[1];
    let session_id = u16::from_be_bytes([hdr[2], hdr[3]]);
    let length = u16::from_be_bytes([hdr[4], hdr[5]]);
    let payload = rest.get(..usize::from(length)).ok_or(PacketError::BadLength { header: length, actual: rest.len() })?;
    Ok((code, session_id, payload))
}

/// A PPPoE discovery packet (RFC 2516 §4, §5): code, SESSION_ID and the tags in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Discovery {
    /// CODE: one of the discovery codes (Padi … Padt).
    pub code: Code,
    /// SESSION_ID: 0 in PADI/PADO/PADR, the session in PADS/PADT.
    pub session_id: u16,
    /// The tags in wire order; an End-Of-List tag ends parsing and is not kept.
    pub tags: Vec<Tag>,
}

impl Discovery {
    /// An empty packet of this code and SESSION_ID.
    pub fn new(code: Code, session_id: u16) -> Discovery {
        Discovery { code, session_id, tags: Vec::new() }
    }

    /// Parses a discovery packet from the PPPoE header on (after the Ethernet header).
    ///
    /// Octets beyond LENGTH (Ethernet padding, trailers) are ignored; an
    /// End-Of-List tag ends the list. Errors: [`PacketError::Short`],
    /// [`PacketError::BadVerType`], [`PacketError::BadCode`] (unknown code or
    /// the session code 0x00), [`PacketError::BadLength`], [`PacketError::TagOverrun`].
    pub fn parse(pppoe: &[u8]) -> Result<Discovery, PacketError> {
        let (code_u8, session_id, payload) = split_header(pppoe)?;
        let code = match Code::from_u8(code_u8) {
            Some(Code::Session) | None => return Err(PacketError::BadCode(code_u8)),
            Some(c) => c,
        };
        let mut tags = Vec::new();
        let mut at = 0usize;
        while at < payload.len() {
            let tag_type = be16(payload, at).ok_or(PacketError::TagOverrun { tag_type: 0, at })?;
            let len = be16(payload, at + 2).ok_or(PacketError::TagOverrun { tag_type, at })?;
            let start = at + 4;
            let end = start + usize::from(len);
            let value = payload.get(start..end).ok_or(PacketError::TagOverrun { tag_type, at })?;
            if tag_type == tag::END_OF_LIST {
                break;
            }
            tags.push(Tag { tag_type, value: value.to_vec() });
            at = end;
        }
        Ok(Discovery { code, session_id, tags })
    }

    /// Length of the payload (all tags) in octets; may exceed 65535 for a packet that cannot be emitted.
    pub fn payload_len(&self) -> usize {
        self.tags.iter().map(|t| 4 + t.value.len()).sum()
    }

    /// The packet on the wire: PPPoE header + tags (no End-Of-List).
    ///
    /// Tags longer than 65535 octets are truncated to 65535 and the LENGTH
    /// field saturates; use [`Discovery::try_emit`] to get an error instead.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PPPOE_HEADER_LEN + self.payload_len());
        out.push(PPPOE_VER_TYPE);
        out.push(self.code.to_u8());
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for t in &self.tags {
            let v = t.value.get(..t.value.len().min(usize::from(u16::MAX))).unwrap_or(&[]);
            out.extend_from_slice(&t.tag_type.to_be_bytes());
            out.extend_from_slice(&u16::try_from(v.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(v);
        }
        let len = u16::try_from(out.len() - PPPOE_HEADER_LEN).unwrap_or(u16::MAX);
        out[4..6].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// As [`Discovery::emit`], but [`PacketError::TooLong`] when the tags exceed 65535 octets.
    pub fn try_emit(&self) -> Result<Vec<u8>, PacketError> {
        if self.payload_len() > usize::from(u16::MAX) {
            return Err(PacketError::TooLong);
        }
        Ok(self.emit())
    }

    /// The value of the first tag of type `t`.
    pub fn tag(&self, t: u16) -> Option<&[u8]> {
        self.tags.iter().find(|x| x.tag_type == t).map(|x| x.value.as_slice())
    }

    /// Every value of the tags of type `t`, in order (e.g. several Service-Names in a PADO).
    pub fn tags_of(&self, t: u16) -> impl Iterator<Item = &[u8]> {
        self.tags.iter().filter(move |x| x.tag_type == t).map(|x| x.value.as_slice())
    }

    /// Appends a tag; returns self for chaining.
    pub fn push(&mut self, t: u16, value: &[u8]) -> &mut Discovery {
        self.tags.push(Tag { tag_type: t, value: value.to_vec() });
        self
    }

    /// The PPP-Max-Payload value (RFC 4638 §4) when the tag is present with exactly 2 octets.
    pub fn max_payload(&self) -> Option<u16> {
        let v = self.tag(tag::PPP_MAX_PAYLOAD)?;
        let b: [u8; 2] = v.try_into().ok()?;
        Some(u16::from_be_bytes(b))
    }

    /// The first error tag (Service-Name-Error, AC-System-Error, Generic-Error) as (type, text), text lossily UTF-8.
    pub fn error(&self) -> Option<(u16, String)> {
        self.tags.iter().find(|t| tag::is_error(t.tag_type)).map(|t| (t.tag_type, String::from_utf8_lossy(&t.value).into_owned()))
    }
}

/// An Ethernet II header (14 octets; no 802.1Q tag: sockets are bound on the VLAN interface).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EthHeader {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// Ethertype, e.g. [`ETH_P_PPP_DISC`].
    pub ethertype: u16,
}

/// Splits a whole Ethernet frame into its 14-octet header and the payload.
///
/// Errors: [`PacketError::Short`] when the frame has fewer than 14 octets.
pub fn parse_eth(frame: &[u8]) -> Result<(EthHeader, &[u8]), PacketError> {
    let short = || PacketError::Short(frame.len());
    let dst: [u8; 6] = frame.get(0..6).ok_or_else(short)?.try_into().map_err(|_| short())?;
    let src: [u8; 6] = frame.get(6..12).ok_or_else(short)?.try_into().map_err(|_| short())?;
    let ethertype = be16(frame, 12).ok_or_else(short)?;
    let payload = frame.get(ETH_HEADER_LEN..).ok_or_else(short)?;
    Ok((EthHeader { dst: MacAddr(dst), src: MacAddr(src), ethertype }, payload))
}

/// A whole Ethernet frame: `dst`, `src`, `ethertype`, `payload` (no padding added; the NIC pads to 60 octets).
pub fn eth_frame(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ETH_HEADER_LEN + payload.len());
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Parses a Session Stage packet (RFC 2516 §6) from the PPPoE header on: (SESSION_ID, PPP frame from the Protocol field on).
///
/// Octets beyond LENGTH are ignored. Errors: [`PacketError::Short`],
/// [`PacketError::BadVerType`], [`PacketError::NotSession`] (code ≠ 0x00),
/// [`PacketError::BadLength`].
pub fn parse_session(pppoe: &[u8]) -> Result<(u16, &[u8]), PacketError> {
    let (code, session_id, payload) = split_header(pppoe)?;
    if code != Code::Session.to_u8() {
        return Err(PacketError::NotSession);
    }
    Ok((session_id, payload))
}

/// A whole Ethernet frame (ethertype 0x8864) carrying `ppp` (from the Protocol field on) in session `session_id` (RFC 2516 §6).
///
/// A `ppp` longer than 65535 octets is truncated (it cannot be on an Ethernet link anyway).
pub fn session_frame(dst: MacAddr, src: MacAddr, session_id: u16, ppp: &[u8]) -> Vec<u8> {
    let ppp = ppp.get(..ppp.len().min(usize::from(u16::MAX))).unwrap_or(&[]);
    let mut out = Vec::with_capacity(ETH_HEADER_LEN + PPPOE_HEADER_LEN + ppp.len());
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&ETH_P_PPP_SES.to_be_bytes());
    out.push(PPPOE_VER_TYPE);
    out.push(Code::Session.to_u8());
    out.extend_from_slice(&session_id.to_be_bytes());
    out.extend_from_slice(&u16::try_from(ppp.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(ppp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text() {
        let m: MacAddr = "00:1A:2b:3c:4d:5e".parse().unwrap();
        assert_eq!(m, MacAddr([0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]));
        assert_eq!(m.to_string(), "00:1a:2b:3c:4d:5e");
        assert_eq!("00-1a-2b-3c-4d-5e".parse::<MacAddr>().unwrap(), m);
        for bad in ["", "00:1a:2b:3c:4d", "00:1a:2b:3c:4d:5e:6f", "00:1a:2b:3c:4d:5g", "001:1a:2b:3c:4d:5e", "00:1a-2b:3c:4d:5e"] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr([1, 0, 0x5e, 0, 0, 1]).is_multicast() && !m.is_multicast());
        assert!(MacAddr::default().is_zero() && !m.is_zero());
    }

    #[test]
    fn codes_round_trip() {
        for v in 0..=255u8 {
            if let Some(c) = Code::from_u8(v) {
                assert_eq!(c.to_u8(), v);
            }
        }
        assert_eq!(Code::from_u8(0x65), Some(Code::Pads));
        assert_eq!(Code::from_u8(0x66), None);
    }

    #[test]
    fn never_panics_on_prefixes() {
        let mut d = Discovery::new(Code::Pado, 0);
        d.push(tag::AC_NAME, b"ac").push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, &[1; 20]);
        let bytes = d.emit();
        for n in 0..bytes.len() {
            let _ = Discovery::parse(&bytes[..n]);
            let _ = parse_session(&bytes[..n]);
            let _ = parse_eth(&bytes[..n]);
        }
        assert_eq!(Discovery::parse(&bytes).unwrap(), d);
    }
}
