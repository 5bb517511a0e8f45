//! prol2tpd's process: one thread, one event loop over the L2TP sockets and
//! the signal fd, one [`Endpoint`] whose deadlines drive the loop's timeout.
//!
//! The loop executes what the core asks for: datagrams go out on the
//! socket of their family and transport, lifecycle events go to the log and
//! the data plane. SIGHUP re-reads the config (a broken file is reported
//! and the running one kept); SIGTERM/SIGINT send StopCCN to every peer and
//! exit once they are acknowledged or after a short grace period.
//!
//! Every lifecycle event is also published ([`events`]) to the watchers
//! subscribed on the control socket and to the hook-script runner
//! (`prol2tp-scriptd`, [`hooks`]), which the daemon spawns at start-up when
//! `[system] scripts` is on, feeds without blocking (its socket is watched
//! for writability only while records wait) and respawns, at most once a
//! second, when it exits.

mod api;
pub mod control;
pub mod events;
pub mod glue;
mod hooks;
pub mod net;
mod plane;
pub mod ppp;
mod ppp_side;
pub mod proppp;
mod switch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::evloop::{EventLoop, Interest};
use common::log::{self, Level};
use common::rng::Rng;
use common::signal::{Signal, Signals};
use common::trace::TraceFlags;

use crate::config::{Config, LoadOptions};
use crate::proto::endpoint::{Endpoint, Event, Transmit};
use crate::proto::header::Transport;
use crate::proto::message::ResultCode;
use crate::proto::result::stop_ccn;

use events::EventState;
use hooks::Hooks;
use net::L2tpSocket;
use plane::{on_data, Plane, TunnelSockets, KEY_DATA0, KEY_PLANE0, KEY_TUNNEL0};
use ppp::PppUnix;
use ppp_side::{Side, KEY_PROPPPD};
use proppp::{PppConn, PppSideKind};
use switch::{Switch, KEY_SWITCH0, KEY_SWITCH_LISTEN, MAX_SWITCH};

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/prol2tp/prol2tpd.conf";
/// Pid file written when the daemon detaches.
pub const PID_FILE: &str = "/run/prol2tp/prol2tpd.pid";
/// How long shutdown waits for peers to acknowledge StopCCN.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Delay before a `persist` tunnel instance is dialled again.
const PERSIST_DELAY: Duration = Duration::from_secs(5);
/// Send buffer asked for on the control socket (octets), so that events
/// in flight to many watchers leave room for replies.
const CONTROL_SNDBUF: usize = 4 << 20;
/// Datagrams read from one socket per wake-up, so one busy peer cannot
/// starve the others or the timers.
const RECV_BURST: usize = 256;
/// Least time between two starts of the hook-script runner.
const HOOKS_RESPAWN: Duration = Duration::from_secs(1);

/// Command-line settings (`prol2tpd(8)`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-c`: configuration file.
    pub config_path: PathBuf,
    /// `-f`: stay in the foreground and log to the terminal.
    pub foreground: bool,
    /// `-D`: all trace on for new tunnels and sessions.
    pub trace_all: bool,
    /// `-d`: system-wide trace mask.
    pub debug_mask: Option<TraceFlags>,
    /// `-L`: syslog facility (`daemon` by default).
    pub facility: Option<String>,
    /// `-u`: UDP port instead of `[system] udp_port`.
    pub udp_port: Option<u16>,
    /// `-p`: plugins choosing the PPP side: `propppd` (the default, also
    /// when none is named) or `ppp_unix` (see [`PppSideKind::from_plugins`]).
    pub plugins: Vec<String>,
}

const KEY_SIGNALS: usize = 0;
/// The control socket (`control.rs`).
const KEY_CONTROL: usize = 1;
/// Listening sockets: `KEY_SOCKET0 + index` (the other ranges are in `plane`).
const KEY_SOCKET0: usize = 2;
/// The hook-script runner's socket (just below the plane's range; the
/// propppd connection is `ppp_side::KEY_PROPPPD`, just below it, and the
/// switch socket and its connections `switch::KEY_SWITCH_LISTEN` and
/// `switch::KEY_SWITCH0 + slot` below that).
const KEY_HOOKS: usize = KEY_PLANE0 - 1;

/// The running daemon.
pub struct Daemon {
    opts: Options,
    cfg: Rc<Config>,
    ep: Endpoint,
    sockets: Vec<L2tpSocket>,
    evloop: EventLoop,
    signals: Signals,
    dataplane: Plane,
    /// The kernel plane's per-tunnel sockets.
    tunnel_sockets: TunnelSockets,
    /// The stock-pppd PPP side (`-p ppp_unix`); `None` otherwise.
    ppp: Option<PppUnix>,
    /// The propppd PPP side (`-p propppd`, the default); `None` otherwise.
    propppd: Option<PppConn>,
    /// The switch socket and its connections (`switch.rs`).
    switch: Switch,
    /// Tunnel instance name → our tunnel id.
    instances: HashMap<String, u32>,
    /// Persisting instances waiting to be dialled again.
    redial: Vec<(Instant, String)>,
    shutdown_deadline: Option<Instant>,
    started: Instant,
    /// Control socket for `prol2tp`; `None` when it could not be bound.
    control: Option<common::ipc::Server>,
    /// Event handles, per-instance event state and the watchers.
    events: EventState,
    /// The hook-script runner; `None` when scripts are off or it is not
    /// running.
    hooks: Option<Hooks>,
    /// True while the runner's socket is watched for writability.
    hooks_writable: bool,
    /// When the runner was last started.
    hooks_started: Option<Instant>,
    /// When to start the runner again after it exited.
    hooks_respawn: Option<Instant>,
}

/// Loads the config for `opts` (the `-n` check uses this too).
pub fn load_config(opts: &Options) -> Result<Config, String> {
    Config::load_with(&opts.config_path, LoadOptions { trace_all: opts.trace_all }).map_err(|e| e.to_string())
}

impl Daemon {
    /// Sets up sockets, signals and the endpoint, and creates the
    /// configured tunnel instances. Errors say what could not be opened.
    pub fn new(opts: Options, cfg: Config) -> Result<Daemon, String> {
        let now = Instant::now();
        let signals = Signals::new().map_err(|e| format!("cannot set up signals: {e}"))?;
        let mut evloop = EventLoop::new().map_err(|e| format!("cannot create event loop: {e}"))?;
        evloop.register(std::os::fd::AsFd::as_fd(&signals), KEY_SIGNALS, Interest::READABLE).map_err(|e| format!("cannot watch signals: {e}"))?;
        let dataplane = plane::make_dataplane(&cfg)?;
        let sockets = open_sockets(&opts, &cfg, dataplane.get_ref().wants_tunnel_socket())?;
        let control = control::open(&mut evloop, KEY_CONTROL);
        if let Some(c) = control.as_ref() {
            // Room for events to many watchers besides the CLI's replies.
            if let Err(e) = c.set_send_buffer(CONTROL_SNDBUF) {
                log::log(Level::Info, format_args!("control sndbuf error=\"{e}\""));
            }
        }
        for (i, s) in sockets.iter().enumerate() {
            evloop.register(s.fd(), KEY_SOCKET0 + i, Interest::READABLE).map_err(|e| format!("cannot watch socket: {e}"))?;
            log::log(Level::Info, format_args!("listen transport={:?} local={}{}", s.transport, s.local, if s.l2tp_ip { " kind=l2tp_ip" } else { "" }));
        }
        let side = PppSideKind::from_plugins(&opts.plugins);
        let ppp = (side == PppSideKind::PppUnix).then(|| PppUnix::new(ppp::default_program()));
        let propppd = (side == PppSideKind::Propppd).then(|| PppConn::new(&cfg.system.propppd_socket));
        log::log(Level::Info, format_args!("ppp side={}", side.name()));
        let mut ep = Endpoint::new(glue::endpoint_config(&cfg), Rng::from_entropy(), now);
        let cfg = Rc::new(cfg);
        ep.set_acceptor(glue::acceptor(cfg.clone()));
        let mut d = Daemon {
            opts,
            cfg,
            ep,
            sockets,
            evloop,
            signals,
            dataplane,
            tunnel_sockets: TunnelSockets::default(),
            ppp,
            propppd,
            switch: Switch::default(),
            instances: HashMap::new(),
            redial: Vec::new(),
            shutdown_deadline: None,
            started: now,
            control,
            events: EventState::default(),
            hooks: None,
            hooks_writable: false,
            hooks_started: None,
            hooks_respawn: None,
        };
        d.register_plane_fds()?;
        d.propppd_start();
        d.switch_start();
        if d.cfg.system.scripts {
            d.start_hooks(now);
        }
        let names: Vec<String> = d.cfg.tunnels.iter().map(|t| t.name.clone()).collect();
        for name in names {
            d.create_instance(now, &name);
        }
        Ok(d)
    }

    /// Runs until SIGTERM/SIGINT and the StopCCNs are done.
    pub fn run(&mut self) -> Result<(), String> {
        let mut buf = vec![0u8; 65_536];
        loop {
            self.drain(Instant::now());
            let now = Instant::now();
            if let Some(deadline) = self.shutdown_deadline {
                if self.ep.tunnels().all(|t| t.quiescent()) || now >= deadline {
                    // tunnels_left: tunnels whose StopCCN the peer has not acknowledged.
                    log::log(Level::Notice, format_args!("exit tunnels_left={}", self.ep.tunnels().filter(|t| !t.quiescent()).count()));
                    return Ok(());
                }
            }
            let deadline =
                [self.ep.poll_timeout(), self.shutdown_deadline, self.redial.iter().map(|r| r.0).min(), self.events.next_deadline(), self.hooks_respawn]
                    .into_iter()
                    .flatten()
                    .min();
            // PPP sides' connections: (side, readable, writable).
            let (ready, writable, conns): (Vec<usize>, bool, Vec<(Side, bool, bool)>) = match self.evloop.wait(deadline) {
                Ok(r) => (
                    r.iter().filter(|r| r.readable && side_of_key(r.key).is_none()).map(|r| r.key).collect(),
                    r.iter().any(|r| r.key == KEY_HOOKS && r.writable),
                    r.iter().filter_map(|r| side_of_key(r.key).map(|s| (s, r.readable, r.writable))).filter(|(_, rd, wr)| *rd || *wr).collect(),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("event loop failed: {e}")),
            };
            if writable {
                if let Some(h) = self.hooks.as_mut() {
                    h.flush();
                }
            }
            for (side, readable, writable) in conns {
                self.on_conn(Instant::now(), side, readable, writable);
            }
            for key in ready {
                if key == KEY_SWITCH_LISTEN {
                    self.on_switch_accept();
                } else if key == KEY_HOOKS {
                    // Hang-up or error: the runner's exit is handled on SIGCHLD.
                    continue;
                } else if key == KEY_SIGNALS {
                    self.on_signals();
                } else if key == KEY_CONTROL {
                    self.on_control(&mut buf);
                } else if key >= KEY_TUNNEL0 {
                    self.on_readable(None, key - KEY_TUNNEL0, &mut buf);
                } else if key >= KEY_DATA0 {
                    self.on_device(key - KEY_DATA0);
                } else if key >= KEY_PLANE0 {
                    self.dataplane.get().handle_readable();
                } else {
                    self.on_readable(Some(()), key - KEY_SOCKET0, &mut buf);
                }
            }
            let now = Instant::now();
            if self.ep.poll_timeout().is_some_and(|d| d <= now) {
                self.ep.handle_timeout(now);
            }
            self.redial_due(now);
            self.events_due(now);
            if self.hooks_respawn.is_some_and(|t| t <= now) {
                self.hooks_respawn = None;
                self.start_hooks(now);
            }
            self.sync_hooks_interest();
            self.sync_conn_interest();
        }
    }

    /// Spawns the hook-script runner and registers its socket (interest
    /// in nothing until records wait). Failure is logged; the daemon runs
    /// without scripts.
    fn start_hooks(&mut self, now: Instant) {
        self.hooks_started = Some(now);
        let hooks = match Hooks::spawn(&self.cfg.system, self.opts.foreground) {
            Ok(h) => h,
            Err(e) => {
                log::log(Level::Warning, format_args!("scripts error=\"{e}\" (running without hook scripts)"));
                return;
            }
        };
        if let Some(fd) = hooks.fd() {
            if let Err(e) = self.evloop.register(fd, KEY_HOOKS, Interest::NONE) {
                log::log(Level::Warning, format_args!("scripts error=\"cannot watch the runner's socket: {e}\""));
            }
        }
        self.hooks_writable = false;
        self.hooks = Some(hooks);
    }

    /// The hook-script runner's process id for `show system`; 0 when it
    /// is not running.
    pub(super) fn scriptd_pid(&self) -> u64 {
        self.hooks.as_ref().map_or(0, |h| u64::try_from(h.pid()).unwrap_or(0))
    }

    /// Event records the hook-script runner did not get (its backlog was
    /// full or it was gone), for `show system`.
    pub(super) fn script_events_dropped(&self) -> u64 {
        self.hooks.as_ref().map_or(0, |h| h.dropped())
    }

    /// Watches the runner's socket for writability exactly while records
    /// wait to be written to it.
    fn sync_hooks_interest(&mut self) {
        let Some(h) = self.hooks.as_ref() else { return };
        let want = h.has_backlog();
        if want == self.hooks_writable {
            return;
        }
        if let Some(fd) = h.fd() {
            let interest = if want { Interest::WRITABLE } else { Interest::NONE };
            if self.evloop.modify(fd, interest).is_ok() {
                self.hooks_writable = want;
            }
        }
    }

    /// Children were reaped: when one was the hook-script runner, forget it
    /// and start it again (at most once per [`HOOKS_RESPAWN`]).
    fn hooks_children(&mut self, now: Instant, statuses: &[nix::sys::wait::WaitStatus]) {
        for status in statuses {
            let Some(pid) = status.pid() else { continue };
            let Some(h) = self.hooks.as_mut() else { return };
            if !h.child_exited(pid.as_raw()) {
                continue;
            }
            if let Some(fd) = h.fd() {
                let _ = self.evloop.deregister(fd);
            }
            self.hooks = None;
            self.hooks_writable = false;
            if self.shutdown_deadline.is_some() {
                return;
            }
            let at = self.hooks_started.map_or(now, |t| t + HOOKS_RESPAWN).max(now);
            log::log(
                Level::Notice,
                format_args!("scripts runner exited pid={pid} status=\"{status:?}\" restart_in_ms={}", at.saturating_duration_since(now).as_millis()),
            );
            self.hooks_respawn = Some(at);
        }
    }

    /// A listening socket (`listener` is `Some`; `index` into `sockets`)
    /// or a tunnel's own socket (`index` is its slot) is readable.
    fn on_readable(&mut self, listener: Option<()>, index: usize, buf: &mut [u8]) {
        let sock = match listener {
            Some(()) => self.sockets.get(index),
            None => self.tunnel_sockets.by_slot(index),
        };
        let Some(sock) = sock else { return };
        for _ in 0..RECV_BURST {
            match sock.recv(buf) {
                Ok(Some((from, data))) => {
                    if let Some(pkt) = self.ep.handle_datagram(Instant::now(), Some(sock.local), from, sock.transport, data) {
                        on_data(&mut self.dataplane, from, sock.transport, &pkt);
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    log::log(Level::Warning, format_args!("recv local={} error=\"{e}\"", sock.local));
                    return;
                }
            }
        }
    }

    fn on_signals(&mut self) {
        for sig in self.signals.read_all() {
            log::log(Level::Info, format_args!("signal name={}", sig.name()));
            match sig {
                Signal::Hup => {
                    let _ = self.reload();
                }
                Signal::Term | Signal::Int => self.shutdown(),
                Signal::Chld => {
                    let statuses = reap_children();
                    self.hooks_children(Instant::now(), &statuses);
                    self.on_children(Instant::now(), &statuses);
                }
            }
        }
    }

    fn shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        let now = Instant::now();
        self.shutdown_deadline = Some(now + SHUTDOWN_GRACE);
        self.redial.clear();
        self.ep.close_all(now);
    }

    /// SIGHUP: new node settings and peer policy; new tunnel instances
    /// created, removed ones closed; nothing else established is touched.
    /// Errors: the file does not load (the reason, already logged); the
    /// running configuration is kept.
    fn reload(&mut self) -> Result<(), String> {
        let new = match load_config(&self.opts) {
            Ok(c) => c,
            Err(e) => {
                log::log(Level::Error, format_args!("reload failed: {e}; keeping the running configuration"));
                return Err(e);
            }
        };
        let now = Instant::now();
        self.ep.set_config(glue::endpoint_config(&new));
        let new = Rc::new(new);
        self.ep.set_acceptor(glue::acceptor(new.clone()));
        let removed: Vec<(String, u32)> = self.instances.iter().filter(|(n, _)| new.tunnel(n).is_none()).map(|(n, t)| (n.clone(), *t)).collect();
        self.cfg = new;
        if let Some(p) = self.propppd.as_mut() {
            // Used for the next connection; the current one is kept.
            p.set_path(&self.cfg.system.propppd_socket);
        }
        for (name, tid) in removed {
            log::log(Level::Info, format_args!("reload tunnel={name} action=close"));
            self.instances.remove(&name);
            let r = ResultCode { result: stop_ccn::GENERAL_REQUEST_TO_CLEAR, error: None, message: Some("removed from configuration".into()) };
            let _ = self.ep.close_tunnel(now, tid, Some(r));
        }
        self.redial.retain(|(_, n)| self.cfg.tunnel(n).is_some());
        let added: Vec<String> =
            self.cfg.tunnels.iter().map(|t| t.name.clone()).filter(|n| !self.instances.contains_key(n) && !self.redial.iter().any(|(_, r)| r == n)).collect();
        for name in added {
            log::log(Level::Info, format_args!("reload tunnel={name} action=create"));
            self.create_instance(now, &name);
        }
        log::log(Level::Notice, format_args!("reload ok tunnels={} sessions={}", self.ep.tunnels().count(), self.ep.session_count()));
        Ok(())
    }

    /// Dials a configured tunnel instance and queues its sessions.
    fn create_instance(&mut self, now: Instant, name: &str) {
        let cfg = self.cfg.clone();
        let Some(t) = cfg.tunnel(name) else { return };
        let tid = match self.ep.create_tunnel(now, Rc::new(glue::instance_params(&cfg, t))) {
            Ok(id) => id,
            Err(e) => {
                log::log(Level::Error, format_args!("create tunnel={name} error=\"{e}\""));
                return;
            }
        };
        self.instances.insert(name.to_string(), tid);
        for s in cfg.sessions_of(name) {
            let sp = glue::session_params(&s.params, &s.session_profile, Some(s.name.clone()), &t.params);
            if let Err(e) = self.ep.create_session(now, tid, s.call_type, Rc::new(sp)) {
                log::log(Level::Error, format_args!("create session={}/{} error=\"{e}\"", name, s.name));
            }
        }
    }

    fn redial_due(&mut self, now: Instant) {
        let due: Vec<String> = self.redial.iter().filter(|(t, _)| *t <= now).map(|(_, n)| n.clone()).collect();
        self.redial.retain(|(t, _)| *t > now);
        for name in due {
            self.create_instance(now, &name);
        }
    }

    /// Sends what the core queued and acts on its events.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(tx) = self.ep.poll_transmit() {
                progressed = true;
                self.send(&tx);
            }
            while let Some(ev) = self.ep.poll_event() {
                progressed = true;
                self.on_event(now, ev);
            }
            progressed |= self.poll_plane_events(now);
            progressed |= self.apply_fd_changes(now);
            if !progressed {
                return;
            }
        }
    }

    /// Sends one control packet: through its tunnel's own socket when it
    /// has one, else the listening socket of its family and transport.
    fn send(&self, tx: &Transmit) {
        let (bytes, to, transport) = (&tx.bytes, tx.to, tx.transport);
        let own = self.tunnel_sockets.get(tx.tunnel_id).filter(|s| s.transport == transport && s.local.is_ipv4() == to.is_ipv4());
        let sock = own.or_else(|| listener_for(&self.sockets, transport, to, tx.from));
        match sock {
            Some(s) => {
                if let Err(e) = s.send(bytes, to) {
                    log::log(Level::Warning, format_args!("send to={to} error=\"{e}\""));
                }
            }
            None => log::log(Level::Warning, format_args!("send to={to} transport={transport:?} error=\"no socket for this family/transport\"")),
        }
    }

    fn on_event(&mut self, now: Instant, ev: Event) {
        self.publish_core_event(now, &ev);
        match ev {
            Event::TunnelCreated(t) => {
                log::log(
                    Level::Info,
                    format_args!(
                        "tunnel created tunnel_id={} name={} peer={} version={:?} network_created={}",
                        t.tunnel_id,
                        t.name.as_deref().unwrap_or(""),
                        t.peer,
                        t.version,
                        t.network_created
                    ),
                );
                self.plane_tunnel_created(now, &t);
            }
            Event::TunnelUp(t) => self.plane_tunnel_up(now, &t),
            Event::TunnelDown { tunnel_id, was_up, result } => {
                log::log(
                    Level::Info,
                    format_args!(
                        "tunnel down tunnel_id={tunnel_id} was_up={was_up} result={} error={} message=\"{}\"",
                        result.result,
                        result.error.unwrap_or(0),
                        result.message.as_deref().unwrap_or("")
                    ),
                );
                self.ppp_tunnel_down(now, tunnel_id);
                if was_up {
                    self.dataplane.get().tunnel_down(tunnel_id);
                }
            }
            Event::TunnelDeleted { tunnel_id, name } => {
                log::log(Level::Info, format_args!("tunnel deleted tunnel_id={tunnel_id}"));
                self.close_tunnel_socket(tunnel_id);
                self.switch.tunnel_deleted(tunnel_id);
                if let Some(name) = name {
                    if self.instances.get(&name) == Some(&tunnel_id) {
                        self.instances.remove(&name);
                        let persist = self.cfg.tunnel(&name).is_some_and(|t| t.persist);
                        if persist && self.shutdown_deadline.is_none() {
                            self.redial.push((now + PERSIST_DELAY, name));
                        }
                    }
                }
            }
            Event::VersionFallback { tunnel_id } => log::log(Level::Notice, format_args!("tunnel fallback tunnel_id={tunnel_id} version=2")),
            Event::SessionCreated(s) => log::log(
                Level::Info,
                format_args!(
                    "session created tunnel_id={} session_id={} name={} pseudowire={}",
                    s.tunnel_id,
                    s.session_id,
                    s.name.as_deref().unwrap_or(""),
                    s.pseudowire.name()
                ),
            ),
            Event::SessionUp(s) => {
                log::log(
                    Level::Info,
                    format_args!(
                        "session up tunnel_id={} session_id={} peer_tunnel_id={} peer_session_id={}",
                        s.tunnel_id, s.session_id, s.peer_tunnel_id, s.peer_session_id
                    ),
                );
                self.plane_session_up(now, &s);
            }
            Event::SessionDown { info, was_up, result } => {
                log::log(
                    Level::Info,
                    format_args!(
                        "session down tunnel_id={} session_id={} result={} error={} message=\"{}\"",
                        info.tunnel_id,
                        info.session_id,
                        result.result,
                        result.error.unwrap_or(0),
                        result.message.as_deref().unwrap_or("")
                    ),
                );
                self.ppp_session_down(now, &info, &result);
                if was_up {
                    self.dataplane.get().session_down(&info);
                }
            }
            Event::SessionDeleted { tunnel_id, session_id } => {
                log::log(Level::Debug, format_args!("session deleted tunnel_id={tunnel_id} session_id={session_id}"))
            }
        }
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The PPP side whose connection has event-loop key `key`, if any.
fn side_of_key(key: usize) -> Option<Side> {
    if key == KEY_PROPPPD {
        Some(Side::Propppd)
    } else if (KEY_SWITCH0..KEY_SWITCH0 + MAX_SWITCH).contains(&key) {
        Some(Side::Switch(key - KEY_SWITCH0))
    } else {
        None
    }
}

/// The listening socket to send from towards `to`: the one of the
/// tunnel's local address `from` (the address its packets arrive on), else
/// the first of the family and transport, so replies leave from the address
/// the peer wrote to when several are listened on.
fn listener_for(sockets: &[L2tpSocket], transport: Transport, to: SocketAddr, from: Option<SocketAddr>) -> Option<&L2tpSocket> {
    let mut candidates = sockets.iter().filter(|s| s.transport == transport && s.local.is_ipv4() == to.is_ipv4());
    let first = candidates.clone().next();
    from.and_then(|from| candidates.find(|s| s.local.ip() == from.ip())).or(first)
}

/// Opens the UDP sockets and, for L2TPv3 over IP, the raw IP ones, or
/// with the kernel data plane (`kernel_ip`) `IPPROTO_L2TP` ones: with
/// `l2tp_ip` loaded a raw socket would also copy every data packet.
fn open_sockets(opts: &Options, cfg: &Config, kernel_ip: bool) -> Result<Vec<L2tpSocket>, String> {
    let port = opts.udp_port.unwrap_or(cfg.system.udp_port);
    let addrs = if cfg.system.listen.is_empty() { net::default_listen() } else { cfg.system.listen.clone() };
    let mut out = Vec::new();
    for ip in &addrs {
        let a = SocketAddr::new(*ip, port);
        match net::udp_socket(a) {
            Ok(s) => out.push(s),
            // A host without IPv6 still serves IPv4 when listening on wildcards.
            Err(e) if ip.is_ipv6() && ip.is_unspecified() => log::log(Level::Warning, format_args!("listen local={a} error=\"{e}\" (IPv6 disabled?)")),
            Err(e) => return Err(format!("cannot listen on {a}: {e}")),
        }
    }
    // L2TPv3 over IP (RFC 3931 §4.1.1): always listened for, since a peer
    // may open such a tunnel whatever our own profiles say.
    for ip in &addrs {
        let s = if kernel_ip { net::l2tp_ip_listen_socket(*ip) } else { net::ip_socket(*ip) };
        match s {
            Ok(s) => out.push(s),
            Err(e) => log::log(Level::Info, format_args!("listen transport=ip local={ip} error=\"{e}\"")),
        }
    }
    if out.is_empty() {
        return Err("no socket could be opened".into());
    }
    Ok(out)
}

/// Reaps exited children without blocking (pppd, hook scripts) and
/// returns their statuses.
fn reap_children() -> Vec<nix::sys::wait::WaitStatus> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut out = Vec::new();
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
        out.push(status);
    }
    out
}
