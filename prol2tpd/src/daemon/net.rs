//! The daemon's L2TP sockets: UDP (port 1701 by default, IPv4 and IPv6)
//! and, for L2TPv3 over IP (RFC 3931 §4.1.1), raw IP sockets for protocol
//! 115 where the kernel's `l2tp_ip` is not used, or `IPPROTO_L2TP`
//! datagram sockets with the kernel data plane.
//!
//! With the kernel data plane each tunnel also gets a socket of its own
//! ([`tunnel_socket`]): UDP bound to the tunnel's local address and
//! connected to the peer, or L2TP/IP bound to the tunnel id. The
//! `IPPROTO_L2TP` sockets drop the 4-octet zero Session ID of control
//! messages on receipt and add it on sending; [`L2tpSocket`] puts it
//! back and takes it off, so the core always sees RFC 3931 §4.1.1.2
//! packets.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::dataplane::kernel::sys;
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
    /// True for `IPPROTO_L2TP` datagram sockets (the kernel strips and
    /// adds the zero Session ID of control messages).
    pub l2tp_ip: bool,
}

/// Octets of the zero Session ID in front of an L2TP/IP control message.
const SESSION_ID_ZERO_LEN: usize = 4;

impl L2tpSocket {
    /// The fd, for registration with the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Receives one datagram into `buf`: `Ok(None)` when nothing is
    /// pending. For raw IPv4 sockets the IP header is stripped, so the
    /// returned range is always the L2TP packet.
    pub fn recv<'b>(&self, buf: &'b mut [u8]) -> io::Result<Option<(SocketAddr, &'b [u8])>> {
        // An L2TP/IP socket's messages go after room for the zero Session ID.
        let skip = if self.l2tp_ip { SESSION_ID_ZERO_LEN } else { 0 };
        let Some(room) = buf.get_mut(skip..) else { return Ok(None) };
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout, and
        // recv_from only writes initialised bytes into the prefix it returns.
        let uninit = unsafe { &mut *(room as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let (n, from) = match self.socket.recv_from(uninit) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(from) = from.as_socket() else { return Ok(None) };
        if self.l2tp_ip {
            if let Some(zero) = buf.get_mut(..SESSION_ID_ZERO_LEN) {
                zero.fill(0);
            }
            let data = buf.get(..n.saturating_add(SESSION_ID_ZERO_LEN)).unwrap_or(&[]);
            return Ok(Some((SocketAddr::new(from.ip(), 0), data)));
        }
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
        let bytes = if self.l2tp_ip { bytes.get(SESSION_ID_ZERO_LEN..).unwrap_or(&[]) } else { bytes };
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
    Ok(L2tpSocket { socket, transport: Transport::Udp, local, l2tp_ip: false })
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
    Ok(L2tpSocket { socket, transport: Transport::Ip, local, l2tp_ip: false })
}

/// The wildcard addresses listened on when `[system] listen` is empty.
pub fn default_listen() -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
}

/// Opens the listening `IPPROTO_L2TP` socket on `ip` (Connection ID 0:
/// SCCRQs and the answers to tunnels we do not know), for the kernel data
/// plane, which takes the data packets a raw socket would also copy.
/// Errors: `EPROTONOSUPPORT` without `l2tp_ip`/`l2tp_ip6`.
pub fn l2tp_ip_listen_socket(ip: IpAddr) -> io::Result<L2tpSocket> {
    let fd = sys::l2tp_ip_socket(ip, 0)?;
    Ok(L2tpSocket { socket: Socket::from(fd), transport: Transport::Ip, local: SocketAddr::new(ip, 0), l2tp_ip: true })
}

/// The address this host sends from towards `peer` (the routing table's
/// choice, read back from a connected UDP socket; nothing is sent).
pub fn local_address_towards(peer: IpAddr) -> io::Result<IpAddr> {
    let probe = Socket::new(Domain::for_address(SocketAddr::new(peer, 0)), Type::DGRAM, Some(Protocol::UDP))?;
    probe.connect(&SockAddr::from(SocketAddr::new(peer, 1701)))?;
    probe.local_addr()?.as_socket().map(|a| a.ip()).ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
}

/// Opens a tunnel's own socket for the kernel data plane. UDP: bound to
/// `local` (its port is the listener's; an unspecified address is replaced
/// by [`local_address_towards`] the peer) and connected to `peer`, so the
/// peer's datagrams arrive here. IP: bound to `local`'s address and our
/// `tunnel_id`, connected to `peer` and `peer_tunnel_id` (0 while
/// unknown; see [`connect_l2tp_ip`]). Errors: the socket calls'.
pub fn tunnel_socket(transport: Transport, local: SocketAddr, peer: SocketAddr, tunnel_id: u32, peer_tunnel_id: u32) -> io::Result<L2tpSocket> {
    let ip = if local.ip().is_unspecified() { local_address_towards(peer.ip())? } else { local.ip() };
    let (fd, local, l2tp_ip): (OwnedFd, SocketAddr, bool) = match transport {
        Transport::Udp => {
            let local = SocketAddr::new(ip, local.port());
            (sys::udp_tunnel_socket(local, peer)?, local, false)
        }
        Transport::Ip => (sys::l2tp_ip_tunnel_socket(ip, peer.ip(), tunnel_id, peer_tunnel_id)?, SocketAddr::new(ip, 0), true),
    };
    Ok(L2tpSocket { socket: Socket::from(fd), transport, local, l2tp_ip })
}

/// Connects a tunnel's L2TP/IP socket again, now that the peer's tunnel
/// id is known.
pub fn connect_l2tp_ip(s: &L2tpSocket, peer: IpAddr, peer_tunnel_id: u32) -> io::Result<()> {
    sys::l2tp_ip_connect(s.fd(), peer, peer_tunnel_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_address_towards_loopback_is_loopback() {
        let ip = local_address_towards(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(ip.ok(), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn udp_tunnel_socket_takes_the_peers_datagrams_from_the_listener() {
        // Listener on a wildcard port, the tunnel's socket on the same port
        // connected to one peer: that peer's datagrams go to the tunnel's.
        let listener = udp_socket("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = listener.local.port();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer_addr = peer.local_addr().unwrap();
        let t = tunnel_socket(Transport::Udp, SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port), peer_addr, 1, 2).unwrap();
        assert_eq!(t.local, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        peer.send_to(b"tunnel", t.local).unwrap();
        other.send_to(b"other", t.local).unwrap();
        let mut buf = [0u8; 64];
        let got = |s: &L2tpSocket, buf: &mut [u8]| -> Option<Vec<u8>> {
            let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while std::time::Instant::now() < end {
                if let Ok(Some((_, d))) = s.recv(buf) {
                    return Some(d.to_vec());
                }
                std::thread::yield_now();
            }
            None
        };
        assert_eq!(got(&t, &mut buf).as_deref(), Some(&b"tunnel"[..]));
        assert_eq!(got(&listener, &mut buf).as_deref(), Some(&b"other"[..]));
        // Sends go out from the tunnel's address and port.
        t.send(b"back", peer_addr).unwrap();
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"back"[..], t.local));
    }
}
