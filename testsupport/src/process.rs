//! Child processes of a test ([`Child`], killed on drop), host commands that
//! must succeed ([`run_ok`]) and polling ([`wait_until`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Polls `cond` every 10 ms until it returns true or `timeout` has passed.
/// Returns whether the condition was met.
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

/// Runs a host command (`args[0]` with the rest as arguments) and returns
/// its output. Panics with that output if it cannot start or fails: it is
/// for set-up steps whose failure makes the test meaningless.
pub fn run_ok(args: &[&str]) -> Output {
    let Some((prog, rest)) = args.split_first() else { panic!("run_ok: empty command") };
    let out = Command::new(prog).args(rest).output().unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A process started by [`crate::Netns::spawn`], its stdout and stderr
/// appended to a log file. Dropping it sends SIGTERM, waits up to 2 s,
/// then SIGKILLs.
pub struct Child {
    what: String,
    process: std::process::Child,
    log: PathBuf,
}

impl Child {
    /// Wraps a started process: `what` names it in messages, `log` is the
    /// file its output goes to.
    pub(crate) fn new(what: String, process: std::process::Child, log: PathBuf) -> Child {
        Child { what, process, log }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Everything the process wrote to stdout and stderr so far ("" when
    /// the log cannot be read).
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
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
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
    pub fn stop(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.stop_with(Signal::SIGTERM, timeout)
    }

    /// Sends `sig`, waits up to `timeout`, then SIGKILLs. Returns the exit
    /// status if the process ended by itself in time.
    pub fn stop_with(&mut self, sig: Signal, timeout: Duration) -> Option<ExitStatus> {
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
