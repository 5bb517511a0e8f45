//! The daemon's L2TP sockets: UDP (port 1701 by default, IPv4 and IPv6)
//! and, for L2TPv3 over IP, raw IP sockets for protocol 115 (used where the
//! kernel's `l2tp_ip` is absent; RFC 3931 §4.1.1).

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::proto::header::Transport;

/// IANA protocol number of L2TP over IP (RFC 3931 §4.1.1).
pub const IPPROTO_L2TP: i32 = 115;

/// One socket and what it carries.
pub struct L2tpSocket {
    /// The socket (non-blocking).
    pub socket: Socket,
    /// UDP or IP encapsulation.
    pub transport: Transport,
    /// Local address it is bound to.
    pub local: SocketAddr,
}

impl L2tpSocket {
    /// The fd, for registration with the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Receives one datagram into `buf`: `Ok(None)` when nothing is
    /// pending. For raw IPv4 sockets the IP header is stripped, so the
    /// returned range is always the L2TP packet.
    pub fn recv<'b>(&self, buf: &'b mut [u8]) -> io::Result<Option<(SocketAddr, &'b [u8])>> {
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout, and
        // recv_from only writes initialised bytes into the prefix it returns.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let (n, from) = match self.socket.recv_from(uninit) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(from) = from.as_socket() else { return Ok(None) };
        let data = buf.get(..n).unwrap_or(&[]);
        let data = match (self.transport, from) {
            (Transport::Ip, SocketAddr::V4(_)) => {
                let ihl = data.first().map(|b| usize::from(b & 0x0f) * 4).unwrap_or(0);
                data.get(ihl..).unwrap_or(&[])
            }
            _ => data,
        };
        Ok(Some((from, data)))
    }

    /// Sends one datagram to `to` (its port is ignored for IP encapsulation).
    pub fn send(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = match self.transport {
            Transport::Udp => to,
            Transport::Ip => SocketAddr::new(to.ip(), 0),
        };
        self.socket.send_to(bytes, &SockAddr::from(to))
    }
}

/// Opens a non-blocking UDP socket bound to `addr` (IPv6 ones v6-only, so
/// an IPv4 wildcard can be bound beside them).
pub fn udp_socket(addr: SocketAddr) -> io::Result<L2tpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    let local = socket.local_addr()?.as_socket().unwrap_or(addr);
    Ok(L2tpSocket { socket, transport: Transport::Udp, local })
}

/// Opens a non-blocking raw IP socket for protocol 115 on `ip`'s family,
/// bound to `ip` unless it is the wildcard.
pub fn ip_socket(ip: IpAddr) -> io::Result<L2tpSocket> {
    let local = SocketAddr::new(ip, 0);
    let socket = Socket::new(Domain::for_address(local), Type::RAW, Some(Protocol::from(IPPROTO_L2TP)))?;
    socket.set_nonblocking(true)?;
    if !ip.is_unspecified() {
        socket.bind(&SockAddr::from(local))?;
    }
    Ok(L2tpSocket { socket, transport: Transport::Ip, local })
}

/// The wildcard addresses listened on when `[system] listen` is empty.
pub fn default_listen() -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
}
