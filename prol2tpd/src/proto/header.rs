//! L2TP packet headers: parse a received datagram into a control or data
//! packet view, and emit control and data packets.
//!
//! Formats implemented:
//! - L2TPv2 over UDP (RFC 2661 §3.1): flags `T L x x S x O P x x x x Ver`,
//!   optional Length, 16-bit Tunnel ID and Session ID, optional Ns/Nr,
//!   optional Offset Size + padding.
//! - L2TPv3 over UDP (RFC 3931 §3.2.2): control header `T L x x S x x x x x x x
//!   Ver=3`, Length, 32-bit Control Connection ID, Ns, Nr; data header
//!   `T=0 ... Ver=3`, 16 reserved bits, 32-bit Session ID.
//! - L2TPv3 over IP, protocol 115 (RFC 3931 §3.2.1, §4.1): a 32-bit Session ID
//!   first; zero means a control message whose header (as over UDP) follows.
//!
//! Parsing is zero-copy: the returned [`Packet`] borrows the datagram.
//! The Length field of a control header bounds the message: octets beyond
//! it (e.g. link-layer padding) are ignored; a datagram shorter than Length is
//! an error ([`HeaderError::LengthMismatch`]). RFC 2661 §3.1 defines Length as
//! "the total length of the message in octets", so anything past it is not part
//! of the message.

use std::fmt;

/// Flag bit T (message type: 1 = control) in the first 16 bits.
const FLAG_T: u16 = 0x8000;
/// Flag bit L (Length field present).
const FLAG_L: u16 = 0x4000;
/// Flag bit S (Ns/Nr present).
const FLAG_S: u16 = 0x0800;
/// Flag bit O (Offset Size present; L2TPv2 data only).
const FLAG_O: u16 = 0x0200;
/// Flag bit P (priority; L2TPv2 data only).
const FLAG_P: u16 = 0x0100;
/// Mask of the Ver field.
const VER_MASK: u16 = 0x000f;

/// Length in octets of an L2TPv2 control header (flags, Length, Tunnel ID,
/// Session ID, Ns, Nr).
pub const V2_CONTROL_HEADER_LEN: usize = 12;
/// Length in octets of an L2TPv3 control header (flags, Length, Control
/// Connection ID, Ns, Nr), not counting the 4-octet zero Session ID over IP.
pub const V3_CONTROL_HEADER_LEN: usize = 12;

/// The L2TP protocol version in the Ver field (RFC 2661 §3.1, RFC 3931 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// L2TPv2, RFC 2661 (Ver = 2).
    V2,
    /// L2TPv3, RFC 3931 (Ver = 3).
    V3,
}

impl Version {
    /// The value of the Ver field (2 or 3).
    pub fn wire_value(self) -> u16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// How L2TP is carried (RFC 3931 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// L2TP over UDP (port 1701 by convention), either version.
    Udp,
    /// L2TPv3 directly over IP (protocol 115); control messages are preceded by
    /// a 32-bit zero Session ID.
    Ip,
}

/// The fields of a control message header, both versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlHeader {
    /// Protocol version of the header.
    pub version: Version,
    /// v2: the 16-bit Tunnel ID (the receiver's id, 0..=65535); v3: the 32-bit
    /// Control Connection ID (RFC 3931 §3.2.1).
    pub tunnel_id: u32,
    /// v2 only: the Session ID (0 for tunnel messages); always 0 for v3.
    pub session_id: u16,
    /// Sequence number of this message (RFC 2661 §5.8).
    pub ns: u16,
    /// Next sequence number expected from the peer.
    pub nr: u16,
}

/// A parsed L2TP datagram, borrowing the received buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A control message; `avps` is everything after the header, bounded by
    /// the Length field. An empty `avps` is a ZLB acknowledgement
    /// (RFC 2661 §5.8).
    Control {
        /// The control header.
        header: ControlHeader,
        /// The encoded AVPs (possibly empty).
        avps: &'a [u8],
    },
    /// A data message.
    Data(DataPacket<'a>),
}

/// A data message view (RFC 2661 §3.1; RFC 3931 §4.1.1, §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPacket<'a> {
    /// Protocol version.
    pub version: Version,
    /// v2: Tunnel ID; 0 for v3.
    pub tunnel_id: u16,
    /// v2: the 16-bit Session ID; v3: the 32-bit Session ID (never 0).
    pub session_id: u32,
    /// v2: Ns when the S bit is set; always `None` for v3 (its sequence lives
    /// in the L2-Specific Sublayer, which the session parses).
    pub ns: Option<u16>,
    /// v2: Nr when the S bit is set; `None` for v3.
    pub nr: Option<u16>,
    /// v2: the PPP frame, after any offset padding. v3: everything after the
    /// Session ID (cookie and L2-Specific Sublayer still in front; their sizes
    /// are session configuration).
    pub payload: &'a [u8],
}

/// Why a datagram's header was rejected; the datagram is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderError {
    /// The datagram ends inside the header.
    Truncated,
    /// The Ver field is not 2 or 3 (1 is L2F); RFC 2661 §3.1: discard.
    BadVersion(u8),
    /// The Length field is smaller than the header or larger than the datagram.
    LengthMismatch {
        /// The Length field, octets.
        length: u16,
        /// Octets available in the datagram (after any IP session id).
        available: usize,
    },
    /// A control message without the L bit (RFC 2661 §3.1: MUST be set).
    ControlWithoutLength,
    /// A control message without the S bit (RFC 2661 §3.1: MUST be set).
    ControlWithoutSequence,
    /// A control message with the O or P bit (RFC 2661 §3.1: MUST be 0).
    ControlWithOffsetOrPriority,
    /// Over IP, a packet with a zero Session ID whose header is not an L2TPv3
    /// control header (T bit clear or Ver not 3).
    NotV3Control,
    /// L2TPv2 offset padding runs past the end of the message.
    BadOffset,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated => write!(f, "truncated L2TP header"),
            HeaderError::BadVersion(v) => write!(f, "unsupported L2TP version {v}"),
            HeaderError::LengthMismatch { length, available } => {
                write!(f, "bad length field {length} (datagram has {available} octets)")
            }
            HeaderError::ControlWithoutLength => write!(f, "control message without L bit"),
            HeaderError::ControlWithoutSequence => write!(f, "control message without S bit"),
            HeaderError::ControlWithOffsetOrPriority => {
                write!(f, "control message with O or P bit set")
            }
            HeaderError::NotV3Control => write!(f, "session id 0 but not an L2TPv3 control header"),
            HeaderError::BadOffset => write!(f, "offset padding beyond end of message"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Reads a big-endian u16 at `off`, or `Truncated`.
fn be16(buf: &[u8], off: usize) -> Result<u16, HeaderError> {
    let end = off.checked_add(2).ok_or(HeaderError::Truncated)?;
    match buf.get(off..end) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(HeaderError::Truncated),
    }
}

/// Reads a big-endian u32 at `off`, or `Truncated`.
fn be32(buf: &[u8], off: usize) -> Result<u32, HeaderError> {
    let end = off.checked_add(4).ok_or(HeaderError::Truncated)?;
    match buf.get(off..end) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(HeaderError::Truncated),
    }
}

/// Parses one received datagram (the UDP payload, or the IP payload for
/// [`Transport::Ip`]).
///
/// Errors: see [`HeaderError`]; every error means "drop the datagram".
/// For control messages octets beyond the Length field are ignored.
pub fn parse_packet(transport: Transport, buf: &[u8]) -> Result<Packet<'_>, HeaderError> {
    match transport {
        Transport::Udp => parse_udp(buf),
        Transport::Ip => {
            // RFC 3931 §4.1.1.1: Session ID 0 is reserved for control messages.
            let session_id = be32(buf, 0)?;
            let rest = buf.get(4..).ok_or(HeaderError::Truncated)?;
            if session_id == 0 {
                let flags = be16(rest, 0)?;
                if flags & FLAG_T == 0 || flags & VER_MASK != 3 {
                    return Err(HeaderError::NotV3Control);
                }
                parse_control(flags, rest)
            } else {
                Ok(Packet::Data(DataPacket { version: Version::V3, tunnel_id: 0, session_id, ns: None, nr: None, payload: rest }))
            }
        }
    }
}

/// Parses an L2TP-over-UDP datagram, either version.
fn parse_udp(buf: &[u8]) -> Result<Packet<'_>, HeaderError> {
    let flags = be16(buf, 0)?;
    let ver = (flags & VER_MASK) as u8;
    if ver != 2 && ver != 3 {
        return Err(HeaderError::BadVersion(ver));
    }
    if flags & FLAG_T != 0 {
        return parse_control(flags, buf);
    }
    if ver == 3 {
        // RFC 3931 §4.1.2.1: T=0, Ver=3, 16 reserved bits, 32-bit Session ID.
        let session_id = be32(buf, 4)?;
        let payload = buf.get(8..).ok_or(HeaderError::Truncated)?;
        return Ok(Packet::Data(DataPacket { version: Version::V3, tunnel_id: 0, session_id, ns: None, nr: None, payload }));
    }
    parse_v2_data(flags, buf)
}

/// Parses a control header (either version) starting at `buf[0]`.
fn parse_control(flags: u16, buf: &[u8]) -> Result<Packet<'_>, HeaderError> {
    if flags & FLAG_L == 0 {
        return Err(HeaderError::ControlWithoutLength);
    }
    if flags & FLAG_S == 0 {
        return Err(HeaderError::ControlWithoutSequence);
    }
    if flags & (FLAG_O | FLAG_P) != 0 {
        return Err(HeaderError::ControlWithOffsetOrPriority);
    }
    let length = be16(buf, 2)?;
    let len = usize::from(length);
    if len < V2_CONTROL_HEADER_LEN || len > buf.len() {
        return Err(HeaderError::LengthMismatch { length, available: buf.len() });
    }
    let msg = buf.get(..len).ok_or(HeaderError::Truncated)?;
    let (version, tunnel_id, session_id) =
        if flags & VER_MASK == 3 { (Version::V3, be32(msg, 4)?, 0) } else { (Version::V2, u32::from(be16(msg, 4)?), be16(msg, 6)?) };
    let header = ControlHeader { version, tunnel_id, session_id, ns: be16(msg, 8)?, nr: be16(msg, 10)? };
    let avps = msg.get(V2_CONTROL_HEADER_LEN..).ok_or(HeaderError::Truncated)?;
    Ok(Packet::Control { header, avps })
}

/// Parses an L2TPv2 data message (RFC 2661 §3.1).
fn parse_v2_data(flags: u16, buf: &[u8]) -> Result<Packet<'_>, HeaderError> {
    let mut off = 2usize;
    let mut msg = buf;
    if flags & FLAG_L != 0 {
        let length = be16(buf, 2)?;
        let len = usize::from(length);
        if len > buf.len() || len < 8 {
            return Err(HeaderError::LengthMismatch { length, available: buf.len() });
        }
        msg = buf.get(..len).ok_or(HeaderError::Truncated)?;
        off = 4;
    }
    let tunnel_id = be16(msg, off)?;
    let session_id = be16(msg, off + 2)?;
    off += 4;
    let (ns, nr) = if flags & FLAG_S != 0 {
        let ns = be16(msg, off)?;
        let nr = be16(msg, off + 2)?;
        off += 4;
        (Some(ns), Some(nr))
    } else {
        (None, None)
    };
    if flags & FLAG_O != 0 {
        let offset_size = usize::from(be16(msg, off)?);
        off = off.checked_add(2).and_then(|o| o.checked_add(offset_size)).ok_or(HeaderError::BadOffset)?;
        if off > msg.len() {
            return Err(HeaderError::BadOffset);
        }
    }
    let payload = msg.get(off..).ok_or(HeaderError::Truncated)?;
    Ok(Packet::Data(DataPacket { version: Version::V2, tunnel_id, session_id: u32::from(session_id), ns, nr, payload }))
}

/// Appends a whole control packet (header + the already-encoded AVP bytes) to
/// `out`; for [`Transport::Ip`] prepends the 4-octet zero Session ID
/// (RFC 3931 §4.1.1.1).
///
/// The Length field counts the header and AVPs (not the IP session id). For v2
/// the tunnel id is truncated to 16 bits. The total must fit the 16-bit Length
/// field: `avps` longer than 65,523 octets is the caller's bug, and the Length
/// written saturates at 65,535 (the peer will drop the message).
pub fn emit_control(transport: Transport, header: &ControlHeader, avps: &[u8], out: &mut Vec<u8>) {
    if transport == Transport::Ip {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    let flags = FLAG_T | FLAG_L | FLAG_S | header.version.wire_value();
    let total = avps.len().saturating_add(V2_CONTROL_HEADER_LEN);
    let length = u16::try_from(total).unwrap_or(u16::MAX);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    match header.version {
        Version::V2 => {
            out.extend_from_slice(&(header.tunnel_id as u16).to_be_bytes());
            out.extend_from_slice(&header.session_id.to_be_bytes());
        }
        Version::V3 => out.extend_from_slice(&header.tunnel_id.to_be_bytes()),
    }
    out.extend_from_slice(&header.ns.to_be_bytes());
    out.extend_from_slice(&header.nr.to_be_bytes());
    out.extend_from_slice(avps);
}

/// Appends an L2TPv2 data message (RFC 2661 §3.1) to `out`: no Length, no
/// offset, S bit and Ns/Nr only when `ns_nr` is given.
pub fn emit_data_v2(tunnel_id: u16, session_id: u16, ns_nr: Option<(u16, u16)>, payload: &[u8], out: &mut Vec<u8>) {
    let mut flags = 2u16;
    if ns_nr.is_some() {
        flags |= FLAG_S;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&tunnel_id.to_be_bytes());
    out.extend_from_slice(&session_id.to_be_bytes());
    if let Some((ns, nr)) = ns_nr {
        out.extend_from_slice(&ns.to_be_bytes());
        out.extend_from_slice(&nr.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// S bit of the default L2-Specific Sublayer (RFC 3931 §4.6).
const L2SPEC_S: u32 = 0x4000_0000;

/// Appends an L2TPv3 data message to `out` (RFC 3931 §4.1.1.2 over IP,
/// §4.1.2.1 over UDP): [UDP: flags Ver=3 + 16 reserved bits], Session ID,
/// `cookie` (0, 4 or 8 octets, as negotiated), then when `l2spec_seq` is
/// `Some(n)` the default L2-Specific Sublayer (RFC 3931 §4.6) with the S bit
/// set and the 24-bit sequence number `n & 0xFF_FFFF`, then `payload`.
/// With `None` no sublayer is written (the "no L2-Specific Sublayer" case).
pub fn emit_data_v3(transport: Transport, session_id: u32, cookie: &[u8], l2spec_seq: Option<u32>, payload: &[u8], out: &mut Vec<u8>) {
    if transport == Transport::Udp {
        out.extend_from_slice(&3u16.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(&session_id.to_be_bytes());
    out.extend_from_slice(cookie);
    if let Some(seq) = l2spec_seq {
        out.extend_from_slice(&(L2SPEC_S | (seq & 0x00ff_ffff)).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An L2TPv2 ZLB: T L S Ver=2, Length 12, tunnel 0x1234, session 0, Ns 3, Nr 7.
    const ZLB_V2_BYTES: [u8; 12] = [0xc8, 0x02, 0x00, 0x0c, 0x12, 0x34, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07];

    #[test]
    fn zlb_v2_golden() {
        let hdr = ControlHeader { version: Version::V2, tunnel_id: 0x1234, session_id: 0, ns: 3, nr: 7 };
        let mut out = Vec::new();
        emit_control(Transport::Udp, &hdr, &[], &mut out);
        assert_eq!(out, ZLB_V2_BYTES);
        match parse_packet(Transport::Udp, &ZLB_V2_BYTES) {
            Ok(Packet::Control { header, avps }) => {
                assert_eq!(header, hdr);
                assert!(avps.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn v3_ip_control_round_trip() {
        let hdr = ControlHeader { version: Version::V3, tunnel_id: 0xdead_beef, session_id: 0, ns: 1, nr: 2 };
        let mut out = Vec::new();
        emit_control(Transport::Ip, &hdr, &[1, 2, 3, 4, 5, 6], &mut out);
        assert_eq!(&out[..4], &[0, 0, 0, 0]);
        assert_eq!(&out[4..8], &[0xc8, 0x03, 0x00, 18]);
        match parse_packet(Transport::Ip, &out) {
            Ok(Packet::Control { header, avps }) => {
                assert_eq!(header, hdr);
                assert_eq!(avps, &[1, 2, 3, 4, 5, 6]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn control_flag_rules() {
        let mut p = ZLB_V2_BYTES;
        p[0] = 0x88; // no L
        assert_eq!(parse_packet(Transport::Udp, &p), Err(HeaderError::ControlWithoutLength));
        p[0] = 0xc0; // no S
        assert_eq!(parse_packet(Transport::Udp, &p), Err(HeaderError::ControlWithoutSequence));
        p[0] = 0xca; // O set
        assert_eq!(parse_packet(Transport::Udp, &p), Err(HeaderError::ControlWithOffsetOrPriority));
        let mut p = ZLB_V2_BYTES;
        p[1] = 0x01;
        assert_eq!(parse_packet(Transport::Udp, &p), Err(HeaderError::BadVersion(1)));
        let mut p = ZLB_V2_BYTES;
        p[3] = 13;
        assert_eq!(parse_packet(Transport::Udp, &p), Err(HeaderError::LengthMismatch { length: 13, available: 12 }));
    }

    #[test]
    fn trailing_octets_beyond_length_ignored() {
        let mut p = ZLB_V2_BYTES.to_vec();
        p.extend_from_slice(&[0xff, 0xff]);
        assert!(matches!(parse_packet(Transport::Udp, &p), Ok(Packet::Control { avps: &[], .. })));
    }

    #[test]
    fn v2_data_with_offset_and_sequence() {
        // T=0 L S O Ver=2, length 18, tunnel 5, session 6, Ns 1, Nr 2, offset 2 + pad, payload ff 03
        let p = [0x4a, 0x02, 0x00, 0x12, 0x00, 0x05, 0x00, 0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x02, 0xaa, 0xbb, 0xff, 0x03, 0x99];
        match parse_packet(Transport::Udp, &p) {
            Ok(Packet::Data(d)) => {
                assert_eq!(d.version, Version::V2);
                assert_eq!((d.tunnel_id, d.session_id), (5, 6));
                assert_eq!((d.ns, d.nr), (Some(1), Some(2)));
                assert_eq!(d.payload, &[0xff, 0x03]);
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut bad = p;
        bad[13] = 9;
        assert_eq!(parse_packet(Transport::Udp, &bad), Err(HeaderError::BadOffset));
    }

    #[test]
    fn v2_data_emit_parse() {
        let mut out = Vec::new();
        emit_data_v2(7, 9, Some((4, 5)), &[0xff, 0x03, 0xc0, 0x21], &mut out);
        assert_eq!(&out[..6], &[0x08, 0x02, 0x00, 0x07, 0x00, 0x09]);
        match parse_packet(Transport::Udp, &out) {
            Ok(Packet::Data(d)) => {
                assert_eq!((d.tunnel_id, d.session_id, d.ns, d.nr), (7, 9, Some(4), Some(5)));
                assert_eq!(d.payload, &[0xff, 0x03, 0xc0, 0x21]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn v3_data_emit_parse_both_transports() {
        for transport in [Transport::Udp, Transport::Ip] {
            let mut out = Vec::new();
            emit_data_v3(transport, 0x0102_0304, &[9, 9, 9, 9], Some(0x0100_0005), b"eth", &mut out);
            match parse_packet(transport, &out) {
                Ok(Packet::Data(d)) => {
                    assert_eq!(d.version, Version::V3);
                    assert_eq!(d.session_id, 0x0102_0304);
                    assert_eq!(d.payload, &[9, 9, 9, 9, 0x40, 0, 0, 5, b'e', b't', b'h']);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_inputs_do_not_panic() {
        let mut out = Vec::new();
        emit_data_v2(7, 9, Some((4, 5)), &[], &mut out);
        for n in 0..out.len() {
            let _ = parse_packet(Transport::Udp, &out[..n]);
            let _ = parse_packet(Transport::Ip, &out[..n]);
        }
        assert_eq!(parse_packet(Transport::Udp, &[]), Err(HeaderError::Truncated));
        assert_eq!(parse_packet(Transport::Ip, &[0, 0, 0, 0, 0x08]), Err(HeaderError::Truncated));
    }
}
