//! From an [`IniFile`] to a [`Config`]: section checks, parameter parsing,
//! profile inheritance, instance resolution and cross-checks.
//!
//! Every resolved object keeps, while it is built, the line each parameter
//! was last set on ([`Lines`]), so that a problem found only after
//! inheritance (say `hide_avps = yes` from a profile in a tunnel without a
//! secret) is reported at the line that caused it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use common::ini::{
    parse_bool, parse_choice, parse_duration, parse_hex_octets, parse_ifname, parse_nonempty, parse_u16_range, parse_u32_range, value_error, ConfigError,
    DurationUnit, IniEntry, IniFile, IniSection,
};
use common::trace::TraceFlags;

use super::{
    Config, DataplaneKind, EthProfile, LoadOptions, PeerMatch, PeerProfile, PppProfile, SessionInstance, SessionParams, SessionProfile, SystemConfig,
    TunnelInstance, TunnelParams, TunnelProfile, DEFAULT_PROFILE, L2TP_PORT,
};
use crate::proto::auth::DigestAlg;
use crate::proto::header::{Transport, Version};
use crate::proto::session::{CallType, L2SpecType, Pseudowire};

/// Line on which each parameter was (last) set.
pub(super) type Lines = BTreeMap<String, usize>;

/// A profile being resolved, with where its values came from.
#[derive(Clone)]
pub(super) struct Resolved<P> {
    /// The resolved value.
    pub(super) value: P,
    /// Line of the section header; `None` for a built-in profile.
    pub(super) header: Option<usize>,
    /// Line each parameter was last set on.
    pub(super) lines: Lines,
}

const SYSTEM: &str = "system";
const PEER_PROFILE: &str = "peer_profile";
const TUNNEL_PROFILE: &str = "tunnel_profile";
const SESSION_PROFILE: &str = "session_profile";
const PPP_PROFILE: &str = "ppp_profile";
const ETH_PROFILE: &str = "eth_profile";
pub(super) const TUNNEL: &str = "tunnel";
pub(super) const SESSION: &str = "session";

/// `version = 2 | 3` (RFC 2661, RFC 3931).
pub(super) const VERSIONS: &[(&str, Version)] = &[("2", Version::V2), ("3", Version::V3)];
/// `encap = udp | ip` (RFC 3931 section 4.1).
pub(super) const ENCAPS: &[(&str, Transport)] = &[("udp", Transport::Udp), ("ip", Transport::Ip)];
/// `digest = md5 | sha1` (RFC 3931 section 5.4.1).
pub(super) const DIGESTS: &[(&str, DigestAlg)] = &[("md5", DigestAlg::HmacMd5), ("sha1", DigestAlg::HmacSha1)];
/// `pseudowire = ppp | eth | vlan` (RFC 3931 section 5.4.4, RFC 4719).
pub(super) const PSEUDOWIRES: &[(&str, Pseudowire)] = &[("ppp", Pseudowire::Ppp), ("eth", Pseudowire::Eth), ("vlan", Pseudowire::Vlan)];
/// `l2spec_type = none | default` (RFC 3931 section 4.6).
pub(super) const L2SPEC_TYPES: &[(&str, L2SpecType)] = &[("none", L2SpecType::None), ("default", L2SpecType::Default)];
/// `call_type = incoming | outgoing`: a configured session is always the
/// side that places the call, so `incoming` is the LAC sending Icrq and
/// `outgoing` the LNS sending Ocrq (RFC 2661 sections 7.4.1, 7.4.4).
const CALL_TYPES: &[(&str, CallType)] = &[("incoming", CallType::IncomingLac), ("outgoing", CallType::OutgoingLns)];

/// Section kinds, in the order they are documented.
const KINDS: [&str; 8] = [SYSTEM, PEER_PROFILE, TUNNEL_PROFILE, SESSION_PROFILE, PPP_PROFILE, ETH_PROFILE, TUNNEL, SESSION];

/// Builds the configuration from a parsed file.
pub(super) fn build(ini: &IniFile, options: LoadOptions) -> Result<Config, ConfigError> {
    let path = ini.path.as_path();
    ini.check_sections(&KINDS, SYSTEM)?;
    let trace = if options.trace_all { TraceFlags::ALL } else { TraceFlags::NONE };
    let system = build_system(path, ini)?;
    let ppp = resolve_kind(path, ini, PPP_PROFILE, builtin_ppp(trace), |p, e| apply_ppp(path, p, e))?;
    let eth = resolve_kind(path, ini, ETH_PROFILE, builtin_eth(trace), |p, e| apply_eth(path, p, e))?;
    let sessions_p = resolve_kind(path, ini, SESSION_PROFILE, SessionParams::builtin(trace), |p, e| apply_session(path, p, e))?;
    let tunnels_p = resolve_kind(path, ini, TUNNEL_PROFILE, TunnelParams::builtin(trace), |p, e| apply_tunnel(path, p, e))?;
    let refs = Refs { ppp: &ppp, eth: &eth, session: &sessions_p, tunnel: &tunnels_p };
    for s in sessions_p.values() {
        check_session_params(path, &s.value, &s.lines, s.header, &refs)?;
    }
    for t in tunnels_p.values() {
        check_tunnel_params(path, &t.value, &t.lines, t.header, &refs)?;
    }
    let peer_profiles = build_peer_profiles(path, ini, &refs)?;
    let tunnels = build_tunnels(path, ini, &refs)?;
    let sessions = build_sessions(path, ini, &refs, &tunnels)?;
    Ok(Config {
        system,
        peer_profiles,
        tunnel_profiles: finish(tunnels_p, |name, r| TunnelProfile { name, line: r.header, params: r.value }),
        session_profiles: finish(sessions_p, |name, r| SessionProfile { name, line: r.header, params: r.value }),
        ppp_profiles: finish(ppp, |name, r| PppProfile { name, line: r.header, ..r.value }),
        eth_profiles: finish(eth, |name, r| EthProfile { name, line: r.header, ..r.value }),
        tunnels: tunnels.into_iter().map(|(t, _)| t).collect(),
        sessions,
    })
}

/// The resolved profiles of every kind, for reference checks.
pub(super) struct Refs<'a> {
    pub(super) ppp: &'a BTreeMap<String, Resolved<PppProfile>>,
    pub(super) eth: &'a BTreeMap<String, Resolved<EthProfile>>,
    pub(super) session: &'a BTreeMap<String, Resolved<SessionParams>>,
    pub(super) tunnel: &'a BTreeMap<String, Resolved<TunnelParams>>,
}

impl Refs<'_> {
    /// True when a profile of `kind` named `name` exists.
    fn has(&self, kind: &str, name: &str) -> bool {
        match kind {
            PPP_PROFILE => self.ppp.contains_key(name),
            ETH_PROFILE => self.eth.contains_key(name),
            SESSION_PROFILE => self.session.contains_key(name),
            TUNNEL_PROFILE => self.tunnel.contains_key(name),
            _ => false,
        }
    }
}

/// Turns resolved profiles into the public map.
fn finish<P, Q>(map: BTreeMap<String, Resolved<P>>, f: impl Fn(String, Resolved<P>) -> Q) -> BTreeMap<String, Q> {
    map.into_iter().map(|(name, r)| (name.clone(), f(name, r))).collect()
}

/// An error at `line`, or about the whole file when there is no line.
fn err_at(path: &Path, line: Option<usize>, message: impl Into<String>) -> ConfigError {
    match line {
        Some(l) => ConfigError::at(path, l, message),
        None => ConfigError::file(path, message),
    }
}

/// The line of the first of `keys` set in `lines`, else `fallback`.
fn line_of(lines: &Lines, keys: &[&str], fallback: Option<usize>) -> Option<usize> {
    keys.iter().find_map(|k| lines.get(*k).copied()).or(fallback)
}

/// The error for a key a section does not take.
fn unknown_key(path: &Path, section: &IniSection, e: &IniEntry) -> ConfigError {
    ConfigError::at(path, e.line, format!("unknown parameter `{}` in [{}]", e.key, section.kind))
}

/// Resolves every profile of `kind`: `default` (built-in, then the file's),
/// then each named profile starting from `default`.
fn resolve_kind<P: Clone>(
    path: &Path,
    ini: &IniFile,
    kind: &str,
    builtin: P,
    apply: impl Fn(&mut P, &IniEntry) -> Result<bool, ConfigError>,
) -> Result<BTreeMap<String, Resolved<P>>, ConfigError> {
    let apply_section = |base: &Resolved<P>, s: &IniSection| -> Result<Resolved<P>, ConfigError> {
        let mut r = Resolved { value: base.value.clone(), header: Some(s.line), lines: base.lines.clone() };
        for e in &s.entries {
            if !apply(&mut r.value, e)? {
                return Err(unknown_key(path, s, e));
            }
            r.lines.insert(e.key.clone(), e.line);
        }
        Ok(r)
    };
    let mut default = Resolved { value: builtin, header: None, lines: Lines::new() };
    let sections: Vec<&IniSection> = ini.sections_of(kind).collect();
    if let Some(s) = sections.iter().find(|s| s.name.as_deref() == Some(DEFAULT_PROFILE)) {
        default = apply_section(&default, s)?;
    }
    let mut out = BTreeMap::new();
    for s in sections {
        if let Some(name) = s.name.as_deref().filter(|n| *n != DEFAULT_PROFILE) {
            out.insert(name.to_string(), apply_section(&default, s)?);
        }
    }
    out.insert(DEFAULT_PROFILE.to_string(), default);
    Ok(out)
}

/// Parses a `trace_flags` value.
fn parse_trace(path: &Path, e: &IniEntry) -> Result<TraceFlags, ConfigError> {
    TraceFlags::parse(&e.value).map_err(|m| ConfigError::at(path, e.line, format!("bad `{}`: {m}", e.key)))
}

/// Parses a profile name (checked to exist later).
fn parse_name(path: &Path, e: &IniEntry) -> Result<String, ConfigError> {
    parse_nonempty(path, e)
}

/// A string where an empty value means "not set".
fn optional_string(e: &IniEntry) -> Option<String> {
    (!e.value.is_empty()).then(|| e.value.clone())
}

/// Parses `ADDR`, `ADDR:PORT`, `[V6ADDR]` or `[V6ADDR]:PORT`; a missing
/// port is `default_port`. Host names are not accepted (no DNS).
pub(super) fn parse_socket_addr(path: &Path, e: &IniEntry, default_port: u16) -> Result<SocketAddr, ConfigError> {
    let v = e.value.trim();
    let parsed = if let Ok(ip) = v.parse::<IpAddr>() {
        Some(SocketAddr::new(ip, default_port))
    } else if let Some(inner) = v.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        inner.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, default_port))
    } else {
        v.parse::<SocketAddr>().ok().filter(|sa| sa.port() != 0)
    };
    parsed.ok_or_else(|| value_error(path, e, "an IP address with an optional port: 192.0.2.1, 192.0.2.1:1701, [2001:db8::1]:1701"))
}

/// Parses `any`, `ADDR` or `ADDR/LEN`.
fn parse_peer_match(path: &Path, e: &IniEntry) -> Result<PeerMatch, ConfigError> {
    let v = e.value.trim();
    if v.eq_ignore_ascii_case("any") {
        return Ok(PeerMatch::Any);
    }
    let bad = || value_error(path, e, "`any`, an address or a prefix such as 192.0.2.0/24 or 2001:db8::/32");
    let (addr_text, len_text) = match v.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (v, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| bad())?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_text {
        None => max,
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => l.parse::<u8>().ok().filter(|&n| n <= max).ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    let net = mask_addr(addr, len);
    if net != addr {
        return Err(ConfigError::at(path, e.line, format!("`{v}` has host bits set: did you mean {net}/{len}?")));
    }
    Ok(PeerMatch::Prefix { addr, len })
}

/// `addr` with everything after the first `len` bits cleared.
fn mask_addr(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32u32.saturating_sub(u32::from(len))).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128u32.saturating_sub(u32::from(len))).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// Parses a router id: dotted quad or integer, not zero.
fn parse_router_id(path: &Path, e: &IniEntry) -> Result<u32, ConfigError> {
    let v = e.value.trim();
    let id = match v.parse::<Ipv4Addr>() {
        Ok(a) => u32::from(a),
        Err(_) => parse_u32_range(path, e, 1, u32::MAX)?,
    };
    if id == 0 {
        return Err(value_error(path, e, "a non-zero router id (dotted quad or integer)"));
    }
    Ok(id)
}

/// Parses a list of IP addresses separated by commas and/or blanks.
fn parse_ip_list(path: &Path, e: &IniEntry) -> Result<Vec<IpAddr>, ConfigError> {
    let list = e
        .value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse::<IpAddr>().ok())
        .collect::<Option<Vec<IpAddr>>>()
        .filter(|l| !l.is_empty());
    list.ok_or_else(|| value_error(path, e, "a list of IP addresses separated by commas"))
}

/// `[system]`, or the built-in defaults when it is absent.
fn build_system(path: &Path, ini: &IniFile) -> Result<SystemConfig, ConfigError> {
    let mut sys = SystemConfig::default();
    let Some(section) = ini.sections_of(SYSTEM).next() else {
        return Ok(sys);
    };
    for e in &section.entries {
        match e.key.as_str() {
            "udp_port" => sys.udp_port = parse_u16_range(path, e, 1, u16::MAX)?,
            "trace_flags" => sys.trace_flags = parse_trace(path, e)?,
            "max_tunnels" => sys.max_tunnels = parse_u32_range(path, e, 0, 65535)?,
            "max_sessions" => sys.max_sessions = parse_u32_range(path, e, 0, u32::MAX)?,
            "max_halfopen_tunnels" => sys.max_halfopen_tunnels = parse_u32_range(path, e, 0, 65535)?,
            "host_name" => sys.host_name = Some(parse_nonempty(path, e)?),
            "router_id" => sys.router_id = Some(parse_router_id(path, e)?),
            "dataplane" => {
                sys.dataplane = parse_choice(
                    path,
                    e,
                    &[("auto", DataplaneKind::Auto), ("kernel", DataplaneKind::Kernel), ("userspace", DataplaneKind::Userspace), ("null", DataplaneKind::Null)],
                )?
            }
            "listen" => sys.listen = parse_ip_list(path, e)?,
            "max_running_scripts" => sys.max_running_scripts = parse_u32_range(path, e, 1, 1024)?,
            "script_dir" => sys.script_dir = std::path::PathBuf::from(parse_nonempty(path, e)?),
            "script_timeout" => sys.script_timeout = std::time::Duration::from_secs(u64::from(parse_u32_range(path, e, 1, 3600)?)),
            "scripts" => sys.scripts = parse_bool(path, e)?,
            "propppd_socket" => sys.propppd_socket = std::path::PathBuf::from(parse_nonempty(path, e)?),
            "switch_socket" => sys.switch_socket = std::path::PathBuf::from(parse_nonempty(path, e)?),
            _ => return Err(unknown_key(path, section, e)),
        }
    }
    Ok(sys)
}

/// Built-in `[ppp_profile "default"]`.
fn builtin_ppp(trace: TraceFlags) -> PppProfile {
    PppProfile { name: DEFAULT_PROFILE.into(), line: None, mtu: 1500, mru: 1500, trace_flags: trace, pppd_options: None }
}

/// Built-in `[eth_profile "default"]`.
fn builtin_eth(trace: TraceFlags) -> EthProfile {
    EthProfile { name: DEFAULT_PROFILE.into(), line: None, mtu: None, bridge: None, trace_flags: trace }
}

/// Applies one `[ppp_profile]` parameter; `Ok(false)` for an unknown key.
fn apply_ppp(path: &Path, p: &mut PppProfile, e: &IniEntry) -> Result<bool, ConfigError> {
    match e.key.as_str() {
        "mtu" => p.mtu = parse_u16_range(path, e, 64, u16::MAX)?,
        "mru" => p.mru = parse_u16_range(path, e, 64, u16::MAX)?,
        "trace_flags" => p.trace_flags = parse_trace(path, e)?,
        "pppd_options" => p.pppd_options = optional_string(e),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies one `[eth_profile]` parameter; `Ok(false)` for an unknown key.
fn apply_eth(path: &Path, p: &mut EthProfile, e: &IniEntry) -> Result<bool, ConfigError> {
    match e.key.as_str() {
        "mtu" => p.mtu = Some(parse_u16_range(path, e, 64, u16::MAX)?),
        "bridge" => p.bridge = if e.value.is_empty() { None } else { Some(parse_ifname(path, e)?) },
        "trace_flags" => p.trace_flags = parse_trace(path, e)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies one tunnel parameter (profiles and instances); `Ok(false)` for
/// an unknown key.
fn apply_tunnel(path: &Path, p: &mut TunnelParams, e: &IniEntry) -> Result<bool, ConfigError> {
    let ms = |lo: u64, hi: u64| parse_duration(path, e, DurationUnit::Millis, Duration::from_millis(lo), Duration::from_millis(hi));
    let c = &mut p.core;
    match e.key.as_str() {
        "peer" => c.peer = Some(parse_socket_addr(path, e, L2TP_PORT)?),
        "local" => c.local = Some(parse_socket_addr(path, e, 0)?),
        "version" => c.version = parse_choice(path, e, VERSIONS)?,
        "v2_fallback" => c.v2_fallback = parse_bool(path, e)?,
        "encap" => c.transport = parse_choice(path, e, ENCAPS)?,
        "secret" => c.secret = optional_string(e).map(String::into_bytes),
        "hide_avps" => c.hide_avps = parse_bool(path, e)?,
        "digest" => c.digest = parse_choice(path, e, DIGESTS)?,
        "host_name" => c.host_name = optional_string(e),
        "hello_timeout" => {
            let d = parse_duration(path, e, DurationUnit::Secs, Duration::ZERO, Duration::from_secs(3600))?;
            c.hello_interval = (!d.is_zero()).then_some(d);
        }
        "retry_timeout" => c.retry_timeout = ms(100, 60_000)?,
        "max_retry_timeout" => c.max_retry_timeout = ms(100, 600_000)?,
        "max_retries" => c.max_retries = parse_u32_range(path, e, 1, 100)?,
        "rx_window_size" => c.rx_window_size = parse_u16_range(path, e, 1, u16::MAX)?,
        "max_sessions" => c.max_sessions = parse_u32_range(path, e, 0, u32::MAX)?,
        "trace_flags" => c.trace_flags = parse_trace(path, e)?,
        "session_profile" => p.session_profile = parse_name(path, e)?,
        "ppp_profile" => p.ppp_profile = parse_name(path, e)?,
        "eth_profile" => p.eth_profile = parse_name(path, e)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies one session parameter (profiles and instances); `Ok(false)` for
/// an unknown key.
fn apply_session(path: &Path, p: &mut SessionParams, e: &IniEntry) -> Result<bool, ConfigError> {
    let c = &mut p.core;
    match e.key.as_str() {
        "pseudowire" => c.pseudowire = parse_choice(path, e, PSEUDOWIRES)?,
        "cookie" => c.cookie = parse_hex_octets(path, e, &[0, 4, 8])?,
        "peer_cookie" => c.peer_cookie = Some(parse_hex_octets(path, e, &[0, 4, 8])?).filter(|v| !v.is_empty()),
        "l2spec_type" => c.l2spec = parse_choice(path, e, L2SPEC_TYPES)?,
        "seqnum" => c.seqnum = parse_bool(path, e)?,
        "interface_name" => c.interface_name = if e.value.is_empty() { None } else { Some(parse_ifname(path, e)?) },
        "vlan_id" => c.vlan_id = Some(parse_u16_range(path, e, 1, 4094)?),
        "trace_flags" => c.trace_flags = parse_trace(path, e)?,
        "ppp_profile" => p.ppp_profile = Some(parse_name(path, e)?),
        "eth_profile" => p.eth_profile = Some(parse_name(path, e)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Checks that a profile reference `key = name` resolves.
fn check_ref(path: &Path, refs: &Refs<'_>, kind: &str, name: &str, line: Option<usize>) -> Result<(), ConfigError> {
    if refs.has(kind, name) {
        Ok(())
    } else {
        Err(err_at(path, line, format!("no [{kind} \"{name}\"] is defined")))
    }
}

/// Cross-checks resolved tunnel parameters.
fn check_tunnel_params(path: &Path, p: &TunnelParams, lines: &Lines, header: Option<usize>, refs: &Refs<'_>) -> Result<(), ConfigError> {
    if p.core.transport == Transport::Ip && p.core.version == Version::V2 {
        let line = line_of(lines, &["encap", "version"], header);
        return Err(err_at(path, line, "`encap = ip` needs `version = 3` (L2TPv2 runs over UDP only)"));
    }
    if p.core.hide_avps && p.core.secret.is_none() {
        let line = line_of(lines, &["hide_avps", "secret"], header);
        return Err(err_at(path, line, "`hide_avps = yes` needs a `secret`"));
    }
    if p.core.max_retry_timeout < p.core.retry_timeout {
        let line = line_of(lines, &["max_retry_timeout", "retry_timeout"], header);
        return Err(err_at(path, line, "`max_retry_timeout` is less than `retry_timeout`"));
    }
    check_ref(path, refs, SESSION_PROFILE, &p.session_profile, line_of(lines, &["session_profile"], header))?;
    check_ref(path, refs, PPP_PROFILE, &p.ppp_profile, line_of(lines, &["ppp_profile"], header))?;
    check_ref(path, refs, ETH_PROFILE, &p.eth_profile, line_of(lines, &["eth_profile"], header))
}

/// Cross-checks resolved session parameters (profiles and instances).
fn check_session_params(path: &Path, p: &SessionParams, lines: &Lines, header: Option<usize>, refs: &Refs<'_>) -> Result<(), ConfigError> {
    if p.core.vlan_id.is_some() && p.core.pseudowire != Pseudowire::Vlan {
        let line = line_of(lines, &["vlan_id", "pseudowire"], header);
        return Err(err_at(path, line, "`vlan_id` is only for `pseudowire = vlan`"));
    }
    if let Some(name) = &p.ppp_profile {
        check_ref(path, refs, PPP_PROFILE, name, line_of(lines, &["ppp_profile"], header))?;
    }
    if let Some(name) = &p.eth_profile {
        check_ref(path, refs, ETH_PROFILE, name, line_of(lines, &["eth_profile"], header))?;
    }
    Ok(())
}

/// Peer profiles: `default` (built-in or the file's) and the named ones.
/// `peer` is never inherited; the profile references are, from `default`.
fn build_peer_profiles(path: &Path, ini: &IniFile, refs: &Refs<'_>) -> Result<Vec<PeerProfile>, ConfigError> {
    let builtin = PeerProfile {
        name: DEFAULT_PROFILE.into(),
        line: None,
        peer: None,
        tunnel_profile: DEFAULT_PROFILE.into(),
        session_profile: DEFAULT_PROFILE.into(),
        ppp_profile: DEFAULT_PROFILE.into(),
        eth_profile: DEFAULT_PROFILE.into(),
    };
    let sections: Vec<&IniSection> = ini.sections_of(PEER_PROFILE).collect();
    let default_section = sections.iter().find(|s| s.name.as_deref() == Some(DEFAULT_PROFILE));
    let default = match default_section {
        Some(s) => peer_profile_from(path, s, &builtin, refs)?,
        None => builtin.clone(),
    };
    let mut out = Vec::new();
    if default_section.is_none() {
        out.push(default.clone());
    }
    let mut seen: Vec<(PeerMatch, usize)> = Vec::new();
    for s in sections {
        let p = if s.name.as_deref() == Some(DEFAULT_PROFILE) { default.clone() } else { peer_profile_from(path, s, &default, refs)? };
        if let Some(m) = p.peer {
            let line = s.get("peer").map_or(s.line, |e| e.line);
            if let Some((_, first)) = seen.iter().find(|(other, _)| *other == m) {
                return Err(ConfigError::at(path, line, format!("the same `peer` is already matched by the profile at line {first}")));
            }
            seen.push((m, line));
        }
        out.push(p);
    }
    Ok(out)
}

/// One `[peer_profile]` section over `base`.
fn peer_profile_from(path: &Path, s: &IniSection, base: &PeerProfile, refs: &Refs<'_>) -> Result<PeerProfile, ConfigError> {
    let mut p = PeerProfile { name: s.name.clone().unwrap_or_default(), line: Some(s.line), peer: None, ..base.clone() };
    for e in &s.entries {
        let (kind, slot) = match e.key.as_str() {
            "peer" => {
                p.peer = Some(parse_peer_match(path, e)?);
                continue;
            }
            TUNNEL_PROFILE => (TUNNEL_PROFILE, &mut p.tunnel_profile),
            SESSION_PROFILE => (SESSION_PROFILE, &mut p.session_profile),
            PPP_PROFILE => (PPP_PROFILE, &mut p.ppp_profile),
            ETH_PROFILE => (ETH_PROFILE, &mut p.eth_profile),
            _ => return Err(unknown_key(path, s, e)),
        };
        let name = parse_name(path, e)?;
        check_ref(path, refs, kind, &name, Some(e.line))?;
        *slot = name;
    }
    Ok(p)
}

/// Tunnel instances in file order, each with the lines of its parameters.
fn build_tunnels(path: &Path, ini: &IniFile, refs: &Refs<'_>) -> Result<Vec<(TunnelInstance, Lines)>, ConfigError> {
    ini.sections_of(TUNNEL).map(|s| tunnel_from_section(path, s, refs)).collect()
}

/// One `[tunnel "NAME"]` section: its profile (or `default`), then its own
/// parameters, cross-checked; also used for `prol2tp create tunnel`.
pub(super) fn tunnel_from_section(path: &Path, s: &IniSection, refs: &Refs<'_>) -> Result<(TunnelInstance, Lines), ConfigError> {
    let profile_name = match s.get(TUNNEL_PROFILE) {
        Some(e) => {
            let name = parse_name(path, e)?;
            check_ref(path, refs, TUNNEL_PROFILE, &name, Some(e.line))?;
            name
        }
        None => DEFAULT_PROFILE.to_string(),
    };
    let profile = refs.tunnel.get(&profile_name).ok_or_else(|| ConfigError::at(path, s.line, "tunnel profile vanished"))?;
    let mut params = profile.value.clone();
    let mut lines = profile.lines.clone();
    let mut persist = false;
    for e in &s.entries {
        match e.key.as_str() {
            TUNNEL_PROFILE => {}
            "persist" => persist = parse_bool(path, e)?,
            _ if apply_tunnel(path, &mut params, e)? => {}
            _ => return Err(unknown_key(path, s, e)),
        }
        lines.insert(e.key.clone(), e.line);
    }
    check_tunnel_params(path, &params, &lines, Some(s.line), refs)?;
    let Some(peer) = params.core.peer else {
        return Err(ConfigError::at(path, s.line, format!("{} needs a `peer`", s.header_text())));
    };
    let name = s.name.clone().unwrap_or_default();
    Ok((TunnelInstance { name, line: s.line, tunnel_profile: profile_name, peer, persist, params }, lines))
}

/// Session instances in file order.
fn build_sessions(path: &Path, ini: &IniFile, refs: &Refs<'_>, tunnels: &[(TunnelInstance, Lines)]) -> Result<Vec<SessionInstance>, ConfigError> {
    let mut out = Vec::new();
    for s in ini.sections_of(SESSION) {
        let full = s.name.as_deref().unwrap_or_default();
        let (tunnel_name, name) = full
            .split_once('/')
            .filter(|(t, n)| !t.is_empty() && !n.is_empty())
            .ok_or_else(|| ConfigError::at(path, s.line, format!("session name `{full}` must be TUNNEL/NAME")))?;
        let (tunnel, _) = tunnels
            .iter()
            .find(|(t, _)| t.name == tunnel_name)
            .ok_or_else(|| ConfigError::at(path, s.line, format!("no [tunnel \"{tunnel_name}\"] is defined")))?;
        out.push(session_from_section(path, s, refs, tunnel_name, name, &tunnel.params)?);
    }
    Ok(out)
}

/// One `[session "TUNNEL/NAME"]` section of tunnel `tunnel_name`, whose
/// resolved parameters are `tunnel`: its session profile (its own, else
/// the tunnel's), then its own parameters, cross-checked against the
/// tunnel; also used for `prol2tp create session`.
pub(super) fn session_from_section(
    path: &Path,
    s: &IniSection,
    refs: &Refs<'_>,
    tunnel_name: &str,
    name: &str,
    tunnel: &TunnelParams,
) -> Result<SessionInstance, ConfigError> {
    let profile_name = match s.get(SESSION_PROFILE) {
        Some(e) => {
            let n = parse_name(path, e)?;
            check_ref(path, refs, SESSION_PROFILE, &n, Some(e.line))?;
            n
        }
        None => tunnel.session_profile.clone(),
    };
    let profile = refs.session.get(&profile_name).ok_or_else(|| ConfigError::at(path, s.line, "session profile vanished"))?;
    let mut params = profile.value.clone();
    let mut lines = profile.lines.clone();
    let mut call_type = CallType::IncomingLac;
    let mut user_name = None;
    for e in &s.entries {
        match e.key.as_str() {
            SESSION_PROFILE => {}
            "call_type" => call_type = parse_choice(path, e, CALL_TYPES)?,
            "user_name" => user_name = optional_string(e),
            _ if apply_session(path, &mut params, e)? => {}
            _ => return Err(unknown_key(path, s, e)),
        }
        lines.insert(e.key.clone(), e.line);
    }
    params.ppp_profile.get_or_insert_with(|| tunnel.ppp_profile.clone());
    params.eth_profile.get_or_insert_with(|| tunnel.eth_profile.clone());
    check_session_params(path, &params, &lines, Some(s.line), refs)?;
    check_session_in_tunnel(path, &params, &lines, s.line, tunnel_name, tunnel)?;
    Ok(SessionInstance { tunnel: tunnel_name.to_string(), name: name.to_string(), line: s.line, session_profile: profile_name, call_type, user_name, params })
}

/// Checks a session instance against its tunnel's version.
fn check_session_in_tunnel(path: &Path, p: &SessionParams, lines: &Lines, header: usize, tunnel_name: &str, tunnel: &TunnelParams) -> Result<(), ConfigError> {
    if p.core.pseudowire == Pseudowire::Vlan && p.core.vlan_id.is_none() {
        let line = line_of(lines, &["pseudowire"], Some(header));
        return Err(err_at(path, line, "`pseudowire = vlan` needs a `vlan_id`"));
    }
    if tunnel.core.version == Version::V2 {
        if p.core.pseudowire != Pseudowire::Ppp {
            let line = line_of(lines, &["pseudowire"], Some(header));
            return Err(err_at(path, line, format!("tunnel \"{tunnel_name}\" is L2TPv2, which carries only `pseudowire = ppp`")));
        }
        if !p.core.cookie.is_empty() || p.core.peer_cookie.is_some() {
            let line = line_of(lines, &["cookie", "peer_cookie"], Some(header));
            return Err(err_at(path, line, format!("cookies need L2TPv3; tunnel \"{tunnel_name}\" is L2TPv2")));
        }
    }
    Ok(())
}
