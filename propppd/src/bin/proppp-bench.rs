//! `proppp-bench`: how fast PPP sessions negotiate, and what one costs in a
//! running propppd (issue 5, DESIGN.md "Performance").
//!
//! 1. **In memory**: `--sessions` pairs of [`Link`]s, a client against a
//!    server, each through LCP, CHAP-MD5 (RFC 1994) and IPCP (RFC 1332) to
//!    the Network phase, frames handed across directly (no loss). The rate
//!    is sessions brought up per second of wall time on one core, both
//!    sides' work included.
//! 2. **Daemon**: a fresh `propppd` (`dataplane = null`: no interfaces, so
//!    only PPP's own state is measured) gets `--sessions` channels from this
//!    program acting as a channel owner, each a `SOCK_SEQPACKET` socket pair
//!    with a client `Link` on our end; the program waits for every
//!    `PppStatus up`, then reads the daemon's resident memory (`VmRSS` in
//!    `/proc/PID/status`) and reports KiB per session over the idle
//!    daemon's figure, and the rate of the whole run.
//!
//! Addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for
//! benchmarks; with the null data plane none is ever put on an interface.
//!
//! Usage: `proppp-bench [--sessions N] [--daemon PATH] [--daemon-cpu N]
//! [--skip-daemon]`. `make bench` runs it in release after prol2tp-bench.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use common::channel::{self, open_key, status_key, Channel, Received};
use common::ipc::{Body, Message, Reply, Request};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use proppp::proto::auth::{AuthMethod, ChallengeSource, SecretsBackend};
use proppp::proto::fsm::{Rng, SplitMix64};
use proppp::proto::ipcp::IpcpConfig;
use proppp::proto::lcp::LcpConfig;
use proppp::proto::link::{Link, LinkConfig, LinkEvent, LinkOutput};

/// Longest the daemon phase may take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
/// Most channels being negotiated at once in the daemon phase.
const CONCURRENCY: usize = 256;
const USER: &[u8] = b"bench";
const PASSWORD: &[u8] = b"bench-secret";

struct Opts {
    sessions: usize,
    daemon: PathBuf,
    daemon_cpu: Option<u32>,
    skip_daemon: bool,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = getopts::Options::new();
    o.optopt("", "sessions", "sessions per phase (default 10000)", "N");
    o.optopt("", "daemon", "propppd binary (default: next to this one)", "PATH");
    o.optopt("", "daemon-cpu", "pin the daemon to this CPU with taskset", "N");
    o.optflag("", "skip-daemon", "only the in-memory phase");
    o.optflag("h", "help", "this help");
    let m = o.parse(std::env::args().skip(1)).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        print!("{}", o.usage("Usage: proppp-bench [options]"));
        std::process::exit(0);
    }
    let sessions = m.opt_str("sessions").map_or(Ok(10_000), |s| s.parse::<usize>().map_err(|e| format!("--sessions: {e}")))?;
    if sessions == 0 || sessions > 100_000 {
        return Err("--sessions: 1 to 100000".into());
    }
    let next_to_us = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("propppd"))).unwrap_or_else(|| PathBuf::from("propppd"));
    let daemon = m.opt_str("daemon").map(PathBuf::from).unwrap_or(next_to_us);
    let daemon_cpu = m.opt_str("daemon-cpu").map(|s| s.parse::<u32>().map_err(|e| format!("--daemon-cpu: {e}"))).transpose()?;
    Ok(Opts { sessions, daemon, daemon_cpu, skip_daemon: m.opt_present("skip-daemon") })
}

fn challenges(seed: u64) -> Box<dyn ChallengeSource> {
    let mut rng = SplitMix64(seed);
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            *b = rng.next_u32() as u8;
        }
    })
}

fn client_link(seed: u64) -> Link {
    let config = LinkConfig {
        lcp: LcpConfig { accept_auth: vec![AuthMethod::ChapMd5], ..LcpConfig::default() },
        user: USER.to_vec(),
        password: PASSWORD.to_vec(),
        ipcp: IpcpConfig { request_dns: true, ..IpcpConfig::default() },
        ipv6: false,
        ..LinkConfig::default()
    };
    Link::new(config, Box::new(SecretsBackend::new()), Box::new(SplitMix64(seed)), challenges(seed ^ 0x5A5A))
}

fn server_link(seed: u64, peer: Ipv4Addr) -> Link {
    let mut secrets = SecretsBackend::new();
    secrets.insert(USER, PASSWORD);
    let config = LinkConfig {
        lcp: LcpConfig { require_auth: vec![AuthMethod::ChapMd5], ..LcpConfig::default() },
        name: b"lns".to_vec(),
        ipcp: IpcpConfig {
            local_addr: Some(Ipv4Addr::new(198, 18, 0, 1)),
            peer_addr: Some(peer),
            dns: [Some(Ipv4Addr::new(198, 18, 0, 53)), None],
            request_dns: false,
        },
        ipv6: false,
        ..LinkConfig::default()
    };
    Link::new(config, Box::new(secrets), Box::new(SplitMix64(seed)), challenges(seed ^ 0xA5A5))
}

/// The `i`th address of 198.18.0.0/15 after 198.18.0.1 (the server's).
fn bench_addr(i: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 2));
    Ipv4Addr::from(base.saturating_add(u32::try_from(i).unwrap_or(u32::MAX)))
}

fn network_up(events: &mut bool, link: &mut Link) {
    while let Some(e) = link.poll_event() {
        if matches!(e, LinkEvent::NetworkUp { .. }) {
            *events = true;
        }
    }
}

/// Phase 1: returns (sessions, seconds).
fn in_memory(n: usize) -> Result<(usize, f64), String> {
    let start = Instant::now();
    for i in 0..n {
        let seed = i as u64;
        let mut links = [client_link(seed), server_link(seed ^ 0xFFFF, bench_addr(i))];
        let mut up = [false, false];
        let now = Instant::now();
        for l in &mut links {
            l.open(now);
        }
        for _round in 0..200 {
            let mut moved = false;
            for from in 0..2 {
                while let Some(frame) = links[from].poll_transmit() {
                    moved = true;
                    let to = 1 - from;
                    let _ = links[to].handle_frame(now, &frame);
                }
            }
            for (l, u) in links.iter_mut().zip(up.iter_mut()) {
                network_up(u, l);
            }
            if up == [true, true] || !moved {
                break;
            }
        }
        if up != [true, true] {
            return Err(format!("in-memory session {i} did not come up"));
        }
    }
    Ok((n, start.elapsed().as_secs_f64()))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Raises this process's open-file limit to its hard limit (two fds per
/// channel here, one in the daemon).
fn raise_nofile(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard);
    }
}

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_daemon(o: &Opts) -> Result<Daemon, String> {
    let dir = std::env::temp_dir().join(format!("proppp-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secrets = dir.join("chap-secrets");
    std::fs::write(&secrets, "bench * bench-secret *\n").map_err(|e| e.to_string())?;
    let conf = dir.join("propppd.conf");
    let text = format!(
        "[system]\nlog_level = warning\ncontrol_socket = {ctl}\nchannel_socket = {chan}\ndataplane = null\nmax_sessions = {max}\n\n\
         [pool \"bench\"]\nrange = 198.18.0.2-198.19.255.254\n\n\
         [profile \"default\"]\nauth = chap\npool = bench\nlocal_ip = 198.18.0.1\ndns = 198.18.0.53\nipv6 = no\nchap_secrets = {secrets}\n",
        ctl = dir.join("ctl").display(),
        chan = dir.join("chan").display(),
        max = o.sessions.saturating_add(16),
        secrets = secrets.display(),
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    let mut cmd = match o.daemon_cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(&o.daemon);
            c
        }
        None => Command::new(&o.daemon),
    };
    let child = cmd
        .arg("-f")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", o.daemon.display()))?;
    let d = Daemon { child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.dir.join("chan").exists() {
        if Instant::now() > deadline {
            return Err("propppd did not open its channel socket within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(d)
}

/// One channel of the daemon phase: our end and the client link on it.
struct Session {
    fd: OwnedFd,
    link: Link,
}

fn send_frames(s: &mut Session) {
    while let Some(frame) = s.link.poll_transmit() {
        let body = frame.strip_prefix(&[0xFF, 0x03]).unwrap_or(&frame);
        let _ = socket::send(s.fd.as_raw_fd(), body, MsgFlags::MSG_DONTWAIT);
    }
}

fn open_channel(owner: &mut Channel, sessions: &mut HashMap<u32, Session>, i: usize) -> Result<(), String> {
    let (ours, theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC)
        .map_err(|e| format!("socketpair: {e}"))?;
    let reference = u32::try_from(i).map_err(|_| "too many sessions".to_string())?;
    let params = [
        (open_key::FRAMING, channel::FRAMING_FRAMES),
        (open_key::LINKTYPE, channel::LINKTYPE_L2TP),
        (open_key::ROLE, channel::ROLE_SERVER),
        (open_key::NAME, &format!("bench-{i}")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let msg = Message { request_id: reference, body: Body::Request(Request::PppOpen { reference, params }) };
    owner.send(&msg, Some(theirs.as_fd())).map_err(|e| format!("PppOpen: {e}"))?;
    let mut s = Session { fd: ours, link: client_link(i as u64) };
    s.link.open(Instant::now());
    send_frames(&mut s);
    sessions.insert(reference, s);
    Ok(())
}

/// Reads every waiting frame of every session and answers them.
fn pump(sessions: &mut HashMap<u32, Session>, buf: &mut [u8]) {
    let mut fds: Vec<(u32, PollFd<'_>)> = Vec::with_capacity(sessions.len());
    let keys: Vec<u32> = sessions.keys().copied().collect();
    for k in &keys {
        if let Some(s) = sessions.get(k) {
            fds.push((*k, PollFd::new(s.fd.as_fd(), PollFlags::POLLIN)));
        }
    }
    let mut only: Vec<PollFd<'_>> = fds.iter().map(|(_, p)| *p).collect();
    let _ = poll(&mut only, PollTimeout::from(10u16));
    let ready: Vec<u32> = fds.iter().zip(only.iter()).filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty())).map(|((k, _), _)| *k).collect();
    drop(fds);
    let now = Instant::now();
    for k in ready {
        let Some(s) = sessions.get_mut(&k) else { continue };
        while let Ok(n) = socket::recv(s.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            if n == 0 {
                break;
            }
            if let LinkOutput::Dropped(_) = s.link.handle_frame(now, buf.get(..n).unwrap_or_default()) {}
        }
        send_frames(s);
    }
    for s in sessions.values_mut() {
        if s.link.poll_timeout().is_some_and(|t| t <= now) {
            s.link.handle_timeout(now);
            send_frames(s);
        }
        while s.link.poll_event().is_some() {}
    }
}

/// Phase 2: returns (sessions, seconds, idle KiB, loaded KiB).
fn daemon_phase(o: &Opts) -> Result<(usize, f64, u64, u64), String> {
    raise_nofile(4 * o.sessions as u64 + 1024);
    let d = start_daemon(o)?;
    let pid = d.child.id();
    let idle = rss_kib(pid).ok_or("cannot read the daemon's VmRSS")?;
    let mut owner = Channel::connect(&d.dir.join("chan")).map_err(|e| format!("connect: {e}"))?;
    let mut sessions: HashMap<u32, Session> = HashMap::new();
    let mut up = 0usize;
    let mut opened = 0usize;
    let mut buf = vec![0u8; 2048];
    let start = Instant::now();
    while up < o.sessions {
        if start.elapsed() > PHASE_TIMEOUT {
            return Err(format!("only {up} of {} sessions up after {PHASE_TIMEOUT:?}", o.sessions));
        }
        while opened < o.sessions && opened - up < CONCURRENCY {
            open_channel(&mut owner, &mut sessions, opened)?;
            opened += 1;
        }
        owner.flush().map_err(|e| format!("owner connection: {e}"))?;
        pump(&mut sessions, &mut buf);
        loop {
            match owner.recv() {
                Received::Message(Message { body: Body::Reply(Reply::PppStatus { reference, record }), .. }, _) => {
                    match record.get(status_key::STATE).map(|v| v.to_string()) {
                        Some(s) if s == channel::STATE_UP => up += 1,
                        other => return Err(format!("session {reference} went {other:?}: {:?}", record.get(status_key::REASON))),
                    }
                }
                Received::Message(..) | Received::Malformed(_) => {}
                Received::Nothing => break,
                Received::Closed => return Err("propppd closed the owner connection".into()),
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let loaded = rss_kib(pid).ok_or("cannot read the daemon's VmRSS")?;
    drop(owner);
    drop(sessions);
    Ok((o.sessions, secs, idle, loaded))
}

fn run(o: &Opts) -> Result<(), String> {
    let (n, secs) = in_memory(o.sessions)?;
    println!("in memory: {n} sessions (LCP + CHAP-MD5 + IPCP, client and server) in {secs:.3} s: {:.0} sessions/s", n as f64 / secs);
    if o.skip_daemon {
        return Ok(());
    }
    let (n, secs, idle, loaded) = daemon_phase(o)?;
    let per = (loaded.saturating_sub(idle)) as f64 / n as f64;
    println!("propppd: {n} sessions up through the channel socket in {secs:.3} s: {:.0} sessions/s", n as f64 / secs);
    println!("propppd: VmRSS {idle} KiB idle, {loaded} KiB with {n} sessions up: {per:.2} KiB per session");
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("proppp-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !Path::new(&o.daemon).exists() && !o.skip_daemon {
        eprintln!("proppp-bench: {}: {}", o.daemon.display(), io::Error::from(io::ErrorKind::NotFound));
        return ExitCode::from(2);
    }
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proppp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
