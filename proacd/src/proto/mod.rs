//! PPPoE discovery without I/O (RFC 2516, RFC 4638).
//!
//! - [`packet`]: the codec for PPPoE discovery and session packets and their
//!   tags, plus Ethernet framing helpers.
//! - [`server`]: the access concentrator's discovery engine: PADI → PADO,
//!   PADR → PADS with AC-Cookies, PADI rate limiting, MAC lists, session
//!   limits and session id allocation, PADT both ways.
//! - [`client`]: the host's discovery state machine: PADI with retries,
//!   choosing a PADO, PADR, PADS, PADT.
//!
//! The cores never read the clock or touch sockets: time comes in as
//! [`std::time::Instant`], received frames as bytes, and what to send comes
//! back as output values the daemon executes.

pub mod client;
pub mod cookie;
pub mod packet;
pub mod ratelimit;
pub mod server;

pub use client::{Client, ClientOutput, ClientParams, ClientState};
pub use packet::{
    eth_frame, parse_eth, parse_session, session_frame, tag, Code, Discovery, EthHeader, MacAddr, PacketError, Tag, ETH_P_PPP_DISC, ETH_P_PPP_SES,
    PPPOE_VER_TYPE,
};
pub use server::{Drop, IfaceId, InterfaceParams, Limits, Output, RouteId, Server, SessionEntry, Stats};
