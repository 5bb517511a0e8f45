//! prol2tp: the L2TP control plane of the suite, as a library.
//!
//! [`proto`] is the protocol core: the wire codec, the reliable control
//! channel and the tunnel and session state machines of RFC 2661 (L2TPv2)
//! and RFC 3931 (L2TPv3). It does no I/O and never reads the clock: it is fed
//! `(now, input)` and returns datagrams, deadlines and events.
//! [`config`] reads `prol2tpd.conf`; [`dataplane`] is the seam behind which
//! the kernel, userspace and null data planes live; [`daemon`] runs the core
//! over real sockets.

#![warn(missing_docs)]

pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod proto;
