//! Kernel PPP units: a PPPoX socket's channel attached to `/dev/ppp`, a
//! new unit (`pppN`) connected to it (`linux/ppp-ioctl.h`, `ppp_generic`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Counters of a PPP unit (`SIOCGPPPSTATS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PppStats {
    /// Octets received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Octets sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

/// One PPP channel attached to `/dev/ppp` and connected to a new unit.
#[derive(Debug)]
pub struct PppUnit {
    chan: OwnedFd,
    unit_fd: OwnedFd,
    /// Unit number (`pppN`).
    pub unit: u32,
    /// Interface name (`pppN` until renamed).
    pub ifname: String,
}

impl PppUnit {
    /// Attaches the channel of connected PPPoX socket `pppox` to
    /// `/dev/ppp` (PPPIOCGCHAN, PPPIOCATTCHAN), creates a unit
    /// (PPPIOCNEWUNIT), connects them (PPPIOCCONNECT) and sets every
    /// network protocol's mode to drop until [`PppUnit::set_npmode`] opens
    /// it. Both fds are non-blocking and close-on-exec. Errors: the OS
    /// error of the step that failed (`ENOENT` without `/dev/ppp`).
    pub fn open(_pppox: BorrowedFd<'_>) -> io::Result<PppUnit> {
        Err(unsupported())
    }

    /// The channel fd: LCP, PAP, CHAP frames (protocol 0xC000 and up) are
    /// read from and written to it. Register it for readability.
    pub fn channel_fd(&self) -> BorrowedFd<'_> {
        self.chan.as_fd()
    }

    /// The unit fd: NCP frames (IPCP, IPv6CP) and frames of network
    /// protocols not passed are read from it. Register it for readability.
    pub fn unit_fd(&self) -> BorrowedFd<'_> {
        self.unit_fd.as_fd()
    }

    /// Sets the unit's MRU (PPPIOCSMRU), octets.
    pub fn set_mru(&self, _mru: u16) -> io::Result<()> {
        Err(unsupported())
    }

    /// Passes (`true`) or drops (`false`) a network protocol's packets
    /// between the unit and the interface (PPPIOCSNPMODE; `protocol` is
    /// 0x0021 IP or 0x0057 IPv6).
    pub fn set_npmode(&self, _protocol: u16, _pass: bool) -> io::Result<()> {
        Err(unsupported())
    }

    /// Writes one frame (Protocol field first, no address/control octets):
    /// to the channel fd for protocols 0xC000 and up, to the unit fd
    /// otherwise (as pppd does). A full queue (`EAGAIN`) drops the frame
    /// and is not an error.
    pub fn write_frame(&self, _frame: &[u8]) -> io::Result<()> {
        Err(unsupported())
    }

    /// Reads one frame from `fd` (the channel or unit fd) into `buf`:
    /// `Ok(Some(n))`, `Ok(None)` when nothing is waiting. A hung-up channel
    /// (the PPPoX session is gone) reads `Ok(Some(0))`.
    pub fn read_frame(_fd: BorrowedFd<'_>, _buf: &mut [u8]) -> io::Result<Option<usize>> {
        Err(unsupported())
    }

    /// The unit's counters (`SIOCGPPPSTATS` on its interface).
    pub fn stats(&self) -> io::Result<PppStats> {
        Err(unsupported())
    }
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "not yet")
}
