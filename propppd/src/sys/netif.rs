//! Interface state and addresses through rtnetlink (`NETLINK_ROUTE`).
//!
//! The kernel handles these requests synchronously inside `sendmsg`, so the
//! acknowledgement is waiting when the call returns; each call still caps
//! its wait (100 ms) and is the one place propppd's loop waits on the
//! kernel.

use std::io;
use std::net::Ipv4Addr;

/// An rtnetlink socket for interface changes.
#[derive(Debug)]
pub struct NetIf {}

impl NetIf {
    /// Opens the socket. Errors: the OS error.
    pub fn open() -> io::Result<NetIf> {
        Err(unsupported())
    }

    /// Brings `ifname` up (or down) and sets its MTU (octets) when given.
    pub fn set_link(&mut self, _ifname: &str, _up: bool, _mtu: Option<u32>) -> io::Result<()> {
        Err(unsupported())
    }

    /// Renames `ifname` (which must be down) to `new_name`.
    pub fn rename(&mut self, _ifname: &str, _new_name: &str) -> io::Result<()> {
        Err(unsupported())
    }

    /// Adds point-to-point address `local` with peer `peer` (/32) to
    /// `ifname`: the kernel installs the route to the peer with it.
    pub fn add_ipv4_ptp(&mut self, _ifname: &str, _local: Ipv4Addr, _peer: Ipv4Addr) -> io::Result<()> {
        Err(unsupported())
    }

    /// Adds link-local `fe80::LOCAL_ID/128` with peer `fe80::PEER_ID` to
    /// `ifname` (RFC 5072 section 5: the IPv6CP interface identifiers).
    pub fn add_ipv6_link_local(&mut self, _ifname: &str, _local_id: u64, _peer_id: u64) -> io::Result<()> {
        Err(unsupported())
    }

    /// Deletes link `ifname` (`ENODEV` when it does not exist).
    pub fn delete_link(&mut self, _ifname: &str) -> io::Result<()> {
        Err(unsupported())
    }
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "not yet")
}
