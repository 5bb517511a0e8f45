//! propppd's process: one thread, one event loop over the signal fd, the
//! control socket, the channel socket and its owners' connections, every
//! instance's channel and interface fds, and one timer wheel holding each
//! [`Link`](crate::proto::link::Link)'s next deadline.
//!
//! - Owners (prol2tpd, proacd) connect to the channel socket
//!   ([`common::channel`]); a `PppOpen` with its fd becomes an instance
//!   (`session.rs`), a `PppClose` ends one, end-of-file ends all of that
//!   owner's (`owners.rs`).
//! - The control socket answers `propppctl` and publishes events to
//!   `propppwatch` (`control.rs`).
//! - SIGHUP re-reads the configuration, the secrets files and the pools
//!   (a broken file is logged with `file:line` and the running set kept);
//!   running sessions keep what they started with, except that their
//!   addresses stay leased in the new pools. SIGTERM/SIGINT close every
//!   instance (LCP Terminate-Request, `down` to the owners) and exit once
//!   they are finished or after a grace period, removing their interfaces.
//!
//! Log lines are `key=value`, in four categories whose levels the
//! configuration sets (`log_event`, `log_main`, `log_mgmt`, `log_ppp`);
//! `-d` raises all four by one step per use.

mod control;
mod instance;
mod owners;
mod plane;
mod session;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::channel::ChannelListener;
use common::events::Publisher;
use common::evloop::{EventLoop, Interest};
use common::log::{self, Level};
use common::signal::{Signal, Signals};
use common::timer::TimerWheel;

use crate::config::{self, Checked, Config};
use crate::pool::PoolSet;
use crate::secrets::Secrets;
use crate::sys::netif::NetIf;

pub use instance::{link_config, OpenParams, Role};

use instance::Instance;
use owners::{Owner, PendingCreate};

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = config::DEFAULT_CONFIG_PATH;
/// How long shutdown waits for the links' Terminate exchanges.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

const KEY_SIGNALS: usize = 0;
const KEY_CONTROL: usize = 1;
const KEY_LISTENER: usize = 2;
/// Owner connections: `KEY_OWNER0 + slot`.
const KEY_OWNER0: usize = 16;
/// Instance fds: `KEY_INST0 + handle * 4 + sub` (sub 0/1 channel, 2 TUN).
const KEY_INST0: usize = 1 << 16;

/// Log categories of `propppd.conf(5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cat {
    /// Instances created, up, down, destroyed.
    Event,
    /// Start, stop, reload, the daemon's own errors.
    Main,
    /// Control and channel requests.
    Mgmt,
    /// PPP negotiation per instance.
    Ppp,
}

thread_local! {
    static LEVELS: RefCell<[Level; 4]> = const { RefCell::new([Level::Info; 4]) };
}

/// Sets the categories' levels from `[system]`, each raised by `raise`
/// steps (`-d`).
pub fn set_levels(sys: &config::SystemConfig, raise: u8) {
    let up = |l: Level| {
        let order = [Level::Error, Level::Warning, Level::Notice, Level::Info, Level::Debug];
        let i = order.iter().position(|x| *x == l).unwrap_or(3).saturating_add(usize::from(raise));
        order.get(i).copied().unwrap_or(Level::Debug)
    };
    let levels = [up(sys.log_event), up(sys.log_main), up(sys.log_mgmt), up(sys.log_ppp)];
    LEVELS.with(|l| *l.borrow_mut() = levels);
}

/// Writes one line of category `cat` at `level` when the category's level
/// lets it through.
pub fn clog(cat: Cat, level: Level, args: fmt::Arguments) {
    let max = LEVELS.with(|l| l.borrow().get(cat as usize).copied().unwrap_or(Level::Info));
    if level <= max {
        log::log(level, args);
    }
}

/// Command-line settings (`propppd(8)`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-c`: configuration file.
    pub config_path: PathBuf,
    /// `-f`: stay in the foreground, log to the terminal.
    pub foreground: bool,
    /// `-d` count: log levels raised by this many steps.
    pub debug: u8,
}

/// Loads the configuration, the secrets files its profiles need and the
/// pools (what `-n` checks). Errors: `file:line: problem`.
pub fn load(opts: &Options) -> Result<Checked, String> {
    config::check(&opts.config_path).map_err(|e| e.to_string())
}

/// Node-wide counters (`ShowStatistics`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    instances_created: u64,
    instances_up_total: u64,
    auth_failures: u64,
    owners_connected_total: u64,
    owner_losses: u64,
    bad_channel_messages: u64,
    rx_dropped_frames: u64,
}

/// The running daemon.
pub struct Daemon {
    opts: Options,
    cfg: Rc<Config>,
    secrets: Rc<BTreeMap<PathBuf, Secrets>>,
    pools: Rc<RefCell<PoolSet>>,
    evloop: EventLoop,
    signals: Signals,
    timers: TimerWheel<u64>,
    control: Option<common::ipc::Server>,
    listener: ChannelListener,
    owners: Vec<Option<Owner>>,
    owner_serial: u64,
    instances: BTreeMap<u64, Instance>,
    next_handle: u64,
    publisher: Publisher,
    stats: Stats,
    pending: HashMap<u32, PendingCreate>,
    next_request_id: u32,
    netif: Option<NetIf>,
    rng: common::rng::Rng,
    host_name: Vec<u8>,
    shutdown_deadline: Option<Instant>,
}

impl Daemon {
    /// Opens the signal fd, the control and channel sockets. Errors: what
    /// could not be opened.
    pub fn new(opts: Options, checked: Checked) -> Result<Daemon, String> {
        let now = Instant::now();
        let Checked { config: cfg, secrets, pools } = checked;
        let signals = Signals::new().map_err(|e| format!("cannot set up signals: {e}"))?;
        let mut evloop = EventLoop::new().map_err(|e| format!("cannot create event loop: {e}"))?;
        evloop.register(std::os::fd::AsFd::as_fd(&signals), KEY_SIGNALS, Interest::READABLE).map_err(|e| format!("cannot watch signals: {e}"))?;
        let control = common::ipc::Server::bind(&cfg.system.control_socket)
            .map_err(|e| format!("cannot bind control socket {}: {e}", cfg.system.control_socket.display()))?;
        evloop.register(std::os::fd::AsFd::as_fd(&control), KEY_CONTROL, Interest::READABLE).map_err(|e| format!("cannot watch control socket: {e}"))?;
        let chan_path = &cfg.system.channel_socket;
        if let Some(dir) = chan_path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let listener = ChannelListener::bind(chan_path).map_err(|e| format!("cannot bind channel socket {}: {e}", chan_path.display()))?;
        evloop.register(std::os::fd::AsFd::as_fd(&listener), KEY_LISTENER, Interest::READABLE).map_err(|e| format!("cannot watch channel socket: {e}"))?;
        let host_name = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "propppd".into()).into_bytes();
        clog(
            Cat::Main,
            Level::Info,
            format_args!("listen control={} channel={} dataplane={:?}", cfg.system.control_socket.display(), chan_path.display(), cfg.system.dataplane),
        );
        Ok(Daemon {
            opts,
            cfg: Rc::new(cfg),
            secrets: Rc::new(secrets),
            pools: Rc::new(RefCell::new(pools)),
            evloop,
            signals,
            timers: TimerWheel::new(now),
            control: Some(control),
            listener,
            owners: Vec::new(),
            owner_serial: 0,
            instances: BTreeMap::new(),
            next_handle: 1,
            publisher: Publisher::new(),
            stats: Stats::default(),
            pending: HashMap::new(),
            next_request_id: 1,
            netif: None,
            rng: common::rng::Rng::from_entropy(),
            host_name,
            shutdown_deadline: None,
        })
    }

    /// Runs until SIGTERM/SIGINT and the instances are closed. Errors: the
    /// event loop failed.
    pub fn run(&mut self) -> Result<(), String> {
        let mut buf = vec![0u8; 65_536];
        let mut due = Vec::new();
        loop {
            let now = Instant::now();
            if let Some(deadline) = self.shutdown_deadline {
                if self.instances.is_empty() || now >= deadline {
                    let left: Vec<u64> = self.instances.keys().copied().collect();
                    for h in &left {
                        self.destroy(now, *h);
                    }
                    for slot in 0..self.owners.len() {
                        self.flush_owner(slot);
                    }
                    clog(Cat::Main, Level::Notice, format_args!("exit instances_left={}", left.len()));
                    return Ok(());
                }
            }
            let deadline = [self.timers.next_deadline(), self.shutdown_deadline, self.pending.values().map(|p| p.deadline).min()].into_iter().flatten().min();
            let ready: Vec<common::evloop::Ready> = match self.evloop.wait(deadline) {
                Ok(r) => r.to_vec(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("event loop failed: {e}")),
            };
            for r in ready {
                match r.key {
                    KEY_SIGNALS => self.on_signals(),
                    KEY_CONTROL => self.on_control(&mut buf),
                    KEY_LISTENER => self.on_accept(),
                    k if k >= KEY_INST0 => {
                        let (handle, sub) = ((k - KEY_INST0) as u64 / 4, (k - KEY_INST0) % 4);
                        self.on_instance_readable(handle, sub, &mut buf);
                    }
                    k if k >= KEY_OWNER0 => self.on_owner(k - KEY_OWNER0, r.readable, r.writable),
                    _ => {}
                }
            }
            let now = Instant::now();
            due.clear();
            self.timers.expire(now, &mut due);
            for h in due.drain(..) {
                if let Some(inst) = self.instances.get_mut(&h) {
                    inst.link.handle_timeout(now);
                    self.drive(now, h);
                }
            }
            self.pending_due(now);
        }
    }

    fn on_signals(&mut self) {
        for sig in self.signals.read_all() {
            clog(Cat::Main, Level::Info, format_args!("signal name={}", sig.name()));
            match sig {
                Signal::Hup => {
                    let _ = self.reload();
                }
                Signal::Term | Signal::Int => self.shutdown(),
                Signal::Chld => {}
            }
        }
    }

    /// Closes every instance (AdminClose) and starts the grace period.
    fn shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        let now = Instant::now();
        self.shutdown_deadline = Some(now + SHUTDOWN_GRACE);
        let handles: Vec<u64> = self.instances.keys().copied().collect();
        for h in handles {
            self.close_instance(now, h);
        }
    }

    /// SIGHUP / `Reload`: new configuration, secrets and pools; running
    /// instances keep their settings and their leases. Errors: the
    /// problem (logged); the running set is kept.
    fn reload(&mut self) -> Result<(), String> {
        let checked = match load(&self.opts) {
            Ok(c) => c,
            Err(e) => {
                clog(Cat::Main, Level::Error, format_args!("reload failed error=\"{e}\" (keeping the running configuration)"));
                return Err(e);
            }
        };
        let Checked { config: cfg, secrets, mut pools } = checked;
        let leases: Vec<(u64, std::net::Ipv4Addr)> = {
            let old = self.pools.borrow();
            self.instances.keys().filter_map(|h| old.lease(*h).map(|l| (*h, l.addr))).collect()
        };
        for (h, addr) in leases {
            if let Err(e) = pools.reserve(addr, h) {
                clog(Cat::Main, Level::Warning, format_args!("reload lease handle={h} addr={addr} error=\"{e}\""));
            }
        }
        if cfg.system.control_socket != self.cfg.system.control_socket || cfg.system.channel_socket != self.cfg.system.channel_socket {
            clog(Cat::Main, Level::Notice, format_args!("reload note=\"socket paths take effect at the next start\""));
        }
        set_levels(&cfg.system, self.opts.debug);
        *self.pools.borrow_mut() = pools;
        self.secrets = Rc::new(secrets);
        self.cfg = Rc::new(cfg);
        clog(Cat::Main, Level::Notice, format_args!("reload ok profiles={} instances={}", self.cfg.profiles.len(), self.instances.len()));
        Ok(())
    }
}

/// The event-loop key of an instance fd.
fn inst_key(handle: u64, sub: usize) -> usize {
    usize::try_from(handle).unwrap_or(usize::MAX / 8).saturating_mul(4).saturating_add(sub).saturating_add(KEY_INST0)
}
