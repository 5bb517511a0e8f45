//! What `proac_info` and `proac_manage` do: parse their command lines,
//! send requests over proacd's control socket and print the replies.
//!
//! The generic parts (exit statuses, tables, `key: value` blocks, JSON) are
//! in [`common::cli`]; this module holds what is proacd's own: the records'
//! tables (`interface`, `route`, `pppoe`), how a session is named on the
//! command line ([`parse_session`]: a handle, `IFACE/SESSION_ID` or a client
//! name) and how a MAC address is checked before it is sent
//! ([`parse_mac_word`]).
//!
//! Both programs are thin: `main` collects the arguments and calls
//! [`info::main`] or [`manage::main`], so everything here can be tested
//! without a daemon.

pub mod info;
pub mod manage;

use common::cli::{self, Column};
use common::ipc::{Record, Selector, Value};

use crate::proto::MacAddr;

/// proacd's control socket when `-s` does not say otherwise.
pub const DEFAULT_CONTROL: &str = crate::config::DEFAULT_CONTROL_SOCKET;

/// A session named on the command line: a handle in decimal or `0x` hex
/// (as `proac_info sessions` prints it) becomes [`Selector::Id`]; anything
/// else (`eth1/17`, a `[client]` name) [`Selector::Name`].
///
/// # Errors
/// An empty word; a handle beyond 32 bits (no session has one).
pub fn parse_session(s: &str) -> Result<Selector, String> {
    if s.is_empty() {
        return Err("empty session name".into());
    }
    let number = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Some(u64::from_str_radix(hex, 16).unwrap_or(u64::MAX)),
        Some(_) => None,
        None if s.bytes().all(|b| b.is_ascii_digit()) => Some(s.parse::<u64>().unwrap_or(u64::MAX)),
        None => None,
    };
    match number {
        None => Ok(Selector::Name(s.to_string())),
        Some(0) => Err(format!("handle '{s}' out of range (handles start at 1)")),
        Some(n) => u32::try_from(n).map(Selector::Id).map_err(|_| format!("handle '{s}' out of range")),
    }
}

/// A MAC address word (`aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`) in the
/// form proacd expects (lower case, `:`).
///
/// # Errors
/// Not six hex octets; a group (multicast or broadcast) or all-zero
/// address, which is never a client's.
pub fn parse_mac_word(s: &str) -> Result<String, String> {
    let mac: MacAddr = s.parse().map_err(|_| format!("bad MAC address '{s}' (expected six hex octets such as 02:00:5e:00:53:01)"))?;
    if mac.is_multicast() || mac.is_zero() {
        return Err(format!("'{s}' is not a unicast MAC address"));
    }
    Ok(mac.to_string())
}

/// The columns of `proac_info interfaces`.
pub const INTERFACE_COLUMNS: &[Column] = &[
    ("NAME", "name", -10),
    ("IFINDEX", "ifindex", 7),
    ("MAC", "mac", -17),
    ("STATE", "state", -5),
    ("SESSIONS", "sessions", 8),
    ("MAX", "max_sessions", 6),
    ("AC-NAME", "ac_name", -16),
    ("SERVICES", "service_names", -16),
    ("ERROR", "error", -1),
];

/// The columns of `proac_info routes`.
pub const ROUTE_COLUMNS: &[Column] = &[
    ("NAME", "name", -12),
    ("DEST", "destination", -5),
    ("INTERFACES", "interfaces", -12),
    ("SERVICES", "service_names", -16),
    ("MACS", "macs", -17),
    ("PROFILE", "profile", -12),
    ("SESSIONS", "sessions", 8),
];

/// The columns of `proac_info sessions`.
pub const SESSION_COLUMNS: &[Column] = &[
    ("HANDLE", "handle", 6),
    ("INTERFACE", "interface", -10),
    ("SID", "session_id", 5),
    ("CLIENT-MAC", "client_mac", -17),
    ("ROUTE", "route", -12),
    ("DEST", "destination", -5),
    ("STATE", "state", -8),
    ("PEER", "peer", -24),
    ("CONNECTED", "connect_time", 10),
];

/// `connect_time` as `H:MM:SS`; everything else as sent.
fn cell(key: &str, v: &Value) -> Option<String> {
    match (key, v) {
        ("connect_time", Value::U64(s)) => Some(cli::duration(*s)),
        _ => None,
    }
}

/// A copy of `r` where the empty "any" lists (`interfaces`,
/// `service_names`, `macs`) read `any`, and with a `profile` field: the
/// `ppp_profile` of a local route (`default` when unset), the
/// `tunnel_profile` of an l2tp one.
fn route_row(r: &Record) -> Record {
    let mut out = Record::new(&r.kind);
    for (k, v) in &r.fields {
        match (k.as_str(), v) {
            ("interfaces" | "service_names" | "macs", Value::Str(s)) if s.is_empty() => {
                out.str(k, "any");
            }
            _ => out.fields.push((k.clone(), v.clone())),
        }
    }
    let text = |key: &str| match r.get(key) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let profile = match text("destination").as_deref() {
        Some("l2tp") => text("tunnel_profile").unwrap_or_default(),
        _ => text("ppp_profile").unwrap_or_else(|| "default".into()),
    };
    out.str("profile", profile);
    out
}

/// A copy of `r` where an empty `service_names` reads `any`.
fn interface_row(r: &Record) -> Record {
    let mut out = r.clone();
    for (k, v) in &mut out.fields {
        if k == "service_names" && matches!(v, Value::Str(s) if s.is_empty()) {
            *v = Value::Str("any".into());
        }
    }
    out
}

/// `proac_info interfaces` as a table: name, ifindex, MAC, state, sessions,
/// own limit, AC-Name, Service-Names (`any` when none is configured) and
/// the error of an interface in state `error`.
pub fn render_interfaces(records: &[Record]) -> String {
    let rows: Vec<Record> = records.iter().map(interface_row).collect();
    cli::render_table(&rows, INTERFACE_COLUMNS, cell)
}

/// `proac_info routes` as a table: name, destination, the three match
/// lists (`any` when empty), the profile (PPP profile of a local route,
/// tunnel profile of an l2tp route) and the sessions on it.
pub fn render_routes(records: &[Record]) -> String {
    let rows: Vec<Record> = records.iter().map(route_row).collect();
    cli::render_table(&rows, ROUTE_COLUMNS, cell)
}

/// `proac_info sessions` as a table: handle, interface, PPPoE session id,
/// client MAC, route, destination, state, peer (the PPP interface of a
/// local session, `tunnel T session S` of an l2tp one) and connect time.
pub fn render_sessions(records: &[Record]) -> String {
    cli::render_table(records, SESSION_COLUMNS, cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_parse() {
        assert_eq!(parse_session("7"), Ok(Selector::Id(7)));
        assert_eq!(parse_session("0x1f"), Ok(Selector::Id(31)));
        assert_eq!(parse_session("eth1/17"), Ok(Selector::Name("eth1/17".into())));
        assert_eq!(parse_session("home"), Ok(Selector::Name("home".into())));
        assert_eq!(parse_session("0xzz"), Ok(Selector::Name("0xzz".into())));
        assert_eq!(parse_session("4294967295"), Ok(Selector::Id(u32::MAX)));
        assert_eq!(parse_session("4294967296"), Err("handle '4294967296' out of range".into()));
        assert!(parse_session("99999999999999999999999").is_err());
        assert!(parse_session("0").is_err());
        assert!(parse_session("").is_err());
    }

    #[test]
    fn macs_parse() {
        assert_eq!(parse_mac_word("02-00-5E-00-53-01"), Ok("02:00:5e:00:53:01".into()));
        assert_eq!(parse_mac_word("02:00:5e:00:53:01"), Ok("02:00:5e:00:53:01".into()));
        assert!(parse_mac_word("02:00:5e:00:53").unwrap_err().contains("bad MAC address"));
        assert!(parse_mac_word("zz:00:5e:00:53:01").is_err());
        assert!(parse_mac_word("ff:ff:ff:ff:ff:ff").unwrap_err().contains("not a unicast"));
        assert!(parse_mac_word("01:00:5e:00:00:01").is_err());
        assert!(parse_mac_word("00:00:00:00:00:00").is_err());
    }

    #[test]
    fn route_rows() {
        let mut r = Record::new("route");
        r.str("name", "wholesale")
            .str("interfaces", "")
            .str("service_names", "isp-b")
            .str("macs", "")
            .str("destination", "l2tp")
            .str("ppp_profile", "")
            .str("tunnel_profile", "lns-b")
            .num("sessions", 3u64);
        let row = route_row(&r);
        assert_eq!(row.get("interfaces"), Some(&Value::Str("any".into())));
        assert_eq!(row.get("service_names"), Some(&Value::Str("isp-b".into())));
        assert_eq!(row.get("profile"), Some(&Value::Str("lns-b".into())));
        let mut l = Record::new("route");
        l.str("name", "local").str("destination", "local").str("ppp_profile", "");
        assert_eq!(route_row(&l).get("profile"), Some(&Value::Str("default".into())));
    }
}
