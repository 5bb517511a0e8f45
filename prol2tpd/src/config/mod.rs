//! prol2tpd's configuration: `/etc/prol2tp/prol2tpd.conf`, typed.
//!
//! The file (see `prol2tpd.conf(5)`) is an INI file read by [`common::ini`]
//! with these sections: `[system]`, profiles (`[peer_profile "NAME"]`,
//! `[tunnel_profile "NAME"]`, `[session_profile "NAME"]`,
//! `[ppp_profile "NAME"]`, `[eth_profile "NAME"]`) and instances to create
//! (`[tunnel "NAME"]`, `[session "TUNNEL/NAME"]`).
//!
//! Every profile kind has a built-in profile named `default` holding the
//! built-in defaults; the file may override it. A named profile starts from
//! its kind's `default` (as overridden by the file) and changes what it
//! names. A tunnel instance starts from its `tunnel_profile` (or `default`)
//! and overrides any parameter; a session instance starts from its
//! `session_profile`, else its tunnel's `session_profile`, else `default`.
//! Instances in [`Config`] therefore carry fully resolved parameters.
//!
//! What the protocol core consumes is held in the core's own types: the
//! `core` field of [`TunnelParams`] and [`SessionParams`] is the core's
//! [`tunnel::TunnelParams`] / [`session::SessionParams`], and a session's
//! call type is the core's [`CallType`]. The file's words (`encap = ip`,
//! `digest = sha1`, `call_type = outgoing` …) map to those values through
//! tables in `parse.rs`; `config` depends on `proto`, never the reverse.
//!
//! Everything is checked when the file is loaded: unknown sections or
//! parameters, bad values, references to missing profiles or tunnels,
//! duplicate names and inconsistent combinations (e.g. `encap = ip` with
//! `version = 2`) are a [`ConfigError`] `file:line: problem`. Loading does
//! no I/O beyond reading the file: the host name and router id defaults,
//! which depend on the machine, are left as `None` for the daemon to fill.
//!
//! At run time the same section parsers build the instances `prol2tp
//! create` asks for from `KEY=VALUE` pairs, against the running
//! configuration's profiles ([`Config::tunnel_from_pairs`],
//! [`Config::session_from_pairs`]), and [`Config::profile_views`] lists the
//! profiles in force for `prol2tp show profiles` (`runtime.rs`).

mod parse;
mod runtime;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use common::ini::ConfigError;
use common::ini::IniFile;
use common::trace::TraceFlags;
pub use runtime::{ParamValue, ProfileView, MAX_INSTANCE_NAME};

use crate::proto::session::{self, CallType, L2SpecType};
use crate::proto::tunnel;

/// Default path of the configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/prol2tp/prol2tpd.conf";

/// The name of the built-in profile of every kind.
pub const DEFAULT_PROFILE: &str = "default";

/// The L2TP UDP port (RFC 2661 section 8.1, RFC 3931 section 4.1.2.2).
pub const L2TP_PORT: u16 = 1701;

/// Which data plane carries sessions' packets (see DESIGN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataplaneKind {
    /// `kernel` when the L2TP modules are available, else `userspace`.
    Auto,
    /// Linux L2TP / PPPoL2TP / l2tpeth in the kernel.
    Kernel,
    /// Packets relayed by the daemon (TUN/TAP devices).
    Userspace,
    /// Requests recorded only; for protocol tests.
    Null,
}

/// What a peer profile matches, by the peer's source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerMatch {
    /// Any IPv4 or IPv6 address (ranks below every prefix, even `/0`).
    Any,
    /// Addresses in `addr/len` (host bits of `addr` are zero).
    Prefix {
        /// Network address.
        addr: IpAddr,
        /// Prefix length in bits: 0..=32 for IPv4, 0..=128 for IPv6.
        len: u8,
    },
}

impl PeerMatch {
    /// The rank of a match of `addr`, higher wins (prefix length; `Any` is
    /// -1), or `None` when `addr` does not match.
    pub fn rank(&self, addr: IpAddr) -> Option<i16> {
        match *self {
            PeerMatch::Any => Some(-1),
            PeerMatch::Prefix { addr: net, len } => prefix_contains(net, len, addr).then_some(i16::from(len)),
        }
    }
}

/// True when `addr` is inside `net/len` (same family only).
fn prefix_contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32u32.saturating_sub(u32::from(len))).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128u32.saturating_sub(u32::from(len))).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Default directory of the hook scripts.
pub const DEFAULT_SCRIPT_DIR: &str = "/etc/prol2tp";

/// `[system]`: daemon-wide settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemConfig {
    /// UDP port to listen on (1..=65535, default 1701; `-u` overrides).
    pub udp_port: u16,
    /// System trace mask (default none; `-d` overrides).
    pub trace_flags: TraceFlags,
    /// Most tunnels at once, 0..=65535, 0 = no limit (default 0).
    pub max_tunnels: u32,
    /// Most sessions at once over all tunnels, 0 = no limit (default 0).
    pub max_sessions: u32,
    /// Most tunnels not yet established at once, 0 = no limit (default 100).
    pub max_halfopen_tunnels: u32,
    /// Host Name AVP value (RFC 2661 section 4.4.3); `None`: the machine's
    /// host name, filled in by the daemon.
    pub host_name: Option<String>,
    /// L2TPv3 Router ID (RFC 3931 section 5.4.3), non-zero; `None`: derived
    /// by the daemon.
    pub router_id: Option<u32>,
    /// Data plane choice (default `auto`).
    pub dataplane: DataplaneKind,
    /// Local addresses to listen on (default `0.0.0.0` and `::`).
    pub listen: Vec<IpAddr>,
    /// Most hook scripts running at once, 1..=1024 (default 8).
    pub max_running_scripts: u32,
    /// Directory of the hook scripts (default `/etc/prol2tp`).
    pub script_dir: PathBuf,
    /// A hook script still running after this long is killed, 1..=3600 s
    /// (default 30 s).
    pub script_timeout: Duration,
    /// Hook scripts on or off (default on; they run only where present).
    pub scripts: bool,
    /// propppd's channel socket, where PPP sessions are handed to it with
    /// `-p propppd` (default [`common::channel::DEFAULT_CHANNEL_SOCKET`]).
    pub propppd_socket: PathBuf,
    /// Where proacd (and any other PPP side that switches sessions into
    /// L2TP) connects to ask for LAC sessions (`SOCK_SEQPACKET`, mode
    /// 0600; default [`DEFAULT_SWITCH_SOCKET`]).
    pub switch_socket: PathBuf,
}

/// Default `[system] switch_socket`.
pub const DEFAULT_SWITCH_SOCKET: &str = "/run/prol2tp/prol2tpd.chan";

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            udp_port: L2TP_PORT,
            trace_flags: TraceFlags::NONE,
            max_tunnels: 0,
            max_sessions: 0,
            max_halfopen_tunnels: 100,
            host_name: None,
            router_id: None,
            dataplane: DataplaneKind::Auto,
            listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)],
            max_running_scripts: 8,
            script_dir: PathBuf::from(DEFAULT_SCRIPT_DIR),
            script_timeout: Duration::from_secs(30),
            scripts: true,
            propppd_socket: PathBuf::from(common::channel::DEFAULT_CHANNEL_SOCKET),
            switch_socket: PathBuf::from(DEFAULT_SWITCH_SOCKET),
        }
    }
}

/// Tunnel parameters shared by tunnel profiles and tunnel instances: the
/// core's [`tunnel::TunnelParams`] as the file sets them, plus the names of
/// the profiles the tunnel's sessions use.
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelParams {
    /// The core's parameters (defaults: the core's [`Default`]). Each file
    /// key sets the field of its name, except `encap` (sets `transport`)
    /// and `hello_timeout` (sets `hello_interval`; `0` is `None`). Ranges,
    /// checked when the file is read: `hello_timeout` 0..=3600 s,
    /// `retry_timeout` 100..=60000 ms, `max_retry_timeout` 100..=600000 ms
    /// and at least `retry_timeout`, `max_retries` 1..=100,
    /// `rx_window_size` 1..=65535; `encap = ip` needs `version = 3`,
    /// `hide_avps` a `secret`. `peer` is always `Some` in a
    /// [`TunnelInstance`] (port default 1701); a `local` port 0 means the
    /// daemon's `udp_port`; `host_name = None` means the system's.
    ///
    /// `name`, `profile` and `session` are not read from the file: they
    /// keep their defaults here and the daemon sets them when it creates a
    /// tunnel.
    pub core: tunnel::TunnelParams,
    /// Session profile for sessions of this tunnel (default `default`).
    pub session_profile: String,
    /// PPP profile for sessions of this tunnel (default `default`).
    pub ppp_profile: String,
    /// Ethernet profile for sessions of this tunnel (default `default`).
    pub eth_profile: String,
}

impl TunnelParams {
    /// The built-in defaults, with trace mask `trace`.
    pub fn builtin(trace: TraceFlags) -> TunnelParams {
        TunnelParams {
            core: tunnel::TunnelParams { trace_flags: trace, ..tunnel::TunnelParams::default() },
            session_profile: DEFAULT_PROFILE.into(),
            ppp_profile: DEFAULT_PROFILE.into(),
            eth_profile: DEFAULT_PROFILE.into(),
        }
    }
}

/// `[tunnel_profile "NAME"]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelProfile {
    /// Profile name.
    pub name: String,
    /// Line of its header, `None` for a built-in profile.
    pub line: Option<usize>,
    /// Resolved parameters.
    pub params: TunnelParams,
}

/// `[tunnel "NAME"]`: a tunnel the daemon creates (LAC side).
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelInstance {
    /// Tunnel name.
    pub name: String,
    /// Line of its header.
    pub line: usize,
    /// The profile it started from.
    pub tunnel_profile: String,
    /// Peer address (the same as `params.peer`).
    pub peer: SocketAddr,
    /// Re-create the tunnel after it fails or is closed by the peer.
    pub persist: bool,
    /// Resolved parameters (profile, then the instance's own).
    pub params: TunnelParams,
}

/// Session parameters shared by session profiles and session instances:
/// the core's [`session::SessionParams`] as the file sets them, plus the
/// PPP and Ethernet profile references.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionParams {
    /// The core's parameters (defaults: the core's [`Default`], except
    /// `l2spec`, whose default here is [`L2SpecType::Default`]). Each file
    /// key sets the field of its name, except `l2spec_type` (sets `l2spec`)
    /// and `peer_cookie` (`None` when unset or empty). Checked when the file
    /// is read: cookies are 0, 4 or 8 octets and need L2TPv3, `eth` and
    /// `vlan` pseudowires need L2TPv3, `vlan_id` (1..=4094) goes with
    /// `vlan` only and `vlan` needs it, `interface_name` is 1..=15
    /// characters.
    ///
    /// `name`, `profile`, `ppp_profile` and `eth_profile` are not read into
    /// it: they keep their defaults here and the daemon sets them (the last
    /// two from the fields below) when it creates a session.
    pub core: session::SessionParams,
    /// PPP profile; `None` in a profile: the tunnel's. Always `Some` in a
    /// [`SessionInstance`].
    pub ppp_profile: Option<String>,
    /// Ethernet profile; `None` in a profile: the tunnel's. Always `Some`
    /// in a [`SessionInstance`].
    pub eth_profile: Option<String>,
}

impl SessionParams {
    /// The built-in defaults, with trace mask `trace`.
    pub fn builtin(trace: TraceFlags) -> SessionParams {
        SessionParams {
            core: session::SessionParams { l2spec: L2SpecType::Default, trace_flags: trace, ..session::SessionParams::default() },
            ppp_profile: None,
            eth_profile: None,
        }
    }
}

/// `[session_profile "NAME"]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionProfile {
    /// Profile name.
    pub name: String,
    /// Line of its header, `None` for a built-in profile.
    pub line: Option<usize>,
    /// Resolved parameters.
    pub params: SessionParams,
}

/// `[session "TUNNEL/NAME"]`: a session the daemon creates in a tunnel
/// instance once it is established.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInstance {
    /// Name of the tunnel instance it belongs to.
    pub tunnel: String,
    /// Session name (after the `/`).
    pub name: String,
    /// Line of its header.
    pub line: usize,
    /// The session profile it started from.
    pub session_profile: String,
    /// The call this end places: `call_type = incoming` (default) is
    /// [`CallType::IncomingLac`] (we send Icrq), `outgoing` is
    /// [`CallType::OutgoingLns`] (we send Ocrq); never a peer-initiated kind.
    pub call_type: CallType,
    /// User name, informational (e.g. for hook scripts).
    pub user_name: Option<String>,
    /// Resolved parameters; `ppp_profile` and `eth_profile` are `Some`.
    pub params: SessionParams,
}

/// `[ppp_profile "NAME"]`: PPP settings handed to the PPP daemon.
#[derive(Clone, Debug, PartialEq)]
pub struct PppProfile {
    /// Profile name.
    pub name: String,
    /// Line of its header, `None` for a built-in profile.
    pub line: Option<usize>,
    /// MTU in octets, 64..=65535 (default 1500).
    pub mtu: u16,
    /// MRU in octets, 64..=65535 (default 1500).
    pub mru: u16,
    /// Trace mask of the PPP instance (default none, all with `-D`).
    pub trace_flags: TraceFlags,
    /// Extra options for a stock pppd, passed as they are.
    pub pppd_options: Option<String>,
}

/// `[eth_profile "NAME"]`: Ethernet pseudowire interface settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EthProfile {
    /// Profile name.
    pub name: String,
    /// Line of its header, `None` for a built-in profile.
    pub line: Option<usize>,
    /// Interface MTU in octets, 64..=65535; `None`: computed by the data
    /// plane from the path.
    pub mtu: Option<u16>,
    /// Bridge to add the interface to.
    pub bridge: Option<String>,
    /// Trace mask of the interface (default none, all with `-D`).
    pub trace_flags: TraceFlags,
}

/// `[peer_profile "NAME"]`: which profiles a tunnel from a peer uses.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerProfile {
    /// Profile name.
    pub name: String,
    /// Line of its header, `None` for a built-in profile.
    pub line: Option<usize>,
    /// Addresses it matches; `None` matches nothing (the built-in default).
    pub peer: Option<PeerMatch>,
    /// Tunnel profile for tunnels from these peers.
    pub tunnel_profile: String,
    /// Session profile for their sessions.
    pub session_profile: String,
    /// PPP profile for their sessions.
    pub ppp_profile: String,
    /// Ethernet profile for their sessions.
    pub eth_profile: String,
}

/// Command-line settings that change how the file is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `-D`: the built-in trace mask of tunnels, sessions, PPP and Ethernet
    /// profiles is `all` instead of `none` (a `trace_flags` in the file
    /// still wins).
    pub trace_all: bool,
}

/// The whole configuration, checked and resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `[system]`.
    pub system: SystemConfig,
    /// Peer profiles in file order (the built-in `default` first unless the
    /// file defines it).
    pub peer_profiles: Vec<PeerProfile>,
    /// Tunnel profiles by name; always holds `default`.
    pub tunnel_profiles: BTreeMap<String, TunnelProfile>,
    /// Session profiles by name; always holds `default`.
    pub session_profiles: BTreeMap<String, SessionProfile>,
    /// PPP profiles by name; always holds `default`.
    pub ppp_profiles: BTreeMap<String, PppProfile>,
    /// Ethernet profiles by name; always holds `default`.
    pub eth_profiles: BTreeMap<String, EthProfile>,
    /// Tunnel instances in file order.
    pub tunnels: Vec<TunnelInstance>,
    /// Session instances in file order.
    pub sessions: Vec<SessionInstance>,
}

impl Config {
    /// Reads and checks the file at `path`.
    ///
    /// # Errors
    /// `path:line: problem` (or `path: problem`) for anything wrong.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, LoadOptions::default())
    }

    /// [`Config::load`] with command-line options.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(path: &Path, options: LoadOptions) -> Result<Config, ConfigError> {
        let ini = IniFile::load(path)?;
        parse::build(&ini, options)
    }

    /// Checks `text` as the content of `path` (`path` is only used in errors).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse_str_with(path, text, LoadOptions::default())
    }

    /// [`Config::parse_str`] with command-line options.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse_str_with(path: &Path, text: &str, options: LoadOptions) -> Result<Config, ConfigError> {
        let ini = IniFile::parse_str(path, text)?;
        parse::build(&ini, options)
    }

    /// The peer profile for a tunnel from `addr`: the longest matching
    /// prefix, `any` last, file order among equals; IPv4-mapped IPv6
    /// addresses match as IPv4. `None`: the peer is not accepted.
    pub fn match_peer(&self, addr: IpAddr) -> Option<&PeerProfile> {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            IpAddr::V4(_) => addr,
        };
        let mut best: Option<(i16, &PeerProfile)> = None;
        for p in &self.peer_profiles {
            if let Some(rank) = p.peer.as_ref().and_then(|m| m.rank(addr)) {
                match best {
                    Some((r, _)) if r >= rank => {}
                    _ => best = Some((rank, p)),
                }
            }
        }
        best.map(|(_, p)| p)
    }

    /// The peer profile `name`, or `default` for `None`.
    pub fn peer_profile(&self, name: Option<&str>) -> Option<&PeerProfile> {
        let name = name.unwrap_or(DEFAULT_PROFILE);
        self.peer_profiles.iter().find(|p| p.name == name)
    }

    /// The tunnel profile `name`, or `default` for `None`.
    pub fn tunnel_profile(&self, name: Option<&str>) -> Option<&TunnelProfile> {
        self.tunnel_profiles.get(name.unwrap_or(DEFAULT_PROFILE))
    }

    /// The session profile `name`, or `default` for `None`.
    pub fn session_profile(&self, name: Option<&str>) -> Option<&SessionProfile> {
        self.session_profiles.get(name.unwrap_or(DEFAULT_PROFILE))
    }

    /// The PPP profile `name`, or `default` for `None`.
    pub fn ppp_profile(&self, name: Option<&str>) -> Option<&PppProfile> {
        self.ppp_profiles.get(name.unwrap_or(DEFAULT_PROFILE))
    }

    /// The Ethernet profile `name`, or `default` for `None`.
    pub fn eth_profile(&self, name: Option<&str>) -> Option<&EthProfile> {
        self.eth_profiles.get(name.unwrap_or(DEFAULT_PROFILE))
    }

    /// The tunnel instance `name`.
    pub fn tunnel(&self, name: &str) -> Option<&TunnelInstance> {
        self.tunnels.iter().find(|t| t.name == name)
    }

    /// The session instances of tunnel instance `tunnel`, in file order.
    pub fn sessions_of<'a>(&'a self, tunnel: &'a str) -> impl Iterator<Item = &'a SessionInstance> + 'a {
        self.sessions.iter().filter(move |s| s.tunnel == tunnel)
    }
}
