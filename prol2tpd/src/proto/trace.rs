//! Per-instance trace of control messages: the `avp`, `avp_hide` and
//! `avp_data` lines (the seeds' trace categories), and the names used in
//! `protocol` and `fsm` lines.
//!
//! Every line is written through the trace flags of the tunnel or session
//! it belongs to ([`common::log::trace`]), never through the system mask,
//! and names the instance: `tunnel_id=` always, `session_id=` for session
//! messages. Nothing here allocates or formats unless one of the line's
//! categories is on: the callers check the flags first, and
//! [`trace_avps`] returns at once when none of its categories is set.
//!
//! Line shapes (one line per AVP and category):
//!
//! ```text
//! trace=avp tunnel_id=5 session_id=0 dir=recv msg=SCCRQ attr=Host-Name m=1 h=0 value='lac1'
//! trace=avp_hide tunnel_id=5 session_id=0 dir=recv msg=SCCRQ attr=Assigned-Tunnel-ID action=unhide hidden_len=20 len=2
//! trace=avp_data tunnel_id=5 session_id=0 dir=recv msg=SCCRQ attr=Host-Name bytes=6c616331
//! ```

use std::fmt::Write as _;

use common::trace::TraceFlags;

use super::avp::{attr, avp_spec, AvpIter, RawAvp, ValueShape};
use super::hide::unhide;
use super::message::{MessageType, ResultCode};

/// The categories [`trace_avps`] writes.
pub const AVP_CATEGORIES: TraceFlags = TraceFlags(TraceFlags::AVP.0 | TraceFlags::AVP_HIDE.0 | TraceFlags::AVP_DATA.0);

/// The instance a traced message belongs to, and its direction.
#[derive(Debug, Clone, Copy)]
pub struct MsgTrace<'a> {
    /// The instance's trace flags (tunnel's, or tunnel's and session's).
    pub flags: TraceFlags,
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id; 0 for tunnel messages (or while unknown).
    pub session_id: u32,
    /// `"send"` or `"recv"`.
    pub dir: &'static str,
    /// The tunnel secret, to reveal hidden AVPs (RFC 2661 §4.3).
    pub secret: Option<&'a [u8]>,
}

/// Writes the `avp`, `avp_hide` and `avp_data` lines of one control
/// message, given its AVP octets (after the control header, as on the
/// wire). Framing errors end the walk with one `avp ... error=` line.
/// Does nothing when `t.flags` holds none of [`AVP_CATEGORIES`].
pub fn trace_avps(t: &MsgTrace<'_>, avps: &[u8]) {
    if !t.flags.intersects(AVP_CATEGORIES) {
        return;
    }
    let mut msg = "?";
    let mut random_vector: Option<&[u8]> = None;
    for (i, raw) in AvpIter::new(avps).enumerate() {
        let raw = match raw {
            Ok(r) => r,
            Err(e) => {
                common::trace!(t.flags, TraceFlags::AVP, "tunnel_id={} session_id={} dir={} msg={} error=\"{}\"", t.tunnel_id, t.session_id, t.dir, msg, e);
                return;
            }
        };
        if i == 0 && raw.vendor_id == 0 && raw.attr_type == attr::MESSAGE_TYPE && !raw.hidden {
            msg = raw.value.get(..2).and_then(|b| MessageType::from_u16(u16::from_be_bytes([b[0], b[1]]))).map_or("?", |m| m.name());
        }
        if raw.vendor_id == 0 && raw.attr_type == attr::RANDOM_VECTOR && !raw.hidden {
            random_vector = Some(raw.value);
        }
        trace_one(t, msg, &raw, random_vector);
    }
}

/// The lines of one AVP.
fn trace_one(t: &MsgTrace<'_>, msg: &str, raw: &RawAvp<'_>, random_vector: Option<&[u8]>) {
    let prefix = Prefix { t, msg, attr: AttrName(raw.vendor_id, raw.attr_type) };
    common::trace!(t.flags, TraceFlags::AVP_DATA, "{prefix} bytes={}", Hex(raw.value));
    let revealed = if raw.hidden {
        let r = match (t.secret, random_vector) {
            (Some(secret), Some(rv)) => unhide(raw.attr_type, raw.value, secret, rv).map_err(|e| e.to_string()),
            (None, _) => Err("no secret".to_string()),
            (_, None) => Err("no random vector".to_string()),
        };
        let action = if t.dir == "send" { "hide" } else { "unhide" };
        match &r {
            Ok(v) => common::trace!(t.flags, TraceFlags::AVP_HIDE, "{prefix} action={action} hidden_len={} len={}", raw.value.len(), v.len()),
            Err(e) => common::trace!(t.flags, TraceFlags::AVP_HIDE, "{prefix} action={action} hidden_len={} error=\"{e}\"", raw.value.len()),
        }
        r.ok()
    } else {
        None
    };
    if t.flags.contains(TraceFlags::AVP) {
        let mut value = String::new();
        match (&revealed, raw.hidden) {
            (Some(v), _) => format_value(raw.vendor_id, raw.attr_type, v, &mut value),
            (None, true) => value.push_str("<hidden>"),
            (None, false) => format_value(raw.vendor_id, raw.attr_type, raw.value, &mut value),
        }
        common::log::trace(t.flags, TraceFlags::AVP, format_args!("{prefix} m={} h={} value={value}", u8::from(raw.mandatory), u8::from(raw.hidden)));
    }
}

/// `tunnel_id=.. session_id=.. dir=.. msg=.. attr=..`, the start of every
/// per-AVP line.
struct Prefix<'a, 'b> {
    t: &'a MsgTrace<'b>,
    msg: &'a str,
    attr: AttrName,
}

impl std::fmt::Display for Prefix<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.t;
        write!(f, "tunnel_id={} session_id={} dir={} msg={} attr={}", t.tunnel_id, t.session_id, t.dir, self.msg, self.attr)
    }
}

/// An AVP name for trace lines: the RFC name with spaces as dashes
/// (`Host-Name`), `unknown-200` for unknown IETF types, `vendor-9:300` for
/// vendor-specific ones.
#[derive(Debug, Clone, Copy)]
pub struct AttrName(pub u16, pub u16);

impl std::fmt::Display for AttrName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let AttrName(vendor, attr_type) = *self;
        if vendor != 0 {
            return write!(f, "vendor-{vendor}:{attr_type}");
        }
        match avp_spec(attr_type) {
            Some(spec) => {
                for c in spec.name.chars().filter(|c| !matches!(c, '(' | ')')) {
                    f.write_char(if c == ' ' { '-' } else { c })?;
                }
                Ok(())
            }
            None => write!(f, "unknown-{attr_type}"),
        }
    }
}

/// Octets as lower-case hex, no separators.
#[derive(Debug, Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// AVPs whose value is text (shown quoted when printable).
const TEXT_AVPS: [u16; 9] = [
    attr::HOST_NAME,
    attr::VENDOR_NAME,
    attr::CALLED_NUMBER,
    attr::CALLING_NUMBER,
    attr::SUB_ADDRESS,
    attr::PROXY_AUTHEN_NAME,
    attr::PRIVATE_GROUP_ID,
    attr::REMOTE_END_ID,
    attr::PREFERRED_LANGUAGE,
];

/// Decodes an AVP value for the `avp` line: numbers in decimal, text in
/// single quotes, the Message Type and Result Code by meaning, anything
/// else (or anything of the wrong length) in hex.
fn format_value(vendor: u16, attr_type: u16, v: &[u8], out: &mut String) {
    let spec = if vendor == 0 { avp_spec(attr_type) } else { None };
    let Some(spec) = spec else {
        let _ = write!(out, "0x{}", Hex(v));
        return;
    };
    let printable = !v.is_empty() && v.iter().all(|b| (0x20..0x7f).contains(b) && *b != b'\'');
    let _ = match (attr_type, spec.shape, v) {
        (attr::MESSAGE_TYPE, _, [a, b]) => {
            let n = u16::from_be_bytes([*a, *b]);
            write!(out, "{}", MessageType::from_u16(n).map_or("?", |m| m.name()))
        }
        (attr::PROTOCOL_VERSION, _, [a, b]) => write!(out, "{a}.{b}"),
        (attr::RESULT_CODE, _, _) => match parse_result(v) {
            Some(r) => write!(out, "result:{},error:{},message:'{}'", r.result, r.error.unwrap_or(0), r.message.as_deref().unwrap_or("").replace('\'', "")),
            None => write!(out, "0x{}", Hex(v)),
        },
        (_, ValueShape::Empty, []) => write!(out, "set"),
        (_, ValueShape::U16, [a, b]) => write!(out, "{}", u16::from_be_bytes([*a, *b])),
        (_, ValueShape::U32, [a, b, c, d]) => write!(out, "{}", u32::from_be_bytes([*a, *b, *c, *d])),
        (_, ValueShape::U64, [a, b, c, d, e, f, g, h]) => write!(out, "{}", u64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h])),
        (t, ValueShape::String | ValueShape::Bytes, _) if printable && TEXT_AVPS.contains(&t) => write!(out, "'{}'", String::from_utf8_lossy(v)),
        (t, _, []) if TEXT_AVPS.contains(&t) => write!(out, "''"),
        _ => write!(out, "0x{}", Hex(v)),
    };
}

/// The Result Code AVP (RFC 2661 §4.4.2): result, optional error code,
/// optional message; `None` when shorter than 2 octets.
fn parse_result(v: &[u8]) -> Option<ResultCode> {
    let result = u16::from_be_bytes([*v.first()?, *v.get(1)?]);
    let error = match (v.get(2), v.get(3)) {
        (Some(a), Some(b)) => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    };
    let message = v.get(4..).filter(|m| !m.is_empty()).map(|m| String::from_utf8_lossy(m).into_owned());
    Some(ResultCode { result, error, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::avp::write_avp;
    use crate::proto::hide::hide;
    use common::log::{init, take_captured, Level, Target};

    fn msg(avps: &[(bool, u16, u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_avp(&mut out, true, false, 0, attr::MESSAGE_TYPE, &1u16.to_be_bytes());
        for (hidden, vendor, t, v) in avps {
            write_avp(&mut out, true, *hidden, *vendor, *t, v);
        }
        out
    }

    #[test]
    fn avp_lines_are_decoded_and_name_the_instance() {
        init(Target::Capture, Level::Info).unwrap();
        let rv = vec![7u8; 16];
        let hidden = hide(attr::ASSIGNED_TUNNEL_ID, &9u16.to_be_bytes(), b"s3cret", &rv, &[]);
        let avps = msg(&[
            (false, 0, attr::HOST_NAME, b"lac1".to_vec()),
            (false, 0, attr::PROTOCOL_VERSION, vec![1, 0]),
            (false, 0, attr::RESULT_CODE, vec![0, 2, 0, 6, b'n', b'o']),
            (false, 0, attr::RANDOM_VECTOR, rv.clone()),
            (true, 0, attr::ASSIGNED_TUNNEL_ID, hidden),
            (false, 9, 300, vec![1, 2]),
        ]);
        let t = MsgTrace { flags: TraceFlags::AVP | TraceFlags::AVP_HIDE, tunnel_id: 5, session_id: 0, dir: "recv", secret: Some(b"s3cret") };
        trace_avps(&t, &avps);
        let lines = take_captured();
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(has("trace=avp tunnel_id=5 session_id=0 dir=recv msg=SCCRQ attr=Message-Type m=1 h=0 value=SCCRQ"), "{lines:#?}");
        assert!(has("attr=Host-Name m=1 h=0 value='lac1'"), "{lines:#?}");
        assert!(has("attr=Protocol-Version m=1 h=0 value=1.0"), "{lines:#?}");
        assert!(has("attr=Result-Code m=1 h=0 value=result:2,error:6,message:'no'"), "{lines:#?}");
        assert!(has("trace=avp_hide tunnel_id=5 session_id=0 dir=recv msg=SCCRQ attr=Assigned-Tunnel-ID action=unhide hidden_len=4 len=2"), "{lines:#?}");
        assert!(has("attr=Assigned-Tunnel-ID m=1 h=1 value=9"), "{lines:#?}");
        assert!(has("attr=vendor-9:300 m=1 h=0 value=0x0102"), "{lines:#?}");
        assert!(!has("trace=avp_data"), "avp_data is off: {lines:#?}");
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert!(lines.iter().all(|l| l.contains(" tunnel_id=5 ")), "{lines:#?}");
    }

    #[test]
    fn avp_data_hex_and_framing_errors() {
        init(Target::Capture, Level::Info).unwrap();
        let mut avps = msg(&[(false, 0, attr::HOST_NAME, b"ab".to_vec())]);
        avps.extend_from_slice(&[0x80, 0x05, 0, 0]);
        let t = MsgTrace { flags: TraceFlags::ALL, tunnel_id: 1, session_id: 3, dir: "send", secret: None };
        trace_avps(&t, &avps);
        let lines = take_captured();
        assert!(lines.iter().any(|l| l.contains("trace=avp_data tunnel_id=1 session_id=3 dir=send msg=SCCRQ attr=Host-Name bytes=6162")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("trace=avp tunnel_id=1 session_id=3 dir=send msg=SCCRQ error=")), "{lines:#?}");
    }

    #[test]
    fn nothing_when_off() {
        init(Target::Capture, Level::Debug).unwrap();
        let avps = msg(&[(false, 0, attr::HOST_NAME, b"ab".to_vec())]);
        let t = MsgTrace { flags: TraceFlags::ALL & !AVP_CATEGORIES, tunnel_id: 1, session_id: 0, dir: "recv", secret: None };
        trace_avps(&t, &avps);
        assert!(take_captured().is_empty());
    }
}
