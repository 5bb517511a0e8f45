//! The daemon's side of the hook scripts: spawns `prol2tp-scriptd` at
//! start-up with one end of a `SOCK_SEQPACKET` socket pair on its stdin,
//! and feeds it event records without ever blocking.
//!
//! Each record goes out as one IPC message (`request_id` 0,
//! `Reply::Event { seq, record }`, `seq` counting from 1) written with
//! `MSG_DONTWAIT`. When the socket is full the encoded messages wait in a
//! bounded queue ([`MAX_BACKLOG`]) that the loop drains when the socket
//! becomes writable ([`Hooks::has_backlog`], [`Hooks::flush`]); beyond the
//! bound a record is dropped, counted, and logged once per burst. The
//! daemon never waits for the runner or its scripts: closing the socket
//! (dropping [`Hooks`]) tells the runner to finish its queue and exit.
//!
//! The runner binary is `$PROL2TPD_SCRIPTD` if set, else
//! `prol2tp-scriptd` next to the daemon's own executable, else
//! `/usr/sbin/prol2tp-scriptd`.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::ipc::{Body, Message, Record, Reply};
use common::log::{self, Level};
use nix::errno::Errno;
use nix::sys::socket::{send, setsockopt, socketpair, sockopt, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::config::SystemConfig;

/// Most encoded records waiting for the socket; beyond, records are
/// dropped.
pub(super) const MAX_BACKLOG: usize = 65_536;

/// Send buffer asked for on the daemon's end, octets (the kernel may cap
/// it at `net.core.wmem_max` unless the daemon may force it).
const SNDBUF: usize = 4 << 20;

/// Environment variable naming the runner binary (tests, odd layouts).
const ENV_SCRIPTD: &str = "PROL2TPD_SCRIPTD";

/// The installed runner.
const DEFAULT_SCRIPTD: &str = "/usr/sbin/prol2tp-scriptd";

/// The running `prol2tp-scriptd` and the queue of events not yet written
/// to it.
#[derive(Debug)]
pub(super) struct Hooks {
    /// The daemon's end of the socket pair.
    sock: OwnedFd,
    /// The runner's process id (reaped by the daemon's SIGCHLD handler).
    pid: i32,
    /// The runner has exited ([`Hooks::child_exited`]) or the socket
    /// failed: records are no longer sent.
    gone: bool,
    /// Sequence number of the last record queued or sent.
    seq: u64,
    /// Encoded messages waiting for the socket, oldest first.
    backlog: VecDeque<Vec<u8>>,
    /// Records dropped in the current burst (reset when the backlog
    /// drains).
    burst_dropped: u64,
    /// Records dropped since start.
    dropped_total: u64,
}

/// Finds the runner binary (see the module documentation).
fn scriptd_path() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV_SCRIPTD).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("prol2tp-scriptd"))).filter(|p| p.is_file()) {
        return p;
    }
    PathBuf::from(DEFAULT_SCRIPTD)
}

/// The runner's arguments for the `[system]` settings.
fn scriptd_args(system: &SystemConfig, foreground: bool) -> Vec<String> {
    let mut args = Vec::new();
    if foreground {
        args.push("-f".to_string());
    }
    args.push("--dir".to_string());
    args.push(system.script_dir.to_string_lossy().into_owned());
    args.push("--max-running".to_string());
    args.push(system.max_running_scripts.max(1).to_string());
    args.push("--timeout".to_string());
    args.push(system.script_timeout.as_secs().max(1).to_string());
    args
}

impl Hooks {
    /// Spawns `prol2tp-scriptd` for the `[system]` settings (script
    /// directory, `max_running_scripts`, `script_timeout`); `foreground`
    /// makes it log to stderr like the daemon. Errors: the binary cannot be
    /// found or started.
    pub(super) fn spawn(system: &SystemConfig, foreground: bool) -> Result<Hooks, String> {
        let path = scriptd_path();
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK)
            .map_err(|e| format!("socketpair: {e}"))?;
        // Both ends are non-blocking; the runner wants its end so anyway.
        if setsockopt(&ours, sockopt::SndBufForce, &SNDBUF).is_err() {
            let _ = setsockopt(&ours, sockopt::SndBuf, &SNDBUF);
        }
        let mut cmd = Command::new(&path);
        cmd.args(scriptd_args(system, foreground)).stdin(Stdio::from(theirs)).stdout(Stdio::null());
        if !foreground {
            cmd.stderr(Stdio::null());
        }
        // Its own process group: Ctrl-C on a foreground daemon must not
        // kill the scripts of the shutdown; end of file tells it to go.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        common::scripts::reset_signals_before_exec(&mut cmd);
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let pid = i32::try_from(child.id()).map_err(|_| "pid out of range".to_string())?;
        // The Child handle is dropped without waiting: SIGCHLD reaps it.
        log::log(Level::Info, format_args!("scriptd start pid={pid} path={} dir={}", path.display(), system.script_dir.display()));
        Ok(Hooks { sock: ours, pid, gone: false, seq: 0, backlog: VecDeque::new(), burst_dropped: 0, dropped_total: 0 })
    }

    /// Queues one event record for the runner; never blocks.
    pub(super) fn send(&mut self, record: &Record) {
        if self.gone {
            self.drop_one(&record.kind);
            return;
        }
        self.seq = self.seq.wrapping_add(1);
        let msg = Message { request_id: 0, body: Body::Reply(Reply::Event { seq: self.seq, record: record.clone() }) };
        let bytes = match msg.encode() {
            Ok(b) => b,
            Err(e) => {
                log::log(Level::Error, format_args!("scriptd drop kind='{}' seq={} error=\"{e}\"", record.kind, self.seq));
                self.dropped_total = self.dropped_total.saturating_add(1);
                return;
            }
        };
        if self.backlog.is_empty() {
            match self.write(&bytes) {
                Ok(true) => return,
                Ok(false) => {}
                Err(()) => return,
            }
        }
        if self.backlog.len() >= MAX_BACKLOG {
            self.drop_one(&record.kind);
        } else {
            self.backlog.push_back(bytes);
        }
    }

    /// Counts and (once per burst) logs a dropped record.
    fn drop_one(&mut self, kind: &str) {
        if self.burst_dropped == 0 {
            let why = if self.gone { "runner-gone" } else { "backlog-full" };
            log::log(Level::Error, format_args!("scriptd drop kind='{kind}' reason={why} backlog={}", self.backlog.len()));
        }
        self.burst_dropped = self.burst_dropped.saturating_add(1);
        self.dropped_total = self.dropped_total.saturating_add(1);
    }

    /// Writes one message: `Ok(true)` sent, `Ok(false)` the socket is full
    /// (EAGAIN), `Err` the socket failed (the runner is then treated as
    /// gone and the failure logged).
    fn write(&mut self, bytes: &[u8]) -> Result<bool, ()> {
        loop {
            match send(self.sock.as_raw_fd(), bytes, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(false),
                Err(e) => {
                    log::log(Level::Error, format_args!("scriptd write failed pid={} error=\"{e}\"", self.pid));
                    self.gone = true;
                    let lost = u64::try_from(self.backlog.len()).unwrap_or(u64::MAX).saturating_add(1);
                    self.backlog.clear();
                    self.dropped_total = self.dropped_total.saturating_add(lost);
                    return Err(());
                }
            }
        }
    }

    /// The daemon's end of the socket pair (watch it for WRITABLE while
    /// [`Hooks::has_backlog`]). Deregister it from the loop before
    /// dropping the `Hooks`.
    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    /// True when records wait for the socket to become writable.
    pub(super) fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// The socket is writable: write what waits.
    pub(super) fn flush(&mut self) {
        while let Some(bytes) = self.backlog.pop_front() {
            match self.write(&bytes) {
                Ok(true) => {}
                Ok(false) => {
                    self.backlog.push_front(bytes);
                    return;
                }
                Err(()) => return,
            }
        }
        if self.burst_dropped > 0 {
            log::log(Level::Notice, format_args!("scriptd backlog drained dropped={} dropped_total={}", self.burst_dropped, self.dropped_total));
            self.burst_dropped = 0;
        }
    }

    /// A child exited: true when it was the runner (it is then gone and
    /// [`Hooks::spawn`] may be called again).
    pub(super) fn child_exited(&mut self, pid: i32) -> bool {
        if pid != self.pid {
            return false;
        }
        if !self.gone {
            log::log(Level::Warning, format_args!("scriptd exited pid={pid} unsent={}", self.backlog.len()));
        }
        self.gone = true;
        self.backlog.clear();
        true
    }

    /// Records dropped since start (backlog full, encoding failed, or
    /// runner gone).
    pub(super) fn dropped(&self) -> u64 {
        self.dropped_total
    }

    /// The runner's process id (it may have exited already; see
    /// [`Hooks::child_exited`]).
    pub(super) fn pid(&self) -> i32 {
        self.pid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::recv;
    use std::time::Duration;

    fn system(dir: &str) -> SystemConfig {
        SystemConfig { script_dir: PathBuf::from(dir), max_running_scripts: 3, script_timeout: Duration::from_secs(7), ..SystemConfig::default() }
    }

    #[test]
    fn arguments_follow_the_system_section() {
        assert_eq!(scriptd_args(&system("/etc/x"), true), ["-f", "--dir", "/etc/x", "--max-running", "3", "--timeout", "7"]);
        assert_eq!(scriptd_args(&system("/s"), false), ["--dir", "/s", "--max-running", "3", "--timeout", "7"]);
    }

    /// A `Hooks` around one end of a pair we hold the other end of, and no
    /// real child.
    fn fake() -> (Hooks, OwnedFd) {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK).unwrap();
        let h = Hooks { sock: ours, pid: -7, gone: false, seq: 0, backlog: VecDeque::new(), burst_dropped: 0, dropped_total: 0 };
        (h, theirs)
    }

    fn read_all(fd: &OwnedFd) -> Vec<Message> {
        let mut buf = vec![0u8; 70_000];
        let mut out = Vec::new();
        while let Ok(n) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            out.push(Message::decode(&buf[..n]).unwrap());
        }
        out
    }

    #[test]
    fn records_go_out_in_order_with_seq_and_backlog_when_full() {
        let (mut h, theirs) = fake();
        let mut rec = Record::new("SESSION UP");
        rec.num("handle", 3u64).str("pad", "x".repeat(2000));
        let mut sent = 0u64;
        // Fill the socket until records have to wait.
        while !h.has_backlog() {
            h.send(&rec);
            sent += 1;
            assert!(sent < 1_000_000, "socket never filled");
        }
        for _ in 0..10 {
            h.send(&rec);
            sent += 1;
        }
        let mut got = Vec::new();
        while got.len() < usize::try_from(sent).unwrap() {
            let batch = read_all(&theirs);
            assert!(!batch.is_empty() || h.has_backlog(), "records lost");
            got.extend(batch);
            h.flush();
        }
        assert!(!h.has_backlog());
        for (i, m) in got.iter().enumerate() {
            let Body::Reply(Reply::Event { seq, record }) = &m.body else { panic!("not an event") };
            assert_eq!(m.request_id, 0);
            assert_eq!(*seq, u64::try_from(i).unwrap() + 1);
            assert_eq!(record, &rec);
        }
        assert_eq!(h.dropped(), 0);
    }

    #[test]
    fn backlog_is_bounded_and_a_dead_runner_drops() {
        let (mut h, theirs) = fake();
        let rec = Record::new("TUNNEL UP");
        while !h.has_backlog() {
            h.send(&rec);
        }
        let queued = h.backlog.len();
        for _ in 0..(MAX_BACKLOG - queued + 5) {
            h.send(&rec);
        }
        assert_eq!(h.backlog.len(), MAX_BACKLOG);
        assert_eq!(h.dropped(), 5);
        assert!(!h.child_exited(12345), "not the runner");
        assert!(h.child_exited(-7));
        assert!(!h.has_backlog());
        h.send(&rec);
        assert_eq!(h.dropped(), 6);
        drop(theirs);
    }

    #[test]
    fn a_closed_peer_marks_the_runner_gone() {
        let (mut h, theirs) = fake();
        drop(theirs);
        h.send(&Record::new("TUNNEL UP"));
        assert!(h.gone);
        assert_eq!(h.dropped(), 1);
    }
}
