//! PPP frames as carried on PPPoL2TP and PPPoE channels, and the packet
//! format shared by LCP, IPCP, IPv6CP, PAP and CHAP.
//!
//! A channel frame has no HDLC flags, escaping or FCS (RFC 2661 §5.1,
//! RFC 2516 §7): only the optional Address/Control octets `FF 03`
//! (RFC 1662 §3, absent when Address-and-Control-Field-Compression is in
//! use), a Protocol field of one or two octets (RFC 1661 §2, one octet when
//! Protocol-Field-Compression is in use) and the payload.
//!
//! Control packets (RFC 1661 §5) are Code, Identifier, Length and Data;
//! configuration options (RFC 1661 §6) are Type, Length, Data.
//!
//! Everything here is parse-or-emit only: decoders return a typed error for
//! any malformed input and never panic; nothing here touches session state.

use std::fmt;

/// PPP Protocol field values used by the suite (RFC 1661 §2, IANA "PPP DLL
/// Protocol Numbers").
pub mod protocol {
    /// Internet Protocol version 4 (RFC 1332).
    pub const IP: u16 = 0x0021;
    /// Internet Protocol version 6 (RFC 5072).
    pub const IPV6: u16 = 0x0057;
    /// IP Control Protocol (RFC 1332).
    pub const IPCP: u16 = 0x8021;
    /// IPv6 Control Protocol (RFC 5072).
    pub const IPV6CP: u16 = 0x8057;
    /// Compression Control Protocol (RFC 1962); not implemented, it gets a
    /// Protocol-Reject.
    pub const CCP: u16 = 0x80FD;
    /// Link Control Protocol (RFC 1661).
    pub const LCP: u16 = 0xC021;
    /// Password Authentication Protocol (RFC 1334).
    pub const PAP: u16 = 0xC023;
    /// Challenge Handshake Authentication Protocol (RFC 1994).
    pub const CHAP: u16 = 0xC223;

    /// A protocol's name for logs, `None` when the suite does not know it.
    pub fn name(protocol: u16) -> Option<&'static str> {
        super::PROTOCOL_NAMES.iter().find(|(p, _)| *p == protocol).map(|(_, n)| *n)
    }
}

/// The registry of protocol names, declared once (STYLE.md rule 2).
const PROTOCOL_NAMES: &[(u16, &str)] = &[
    (protocol::IP, "IP"),
    (protocol::IPV6, "IPv6"),
    (protocol::IPCP, "IPCP"),
    (protocol::IPV6CP, "IPv6CP"),
    (protocol::CCP, "CCP"),
    (protocol::LCP, "LCP"),
    (protocol::PAP, "PAP"),
    (protocol::CHAP, "CHAP"),
];

/// The Address and Control octets of RFC 1662 §3.
pub const ADDRESS_CONTROL: [u8; 2] = [0xFF, 0x03];

/// Why a frame, packet or option list did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The frame ends before the Protocol field is complete.
    Truncated,
    /// The Protocol field breaks RFC 1661 §2 (the low octet must be odd and
    /// the high octet even); carries the octets seen.
    BadProtocol(u16),
    /// A control packet shorter than its 4-octet header.
    ShortPacket,
    /// A control packet's Length field is below 4 or above the octets
    /// received (RFC 1661 §5: such packets are silently discarded).
    BadLength {
        /// The Length field.
        length: u16,
        /// Octets available.
        available: usize,
    },
    /// An option whose Length is below 2 (RFC 1661 §6).
    OptionTooShort {
        /// The option's Type.
        kind: u8,
    },
    /// An option whose Length runs past the end of the list.
    OptionOverrun {
        /// The option's Type.
        kind: u8,
    },
    /// A list ends with a single octet (a Type without Length).
    OptionTruncated,
    /// Emit only: data too long for a Length field (option data over 253
    /// octets, packet data over 65,531 octets).
    TooLong,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated => write!(f, "frame truncated"),
            FrameError::BadProtocol(p) => write!(f, "bad protocol field 0x{p:04x}"),
            FrameError::ShortPacket => write!(f, "control packet shorter than 4 octets"),
            FrameError::BadLength { length, available } => write!(f, "bad length {length} ({available} octets available)"),
            FrameError::OptionTooShort { kind } => write!(f, "option {kind} length below 2"),
            FrameError::OptionOverrun { kind } => write!(f, "option {kind} overruns the packet"),
            FrameError::OptionTruncated => write!(f, "option list truncated"),
            FrameError::TooLong => write!(f, "data too long for the length field"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One decoded channel frame: the Protocol field and a view of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The Protocol field, expanded to 16 bits.
    pub protocol: u16,
    /// The Information field (and any padding), borrowed from the input.
    pub payload: &'a [u8],
    /// Whether the frame carried the `FF 03` Address/Control octets.
    pub address_control: bool,
    /// Whether the Protocol field was compressed to one octet.
    pub protocol_compressed: bool,
}

/// Header compression to use when emitting frames: what the peer agreed to
/// receive in LCP (RFC 1661 §6.5, §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compression {
    /// Protocol-Field-Compression: one-octet Protocol field for values
    /// below 0x100.
    pub pfc: bool,
    /// Address-and-Control-Field-Compression: omit `FF 03`.
    pub acfc: bool,
}

impl<'a> Frame<'a> {
    /// Decodes a channel frame (RFC 1662 §3, RFC 1661 §2). Accepts `FF 03`
    /// present or absent, and a one- or two-octet Protocol field, whatever
    /// was negotiated, as RFC 1661 §6.5/§6.6 recommend.
    ///
    /// Errors: [`FrameError::Truncated`], [`FrameError::BadProtocol`].
    pub fn decode(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let (address_control, rest) = match bytes {
            [0xFF, 0x03, rest @ ..] => (true, rest),
            _ => (false, bytes),
        };
        match rest {
            [first, payload @ ..] if first & 1 == 1 => Ok(Frame { protocol: u16::from(*first), payload, address_control, protocol_compressed: true }),
            [hi, lo, payload @ ..] => {
                let protocol = u16::from_be_bytes([*hi, *lo]);
                if lo & 1 == 0 {
                    return Err(FrameError::BadProtocol(protocol));
                }
                Ok(Frame { protocol, payload, address_control, protocol_compressed: false })
            }
            _ => Err(FrameError::Truncated),
        }
    }

    /// Appends a frame for `protocol` carrying `payload` to `out`, using the
    /// compression the peer agreed to. LCP frames always carry the full
    /// header (RFC 1661 §6.5, §6.6: compression never applies to LCP).
    pub fn encode(protocol: u16, payload: &[u8], compression: Compression, out: &mut Vec<u8>) {
        let lcp = protocol == protocol::LCP;
        if !compression.acfc || lcp {
            out.extend_from_slice(&ADDRESS_CONTROL);
        }
        match u8::try_from(protocol) {
            Ok(short) if compression.pfc && !lcp => out.push(short),
            _ => out.extend_from_slice(&protocol.to_be_bytes()),
        }
        out.extend_from_slice(payload);
    }
}

/// Control packet codes (RFC 1661 §5, and their use by IPCP/IPv6CP:
/// RFC 1332 §2 and RFC 5072 §3 allow codes 1–7 only).
pub mod code {
    /// Configure-Request (RFC 1661 §5.1).
    pub const CONF_REQ: u8 = 1;
    /// Configure-Ack (RFC 1661 §5.2).
    pub const CONF_ACK: u8 = 2;
    /// Configure-Nak (RFC 1661 §5.3).
    pub const CONF_NAK: u8 = 3;
    /// Configure-Reject (RFC 1661 §5.4).
    pub const CONF_REJ: u8 = 4;
    /// Terminate-Request (RFC 1661 §5.5).
    pub const TERM_REQ: u8 = 5;
    /// Terminate-Ack (RFC 1661 §5.5).
    pub const TERM_ACK: u8 = 6;
    /// Code-Reject (RFC 1661 §5.6).
    pub const CODE_REJ: u8 = 7;
    /// Protocol-Reject, LCP only (RFC 1661 §5.7).
    pub const PROTO_REJ: u8 = 8;
    /// Echo-Request, LCP only (RFC 1661 §5.8).
    pub const ECHO_REQ: u8 = 9;
    /// Echo-Reply, LCP only (RFC 1661 §5.8).
    pub const ECHO_REPLY: u8 = 10;
    /// Discard-Request, LCP only (RFC 1661 §5.9).
    pub const DISCARD_REQ: u8 = 11;

    /// The RFC name of a code, `None` when unknown.
    pub fn name(code: u8) -> Option<&'static str> {
        const NAMES: [&str; 11] = [
            "Configure-Request",
            "Configure-Ack",
            "Configure-Nak",
            "Configure-Reject",
            "Terminate-Request",
            "Terminate-Ack",
            "Code-Reject",
            "Protocol-Reject",
            "Echo-Request",
            "Echo-Reply",
            "Discard-Request",
        ];
        NAMES.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// A control packet (RFC 1661 §5): Code, Identifier and Data. The Length
/// field is computed on emit and checked on parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The Code field (see [`code`]).
    pub code: u8,
    /// The Identifier field, matching requests and replies.
    pub identifier: u8,
    /// The Data field, without any padding that followed Length.
    pub data: Vec<u8>,
}

impl Packet {
    /// Builds a packet.
    pub fn new(code: u8, identifier: u8, data: Vec<u8>) -> Packet {
        Packet { code, identifier, data }
    }

    /// Parses a control packet from a frame's payload. Octets after Length
    /// are padding and ignored (RFC 1661 §5).
    ///
    /// Errors: [`FrameError::ShortPacket`] under 4 octets,
    /// [`FrameError::BadLength`] when Length < 4 or Length exceeds the input.
    pub fn parse(bytes: &[u8]) -> Result<Packet, FrameError> {
        let [code, identifier, hi, lo, ..] = *bytes else {
            return Err(FrameError::ShortPacket);
        };
        let length = u16::from_be_bytes([hi, lo]);
        let bad = FrameError::BadLength { length, available: bytes.len() };
        if length < 4 {
            return Err(bad);
        }
        let data = bytes.get(4..usize::from(length)).ok_or(bad)?;
        Ok(Packet { code, identifier, data: data.to_vec() })
    }

    /// Appends the packet (header and data) to `out`.
    ///
    /// Errors: [`FrameError::TooLong`] when data exceeds 65,531 octets.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let length = u16::try_from(self.data.len().saturating_add(4)).map_err(|_| FrameError::TooLong)?;
        out.extend_from_slice(&[self.code, self.identifier]);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&self.data);
        Ok(())
    }

    /// The packet as bytes (header and data).
    ///
    /// Errors: as [`Packet::emit`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(self.data.len().saturating_add(4));
        self.emit(&mut out)?;
        Ok(out)
    }
}

/// One configuration option (RFC 1661 §6): Type and Data (Length is
/// computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfOption {
    /// The Type field.
    pub kind: u8,
    /// The Data field (Length − 2 octets).
    pub data: Vec<u8>,
}

impl ConfOption {
    /// Builds an option.
    pub fn new(kind: u8, data: Vec<u8>) -> ConfOption {
        ConfOption { kind, data }
    }

    /// The data as a big-endian u16 when it is exactly 2 octets.
    pub fn as_u16(&self) -> Option<u16> {
        let [a, b] = *self.data.as_slice() else { return None };
        Some(u16::from_be_bytes([a, b]))
    }

    /// The data as a big-endian u32 when it is exactly 4 octets.
    pub fn as_u32(&self) -> Option<u32> {
        let [a, b, c, d] = *self.data.as_slice() else { return None };
        Some(u32::from_be_bytes([a, b, c, d]))
    }

    /// Parses a Configure-* Data field into its options (RFC 1661 §6).
    ///
    /// Errors: [`FrameError::OptionTooShort`], [`FrameError::OptionOverrun`],
    /// [`FrameError::OptionTruncated`].
    pub fn parse_list(mut bytes: &[u8]) -> Result<Vec<ConfOption>, FrameError> {
        let mut options = Vec::new();
        while !bytes.is_empty() {
            let [kind, length, ..] = *bytes else {
                return Err(FrameError::OptionTruncated);
            };
            if length < 2 {
                return Err(FrameError::OptionTooShort { kind });
            }
            let data = bytes.get(2..usize::from(length)).ok_or(FrameError::OptionOverrun { kind })?;
            options.push(ConfOption { kind, data: data.to_vec() });
            bytes = bytes.get(usize::from(length)..).unwrap_or_default();
        }
        Ok(options)
    }

    /// Appends options to `out` in order.
    ///
    /// Errors: [`FrameError::TooLong`] when an option's data exceeds 253
    /// octets.
    pub fn emit_list(options: &[ConfOption], out: &mut Vec<u8>) -> Result<(), FrameError> {
        for option in options {
            let length = u8::try_from(option.data.len().saturating_add(2)).map_err(|_| FrameError::TooLong)?;
            out.extend_from_slice(&[option.kind, length]);
            out.extend_from_slice(&option.data);
        }
        Ok(())
    }

    /// The encoded list as bytes.
    ///
    /// Errors: as [`ConfOption::emit_list`].
    pub fn list_to_bytes(options: &[ConfOption]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        ConfOption::emit_list(options, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_decodes_all_header_forms() {
        let full = Frame::decode(&[0xFF, 0x03, 0xC0, 0x21, 1, 2]).unwrap();
        assert_eq!((full.protocol, full.payload, full.address_control, full.protocol_compressed), (protocol::LCP, &[1u8, 2][..], true, false));
        let bare = Frame::decode(&[0x80, 0x21, 9]).unwrap();
        assert_eq!((bare.protocol, bare.payload, bare.address_control), (protocol::IPCP, &[9u8][..], false));
        let pfc = Frame::decode(&[0x21, 0x45]).unwrap();
        assert_eq!((pfc.protocol, pfc.payload, pfc.protocol_compressed), (protocol::IP, &[0x45u8][..], true));
        let both = Frame::decode(&[0xFF, 0x03, 0x57]).unwrap();
        assert_eq!((both.protocol, both.payload.len()), (protocol::IPV6, 0));
    }

    #[test]
    fn frame_decode_errors() {
        assert_eq!(Frame::decode(&[]), Err(FrameError::Truncated));
        assert_eq!(Frame::decode(&[0xFF, 0x03]), Err(FrameError::Truncated));
        assert_eq!(Frame::decode(&[0xC0]), Err(FrameError::Truncated));
        assert_eq!(Frame::decode(&[0xC0, 0x20]), Err(FrameError::BadProtocol(0xC020)));
    }

    #[test]
    fn frame_encode_respects_compression_but_never_for_lcp() {
        let mut out = Vec::new();
        Frame::encode(protocol::IP, &[0x45], Compression { pfc: true, acfc: true }, &mut out);
        assert_eq!(out, [0x21, 0x45]);
        out.clear();
        Frame::encode(protocol::IP, &[0x45], Compression::default(), &mut out);
        assert_eq!(out, [0xFF, 0x03, 0x00, 0x21, 0x45]);
        out.clear();
        Frame::encode(protocol::LCP, &[], Compression { pfc: true, acfc: true }, &mut out);
        assert_eq!(out, [0xFF, 0x03, 0xC0, 0x21]);
        out.clear();
        Frame::encode(protocol::IPCP, &[], Compression { pfc: true, acfc: true }, &mut out);
        assert_eq!(out, [0x80, 0x21]);
    }

    #[test]
    fn packet_parse_checks_length_and_ignores_padding() {
        let p = Packet::parse(&[9, 7, 0, 8, 1, 2, 3, 4, 0xEE, 0xEE]).unwrap();
        assert_eq!(p, Packet::new(9, 7, vec![1, 2, 3, 4]));
        assert_eq!(p.to_bytes().unwrap(), [9, 7, 0, 8, 1, 2, 3, 4]);
        assert_eq!(Packet::parse(&[1, 1, 0]), Err(FrameError::ShortPacket));
        assert_eq!(Packet::parse(&[1, 1, 0, 3]), Err(FrameError::BadLength { length: 3, available: 4 }));
        assert_eq!(Packet::parse(&[1, 1, 0, 6, 0]), Err(FrameError::BadLength { length: 6, available: 5 }));
        let too_long = Packet::new(1, 1, vec![0; 65_532]);
        assert_eq!(too_long.to_bytes(), Err(FrameError::TooLong));
    }

    #[test]
    fn option_list_round_trip_and_errors() {
        let bytes = [1, 4, 0x05, 0xDC, 7, 2, 5, 6, 1, 2, 3, 4];
        let list = ConfOption::parse_list(&bytes).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].as_u16(), Some(1500));
        assert_eq!(list[1], ConfOption::new(7, vec![]));
        assert_eq!(list[2].as_u32(), Some(0x0102_0304));
        assert_eq!(ConfOption::list_to_bytes(&list).unwrap(), bytes);
        assert_eq!(ConfOption::parse_list(&[1, 1]), Err(FrameError::OptionTooShort { kind: 1 }));
        assert_eq!(ConfOption::parse_list(&[1, 4, 0]), Err(FrameError::OptionOverrun { kind: 1 }));
        assert_eq!(ConfOption::parse_list(&[7, 2, 8]), Err(FrameError::OptionTruncated));
        assert_eq!(ConfOption::list_to_bytes(&[ConfOption::new(1, vec![0; 254])]), Err(FrameError::TooLong));
    }

    #[test]
    fn registries_name_things() {
        assert_eq!(protocol::name(0xC021), Some("LCP"));
        assert_eq!(protocol::name(0x1234), None);
        assert_eq!(code::name(1), Some("Configure-Request"));
        assert_eq!(code::name(11), Some("Discard-Request"));
        assert_eq!(code::name(0), None);
        assert_eq!(code::name(12), None);
    }
}
