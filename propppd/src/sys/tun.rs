//! TUN devices (`IFF_TUN | IFF_NO_PI`) for the userspace data path: one
//! per PPP session, IP packets in and out (`linux/if_tun.h`).
//!
//! `/dev/net/tun` is opened and `TUNSETIFF` turns the fd into a new,
//! non-persistent interface: it exists while the fd is open. With
//! `IFF_NO_PI` every `read` returns one IP packet and every `write` takes
//! one, with no packet-information header. The device is point-to-point
//! and without ARP: its addresses and state are set through rtnetlink
//! ([`super::netif::NetIf`]).

use std::ffi::{c_int, c_short};
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use super::ppp::ifreq_named;

/// `TUNSETIFF` = `_IOW('T', 202, int)`: attach the fd to a new interface.
pub const TUNSETIFF: libc::Ioctl = libc::_IOW::<c_int>(b'T' as u32, 202);
/// `IFF_TUN`: layer-3 device (IP packets).
pub const IFF_TUN: c_short = 0x0001;
/// `IFF_NO_PI`: no `struct tun_pi` header before each packet.
pub const IFF_NO_PI: c_short = 0x1000;

/// An open TUN device; it disappears when dropped.
#[derive(Debug)]
pub struct Tun {
    fd: OwnedFd,
    /// Its interface name (the kernel's choice for a `%d` pattern; whoever
    /// renames the interface must update this).
    pub ifname: String,
}

impl Tun {
    /// Creates a TUN device named `name` (a `%d` pattern such as `ppp%d`
    /// lets the kernel choose the number); non-blocking, close-on-exec.
    /// Errors: the OS error (`ENOENT` without `/dev/net/tun`, `EBUSY`
    /// when the name is taken, `EINVAL` for a name over 15 octets).
    pub fn open(name: &str) -> io::Result<Tun> {
        let mut req = ifreq_named(name)?;
        req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
        let f = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open("/dev/net/tun")?;
        let fd = OwnedFd::from(f);
        // SAFETY: `fd` is open; TUNSETIFF reads and writes back (the chosen
        // name) one `struct ifreq`, libc's definition, through the pointer,
        // which points at a live, exclusively borrowed local.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut libc::ifreq) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let ifname: Vec<u8> = req.ifr_name.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
        let ifname = String::from_utf8(ifname).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(Tun { fd, ifname })
    }

    /// The fd, to register for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads one IP packet: `Ok(Some(n))`, or `Ok(None)` when none waits.
    /// A packet longer than `buf` is truncated (size `buf` to the MTU).
    /// Errors: the OS error of `read`.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match nix::unistd::read(self.fd.as_raw_fd(), buf) {
                Ok(n) => return Ok(Some(n)),
                Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes one IP (v4 or v6) packet to the interface. Errors: the OS
    /// error of `write` (`EINVAL` for a packet that is not IP, `EIO` while
    /// the interface is down).
    pub fn write(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            match nix::unistd::write(self.fd.as_fd(), packet) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", target_arch = "arm", target_arch = "riscv64"))]
    #[test]
    #[allow(clippy::unnecessary_cast)] // the ioctl request type differs between C libraries
    fn tunsetiff_number() {
        // _IOW('T', 202, int): write 1 << 30 | 4 << 16 | 0x54 << 8 | 0xca.
        assert_eq!(TUNSETIFF as u64, 0x4004_54ca);
        assert_eq!((IFF_TUN | IFF_NO_PI) as u16, 0x1001);
    }

    #[test]
    fn bad_names_are_refused_before_the_kernel() {
        for bad in ["", "name-of-16-chars", "a\0"] {
            assert_eq!(Tun::open(bad).err().and_then(|e| e.raw_os_error()), Some(libc::EINVAL), "{bad:?}");
        }
    }
}
