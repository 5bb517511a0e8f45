//! propppd's configuration: `/etc/proppp/propppd.conf`, typed.
//!
//! The file (see `propppd.conf(5)`) is an INI file read by [`common::ini`],
//! with three section kinds:
//!
//! - `[system]`: log levels per category (`log_event`, `log_main`,
//!   `log_mgmt`, `log_ppp`, or `log_level` for all four), the control and
//!   channel socket paths, the pid file, the limits on instances and
//!   channel owners, and the data plane (`auto` or `null`);
//! - `[profile "NAME"]`: how a PPP session is run — authentication methods
//!   in the order offered, MRU, LCP echo keepalive, address pool, DNS
//!   servers (RFC 1877), timeouts, IPv6CP on or off, the client's user name
//!   and password, our address on the link and the secrets files. A
//!   built-in profile named `default` holds the defaults; the file may
//!   override it, and every other profile starts from it;
//! - `[pool "NAME"]`: an IPv4 address pool, `range = ` one or more ranges
//!   separated by commas (a key may appear once per section, so ranges are
//!   listed on one line).
//!
//! Everything is checked when the file is read: unknown sections or
//! parameters, bad values, a profile naming a missing pool, overlapping
//! pools, a user name without a password, all as a [`ConfigError`]
//! `file:line: problem`. [`check`] (what `propppd -n` runs) also reads the
//! secrets files the profiles need and builds the pools.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use common::ini::ConfigError;
use common::ini::{
    parse_bool, parse_choice, parse_duration, parse_nonempty, parse_u16_range, parse_u32_range, value_error, DurationUnit, IniEntry, IniFile, IniSection,
};
pub use common::log::Level;

use crate::pool::{Ipv4Range, PoolSet};
use crate::secrets::{Secrets, DEFAULT_CHAP_SECRETS, DEFAULT_PAP_SECRETS};

/// Default path of the configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/proppp/propppd.conf";

/// Default path of the control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/proppp/propppd.ctl";

/// Default path of the channel socket channel owners connect to.
pub const DEFAULT_CHANNEL_SOCKET: &str = common::channel::DEFAULT_CHANNEL_SOCKET;

/// Default path of the pid file written when the daemon detaches.
pub const DEFAULT_PID_FILE: &str = "/run/propppd.pid";

/// Default and largest `max_sessions`.
pub const MAX_SESSIONS: (u32, u32) = (10_000, 1_000_000);

/// Default and largest `max_owners`.
pub const MAX_OWNERS: (u32, u32) = (16, 1024);

/// Where the IP packets of PPP sessions go (`[system] dataplane`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataplane {
    /// Kernel channels (PPPoX sockets) get a `/dev/ppp` unit, framed
    /// channels a TUN device (`auto`, the default).
    Auto,
    /// No interface at all: IP packets are counted and dropped (`null`,
    /// for tests and benchmarks).
    Null,
}

/// The name of the built-in profile.
pub const DEFAULT_PROFILE: &str = "default";

/// Smallest and largest `mru`, octets (pppd's limits; RFC 1661 section
/// 6.1 makes 1500 the default).
pub const MRU_RANGE: (u16, u16) = (128, 16384);

/// Longest `idle_timeout` / `session_timeout`: 366 days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 3600);

/// An authentication protocol a profile asks the peer to use (LCP
/// Authentication-Protocol option, RFC 1661 section 6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    /// PAP, RFC 1334 (`pap`).
    Pap,
    /// CHAP with MD5, RFC 1994 (`chap`).
    Chap,
    /// MS-CHAP version 2, RFC 2759 (`mschapv2`).
    MsChapV2,
}

impl AuthMethod {
    /// The word used in the file: `pap`, `chap` or `mschapv2`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Pap => "pap",
            AuthMethod::Chap => "chap",
            AuthMethod::MsChapV2 => "mschapv2",
        }
    }

    /// True for the methods whose secrets are in `chap-secrets`.
    pub fn uses_chap_secrets(self) -> bool {
        matches!(self, AuthMethod::Chap | AuthMethod::MsChapV2)
    }
}

/// The word → method table (`mschap-v2` is accepted as in pppd's option).
const AUTH_WORDS: &[(&str, AuthMethod)] =
    &[("pap", AuthMethod::Pap), ("chap", AuthMethod::Chap), ("mschapv2", AuthMethod::MsChapV2), ("mschap-v2", AuthMethod::MsChapV2)];

/// `[system]`: daemon-wide settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// Level of the `event` category: session created, up, down, destroyed
    /// (default `info`).
    pub log_event: Level,
    /// Level of the `main` category: start, stop, reload, errors of the
    /// daemon itself (default `info`).
    pub log_main: Level,
    /// Level of the `mgmt` category: control socket requests from
    /// `propppctl` and the other daemons (default `info`).
    pub log_mgmt: Level,
    /// Level of the `ppp` category: PPP negotiation per session (default
    /// `info`; `debug` logs every packet summary).
    pub log_ppp: Level,
    /// Path of the control socket (default [`DEFAULT_CONTROL_SOCKET`]).
    pub control_socket: PathBuf,
    /// Path of the channel socket (default [`DEFAULT_CHANNEL_SOCKET`]).
    pub channel_socket: PathBuf,
    /// Pid file written when the daemon detaches (default
    /// [`DEFAULT_PID_FILE`]).
    pub pid_file: PathBuf,
    /// Most PPP instances at once, 1..=1,000,000 (default 10,000); a
    /// `PppOpen` beyond it is answered `down` at once.
    pub max_sessions: u32,
    /// Most channel owners connected at once, 1..=1024 (default 16).
    pub max_owners: u32,
    /// The data plane (default [`Dataplane::Auto`]).
    pub dataplane: Dataplane,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            log_event: Level::Info,
            log_main: Level::Info,
            log_mgmt: Level::Info,
            log_ppp: Level::Info,
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            channel_socket: PathBuf::from(DEFAULT_CHANNEL_SOCKET),
            pid_file: PathBuf::from(DEFAULT_PID_FILE),
            max_sessions: MAX_SESSIONS.0,
            max_owners: MAX_OWNERS.0,
            dataplane: Dataplane::Auto,
        }
    }
}

/// `[profile "NAME"]`: how a PPP session is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The profile name.
    pub name: String,
    /// Line of the section header; `None` for the built-in `default` not
    /// overridden by the file.
    pub line: Option<usize>,
    /// Methods the peer must authenticate with, in the order offered in
    /// LCP Configure-Request (RFC 1661 section 6.2); empty (`none`): the
    /// peer is not authenticated. Default `mschapv2, chap`.
    pub auth: Vec<AuthMethod>,
    /// MRU we ask for, 128..=16384 octets (default 1500).
    pub mru: u16,
    /// LCP Echo-Request interval (RFC 1661 section 5.8), 0 = no echo,
    /// up to 3600 s (default 30 s).
    pub echo_interval: Duration,
    /// Unanswered echoes after which the link is dropped, 0..=1000, 0 =
    /// never (default 4).
    pub echo_failures: u32,
    /// The pool the peer's address comes from when the secrets file gives
    /// no static address; `None`: no pool (default).
    pub pool: Option<String>,
    /// DNS servers offered in IPCP (RFC 1877), zero to two (default none).
    pub dns: Vec<Ipv4Addr>,
    /// Drop the session after this long without data, `0` = never
    /// (default 0).
    pub idle_timeout: Duration,
    /// Drop the session after this long, `0` = no limit (default 0).
    pub session_timeout: Duration,
    /// Run IPv6CP (RFC 5072) as well as IPCP (default no).
    pub ipv6: bool,
    /// Name we authenticate with when the peer asks (client / LAC use).
    pub user_name: Option<String>,
    /// Password we authenticate with (client / LAC use).
    pub password: Option<String>,
    /// Our address on the link (IPCP IP-Address, RFC 1332 section 3.3);
    /// `None`: the daemon's choice.
    pub local_ip: Option<Ipv4Addr>,
    /// CHAP and MS-CHAPv2 secrets file (default `/etc/ppp/chap-secrets`).
    pub chap_secrets: PathBuf,
    /// PAP secrets file (default `/etc/ppp/pap-secrets`).
    pub pap_secrets: PathBuf,
}

impl Profile {
    /// The built-in `default` profile.
    pub fn builtin() -> Profile {
        Profile {
            name: DEFAULT_PROFILE.to_string(),
            line: None,
            auth: vec![AuthMethod::MsChapV2, AuthMethod::Chap],
            mru: 1500,
            echo_interval: Duration::from_secs(30),
            echo_failures: 4,
            pool: None,
            dns: Vec::new(),
            idle_timeout: Duration::ZERO,
            session_timeout: Duration::ZERO,
            ipv6: false,
            user_name: None,
            password: None,
            local_ip: None,
            chap_secrets: PathBuf::from(DEFAULT_CHAP_SECRETS),
            pap_secrets: PathBuf::from(DEFAULT_PAP_SECRETS),
        }
    }
}

/// `[pool "NAME"]`: an IPv4 address pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// The pool name.
    pub name: String,
    /// Line of the section header.
    pub line: usize,
    /// The ranges, as written (disjoint, checked).
    pub ranges: Vec<Ipv4Range>,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[system]` (defaults when absent).
    pub system: SystemConfig,
    /// Profiles by name, `default` always present.
    pub profiles: BTreeMap<String, Profile>,
    /// Pools by name.
    pub pools: BTreeMap<String, PoolConfig>,
}

impl Config {
    /// Reads and checks `path`.
    ///
    /// # Errors
    /// `path: …` when the file cannot be read; `path:line: …` for any
    /// problem listed in the module documentation.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        build(&IniFile::load(path)?)
    }

    /// Parses `text` as the content of `path` (`path` is used in errors).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        build(&IniFile::parse_str(path, text)?)
    }

    /// The profile named `name`, or `default` when `name` is `None`.
    pub fn profile(&self, name: Option<&str>) -> Option<&Profile> {
        self.profiles.get(name.unwrap_or(DEFAULT_PROFILE))
    }

    /// The pools as a [`PoolSet`] with no lease.
    ///
    /// # Errors
    /// Cannot fail for a loaded configuration (pools are checked when the
    /// file is read); a [`ConfigError`] naming the file otherwise.
    pub fn pool_set(&self) -> Result<PoolSet, ConfigError> {
        PoolSet::new(self.pools.values().map(|p| (p.name.clone(), p.ranges.clone()))).map_err(|e| ConfigError::file(&self.path, e.to_string()))
    }

    /// The secrets files the profiles need: `chap_secrets` of every profile
    /// offering CHAP or MS-CHAPv2, `pap_secrets` of every profile offering
    /// PAP (sorted, without duplicates).
    pub fn needed_secrets(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for p in self.profiles.values() {
            if p.auth.iter().any(|m| m.uses_chap_secrets()) {
                out.push(p.chap_secrets.clone());
            }
            if p.auth.contains(&AuthMethod::Pap) {
                out.push(p.pap_secrets.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A configuration with everything it refers to read and checked.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The configuration.
    pub config: Config,
    /// Every secrets file of [`Config::needed_secrets`], parsed.
    pub secrets: BTreeMap<PathBuf, Secrets>,
    /// The pools, with no lease.
    pub pools: PoolSet,
}

/// What `propppd -n` does: loads `path`, then the secrets files its
/// profiles need, and builds the pools.
///
/// # Errors
/// The first problem, as `file:line: …` (the configuration or a secrets
/// file) or `file: …` (a file that cannot be read).
pub fn check(path: &Path) -> Result<Checked, ConfigError> {
    let config = Config::load(path)?;
    let mut secrets = BTreeMap::new();
    for file in config.needed_secrets() {
        let s = Secrets::load(&file)?;
        secrets.insert(file, s);
    }
    let pools = config.pool_set()?;
    Ok(Checked { config, secrets, pools })
}

const SYSTEM: &str = "system";
const PROFILE: &str = "profile";
const POOL: &str = "pool";
const KINDS: [&str; 3] = [SYSTEM, PROFILE, POOL];

/// Builds the configuration from a parsed file.
fn build(ini: &IniFile) -> Result<Config, ConfigError> {
    let path = ini.path.as_path();
    ini.check_sections(&KINDS, SYSTEM)?;
    let mut system = SystemConfig::default();
    if let Some(s) = ini.sections_of(SYSTEM).next() {
        apply_system(path, s, &mut system)?;
    }
    let pools = build_pools(path, ini)?;
    let profiles = build_profiles(path, ini, &pools)?;
    Ok(Config { path: path.to_path_buf(), system, profiles, pools })
}

/// The error for a key a section does not take.
fn unknown_key(path: &Path, section: &IniSection, e: &IniEntry) -> ConfigError {
    ConfigError::at(path, e.line, format!("unknown parameter `{}` in [{}]", e.key, section.kind))
}

/// Parses a log level word.
fn parse_level(path: &Path, e: &IniEntry) -> Result<Level, ConfigError> {
    Level::parse(&e.value).map_err(|_| value_error(path, e, "one of error, warning, notice, info, debug"))
}

/// Applies `[system]`. `log_level` sets every category; a category's own
/// key wins over it wherever it stands in the section.
fn apply_system(path: &Path, s: &IniSection, sys: &mut SystemConfig) -> Result<(), ConfigError> {
    if let Some(e) = s.get("log_level") {
        let level = parse_level(path, e)?;
        (sys.log_event, sys.log_main, sys.log_mgmt, sys.log_ppp) = (level, level, level, level);
    }
    for e in &s.entries {
        match e.key.as_str() {
            "log_level" => {}
            "log_event" => sys.log_event = parse_level(path, e)?,
            "log_main" => sys.log_main = parse_level(path, e)?,
            "log_mgmt" => sys.log_mgmt = parse_level(path, e)?,
            "log_ppp" => sys.log_ppp = parse_level(path, e)?,
            "control_socket" => sys.control_socket = parse_abs_path(path, e)?,
            "channel_socket" => sys.channel_socket = parse_abs_path(path, e)?,
            "pid_file" => sys.pid_file = parse_abs_path(path, e)?,
            "max_sessions" => sys.max_sessions = parse_u32_range(path, e, 1, MAX_SESSIONS.1)?,
            "max_owners" => sys.max_owners = parse_u32_range(path, e, 1, MAX_OWNERS.1)?,
            "dataplane" => sys.dataplane = parse_choice(path, e, &[("auto", Dataplane::Auto), ("null", Dataplane::Null)])?,
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    Ok(())
}

/// Parses an absolute path.
fn parse_abs_path(path: &Path, e: &IniEntry) -> Result<PathBuf, ConfigError> {
    let v = parse_nonempty(path, e)?;
    if v.starts_with('/') {
        Ok(PathBuf::from(v))
    } else {
        Err(value_error(path, e, "an absolute path"))
    }
}

/// Builds every `[pool "NAME"]` and checks that no two ranges overlap.
fn build_pools(path: &Path, ini: &IniFile) -> Result<BTreeMap<String, PoolConfig>, ConfigError> {
    let mut pools = BTreeMap::new();
    let mut all: Vec<(Ipv4Range, usize, String)> = Vec::new();
    for s in ini.sections_of(POOL) {
        let name = s.name.clone().unwrap_or_default();
        let mut ranges = Vec::new();
        for e in &s.entries {
            match e.key.as_str() {
                "range" => {
                    for part in e.value.split(',') {
                        let r = Ipv4Range::parse(part).map_err(|m| ConfigError::at(path, e.line, format!("bad `range`: {m}")))?;
                        all.push((r, e.line, name.clone()));
                        ranges.push(r);
                    }
                }
                _ => return Err(unknown_key(path, s, e)),
            }
        }
        if ranges.is_empty() {
            return Err(ConfigError::at(path, s.line, format!("pool `{name}` needs `range = …`")));
        }
        pools.insert(name.clone(), PoolConfig { name, line: s.line, ranges });
    }
    all.sort();
    for pair in all.windows(2) {
        if let [(r1, _, p1), (r2, l2, p2)] = pair {
            if r1.overlaps(r2) {
                return Err(ConfigError::at(path, *l2, format!("range {r2} of pool `{p2}` overlaps range {r1} of pool `{p1}`")));
            }
        }
    }
    Ok(pools)
}

/// Resolves every profile (`default` first, then the others from it) and
/// checks references and combinations.
fn build_profiles(path: &Path, ini: &IniFile, pools: &BTreeMap<String, PoolConfig>) -> Result<BTreeMap<String, Profile>, ConfigError> {
    let sections: Vec<&IniSection> = ini.sections_of(PROFILE).collect();
    let mut default = Profile::builtin();
    if let Some(s) = sections.iter().find(|s| s.name.as_deref() == Some(DEFAULT_PROFILE)) {
        default = apply_profile(path, s, &default, pools)?;
    }
    let mut out = BTreeMap::new();
    for s in sections {
        if let Some(name) = s.name.as_deref().filter(|n| *n != DEFAULT_PROFILE) {
            out.insert(name.to_string(), apply_profile(path, s, &default, pools)?);
        }
    }
    out.insert(DEFAULT_PROFILE.to_string(), default);
    Ok(out)
}

/// Applies one `[profile]` section on top of `base`, then checks the
/// result.
fn apply_profile(path: &Path, s: &IniSection, base: &Profile, pools: &BTreeMap<String, PoolConfig>) -> Result<Profile, ConfigError> {
    let mut p = base.clone();
    p.name = s.name.clone().unwrap_or_default();
    p.line = Some(s.line);
    if let (Some(both), Some(one)) = (s.get("secrets"), s.get("chap_secrets").or_else(|| s.get("pap_secrets"))) {
        return Err(ConfigError::at(path, one.line, format!("`secrets` (line {}) already sets both secrets files", both.line)));
    }
    for e in &s.entries {
        match e.key.as_str() {
            "auth" => p.auth = parse_auth(path, e)?,
            "mru" => p.mru = parse_u16_range(path, e, MRU_RANGE.0, MRU_RANGE.1)?,
            "echo_interval" => p.echo_interval = parse_duration(path, e, DurationUnit::Secs, Duration::ZERO, Duration::from_secs(3600))?,
            "echo_failures" => p.echo_failures = parse_u32_range(path, e, 0, 1000)?,
            "pool" => {
                let name = parse_nonempty(path, e)?;
                if !pools.contains_key(&name) {
                    return Err(ConfigError::at(path, e.line, format!("no [pool \"{name}\"] section")));
                }
                p.pool = Some(name);
            }
            "dns" => p.dns = parse_dns(path, e)?,
            "idle_timeout" => p.idle_timeout = parse_duration(path, e, DurationUnit::Secs, Duration::ZERO, MAX_TIMEOUT)?,
            "session_timeout" => p.session_timeout = parse_duration(path, e, DurationUnit::Secs, Duration::ZERO, MAX_TIMEOUT)?,
            "ipv6" => p.ipv6 = parse_bool(path, e)?,
            "user_name" => p.user_name = Some(parse_nonempty(path, e)?),
            "password" => p.password = Some(e.value.clone()),
            "local_ip" => p.local_ip = Some(parse_host_addr(path, e)?),
            "secrets" => {
                let file = parse_abs_path(path, e)?;
                p.chap_secrets = file.clone();
                p.pap_secrets = file;
            }
            "chap_secrets" => p.chap_secrets = parse_abs_path(path, e)?,
            "pap_secrets" => p.pap_secrets = parse_abs_path(path, e)?,
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    if p.user_name.is_some() != p.password.is_some() {
        let (line, msg) = match (s.get("user_name"), s.get("password")) {
            (Some(e), _) if p.password.is_none() => (e.line, "`user_name` needs a `password`"),
            (_, Some(e)) => (e.line, "`password` needs a `user_name`"),
            _ => (s.line, "`user_name` and `password` go together"),
        };
        return Err(ConfigError::at(path, line, msg));
    }
    Ok(p)
}

/// Parses `auth = none` or a comma list of distinct methods.
fn parse_auth(path: &Path, e: &IniEntry) -> Result<Vec<AuthMethod>, ConfigError> {
    if e.value.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for word in e.value.split(',').map(str::trim) {
        let lower = word.to_ascii_lowercase();
        let m = AUTH_WORDS.iter().find(|(w, _)| *w == lower).map(|(_, m)| *m).ok_or_else(|| value_error(path, e, "`none` or a list of pap, chap, mschapv2"))?;
        if out.contains(&m) {
            return Err(ConfigError::at(path, e.line, format!("`{}` given twice in `auth`", m.name())));
        }
        out.push(m);
    }
    Ok(out)
}

/// Parses an IPv4 address a host may hold (not unspecified, loopback,
/// multicast or `240.0.0.0/4`).
fn parse_host_addr(path: &Path, e: &IniEntry) -> Result<Ipv4Addr, ConfigError> {
    let bad = || value_error(path, e, "an IPv4 host address");
    let a: Ipv4Addr = e.value.trim().parse().map_err(|_| bad())?;
    let first = a.octets()[0];
    if first == 0 || first == 127 || first >= 224 {
        return Err(bad());
    }
    Ok(a)
}

/// Parses `dns = ADDR[, ADDR]`; `none` or empty gives no server.
fn parse_dns(path: &Path, e: &IniEntry) -> Result<Vec<Ipv4Addr>, ConfigError> {
    let v = e.value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = v.split(',').collect();
    if parts.len() > 2 {
        return Err(value_error(path, e, "one or two IPv4 addresses (primary, secondary)"));
    }
    parts.into_iter().map(|part| parse_host_addr(path, &IniEntry { value: part.trim().to_string(), ..e.clone() })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("propppd.conf")
    }

    fn load(text: &str) -> Config {
        Config::parse_str(p(), text).unwrap()
    }

    fn err(text: &str) -> (Option<usize>, String) {
        let e = Config::parse_str(p(), text).unwrap_err();
        (e.line, e.message)
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = load("");
        assert_eq!(c.system, SystemConfig::default());
        assert_eq!(c.profiles.len(), 1);
        assert_eq!(c.profile(None), Some(&Profile::builtin()));
        assert!(c.pools.is_empty());
        assert_eq!(c.needed_secrets(), vec![PathBuf::from(DEFAULT_CHAP_SECRETS)]);
    }

    #[test]
    fn system_levels_and_socket() {
        let c = load("[system]\nlog_ppp = debug\nlog_level = warning\nlog_event = NOTICE\ncontrol_socket = /run/x.ctl\n");
        assert_eq!((c.system.log_event, c.system.log_main, c.system.log_mgmt, c.system.log_ppp), (Level::Notice, Level::Warning, Level::Warning, Level::Debug));
        assert_eq!(c.system.control_socket, PathBuf::from("/run/x.ctl"));
        assert_eq!(
            err("[system]\nlog_main = loud\n"),
            (Some(2), "bad value `loud` for `log_main`: expected one of error, warning, notice, info, debug".into())
        );
        assert_eq!(err("[system]\nlog_level = x\n").0, Some(2));
        assert_eq!(err("[system]\ncontrol_socket = rel.ctl\n").0, Some(2));
        let c = load("[system]\nchannel_socket = /tmp/c.chan\npid_file = /tmp/p.pid\nmax_sessions = 5\nmax_owners = 2\ndataplane = null\n");
        assert_eq!((c.system.channel_socket.as_path(), c.system.pid_file.as_path()), (Path::new("/tmp/c.chan"), Path::new("/tmp/p.pid")));
        assert_eq!((c.system.max_sessions, c.system.max_owners, c.system.dataplane), (5, 2, Dataplane::Null));
        assert_eq!(err("[system]\nmax_sessions = 0\n").0, Some(2));
        assert_eq!(err("[system]\nmax_owners = 1025\n").0, Some(2));
        assert_eq!(err("[system]\ndataplane = kernel\n").0, Some(2));
        assert_eq!(err("[system]\nchannel_socket = x\n").0, Some(2));
        assert_eq!(err("[system]\nlog_foo = info\n"), (Some(2), "unknown parameter `log_foo` in [system]".into()));
    }

    #[test]
    fn profiles_inherit_from_default() {
        let c = load(
            "[pool \"lns\"]\nrange = 192.0.2.10-192.0.2.250, 198.51.100.0/24\n\
             [profile \"default\"]\nmru = 1400\n\
             [profile \"lns\"]\nauth = chap, pap, MSCHAP-V2\npool = lns\ndns = 192.0.2.1, 192.0.2.2\necho_interval = 10\necho_failures = 0\n\
             idle_timeout = 5m\nsession_timeout = 1h\nipv6 = yes\nlocal_ip = 192.0.2.1\nsecrets = /etc/ppp/all-secrets\n\
             [profile \"lac\"]\nauth = none\nuser_name = lac1\npassword = \"p w#\"\nchap_secrets = /etc/c\n",
        );
        let lns = c.profile(Some("lns")).unwrap();
        assert_eq!(lns.line, Some(5));
        assert_eq!(lns.auth, vec![AuthMethod::Chap, AuthMethod::Pap, AuthMethod::MsChapV2]);
        assert_eq!(lns.mru, 1400, "inherited from the file's default");
        assert_eq!(lns.pool.as_deref(), Some("lns"));
        assert_eq!(lns.dns, vec![a("192.0.2.1"), a("192.0.2.2")]);
        assert_eq!((lns.echo_interval, lns.echo_failures), (Duration::from_secs(10), 0));
        assert_eq!((lns.idle_timeout, lns.session_timeout), (Duration::from_secs(300), Duration::from_secs(3600)));
        assert!(lns.ipv6);
        assert_eq!(lns.local_ip, Some(a("192.0.2.1")));
        assert_eq!((lns.chap_secrets.as_path(), lns.pap_secrets.as_path()), (Path::new("/etc/ppp/all-secrets"), Path::new("/etc/ppp/all-secrets")));
        let lac = c.profile(Some("lac")).unwrap();
        assert!(lac.auth.is_empty());
        assert_eq!((lac.user_name.as_deref(), lac.password.as_deref()), (Some("lac1"), Some("p w#")));
        assert_eq!((lac.chap_secrets.as_path(), lac.pap_secrets.as_path()), (Path::new("/etc/c"), Path::new(DEFAULT_PAP_SECRETS)));
        assert_eq!(c.profile(None).unwrap().mru, 1400);
        assert_eq!(c.profile(None).unwrap().line, Some(3));
        assert_eq!(c.profile(Some("nope")), None);
        assert_eq!(c.needed_secrets(), vec![PathBuf::from("/etc/ppp/all-secrets"), PathBuf::from(DEFAULT_CHAP_SECRETS)]);
        let pool = &c.pools["lns"];
        assert_eq!((pool.line, pool.ranges.len()), (1, 2));
        let set = c.pool_set().unwrap();
        assert_eq!(set.stats("lns").unwrap().size, 241 + 254);
    }

    #[test]
    fn profile_errors() {
        for (text, line, what) in [
            ("[profile \"x\"]\nauth = chap, md5\n", 2, "expected `none` or a list"),
            ("[profile \"x\"]\nauth = chap, chap\n", 2, "`chap` given twice"),
            ("[profile \"x\"]\nauth = \n", 2, "expected `none`"),
            ("[profile \"x\"]\nmru = 127\n", 2, "from 128 to 16384"),
            ("[profile \"x\"]\nmru = 16385\n", 2, "from 128 to 16384"),
            ("[profile \"x\"]\necho_interval = 2h\n", 2, "duration"),
            ("[profile \"x\"]\necho_failures = 1001\n", 2, "from 0 to 1000"),
            ("[profile \"x\"]\n\npool = missing\n", 3, "no [pool \"missing\"] section"),
            ("[profile \"x\"]\ndns = 192.0.2.1, 192.0.2.2, 192.0.2.3\n", 2, "one or two"),
            ("[profile \"x\"]\ndns = 192.0.2.1, dns.example\n", 2, "IPv4 host address"),
            ("[profile \"x\"]\ndns = 127.0.0.1\n", 2, "IPv4 host address"),
            ("[profile \"x\"]\nidle_timeout = -1\n", 2, "duration"),
            ("[profile \"x\"]\nsession_timeout = 367d\n", 2, "duration"),
            ("[profile \"x\"]\nipv6 = maybe\n", 2, "yes or no"),
            ("[profile \"x\"]\nlocal_ip = 0.0.0.0\n", 2, "IPv4 host address"),
            ("[profile \"x\"]\nuser_name = u\n", 2, "needs a `password`"),
            ("[profile \"x\"]\npassword = p\n", 2, "needs a `user_name`"),
            ("[profile \"x\"]\nuser_name =\npassword = p\n", 2, "non-empty"),
            ("[profile \"x\"]\nsecrets = /a\nchap_secrets = /b\n", 3, "already sets both"),
            ("[profile \"x\"]\npap_secrets = relative\n", 2, "absolute path"),
            ("[profile \"x\"]\nmtu = 1400\n", 2, "unknown parameter `mtu` in [profile]"),
            ("[profile \"default\"]\nauth = x\n", 2, "expected"),
        ] {
            let (l, m) = err(text);
            assert_eq!(l, Some(line), "{text:?}: {m}");
            assert!(m.contains(what), "{text:?}: {m}");
        }
        // dns none, empty and one address.
        assert!(load("[profile \"x\"]\ndns = none\n").profiles["x"].dns.is_empty());
        assert_eq!(load("[profile \"x\"]\ndns = 192.0.2.53\n").profiles["x"].dns, vec![a("192.0.2.53")]);
        // A user name in the default profile is inherited with its password.
        let c = load("[profile \"default\"]\nuser_name = u\npassword = p\n[profile \"x\"]\nmru = 1400\n");
        assert_eq!(c.profiles["x"].user_name.as_deref(), Some("u"));
    }

    #[test]
    fn section_and_pool_errors() {
        for (text, line, what) in [
            ("[tunnel \"x\"]\n", 1, "unknown section kind `tunnel`"),
            ("[system \"x\"]\n", 1, "takes no name"),
            ("[profile]\n", 1, "needs a name"),
            ("[pool]\n", 1, "needs a name"),
            ("[system]\n[system]\n", 2, "duplicate section [system] (first at line 1)"),
            ("[profile \"a\"]\n[profile \"a\"]\n", 2, "duplicate section"),
            ("[pool \"a\"]\n", 1, "needs `range"),
            ("[pool \"a\"]\nrange = 192.0.2.0/24\nsize = 3\n", 3, "unknown parameter `size` in [pool]"),
            ("[pool \"a\"]\nrange = 192.0.2.0/24, 192.0.2.300\n", 2, "bad `range`"),
            ("[pool \"a\"]\nrange = 192.0.2.0/24,\n", 2, "bad `range`"),
            ("[pool \"a\"]\nrange = 192.0.2.1-192.0.2.10\n[pool \"b\"]\nrange = 192.0.2.10\n", 4, "overlaps range 192.0.2.1-192.0.2.10 of pool `a`"),
            ("[pool \"a\"]\nrange = 192.0.2.0/24, 192.0.2.7\n", 2, "overlaps"),
            ("[system]\nlog_main = info\nlog_main = debug\n", 3, "duplicate key"),
            ("log_main = info\n", 1, "outside any section"),
        ] {
            let (l, m) = err(text);
            assert_eq!(l, Some(line), "{text:?}: {m}");
            assert!(m.contains(what), "{text:?}: {m}");
        }
    }

    #[test]
    fn check_reads_secrets_and_builds_pools() {
        let dir = std::env::temp_dir().join(format!("propppd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chap = dir.join("chap-secrets");
        std::fs::write(&chap, "alice * pw 192.0.2.5\n").unwrap();
        let conf = dir.join("propppd.conf");
        let text = format!("[pool \"p\"]\nrange = 192.0.2.0/24\n[profile \"default\"]\nauth = chap\npool = p\nchap_secrets = {}\n", chap.display());
        std::fs::write(&conf, &text).unwrap();
        let checked = check(&conf).unwrap();
        assert_eq!(checked.secrets[&chap].entries[0].static_address(), Some(a("192.0.2.5")));
        assert_eq!(checked.pools.stats("p").unwrap().size, 254);
        // A broken secrets file is reported at its own file and line.
        std::fs::write(&chap, "alice * pw\nbob\n").unwrap();
        let e = check(&conf).unwrap_err();
        assert_eq!((e.path.as_path(), e.line), (chap.as_path(), Some(2)));
        // A missing one too, without a line.
        std::fs::remove_file(&chap).unwrap();
        let e = check(&conf).unwrap_err();
        assert_eq!((e.path.as_path(), e.line), (chap.as_path(), None));
        // PAP needs the pap file only.
        std::fs::write(&conf, "[profile \"default\"]\nauth = pap\npap_secrets = /nonexistent/pap\n").unwrap();
        assert_eq!(check(&conf).unwrap_err().path, PathBuf::from("/nonexistent/pap"));
        assert_eq!(Config::load(&dir.join("missing.conf")).unwrap_err().line, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
