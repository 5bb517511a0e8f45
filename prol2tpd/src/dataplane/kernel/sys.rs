//! The system calls of the kernel data plane that need `unsafe`: PPPoL2TP
//! sockets (`AF_PPPOX`, `PX_PROTO_OL2TP`) and L2TP/IP sockets
//! (`IPPROTO_L2TP`), whose addresses are packed C structures the standard
//! library cannot express. The address bytes are built by plain functions
//! ([`pppol2tp_sockaddr`], [`l2tpip_sockaddr`]) that the tests pin; only
//! `socket`, `bind` and `connect` are unsafe, each with its `// SAFETY:`.
//!
//! Also here, safe: the per-tunnel connected UDP socket the daemon must
//! give the kernel (`L2TP_ATTR_FD`), and interface index lookup; and the
//! one `pre_exec` hook that keeps the PPPoL2TP socket open for pppd.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// `AF_PPPOX` (`linux/if_pppox.h`).
pub const AF_PPPOX: i32 = 24;
/// `PX_PROTO_OL2TP` (`linux/if_pppox.h`).
pub const PX_PROTO_OL2TP: u32 = 1;
/// `IPPROTO_L2TP`: L2TPv3 over IP, RFC 3931 §4.1.1.
pub const IPPROTO_L2TP: i32 = 115;

/// `sizeof(struct sockaddr_pppol2tp)` (v2, IPv4; packed).
pub const SOCKADDR_PPPOL2TP_LEN: usize = 38;
/// `sizeof(struct sockaddr_pppol2tpin6)` (v2, IPv6; packed).
pub const SOCKADDR_PPPOL2TPIN6_LEN: usize = 50;
/// `sizeof(struct sockaddr_pppol2tpv3)` (v3, IPv4; packed).
pub const SOCKADDR_PPPOL2TPV3_LEN: usize = 46;
/// `sizeof(struct sockaddr_pppol2tpv3in6)` (v3, IPv6; packed).
pub const SOCKADDR_PPPOL2TPV3IN6_LEN: usize = 58;

/// What a PPPoL2TP socket is connected to: one session of a tunnel that
/// already exists in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PppoL2tpAddr {
    /// True for L2TPv3 (32-bit ids), false for L2TPv2 (16-bit ids).
    pub v3: bool,
    /// The tunnel's socket (ignored by the kernel when the tunnel exists,
    /// which it does here: it was created through netlink).
    pub tunnel_fd: RawFd,
    /// The peer's address and port.
    pub peer: SocketAddr,
    /// Our tunnel id (`s_tunnel`).
    pub tunnel_id: u32,
    /// Our session id (`s_session`).
    pub session_id: u32,
    /// The peer's tunnel id (`d_tunnel`).
    pub peer_tunnel_id: u32,
    /// The peer's session id (`d_session`).
    pub peer_session_id: u32,
}

fn sockaddr_in_bytes(addr: SocketAddr, out: &mut Vec<u8>) {
    match addr {
        SocketAddr::V4(a) => {
            out.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&[0; 8]);
        }
        SocketAddr::V6(a) => {
            out.extend_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.flowinfo().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
}

/// The bytes of the `struct sockaddr_pppol2tp*` form that fits `a`: v2 or
/// v3, IPv4 or IPv6 (`linux/if_pppox.h`, `linux/if_pppol2tp.h`); the kernel
/// tells them apart by length. v2 ids are truncated to 16 bits.
pub fn pppol2tp_sockaddr(a: &PppoL2tpAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(SOCKADDR_PPPOL2TPV3IN6_LEN);
    out.extend_from_slice(&(AF_PPPOX as u16).to_ne_bytes());
    out.extend_from_slice(&PX_PROTO_OL2TP.to_ne_bytes());
    out.extend_from_slice(&0i32.to_ne_bytes()); // pid: 0, the caller
    out.extend_from_slice(&a.tunnel_fd.to_ne_bytes());
    let ids = |out: &mut Vec<u8>| {
        for id in [a.tunnel_id, a.session_id, a.peer_tunnel_id, a.peer_session_id] {
            if a.v3 {
                out.extend_from_slice(&id.to_ne_bytes());
            } else {
                out.extend_from_slice(&(id as u16).to_ne_bytes());
            }
        }
    };
    // IPv4 forms put the address before the ids, IPv6 forms after them.
    if a.peer.is_ipv4() {
        sockaddr_in_bytes(a.peer, &mut out);
        ids(&mut out);
    } else {
        ids(&mut out);
        sockaddr_in_bytes(a.peer, &mut out);
    }
    out
}

/// The bytes of `struct sockaddr_l2tpip` (IPv4, 16 octets) or
/// `struct sockaddr_l2tpip6` (IPv6, 32 octets) of `linux/l2tp.h`:
/// `conn_id` is the tunnel id (ours to bind, the peer's to connect).
pub fn l2tpip_sockaddr(ip: IpAddr, conn_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    match ip {
        IpAddr::V4(a) => {
            out.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&a.octets());
            out.extend_from_slice(&conn_id.to_ne_bytes());
            out.extend_from_slice(&[0; 4]);
        }
        IpAddr::V6(a) => {
            out.extend_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&a.octets());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&conn_id.to_ne_bytes());
        }
    }
    out
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn new_socket(domain: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes integers only; a non-negative result is a new
    // fd that nothing else owns, so OwnedFd may take it.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn connect_raw(fd: &OwnedFd, addr: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `addr` is a live buffer of exactly `len` octets; the kernel
    // copies it (as a packed sockaddr) and keeps no pointer to it.
    check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), len) })?;
    Ok(())
}

fn bind_raw(fd: &OwnedFd, addr: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: as in `connect_raw`: a live buffer of `len` octets, copied.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), len) })?;
    Ok(())
}

/// Opens a PPPoL2TP socket and connects it to session `a`, whose tunnel
/// and session must already exist in the kernel. The socket is
/// close-on-exec: the PPP side's launcher clears that on its copy.
/// Errors: `EAFNOSUPPORT` without `l2tp_ppp`; `ENOENT` when the tunnel is
/// unknown; `EEXIST` when the session already has a socket;
/// `EPROTOTYPE` when the session is not a PPP one.
pub fn pppol2tp_connect(a: &PppoL2tpAddr) -> io::Result<OwnedFd> {
    let fd = new_socket(AF_PPPOX, libc::SOCK_DGRAM, PX_PROTO_OL2TP as i32)?;
    connect_raw(&fd, &pppol2tp_sockaddr(a))?;
    Ok(fd)
}

/// Opens the L2TP/IP (`IPPROTO_L2TP` datagram) socket of one tunnel:
/// bound to `local` with our `tunnel_id`, connected to `peer` with
/// `peer_tunnel_id`. With `l2tp_ip`/`l2tp_ip6` loaded, control messages of
/// the tunnel arrive on it with the 4-octet zero Session ID removed, and
/// sends get it prepended. Errors: `EPROTONOSUPPORT` without the modules,
/// `EADDRINUSE` when the tunnel id is bound already.
pub fn l2tp_ip_tunnel_socket(local: IpAddr, peer: IpAddr, tunnel_id: u32, peer_tunnel_id: u32) -> io::Result<OwnedFd> {
    let fd = l2tp_ip_socket(local, tunnel_id)?;
    l2tp_ip_connect(fd.as_fd(), peer, peer_tunnel_id)?;
    Ok(fd)
}

/// Opens a non-blocking L2TP/IP socket bound to `local` (the wildcard
/// allowed) and Connection ID `conn_id`, not connected. Bound to
/// `conn_id` 0 it receives the control messages sent to Tunnel ID 0
/// (SCCRQ, RFC 3931 §4.1.1.1) and the stateless answers to them: the
/// listening socket of the kernel data plane. Bound to our tunnel id it
/// receives that tunnel's control messages (the kernel finds the socket
/// by the Control Connection ID in the header), which is why a tunnel
/// needs it from the moment its id is known. Errors as
/// [`l2tp_ip_tunnel_socket`].
pub fn l2tp_ip_socket(local: IpAddr, conn_id: u32) -> io::Result<OwnedFd> {
    let domain = if local.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let fd = new_socket(domain, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, IPPROTO_L2TP)?;
    bind_raw(&fd, &l2tpip_sockaddr(local, conn_id))?;
    Ok(fd)
}

/// Connects an L2TP/IP socket to `peer` and its tunnel id (again, when
/// the peer's id became known after the socket was bound).
pub fn l2tp_ip_connect(fd: BorrowedFd<'_>, peer: IpAddr, peer_tunnel_id: u32) -> io::Result<()> {
    let addr = l2tpip_sockaddr(peer, peer_tunnel_id);
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: as in `connect_raw`: a live buffer of `len` octets, copied;
    // `fd` is a borrowed, open descriptor.
    check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), len) })?;
    Ok(())
}

/// Prepares the child `cmd` spawns for running pppd: `fd` stays open
/// across `exec` (`FD_CLOEXEC` cleared between fork and exec, in the
/// child only; the parent's descriptor keeps the flag), and the child
/// starts with no blocked signals and SIGPIPE at its default, whatever the
/// daemon's signal fd blocked and ignored (both survive `exec`; a pppd
/// with SIGTERM and SIGCHLD blocked would never stop nor reap its
/// scripts). `fd` must be above 2, since the child's stdin/stdout/stderr
/// are set up before. (Today's std also empties the mask in the child, but
/// as an undocumented detail; this does not rely on it.)
pub fn prepare_child(cmd: &mut std::process::Command, fd: RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only
    // calls fcntl(2), sigemptyset(3), sigprocmask(2) and signal(2), which
    // are async-signal-safe; it allocates nothing and uses only its own
    // stack (the zeroed sigset_t is a plain integer array, which
    // sigemptyset then initialises).
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// Opens the connected UDP socket of one tunnel: non-blocking,
/// `SO_REUSEADDR` (the daemon's listening socket on the same port has it
/// too), bound to `local` (address and port the tunnel uses, e.g.
/// 192.0.2.1:1701) and connected to `peer`. Linux prefers a connected
/// socket for the peer's datagrams, so from then on the tunnel's packets
/// arrive here and not on the listening socket.
pub fn udp_tunnel_socket(local: SocketAddr, peer: SocketAddr) -> io::Result<OwnedFd> {
    let socket = Socket::new(Domain::for_address(local), Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    if local.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(local))?;
    socket.connect(&SockAddr::from(peer))?;
    Ok(OwnedFd::from(socket))
}

/// The index of interface `name`. Errors: `ENODEV` when there is none.
pub fn ifindex(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}
