//! Sans-IO encapsulation and decapsulation of one session's data packets.
//!
//! An [`Encap`] is built from the [`SessionInfo`] of an established session
//! and turns frames into whole L2TP data packets and back:
//!
//! - L2TPv2 (RFC 2661 §3.1): Tunnel ID and Session ID of the peer, Ns when
//!   sequencing is on (Nr is sent as 0: RFC 2661 §3.1 reserves it on data
//!   messages and the receiver ignores it).
//! - L2TPv3 (RFC 3931 §4.1): the peer's Session ID, the peer's cookie, then
//!   the default L2-Specific Sublayer (RFC 3931 §4.6) when negotiated: 4
//!   octets, the S bit and a 24-bit sequence number when sequencing is on,
//!   all zero otherwise.
//! - PPP pseudowires (both versions): the PPP side exchanges frames that
//!   start with the PPP protocol field. Like the kernel's `pppol2tp`, we put
//!   the HDLC address and control octets `ff 03` (RFC 1662 §3.1) in front of
//!   every frame we send, and strip them from received frames that carry
//!   them, so the PPP side never sees them.
//!
//! Received packets are checked against our cookie (RFC 3931 §4.1: a
//! mismatch means the packet is not for this session; counted and dropped)
//! and, when the session expects sequence numbers, against the next
//! expected one. Sequence policy (RFC 3931 §4.6, RFC 2661 §5.4): a packet
//! at or ahead of the expected number (within half the number space) is
//! accepted and the expectation moves past it (the gap is counted as lost);
//! a packet behind it — a duplicate or a late one — is dropped. There is no
//! reorder queue (the kernel's default `reorder_timeout` of 0 does not
//! reorder either).

use crate::proto::endpoint::SessionInfo;
use crate::proto::header::{emit_data_v2, emit_data_v3, DataPacket, Transport, Version};
use crate::proto::session::{L2SpecType, Pseudowire};

/// HDLC address and control octets of PPP frames (RFC 1662 §3.1).
pub const PPP_ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
/// Length in octets of the default L2-Specific Sublayer (RFC 3931 §4.6).
pub const L2SPEC_DEFAULT_LEN: usize = 4;
/// S bit of the default L2-Specific Sublayer (RFC 3931 §4.6).
const L2SPEC_S: u32 = 0x4000_0000;
/// Sequence number mask of the default L2-Specific Sublayer (24 bits).
const SEQ_MASK_V3: u32 = 0x00ff_ffff;
/// Sequence number mask of L2TPv2 data messages (16-bit Ns).
const SEQ_MASK_V2: u32 = 0xffff;
/// Length in octets of an Ethernet header, the smallest Ethernet frame we
/// hand to a TAP device.
pub const ETH_HEADER_LEN: usize = 14;

/// Per-session data counters (the seeds' session statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Packets received from the peer and delivered to the session's device.
    pub rx_packets: u64,
    /// Octets of the frames counted in `rx_packets` (after decapsulation).
    pub rx_octets: u64,
    /// Received packets dropped: malformed, wrong cookie, out of sequence,
    /// or the device would not take them.
    pub rx_errors: u64,
    /// Packets sent to the peer.
    pub tx_packets: u64,
    /// Octets of the frames counted in `tx_packets` (before encapsulation).
    pub tx_octets: u64,
    /// Frames that could not be sent (read or send failures).
    pub tx_errors: u64,
    /// Received packets whose cookie was not ours (RFC 3931 §4.1).
    pub cookie_mismatches: u64,
    /// Received packets dropped for their sequence number: behind the
    /// expected one (duplicate or late), or missing while required.
    pub seq_discards: u64,
    /// Sequence numbers skipped over by accepted packets (presumed lost).
    pub seq_lost: u64,
}

/// Why a received data packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecapError {
    /// The packet ends inside the cookie or the L2-Specific Sublayer.
    Truncated,
    /// The cookie is not ours (RFC 3931 §4.1).
    CookieMismatch,
    /// Sequencing is required and the packet has no sequence number
    /// (RFC 3931 §4.6 S bit clear, or RFC 2661 S bit clear).
    MissingSequence,
    /// The sequence number is behind the expected one.
    OutOfSequence {
        /// The packet's sequence number.
        ns: u32,
        /// The sequence number expected next.
        expected: u32,
    },
    /// The frame is too short for its pseudowire (Ethernet: 14 octets).
    ShortFrame(usize),
}

impl std::fmt::Display for DecapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecapError::Truncated => f.write_str("truncated data packet"),
            DecapError::CookieMismatch => f.write_str("cookie mismatch"),
            DecapError::MissingSequence => f.write_str("sequence number required but absent"),
            DecapError::OutOfSequence { ns, expected } => write!(f, "out of sequence ns={ns} expected={expected}"),
            DecapError::ShortFrame(n) => write!(f, "frame of {n} octets too short"),
        }
    }
}

impl std::error::Error for DecapError {}

/// One session's encapsulation state: what goes in front of a frame we
/// send, what a received packet must carry, the sequence numbers both
/// ways and the counters.
#[derive(Debug, Clone)]
pub struct Encap {
    version: Version,
    transport: Transport,
    pseudowire: Pseudowire,
    peer_tunnel_id: u32,
    peer_session_id: u32,
    cookie: Vec<u8>,
    peer_cookie: Vec<u8>,
    l2spec: L2SpecType,
    send_seq: bool,
    recv_seq: bool,
    /// Ns of the next packet we send (masked to 16 or 24 bits).
    next_ns: u32,
    /// Ns expected next from the peer; `None` until the first sequenced
    /// packet arrives (the peer's first Ns is 0, but a restarted or late
    /// sequencer is accepted as the new base).
    expected_ns: Option<u32>,
    stats: SessionStats,
}

impl Encap {
    /// The encapsulation of an established session. For L2TPv3 sessions
    /// without the default L2-Specific Sublayer, sequencing is impossible
    /// and `send_seq`/`recv_seq` are ignored (RFC 3931 §4.6).
    pub fn new(info: &SessionInfo) -> Encap {
        let has_seq_field = info.version == Version::V2 || info.l2spec == L2SpecType::Default;
        Encap {
            version: info.version,
            transport: info.transport,
            pseudowire: info.pseudowire,
            peer_tunnel_id: info.peer_tunnel_id,
            peer_session_id: info.peer_session_id,
            // Cookies are L2TPv3 only (RFC 3931 §4.1).
            cookie: if info.version == Version::V3 { info.cookie.clone() } else { Vec::new() },
            peer_cookie: if info.version == Version::V3 { info.peer_cookie.clone() } else { Vec::new() },
            l2spec: if info.version == Version::V3 { info.l2spec } else { L2SpecType::None },
            send_seq: info.send_seq && has_seq_field,
            recv_seq: info.recv_seq && has_seq_field,
            next_ns: 0,
            expected_ns: None,
            stats: SessionStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Mutable counters, for failures the caller sees (device errors).
    pub fn stats_mut(&mut self) -> &mut SessionStats {
        &mut self.stats
    }

    /// Octets this encapsulation adds in front of a frame, not counting the
    /// outer IP and UDP headers (for the device MTU).
    pub fn overhead(&self) -> usize {
        let l2tp = match (self.version, self.transport) {
            (Version::V2, _) => 6 + if self.send_seq { 4 } else { 0 },
            (Version::V3, Transport::Udp) => 8,
            (Version::V3, Transport::Ip) => 4,
        };
        let l2spec = if self.l2spec == L2SpecType::Default { L2SPEC_DEFAULT_LEN } else { 0 };
        let ppp = if self.pseudowire == Pseudowire::Ppp { PPP_ADDRESS_CONTROL.len() } else { 0 };
        l2tp + self.peer_cookie.len() + l2spec + ppp
    }

    /// Appends the whole L2TP data packet carrying `frame` to `out` and
    /// counts it as sent. `frame` is an Ethernet frame for Ethernet/VLAN
    /// pseudowires, a PPP frame starting with its protocol field for PPP.
    pub fn encapsulate(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        let ns = self.send_seq.then_some(self.next_ns);
        if ns.is_some() {
            self.next_ns = self.next_ns.wrapping_add(1) & self.seq_mask();
        }
        match self.version {
            Version::V2 => {
                // v2 ids are 16-bit (RFC 2661 §3.1); the control plane never
                // assigns wider ones to a v2 session.
                let tid = u16::try_from(self.peer_tunnel_id).unwrap_or(u16::MAX);
                let sid = u16::try_from(self.peer_session_id).unwrap_or(u16::MAX);
                let ns_nr = ns.map(|n| (u16::try_from(n & SEQ_MASK_V2).unwrap_or(0), 0u16));
                emit_data_v2(tid, sid, ns_nr, &[], out);
            }
            Version::V3 => {
                let seq = if self.l2spec == L2SpecType::Default { ns } else { None };
                emit_data_v3(self.transport, self.peer_session_id, &self.peer_cookie, seq, &[], out);
                if self.l2spec == L2SpecType::Default && seq.is_none() {
                    // Default sublayer present but S bit clear: no sequence number.
                    out.extend_from_slice(&[0; L2SPEC_DEFAULT_LEN]);
                }
            }
        }
        if self.pseudowire == Pseudowire::Ppp {
            out.extend_from_slice(&PPP_ADDRESS_CONTROL);
        }
        out.extend_from_slice(frame);
        self.stats.tx_packets += 1;
        self.stats.tx_octets += frame.len() as u64;
    }

    /// Checks a received data packet of this session and returns the frame
    /// it carries (for PPP without the `ff 03` octets). Counts the packet
    /// as an error, cookie mismatch or sequence discard when it is dropped;
    /// the caller counts the delivery ([`Encap::count_delivered`]) once the
    /// device took the frame.
    ///
    /// Errors: see [`DecapError`]; every error means "drop the packet".
    pub fn decapsulate<'a>(&mut self, pkt: &DataPacket<'a>) -> Result<&'a [u8], DecapError> {
        let r = self.decapsulate_inner(pkt);
        if let Err(e) = r {
            self.stats.rx_errors += 1;
            match e {
                DecapError::CookieMismatch => self.stats.cookie_mismatches += 1,
                DecapError::MissingSequence | DecapError::OutOfSequence { .. } => self.stats.seq_discards += 1,
                DecapError::Truncated | DecapError::ShortFrame(_) => {}
            }
        }
        r
    }

    /// Counts one frame of `len` octets delivered to the session's device.
    pub fn count_delivered(&mut self, len: usize) {
        self.stats.rx_packets += 1;
        self.stats.rx_octets += len as u64;
    }

    fn decapsulate_inner<'a>(&mut self, pkt: &DataPacket<'a>) -> Result<&'a [u8], DecapError> {
        let (ns, mut frame) = match self.version {
            Version::V2 => (pkt.ns.map(u32::from), pkt.payload),
            Version::V3 => {
                // RFC 3931 §4.1: the cookie follows the Session ID; its
                // length is session configuration (0, 4 or 8 octets).
                let n = self.cookie.len();
                let (cookie, rest) = (pkt.payload.get(..n), pkt.payload.get(n..));
                let (Some(cookie), Some(rest)) = (cookie, rest) else { return Err(DecapError::Truncated) };
                if cookie != self.cookie.as_slice() {
                    return Err(DecapError::CookieMismatch);
                }
                self.parse_l2spec(rest)?
            }
        };
        self.check_sequence(ns)?;
        if self.pseudowire == Pseudowire::Ppp {
            if let Some(rest) = frame.strip_prefix(&PPP_ADDRESS_CONTROL) {
                frame = rest;
            }
            if frame.is_empty() {
                return Err(DecapError::ShortFrame(0));
            }
        } else if frame.len() < ETH_HEADER_LEN {
            return Err(DecapError::ShortFrame(frame.len()));
        }
        Ok(frame)
    }

    /// Splits the default L2-Specific Sublayer (RFC 3931 §4.6) off `rest`
    /// when the session uses it: the sequence number (when the S bit is
    /// set) and what follows.
    fn parse_l2spec<'a>(&self, rest: &'a [u8]) -> Result<(Option<u32>, &'a [u8]), DecapError> {
        if self.l2spec != L2SpecType::Default {
            return Ok((None, rest));
        }
        let Some(&[a, b, c, d]) = rest.get(..L2SPEC_DEFAULT_LEN) else { return Err(DecapError::Truncated) };
        let word = u32::from_be_bytes([a, b, c, d]);
        let frame = rest.get(L2SPEC_DEFAULT_LEN..).ok_or(DecapError::Truncated)?;
        let ns = (word & L2SPEC_S != 0).then_some(word & SEQ_MASK_V3);
        Ok((ns, frame))
    }

    /// Applies the sequence policy of the module documentation to `ns`.
    fn check_sequence(&mut self, ns: Option<u32>) -> Result<(), DecapError> {
        let Some(ns) = ns else {
            return if self.recv_seq { Err(DecapError::MissingSequence) } else { Ok(()) };
        };
        let mask = self.seq_mask();
        let ns = ns & mask;
        if let Some(expected) = self.expected_ns {
            let ahead = ns.wrapping_sub(expected) & mask;
            let half = (mask >> 1) + 1;
            if ahead >= half {
                return Err(DecapError::OutOfSequence { ns, expected });
            }
            self.stats.seq_lost += u64::from(ahead);
        }
        self.expected_ns = Some(ns.wrapping_add(1) & mask);
        Ok(())
    }

    fn seq_mask(&self) -> u32 {
        match self.version {
            Version::V2 => SEQ_MASK_V2,
            Version::V3 => SEQ_MASK_V3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::{parse_packet, Packet};
    use crate::proto::session::CallType;
    use std::net::SocketAddr;

    fn info(version: Version, transport: Transport, pseudowire: Pseudowire) -> SessionInfo {
        SessionInfo {
            tunnel_id: 10,
            session_id: 20,
            peer_tunnel_id: 11,
            peer_session_id: 21,
            version,
            transport,
            peer: SocketAddr::from(([192, 0, 2, 2], 1701)),
            local: None,
            pseudowire,
            call_type: CallType::IncomingLac,
            cookie: vec![0x1a, 0x2b, 0x3c, 0x4d],
            peer_cookie: vec![0x5e, 0x6f, 0x7a, 0x8b],
            l2spec: L2SpecType::Default,
            send_seq: true,
            recv_seq: true,
            name: None,
            tunnel_name: None,
            interface_name: None,
            vlan_id: None,
            profile: "default".into(),
            ppp_profile: "default".into(),
            eth_profile: "default".into(),
            trace_flags: common::trace::TraceFlags::NONE,
        }
    }

    /// The side that receives what `a` sends: ids and cookies swapped.
    fn mirror(a: &SessionInfo) -> SessionInfo {
        let mut b = a.clone();
        (b.tunnel_id, b.peer_tunnel_id) = (a.peer_tunnel_id, a.tunnel_id);
        (b.session_id, b.peer_session_id) = (a.peer_session_id, a.session_id);
        (b.cookie, b.peer_cookie) = (a.peer_cookie.clone(), a.cookie.clone());
        b
    }

    fn data(transport: Transport, bytes: &[u8]) -> DataPacket<'_> {
        match parse_packet(transport, bytes) {
            Ok(Packet::Data(d)) => d,
            other => panic!("not a data packet: {other:?}"),
        }
    }

    const FRAME: [u8; 16] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0x00];

    #[test]
    fn v3_udp_eth_golden_bytes_and_round_trip() {
        let a = info(Version::V3, Transport::Udp, Pseudowire::Eth);
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&FRAME, &mut out);
        // Ver 3, reserved, peer session 21, peer cookie, L2SS S=1 seq 0.
        assert_eq!(&out[..16], &[0, 3, 0, 0, 0, 0, 0, 21, 0x5e, 0x6f, 0x7a, 0x8b, 0x40, 0, 0, 0]);
        assert_eq!(&out[16..], &FRAME);
        assert_eq!(tx.overhead(), 8 + 4 + 4);
        let mut rx = Encap::new(&mirror(&a));
        let d = data(Transport::Udp, &out);
        assert_eq!(d.session_id, 21);
        assert_eq!(rx.decapsulate(&d), Ok(&FRAME[..]));
        assert_eq!(tx.stats().tx_packets, 1);
        assert_eq!(tx.stats().tx_octets, 16);
    }

    #[test]
    fn v3_ip_without_sequencing_has_zero_sublayer() {
        let mut a = info(Version::V3, Transport::Ip, Pseudowire::Eth);
        a.send_seq = false;
        a.recv_seq = false;
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&FRAME, &mut out);
        assert_eq!(&out[..12], &[0, 0, 0, 21, 0x5e, 0x6f, 0x7a, 0x8b, 0, 0, 0, 0]);
        let mut rx = Encap::new(&mirror(&a));
        assert_eq!(rx.decapsulate(&data(Transport::Ip, &out)), Ok(&FRAME[..]));
    }

    #[test]
    fn cookie_mismatch_is_counted_and_dropped() {
        let a = info(Version::V3, Transport::Ip, Pseudowire::Eth);
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&FRAME, &mut out);
        out[5] ^= 0xff; // corrupt the cookie
        let mut rx = Encap::new(&mirror(&a));
        assert_eq!(rx.decapsulate(&data(Transport::Ip, &out)), Err(DecapError::CookieMismatch));
        assert_eq!(rx.stats().cookie_mismatches, 1);
        assert_eq!(rx.stats().rx_errors, 1);
        assert_eq!(rx.stats().rx_packets, 0);
        // A packet cut inside the cookie is truncated, not a mismatch.
        assert_eq!(rx.decapsulate(&data(Transport::Ip, &out[..6])), Err(DecapError::Truncated));
        assert_eq!(rx.stats().cookie_mismatches, 1);
    }

    #[test]
    fn eight_octet_cookie_and_no_sublayer() {
        let mut a = info(Version::V3, Transport::Udp, Pseudowire::Eth);
        a.cookie = vec![1, 2, 3, 4, 5, 6, 7, 8];
        a.peer_cookie = vec![8, 7, 6, 5, 4, 3, 2, 1];
        a.l2spec = L2SpecType::None;
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&FRAME, &mut out);
        assert_eq!(out.len(), 8 + 8 + FRAME.len());
        assert_eq!(&out[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        let mut rx = Encap::new(&mirror(&a));
        // send_seq/recv_seq have no field to live in: ignored.
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &out)), Ok(&FRAME[..]));
    }

    #[test]
    fn sequence_loss_duplicate_and_missing() {
        let a = info(Version::V3, Transport::Udp, Pseudowire::Eth);
        let mut tx = Encap::new(&a);
        let pkts: Vec<Vec<u8>> = (0..4)
            .map(|_| {
                let mut out = Vec::new();
                tx.encapsulate(&FRAME, &mut out);
                out
            })
            .collect();
        let mut rx = Encap::new(&mirror(&a));
        assert!(rx.decapsulate(&data(Transport::Udp, &pkts[0])).is_ok());
        // Packet 1 lost: 2 is accepted, one number counted lost.
        assert!(rx.decapsulate(&data(Transport::Udp, &pkts[2])).is_ok());
        assert_eq!(rx.stats().seq_lost, 1);
        // 1 arrives late, 2 again (duplicate): both dropped.
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &pkts[1])), Err(DecapError::OutOfSequence { ns: 1, expected: 3 }));
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &pkts[2])), Err(DecapError::OutOfSequence { ns: 2, expected: 3 }));
        assert!(rx.decapsulate(&data(Transport::Udp, &pkts[3])).is_ok());
        assert_eq!(rx.stats().seq_discards, 2);
        // A packet without a sequence number while one is required.
        let mut plain = pkts[3].clone();
        plain[12] = 0; // clear the S bit of the sublayer
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &plain)), Err(DecapError::MissingSequence));
        assert_eq!(rx.stats().seq_discards, 3);
    }

    #[test]
    fn v3_sequence_wraps_at_24_bits() {
        let a = info(Version::V3, Transport::Ip, Pseudowire::Eth);
        let mut tx = Encap::new(&a);
        tx.next_ns = SEQ_MASK_V3;
        let (mut p1, mut p2) = (Vec::new(), Vec::new());
        tx.encapsulate(&FRAME, &mut p1);
        tx.encapsulate(&FRAME, &mut p2);
        assert_eq!(&p1[8..12], &[0x40, 0xff, 0xff, 0xff]);
        assert_eq!(&p2[8..12], &[0x40, 0, 0, 0]);
        let mut rx = Encap::new(&mirror(&a));
        assert!(rx.decapsulate(&data(Transport::Ip, &p1)).is_ok());
        assert!(rx.decapsulate(&data(Transport::Ip, &p2)).is_ok());
        assert_eq!(rx.stats().seq_lost, 0);
    }

    #[test]
    fn v2_ppp_adds_and_strips_address_control() {
        let a = info(Version::V2, Transport::Udp, Pseudowire::Ppp);
        let mut tx = Encap::new(&a);
        let lcp = [0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
        let mut out = Vec::new();
        tx.encapsulate(&lcp, &mut out);
        // T=0 S Ver=2, tunnel 11, session 21, Ns 0, Nr 0, ff 03, frame.
        assert_eq!(&out[..12], &[0x08, 0x02, 0, 11, 0, 21, 0, 0, 0, 0, 0xff, 0x03]);
        assert_eq!(&out[12..], &lcp);
        let mut rx = Encap::new(&mirror(&a));
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &out)), Ok(&lcp[..]));
        // A peer that omits ff 03 (address/control field compression) too.
        let mut bare = Vec::new();
        emit_data_v2(20, 21, Some((1, 0)), &lcp, &mut bare);
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &bare)), Ok(&lcp[..]));
        // v2 without S bit while sequencing is required: dropped.
        let mut unseq = Vec::new();
        emit_data_v2(20, 21, None, &lcp, &mut unseq);
        assert_eq!(rx.decapsulate(&data(Transport::Udp, &unseq)), Err(DecapError::MissingSequence));
    }

    #[test]
    fn v2_without_sequencing_accepts_any() {
        let mut a = info(Version::V2, Transport::Udp, Pseudowire::Ppp);
        a.send_seq = false;
        a.recv_seq = false;
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&[0x00, 0x21, 0x45], &mut out);
        assert_eq!(&out[..2], &[0x00, 0x02]);
        assert_eq!(tx.overhead(), 6 + 2);
        let mut rx = Encap::new(&mirror(&a));
        for _ in 0..2 {
            assert_eq!(rx.decapsulate(&data(Transport::Udp, &out)), Ok(&[0x00, 0x21, 0x45][..]));
        }
    }

    #[test]
    fn short_frames_are_errors() {
        let mut a = info(Version::V3, Transport::Ip, Pseudowire::Eth);
        a.send_seq = false;
        a.recv_seq = false;
        let mut tx = Encap::new(&a);
        let mut out = Vec::new();
        tx.encapsulate(&FRAME[..13], &mut out);
        let mut rx = Encap::new(&mirror(&a));
        assert_eq!(rx.decapsulate(&data(Transport::Ip, &out)), Err(DecapError::ShortFrame(13)));
        assert_eq!(rx.stats().rx_errors, 1);
        // Every truncation of a good packet short of a whole Ethernet
        // header is an error, never a panic.
        let mut good = Vec::new();
        tx.encapsulate(&FRAME, &mut good);
        for n in 4..(4 + 4 + 4 + ETH_HEADER_LEN) {
            assert!(rx.decapsulate(&data(Transport::Ip, &good[..n])).is_err());
        }
    }
}
