//! Support for proacd's host tests: real processes in network namespaces
//! joined by veth pairs (test layer 5 in DESIGN.md).
//!
//! A test creates [`Netns`]es, joins them with [`link_veth`], writes
//! configuration into a [`TempDir`], starts [`Proacd`] (or any program with
//! [`Netns::spawn`]) and waits for conditions with [`wait_until`] instead of
//! sleeping. [`packet_socket_in`] opens a `proac::sys::PacketSocket` inside a
//! namespace, for tests that speak PPPoE discovery themselves.
//!
//! Every test starts with `if !support::require_root_and_netns() { return; }`
//! so that it skips (with a visible SKIP line) where it cannot run. Each
//! test's daemons use sockets and pid files in its own temporary directory;
//! a namespace's drop kills the processes left in it (only the test's own:
//! the namespace is the test's). `PROAC_KEEP_TMP=1` keeps the directories.
//!
//! [`Netns`], [`link_veth`], [`Child`] and [`TempDir`] are small copies of
//! prol2tpd's test support (prol2tpd/tests/support/mod.rs), renamed.
#![allow(dead_code)]

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::ipc::{self, Record, Reply, Request, Value};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Polls `cond` every 10 ms until it holds or `timeout` passed; returns
/// whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when the test runs as root and `ip netns` works; otherwise prints
/// `SKIP: …` and returns false.
pub fn require_root_and_netns() -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: not root; network-namespace tests need root");
        return false;
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            println!("SKIP: `ip netns list` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            false
        }
        Err(e) => {
            println!("SKIP: cannot run `ip` (iproute2): {e}");
            false
        }
    }
}

/// True when `prog` (a path) exists; otherwise prints `SKIP: …`.
pub fn require_program(prog: &str) -> bool {
    if Path::new(prog).exists() {
        return true;
    }
    println!("SKIP: {prog} not installed (make check installs it)");
    false
}

fn run_ok(args: &[&str]) -> Output {
    let (prog, rest) = args.split_first().expect("empty command");
    let out = Command::new(prog).args(rest).output().unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A temporary directory, removed on drop unless `PROAC_KEEP_TMP` is set.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/proac-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("proac-{tag}-{}-{}", std::process::id(), next_id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PROAC_KEEP_TMP").is_some() {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A network namespace of one test; dropping it kills what still runs in
/// it and deletes it.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `pac-<tag>-<pid>-<n>` with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("pac-{tag}-{}-{}", std::process::id(), next_id());
        run_ok(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        run_ok(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `cmd` in the namespace and returns its output.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.name]).args(cmd).output().unwrap_or_else(|e| panic!("cannot run {cmd:?} in {}: {e}", self.name))
    }

    /// Starts `cmd` in the namespace, stdout and stderr appended to `log`.
    pub fn spawn(&self, cmd: &[&str], log: &Path) -> Child {
        let file = fs::OpenOptions::new().create(true).append(true).open(log).unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = file.try_clone().unwrap_or_else(|e| panic!("dup log: {e}"));
        let process = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?} in {}: {e}", self.name));
        Child { what: cmd.join(" "), process, log: log.to_path_buf() }
    }

    fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// Interface names of a veth pair.
#[derive(Debug, Clone)]
pub struct VethPair {
    /// In the first namespace.
    pub a: String,
    /// In the second namespace.
    pub b: String,
}

/// Joins `a` and `b` with a veth pair (both ends up, addresses in CIDR
/// notation from the documentation ranges only).
pub fn link_veth(a: &Netns, b: &Netns, a_addrs: &[&str], b_addrs: &[&str]) -> VethPair {
    let id = format!("{:x}x{:x}", std::process::id(), next_id());
    let pair = VethPair { a: format!("pa{id}"), b: format!("pb{id}") };
    assert!(pair.a.len() <= 15, "interface name too long: {}", pair.a);
    run_ok(&["ip", "link", "add", &pair.a, "netns", a.name(), "type", "veth", "peer", "name", &pair.b, "netns", b.name()]);
    for (ns, ifname, addrs) in [(a, &pair.a, a_addrs), (b, &pair.b, b_addrs)] {
        for addr in addrs {
            run_ok(&["ip", "-n", ns.name(), "addr", "add", addr, "dev", ifname]);
        }
        run_ok(&["ip", "-n", ns.name(), "link", "set", ifname, "up"]);
    }
    pair
}

/// A process started by [`Netns::spawn`]; dropping it sends SIGTERM, waits
/// up to 2 s, then SIGKILLs.
pub struct Child {
    what: String,
    process: std::process::Child,
    log: PathBuf,
}

impl Child {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// What it wrote so far.
    pub fn log(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Polls until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Exit status once ended.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: Signal) {
        if let Ok(pid) = i32::try_from(self.process.id()) {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// SIGTERM, wait up to `timeout`, then SIGKILL; the status if it ended
    /// by itself.
    pub fn stop(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        if let Some(st) = self.try_exit() {
            return Some(st);
        }
        self.signal(Signal::SIGTERM);
        let mut status = None;
        wait_until(timeout, || {
            status = self.process.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_none() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
        status
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.stop(Duration::from_secs(2)).is_none() && std::thread::panicking() {
            eprintln!("killed {} (log {})", self.what, self.log.display());
        }
    }
}

/// Runs `f` on a thread inside `ns` and returns its result: sockets it
/// creates belong to the namespace (packet sockets see its interfaces;
/// autobound unix sockets get addresses its processes can answer).
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns on a valid namespace fd changes only this thread's
        // network namespace; the thread ends right after `f`.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|_| panic!("thread in namespace panicked"))
}

/// Opens a `PacketSocket` on `ifname` for `ethertype` inside `ns`.
pub fn packet_socket_in(ns: &Netns, ifname: &str, ethertype: u16) -> proac::sys::PacketSocket {
    let ifname = ifname.to_string();
    in_netns(ns, move || proac::sys::PacketSocket::open(&ifname, ethertype).unwrap_or_else(|e| panic!("packet socket on {ifname}: {e}")))
}

/// The `proacd` binary Cargo built for this test run.
pub fn proacd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proacd"))
}

/// A binary of another package of the workspace, next to proacd's
/// (`cargo build --workspace` builds them).
pub fn sibling_bin(name: &str) -> PathBuf {
    proacd_bin().with_file_name(name)
}

/// One proacd with its files in a test directory.
pub struct Proacd {
    /// The process.
    pub child: Child,
    /// Its configuration file.
    pub conf: PathBuf,
    /// Its control socket.
    pub ctl: PathBuf,
    ns_path: String,
    client: Option<ipc::Client>,
}

impl Proacd {
    /// The `[system]` section for an instance called `name` in `dir`
    /// (sockets and pid file there; propppd and prol2tpd expected at
    /// `NAME-propppd.chan` / `NAME-prol2tpd.chan`) plus `extra_system` lines.
    pub fn system_section(dir: &TempDir, name: &str, extra_system: &str) -> String {
        let pp = dir.join(&format!("{name}-propppd.chan"));
        let l2 = dir.join(&format!("{name}-prol2tpd.chan"));
        Proacd::system_section_with(dir, name, &pp, &l2, extra_system)
    }

    /// As [`Proacd::system_section`] with propppd's channel socket at
    /// `propppd` and prol2tpd's switch socket at `prol2tpd`.
    pub fn system_section_with(dir: &TempDir, name: &str, propppd: &Path, prol2tpd: &Path, extra_system: &str) -> String {
        format!(
            "[system]\ncontrol_socket = {ctl}\npid_file = {pid}\npropppd_socket = {pp}\nprol2tpd_socket = {l2}\ndataplane = userspace\n{extra_system}\n",
            ctl = dir.join(&format!("{name}.ctl")).display(),
            pid = dir.join(&format!("{name}.pid")).display(),
            pp = propppd.display(),
            l2 = prol2tpd.display(),
        )
    }

    /// Starts proacd in `ns` (foreground, debug, every category) with the
    /// configuration `conf` written to `NAME.conf`; waits for its control
    /// socket to answer.
    pub fn start(ns: &Netns, dir: &TempDir, name: &str, conf: &str) -> Proacd {
        Proacd::start_with(ns, dir, name, conf, dir.join(&format!("{name}.ctl")))
    }

    /// As [`Proacd::start`] with the control socket at `ctl` (the one the
    /// configuration names).
    pub fn start_with(ns: &Netns, dir: &TempDir, name: &str, conf: &str, ctl: PathBuf) -> Proacd {
        let path = dir.write(&format!("{name}.conf"), conf);
        let bin = proacd_bin();
        let child = ns.spawn(&[&bin.to_string_lossy(), "-f", "-D", "-d", "all", "-c", &path.to_string_lossy()], &dir.join(&format!("{name}.log")));
        let mut p = Proacd { child, conf: path, ctl, ns_path: ns.name().to_string(), client: None };
        let up = wait_until(Duration::from_secs(10), || p.ctl.exists() && p.try_call(Request::ShowSystem).is_some());
        assert!(up, "proacd {name} did not answer on {}:\n{}", p.ctl.display(), p.child.log());
        p
    }

    /// A control client in proacd's namespace (abstract addresses are per
    /// namespace).
    fn connect(&mut self) {
        if self.client.is_some() {
            return;
        }
        let ctl = self.ctl.clone();
        let ns = Netns { name: self.ns_path.clone() };
        self.client = in_netns(&ns, move || ipc::Client::unconnected(&ctl).ok());
        std::mem::forget(ns);
    }

    fn try_call(&mut self, req: Request) -> Option<Reply> {
        self.connect();
        self.client.as_mut()?.call(req, Duration::from_secs(2)).ok()
    }

    /// Sends `req` and returns the reply (panics when none comes).
    pub fn call(&mut self, req: Request) -> Reply {
        let what = format!("{req:?}");
        self.connect();
        let Some(client) = self.client.as_mut() else { panic!("{what}: no control socket at {}", self.ctl.display()) };
        match client.call(req, Duration::from_secs(5)) {
            Ok(r) => r,
            Err(e) => panic!("{what}: {e:?}\n{}", self.child.log()),
        }
    }

    /// The records of `req` (panics on an error reply).
    pub fn records(&mut self, req: Request) -> Vec<Record> {
        match self.call(req) {
            Reply::Records { records, .. } => records,
            Reply::Done => Vec::new(),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// One counter of `ShowStatistics`.
    pub fn stat(&mut self, key: &str) -> u64 {
        let recs = self.records(Request::ShowStatistics);
        recs.first().and_then(|r| num(r, key)).unwrap_or_else(|| panic!("no statistic {key} in {recs:?}"))
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.child.log()
    }
}

/// The number under `key` of `r`.
pub fn num(r: &Record, key: &str) -> Option<u64> {
    match r.get(key)? {
        Value::U64(n) => Some(*n),
        Value::Str(s) => s.parse().ok(),
        Value::Bool(b) => Some(u64::from(*b)),
    }
}

/// The text under `key` of `r` ("" when absent).
pub fn text(r: &Record, key: &str) -> String {
    r.get(key).map(|v| v.to_string()).unwrap_or_default()
}
