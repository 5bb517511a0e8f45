//! Decodes captures made by other implementations (Cisco and CableLabs RPD
//! equipment over L2TPv3/IP, xl2tpd over UDP, a PPPoE-carried L2TPv2 data
//! packet, and tcpdump's malformed-AVP regression file) with the codec.
//!
//! The pcap reader is deliberately tiny: classic pcap (either byte order),
//! link types Ethernet (1, with 802.1Q and PPPoE-session/PPP-IPv4 unwrapping),
//! raw IPv4 (101, 228) and Linux cooked (113); IPv4 only; UDP port 1701 or IP
//! protocol 115.

use prol2tp::proto::auth::challenge_response;
use prol2tp::proto::avp::AvpIter;
use prol2tp::proto::header::{parse_packet, Packet, Transport, Version};
use prol2tp::proto::message::{decode, decode_partial, validate, DecodeCtx, MessageType};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One L2TP datagram found in a capture.
struct L2tpFrame {
    /// 1-based frame number in the pcap.
    frame: usize,
    transport: Transport,
    payload: Vec<u8>,
}

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn read_u32(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le { u32::from_le_bytes(s) } else { u32::from_be_bytes(s) })
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// Returns the records (frame bytes) and the link type of a classic pcap.
/// A truncated last record is dropped.
fn pcap_records(bytes: &[u8]) -> (u32, Vec<Vec<u8>>) {
    let le = match bytes.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) | Some([0x4d, 0x3c, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) | Some([0xa1, 0xb2, 0x3c, 0x4d]) => false,
        other => panic!("not a classic pcap: {other:?}"),
    };
    let linktype = read_u32(bytes, 20, le).expect("pcap header") & 0x0fff_ffff;
    let mut off = 24;
    let mut out = Vec::new();
    while let Some(incl) = read_u32(bytes, off + 8, le) {
        let start = off + 16;
        let Some(rec) = bytes.get(start..start + incl as usize) else {
            break;
        };
        out.push(rec.to_vec());
        off = start + incl as usize;
    }
    (linktype, out)
}

/// Finds the IPv4 packet inside a link-layer frame.
fn ipv4_of(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let (mut ethertype, mut off) = match linktype {
        1 => (be16(frame, 12)?, 14),
        113 => (be16(frame, 14)?, 16),
        101 | 228 => return Some(frame),
        _ => return None,
    };
    loop {
        match ethertype {
            0x8100 | 0x88a8 => {
                ethertype = be16(frame, off + 2)?;
                off += 4;
            }
            // PPPoE session: 6-octet header, then the PPP protocol.
            0x8864 => {
                if be16(frame, off + 6)? != 0x0021 {
                    return None;
                }
                return frame.get(off + 8..);
            }
            0x0800 => return frame.get(off..),
            _ => return None,
        }
    }
}

/// Extracts the L2TP payloads of a capture.
fn l2tp_frames(name: &str) -> Vec<L2tpFrame> {
    let bytes = std::fs::read(data_path(name)).expect("capture file");
    let (linktype, records) = pcap_records(&bytes);
    let mut out = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let Some(ip) = ipv4_of(linktype, rec) else {
            continue;
        };
        let Some(&vihl) = ip.first() else { continue };
        if vihl >> 4 != 4 {
            continue;
        }
        let ihl = usize::from(vihl & 0x0f) * 4;
        let total = usize::from(be16(ip, 2).unwrap_or(0)).min(ip.len());
        let proto = ip.get(9).copied();
        let Some(body) = ip.get(ihl..total) else {
            continue;
        };
        let (transport, payload) = match proto {
            Some(115) => (Transport::Ip, body),
            Some(17) if be16(body, 0) == Some(1701) || be16(body, 2) == Some(1701) => {
                let ulen = usize::from(be16(body, 4).unwrap_or(0)).min(body.len());
                (Transport::Udp, body.get(8..ulen).unwrap_or(&[]))
            }
            _ => continue,
        };
        out.push(L2tpFrame { frame: i + 1, transport, payload: payload.to_vec() });
    }
    out
}

/// Message type counts ("ZLB" for ZLBs) of the decoded control packets.
fn count_types(frames: &[L2tpFrame]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for f in frames {
        let name = match parse_packet(f.transport, &f.payload) {
            Ok(Packet::Control { avps: &[], .. }) => "ZLB".to_string(),
            Ok(Packet::Control { avps, .. }) => {
                let msg = decode_partial(avps, &DecodeCtx::default()).unwrap_or_else(|e| panic!("frame {}: {e}", f.frame));
                msg.msg_type.name().to_string()
            }
            Ok(Packet::Data(_)) => "data".to_string(),
            Err(e) => panic!("frame {}: {e}", f.frame),
        };
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// Message type counts of a generated summary file.
fn summary_counts(name: &str) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(data_path(name)).expect("summary file");
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("frame ")) {
        let ty = line.split_whitespace().nth(5).expect("type column");
        let ty = if ty == "ZLB-ACK" { "ZLB" } else { ty };
        *counts.entry(ty.to_string()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn openrpd_minimum_matches_summary_and_validates() {
    let frames = l2tp_frames("L2TPV3ControlMinimum.pcap");
    assert!(frames.iter().all(|f| f.transport == Transport::Ip));
    let ours = count_types(&frames);
    assert_eq!(ours, summary_counts("openrpd_L2TPV3ControlMinimum.pcap.avps.txt"));
    assert_eq!(ours.get("ICRQ"), Some(&24));
    for f in &frames {
        let Ok(Packet::Control { header, avps }) = parse_packet(f.transport, &f.payload) else { panic!("frame {} not control", f.frame) };
        assert_eq!(header.version, Version::V3);
        if avps.is_empty() {
            continue;
        }
        let msg = decode_partial(avps, &DecodeCtx::default()).expect("decodes");
        validate(&msg, Version::V3).unwrap_or_else(|e| panic!("frame {}: {e}", f.frame));
        // Cisco sends vendor AVPs with the M bit: strict decode must refuse
        // those messages (RFC 2661 §4.1), but never a message without any.
        let vendor_m = AvpIter::new(avps).flatten().any(|a| a.vendor_id != 0 && a.mandatory);
        assert_eq!(decode(avps, &DecodeCtx::default()).is_err(), vendor_m, "frame {}", f.frame);
    }
}

#[test]
fn openrpd_minimum_first_sccrq_fields() {
    let frames = l2tp_frames("L2TPV3ControlMinimum.pcap");
    let Ok(Packet::Control { avps, .. }) = parse_packet(Transport::Ip, &frames[0].payload) else { panic!("not control") };
    let msg = decode_partial(avps, &DecodeCtx::default()).expect("decodes");
    assert_eq!(msg.msg_type, MessageType::Sccrq);
    let a = &msg.avps;
    assert_eq!(a.protocol_version, Some((1, 0)));
    assert_eq!(a.tie_breaker, Some([0xbe, 0x64, 0xff, 0x90, 0xb0, 0x31, 0x8a, 0xad]));
    assert_eq!(a.firmware_revision, Some(0x1130));
    assert_eq!(a.host_name.as_deref(), Some(&b"CST-Wuhan-ubr10k"[..]));
    assert_eq!(a.vendor_name.as_deref(), Some(&b"Cisco Systems, Inc."[..]));
    assert_eq!(a.receive_window_size, Some(1024));
    assert_eq!(a.router_id, Some(0x0406_0d02));
    assert_eq!(a.assigned_control_connection_id, Some(0xcc1f_7e41));
    assert_eq!(a.pseudowire_capabilities, Some(vec![0x000c]));
    // 9:1, 9:2, 9:10 carry the M bit; 9:115 does not.
    assert_eq!(a.unknown_mandatory.len(), 3);
    assert_eq!(a.ignored.len(), 1);
}

#[test]
fn openrpd_rpd_init_matches_summary() {
    let frames = l2tp_frames("rpd-init-2018-09-19-l2tpv3-control-only.pcap");
    let ours = count_types(&frames);
    let theirs = summary_counts("openrpd_rpd-init-2018-09-19-l2tpv3-control-only.pcap.avps.txt");
    assert_eq!(ours, theirs);
    assert!(ours.get("ACK").copied().unwrap_or(0) > 0);
}

#[test]
fn packetdotnet_v2_data_in_pppoe() {
    let frames = l2tp_frames("l2tp.pcap");
    assert_eq!(frames.len(), 1);
    match parse_packet(Transport::Udp, &frames[0].payload) {
        Ok(Packet::Data(d)) => {
            assert_eq!(d.version, Version::V2);
            // tcpdump: l2tp:[OP](18994/54110): offset and priority bits.
            assert_eq!((d.tunnel_id, d.session_id), (18994, 54110));
            assert_eq!(d.ns, None);
            // PPP (address/control ff 03) LCP Echo-Request after the offset padding.
            assert_eq!(d.payload.get(..5), Some(&[0xff, 0x03, 0xc0, 0x21, 0x09][..]));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn tcpdump_avp_overflow_is_survived() {
    let frames = l2tp_frames("l2tp-avp-overflow.pcap");
    assert!(!frames.is_empty());
    let mut errors = 0;
    for f in &frames {
        for secret in [None, Some(&b"x"[..])] {
            let ctx = DecodeCtx { secret };
            match parse_packet(f.transport, &f.payload) {
                Ok(Packet::Control { avps, .. }) => {
                    if decode(avps, &ctx).is_err() {
                        errors += 1;
                    }
                    let _ = AvpIter::new(avps).count();
                }
                Ok(Packet::Data(_)) => {}
                Err(_) => errors += 1,
            }
        }
    }
    assert!(errors > 0, "the malformed file must produce errors");
}

/// Decodes a UDP capture of xl2tpd, returning the messages in order.
fn xl2tpd_messages(name: &str, secret: Option<&[u8]>) -> Vec<(usize, prol2tp::proto::message::ControlMessage)> {
    let mut out = Vec::new();
    for f in l2tp_frames(name) {
        match parse_packet(f.transport, &f.payload) {
            Ok(Packet::Control { header, avps }) => {
                assert_eq!(header.version, Version::V2);
                if avps.is_empty() {
                    continue;
                }
                let msg = decode(avps, &DecodeCtx { secret }).unwrap_or_else(|e| panic!("frame {}: {e}", f.frame));
                validate(&msg, Version::V2).unwrap_or_else(|e| panic!("frame {}: {e}", f.frame));
                out.push((f.frame, msg));
            }
            other => panic!("frame {}: unexpected {other:?}", f.frame),
        }
    }
    out
}

#[test]
fn xl2tpd_plain_sequence() {
    let msgs = xl2tpd_messages("xl2tpd-plain.pcap", None);
    let types: Vec<_> = msgs.iter().map(|(_, m)| m.msg_type).collect();
    use MessageType::*;
    assert_eq!(types, vec![Sccrq, Sccrp, Scccn, Icrq, Icrp, Iccn, Cdn, StopCcn]);
    let sccrq = &msgs[0].1.avps;
    assert_eq!(sccrq.host_name.as_deref(), Some(&b"lac.example"[..]));
    assert_eq!(sccrq.vendor_name.as_deref(), Some(&b"xelerance.com"[..]));
    assert_eq!(sccrq.receive_window_size, Some(4));
    let stop = msgs[7].1.avps.result_code.clone().expect("result code");
    assert_eq!((stop.result, stop.error, stop.message.as_deref()), (1, Some(0), Some("Goodbye!")));
}

#[test]
fn xl2tpd_challenge_responses_match() {
    let secret = b"s3cr3t-test";
    let msgs = xl2tpd_messages("xl2tpd-challenge-hidden.pcap", Some(secret));
    let (sccrq, sccrp, scccn) = (&msgs[0].1, &msgs[1].1, &msgs[2].1);
    assert_eq!(scccn.msg_type, MessageType::Scccn);
    let c1 = sccrq.avps.challenge.as_deref().expect("SCCRQ challenge");
    let c2 = sccrp.avps.challenge.as_deref().expect("SCCRP challenge");
    assert_eq!(sccrp.avps.challenge_response, Some(challenge_response(MessageType::Sccrp, secret, c1)));
    assert_eq!(scccn.avps.challenge_response, Some(challenge_response(MessageType::Scccn, secret, c2)));
    assert_ne!(sccrp.avps.challenge_response, Some(challenge_response(MessageType::Sccrp, b"wrong", c1)));
}

#[test]
fn xl2tpd_v3_sccrq_decodes() {
    let frames = l2tp_frames("xl2tpd-v3-sccrq.pcap");
    let first = frames.first().expect("a frame");
    let Ok(Packet::Control { header, avps }) = parse_packet(first.transport, &first.payload) else { panic!("not control") };
    assert_eq!(header.version, Version::V3);
    assert_eq!(header.tunnel_id, 0);
    let msg = decode(avps, &DecodeCtx::default()).expect("decodes");
    assert_eq!(msg.msg_type, MessageType::Sccrq);
    assert_eq!(msg.avps.host_name.as_deref(), Some(&b"v3lac.example"[..]));
    assert_eq!(msg.avps.assigned_control_connection_id, Some(305_419_896));
    validate(&msg, Version::V3).expect("valid v3 SCCRQ");
}

/// Runs every codec entry point on `data`; checks the re-encoding property
/// for messages that decode.
fn exercise(transport: Transport, data: &[u8]) {
    if let Ok(Packet::Control { avps, .. }) = parse_packet(transport, data) {
        let _ = AvpIter::new(avps).count();
        for secret in [None, Some(&b"s3cr3t-test"[..])] {
            let Ok(msg) = decode_partial(avps, &DecodeCtx { secret }) else {
                continue;
            };
            let _ = validate(&msg, Version::V2);
            let _ = validate(&msg, Version::V3);
            let mut rng = |b: &mut [u8]| b.fill(0x5a);
            let mut ctx = prol2tp::proto::message::EncodeCtx { secret, hide: secret.is_some(), random: &mut rng, digest: None };
            let mut out = Vec::new();
            prol2tp::proto::message::encode(&msg, &mut ctx, &mut out);
            let mut again = decode_partial(&out, &DecodeCtx { secret }).expect("re-decodes");
            let mut want = msg.clone();
            want.avps.ignored.clear();
            want.avps.unknown_mandatory.clear();
            want.avps.message_digest = None;
            again.avps.message_digest = None;
            assert_eq!(again, want);
        }
    }
}

/// Deterministic mutations of every captured datagram (each byte XOR 0x01 and
/// 0xff, every truncation): no panic anywhere, and re-encoding holds.
#[test]
fn mutated_captures_never_panic() {
    let files =
        ["L2TPV3ControlMinimum.pcap", "xl2tpd-challenge-hidden.pcap", "xl2tpd-plain.pcap", "xl2tpd-v3-sccrq.pcap", "l2tp-avp-overflow.pcap", "l2tp.pcap"];
    let mut runs = 0usize;
    for name in files {
        for f in l2tp_frames(name) {
            let mut data = f.payload.clone();
            for i in 0..data.len() {
                for mask in [0x01u8, 0xff] {
                    data[i] ^= mask;
                    exercise(f.transport, &data);
                    data[i] ^= mask;
                    runs += 1;
                }
                exercise(f.transport, &data[..i]);
            }
        }
    }
    assert!(runs > 10_000, "only {runs} mutations");
}
