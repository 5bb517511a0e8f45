//! The data-plane seam: what carries a session's packets once the control
//! plane has set it up.
//!
//! The daemon turns the core's lifecycle events into calls on one
//! [`Dataplane`]: the kernel's L2TP subsystem in production, a userspace
//! relay where the modules are missing, or [`NullDataplane`], which only
//! records the requests (protocol tests, and hosts where no data is to be
//! carried). A failure closes only the tunnel or session concerned.
//!
//! The lifecycle calls answer at once; what a plane learns later (the
//! kernel's answers to netlink requests) it reports through
//! [`Dataplane::poll_event`] after the daemon saw one of its
//! [`Dataplane::fds`] readable and called [`Dataplane::handle_readable`].
//! Those methods have do-nothing defaults, so a plane that answers
//! everything synchronously (null, userspace) implements only the five
//! lifecycle calls.

pub mod kernel;
pub mod userspace;

use std::fmt;
use std::os::fd::{BorrowedFd, RawFd};

use crate::proto::endpoint::{SessionInfo, TunnelInfo};

/// Why the data plane could not set up a tunnel or session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataplaneError {
    /// The OS error number, when the kernel refused (e.g. `EEXIST`).
    pub errno: Option<i32>,
    /// What failed, for the log and the CDN/StopCCN message.
    pub message: String,
}

impl fmt::Display for DataplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(e) => write!(f, "{} (errno {e})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DataplaneError {}

/// Something a data plane reports after the call that caused it
/// ([`Dataplane::poll_event`]).
#[derive(Debug)]
pub enum DataplaneEvent {
    /// Setting up a tunnel (`session_id` `None`) or session failed: close
    /// it (StopCCN / CDN with a General Error result, RFC 2661 §4.4.2).
    Failed {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id, for a session.
        session_id: Option<u32>,
        /// What failed, with the kernel's errno.
        error: DataplaneError,
    },
    /// The PPP channel of a PPP session is ready: start the PPP side on
    /// [`Dataplane::ppp_socket`].
    PppReady {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
    },
    /// The interface of an Ethernet or VLAN pseudowire is up.
    InterfaceUp {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
        /// The interface carrying the frames (`l2tpeth0`, `l2tpeth0.100`).
        ifname: String,
    },
    /// Counters asked for (kernel plane: `request_*_stats`).
    Stats {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id, for session counters.
        session_id: Option<u32>,
        /// The counters, or why they could not be read.
        result: Result<kernel::netlink::Stats, DataplaneError>,
    },
}

/// One data plane. Calls come from the daemon's single thread and must
/// not block.
pub trait Dataplane {
    /// Short name for logs and `prol2tp show system` (`kernel`, `userspace`, `null`).
    fn name(&self) -> &'static str;
    /// The control connection is up: create the data-plane tunnel.
    fn tunnel_up(&mut self, tunnel: &TunnelInfo) -> Result<(), DataplaneError>;
    /// The tunnel is going away: delete it and anything left in it.
    fn tunnel_down(&mut self, tunnel_id: u32);
    /// The session is established: carry its packets.
    fn session_up(&mut self, session: &SessionInfo) -> Result<(), DataplaneError>;
    /// The session is gone: stop carrying it.
    fn session_down(&mut self, session: &SessionInfo);

    /// True when the plane needs a socket of its own per tunnel, given
    /// with [`Dataplane::attach_tunnel_socket`] before `tunnel_up` (the
    /// kernel plane: a connected UDP socket, or an `IPPROTO_L2TP` one).
    fn wants_tunnel_socket(&self) -> bool {
        false
    }
    /// The daemon's socket for `tunnel_id`, before `tunnel_up`. The daemon
    /// keeps owning it and keeps it open until after `tunnel_down`.
    fn attach_tunnel_socket(&mut self, _tunnel_id: u32, _fd: RawFd) {}
    /// Fds whose readability the daemon reports with
    /// [`Dataplane::handle_readable`] (none by default).
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }
    /// One of [`Dataplane::fds`] is readable: read what is queued. Never blocks.
    fn handle_readable(&mut self) {}
    /// The next asynchronous result, if any.
    fn poll_event(&mut self) -> Option<DataplaneEvent> {
        None
    }
    /// The PPP channel of a PPP session, once [`DataplaneEvent::PppReady`]
    /// was reported (a PPPoL2TP socket for the kernel plane).
    fn ppp_socket(&self, _tunnel_id: u32, _session_id: u32) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// A request recorded by [`NullDataplane`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NullRecord {
    /// `tunnel_up(tunnel_id)`.
    TunnelUp(u32),
    /// `tunnel_down(tunnel_id)`.
    TunnelDown(u32),
    /// `session_up(tunnel_id, session_id)`.
    SessionUp(u32, u32),
    /// `session_down(tunnel_id, session_id)`.
    SessionDown(u32, u32),
}

/// The data plane that carries nothing and records what it was asked.
#[derive(Debug, Default)]
pub struct NullDataplane {
    /// Requests in arrival order (kept to the last 1,024).
    pub records: Vec<NullRecord>,
}

impl NullDataplane {
    fn record(&mut self, r: NullRecord) {
        if self.records.len() >= 1024 {
            self.records.remove(0);
        }
        self.records.push(r);
    }
}

impl Dataplane for NullDataplane {
    fn name(&self) -> &'static str {
        "null"
    }
    fn tunnel_up(&mut self, tunnel: &TunnelInfo) -> Result<(), DataplaneError> {
        self.record(NullRecord::TunnelUp(tunnel.tunnel_id));
        Ok(())
    }
    fn tunnel_down(&mut self, tunnel_id: u32) {
        self.record(NullRecord::TunnelDown(tunnel_id));
    }
    fn session_up(&mut self, session: &SessionInfo) -> Result<(), DataplaneError> {
        self.record(NullRecord::SessionUp(session.tunnel_id, session.session_id));
        Ok(())
    }
    fn session_down(&mut self, session: &SessionInfo) {
        self.record(NullRecord::SessionDown(session.tunnel_id, session.session_id));
    }
}
