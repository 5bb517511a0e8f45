//! The access concentrator's interfaces: per `[interface "NAME"]` an
//! `AF_PACKET` discovery socket (RFC 2516 §5, ethertype 0x8863) whose
//! frames feed [`crate::proto::Server`], and on the userspace data plane a
//! session socket (§4, ethertype 0x8864) whose frames the relay moves to
//! the sessions' framed channels (`sessions.rs`).
//!
//! The server is keyed by ifindex ([`crate::proto::IfaceId`]); an
//! interface that cannot be opened keeps its configuration, is listed with
//! `state=error` and its error, and is retried at the next reload.

use std::os::fd::AsFd;
use std::time::Instant;

use common::evloop::Interest;
use common::log::{self, Level};

use crate::config::InterfaceConfig;
use crate::proto::{self, InterfaceParams, MacAddr, Output, ETH_P_PPP_DISC, ETH_P_PPP_SES};
use crate::sys::PacketSocket;

use super::sessions::End;
use super::{dbg, Daemon, Dbg, BURST, KEY_IF0};

/// One configured interface.
pub(super) struct Iface {
    /// Interface name (`eth0`, `eth0.100`).
    pub name: String,
    /// Its ifindex once opened (0 when it could not be).
    pub ifindex: u32,
    /// Its MAC address once opened.
    pub mac: MacAddr,
    /// The parameters given to the server.
    pub params: InterfaceParams,
    /// Discovery socket (0x8863).
    pub disc: Option<PacketSocket>,
    /// Session socket (0x8864), userspace plane only.
    pub sess: Option<PacketSocket>,
    /// Why it is not working, when it is not.
    pub error: Option<String>,
}

impl Iface {
    /// `up`, `down` or `error` (ListInterfaces).
    pub fn state(&self) -> &'static str {
        match (&self.error, &self.disc) {
            (Some(_), _) | (None, None) => "error",
            (None, Some(s)) if s.info().up => "up",
            _ => "down",
        }
    }
}

impl Daemon {
    /// The server's parameters of interface `ic` with MAC `mac`.
    fn iface_params(&self, ic: &InterfaceConfig, mac: MacAddr) -> InterfaceParams {
        let sys = &self.cfg.system;
        InterfaceParams {
            mac,
            ac_name: ic.ac_name.clone().unwrap_or_else(|| sys.ac_name.clone()),
            service_names: ic.service_names.clone(),
            max_sessions: ic.max_sessions,
            padi_rate: ic.padi_rate.unwrap_or(sys.padi_rate),
            padi_burst: ic.padi_burst.unwrap_or(sys.padi_burst),
        }
    }

    /// Brings the open interfaces in line with the configuration: closes
    /// removed ones (their sessions end: the interface is gone), opens new
    /// ones and ones in error, and gives the server every working one's
    /// (possibly changed) parameters.
    pub(super) fn sync_interfaces(&mut self) {
        let wanted: Vec<InterfaceConfig> = self.cfg.interfaces.clone();
        for slot in 0..self.ifaces.len() {
            let (keep, retry) = match self.ifaces.get(slot).and_then(Option::as_ref) {
                Some(i) => (wanted.iter().any(|w| w.name == i.name), i.disc.is_none()),
                None => continue,
            };
            if !keep || retry {
                self.close_iface(slot, if keep { "reopen" } else { "removed from the configuration" });
            }
        }
        for ic in &wanted {
            let slot = self.ifaces.iter().position(|i| i.as_ref().is_some_and(|i| i.name == ic.name));
            match slot {
                Some(slot) => {
                    let Some(mac) = self.ifaces.get(slot).and_then(Option::as_ref).map(|i| i.mac) else { continue };
                    let params = self.iface_params(ic, mac);
                    if let Some(i) = self.ifaces.get_mut(slot).and_then(Option::as_mut) {
                        i.params = params.clone();
                        let ifindex = i.ifindex;
                        self.server.set_interface(ifindex, params);
                    }
                }
                None => self.open_iface(ic),
            }
        }
    }

    /// Opens interface `ic` in a free slot; a failure is kept as its error.
    fn open_iface(&mut self, ic: &InterfaceConfig) {
        let slot = self.ifaces.iter().position(Option::is_none).unwrap_or(self.ifaces.len());
        let mut iface = Iface {
            name: ic.name.clone(),
            ifindex: 0,
            mac: MacAddr::default(),
            params: self.iface_params(ic, MacAddr::default()),
            disc: None,
            sess: None,
            error: None,
        };
        match self.open_sockets(slot, &ic.name) {
            Ok((disc, sess)) => {
                iface.ifindex = disc.info().ifindex;
                iface.mac = disc.info().mac;
                iface.params = self.iface_params(ic, iface.mac);
                self.server.set_interface(iface.ifindex, iface.params.clone());
                log::log(Level::Info, format_args!("interface open name={} ifindex={} mac={}", ic.name, iface.ifindex, iface.mac));
                iface.disc = Some(disc);
                iface.sess = sess;
            }
            Err(e) => {
                log::log(Level::Error, format_args!("interface error name={} line={} error=\"{e}\"", ic.name, ic.line));
                iface.error = Some(e);
            }
        }
        if slot == self.ifaces.len() {
            self.ifaces.push(Some(iface));
        } else if let Some(s) = self.ifaces.get_mut(slot) {
            *s = Some(iface);
        }
    }

    /// The discovery socket and (userspace plane) the session socket of
    /// `name`, registered under the slot's keys.
    fn open_sockets(&mut self, slot: usize, name: &str) -> Result<(PacketSocket, Option<PacketSocket>), String> {
        let disc = PacketSocket::open(name, ETH_P_PPP_DISC).map_err(|e| format!("cannot open discovery socket: {e}"))?;
        let sess = if self.kernel { None } else { Some(PacketSocket::open(name, ETH_P_PPP_SES).map_err(|e| format!("cannot open session socket: {e}"))?) };
        let key = KEY_IF0.saturating_add(slot.saturating_mul(2));
        self.evloop.register(disc.as_fd(), key, Interest::READABLE).map_err(|e| format!("cannot watch discovery socket: {e}"))?;
        if let Some(s) = &sess {
            if let Err(e) = self.evloop.register(s.as_fd(), key.saturating_add(1), Interest::READABLE) {
                let _ = self.evloop.deregister(disc.as_fd());
                return Err(format!("cannot watch session socket: {e}"));
            }
        }
        Ok((disc, sess))
    }

    /// Closes interface `slot`: its sockets, and its sessions (freed in the
    /// server without PADT; their PPP / L2TP sides told).
    fn close_iface(&mut self, slot: usize, why: &str) {
        let Some(iface) = self.ifaces.get_mut(slot).and_then(Option::take) else { return };
        for s in [&iface.disc, &iface.sess].into_iter().flatten() {
            let _ = self.evloop.deregister(s.as_fd());
        }
        if iface.disc.is_some() {
            let gone = self.server.remove_interface(iface.ifindex);
            let now = Instant::now();
            for e in &gone {
                if let Some(h) = self.by_sid.get(&(e.iface, e.session_id)).copied() {
                    self.end_session(now, h, "interface removed", End::Pppoe);
                }
            }
            log::log(Level::Notice, format_args!("interface close name={} why=\"{why}\" sessions={}", iface.name, gone.len()));
        }
    }

    /// The interface slot whose ifindex is `ifindex`.
    pub(super) fn iface_by_index(&self, ifindex: u32) -> Option<&Iface> {
        self.ifaces.iter().flatten().find(|i| i.ifindex == ifindex && i.disc.is_some())
    }

    /// A readable interface socket: discovery frames to the server, or
    /// session frames to the relay.
    pub(super) fn on_iface_socket(&mut self, now: Instant, slot: usize, sub: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..BURST {
            let Some(iface) = self.ifaces.get(slot).and_then(Option::as_ref) else { break };
            let sock = if sub == 0 { iface.disc.as_ref() } else { iface.sess.as_ref() };
            let Some(sock) = sock else { break };
            let ifindex = iface.ifindex;
            let n = match sock.recv(&mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    dbg(Dbg::System, format_args!("recv interface={} error=\"{e}\"", iface.name));
                    break;
                }
            };
            let frame = buf.get(..n).unwrap_or_default();
            if sub == 0 {
                self.discovery_frame(now, ifindex, frame);
            } else {
                self.server_session_frame(ifindex, frame);
            }
        }
        self.buf = buf;
    }

    /// One discovery frame of interface `ifindex`.
    fn discovery_frame(&mut self, now: Instant, ifindex: u32, frame: &[u8]) {
        let (eth, pppoe) = match proto::parse_eth(frame) {
            Ok(x) => x,
            Err(e) => {
                self.server.count_malformed();
                dbg(Dbg::Pppoe, format_args!("drop ifindex={ifindex} why=\"{e}\""));
                return;
            }
        };
        let outputs = {
            let cfg = &self.cfg;
            let ifaces = &self.ifaces;
            let route = |ifx: proto::IfaceId, mac: MacAddr, service: &str| -> Option<proto::RouteId> {
                let name = ifaces.iter().flatten().find(|i| i.ifindex == ifx)?.name.as_str();
                let r = cfg.route_for(name, mac, service).and_then(|r| u32::try_from(r).ok());
                dbg(Dbg::Route, format_args!("route interface={name} client={mac} service=\"{service}\" route={r:?}"));
                r
            };
            self.server.input(now, ifindex, &eth, pppoe, &route)
        };
        self.server_outputs(now, outputs);
    }

    /// Carries out what the server asked for.
    pub(super) fn server_outputs(&mut self, now: Instant, outputs: Vec<Output>) {
        for out in outputs {
            match out {
                Output::Send { iface, dst, packet } => self.send_discovery(iface, dst, &packet),
                Output::Opened { iface, client, session_id, route, service_name, max_payload } => {
                    self.opened(now, iface, client, session_id, route, service_name, max_payload)
                }
                Output::ClientClosed { iface, client, session_id, reason } => {
                    log::log(Level::Info, format_args!("padt from=client ifindex={iface} client={client} session_id={session_id} reason=\"{reason}\""));
                    if let Some(h) = self.by_sid.get(&(iface, session_id)).copied() {
                        self.end_session(now, h, if reason.is_empty() { "PADT from the client" } else { &reason }, End::Pppoe);
                    }
                }
                Output::Dropped { iface, client, why } => dbg(Dbg::Pppoe, format_args!("drop ifindex={iface} client={client} why={why:?}")),
            }
        }
    }

    /// Sends discovery packet `packet` to `dst` on interface `ifindex`.
    pub(super) fn send_discovery(&mut self, ifindex: u32, dst: MacAddr, packet: &proto::Discovery) {
        let Some(iface) = self.iface_by_index(ifindex) else { return };
        let Some(sock) = iface.disc.as_ref() else { return };
        let frame = proto::eth_frame(dst, iface.mac, ETH_P_PPP_DISC, &packet.emit());
        dbg(Dbg::Pppoe, format_args!("send interface={} dst={dst} code={:?} session_id={}", iface.name, packet.code, packet.session_id));
        if let Err(e) = sock.send(&frame) {
            log::log(Level::Debug, format_args!("send interface={} error=\"{e}\"", iface.name));
        }
    }
}
