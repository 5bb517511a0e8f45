//! proacd's process: one thread, one [`common::evloop`] loop over the
//! signal fd, the control socket, the connections to propppd and prol2tpd,
//! every interface's `AF_PACKET` sockets, every PPPoE client's sockets and
//! every session's relay fd, and one [`common::timer`] wheel for the
//! reconnections and the clients' deadlines.
//!
//! - Interfaces (`ifaces.rs`): per `[interface]` a discovery socket
//!   (ethertype 0x8863) feeding [`crate::proto::Server`], and on the
//!   userspace data plane a session socket (0x8864) for the relay. An
//!   interface that cannot be opened is logged and listed with
//!   `state=error`; the others keep working.
//! - Sessions (`sessions.rs`): what the server opened, routed by the
//!   configuration's routes to propppd (`local`) or prol2tpd (`l2tp`), and
//!   the PPPoE client's sessions; the userspace relay between a framed
//!   socket and PPPoE session frames; the kernel path (PPPoE socket, PPP
//!   channel bridge).
//! - Peers (`peers.rs`): the propppd channel ([`common::channel`], proacd
//!   the owner) and the prol2tpd switch connection (proacd the PPP side);
//!   each reconnected every 2 s while down.
//! - Clients (`client.rs`): `[client]` sections and propppd's relayed
//!   `CreatePpp` (linktype `pppoe`), each a [`crate::proto::Client`].
//! - The control socket (`control.rs`): `proac_info` / `proac_manage`.
//!
//! SIGHUP re-reads the configuration (a broken file is logged with
//! `file:line` and the running configuration kept): interfaces are added
//! and removed, routes, limits and MAC lists replaced, sessions kept.
//! SIGTERM/SIGINT send PADT on every session, tell propppd and prol2tpd,
//! and exit.
//!
//! Logging: notices for sessions opened and closed, start, reload; every
//! dropped input only at debug level or as a trace line of its `-d`
//! category ([`Dbg`]), never per packet at info.

mod client;
mod control;
mod ifaces;
mod peers;
mod sessions;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::evloop::{EventLoop, Interest};
use common::log::{self, Level};
use common::signal::{Signal, Signals};
use common::timer::TimerWheel;
use common::trace::TraceFlags;

use crate::config::{Config, DataplaneMode};
use crate::proto::{Limits, Server};

use client::ClientInst;
use ifaces::Iface;
use peers::Peer;
use sessions::Session;

/// How often a lost or missing connection to propppd / prol2tpd is retried.
pub const RECONNECT: Duration = Duration::from_secs(2);
/// Frames moved per wake-up and fd before the loop looks at the others.
const BURST: usize = 64;
/// Largest frame read from a socket (octets): an Ethernet jumbo frame.
const FRAME_BUF: usize = 9216;

const KEY_SIGNALS: usize = 0;
const KEY_CONTROL: usize = 1;
const KEY_PROPPPD: usize = 2;
const KEY_PROL2TPD: usize = 3;
/// Interface sockets: `KEY_IF0 + slot * 2 + sub` (sub 0 discovery, 1 session).
const KEY_IF0: usize = 1 << 10;
/// Client sockets: `KEY_CLI0 + slot * 2 + sub`.
const KEY_CLI0: usize = 1 << 20;
/// Session relay fds: `KEY_SESS0 + handle`.
const KEY_SESS0: usize = 1 << 30;

/// Debug categories of `-d` (`route,pppoe,l2tp,ppp,ctrl,system,parser,all`),
/// each carried on one bit of the system trace mask of [`common::log`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dbg {
    /// Route choices.
    Route,
    /// PPPoE discovery and session frames (drops included).
    Pppoe,
    /// The prol2tpd switch connection.
    L2tp,
    /// The propppd channel.
    Ppp,
    /// The control socket.
    Ctrl,
    /// Sockets, interfaces, reconnections.
    System,
    /// The configuration.
    Parser,
}

impl Dbg {
    /// Every category with its `-d` word.
    pub const ALL: [(Dbg, &'static str); 7] = [
        (Dbg::Route, "route"),
        (Dbg::Pppoe, "pppoe"),
        (Dbg::L2tp, "l2tp"),
        (Dbg::Ppp, "ppp"),
        (Dbg::Ctrl, "ctrl"),
        (Dbg::System, "system"),
        (Dbg::Parser, "parser"),
    ];

    /// The trace bit carrying the category.
    pub fn flag(self) -> TraceFlags {
        match self {
            Dbg::Route => TraceFlags::FSM,
            Dbg::Pppoe => TraceFlags::PROTOCOL,
            Dbg::L2tp => TraceFlags::XPRT,
            Dbg::Ppp => TraceFlags::PPP,
            Dbg::Ctrl => TraceFlags::API,
            Dbg::System => TraceFlags::SYSTEM,
            Dbg::Parser => TraceFlags::AVP,
        }
    }

    /// The `-d` word.
    pub fn name(self) -> &'static str {
        Dbg::ALL.iter().find(|(d, _)| *d == self).map_or("?", |(_, n)| n)
    }
}

/// Parses a `-d` mask: a number, or a comma (or space) separated list of
/// the category words and `all`.
///
/// # Errors
/// ``unknown debug category `x` (expected route,pppoe,l2tp,ppp,ctrl,system,parser,all)``.
pub fn parse_debug_mask(s: &str) -> Result<TraceFlags, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Ok(TraceFlags(n & TraceFlags::ALL.0));
    }
    let mut mask = TraceFlags::NONE;
    for word in s.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
        let word = word.to_ascii_lowercase();
        if word == "all" {
            mask = TraceFlags::ALL;
            continue;
        }
        match Dbg::ALL.iter().find(|(_, n)| *n == word) {
            Some((d, _)) => mask = TraceFlags(mask.0 | d.flag().0),
            None => return Err(format!("unknown debug category `{word}` (expected route,pppoe,l2tp,ppp,ctrl,system,parser,all)")),
        }
    }
    Ok(mask)
}

/// Writes a debug line of category `cat` when `-d` enabled it
/// (`trace=… cat=pppoe …`).
pub fn dbg(cat: Dbg, args: fmt::Arguments) {
    let flag = cat.flag();
    if log::system_mask().contains(flag) {
        log::sys_trace(flag, format_args!("cat={} {args}", cat.name()));
    }
}

/// Command-line settings (`proacd(8)`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-c`: configuration file.
    pub config_path: PathBuf,
    /// `-f`: stay in the foreground, log to the terminal.
    pub foreground: bool,
    /// `-D`: debug messages (log level debug).
    pub debug: bool,
    /// `-d`: debug categories.
    pub debug_mask: TraceFlags,
}

/// Node-wide counters beyond the discovery server's (`ShowStatistics`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// PADIs the clients sent.
    pub padi_tx: u64,
    /// PADOs the clients received.
    pub pado_rx: u64,
    /// PADSs the clients received.
    pub pads_rx: u64,
    /// Local sessions that could not be handed to propppd or that propppd
    /// ended before they came up.
    pub ppp_failures: u64,
    /// L2TP sessions prol2tpd refused or ended before they came up.
    pub l2tp_failures: u64,
    /// PPPoE session frames relayed to a framed channel.
    pub relay_frames_in: u64,
    /// Frames from framed channels sent as PPPoE session frames.
    pub relay_frames_out: u64,
    /// Frames dropped because the framed channel (or the interface) would
    /// block.
    pub relay_drops: u64,
    /// PPPoE session frames of no known (MAC, session id), dropped.
    pub session_unknown: u64,
}

/// Timer keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Timer {
    /// Try to connect to propppd.
    Propppd,
    /// Try to connect to prol2tpd.
    Prol2tpd,
    /// A client's discovery deadline (slot).
    Client(usize),
    /// A client's redial after its hold-off (slot).
    Redial(usize),
}

/// The running daemon.
pub struct Daemon {
    opts: Options,
    cfg: Config,
    kernel: bool,
    evloop: EventLoop,
    signals: Signals,
    timers: TimerWheel<Timer>,
    control: Option<common::ipc::Server>,
    server: Server,
    ifaces: Vec<Option<Iface>>,
    sessions: BTreeMap<u64, Session>,
    /// `(ifindex, session id)` → handle of the AC's sessions.
    by_sid: HashMap<(u32, u16), u64>,
    next_handle: u64,
    propppd: Peer,
    prol2tpd: Peer,
    clients: Vec<Option<ClientInst>>,
    stats: Stats,
    rng: common::rng::Rng,
    buf: Vec<u8>,
    stopping: bool,
}

/// Loads and checks the configuration (what `-n` does). Errors:
/// `FILE:LINE: problem`.
pub fn load(opts: &Options) -> Result<Config, String> {
    Config::load(&opts.config_path)
}

/// The discovery limits of a configuration.
fn limits_of(cfg: &Config) -> Limits {
    Limits {
        max_sessions: cfg.system.max_sessions,
        max_sessions_per_mac: cfg.system.max_sessions_per_mac,
        cookie_lifetime: Duration::from_millis(cfg.system.cookie_lifetime_ms),
    }
}

/// Whether the kernel data plane is used for `mode`.
fn use_kernel(mode: DataplaneMode) -> bool {
    match mode {
        DataplaneMode::Kernel => true,
        DataplaneMode::Userspace => false,
        DataplaneMode::Auto => crate::sys::pppoe_kernel_available(),
    }
}

impl Daemon {
    /// Opens the signal fd, the control socket, every interface (failures
    /// are per interface) and starts the clients and connections. Errors:
    /// the signal fd, the event loop, the control socket, or the kernel
    /// data plane asked for but missing.
    pub fn new(opts: Options, cfg: Config) -> Result<Daemon, String> {
        let now = Instant::now();
        let kernel = use_kernel(cfg.system.dataplane);
        if cfg.system.dataplane == DataplaneMode::Kernel && !crate::sys::pppoe_kernel_available() {
            return Err("dataplane = kernel but the kernel has no PPPoE sockets (modprobe pppoe)".into());
        }
        let signals = Signals::new().map_err(|e| format!("cannot set up signals: {e}"))?;
        let mut evloop = EventLoop::new().map_err(|e| format!("cannot create event loop: {e}"))?;
        evloop.register(signals.as_fd(), KEY_SIGNALS, Interest::READABLE).map_err(|e| format!("cannot watch signals: {e}"))?;
        let ctl = &cfg.system.control_socket;
        if let Some(dir) = ctl.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let control = common::ipc::Server::bind(ctl).map_err(|e| format!("cannot bind control socket {}: {e}", ctl.display()))?;
        evloop.register(control.as_fd(), KEY_CONTROL, Interest::READABLE).map_err(|e| format!("cannot watch control socket: {e}"))?;
        let mut rng = common::rng::Rng::from_entropy();
        let mut secret = [0u8; 32];
        rng.fill_secret(&mut secret);
        let server = Server::new(limits_of(&cfg), secret, now);
        let propppd = Peer::new(cfg.system.propppd_socket.clone());
        let prol2tpd = Peer::new(cfg.system.prol2tpd_socket.clone());
        let mut d = Daemon {
            opts,
            cfg,
            kernel,
            evloop,
            signals,
            timers: TimerWheel::new(now),
            control: Some(control),
            server,
            ifaces: Vec::new(),
            sessions: BTreeMap::new(),
            by_sid: HashMap::new(),
            next_handle: 1,
            propppd,
            prol2tpd,
            clients: Vec::new(),
            stats: Stats::default(),
            rng,
            buf: vec![0u8; FRAME_BUF],
            stopping: false,
        };
        d.apply_mac_lists();
        d.sync_interfaces();
        log::log(
            Level::Info,
            format_args!(
                "listen control={} dataplane={} interfaces={} routes={}",
                d.cfg.system.control_socket.display(),
                d.dataplane_name(),
                d.ifaces.iter().flatten().count(),
                d.cfg.routes.len()
            ),
        );
        d.connect_propppd(now);
        d.connect_prol2tpd(now);
        d.sync_clients(now);
        Ok(d)
    }

    /// `kernel` or `userspace`.
    pub fn dataplane_name(&self) -> &'static str {
        if self.kernel {
            "kernel"
        } else {
            "userspace"
        }
    }

    /// Runs until SIGTERM/SIGINT. Errors: the event loop failed.
    pub fn run(&mut self) -> Result<(), String> {
        let mut due = Vec::new();
        loop {
            if self.stopping {
                self.shutdown();
                return Ok(());
            }
            let ready: Vec<common::evloop::Ready> = match self.evloop.wait(self.timers.next_deadline()) {
                Ok(r) => r.to_vec(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("event loop failed: {e}")),
            };
            for r in ready {
                self.dispatch(r);
            }
            let now = Instant::now();
            due.clear();
            self.timers.expire(now, &mut due);
            for t in due.drain(..) {
                match t {
                    Timer::Propppd => self.connect_propppd(now),
                    Timer::Prol2tpd => self.connect_prol2tpd(now),
                    Timer::Client(slot) => self.client_timeout(now, slot),
                    Timer::Redial(slot) => self.client_redial(now, slot),
                }
            }
        }
    }

    fn dispatch(&mut self, r: common::evloop::Ready) {
        let now = Instant::now();
        match r.key {
            KEY_SIGNALS => self.on_signals(),
            KEY_CONTROL => self.on_control(),
            KEY_PROPPPD => self.on_propppd(now, r.readable, r.writable),
            KEY_PROL2TPD => self.on_prol2tpd(now, r.readable, r.writable),
            k if k >= KEY_SESS0 => self.on_relay(now, (k - KEY_SESS0) as u64),
            k if k >= KEY_CLI0 => self.on_client_socket(now, (k - KEY_CLI0) / 2, (k - KEY_CLI0) % 2),
            k if k >= KEY_IF0 => self.on_iface_socket(now, (k - KEY_IF0) / 2, (k - KEY_IF0) % 2),
            _ => {}
        }
    }

    fn on_signals(&mut self) {
        for sig in self.signals.read_all() {
            log::log(Level::Info, format_args!("signal name={}", sig.name()));
            match sig {
                Signal::Hup => {
                    let _ = self.reload();
                }
                Signal::Term | Signal::Int => self.stopping = true,
                Signal::Chld => {}
            }
        }
    }

    /// SIGTERM: PADT on every session, their PPP and L2TP sides told.
    fn shutdown(&mut self) {
        let handles: Vec<u64> = self.sessions.keys().copied().collect();
        let n = handles.len();
        for h in handles {
            self.end_session(Instant::now(), h, "proacd stopped", sessions::End::Local);
        }
        self.propppd.flush_all();
        self.prol2tpd.flush_all();
        log::log(Level::Notice, format_args!("exit sessions_closed={n}"));
    }

    /// SIGHUP / `Reload`: a new configuration; sessions are kept. Errors:
    /// the problem (logged), the running configuration kept.
    fn reload(&mut self) -> Result<(), String> {
        let cfg = match load(&self.opts) {
            Ok(c) => c,
            Err(e) => {
                log::log(Level::Error, format_args!("reload failed error=\"{e}\" (keeping the running configuration)"));
                return Err(e);
            }
        };
        if cfg.system.control_socket != self.cfg.system.control_socket || cfg.system.dataplane != self.cfg.system.dataplane {
            log::log(Level::Notice, format_args!("reload note=\"control_socket and dataplane take effect at the next start\""));
        }
        self.propppd.set_path(cfg.system.propppd_socket.clone());
        self.prol2tpd.set_path(cfg.system.prol2tpd_socket.clone());
        self.cfg = cfg;
        self.server.set_limits(limits_of(&self.cfg));
        self.apply_mac_lists();
        self.sync_interfaces();
        self.sync_clients(Instant::now());
        log::log(
            Level::Notice,
            format_args!("reload ok interfaces={} routes={} sessions={}", self.ifaces.iter().flatten().count(), self.cfg.routes.len(), self.sessions.len()),
        );
        Ok(())
    }

    /// Gives the configuration's MAC lists to the server.
    fn apply_mac_lists(&mut self) {
        let allow = self.cfg.system.allow_mac.as_ref().map(|l| l.iter().copied().collect());
        let deny = self.cfg.system.deny_mac.iter().copied().collect();
        self.server.set_mac_lists(allow, deny);
    }

    /// A new session handle.
    fn new_handle(&mut self) -> u64 {
        let h = self.next_handle;
        self.next_handle = self.next_handle.saturating_add(1);
        h
    }
}

/// The event-loop key of a session's relay fd.
fn sess_key(handle: u64) -> usize {
    usize::try_from(handle).unwrap_or(usize::MAX / 2).saturating_add(KEY_SESS0).min(usize::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_parse_words_numbers_and_all() {
        assert_eq!(parse_debug_mask("pppoe").ok(), Some(TraceFlags::PROTOCOL));
        let m = parse_debug_mask("route, l2tp").unwrap_or(TraceFlags::NONE);
        assert!(m.contains(TraceFlags::FSM) && m.contains(TraceFlags::XPRT) && !m.contains(TraceFlags::PPP));
        assert_eq!(parse_debug_mask("all").ok(), Some(TraceFlags::ALL));
        assert_eq!(parse_debug_mask("3").ok(), Some(TraceFlags(3)));
        assert!(parse_debug_mask("bogus").unwrap_err().contains("`bogus`"));
        for (d, n) in Dbg::ALL {
            assert_eq!(d.name(), n);
            assert_eq!(parse_debug_mask(n).ok(), Some(d.flag()));
        }
    }
}
