//! The PPP core: plain data structures fed with `(now, input)` that return
//! frames to send, deadlines and events. No sockets, no clock, no files.

pub mod auth;
pub mod chap;
pub mod frame;
pub mod fsm;
pub mod ipcp;
pub mod ipv6cp;
pub mod lcp;
pub mod link;
pub mod mschap;
pub mod pap;
