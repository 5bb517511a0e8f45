//! `proac-bench`: how fast the access concentrator's discovery engine
//! answers, and what a live session costs in it (issue 6, DESIGN.md
//! "Performance").
//!
//! In memory, one core: `--sessions` [`Client`]s with distinct MACs each run
//! PADI → PADO → PADR → PADS (RFC 2516 §5.1–5.4) against one [`Server`],
//! packets emitted and parsed on both sides, handed across directly. The
//! rate is discoveries completed per second of wall time, both sides' work
//! included. The memory figure is the growth of this process's resident
//! set (`VmRSS` in `/proc/self/status`) from before the server exists to after every
//! session is live, divided by the session count; the clients are dropped
//! before the second reading, so it is the engine's own cost (plus
//! allocator slack).
//!
//! Through the running daemon (`--daemon`, root only: exit status 2
//! otherwise): two network namespaces joined by a veth pair; proacd (the
//! `proacd` binary next to this one) answers on one end with a `local` route
//! and the userspace data plane, and this process plays propppd (it takes
//! every `PppOpen` and keeps the channel open, so the sessions stay live)
//! and `--sessions` clients with distinct MACs on an `AF_PACKET` socket on
//! the other end. Discoveries are pipelined: at most `--window` are between
//! their PADI and their PADS at any time; a PADI or PADR unanswered for a
//! second is sent again. The rate is discoveries (first PADI sent → PADS
//! received) per second of wall time; the memory figures are proacd's
//! `VmRSS` idle (propppd connected, no session) and with every session
//! live (and handed to propppd), and their difference per session.
//!
//! Usage: `proac-bench [--sessions N]` (default 10000, at most 65534),
//! `proac-bench --daemon [--sessions N] [--window W]` (W default 64).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use proac::proto::client::{Client, ClientOutput, ClientParams};
use proac::proto::packet::{eth_frame, parse_eth, EthHeader, MacAddr, ETH_P_PPP_DISC};
use proac::proto::server::{IfaceId, InterfaceParams, Limits, Output, RouteId, Server};

const IFACE: IfaceId = 1;
const AC_MAC: MacAddr = MacAddr([0x02, 0xac, 0, 0, 0, 1]);

/// What to run.
struct Opts {
    /// Sessions to open.
    sessions: usize,
    /// Through the running daemon.
    daemon: bool,
    /// Discoveries outstanding at once (daemon mode).
    window: usize,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = getopts::Options::new();
    o.optopt("", "sessions", "sessions to open (default 10000, at most 65534)", "N");
    o.optflag("", "daemon", "through a running proacd in network namespaces (root)");
    o.optopt("", "window", "daemon mode: discoveries outstanding at once (default 64)", "W");
    o.optflag("h", "help", "this help");
    let m = o.parse(std::env::args().skip(1)).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        return Err(o.usage("Usage: proac-bench [--daemon [--window W]] [--sessions N]"));
    }
    let n = match m.opt_str("sessions") {
        Some(s) => s.parse::<usize>().map_err(|_| format!("--sessions: not a number: {s}"))?,
        None => 10_000,
    };
    if n == 0 || n > 65_534 {
        return Err("--sessions must be 1..=65534".to_string());
    }
    let window = match m.opt_str("window") {
        Some(s) => s.parse::<usize>().ok().filter(|w| (1..=4096).contains(w)).ok_or(format!("--window must be 1..=4096: {s}"))?,
        None => 64,
    };
    Ok(Opts { sessions: n, daemon: m.opt_present("daemon"), window })
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`, as proppp-bench reads it).
fn rss_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn route(_: IfaceId, _: MacAddr, _: &str) -> Option<RouteId> {
    Some(0)
}

fn client_mac(i: usize) -> MacAddr {
    let b = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    MacAddr([0x02, 0x11, b[0], b[1], b[2], b[3]])
}

/// One discovery: returns true when the client is up.
fn discover(server: &mut Server, client: &mut Client, now: Instant) -> bool {
    let mut pending = client.start(now);
    let mut up = false;
    while !pending.is_empty() {
        let mut next = Vec::new();
        for o in pending {
            match o {
                ClientOutput::Send { dst, packet } => {
                    let frame = eth_frame(dst, client.our_mac(), ETH_P_PPP_DISC, &packet.emit());
                    let Ok((eth, pppoe)) = parse_eth(&frame) else { continue };
                    for so in server.input(now, IFACE, &eth, pppoe, &route) {
                        if let Output::Send { dst, packet, .. } = so {
                            let eth = EthHeader { dst, src: AC_MAC, ethertype: ETH_P_PPP_DISC };
                            next.extend(client.input(now, &eth, &packet.emit()));
                        }
                    }
                }
                ClientOutput::Up { .. } => up = true,
                ClientOutput::Failed(_) | ClientOutput::Down(_) => {}
            }
        }
        pending = next;
    }
    up
}

fn run(n: usize) -> Result<(), String> {
    let params = ClientParams {
        service_name: String::new(),
        ac_name: None,
        host_uniq: vec![0xb0, 0x0c, 0, 1],
        max_payload: None,
        timeout: Duration::from_secs(1),
        attempts: 3,
    };
    let mut clients: Vec<Client> = (0..n).map(|i| Client::new(client_mac(i), params.clone())).collect();
    let before = rss_kib().ok_or("cannot read /proc/self/status")?;
    let t0 = Instant::now();
    let limits = Limits { max_sessions: 0, max_sessions_per_mac: 0, cookie_lifetime: Duration::from_secs(60) };
    let mut server = Server::new(limits, [0x42; 32], t0);
    let ip = InterfaceParams { mac: AC_MAC, ac_name: "bench".into(), service_names: Vec::new(), max_sessions: 0, padi_rate: 0, padi_burst: 1 };
    server.set_interface(IFACE, ip);
    let start = Instant::now();
    let mut up = 0usize;
    for c in clients.iter_mut() {
        // The engine's clock: virtual, so cookies never expire during the run.
        if discover(&mut server, c, t0) {
            up += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(clients);
    let after = rss_kib().ok_or("cannot read /proc/self/status")?;
    if up != n || server.session_count() != n {
        return Err(format!("only {up} of {n} discoveries completed ({} live sessions)", server.session_count()));
    }
    let st = server.stats();
    println!("in memory: {n} discoveries (PADI, PADO, PADR, PADS; client and server) in {secs:.3} s: {:.0} discoveries/s", n as f64 / secs.max(1e-9));
    println!("server: padi_rx={} pado_tx={} padr_rx={} pads_tx={} sessions={}", st.padi_rx, st.pado_tx, st.padr_rx, st.pads_tx, server.session_count());
    let per = after.saturating_sub(before) as f64 / n as f64;
    println!("server: RSS {before} KiB before, {after} KiB with {n} sessions live: {per:.3} KiB per session");
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("proac-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.daemon && !nix::unistd::geteuid().is_root() {
        eprintln!("proac-bench: --daemon needs root (network namespaces, AF_PACKET)");
        return ExitCode::from(2);
    }
    let result = if opts.daemon { daemon::run(opts.sessions, opts.window) } else { run(opts.sessions) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proac-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--daemon`: the running proacd in a network namespace, driven over a
/// veth pair from another.
mod daemon {
    use std::collections::HashMap;
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use common::channel::{ChannelListener, Received};
    use common::ipc::{Body, Request};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use proac::proto::packet::{eth_frame, parse_eth, tag, Code, Discovery, MacAddr, ETH_P_PPP_DISC};
    use proac::sys::PacketSocket;

    /// A PADI or PADR unanswered this long is sent again.
    const RETRY: Duration = Duration::from_secs(1);
    /// The whole run gives up after this.
    const PATIENCE: Duration = Duration::from_secs(300);
    /// First octets of the clients' MACs (locally administered, unicast).
    const MAC_PREFIX: [u8; 2] = [0x02, 0xbe];

    /// The namespaces, the directory and proacd of one run; undone on drop.
    struct Lab {
        ns: [String; 2],
        dir: PathBuf,
        proacd: Option<Child>,
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            if let Some(mut c) = self.proacd.take() {
                if let Ok(pid) = i32::try_from(c.id()) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            for ns in &self.ns {
                let _ = Command::new("ip").args(["netns", "del", ns]).output();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Runs `ip ARGS`. Errors: it failed (its stderr).
    fn ip(args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// `VmRSS` of process `pid` in KiB.
    fn rss_of(pid: u32) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// A discovery socket on `ifname` in namespace `ns` (opened on a thread
    /// that entered it).
    fn socket_in(ns: &str, ifname: &str) -> Result<PacketSocket, String> {
        let path = format!("/var/run/netns/{ns}");
        let ifname = ifname.to_string();
        std::thread::spawn(move || -> Result<PacketSocket, String> {
            let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
            // SAFETY: setns with a valid namespace fd changes only this
            // thread's network namespace; the thread ends right after.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
            }
            PacketSocket::open(&ifname, ETH_P_PPP_DISC).map_err(|e| format!("packet socket on {ifname}: {e}"))
        })
        .join()
        .map_err(|_| "namespace thread panicked".to_string())?
    }

    /// The stand-in propppd: accepts proacd's connection (`connected`),
    /// keeps every `PppOpen`'s channel fd and counts them (`opens`) until
    /// `stop`.
    fn fake_propppd(listener: ChannelListener, connected: Arc<AtomicBool>, opens: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<OwnedFd>> {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut chan = None;
            while !stop.load(Ordering::Relaxed) {
                if chan.is_none() {
                    chan = listener.accept().ok().flatten();
                    connected.store(chan.is_some(), Ordering::Relaxed);
                }
                let Some(c) = chan.as_mut() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                match c.recv() {
                    Received::Message(m, fd) => {
                        if let (Body::Request(Request::PppOpen { .. }), Some(fd)) = (m.body, fd) {
                            kept.push(fd);
                            opens.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Received::Malformed(_) => {}
                    Received::Nothing => {
                        let mut fds = [PollFd::new(c.as_fd(), PollFlags::POLLIN)];
                        let _ = poll(&mut fds, PollTimeout::from(20u16));
                    }
                    Received::Closed => {
                        chan = None;
                        connected.store(false, Ordering::Relaxed);
                    }
                }
            }
            kept
        })
    }

    fn mac_of(i: usize) -> MacAddr {
        let b = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
        MacAddr([MAC_PREFIX[0], MAC_PREFIX[1], b[0], b[1], b[2], b[3]])
    }

    fn index_of(mac: MacAddr) -> Option<usize> {
        match mac.0 {
            [a, b, c, d, e, f] if [a, b] == MAC_PREFIX => usize::try_from(u32::from_be_bytes([c, d, e, f])).ok(),
            _ => None,
        }
    }

    /// Sets up the namespaces, the veth pair and proacd; returns the lab,
    /// the client-side interface name and the AC's interface name.
    fn setup() -> Result<(Lab, String, String, ChannelListener), String> {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("proac-bench-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let lab = Lab { ns: [format!("pacbench-a-{pid}"), format!("pacbench-c-{pid}")], dir, proacd: None };
        let (ns_ac, ns_cl) = (lab.ns[0].clone(), lab.ns[1].clone());
        let (if_ac, if_cl) = (format!("pbA{pid:x}"), format!("pbC{pid:x}"));
        ip(&["netns", "add", &ns_ac])?;
        ip(&["netns", "add", &ns_cl])?;
        ip(&["link", "add", &if_ac, "netns", &ns_ac, "type", "veth", "peer", "name", &if_cl, "netns", &ns_cl])?;
        for (ns, ifname) in [(&ns_ac, &if_ac), (&ns_cl, &if_cl)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
        }
        let listener = ChannelListener::bind(&lab.dir.join("propppd.chan")).map_err(|e| format!("bind stand-in propppd: {e}"))?;
        Ok((lab, if_cl, if_ac, listener))
    }

    /// Starts proacd in the AC namespace; returns its pid once its control
    /// socket exists.
    fn start_proacd(lab: &mut Lab, if_ac: &str, n: usize) -> Result<u32, String> {
        let d = |f: &str| lab.dir.join(f).display().to_string();
        let conf = format!(
            "[system]\ncontrol_socket = {}\npid_file = {}\npropppd_socket = {}\nprol2tpd_socket = {}\ndataplane = userspace\n\
             max_sessions = {n}\npadi_rate = 0\n\n[interface \"{if_ac}\"]\nac_name = bench\n\n[route \"all\"]\ndestination = local\n",
            d("ac.ctl"),
            d("ac.pid"),
            d("propppd.chan"),
            d("prol2tpd.chan"),
        );
        let conf_path = lab.dir.join("proacd.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("write {}: {e}", conf_path.display()))?;
        let bin = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("proacd");
        if !bin.exists() {
            return Err(format!("{} is missing (cargo build --release -p proacd --bins)", bin.display()));
        }
        let log = std::fs::File::create(lab.dir.join("proacd.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns[0]])
            .arg(&bin)
            .args(["-f", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start proacd: {e}"))?;
        let pid = child.id();
        lab.proacd = Some(child);
        let ctl = lab.dir.join("ac.ctl");
        if !wait(Duration::from_secs(10), || ctl.exists()) {
            return Err(format!("proacd did not start; its log:\n{}", log_of(&lab.dir)));
        }
        Ok(pid)
    }

    fn log_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("proacd.log")).unwrap_or_default()
    }

    /// Polls `cond` every millisecond until it holds or `timeout` passed.
    fn wait(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !cond() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// One client's discovery in flight.
    struct Pending {
        /// Its first PADI.
        started: Instant,
        /// Its last PADI or PADR.
        sent: Instant,
        /// The AC's MAC and cookie once the PADO came.
        offer: Option<(MacAddr, Vec<u8>)>,
    }

    fn padi() -> Vec<u8> {
        let mut d = Discovery::new(Code::Padi, 0);
        d.push(tag::SERVICE_NAME, b"");
        d.emit()
    }

    fn padr(cookie: &[u8], i: usize) -> Vec<u8> {
        let mut d = Discovery::new(Code::Padr, 0);
        d.push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, cookie).push(tag::HOST_UNIQ, &u32::try_from(i).unwrap_or(0).to_be_bytes());
        d.emit()
    }

    /// What the discovery loop measured.
    struct Run {
        secs: f64,
        retries: u64,
        mean_ms: f64,
    }

    /// Runs `n` discoveries with at most `window` in flight.
    fn discoveries(sock: &PacketSocket, n: usize, window: usize) -> Result<Run, String> {
        let padi = padi();
        let mut pending: HashMap<usize, Pending> = HashMap::with_capacity(window);
        let (mut next, mut done, mut retries) = (0usize, 0usize, 0u64);
        let mut total_latency = Duration::ZERO;
        let mut buf = vec![0u8; 2048];
        let mut last_scan = Instant::now();
        let start = Instant::now();
        while done < n {
            while pending.len() < window && next < n {
                let now = Instant::now();
                let _ = sock.send(&eth_frame(MacAddr::BROADCAST, mac_of(next), ETH_P_PPP_DISC, &padi));
                pending.insert(next, Pending { started: now, sent: now, offer: None });
                next += 1;
            }
            let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(10u16));
            while let Ok(Some(len)) = sock.recv(&mut buf) {
                let Some((eth, pppoe)) = buf.get(..len).and_then(|f| parse_eth(f).ok()) else { continue };
                let Some(i) = index_of(eth.dst) else { continue };
                let Ok(d) = Discovery::parse(pppoe) else { continue };
                let Some(p) = pending.get_mut(&i) else { continue };
                match d.code {
                    Code::Pado if p.offer.is_none() => {
                        let cookie = d.tag(tag::AC_COOKIE).unwrap_or_default().to_vec();
                        let _ = sock.send(&eth_frame(eth.src, eth.dst, ETH_P_PPP_DISC, &padr(&cookie, i)));
                        p.sent = Instant::now();
                        p.offer = Some((eth.src, cookie));
                    }
                    Code::Pads if d.session_id != 0 => {
                        total_latency += p.started.elapsed();
                        pending.remove(&i);
                        done += 1;
                    }
                    Code::Pads => return Err(format!("PADS without a session for client {i}: {d:?}")),
                    _ => {}
                }
            }
            let now = Instant::now();
            if now.duration_since(last_scan) >= Duration::from_millis(100) {
                last_scan = now;
                for (i, p) in pending.iter_mut().filter(|(_, p)| now.duration_since(p.sent) >= RETRY) {
                    let frame = match &p.offer {
                        Some((ac, cookie)) => eth_frame(*ac, mac_of(*i), ETH_P_PPP_DISC, &padr(cookie, *i)),
                        None => eth_frame(MacAddr::BROADCAST, mac_of(*i), ETH_P_PPP_DISC, &padi),
                    };
                    let _ = sock.send(&frame);
                    p.sent = now;
                    retries += 1;
                }
                if start.elapsed() > PATIENCE {
                    return Err(format!("only {done} of {n} discoveries in {} s", PATIENCE.as_secs()));
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        Ok(Run { secs, retries, mean_ms: total_latency.as_secs_f64() * 1000.0 / n.max(1) as f64 })
    }

    /// The `--daemon` run.
    pub fn run(n: usize, window: usize) -> Result<(), String> {
        let (mut lab, if_cl, if_ac, listener) = setup()?;
        let (connected, opens, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let fake = fake_propppd(listener, connected.clone(), opens.clone(), stop.clone());
        let pid = start_proacd(&mut lab, &if_ac, n)?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "proacd" {
            return Err(format!("pid {pid} is `{}`, not proacd", comm.trim()));
        }
        if !wait(Duration::from_secs(10), || connected.load(Ordering::Relaxed)) {
            return Err(format!("proacd never connected to the stand-in propppd; its log:\n{}", log_of(&lab.dir)));
        }
        let sock = socket_in(&lab.ns[1], &if_cl)?;
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBuf, &(4 << 20));
        let idle = rss_of(pid).ok_or("cannot read proacd's /proc/PID/status")?;
        let r = discoveries(&sock, n, window)?;
        if !wait(Duration::from_secs(30), || opens.load(Ordering::Relaxed) >= n) {
            return Err(format!("the stand-in propppd got {} of {n} PppOpens", opens.load(Ordering::Relaxed)));
        }
        let live = rss_of(pid).ok_or("cannot read proacd's /proc/PID/status")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        println!(
            "daemon: {n} discoveries (PADI sent -> PADS received, window {window}) in {:.3} s: {:.0} discoveries/s, mean {:.2} ms each, {} retransmissions",
            r.secs,
            n as f64 / r.secs.max(1e-9),
            r.mean_ms,
            r.retries
        );
        let per = live.saturating_sub(idle) as f64 / n as f64;
        println!("daemon: proacd RSS {idle} KiB idle, {live} KiB with {n} sessions live (userspace plane, {fds} fds): {per:.3} KiB per session");
        // proacd ends first (PADT for every session), then the stand-in.
        drop(lab);
        stop.store(true, Ordering::Relaxed);
        let kept = fake.join().map_err(|_| "stand-in propppd panicked")?;
        drop(kept);
        Ok(())
    }
}
