//! Netlink without a netlink crate: messages built and parsed with no I/O,
//! plus the small non-blocking socket that carries them. Shared by every
//! daemon of the suite; protocol families build their own requests with
//! [`MessageBuilder`] and parse their own answers on top of [`messages`]
//! and [`attrs`] (prol2tpd's `l2tp` generic netlink family does).
//!
//! What is here:
//!
//! - framing: `struct nlmsghdr` headers ([`MessageBuilder`], [`messages`]),
//!   type-length-value attributes ([`attrs`]), acknowledgements and errors
//!   ([`answer`]);
//! - the generic netlink controller (`CTRL_CMD_GETFAMILY`,
//!   [`emit_get_family`], [`parse_family`], [`NetlinkSocket::resolve_family`]);
//! - rtnetlink (`NETLINK_ROUTE`) requests on links ([`LinkRequest`]: up,
//!   MTU, bridge, rename, 802.1Q sub-interface, delete, get) and addresses
//!   ([`AddrRequest`]: point-to-point IPv4 /32 and IPv6 /128), and the
//!   parse of a link's `RTM_NEWLINK` ([`parse_link`]);
//! - [`NetlinkSocket`]: sends requests, yields the raw messages of the
//!   answers, and runs one request to completion for start-up and tools
//!   ([`NetlinkSocket::request_blocking`]). It knows no family: callers
//!   parse what it yields.
//!
//! Messages are hand-built rather than through `netlink-packet-*` crates:
//! the handful needed is a few hundred lines, has no dependencies (small
//! static firmware builds), and the daemons' golden tests pin every byte.
//! Integers in netlink headers and attributes are in host byte order,
//! except IPv4/IPv6 address attributes (network order).
//!
//! Numbers are those of `linux/netlink.h` (`NLMSG_*`, `NLM_F_*`),
//! `linux/genetlink.h` (`CTRL_*`), `linux/rtnetlink.h` (`RTM_*`,
//! `RT_SCOPE_*`), `linux/if_link.h` (`IFLA_*`) and `linux/if_addr.h`
//! (`IFA_*`, `struct ifaddrmsg`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

/// `NLMSG_NOOP`: nothing (`linux/netlink.h`).
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error, or with errno 0 an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multi-part (dump) reply.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multi-part reply, ended by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: ask for an acknowledgement (an `NLMSG_ERROR` with errno 0).
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_REPLACE`: replace the object if it exists (with `NLM_F_CREATE`).
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): return every object.
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_EXCL`: fail if the object exists (with `NLM_F_CREATE`).
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`: create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;

/// `GENL_ID_CTRL`: family id of the generic netlink controller.
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_NEWFAMILY`: the controller's reply to `CTRL_CMD_GETFAMILY`.
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
/// `CTRL_CMD_GETFAMILY`: resolve a family name.
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID` (u16).
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (NUL-terminated string).
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_VERSION` (u32).
pub const CTRL_ATTR_VERSION: u16 = 3;

/// rtnetlink message types, link and address attributes
/// (`linux/rtnetlink.h`, `linux/if_link.h`, `linux/if_addr.h`,
/// `linux/if_vlan.h`).
pub mod rt {
    /// `RTM_NEWLINK`: create or change a link.
    pub const RTM_NEWLINK: u16 = 16;
    /// `RTM_DELLINK`: delete a link.
    pub const RTM_DELLINK: u16 = 17;
    /// `RTM_GETLINK`: read a link.
    pub const RTM_GETLINK: u16 = 18;
    /// `RTM_NEWADDR`: add an interface address.
    pub const RTM_NEWADDR: u16 = 20;
    /// `RTM_DELADDR`: remove an interface address.
    pub const RTM_DELADDR: u16 = 21;
    /// `IFLA_IFNAME` (string).
    pub const IFLA_IFNAME: u16 = 3;
    /// `IFLA_MTU` (u32, octets).
    pub const IFLA_MTU: u16 = 4;
    /// `IFLA_LINK` (u32 ifindex): the lower device of a VLAN.
    pub const IFLA_LINK: u16 = 5;
    /// `IFLA_MASTER` (u32 ifindex): the bridge.
    pub const IFLA_MASTER: u16 = 10;
    /// `IFLA_STATS64` (`struct rtnl_link_stats64`, u64 counters).
    pub const IFLA_STATS64: u16 = 23;
    /// `IFLA_LINKINFO` (nested).
    pub const IFLA_LINKINFO: u16 = 18;
    /// `IFLA_INFO_KIND` (string), in `IFLA_LINKINFO`.
    pub const IFLA_INFO_KIND: u16 = 1;
    /// `IFLA_INFO_DATA` (nested), in `IFLA_LINKINFO`.
    pub const IFLA_INFO_DATA: u16 = 2;
    /// `IFLA_VLAN_ID` (u16), in `IFLA_INFO_DATA` of kind `vlan`.
    pub const IFLA_VLAN_ID: u16 = 1;
    /// `IFA_ADDRESS`: the peer of a point-to-point address, else the
    /// address itself (network order).
    pub const IFA_ADDRESS: u16 = 1;
    /// `IFA_LOCAL`: the local address (network order).
    pub const IFA_LOCAL: u16 = 2;
    /// `IFF_UP`.
    pub const IFF_UP: u32 = 0x1;
    /// `IFA_F_NODAD` (`ifa_flags`): no duplicate address detection.
    pub const IFA_F_NODAD: u8 = 0x02;
    /// `IFA_F_PERMANENT` (`ifa_flags`): no lifetime.
    pub const IFA_F_PERMANENT: u8 = 0x80;
    /// `RT_SCOPE_UNIVERSE` (`ifa_scope`): global.
    pub const RT_SCOPE_UNIVERSE: u8 = 0;
    /// `RT_SCOPE_LINK` (`ifa_scope`): valid on the link only.
    pub const RT_SCOPE_LINK: u8 = 253;
    /// `AF_UNSPEC`.
    pub const AF_UNSPEC: u8 = 0;
    /// `AF_INET`.
    pub const AF_INET: u8 = 2;
    /// `AF_INET6`.
    pub const AF_INET6: u8 = 10;
}

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// Length of `struct ifinfomsg`.
pub const IFINFO_LEN: usize = 16;
/// Length of `struct ifaddrmsg`.
pub const IFADDR_LEN: usize = 8;
/// Longest interface name, without the NUL (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

const NLA_HDRLEN: usize = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// One netlink message being built into a caller's buffer: header first,
/// then attributes; [`MessageBuilder::finish`] writes the length.
#[derive(Debug)]
pub struct MessageBuilder<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    nests: Vec<usize>,
}

impl<'a> MessageBuilder<'a> {
    /// Starts a message of `ty` with `flags` and `seq` (port id 0: the
    /// kernel) at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>, ty: u16, flags: u16, seq: u32) -> Self {
        let start = out.len();
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        MessageBuilder { out, start, nests: Vec::new() }
    }

    /// Appends a `struct genlmsghdr` (command, version, reserved).
    pub fn genl(self, command: u8, version: u8) -> Self {
        self.out.extend_from_slice(&[command, version, 0, 0]);
        self
    }

    /// Appends a `struct ifinfomsg` (family `AF_UNSPEC`, type 0): link
    /// `index` (0: find it by `IFLA_IFNAME`), the `flags` to set among
    /// those in `change`.
    pub fn ifinfo(self, index: i32, flags: u32, change: u32) -> Self {
        self.out.extend_from_slice(&[rt::AF_UNSPEC, 0, 0, 0]);
        self.out.extend_from_slice(&index.to_ne_bytes());
        self.out.extend_from_slice(&flags.to_ne_bytes());
        self.out.extend_from_slice(&change.to_ne_bytes());
        self
    }

    /// Appends a `struct ifaddrmsg`: address `family` (`AF_INET`,
    /// `AF_INET6`), prefix length in bits, `IFA_F_*` flags, `RT_SCOPE_*`
    /// scope and the link's index.
    pub fn ifaddr(self, family: u8, prefix_len: u8, flags: u8, scope: u8, index: u32) -> Self {
        self.out.extend_from_slice(&[family, prefix_len, flags, scope]);
        self.out.extend_from_slice(&index.to_ne_bytes());
        self
    }

    /// Appends one attribute with `value`, padded to 4 octets. Values
    /// longer than 65,531 octets are truncated (none is, here).
    pub fn attr(&mut self, ty: u16, value: &[u8]) -> &mut Self {
        let value = value.get(..value.len().min(usize::from(u16::MAX) - NLA_HDRLEN)).unwrap_or(&[]);
        let len = u16::try_from(NLA_HDRLEN + value.len()).unwrap_or(u16::MAX);
        self.out.extend_from_slice(&len.to_ne_bytes());
        self.out.extend_from_slice(&ty.to_ne_bytes());
        self.out.extend_from_slice(value);
        self.pad();
        self
    }

    /// Appends a u8 attribute.
    pub fn u8(&mut self, ty: u16, v: u8) -> &mut Self {
        self.attr(ty, &[v])
    }

    /// Appends a u16 attribute (host order).
    pub fn u16(&mut self, ty: u16, v: u16) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// Appends a u32 attribute (host order).
    pub fn u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// Appends a NUL-terminated string attribute.
    pub fn string(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len().saturating_add(1));
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v)
    }

    /// Appends a flag attribute (no payload).
    pub fn flag(&mut self, ty: u16) -> &mut Self {
        self.attr(ty, &[])
    }

    /// Opens a nested attribute, closed by [`MessageBuilder::end_nest`].
    pub fn begin_nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.out.len());
        self.out.extend_from_slice(&0u16.to_ne_bytes());
        self.out.extend_from_slice(&ty.to_ne_bytes());
        self
    }

    /// Closes the innermost nested attribute.
    pub fn end_nest(&mut self) -> &mut Self {
        if let Some(at) = self.nests.pop() {
            let len = u16::try_from(self.out.len().saturating_sub(at)).unwrap_or(u16::MAX);
            if let Some(slot) = self.out.get_mut(at..at.saturating_add(2)) {
                slot.copy_from_slice(&len.to_ne_bytes());
            }
        }
        self
    }

    fn pad(&mut self) {
        while self.out.len().saturating_sub(self.start) & 3 != 0 {
            self.out.push(0);
        }
    }

    /// Writes the total length into the header (closing open nests).
    pub fn finish(mut self) {
        while !self.nests.is_empty() {
            self.end_nest();
        }
        let len = u32::try_from(self.out.len().saturating_sub(self.start)).unwrap_or(u32::MAX);
        if let Some(slot) = self.out.get_mut(self.start..self.start.saturating_add(4)) {
            slot.copy_from_slice(&len.to_ne_bytes());
        }
    }
}

/// Emits `CTRL_CMD_GETFAMILY` for family `name` (`linux/genetlink.h`).
pub fn emit_get_family(name: &str, seq: u32, out: &mut Vec<u8>) {
    let mut m = MessageBuilder::new(out, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq).genl(CTRL_CMD_GETFAMILY, 1);
    m.string(CTRL_ATTR_FAMILY_NAME, name);
    m.finish();
}

/// One rtnetlink request on a link. Every one asks for an
/// acknowledgement; [`LinkRequest::Get`] is answered by the link's
/// `RTM_NEWLINK` ([`parse_link`]) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRequest {
    /// Change an existing link, found by name: bring it up (or leave its
    /// state alone), and set its MTU (octets) and bridge (ifindex) when
    /// given.
    Set {
        /// Interface name.
        ifname: String,
        /// Bring the link up (`IFF_UP`); `false` leaves the flags alone.
        up: bool,
        /// MTU in octets.
        mtu: Option<u32>,
        /// Bridge ifindex to enslave to (`IFLA_MASTER`).
        master: Option<u32>,
    },
    /// Take an existing link, found by name, down (`IFF_UP` cleared).
    Down {
        /// Interface name.
        ifname: String,
    },
    /// Rename link `ifindex` (which must be down, else `EBUSY`) to
    /// `new_name` (at most [`IFNAME_MAX`] octets).
    Rename {
        /// The link's index.
        ifindex: u32,
        /// Its new name.
        new_name: String,
    },
    /// Create an 802.1Q sub-interface `ifname` with `vlan_id` on lower
    /// device `link` (ifindex), already up.
    NewVlan {
        /// Name of the new interface.
        ifname: String,
        /// Lower device ifindex (the `l2tpeth` master).
        link: u32,
        /// VLAN id, 1..=4094 (IEEE 802.1Q).
        vlan_id: u16,
    },
    /// Delete a link by name.
    Delete {
        /// Interface name.
        ifname: String,
    },
    /// Read a link by name (`RTM_GETLINK`): its index, flags and MTU.
    Get {
        /// Interface name.
        ifname: String,
    },
}

fn ifindex_i32(ifindex: u32) -> i32 {
    i32::try_from(ifindex).unwrap_or(0)
}

impl LinkRequest {
    /// Emits the request with sequence number `seq`.
    pub fn emit(&self, seq: u32, out: &mut Vec<u8>) {
        let ack = NLM_F_REQUEST | NLM_F_ACK;
        match self {
            LinkRequest::Set { ifname, up, mtu, master } => {
                let (flags, change) = if *up { (rt::IFF_UP, rt::IFF_UP) } else { (0, 0) };
                let mut m = MessageBuilder::new(out, rt::RTM_NEWLINK, ack, seq).ifinfo(0, flags, change);
                m.string(rt::IFLA_IFNAME, ifname);
                if let Some(mtu) = mtu {
                    m.u32(rt::IFLA_MTU, *mtu);
                }
                if let Some(master) = master {
                    m.u32(rt::IFLA_MASTER, *master);
                }
                m.finish();
            }
            LinkRequest::Down { ifname } => {
                let mut m = MessageBuilder::new(out, rt::RTM_NEWLINK, ack, seq).ifinfo(0, 0, rt::IFF_UP);
                m.string(rt::IFLA_IFNAME, ifname);
                m.finish();
            }
            LinkRequest::Rename { ifindex, new_name } => {
                let mut m = MessageBuilder::new(out, rt::RTM_NEWLINK, ack, seq).ifinfo(ifindex_i32(*ifindex), 0, 0);
                m.string(rt::IFLA_IFNAME, new_name);
                m.finish();
            }
            LinkRequest::NewVlan { ifname, link, vlan_id } => {
                let flags = ack | NLM_F_CREATE | NLM_F_EXCL;
                let mut m = MessageBuilder::new(out, rt::RTM_NEWLINK, flags, seq).ifinfo(0, rt::IFF_UP, rt::IFF_UP);
                m.string(rt::IFLA_IFNAME, ifname).u32(rt::IFLA_LINK, *link);
                m.begin_nest(rt::IFLA_LINKINFO).string(rt::IFLA_INFO_KIND, "vlan");
                m.begin_nest(rt::IFLA_INFO_DATA).u16(rt::IFLA_VLAN_ID, *vlan_id).end_nest();
                m.end_nest();
                m.finish();
            }
            LinkRequest::Delete { ifname } => {
                let mut m = MessageBuilder::new(out, rt::RTM_DELLINK, ack, seq).ifinfo(0, 0, 0);
                m.string(rt::IFLA_IFNAME, ifname);
                m.finish();
            }
            LinkRequest::Get { ifname } => {
                let mut m = MessageBuilder::new(out, rt::RTM_GETLINK, ack, seq).ifinfo(0, 0, 0);
                m.string(rt::IFLA_IFNAME, ifname);
                m.finish();
            }
        }
    }
}

/// The name of the VLAN sub-interface on `master` for `vlan_id`
/// (`MASTER.VID`, the iproute2 convention), or `None` when it would be
/// longer than [`IFNAME_MAX`].
pub fn vlan_ifname(master: &str, vlan_id: u16) -> Option<String> {
    let name = format!("{master}.{vlan_id}");
    (name.len() <= IFNAME_MAX).then_some(name)
}

/// One rtnetlink request adding a point-to-point address to a link
/// (`RTM_NEWADDR` with `IFA_LOCAL` = ours and `IFA_ADDRESS` = the peer's,
/// as `ip addr add LOCAL peer PEER dev IF` sends it). The kernel installs
/// the host route to the peer with it. Created or replaced
/// (`NLM_F_CREATE | NLM_F_REPLACE`), so adding it twice is not an error;
/// acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrRequest {
    /// IPv4 `local` with peer `peer/32` (RFC 1332 addresses), scope
    /// universe.
    Ipv4Ptp {
        /// The link's index.
        ifindex: u32,
        /// Our address.
        local: Ipv4Addr,
        /// The peer's address.
        peer: Ipv4Addr,
    },
    /// IPv6 `local/128` with peer `peer/128` (RFC 5072 §5 link-local
    /// addresses), no duplicate address detection, permanent; scope link
    /// for `fe80::/10` addresses, universe otherwise.
    Ipv6Ptp {
        /// The link's index.
        ifindex: u32,
        /// Our address.
        local: Ipv6Addr,
        /// The peer's address.
        peer: Ipv6Addr,
    },
}

fn is_ipv6_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

impl AddrRequest {
    /// Emits the request with sequence number `seq`.
    pub fn emit(&self, seq: u32, out: &mut Vec<u8>) {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let m = MessageBuilder::new(out, rt::RTM_NEWADDR, flags, seq);
        match self {
            AddrRequest::Ipv4Ptp { ifindex, local, peer } => {
                let mut m = m.ifaddr(rt::AF_INET, 32, 0, rt::RT_SCOPE_UNIVERSE, *ifindex);
                m.attr(rt::IFA_LOCAL, &local.octets()).attr(rt::IFA_ADDRESS, &peer.octets());
                m.finish();
            }
            AddrRequest::Ipv6Ptp { ifindex, local, peer } => {
                let scope = if is_ipv6_link_local(local) { rt::RT_SCOPE_LINK } else { rt::RT_SCOPE_UNIVERSE };
                let mut m = m.ifaddr(rt::AF_INET6, 128, rt::IFA_F_NODAD | rt::IFA_F_PERMANENT, scope, *ifindex);
                m.attr(rt::IFA_LOCAL, &local.octets()).attr(rt::IFA_ADDRESS, &peer.octets());
                m.finish();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// A malformed message from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer octets than a header or than its length field says.
    Truncated,
    /// A length field below the header size.
    BadLength,
}

/// One netlink message: header fields and payload (after `nlmsghdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// Payload, without padding.
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// A copy that owns its payload.
    pub fn to_owned(&self) -> OwnedMessage {
        OwnedMessage { ty: self.ty, flags: self.flags, seq: self.seq, payload: self.payload.to_vec() }
    }
}

/// A [`Message`] that owns its payload (what
/// [`NetlinkSocket::request_blocking`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// Payload, without padding.
    pub payload: Vec<u8>,
}

impl OwnedMessage {
    /// The borrowed view, for the parsers.
    pub fn as_message(&self) -> Message<'_> {
        Message { ty: self.ty, flags: self.flags, seq: self.seq, payload: &self.payload }
    }
}

/// The host-order u16 at `at` in `b`, if there.
pub fn get_u16(b: &[u8], at: usize) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_ne_bytes(s))
}

/// The host-order u32 at `at` in `b`, if there.
pub fn get_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_ne_bytes(s))
}

/// The host-order u64 at `at` in `b`, if there.
pub fn get_u64(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_ne_bytes(s))
}

/// The string of a string attribute: up to its first NUL, `None` when
/// empty or not UTF-8.
pub fn attr_string(v: &[u8]) -> Option<String> {
    let name = v.split(|b| *b == 0).next().unwrap_or(&[]);
    std::str::from_utf8(name).ok().filter(|n| !n.is_empty()).map(str::to_owned)
}

/// Iterates the messages of one datagram read from a netlink socket.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// The messages in `buf` (one `recv`); iteration ends after the first
/// malformed one.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

fn parse_message(b: &[u8]) -> Result<(Message<'_>, usize), ParseError> {
    let len = usize::try_from(get_u32(b, 0).ok_or(ParseError::Truncated)?).map_err(|_| ParseError::BadLength)?;
    if len < NLMSG_HDRLEN {
        return Err(ParseError::BadLength);
    }
    let ty = get_u16(b, 4).ok_or(ParseError::Truncated)?;
    let flags = get_u16(b, 6).ok_or(ParseError::Truncated)?;
    let seq = get_u32(b, 8).ok_or(ParseError::Truncated)?;
    let payload = b.get(NLMSG_HDRLEN..len).ok_or(ParseError::Truncated)?;
    Ok((Message { ty, flags, seq, payload }, align4(len)))
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_message(self.rest) {
            Ok((m, next)) => {
                self.rest = self.rest.get(next..).unwrap_or(&[]);
                Some(Ok(m))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Iterates the attributes in a payload: `(type without flag bits, value)`.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

/// The attributes in `b`; iteration stops at the first malformed one.
pub fn attrs(b: &[u8]) -> Attrs<'_> {
    Attrs { rest: b }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest;
        let len = usize::from(get_u16(b, 0)?);
        let ty = get_u16(b, 2)? & NLA_TYPE_MASK;
        let value = match b.get(NLA_HDRLEN..len) {
            Some(v) if len >= NLA_HDRLEN => v,
            _ => {
                self.rest = &[];
                return None;
            }
        };
        self.rest = b.get(align4(len)..).unwrap_or(&[]);
        Some((ty, value))
    }
}

/// The kernel's refusal of a request, or a malformed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// `NLMSG_ERROR` with this (positive) errno, or the socket's error.
    Errno(i32),
    /// The answer could not be parsed.
    Malformed(ParseError),
}

impl ReplyError {
    /// The errno (`EPROTO` for a malformed answer).
    pub fn errno(self) -> i32 {
        match self {
            ReplyError::Errno(e) => e,
            ReplyError::Malformed(_) => libc::EPROTO,
        }
    }

    /// The error of a failed system call (`EIO` when it has no errno).
    pub fn from_io(e: &io::Error) -> ReplyError {
        ReplyError::Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Errno(e) => write!(f, "{}", io::Error::from_raw_os_error(*e)),
            ReplyError::Malformed(p) => write!(f, "malformed netlink answer ({p:?})"),
        }
    }
}

impl std::error::Error for ReplyError {}

impl From<ReplyError> for io::Error {
    fn from(e: ReplyError) -> io::Error {
        io::Error::from_raw_os_error(e.errno())
    }
}

/// What one message of an answer is, its control types sorted out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The request was carried out (an `NLMSG_ERROR` with errno 0).
    Ack,
    /// End of a multi-part reply (`NLMSG_DONE`).
    Done,
    /// `NLMSG_NOOP`.
    Noop,
    /// An object of the family: for the caller to parse.
    Object(Message<'a>),
}

/// Sorts out `m`: acknowledgement, end of dump, nothing, or an object;
/// `Err` for the kernel's error (`NLMSG_ERROR` with a non-zero errno, or
/// `NLMSG_OVERRUN` as `ENOBUFS`) or an `NLMSG_ERROR` without its errno.
pub fn answer<'a>(m: &Message<'a>) -> Result<Answer<'a>, ReplyError> {
    match m.ty {
        NLMSG_ERROR => {
            let code = get_u32(m.payload, 0).ok_or(ReplyError::Malformed(ParseError::Truncated))? as i32;
            if code == 0 {
                Ok(Answer::Ack)
            } else {
                Err(ReplyError::Errno(code.checked_neg().unwrap_or(libc::EINVAL)))
            }
        }
        NLMSG_DONE => Ok(Answer::Done),
        NLMSG_NOOP => Ok(Answer::Noop),
        NLMSG_OVERRUN => Err(ReplyError::Errno(libc::ENOBUFS)),
        _ => Ok(Answer::Object(*m)),
    }
}

/// A resolved generic netlink family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// Family id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Family version (`CTRL_ATTR_VERSION`).
    pub version: u32,
}

/// The family in the payload of a controller message (`GENL_ID_CTRL`,
/// `CTRL_CMD_NEWFAMILY`). Errors: `Truncated` without the genetlink
/// header or `CTRL_ATTR_FAMILY_ID`.
pub fn parse_family(payload: &[u8]) -> Result<Family, ParseError> {
    let body = payload.get(GENL_HDRLEN..).ok_or(ParseError::Truncated)?;
    let mut id = None;
    let mut version = 0;
    for (ty, v) in attrs(body) {
        match ty {
            CTRL_ATTR_FAMILY_ID => id = get_u16(v, 0),
            CTRL_ATTR_VERSION => version = get_u32(v, 0).unwrap_or(0),
            _ => {}
        }
    }
    Ok(Family { id: id.ok_or(ParseError::Truncated)?, version })
}

/// A link as `RTM_NEWLINK` describes it (answer to [`LinkRequest::Get`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkInfo {
    /// Its index.
    pub ifindex: u32,
    /// `IFF_*` flags (`IFF_UP` = 1).
    pub flags: u32,
    /// Its name (`IFLA_IFNAME`).
    pub ifname: Option<String>,
    /// Its MTU in octets (`IFLA_MTU`).
    pub mtu: Option<u32>,
    /// Its counters (`IFLA_STATS64`).
    pub stats: Option<LinkStats>,
}

/// The first counters of `struct rtnl_link_stats64` (`linux/if_link.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Octets received.
    pub rx_bytes: u64,
    /// Octets sent.
    pub tx_bytes: u64,
}

impl LinkStats {
    /// Parses the start of an `IFLA_STATS64` value; `None` when shorter
    /// than its four first counters.
    pub fn parse(v: &[u8]) -> Option<LinkStats> {
        Some(LinkStats { rx_packets: get_u64(v, 0)?, tx_packets: get_u64(v, 8)?, rx_bytes: get_u64(v, 16)?, tx_bytes: get_u64(v, 24)? })
    }
}

/// The link in the payload of an `RTM_NEWLINK` message. Errors:
/// `Truncated` when the `struct ifinfomsg` is not all there.
pub fn parse_link(payload: &[u8]) -> Result<LinkInfo, ParseError> {
    let index = get_u32(payload, 4).ok_or(ParseError::Truncated)?;
    let flags = get_u32(payload, 8).ok_or(ParseError::Truncated)?;
    let body = payload.get(IFINFO_LEN..).ok_or(ParseError::Truncated)?;
    let mut link = LinkInfo { ifindex: index, flags, ..LinkInfo::default() };
    for (ty, v) in attrs(body) {
        match ty {
            rt::IFLA_IFNAME => link.ifname = attr_string(v),
            rt::IFLA_MTU => link.mtu = get_u32(v, 0),
            rt::IFLA_STATS64 => link.stats = LinkStats::parse(v),
            _ => {}
        }
    }
    Ok(link)
}

// ---------------------------------------------------------------------------
// Socket
// ---------------------------------------------------------------------------

/// Which netlink protocol a [`NetlinkSocket`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `NETLINK_GENERIC` (the controller and generic families).
    Generic,
    /// `NETLINK_ROUTE` (links, addresses).
    Route,
}

/// A non-blocking netlink socket: requests go out with
/// [`NetlinkSocket::send`], which returns their sequence number; the
/// messages of the answers come back, once its fd is readable, from
/// [`NetlinkSocket::recv`], for the caller to parse ([`answer`], then
/// its family's parser).
pub struct NetlinkSocket {
    fd: OwnedFd,
    next_seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkSocket").field("fd", &self.fd).field("next_seq", &self.next_seq).finish()
    }
}

/// Receive buffer size: a dump part is at most one page; 32 KiB holds
/// several.
const RECV_BUF: usize = 32 * 1024;

impl NetlinkSocket {
    /// Opens a non-blocking, close-on-exec netlink socket of `protocol`.
    /// Errors: the OS error (e.g. `EAFNOSUPPORT`, `EPROTONOSUPPORT`).
    pub fn open(protocol: Protocol) -> io::Result<NetlinkSocket> {
        let proto = match protocol {
            Protocol::Generic => SockProtocol::NetlinkGeneric,
            Protocol::Route => SockProtocol::NetlinkRoute,
        };
        let fd = socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, proto)?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(NetlinkSocket { fd, next_seq: 1, buf: vec![0; RECV_BUF] })
    }

    /// The fd, to register for readability with the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Sends the message `build` writes for the sequence number it is
    /// given (never 0), and returns that number. Errors: the OS error of
    /// `send` (`EAGAIN` when the kernel's buffer is full).
    pub fn send(&mut self, build: impl FnOnce(u32, &mut Vec<u8>)) -> io::Result<u32> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let mut out = Vec::with_capacity(128);
        build(seq, &mut out);
        socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        Ok(seq)
    }

    /// Reads one datagram, if one waits, and hands each of its messages
    /// (or the parse error ending it) to `each`. Returns `Ok(false)` when
    /// nothing was waiting. Never blocks. Errors: the OS error of `recv`
    /// (`ENOBUFS` when the kernel dropped answers).
    pub fn recv(&mut self, mut each: impl FnMut(Result<Message<'_>, ParseError>)) -> io::Result<bool> {
        loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(n) => {
                    for m in messages(self.buf.get(..n).unwrap_or(&[])) {
                        each(m);
                    }
                    return Ok(true);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits up to `timeout_ms` for the socket to be readable. Errors:
    /// `ETIMEDOUT`, the OS error of `poll`.
    pub fn wait_readable(&self, timeout_ms: u16) -> Result<(), ReplyError> {
        let mut fds = [nix::poll::PollFd::new(self.fd.as_fd(), nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(timeout_ms)) {
            Ok(0) => Err(ReplyError::Errno(libc::ETIMEDOUT)),
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(ReplyError::Errno(e as i32)),
        }
    }

    /// Sends a request and waits, each time at most `timeout_ms`, for its
    /// answer up to the final message (an acknowledgement or `NLMSG_DONE`):
    /// returns the objects before it (none for a plain acknowledgement;
    /// the object of a get; the parts of a dump). Messages of other
    /// requests and malformed ones are skipped. Blocking: for start-up,
    /// tools and the kernel's synchronous rtnetlink requests only. Errors:
    /// the kernel's errno, `ETIMEDOUT`, socket errors.
    pub fn request_blocking(&mut self, build: impl FnOnce(u32, &mut Vec<u8>), timeout_ms: u16) -> Result<Vec<OwnedMessage>, ReplyError> {
        let seq = self.send(build).map_err(|e| ReplyError::from_io(&e))?;
        let mut objects = Vec::new();
        let mut end: Option<Result<(), ReplyError>> = None;
        loop {
            let got = self
                .recv(|m| {
                    let Ok(m) = m else { return };
                    if m.seq != seq || end.is_some() {
                        return;
                    }
                    match answer(&m) {
                        Ok(Answer::Ack | Answer::Done) => end = Some(Ok(())),
                        Ok(Answer::Noop) => {}
                        Ok(Answer::Object(o)) => objects.push(o.to_owned()),
                        Err(e) => end = Some(Err(e)),
                    }
                })
                .map_err(|e| ReplyError::from_io(&e))?;
            if let Some(end) = end {
                return end.map(|()| objects);
            }
            if !got {
                self.wait_readable(timeout_ms)?;
            }
        }
    }

    /// Resolves generic netlink family `name` (blocking, start-up only).
    /// Errors: `ENOENT` when the kernel has no such family (its module not
    /// loaded and not loadable); `Malformed` when the answer holds none.
    pub fn resolve_family(&mut self, name: &str) -> Result<Family, ReplyError> {
        let objects = self.request_blocking(|seq, out| emit_get_family(name, seq, out), 1000)?;
        objects.iter().filter(|m| m.ty == GENL_ID_CTRL).find_map(|m| parse_family(&m.payload).ok()).ok_or(ReplyError::Malformed(ParseError::Truncated))
    }

    /// Reads link `ifname` (blocking, at most `timeout_ms` per wait).
    /// Errors: `ENODEV` when there is no such link, as
    /// [`NetlinkSocket::request_blocking`].
    pub fn get_link(&mut self, ifname: &str, timeout_ms: u16) -> Result<LinkInfo, ReplyError> {
        let req = LinkRequest::Get { ifname: ifname.to_owned() };
        let objects = self.request_blocking(|seq, out| req.emit(seq, out), timeout_ms)?;
        objects.iter().filter(|m| m.ty == rt::RTM_NEWLINK).find_map(|m| parse_link(&m.payload).ok()).ok_or(ReplyError::Malformed(ParseError::Truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_sorts_control_messages() {
        let m = |ty, payload: &'static [u8]| Message { ty, flags: 0, seq: 1, payload };
        assert_eq!(answer(&m(NLMSG_ERROR, &[0, 0, 0, 0])), Ok(Answer::Ack));
        let eexist = (-libc::EEXIST).to_ne_bytes();
        let e = Message { ty: NLMSG_ERROR, flags: 0, seq: 1, payload: &eexist };
        assert_eq!(answer(&e), Err(ReplyError::Errno(libc::EEXIST)));
        assert_eq!(answer(&m(NLMSG_ERROR, &[0, 0])), Err(ReplyError::Malformed(ParseError::Truncated)));
        assert_eq!(answer(&m(NLMSG_DONE, &[])), Ok(Answer::Done));
        assert_eq!(answer(&m(NLMSG_NOOP, &[])), Ok(Answer::Noop));
        assert_eq!(answer(&m(NLMSG_OVERRUN, &[])), Err(ReplyError::Errno(libc::ENOBUFS)));
        let obj = m(rt::RTM_NEWLINK, &[1]);
        assert_eq!(answer(&obj), Ok(Answer::Object(obj)));
    }

    /// Hex digits, whitespace ignored, `#` to end of line is a comment.
    fn h(s: &str) -> Vec<u8> {
        let digits: String = s.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(|l| l.chars()).filter(|c| !c.is_whitespace()).collect();
        assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
        (0..digits.len()).step_by(2).map(|i| digits.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok()).unwrap_or_default()).collect()
    }

    fn link(req: &LinkRequest, seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        req.emit(seq, &mut out);
        out
    }

    fn addr(req: &AddrRequest, seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        req.emit(seq, &mut out);
        out
    }

    // Golden bytes written out by hand from `linux/rtnetlink.h` (RTM_NEWLINK
    // 16, RTM_GETLINK 18, RTM_NEWADDR 20), `linux/netlink.h` (REQUEST 1,
    // ACK 4, REPLACE 0x100, CREATE 0x400), `linux/if_link.h` (IFLA_IFNAME 3,
    // IFLA_MTU 4), `linux/if_addr.h` (`struct ifaddrmsg` = family, prefixlen,
    // flags, scope, u32 index; IFA_ADDRESS 1, IFA_LOCAL 2, IFA_F_NODAD 2,
    // IFA_F_PERMANENT 0x80), RT_SCOPE_LINK 253. Host order: little-endian.

    #[cfg(target_endian = "little")]
    #[test]
    fn addr_ipv4_ptp_bytes() {
        let req = AddrRequest::Ipv4Ptp { ifindex: 7, local: Ipv4Addr::new(192, 0, 2, 1), peer: Ipv4Addr::new(192, 0, 2, 2) };
        let want = h("
            28000000 1400 0505 05000000 00000000  # len 40, RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE, seq 5
            02 20 00 00 07000000                  # ifaddrmsg: AF_INET, /32, flags 0, scope universe, index 7
            0800 0200 c0000201                    # IFA_LOCAL 192.0.2.1
            0800 0100 c0000202                    # IFA_ADDRESS (peer) 192.0.2.2
        ");
        assert_eq!(addr(&req, 5), want);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn addr_ipv6_ptp_bytes() {
        let local = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let peer = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0211, 0x22ff, 0xfe33, 0x4455);
        let req = AddrRequest::Ipv6Ptp { ifindex: 0x0102, local, peer };
        let want = h("
            40000000 1400 0505 06000000 00000000  # len 64, RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE, seq 6
            0a 80 82 fd 02010000                  # AF_INET6, /128, NODAD|PERMANENT, scope link, index 0x102
            1400 0200 fe800000000000000000000000000001  # IFA_LOCAL fe80::1
            1400 0100 fe800000000000000211 22fffe334455 # IFA_ADDRESS fe80::211:22ff:fe33:4455
        ");
        assert_eq!(addr(&req, 6), want);
        // A global address keeps scope universe.
        let global = AddrRequest::Ipv6Ptp { ifindex: 1, local: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), peer };
        assert_eq!(addr(&global, 1).get(19), Some(&rt::RT_SCOPE_UNIVERSE));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn link_rename_down_get_bytes() {
        let req = LinkRequest::Rename { ifindex: 9, new_name: "ppp7".into() };
        let want = h("
            2c000000 1000 0500 03000000 00000000  # len 44, RTM_NEWLINK, REQUEST|ACK, seq 3
            00 00 0000 09000000 00000000 00000000 # ifinfomsg: index 9, no flag changes
            0900 0300 7070703700 000000           # IFLA_IFNAME \"ppp7\" (the new name)
        ");
        assert_eq!(link(&req, 3), want);

        let req = LinkRequest::Down { ifname: "ppp0".into() };
        let want = h("
            2c000000 1000 0500 04000000 00000000  # RTM_NEWLINK, seq 4
            00 00 0000 00000000 00000000 01000000 # index 0 (by name), flags 0, change IFF_UP
            0900 0300 7070703000 000000           # IFLA_IFNAME \"ppp0\"
        ");
        assert_eq!(link(&req, 4), want);

        let req = LinkRequest::Get { ifname: "ppp0".into() };
        let want = h("
            2c000000 1200 0500 05000000 00000000  # RTM_GETLINK, REQUEST|ACK, seq 5
            00 00 0000 00000000 00000000 00000000
            0900 0300 7070703000 000000
        ");
        assert_eq!(link(&req, 5), want);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn link_reply_parses() {
        let buf = h("
            3c000000 1000 0000 05000000 00000000  # len 60, RTM_NEWLINK, seq 5
            00 00 0002 09000000 91100000 00000000 # ifinfomsg: type 512, index 9, flags 0x1091
            0900 0300 7070703700 000000           # IFLA_IFNAME ppp7
            0800 0400 78050000                    # IFLA_MTU 1400
            0800 1e00 01000000                    # something else
        ");
        let m = messages(&buf).next().and_then(Result::ok);
        let m = m.map(|m| (m.ty, m.seq, parse_link(m.payload)));
        let want = LinkInfo { ifindex: 9, flags: 0x1091, ifname: Some("ppp7".into()), mtu: Some(1400), stats: None };
        assert_eq!(m, Some((rt::RTM_NEWLINK, 5, Ok(want))));
        assert_eq!(parse_link(&[0; 15]), Err(ParseError::Truncated));
        // Every prefix parses without panicking.
        for n in 0..buf.len() {
            for m in messages(&buf[..n]).flatten() {
                let _ = parse_link(m.payload);
            }
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn link_stats64_parses() {
        let payload = h("
            00 00 0002 09000000 01000000 00000000 # ifinfomsg
            2c00 1700                             # IFLA_STATS64, 40 octets (a prefix of the struct)
              0100000000000000                    #   rx_packets 1
              0200000000000000                    #   tx_packets 2
              0001000000000000                    #   rx_bytes 256
              0000000001000000                    #   tx_bytes 2^32
              0500000000000000                    #   rx_errors (not kept)
        ");
        let stats = LinkStats { rx_packets: 1, tx_packets: 2, rx_bytes: 256, tx_bytes: 1 << 32 };
        assert_eq!(parse_link(&payload).map(|l| l.stats), Ok(Some(stats)));
        assert_eq!(LinkStats::parse(&[0; 31]), None);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn family_reply_parses() {
        let payload = h("01 02 0000  0600 0100 1b00 0000  0800 0300 01000000");
        assert_eq!(parse_family(&payload), Ok(Family { id: 0x1b, version: 1 }));
        assert_eq!(parse_family(&payload[..8]), Err(ParseError::Truncated));
        assert_eq!(parse_family(&[1, 2]), Err(ParseError::Truncated));
    }

    #[test]
    fn owned_message_round_trip() {
        let m = Message { ty: 3, flags: 2, seq: 9, payload: &[1, 2, 3] };
        assert_eq!(m.to_owned().as_message(), m);
    }

    #[test]
    fn controller_resolves_on_this_host() {
        // The generic netlink controller always exists: the blocking
        // request path against the running kernel.
        let Ok(mut s) = NetlinkSocket::open(Protocol::Generic) else { return };
        assert_eq!(s.resolve_family("nlctrl").map(|f| f.id), Ok(GENL_ID_CTRL));
        assert_eq!(s.resolve_family("prol2tp-nofam"), Err(ReplyError::Errno(libc::ENOENT)));
    }

    #[test]
    fn loopback_link_reads_on_this_host() {
        let Ok(mut s) = NetlinkSocket::open(Protocol::Route) else { return };
        let lo = s.get_link("lo", 1000);
        assert!(matches!(&lo, Ok(l) if l.ifindex == 1 && l.ifname.as_deref() == Some("lo")), "{lo:?}");
        assert_eq!(s.get_link("prol2tp-nodev", 1000), Err(ReplyError::Errno(libc::ENODEV)));
    }

    #[test]
    fn ipv6_link_local_scope_test() {
        assert!(is_ipv6_link_local(&"fe80::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)));
        assert!(is_ipv6_link_local(&"febf::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)));
        assert!(!is_ipv6_link_local(&"fec0::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)));
        assert!(!is_ipv6_link_local(&"2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)));
    }
}
