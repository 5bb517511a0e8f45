//! AVP framing and the AVP registry.
//!
//! Every AVP starts with a 6-octet header (RFC 2661 §4.1, RFC 3931 §5.1):
//!
//! ```text
//!  |M|H| rsvd  |      Length       |           Vendor ID           |
//!  |         Attribute Type        |        Attribute Value ...
//! ```
//!
//! Length (10 bits) counts the whole AVP, header included, so it is 6..=1023.
//! [`AvpIter`] walks an encoded AVP list without copying; [`write_avp`] emits
//! one AVP. [`AVP_TABLE`] is the single declaration of every IETF AVP this
//! suite knows (RFC 2661 §4.4 types 0–39, RFC 3931 §5.4 types 58–75): its RFC
//! name, the M bit we send, whether it may be hidden, its value shape and the
//! versions it belongs to.

use std::fmt;

/// M (mandatory) bit in the first 16 bits of an AVP.
const AVP_M: u16 = 0x8000;
/// H (hidden) bit.
const AVP_H: u16 = 0x4000;
/// The four reserved bits.
const AVP_RSVD: u16 = 0x3c00;
/// The 10-bit Length field.
const AVP_LEN: u16 = 0x03ff;
/// Octets in an AVP header.
pub const AVP_HEADER_LEN: usize = 6;
/// Largest value an AVP can carry, octets (1023 − 6).
pub const AVP_MAX_VALUE_LEN: usize = 1017;

/// Attribute types with their RFC names (RFC 2661 §4.4, RFC 3931 §5.4; vendor id 0).
pub mod attr {
    /// Message Type (RFC 2661 §4.4.1).
    pub const MESSAGE_TYPE: u16 = 0;
    /// Result Code (RFC 2661 §4.4.2).
    pub const RESULT_CODE: u16 = 1;
    /// Protocol Version (RFC 2661 §4.4.3).
    pub const PROTOCOL_VERSION: u16 = 2;
    /// Framing Capabilities (RFC 2661 §4.4.3).
    pub const FRAMING_CAPABILITIES: u16 = 3;
    /// Bearer Capabilities (RFC 2661 §4.4.3).
    pub const BEARER_CAPABILITIES: u16 = 4;
    /// Tie Breaker (RFC 2661 §4.4.3).
    pub const TIE_BREAKER: u16 = 5;
    /// Firmware Revision (RFC 2661 §4.4.3).
    pub const FIRMWARE_REVISION: u16 = 6;
    /// Host Name (RFC 2661 §4.4.3).
    pub const HOST_NAME: u16 = 7;
    /// Vendor Name (RFC 2661 §4.4.3).
    pub const VENDOR_NAME: u16 = 8;
    /// Assigned Tunnel ID (RFC 2661 §4.4.3).
    pub const ASSIGNED_TUNNEL_ID: u16 = 9;
    /// Receive Window Size (RFC 2661 §4.4.3).
    pub const RECEIVE_WINDOW_SIZE: u16 = 10;
    /// Challenge (RFC 2661 §4.4.3).
    pub const CHALLENGE: u16 = 11;
    /// Q.931 Cause Code (RFC 2661 §4.4.2).
    pub const Q931_CAUSE_CODE: u16 = 12;
    /// Challenge Response (RFC 2661 §4.4.3).
    pub const CHALLENGE_RESPONSE: u16 = 13;
    /// Assigned Session ID (RFC 2661 §4.4.4).
    pub const ASSIGNED_SESSION_ID: u16 = 14;
    /// Call Serial Number (RFC 2661 §4.4.4).
    pub const CALL_SERIAL_NUMBER: u16 = 15;
    /// Minimum BPS (RFC 2661 §4.4.4).
    pub const MINIMUM_BPS: u16 = 16;
    /// Maximum BPS (RFC 2661 §4.4.4).
    pub const MAXIMUM_BPS: u16 = 17;
    /// Bearer Type (RFC 2661 §4.4.4).
    pub const BEARER_TYPE: u16 = 18;
    /// Framing Type (RFC 2661 §4.4.4).
    pub const FRAMING_TYPE: u16 = 19;
    /// Called Number (RFC 2661 §4.4.4).
    pub const CALLED_NUMBER: u16 = 21;
    /// Calling Number (RFC 2661 §4.4.4).
    pub const CALLING_NUMBER: u16 = 22;
    /// Sub-Address (RFC 2661 §4.4.4).
    pub const SUB_ADDRESS: u16 = 23;
    /// (Tx) Connect Speed (RFC 2661 §4.4.5).
    pub const TX_CONNECT_SPEED: u16 = 24;
    /// Physical Channel ID (RFC 2661 §4.4.4).
    pub const PHYSICAL_CHANNEL_ID: u16 = 25;
    /// Initial Received LCP CONFREQ (RFC 2661 §4.4.5).
    pub const INITIAL_RECEIVED_LCP_CONFREQ: u16 = 26;
    /// Last Sent LCP CONFREQ (RFC 2661 §4.4.5).
    pub const LAST_SENT_LCP_CONFREQ: u16 = 27;
    /// Last Received LCP CONFREQ (RFC 2661 §4.4.5).
    pub const LAST_RECEIVED_LCP_CONFREQ: u16 = 28;
    /// Proxy Authen Type (RFC 2661 §4.4.5).
    pub const PROXY_AUTHEN_TYPE: u16 = 29;
    /// Proxy Authen Name (RFC 2661 §4.4.5).
    pub const PROXY_AUTHEN_NAME: u16 = 30;
    /// Proxy Authen Challenge (RFC 2661 §4.4.5).
    pub const PROXY_AUTHEN_CHALLENGE: u16 = 31;
    /// Proxy Authen ID (RFC 2661 §4.4.5).
    pub const PROXY_AUTHEN_ID: u16 = 32;
    /// Proxy Authen Response (RFC 2661 §4.4.5).
    pub const PROXY_AUTHEN_RESPONSE: u16 = 33;
    /// Call Errors (RFC 2661 §4.4.6).
    pub const CALL_ERRORS: u16 = 34;
    /// ACCM (RFC 2661 §4.4.6).
    pub const ACCM: u16 = 35;
    /// Random Vector (RFC 2661 §4.4.3).
    pub const RANDOM_VECTOR: u16 = 36;
    /// Private Group ID (RFC 2661 §4.4.5).
    pub const PRIVATE_GROUP_ID: u16 = 37;
    /// Rx Connect Speed (RFC 2661 §4.4.5).
    pub const RX_CONNECT_SPEED: u16 = 38;
    /// Sequencing Required (RFC 2661 §4.4.5).
    pub const SEQUENCING_REQUIRED: u16 = 39;
    /// Extended Vendor ID (RFC 3931 §5.4.1).
    pub const EXTENDED_VENDOR_ID: u16 = 58;
    /// Message Digest (RFC 3931 §5.4.1).
    pub const MESSAGE_DIGEST: u16 = 59;
    /// Router ID (RFC 3931 §5.4.3).
    pub const ROUTER_ID: u16 = 60;
    /// Assigned Control Connection ID (RFC 3931 §5.4.3).
    pub const ASSIGNED_CONTROL_CONNECTION_ID: u16 = 61;
    /// Pseudowire Capabilities List (RFC 3931 §5.4.3).
    pub const PSEUDOWIRE_CAPABILITIES_LIST: u16 = 62;
    /// Local Session ID (RFC 3931 §5.4.4).
    pub const LOCAL_SESSION_ID: u16 = 63;
    /// Remote Session ID (RFC 3931 §5.4.4).
    pub const REMOTE_SESSION_ID: u16 = 64;
    /// Assigned Cookie (RFC 3931 §5.4.4).
    pub const ASSIGNED_COOKIE: u16 = 65;
    /// Remote End ID (RFC 3931 §5.4.4).
    pub const REMOTE_END_ID: u16 = 66;
    /// Pseudowire Type (RFC 3931 §5.4.4).
    pub const PSEUDOWIRE_TYPE: u16 = 68;
    /// L2-Specific Sublayer (RFC 3931 §5.4.4).
    pub const L2_SPECIFIC_SUBLAYER: u16 = 69;
    /// Data Sequencing (RFC 3931 §5.4.4).
    pub const DATA_SEQUENCING: u16 = 70;
    /// Circuit Status (RFC 3931 §5.4.5).
    pub const CIRCUIT_STATUS: u16 = 71;
    /// Preferred Language (RFC 3931 §5.4.3).
    pub const PREFERRED_LANGUAGE: u16 = 72;
    /// Control Message Authentication Nonce (RFC 3931 §5.4.3).
    pub const CONTROL_MESSAGE_AUTH_NONCE: u16 = 73;
    /// Tx Connect Speed, 64-bit (RFC 3931 §5.4.4).
    pub const TX_CONNECT_SPEED_V3: u16 = 74;
    /// Rx Connect Speed, 64-bit (RFC 3931 §5.4.4).
    pub const RX_CONNECT_SPEED_V3: u16 = 75;
}

/// The M bit this implementation sends for an AVP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MPolicy {
    /// Always send with M = 1.
    Always,
    /// Always send with M = 0.
    Never,
}

/// The shape of an AVP value; lengths are checked against it when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueShape {
    /// No value (0 octets).
    Empty,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit unsigned integer.
    U64,
    /// Exactly this many octets.
    Fixed(usize),
    /// Opaque octets of any length (including 0).
    Bytes,
    /// Text (not necessarily NUL-terminated, not checked for UTF-8), non-empty.
    String,
    /// A structured value with its own rules (Result Code, Q.931, lists...).
    Composite,
}

/// Which protocol versions an AVP is defined for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSet {
    /// L2TPv2 only (RFC 2661).
    V2,
    /// L2TPv3 only (RFC 3931).
    V3,
    /// Both.
    Both,
}

/// One row of the AVP registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpSpec {
    /// IETF attribute type (vendor id 0).
    pub attr_type: u16,
    /// The RFC name, e.g. "Assigned Tunnel ID".
    pub name: &'static str,
    /// The M bit we send.
    pub mandatory: MPolicy,
    /// Whether the RFC allows the H bit on it (RFC 2661 §4.3).
    pub may_hide: bool,
    /// The value shape.
    pub shape: ValueShape,
    /// The versions that define it.
    pub versions: VersionSet,
}

/// Shorthand constructor for table rows.
const fn row(attr_type: u16, name: &'static str, mandatory: MPolicy, may_hide: bool, shape: ValueShape, versions: VersionSet) -> AvpSpec {
    AvpSpec { attr_type, name, mandatory, may_hide, shape, versions }
}

use MPolicy::{Always as M1, Never as M0};
use ValueShape::{Bytes, Composite, Empty, Fixed, String as Str, U16, U32, U64};
use VersionSet::{Both, V2 as OnlyV2, V3 as OnlyV3};

/// The registry of IETF AVPs, sorted by attribute type (RFC 2661 §4.4,
/// RFC 3931 §5.4). The M-bit and hiding columns follow the per-AVP text of the
/// RFCs.
pub static AVP_TABLE: &[AvpSpec] = &[
    row(attr::MESSAGE_TYPE, "Message Type", M1, false, U16, Both),
    row(attr::RESULT_CODE, "Result Code", M1, false, Composite, Both),
    row(attr::PROTOCOL_VERSION, "Protocol Version", M1, false, Fixed(2), OnlyV2),
    row(attr::FRAMING_CAPABILITIES, "Framing Capabilities", M1, true, U32, OnlyV2),
    row(attr::BEARER_CAPABILITIES, "Bearer Capabilities", M1, true, U32, OnlyV2),
    row(attr::TIE_BREAKER, "Tie Breaker", M0, false, Fixed(8), Both),
    row(attr::FIRMWARE_REVISION, "Firmware Revision", M0, true, U16, Both),
    row(attr::HOST_NAME, "Host Name", M1, false, Str, Both),
    row(attr::VENDOR_NAME, "Vendor Name", M0, true, Bytes, Both),
    row(attr::ASSIGNED_TUNNEL_ID, "Assigned Tunnel ID", M1, true, U16, OnlyV2),
    row(attr::RECEIVE_WINDOW_SIZE, "Receive Window Size", M1, false, U16, Both),
    row(attr::CHALLENGE, "Challenge", M1, true, Bytes, OnlyV2),
    row(attr::Q931_CAUSE_CODE, "Q.931 Cause Code", M1, false, Composite, Both),
    row(attr::CHALLENGE_RESPONSE, "Challenge Response", M1, true, Fixed(16), OnlyV2),
    row(attr::ASSIGNED_SESSION_ID, "Assigned Session ID", M1, true, U16, OnlyV2),
    row(attr::CALL_SERIAL_NUMBER, "Call Serial Number", M1, true, U32, Both),
    row(attr::MINIMUM_BPS, "Minimum BPS", M1, true, U32, OnlyV2),
    row(attr::MAXIMUM_BPS, "Maximum BPS", M1, true, U32, OnlyV2),
    row(attr::BEARER_TYPE, "Bearer Type", M1, true, U32, OnlyV2),
    row(attr::FRAMING_TYPE, "Framing Type", M1, true, U32, OnlyV2),
    row(attr::CALLED_NUMBER, "Called Number", M1, true, Bytes, OnlyV2),
    row(attr::CALLING_NUMBER, "Calling Number", M1, true, Bytes, OnlyV2),
    row(attr::SUB_ADDRESS, "Sub-Address", M1, true, Bytes, OnlyV2),
    row(attr::TX_CONNECT_SPEED, "(Tx) Connect Speed", M1, true, U32, OnlyV2),
    row(attr::PHYSICAL_CHANNEL_ID, "Physical Channel ID", M0, true, U32, Both),
    row(attr::INITIAL_RECEIVED_LCP_CONFREQ, "Initial Received LCP CONFREQ", M0, true, Bytes, OnlyV2),
    row(attr::LAST_SENT_LCP_CONFREQ, "Last Sent LCP CONFREQ", M0, true, Bytes, OnlyV2),
    row(attr::LAST_RECEIVED_LCP_CONFREQ, "Last Received LCP CONFREQ", M0, true, Bytes, OnlyV2),
    row(attr::PROXY_AUTHEN_TYPE, "Proxy Authen Type", M0, true, U16, OnlyV2),
    row(attr::PROXY_AUTHEN_NAME, "Proxy Authen Name", M0, true, Bytes, OnlyV2),
    row(attr::PROXY_AUTHEN_CHALLENGE, "Proxy Authen Challenge", M0, true, Bytes, OnlyV2),
    row(attr::PROXY_AUTHEN_ID, "Proxy Authen ID", M0, true, U16, OnlyV2),
    row(attr::PROXY_AUTHEN_RESPONSE, "Proxy Authen Response", M0, true, Bytes, OnlyV2),
    row(attr::CALL_ERRORS, "Call Errors", M1, true, Fixed(26), OnlyV2),
    row(attr::ACCM, "ACCM", M1, true, Fixed(10), OnlyV2),
    row(attr::RANDOM_VECTOR, "Random Vector", M1, false, Bytes, Both),
    row(attr::PRIVATE_GROUP_ID, "Private Group ID", M0, true, Bytes, OnlyV2),
    row(attr::RX_CONNECT_SPEED, "Rx Connect Speed", M0, true, U32, OnlyV2),
    row(attr::SEQUENCING_REQUIRED, "Sequencing Required", M1, false, Empty, OnlyV2),
    row(attr::EXTENDED_VENDOR_ID, "Extended Vendor ID", M0, false, U32, OnlyV3),
    row(attr::MESSAGE_DIGEST, "Message Digest", M1, false, Composite, OnlyV3),
    row(attr::ROUTER_ID, "Router ID", M1, false, U32, OnlyV3),
    row(attr::ASSIGNED_CONTROL_CONNECTION_ID, "Assigned Control Connection ID", M1, true, U32, OnlyV3),
    row(attr::PSEUDOWIRE_CAPABILITIES_LIST, "Pseudowire Capabilities List", M1, false, Composite, OnlyV3),
    row(attr::LOCAL_SESSION_ID, "Local Session ID", M1, false, U32, OnlyV3),
    row(attr::REMOTE_SESSION_ID, "Remote Session ID", M1, false, U32, OnlyV3),
    row(attr::ASSIGNED_COOKIE, "Assigned Cookie", M1, true, Composite, OnlyV3),
    row(attr::REMOTE_END_ID, "Remote End ID", M1, false, Bytes, OnlyV3),
    row(attr::PSEUDOWIRE_TYPE, "Pseudowire Type", M1, false, U16, OnlyV3),
    row(attr::L2_SPECIFIC_SUBLAYER, "L2-Specific Sublayer", M1, false, U16, OnlyV3),
    row(attr::DATA_SEQUENCING, "Data Sequencing", M1, false, U16, OnlyV3),
    row(attr::CIRCUIT_STATUS, "Circuit Status", M1, false, U16, OnlyV3),
    row(attr::PREFERRED_LANGUAGE, "Preferred Language", M0, false, Bytes, OnlyV3),
    row(attr::CONTROL_MESSAGE_AUTH_NONCE, "Control Message Authentication Nonce", M1, false, Bytes, OnlyV3),
    row(attr::TX_CONNECT_SPEED_V3, "Tx Connect Speed", M0, true, U64, OnlyV3),
    row(attr::RX_CONNECT_SPEED_V3, "Rx Connect Speed", M0, true, U64, OnlyV3),
];

/// The registry row of an IETF attribute type, if known.
pub fn avp_spec(attr_type: u16) -> Option<&'static AvpSpec> {
    AVP_TABLE.binary_search_by_key(&attr_type, |s| s.attr_type).ok().and_then(|i| AVP_TABLE.get(i))
}

/// The RFC name of an IETF attribute type, or "unknown".
pub fn avp_name(attr_type: u16) -> &'static str {
    avp_spec(attr_type).map_or("unknown", |s| s.name)
}

/// One AVP as found on the wire, borrowing the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAvp<'a> {
    /// M bit.
    pub mandatory: bool,
    /// H bit: `value` is hidden (RFC 2661 §4.3).
    pub hidden: bool,
    /// Any of the four reserved bits was set; RFC 2661 §4.1 says to treat
    /// such an AVP as unrecognized.
    pub reserved_bits: bool,
    /// Vendor ID (0 = IETF).
    pub vendor_id: u16,
    /// Attribute Type.
    pub attr_type: u16,
    /// The value (still hidden if `hidden`).
    pub value: &'a [u8],
}

/// Malformed AVP framing: the whole message is dropped (RFC 2661 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AvpError {
    /// Fewer than 6 octets left for an AVP header.
    Truncated {
        /// Octet offset of the AVP in the list.
        offset: usize,
    },
    /// Length field below 6 or beyond the end of the message.
    BadLength {
        /// Octet offset of the AVP in the list.
        offset: usize,
        /// The Length field.
        length: u16,
    },
}

impl fmt::Display for AvpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AvpError::Truncated { offset } => write!(f, "truncated AVP header at offset {offset}"),
            AvpError::BadLength { offset, length } => {
                write!(f, "bad AVP length {length} at offset {offset}")
            }
        }
    }
}

impl std::error::Error for AvpError {}

/// Iterator over the AVPs of a control message payload.
///
/// Yields `Err` once for malformed framing and then stops.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> AvpIter<'a> {
    /// Iterates over `avps`, the octets after the control header.
    pub fn new(avps: &'a [u8]) -> Self {
        AvpIter { buf: avps, offset: 0, failed: false }
    }

    /// Octet offset of the next AVP in the list.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Parses the AVP at the current offset.
    fn parse_one(&self) -> Result<(RawAvp<'a>, usize), AvpError> {
        let offset = self.offset;
        let rest = self.buf.get(offset..).unwrap_or(&[]);
        let hdr = match rest.get(..AVP_HEADER_LEN) {
            Some(&[a, b, c, d, e, f]) => [a, b, c, d, e, f],
            _ => return Err(AvpError::Truncated { offset }),
        };
        let flags = u16::from_be_bytes([hdr[0], hdr[1]]);
        let length = flags & AVP_LEN;
        let len = usize::from(length);
        if len < AVP_HEADER_LEN || len > rest.len() {
            return Err(AvpError::BadLength { offset, length });
        }
        let value = rest.get(AVP_HEADER_LEN..len).ok_or(AvpError::BadLength { offset, length })?;
        let avp = RawAvp {
            mandatory: flags & AVP_M != 0,
            hidden: flags & AVP_H != 0,
            reserved_bits: flags & AVP_RSVD != 0,
            vendor_id: u16::from_be_bytes([hdr[2], hdr[3]]),
            attr_type: u16::from_be_bytes([hdr[4], hdr[5]]),
            value,
        };
        Ok((avp, len))
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<RawAvp<'a>, AvpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.buf.len() {
            return None;
        }
        match self.parse_one() {
            Ok((avp, len)) => {
                self.offset = self.offset.saturating_add(len);
                Some(Ok(avp))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Appends one AVP (header + value) to `out` (RFC 2661 §4.1).
///
/// `value` must be at most [`AVP_MAX_VALUE_LEN`] (1017) octets; a longer
/// value is a caller bug and is truncated to that length so the Length field
/// stays consistent.
pub fn write_avp(out: &mut Vec<u8>, mandatory: bool, hidden: bool, vendor_id: u16, attr_type: u16, value: &[u8]) {
    let value = value.get(..AVP_MAX_VALUE_LEN).unwrap_or(value);
    // value.len() <= 1017, so the length fits the 10-bit field.
    let mut flags = (value.len() + AVP_HEADER_LEN) as u16 & AVP_LEN;
    if mandatory {
        flags |= AVP_M;
    }
    if hidden {
        flags |= AVP_H;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&vendor_id.to_be_bytes());
    out.extend_from_slice(&attr_type.to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_unique_and_complete() {
        assert!(AVP_TABLE.windows(2).all(|w| w[0].attr_type < w[1].attr_type));
        for t in (0u16..=39).filter(|&t| t != 20) {
            assert!(avp_spec(t).is_some(), "missing type {t}");
        }
        for t in (58u16..=75).filter(|&t| t != 67) {
            assert!(avp_spec(t).is_some(), "missing type {t}");
        }
        assert_eq!(avp_name(attr::ASSIGNED_TUNNEL_ID), "Assigned Tunnel ID");
        assert!(avp_spec(20).is_none());
    }

    #[test]
    fn write_then_iterate() {
        let mut out = Vec::new();
        write_avp(&mut out, true, false, 0, attr::MESSAGE_TYPE, &[0, 1]);
        write_avp(&mut out, false, true, 9, 300, b"xyz");
        assert_eq!(&out[..8], &[0x80, 0x08, 0, 0, 0, 0, 0, 1]);
        let avps: Vec<_> = AvpIter::new(&out).collect();
        assert_eq!(avps.len(), 2);
        assert_eq!(avps[1], Ok(RawAvp { mandatory: false, hidden: true, reserved_bits: false, vendor_id: 9, attr_type: 300, value: b"xyz" }));
    }

    #[test]
    fn framing_errors() {
        // Length 5 (< 6).
        let bad = [0x80, 0x05, 0, 0, 0, 0];
        assert_eq!(AvpIter::new(&bad).collect::<Vec<_>>(), vec![Err(AvpError::BadLength { offset: 0, length: 5 })]);
        // Length overruns.
        let bad = [0x80, 0x09, 0, 0, 0, 0, 1];
        assert_eq!(AvpIter::new(&bad).collect::<Vec<_>>(), vec![Err(AvpError::BadLength { offset: 0, length: 9 })]);
        // Trailing partial header.
        let bad = [0x80, 0x06, 0, 0, 0, 0, 0x80];
        let v: Vec<_> = AvpIter::new(&bad).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], Err(AvpError::Truncated { offset: 6 }));
        // Reserved bits reported.
        let r = [0x84, 0x06, 0, 0, 0, 7];
        assert!(matches!(AvpIter::new(&r).next(), Some(Ok(a)) if a.reserved_bits && a.mandatory));
    }
}
