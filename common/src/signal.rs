//! Signals as events of the loop, through a signal fd.
//!
//! The daemons handle SIGHUP (reload), SIGTERM and SIGINT (shut down) and
//! SIGCHLD (reap helpers and hook scripts) in the loop rather than in signal
//! handlers: [`Signals::new`] blocks them and opens a non-blocking
//! `signalfd(2)` that becomes readable when one is pending; the loop registers
//! it ([`crate::evloop::EventLoop::register`]) and calls
//! [`Signals::read_all`]. SIGPIPE is ignored, so writes to a closed socket or
//! pipe return `EPIPE` instead of killing the daemon.
//!
//! # Creating it early
//!
//! A signal mask is per thread, and a process-directed signal is delivered to
//! any thread that does not block it. [`Signals::new`] must therefore run in
//! the daemon's single thread before any other thread exists (and before any
//! child is forked, since children inherit the mask: a child that `exec`s
//! another program must call [`reset_in_child`] first).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{self as nixsig, SigHandler, SigSet, SigmaskHow};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// A signal the daemons act on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Signal {
    /// SIGHUP: reload the configuration.
    Hup,
    /// SIGTERM: orderly shutdown.
    Term,
    /// SIGINT: orderly shutdown (Ctrl-C with `-f`).
    Int,
    /// SIGCHLD: a child exited; reap it with `waitpid(WNOHANG)`.
    Chld,
}

impl Signal {
    /// The signal's name (`"SIGHUP"` ...), for log lines.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hup => "SIGHUP",
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Chld => "SIGCHLD",
        }
    }

    /// The `nix` signal number.
    fn to_nix(self) -> nixsig::Signal {
        match self {
            Signal::Hup => nixsig::Signal::SIGHUP,
            Signal::Term => nixsig::Signal::SIGTERM,
            Signal::Int => nixsig::Signal::SIGINT,
            Signal::Chld => nixsig::Signal::SIGCHLD,
        }
    }

    /// Maps a raw signal number to a handled signal.
    fn from_raw(signo: u32) -> Option<Signal> {
        let signo = i32::try_from(signo).ok()?;
        [Signal::Hup, Signal::Term, Signal::Int, Signal::Chld].into_iter().find(|s| s.to_nix() as i32 == signo)
    }
}

/// Every signal handled through the fd.
const HANDLED: [Signal; 4] = [Signal::Hup, Signal::Term, Signal::Int, Signal::Chld];

/// The set of [`HANDLED`] signals.
fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s.to_nix());
    }
    set
}

/// A non-blocking signal fd for SIGHUP, SIGTERM, SIGINT and SIGCHLD (see the
/// module documentation).
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Ignores SIGPIPE, blocks SIGHUP, SIGTERM, SIGINT and SIGCHLD in the
    /// calling thread (= the process, when called before any thread exists)
    /// and opens a non-blocking, close-on-exec signal fd for them.
    ///
    /// # Errors
    /// The OS error of `sigaction`, `pthread_sigmask` or `signalfd`.
    pub fn new() -> io::Result<Signals> {
        // SAFETY: SIG_IGN installs no handler code, so nothing can run in
        // signal context; replacing SIGPIPE's disposition affects no Rust
        // invariant (std itself ignores SIGPIPE at start-up).
        unsafe { nixsig::signal(nixsig::Signal::SIGPIPE, SigHandler::SigIgn) }.map_err(io::Error::from)?;
        let set = handled_set();
        nixsig::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(io::Error::from)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).map_err(io::Error::from)?;
        Ok(Signals { fd })
    }

    /// Drains the fd: every pending handled signal, lowest signal number
    /// first. Several deliveries of the same signal before a read coalesce
    /// into one (POSIX standard signals are not queued). Returns an empty
    /// vector when nothing is pending; a read error other than `EINTR`
    /// (which does not happen on a healthy fd) ends the drain early.
    pub fn read_all(&mut self) -> Vec<Signal> {
        let mut out = Vec::new();
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    if let Some(s) = Signal::from_raw(info.ssi_signo) {
                        out.push(s);
                    }
                }
                Ok(None) => break,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        out
    }

    /// The raw fd, for registration in a poller.
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Signals {
    /// The signal fd, for registration in the event loop.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Signals {
    /// The raw signal fd.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Undoes [`Signals::new`] for a freshly forked child that is about to
/// `exec` another program: unblocks the handled signals and restores the
/// default SIGPIPE disposition. Only async-signal-safe calls are made, so it
/// may run in a `pre_exec` hook.
///
/// # Errors
/// The OS error of `sigaction` or `pthread_sigmask`.
pub fn reset_in_child() -> io::Result<()> {
    // SAFETY: SIG_DFL installs no handler code; see `Signals::new`.
    unsafe { nixsig::signal(nixsig::Signal::SIGPIPE, SigHandler::SigDfl) }.map_err(io::Error::from)?;
    nixsig::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&handled_set()), None).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test runs on its own thread; `raise` sends a thread-directed
    // signal, so blocking in this thread is enough for it to reach the fd.

    #[test]
    fn empty_fd_reads_nothing() {
        let mut s = Signals::new().unwrap();
        assert!(s.read_all().is_empty());
        assert!(s.as_raw_fd() >= 0);
        assert_eq!(s.as_fd().as_raw_fd(), AsRawFd::as_raw_fd(&s));
    }

    #[test]
    fn raised_signals_are_read_in_number_order_and_coalesce() {
        let mut s = Signals::new().unwrap();
        nixsig::raise(nixsig::Signal::SIGCHLD).unwrap();
        nixsig::raise(nixsig::Signal::SIGTERM).unwrap();
        nixsig::raise(nixsig::Signal::SIGHUP).unwrap();
        nixsig::raise(nixsig::Signal::SIGHUP).unwrap();
        nixsig::raise(nixsig::Signal::SIGINT).unwrap();
        assert_eq!(s.read_all(), vec![Signal::Hup, Signal::Int, Signal::Term, Signal::Chld]);
        assert!(s.read_all().is_empty());
        nixsig::raise(nixsig::Signal::SIGHUP).unwrap();
        assert_eq!(s.read_all(), vec![Signal::Hup]);
    }

    #[test]
    fn sigpipe_is_ignored_and_signals_blocked() {
        let _s = Signals::new().unwrap();
        let mask = SigSet::thread_get_mask().unwrap();
        for sig in HANDLED {
            assert!(mask.contains(sig.to_nix()), "{} not blocked", sig.name());
        }
        // SAFETY (test): query-and-restore of the disposition.
        let old = unsafe { nixsig::signal(nixsig::Signal::SIGPIPE, SigHandler::SigIgn) }.unwrap();
        assert_eq!(old, SigHandler::SigIgn);
    }

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(Signal::from_raw(libc::SIGHUP as u32), Some(Signal::Hup));
        assert_eq!(Signal::from_raw(libc::SIGCHLD as u32), Some(Signal::Chld));
        assert_eq!(Signal::from_raw(libc::SIGUSR1 as u32), None);
        assert_eq!(Signal::from_raw(u32::MAX), None);
        assert_eq!(Signal::Term.name(), "SIGTERM");
    }
}
