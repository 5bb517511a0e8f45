//! `prol2tp-scriptd`: runs prol2tpd's hook scripts (see
//! `prol2tp-scriptd(8)`).
//!
//! prol2tpd starts it with one end of a `SOCK_SEQPACKET` socket pair on fd
//! 0 and writes one IPC `Event` message per tunnel / session event to it.
//! Each event becomes a [`Job`] for `<dir>/<kind>` (`TUNNEL UP` →
//! `tunnel-up`) when that file exists and is executable; the
//! [`common::scripts::Runner`] runs the jobs of one instance (the record's
//! `handle`) one at a time and in order, at most `--max-running` at once,
//! each killed after `--timeout` seconds. End of file on fd 0 means the
//! daemon has gone: the queued scripts still run, then the program exits 0.
//! SIGTERM / SIGINT kill the running scripts' process groups and exit.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::evloop::{EventLoop, Interest};
use common::ipc::{Body, Message, Record, Reply, Value};
use common::log::{self, Level, Target};
use common::scripts::{Job, Runner};
use common::signal::{Signal, Signals};
use common::{log_debug, log_error, log_info, log_notice, log_warn};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{getsockopt, recv, sockopt, MsgFlags, SockType};

const USAGE: &str = "Usage: prol2tp-scriptd [-f] [-d] [-L facility] --dir DIR --max-running N --timeout SECS";

/// Most jobs waiting to start; events beyond are dropped (logged).
const MAX_QUEUED: usize = 100_000;

/// `PATH` of every script.
const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Messages read per wake-up before SIGCHLD and timeouts get a turn.
const READ_BURST: usize = 256;

/// Largest IPC message, plus one octet to detect truncation.
const RECV_BUF: usize = common::ipc::MAX_DATAGRAM + 1;

/// Event-loop keys.
const KEY_SIGNALS: usize = 0;
const KEY_INPUT: usize = 1;

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    foreground: bool,
    debug: bool,
    facility: Option<String>,
    dir: PathBuf,
    max_running: usize,
    timeout: Duration,
}

/// Parses the arguments (without the program name).
fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = getopts::Options::new();
    o.optflag("f", "", "log to stderr instead of syslog");
    o.optflag("d", "", "log debug lines too");
    o.optopt("L", "", "syslog facility: daemon, local0..local7", "FACILITY");
    o.optopt("", "dir", "script directory", "DIR");
    o.optopt("", "max-running", "most scripts running at once (1..=1024)", "N");
    o.optopt("", "timeout", "kill a script after this many seconds (1..=3600)", "SECS");
    o.optflag("h", "help", "print this help");
    o.optflag("v", "version", "print the version");
    let m = o.parse(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    if m.opt_present("h") {
        println!("{}", o.usage(USAGE));
        std::process::exit(0);
    }
    if m.opt_present("v") {
        println!("prol2tp-scriptd {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'\n{USAGE}"));
    }
    if let Some(f) = m.opt_str("L") {
        log::parse_facility(&f).map_err(|e| format!("-L: {e}"))?;
    }
    let dir = m.opt_str("dir").ok_or(format!("--dir is required\n{USAGE}"))?;
    let number = |name: &str, max: u64| -> Result<u64, String> {
        let s = m.opt_str(name).ok_or(format!("--{name} is required\n{USAGE}"))?;
        s.parse::<u64>().ok().filter(|n| (1..=max).contains(n)).ok_or(format!("--{name}: '{s}' is not a number in 1..={max}"))
    };
    let max_running = usize::try_from(number("max-running", 1024)?).map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(number("timeout", 3600)?);
    Ok(Options { foreground: m.opt_present("f"), debug: m.opt_present("d"), facility: m.opt_str("L"), dir: PathBuf::from(dir), max_running, timeout })
}

/// The script name of an event kind (`TUNNEL UP` → `tunnel-up`), for the
/// eight documented kinds only (anything else could name a path).
fn script_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "TUNNEL CREATED" => "tunnel-created",
        "TUNNEL UP" => "tunnel-up",
        "TUNNEL DOWN" => "tunnel-down",
        "TUNNEL DELETED" => "tunnel-deleted",
        "SESSION CREATED" => "session-created",
        "SESSION UP" => "session-up",
        "SESSION DOWN" => "session-down",
        "SESSION DELETED" => "session-deleted",
        _ => return None,
    })
}

/// A field as text when it is set: a non-empty string or a non-zero
/// number (booleans and NUL-bearing strings are never passed on).
fn field(record: &Record, key: &str) -> Option<String> {
    match record.get(key)? {
        Value::Str(s) if !s.is_empty() && !s.contains('\0') => Some(s.clone()),
        Value::U64(n) if *n != 0 => Some(n.to_string()),
        _ => None,
    }
}

/// A numeric id field as an argument (`0` when missing).
fn id_arg(record: &Record, key: &str) -> String {
    match record.get(key) {
        Some(Value::U64(n)) => n.to_string(),
        Some(Value::Str(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.clone(),
        _ => "0".to_string(),
    }
}

/// Why an event does not become a job.
#[derive(Debug, PartialEq, Eq)]
enum Skip {
    /// Not one of the eight event kinds.
    UnknownKind,
    /// No numeric `handle` field.
    NoHandle,
}

/// Maps one event record to the job for `<dir>/<script name>` with the
/// documented arguments and environment (the file is not looked at).
fn job_for(dir: &Path, record: &Record) -> Result<Job, Skip> {
    let name = script_name(&record.kind).ok_or(Skip::UnknownKind)?;
    let Some(Value::U64(handle)) = record.get("handle") else { return Err(Skip::NoHandle) };
    let session = name.starts_with("session-");
    let tid = id_arg(record, "tid");
    let (args, context) = if session {
        let sid = id_arg(record, "sid");
        let kind = match record.get("session_type") {
            Some(Value::Str(s)) if !s.contains('\0') => s.clone(),
            _ => String::new(),
        };
        (vec![tid.clone(), sid.clone(), kind], format!("tid={tid} sid={sid}"))
    } else {
        (vec![tid.clone(), "0".to_string()], format!("tid={tid}"))
    };
    let mut env = vec![("PATH".to_string(), SCRIPT_PATH.to_string()), ("PROL2TP_EVENT".to_string(), name.to_string())];
    let profile_field = if session { "profile" } else { "tunnel_profile" };
    let vars = [
        ("TUNNEL_NAME", "tunnel_name"),
        ("SESSION_NAME", "session_name"),
        ("INTERFACE_NAME", "interface_name"),
        ("MTU", "mtu"),
        ("LOCAL_IP", "local_ip"),
        ("PEER_IP", "peer_ip"),
        ("NETMASK", "netmask"),
        ("BRIDGE_NAME", "bridge"),
        ("PROFILE_NAME", profile_field),
        ("PPP_PROFILE_NAME", "ppp_profile"),
        ("ETH_PROFILE_NAME", "eth_profile"),
    ];
    for (var, key) in vars {
        if !session && key != "tunnel_name" && key != profile_field {
            continue;
        }
        if let Some(v) = field(record, key) {
            env.push((var.to_string(), v));
        }
    }
    Ok(Job { key: *handle, name: name.to_string(), context, program: dir.join(name), args, env })
}

/// Why a script file is not run (`None`: it is a regular executable file).
fn not_runnable(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Err(_) => Some("absent"),
        Ok(m) if !m.is_file() => Some("not-a-file"),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some("not-executable"),
        Ok(_) => None,
    }
}

/// The program's state.
struct Scriptd {
    opts: Options,
    runner: Runner,
    /// Sequence number of the last event received.
    last_seq: u64,
    /// Events dropped because the queue was full, in the current burst.
    dropped: u64,
    /// fd 0 reached end of file (or failed): no more events.
    input_closed: bool,
}

impl Scriptd {
    /// Takes one decoded message.
    fn on_message(&mut self, msg: Message, now: Instant) {
        let Body::Reply(Reply::Event { seq, record }) = msg.body else {
            log_warn!("drop msg_type=0x{:04x} reason=not-an-event", msg.msg_type());
            return;
        };
        if self.last_seq != 0 && seq != self.last_seq.wrapping_add(1) {
            log_warn!("events lost seq={seq} expected={}", self.last_seq.wrapping_add(1));
        }
        self.last_seq = seq;
        let job = match job_for(&self.opts.dir, &record) {
            Ok(job) => job,
            Err(why) => {
                log_warn!("drop event kind='{}' seq={seq} reason={why:?}", record.kind);
                return;
            }
        };
        if let Some(why) = not_runnable(&job.program) {
            log_debug!("script skip name={} {} path={} reason={why}", job.name, job.context, job.program.display());
            return;
        }
        match self.runner.push(job, now) {
            Ok(()) => {
                if self.dropped > 0 {
                    log_notice!("script queue accepting again dropped={}", self.dropped);
                    self.dropped = 0;
                }
            }
            Err(full) => {
                if self.dropped == 0 {
                    log_error!("script queue full limit={MAX_QUEUED} drop name={} {}", full.0.name, full.0.context);
                }
                self.dropped = self.dropped.saturating_add(1);
            }
        }
    }

    /// fd 0 is readable: takes up to [`READ_BURST`] messages.
    fn on_input(&mut self, fd: BorrowedFd<'_>, buf: &mut [u8]) {
        for _ in 0..READ_BURST {
            match recv(std::os::fd::AsRawFd::as_raw_fd(&fd), buf, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC) {
                Ok(0) => {
                    self.input_closed = true;
                    return;
                }
                Ok(n) if n > common::ipc::MAX_DATAGRAM => log_warn!("drop len={n} reason=too-long"),
                Ok(n) => match buf.get(..n).map(Message::decode) {
                    Some(Ok(msg)) => self.on_message(msg, Instant::now()),
                    Some(Err(e)) => log_warn!("drop len={n} reason=\"{e}\""),
                    None => log_warn!("drop len={n} reason=too-long"),
                },
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    log_error!("read stdin error=\"{e}\"; no more events");
                    self.input_closed = true;
                    return;
                }
            }
        }
    }
}

/// Checks that fd 0 is a `SOCK_SEQPACKET` socket and makes it
/// non-blocking.
fn prepare_stdin(fd: BorrowedFd<'_>) -> Result<(), String> {
    match getsockopt(&fd, sockopt::SockType) {
        Ok(SockType::SeqPacket) => {}
        Ok(t) => return Err(format!("stdin is a {t:?} socket, not SOCK_SEQPACKET")),
        Err(e) => return Err(format!("stdin is not a socket: {e}")),
    }
    let flags = fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), FcntlArg::F_GETFL).map_err(|e| format!("stdin: {e}"))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), FcntlArg::F_SETFL(flags)).map_err(|e| format!("stdin: {e}"))?;
    Ok(())
}

/// The event loop; returns when the program should exit.
fn run(opts: Options) -> io::Result<()> {
    let mut signals = Signals::new()?;
    let stdin = io::stdin();
    let input = stdin.as_fd();
    prepare_stdin(input).map_err(io::Error::other)?;
    let mut evloop = EventLoop::new()?;
    evloop.register(signals.as_fd(), KEY_SIGNALS, Interest::READABLE)?;
    evloop.register(input, KEY_INPUT, Interest::READABLE)?;
    log_notice!(
        "scriptd ready version={} dir={} max_running={} timeout_s={}",
        env!("CARGO_PKG_VERSION"),
        opts.dir.display(),
        opts.max_running,
        opts.timeout.as_secs()
    );
    let runner = Runner::new(opts.max_running, MAX_QUEUED, opts.timeout);
    let mut sd = Scriptd { opts, runner, last_seq: 0, dropped: 0, input_closed: false };
    let mut buf = vec![0u8; RECV_BUF];
    let mut input_registered = true;
    loop {
        if sd.input_closed {
            if input_registered {
                evloop.deregister(input)?;
                input_registered = false;
                log_info!("input closed running={} queued={}; draining", sd.runner.running(), sd.runner.queued());
            }
            if sd.runner.is_idle() {
                log_notice!("exit reason=input-closed");
                return Ok(());
            }
        }
        let ready: Vec<usize> = evloop.wait(sd.runner.next_deadline())?.iter().map(|r| r.key).collect();
        for key in ready {
            match key {
                KEY_SIGNALS => {
                    for sig in signals.read_all() {
                        match sig {
                            Signal::Chld => {
                                sd.runner.on_sigchld(Instant::now());
                            }
                            Signal::Term | Signal::Int => {
                                let (killed, dropped) = sd.runner.kill_all();
                                log_notice!("exit reason={} killed={killed} dropped={dropped}", sig.name());
                                return Ok(());
                            }
                            Signal::Hup => log_info!("signal name=SIGHUP ignored"),
                        }
                    }
                }
                KEY_INPUT if input_registered => sd.on_input(input, &mut buf),
                _ => {}
            }
        }
        sd.runner.expire(Instant::now());
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("prol2tp-scriptd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = if opts.foreground {
        Target::Stderr
    } else {
        match log::parse_facility(opts.facility.as_deref().unwrap_or("daemon")) {
            Ok(facility) => Target::Syslog { facility, ident: "prol2tp-scriptd".into() },
            Err(e) => {
                eprintln!("prol2tp-scriptd: -L: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let level = if opts.debug { Level::Debug } else { Level::Info };
    if let Err(e) = log::init(target, level) {
        eprintln!("prol2tp-scriptd: cannot start logging: {e}");
        return ExitCode::FAILURE;
    }
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log_error!("fatal error=\"{e}\"");
            if !log::enabled(Level::Error) {
                eprintln!("prol2tp-scriptd: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_line() {
        let o = parse_args(&args("-f -d -L local3 --dir /etc/prol2tp --max-running 8 --timeout 30")).unwrap();
        assert_eq!(
            o,
            Options {
                foreground: true,
                debug: true,
                facility: Some("local3".into()),
                dir: PathBuf::from("/etc/prol2tp"),
                max_running: 8,
                timeout: Duration::from_secs(30)
            }
        );
        assert!(parse_args(&args("--dir /x --max-running 0 --timeout 30")).unwrap_err().contains("--max-running"));
        assert!(parse_args(&args("--dir /x --max-running 2 --timeout 3601")).unwrap_err().contains("--timeout"));
        assert!(parse_args(&args("--max-running 2 --timeout 1")).unwrap_err().contains("--dir"));
        assert!(parse_args(&args("--dir /x --max-running 2 --timeout 1 extra")).is_err());
        assert!(parse_args(&args("-L user --dir /x --max-running 2 --timeout 1")).is_err());
    }

    #[test]
    fn kinds_map_to_script_names() {
        assert_eq!(script_name("TUNNEL CREATED"), Some("tunnel-created"));
        assert_eq!(script_name("SESSION DELETED"), Some("session-deleted"));
        assert_eq!(script_name("../../bin/sh"), None);
        assert_eq!(script_name("session up"), None);
    }

    #[test]
    fn session_job_arguments_and_environment() {
        let mut r = Record::new("SESSION DOWN");
        r.num("handle", 3u64).num("tid", 2871686446u64).num("sid", 2447900232u64).num("peer_tid", 65483u64);
        r.num("peer_sid", 1u64).num("result", 3u64).num("error", 0u64).str("message", "");
        r.str("tunnel_name", "t1").str("session_name", "").str("session_type", "ETH").str("interface_name", "l2tpeth0");
        r.num("mtu", 1500u64).str("local_ip", "").str("peer_ip", "").str("netmask", "").str("bridge", "br0");
        r.str("profile", "sp").str("ppp_profile", "").str("eth_profile", "ep");
        let j = job_for(Path::new("/etc/prol2tp"), &r).unwrap();
        assert_eq!(j.key, 3);
        assert_eq!(j.program, PathBuf::from("/etc/prol2tp/session-down"));
        assert_eq!(j.args, vec!["2871686446", "2447900232", "ETH"]);
        assert_eq!(j.context, "tid=2871686446 sid=2447900232");
        let env: Vec<String> = j.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            env,
            vec![
                format!("PATH={SCRIPT_PATH}"),
                "PROL2TP_EVENT=session-down".into(),
                "TUNNEL_NAME=t1".into(),
                "INTERFACE_NAME=l2tpeth0".into(),
                "MTU=1500".into(),
                "BRIDGE_NAME=br0".into(),
                "PROFILE_NAME=sp".into(),
                "ETH_PROFILE_NAME=ep".into(),
            ]
        );
    }

    #[test]
    fn tunnel_job_takes_the_tunnel_profile() {
        let mut r = Record::new("TUNNEL CREATED");
        r.num("handle", 1u64).num("tid", 7u64).str("name", "t1").str("profile", "default").str("peer", "192.0.2.1:1701");
        r.str("tunnel_name", "t1").str("tunnel_profile", "default").str("local", "192.0.2.2:1701");
        r.str("peer", "192.0.2.1:1701").num("version", 2u64);
        let j = job_for(Path::new("/d"), &r).unwrap();
        assert_eq!(j.args, vec!["7", "0"]);
        let env: Vec<String> = j.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(env, vec![format!("PATH={SCRIPT_PATH}"), "PROL2TP_EVENT=tunnel-created".into(), "TUNNEL_NAME=t1".into(), "PROFILE_NAME=default".into()]);
    }

    #[test]
    fn unusable_records_are_skipped() {
        let mut r = Record::new("SESSION UP");
        r.num("tid", 1u64);
        assert_eq!(job_for(Path::new("/d"), &r), Err(Skip::NoHandle));
        let mut r = Record::new("SESSION SIDEWAYS");
        r.num("handle", 1u64);
        assert_eq!(job_for(Path::new("/d"), &r), Err(Skip::UnknownKind));
        let mut r = Record::new("SESSION UP");
        r.num("handle", 1u64).str("tunnel_name", "a\0b");
        let j = job_for(Path::new("/d"), &r).unwrap();
        assert!(j.env.iter().all(|(k, _)| k != "TUNNEL_NAME"), "NUL values are not passed");
        assert_eq!(j.args, vec!["0", "0", ""]);
    }
}
