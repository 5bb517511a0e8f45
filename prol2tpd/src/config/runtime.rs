//! The configuration at run time, for the control socket: instances built
//! from `KEY=VALUE` pairs (`prol2tp create tunnel|session`) and the
//! profiles in force as parameter lists (`prol2tp show profiles`).
//!
//! Pairs go through the very parsers and cross-checks of the file: they are
//! turned into a `[tunnel "NAME"]` or `[session "TUNNEL/NAME"]` section whose
//! entry on line *n* is the *n*-th pair, resolved against the running
//! [`Config`]'s profiles. Errors therefore read as in `prol2tpd -n`, without
//! the `file:line:` prefix, and name the key they are about.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::ini::{ConfigError, IniEntry, IniSection};

use super::parse::{self, Refs, Resolved};
use super::{Config, PeerMatch, SessionInstance, TunnelInstance, TunnelParams};

/// The "file" named in errors about pairs (never shown to the user).
const PAIRS: &str = "prol2tp";

/// Longest instance name accepted from `prol2tp create`, in octets.
pub const MAX_INSTANCE_NAME: usize = 64;

/// A parameter value of a profile, typed for JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// Text, written as in the file (empty: not set).
    Text(String),
    /// A number, in the unit of its file key.
    Num(u64),
    /// A yes/no parameter.
    Flag(bool),
}

/// One profile in force, as `prol2tp show profiles` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileView {
    /// Section kind: `tunnel_profile`, `session_profile`, `ppp_profile`,
    /// `eth_profile` or `peer_profile`.
    pub kind: &'static str,
    /// Profile name.
    pub name: String,
    /// Line of its header in the file; `None` for a built-in profile.
    pub line: Option<usize>,
    /// Every parameter under its file key, resolved (inherited values
    /// included). `secret` is shown as a flag, never as its value.
    pub params: Vec<(&'static str, ParamValue)>,
}

impl Config {
    /// Builds a tunnel instance named `name` from `pairs`, as a
    /// `[tunnel "NAME"]` section holding them would be built (profile
    /// inheritance, ranges and cross-checks included). `persist` is parsed
    /// and returned; whether it is honoured is the caller's business.
    ///
    /// # Errors
    /// One line naming the problem: a bad name (empty, longer than
    /// [`MAX_INSTANCE_NAME`], all digits, or holding `/`, blanks or control
    /// characters), a key given twice, an unknown key, a bad value (the
    /// key is named), a missing `peer` or an inconsistent combination.
    pub fn tunnel_from_pairs(&self, name: &str, pairs: &[(String, String)]) -> Result<TunnelInstance, String> {
        check_instance_name("tunnel", name)?;
        let section = section_of(parse::TUNNEL, name, pairs)?;
        let refs = RefMaps::of(self);
        let r = parse::tunnel_from_section(Path::new(PAIRS), &section, &refs.refs());
        r.map(|(t, _)| t).map_err(|e| pair_error(&e, pairs))
    }

    /// Builds a session instance `name` of the tunnel `tunnel_name`, whose
    /// resolved parameters are `tunnel` (the session profile, PPP and
    /// Ethernet profiles it defaults to, and the version it must fit), as a
    /// `[session "TUNNEL/NAME"]` section holding `pairs` would be built.
    ///
    /// # Errors
    /// As [`Config::tunnel_from_pairs`], plus what does not fit the tunnel
    /// (e.g. `pseudowire = eth` in an L2TPv2 tunnel).
    pub fn session_from_pairs(&self, tunnel_name: &str, tunnel: &TunnelParams, name: &str, pairs: &[(String, String)]) -> Result<SessionInstance, String> {
        check_instance_name("session", name)?;
        let section = section_of(parse::SESSION, &format!("{tunnel_name}/{name}"), pairs)?;
        let refs = RefMaps::of(self);
        parse::session_from_section(Path::new(PAIRS), &section, &refs.refs(), tunnel_name, name, tunnel).map_err(|e| pair_error(&e, pairs))
    }

    /// Every profile in force: tunnel, session, PPP and Ethernet profiles
    /// by name, then peer profiles in file order.
    pub fn profile_views(&self) -> Vec<ProfileView> {
        let mut out = Vec::new();
        for p in self.tunnel_profiles.values() {
            out.push(ProfileView { kind: "tunnel_profile", name: p.name.clone(), line: p.line, params: tunnel_fields(&p.params) });
        }
        for p in self.session_profiles.values() {
            out.push(ProfileView { kind: "session_profile", name: p.name.clone(), line: p.line, params: session_fields(&p.params) });
        }
        for p in self.ppp_profiles.values() {
            let params = vec![
                ("mtu", ParamValue::Num(u64::from(p.mtu))),
                ("mru", ParamValue::Num(u64::from(p.mru))),
                ("trace_flags", text(p.trace_flags)),
                ("pppd_options", text(p.pppd_options.as_deref().unwrap_or(""))),
            ];
            out.push(ProfileView { kind: "ppp_profile", name: p.name.clone(), line: p.line, params });
        }
        for p in self.eth_profiles.values() {
            let params = vec![
                ("mtu", ParamValue::Num(p.mtu.map_or(0, u64::from))),
                ("bridge", text(p.bridge.as_deref().unwrap_or(""))),
                ("trace_flags", text(p.trace_flags)),
            ];
            out.push(ProfileView { kind: "eth_profile", name: p.name.clone(), line: p.line, params });
        }
        for p in &self.peer_profiles {
            let peer = match p.peer {
                None => String::new(),
                Some(PeerMatch::Any) => "any".into(),
                Some(PeerMatch::Prefix { addr, len }) => format!("{addr}/{len}"),
            };
            let params = vec![
                ("peer", text(peer)),
                ("tunnel_profile", text(&p.tunnel_profile)),
                ("session_profile", text(&p.session_profile)),
                ("ppp_profile", text(&p.ppp_profile)),
                ("eth_profile", text(&p.eth_profile)),
            ];
            out.push(ProfileView { kind: "peer_profile", name: p.name.clone(), line: p.line, params });
        }
        out
    }
}

/// A name `prol2tp` can address later: not a number (that would be taken
/// as an id), no `/` (the session separator), nothing invisible.
fn check_instance_name(kind: &str, name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_INSTANCE_NAME {
        Some("is longer than 64 characters")
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        Some("is a number (it would be taken as an id)")
    } else if name.chars().any(|c| c == '/' || c.is_whitespace() || c.is_control()) {
        Some("holds `/`, a blank or a control character")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("{kind} name `{name}` {p}")),
        None => Ok(()),
    }
}

/// The section `[kind "name"]` holding `pairs`, the n-th on line n (the
/// header on line 0). Errors: a key given twice, an empty key.
fn section_of(kind: &str, name: &str, pairs: &[(String, String)]) -> Result<IniSection, String> {
    let mut entries: Vec<IniEntry> = Vec::with_capacity(pairs.len());
    for (i, (key, value)) in pairs.iter().enumerate() {
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("empty key in `={value}`"));
        }
        if entries.iter().any(|e| e.key == key) {
            return Err(format!("{key}: given twice"));
        }
        entries.push(IniEntry { key: key.to_string(), value: value.trim().to_string(), line: i.saturating_add(1) });
    }
    Ok(IniSection { kind: kind.to_string(), name: Some(name.to_string()), line: 0, entries })
}

/// A parser error as one line: prefixed with the key of the pair it is
/// about, unless the message already names it.
fn pair_error(e: &ConfigError, pairs: &[(String, String)]) -> String {
    let key = e.line.and_then(|l| l.checked_sub(1)).and_then(|i| pairs.get(i)).map(|(k, _)| k.trim());
    match key {
        Some(k) if !e.message.contains(&format!("`{k}")) => format!("{k}: {}", e.message),
        _ => e.message.clone(),
    }
}

/// The running configuration's profiles in the shape the section parsers
/// check references against (no lines: they come from the file already
/// checked).
struct RefMaps {
    ppp: BTreeMap<String, Resolved<super::PppProfile>>,
    eth: BTreeMap<String, Resolved<super::EthProfile>>,
    session: BTreeMap<String, Resolved<super::SessionParams>>,
    tunnel: BTreeMap<String, Resolved<TunnelParams>>,
}

impl RefMaps {
    fn of(cfg: &Config) -> RefMaps {
        fn map<Q, P>(m: &BTreeMap<String, Q>, f: impl Fn(&Q) -> P) -> BTreeMap<String, Resolved<P>> {
            m.iter().map(|(k, q)| (k.clone(), Resolved { value: f(q), header: None, lines: BTreeMap::new() })).collect()
        }
        RefMaps {
            ppp: map(&cfg.ppp_profiles, Clone::clone),
            eth: map(&cfg.eth_profiles, Clone::clone),
            session: map(&cfg.session_profiles, |p| p.params.clone()),
            tunnel: map(&cfg.tunnel_profiles, |p| p.params.clone()),
        }
    }

    fn refs(&self) -> Refs<'_> {
        Refs { ppp: &self.ppp, eth: &self.eth, session: &self.session, tunnel: &self.tunnel }
    }
}

fn text(v: impl ToString) -> ParamValue {
    ParamValue::Text(v.to_string())
}

/// The file word of `v` in a `(word, value)` table.
fn word<T: PartialEq>(table: &[(&'static str, T)], v: &T) -> ParamValue {
    text(table.iter().find(|(_, x)| x == v).map_or("?", |(w, _)| *w))
}

fn millis(d: Duration) -> ParamValue {
    ParamValue::Num(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A tunnel profile's parameters under their file keys.
fn tunnel_fields(p: &TunnelParams) -> Vec<(&'static str, ParamValue)> {
    let c = &p.core;
    let addr = |a: Option<std::net::SocketAddr>| text(a.map(|a| a.to_string()).unwrap_or_default());
    vec![
        ("version", word(parse::VERSIONS, &c.version)),
        ("encap", word(parse::ENCAPS, &c.transport)),
        ("peer", addr(c.peer)),
        ("local", addr(c.local)),
        ("v2_fallback", ParamValue::Flag(c.v2_fallback)),
        ("secret", ParamValue::Flag(c.secret.is_some())),
        ("hide_avps", ParamValue::Flag(c.hide_avps)),
        ("digest", word(parse::DIGESTS, &c.digest)),
        ("host_name", text(c.host_name.as_deref().unwrap_or(""))),
        ("hello_timeout", ParamValue::Num(c.hello_interval.map_or(0, |d| d.as_secs()))),
        ("retry_timeout", millis(c.retry_timeout)),
        ("max_retry_timeout", millis(c.max_retry_timeout)),
        ("max_retries", ParamValue::Num(u64::from(c.max_retries))),
        ("rx_window_size", ParamValue::Num(u64::from(c.rx_window_size))),
        ("max_sessions", ParamValue::Num(u64::from(c.max_sessions))),
        ("trace_flags", text(c.trace_flags)),
        ("session_profile", text(&p.session_profile)),
        ("ppp_profile", text(&p.ppp_profile)),
        ("eth_profile", text(&p.eth_profile)),
    ]
}

/// A session profile's parameters under their file keys; an empty
/// `ppp_profile`/`eth_profile` means the tunnel's.
fn session_fields(p: &super::SessionParams) -> Vec<(&'static str, ParamValue)> {
    let c = &p.core;
    vec![
        ("pseudowire", word(parse::PSEUDOWIRES, &c.pseudowire)),
        ("l2spec_type", word(parse::L2SPEC_TYPES, &c.l2spec)),
        ("seqnum", ParamValue::Flag(c.seqnum)),
        ("cookie", text(hex(&c.cookie))),
        ("peer_cookie", text(c.peer_cookie.as_deref().map(hex).unwrap_or_default())),
        ("interface_name", text(c.interface_name.as_deref().unwrap_or(""))),
        ("vlan_id", ParamValue::Num(c.vlan_id.map_or(0, u64::from))),
        ("trace_flags", text(c.trace_flags)),
        ("ppp_profile", text(p.ppp_profile.as_deref().unwrap_or(""))),
        ("eth_profile", text(p.eth_profile.as_deref().unwrap_or(""))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::{Transport, Version};
    use crate::proto::session::{CallType, Pseudowire};

    const TEXT: &str = "[tunnel_profile \"v3\"]\nversion = 3\nencap = ip\nsecret = sekrit\nsession_profile = eth\n\
        [session_profile \"eth\"]\npseudowire = eth\n\
        [ppp_profile \"small\"]\nmtu = 1400\n\
        [peer_profile \"lan\"]\npeer = 192.0.2.0/24\ntunnel_profile = v3\n\
        [tunnel \"conf\"]\npeer = 198.51.100.1\n";

    fn config() -> Config {
        Config::parse_str(Path::new("test.conf"), TEXT).unwrap_or_else(|e| panic!("{e}"))
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        text.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn tunnel_error(name: &str, text: &str) -> String {
        match config().tunnel_from_pairs(name, &pairs(text)) {
            Ok(t) => panic!("{text}: accepted as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn tunnel_from_pairs_resolves_like_the_file() {
        let t = config().tunnel_from_pairs("cli1", &pairs("tunnel_profile=v3 peer=203.0.113.7 hello_timeout=30 persist=no")).unwrap();
        assert_eq!((t.name.as_str(), t.tunnel_profile.as_str(), t.persist), ("cli1", "v3", false));
        assert_eq!(t.peer, "203.0.113.7:1701".parse().unwrap());
        let c = &t.params.core;
        assert_eq!((c.version, c.transport, c.hello_interval), (Version::V3, Transport::Ip, Some(Duration::from_secs(30))));
        assert_eq!((c.secret.as_deref(), t.params.session_profile.as_str()), (Some(&b"sekrit"[..]), "eth"));
        // Without a profile: the defaults, as a file section would get.
        let t = config().tunnel_from_pairs("cli2", &pairs("peer=[2001:db8::1]:1702")).unwrap();
        assert_eq!((t.params.core.version, t.peer.port(), t.tunnel_profile.as_str()), (Version::V2, 1702, "default"));
    }

    #[test]
    fn tunnel_from_pairs_errors_name_the_key() {
        assert_eq!(tunnel_error("x", "peer=192.0.2.1 frob=1"), "unknown parameter `frob` in [tunnel]");
        let e = tunnel_error("x", "peer=not-an-address");
        assert!(e.starts_with("bad value `not-an-address` for `peer`: expected an IP address"), "{e}");
        assert!(tunnel_error("x", "hello_timeout=5").contains("needs a `peer`"));
        assert_eq!(tunnel_error("x", "peer=192.0.2.1 tunnel_profile=nosuch"), "tunnel_profile: no [tunnel_profile \"nosuch\"] is defined");
        assert_eq!(tunnel_error("x", "peer=192.0.2.1 hide_avps=yes"), "`hide_avps = yes` needs a `secret`");
        assert!(tunnel_error("x", "peer=192.0.2.1 retry_timeout=5").contains("`retry_timeout`"));
        assert_eq!(tunnel_error("x", "peer=192.0.2.1 peer=192.0.2.2"), "peer: given twice");
        assert_eq!(tunnel_error("12", "peer=192.0.2.1"), "tunnel name `12` is a number (it would be taken as an id)");
        assert!(tunnel_error("a/b", "peer=192.0.2.1").contains("holds `/`"));
        assert!(tunnel_error("", "peer=192.0.2.1").contains("is empty"));
        assert!(tunnel_error(&"n".repeat(65), "peer=192.0.2.1").contains("longer than 64"));
    }

    #[test]
    fn session_from_pairs_checks_against_its_tunnel() {
        let cfg = config();
        let v2 = cfg.tunnel("conf").unwrap().params.clone();
        let s = cfg.session_from_pairs("conf", &v2, "s1", &pairs("call_type=outgoing user_name=bob ppp_profile=small")).unwrap();
        assert_eq!((s.tunnel.as_str(), s.name.as_str(), s.call_type), ("conf", "s1", CallType::OutgoingLns));
        assert_eq!((s.user_name.as_deref(), s.params.ppp_profile.as_deref(), s.params.eth_profile.as_deref()), (Some("bob"), Some("small"), Some("default")));
        let e = cfg.session_from_pairs("conf", &v2, "s2", &pairs("pseudowire=eth")).unwrap_err();
        assert_eq!(e, "tunnel \"conf\" is L2TPv2, which carries only `pseudowire = ppp`");
        assert_eq!(
            cfg.session_from_pairs("conf", &v2, "s3", &pairs("vlan_id=5000")).unwrap_err(),
            "bad value `5000` for `vlan_id`: expected an integer from 1 to 4094"
        );
        // A v3 tunnel's session profile (`eth`) is the default one.
        let v3 = cfg.tunnel_from_pairs("t3", &pairs("tunnel_profile=v3 peer=192.0.2.1")).unwrap().params;
        let s = cfg.session_from_pairs("t3", &v3, "e1", &[]).unwrap();
        assert_eq!((s.session_profile.as_str(), s.params.core.pseudowire, s.call_type), ("eth", Pseudowire::Eth, CallType::IncomingLac));
        assert!(cfg.session_from_pairs("t3", &v3, "e2", &pairs("frob=1")).unwrap_err().contains("unknown parameter `frob` in [session]"));
    }

    #[test]
    fn profile_views_hold_every_profile_and_parameter() {
        let views = config().profile_views();
        let find = |kind: &str, name: &str| views.iter().find(|v| v.kind == kind && v.name == name).unwrap_or_else(|| panic!("no {kind} {name}"));
        let get = |v: &ProfileView, key: &str| v.params.iter().find(|(k, _)| *k == key).map(|(_, x)| x.clone()).unwrap_or_else(|| panic!("no {key}"));
        let v3 = find("tunnel_profile", "v3");
        assert_eq!(v3.line, Some(1));
        assert_eq!(get(v3, "version"), ParamValue::Text("3".into()));
        assert_eq!(get(v3, "encap"), ParamValue::Text("ip".into()));
        assert_eq!(get(v3, "secret"), ParamValue::Flag(true));
        assert_eq!(get(v3, "retry_timeout"), ParamValue::Num(1000));
        assert!(!format!("{v3:?}").contains("sekrit"), "secret shown: {v3:?}");
        assert_eq!(v3.params.len(), 19);
        let d = find("tunnel_profile", "default");
        assert_eq!((d.line, get(d, "version"), get(d, "trace_flags")), (None, ParamValue::Text("2".into()), ParamValue::Text("none".into())));
        assert_eq!(get(find("session_profile", "eth"), "pseudowire"), ParamValue::Text("eth".into()));
        assert_eq!(get(find("ppp_profile", "small"), "mtu"), ParamValue::Num(1400));
        assert_eq!(get(find("eth_profile", "default"), "mtu"), ParamValue::Num(0));
        assert_eq!(get(find("peer_profile", "lan"), "peer"), ParamValue::Text("192.0.2.0/24".into()));
        assert_eq!(get(find("peer_profile", "default"), "peer"), ParamValue::Text(String::new()));
        assert_eq!(views.iter().filter(|v| v.kind == "peer_profile").count(), 2);
    }
}
