//! proacd's configuration: `/etc/proac/proacd.conf`, typed.
//!
//! The file (see `proacd.conf(5)`) is an INI file read by [`common::ini`],
//! with four section kinds:
//!
//! - `[system]`: log levels, the control socket, the pid file, the sockets
//!   of propppd (channel) and prol2tpd (switch), the data plane, and the
//!   access concentrator's defaults and limits: AC-Name, session limits,
//!   PADI rate limiting, the AC-Cookie lifetime and the client MAC allow and
//!   deny lists;
//! - `[interface "NAME"]`: an Ethernet or VLAN interface the access
//!   concentrator answers discovery on (RFC 2516 section 5), with its own
//!   AC-Name, offered Service-Names, session limit and PADI rate;
//! - `[route "NAME"]`: where a session goes once discovery is done: match on
//!   interface, requested Service-Name and client MAC; `destination = local`
//!   hands the session to propppd (PPP terminated here), `destination = l2tp`
//!   switches it into an L2TP session of prol2tpd (LAC);
//! - `[client "NAME"]`: a PPPoE client session proacd dials itself (RFC 2516
//!   section 5 from the Host's side) and hands to propppd.
//!
//! Everything is checked when the file is read: unknown sections or
//! parameters, bad values, routes naming an interface without a section,
//! an `l2tp` route without `tunnel_profile`, and each error is returned as
//! `file:line: problem`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use common::ini::ConfigError;
use common::ini::{
    parse_bool, parse_choice, parse_duration, parse_ifname, parse_nonempty, parse_u32_range, value_error, DurationUnit, IniEntry, IniFile, IniSection,
};
pub use common::log::Level;

use crate::proto::MacAddr;

/// Default path of the configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/proac/proacd.conf";

/// Default path of the control socket `proac_info` and `proac_manage` use.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/proac/proacd.ctl";

/// Default path of prol2tpd's switch socket (`[system] switch_socket` of
/// prol2tpd).
pub const DEFAULT_PROL2TPD_SOCKET: &str = "/run/prol2tp/prol2tpd.chan";

/// Default path of propppd's channel socket.
pub const DEFAULT_PROPPPD_SOCKET: &str = common::channel::DEFAULT_CHANNEL_SOCKET;

/// Default path of the pid file written when the daemon detaches.
pub const DEFAULT_PID_FILE: &str = "/run/proacd.pid";

/// Default and largest `max_sessions` (session ids are 1..=0xFFFE, RFC 2516
/// section 4, unique over all interfaces).
pub const MAX_SESSIONS: (u32, u32) = (10_000, 0xFFFE);

/// Default `max_sessions_per_mac` (0 = unlimited, up to [`MAX_SESSIONS`]).
pub const DEFAULT_SESSIONS_PER_MAC: u32 = 4;

/// Default and largest `padi_rate`, PADIs answered per second per interface.
pub const PADI_RATE: (u32, u32) = (200, 1_000_000);

/// Default and largest `padi_burst`, PADIs answered at once.
pub const PADI_BURST: (u32, u32) = (400, 1_000_000);

/// Default `cookie_lifetime`, ms (range 1 s to 1 h).
pub const DEFAULT_COOKIE_LIFETIME_MS: u64 = 60_000;

/// Default `holdoff` of a `[client]`, ms (range 0 to 1 h).
pub const DEFAULT_HOLDOFF_MS: u64 = 5_000;

/// Longest AC-Name or Service-Name, octets (a tag value fits a PPPoE
/// payload with room for the others).
pub const MAX_NAME_OCTETS: usize = 255;

/// Where PPPoE session data goes (`[system] dataplane`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DataplaneMode {
    /// `kernel` when `AF_PPPOX`/`PX_PROTO_OE` sockets can be opened,
    /// `userspace` otherwise (default).
    Auto,
    /// Kernel PPPoE sockets handed to propppd, PPP channel bridge into L2TP.
    Kernel,
    /// proacd relays PPP frames between `AF_PACKET` and framed socket pairs.
    Userspace,
}

impl DataplaneMode {
    /// The word used in the file: `auto`, `kernel` or `userspace`.
    pub fn name(self) -> &'static str {
        match self {
            DataplaneMode::Auto => "auto",
            DataplaneMode::Kernel => "kernel",
            DataplaneMode::Userspace => "userspace",
        }
    }
}

/// Where a route sends its sessions (`[route] destination`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Destination {
    /// PPP terminated here, by propppd (default).
    Local,
    /// Switched into an L2TP session of prol2tpd (LAC).
    L2tp,
}

impl Destination {
    /// The word used in the file and the tools: `local` or `l2tp`.
    pub fn name(self) -> &'static str {
        match self {
            Destination::Local => "local",
            Destination::L2tp => "l2tp",
        }
    }
}

/// The log level of each category (`[system] log_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogLevels {
    /// `log_event`: session opened, up, closed (default `info`).
    pub event: Level,
    /// `log_main`: start, stop, reload, errors of the daemon (default `info`).
    pub main: Level,
    /// `log_mgmt`: control socket requests and the propppd / prol2tpd
    /// connections (default `info`).
    pub mgmt: Level,
    /// `log_pppoe`: discovery per client (default `info`; `debug` logs
    /// every discovery packet).
    pub pppoe: Level,
}

impl Default for LogLevels {
    fn default() -> Self {
        LogLevels { event: Level::Info, main: Level::Info, mgmt: Level::Info, pppoe: Level::Info }
    }
}

/// `[system]`: daemon-wide settings.
#[derive(Clone, Debug)]
pub struct SystemConfig {
    /// Log levels per category.
    pub log: LogLevels,
    /// Control socket path (default [`DEFAULT_CONTROL_SOCKET`]).
    pub control_socket: PathBuf,
    /// Pid file (default [`DEFAULT_PID_FILE`]).
    pub pid_file: PathBuf,
    /// propppd's channel socket (default [`DEFAULT_PROPPPD_SOCKET`]).
    pub propppd_socket: PathBuf,
    /// prol2tpd's switch socket (default [`DEFAULT_PROL2TPD_SOCKET`]).
    pub prol2tpd_socket: PathBuf,
    /// The data plane (default [`DataplaneMode::Auto`]).
    pub dataplane: DataplaneMode,
    /// AC-Name tag (RFC 2516 appendix A) sent in PADO and PADS, 1..=255
    /// octets (default: the host name).
    pub ac_name: String,
    /// Most PPPoE sessions at once over all interfaces, 1..=65534 (default
    /// 10,000).
    pub max_sessions: u32,
    /// Most sessions per client MAC, 0 = unlimited, up to 65534 (default 4).
    pub max_sessions_per_mac: u32,
    /// PADIs answered per second on each interface, 0 = unlimited (default
    /// 200).
    pub padi_rate: u32,
    /// PADIs answered in a burst on each interface, 1..=1,000,000 (default
    /// 400).
    pub padi_burst: u32,
    /// How long an AC-Cookie stays valid, ms, 1,000..=3,600,000 (default
    /// 60,000); the key `cookie_lifetime` takes seconds or a suffix.
    pub cookie_lifetime_ms: u64,
    /// Client MACs served (`allow_mac`); `None`: every MAC not denied
    /// (default).
    pub allow_mac: Option<Vec<MacAddr>>,
    /// Client MACs never served (`deny_mac`, default none).
    pub deny_mac: Vec<MacAddr>,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            log: LogLevels::default(),
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            pid_file: PathBuf::from(DEFAULT_PID_FILE),
            propppd_socket: PathBuf::from(DEFAULT_PROPPPD_SOCKET),
            prol2tpd_socket: PathBuf::from(DEFAULT_PROL2TPD_SOCKET),
            dataplane: DataplaneMode::Auto,
            ac_name: host_name(),
            max_sessions: MAX_SESSIONS.0,
            max_sessions_per_mac: DEFAULT_SESSIONS_PER_MAC,
            padi_rate: PADI_RATE.0,
            padi_burst: PADI_BURST.0,
            cookie_lifetime_ms: DEFAULT_COOKIE_LIFETIME_MS,
            allow_mac: None,
            deny_mac: Vec::new(),
        }
    }
}

impl SystemConfig {
    /// The AC-Cookie lifetime as a [`Duration`].
    pub fn cookie_lifetime(&self) -> Duration {
        Duration::from_millis(self.cookie_lifetime_ms)
    }
}

/// The host name, the default AC-Name (`proacd` when it cannot be read or is
/// empty; cut to [`MAX_NAME_OCTETS`]).
pub fn host_name() -> String {
    let name = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    let mut name = if name.is_empty() { "proacd".to_string() } else { name };
    while name.len() > MAX_NAME_OCTETS {
        name.pop();
    }
    name
}

/// `[interface "NAME"]`: an interface discovery is answered on.
#[derive(Clone, Debug)]
pub struct InterfaceConfig {
    /// The interface name (section name), 1..=15 characters.
    pub name: String,
    /// Line of the section header.
    pub line: usize,
    /// AC-Name for this interface (`None`: `[system] ac_name`).
    pub ac_name: Option<String>,
    /// Service-Names offered (`service_names`, comma list); empty: any
    /// requested name is accepted (default).
    pub service_names: Vec<String>,
    /// Most sessions on this interface, 0 = only the system limit (default).
    pub max_sessions: u32,
    /// PADIs answered per second (`None`: `[system] padi_rate`).
    pub padi_rate: Option<u32>,
    /// PADI burst (`None`: `[system] padi_burst`).
    pub padi_burst: Option<u32>,
}

/// `[route "NAME"]`: where matching sessions go.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    /// The route name (section name).
    pub name: String,
    /// Line of the section header.
    pub line: usize,
    /// Interfaces it applies to (`interfaces`); empty = any.
    pub interfaces: Vec<String>,
    /// Requested Service-Names it applies to (`service_names`); empty = any.
    pub service_names: Vec<String>,
    /// Client MACs it applies to (`macs`); empty = any.
    pub macs: Vec<MacAddr>,
    /// Where the sessions go (default [`Destination::Local`]).
    pub destination: Destination,
    /// propppd profile for `local` routes (`None`: propppd's `default`).
    pub ppp_profile: Option<String>,
    /// prol2tpd tunnel profile or tunnel instance name (`l2tp`: required).
    pub tunnel_profile: Option<String>,
    /// prol2tpd session profile (`l2tp` only, optional).
    pub session_profile: Option<String>,
}

impl RouteConfig {
    /// True when the route applies to a client `client` asking for
    /// `service` on `iface`: each non-empty list contains the value; an empty
    /// requested Service-Name means "any service" (RFC 2516 section 5.1) and
    /// matches any list.
    pub fn matches(&self, iface: &str, client: MacAddr, service: &str) -> bool {
        (self.interfaces.is_empty() || self.interfaces.iter().any(|i| i == iface))
            && (self.macs.is_empty() || self.macs.contains(&client))
            && (service.is_empty() || self.service_names.is_empty() || self.service_names.iter().any(|s| s == service))
    }
}

/// `[client "NAME"]`: a PPPoE client session proacd dials.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The client's name (section name; no `/`), also its PPPoE name.
    pub name: String,
    /// Line of the section header.
    pub line: usize,
    /// The interface to dial on (`interface`, required).
    pub interface: String,
    /// Service-Name asked for in PADI (`service_name`, default "" = any).
    pub service_name: String,
    /// Only accept a PADO from this AC-Name (`ac_name`, default any).
    pub ac_name: Option<String>,
    /// propppd profile for the PPP session (`None`: propppd's `default`).
    pub ppp_profile: Option<String>,
    /// Name to authenticate with (overrides the profile's).
    pub user_name: Option<String>,
    /// Password to authenticate with (requires `user_name`).
    pub password: Option<String>,
    /// Name of the PPP interface propppd creates (`ifname`).
    pub ifname: Option<String>,
    /// Dial again after the session ends or discovery fails (default yes).
    pub persist: bool,
    /// Wait before dialling again, ms, 0..=3,600,000 (default 5,000).
    pub holdoff_ms: u64,
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// `[system]` (defaults when absent).
    pub system: SystemConfig,
    /// `[interface]` sections in file order.
    pub interfaces: Vec<InterfaceConfig>,
    /// `[route]` sections in file order (the matching order).
    pub routes: Vec<RouteConfig>,
    /// `[client]` sections in file order.
    pub clients: Vec<ClientConfig>,
}

impl Config {
    /// Reads and checks `path`.
    ///
    /// # Errors
    /// `path: problem` when the file cannot be read, `path:line: problem`
    /// for every problem listed in the module documentation.
    pub fn load(path: &Path) -> Result<Config, String> {
        IniFile::load(path).and_then(|ini| build(&ini)).map_err(|e| e.to_string())
    }

    /// Parses `text` as the content of `file` (`file` is used in errors).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(text: &str, file: &Path) -> Result<Config, String> {
        IniFile::parse_str(file, text).and_then(|ini| build(&ini)).map_err(|e| e.to_string())
    }

    /// The configuration of an empty file at [`DEFAULT_CONFIG`].
    pub fn defaults() -> Config {
        Config { file: PathBuf::from(DEFAULT_CONFIG), system: SystemConfig::default(), interfaces: Vec::new(), routes: Vec::new(), clients: Vec::new() }
    }

    /// The index of the first route (file order) matching `iface`, `client`
    /// and the requested Service-Name `service` (see
    /// [`RouteConfig::matches`]; "" = any service, matching every route).
    pub fn route_for(&self, iface: &str, client: MacAddr, service: &str) -> Option<usize> {
        self.routes.iter().position(|r| r.matches(iface, client, service))
    }

    /// The `[interface]` named `name`.
    pub fn interface(&self, name: &str) -> Option<&InterfaceConfig> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// The `[route]` named `name`.
    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The `[client]` named `name`.
    pub fn client(&self, name: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.name == name)
    }

    /// The AC-Name used on `iface` (its own, else `[system] ac_name`).
    pub fn ac_name_for(&self, iface: &InterfaceConfig) -> String {
        iface.ac_name.clone().unwrap_or_else(|| self.system.ac_name.clone())
    }

    /// The effective configuration, one line per section, `key=value`
    /// words (what `proacd -n` prints after the file is found correct).
    pub fn describe(&self) -> String {
        let s = &self.system;
        let mut out = String::new();
        let macs_opt = |m: &Option<Vec<MacAddr>>| match m {
            None => "any".to_string(),
            Some(v) => join_macs(v),
        };
        let _ = writeln!(
            out,
            "system: dataplane={} ac_name={} max_sessions={} max_sessions_per_mac={} padi_rate={} padi_burst={} cookie_lifetime_ms={} allow_mac={} deny_mac={}",
            s.dataplane.name(),
            quote(&s.ac_name),
            s.max_sessions,
            s.max_sessions_per_mac,
            s.padi_rate,
            s.padi_burst,
            s.cookie_lifetime_ms,
            macs_opt(&s.allow_mac),
            if s.deny_mac.is_empty() { "none".to_string() } else { join_macs(&s.deny_mac) },
        );
        let _ = writeln!(
            out,
            "system: control_socket={} pid_file={} propppd_socket={} prol2tpd_socket={} log_event={} log_main={} log_mgmt={} log_pppoe={}",
            s.control_socket.display(),
            s.pid_file.display(),
            s.propppd_socket.display(),
            s.prol2tpd_socket.display(),
            s.log.event.name(),
            s.log.main.name(),
            s.log.mgmt.name(),
            s.log.pppoe.name(),
        );
        for i in &self.interfaces {
            let _ = writeln!(
                out,
                "interface {}: ac_name={} service_names={} max_sessions={} padi_rate={} padi_burst={}",
                i.name,
                quote(&self.ac_name_for(i)),
                join_or_any(&i.service_names),
                i.max_sessions,
                i.padi_rate.unwrap_or(s.padi_rate),
                i.padi_burst.unwrap_or(s.padi_burst),
            );
        }
        for r in &self.routes {
            let _ = write!(
                out,
                "route {}: interfaces={} service_names={} macs={} destination={}",
                r.name,
                join_or_any(&r.interfaces),
                join_or_any(&r.service_names),
                if r.macs.is_empty() { "any".to_string() } else { join_macs(&r.macs) },
                r.destination.name()
            );
            match r.destination {
                Destination::Local => {
                    let _ = writeln!(out, " ppp_profile={}", r.ppp_profile.as_deref().unwrap_or("default"));
                }
                Destination::L2tp => {
                    let _ = writeln!(
                        out,
                        " tunnel_profile={} session_profile={}",
                        r.tunnel_profile.as_deref().unwrap_or(""),
                        r.session_profile.as_deref().unwrap_or("default")
                    );
                }
            }
        }
        for c in &self.clients {
            let _ = writeln!(
                out,
                "client {}: interface={} service_name={} ac_name={} ppp_profile={} user_name={} ifname={} persist={} holdoff_ms={}",
                c.name,
                c.interface,
                if c.service_name.is_empty() { "any".to_string() } else { quote(&c.service_name) },
                c.ac_name.as_deref().map_or_else(|| "any".to_string(), quote),
                c.ppp_profile.as_deref().unwrap_or("default"),
                c.user_name.as_deref().map_or_else(|| "-".to_string(), quote),
                c.ifname.as_deref().unwrap_or("-"),
                if c.persist { "yes" } else { "no" },
                c.holdoff_ms,
            );
        }
        out
    }
}

/// A value for `describe`: quoted when it holds blanks or is empty.
fn quote(s: &str) -> String {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '"') {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// A comma list, or `any` when empty.
fn join_or_any(v: &[String]) -> String {
    if v.is_empty() {
        "any".to_string()
    } else {
        v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
    }
}

/// MACs as a comma list.
fn join_macs(v: &[MacAddr]) -> String {
    v.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(",")
}

const SYSTEM: &str = "system";
const INTERFACE: &str = "interface";
const ROUTE: &str = "route";
const CLIENT: &str = "client";
const KINDS: [&str; 4] = [SYSTEM, INTERFACE, ROUTE, CLIENT];

/// Builds the configuration from a parsed file.
fn build(ini: &IniFile) -> Result<Config, ConfigError> {
    let path = ini.path.as_path();
    ini.check_sections(&KINDS, SYSTEM)?;
    let mut system = SystemConfig::default();
    if let Some(s) = ini.sections_of(SYSTEM).next() {
        apply_system(path, s, &mut system)?;
    }
    let interfaces = ini.sections_of(INTERFACE).map(|s| build_interface(path, s)).collect::<Result<Vec<_>, _>>()?;
    let routes = ini.sections_of(ROUTE).map(|s| build_route(path, s, &interfaces)).collect::<Result<Vec<_>, _>>()?;
    let clients = ini.sections_of(CLIENT).map(|s| build_client(path, s)).collect::<Result<Vec<_>, _>>()?;
    Ok(Config { file: path.to_path_buf(), system, interfaces, routes, clients })
}

/// The error for a key a section does not take.
fn unknown_key(path: &Path, section: &IniSection, e: &IniEntry) -> ConfigError {
    ConfigError::at(path, e.line, format!("unknown parameter `{}` in [{}]", e.key, section.kind))
}

/// Parses a log level word.
fn parse_level(path: &Path, e: &IniEntry) -> Result<Level, ConfigError> {
    Level::parse(&e.value).map_err(|_| value_error(path, e, "one of error, warning, notice, info, debug"))
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

/// Parses an AC-Name or Service-Name: 1..=255 octets, no control characters.
fn parse_tag_name(path: &Path, e: &IniEntry) -> Result<String, ConfigError> {
    check_tag_name(&e.value).ok_or_else(|| value_error(path, e, "a name of 1 to 255 octets without control characters"))
}

/// `Some(name)` when `name` is a valid AC-Name / Service-Name.
fn check_tag_name(name: &str) -> Option<String> {
    let ok = !name.is_empty() && name.len() <= MAX_NAME_OCTETS && !name.chars().any(char::is_control);
    ok.then(|| name.to_string())
}

/// Parses a comma list of Service-Names (distinct).
fn parse_names(path: &Path, e: &IniEntry) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for part in e.value.split(',').map(str::trim) {
        let name = check_tag_name(part).ok_or_else(|| value_error(path, e, "a comma list of names of 1 to 255 octets"))?;
        if out.contains(&name) {
            return Err(ConfigError::at(path, e.line, format!("`{name}` given twice in `{}`", e.key)));
        }
        out.push(name);
    }
    Ok(out)
}

/// Parses a comma list of interface names (distinct).
fn parse_ifnames(path: &Path, e: &IniEntry) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for part in e.value.split(',').map(str::trim) {
        let one = IniEntry { key: e.key.clone(), value: part.to_string(), line: e.line };
        let name = parse_ifname(path, &one).map_err(|_| value_error(path, e, "a comma list of interface names"))?;
        if out.contains(&name) {
            return Err(ConfigError::at(path, e.line, format!("`{name}` given twice in `{}`", e.key)));
        }
        out.push(name);
    }
    Ok(out)
}

/// Parses one unicast MAC address, `aa:bb:cc:dd:ee:ff` or
/// `aa-bb-cc-dd-ee-ff`, not all-zero.
pub fn parse_mac(text: &str) -> Option<MacAddr> {
    let mac: MacAddr = text.trim().parse().ok()?;
    (!mac.is_zero() && !mac.is_multicast()).then_some(mac)
}

/// Parses a comma (or blank) separated list of unicast MACs (at least one).
fn parse_macs(path: &Path, e: &IniEntry) -> Result<Vec<MacAddr>, ConfigError> {
    let mut out: Vec<MacAddr> = Vec::new();
    for part in e.value.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let mac = parse_mac(part).ok_or_else(|| {
            ConfigError::at(path, e.line, format!("bad MAC address `{part}` in `{}`: expected a unicast address such as 02:00:5e:00:53:01", e.key))
        })?;
        if !out.contains(&mac) {
            out.push(mac);
        }
    }
    if out.is_empty() {
        return Err(value_error(path, e, "a list of MAC addresses"));
    }
    Ok(out)
}

/// Parses a profile name: non-empty, no blanks or control characters.
fn parse_profile_name(path: &Path, e: &IniEntry) -> Result<String, ConfigError> {
    let v = e.value.as_str();
    if v.is_empty() || v.len() > 255 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(value_error(path, e, "a name without blanks"));
    }
    Ok(v.to_string())
}

/// Applies `[system]`. `log_level` sets every category; a category's own
/// key wins over it wherever it stands in the section.
fn apply_system(path: &Path, s: &IniSection, sys: &mut SystemConfig) -> Result<(), ConfigError> {
    if let Some(e) = s.get("log_level") {
        let l = parse_level(path, e)?;
        sys.log = LogLevels { event: l, main: l, mgmt: l, pppoe: l };
    }
    for e in &s.entries {
        match e.key.as_str() {
            "log_level" => {}
            "log_event" => sys.log.event = parse_level(path, e)?,
            "log_main" => sys.log.main = parse_level(path, e)?,
            "log_mgmt" => sys.log.mgmt = parse_level(path, e)?,
            "log_pppoe" => sys.log.pppoe = parse_level(path, e)?,
            "control_socket" => sys.control_socket = parse_abs_path(path, e)?,
            "pid_file" => sys.pid_file = parse_abs_path(path, e)?,
            "propppd_socket" => sys.propppd_socket = parse_abs_path(path, e)?,
            "prol2tpd_socket" => sys.prol2tpd_socket = parse_abs_path(path, e)?,
            "dataplane" => {
                sys.dataplane =
                    parse_choice(path, e, &[("auto", DataplaneMode::Auto), ("kernel", DataplaneMode::Kernel), ("userspace", DataplaneMode::Userspace)])?
            }
            "ac_name" => sys.ac_name = parse_tag_name(path, e)?,
            "max_sessions" => sys.max_sessions = parse_u32_range(path, e, 1, MAX_SESSIONS.1)?,
            "max_sessions_per_mac" => sys.max_sessions_per_mac = parse_u32_range(path, e, 0, MAX_SESSIONS.1)?,
            "padi_rate" => sys.padi_rate = parse_u32_range(path, e, 0, PADI_RATE.1)?,
            "padi_burst" => sys.padi_burst = parse_u32_range(path, e, 1, PADI_BURST.1)?,
            "cookie_lifetime" => {
                sys.cookie_lifetime_ms = millis(parse_duration(path, e, DurationUnit::Secs, Duration::from_secs(1), Duration::from_secs(3600))?)
            }
            "allow_mac" => sys.allow_mac = Some(parse_macs(path, e)?),
            "deny_mac" => sys.deny_mac = parse_macs(path, e)?,
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    Ok(())
}

/// A duration in whole ms (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Builds one `[interface "NAME"]`.
fn build_interface(path: &Path, s: &IniSection) -> Result<InterfaceConfig, ConfigError> {
    let name = s.name.clone().unwrap_or_default();
    let header = IniEntry { key: "interface".into(), value: name.clone(), line: s.line };
    parse_ifname(path, &header)
        .map_err(|_| ConfigError::at(path, s.line, format!("bad interface name `{name}`: 1 to 15 characters without `/`, `:` or blanks")))?;
    let mut i = InterfaceConfig { name, line: s.line, ac_name: None, service_names: Vec::new(), max_sessions: 0, padi_rate: None, padi_burst: None };
    for e in &s.entries {
        match e.key.as_str() {
            "ac_name" => i.ac_name = Some(parse_tag_name(path, e)?),
            "service_names" => i.service_names = parse_names(path, e)?,
            "max_sessions" => i.max_sessions = parse_u32_range(path, e, 0, MAX_SESSIONS.1)?,
            "padi_rate" => i.padi_rate = Some(parse_u32_range(path, e, 0, PADI_RATE.1)?),
            "padi_burst" => i.padi_burst = Some(parse_u32_range(path, e, 1, PADI_BURST.1)?),
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    Ok(i)
}

/// Builds one `[route "NAME"]`; `interfaces` are the `[interface]` sections
/// already read (a route may only name those).
fn build_route(path: &Path, s: &IniSection, interfaces: &[InterfaceConfig]) -> Result<RouteConfig, ConfigError> {
    let name = s.name.clone().unwrap_or_default();
    let mut r = RouteConfig {
        name,
        line: s.line,
        interfaces: Vec::new(),
        service_names: Vec::new(),
        macs: Vec::new(),
        destination: Destination::Local,
        ppp_profile: None,
        tunnel_profile: None,
        session_profile: None,
    };
    for e in &s.entries {
        match e.key.as_str() {
            "interfaces" => {
                r.interfaces = parse_ifnames(path, e)?;
                if let Some(missing) = r.interfaces.iter().find(|n| !interfaces.iter().any(|i| &i.name == *n)) {
                    return Err(ConfigError::at(path, e.line, format!("no [interface \"{missing}\"] section for `{missing}`")));
                }
            }
            "service_names" => r.service_names = parse_names(path, e)?,
            "macs" => r.macs = parse_macs(path, e)?,
            "destination" => r.destination = parse_choice(path, e, &[("local", Destination::Local), ("l2tp", Destination::L2tp)])?,
            "ppp_profile" => r.ppp_profile = Some(parse_profile_name(path, e)?),
            "tunnel_profile" => r.tunnel_profile = Some(parse_profile_name(path, e)?),
            "session_profile" => r.session_profile = Some(parse_profile_name(path, e)?),
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    let line_of = |key: &str| s.get(key).map_or(s.line, |e| e.line);
    match r.destination {
        Destination::L2tp if r.tunnel_profile.is_none() => {
            Err(ConfigError::at(path, line_of("destination"), format!("route `{}`: destination = l2tp needs tunnel_profile", r.name)))
        }
        Destination::L2tp if r.ppp_profile.is_some() => {
            Err(ConfigError::at(path, line_of("ppp_profile"), format!("route `{}`: ppp_profile is for destination = local (PPP runs at the LNS)", r.name)))
        }
        Destination::Local if r.tunnel_profile.is_some() || r.session_profile.is_some() => {
            let key = if r.tunnel_profile.is_some() { "tunnel_profile" } else { "session_profile" };
            Err(ConfigError::at(path, line_of(key), format!("route `{}`: {key} needs destination = l2tp", r.name)))
        }
        _ => Ok(r),
    }
}

/// Builds one `[client "NAME"]`.
fn build_client(path: &Path, s: &IniSection) -> Result<ClientConfig, ConfigError> {
    let name = s.name.clone().unwrap_or_default();
    if name.contains('/') || name.chars().any(char::is_whitespace) {
        return Err(ConfigError::at(path, s.line, format!("bad client name `{name}`: no `/` or blanks")));
    }
    let mut c = ClientConfig {
        name,
        line: s.line,
        interface: String::new(),
        service_name: String::new(),
        ac_name: None,
        ppp_profile: None,
        user_name: None,
        password: None,
        ifname: None,
        persist: true,
        holdoff_ms: DEFAULT_HOLDOFF_MS,
    };
    for e in &s.entries {
        match e.key.as_str() {
            "interface" => c.interface = parse_ifname(path, e)?,
            "service_name" => c.service_name = if e.value.is_empty() { String::new() } else { parse_tag_name(path, e)? },
            "ac_name" => c.ac_name = Some(parse_tag_name(path, e)?),
            "ppp_profile" => c.ppp_profile = Some(parse_profile_name(path, e)?),
            "user_name" => c.user_name = Some(parse_nonempty(path, e)?),
            "password" => c.password = Some(parse_nonempty(path, e)?),
            "ifname" => c.ifname = Some(parse_ifname(path, e)?),
            "persist" => c.persist = parse_bool(path, e)?,
            "holdoff" => c.holdoff_ms = millis(parse_duration(path, e, DurationUnit::Secs, Duration::ZERO, Duration::from_secs(3600))?),
            _ => return Err(unknown_key(path, s, e)),
        }
    }
    if c.interface.is_empty() {
        return Err(ConfigError::at(path, s.line, format!("client `{}` needs `interface`", c.name)));
    }
    if c.password.is_some() && c.user_name.is_none() {
        let line = s.get("password").map_or(s.line, |e| e.line);
        return Err(ConfigError::at(path, line, format!("client `{}`: password without user_name", c.name)));
    }
    if c.user_name.is_some() && c.password.is_none() {
        let line = s.get("user_name").map_or(s.line, |e| e.line);
        return Err(ConfigError::at(path, line, format!("client `{}`: user_name without password", c.name)));
    }
    Ok(c)
}
