//! Interface state and addresses through rtnetlink (`NETLINK_ROUTE`), with
//! the suite's shared netlink layer ([`common::netlink`]).
//!
//! The kernel handles these requests synchronously inside `sendmsg`, so the
//! acknowledgement is waiting when the call returns; each call still caps
//! its wait ([`NETIF_TIMEOUT_MS`]) and is the one place propppd's loop
//! waits on the kernel.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use common::netlink::{AddrRequest, LinkInfo, LinkRequest, LinkStats, NetlinkSocket, Protocol, ReplyError, IFNAME_MAX};

/// Longest wait for one answer, ms.
pub const NETIF_TIMEOUT_MS: u16 = 100;

/// An rtnetlink socket for interface changes.
#[derive(Debug)]
pub struct NetIf {
    sock: NetlinkSocket,
}

fn os_error(e: ReplyError) -> io::Error {
    io::Error::from_raw_os_error(e.errno())
}

/// `fe80::ID` (RFC 4291 §2.5.6 link-local prefix, RFC 5072 §5 interface
/// identifier in the low 64 bits).
pub fn link_local(id: u64) -> Ipv6Addr {
    Ipv6Addr::from((0xfe80u128 << 112) | u128::from(id))
}

impl NetIf {
    /// Opens the socket. Errors: the OS error.
    pub fn open() -> io::Result<NetIf> {
        Ok(NetIf { sock: NetlinkSocket::open(Protocol::Route)? })
    }

    fn request(&mut self, emit: impl FnOnce(u32, &mut Vec<u8>)) -> io::Result<()> {
        self.sock.request_blocking(emit, NETIF_TIMEOUT_MS).map(|_| ()).map_err(os_error)
    }

    fn link_request(&mut self, req: &LinkRequest) -> io::Result<()> {
        self.request(|seq, out| req.emit(seq, out))
    }

    /// Reads link `ifname`: index, flags, MTU. Errors: `ENODEV` when
    /// there is no such link.
    pub fn link(&mut self, ifname: &str) -> io::Result<LinkInfo> {
        self.sock.get_link(ifname, NETIF_TIMEOUT_MS).map_err(os_error)
    }

    /// The 64-bit counters of link `ifname` (`IFLA_STATS64`): for TUN
    /// devices and PPP units alike, and without the 32-bit wrap of
    /// `SIOCGPPPSTATS`. Errors: `ENODEV` when there is no such link,
    /// `EPROTO` when the kernel sent no counters.
    pub fn stats(&mut self, ifname: &str) -> io::Result<LinkStats> {
        self.link(ifname)?.stats.ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
    }

    /// The index of link `ifname`. Errors: `ENODEV` when there is none.
    pub fn ifindex(&mut self, ifname: &str) -> io::Result<u32> {
        Ok(self.link(ifname)?.ifindex)
    }

    /// Brings `ifname` up (or down) and sets its MTU (octets) when given.
    /// Errors: `ENODEV` when there is no such link, `EINVAL` for an MTU
    /// the device refuses.
    pub fn set_link(&mut self, ifname: &str, up: bool, mtu: Option<u32>) -> io::Result<()> {
        if !up {
            self.link_request(&LinkRequest::Down { ifname: ifname.to_owned() })?;
            if mtu.is_none() {
                return Ok(());
            }
        }
        self.link_request(&LinkRequest::Set { ifname: ifname.to_owned(), up, mtu, master: None })
    }

    /// Renames `ifname` (which must be down) to `new_name`. Errors:
    /// `EINVAL` for a new name that is empty, over 15 octets or holds a
    /// NUL, `/` or space; `ENODEV` when `ifname` does not exist; `EBUSY`
    /// while it is up (kernels before 6.2; later ones rename up links);
    /// `EEXIST` when `new_name` is taken.
    pub fn rename(&mut self, ifname: &str, new_name: &str) -> io::Result<()> {
        if new_name.is_empty() || new_name.len() > IFNAME_MAX || new_name.contains(['\0', '/', ' ']) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let ifindex = self.ifindex(ifname)?;
        self.link_request(&LinkRequest::Rename { ifindex, new_name: new_name.to_owned() })
    }

    /// Adds point-to-point address `local` with peer `peer` (/32) to
    /// `ifname`: the kernel installs the route to the peer with it. Adding
    /// the same address again replaces it. Errors: `ENODEV` when there is
    /// no such link.
    pub fn add_ipv4_ptp(&mut self, ifname: &str, local: Ipv4Addr, peer: Ipv4Addr) -> io::Result<()> {
        let ifindex = self.ifindex(ifname)?;
        let req = AddrRequest::Ipv4Ptp { ifindex, local, peer };
        self.request(|seq, out| req.emit(seq, out))
    }

    /// Adds link-local `fe80::LOCAL_ID/128` with peer `fe80::PEER_ID` to
    /// `ifname` (RFC 5072 section 5: the IPv6CP interface identifiers).
    /// Errors: `ENODEV` when there is no such link, `EACCES`/`EPERM`… when
    /// IPv6 is disabled on it.
    pub fn add_ipv6_link_local(&mut self, ifname: &str, local_id: u64, peer_id: u64) -> io::Result<()> {
        let ifindex = self.ifindex(ifname)?;
        let req = AddrRequest::Ipv6Ptp { ifindex, local: link_local(local_id), peer: link_local(peer_id) };
        self.request(|seq, out| req.emit(seq, out))
    }

    /// Deletes link `ifname` (`ENODEV` when it does not exist).
    pub fn delete_link(&mut self, ifname: &str) -> io::Result<()> {
        self.link_request(&LinkRequest::Delete { ifname: ifname.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_addresses() {
        assert_eq!(link_local(1), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(link_local(0x0211_22ff_fe33_4455), Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0211, 0x22ff, 0xfe33, 0x4455));
        assert_eq!(link_local(u64::MAX), Ipv6Addr::new(0xfe80, 0, 0, 0, 0xffff, 0xffff, 0xffff, 0xffff));
    }

    #[test]
    fn missing_links_are_enodev() {
        let Ok(mut n) = NetIf::open() else { return };
        let errno = |r: io::Result<()>| r.err().and_then(|e| e.raw_os_error());
        assert_eq!(errno(n.set_link("propppd-nodev", true, Some(1400))), Some(libc::ENODEV));
        assert_eq!(errno(n.add_ipv4_ptp("propppd-nodev", Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2))), Some(libc::ENODEV));
        assert_eq!(errno(n.delete_link("propppd-nodev")), Some(libc::ENODEV));
        assert_eq!(errno(n.rename("propppd-nodev", "x")), Some(libc::ENODEV));
        assert_eq!(errno(n.rename("lo", "sixteen-octets!!")), Some(libc::EINVAL));
        assert_eq!(n.ifindex("lo").ok(), Some(1));
    }
}
