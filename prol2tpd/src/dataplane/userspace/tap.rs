//! The devices of the userspace data plane and the `unsafe` they need (the
//! crate's `sys`-style corner for them: every `unsafe` block of the
//! userspace plane is here, each with a `// SAFETY:` line).
//!
//! - [`Tap`]: a TAP device from `/dev/net/tun` (`TUNSETIFF` with
//!   `IFF_TAP | IFF_NO_PI`, so each read or write is exactly one Ethernet
//!   frame). The device exists as long as its fd is open.
//! - [`ppp_channel`]: a `SOCK_SEQPACKET` socket pair, one PPP frame per
//!   message, standing where the kernel path has a PPPoL2TP socket.
//! - [`set_link`]: brings an interface up and sets its MTU (`SIOCSIFFLAGS`,
//!   `SIOCSIFMTU` on a throw-away socket of the current network namespace).

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{socket, socketpair, AddressFamily, SockFlag, SockType};

/// The clone device of the TUN/TAP driver.
pub const TUN_DEVICE: &str = "/dev/net/tun";
/// Longest interface name the kernel accepts (IFNAMSIZ - 1), octets.
pub const MAX_IFNAME_LEN: usize = 15;

/// An open TAP device: one Ethernet frame per `read`/`write`, non-blocking.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
}

/// A zeroed `ifreq` with `name` copied in. Errors: `InvalidInput` for
/// names longer than [`MAX_IFNAME_LEN`] or holding a NUL.
fn ifreq_named(name: &str) -> io::Result<libc::ifreq> {
    if name.len() > MAX_IFNAME_LEN || name.as_bytes().contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {name:?}")));
    }
    // SAFETY: `ifreq` is a plain C struct (arrays and a union of integers
    // and pointers) for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

/// The name the kernel wrote back into `req`.
fn ifreq_name(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Tap {
    /// Creates a TAP device named `name`; a `%d` in it lets the kernel pick
    /// the number (e.g. `l2tpeth%d` → `l2tpeth0`). The device is created
    /// down; see [`set_link`].
    ///
    /// Errors: `InvalidInput` for a bad name; the OS error of opening
    /// [`TUN_DEVICE`] (`ENOENT` without the tun driver) or of `TUNSETIFF`
    /// (`EBUSY` when a device of that name is in use, `EPERM` without
    /// `CAP_NET_ADMIN`).
    pub fn open(name: &str) -> io::Result<Tap> {
        let mut req = ifreq_named(name)?;
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        let file = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(TUN_DEVICE)?;
        let fd = OwnedFd::from(file);
        // SAFETY: `fd` is an open /dev/net/tun descriptor and `req` a valid,
        // initialised `ifreq` that outlives the call; TUNSETIFF reads the
        // name and flags and writes the chosen name back into it.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut libc::ifreq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tap { name: ifreq_name(&req), fd })
    }

    /// The interface name the kernel gave the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame into `buf`: `Ok(None)` when none is pending. A frame
    /// longer than `buf` is truncated by the kernel.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        read_fd(self.fd.as_fd(), buf)
    }

    /// Writes one frame. Errors: `WouldBlock` when the device queue is
    /// full; `EIO` while the interface is down.
    pub fn write(&self, frame: &[u8]) -> io::Result<()> {
        write_fd(self.fd.as_fd(), frame)
    }

    /// Gives up the device: closing the returned fd removes it.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Reads one datagram or frame from a non-blocking fd: `Ok(None)` when
/// nothing is pending.
pub fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match nix::unistd::read(fd.as_raw_fd(), buf) {
        Ok(n) => Ok(Some(n)),
        Err(nix::errno::Errno::EAGAIN) => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Writes one datagram or frame to a non-blocking fd; a short write is an
/// error (`WriteZero`), since frames cannot be split.
pub fn write_fd(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<()> {
    match nix::unistd::write(fd, frame) {
        Ok(n) if n == frame.len() => Ok(()),
        Ok(_) => Err(io::Error::new(io::ErrorKind::WriteZero, "short write of a frame")),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// A framed channel for a PPP session: `(ours, far)`, both ends of an
/// `AF_UNIX`/`SOCK_SEQPACKET` pair with close-on-exec set; `ours` is
/// non-blocking, `far` keeps blocking mode for the PPP side.
///
/// Errors: the OS error of `socketpair` or `fcntl` (e.g. `EMFILE`).
pub fn ppp_channel() -> io::Result<(OwnedFd, OwnedFd)> {
    let (ours, far) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    let flags = OFlag::from_bits_truncate(fcntl(ours.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(ours.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok((ours, far))
}

/// Brings interface `name` up and, when `mtu` is given, sets its MTU
/// (octets) first.
///
/// Errors: `InvalidInput` for a bad name; the OS error of the ioctls
/// (`ENODEV` for an unknown interface, `EINVAL` for an MTU out of range).
pub fn set_link(name: &str, mtu: Option<u32>) -> io::Result<()> {
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    if let Some(mtu) = mtu {
        let mut req = ifreq_named(name)?;
        req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))?;
        // SAFETY: `sock` is an open socket and `req` a valid `ifreq` that
        // outlives the call; SIOCSIFMTU only reads it.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU, &mut req as *mut libc::ifreq) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let mut req = ifreq_named(name)?;
    // SAFETY: as above; SIOCGIFFLAGS writes the flags into `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS succeeded, so the flags member is the one the
    // kernel wrote; reading a `c_short` from the union is always defined.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True when the TUN/TAP clone device exists (the userspace data plane's
/// only requirement besides `CAP_NET_ADMIN`).
pub fn tun_available() -> bool {
    std::path::Path::new(TUN_DEVICE).exists()
}

/// A `%d`-template name is valid for [`Tap::open`] (the kernel rejects
/// more than one `%`).
pub fn is_valid_ifname(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_IFNAME_LEN && !name.contains(['/', ' ', '\0']) && name.matches('%').count() <= 1 && name != "." && name != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(is_valid_ifname("l2tpeth%d"));
        assert!(is_valid_ifname("pw0"));
        assert!(!is_valid_ifname(""));
        assert!(!is_valid_ifname("a-name-that-is-too-long"));
        assert!(!is_valid_ifname("a/b"));
        assert!(!is_valid_ifname("%d%d"));
        assert!(ifreq_named("0123456789abcdef").is_err());
        let req = ifreq_named("tap7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ifreq_name(&req), "tap7");
    }

    #[test]
    fn ppp_channel_carries_frames_both_ways() {
        let (ours, far) = ppp_channel().unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 64];
        assert_eq!(read_fd(ours.as_fd(), &mut buf).ok(), Some(None), "non-blocking end reads nothing yet");
        write_fd(far.as_fd(), &[0xc0, 0x21, 1]).unwrap_or_else(|e| panic!("{e}"));
        write_fd(far.as_fd(), &[0x00, 0x21]).unwrap_or_else(|e| panic!("{e}"));
        // Message boundaries are kept.
        assert_eq!(read_fd(ours.as_fd(), &mut buf).ok(), Some(Some(3)));
        assert_eq!(read_fd(ours.as_fd(), &mut buf).ok(), Some(Some(2)));
        write_fd(ours.as_fd(), &[0x80, 0x21]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_fd(far.as_fd(), &mut buf).ok(), Some(Some(2)));
    }
}
