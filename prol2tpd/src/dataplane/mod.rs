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
//!
//! Counters ([`Dataplane::session_stats`], [`Dataplane::tunnel_stats`]) are
//! read on demand, for `prol2tp show session` and `show tunnel`, in the
//! plane-neutral [`DataStats`]; a plane that keeps none answers `None`.

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

/// Data-plane counters of one session, or of a whole tunnel (all its
/// sessions' data packets), as every plane reports them. Counts only data
/// packets (RFC 2661 §3.1 T bit clear; RFC 3931 §4.1.1 data messages);
/// control messages are counted by the control channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataStats {
    /// Data packets sent to the peer.
    pub tx_packets: u64,
    /// Octets sent, as the plane measures them: the kernel's count
    /// includes the L2TP header, the userspace plane's is the frame before
    /// encapsulation.
    pub tx_octets: u64,
    /// Packets that could not be sent.
    pub tx_errors: u64,
    /// Data packets received and accepted.
    pub rx_packets: u64,
    /// Octets of the packets counted in `rx_packets`, as the plane
    /// measures them: the kernel's count includes encapsulation headers
    /// (on Linux 6.1, for L2TPv3 over UDP, the UDP header too), the
    /// userspace plane's is the frame after decapsulation.
    pub rx_octets: u64,
    /// Received packets dropped (malformed, refused, or undeliverable).
    pub rx_errors: u64,
    /// Received packets dropped for their sequence number (RFC 3931 §4.6,
    /// RFC 2661 §5.8).
    pub rx_seq_discards: u64,
    /// Received packets that arrived out of sequence (kernel: held for
    /// reordering; the userspace plane does not reorder and reports 0).
    pub rx_oos_packets: u64,
    /// Received packets dropped for a cookie that is not ours (RFC 3931 §4.1).
    pub rx_cookie_discards: u64,
    /// Received packets the kernel found invalid (bad header or version);
    /// 0 for the userspace plane, which counts them in `rx_errors`.
    pub rx_invalid: u64,
}

impl DataStats {
    /// Adds `other`'s counters to these (saturating).
    pub fn add(&mut self, other: &DataStats) {
        let pairs = [
            (&mut self.tx_packets, other.tx_packets),
            (&mut self.tx_octets, other.tx_octets),
            (&mut self.tx_errors, other.tx_errors),
            (&mut self.rx_packets, other.rx_packets),
            (&mut self.rx_octets, other.rx_octets),
            (&mut self.rx_errors, other.rx_errors),
            (&mut self.rx_seq_discards, other.rx_seq_discards),
            (&mut self.rx_oos_packets, other.rx_oos_packets),
            (&mut self.rx_cookie_discards, other.rx_cookie_discards),
            (&mut self.rx_invalid, other.rx_invalid),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The counters as `(name, value)` pairs, in a fixed order, named as
    /// the control socket reports them without the `data_` prefix.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        [
            ("rx_packets", self.rx_packets),
            ("rx_octets", self.rx_octets),
            ("rx_errors", self.rx_errors),
            ("rx_seq_discards", self.rx_seq_discards),
            ("rx_oos_packets", self.rx_oos_packets),
            ("rx_cookie_discards", self.rx_cookie_discards),
            ("rx_invalid", self.rx_invalid),
            ("tx_packets", self.tx_packets),
            ("tx_octets", self.tx_octets),
            ("tx_errors", self.tx_errors),
        ]
    }
}

impl From<&kernel::netlink::Stats> for DataStats {
    /// The kernel's `L2TP_ATTR_STATS` counters.
    fn from(s: &kernel::netlink::Stats) -> DataStats {
        DataStats {
            tx_packets: s.tx_packets,
            tx_octets: s.tx_bytes,
            tx_errors: s.tx_errors,
            rx_packets: s.rx_packets,
            rx_octets: s.rx_bytes,
            rx_errors: s.rx_errors,
            rx_seq_discards: s.rx_seq_discards,
            rx_oos_packets: s.rx_oos_packets,
            rx_cookie_discards: s.rx_cookie_discards,
            rx_invalid: s.rx_invalid,
        }
    }
}

impl From<&userspace::SessionStats> for DataStats {
    /// The userspace plane's per-session counters; its `seq_lost` (numbers
    /// skipped, not packets) has no counterpart here.
    fn from(s: &userspace::SessionStats) -> DataStats {
        DataStats {
            tx_packets: s.tx_packets,
            tx_octets: s.tx_octets,
            tx_errors: s.tx_errors,
            rx_packets: s.rx_packets,
            rx_octets: s.rx_octets,
            rx_errors: s.rx_errors,
            rx_seq_discards: s.seq_discards,
            rx_oos_packets: 0,
            rx_cookie_discards: s.cookie_mismatches,
            rx_invalid: 0,
        }
    }
}

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
    /// The data counters of our session `session_id` in our tunnel
    /// `tunnel_id`, read now; `None` when the plane keeps none or does not
    /// carry that session. The kernel plane asks the kernel (a netlink get
    /// answered while it is sent, so this does not wait in practice; at
    /// most a short timeout).
    fn session_stats(&mut self, _tunnel_id: u32, _session_id: u32) -> Option<DataStats> {
        None
    }
    /// The data counters of our tunnel `tunnel_id` (all its sessions,
    /// including those already gone), read now; `None` when the plane keeps
    /// none or does not know the tunnel.
    fn tunnel_stats(&mut self, _tunnel_id: u32) -> Option<DataStats> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_userspace_counters_map_field_by_field() {
        let k = kernel::netlink::Stats {
            tx_packets: 1,
            tx_bytes: 2,
            tx_errors: 3,
            rx_packets: 4,
            rx_bytes: 5,
            rx_seq_discards: 6,
            rx_oos_packets: 7,
            rx_errors: 8,
            rx_cookie_discards: 9,
            rx_invalid: 10,
        };
        let d = DataStats::from(&k);
        let want = [
            ("rx_packets", 4),
            ("rx_octets", 5),
            ("rx_errors", 8),
            ("rx_seq_discards", 6),
            ("rx_oos_packets", 7),
            ("rx_cookie_discards", 9),
            ("rx_invalid", 10),
            ("tx_packets", 1),
            ("tx_octets", 2),
            ("tx_errors", 3),
        ];
        assert_eq!(d.fields(), want);

        let u = userspace::SessionStats {
            rx_packets: 11,
            rx_octets: 12,
            rx_errors: 13,
            tx_packets: 14,
            tx_octets: 15,
            tx_errors: 16,
            cookie_mismatches: 17,
            seq_discards: 18,
            seq_lost: 19,
        };
        let want = DataStats {
            tx_packets: 14,
            tx_octets: 15,
            tx_errors: 16,
            rx_packets: 11,
            rx_octets: 12,
            rx_errors: 13,
            rx_seq_discards: 18,
            rx_oos_packets: 0,
            rx_cookie_discards: 17,
            rx_invalid: 0,
        };
        assert_eq!(DataStats::from(&u), want);

        let mut sum = d;
        sum.add(&want);
        assert_eq!((sum.tx_packets, sum.rx_octets, sum.rx_cookie_discards, sum.rx_invalid), (15, 17, 26, 10));
        let mut max = DataStats { rx_packets: u64::MAX, ..DataStats::default() };
        max.add(&d);
        assert_eq!(max.rx_packets, u64::MAX, "saturates");
    }

    #[test]
    fn null_plane_keeps_no_counters() {
        let mut null = NullDataplane::default();
        let plane: &mut dyn Dataplane = &mut null;
        assert_eq!(plane.session_stats(1, 2), None);
        assert_eq!(plane.tunnel_stats(1), None);
    }
}
