//! What `propppctl` and `propppwatch` share: where propppd's control
//! socket is, the four event kinds and the line `propppwatch` prints for
//! each, and how `propppctl` prints `ppp`, `system` and `statistics`
//! records. The generic parts (exit statuses, option values, tables,
//! `key: value` blocks, JSON, the watch loop) are in [`common::cli`].
//!
//! Event lines follow the seeds' format, e.g.
//! `PPP_UP_IND: handle=0x1 name='session-4' ifname='ppp0' user='lns'
//! local=10.90.0.10 peer=10.90.0.11 unit=0 linktype=pppoltp
//! local_id=0x8bf5b556 peer_id=0x3dc74aa7` (one line): `handle` in hex,
//! names in single quotes, addresses, link type and LCP Magic-Numbers
//! bare, counters as `bytes_in/out=IN/OUT`, `connect_time` with an `s`.
//! Fields the daemon did not send are left out.

use common::cli::{self, Column};
use common::ipc::{Record, Selector, Value};

/// propppd's control socket when neither `-s` nor `[system]
/// control_socket` says otherwise.
pub const DEFAULT_CONTROL: &str = crate::config::DEFAULT_CONTROL_SOCKET;

/// How an event field is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A number as `0x%x` (`handle`).
    Hex,
    /// Text in single quotes (`name='session-4'`).
    Quoted,
    /// The value as it is (`local=192.0.2.1`, `unit=0`).
    Bare,
    /// A 32-bit LCP Magic-Number as `0x%08x` (text sent as it is).
    Magic,
    /// Seconds with an `s` (`connect_time=3s`).
    Secs,
    /// `LABEL=IN/OUT` from the fields named `IN` and `OUT` (both needed;
    /// with one only, it prints as `IN=N`).
    Pair(&'static str, &'static str),
}

/// One event kind of propppd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// Bit in `Subscribe { events }`.
    pub bit: u32,
    /// `record.kind`, e.g. `PPP_UP_IND`.
    pub kind: &'static str,
    /// `propppwatch -e` name, e.g. `up`.
    pub name: &'static str,
    /// The fields `propppwatch` prints, in order, with how; a
    /// [`Style::Pair`] entry's label is the printed key.
    pub fields: &'static [(&'static str, Style)],
}

const UP_FIELDS: &[(&str, Style)] = &[
    ("handle", Style::Hex),
    ("name", Style::Quoted),
    ("ifname", Style::Quoted),
    ("user", Style::Quoted),
    ("local", Style::Bare),
    ("peer", Style::Bare),
    ("unit", Style::Bare),
    ("linktype", Style::Bare),
    ("local_id", Style::Magic),
    ("peer_id", Style::Magic),
];

const DOWN_FIELDS: &[(&str, Style)] = &[
    ("handle", Style::Hex),
    ("name", Style::Quoted),
    ("ifname", Style::Quoted),
    ("user", Style::Quoted),
    ("unit", Style::Bare),
    ("linktype", Style::Bare),
    ("reason", Style::Quoted),
    ("reason_code", Style::Bare),
    ("local_id", Style::Magic),
    ("peer_id", Style::Magic),
    ("bytes_in/out", Style::Pair("bytes_in", "bytes_out")),
    ("packets_in/out", Style::Pair("packets_in", "packets_out")),
    ("connect_time", Style::Secs),
];

const HANDLE_NAME: &[(&str, Style)] = &[("handle", Style::Hex), ("name", Style::Quoted)];

/// propppd's events, in bit order (the control contract's mask bits).
pub const EVENT_KINDS: [EventKind; 4] = [
    EventKind { bit: 0x1, kind: "PPP_CREATED_IND", name: "created", fields: HANDLE_NAME },
    EventKind { bit: 0x2, kind: "PPP_UP_IND", name: "up", fields: UP_FIELDS },
    EventKind { bit: 0x4, kind: "PPP_DOWN_IND", name: "down", fields: DOWN_FIELDS },
    EventKind { bit: 0x8, kind: "PPP_DESTROYED_IND", name: "destroyed", fields: HANDLE_NAME },
];

/// The kind whose `record.kind` is `kind`.
pub fn event_kind(kind: &str) -> Option<&'static EventKind> {
    EVENT_KINDS.iter().find(|k| k.kind == kind)
}

/// The event bits of a `-e` list: comma-separated `created`, `up`,
/// `down`, `destroyed`, `all`, or record kinds (`PPP_UP_IND`), any case.
/// Errors: an unknown name, or no name at all.
pub fn parse_events(list: &str) -> Result<u32, String> {
    let mut mask = 0u32;
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let bit = if word.eq_ignore_ascii_case("all") {
            EVENT_KINDS.iter().fold(0, |a, k| a | k.bit)
        } else {
            EVENT_KINDS
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(word) || k.kind.eq_ignore_ascii_case(word))
                .map(|k| k.bit)
                .ok_or(format!("-e: unknown event '{word}'"))?
        };
        mask |= bit;
    }
    if mask == 0 {
        return Err("-e: no event named".into());
    }
    Ok(mask)
}

/// One field as ` key=value` in `style`.
fn field(key: &str, v: &Value, style: Style) -> String {
    match (style, v) {
        (Style::Hex, Value::U64(n)) => format!(" {key}={n:#x}"),
        (Style::Magic, Value::U64(n)) => format!(" {key}=0x{n:08x}"),
        (Style::Secs, Value::U64(n)) => format!(" {key}={n}s"),
        (Style::Quoted, Value::Str(s)) => format!(" {key}='{s}'"),
        (_, v) => format!(" {key}={v}"),
    }
}

/// One event as the line `propppwatch` prints (no timestamp, no
/// newline): `KIND:` then the kind's fields ([`EventKind::fields`]) that
/// the record has; a kind this version does not know prints every field,
/// strings quoted.
pub fn event_line(record: &Record) -> String {
    let Some(kind) = event_kind(&record.kind) else {
        return cli::render_event_fields(record, None);
    };
    let mut line = format!("{}:", record.kind);
    for (key, style) in kind.fields {
        match style {
            Style::Pair(a, b) => match (record.get(a), record.get(b)) {
                (Some(x), Some(y)) => line.push_str(&format!(" {key}={x}/{y}")),
                (Some(x), None) => line.push_str(&field(a, x, Style::Bare)),
                (None, Some(y)) => line.push_str(&field(b, y, Style::Bare)),
                (None, None) => {}
            },
            style => {
                if let Some(v) = record.get(key) {
                    line.push_str(&field(key, v, *style));
                }
            }
        }
    }
    line
}

/// `NAME|HANDLE` as a selector: a handle in decimal or `0x` hex (as
/// `propppwatch` prints it), anything else a name. Errors: a handle
/// beyond 32 bits (no instance has one).
pub fn parse_selector(s: &str) -> Result<Selector, String> {
    let number = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => u64::from_str_radix(hex, 16).ok().or(Some(u64::MAX)),
        Some(_) => None,
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u64>().ok().or(Some(u64::MAX)),
        None => None,
    };
    match number {
        None => Ok(Selector::Name(s.to_string())),
        Some(n) => u32::try_from(n).map(Selector::Id).map_err(|_| format!("handle '{s}' out of range")),
    }
}

/// The columns of `propppctl list`.
pub const LIST_COLUMNS: &[Column] = &[
    ("HANDLE", "handle", 10),
    ("NAME", "name", -16),
    ("STATE", "state", -12),
    ("IFNAME", "ifname", -8),
    ("USER", "user", -16),
    ("LOCAL-IP", "local_ip", -15),
    ("PEER-IP", "peer_ip", -15),
    ("TYPE", "linktype", -8),
    ("CONNECTED", "connect_time", 10),
];

/// `handle` in hex, `connect_time` as `H:MM:SS`.
fn list_cell(key: &str, v: &Value) -> Option<String> {
    match (key, v) {
        ("handle", Value::U64(n)) => Some(format!("{n:#x}")),
        ("connect_time", Value::U64(s)) => Some(cli::duration(*s)),
        _ => None,
    }
}

/// `propppctl list`: a table of the `ppp` records, or with `json` an
/// array of them.
pub fn render_list(records: &[Record], json: bool) -> String {
    if json {
        return cli::render_json(records, true);
    }
    cli::render_table(records, LIST_COLUMNS, list_cell)
}

/// `propppctl show`: `key: value` lines of one `ppp` record, `handle` in
/// hex and `connect_time` as `H:MM:SS`; with `json`, the record as is.
pub fn render_show(records: &[Record], json: bool) -> String {
    if json {
        return cli::render_json(records, false);
    }
    let shown: Vec<Record> = records
        .iter()
        .map(|r| {
            let mut out = Record::new(&r.kind);
            for (k, v) in &r.fields {
                match list_cell(k, v) {
                    Some(text) => out.str(k, text),
                    None => {
                        out.fields.push((k.clone(), v.clone()));
                        &mut out
                    }
                };
            }
            out
        })
        .collect();
    cli::render_objects(&shown)
}

/// `propppctl status`: the `system` and `statistics` records as two
/// `key: value` blocks separated by an empty line; with `json`, one
/// object `{"system":{…},"statistics":{…}}` (keys: the record kinds).
pub fn render_status(records: &[Record], json: bool) -> String {
    if !json {
        return cli::render_objects(records);
    }
    let parts: Vec<String> = records.iter().map(|r| format!("{}:{}", common::ipc::json_string(&r.kind), r.to_json())).collect();
    format!("{{{}}}\n", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse() {
        assert_eq!(parse_events("up"), Ok(0x2));
        assert_eq!(parse_events("created,DESTROYED"), Ok(0x9));
        assert_eq!(parse_events("ppp_down_ind, up"), Ok(0x6));
        assert_eq!(parse_events("all"), Ok(0xF));
        assert_eq!(parse_events("sideways"), Err("-e: unknown event 'sideways'".to_string()));
        assert_eq!(parse_events(" , "), Err("-e: no event named".to_string()));
    }

    #[test]
    fn selectors_parse() {
        assert_eq!(parse_selector("7"), Ok(Selector::Id(7)));
        assert_eq!(parse_selector("0x1f"), Ok(Selector::Id(31)));
        assert_eq!(parse_selector("session-4"), Ok(Selector::Name("session-4".into())));
        assert_eq!(parse_selector("0xzz"), Ok(Selector::Name("0xzz".into())));
        assert_eq!(parse_selector("4294967295"), Ok(Selector::Id(u32::MAX)));
        assert_eq!(parse_selector("4294967296"), Err("handle '4294967296' out of range".to_string()));
        assert!(parse_selector("0x193c9c800000000").is_err());
        assert!(parse_selector("99999999999999999999999").is_err());
    }
}
