//! From the checked configuration to the core's parameters.
//!
//! `config` already holds the core's types: its tunnel and session
//! parameters wrap [`TunnelParams`] and [`SessionParams`] (field `core`),
//! and its call type is the core's `CallType`. What is added here is what
//! only exists once a tunnel or session is made: instance and profile
//! names, the parameters of the sessions a tunnel's peer creates, PPP and
//! Ethernet profiles inherited from the tunnel, the machine-dependent
//! node-wide defaults and the peer-profile policy for incoming tunnels.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::config::{self, Config, DEFAULT_PROFILE};
use crate::proto::endpoint::{Acceptor, EndpointConfig};
use crate::proto::session::SessionParams;
use crate::proto::tunnel::TunnelParams;

/// Node-wide settings from `[system]`; `host_name` falls back to the
/// machine's name and `router_id` to a hash of it.
pub fn endpoint_config(cfg: &Config) -> EndpointConfig {
    let host_name = cfg.system.host_name.clone().unwrap_or_else(machine_host_name);
    let router_id = cfg.system.router_id.unwrap_or_else(|| {
        // FNV-1a of the host name: stable across restarts, non-zero.
        let h = host_name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        h.max(1)
    });
    EndpointConfig {
        host_name,
        router_id,
        max_tunnels: cfg.system.max_tunnels,
        max_sessions: cfg.system.max_sessions,
        max_halfopen_tunnels: cfg.system.max_halfopen_tunnels,
    }
}

/// The machine's host name (`gethostname(2)`), or `prol2tpd`.
pub fn machine_host_name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).filter(|h| !h.is_empty()).unwrap_or_else(|| "prol2tpd".into())
}

/// Session parameters from a config session profile or instance: its core
/// parameters with the instance `name`, the session `profile` name and the
/// PPP/Ethernet profiles (the session's own, else the tunnel's).
pub fn session_params(p: &config::SessionParams, profile: &str, name: Option<String>, tunnel: &config::TunnelParams) -> SessionParams {
    SessionParams {
        name,
        profile: profile.to_string(),
        ppp_profile: p.ppp_profile.clone().unwrap_or_else(|| tunnel.ppp_profile.clone()),
        eth_profile: p.eth_profile.clone().unwrap_or_else(|| tunnel.eth_profile.clone()),
        ..p.core.clone()
    }
}

/// Tunnel parameters from a config tunnel profile or instance: its core
/// parameters with the instance `name`, the tunnel `profile` name and the
/// parameters of the sessions the peer creates (from its session profile).
pub fn tunnel_params(cfg: &Config, p: &config::TunnelParams, profile: &str, name: Option<String>) -> TunnelParams {
    let sp_name = p.session_profile.as_str();
    let session = match cfg.session_profile(Some(sp_name)) {
        Some(sp) => session_params(&sp.params, sp_name, None, p),
        None => SessionParams::default(),
    };
    TunnelParams { name, profile: profile.to_string(), session: Rc::new(session), ..p.core.clone() }
}

/// Parameters of a configured tunnel instance.
pub fn instance_params(cfg: &Config, t: &config::TunnelInstance) -> TunnelParams {
    tunnel_params(cfg, &t.params, &t.tunnel_profile, Some(t.name.clone()))
}

/// The policy for tunnels peers open: the best-matching peer profile picks
/// the tunnel profile, whose session profile serves the peer's sessions.
/// Peers no profile matches are refused.
pub fn acceptor(cfg: Rc<Config>) -> Acceptor {
    Box::new(move |from: &SocketAddr| {
        let pp = cfg.match_peer(from.ip())?;
        let tp = cfg.tunnel_profile(Some(&pp.tunnel_profile))?;
        // A peer profile's own references win; left at `default` they defer
        // to the tunnel profile's.
        let pick = |peer: &String, tunnel: &String| if peer == DEFAULT_PROFILE { tunnel.clone() } else { peer.clone() };
        let mut params = tp.params.clone();
        params.session_profile = pick(&pp.session_profile, &tp.params.session_profile);
        params.ppp_profile = pick(&pp.ppp_profile, &tp.params.ppp_profile);
        params.eth_profile = pick(&pp.eth_profile, &tp.params.eth_profile);
        Some(Rc::new(tunnel_params(&cfg, &params, &tp.name, None)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::{Transport, Version};
    use crate::proto::session::Pseudowire;
    use std::path::Path;

    const TEXT: &str = "[ppp_profile \"tp\"]\n[ppp_profile \"own\"]\n[eth_profile \"lan\"]\n\
        [session_profile \"s\"]\npseudowire = eth\npeer_cookie = 0102030405060708\n\
        [session_profile \"p\"]\nppp_profile = own\n\
        [tunnel_profile \"t\"]\nversion = 3\nencap = ip\nsecret = k\nhello_timeout = 0\nsession_profile = s\nppp_profile = tp\n\
        [peer_profile \"peers\"]\npeer = 192.0.2.0/24\ntunnel_profile = t\neth_profile = lan\n\
        [peer_profile \"others\"]\npeer = 198.51.100.0/24\ntunnel_profile = t\nsession_profile = p\n\
        [tunnel \"x\"]\ntunnel_profile = t\npeer = 203.0.113.1\n\
        [session \"x/one\"]\nsession_profile = p\n";

    fn config() -> Config {
        match Config::parse_str(Path::new("test.conf"), TEXT) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn instance_params_carry_the_files_values_and_names() {
        let cfg = config();
        let t = instance_params(&cfg, &cfg.tunnels[0]);
        assert_eq!((t.name.as_deref(), t.profile.as_str()), (Some("x"), "t"));
        assert_eq!((t.version, t.transport, t.hello_interval), (Version::V3, Transport::Ip, None));
        assert_eq!(t.secret.as_deref(), Some(&b"k"[..]));
        assert_eq!(t.peer, Some("203.0.113.1:1701".parse().unwrap()));
        // Sessions the peer creates: the tunnel's session profile, its PPP
        // profile from the tunnel, its Ethernet profile the default.
        let s = &t.session;
        assert_eq!((s.name.as_deref(), s.profile.as_str(), s.pseudowire), (None, "s", Pseudowire::Eth));
        assert_eq!((s.ppp_profile.as_str(), s.eth_profile.as_str()), ("tp", DEFAULT_PROFILE));
        assert_eq!(s.peer_cookie, Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
    }

    #[test]
    fn session_params_prefer_the_sessions_own_profiles() {
        let cfg = config();
        let (t, s) = (&cfg.tunnels[0], &cfg.sessions[0]);
        let p = session_params(&s.params, &s.session_profile, Some(s.name.clone()), &t.params);
        assert_eq!((p.name.as_deref(), p.profile.as_str(), p.pseudowire), (Some("one"), "p", Pseudowire::Ppp));
        assert_eq!((p.ppp_profile.as_str(), p.eth_profile.as_str()), ("own", DEFAULT_PROFILE));
        assert_eq!(s.call_type, crate::proto::session::CallType::IncomingLac);
    }

    #[test]
    fn acceptor_applies_the_peer_profiles_references() {
        let accept = acceptor(Rc::new(config()));
        let Some(a) = accept(&"192.0.2.9:1701".parse().unwrap()) else { panic!("192.0.2.9 refused") };
        assert_eq!((a.name.as_deref(), a.profile.as_str(), a.version), (None, "t", Version::V3));
        assert_eq!((a.session.profile.as_str(), a.session.ppp_profile.as_str(), a.session.eth_profile.as_str()), ("s", "tp", "lan"));
        let Some(b) = accept(&"198.51.100.9:1701".parse().unwrap()) else { panic!("198.51.100.9 refused") };
        assert_eq!((b.session.profile.as_str(), b.session.pseudowire, b.session.ppp_profile.as_str()), ("p", Pseudowire::Ppp, "own"));
        assert!(accept(&"203.0.113.9:1701".parse().unwrap()).is_none(), "no peer profile matches");
    }
}
