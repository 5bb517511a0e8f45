//! Kernel PPP units: a PPPoX socket's channel attached to `/dev/ppp`, a
//! new unit (`pppN`) connected to it (`linux/ppp-ioctl.h`, `ppp_generic`).
//!
//! The steps are pppd's (`sys-linux.c`, "new style driver"):
//!
//! 1. `PPPIOCGCHAN` on the connected PPPoX socket: the channel's index;
//! 2. `/dev/ppp` opened, `PPPIOCATTCHAN` with that index: this fd is the
//!    channel, LCP and authentication frames are read from and written to it;
//! 3. `/dev/ppp` opened again, `PPPIOCNEWUNIT` (-1: the kernel picks the
//!    number): this fd is the unit, interface `pppN`; NCP frames (IPCP,
//!    IPv6CP) are read from and written to it;
//! 4. `PPPIOCCONNECT` on the channel fd with the unit number.
//!
//! Frames on both fds start with the 2-octet Protocol field, without the
//! `FF 03` address and control octets. Closing the unit fd destroys the
//! interface; closing the channel fd detaches the channel.
//!
//! Every `unsafe` block of propppd's kernel PPP path is in this file; each
//! says why it is sound.

use std::ffi::c_int;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// `PPPIOCGCHAN` = `_IOR('t', 55, int)`: the channel index of a PPPoX socket.
pub const PPPIOCGCHAN: libc::Ioctl = libc::_IOR::<c_int>(b't' as u32, 55);
/// `PPPIOCATTCHAN` = `_IOW('t', 56, int)`: attach a `/dev/ppp` fd to a channel.
pub const PPPIOCATTCHAN: libc::Ioctl = libc::_IOW::<c_int>(b't' as u32, 56);
/// `PPPIOCCONNECT` = `_IOW('t', 58, int)`: connect a channel to a unit.
pub const PPPIOCCONNECT: libc::Ioctl = libc::_IOW::<c_int>(b't' as u32, 58);
/// `PPPIOCNEWUNIT` = `_IOWR('t', 62, int)`: create a unit (in: wanted
/// number or -1; out: its number).
pub const PPPIOCNEWUNIT: libc::Ioctl = libc::_IOWR::<c_int>(b't' as u32, 62);
/// `PPPIOCSNPMODE` = `_IOW('t', 75, struct npioctl)`: pass or drop a
/// network protocol.
pub const PPPIOCSNPMODE: libc::Ioctl = libc::_IOW::<NpIoctl>(b't' as u32, 75);
/// `PPPIOCSMRU` = `_IOW('t', 82, int)`: the unit's MRU.
pub const PPPIOCSMRU: libc::Ioctl = libc::_IOW::<c_int>(b't' as u32, 82);
/// `PPPIOCGUNIT` = `_IOR('t', 86, int)`: the unit number of a unit fd.
pub const PPPIOCGUNIT: libc::Ioctl = libc::_IOR::<c_int>(b't' as u32, 86);
/// `SIOCGPPPSTATS` = `SIOCDEVPRIVATE + 0` (`linux/sockios.h`): a unit's
/// `struct ppp_stats`, through `struct ifreq` on any socket.
pub const SIOCGPPPSTATS: libc::Ioctl = 0x89F0;

/// `NPMODE_PASS` (`enum NPmode`, `linux/ppp_defs.h`): packets pass.
pub const NPMODE_PASS: c_int = 0;
/// `NPMODE_DROP`: packets are silently dropped.
pub const NPMODE_DROP: c_int = 1;

/// PPP protocol numbers of the network layers a unit carries (RFC 1332,
/// RFC 5072): the ones [`PppUnit::open`] drops until told otherwise.
pub const NETWORK_PROTOCOLS: [u16; 2] = [0x0021, 0x0057];

/// `struct npioctl` (`linux/ppp-ioctl.h`): `{ int protocol; enum NPmode mode; }`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpIoctl {
    /// PPP protocol number (0x0021 IP, 0x0057 IPv6).
    pub protocol: c_int,
    /// [`NPMODE_PASS`] or [`NPMODE_DROP`].
    pub mode: c_int,
}

/// `struct pppstat` + `struct vjstat` = `struct ppp_stats`
/// (`linux/ppp_defs.h`), as `SIOCGPPPSTATS` fills it: 32-bit counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawPppStats {
    /// `ppp_discards`.
    pub discards: u32,
    /// `ppp_ibytes`: octets received.
    pub ibytes: u32,
    /// `ppp_ioctects`.
    pub ioctets: u32,
    /// `ppp_ipackets`: packets received.
    pub ipackets: u32,
    /// `ppp_ierrors`.
    pub ierrors: u32,
    /// `ppp_ilqrs`.
    pub ilqrs: u32,
    /// `ppp_obytes`: octets sent.
    pub obytes: u32,
    /// `ppp_ooctects`.
    pub ooctets: u32,
    /// `ppp_opackets`: packets sent.
    pub opackets: u32,
    /// `ppp_oerrors`.
    pub oerrors: u32,
    /// `ppp_olqrs`.
    pub olqrs: u32,
    /// `struct vjstat`: Van Jacobson compression counters, unused.
    pub vj: [u32; 8],
}

/// Counters of a PPP unit (`SIOCGPPPSTATS`). The kernel reports them in
/// 32 bits: they wrap at 4 GiB / 2^32 packets.
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

impl From<&RawPppStats> for PppStats {
    fn from(r: &RawPppStats) -> PppStats {
        PppStats { rx_bytes: u64::from(r.ibytes), rx_packets: u64::from(r.ipackets), tx_bytes: u64::from(r.obytes), tx_packets: u64::from(r.opackets) }
    }
}

/// One PPP channel attached to `/dev/ppp` and connected to a new unit.
#[derive(Debug)]
pub struct PppUnit {
    chan: OwnedFd,
    unit_fd: OwnedFd,
    /// Unit number (`pppN`).
    pub unit: u32,
    /// Interface name (`pppN` until renamed: whoever renames it must
    /// update this, [`PppUnit::stats`] finds the interface by it).
    pub ifname: String,
}

/// `ioctl(fd, request, arg)` with an integer in/out argument.
fn ioctl_int(fd: BorrowedFd<'_>, request: libc::Ioctl, value: &mut c_int) -> io::Result<()> {
    // SAFETY: `fd` is an open fd for the duration of the call; every request
    // passed here (PPPIOC* with an `int` argument) reads and/or writes
    // exactly one `c_int` through the pointer, which points at a live,
    // exclusively borrowed `c_int`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, value as *mut c_int) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens `/dev/ppp` read-write, non-blocking and close-on-exec.
fn open_dev_ppp() -> io::Result<OwnedFd> {
    let f = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open("/dev/ppp")?;
    Ok(OwnedFd::from(f))
}

impl PppUnit {
    /// Attaches the channel of connected PPPoX socket `pppox` to
    /// `/dev/ppp` (PPPIOCGCHAN, PPPIOCATTCHAN), creates a unit
    /// (PPPIOCNEWUNIT), connects them (PPPIOCCONNECT) and sets every
    /// network protocol's mode to drop until [`PppUnit::set_npmode`] opens
    /// it. Both fds are non-blocking and close-on-exec. Errors: the OS
    /// error of the step that failed (`ENOTTY` when `pppox` is no PPPoX
    /// socket, `ENOTCONN` when it is not connected, `ENOENT` without
    /// `/dev/ppp`, `ENXIO` when the kernel has no `ppp_generic`).
    pub fn open(pppox: BorrowedFd<'_>) -> io::Result<PppUnit> {
        let mut chindex: c_int = 0;
        ioctl_int(pppox, PPPIOCGCHAN, &mut chindex)?;
        let chan = open_dev_ppp()?;
        ioctl_int(chan.as_fd(), PPPIOCATTCHAN, &mut chindex)?;
        let unit_fd = open_dev_ppp()?;
        let mut unit: c_int = -1;
        ioctl_int(unit_fd.as_fd(), PPPIOCNEWUNIT, &mut unit)?;
        let unit = u32::try_from(unit).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("PPPIOCNEWUNIT returned unit {unit}")))?;
        let mut connect = c_int::try_from(unit).unwrap_or(c_int::MAX);
        ioctl_int(chan.as_fd(), PPPIOCCONNECT, &mut connect)?;
        let ppp = PppUnit { chan, unit_fd, unit, ifname: format!("ppp{unit}") };
        for protocol in NETWORK_PROTOCOLS {
            ppp.set_npmode(protocol, false)?;
        }
        Ok(ppp)
    }

    /// The channel fd: LCP, PAP, CHAP frames (protocol 0xC000 and up) are
    /// read from and written to it. Register it for readability.
    pub fn channel_fd(&self) -> BorrowedFd<'_> {
        self.chan.as_fd()
    }

    /// The unit fd: NCP frames (IPCP, IPv6CP) and frames of protocols the
    /// kernel does not carry itself (for Protocol-Reject) are read from
    /// it; IP/IPv6 packets of a protocol set to drop are discarded by the
    /// kernel, not queued here. Register it for readability.
    pub fn unit_fd(&self) -> BorrowedFd<'_> {
        self.unit_fd.as_fd()
    }

    /// Sets the unit's MRU (PPPIOCSMRU), octets.
    pub fn set_mru(&self, mru: u16) -> io::Result<()> {
        let mut v = c_int::from(mru);
        ioctl_int(self.unit_fd.as_fd(), PPPIOCSMRU, &mut v)
    }

    /// Passes (`true`) or drops (`false`) a network protocol's packets
    /// between the unit and the interface (PPPIOCSNPMODE; `protocol` is
    /// 0x0021 IP or 0x0057 IPv6; `EINVAL` for one the kernel does not
    /// know).
    pub fn set_npmode(&self, protocol: u16, pass: bool) -> io::Result<()> {
        let mut npi = NpIoctl { protocol: c_int::from(protocol), mode: if pass { NPMODE_PASS } else { NPMODE_DROP } };
        // SAFETY: the unit fd is open; PPPIOCSNPMODE reads one
        // `struct npioctl` (two `int`s, the layout of `NpIoctl`, which is
        // `repr(C)`) through the pointer, which points at a live local.
        let r = unsafe { libc::ioctl(self.unit_fd.as_raw_fd(), PPPIOCSNPMODE, &mut npi as *mut NpIoctl) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Which fd a frame goes to, from its Protocol field: the channel for
    /// protocols 0xC000 and up (LCP, PAP, CHAP, …) and for CCP fragments
    /// (0x80FB), the unit otherwise (pppd's `output()`). `None` for a
    /// frame shorter than the Protocol field.
    pub fn is_channel_frame(frame: &[u8]) -> Option<bool> {
        let proto = u16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
        Some(proto >= 0xC000 || proto == 0x80FB)
    }

    /// Writes one frame (Protocol field first, no address/control octets):
    /// to the channel fd for protocols 0xC000 and up, to the unit fd
    /// otherwise (as pppd does). A full queue (`EAGAIN`) drops the frame
    /// and is not an error. Errors: `EINVAL` for a frame under 2 octets,
    /// the OS error of `write`.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<()> {
        let to_channel = PppUnit::is_channel_frame(frame).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let fd = if to_channel { self.chan.as_fd() } else { self.unit_fd.as_fd() };
        loop {
            match nix::unistd::write(fd, frame) {
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads one frame from `fd` (the channel or unit fd) into `buf`:
    /// `Ok(Some(n))`, `Ok(None)` when nothing is waiting. A hung-up channel
    /// (the PPPoX session is gone) reads `Ok(Some(0))`, as does a unit
    /// with no channel left.
    pub fn read_frame(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match nix::unistd::read(fd.as_raw_fd(), buf) {
                Ok(n) => return Ok(Some(n)),
                Err(nix::errno::Errno::EAGAIN) => return Ok(None),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The unit's counters (`SIOCGPPPSTATS` on its interface, found by
    /// [`PppUnit::ifname`]). Errors: `ENODEV` when no interface has that
    /// name, socket errors.
    pub fn stats(&self) -> io::Result<PppStats> {
        ppp_stats(&self.ifname)
    }
}

/// The counters of PPP interface `ifname` (`SIOCGPPPSTATS` through a
/// datagram socket). Errors: `EINVAL` for a name over 15 octets, `ENODEV`
/// without such an interface, `ENOTTY`/`EOPNOTSUPP` when it is no PPP unit.
pub fn ppp_stats(ifname: &str) -> io::Result<PppStats> {
    let mut req = ifreq_named(ifname)?;
    let mut raw = RawPppStats::default();
    req.ifr_ifru.ifru_data = (&mut raw as *mut RawPppStats).cast();
    let sock =
        nix::sys::socket::socket(nix::sys::socket::AddressFamily::Inet, nix::sys::socket::SockType::Datagram, nix::sys::socket::SockFlag::SOCK_CLOEXEC, None)?;
    // SAFETY: `sock` is open; SIOCGPPPSTATS reads one `struct ifreq` (libc's
    // definition) and writes one `struct ppp_stats` (the `repr(C)` layout of
    // `RawPppStats`) through `ifr_data`, which points at `raw`, alive and
    // exclusively borrowed until the call returns.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGPPPSTATS, &mut req as *mut libc::ifreq) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PppStats::from(&raw))
}

/// A zeroed `struct ifreq` holding `ifname`. Errors: `EINVAL` when the
/// name is empty, over 15 octets or holds a NUL.
pub(crate) fn ifreq_named(ifname: &str) -> io::Result<libc::ifreq> {
    // SAFETY: `struct ifreq` is plain old data (a char array and a union of
    // integers, arrays, sockaddrs and a pointer): all-zero bytes are a valid
    // value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = ifname.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (slot, b) in req.ifr_name.iter_mut().zip(bytes) {
        *slot = *b as libc::c_char;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers as `linux/ppp-ioctl.h` gives them on the common Linux
    /// ioctl encoding (x86, Arm, RISC-V: dir << 30 | size << 16 | type << 8
    /// | nr, read = 2, write = 1), written out by hand.
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64", target_arch = "arm", target_arch = "riscv64"))]
    #[test]
    #[allow(clippy::unnecessary_cast)] // the ioctl request type differs between C libraries
    fn ioctl_numbers() {
        assert_eq!(PPPIOCGCHAN as u64, 0x8004_7437);
        assert_eq!(PPPIOCATTCHAN as u64, 0x4004_7438);
        assert_eq!(PPPIOCCONNECT as u64, 0x4004_743a);
        assert_eq!(PPPIOCNEWUNIT as u64, 0xc004_743e);
        assert_eq!(PPPIOCSNPMODE as u64, 0x4008_744b);
        assert_eq!(PPPIOCSMRU as u64, 0x4004_7452);
        assert_eq!(PPPIOCGUNIT as u64, 0x8004_7456);
        assert_eq!(SIOCGPPPSTATS as u64, 0x89f0);
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(std::mem::size_of::<NpIoctl>(), 8);
        assert_eq!(std::mem::size_of::<RawPppStats>(), 76);
        assert_eq!(std::mem::offset_of!(RawPppStats, ibytes), 4);
        assert_eq!(std::mem::offset_of!(RawPppStats, ipackets), 12);
        assert_eq!(std::mem::offset_of!(RawPppStats, obytes), 24);
        assert_eq!(std::mem::offset_of!(RawPppStats, opackets), 32);
        assert_eq!((NPMODE_PASS, NPMODE_DROP), (0, 1));
    }

    #[test]
    fn stats_take_the_byte_and_packet_counters() {
        let raw = RawPppStats { ibytes: 1000, ipackets: 10, obytes: 2000, opackets: 20, discards: 7, oerrors: 3, ..RawPppStats::default() };
        assert_eq!(PppStats::from(&raw), PppStats { rx_bytes: 1000, rx_packets: 10, tx_bytes: 2000, tx_packets: 20 });
    }

    #[test]
    fn frames_are_routed_by_protocol() {
        // LCP, PAP, CHAP, EAP go to the channel; IPCP, IPv6CP, IP to the unit.
        for proto in [[0xc0, 0x21], [0xc0, 0x23], [0xc2, 0x23], [0xc2, 0x27], [0x80, 0xfb]] {
            assert_eq!(PppUnit::is_channel_frame(&proto), Some(true), "{proto:02x?}");
        }
        for proto in [[0x80, 0x21], [0x80, 0x57], [0x00, 0x21], [0x00, 0x57], [0x80, 0xfd]] {
            assert_eq!(PppUnit::is_channel_frame(&proto), Some(false), "{proto:02x?}");
        }
        assert_eq!(PppUnit::is_channel_frame(&[0xc0]), None);
    }

    #[test]
    fn ifreq_names() {
        let r = ifreq_named("ppp12").map(|r| r.ifr_name.iter().take(6).map(|c| *c as u8).collect::<Vec<_>>());
        assert_eq!(r.ok(), Some(b"ppp12\0".to_vec()));
        for bad in ["", "sixteen-octets!!", "a\0b"] {
            assert_eq!(ifreq_named(bad).err().and_then(|e| e.raw_os_error()), Some(libc::EINVAL), "{bad:?}");
        }
        assert!(ifreq_named("fifteen-octets!").is_ok());
    }

    #[test]
    fn open_fails_cleanly_without_a_pppox_channel() {
        // Any non-PPPoX fd: PPPIOCGCHAN is refused (ENOTTY), nothing leaks.
        let Ok(f) = std::fs::File::open("/dev/null") else { return };
        let e = PppUnit::open(f.as_fd()).err();
        assert_eq!(e.as_ref().and_then(|e| e.raw_os_error()), Some(libc::ENOTTY), "{e:?}");
    }

    #[test]
    fn stats_of_a_missing_interface_is_enodev() {
        let e = ppp_stats("propppd-nodev").err().and_then(|e| e.raw_os_error());
        assert_eq!(e, Some(libc::ENODEV));
    }
}
