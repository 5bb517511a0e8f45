//! propppd: the suite's PPP daemon. Every PPP session of the machine runs
//! in one event loop; channels come from prol2tpd (L2TP PPP pseudowires)
//! and proacd (PPPoE sessions).
//!
//! - [`proto`] holds the PPP core with no I/O and no clock: frames, the
//!   RFC 1661 option-negotiation automaton, LCP, PAP, CHAP-MD5,
//!   MS-CHAPv2, IPCP, IPv6CP, and the link that runs one session through
//!   its phases ([`proto::link`]).
//! - [`secrets`] reads pppd's `chap-secrets` / `pap-secrets` files.
//! - [`pool`] hands out IPv4 addresses from named pools.
//! - [`config`] reads `propppd.conf`.
//! - [`daemon`] is the `propppd` process around them.
//! - [`cli`] is what `propppctl` and `propppwatch` share.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod pool;
pub mod proto;
pub mod secrets;
pub mod sys;
