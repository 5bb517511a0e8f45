//! propppd: the suite's PPP daemon. Every PPP session of the machine runs
//! in one event loop; channels come from prol2tpd (L2TP PPP pseudowires)
//! and proacd (PPPoE sessions).
//!
//! - [`proto`]: the PPP core — frames, the RFC 1661 option-negotiation
//!   automaton, LCP, PAP, CHAP-MD5, MS-CHAPv2, IPCP, IPv6CP — with no I/O
//!   and no clock.
//! - [`secrets`]: pppd's `chap-secrets` / `pap-secrets` files.
//! - [`pool`]: IPv4 address pools.
//! - [`config`]: `propppd.conf`.
#![warn(missing_docs)]

pub mod config;
pub mod pool;
pub mod proto;
pub mod secrets;
