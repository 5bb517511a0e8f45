//! The daemon's side of the data plane: choosing it (`[system] dataplane`),
//! the kernel plane's per-tunnel sockets, its asynchronous results, and the
//! userspace plane's data packets and devices.
//!
//! With the kernel plane every tunnel has a socket of its own, which the
//! kernel's tunnel is built on (see [`crate::dataplane::kernel`]):
//!
//! - L2TPv3 over IP: opened as soon as the tunnel exists, bound to our
//!   tunnel id, because `l2tp_ip` hands a control message only to the
//!   socket bound to the Control Connection ID it carries (RFC 3931
//!   §4.1.1.1); connected again to the peer's id at tunnel-up.
//! - UDP: opened at tunnel-up, when the peer's address and port are final,
//!   bound to the tunnel's local address (the routing table's source
//!   towards the peer when the tunnel only knows the wildcard it was
//!   received on) and the listener's port, and connected to the peer.
//!
//! The tunnel's control messages are read from and sent through it; those
//! that still reach a listener are routed by tunnel id as before. It is
//! closed when the core forgets the tunnel (after StopCCN's
//! acknowledgement), so late retransmissions still find it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use common::evloop::Interest;
use common::log::{self, Level};
use common::trace::TraceFlags;

use super::net::{self, L2tpSocket};
use super::Daemon;
use crate::config::{Config, DataplaneKind};
use crate::dataplane::kernel::{EthSettings, KernelDataplane};
use crate::dataplane::userspace::{DataDrop, FdChange, UserspaceDataplane};
use crate::dataplane::{Dataplane, DataplaneEvent, NullDataplane};
use crate::proto::endpoint::{SessionInfo, TunnelInfo};
use crate::proto::header::{DataPacket, Transport};
use crate::proto::message::ResultCode;
use crate::proto::result::{cdn, stop_ccn};
use crate::proto::session::Pseudowire;

/// The data plane's own fds (kernel: netlink): `KEY_PLANE0 + index`.
pub(super) const KEY_PLANE0: usize = 1 << 16;
/// Device fds of the userspace data plane: `KEY_DATA0 + token`.
pub(super) const KEY_DATA0: usize = 1 << 20;
/// Per-tunnel sockets: `KEY_TUNNEL0 + slot`.
pub(super) const KEY_TUNNEL0: usize = 1 << 30;

/// The data plane in use: a boxed one, or the userspace plane, which the
/// loop also feeds with data packets and device readiness.
pub(super) enum Plane {
    /// Kernel or null: driven through the [`Dataplane`] trait only.
    Other(Box<dyn Dataplane>),
    /// The userspace plane (see [`UserspaceDataplane`]), boxed like the
    /// others so the enum stays small.
    Userspace(Box<UserspaceDataplane>),
}

impl Plane {
    /// The plane as the lifecycle seam.
    pub(super) fn get(&mut self) -> &mut dyn Dataplane {
        match self {
            Plane::Other(b) => b.as_mut(),
            Plane::Userspace(u) => u.as_mut(),
        }
    }

    /// The plane, read-only.
    pub(super) fn get_ref(&self) -> &dyn Dataplane {
        match self {
            Plane::Other(b) => b.as_ref(),
            Plane::Userspace(u) => u.as_ref(),
        }
    }
}

/// The Ethernet profiles' settings, as the kernel plane applies them.
fn eth_settings(cfg: &Config) -> std::collections::BTreeMap<String, EthSettings> {
    cfg.eth_profiles.iter().map(|(n, p)| (n.clone(), EthSettings { mtu: p.mtu, bridge: p.bridge.clone() })).collect()
}

/// Chooses the data plane from `[system] dataplane` and logs the choice
/// (`dataplane requested=… using=… reason="…"`): `null` and `userspace` as
/// configured; `kernel` when the kernel's L2TP netlink family resolves, an
/// error otherwise (the daemon does not start); `auto` the kernel if it
/// can, else userspace if `/dev/net/tun` exists, else null. The one place
/// the choice is made.
pub(super) fn make_dataplane(cfg: &Config) -> Result<Plane, String> {
    let requested = cfg.system.dataplane;
    let (plane, reason): (Plane, String) = match requested {
        DataplaneKind::Null => (Plane::Other(Box::new(NullDataplane::default())), "configured".into()),
        DataplaneKind::Userspace => (Plane::Userspace(Box::new(UserspaceDataplane::new())), "configured".into()),
        DataplaneKind::Kernel => match KernelDataplane::open(eth_settings(cfg)) {
            Ok(k) => (Plane::Other(Box::new(k)), "configured".into()),
            Err(e) => {
                return Err(format!(
                    "dataplane kernel is not available: {e}; load the modules (modprobe l2tp_netlink l2tp_ppp l2tp_eth l2tp_ip l2tp_ip6) or set dataplane = auto or userspace"
                ))
            }
        },
        DataplaneKind::Auto => match KernelDataplane::open(eth_settings(cfg)) {
            Ok(k) => (Plane::Other(Box::new(k)), "kernel L2TP netlink family found".into()),
            Err(e) if UserspaceDataplane::available() => (Plane::Userspace(Box::new(UserspaceDataplane::new())), format!("no kernel data plane: {e}")),
            Err(e) => (Plane::Other(Box::new(NullDataplane::default())), format!("no kernel data plane: {e}; no /dev/net/tun")),
        },
    };
    let using = plane.get_ref().name();
    log::log(Level::Notice, format_args!("dataplane requested={} using={using} reason=\"{reason}\"", format!("{requested:?}").to_lowercase()));
    Ok(plane)
}

/// A data packet from a control socket: to the userspace plane, or dropped.
pub(super) fn on_data(plane: &mut Plane, from: SocketAddr, transport: Transport, pkt: &DataPacket<'_>) {
    let Plane::Userspace(u) = plane else { return };
    if let Err(e) = u.handle_data(from, transport, pkt) {
        let reason = match e {
            DataDrop::UnknownSession => "unknown-session".to_string(),
            DataDrop::Refused(e) => e.to_string(),
            DataDrop::DeviceFull => "device-full".to_string(),
        };
        log::trace(log::system_mask(), TraceFlags::DATA, format_args!("drop data from={from} session_id={} reason=\"{reason}\"", pkt.session_id));
    }
}

/// The kernel plane's per-tunnel sockets, each registered with the loop
/// under `KEY_TUNNEL0 + slot`.
#[derive(Default)]
pub(super) struct TunnelSockets {
    by_tunnel: HashMap<u32, (usize, L2tpSocket)>,
    /// Tunnel id per slot; `None` for free slots.
    slots: Vec<Option<u32>>,
}

impl TunnelSockets {
    /// Stores `s` for `tunnel_id` and returns its slot.
    fn insert(&mut self, tunnel_id: u32, s: L2tpSocket) -> usize {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len().saturating_sub(1)
            }
        };
        if let Some(x) = self.slots.get_mut(slot) {
            *x = Some(tunnel_id);
        }
        self.by_tunnel.insert(tunnel_id, (slot, s));
        slot
    }

    /// Removes the socket of `tunnel_id`.
    fn remove(&mut self, tunnel_id: u32) -> Option<L2tpSocket> {
        let (slot, s) = self.by_tunnel.remove(&tunnel_id)?;
        if let Some(x) = self.slots.get_mut(slot) {
            *x = None;
        }
        Some(s)
    }

    /// The socket of `tunnel_id`.
    pub(super) fn get(&self, tunnel_id: u32) -> Option<&L2tpSocket> {
        self.by_tunnel.get(&tunnel_id).map(|(_, s)| s)
    }

    /// The socket registered under `slot`.
    pub(super) fn by_slot(&self, slot: usize) -> Option<&L2tpSocket> {
        let tid = (*self.slots.get(slot)?)?;
        self.get(tid)
    }
}

impl Daemon {
    /// Registers the plane's own fds with the loop.
    pub(super) fn register_plane_fds(&mut self) -> Result<(), String> {
        for (i, fd) in self.dataplane.get_ref().fds().into_iter().enumerate() {
            self.evloop.register(fd, KEY_PLANE0 + i, Interest::READABLE).map_err(|e| format!("cannot watch data plane: {e}"))?;
        }
        Ok(())
    }

    /// The listener-side local address of tunnel `t`: what it knows, else
    /// the wildcard with the port of our listener for the peer's family.
    fn tunnel_local(&self, t: &TunnelInfo) -> SocketAddr {
        let port = self.sockets.iter().find(|s| s.transport == Transport::Udp && s.local.is_ipv4() == t.peer.is_ipv4()).map(|s| s.local.port()).unwrap_or(0);
        match t.local {
            Some(l) if t.transport == Transport::Ip || l.port() != 0 => l,
            Some(l) => SocketAddr::new(l.ip(), port),
            None if t.peer.is_ipv4() => SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), port),
            None => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), port),
        }
    }

    /// Opens, registers and stores the tunnel's own socket; the error is
    /// for the StopCCN message.
    fn open_tunnel_socket(&mut self, t: &TunnelInfo) -> Result<(), String> {
        let local = self.tunnel_local(t);
        let s = net::tunnel_socket(t.transport, local, t.peer, t.tunnel_id, t.peer_tunnel_id)
            .map_err(|e| format!("cannot open the tunnel's socket local={local} peer={}: {e}", t.peer))?;
        log::log(Level::Debug, format_args!("tunnel socket tunnel_id={} transport={:?} local={} peer={}", t.tunnel_id, t.transport, s.local, t.peer));
        let slot = self.tunnel_sockets.insert(t.tunnel_id, s);
        let Some(s) = self.tunnel_sockets.get(t.tunnel_id) else { return Err("tunnel socket vanished".into()) };
        if let Err(e) = self.evloop.register(s.fd(), KEY_TUNNEL0 + slot, Interest::READABLE) {
            self.tunnel_sockets.remove(t.tunnel_id);
            return Err(format!("cannot watch the tunnel's socket: {e}"));
        }
        Ok(())
    }

    /// Deregisters and closes the tunnel's own socket, if it has one.
    pub(super) fn close_tunnel_socket(&mut self, tunnel_id: u32) {
        if let Some(s) = self.tunnel_sockets.remove(tunnel_id) {
            let _ = self.evloop.deregister(s.fd());
        }
    }

    /// A tunnel exists: L2TPv3-over-IP tunnels of the kernel plane get
    /// their socket now (see the module documentation).
    pub(super) fn plane_tunnel_created(&mut self, now: Instant, t: &TunnelInfo) {
        if !self.dataplane.get_ref().wants_tunnel_socket() || t.transport != Transport::Ip {
            return;
        }
        if let Err(e) = self.open_tunnel_socket(t) {
            self.fail_tunnel(now, t.tunnel_id, e);
        }
    }

    /// The control connection is up: give the plane its socket (kernel)
    /// and create the data-plane tunnel; a failure closes the tunnel.
    pub(super) fn plane_tunnel_up(&mut self, now: Instant, t: &TunnelInfo) {
        if self.dataplane.get_ref().wants_tunnel_socket() {
            let ready = match (t.transport, self.tunnel_sockets.get(t.tunnel_id)) {
                (Transport::Ip, Some(s)) => {
                    net::connect_l2tp_ip(s, t.peer.ip(), t.peer_tunnel_id).map_err(|e| format!("cannot connect the tunnel's socket: {e}"))
                }
                (Transport::Ip, None) => Err("the tunnel has no socket".to_string()),
                (Transport::Udp, _) => {
                    self.close_tunnel_socket(t.tunnel_id);
                    self.open_tunnel_socket(t)
                }
            };
            if let Err(e) = ready {
                return self.fail_tunnel(now, t.tunnel_id, e);
            }
            if let Some(s) = self.tunnel_sockets.get(t.tunnel_id) {
                let fd = s.socket.as_fd().as_raw_fd();
                self.dataplane.get().attach_tunnel_socket(t.tunnel_id, fd);
            }
        }
        if let Err(e) = self.dataplane.get().tunnel_up(t) {
            self.fail_tunnel(now, t.tunnel_id, e.to_string());
        }
    }

    /// Logs a data-plane failure of a tunnel and closes it with a General
    /// Error StopCCN (RFC 2661 §4.4.2) carrying `message`.
    fn fail_tunnel(&mut self, now: Instant, tunnel_id: u32, message: String) {
        log::log(Level::Error, format_args!("dataplane tunnel_id={tunnel_id} error=\"{message}\""));
        let r = ResultCode { result: stop_ccn::GENERAL_ERROR, error: None, message: Some(message) };
        let _ = self.ep.close_tunnel(now, tunnel_id, Some(r));
    }

    /// Logs a data-plane failure of a session and closes it with a General
    /// Error CDN carrying `message`.
    pub(super) fn fail_session(&mut self, now: Instant, tunnel_id: u32, session_id: u32, message: String) {
        log::log(Level::Error, format_args!("dataplane tunnel_id={tunnel_id} session_id={session_id} error=\"{message}\""));
        let r = ResultCode { result: cdn::GENERAL_ERROR, error: None, message: Some(message) };
        let _ = self.ep.close_session(now, tunnel_id, session_id, Some(r));
    }

    /// The session is established: the plane carries it; PPP sessions
    /// are handed to the PPP side (`ppp_side.rs`) when their channel is
    /// ready (the userspace plane's at once, the kernel's on `PppReady`).
    pub(super) fn plane_session_up(&mut self, now: Instant, s: &SessionInfo) {
        let ppp = s.pseudowire == Pseudowire::Ppp;
        if ppp {
            self.ppp_session_up(s);
        }
        if let Err(e) = self.dataplane.get().session_up(s) {
            if ppp {
                self.ppp_forget(s.tunnel_id, s.session_id);
            }
            return self.fail_session(now, s.tunnel_id, s.session_id, e.to_string());
        }
        if ppp && matches!(self.dataplane, Plane::Userspace(_)) {
            self.ppp_channel_ready(now, s.tunnel_id, s.session_id);
        }
    }

    /// Acts on what the plane reported; returns whether anything was.
    pub(super) fn poll_plane_events(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(ev) = self.dataplane.get().poll_event() {
            any = true;
            match ev {
                DataplaneEvent::Failed { tunnel_id, session_id: None, error } => self.fail_tunnel(now, tunnel_id, error.to_string()),
                DataplaneEvent::Failed { tunnel_id, session_id: Some(s), error } => self.fail_session(now, tunnel_id, s, error.to_string()),
                DataplaneEvent::PppReady { tunnel_id, session_id } => self.ppp_channel_ready(now, tunnel_id, session_id),
                DataplaneEvent::InterfaceUp { tunnel_id, session_id, ifname } => {
                    log::log(Level::Info, format_args!("dataplane interface up tunnel_id={tunnel_id} session_id={session_id} interface={ifname}"));
                    self.events_interface_up(tunnel_id, session_id, &ifname);
                }
                DataplaneEvent::Stats { tunnel_id, session_id, result } => {
                    log::log(Level::Debug, format_args!("dataplane stats tunnel_id={tunnel_id} session_id={} result={result:?}", session_id.unwrap_or(0)))
                }
            }
        }
        any
    }

    /// A userspace-plane device is readable: relay its frames to the peers.
    pub(super) fn on_device(&mut self, token: usize) {
        let Plane::Userspace(u) = &mut self.dataplane else { return };
        u.handle_readable(token);
        while let Some(tx) = u.poll_transmit() {
            let local = self.ep.tunnel(tx.tunnel_id).and_then(|t| t.local);
            let sock = super::listener_for(&self.sockets, tx.transport, tx.to, local);
            let error = match sock.map(|s| s.send(&tx.bytes, tx.to)) {
                Some(Ok(_)) => continue,
                Some(Err(e)) => e.to_string(),
                None => "no socket for this family/transport".to_string(),
            };
            u.count_send_error(tx.tunnel_id, tx.session_id);
            let session_flags = self.ep.tunnel(tx.tunnel_id).and_then(|t| t.session(tx.session_id)).map(|s| s.trace_flags);
            let flags = session_flags.unwrap_or(TraceFlags::NONE) | log::system_mask();
            log::trace(
                flags,
                TraceFlags::DATA,
                format_args!("drop data to={} tunnel_id={} session_id={} error=\"{error}\"", tx.to, tx.tunnel_id, tx.session_id),
            );
        }
    }

    /// Registers new userspace-plane devices with the loop, deregisters
    /// (then closes) removed ones, and closes the sessions whose device hung
    /// up. Returns whether a session was closed (the core has output).
    pub(super) fn apply_fd_changes(&mut self, now: Instant) -> bool {
        let Plane::Userspace(u) = &mut self.dataplane else { return false };
        let mut closed = false;
        while let Some(change) = u.poll_fd_change() {
            match change {
                FdChange::Added(token) => {
                    let Some(fd) = u.fd(token) else { continue };
                    if let Err(e) = self.evloop.register(fd, KEY_DATA0 + token, Interest::READABLE) {
                        log::log(Level::Error, format_args!("dataplane register token={token} error=\"{e}\""));
                    }
                }
                FdChange::Removed(_, fd) => {
                    let _ = self.evloop.deregister(fd.as_fd());
                    drop(fd);
                }
                FdChange::HungUp { token, tunnel_id, session_id, reason } => {
                    if let Some(fd) = u.fd(token) {
                        let _ = self.evloop.modify(fd, Interest::NONE);
                    }
                    let r = ResultCode { result: cdn::LOST_CARRIER, error: None, message: Some(reason) };
                    closed |= self.ep.close_session(now, tunnel_id, session_id, Some(r)).is_ok();
                }
            }
        }
        closed
    }
}
