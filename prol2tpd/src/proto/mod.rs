//! The L2TP protocol core (no I/O, no clock).
//!
//! Layers, bottom up:
//! - [`header`]: the L2TPv2 and L2TPv3 control and data headers (RFC 2661 §3.1,
//!   RFC 3931 §3.2, §4.1).
//! - [`avp`], [`message`], [`result`]: the AVP registry, typed control
//!   messages with per-message validation, result and error codes.
//! - [`hide`], [`auth`]: hidden AVPs (RFC 2661 §4.3), tunnel authentication
//!   (RFC 2661 §5.1.1) and the L2TPv3 message digest (RFC 3931 §4.3, §5.4.1).
//! - [`reliable`]: the reliable control channel (Ns/Nr, windows,
//!   retransmission, ZLB, HELLO; RFC 2661 §5.8, RFC 3931 §4.2).
//! - [`tunnel`], [`session`]: the control connection and session FSMs.
//! - [`trace`]: per-instance trace of AVPs (`avp`, `avp_hide`, `avp_data`).
//! - [`endpoint`]: all tunnels and sessions of one daemon, the id spaces and
//!   limits; the entry point the daemon and the tests drive.

pub mod auth;
pub mod avp;
pub mod endpoint;
pub mod header;
pub mod hide;
pub mod message;
pub mod reliable;
pub mod result;
pub mod session;
pub mod trace;
pub mod tunnel;
