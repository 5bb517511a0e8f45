//! Byte-vector tests of the control message codec: every message type in both
//! versions built, encoded, framed, parsed and decoded back; golden bytes;
//! hidden AVPs; the L2TPv3 message digest; error mapping.

use prol2tp::proto::auth::{fill_digest, hmac, v3_control_key, verify_digest, AuthError, DigestAlg, DigestKey};
use prol2tp::proto::avp::{attr, write_avp, AvpIter};
use prol2tp::proto::header::{emit_control, parse_packet, ControlHeader, Packet, Transport, Version};
use prol2tp::proto::hide::hide;
use prol2tp::proto::message::{
    decode, decode_partial, encode, validate, Accm, Avps, CallErrors, ControlMessage, DecodeCtx, DecodeError, EncodeCtx, MessageType, Q931Cause, ResultCode,
    MESSAGE_RULES,
};
use prol2tp::proto::result::{error, stop_ccn};

/// A deterministic "random" source for tests.
fn counter_rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(37);
            *b = n;
        }
    }
}

/// A message of `t` carrying every AVP its type requires in `version`, plus
/// a few optional ones so that every encoder branch is exercised somewhere.
fn full_message(t: MessageType, version: Version) -> ControlMessage {
    let mut a = Avps::default();
    let rule = MESSAGE_RULES.iter().find(|r| r.msg_type == t).expect("rule");
    let required = match version {
        Version::V2 => rule.v2_required,
        Version::V3 => rule.v3_required,
    };
    for &r in required {
        match r {
            attr::RESULT_CODE => a.result_code = Some(ResultCode { result: 2, error: Some(error::BAD_VALUE), message: Some("bad".into()) }),
            attr::PROTOCOL_VERSION => a.protocol_version = Some((1, 0)),
            attr::FRAMING_CAPABILITIES => a.framing_capabilities = Some(3),
            attr::HOST_NAME => a.host_name = Some(b"lns.example".to_vec()),
            attr::ASSIGNED_TUNNEL_ID => a.assigned_tunnel_id = Some(0x1234),
            attr::ASSIGNED_SESSION_ID => a.assigned_session_id = Some(0x4321),
            attr::CALL_SERIAL_NUMBER => a.call_serial_number = Some(77),
            attr::MINIMUM_BPS => a.minimum_bps = Some(9600),
            attr::MAXIMUM_BPS => a.maximum_bps = Some(1_000_000),
            attr::BEARER_TYPE => a.bearer_type = Some(1),
            attr::FRAMING_TYPE => a.framing_type = Some(1),
            attr::CALLED_NUMBER => a.called_number = Some(b"5551234".to_vec()),
            attr::TX_CONNECT_SPEED => a.tx_connect_speed = Some(100_000_000),
            attr::CALL_ERRORS => {
                a.call_errors =
                    Some(CallErrors { crc_errors: 1, framing_errors: 2, hardware_overruns: 3, buffer_overruns: 4, timeout_errors: 5, alignment_errors: 6 })
            }
            attr::ACCM => a.accm = Some(Accm { send: 0xffff_ffff, recv: 0 }),
            attr::ROUTER_ID => a.router_id = Some(0xc000_0201),
            attr::ASSIGNED_CONTROL_CONNECTION_ID => a.assigned_control_connection_id = Some(0xdead_beef),
            attr::PSEUDOWIRE_CAPABILITIES_LIST => a.pseudowire_capabilities = Some(vec![5, 4]),
            attr::LOCAL_SESSION_ID => a.local_session_id = Some(0x0102_0304),
            attr::REMOTE_SESSION_ID => a.remote_session_id = Some(0x0506_0708),
            attr::PSEUDOWIRE_TYPE => a.pseudowire_type = Some(5),
            attr::REMOTE_END_ID => a.remote_end_id = Some(b"pw-1".to_vec()),
            other => panic!("test builder lacks attr {other}"),
        }
    }
    // Optional extras, different per version.
    match version {
        Version::V2 => {
            a.receive_window_size = Some(8);
            a.q931_cause = Some(Q931Cause { cause_code: 16, cause_msg: 0x45, advisory: Some(b"normal".to_vec()) });
            a.proxy_authen_name = Some(b"alice".to_vec());
            a.sequencing_required = true;
        }
        Version::V3 => {
            a.assigned_cookie = Some(vec![1, 2, 3, 4, 5, 6, 7, 8]);
            a.l2_specific_sublayer = Some(1);
            a.data_sequencing = Some(2);
            a.circuit_status = Some(1);
            a.tx_connect_speed_bps = Some(10_000_000_000);
            a.control_message_auth_nonce = Some(vec![0xaa; 16]);
        }
    }
    ControlMessage { msg_type: t, avps: a }
}

/// Encodes `msg` and frames it, then parses and decodes it back.
fn round_trip(msg: &ControlMessage, version: Version, transport: Transport, secret: Option<&[u8]>, hide: bool) -> Vec<u8> {
    let mut rng = counter_rng();
    let mut ctx = EncodeCtx { secret, hide, random: &mut rng, digest: None };
    let mut avps = Vec::new();
    encode(msg, &mut ctx, &mut avps);
    let header = ControlHeader { version, tunnel_id: if version == Version::V2 { 0x1234 } else { 0x8765_4321 }, session_id: 0, ns: 5, nr: 6 };
    let mut pkt = Vec::new();
    emit_control(transport, &header, &avps, &mut pkt);
    match parse_packet(transport, &pkt) {
        Ok(Packet::Control { header: h, avps: got }) => {
            assert_eq!(h, header);
            assert_eq!(got, &avps[..]);
            let decoded = decode(got, &DecodeCtx { secret }).expect("decodes");
            assert_eq!(&decoded, msg);
            validate(&decoded, version).expect("valid");
        }
        other => panic!("unexpected {other:?}"),
    }
    avps
}

#[test]
fn every_message_type_round_trips_in_both_versions() {
    for t in MessageType::ALL {
        for (version, transport) in [(Version::V2, Transport::Udp), (Version::V3, Transport::Udp), (Version::V3, Transport::Ip)] {
            if version == Version::V2 && t == MessageType::Ack {
                continue;
            }
            let msg = full_message(t, version);
            let avps = round_trip(&msg, version, transport, None, false);
            // Message Type first, M bit set.
            assert_eq!(avps.get(..8), Some(&[0x80, 0x08, 0, 0, 0, 0, 0, t as u8][..]));
        }
    }
}

#[test]
fn every_message_type_round_trips_hidden() {
    let secret = b"tunnel-secret";
    let mut with_hidden = 0;
    for t in MessageType::ALL.into_iter().filter(|&t| t != MessageType::Ack) {
        let msg = full_message(t, Version::V2);
        let avps = round_trip(&msg, Version::V2, Transport::Udp, Some(secret), true);
        let raw: Vec<_> = AvpIter::new(&avps).map(|a| a.expect("framing")).collect();
        let first_hidden = raw.iter().position(|a| a.hidden);
        if let Some(i) = first_hidden {
            // The Random Vector precedes the first hidden AVP.
            assert!(raw[..i].iter().any(|a| a.attr_type == attr::RANDOM_VECTOR), "{t:?}");
        }
        // Message Type and Host Name never hidden.
        assert!(raw.iter().filter(|a| a.attr_type == attr::MESSAGE_TYPE || a.attr_type == attr::HOST_NAME).all(|a| !a.hidden));
        // Without the secret the hidden ones cannot be read.
        if first_hidden.is_some() {
            with_hidden += 1;
            assert_eq!(decode(&avps, &DecodeCtx { secret: None }), Err(DecodeError::HiddenWithoutSecret));
            assert_ne!(decode(&avps, &DecodeCtx { secret: Some(b"other") }).ok().as_ref(), Some(&msg));
        }
    }
    // Every v2 message carries at least one hideable AVP (Proxy Authen Name).
    assert_eq!(with_hidden, 14);
}

/// An L2TPv2 SCCRQ, written out by hand from RFC 2661 §3.1, §4.1, §4.4.
const SCCRQ_V2_BYTES: [u8; 63] = [
    0xc8, 0x02, 0x00, 0x3f, // T L S, Ver 2, Length 63
    0x00, 0x00, 0x00, 0x00, // Tunnel ID 0, Session ID 0
    0x00, 0x00, 0x00, 0x00, // Ns 0, Nr 0
    0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // Message Type SCCRQ
    0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, // Protocol Version 1.0
    0x80, 0x0a, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, // Framing Capabilities sync+async
    0x80, 0x09, 0x00, 0x00, 0x00, 0x07, b'l', b'a', b'c', // Host Name "lac"
    0x80, 0x08, 0x00, 0x00, 0x00, 0x09, 0x00, 0x01, // Assigned Tunnel ID 1
    0x80, 0x08, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x04, // Receive Window Size 4
];

#[test]
fn sccrq_v2_golden_bytes() {
    let mut msg = ControlMessage::new(MessageType::Sccrq);
    msg.avps.protocol_version = Some((1, 0));
    msg.avps.framing_capabilities = Some(3);
    msg.avps.host_name = Some(b"lac".to_vec());
    msg.avps.assigned_tunnel_id = Some(1);
    msg.avps.receive_window_size = Some(4);
    let mut rng = counter_rng();
    let mut avps = Vec::new();
    encode(&msg, &mut EncodeCtx { secret: None, hide: false, random: &mut rng, digest: None }, &mut avps);
    let header = ControlHeader { version: Version::V2, tunnel_id: 0, session_id: 0, ns: 0, nr: 0 };
    let mut pkt = Vec::new();
    emit_control(Transport::Udp, &header, &avps, &mut pkt);
    assert_eq!(pkt, SCCRQ_V2_BYTES);
    let Ok(Packet::Control { avps, .. }) = parse_packet(Transport::Udp, &SCCRQ_V2_BYTES) else { panic!() };
    assert_eq!(decode(avps, &DecodeCtx::default()), Ok(msg));
}

/// An L2TPv3 StopCCN over IP, by hand (RFC 3931 §3.2.1, §4.1.1.1, §5.4).
const STOPCCN_V3_IP_BYTES: [u8; 44] = [
    0x00, 0x00, 0x00, 0x00, // Session ID 0: control
    0xc8, 0x03, 0x00, 0x28, // T L S, Ver 3, Length 40
    0x00, 0x00, 0x00, 0x2a, // Control Connection ID 42
    0x00, 0x07, 0x00, 0x03, // Ns 7, Nr 3
    0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, // Message Type StopCCN
    0x80, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, // Result 6, error 0
    0x80, 0x0a, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x09, // Assigned CCID 9
];

#[test]
fn stopccn_v3_golden_bytes() {
    let bytes = STOPCCN_V3_IP_BYTES;
    let mut msg = ControlMessage::new(MessageType::StopCcn);
    msg.avps.result_code = Some(ResultCode { result: stop_ccn::SHUTTING_DOWN, error: Some(0), message: None });
    msg.avps.assigned_control_connection_id = Some(9);
    let mut rng = counter_rng();
    let mut avps = Vec::new();
    encode(&msg, &mut EncodeCtx { secret: None, hide: false, random: &mut rng, digest: None }, &mut avps);
    let header = ControlHeader { version: Version::V3, tunnel_id: 42, session_id: 0, ns: 7, nr: 3 };
    let mut pkt = Vec::new();
    emit_control(Transport::Ip, &header, &avps, &mut pkt);
    assert_eq!(pkt, bytes);
    let Ok(Packet::Control { avps, header: h }) = parse_packet(Transport::Ip, &bytes) else { panic!() };
    assert_eq!(h, header);
    assert_eq!(decode(avps, &DecodeCtx::default()), Ok(msg));
}

#[test]
fn hidden_vector_matches_hand_computation() {
    // Assigned Tunnel ID 0x0102 hidden with secret "k" and RV [0x11; 16].
    let mut avps = Vec::new();
    write_avp(&mut avps, true, false, 0, attr::MESSAGE_TYPE, &[0, 1]);
    write_avp(&mut avps, true, false, 0, attr::RANDOM_VECTOR, &[0x11; 16]);
    write_avp(&mut avps, true, true, 0, attr::ASSIGNED_TUNNEL_ID, &hide(9, &[1, 2], b"k", &[0x11; 16], &[0xee, 0xee]));
    let msg = decode(&avps, &DecodeCtx { secret: Some(b"k") }).expect("decodes");
    assert_eq!(msg.avps.assigned_tunnel_id, Some(0x0102));
    // Hidden AVP before any Random Vector.
    let mut bad = Vec::new();
    write_avp(&mut bad, true, false, 0, attr::MESSAGE_TYPE, &[0, 1]);
    write_avp(&mut bad, true, true, 0, attr::ASSIGNED_TUNNEL_ID, &[1, 2, 3, 4]);
    assert_eq!(decode(&bad, &DecodeCtx { secret: Some(b"k") }), Err(DecodeError::HiddenWithoutRandomVector));
}

#[test]
fn decode_errors_and_their_result_codes() {
    let ctx = DecodeCtx::default();
    // Empty (ZLB) and wrong first AVP.
    assert_eq!(decode(&[], &ctx), Err(DecodeError::MissingMessageType));
    let mut v = Vec::new();
    write_avp(&mut v, true, false, 0, attr::HOST_NAME, b"x");
    assert_eq!(decode(&v, &ctx), Err(DecodeError::MissingMessageType));
    // Unknown message type with and without M.
    for m in [true, false] {
        let mut v = Vec::new();
        write_avp(&mut v, m, false, 0, attr::MESSAGE_TYPE, &[0, 99]);
        let e = decode(&v, &ctx).expect_err("unknown type");
        assert_eq!(e, DecodeError::UnknownMessageType { msg_type: 99, mandatory: m });
        assert_eq!(e.result_code().is_some(), m);
    }
    // Unknown mandatory vendor AVP vs. ignorable one.
    let mut v = Vec::new();
    write_avp(&mut v, true, false, 0, attr::MESSAGE_TYPE, &[0, 6]);
    write_avp(&mut v, false, false, 9, 1, &[1, 2]);
    write_avp(&mut v, false, false, 0, 200, &[]);
    let msg = decode(&v, &ctx).expect("ignorable AVPs");
    assert_eq!(msg.avps.ignored.len(), 2);
    write_avp(&mut v, true, false, 0, 201, &[]);
    let e = decode(&v, &ctx).expect_err("mandatory unknown");
    assert_eq!(e, DecodeError::UnknownMandatoryAvp { vendor_id: 0, attr_type: 201 });
    assert_eq!(e.result_code(), Some((stop_ccn::GENERAL_ERROR, error::UNKNOWN_MANDATORY_AVP)));
    assert_eq!(decode_partial(&v, &ctx).expect("partial").avps.unknown_mandatory.len(), 1);
    // Reserved bits set on a known AVP with M: unrecognized (RFC 2661 §4.1).
    let mut v = Vec::new();
    write_avp(&mut v, true, false, 0, attr::MESSAGE_TYPE, &[0, 6]);
    v.extend_from_slice(&[0x84, 0x08, 0, 0, 0, 9, 0, 1]);
    assert!(matches!(decode(&v, &ctx), Err(DecodeError::UnknownMandatoryAvp { attr_type: 9, .. })));
    // Bad length of a known AVP.
    let mut v = Vec::new();
    write_avp(&mut v, true, false, 0, attr::MESSAGE_TYPE, &[0, 1]);
    write_avp(&mut v, true, false, 0, attr::ASSIGNED_TUNNEL_ID, &[1, 2, 3]);
    assert_eq!(decode(&v, &ctx), Err(DecodeError::BadAvpValue { attr_type: attr::ASSIGNED_TUNNEL_ID }));
    // Framing error.
    let mut v = Vec::new();
    write_avp(&mut v, true, false, 0, attr::MESSAGE_TYPE, &[0, 1]);
    v.extend_from_slice(&[0x80, 0x20, 0, 0]);
    let e = decode(&v, &ctx).expect_err("framing");
    assert!(matches!(e, DecodeError::Avp(_)));
    assert_eq!(e.result_code(), None);
}

#[test]
fn validate_reports_missing_avps() {
    let msg = ControlMessage::new(MessageType::Sccrq);
    assert_eq!(validate(&msg, Version::V2), Err(DecodeError::MissingAvp { msg_type: MessageType::Sccrq, attr_type: attr::PROTOCOL_VERSION }));
    assert_eq!(validate(&msg, Version::V3), Err(DecodeError::MissingAvp { msg_type: MessageType::Sccrq, attr_type: attr::HOST_NAME }));
    assert!(validate(&ControlMessage::new(MessageType::Hello), Version::V2).is_ok());
    assert!(validate(&ControlMessage::new(MessageType::Ack), Version::V2).is_err());
    assert!(validate(&ControlMessage::new(MessageType::Ack), Version::V3).is_ok());
}

/// Builds a v3 control packet with a digest placeholder.
fn digest_packet(t: MessageType, transport: Transport, alg: DigestAlg) -> Vec<u8> {
    let msg = full_message(t, Version::V3);
    let mut rng = counter_rng();
    let mut avps = Vec::new();
    encode(&msg, &mut EncodeCtx { secret: None, hide: false, random: &mut rng, digest: Some(alg) }, &mut avps);
    let header = ControlHeader { version: Version::V3, tunnel_id: 0x0a0b_0c0d, session_id: 0, ns: 1, nr: 1 };
    let mut pkt = Vec::new();
    emit_control(transport, &header, &avps, &mut pkt);
    pkt
}

#[test]
fn message_digest_fill_and_verify() {
    let secret = b"pw-secret";
    let (ours, theirs) = ([1u8; 16], [2u8; 16]);
    for alg in [DigestAlg::HmacMd5, DigestAlg::HmacSha1] {
        for transport in [Transport::Ip, Transport::Udp] {
            let mut pkt = digest_packet(MessageType::Sccrp, transport, alg);
            let send_key = DigestKey::new(secret, alg, &ours, &theirs);
            fill_digest(&mut pkt, transport, &send_key).expect("filled");
            // The receiver sees our nonce as the sender's.
            let recv_key = DigestKey::new(secret, alg, &ours, &theirs);
            assert_eq!(verify_digest(&pkt, transport, &recv_key), Ok(()));
            // Wrong order of nonces, wrong secret, tampering: all rejected.
            let swapped = DigestKey::new(secret, alg, &theirs, &ours);
            assert_eq!(verify_digest(&pkt, transport, &swapped), Err(AuthError::Mismatch));
            let wrong = DigestKey::new(b"nope", alg, &ours, &theirs);
            assert_eq!(verify_digest(&pkt, transport, &wrong), Err(AuthError::Mismatch));
            let mut tampered = pkt.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert_eq!(verify_digest(&tampered, transport, &recv_key), Err(AuthError::Mismatch));
            // The decoder sees the digest AVP.
            let Ok(Packet::Control { avps, .. }) = parse_packet(transport, &pkt) else { panic!() };
            let msg = decode(avps, &DecodeCtx::default()).expect("decodes");
            let (ty, d) = msg.avps.message_digest.expect("digest");
            assert_eq!((ty, d.len()), (alg.wire_value(), alg.digest_len()));
        }
    }
}

#[test]
fn message_digest_independent_computation() {
    // Recompute by hand: HMAC(Shared-Key, nonces || message with zeroed digest),
    // message starting at the control header (not the IP session id).
    let alg = DigestAlg::HmacMd5;
    let mut pkt = digest_packet(MessageType::Icrq, Transport::Ip, alg);
    let zeroed = pkt[4..].to_vec();
    let key = DigestKey::new(b"s", alg, b"N1", b"N2");
    fill_digest(&mut pkt, Transport::Ip, &key).expect("filled");
    let shared = v3_control_key(b"s", alg);
    assert_eq!(shared, hmac(alg, b"s", &[&[2]]));
    let want = hmac(alg, &shared, &[b"N1", b"N2", &zeroed]);
    // Message Type AVP (8) + digest AVP header (6) + digest type (1).
    let at = 4 + 12 + 8 + 6 + 1;
    assert_eq!(&pkt[at..at + 16], &want[..]);
}

#[test]
fn sccrq_digest_ignores_nonces() {
    let alg = DigestAlg::HmacSha1;
    let mut pkt = digest_packet(MessageType::Sccrq, Transport::Udp, alg);
    fill_digest(&mut pkt, Transport::Udp, &DigestKey::new(b"s", alg, b"mine", b"")).expect("filled");
    // The responder has no relation to the nonces yet: any nonce values verify.
    assert_eq!(verify_digest(&pkt, Transport::Udp, &DigestKey::new(b"s", alg, b"x", b"y")), Ok(()));
    assert_eq!(verify_digest(&pkt, Transport::Udp, &DigestKey::new(b"s", DigestAlg::HmacMd5, b"", b"")), Err(AuthError::AlgMismatch));
    let mut no_digest = Vec::new();
    let header = ControlHeader { version: Version::V3, tunnel_id: 1, session_id: 0, ns: 0, nr: 0 };
    emit_control(Transport::Udp, &header, &[0x80, 0x08, 0, 0, 0, 0, 0, 6], &mut no_digest);
    assert_eq!(verify_digest(&no_digest, Transport::Udp, &DigestKey::new(b"s", alg, b"", b"")), Err(AuthError::NoDigestAvp));
}
