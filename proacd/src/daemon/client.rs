//! PPPoE clients (RFC 2516 §5 from the Host's side): `[client "NAME"]`
//! sections, dialled at start (and redialled after `holdoff` when
//! `persist`), and clients propppd asks for (`propppctl create NAME pppoe
//! IFACE …`, relayed as `CreatePpp` with `linktype=pppoe`).
//!
//! Each client has its own discovery socket (and session socket on the
//! userspace plane) on its interface and a [`crate::proto::Client`]. When
//! the session is up its channel goes to propppd with `role=client`; when
//! propppd reports it down, proacd sends PADT (and redials when
//! persistent); a PADT from the AC ends the PPP side (`PppClose`).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::channel::open_key;
use common::evloop::Interest;
use common::log::{self, Level};

use crate::config::ClientConfig;
use crate::proto::{self, ClientOutput, ClientParams, Code, MacAddr, ETH_P_PPP_DISC, ETH_P_PPP_SES};
use crate::sys::PacketSocket;

use super::sessions::{session_lookup, End, Session, Side};
use super::{dbg, Daemon, Dbg, Timer, BURST, KEY_CLI0};

/// First PADI / PADR timeout; doubled per retry (RFC 2516 §5.5 suggests
/// exponential back-off).
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(1);
/// PADIs (and PADRs) sent before giving up.
const DISCOVERY_ATTEMPTS: u32 = 4;
/// Hold-off of clients started by propppd that persist (they do not).
const DEFAULT_HOLDOFF: Duration = Duration::from_secs(5);

/// One PPPoE client.
pub(super) struct ClientInst {
    /// Its settings (for propppd-made clients, built from `CreatePpp`).
    pub cfg: ClientConfig,
    /// From the configuration file (kept across reloads while listed).
    pub from_config: bool,
    /// The discovery machine of the current attempt.
    pub proto: Option<proto::Client>,
    /// Discovery socket.
    pub disc: Option<PacketSocket>,
    /// Session socket (userspace plane).
    pub sess: Option<PacketSocket>,
    /// Our MAC on the interface.
    pub mac: MacAddr,
    /// The session's handle while it lives.
    pub handle: Option<u64>,
    /// The last failure.
    pub error: Option<String>,
    /// Deleted: no redial.
    pub stopped: bool,
}

/// The string value of `key` in `params`.
fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

impl Daemon {
    /// Adds the configuration's clients not running yet and stops those no
    /// longer configured.
    pub(super) fn sync_clients(&mut self, now: Instant) {
        let wanted = self.cfg.clients.clone();
        for slot in 0..self.clients.len() {
            let gone = self.clients.get(slot).and_then(Option::as_ref).is_some_and(|c| c.from_config && !wanted.iter().any(|w| w.name == c.cfg.name));
            if gone {
                self.stop_client(now, slot, "removed from the configuration");
            }
        }
        for cc in wanted {
            if !self.clients.iter().flatten().any(|c| c.cfg.name == cc.name) {
                let _ = self.add_client(now, cc, true);
            }
        }
    }

    /// `CreatePpp` from propppd (`linktype=pppoe`). Errors: a missing
    /// interface, a name in use, sockets that cannot be opened.
    pub(super) fn create_client(&mut self, now: Instant, name: String, params: &[(String, String)]) -> Result<(), String> {
        if param(params, "linktype") != Some(common::channel::LINKTYPE_PPPOE) {
            return Err("linktype must be pppoe".into());
        }
        let interface = param(params, "pppoe_interface").ok_or("`pppoe_interface` missing")?.to_string();
        let cfg = ClientConfig {
            name,
            line: 0,
            interface,
            service_name: param(params, "service_name").unwrap_or("").to_string(),
            ac_name: param(params, "ac_name").map(str::to_string),
            ppp_profile: param(params, "profile").map(str::to_string),
            user_name: param(params, "user_name").map(str::to_string),
            password: param(params, "password").map(str::to_string),
            ifname: param(params, "ifname").map(str::to_string),
            persist: false,
            holdoff_ms: DEFAULT_HOLDOFF.as_millis() as u64,
        };
        self.add_client(now, cfg, false)
    }

    /// Adds and dials a client. Errors: the name is taken, its sockets
    /// cannot be opened.
    fn add_client(&mut self, now: Instant, cfg: ClientConfig, from_config: bool) -> Result<(), String> {
        if self.clients.iter().flatten().any(|c| c.cfg.name == cfg.name) || self.sessions.values().any(|s| s.name == cfg.name) {
            return Err(format!("a PPPoE client named {} exists", cfg.name));
        }
        let slot = self.clients.iter().position(Option::is_none).unwrap_or(self.clients.len());
        let key = KEY_CLI0.saturating_add(slot.saturating_mul(2));
        let opened = (|| -> Result<(PacketSocket, Option<PacketSocket>), String> {
            let disc = PacketSocket::open(&cfg.interface, ETH_P_PPP_DISC).map_err(|e| format!("cannot open discovery socket on {}: {e}", cfg.interface))?;
            let sess = if self.kernel {
                None
            } else {
                Some(PacketSocket::open(&cfg.interface, ETH_P_PPP_SES).map_err(|e| format!("cannot open session socket on {}: {e}", cfg.interface))?)
            };
            Ok((disc, sess))
        })();
        let (disc, sess) = match opened {
            Ok(x) => x,
            Err(e) => {
                log::log(Level::Error, format_args!("client error name={} error=\"{e}\"", cfg.name));
                if from_config {
                    let c = ClientInst {
                        cfg,
                        from_config,
                        proto: None,
                        disc: None,
                        sess: None,
                        mac: MacAddr::default(),
                        handle: None,
                        error: Some(e.clone()),
                        stopped: true,
                    };
                    self.put_client(slot, c);
                }
                return Err(e);
            }
        };
        self.evloop.register(disc.as_fd(), key, Interest::READABLE).map_err(|e| format!("cannot watch discovery socket: {e}"))?;
        if let Some(s) = &sess {
            if let Err(e) = self.evloop.register(s.as_fd(), key.saturating_add(1), Interest::READABLE) {
                let _ = self.evloop.deregister(disc.as_fd());
                return Err(format!("cannot watch session socket: {e}"));
            }
        }
        let mac = disc.info().mac;
        log::log(Level::Info, format_args!("client add name={} interface={} mac={mac}", cfg.name, cfg.interface));
        let c = ClientInst { cfg, from_config, proto: None, disc: Some(disc), sess, mac, handle: None, error: None, stopped: false };
        self.put_client(slot, c);
        self.client_dial(now, slot);
        Ok(())
    }

    fn put_client(&mut self, slot: usize, c: ClientInst) {
        if slot == self.clients.len() {
            self.clients.push(Some(c));
        } else if let Some(s) = self.clients.get_mut(slot) {
            *s = Some(c);
        }
    }

    /// Starts discovery (PADI) for client `slot`.
    fn client_dial(&mut self, now: Instant, slot: usize) {
        let mut host_uniq = vec![0u8; 8];
        self.rng.fill(&mut host_uniq);
        let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        if c.stopped || c.disc.is_none() {
            return;
        }
        let params = ClientParams {
            service_name: c.cfg.service_name.clone(),
            ac_name: c.cfg.ac_name.clone(),
            host_uniq,
            max_payload: None,
            timeout: DISCOVERY_TIMEOUT,
            attempts: DISCOVERY_ATTEMPTS,
        };
        let mut p = proto::Client::new(c.mac, params);
        let outs = p.start(now);
        c.proto = Some(p);
        log::log(Level::Info, format_args!("client dial name={}", c.cfg.name));
        self.client_outputs(now, slot, outs);
    }

    /// Client `slot`'s discovery deadline.
    pub(super) fn client_timeout(&mut self, now: Instant, slot: usize) {
        let outs = match self.clients.get_mut(slot).and_then(Option::as_mut).and_then(|c| c.proto.as_mut()) {
            Some(p) => p.on_timer(now),
            None => return,
        };
        self.client_outputs(now, slot, outs);
    }

    /// Client `slot`'s hold-off is over.
    pub(super) fn client_redial(&mut self, now: Instant, slot: usize) {
        if self.clients.get(slot).and_then(Option::as_ref).is_some_and(|c| c.handle.is_none()) {
            self.client_dial(now, slot);
        }
    }

    /// A readable client socket.
    pub(super) fn on_client_socket(&mut self, now: Instant, slot: usize, sub: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..BURST {
            let Some(c) = self.clients.get(slot).and_then(Option::as_ref) else { break };
            let sock = if sub == 0 { c.disc.as_ref() } else { c.sess.as_ref() };
            let Some(sock) = sock else { break };
            let n = match sock.recv(&mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => {
                    dbg(Dbg::System, format_args!("recv client={} error=\"{e}\"", c.cfg.name));
                    break;
                }
            };
            let frame = buf.get(..n).unwrap_or_default();
            if sub == 1 {
                let handle = c.handle;
                let mac = c.mac;
                let found = session_lookup(
                    frame,
                    mac,
                    |sid| handle.filter(|h| self.sessions.get(h).is_some_and(|s| s.session_id == sid)),
                    |h| self.sessions.get(&h).map(|s| s.peer_mac),
                );
                self.session_frame_to(found);
                continue;
            }
            let Ok((eth, pppoe)) = proto::parse_eth(frame) else {
                self.server.count_malformed();
                dbg(Dbg::Pppoe, format_args!("drop client={} why=\"short Ethernet frame\"", c.cfg.name));
                continue;
            };
            if eth.dst != c.mac && !eth.dst.is_broadcast() {
                continue;
            }
            if eth.dst == c.mac && proto::Discovery::parse(pppoe).is_err() {
                self.server.count_malformed();
                dbg(Dbg::Pppoe, format_args!("drop client={} from={} why=\"malformed discovery packet\"", c.cfg.name, eth.src));
                continue;
            }
            match pppoe.get(1).copied().and_then(Code::from_u8) {
                Some(Code::Pado) => self.stats.pado_rx = self.stats.pado_rx.saturating_add(1),
                Some(Code::Pads) => self.stats.pads_rx = self.stats.pads_rx.saturating_add(1),
                _ => {}
            }
            let outs = match self.clients.get_mut(slot).and_then(Option::as_mut).and_then(|c| c.proto.as_mut()) {
                Some(p) => p.input(now, &eth, pppoe),
                None => Vec::new(),
            };
            self.client_outputs(now, slot, outs);
        }
        self.buf = buf;
    }

    /// Carries out what client `slot`'s machine asked for; re-arms its timer.
    fn client_outputs(&mut self, now: Instant, slot: usize, outs: Vec<ClientOutput>) {
        for out in outs {
            match out {
                ClientOutput::Send { dst, packet } => {
                    let Some(c) = self.clients.get(slot).and_then(Option::as_ref) else { continue };
                    if packet.code == Code::Padi {
                        self.stats.padi_tx = self.stats.padi_tx.saturating_add(1);
                    }
                    let frame = proto::eth_frame(dst, c.mac, ETH_P_PPP_DISC, &packet.emit());
                    if let Some(Err(e)) = c.disc.as_ref().map(|s| s.send(&frame)) {
                        dbg(Dbg::Pppoe, format_args!("client send name={} error=\"{e}\"", c.cfg.name));
                    }
                }
                ClientOutput::Up { ac, session_id, ac_name, service_name, max_payload } => {
                    self.client_up(now, slot, ac, session_id, &ac_name, service_name, max_payload)
                }
                ClientOutput::Failed(why) => {
                    let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else { continue };
                    log::log(Level::Warning, format_args!("client failed name={} reason=\"{why}\"", c.cfg.name));
                    c.error = Some(why);
                    c.proto = None;
                    self.client_holdoff(now, slot);
                }
                ClientOutput::Down(why) => {
                    if let Some(h) = self.clients.get(slot).and_then(Option::as_ref).and_then(|c| c.handle) {
                        self.end_session(now, h, if why.is_empty() { "PADT from the AC" } else { &why }, End::Pppoe);
                    }
                }
            }
        }
        match self.clients.get(slot).and_then(Option::as_ref).and_then(|c| c.proto.as_ref()).and_then(|p| p.next_timeout()) {
            Some(t) => self.timers.set(Timer::Client(slot), t),
            None => self.timers.cancel(Timer::Client(slot)),
        }
    }

    /// Discovery of client `slot` reached a session: hand it to propppd.
    #[allow(clippy::too_many_arguments)]
    fn client_up(&mut self, now: Instant, slot: usize, ac: MacAddr, session_id: u16, ac_name: &str, service_name: String, max_payload: Option<u16>) {
        let handle = self.new_handle();
        let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        c.handle = Some(handle);
        c.error = None;
        let cc = c.cfg.clone();
        let s = Session {
            service_name,
            mru: max_payload.unwrap_or(1492),
            ..Session::new(handle, Side::Client { slot }, cc.name.clone(), cc.interface.clone(), c.mac, ac, session_id, now)
        };
        self.sessions.insert(handle, s);
        log::log(Level::Notice, format_args!("client up name={} ac={ac} ac_name=\"{ac_name}\" session_id={session_id} handle={handle}", cc.name));
        let mut extra = Vec::new();
        for (k, v) in [(open_key::USER_NAME, &cc.user_name), (open_key::PASSWORD, &cc.password), (open_key::IFNAME, &cc.ifname)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                extra.push((k.to_string(), v.to_string()));
            }
        }
        if let Err(e) = self.open_local(handle, cc.ppp_profile.as_deref(), &extra) {
            self.stats.ppp_failures = self.stats.ppp_failures.saturating_add(1);
            log::log(Level::Warning, format_args!("client failed name={} error=\"{e}\"", cc.name));
            self.end_session(now, handle, &e, End::Local);
        }
    }

    /// Session `handle` of client `slot` ended: PADT unless the AC ended
    /// it, then redial after the hold-off when persistent.
    pub(super) fn client_session_ended(&mut self, now: Instant, slot: usize, handle: u64, reason: &str, from: End) {
        let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        if c.handle != Some(handle) {
            return;
        }
        c.handle = None;
        c.error = Some(reason.to_string());
        let outs = match (from, c.proto.as_mut()) {
            (End::Pppoe, _) | (_, None) => Vec::new(),
            (_, Some(p)) => p.close(reason),
        };
        self.client_outputs(now, slot, outs);
        if let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) {
            c.proto = None;
        }
        self.client_holdoff(now, slot);
    }

    /// Arms the redial of client `slot` when it persists, else forgets a
    /// client propppd made.
    fn client_holdoff(&mut self, now: Instant, slot: usize) {
        let Some(c) = self.clients.get(slot).and_then(Option::as_ref) else { return };
        if c.cfg.persist && !c.stopped {
            self.timers.set(Timer::Redial(slot), now + Duration::from_millis(c.cfg.holdoff_ms));
        } else if !c.from_config {
            self.remove_client(slot);
        }
    }

    /// Stops client `slot` (delete, reload): PADT, no redial, removed.
    pub(super) fn stop_client(&mut self, now: Instant, slot: usize, reason: &str) {
        let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else { return };
        c.stopped = true;
        if let Some(h) = c.handle {
            self.end_session(now, h, reason, End::Local);
        } else if let Some(p) = c.proto.as_mut() {
            let outs = p.close(reason);
            self.client_outputs(now, slot, outs);
        }
        self.remove_client(slot);
    }

    fn remove_client(&mut self, slot: usize) {
        let Some(c) = self.clients.get_mut(slot).and_then(Option::take) else { return };
        for s in [&c.disc, &c.sess].into_iter().flatten() {
            let _ = self.evloop.deregister(s.as_fd());
        }
        self.timers.cancel(Timer::Client(slot));
        self.timers.cancel(Timer::Redial(slot));
        log::log(Level::Info, format_args!("client removed name={}", c.cfg.name));
    }
}
