//! One PPP instance of the daemon: the owner's channel, the sans-IO
//! [`Link`] running on it, the authentication backend over the loaded
//! secrets files and the address pools, and what the instance learned
//! (user, addresses, interface) for status messages, events and `propppctl`.
//!
//! Building an instance is pure: [`OpenParams::parse`] checks a `PppOpen`'s
//! params ([`common::channel::open_key`]), [`link_config`] resolves a
//! profile into a [`LinkConfig`], and [`SecretsAuth`] answers the link's
//! authentication questions from `chap-secrets` / `pap-secrets` (RFC 1334
//! section 2.2.1, RFC 1994 section 4.1, RFC 2759 section 4), taking the
//! peer's address from the secrets file or the profile's pool at the moment
//! it is accepted — so a peer that fails never consumes an address.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use common::channel::{self, open_key};

use crate::config::{self, Profile};
use crate::pool::PoolSet;
use crate::proto::auth::{Accept, Answer, AuthBackend, AuthMethod, AuthRequest, Verdict};
use crate::proto::ipcp::IpcpConfig;
use crate::proto::lcp::LcpConfig;
use crate::proto::link::{DownReason, Link, LinkConfig};
use crate::secrets::Secrets;

use super::plane::{Chan, Plane};

/// Longest value of a `PppOpen` param kept, octets.
const MAX_PARAM: usize = 255;

/// Which side of the authentication propppd plays (`role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Authenticate the peer and give it an address (LNS, AC).
    Server,
    /// Authenticate to the peer and take an address (LAC, client).
    Client,
}

impl Role {
    /// The word of the channel contract.
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => channel::ROLE_SERVER,
            Role::Client => channel::ROLE_CLIENT,
        }
    }
}

/// The channel's framing (`framing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The fd is a connected PPPoX socket.
    Kernel,
    /// The fd is a `SOCK_SEQPACKET` end, one frame per record.
    Frames,
}

impl Framing {
    /// The word of the channel contract.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Kernel => channel::FRAMING_KERNEL,
            Framing::Frames => channel::FRAMING_FRAMES,
        }
    }
}

/// A `PppOpen`'s params, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenParams {
    /// Instance name.
    pub name: String,
    /// `framing`.
    pub framing: Framing,
    /// `linktype` (`pppoltp`, `pppoe`).
    pub linktype: String,
    /// `role`.
    pub role: Role,
    /// `profile`, when given.
    pub profile: Option<String>,
    /// `ifname`, when given.
    pub ifname: Option<String>,
    /// `user_name`, when given.
    pub user_name: Option<String>,
    /// `password`, when given.
    pub password: Option<String>,
    /// `mru` (128..=16384 octets), when given.
    pub mru: Option<u16>,
    /// `mtu` (128..=16384 octets), when given.
    pub mtu: Option<u16>,
    /// The owner's informational keys (`tunnel_id`, `session_id`, …) in
    /// the order given.
    pub info: Vec<(String, String)>,
}

/// Default MRU of PPPoE channels (octets) when the owner gives none.
pub const PPPOE_MRU: u16 = 1492;

/// Informational keys kept for `propppctl show`.
const INFO_KEYS: [&str; 6] =
    [open_key::TUNNEL_ID, open_key::SESSION_ID, open_key::PEER_TUNNEL_ID, open_key::PEER_SESSION_ID, open_key::PEER_MAC, open_key::PPPOE_SESSION_ID];

impl OpenParams {
    /// Checks `params`. Errors: one line naming the missing or bad key
    /// (required: `name`, `framing`, `linktype`, `role`; `mru`/`mtu`
    /// 128..=16384; `ifname` 1..=15 octets; values at most 255 octets).
    pub fn parse(params: &[(String, String)]) -> Result<OpenParams, String> {
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        if let Some((k, _)) = params.iter().find(|(_, v)| v.len() > MAX_PARAM) {
            return Err(format!("`{k}` is longer than {MAX_PARAM} octets"));
        }
        let need = |k: &str| get(k).filter(|v| !v.is_empty()).ok_or(format!("`{k}` missing"));
        let name = need(open_key::NAME)?;
        let framing = match need(open_key::FRAMING)?.as_str() {
            channel::FRAMING_KERNEL => Framing::Kernel,
            channel::FRAMING_FRAMES => Framing::Frames,
            other => return Err(format!("bad `framing` {other:?}")),
        };
        let linktype = need(open_key::LINKTYPE)?;
        if linktype != channel::LINKTYPE_L2TP && linktype != channel::LINKTYPE_PPPOE {
            return Err(format!("bad `linktype` {linktype:?}"));
        }
        let role = match need(open_key::ROLE)?.as_str() {
            channel::ROLE_SERVER => Role::Server,
            channel::ROLE_CLIENT => Role::Client,
            other => return Err(format!("bad `role` {other:?}")),
        };
        let octets = |k: &str| -> Result<Option<u16>, String> {
            get(k)
                .map(|v| v.parse::<u16>().ok().filter(|n| (config::MRU_RANGE.0..=config::MRU_RANGE.1).contains(n)).ok_or(format!("bad `{k}` {v:?}")))
                .transpose()
        };
        let ifname = get(open_key::IFNAME).filter(|v| !v.is_empty());
        if ifname.as_ref().is_some_and(|n| n.len() > 15 || n.contains('/') || n.chars().any(char::is_whitespace)) {
            return Err("bad `ifname`".into());
        }
        let info = params.iter().filter(|(k, _)| INFO_KEYS.contains(&k.as_str())).cloned().collect();
        Ok(OpenParams {
            name,
            framing,
            linktype,
            role,
            profile: get(open_key::PROFILE).filter(|v| !v.is_empty()),
            ifname,
            user_name: get(open_key::USER_NAME),
            password: get(open_key::PASSWORD),
            mru: octets(open_key::MRU)?,
            mtu: octets(open_key::MTU)?,
            info,
        })
    }
}

/// The core's method for a configuration word.
pub fn core_method(m: config::AuthMethod) -> AuthMethod {
    match m {
        config::AuthMethod::Pap => AuthMethod::Pap,
        config::AuthMethod::Chap => AuthMethod::ChapMd5,
        config::AuthMethod::MsChapV2 => AuthMethod::MsChapV2,
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Resolves `profile` and the owner's params into the link's settings.
/// `our_name` is the CHAP Name we send as authenticator (the host name).
/// As server the peer must authenticate with the profile's methods; as
/// client we accept every method when we have a user name and password
/// (params first, then the profile), none otherwise. The MRU is the
/// owner's `mru`, else the profile's (at most [`PPPOE_MRU`] on PPPoE).
pub fn link_config(profile: &Profile, p: &OpenParams, our_name: &[u8]) -> LinkConfig {
    let user = p.user_name.clone().or_else(|| profile.user_name.clone());
    let password = p.password.clone().or_else(|| profile.password.clone());
    let (require_auth, accept_auth) = match p.role {
        Role::Server => (profile.auth.iter().map(|m| core_method(*m)).collect(), Vec::new()),
        Role::Client if user.is_some() => (Vec::new(), AuthMethod::ALL.to_vec()),
        Role::Client => (Vec::new(), Vec::new()),
    };
    // PPPoE: 1492 octets fit an Ethernet frame with the PPPoE header
    // (RFC 2516 §7) unless the owner says otherwise (RFC 4638).
    let mru = match p.mru {
        Some(m) => m,
        None if p.linktype == channel::LINKTYPE_PPPOE => profile.mru.min(PPPOE_MRU),
        None => profile.mru,
    };
    let lcp = LcpConfig {
        mru,
        require_auth,
        accept_auth,
        echo_interval: nonzero(profile.echo_interval),
        echo_failure: profile.echo_failures,
        ..LcpConfig::default()
    };
    let ipcp = match p.role {
        Role::Server => {
            IpcpConfig { local_addr: profile.local_ip, peer_addr: None, dns: [profile.dns.first().copied(), profile.dns.get(1).copied()], request_dns: false }
        }
        Role::Client => IpcpConfig { local_addr: None, peer_addr: None, dns: [None, None], request_dns: true },
    };
    LinkConfig {
        lcp,
        name: our_name.to_vec(),
        user: user.unwrap_or_default().into_bytes(),
        password: password.unwrap_or_default().into_bytes(),
        ipcp,
        ipv6: profile.ipv6,
        idle_timeout: nonzero(profile.idle_timeout),
        max_session: nonzero(profile.session_timeout),
        ..LinkConfig::default()
    }
}

/// Authentication over the loaded secrets files; assigns the peer's
/// address when it is accepted: the secrets file's static address
/// (reserved in the pools), else the next free one of the profile's pool.
/// A peer whose address cannot be given (pool exhausted, static address
/// held by another session) is refused.
pub struct SecretsAuth {
    /// Parsed secrets files by path.
    pub secrets: Rc<BTreeMap<PathBuf, Secrets>>,
    /// The profile's CHAP / MS-CHAPv2 file.
    pub chap_file: PathBuf,
    /// The profile's PAP file.
    pub pap_file: PathBuf,
    /// Our name (the `server` column).
    pub our_name: Vec<u8>,
    /// The daemon's pools (shared, leases keyed by instance handle).
    pub pools: Rc<RefCell<PoolSet>>,
    /// The profile's pool.
    pub pool: Option<String>,
    /// The instance's handle.
    pub handle: u64,
}

impl SecretsAuth {
    /// The address for an accepted peer; `Err` with a message for the peer
    /// when none can be given.
    fn address(&self, static_addr: Option<Ipv4Addr>) -> Result<Option<Ipv4Addr>, String> {
        let mut pools = self.pools.borrow_mut();
        if let Some(lease) = pools.lease(self.handle) {
            return Ok(Some(lease.addr));
        }
        if let Some(a) = static_addr {
            return pools.reserve(a, self.handle).map(|()| Some(a)).map_err(|e| e.to_string());
        }
        match &self.pool {
            Some(pool) => pools.allocate(pool, self.handle).map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }
}

impl AuthBackend for SecretsAuth {
    fn verify(&mut self, request: &AuthRequest) -> Answer {
        let file = if request.method == AuthMethod::Pap { &self.pap_file } else { &self.chap_file };
        let entry = self.secrets.get(file).and_then(|s| s.secret_for(&request.peer_name, Some(&self.our_name)));
        let Some(entry) = entry else { return Answer::Now(Verdict::Reject { message: None }) };
        let verdict = crate::proto::auth::verdict_from_secret(&request.proof, &entry.secret, None);
        let Verdict::Accept(accept) = verdict else { return Answer::Now(verdict) };
        match self.address(entry.static_address()) {
            Ok(address) => Answer::Now(Verdict::Accept(Accept { address, ..accept })),
            Err(e) => Answer::Now(Verdict::Reject { message: Some(format!("no address: {e}")) }),
        }
    }
}

/// One PPP instance.
pub struct Instance {
    /// Our handle (1, 2, …; never reused while the daemon runs).
    pub handle: u64,
    /// The owner's connection serial.
    pub owner: u64,
    /// The owner's reference of the `PppOpen`.
    pub reference: u32,
    /// The checked params.
    pub params: OpenParams,
    /// The profile in force when it was opened.
    pub profile: String,
    /// The link.
    pub link: Link,
    /// The channel.
    pub chan: Chan,
    /// The interface, when one was made.
    pub plane: Plane,
    /// Authenticated user (the peer's name as server, ours as client).
    pub user: Option<String>,
    /// The method used, once one succeeded.
    pub auth: Option<AuthMethod>,
    /// IPCP results.
    pub local_ip: Option<Ipv4Addr>,
    /// IPCP results.
    pub peer_ip: Option<Ipv4Addr>,
    /// DNS servers the peer gave us.
    pub dns: [Option<Ipv4Addr>; 2],
    /// IPv6CP interface identifiers (ours, the peer's).
    pub ipv6_ids: Option<(u64, u64)>,
    /// `PppStatus up` was sent / `PPP_UP_IND` published.
    pub up: bool,
    /// `PppStatus down` was sent (or must not be: the owner is gone).
    pub down_sent: bool,
    /// Text that replaces the link's reason in the `down` status (e.g.
    /// the interface could not be made).
    pub down_note: Option<String>,
}

/// The text of a down reason in status records and events: pppd's words
/// for an administrative close, the link's otherwise.
pub fn reason_text(reason: DownReason) -> &'static str {
    match reason {
        DownReason::AdminClose => "User request",
        r => r.message(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn open_params_are_checked() {
        let base = [("name", "s1"), ("framing", "frames"), ("linktype", "pppoltp"), ("role", "server")];
        let p = OpenParams::parse(&kv(&[&base[..], &[("mru", "1400"), ("tunnel_id", "7"), ("ifname", "ppp9")]].concat())).unwrap();
        assert_eq!((p.name.as_str(), p.framing, p.role, p.mru, p.ifname.as_deref()), ("s1", Framing::Frames, Role::Server, Some(1400), Some("ppp9")));
        assert_eq!(p.info, kv(&[("tunnel_id", "7")]));
        for (drop, what) in [(0, "`name` missing"), (1, "`framing` missing"), (2, "`linktype` missing"), (3, "`role` missing")] {
            let mut v = base.to_vec();
            v.remove(drop);
            assert_eq!(OpenParams::parse(&kv(&v)).unwrap_err(), what);
        }
        for bad in [("framing", "pipe"), ("linktype", "ppp"), ("role", "both"), ("mru", "99"), ("mtu", "x"), ("ifname", "a-very-long-name0")] {
            let mut v = base.to_vec();
            v.push(bad);
            v.retain(|(k, val)| *k != bad.0 || *val == bad.1);
            assert!(OpenParams::parse(&kv(&v)).is_err(), "{bad:?}");
        }
        let long = "x".repeat(300);
        assert!(OpenParams::parse(&kv(&[&base[..], &[("password", long.as_str())]].concat())).unwrap_err().contains("longer"));
    }

    #[test]
    fn profiles_resolve_per_role() {
        let mut prof = Profile::builtin();
        prof.auth = vec![config::AuthMethod::Pap];
        prof.dns = vec![Ipv4Addr::new(192, 0, 2, 53)];
        prof.local_ip = Some(Ipv4Addr::new(192, 0, 2, 1));
        prof.user_name = Some("prof".into());
        prof.password = Some("pw".into());
        let mut p = OpenParams::parse(&kv(&[("name", "s"), ("framing", "frames"), ("linktype", "pppoe"), ("role", "server")])).unwrap();
        let c = link_config(&prof, &p, b"host");
        assert_eq!((c.lcp.require_auth.as_slice(), c.lcp.accept_auth.is_empty()), (&[AuthMethod::Pap][..], true));
        assert_eq!((c.ipcp.local_addr, c.ipcp.dns[0], c.ipcp.request_dns), (prof.local_ip, Some(Ipv4Addr::new(192, 0, 2, 53)), false));
        assert_eq!(c.lcp.echo_interval, Some(Duration::from_secs(30)));
        p.role = Role::Client;
        p.user_name = Some("param".into());
        let c = link_config(&prof, &p, b"host");
        assert!(c.lcp.require_auth.is_empty());
        assert_eq!((c.user.as_slice(), c.password.as_slice(), c.ipcp.request_dns), (&b"param"[..], &b"pw"[..], true));
        assert_eq!(reason_text(DownReason::AdminClose), "User request");
    }
}
