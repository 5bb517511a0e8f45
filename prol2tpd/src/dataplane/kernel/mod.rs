//! The kernel data plane: the Linux L2TP subsystem carries the packets.
//!
//! Tunnels and sessions are created through the generic netlink family
//! `l2tp` ([`netlink`]); the tunnel is a "managed" one, built on the
//! daemon's own per-tunnel socket (`L2TP_ATTR_FD`): a UDP socket bound to
//! the tunnel's local address and port and connected to the peer, or an
//! `IPPROTO_L2TP` socket for L2TPv3 over IP (see [`sys::udp_tunnel_socket`]
//! and [`sys::l2tp_ip_tunnel_socket`]). The kernel then consumes the data
//! packets arriving on that socket and leaves the control packets for the
//! daemon to read from it.
//!
//! Per pseudowire, once the session exists in the kernel:
//!
//! | pseudowire | kernel session | then |
//! |---|---|---|
//! | PPP | `L2TP_PWTYPE_PPP` | a PPPoL2TP socket connected to it, for the PPP side ([`KernelDataplane::ppp_socket`]) |
//! | Ethernet | `L2TP_PWTYPE_ETH` (`l2tpethN` or the configured name) | the interface brought up, its MTU and bridge set (rtnetlink) |
//! | VLAN | `L2TP_PWTYPE_ETH` | the master brought up unaddressed, and `MASTER.VID` (802.1Q) created on it, up |
//!
//! Requests never block: each is sent, and its answer is read when the
//! netlink sockets ([`KernelDataplane::fds`]) are readable, in
//! [`KernelDataplane::handle_readable`]. Because the kernel executes a
//! netlink request while it is being sent, the answer is usually already
//! queued when `tunnel_up`/`session_up` return; they read it then, so most
//! refusals (`EEXIST`, `ENOENT`, `EPROTONOSUPPORT`) come back as their
//! `Err`. Whatever fails later is reported by [`KernelDataplane::poll_event`]
//! as [`DataplaneEvent::Failed`]: the daemon closes that tunnel or session.
//!
//! Counters for `prol2tp show session`/`show tunnel` are read synchronously
//! ([`Dataplane::session_stats`], [`Dataplane::tunnel_stats`]) on a third
//! netlink socket used only for those gets and never watched by the loop:
//! a blocking read on the main generic socket would have to skip, and so
//! lose, answers the plane still waits for. The kernel answers a get while
//! it is sent, so the read finds the answer queued; [`STATS_TIMEOUT_MS`]
//! bounds the wait should it ever not.

pub mod netlink;
pub mod sys;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use common::log::{self, Level};

use self::netlink::{pw_type, Family, LinkRequest, NetlinkSocket, Protocol, Reply, ReplyError, SessionCreate, TunnelCreate, TunnelSocket, L2TP_GENL_NAME};
use super::{DataStats, Dataplane, DataplaneError};
use crate::proto::endpoint::{SessionInfo, TunnelInfo};
use crate::proto::header::{Transport, Version};
use crate::proto::session::Pseudowire;

/// Ethernet profile settings the data plane applies to `l2tpeth`
/// interfaces (`[eth_profile]` of `prol2tpd.conf(5)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EthSettings {
    /// Interface MTU in octets; `None` keeps the kernel's, computed from
    /// the tunnel socket's path MTU and the encapsulation overhead.
    pub mtu: Option<u16>,
    /// Bridge to enslave the interface to.
    pub bridge: Option<String>,
}

pub use super::DataplaneEvent;

/// Longest wait for the answer to a counters get, ms (the kernel answers
/// while the request is sent; this only bounds a misbehaving kernel).
pub const STATS_TIMEOUT_MS: u16 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    TunnelCreate(u32),
    TunnelDelete(u32),
    SessionCreate(u32, u32),
    SessionGet(u32, u32),
    SessionDelete(u32, u32),
    Stats(u32, Option<u32>),
    /// rtnetlink: bringing up the session's interface (VLAN: its master).
    LinkSet(u32, u32),
    /// rtnetlink: creating the VLAN sub-interface.
    VlanCreate(u32, u32),
    /// rtnetlink: setting MTU/bridge of the VLAN sub-interface.
    VlanSet(u32, u32),
}

#[derive(Debug)]
struct KernelSession {
    info: SessionInfo,
    /// The `l2tpeth` interface, once known.
    ifname: Option<String>,
    /// The 802.1Q sub-interface of a VLAN pseudowire.
    vlan_ifname: Option<String>,
    /// The PPPoL2TP socket of a PPP pseudowire.
    ppp: Option<OwnedFd>,
}

/// The data plane of the Linux L2TP subsystem (`l2tp_core`, `l2tp_netlink`,
/// `l2tp_ppp`, `l2tp_eth`, `l2tp_ip`, `l2tp_ip6`).
#[derive(Debug)]
pub struct KernelDataplane {
    genl: NetlinkSocket,
    route: NetlinkSocket,
    /// Generic netlink socket for synchronous counter gets only.
    stats: NetlinkSocket,
    family: Family,
    eth: BTreeMap<String, EthSettings>,
    tunnel_fds: HashMap<u32, RawFd>,
    sessions: HashMap<(u32, u32), KernelSession>,
    pending_genl: HashMap<u32, Pending>,
    pending_route: HashMap<u32, Pending>,
    events: VecDeque<DataplaneEvent>,
}

fn io_error(what: &str, e: &io::Error) -> DataplaneError {
    DataplaneError { errno: e.raw_os_error(), message: format!("{what}: {e}") }
}

fn reply_error(what: &str, e: ReplyError) -> DataplaneError {
    let errno = e.errno();
    DataplaneError { errno: Some(errno), message: format!("{what}: {}", io::Error::from_raw_os_error(errno)) }
}

/// Resolves the `l2tp` family on `genl`, mapping a failure to a
/// [`DataplaneError`]. Errors: `ENOENT` (with a hint to load the modules)
/// when the kernel has no L2TP netlink support.
pub fn resolve_l2tp_family(genl: &mut NetlinkSocket) -> Result<Family, DataplaneError> {
    genl.resolve_family(L2TP_GENL_NAME).map_err(|e| match e {
        ReplyError::Errno(libc::ENOENT) => DataplaneError {
            errno: Some(libc::ENOENT),
            message: "generic netlink family l2tp not found (kernel module l2tp_netlink missing or not loadable)".into(),
        },
        e => reply_error("resolve generic netlink family l2tp", e),
    })
}

impl KernelDataplane {
    /// Opens the netlink sockets and resolves the `l2tp` family (one
    /// blocking request at start-up, answered by the kernel at once).
    /// `eth` maps Ethernet profile names to their settings. Errors:
    /// `ENOENT` when the kernel has no L2TP support; socket errors.
    pub fn open(eth: BTreeMap<String, EthSettings>) -> Result<KernelDataplane, DataplaneError> {
        let mut genl = NetlinkSocket::open(Protocol::Generic).map_err(|e| io_error("open generic netlink socket", &e))?;
        let family = resolve_l2tp_family(&mut genl)?;
        let route = NetlinkSocket::open(Protocol::Route).map_err(|e| io_error("open rtnetlink socket", &e))?;
        let mut stats = NetlinkSocket::open(Protocol::Generic).map_err(|e| io_error("open generic netlink socket", &e))?;
        stats.l2tp_family = family.id;
        Ok(KernelDataplane {
            genl,
            route,
            stats,
            family,
            eth,
            tunnel_fds: HashMap::new(),
            sessions: HashMap::new(),
            pending_genl: HashMap::new(),
            pending_route: HashMap::new(),
            events: VecDeque::new(),
        })
    }

    /// The resolved `l2tp` family (id and version).
    pub fn family(&self) -> Family {
        self.family
    }

    /// The two netlink fds (generic, route) to watch for readability;
    /// call [`KernelDataplane::handle_readable`] when either is.
    pub fn fds(&self) -> [BorrowedFd<'_>; 2] {
        [self.genl.fd(), self.route.fd()]
    }

    /// Gives the data plane the daemon's per-tunnel socket of `tunnel_id`
    /// (see the module documentation), before `tunnel_up`. The daemon keeps
    /// owning it and must keep it open until after `tunnel_down`.
    pub fn attach_tunnel_socket(&mut self, tunnel_id: u32, fd: RawFd) {
        self.tunnel_fds.insert(tunnel_id, fd);
    }

    /// The PPPoL2TP socket of a PPP session, once [`DataplaneEvent::PppReady`]
    /// was reported; closed at `session_down`.
    pub fn ppp_socket(&self, tunnel_id: u32, session_id: u32) -> Option<BorrowedFd<'_>> {
        self.sessions.get(&(tunnel_id, session_id))?.ppp.as_ref().map(|fd| fd.as_fd())
    }

    /// The interface carrying an Ethernet or VLAN session, once up.
    pub fn interface_name(&self, tunnel_id: u32, session_id: u32) -> Option<&str> {
        let s = self.sessions.get(&(tunnel_id, session_id))?;
        s.vlan_ifname.as_deref().or(s.ifname.as_deref())
    }

    /// Asks for a tunnel's counters; they come as [`DataplaneEvent::Stats`].
    pub fn request_tunnel_stats(&mut self, tunnel_id: u32) -> Result<(), DataplaneError> {
        self.send_genl(netlink::L2tpRequest::TunnelGet { tunnel_id }, Pending::Stats(tunnel_id, None))
    }

    /// Asks for a session's counters; they come as [`DataplaneEvent::Stats`].
    pub fn request_session_stats(&mut self, tunnel_id: u32, session_id: u32) -> Result<(), DataplaneError> {
        let req = netlink::L2tpRequest::SessionGet { tunnel_id, session_id };
        self.send_genl(req, Pending::Stats(tunnel_id, Some(session_id)))
    }

    /// Reads a tunnel's (`session_id` `None`) or session's counters now
    /// with `L2TP_CMD_TUNNEL_GET` / `L2TP_CMD_SESSION_GET` on the counters
    /// socket, waiting at most [`STATS_TIMEOUT_MS`]. Errors: the kernel's
    /// errno (`ENOENT` when it has no such tunnel or session), `ETIMEDOUT`,
    /// `EPROTO` when the answer carries no object.
    pub fn read_stats(&mut self, tunnel_id: u32, session_id: Option<u32>) -> Result<netlink::Stats, DataplaneError> {
        let req = match session_id {
            Some(session_id) => netlink::L2tpRequest::SessionGet { tunnel_id, session_id },
            None => netlink::L2tpRequest::TunnelGet { tunnel_id },
        };
        let family = self.family.id;
        let replies = self.stats.request_blocking(|seq, out| req.emit(family, seq, out), STATS_TIMEOUT_MS).map_err(|e| reply_error("read counters", e))?;
        replies
            .into_iter()
            .find_map(|r| match (r, session_id) {
                (Reply::Tunnel(t), None) if t.tunnel_id == tunnel_id => Some(t.stats),
                (Reply::Session(s), Some(sid)) if s.tunnel_id == tunnel_id && s.session_id == sid => Some(s.stats),
                _ => None,
            })
            .ok_or_else(|| DataplaneError { errno: Some(libc::EPROTO), message: "read counters: no such object in the answer".into() })
    }

    /// The next thing to report, if any.
    pub fn poll_event(&mut self) -> Option<DataplaneEvent> {
        self.events.pop_front()
    }

    /// Reads and acts on every answer queued on the netlink sockets.
    /// Never blocks.
    pub fn handle_readable(&mut self) {
        loop {
            let mut progressed = false;
            while let Some((seq, r)) = self.genl.poll_reply() {
                progressed = true;
                if let Some(p) = self.pending_genl.get(&seq).copied() {
                    self.on_genl(seq, p, r);
                }
            }
            while let Some((seq, r)) = self.route.poll_reply() {
                progressed = true;
                if let Some(p) = self.pending_route.remove(&seq) {
                    self.on_route(p, r);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn send_genl(&mut self, req: netlink::L2tpRequest, p: Pending) -> Result<(), DataplaneError> {
        let family = self.family.id;
        let seq = self.genl.send(|seq, out| req.emit(family, seq, out)).map_err(|e| io_error("send l2tp netlink request", &e))?;
        self.pending_genl.insert(seq, p);
        Ok(())
    }

    fn send_route(&mut self, req: &LinkRequest, p: Pending) -> Result<(), DataplaneError> {
        let seq = self.route.send(|seq, out| req.emit(seq, out)).map_err(|e| io_error("send rtnetlink request", &e))?;
        self.pending_route.insert(seq, p);
        Ok(())
    }

    /// [`KernelDataplane::read_stats`] as the trait reports it: a failure
    /// is logged at debug level and answered with `None`.
    fn stats_or_log(&mut self, tunnel_id: u32, session_id: Option<u32>) -> Option<DataStats> {
        match self.read_stats(tunnel_id, session_id) {
            Ok(s) => Some(DataStats::from(&s)),
            Err(e) => {
                log::log(Level::Debug, format_args!("dataplane stats tunnel_id={tunnel_id} session_id={} error=\"{e}\"", session_id.unwrap_or(0)));
                None
            }
        }
    }

    fn fail(&mut self, tunnel_id: u32, session_id: Option<u32>, error: DataplaneError) {
        self.events.push_back(DataplaneEvent::Failed { tunnel_id, session_id, error });
    }

    /// Removes and returns a queued failure of exactly this tunnel/session.
    fn take_failure(&mut self, tunnel_id: u32, session_id: Option<u32>) -> Option<DataplaneError> {
        let at =
            self.events.iter().position(|e| matches!(e, DataplaneEvent::Failed { tunnel_id: t, session_id: s, .. } if *t == tunnel_id && *s == session_id))?;
        match self.events.remove(at) {
            Some(DataplaneEvent::Failed { error, .. }) => Some(error),
            _ => None,
        }
    }

    fn on_genl(&mut self, seq: u32, p: Pending, r: Result<Reply, ReplyError>) {
        // A get is answered by the object, then by the acknowledgement: the
        // object ends the exchange, and the acknowledgement that follows
        // finds nothing pending. An acknowledgement still pending means the
        // object was missing.
        self.pending_genl.remove(&seq);
        match (p, r) {
            (Pending::TunnelCreate(t), Err(e)) => self.fail(t, None, reply_error("create kernel tunnel", e)),
            (Pending::TunnelCreate(_), Ok(_)) => {}
            (Pending::SessionCreate(t, s), Ok(_)) => self.on_session_created(t, s),
            (Pending::SessionCreate(t, s), Err(e)) => self.fail(t, Some(s), reply_error("create kernel session", e)),
            (Pending::SessionGet(t, s), Ok(Reply::Session(reply))) => self.on_session_ifname(t, s, reply.ifname),
            (Pending::SessionGet(t, s), Ok(_)) => {
                self.fail(t, Some(s), DataplaneError { errno: Some(libc::EPROTO), message: "kernel session get: no session in reply".into() })
            }
            (Pending::SessionGet(t, s), Err(e)) => self.fail(t, Some(s), reply_error("read kernel session", e)),
            (Pending::Stats(t, s), r) => {
                let result = match r {
                    Ok(Reply::Tunnel(x)) => Ok(x.stats),
                    Ok(Reply::Session(x)) => Ok(x.stats),
                    Ok(_) => Err(DataplaneError { errno: Some(libc::EPROTO), message: "no counters in reply".into() }),
                    Err(e) => Err(reply_error("read counters", e)),
                };
                self.events.push_back(DataplaneEvent::Stats { tunnel_id: t, session_id: s, result });
            }
            (Pending::TunnelDelete(t), Err(e)) => log::log(Level::Warning, format_args!("dataplane delete tunnel_id={t} errno={}", e.errno())),
            // A PPP session goes with its last PPPoL2TP socket: when the
            // PPP side died first, the kernel already removed it (ENODEV).
            (Pending::SessionDelete(t, s), Err(e)) => {
                let level = if e.errno() == libc::ENODEV { Level::Debug } else { Level::Warning };
                log::log(level, format_args!("dataplane delete tunnel_id={t} session_id={s} errno={}", e.errno()))
            }
            (Pending::TunnelDelete(_) | Pending::SessionDelete(..), Ok(_)) => {}
            (Pending::LinkSet(..) | Pending::VlanCreate(..) | Pending::VlanSet(..), _) => {}
        }
    }

    fn on_session_created(&mut self, tunnel_id: u32, session_id: u32) {
        let Some(s) = self.sessions.get(&(tunnel_id, session_id)) else { return };
        match s.info.pseudowire {
            Pseudowire::Ppp => {
                let addr = sys::PppoL2tpAddr {
                    v3: s.info.version == Version::V3,
                    tunnel_fd: self.tunnel_fds.get(&tunnel_id).copied().unwrap_or(-1),
                    peer: s.info.peer,
                    tunnel_id,
                    session_id,
                    peer_tunnel_id: s.info.peer_tunnel_id,
                    peer_session_id: s.info.peer_session_id,
                };
                match sys::pppol2tp_connect(&addr) {
                    Ok(fd) => {
                        if let Some(s) = self.sessions.get_mut(&(tunnel_id, session_id)) {
                            s.ppp = Some(fd);
                        }
                        self.events.push_back(DataplaneEvent::PppReady { tunnel_id, session_id });
                    }
                    Err(e) => self.fail(tunnel_id, Some(session_id), io_error("connect PPPoL2TP socket", &e)),
                }
            }
            Pseudowire::Eth | Pseudowire::Vlan => {
                let req = netlink::L2tpRequest::SessionGet { tunnel_id, session_id };
                if let Err(e) = self.send_genl(req, Pending::SessionGet(tunnel_id, session_id)) {
                    self.fail(tunnel_id, Some(session_id), e);
                }
            }
        }
    }

    fn settings(&self, s: &SessionInfo) -> EthSettings {
        self.eth.get(&s.eth_profile).cloned().unwrap_or_default()
    }

    fn on_session_ifname(&mut self, tunnel_id: u32, session_id: u32, ifname: Option<String>) {
        let Some(s) = self.sessions.get_mut(&(tunnel_id, session_id)) else { return };
        let Some(ifname) = ifname.or_else(|| s.info.interface_name.clone()) else {
            let e = DataplaneError { errno: Some(libc::ENODEV), message: "kernel session has no interface".into() };
            return self.fail(tunnel_id, Some(session_id), e);
        };
        s.ifname = Some(ifname.clone());
        let info = s.info.clone();
        let settings = self.settings(&info);
        let req = match info.pseudowire {
            Pseudowire::Vlan => LinkRequest::Set { ifname, up: true, mtu: None, master: None },
            _ => {
                let master = match settings.bridge.as_deref().map(sys::ifindex).transpose() {
                    Ok(m) => m,
                    Err(e) => return self.fail(tunnel_id, Some(session_id), io_error("find bridge", &e)),
                };
                LinkRequest::Set { ifname, up: true, mtu: settings.mtu.map(u32::from), master }
            }
        };
        if let Err(e) = self.send_route(&req, Pending::LinkSet(tunnel_id, session_id)) {
            self.fail(tunnel_id, Some(session_id), e);
        }
    }

    fn on_route(&mut self, p: Pending, r: Result<Reply, ReplyError>) {
        let (Pending::LinkSet(t, s) | Pending::VlanCreate(t, s) | Pending::VlanSet(t, s)) = p else { return };
        if let Err(e) = r {
            let what = match p {
                Pending::VlanCreate(..) => "create VLAN interface",
                _ => "set up session interface",
            };
            return self.fail(t, Some(s), reply_error(what, e));
        }
        if let Err(e) = self.link_next(p, t, s) {
            self.fail(t, Some(s), e);
        }
    }

    /// The step after an acknowledged link request.
    fn link_next(&mut self, p: Pending, t: u32, s: u32) -> Result<(), DataplaneError> {
        let Some(session) = self.sessions.get(&(t, s)) else { return Ok(()) };
        let ifname = session.ifname.clone().unwrap_or_default();
        let vlan_ifname = session.vlan_ifname.clone().unwrap_or_default();
        let info = session.info.clone();
        match (p, info.pseudowire) {
            (Pending::LinkSet(..), Pseudowire::Vlan) => {
                let vlan_id = info.vlan_id.ok_or_else(|| DataplaneError { errno: Some(libc::EINVAL), message: "VLAN pseudowire without a VLAN id".into() })?;
                let vlan_ifname = netlink::vlan_ifname(&ifname, vlan_id).ok_or_else(|| DataplaneError {
                    errno: Some(libc::ENAMETOOLONG),
                    message: format!("VLAN interface name {ifname}.{vlan_id} is longer than 15 octets"),
                })?;
                let link = sys::ifindex(&ifname).map_err(|e| io_error("find l2tpeth interface", &e))?;
                if let Some(session) = self.sessions.get_mut(&(t, s)) {
                    session.vlan_ifname = Some(vlan_ifname.clone());
                }
                self.send_route(&LinkRequest::NewVlan { ifname: vlan_ifname, link, vlan_id }, Pending::VlanCreate(t, s))
            }
            (Pending::VlanCreate(..), _) => {
                let settings = self.settings(&info);
                if settings.mtu.is_none() && settings.bridge.is_none() {
                    self.events.push_back(DataplaneEvent::InterfaceUp { tunnel_id: t, session_id: s, ifname: vlan_ifname });
                    return Ok(());
                }
                let master = settings.bridge.as_deref().map(sys::ifindex).transpose().map_err(|e| io_error("find bridge", &e))?;
                let req = LinkRequest::Set { ifname: vlan_ifname, up: true, mtu: settings.mtu.map(u32::from), master };
                self.send_route(&req, Pending::VlanSet(t, s))
            }
            (Pending::VlanSet(..), _) => {
                self.events.push_back(DataplaneEvent::InterfaceUp { tunnel_id: t, session_id: s, ifname: vlan_ifname });
                Ok(())
            }
            _ => {
                self.events.push_back(DataplaneEvent::InterfaceUp { tunnel_id: t, session_id: s, ifname });
                Ok(())
            }
        }
    }
}

/// The `L2TP_CMD_TUNNEL_CREATE` request for `t` on socket `fd`.
pub fn tunnel_create_request(t: &TunnelInfo, fd: RawFd) -> TunnelCreate {
    TunnelCreate {
        tunnel_id: t.tunnel_id,
        peer_tunnel_id: t.peer_tunnel_id,
        version: t.version.wire_value() as u8,
        encap_ip: t.transport == Transport::Ip,
        socket: TunnelSocket::Fd(fd),
    }
}

/// The `L2TP_CMD_SESSION_CREATE` request for `s`: PPP sessions as
/// `L2TP_PWTYPE_PPP`, Ethernet and VLAN ones as `L2TP_PWTYPE_ETH` (the
/// kernel has no VLAN type; the 802.1Q sub-interface is added on top).
pub fn session_create_request(s: &SessionInfo) -> SessionCreate {
    let v3 = s.version == Version::V3;
    SessionCreate {
        tunnel_id: s.tunnel_id,
        session_id: s.session_id,
        peer_session_id: s.peer_session_id,
        pw_type: match s.pseudowire {
            Pseudowire::Ppp => pw_type::PPP,
            Pseudowire::Eth | Pseudowire::Vlan => pw_type::ETH,
        },
        v3,
        cookie: s.cookie.clone(),
        peer_cookie: s.peer_cookie.clone(),
        l2spec_type: s.l2spec.wire() as u8,
        send_seq: s.send_seq,
        recv_seq: s.recv_seq,
        lns_mode: s.call_type.is_lns(),
        ifname: if s.pseudowire == Pseudowire::Ppp { None } else { s.interface_name.clone() },
    }
}

impl Dataplane for KernelDataplane {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn wants_tunnel_socket(&self) -> bool {
        true
    }

    fn attach_tunnel_socket(&mut self, tunnel_id: u32, fd: RawFd) {
        KernelDataplane::attach_tunnel_socket(self, tunnel_id, fd);
    }

    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        KernelDataplane::fds(self).to_vec()
    }

    fn handle_readable(&mut self) {
        KernelDataplane::handle_readable(self);
    }

    fn poll_event(&mut self) -> Option<DataplaneEvent> {
        KernelDataplane::poll_event(self)
    }

    fn ppp_socket(&self, tunnel_id: u32, session_id: u32) -> Option<BorrowedFd<'_>> {
        KernelDataplane::ppp_socket(self, tunnel_id, session_id)
    }

    fn session_stats(&mut self, tunnel_id: u32, session_id: u32) -> Option<DataStats> {
        // Only sessions this plane created: others are not ours to report.
        if !self.sessions.contains_key(&(tunnel_id, session_id)) {
            return None;
        }
        self.stats_or_log(tunnel_id, Some(session_id))
    }

    fn tunnel_stats(&mut self, tunnel_id: u32) -> Option<DataStats> {
        if !self.tunnel_fds.contains_key(&tunnel_id) {
            return None;
        }
        self.stats_or_log(tunnel_id, None)
    }

    fn tunnel_up(&mut self, tunnel: &TunnelInfo) -> Result<(), DataplaneError> {
        let Some(fd) = self.tunnel_fds.get(&tunnel.tunnel_id).copied() else {
            return Err(DataplaneError { errno: Some(libc::EBADF), message: "no per-tunnel socket attached".into() });
        };
        let req = netlink::L2tpRequest::TunnelCreate(tunnel_create_request(tunnel, fd));
        self.send_genl(req, Pending::TunnelCreate(tunnel.tunnel_id))?;
        self.handle_readable();
        match self.take_failure(tunnel.tunnel_id, None) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn tunnel_down(&mut self, tunnel_id: u32) {
        // The kernel deletes the tunnel's sessions (and their interfaces)
        // with it; the PPPoL2TP sockets are closed here.
        self.sessions.retain(|(t, _), _| *t != tunnel_id);
        self.tunnel_fds.remove(&tunnel_id);
        let req = netlink::L2tpRequest::TunnelDelete { tunnel_id };
        if let Err(e) = self.send_genl(req, Pending::TunnelDelete(tunnel_id)) {
            log::log(Level::Warning, format_args!("dataplane delete tunnel_id={tunnel_id} error=\"{e}\""));
        }
    }

    fn session_up(&mut self, session: &SessionInfo) -> Result<(), DataplaneError> {
        let key = (session.tunnel_id, session.session_id);
        if session.pseudowire == Pseudowire::Vlan && session.vlan_id.is_none() {
            return Err(DataplaneError { errno: Some(libc::EINVAL), message: "VLAN pseudowire without a VLAN id".into() });
        }
        let req = netlink::L2tpRequest::SessionCreate(session_create_request(session));
        self.send_genl(req, Pending::SessionCreate(key.0, key.1))?;
        self.sessions.insert(key, KernelSession { info: session.clone(), ifname: None, vlan_ifname: None, ppp: None });
        self.handle_readable();
        match self.take_failure(key.0, Some(key.1)) {
            Some(e) => {
                self.sessions.remove(&key);
                Err(e)
            }
            None => Ok(()),
        }
    }

    fn session_down(&mut self, session: &SessionInfo) {
        let (tunnel_id, session_id) = (session.tunnel_id, session.session_id);
        // Deleting the session removes its l2tpeth interface, and with it
        // any VLAN sub-interface on top; dropping the entry closes our
        // PPPoL2TP socket.
        self.sessions.remove(&(tunnel_id, session_id));
        let req = netlink::L2tpRequest::SessionDelete { tunnel_id, session_id };
        if let Err(e) = self.send_genl(req, Pending::SessionDelete(tunnel_id, session_id)) {
            log::log(Level::Warning, format_args!("dataplane delete tunnel_id={tunnel_id} session_id={session_id} error=\"{e}\""));
        }
    }
}
