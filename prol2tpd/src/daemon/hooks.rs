//! The daemon's side of the hook scripts: spawns `prol2tp-scriptd` at
//! start-up with one end of a `SOCK_SEQPACKET` socket pair on its stdin,
//! and feeds it event records without ever blocking.
//!
//! (Skeleton; filled in by the hook-script work of issue 4.)

use std::os::fd::BorrowedFd;

use common::ipc::Record;

use crate::config::SystemConfig;

/// The running `prol2tp-scriptd` and the queue of events not yet written
/// to it.
#[derive(Debug)]
pub(super) struct Hooks {}

impl Hooks {
    /// Spawns `prol2tp-scriptd` for the `[system]` settings (script
    /// directory, `max_running_scripts`, `script_timeout`); `foreground`
    /// makes it log to stderr like the daemon. Errors: the binary cannot be
    /// found or started.
    pub(super) fn spawn(system: &SystemConfig, foreground: bool) -> Result<Hooks, String> {
        let _ = (system, foreground);
        Err("not implemented yet".into())
    }

    /// Queues one event record for the runner; never blocks.
    pub(super) fn send(&mut self, record: &Record) {
        let _ = record;
    }

    /// The daemon's end of the socket pair (watch it for WRITABLE while
    /// [`Hooks::has_backlog`]).
    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// True when records wait for the socket to become writable.
    pub(super) fn has_backlog(&self) -> bool {
        false
    }

    /// The socket is writable: write what waits.
    pub(super) fn flush(&mut self) {}

    /// A child exited: true when it was the runner (it is then gone and
    /// [`Hooks::spawn`] may be called again).
    pub(super) fn child_exited(&mut self, pid: i32) -> bool {
        let _ = pid;
        false
    }
}
