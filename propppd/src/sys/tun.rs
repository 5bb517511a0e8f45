//! TUN devices (`IFF_TUN | IFF_NO_PI`) for the userspace data path: one
//! per PPP session, IP packets in and out.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// An open TUN device; it disappears when dropped.
#[derive(Debug)]
pub struct Tun {
    fd: OwnedFd,
    /// Its interface name.
    pub ifname: String,
}

impl Tun {
    /// Creates a TUN device named `name` (a `%d` pattern such as `ppp%d`
    /// lets the kernel choose the number); non-blocking, close-on-exec.
    /// Errors: the OS error (`ENOENT` without `/dev/net/tun`, `EBUSY`
    /// when the name is taken, `EINVAL` for a name over 15 octets).
    pub fn open(_name: &str) -> io::Result<Tun> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not yet"))
    }

    /// The fd, to register for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads one IP packet: `Ok(Some(n))`, or `Ok(None)` when none waits.
    pub fn read(&self, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not yet"))
    }

    /// Writes one IP (v4 or v6) packet to the interface.
    pub fn write(&self, _packet: &[u8]) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not yet"))
    }
}
