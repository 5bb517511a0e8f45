//! Ethernet interfaces and `AF_PACKET` sockets for PPPoE (RFC 2516 §4:
//! discovery frames carry ethertype 0x8863, session frames 0x8864).
//!
//! A [`PacketSocket`] is a `SOCK_RAW` packet socket: it reads and writes
//! whole Ethernet frames (14-octet header included). It is set up in an
//! order that never lets a foreign frame in: created with protocol 0
//! (which receives nothing), given its BPF filter and
//! `PACKET_IGNORE_OUTGOING`, and only then bound to (ifindex, ethertype).
//! On a VLAN interface (`eth0.100`) the kernel has already removed the
//! 802.1Q tag, so the ethertype is always at offset 12.
//!
//! The binding to one ethertype alone already keeps other frames out, and
//! the kernel gives copies of outgoing frames only to `ETH_P_ALL` taps; the
//! filter and `PACKET_IGNORE_OUTGOING` (plus the `PACKET_OUTGOING` check in
//! [`PacketSocket::recv`]) make both hold whatever the binding, e.g. while
//! the socket is not yet bound.
//!
//! Interface facts come from the classic `SIOCGIF*` ioctls on a datagram
//! socket (`linux/sockios.h`, `struct ifreq` of `linux/if.h`).

use std::ffi::c_int;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::proto::packet::MacAddr;

/// `PACKET_IGNORE_OUTGOING` (`linux/if_packet.h`, Linux ≥ 4.20): the
/// socket is not given copies of frames the host sends.
const PACKET_IGNORE_OUTGOING: c_int = 23;
/// `PACKET_OUTGOING` (`sll_pkttype`): a frame this host sent.
const PACKET_OUTGOING: u8 = 4;
/// `ARPHRD_ETHER` (`linux/if_arp.h`): Ethernet (veth, VLAN, bridges too).
const ARPHRD_ETHER: u16 = 1;
/// `IFNAMSIZ`: interface names are at most 15 octets plus NUL.
pub const IFNAMSIZ: usize = 16;
/// Octets of an Ethernet header (destination, source, ethertype).
pub const ETH_HLEN: usize = 14;

/// What [`interface_info`] found out about an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfInfo {
    /// Interface name, as given.
    pub name: String,
    /// Kernel interface index (never 0).
    pub ifindex: u32,
    /// Its Ethernet address: PPPoE frames are sent from it.
    pub mac: MacAddr,
    /// Its MTU, octets (1500 on plain Ethernet: PPPoE sessions then carry
    /// at most 1492 octets of PPP, RFC 2516 §7).
    pub mtu: u32,
    /// `IFF_UP` is set (administratively up; says nothing of the carrier).
    pub up: bool,
}

/// `struct ifreq` (`linux/if.h`): the name, then a 24-octet union
/// (`ifr_ifindex`, `ifr_hwaddr`, `ifr_mtu`, `ifr_flags`, … at offset 0).
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
    _align: [u64; 0],
}

impl IfReq {
    /// An `ifreq` naming `name`: `InvalidInput` when it is empty, longer
    /// than 15 octets or contains NUL or `/`.
    fn new(name: &str) -> io::Result<IfReq> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.iter().any(|&b| b == 0 || b == b'/') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {name:?}")));
        }
        let mut req = IfReq { name: [0; IFNAMSIZ], data: [0; 24], _align: [] };
        for (d, s) in req.name.iter_mut().zip(bytes) {
            *d = *s;
        }
        Ok(req)
    }

    /// The first 4 octets of the union as a native-endian `int`.
    fn int(&self) -> i32 {
        let [a, b, c, d, ..] = self.data;
        i32::from_ne_bytes([a, b, c, d])
    }
}

/// `ioctl(fd, request, &mut ifreq)`; the error names the interface and `what`.
fn ifreq_ioctl(fd: BorrowedFd<'_>, request: libc::Ioctl, req: &mut IfReq, what: &str) -> io::Result<()> {
    // SAFETY: `fd` is open for the call; every SIOCGIF* request used here
    // reads the NUL-terminated name and writes at most the 24-octet union
    // of the `struct ifreq` the pointer designates, which `IfReq` mirrors
    // (40 octets, 8-aligned) and which is exclusively borrowed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, req as *mut IfReq) };
    if r < 0 {
        let e = io::Error::last_os_error();
        let kind = if e.raw_os_error() == Some(libc::ENODEV) { io::ErrorKind::NotFound } else { e.kind() };
        let name = String::from_utf8_lossy(&req.name);
        return Err(io::Error::new(kind, format!("{}: {what}: {e}", name.trim_end_matches('\0'))));
    }
    Ok(())
}

/// A new socket; `what` names it in the error.
fn new_socket(domain: c_int, ty: c_int, protocol: c_int, what: &str) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new
    // fd nobody else owns, so `OwnedFd` may take it.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    // SAFETY: see above: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Index, Ethernet address, MTU and up flag of interface `name`
/// (`SIOCGIFINDEX`, `SIOCGIFHWADDR`, `SIOCGIFMTU`, `SIOCGIFFLAGS`).
/// Errors: `InvalidInput` for a bad name or a non-Ethernet interface
/// (`ARPHRD_*` other than Ethernet: loopback, `ppp0`, tunnels), `NotFound`
/// (`ENODEV`) when there is no such interface in this network namespace.
pub fn interface_info(name: &str) -> io::Result<IfInfo> {
    let sock = new_socket(libc::AF_INET, libc::SOCK_DGRAM, 0, "socket(AF_INET) for interface ioctls")?;
    let fd = sock.as_fd();
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(fd, libc::SIOCGIFINDEX, &mut req, "SIOCGIFINDEX")?;
    let ifindex = u32::try_from(req.int())
        .ok()
        .filter(|&i| i != 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: SIOCGIFINDEX gave {}", req.int())))?;
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(fd, libc::SIOCGIFHWADDR, &mut req, "SIOCGIFHWADDR")?;
    // struct sockaddr: sa_family (u16), then sa_data with the address.
    let [f0, f1, m0, m1, m2, m3, m4, m5, ..] = req.data;
    let hw_type = u16::from_ne_bytes([f0, f1]);
    if hw_type != ARPHRD_ETHER {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: not an Ethernet interface (ARPHRD type {hw_type})")));
    }
    let mac = MacAddr([m0, m1, m2, m3, m4, m5]);
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(fd, libc::SIOCGIFMTU, &mut req, "SIOCGIFMTU")?;
    let mtu = u32::try_from(req.int()).unwrap_or(0);
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(fd, libc::SIOCGIFFLAGS, &mut req, "SIOCGIFFLAGS")?;
    let [fl0, fl1, ..] = req.data;
    let up = i32::from(i16::from_ne_bytes([fl0, fl1])) & libc::IFF_UP != 0;
    Ok(IfInfo { name: name.to_string(), ifindex, mac, mtu, up })
}

/// `struct sock_filter` (`linux/filter.h`): one classic BPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode (`BPF_LD | BPF_H | BPF_ABS`, …).
    pub code: u16,
    /// Jump offset when the test is true.
    pub jt: u8,
    /// Jump offset when it is false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// `struct sock_fprog`: the program handed to `SO_ATTACH_FILTER`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// The classic BPF program accepting only frames whose ethertype (the
/// 16 bits at offset 12) is `ethertype`, whole (up to 256 KiB), and
/// dropping every other frame:
///
/// ```text
/// ldh [12]; jeq #ethertype, 0, 1; ret #0x40000; ret #0
/// ```
pub fn ethertype_filter(ethertype: u16) -> [SockFilter; 4] {
    const BPF_LD_H_ABS: u16 = 0x28; // BPF_LD (0x00) | BPF_H (0x08) | BPF_ABS (0x20)
    const BPF_JMP_JEQ_K: u16 = 0x15; // BPF_JMP (0x05) | BPF_JEQ (0x10) | BPF_K (0x00)
    const BPF_RET_K: u16 = 0x06;
    [
        SockFilter { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: 12 },
        SockFilter { code: BPF_JMP_JEQ_K, jt: 0, jf: 1, k: u32::from(ethertype) },
        SockFilter { code: BPF_RET_K, jt: 0, jf: 0, k: 0x40000 },
        SockFilter { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
    ]
}

/// `setsockopt(fd, level, name, &value, sizeof value)`.
fn setsockopt<T>(fd: BorrowedFd<'_>, level: c_int, name: c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the pointer designates a live `T` of exactly `len` octets
    // that the kernel only reads; `fd` is open for the call.
    let r = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `struct sockaddr_ll` for (ifindex, ethertype), as `bind` wants it.
fn sockaddr_ll(ifindex: u32, ethertype: u16) -> io::Result<libc::sockaddr_ll> {
    // SAFETY: `sockaddr_ll` is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ethertype.to_be();
    sa.sll_ifindex = c_int::try_from(ifindex).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("ifindex {ifindex} out of range")))?;
    Ok(sa)
}

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one interface and one
/// ethertype: non-blocking, close-on-exec, filtered in the kernel to that
/// ethertype, and not fed the frames this host sends.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    info: IfInfo,
    ethertype: u16,
}

impl PacketSocket {
    /// Opens a packet socket on interface `ifname` for `ethertype` (0x8863
    /// discovery or 0x8864 session, RFC 2516 §4): [`interface_info`], then
    /// `socket(AF_PACKET, SOCK_RAW, 0)`, the [`ethertype_filter`]
    /// (`SO_ATTACH_FILTER`), `PACKET_IGNORE_OUTGOING` (skipped on kernels
    /// before 4.20, where [`PacketSocket::recv`] drops outgoing copies
    /// itself), and `bind` to (ifindex, ethertype). Needs `CAP_NET_RAW`.
    /// Errors name the interface and the step (`PermissionDenied` without
    /// the capability, `NotFound` without the interface).
    pub fn open(ifname: &str, ethertype: u16) -> io::Result<PacketSocket> {
        let info = interface_info(ifname)?;
        let step = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{ifname}: {what}: {e}"));
        let fd = new_socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, 0, &format!("{ifname}: socket(AF_PACKET)"))?;
        let prog = ethertype_filter(ethertype);
        let fprog = SockFprog { len: prog.len() as u16, filter: prog.as_ptr() };
        setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog).map_err(|e| step("SO_ATTACH_FILTER", e))?;
        let one: c_int = 1;
        match setsockopt(fd.as_fd(), libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &one) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
            Err(e) => return Err(step("PACKET_IGNORE_OUTGOING", e)),
        }
        let sa = sockaddr_ll(info.ifindex, ethertype)?;
        let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `sa` is a valid `sockaddr_ll` of `len` octets, only read;
        // `fd` is open.
        let r = unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_ll).cast(), len) };
        if r < 0 {
            return Err(step(&format!("bind(ifindex {}, ethertype {ethertype:#06x})", info.ifindex), io::Error::last_os_error()));
        }
        Ok(PacketSocket { fd, info, ethertype })
    }

    /// The interface, as it was when the socket was opened.
    pub fn info(&self) -> &IfInfo {
        &self.info
    }

    /// The ethertype the socket is bound to.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// Reads one whole Ethernet frame into `buf` and returns its length;
    /// `Ok(None)` when none is queued (the socket is non-blocking). Frames
    /// longer than `buf` are dropped (1,518 octets is enough for PPPoE on a
    /// 1,500-octet link; use 64 KiB for jumbo frames), and so are copies of
    /// frames this host sent; `recv` then goes on with the next frame.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: `sockaddr_ll` is plain old data; all-zero is valid.
            let mut from: libc::sockaddr_ll = unsafe { mem::zeroed() };
            let mut from_len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` is writable for `buf.len()` octets and `from`
            // for `from_len` octets; both outlive the call. MSG_TRUNC makes
            // the result the frame's real length, never more written.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(io::Error::new(e.kind(), format!("{}: recv: {e}", self.info.name))),
                }
            }
            let n = usize::try_from(n).unwrap_or(0);
            if n > buf.len() || from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            return Ok(Some(n));
        }
    }

    /// Sends one whole Ethernet frame (header included; the source address
    /// is not rewritten). Errors: `WouldBlock` when the device queue is
    /// full (the frame is not sent), `InvalidInput` (`EINVAL`) for a frame
    /// shorter than 14 octets, `EMSGSIZE` for one over the MTU; the text
    /// names the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `frame` is readable for `frame.len()` octets for the call.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io::Error::new(e.kind(), format!("{}: send ({} octets): {e}", self.info.name, frame.len())));
            }
            if usize::try_from(n).ok() != Some(frame.len()) {
                return Err(io::Error::new(io::ErrorKind::WriteZero, format!("{}: sent {n} of {} octets", self.info.name, frame.len())));
            }
            return Ok(());
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_is_the_kernel_size() {
        assert_eq!(mem::size_of::<IfReq>(), 40);
        assert_eq!(mem::align_of::<IfReq>(), 8);
    }

    #[test]
    fn ifreq_rejects_bad_names() {
        for bad in ["", "0123456789abcdef", "a/b", "a\0b"] {
            assert_eq!(IfReq::new(bad).err().map(|e| e.kind()), Some(io::ErrorKind::InvalidInput), "{bad:?}");
        }
        assert!(IfReq::new("0123456789abcde").is_ok());
    }

    #[test]
    fn filter_matches_ethertype_only() {
        let f = ethertype_filter(0x8863);
        assert_eq!(f[0], SockFilter { code: 0x28, jt: 0, jf: 0, k: 12 });
        assert_eq!(f[1], SockFilter { code: 0x15, jt: 0, jf: 1, k: 0x8863 });
        assert_eq!((f[2].code, f[2].k), (0x06, 0x40000));
        assert_eq!((f[3].code, f[3].k), (0x06, 0));
        assert_eq!(mem::size_of::<SockFilter>(), 8);
    }

    #[test]
    fn unknown_interface_is_not_found() {
        let e = interface_info("proacnosuch0").err().map(|e| (e.kind(), e.to_string()));
        let (kind, text) = e.unwrap_or((io::ErrorKind::Other, String::new()));
        assert_eq!(kind, io::ErrorKind::NotFound, "{text}");
        assert!(text.starts_with("proacnosuch0: SIOCGIFINDEX"), "{text}");
    }

    #[test]
    fn loopback_is_not_ethernet() {
        let text = interface_info("lo").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("not an Ethernet interface"), "{text}");
    }
}
