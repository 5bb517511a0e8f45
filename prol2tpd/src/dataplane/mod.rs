//! The data-plane seam: what carries a session's packets once the control
//! plane has set it up.
//!
//! The daemon turns the core's lifecycle events into calls on one
//! [`Dataplane`]: the kernel's L2TP subsystem in production, a userspace
//! relay where the modules are missing, or [`NullDataplane`], which only
//! records the requests (protocol tests, and hosts where no data is to be
//! carried). A failure closes only the tunnel or session concerned.

pub mod kernel;
pub mod userspace;

use std::fmt;

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
