//! Lifecycle events: numbered handles for tunnels and sessions, one event
//! record per change, published to `prol2tpwatch` subscribers and to the
//! hook-script runner (`prol2tp-scriptd`).
//!
//! (Skeleton; filled in by the events work of issue 4.)

use common::ipc::{ErrorCode, Peer, Reply, Request};

use super::Daemon;

impl Daemon {
    /// A `Subscribe` or `Unsubscribe` request from `peer`.
    pub(super) fn on_subscribe(&mut self, peer: &Peer, request_id: u32, req: Request) -> Reply {
        let _ = (peer, request_id, req);
        Reply::Error { code: ErrorCode::Unsupported, message: "not implemented yet".into() }
    }
}
