//! Typed L2TP control messages: decode an AVP list into [`ControlMessage`],
//! encode one back, and validate the per-message required AVPs.
//!
//! Decoding (RFC 2661 §4.1, §4.3, §4.4; RFC 3931 §5): the Message Type AVP must
//! come first; hidden AVPs are revealed with the tunnel secret and the most
//! recent preceding Random Vector; IETF AVPs are checked against their shape in
//! [`AVP_TABLE`](crate::proto::avp::AVP_TABLE) and stored in [`Avps`]; unknown
//! or vendor AVPs without the M bit are listed in [`Avps::ignored`]; unknown
//! AVPs with the M bit make [`decode`] fail with
//! [`DecodeError::UnknownMandatoryAvp`] ([`decode_partial`] keeps them in
//! [`Avps::unknown_mandatory`] instead, so the caller still learns the message
//! type and session ids it needs to answer with StopCCN or CDN). Duplicate AVPs:
//! the last one wins.
//!
//! Validation ([`validate`]) is separate because the codec does not know the
//! tunnel's version; the required AVPs of each message are the table
//! [`MESSAGE_RULES`] (RFC 2661 §6, RFC 3931 §6).

use crate::proto::auth::DigestAlg;
use crate::proto::avp::{attr, avp_spec, write_avp, AvpError, AvpIter, MPolicy, ValueShape, AVP_MAX_VALUE_LEN, AVP_TABLE};
use crate::proto::header::Version;
use crate::proto::hide::{hide, unhide};
use crate::proto::result::error;
use crate::proto::result::stop_ccn;
use std::fmt;

/// Control message types (RFC 2661 §3.2, RFC 3931 §3.1 and §5.3 for ACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MessageType {
    /// Start-Control-Connection-Request.
    Sccrq = 1,
    /// Start-Control-Connection-Reply.
    Sccrp = 2,
    /// Start-Control-Connection-Connected.
    Scccn = 3,
    /// Stop-Control-Connection-Notification.
    StopCcn = 4,
    /// Hello (keepalive).
    Hello = 6,
    /// Outgoing-Call-Request.
    Ocrq = 7,
    /// Outgoing-Call-Reply.
    Ocrp = 8,
    /// Outgoing-Call-Connected.
    Occn = 9,
    /// Incoming-Call-Request.
    Icrq = 10,
    /// Incoming-Call-Reply.
    Icrp = 11,
    /// Incoming-Call-Connected.
    Iccn = 12,
    /// Call-Disconnect-Notify.
    Cdn = 14,
    /// WAN-Error-Notify.
    Wen = 15,
    /// Set-Link-Info.
    Sli = 16,
    /// Explicit acknowledgement (RFC 3931 §5.3).
    Ack = 20,
}

impl MessageType {
    /// Every message type, in numeric order.
    pub const ALL: [MessageType; 15] = [
        MessageType::Sccrq,
        MessageType::Sccrp,
        MessageType::Scccn,
        MessageType::StopCcn,
        MessageType::Hello,
        MessageType::Ocrq,
        MessageType::Ocrp,
        MessageType::Occn,
        MessageType::Icrq,
        MessageType::Icrp,
        MessageType::Iccn,
        MessageType::Cdn,
        MessageType::Wen,
        MessageType::Sli,
        MessageType::Ack,
    ];

    /// The message type of a Message Type AVP value, if known.
    pub fn from_u16(v: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| *t as u16 == v)
    }

    /// The RFC abbreviation: "SCCRQ", "StopCCN", "ICRQ", "ACK" ...
    pub fn name(&self) -> &'static str {
        match self {
            MessageType::Sccrq => "SCCRQ",
            MessageType::Sccrp => "SCCRP",
            MessageType::Scccn => "SCCCN",
            MessageType::StopCcn => "StopCCN",
            MessageType::Hello => "HELLO",
            MessageType::Ocrq => "OCRQ",
            MessageType::Ocrp => "OCRP",
            MessageType::Occn => "OCCN",
            MessageType::Icrq => "ICRQ",
            MessageType::Icrp => "ICRP",
            MessageType::Iccn => "ICCN",
            MessageType::Cdn => "CDN",
            MessageType::Wen => "WEN",
            MessageType::Sli => "SLI",
            MessageType::Ack => "ACK",
        }
    }

    /// True for call management / session messages (OCRQ..SLI, CDN): errors in
    /// them close the session (CDN), not the tunnel (RFC 2661 §4.1).
    pub fn is_session_message(&self) -> bool {
        matches!(
            self,
            MessageType::Ocrq
                | MessageType::Ocrp
                | MessageType::Occn
                | MessageType::Icrq
                | MessageType::Icrp
                | MessageType::Iccn
                | MessageType::Cdn
                | MessageType::Wen
                | MessageType::Sli
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Result Code AVP value (RFC 2661 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultCode {
    /// Result code ([`crate::proto::result::stop_ccn`] or [`crate::proto::result::cdn`]).
    pub result: u16,
    /// General error code ([`crate::proto::result::error`]), optional.
    pub error: Option<u16>,
    /// Human-readable message; sent after `error`, or after error 0 (No
    /// general error) when `error` is `None`.
    pub message: Option<String>,
}

/// Q.931 Cause Code AVP value (RFC 2661 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Q931Cause {
    /// Cause code (Q.931).
    pub cause_code: u16,
    /// Q.931 message type the cause was received in.
    pub cause_msg: u8,
    /// Optional advisory text.
    pub advisory: Option<Vec<u8>>,
}

/// Call Errors AVP value (RFC 2661 §4.4.6); counters since the call started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallErrors {
    /// CRC errors.
    pub crc_errors: u32,
    /// Framing errors.
    pub framing_errors: u32,
    /// Hardware overruns.
    pub hardware_overruns: u32,
    /// Buffer overruns.
    pub buffer_overruns: u32,
    /// Time-out errors.
    pub timeout_errors: u32,
    /// Alignment errors.
    pub alignment_errors: u32,
}

/// ACCM AVP value (RFC 2661 §4.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accm {
    /// Send ACCM.
    pub send: u32,
    /// Receive ACCM.
    pub recv: u32,
}

/// An AVP the codec does not interpret (kept for logging/counting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAvp {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Attribute type.
    pub attr_type: u16,
    /// Value length, octets.
    pub len: usize,
}

/// All AVPs of a control message, one field per known IETF AVP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Avps {
    /// Result Code (1).
    pub result_code: Option<ResultCode>,
    /// Protocol Version (2): (version, revision), normally (1, 0).
    pub protocol_version: Option<(u8, u8)>,
    /// Framing Capabilities (3) bit mask (1 = sync, 2 = async).
    pub framing_capabilities: Option<u32>,
    /// Bearer Capabilities (4) bit mask (1 = digital, 2 = analog).
    pub bearer_capabilities: Option<u32>,
    /// Tie Breaker (5).
    pub tie_breaker: Option<[u8; 8]>,
    /// Firmware Revision (6).
    pub firmware_revision: Option<u16>,
    /// Host Name (7).
    pub host_name: Option<Vec<u8>>,
    /// Vendor Name (8).
    pub vendor_name: Option<Vec<u8>>,
    /// Assigned Tunnel ID (9).
    pub assigned_tunnel_id: Option<u16>,
    /// Receive Window Size (10), messages.
    pub receive_window_size: Option<u16>,
    /// Challenge (11).
    pub challenge: Option<Vec<u8>>,
    /// Q.931 Cause Code (12).
    pub q931_cause: Option<Q931Cause>,
    /// Challenge Response (13).
    pub challenge_response: Option<[u8; 16]>,
    /// Assigned Session ID (14).
    pub assigned_session_id: Option<u16>,
    /// Call Serial Number (15).
    pub call_serial_number: Option<u32>,
    /// Minimum BPS (16), bits/s.
    pub minimum_bps: Option<u32>,
    /// Maximum BPS (17), bits/s.
    pub maximum_bps: Option<u32>,
    /// Bearer Type (18).
    pub bearer_type: Option<u32>,
    /// Framing Type (19).
    pub framing_type: Option<u32>,
    /// Called Number (21).
    pub called_number: Option<Vec<u8>>,
    /// Calling Number (22).
    pub calling_number: Option<Vec<u8>>,
    /// Sub-Address (23).
    pub sub_address: Option<Vec<u8>>,
    /// (Tx) Connect Speed (24), bits/s.
    pub tx_connect_speed: Option<u32>,
    /// Physical Channel ID (25).
    pub physical_channel_id: Option<u32>,
    /// Initial Received LCP CONFREQ (26).
    pub initial_received_lcp_confreq: Option<Vec<u8>>,
    /// Last Sent LCP CONFREQ (27).
    pub last_sent_lcp_confreq: Option<Vec<u8>>,
    /// Last Received LCP CONFREQ (28).
    pub last_received_lcp_confreq: Option<Vec<u8>>,
    /// Proxy Authen Type (29).
    pub proxy_authen_type: Option<u16>,
    /// Proxy Authen Name (30).
    pub proxy_authen_name: Option<Vec<u8>>,
    /// Proxy Authen Challenge (31).
    pub proxy_authen_challenge: Option<Vec<u8>>,
    /// Proxy Authen ID (32).
    pub proxy_authen_id: Option<u16>,
    /// Proxy Authen Response (33).
    pub proxy_authen_response: Option<Vec<u8>>,
    /// Call Errors (34).
    pub call_errors: Option<CallErrors>,
    /// ACCM (35).
    pub accm: Option<Accm>,
    /// Private Group ID (37).
    pub private_group_id: Option<Vec<u8>>,
    /// Rx Connect Speed (38), bits/s.
    pub rx_connect_speed: Option<u32>,
    /// Sequencing Required (39) present.
    pub sequencing_required: bool,
    /// Extended Vendor ID (58).
    pub extended_vendor_id: Option<u32>,
    /// Message Digest (59): (Digest Type, digest). On encode this field is
    /// ignored; [`EncodeCtx::digest`] controls the placeholder.
    pub message_digest: Option<(u8, Vec<u8>)>,
    /// Router ID (60).
    pub router_id: Option<u32>,
    /// Assigned Control Connection ID (61).
    pub assigned_control_connection_id: Option<u32>,
    /// Pseudowire Capabilities List (62).
    pub pseudowire_capabilities: Option<Vec<u16>>,
    /// Local Session ID (63).
    pub local_session_id: Option<u32>,
    /// Remote Session ID (64).
    pub remote_session_id: Option<u32>,
    /// Assigned Cookie (65), 4 or 8 octets.
    pub assigned_cookie: Option<Vec<u8>>,
    /// Remote End ID (66).
    pub remote_end_id: Option<Vec<u8>>,
    /// Pseudowire Type (68).
    pub pseudowire_type: Option<u16>,
    /// L2-Specific Sublayer (69).
    pub l2_specific_sublayer: Option<u16>,
    /// Data Sequencing (70).
    pub data_sequencing: Option<u16>,
    /// Circuit Status (71).
    pub circuit_status: Option<u16>,
    /// Preferred Language (72).
    pub preferred_language: Option<Vec<u8>>,
    /// Control Message Authentication Nonce (73).
    pub control_message_auth_nonce: Option<Vec<u8>>,
    /// Tx Connect Speed (74), bits/s.
    pub tx_connect_speed_bps: Option<u64>,
    /// Rx Connect Speed (75), bits/s.
    pub rx_connect_speed_bps: Option<u64>,
    /// AVPs not IETF-known, or vendor-specific, with the M bit clear (ignored).
    pub ignored: Vec<UnknownAvp>,
    /// Unknown AVPs with the M bit set (only filled by [`decode_partial`]).
    pub unknown_mandatory: Vec<UnknownAvp>,
}

/// A decoded or to-be-encoded control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    /// Message type.
    pub msg_type: MessageType,
    /// Its AVPs.
    pub avps: Avps,
}

impl ControlMessage {
    /// A message of type `msg_type` with no AVPs besides Message Type.
    pub fn new(msg_type: MessageType) -> Self {
        ControlMessage { msg_type, avps: Avps::default() }
    }
}

/// How to encode.
pub struct EncodeCtx<'a> {
    /// Tunnel secret (needed to hide).
    pub secret: Option<&'a [u8]>,
    /// Hide the AVPs that may be hidden (RFC 2661 §4.3); needs `secret`.
    pub hide: bool,
    /// Fills a buffer with random octets (Random Vector); the core has no RNG.
    pub random: &'a mut dyn FnMut(&mut [u8]),
    /// Add a zeroed Message Digest AVP right after Message Type, to be filled in
    /// by [`crate::proto::auth::fill_digest`] after the header is emitted.
    pub digest: Option<DigestAlg>,
}

/// How to decode.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeCtx<'a> {
    /// Tunnel secret, to reveal hidden AVPs.
    pub secret: Option<&'a [u8]>,
}

/// Why a control message was rejected. [`DecodeError::result_code`] gives
/// what to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// Malformed AVP framing: drop the packet.
    Avp(AvpError),
    /// No Message Type AVP first (RFC 2661 §4.4.1).
    MissingMessageType,
    /// Unknown message type; with M bit: tear the tunnel down, else ignore.
    UnknownMessageType {
        /// The Message Type value.
        msg_type: u16,
        /// Its M bit.
        mandatory: bool,
    },
    /// Unrecognized AVP with the M bit (RFC 2661 §4.1): close the session (for
    /// session messages) or the tunnel.
    UnknownMandatoryAvp {
        /// Vendor ID.
        vendor_id: u16,
        /// Attribute type.
        attr_type: u16,
    },
    /// A known AVP with a malformed value (wrong length, or hidden when it
    /// must not be).
    BadAvpValue {
        /// Attribute type.
        attr_type: u16,
    },
    /// A required AVP is missing ([`validate`]).
    MissingAvp {
        /// Message type.
        msg_type: MessageType,
        /// Missing attribute type.
        attr_type: u16,
    },
    /// A hidden AVP arrived but no secret is configured.
    HiddenWithoutSecret,
    /// A hidden AVP without a preceding Random Vector.
    HiddenWithoutRandomVector,
    /// A hidden AVP whose revealed length is impossible (wrong secret?).
    BadHiddenLength,
}

impl DecodeError {
    /// The (Result Code, Error Code) to send in StopCCN or CDN (RFC 2661
    /// §4.4.2; result 2 is "general error" in both tables), or `None` when
    /// the message is to be dropped or ignored silently.
    pub fn result_code(&self) -> Option<(u16, u16)> {
        match self {
            DecodeError::Avp(_) | DecodeError::MissingMessageType => None,
            DecodeError::UnknownMessageType { mandatory, .. } => mandatory.then_some((stop_ccn::GENERAL_ERROR, error::BAD_VALUE)),
            DecodeError::UnknownMandatoryAvp { .. } => Some((stop_ccn::GENERAL_ERROR, error::UNKNOWN_MANDATORY_AVP)),
            DecodeError::BadAvpValue { .. } => Some((stop_ccn::GENERAL_ERROR, error::BAD_LENGTH)),
            DecodeError::MissingAvp { .. } | DecodeError::HiddenWithoutSecret | DecodeError::HiddenWithoutRandomVector | DecodeError::BadHiddenLength => {
                Some((stop_ccn::GENERAL_ERROR, error::BAD_VALUE))
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Avp(e) => write!(f, "{e}"),
            DecodeError::MissingMessageType => write!(f, "first AVP is not Message Type"),
            DecodeError::UnknownMessageType { msg_type, mandatory } => {
                write!(f, "unknown message type {msg_type} mandatory={mandatory}")
            }
            DecodeError::UnknownMandatoryAvp { vendor_id, attr_type } => {
                write!(f, "unknown mandatory AVP vendor={vendor_id} type={attr_type}")
            }
            DecodeError::BadAvpValue { attr_type } => {
                write!(f, "bad value in AVP type={attr_type}")
            }
            DecodeError::MissingAvp { msg_type, attr_type } => {
                write!(f, "{msg_type} without required AVP type={attr_type}")
            }
            DecodeError::HiddenWithoutSecret => write!(f, "hidden AVP but no secret"),
            DecodeError::HiddenWithoutRandomVector => write!(f, "hidden AVP without Random Vector"),
            DecodeError::BadHiddenLength => write!(f, "hidden AVP with bad length (wrong secret?)"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<AvpError> for DecodeError {
    fn from(e: AvpError) -> Self {
        DecodeError::Avp(e)
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Big-endian u16 from exactly 2 octets.
fn v_u16(v: &[u8], attr_type: u16) -> Result<u16, DecodeError> {
    match v {
        &[a, b] => Ok(u16::from_be_bytes([a, b])),
        _ => Err(DecodeError::BadAvpValue { attr_type }),
    }
}

/// Big-endian u32 from exactly 4 octets.
fn v_u32(v: &[u8], attr_type: u16) -> Result<u32, DecodeError> {
    match v {
        &[a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(DecodeError::BadAvpValue { attr_type }),
    }
}

/// Big-endian u64 from exactly 8 octets.
fn v_u64(v: &[u8], attr_type: u16) -> Result<u64, DecodeError> {
    let a: [u8; 8] = v.try_into().map_err(|_| DecodeError::BadAvpValue { attr_type })?;
    Ok(u64::from_be_bytes(a))
}

/// Checks a value's length against its registry shape.
fn check_shape(shape: ValueShape, v: &[u8], attr_type: u16) -> Result<(), DecodeError> {
    let ok = match shape {
        ValueShape::Empty => v.is_empty(),
        ValueShape::U16 => v.len() == 2,
        ValueShape::U32 => v.len() == 4,
        ValueShape::U64 => v.len() == 8,
        ValueShape::Fixed(n) => v.len() == n,
        ValueShape::String => !v.is_empty(),
        ValueShape::Bytes | ValueShape::Composite => true,
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::BadAvpValue { attr_type })
    }
}

/// Parses the Result Code value (RFC 2661 §4.4.2).
fn parse_result_code(v: &[u8]) -> Result<ResultCode, DecodeError> {
    let bad = DecodeError::BadAvpValue { attr_type: attr::RESULT_CODE };
    match v {
        &[a, b] => Ok(ResultCode { result: u16::from_be_bytes([a, b]), error: None, message: None }),
        [a, b, c, d, msg @ ..] => Ok(ResultCode {
            result: u16::from_be_bytes([*a, *b]),
            error: Some(u16::from_be_bytes([*c, *d])),
            message: (!msg.is_empty()).then(|| String::from_utf8_lossy(msg).into_owned()),
        }),
        _ => Err(bad),
    }
}

/// Parses the Q.931 Cause Code value (RFC 2661 §4.4.2).
fn parse_q931(v: &[u8]) -> Result<Q931Cause, DecodeError> {
    match v {
        [a, b, m, adv @ ..] => Ok(Q931Cause { cause_code: u16::from_be_bytes([*a, *b]), cause_msg: *m, advisory: (!adv.is_empty()).then(|| adv.to_vec()) }),
        _ => Err(DecodeError::BadAvpValue { attr_type: attr::Q931_CAUSE_CODE }),
    }
}

/// Reads the n-th big-endian u32 after a 2-octet reserved field.
fn u32_after_reserved(v: &[u8], n: usize, attr_type: u16) -> Result<u32, DecodeError> {
    let start = 2 + 4 * n;
    v_u32(v.get(start..start + 4).unwrap_or(&[]), attr_type)
}

/// Stores an RFC 2661 AVP (types 0–39) whose shape was already checked.
fn apply_v2(a: &mut Avps, t: u16, v: &[u8]) -> Result<(), DecodeError> {
    match t {
        attr::RESULT_CODE => a.result_code = Some(parse_result_code(v)?),
        attr::PROTOCOL_VERSION => {
            a.protocol_version = match v {
                &[x, y] => Some((x, y)),
                _ => return Err(DecodeError::BadAvpValue { attr_type: t }),
            }
        }
        attr::FRAMING_CAPABILITIES => a.framing_capabilities = Some(v_u32(v, t)?),
        attr::BEARER_CAPABILITIES => a.bearer_capabilities = Some(v_u32(v, t)?),
        attr::TIE_BREAKER => a.tie_breaker = Some(v.try_into().map_err(|_| DecodeError::BadAvpValue { attr_type: t })?),
        attr::FIRMWARE_REVISION => a.firmware_revision = Some(v_u16(v, t)?),
        attr::HOST_NAME => a.host_name = Some(v.to_vec()),
        attr::VENDOR_NAME => a.vendor_name = Some(v.to_vec()),
        attr::ASSIGNED_TUNNEL_ID => a.assigned_tunnel_id = Some(v_u16(v, t)?),
        attr::RECEIVE_WINDOW_SIZE => a.receive_window_size = Some(v_u16(v, t)?),
        attr::CHALLENGE => a.challenge = Some(v.to_vec()),
        attr::Q931_CAUSE_CODE => a.q931_cause = Some(parse_q931(v)?),
        attr::CHALLENGE_RESPONSE => a.challenge_response = Some(v.try_into().map_err(|_| DecodeError::BadAvpValue { attr_type: t })?),
        attr::ASSIGNED_SESSION_ID => a.assigned_session_id = Some(v_u16(v, t)?),
        attr::CALL_SERIAL_NUMBER => a.call_serial_number = Some(v_u32(v, t)?),
        attr::MINIMUM_BPS => a.minimum_bps = Some(v_u32(v, t)?),
        attr::MAXIMUM_BPS => a.maximum_bps = Some(v_u32(v, t)?),
        attr::BEARER_TYPE => a.bearer_type = Some(v_u32(v, t)?),
        attr::FRAMING_TYPE => a.framing_type = Some(v_u32(v, t)?),
        attr::CALLED_NUMBER => a.called_number = Some(v.to_vec()),
        attr::CALLING_NUMBER => a.calling_number = Some(v.to_vec()),
        attr::SUB_ADDRESS => a.sub_address = Some(v.to_vec()),
        attr::TX_CONNECT_SPEED => a.tx_connect_speed = Some(v_u32(v, t)?),
        attr::PHYSICAL_CHANNEL_ID => a.physical_channel_id = Some(v_u32(v, t)?),
        attr::INITIAL_RECEIVED_LCP_CONFREQ => a.initial_received_lcp_confreq = Some(v.to_vec()),
        attr::LAST_SENT_LCP_CONFREQ => a.last_sent_lcp_confreq = Some(v.to_vec()),
        attr::LAST_RECEIVED_LCP_CONFREQ => a.last_received_lcp_confreq = Some(v.to_vec()),
        attr::PROXY_AUTHEN_TYPE => a.proxy_authen_type = Some(v_u16(v, t)?),
        attr::PROXY_AUTHEN_NAME => a.proxy_authen_name = Some(v.to_vec()),
        attr::PROXY_AUTHEN_CHALLENGE => a.proxy_authen_challenge = Some(v.to_vec()),
        attr::PROXY_AUTHEN_ID => a.proxy_authen_id = Some(v_u16(v, t)?),
        attr::PROXY_AUTHEN_RESPONSE => a.proxy_authen_response = Some(v.to_vec()),
        attr::CALL_ERRORS => {
            let f = |n| u32_after_reserved(v, n, t);
            a.call_errors = Some(CallErrors {
                crc_errors: f(0)?,
                framing_errors: f(1)?,
                hardware_overruns: f(2)?,
                buffer_overruns: f(3)?,
                timeout_errors: f(4)?,
                alignment_errors: f(5)?,
            });
        }
        attr::ACCM => a.accm = Some(Accm { send: u32_after_reserved(v, 0, t)?, recv: u32_after_reserved(v, 1, t)? }),
        attr::PRIVATE_GROUP_ID => a.private_group_id = Some(v.to_vec()),
        attr::RX_CONNECT_SPEED => a.rx_connect_speed = Some(v_u32(v, t)?),
        attr::SEQUENCING_REQUIRED => a.sequencing_required = true,
        _ => return apply_v3(a, t, v),
    }
    Ok(())
}

/// Stores an RFC 3931 AVP (types 58–75) whose shape was already checked.
fn apply_v3(a: &mut Avps, t: u16, v: &[u8]) -> Result<(), DecodeError> {
    let bad = DecodeError::BadAvpValue { attr_type: t };
    match t {
        attr::EXTENDED_VENDOR_ID => a.extended_vendor_id = Some(v_u32(v, t)?),
        attr::MESSAGE_DIGEST => {
            let (&ty, d) = v.split_first().ok_or(bad)?;
            a.message_digest = Some((ty, d.to_vec()));
        }
        attr::ROUTER_ID => a.router_id = Some(v_u32(v, t)?),
        attr::ASSIGNED_CONTROL_CONNECTION_ID => a.assigned_control_connection_id = Some(v_u32(v, t)?),
        attr::PSEUDOWIRE_CAPABILITIES_LIST => {
            if v.len() & 1 == 1 {
                return Err(bad);
            }
            let list = v.chunks_exact(2).filter_map(|c| <[u8; 2]>::try_from(c).ok()).map(u16::from_be_bytes).collect();
            a.pseudowire_capabilities = Some(list);
        }
        attr::LOCAL_SESSION_ID => a.local_session_id = Some(v_u32(v, t)?),
        attr::REMOTE_SESSION_ID => a.remote_session_id = Some(v_u32(v, t)?),
        attr::ASSIGNED_COOKIE => {
            if v.len() != 4 && v.len() != 8 {
                return Err(bad);
            }
            a.assigned_cookie = Some(v.to_vec());
        }
        attr::REMOTE_END_ID => a.remote_end_id = Some(v.to_vec()),
        attr::PSEUDOWIRE_TYPE => a.pseudowire_type = Some(v_u16(v, t)?),
        attr::L2_SPECIFIC_SUBLAYER => a.l2_specific_sublayer = Some(v_u16(v, t)?),
        attr::DATA_SEQUENCING => a.data_sequencing = Some(v_u16(v, t)?),
        attr::CIRCUIT_STATUS => a.circuit_status = Some(v_u16(v, t)?),
        attr::PREFERRED_LANGUAGE => a.preferred_language = Some(v.to_vec()),
        attr::CONTROL_MESSAGE_AUTH_NONCE => a.control_message_auth_nonce = Some(v.to_vec()),
        attr::TX_CONNECT_SPEED_V3 => a.tx_connect_speed_bps = Some(v_u64(v, t)?),
        attr::RX_CONNECT_SPEED_V3 => a.rx_connect_speed_bps = Some(v_u64(v, t)?),
        // Table rows without a field (Message Type, Random Vector) never get here.
        _ => return Err(bad),
    }
    Ok(())
}

/// Reads the leading Message Type AVP (RFC 2661 §4.4.1: MUST be first, MUST
/// NOT be hidden).
fn first_message_type(it: &mut AvpIter<'_>) -> Result<MessageType, DecodeError> {
    let first = match it.next() {
        Some(r) => r?,
        None => return Err(DecodeError::MissingMessageType),
    };
    if first.vendor_id != 0 || first.attr_type != attr::MESSAGE_TYPE {
        return Err(DecodeError::MissingMessageType);
    }
    if first.hidden {
        return Err(DecodeError::BadAvpValue { attr_type: attr::MESSAGE_TYPE });
    }
    let v = v_u16(first.value, attr::MESSAGE_TYPE)?;
    MessageType::from_u16(v).ok_or(DecodeError::UnknownMessageType { msg_type: v, mandatory: first.mandatory })
}

/// Decodes the AVP list of a control message (the octets after the header),
/// keeping unknown M-bit AVPs in [`Avps::unknown_mandatory`] rather than
/// failing, so the caller can still answer with StopCCN or CDN.
///
/// Errors: framing ([`DecodeError::Avp`]), Message Type missing or unknown,
/// bad values, and the hidden-AVP errors. An empty list (ZLB) is
/// [`DecodeError::MissingMessageType`]: callers handle ZLBs before decoding.
pub fn decode_partial(avps: &[u8], ctx: &DecodeCtx<'_>) -> Result<ControlMessage, DecodeError> {
    let mut it = AvpIter::new(avps);
    let msg_type = first_message_type(&mut it)?;
    let mut out = Avps::default();
    let mut random_vector: Option<&[u8]> = None;
    for raw in it {
        let raw = raw?;
        let known = if raw.vendor_id == 0 && !raw.reserved_bits { avp_spec(raw.attr_type) } else { None };
        let Some(spec) = known else {
            let u = UnknownAvp { vendor_id: raw.vendor_id, attr_type: raw.attr_type, len: raw.value.len() };
            if raw.mandatory {
                out.unknown_mandatory.push(u);
            } else {
                out.ignored.push(u);
            }
            continue;
        };
        if spec.attr_type == attr::RANDOM_VECTOR || spec.attr_type == attr::MESSAGE_TYPE {
            if raw.hidden {
                return Err(DecodeError::BadAvpValue { attr_type: spec.attr_type });
            }
            if spec.attr_type == attr::RANDOM_VECTOR {
                random_vector = Some(raw.value);
            }
            continue;
        }
        let revealed;
        let value: &[u8] = if raw.hidden {
            let secret = ctx.secret.ok_or(DecodeError::HiddenWithoutSecret)?;
            let rv = random_vector.ok_or(DecodeError::HiddenWithoutRandomVector)?;
            revealed = unhide(raw.attr_type, raw.value, secret, rv).map_err(|_| DecodeError::BadHiddenLength)?;
            &revealed
        } else {
            raw.value
        };
        check_shape(spec.shape, value, spec.attr_type)?;
        apply_v2(&mut out, spec.attr_type, value)?;
    }
    Ok(ControlMessage { msg_type, avps: out })
}

/// Decodes the AVP list of a control message (RFC 2661 §4; RFC 3931 §5).
///
/// Like [`decode_partial`], but an unknown AVP with the M bit is an error:
/// [`DecodeError::UnknownMandatoryAvp`] for the first one.
pub fn decode(avps: &[u8], ctx: &DecodeCtx<'_>) -> Result<ControlMessage, DecodeError> {
    let msg = decode_partial(avps, ctx)?;
    if let Some(u) = msg.avps.unknown_mandatory.first() {
        return Err(DecodeError::UnknownMandatoryAvp { vendor_id: u.vendor_id, attr_type: u.attr_type });
    }
    Ok(msg)
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/// Pushes `(type, value)` when `v` is set.
fn push<T>(list: &mut Vec<(u16, Vec<u8>)>, t: u16, v: &Option<T>, f: impl Fn(&T) -> Vec<u8>) {
    if let Some(x) = v {
        list.push((t, f(x)));
    }
}

/// The value octets of every set RFC 2661 field, in attribute-type order.
fn v2_values(a: &Avps, l: &mut Vec<(u16, Vec<u8>)>) {
    let b = |x: &Vec<u8>| x.clone();
    let w16 = |x: &u16| x.to_be_bytes().to_vec();
    let w32 = |x: &u32| x.to_be_bytes().to_vec();
    push(l, attr::RESULT_CODE, &a.result_code, |r| {
        // A message may only follow an error code (RFC 2661 §4.4.2): a
        // message without one goes out after error 0, "No general error".
        let mut v = r.result.to_be_bytes().to_vec();
        let error = r.error.or(r.message.as_ref().map(|_| crate::proto::result::error::NO_GENERAL_ERROR));
        if let Some(e) = error {
            v.extend_from_slice(&e.to_be_bytes());
            if let Some(m) = &r.message {
                v.extend_from_slice(m.as_bytes());
            }
        }
        v
    });
    push(l, attr::PROTOCOL_VERSION, &a.protocol_version, |&(x, y)| vec![x, y]);
    push(l, attr::FRAMING_CAPABILITIES, &a.framing_capabilities, w32);
    push(l, attr::BEARER_CAPABILITIES, &a.bearer_capabilities, w32);
    push(l, attr::TIE_BREAKER, &a.tie_breaker, |x| x.to_vec());
    push(l, attr::FIRMWARE_REVISION, &a.firmware_revision, w16);
    push(l, attr::HOST_NAME, &a.host_name, b);
    push(l, attr::VENDOR_NAME, &a.vendor_name, b);
    push(l, attr::ASSIGNED_TUNNEL_ID, &a.assigned_tunnel_id, w16);
    push(l, attr::RECEIVE_WINDOW_SIZE, &a.receive_window_size, w16);
    push(l, attr::CHALLENGE, &a.challenge, b);
    push(l, attr::Q931_CAUSE_CODE, &a.q931_cause, |q| {
        let mut v = q.cause_code.to_be_bytes().to_vec();
        v.push(q.cause_msg);
        v.extend_from_slice(q.advisory.as_deref().unwrap_or(&[]));
        v
    });
    push(l, attr::CHALLENGE_RESPONSE, &a.challenge_response, |x| x.to_vec());
    push(l, attr::ASSIGNED_SESSION_ID, &a.assigned_session_id, w16);
    push(l, attr::CALL_SERIAL_NUMBER, &a.call_serial_number, w32);
    push(l, attr::MINIMUM_BPS, &a.minimum_bps, w32);
    push(l, attr::MAXIMUM_BPS, &a.maximum_bps, w32);
    push(l, attr::BEARER_TYPE, &a.bearer_type, w32);
    push(l, attr::FRAMING_TYPE, &a.framing_type, w32);
    push(l, attr::CALLED_NUMBER, &a.called_number, b);
    push(l, attr::CALLING_NUMBER, &a.calling_number, b);
    push(l, attr::SUB_ADDRESS, &a.sub_address, b);
    push(l, attr::TX_CONNECT_SPEED, &a.tx_connect_speed, w32);
    push(l, attr::PHYSICAL_CHANNEL_ID, &a.physical_channel_id, w32);
    push(l, attr::INITIAL_RECEIVED_LCP_CONFREQ, &a.initial_received_lcp_confreq, b);
    push(l, attr::LAST_SENT_LCP_CONFREQ, &a.last_sent_lcp_confreq, b);
    push(l, attr::LAST_RECEIVED_LCP_CONFREQ, &a.last_received_lcp_confreq, b);
    push(l, attr::PROXY_AUTHEN_TYPE, &a.proxy_authen_type, w16);
    push(l, attr::PROXY_AUTHEN_NAME, &a.proxy_authen_name, b);
    push(l, attr::PROXY_AUTHEN_CHALLENGE, &a.proxy_authen_challenge, b);
    push(l, attr::PROXY_AUTHEN_ID, &a.proxy_authen_id, w16);
    push(l, attr::PROXY_AUTHEN_RESPONSE, &a.proxy_authen_response, b);
    push(l, attr::CALL_ERRORS, &a.call_errors, |c| {
        let mut v = vec![0, 0];
        for x in [c.crc_errors, c.framing_errors, c.hardware_overruns, c.buffer_overruns, c.timeout_errors, c.alignment_errors] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    });
    push(l, attr::ACCM, &a.accm, |c| {
        let mut v = vec![0, 0];
        v.extend_from_slice(&c.send.to_be_bytes());
        v.extend_from_slice(&c.recv.to_be_bytes());
        v
    });
    push(l, attr::PRIVATE_GROUP_ID, &a.private_group_id, b);
    push(l, attr::RX_CONNECT_SPEED, &a.rx_connect_speed, w32);
    if a.sequencing_required {
        l.push((attr::SEQUENCING_REQUIRED, Vec::new()));
    }
}

/// The value octets of every set RFC 3931 field, in attribute-type order
/// (Message Digest excluded: see [`EncodeCtx::digest`]).
fn v3_values(a: &Avps, l: &mut Vec<(u16, Vec<u8>)>) {
    let b = |x: &Vec<u8>| x.clone();
    let w16 = |x: &u16| x.to_be_bytes().to_vec();
    let w32 = |x: &u32| x.to_be_bytes().to_vec();
    let w64 = |x: &u64| x.to_be_bytes().to_vec();
    push(l, attr::EXTENDED_VENDOR_ID, &a.extended_vendor_id, w32);
    push(l, attr::ROUTER_ID, &a.router_id, w32);
    push(l, attr::ASSIGNED_CONTROL_CONNECTION_ID, &a.assigned_control_connection_id, w32);
    push(l, attr::PSEUDOWIRE_CAPABILITIES_LIST, &a.pseudowire_capabilities, |c| c.iter().flat_map(|x| x.to_be_bytes()).collect());
    push(l, attr::LOCAL_SESSION_ID, &a.local_session_id, w32);
    push(l, attr::REMOTE_SESSION_ID, &a.remote_session_id, w32);
    push(l, attr::ASSIGNED_COOKIE, &a.assigned_cookie, b);
    push(l, attr::REMOTE_END_ID, &a.remote_end_id, b);
    push(l, attr::PSEUDOWIRE_TYPE, &a.pseudowire_type, w16);
    push(l, attr::L2_SPECIFIC_SUBLAYER, &a.l2_specific_sublayer, w16);
    push(l, attr::DATA_SEQUENCING, &a.data_sequencing, w16);
    push(l, attr::CIRCUIT_STATUS, &a.circuit_status, w16);
    push(l, attr::PREFERRED_LANGUAGE, &a.preferred_language, b);
    push(l, attr::CONTROL_MESSAGE_AUTH_NONCE, &a.control_message_auth_nonce, b);
    push(l, attr::TX_CONNECT_SPEED_V3, &a.tx_connect_speed_bps, w64);
    push(l, attr::RX_CONNECT_SPEED_V3, &a.rx_connect_speed_bps, w64);
}

/// Length of the Random Vector we send, octets.
const RANDOM_VECTOR_LEN: usize = 16;

/// Encodes a control message's AVPs (no header) into `out` (RFC 2661 §4).
///
/// Order: Message Type; then, when `ctx.digest` is set, a Message Digest AVP
/// with a zeroed digest; then the set fields in attribute-type order. When
/// `ctx.hide` and `ctx.secret` are set, AVPs whose registry row allows it are
/// hidden, with one 16-octet Random Vector (from `ctx.random`) written before
/// the first hidden AVP. The M bit of each AVP comes from the registry.
/// Values longer than 1017 octets are truncated (a caller bug).
pub fn encode(msg: &ControlMessage, ctx: &mut EncodeCtx<'_>, out: &mut Vec<u8>) {
    write_avp(out, true, false, 0, attr::MESSAGE_TYPE, &(msg.msg_type as u16).to_be_bytes());
    if let Some(alg) = ctx.digest {
        let mut v = vec![alg.wire_value()];
        v.resize(1 + alg.digest_len(), 0);
        write_avp(out, true, false, 0, attr::MESSAGE_DIGEST, &v);
    }
    let mut list = Vec::new();
    v2_values(&msg.avps, &mut list);
    v3_values(&msg.avps, &mut list);
    let mut rv: Option<[u8; RANDOM_VECTOR_LEN]> = None;
    for (t, value) in list {
        let Some(spec) = AVP_TABLE.iter().find(|s| s.attr_type == t) else {
            continue;
        };
        let m = spec.mandatory == MPolicy::Always;
        // Hiding adds a 2-octet length prefix: values that would no longer fit
        // in one AVP are sent in the clear.
        let fits = value.len() < AVP_MAX_VALUE_LEN - 1;
        match ctx.secret.filter(|_| ctx.hide && spec.may_hide && fits) {
            Some(secret) => {
                let vector = match rv {
                    Some(v) => v,
                    None => {
                        let mut v = [0u8; RANDOM_VECTOR_LEN];
                        (ctx.random)(&mut v);
                        write_avp(out, true, false, 0, attr::RANDOM_VECTOR, &v);
                        rv = Some(v);
                        v
                    }
                };
                let hidden = hide(t, &value, secret, &vector, &[]);
                write_avp(out, m, true, 0, t, &hidden);
            }
            None => write_avp(out, m, false, 0, t, &value),
        }
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// Required AVPs of one message type, per version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRule {
    /// The message type.
    pub msg_type: MessageType,
    /// AVPs that MUST be present in L2TPv2 (RFC 2661 §6), besides Message Type.
    pub v2_required: &'static [u16],
    /// AVPs that MUST be present in L2TPv3 (RFC 3931 §6), besides Message Type.
    pub v3_required: &'static [u16],
}

use attr as a;

/// Per-message required AVPs (RFC 2661 §6.1–§6.16, RFC 3931 §6.1–§6.15).
/// ACK is not an L2TPv2 message: its v2 list is irrelevant, see [`validate`].
pub static MESSAGE_RULES: &[MessageRule] = &[
    MessageRule {
        msg_type: MessageType::Sccrq,
        v2_required: &[a::PROTOCOL_VERSION, a::HOST_NAME, a::FRAMING_CAPABILITIES, a::ASSIGNED_TUNNEL_ID],
        v3_required: &[a::HOST_NAME, a::ROUTER_ID, a::ASSIGNED_CONTROL_CONNECTION_ID, a::PSEUDOWIRE_CAPABILITIES_LIST],
    },
    MessageRule {
        msg_type: MessageType::Sccrp,
        v2_required: &[a::PROTOCOL_VERSION, a::HOST_NAME, a::FRAMING_CAPABILITIES, a::ASSIGNED_TUNNEL_ID],
        v3_required: &[a::HOST_NAME, a::ROUTER_ID, a::ASSIGNED_CONTROL_CONNECTION_ID, a::PSEUDOWIRE_CAPABILITIES_LIST],
    },
    MessageRule { msg_type: MessageType::Scccn, v2_required: &[], v3_required: &[] },
    MessageRule { msg_type: MessageType::StopCcn, v2_required: &[a::ASSIGNED_TUNNEL_ID, a::RESULT_CODE], v3_required: &[a::RESULT_CODE] },
    MessageRule { msg_type: MessageType::Hello, v2_required: &[], v3_required: &[] },
    MessageRule {
        msg_type: MessageType::Ocrq,
        v2_required: &[a::ASSIGNED_SESSION_ID, a::CALL_SERIAL_NUMBER, a::MINIMUM_BPS, a::MAXIMUM_BPS, a::BEARER_TYPE, a::FRAMING_TYPE, a::CALLED_NUMBER],
        v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID, a::CALL_SERIAL_NUMBER, a::PSEUDOWIRE_TYPE, a::REMOTE_END_ID],
    },
    MessageRule { msg_type: MessageType::Ocrp, v2_required: &[a::ASSIGNED_SESSION_ID], v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID] },
    MessageRule {
        msg_type: MessageType::Occn,
        v2_required: &[a::TX_CONNECT_SPEED, a::FRAMING_TYPE],
        v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID],
    },
    MessageRule {
        msg_type: MessageType::Icrq,
        v2_required: &[a::ASSIGNED_SESSION_ID, a::CALL_SERIAL_NUMBER],
        v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID, a::CALL_SERIAL_NUMBER, a::PSEUDOWIRE_TYPE, a::REMOTE_END_ID],
    },
    MessageRule { msg_type: MessageType::Icrp, v2_required: &[a::ASSIGNED_SESSION_ID], v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID] },
    MessageRule {
        msg_type: MessageType::Iccn,
        v2_required: &[a::TX_CONNECT_SPEED, a::FRAMING_TYPE],
        v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID],
    },
    MessageRule {
        msg_type: MessageType::Cdn,
        v2_required: &[a::RESULT_CODE, a::ASSIGNED_SESSION_ID],
        v3_required: &[a::RESULT_CODE, a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID],
    },
    MessageRule { msg_type: MessageType::Wen, v2_required: &[a::CALL_ERRORS], v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID, a::CALL_ERRORS] },
    MessageRule { msg_type: MessageType::Sli, v2_required: &[a::ACCM], v3_required: &[a::LOCAL_SESSION_ID, a::REMOTE_SESSION_ID] },
    MessageRule { msg_type: MessageType::Ack, v2_required: &[], v3_required: &[] },
];

/// Whether the field for IETF attribute type `t` is set.
fn has(a: &Avps, t: u16) -> bool {
    match t {
        attr::RESULT_CODE => a.result_code.is_some(),
        attr::PROTOCOL_VERSION => a.protocol_version.is_some(),
        attr::FRAMING_CAPABILITIES => a.framing_capabilities.is_some(),
        attr::HOST_NAME => a.host_name.is_some(),
        attr::ASSIGNED_TUNNEL_ID => a.assigned_tunnel_id.is_some(),
        attr::ASSIGNED_SESSION_ID => a.assigned_session_id.is_some(),
        attr::CALL_SERIAL_NUMBER => a.call_serial_number.is_some(),
        attr::MINIMUM_BPS => a.minimum_bps.is_some(),
        attr::MAXIMUM_BPS => a.maximum_bps.is_some(),
        attr::BEARER_TYPE => a.bearer_type.is_some(),
        attr::FRAMING_TYPE => a.framing_type.is_some(),
        attr::CALLED_NUMBER => a.called_number.is_some(),
        attr::TX_CONNECT_SPEED => a.tx_connect_speed.is_some(),
        attr::CALL_ERRORS => a.call_errors.is_some(),
        attr::ACCM => a.accm.is_some(),
        attr::ROUTER_ID => a.router_id.is_some(),
        attr::ASSIGNED_CONTROL_CONNECTION_ID => a.assigned_control_connection_id.is_some(),
        attr::PSEUDOWIRE_CAPABILITIES_LIST => a.pseudowire_capabilities.is_some(),
        attr::LOCAL_SESSION_ID => a.local_session_id.is_some(),
        attr::REMOTE_SESSION_ID => a.remote_session_id.is_some(),
        attr::PSEUDOWIRE_TYPE => a.pseudowire_type.is_some(),
        attr::REMOTE_END_ID => a.remote_end_id.is_some(),
        _ => false,
    }
}

/// Checks that `msg` carries every AVP its type requires in `version`
/// ([`MESSAGE_RULES`]). An ACK in L2TPv2 is reported as an unknown mandatory
/// message type (RFC 2661 defines no type 20).
///
/// Errors: [`DecodeError::MissingAvp`] naming the first missing AVP, or
/// [`DecodeError::UnknownMessageType`].
pub fn validate(msg: &ControlMessage, version: Version) -> Result<(), DecodeError> {
    if version == Version::V2 && msg.msg_type == MessageType::Ack {
        return Err(DecodeError::UnknownMessageType { msg_type: MessageType::Ack as u16, mandatory: true });
    }
    let Some(rule) = MESSAGE_RULES.iter().find(|r| r.msg_type == msg.msg_type) else {
        return Ok(());
    };
    let required = match version {
        Version::V2 => rule.v2_required,
        Version::V3 => rule.v3_required,
    };
    match required.iter().find(|&&t| !has(&msg.avps, t)) {
        Some(&attr_type) => Err(DecodeError::MissingAvp { msg_type: msg.msg_type, attr_type }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Result Code value of `r` as `v2_values` writes it.
    fn result_value(r: ResultCode) -> Vec<u8> {
        let a = Avps { result_code: Some(r), ..Avps::default() };
        let mut l = Vec::new();
        v2_values(&a, &mut l);
        l.into_iter().find(|(t, _)| *t == attr::RESULT_CODE).map(|(_, v)| v).unwrap_or_default()
    }

    #[test]
    fn result_message_without_error_goes_out_after_error_zero() {
        assert_eq!(result_value(ResultCode { result: 1, error: None, message: Some("PADT".into()) }), [0, 1, 0, 0, b'P', b'A', b'D', b'T']);
        assert_eq!(result_value(ResultCode { result: 2, error: Some(6), message: Some("x".into()) }), [0, 2, 0, 6, b'x']);
        assert_eq!(result_value(ResultCode { result: 3, error: None, message: None }), [0, 3]);
    }
}
