//! proacd, the suite's PPPoE access concentrator (RFC 2516), and the
//! PPPoE client side.
//!
//! - [`proto`]: PPPoE discovery without I/O: the packet and tag codec, the
//!   access concentrator's discovery engine (cookies, limits, PADI rate
//!   limiting, MAC lists, session ids) and the client's discovery state
//!   machine.
//! - [`config`]: `proacd.conf` (`[system]`, `[interface "NAME"]`,
//!   `[route "NAME"]`, `[client "NAME"]`).
//! - [`sys`]: the operating system: `AF_PACKET` sockets on Ethernet and
//!   VLAN interfaces, `AF_PPPOX`/`PX_PROTO_OE` session sockets and the PPP
//!   channel bridge.
//! - [`daemon`]: the event loop tying discovery, routes, propppd and
//!   prol2tpd together.
//! - [`cli`]: `proac_info` and `proac_manage`.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod proto;
pub mod sys;
