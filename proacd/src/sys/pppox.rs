//! The kernel data plane of PPPoE: session sockets, PPP channels and the
//! channel bridge (`linux/if_pppox.h`, `linux/ppp-ioctl.h`, modules
//! `pppoe`, `pppox`, `ppp_generic`).
//!
//! A connected `AF_PPPOX`/`PX_PROTO_OE` socket is one PPPoE session
//! (RFC 2516 §6) and registers a PPP channel: the kernel's `pppoe` module
//! then takes the session's 0x8864 frames for (session id, peer MAC,
//! interface) and passes their PPP payload to the channel once
//! `PPPIOCGCHAN` was asked (before that, they queue on the socket). The
//! channel is handed to propppd (local termination) or bridged to a
//! PPPoL2TP session's channel (`PPPIOCBRIDGECHAN`, Linux ≥ 5.14): the
//! kernel then forwards PPP frames between the two sessions without the
//! daemon seeing them — the LAC switch of RFC 2661 §1 over PPPoE.
//!
//! `/dev/ppp` and PPPoX sockets only exist in a kernel with `ppp_generic`
//! and `pppoe`; on others every function here fails with the OS error
//! (`EAFNOSUPPORT`, `ENOENT`), which callers take as "use the userspace
//! data plane".

use std::ffi::c_int;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use super::link::IFNAMSIZ;
use crate::proto::packet::MacAddr;

/// `AF_PPPOX` (`linux/socket.h`).
pub const AF_PPPOX: c_int = 24;
/// `PX_PROTO_OE` (`linux/if_pppox.h`): PPP over Ethernet.
pub const PX_PROTO_OE: c_int = 0;
/// `sizeof(struct sockaddr_pppox)`: the struct is packed: `sa_family`
/// (u16), `sa_protocol` (u32), then the 24-octet union whose PPPoE member
/// is `sid` (u16, network order), `remote[6]`, `dev[IFNAMSIZ]`. The
/// kernel refuses any other length with `EINVAL`.
pub const SOCKADDR_PPPOX_LEN: usize = 30;

/// `PPPIOCGCHAN` = `_IOR('t', 55, int)`: the channel index of a PPPoX socket.
pub const PPPIOCGCHAN: libc::Ioctl = libc::_IOR::<c_int>(b't' as u32, 55);
/// `PPPIOCATTCHAN` = `_IOW('t', 56, int)`: attach a `/dev/ppp` fd to a channel.
pub const PPPIOCATTCHAN: libc::Ioctl = libc::_IOW::<c_int>(b't' as u32, 56);
/// `PPPIOCBRIDGECHAN` = `_IOW('t', 53, int)`: bridge the attached channel
/// with the channel of that index (Linux ≥ 5.14).
pub const PPPIOCBRIDGECHAN: libc::Ioctl = libc::_IOW::<c_int>(b't' as u32, 53);
/// `PPPIOCUNBRIDGECHAN` = `_IO('t', 52)` (52, not 54: `linux/ppp-ioctl.h`):
/// undo `PPPIOCBRIDGECHAN`.
pub const PPPIOCUNBRIDGECHAN: libc::Ioctl = libc::_IO(b't' as u32, 52);

/// The `struct sockaddr_pppox` octets for a PPPoE session: `session_id`
/// (RFC 2516 §4: 1..=0xFFFE, written in network order), the peer's MAC and
/// the local interface. `InvalidInput` for session id 0 (the kernel reads
/// it as "disconnect") or a bad interface name.
pub fn sockaddr_pppoe(ifname: &str, session_id: u16, peer: MacAddr) -> io::Result<[u8; SOCKADDR_PPPOX_LEN]> {
    let name = ifname.as_bytes();
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {ifname:?}")));
    }
    if session_id == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{ifname}: PPPoE session id 0")));
    }
    let mut sa = [0u8; SOCKADDR_PPPOX_LEN];
    let family = (AF_PPPOX as u16).to_ne_bytes();
    let protocol = (PX_PROTO_OE as u32).to_ne_bytes();
    let sid = session_id.to_be_bytes();
    let fields = family.iter().chain(&protocol).chain(&sid).chain(&peer.0).chain(name);
    for (d, s) in sa.iter_mut().zip(fields) {
        *d = *s;
    }
    Ok(sa)
}

/// A PPPoX socket (`socket(AF_PPPOX, SOCK_STREAM, PX_PROTO_OE)`),
/// close-on-exec and non-blocking.
fn pppoe_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new
    // fd nobody else owns.
    let fd = unsafe { libc::socket(AF_PPPOX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, PX_PROTO_OE) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above: `fd` is a fresh, owned descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// True when this kernel (in this network namespace) makes PPPoE session
/// sockets: `socket(AF_PPPOX, SOCK_STREAM, PX_PROTO_OE)` succeeds (which
/// loads `pppoe` on demand where module autoloading works). The socket is
/// closed again at once.
pub fn pppoe_kernel_available() -> bool {
    pppoe_socket().is_ok()
}

/// A PPPoE session socket connected to session `session_id` with the peer
/// `peer` on interface `ifname`: a PPP channel, non-blocking and
/// close-on-exec. Hand it to propppd (`framing=kernel`) or to [`bridge`].
/// Frames are sent from the interface's own MAC. Errors name the
/// interface and the session: `EAFNOSUPPORT` without the `pppoe` module,
/// `ENODEV` (`NotFound`) without the interface, `EBUSY` when another
/// socket holds (session id, peer, interface) already, `InvalidInput` for
/// session id 0.
pub fn pppoe_connect(ifname: &str, session_id: u16, peer: MacAddr) -> io::Result<OwnedFd> {
    let sa = sockaddr_pppoe(ifname, session_id, peer)?;
    let what = |step: &str, e: io::Error| {
        let kind = if e.raw_os_error() == Some(libc::ENODEV) { io::ErrorKind::NotFound } else { e.kind() };
        io::Error::new(kind, format!("{ifname}: PPPoE session {session_id} with {peer}: {step}: {e}"))
    };
    let fd = pppoe_socket().map_err(|e| what("socket(AF_PPPOX, PX_PROTO_OE)", e))?;
    let len = SOCKADDR_PPPOX_LEN as libc::socklen_t;
    // SAFETY: `sa` is `len` readable octets laid out as the kernel's packed
    // `struct sockaddr_pppox`; the kernel only reads it; `fd` is open.
    let r = unsafe { libc::connect(fd.as_raw_fd(), sa.as_ptr().cast(), len) };
    if r < 0 {
        return Err(what("connect", io::Error::last_os_error()));
    }
    Ok(fd)
}

/// `ioctl(fd, request, &mut value)` with an `int` argument.
fn ioctl_int(fd: BorrowedFd<'_>, request: libc::Ioctl, value: &mut c_int) -> io::Result<()> {
    // SAFETY: `fd` is open for the call; every request passed here
    // (PPPIOC* with an `int` argument) reads or writes exactly one `c_int`
    // through the pointer, which designates a live, exclusively borrowed
    // `c_int`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, value as *mut c_int) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The PPP channel index of a connected PPPoX socket (`PPPIOCGCHAN`).
/// For PPPoE this also switches the socket to channel mode: from now on
/// its session frames go to the channel (and its bridge or unit), not to
/// the socket's own queue. Errors: `ENOTCONN` when not connected,
/// `ENOTTY` when `fd` is no PPPoX socket.
pub fn ppp_channel_index(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut index: c_int = -1;
    ioctl_int(fd, PPPIOCGCHAN, &mut index).map_err(|e| io::Error::new(e.kind(), format!("PPPIOCGCHAN: {e}")))?;
    u32::try_from(index).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("PPPIOCGCHAN gave channel {index}")))
}

/// Two PPP channels joined in the kernel: each frame one receives is sent
/// on the other. Holds the `/dev/ppp` fd attached to the first channel;
/// dropping it unbridges (`PPPIOCUNBRIDGECHAN`) and closes the fd. Closing
/// either session socket also ends the bridge (the kernel unbridges a
/// channel when it is unregistered), so the sockets must outlive it for
/// the bridge to carry anything.
#[derive(Debug)]
pub struct Bridge {
    fd: OwnedFd,
    /// Channel index of the first socket.
    pub channel_a: u32,
    /// Channel index of the second socket.
    pub channel_b: u32,
    unbridged: bool,
}

impl Bridge {
    /// Undoes the bridge now (`PPPIOCUNBRIDGECHAN`) and closes the fd,
    /// reporting the error Drop would ignore (`EINVAL`: no longer bridged,
    /// e.g. because a socket was closed).
    pub fn unbridge(mut self) -> io::Result<()> {
        self.unbridged = true;
        self.unbridge_ref()
    }

    fn unbridge_ref(&self) -> io::Result<()> {
        // SAFETY: PPPIOCUNBRIDGECHAN takes no argument; `fd` is open.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), PPPIOCUNBRIDGECHAN) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("PPPIOCUNBRIDGECHAN (channels {} and {}): {e}", self.channel_a, self.channel_b)));
        }
        Ok(())
    }

    /// The `/dev/ppp` fd attached to [`Bridge::channel_a`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if !self.unbridged {
            let _ = self.unbridge_ref();
        }
    }
}

/// Bridges the PPP channels of two connected PPPoX sockets (a PPPoE and a
/// PPPoL2TP session, or two PPPoE sessions): `PPPIOCGCHAN` on both,
/// `/dev/ppp` opened, `PPPIOCATTCHAN` to `a`'s channel, `PPPIOCBRIDGECHAN`
/// with `b`'s. Needs Linux ≥ 5.14 (`ENOTTY` before) and both channels
/// unbridged and not connected to a PPP unit (`EALREADY`, `EBUSY`);
/// `ENOENT` without `/dev/ppp`. The error names the step.
pub fn bridge(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> io::Result<Bridge> {
    let channel_a = ppp_channel_index(a)?;
    let channel_b = ppp_channel_index(b)?;
    let step = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("bridging PPP channels {channel_a} and {channel_b}: {what}: {e}"));
    let file =
        OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open("/dev/ppp").map_err(|e| step("open /dev/ppp", e))?;
    let fd = OwnedFd::from(file);
    let mut index = c_int::try_from(channel_a).map_err(|_| step("channel index", io::ErrorKind::InvalidData.into()))?;
    ioctl_int(fd.as_fd(), PPPIOCATTCHAN, &mut index).map_err(|e| step("PPPIOCATTCHAN", e))?;
    let mut index = c_int::try_from(channel_b).map_err(|_| step("channel index", io::ErrorKind::InvalidData.into()))?;
    ioctl_int(fd.as_fd(), PPPIOCBRIDGECHAN, &mut index).map_err(|e| step("PPPIOCBRIDGECHAN", e))?;
    Ok(Bridge { fd, channel_a, channel_b, unbridged: false })
}

/// A connected `AF_UNIX`/`SOCK_SEQPACKET` socket pair, both ends
/// non-blocking and close-on-exec: the userspace plane's PPP channel (one
/// PPP frame per message, from the Protocol field on). One end goes to
/// propppd or prol2tpd, proacd relays the other.
pub fn framed_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [c_int; 2] = [-1, -1];
    // SAFETY: `fds` is a writable array of two `c_int`s, as socketpair(2)
    // wants; on success both are fresh descriptors nobody else owns.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("socketpair(AF_UNIX, SOCK_SEQPACKET): {e}")));
    }
    let [x, y] = fds;
    // SAFETY: see above: both fds are fresh and owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(x), OwnedFd::from_raw_fd(y)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_layout_is_the_packed_kernel_struct() {
        let peer = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
        let sa = sockaddr_pppoe("veth-ac", 0x1234, peer).unwrap_or([0; SOCKADDR_PPPOX_LEN]);
        let mut want = Vec::new();
        want.extend_from_slice(&24u16.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[0x12, 0x34, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
        want.extend_from_slice(b"veth-ac\0\0\0\0\0\0\0\0\0");
        assert_eq!(sa.to_vec(), want);
    }

    #[test]
    fn sockaddr_refuses_session_zero_and_bad_names() {
        let peer = MacAddr([2, 0, 0, 0, 0, 1]);
        assert!(sockaddr_pppoe("eth0", 0, peer).is_err());
        assert!(sockaddr_pppoe("", 1, peer).is_err());
        assert!(sockaddr_pppoe("0123456789abcdef", 1, peer).is_err());
        assert!(sockaddr_pppoe("0123456789abcde", 0xFFFE, peer).is_ok());
    }

    #[test]
    fn ioctl_numbers_match_the_kernel() {
        assert_eq!(PPPIOCGCHAN, 0x8004_7437);
        assert_eq!(PPPIOCATTCHAN, 0x4004_7438);
        assert_eq!(PPPIOCBRIDGECHAN, 0x4004_7435);
        assert_eq!(PPPIOCUNBRIDGECHAN, 0x7434);
    }

    #[test]
    fn framed_pair_keeps_message_boundaries() {
        let pair = framed_pair();
        let (a, b) = match pair {
            Ok(p) => p,
            Err(e) => panic!("framed_pair: {e}"),
        };
        for msg in [&b"\xc0\x21\x01\x01\x00\x04"[..], &b"\x00\x21\x45"[..]] {
            // SAFETY: `msg` is readable for its length during the call.
            let n = unsafe { libc::send(a.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
            assert_eq!(n, msg.len() as isize);
        }
        let mut buf = [0u8; 64];
        for want in [&b"\xc0\x21\x01\x01\x00\x04"[..], &b"\x00\x21\x45"[..]] {
            // SAFETY: `buf` is writable for its length during the call.
            let n = unsafe { libc::recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert_eq!(usize::try_from(n).ok().and_then(|n| buf.get(..n)), Some(want));
        }
        // SAFETY: as above; the queue is empty now and the socket non-blocking.
        let n = unsafe { libc::recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert_eq!((n, io::Error::last_os_error().kind()), (-1, io::ErrorKind::WouldBlock));
    }

    #[test]
    fn without_kernel_pppoe_connect_fails_with_the_session_in_the_text() {
        if pppoe_kernel_available() {
            return; // exercised in the kernel lab (proac-syscheck)
        }
        let e = pppoe_connect("lo", 7, MacAddr([2, 0, 0, 0, 0, 9])).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("lo: PPPoE session 7") && e.contains("socket(AF_PPPOX"), "{e}");
    }
}
