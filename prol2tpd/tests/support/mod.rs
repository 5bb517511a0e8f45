//! Support for integration tests that run real processes in network
//! namespaces on the host (test layer 5 in DESIGN.md).
//!
//! The model: a test creates [`Netns`]es (each with `lo` up), joins them with
//! [`link_veth`] using documentation addresses only (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), writes configuration into
//! a [`TempDir`], starts processes with [`Netns::spawn`] (each a [`Child`] that
//! is killed on drop and keeps its output in a log file), and waits for
//! conditions with [`wait_until`] instead of sleeping. [`NetnsCapture`]
//! records what goes on the wire and decodes it with `tshark`.
//! [`xl2tpd_lns`] / [`xl2tpd_lac`] run xl2tpd as a peer; [`Prol2tpd`] (in
//! `daemon.rs`) runs prol2tpd itself, reads its `key=value` log events and
//! drives its `prol2tp` CLI. [`two_netns`] makes the usual two hosts.
//!
//! Every test must start with `if !support::require_root_and_netns() { return; }`
//! (and [`require_programs`] for the peers and capture tools it uses) so that
//! it skips (with a visible SKIP line) where it cannot run.
//!
//! Set `PROL2TP_KEEP_TMP=1` to keep temporary directories (configs, logs,
//! captures) after a test for inspection.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Fake PPP sides of channel connections (propppd, proacd).
pub mod chan;
mod daemon;
/// Hook-script directories and checks (tests of prol2tp-scriptd).
pub mod scripts;

// Not every test crate uses the prol2tpd harness (netns_smoke does not).
#[allow(unused_imports)]
pub use daemon::*;

/// Source of unique suffixes for namespace, interface and directory names
/// within this test process (combined with the process id across processes).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns a number unique within this process.
fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Polls `cond` every 10 ms until it returns true or `timeout` has passed.
/// Returns the last result of `cond` (true if the condition was met).
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

/// Returns true when the test can use network namespaces: it runs as root and
/// `ip netns` works. Otherwise prints `SKIP: <reason>` and returns false.
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

/// Returns true when `prog` is found in `PATH` (or is an existing path).
pub fn have_program(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file())).unwrap_or(false)
}

/// Returns true when every program in `progs` is found in `PATH`.
/// Otherwise prints `SKIP: <prog> not installed …` for the first missing one
/// and returns false.
pub fn require_programs(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have_program(p)) {
        None => true,
        Some(prog) => {
            println!("SKIP: {prog} not installed (make check installs it)");
            false
        }
    }
}

/// Path of the `prol2tpd` binary Cargo built for this test run.
pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prol2tpd"))
}

/// Root of the repository (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Runs a host command and panics with its output if it fails (test set-up
/// steps whose failure makes the test meaningless).
fn run_ok(args: &[&str]) -> Output {
    let (prog, rest) = args.split_first().expect("empty command");
    let out = Command::new(prog).args(rest).output().unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A temporary directory, removed on drop unless `PROL2TP_KEEP_TMP` is set.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/prol2tp-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("prol2tp-{tag}-{}-{}", std::process::id(), next_id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` (relative, parent directories created) and
    /// returns the full path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Full path of `name` inside the directory (not created).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PROL2TP_KEEP_TMP").is_some() {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A network namespace created for one test; deleted on drop after killing
/// every process still running in it.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `p2t-<tag>-<pid>-<n>` with `lo` up. Panics on failure.
    pub fn new(tag: &str) -> Netns {
        let name = format!("p2t-{tag}-{}-{}", std::process::id(), next_id());
        run_ok(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        run_ok(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `cmd` in the namespace, waits for it and returns its output.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.name]).args(cmd).output().unwrap_or_else(|e| panic!("cannot run {cmd:?} in {}: {e}", self.name))
    }

    /// Like [`Netns::exec`] but panics unless the command succeeds.
    pub fn exec_ok(&self, cmd: &[&str]) -> Output {
        let out = self.exec(cmd);
        assert!(out.status.success(), "{cmd:?} in {} failed: {}{}", self.name, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Starts `cmd` in the namespace with stdout and stderr appended to `log`.
    pub fn spawn(&self, cmd: &[&str], log: &Path) -> Child {
        self.spawn_env(cmd, &[], log)
    }

    /// Like [`Netns::spawn`], with extra environment variables.
    pub fn spawn_env(&self, cmd: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
        let file = fs::OpenOptions::new().create(true).append(true).open(log).unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = file.try_clone().unwrap_or_else(|e| panic!("dup log: {e}"));
        // `ip netns exec` execs the command, so the pid is the command's.
        let process = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(cmd)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?} in {}: {e}", self.name));
        Child { what: cmd.join(" "), process, log: log.to_path_buf() }
    }

    /// Process ids running in the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
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

/// Interface names of a veth pair made by [`link_veth`].
#[derive(Debug, Clone)]
pub struct VethPair {
    /// Interface name inside the first namespace.
    pub a: String,
    /// Interface name inside the second namespace.
    pub b: String,
}

/// Joins `a` and `b` with a veth pair, assigns the addresses (CIDR notation,
/// e.g. `192.0.2.1/24`, `2001:db8::1/64`; IPv6 ones with `nodad` so they are
/// usable at once) and brings both ends up. Interface names are unique per
/// host (at most 15 characters) and returned.
pub fn link_veth(a: &Netns, b: &Netns, a_addrs: &[&str], b_addrs: &[&str]) -> VethPair {
    let id = format!("{:x}x{:x}", std::process::id(), next_id());
    let pair = VethPair { a: format!("va{id}"), b: format!("vb{id}") };
    assert!(pair.a.len() <= 15, "interface name too long: {}", pair.a);
    run_ok(&["ip", "link", "add", &pair.a, "netns", a.name(), "type", "veth", "peer", "name", &pair.b, "netns", b.name()]);
    for (ns, ifname, addrs) in [(a, &pair.a, a_addrs), (b, &pair.b, b_addrs)] {
        for addr in addrs {
            let mut cmd = vec!["ip", "-n", ns.name(), "addr", "add", addr, "dev", ifname];
            if addr.contains(':') {
                cmd.push("nodad");
            }
            run_ok(&cmd);
        }
        run_ok(&["ip", "-n", ns.name(), "link", "set", ifname, "up"]);
    }
    pair
}

/// The set-up of a one-host test: `None` (after a SKIP line) unless
/// [`require_root_and_netns`]; otherwise a namespace and a temporary
/// directory named after `tag`.
pub fn one_host(tag: &str) -> Option<(Netns, TempDir)> {
    if !require_root_and_netns() {
        return None;
    }
    Some((Netns::new(tag), TempDir::new(tag)))
}

/// Two hosts: creates namespaces tagged `a_tag` and `b_tag` (see
/// [`Netns::new`]) and joins them with [`link_veth`] using `a_addrs` and
/// `b_addrs`.
pub fn two_netns(a_tag: &str, b_tag: &str, a_addrs: &[&str], b_addrs: &[&str]) -> (Netns, Netns, VethPair) {
    let a = Netns::new(a_tag);
    let b = Netns::new(b_tag);
    let veth = link_veth(&a, &b, a_addrs, b_addrs);
    (a, b, veth)
}

/// A process started by [`Netns::spawn`]. Dropping it sends SIGTERM, waits up
/// to 2 s, then SIGKILLs.
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

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Polls until the log contains `needle`; false after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    /// Exit status if the process has ended (None while it runs).
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// Sends `sig` to the process (ignored if it has ended).
    pub fn signal(&self, sig: Signal) {
        if let Ok(pid) = i32::try_from(self.process.id()) {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit, then SIGKILLs.
    /// Returns the exit status if the process ended by itself in time.
    pub fn stop(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.stop_with(Signal::SIGTERM, timeout)
    }

    /// Sends `sig`, waits up to `timeout`, then SIGKILLs.
    pub fn stop_with(&mut self, sig: Signal, timeout: Duration) -> Option<std::process::ExitStatus> {
        if let Some(st) = self.try_exit() {
            return Some(st);
        }
        self.signal(sig);
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

/// A packet capture (`tcpdump --immediate-mode -U`, classic pcap format)
/// running on one interface of a namespace. Each packet is written to the
/// file as soon as it is seen, so [`NetnsCapture::wait_for`] can poll it.
pub struct NetnsCapture {
    child: Child,
    pcap: PathBuf,
}

impl NetnsCapture {
    /// Starts capturing on `iface` in `ns` into `<dir>/<name>.pcap` with the
    /// capture filter `filter` (BPF syntax, e.g. `udp port 1701`, or "" for
    /// everything). Returns once tcpdump reports that it is listening.
    pub fn start(ns: &Netns, iface: &str, filter: &str, dir: &TempDir, name: &str) -> NetnsCapture {
        let pcap = dir.join(&format!("{name}.pcap"));
        let log = dir.join(&format!("{name}.tcpdump.log"));
        let pcap_s = pcap.to_string_lossy().into_owned();
        let mut cmd = vec!["tcpdump", "-Z", "root", "--immediate-mode", "-U", "-n", "-i", iface, "-w", &pcap_s];
        if !filter.is_empty() {
            cmd.push(filter);
        }
        let child = ns.spawn(&cmd, &log);
        assert!(child.wait_log("listening on", Duration::from_secs(10)), "tcpdump did not start: {}", child.log());
        NetnsCapture { child, pcap }
    }

    /// Path of the pcap file (complete up to the last packet seen).
    pub fn path(&self) -> &Path {
        &self.pcap
    }

    /// Polls until at least one captured packet matches `display_filter`
    /// (tshark syntax, e.g. `l2tp.avp.message_type == 4`); false after
    /// `timeout`. The capture keeps running.
    pub fn wait_for(&self, display_filter: &str, timeout: Duration) -> bool {
        wait_until(timeout, || !tshark(&self.pcap, &["-Y", display_filter]).trim().is_empty())
    }

    /// Stops the capture (SIGINT) and returns the pcap path.
    pub fn stop(&mut self) -> PathBuf {
        self.child.stop_with(Signal::SIGINT, Duration::from_secs(5));
        self.pcap.clone()
    }

    /// Stops the capture and returns `tshark -r FILE -V -Y <display_filter>`
    /// (full decoding of the matching packets, e.g. filter `l2tp`).
    pub fn decode(&mut self, display_filter: &str) -> String {
        tshark(&self.stop(), &["-V", "-Y", display_filter])
    }

    /// Stops the capture and returns one summary line per matching packet
    /// (`tshark -r FILE -Y <display_filter>`).
    pub fn summary(&mut self, display_filter: &str) -> String {
        tshark(&self.stop(), &["-Y", display_filter])
    }
}

/// Runs `tshark -r pcap ARGS...` and returns its stdout.
pub fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark").arg("-r").arg(pcap).args(args).output().unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Settings for an xl2tpd peer (see tests/xl2tpd/README.md).
#[derive(Debug, Clone)]
pub struct Xl2tpdOpts {
    /// Host Name AVP xl2tpd sends (`hostname =`).
    pub hostname: String,
    /// Tunnel secret; `Some` turns on `challenge = yes` and writes an
    /// l2tp-secrets file `* * SECRET`.
    pub secret: Option<String>,
    /// `hidden bit = yes` (xl2tpd then adds a Random Vector AVP to every
    /// message but hides nothing; it does decode hidden AVPs).
    pub hidden: bool,
    /// UDP port, local and (for a LAC) of the LNS. Default 1701.
    pub port: u16,
    /// LAC only: dial at start-up (`autodial = yes`); otherwise use
    /// [`Xl2tpd::dial`].
    pub autodial: bool,
    /// Replace `/usr/sbin/pppd` (inside xl2tpd's own mount namespace only)
    /// by tests/xl2tpd/fake-pppd, which keeps the call up until killed. With
    /// false, the real pppd fails at once on hosts without /dev/ppp and
    /// xl2tpd clears the call with a CDN.
    pub fake_pppd: bool,
}

impl Default for Xl2tpdOpts {
    fn default() -> Self {
        Xl2tpdOpts { hostname: "xl2tpd.example".into(), secret: None, hidden: false, port: 1701, autodial: true, fake_pppd: true }
    }
}

/// A running xl2tpd (foreground, `-D`) with its files in a private directory.
pub struct Xl2tpd {
    /// The process; its log holds xl2tpd's debug output.
    pub child: Child,
    /// Control FIFO (`-C`).
    pub control: PathBuf,
    /// Directory where the fake pppd records `pppd.<pid>` files.
    pub ppp_dir: PathBuf,
}

const LNS_TEMPLATE: &str = include_str!("../../../tests/xl2tpd/lns.conf.in");
const LAC_TEMPLATE: &str = include_str!("../../../tests/xl2tpd/lac.conf.in");

/// Starts xl2tpd as LNS (section `[lns default]`, accepting any LAC) in `ns`,
/// files under `<dir>/<role>/`. Returns once it listens.
pub fn xl2tpd_lns(ns: &Netns, dir: &TempDir, role: &str, opts: &Xl2tpdOpts) -> Xl2tpd {
    start_xl2tpd(ns, dir, role, LNS_TEMPLATE, opts, "")
}

/// Starts xl2tpd as LAC (section `[lac test]`) in `ns` towards the LNS at
/// `lns_addr` (IPv4 address or name; xl2tpd 1.3 has no IPv6 support), files
/// under `<dir>/<role>/`. Returns once it listens; with `opts.autodial` it
/// dials at once, otherwise call [`Xl2tpd::dial`].
pub fn xl2tpd_lac(ns: &Netns, dir: &TempDir, role: &str, opts: &Xl2tpdOpts, lns_addr: &str) -> Xl2tpd {
    start_xl2tpd(ns, dir, role, LAC_TEMPLATE, opts, lns_addr)
}

fn start_xl2tpd(ns: &Netns, dir: &TempDir, role: &str, template: &str, opts: &Xl2tpdOpts, lns_addr: &str) -> Xl2tpd {
    let sub = |name: &str| dir.join(&format!("{role}/{name}"));
    let secrets = dir.write(&format!("{role}/l2tp-secrets"), &opts.secret.as_ref().map(|s| format!("* * {s}\n")).unwrap_or_default());
    let pppopts = dir.write(&format!("{role}/ppp.options"), "noauth\n");
    let ppp_dir = sub("ppp");
    fs::create_dir_all(&ppp_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let conf = template
        .replace("@LISTEN_ADDR@", "0.0.0.0")
        .replace("@PORT@", &opts.port.to_string())
        .replace("@AUTH_FILE@", &secrets.to_string_lossy())
        .replace("@HOSTNAME@", &opts.hostname)
        .replace("@CHALLENGE@", yes_no(opts.secret.is_some()))
        .replace("@HIDDEN@", yes_no(opts.hidden))
        .replace("@PPPOPTFILE@", &pppopts.to_string_lossy())
        .replace("@LNS_ADDR@", lns_addr)
        .replace("@AUTODIAL@", yes_no(opts.autodial));
    let conf = dir.write(&format!("{role}/xl2tpd.conf"), &conf);
    let control = sub("l2tp-control");
    let pid = sub("xl2tpd.pid");
    let (conf_s, pid_s, ctl_s) = (conf.to_string_lossy().into_owned(), pid.to_string_lossy().into_owned(), control.to_string_lossy().into_owned());
    let fake = repo_root().join("tests/xl2tpd/fake-pppd");
    let fake_s = fake.to_string_lossy().into_owned();
    let ppp_dir_s = ppp_dir.to_string_lossy().into_owned();
    let xl2tpd = ["xl2tpd", "-D", "-c", &conf_s, "-p", &pid_s, "-C", &ctl_s];
    let log = sub("xl2tpd.log");
    let child = if opts.fake_pppd {
        // `ip netns exec` gives the command a private mount namespace, so the
        // bind mount hides the real pppd from this xl2tpd only.
        let script = r#"mount --bind "$0" /usr/sbin/pppd && exec "$@""#;
        let mut cmd = vec!["sh", "-c", script, &fake_s];
        cmd.extend(xl2tpd);
        ns.spawn_env(&cmd, &[("FAKE_PPPD_DIR", &ppp_dir_s)], &log)
    } else {
        ns.spawn(&xl2tpd, &log)
    };
    assert!(child.wait_log("Listening on IP address", Duration::from_secs(10)), "xl2tpd {role} did not start: {}", child.log());
    Xl2tpd { child, control, ppp_dir }
}

impl Xl2tpd {
    /// Writes one command line to the control FIFO: `c test` dials the LAC
    /// section, `d test` drops its tunnel (StopCCN). Fails if xl2tpd is not
    /// reading the FIFO.
    pub fn control_cmd(&self, cmd: &str) -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&self.control)?;
        f.write_all(format!("{cmd}\n").as_bytes())
    }

    /// Dials the LAC section (`c test`).
    pub fn dial(&self) -> std::io::Result<()> {
        self.control_cmd("c test")
    }

    /// Drops the LAC's tunnel (`d test`): xl2tpd sends StopCCN.
    pub fn hangup_tunnel(&self) -> std::io::Result<()> {
        self.control_cmd("d test")
    }

    /// Pids of the fake pppd processes currently running for this xl2tpd.
    pub fn fake_pppd_pids(&self) -> Vec<i32> {
        fs::read_dir(&self.ppp_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("pppd.")).and_then(|p| p.parse().ok())).collect()
            })
            .unwrap_or_default()
    }

    /// Ends every call of this xl2tpd by killing its fake pppd processes;
    /// xl2tpd then sends CDN (Result Code 1). Returns how many were killed.
    pub fn end_calls(&self) -> usize {
        let pids = self.fake_pppd_pids();
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        pids.len()
    }

    /// Polls until xl2tpd's log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        self.child.wait_log(needle, timeout)
    }
}

/// Every `"key":number` pair of flat JSON output (`prol2tp -j`); for
/// arrays, the last value of a key wins.
pub fn json_nums(json: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let mut rest = json;
    while let Some(q) = rest.find("\":") {
        let key_start = rest.get(..q).and_then(|s| s.rfind('"')).map_or(0, |i| i + 1);
        let key = rest.get(key_start..q).unwrap_or("").to_string();
        let tail = rest.get(q + 2..).unwrap_or("");
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.insert(key, n);
        }
        rest = tail;
    }
    out
}
