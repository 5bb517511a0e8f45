//! PPP channel hand-off between a channel owner (prol2tpd for L2TP
//! sessions, proacd for PPPoE sessions) and propppd.
//!
//! propppd listens on a `SOCK_SEQPACKET` unix socket (default
//! [`DEFAULT_CHANNEL_SOCKET`], mode 0600); each owner connects once and
//! keeps the connection for as long as it runs. The connection is what ties
//! their lives together: when either process goes away the other reads
//! end-of-file and tears down everything it had with it (propppd ends the
//! owner's PPP instances and removes their interfaces; the owner closes the
//! sessions it had handed over, with CDN or PADT).
//!
//! Every record on the connection is one [`crate::ipc::Message`] (same header,
//! same types; a record's boundaries are kept by `SOCK_SEQPACKET`):
//!
//! - owner to propppd: [`Request::PppOpen`] with exactly one fd attached
//!   (SCM_RIGHTS), the channel; [`Request::PppClose`] when the owner's
//!   session ends first;
//! - propppd to owner: [`Reply::PppStatus`] with a record of kind
//!   [`STATUS_KIND`] whose `state` is [`STATE_UP`] (IPCP or IPv6CP is up: the
//!   interface carries traffic) or [`STATE_DOWN`] (the instance is gone; the
//!   owner closes its session if it still exists). Every `PppOpen` gets
//!   exactly one `down` in the end, also when it is refused at once.
//!
//! Keys of `PppOpen`'s params ([`open_key`]): the channel's `framing` —
//! [`FRAMING_KERNEL`] (the fd is a connected PPPoX socket, PPPoL2TP or
//! PPPoE, whose PPP channel propppd attaches to `/dev/ppp`) or
//! [`FRAMING_FRAMES`] (the fd is one end of a `SOCK_SEQPACKET` socket pair:
//! one PPP frame per record, starting with the Protocol field, no
//! address/control octets, in both directions — the userspace data plane);
//! `linktype` (`pppoltp`, `pppoe`), `role` ([`ROLE_SERVER`]: authenticate the
//! peer and give it an address; [`ROLE_CLIENT`]: authenticate to the peer
//! and take an address), `name` (instance name), `profile` (propppd profile;
//! absent means `default`), and optional `ifname`, `user_name`, `password`,
//! `mtu`, `mru`, plus informational keys the owner knows (`tunnel_id`,
//! `session_id`, `peer_tunnel_id`, `peer_session_id`, `peer_mac`,
//! `pppoe_session_id`), shown by `propppctl show`.
//!
//! Fields of a status record ([`status_key`]): `state`; with `up`: `ifname`,
//! `unit` (kernel PPP unit, absent on TUN), `user` (the authenticated peer
//! name, or ours as client), `local_ip`, `peer_ip` (dotted quads; absent
//! when IPCP is not up), `ipv6_local_id`, `ipv6_peer_id` (IPv6CP interface
//! identifiers, `0x` and 16 hex digits, absent when IPv6CP is not up); with `down`: `reason`
//! (one line) and `reason_code` (pppd's exit status for it).
//!
//! Sockets are non-blocking; a record that does not fit in the send buffer
//! is queued in the [`Channel`] and written when the socket is writable
//! again ([`Channel::wants_write`], [`Channel::flush`]).

use std::collections::VecDeque;
use std::io;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{self as sock, AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr};

use crate::ipc::{IpcError, Message, MAX_DATAGRAM};

/// Where propppd listens for channel owners.
pub const DEFAULT_CHANNEL_SOCKET: &str = "/run/proppp/propppd.chan";

/// `framing` value: the fd is a PPPoX socket (kernel data plane).
pub const FRAMING_KERNEL: &str = "kernel";
/// `framing` value: the fd is a framed socket pair end (userspace plane).
pub const FRAMING_FRAMES: &str = "frames";
/// `role` value: authenticate the peer, assign its address (LNS, AC).
pub const ROLE_SERVER: &str = "server";
/// `role` value: authenticate to the peer, take an address (LAC, client).
pub const ROLE_CLIENT: &str = "client";
/// `linktype` of PPP over an L2TP session (the seeds' spelling).
pub const LINKTYPE_L2TP: &str = "pppoltp";
/// `linktype` of PPP over a PPPoE session.
pub const LINKTYPE_PPPOE: &str = "pppoe";
/// Kind of the record in a [`crate::ipc::Reply::PppStatus`].
pub const STATUS_KIND: &str = "ppp";
/// `state` value: the network layer is up.
pub const STATE_UP: &str = "up";
/// `state` value: the instance is gone.
pub const STATE_DOWN: &str = "down";

/// Keys of [`crate::ipc::Request::PppOpen`] params.
pub mod open_key {
    /// [`super::FRAMING_KERNEL`] or [`super::FRAMING_FRAMES`]; required.
    pub const FRAMING: &str = "framing";
    /// [`super::LINKTYPE_L2TP`] or [`super::LINKTYPE_PPPOE`]; required.
    pub const LINKTYPE: &str = "linktype";
    /// [`super::ROLE_SERVER`] or [`super::ROLE_CLIENT`]; required.
    pub const ROLE: &str = "role";
    /// Instance name (the owner's session name); required.
    pub const NAME: &str = "name";
    /// propppd profile; `default` when absent.
    pub const PROFILE: &str = "profile";
    /// Interface name wanted (`pppN` when absent).
    pub const IFNAME: &str = "ifname";
    /// Client user name (overrides the profile's).
    pub const USER_NAME: &str = "user_name";
    /// Client password (overrides the profile's).
    pub const PASSWORD: &str = "password";
    /// Interface MTU, octets.
    pub const MTU: &str = "mtu";
    /// MRU to negotiate, octets (overrides the profile's).
    pub const MRU: &str = "mru";
    /// L2TP: our tunnel id.
    pub const TUNNEL_ID: &str = "tunnel_id";
    /// L2TP: our session id.
    pub const SESSION_ID: &str = "session_id";
    /// L2TP: the peer's tunnel id.
    pub const PEER_TUNNEL_ID: &str = "peer_tunnel_id";
    /// L2TP: the peer's session id.
    pub const PEER_SESSION_ID: &str = "peer_session_id";
    /// PPPoE: the client's MAC address.
    pub const PEER_MAC: &str = "peer_mac";
    /// PPPoE: the session id.
    pub const PPPOE_SESSION_ID: &str = "pppoe_session_id";
}

/// Fields of a status record.
pub mod status_key {
    /// `up` or `down`.
    pub const STATE: &str = "state";
    /// Interface name (`up`).
    pub const IFNAME: &str = "ifname";
    /// Kernel PPP unit number (`up`, kernel channels).
    pub const UNIT: &str = "unit";
    /// Authenticated user (`up`).
    pub const USER: &str = "user";
    /// Our IPv4 address (`up`, when IPCP is up).
    pub const LOCAL_IP: &str = "local_ip";
    /// The peer's IPv4 address (`up`, when IPCP is up).
    pub const PEER_IP: &str = "peer_ip";
    /// Our IPv6 interface identifier, `0x…` (`up`, when IPv6CP is up).
    pub const IPV6_LOCAL_ID: &str = "ipv6_local_id";
    /// The peer's IPv6 interface identifier (`up`, when IPv6CP is up).
    pub const IPV6_PEER_ID: &str = "ipv6_peer_id";
    /// Why it went down, one line (`down`).
    pub const REASON: &str = "reason";
    /// pppd's exit status for the reason (`down`).
    pub const REASON_CODE: &str = "reason_code";
}

/// Socket buffer asked for on each connection (octets): room for
/// thousands of small records in a burst.
const SOCKET_BUFFER: usize = 1 << 20;

/// propppd's listening socket.
#[derive(Debug)]
pub struct ChannelListener {
    fd: OwnedFd,
    path: PathBuf,
}

impl ChannelListener {
    /// Binds `path` (replacing a stale socket file, refusing any other
    /// kind of file), mode 0600, and listens; non-blocking, close-on-exec.
    /// Errors: the OS error, or `AlreadyExists` for a non-socket file.
    pub fn bind(path: &Path) -> io::Result<ChannelListener> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists and is not a socket", path.display())));
            }
            std::fs::remove_file(path)?;
        }
        let fd = sock::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None)?;
        let addr = UnixAddr::new(path)?;
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = sock::bind(fd.as_raw_fd(), &addr);
        nix::sys::stat::umask(old);
        bound?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        sock::listen(&fd, Backlog::new(64).unwrap_or(Backlog::MAXCONN))?;
        Ok(ChannelListener { fd, path: path.to_path_buf() })
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next waiting owner, or `None` when nobody waits.
    pub fn accept(&self) -> io::Result<Option<Channel>> {
        match sock::accept4(self.fd.as_raw_fd(), SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(raw) => Ok(Some(Channel::from_owned(unsafe { OwnedFd::from_raw_fd(raw) }))),
            Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNABORTED) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for ChannelListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for ChannelListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What [`Channel::recv`] found.
#[derive(Debug)]
pub enum Received {
    /// A message, with the fd that came with it (at most one is kept; any
    /// more are closed).
    Message(Message, Option<OwnedFd>),
    /// A record that is not a valid message (dropped; the fd, if any,
    /// closed).
    Malformed(IpcError),
    /// Nothing to read now.
    Nothing,
    /// The other side closed the connection (or it failed).
    Closed,
}

/// One connection between an owner and propppd (either end).
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    queue: VecDeque<(Vec<u8>, Option<OwnedFd>)>,
    buf: Vec<u8>,
}

impl Channel {
    /// Connects to propppd at `path`; the connection is non-blocking.
    /// Errors: the OS error (`ENOENT`, `ECONNREFUSED` when propppd is not
    /// running).
    pub fn connect(path: &Path) -> io::Result<Channel> {
        let fd = sock::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)?;
        sock::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
        let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
        Ok(Channel::from_owned(fd))
    }

    fn from_owned(fd: OwnedFd) -> Channel {
        let _ = sock::setsockopt(&fd, sock::sockopt::SndBuf, &SOCKET_BUFFER);
        let _ = sock::setsockopt(&fd, sock::sockopt::RcvBuf, &SOCKET_BUFFER);
        Channel { fd, queue: VecDeque::new(), buf: vec![0; MAX_DATAGRAM] }
    }

    /// Sends `msg`, with `fd` attached when given (the kernel duplicates
    /// it; the caller keeps its own). What the socket cannot take now is
    /// queued in order. Errors: encoding errors, and OS errors other than
    /// a full buffer (`EPIPE` when the other side is gone).
    pub fn send(&mut self, msg: &Message, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let bytes = msg.encode().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let fd = fd.map(|f| f.try_clone_to_owned()).transpose()?;
        self.queue.push_back((bytes, fd));
        self.flush()
    }

    /// Writes queued records until the socket is full. Errors as
    /// [`Channel::send`].
    pub fn flush(&mut self) -> io::Result<()> {
        while let Some((bytes, fd)) = self.queue.front() {
            let raw: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
            let cmsg = [ControlMessage::ScmRights(&raw)];
            let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsg };
            let iov = [IoSlice::new(bytes)];
            match sock::sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => {
                    self.queue.pop_front();
                }
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Whether records wait for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Reads one record.
    pub fn recv(&mut self) -> Received {
        let mut cmsg_space = nix::cmsg_space!([RawFd; 4]);
        let (n, fds) = loop {
            let mut iov = [io::IoSliceMut::new(&mut self.buf)];
            match sock::recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut cmsg_space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Ok(r) => {
                    let mut fds = Vec::new();
                    if let Ok(cmsgs) = r.cmsgs() {
                        for c in cmsgs {
                            if let ControlMessageOwned::ScmRights(list) = c {
                                // SAFETY: SCM_RIGHTS gave us new descriptors that nothing else owns.
                                fds.extend(list.into_iter().map(|raw| unsafe { OwnedFd::from_raw_fd(raw) }));
                            }
                        }
                    }
                    break (r.bytes, fds);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Received::Nothing,
                Err(_) => return Received::Closed,
            }
        };
        if n == 0 {
            return Received::Closed;
        }
        match Message::decode(self.buf.get(..n).unwrap_or_default()) {
            Ok(m) => Received::Message(m, fds.into_iter().next()),
            Err(e) => Received::Malformed(e),
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{Body, Record, Reply, Request};
    use std::io::{Read, Write};

    fn pair(dir: &Path) -> (ChannelListener, Channel, Channel) {
        let l = ChannelListener::bind(&dir.join("chan")).unwrap_or_else(|e| panic!("bind: {e}"));
        let c = Channel::connect(l.path()).unwrap_or_else(|e| panic!("connect: {e}"));
        let s = l.accept().ok().flatten().unwrap_or_else(|| panic!("no connection to accept"));
        (l, c, s)
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("chan-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        d
    }

    #[test]
    fn open_carries_its_fd_and_status_comes_back() {
        let dir = tempdir();
        let (l, mut owner, mut ppp) = pair(&dir);
        let mode = std::fs::metadata(l.path()).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap_or_else(|e| panic!("pair: {e}"));
        let open = Message { request_id: 1, body: Body::Request(Request::PppOpen { reference: 7, params: vec![(open_key::NAME.into(), "s1".into())] }) };
        owner.send(&open, Some(theirs.as_fd())).unwrap_or_else(|e| panic!("send: {e}"));
        drop(theirs);
        let (m, fd) = match ppp.recv() {
            Received::Message(m, fd) => (m, fd),
            other => panic!("expected a message, got {other:?}"),
        };
        assert_eq!(m, open);
        let mut got = std::os::unix::net::UnixStream::from(fd.unwrap_or_else(|| panic!("the fd did not come along")));
        ours.write_all(b"ping").unwrap_or_else(|e| panic!("write: {e}"));
        let mut b = [0u8; 4];
        got.read_exact(&mut b).unwrap_or_else(|e| panic!("read: {e}"));
        assert_eq!(&b, b"ping");
        let mut r = Record::new(STATUS_KIND);
        r.str(status_key::STATE, STATE_UP);
        let st = Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference: 7, record: r }) };
        ppp.send(&st, None).unwrap_or_else(|e| panic!("send: {e}"));
        match owner.recv() {
            Received::Message(m, None) => assert_eq!(m, st),
            other => panic!("expected a status, got {other:?}"),
        }
        assert!(matches!(owner.recv(), Received::Nothing));
        drop(ppp);
        assert!(matches!(owner.recv(), Received::Closed));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_socket_queues_in_order_and_garbage_is_malformed() {
        let dir = tempdir();
        let (_l, mut owner, mut ppp) = pair(&dir);
        let msg = |i: u32| Message { request_id: i, body: Body::Request(Request::PppClose { reference: i, reason: "x".repeat(4000) }) };
        let mut sent = 0u32;
        while !owner.wants_write() {
            sent += 1;
            owner.send(&msg(sent), None).unwrap_or_else(|e| panic!("send: {e}"));
            assert!(sent < 100_000, "the socket never filled");
        }
        let total = sent + 5;
        for i in sent + 1..=total {
            owner.send(&msg(i), None).unwrap_or_else(|e| panic!("send: {e}"));
        }
        let mut next = 1;
        while next <= total {
            match ppp.recv() {
                Received::Message(m, _) => {
                    assert_eq!(m.request_id, next);
                    next += 1;
                }
                Received::Nothing => owner.flush().unwrap_or_else(|e| panic!("flush: {e}")),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!owner.wants_write());
        sock::send(owner.fd.as_raw_fd(), b"garbage", MsgFlags::empty()).unwrap_or_else(|e| panic!("send: {e}"));
        assert!(matches!(ppp.recv(), Received::Malformed(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
