//! Network namespaces of one test ([`Netns`]), veth pairs between them
//! ([`link_veth`]), code run inside one ([`in_netns`]) and packet captures
//! in one ([`NetnsCapture`]).

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::process::{run_ok, wait_until, Child};
use crate::skip::require_root_and_netns;
use crate::tempdir::TempDir;

/// A network namespace created for one test; deleted on drop after killing
/// every process still running in it (only the test's own: the namespace
/// is the test's).
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `p2t-<tag>-<pid>-<n>` with `lo` up. Panics on
    /// failure.
    pub fn new(tag: &str) -> Netns {
        let name = format!("p2t-{tag}-{}-{}", std::process::id(), crate::next_id());
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
    /// Panics if it cannot start.
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
        Child::new(cmd.join(" "), process, log.to_path_buf())
    }

    /// Process ids running in the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The IPv4 `inet LOCAL peer PEER/32` of a point-to-point device in the
    /// namespace (a PPP unit's TUN), if there is one.
    pub fn ptp_addr(&self) -> Option<(String, String)> {
        let out = self.exec(&["ip", "-4", "-o", "addr", "show"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "inet").skip(1);
            let local = w.next()?.to_string();
            (w.next()? == "peer").then_some(())?;
            let peer = w.next()?.trim_end_matches("/32").to_string();
            Some((local, peer))
        })
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
/// host (at most 15 characters) and returned. Panics on failure.
pub fn link_veth(a: &Netns, b: &Netns, a_addrs: &[&str], b_addrs: &[&str]) -> VethPair {
    let id = format!("{:x}x{:x}", std::process::id(), crate::next_id());
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

/// Runs `f` on a thread inside `ns` and returns its result: sockets it
/// creates belong to the namespace (packet sockets see its interfaces;
/// autobound unix sockets get addresses its processes can answer).
/// Panics when the namespace cannot be joined or `f` panics.
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    in_netns_named(ns.name(), f)
}

/// [`in_netns`] for a namespace known by name (`/run/netns/<name>`), e.g.
/// one a harness remembers without borrowing its [`Netns`].
pub fn in_netns_named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{name}");
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
    /// everything). Returns once tcpdump reports that it is listening
    /// (panics after 10 s).
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

/// Runs `tshark -r pcap ARGS...` and returns its stdout. Panics if tshark
/// cannot start.
pub fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark").arg("-r").arg(pcap).args(args).output().unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
