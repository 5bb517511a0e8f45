//! From the checked configuration to the core's parameters.
//!
//! `config` keeps the file's vocabulary; the core has its own types. This
//! is the one place the two meet: tunnel and session parameters, the
//! node-wide settings and the peer-profile policy for incoming tunnels.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::config::{self, Config, DigestKind, Encap, L2tpVersion, PseudowireKind, DEFAULT_PROFILE};
use crate::proto::auth::DigestAlg;
use crate::proto::endpoint::{Acceptor, EndpointConfig};
use crate::proto::header::{Transport, Version};
use crate::proto::session::{CallType, L2SpecType, Pseudowire, SessionParams};
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

/// Session parameters from a config session profile or instance.
pub fn session_params(p: &config::SessionParams, profile: &str, name: Option<String>, tunnel: &config::TunnelParams) -> SessionParams {
    SessionParams {
        name,
        profile: profile.to_string(),
        ppp_profile: p.ppp_profile.clone().unwrap_or_else(|| tunnel.ppp_profile.clone()),
        eth_profile: p.eth_profile.clone().unwrap_or_else(|| tunnel.eth_profile.clone()),
        pseudowire: match p.pseudowire {
            PseudowireKind::Ppp => Pseudowire::Ppp,
            PseudowireKind::Eth => Pseudowire::Eth,
            PseudowireKind::Vlan => Pseudowire::Vlan,
        },
        cookie: p.cookie.clone(),
        peer_cookie: if p.peer_cookie.is_empty() { None } else { Some(p.peer_cookie.clone()) },
        l2spec: match p.l2spec_type {
            config::L2SpecType::None => L2SpecType::None,
            config::L2SpecType::Default => L2SpecType::Default,
        },
        seqnum: p.seqnum,
        interface_name: p.interface_name.clone(),
        vlan_id: p.vlan_id,
        trace_flags: p.trace_flags,
    }
}

/// Tunnel parameters from a config tunnel profile or instance.
pub fn tunnel_params(cfg: &Config, p: &config::TunnelParams, profile: &str, name: Option<String>) -> TunnelParams {
    let sp_name = p.session_profile.as_str();
    let session = match cfg.session_profile(Some(sp_name)) {
        Some(sp) => session_params(&sp.params, sp_name, None, p),
        None => SessionParams::default(),
    };
    TunnelParams {
        name,
        profile: profile.to_string(),
        version: match p.version {
            L2tpVersion::V2 => Version::V2,
            L2tpVersion::V3 => Version::V3,
        },
        v2_fallback: p.v2_fallback,
        transport: match p.encap {
            Encap::Udp => Transport::Udp,
            Encap::Ip => Transport::Ip,
        },
        peer: p.peer,
        local: p.local,
        secret: p.secret.as_ref().map(|s| s.as_bytes().to_vec()),
        hide_avps: p.hide_avps,
        digest: match p.digest {
            DigestKind::Md5 => DigestAlg::HmacMd5,
            DigestKind::Sha1 => DigestAlg::HmacSha1,
        },
        host_name: p.host_name.clone(),
        hello_interval: p.hello_timeout,
        retry_timeout: p.retry_timeout,
        max_retry_timeout: p.max_retry_timeout,
        max_retries: p.max_retries,
        rx_window_size: p.rx_window_size,
        max_sessions: p.max_sessions,
        trace_flags: p.trace_flags,
        session: Rc::new(session),
    }
}

/// Parameters of a configured tunnel instance.
pub fn instance_params(cfg: &Config, t: &config::TunnelInstance) -> TunnelParams {
    tunnel_params(cfg, &t.params, &t.tunnel_profile, Some(t.name.clone()))
}

/// The call type of a configured session instance: `incoming` is the LAC's
/// ICRQ, `outgoing` the LNS's OCRQ.
pub fn call_type(c: config::CallType) -> CallType {
    match c {
        config::CallType::Incoming => CallType::IncomingLac,
        config::CallType::Outgoing => CallType::OutgoingLns,
    }
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
