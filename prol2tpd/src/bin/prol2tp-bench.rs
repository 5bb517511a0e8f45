//! `prol2tp-bench`: setup rate and memory of a real prol2tpd LNS (DESIGN.md
//! "Performance").
//!
//! The load generator is the crate's own sans-IO [`Endpoint`] acting as many
//! LAC tunnels over one UDP socket, driven by a small poll(2) loop. Each
//! phase starts a fresh `prol2tpd` LNS (pinned with `taskset` when asked)
//! listening on loopback, opens tunnels and sessions against it, and reads
//! the LNS's resident memory (`VmRSS` in `/proc/PID/status`):
//!
//! 1. 1,000 tunnels with one session each: tunnels per second;
//! 2. 10 tunnels, then 10,000 sessions in them: sessions per second, KiB
//!    per session;
//! 3. 8 tunnels, then 65,535 sessions (L2TPv2 Session IDs are 16 bits per
//!    tunnel, RFC 2661 §3.1, so they are spread over several tunnels).
//!
//! At most `--concurrency` tunnel or session setups are in progress at once
//! (default 64), so that bursts do not overflow the LNS's socket buffer and
//! turn into retransmission timeouts. Rates are measured on the generator:
//! from the first SCCRQ/ICRQ sent to the last tunnel or session it saw
//! established.
//!
//! Usage: `prol2tp-bench [--daemon PATH] [--daemon-cpu N] [--port P]
//! [--concurrency N] [--quick]`. `make bench` builds in release and runs it
//! with the generator on CPU 1 and the daemon on CPU 0.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::rng::Rng;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use prol2tp::proto::endpoint::{Endpoint, EndpointConfig, Event};
use prol2tp::proto::header::Transport;
use prol2tp::proto::session::{CallType, SessionParams};
use prol2tp::proto::tunnel::TunnelParams;

/// Longest a phase may take before the run is declared failed.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);

/// Command-line settings.
struct Opts {
    /// The prol2tpd binary (default: next to this one).
    daemon: PathBuf,
    /// CPU to pin the daemon to with `taskset -c`, if any.
    daemon_cpu: Option<u32>,
    /// UDP port the LNS listens on (127.0.0.1).
    port: u16,
    /// Most setups in progress at once.
    concurrency: usize,
    /// Smaller counts (a smoke run for tests).
    quick: bool,
    /// `rx_window_size` of the LNS's tunnel profile (daemon default if unset).
    lns_window: Option<u16>,
}

fn parse_opts() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = getopts::Options::new();
    o.optopt("", "daemon", "prol2tpd binary", "PATH");
    o.optopt("", "daemon-cpu", "pin the daemon to this CPU (taskset -c)", "N");
    o.optopt("", "port", "UDP port of the LNS on 127.0.0.1 (default 17701)", "PORT");
    o.optopt("", "concurrency", "setups in progress at once (default 64)", "N");
    o.optflag("", "quick", "small counts (smoke test)");
    o.optopt("", "lns-window", "rx_window_size of the LNS (default: the daemon's, 10)", "N");
    o.optflag("h", "help", "print this help");
    let m = o.parse(&args).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        return Err(o.usage("Usage: prol2tp-bench [options]"));
    }
    let num = |name: &str, default: u64, max: u64| -> Result<u64, String> {
        match m.opt_str(name) {
            None => Ok(default),
            Some(s) => s.parse::<u64>().ok().filter(|n| *n <= max).ok_or(format!("--{name}: '{s}' is not a number up to {max}")),
        }
    };
    let daemon = match m.opt_str("daemon") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("prol2tpd"),
    };
    let daemon_cpu = m.opt_str("daemon-cpu").map(|s| s.parse::<u32>().map_err(|_| format!("--daemon-cpu: '{s}'"))).transpose()?;
    Ok(Opts {
        daemon,
        daemon_cpu,
        port: u16::try_from(num("port", 17_701, 65_535)?).map_err(|e| e.to_string())?,
        concurrency: usize::try_from(num("concurrency", 64, 65_535)?.max(1)).map_err(|e| e.to_string())?,
        quick: m.opt_present("quick"),
        lns_window: m.opt_str("lns-window").map(|s| s.parse::<u16>().ok().filter(|w| *w >= 1).ok_or(format!("--lns-window: '{s}'"))).transpose()?,
    })
}

/// A running LNS, killed on drop.
struct Lns {
    child: Child,
    dir: PathBuf,
}

impl Lns {
    /// Writes a config accepting any peer and starts prol2tpd in the
    /// foreground on 127.0.0.1:`port`; returns once its control socket
    /// exists (it is created after the UDP socket is bound).
    fn start(opts: &Opts, tag: &str) -> Result<Lns, String> {
        let dir = std::env::temp_dir().join(format!("prol2tp-bench-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let conf = dir.join("lns.conf");
        let window = opts.lns_window.map_or(String::new(), |w| format!("rx_window_size = {w}\n"));
        let text = format!(
            "[system]\ndataplane = null\nhost_name = lns.bench\nlisten = 127.0.0.1\nmax_halfopen_tunnels = 0\n\n\
             [tunnel_profile \"lns\"]\nhello_timeout = 0\n{window}\n[peer_profile \"bench\"]\npeer = 127.0.0.0/8\ntunnel_profile = lns\n"
        );
        std::fs::write(&conf, text).map_err(|e| format!("write {}: {e}", conf.display()))?;
        let ctl = dir.join("lns.ctl");
        let port = opts.port.to_string();
        let conf_s = conf.to_string_lossy().into_owned();
        let args = ["-f", "-c", conf_s.as_str(), "-u", port.as_str()];
        let mut cmd = match opts.daemon_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&opts.daemon);
                c
            }
            None => Command::new(&opts.daemon),
        };
        let log = std::fs::File::create(dir.join("lns.log")).map_err(|e| e.to_string())?;
        let child = cmd
            .args(args)
            .env("PROL2TP_CONTROL", &ctl)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", opts.daemon.display()))?;
        let mut lns = Lns { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ctl.exists() {
            if let Ok(Some(st)) = lns.child.try_wait() {
                return Err(format!("prol2tpd exited ({st}); see {}", lns.dir.join("lns.log").display()));
            }
            if Instant::now() > deadline {
                return Err("prol2tpd did not start within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(lns)
    }

    /// Resident memory of the daemon, KiB.
    fn rss_kib(&self) -> u64 {
        vm_rss_kib(self.child.id()).unwrap_or(0)
    }

    /// Fails when the daemon has exited.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(st)) => Err(format!("prol2tpd exited ({st}); see {}", self.dir.join("lns.log").display())),
            _ => Ok(()),
        }
    }
}

impl Drop for Lns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("PROL2TP_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `VmRSS` of process `pid` in KiB.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) process `pid` has used, in seconds
/// (`/proc/PID/stat` fields 14 and 15, in clock ticks of 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = stat.rfind(')').and_then(|i| stat.get(i + 1..)).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After ')': state is field 3, so utime (14) and stime (15) are at 11, 12.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Datagrams the kernel dropped on the UDP socket bound to 127.0.0.1:`port`
/// (last column of `/proc/net/udp`).
fn udp_drops(port: u16) -> u64 {
    let text = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    text.lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(1) == Some(local.as_str()))
        .filter_map(|l| l.split_whitespace().last().and_then(|d| d.parse::<u64>().ok()))
        .sum()
}

/// The load generator: one [`Endpoint`] of LAC tunnels on one socket.
struct Generator {
    ep: Endpoint,
    sock: UdpSocket,
    local: SocketAddr,
    lns: SocketAddr,
    buf: Vec<u8>,
    tunnels_up: Vec<u32>,
    sessions_up: usize,
    failures: usize,
    /// Print progress every second (`--progress`).
    progress: bool,
}

impl Generator {
    fn new(lns: SocketAddr) -> Result<Generator, String> {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let cfg = EndpointConfig { host_name: "lac.bench".into(), ..EndpointConfig::default() };
        let ep = Endpoint::new(cfg, Rng::from_entropy(), Instant::now());
        Ok(Generator {
            ep,
            sock,
            local,
            lns,
            buf: vec![0; 65_536],
            tunnels_up: Vec::new(),
            sessions_up: 0,
            failures: 0,
            progress: std::env::var_os("PROL2TP_BENCH_PROGRESS").is_some(),
        })
    }

    fn tunnel_params(&self) -> Rc<TunnelParams> {
        Rc::new(TunnelParams { peer: Some(self.lns), hello_interval: None, rx_window_size: 64, ..TunnelParams::default() })
    }

    /// Sends what the endpoint queued, reads what arrived, runs due timers
    /// and tallies events; waits up to 10 ms for input when idle.
    fn step(&mut self) -> Result<(), String> {
        let mut busy = false;
        while let Some(t) = self.ep.poll_transmit() {
            busy = true;
            match self.sock.send_to(&t.bytes, t.to) {
                Ok(_) => {}
                // A full send buffer loses the datagram; the core retransmits.
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        loop {
            match self.sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    busy = true;
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    self.ep.handle_datagram(Instant::now(), Some(self.local), from, Transport::Udp, data);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
        let now = Instant::now();
        if self.ep.poll_timeout().is_some_and(|d| d <= now) {
            self.ep.handle_timeout(now);
            busy = true;
        }
        while let Some(ev) = self.ep.poll_event() {
            busy = true;
            match ev {
                Event::TunnelUp(t) => self.tunnels_up.push(t.tunnel_id),
                Event::SessionUp(_) => self.sessions_up += 1,
                Event::TunnelDown { .. } | Event::SessionDown { .. } => self.failures += 1,
                _ => {}
            }
        }
        if !busy {
            let wait = self.ep.poll_timeout().map_or(10, |d| d.saturating_duration_since(Instant::now()).as_millis().min(10));
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(u16::try_from(wait).unwrap_or(10)));
        }
        Ok(())
    }

    /// Opens `n` tunnels, each with `sessions_each` sessions, at most
    /// `concurrency` tunnels in setup at once; returns when all sessions
    /// (or, with none, all tunnels) are up. Errors: a tunnel or session
    /// failed, or the phase timed out.
    fn open_tunnels(&mut self, n: usize, sessions_each: usize, concurrency: usize, lns: &mut Lns) -> Result<Duration, String> {
        let start = Instant::now();
        let params = self.tunnel_params();
        let sp = Rc::new(SessionParams::default());
        let mut opened = 0;
        let base_up = self.tunnels_up.len();
        let base_sessions = self.sessions_up;
        loop {
            let up = self.tunnels_up.len() - base_up;
            while opened < n && opened - up < concurrency {
                let tid = self.ep.create_tunnel(Instant::now(), params.clone()).map_err(|e| format!("create tunnel: {e}"))?;
                for _ in 0..sessions_each {
                    self.ep.create_session(Instant::now(), tid, CallType::IncomingLac, sp.clone()).map_err(|e| format!("create session: {e}"))?;
                }
                opened += 1;
            }
            let done = if sessions_each == 0 { up >= n } else { self.sessions_up - base_sessions >= n * sessions_each };
            if done {
                return Ok(start.elapsed());
            }
            self.check(start, lns)?;
            self.step()?;
        }
    }

    /// Opens `n` sessions spread evenly over the tunnels already up, at
    /// most `concurrency` in setup at once.
    fn open_sessions(&mut self, n: usize, concurrency: usize, lns: &mut Lns) -> Result<Duration, String> {
        let start = Instant::now();
        let sp = Rc::new(SessionParams::default());
        let tunnels = self.tunnels_up.clone();
        if tunnels.is_empty() {
            return Err("no tunnel is up".into());
        }
        let base = self.sessions_up;
        let mut opened = 0usize;
        let mut last_report = Instant::now();
        loop {
            let up = self.sessions_up - base;
            while opened < n && opened - up < concurrency {
                let tid = tunnels.get(opened % tunnels.len()).copied().unwrap_or(0);
                self.ep.create_session(Instant::now(), tid, CallType::IncomingLac, sp.clone()).map_err(|e| format!("create session {opened}: {e}"))?;
                opened += 1;
            }
            if up >= n {
                return Ok(start.elapsed());
            }
            if self.progress && last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                let mut states = std::collections::BTreeMap::new();
                for t in self.ep.tunnels() {
                    for s in t.sessions() {
                        *states.entry(s.state.name()).or_insert(0usize) += 1;
                    }
                }
                eprintln!("progress: {up}/{n} sessions up after {:.1} s; generator sessions by state: {states:?}", start.elapsed().as_secs_f64());
            }
            self.check(start, lns)?;
            self.step()?;
        }
    }

    fn check(&self, start: Instant, lns: &mut Lns) -> Result<(), String> {
        if self.failures > 0 {
            return Err(format!("{} tunnels or sessions went down during setup", self.failures));
        }
        if start.elapsed() > PHASE_TIMEOUT {
            return Err(format!("phase timed out after {} s", PHASE_TIMEOUT.as_secs()));
        }
        lns.check_alive()
    }

    /// Keeps the loop running for `d` (lets the LNS process the last
    /// acknowledgements before memory is read).
    fn settle(&mut self, d: Duration) -> Result<(), String> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.step()?;
        }
        Ok(())
    }
}

/// One line of the rate table.
struct Rate {
    what: &'static str,
    count: usize,
    took: Duration,
    /// CPU seconds the LNS used meanwhile.
    lns_cpu: f64,
    /// Datagrams dropped by the LNS's and the generator's sockets.
    drops: (u64, u64),
}

/// Counters read before a measured setup phase.
struct Probe {
    pid: u32,
    cpu: f64,
    port: u16,
    gen_port: u16,
    drops: (u64, u64),
}

impl Probe {
    fn start(lns: &Lns, g: &Generator, port: u16) -> Probe {
        let pid = lns.child.id();
        let gen_port = g.local.port();
        Probe { pid, cpu: cpu_secs(pid), port, gen_port, drops: (udp_drops(port), udp_drops(gen_port)) }
    }

    fn finish(self, what: &'static str, count: usize, took: Duration) -> Rate {
        let lns_cpu = cpu_secs(self.pid) - self.cpu;
        let drops = (udp_drops(self.port).saturating_sub(self.drops.0), udp_drops(self.gen_port).saturating_sub(self.drops.1));
        Rate { what, count, took, lns_cpu, drops }
    }
}

/// One line of the memory table.
struct Mem {
    what: String,
    rss: u64,
    per: Option<(&'static str, f64)>,
}

fn per_kib(rss: u64, base: u64, n: usize) -> f64 {
    rss.saturating_sub(base) as f64 / n.max(1) as f64
}

fn run(opts: &Opts) -> Result<(), String> {
    let lns_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), opts.port);
    let (n_tunnels, n_sessions, n_max) = if opts.quick { (50, 500, 2_000) } else { (1_000, 10_000, 65_535) };
    let max_tunnels = 8usize;
    let mut rates = Vec::new();
    let mut mems = Vec::new();

    // Phase 1: tunnels, one session each.
    let mut lns = Lns::start(opts, "tunnels")?;
    let idle = lns.rss_kib();
    mems.push(Mem { what: "idle".into(), rss: idle, per: None });
    let mut g = Generator::new(lns_addr)?;
    let p = Probe::start(&lns, &g, opts.port);
    let took = g.open_tunnels(n_tunnels, 1, opts.concurrency, &mut lns)?;
    rates.push(p.finish("tunnels (with 1 session each)", n_tunnels, took));
    g.settle(Duration::from_millis(300))?;
    let rss = lns.rss_kib();
    mems.push(Mem { what: format!("{n_tunnels} tunnels + {n_tunnels} sessions"), rss, per: Some(("tunnel+session", per_kib(rss, idle, n_tunnels))) });
    drop(g);
    drop(lns);

    // Phase 2: 10 tunnels, then the sessions.
    let mut lns = Lns::start(opts, "sessions")?;
    let mut g = Generator::new(lns_addr)?;
    g.open_tunnels(10, 0, opts.concurrency, &mut lns)?;
    g.settle(Duration::from_millis(100))?;
    let base = lns.rss_kib();
    // Too few tunnels for a per-tunnel figure at page granularity: see the
    // 1,000-tunnel row.
    mems.push(Mem { what: "10 tunnels".into(), rss: base, per: None });
    let p = Probe::start(&lns, &g, opts.port);
    let took = g.open_sessions(n_sessions, opts.concurrency, &mut lns)?;
    rates.push(p.finish("sessions (in 10 tunnels)", n_sessions, took));
    g.settle(Duration::from_millis(300))?;
    let rss = lns.rss_kib();
    mems.push(Mem { what: format!("10 tunnels + {n_sessions} sessions"), rss, per: Some(("session", per_kib(rss, base, n_sessions))) });
    drop(g);
    drop(lns);

    // Phase 3: the most sessions, over several tunnels.
    let mut lns = Lns::start(opts, "max")?;
    let mut g = Generator::new(lns_addr)?;
    g.open_tunnels(max_tunnels, 0, opts.concurrency, &mut lns)?;
    g.settle(Duration::from_millis(100))?;
    let base = lns.rss_kib();
    let p = Probe::start(&lns, &g, opts.port);
    let took = g.open_sessions(n_max, opts.concurrency, &mut lns)?;
    rates.push(p.finish("sessions (in 8 tunnels)", n_max, took));
    g.settle(Duration::from_millis(300))?;
    let rss = lns.rss_kib();
    mems.push(Mem { what: format!("{max_tunnels} tunnels + {n_max} sessions"), rss, per: Some(("session", per_kib(rss, base, n_max))) });
    drop(g);
    drop(lns);

    print_report(opts, &rates, &mems);
    Ok(())
}

fn print_report(opts: &Opts, rates: &[Rate], mems: &[Mem]) {
    let cpu = opts.daemon_cpu.map_or("not pinned".to_string(), |c| format!("CPU {c}"));
    println!("prol2tp-bench: prol2tpd LNS ({cpu}) <- Endpoint LAC generator, L2TPv2 over UDP on 127.0.0.1, null data plane");
    let window = opts.lns_window.map_or("daemon default (10)".to_string(), |w| w.to_string());
    println!("setups in progress at most: {}; LNS rx_window_size: {window}", opts.concurrency);
    println!();
    println!("{:<32} {:>7} {:>9} {:>10} {:>9} {:>12} {:>11}", "setup rate", "count", "seconds", "per second", "LNS CPU s", "per CPU s", "drops l/g");
    for r in rates {
        let secs = r.took.as_secs_f64();
        let rate = if secs > 0.0 { r.count as f64 / secs } else { 0.0 };
        let per_cpu = if r.lns_cpu > 0.0 { format!("{:.0}", r.count as f64 / r.lns_cpu) } else { "-".into() };
        let drops = format!("{}/{}", r.drops.0, r.drops.1);
        println!("{:<32} {:>7} {:>9.3} {:>10.0} {:>9.2} {:>12} {:>11}", r.what, r.count, secs, rate, r.lns_cpu, per_cpu, drops);
    }
    println!();
    println!("{:<34} {:>10} {:>22}", "LNS resident memory (VmRSS)", "KiB", "KiB per object");
    for m in mems {
        let per = m.per.map_or(String::new(), |(what, v)| format!("{v:.2} / {what}"));
        println!("{:<34} {:>10} {:>22}", m.what, m.rss, per);
    }
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The generator's core logs every tunnel and session; keep the output
    // to the report.
    common::log::set_level(common::log::Level::Warning);
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prol2tp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
