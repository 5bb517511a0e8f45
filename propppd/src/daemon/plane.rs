//! The I/O side of one instance: its channel (a framed socket-pair end
//! from the owner, or a PPPoX socket attached to a kernel PPP unit) and
//! its interface (a TUN device for framed channels, the unit's `pppN` for
//! kernel ones, or nothing with `dataplane = null`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self as sock, MsgFlags};

use crate::sys::ppp::PppUnit;
use crate::sys::tun::Tun;

/// The channel an owner handed over.
#[derive(Debug)]
pub enum Chan {
    /// One end of a `SOCK_SEQPACKET` pair: a frame per record, Protocol
    /// field first.
    Frames(OwnedFd),
    /// A PPPoX socket attached to `/dev/ppp` and its unit (kept so that
    /// the channel lives as long as the instance).
    Kernel {
        /// The PPPoX socket, held open for as long as the unit uses its
        /// channel.
        _pppox: OwnedFd,
        /// The unit.
        unit: PppUnit,
    },
}

/// What reading the channel gave.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A frame of this many octets.
    Frame(usize),
    /// Nothing waits.
    Nothing,
    /// The other side hung up (the session is gone).
    HungUp,
}

impl Chan {
    /// The fds to watch for readability, with their sub-key (0: the frames
    /// socket or kernel channel, 1: the kernel unit).
    pub fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        match self {
            Chan::Frames(fd) => vec![(0, fd.as_fd())],
            Chan::Kernel { unit, .. } => vec![(0, unit.channel_fd()), (1, unit.unit_fd())],
        }
    }

    /// Writes one frame (Protocol field first, no FF 03). A full socket
    /// drops the frame, as a full link would (PPP retransmits what
    /// matters). Errors: the OS error (the other side is gone).
    pub fn write(&self, frame: &[u8]) -> io::Result<()> {
        match self {
            Chan::Frames(fd) => match sock::send(fd.as_raw_fd(), frame, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
                Ok(_) | Err(Errno::EAGAIN | Errno::ENOBUFS) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Chan::Kernel { unit, .. } => unit.write_frame(frame),
        }
    }

    /// Reads one frame from the fd of sub-key `sub` into `buf`.
    pub fn read(&self, sub: usize, buf: &mut [u8]) -> ReadOutcome {
        match self {
            Chan::Frames(fd) => loop {
                match sock::recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(0) => return ReadOutcome::HungUp,
                    Ok(n) => return ReadOutcome::Frame(n),
                    Err(Errno::EINTR) => continue,
                    Err(Errno::EAGAIN) => return ReadOutcome::Nothing,
                    Err(_) => return ReadOutcome::HungUp,
                }
            },
            Chan::Kernel { unit, .. } => {
                let fd = if sub == 1 { unit.unit_fd() } else { unit.channel_fd() };
                match PppUnit::read_frame(fd, buf) {
                    Ok(Some(0)) if sub == 0 => ReadOutcome::HungUp,
                    Ok(Some(0)) | Ok(None) => ReadOutcome::Nothing,
                    Ok(Some(n)) => ReadOutcome::Frame(n),
                    Err(_) if sub == 0 => ReadOutcome::HungUp,
                    Err(_) => ReadOutcome::Nothing,
                }
            }
        }
    }

    /// The kernel unit, for kernel channels.
    pub fn unit(&self) -> Option<&PppUnit> {
        match self {
            Chan::Kernel { unit, .. } => Some(unit),
            Chan::Frames(_) => None,
        }
    }
}

/// The instance's interface.
#[derive(Debug, Default)]
pub enum Plane {
    /// None (yet, or `dataplane = null`).
    #[default]
    None,
    /// A TUN device (framed channels).
    Tun(Tun),
    /// The kernel unit's interface (kernel channels), by name.
    Unit(String),
}

impl Plane {
    /// The interface name, when there is one.
    pub fn ifname(&self) -> Option<&str> {
        match self {
            Plane::None => None,
            Plane::Tun(t) => Some(&t.ifname),
            Plane::Unit(n) => Some(n),
        }
    }
}
