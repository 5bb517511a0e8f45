//! Netlink messages of the kernel data plane, built and parsed without I/O,
//! plus the small non-blocking socket that carries them.
//!
//! Two protocols are spoken:
//!
//! - generic netlink (`NETLINK_GENERIC`): the controller's
//!   `CTRL_CMD_GETFAMILY` to resolve the `l2tp` family, then the family's
//!   commands (`linux/l2tp.h`): tunnel and session create, modify, delete
//!   and get (the get replies carry the `L2TP_ATTR_STATS` counters);
//! - rtnetlink (`NETLINK_ROUTE`): `RTM_NEWLINK` to bring an `l2tpethN`
//!   interface up, set its MTU and bridge, and to create the 802.1Q
//!   sub-interface of a VLAN pseudowire; `RTM_DELLINK` to remove one.
//!
//! Messages are hand-built type-length-value records rather than through
//! `netlink-packet-*` crates: the handful of messages needed here is a few
//! hundred lines, has no dependencies (small static firmware builds), and
//! every byte is pinned by the golden tests in `tests/kernel_msgs.rs`.
//! Integers in netlink headers and attributes are in host byte order,
//! except the IPv4/IPv6 address attributes (network order, as the kernel's
//! `nla_get_in_addr` reads them).
//!
//! Attribute and command numbers are those of the enums in `linux/l2tp.h`
//! (`L2TP_CMD_*`, `L2TP_ATTR_*`, `L2TP_ATTR_STATS` nest),
//! `linux/genetlink.h` (`CTRL_*`), `linux/netlink.h` (`NLM_F_*`,
//! `NLMSG_*`) and `linux/if_link.h` (`IFLA_*`).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
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

/// `L2TP_GENL_NAME`: name of the L2TP generic netlink family.
pub const L2TP_GENL_NAME: &str = "l2tp";
/// `L2TP_GENL_VERSION`: the family version this client speaks.
pub const L2TP_GENL_VERSION: u8 = 1;

/// `L2TP_CMD_*` commands of `linux/l2tp.h`, in enum order.
pub mod cmd {
    /// `L2TP_CMD_TUNNEL_CREATE`.
    pub const TUNNEL_CREATE: u8 = 1;
    /// `L2TP_CMD_TUNNEL_DELETE`.
    pub const TUNNEL_DELETE: u8 = 2;
    /// `L2TP_CMD_TUNNEL_MODIFY`.
    pub const TUNNEL_MODIFY: u8 = 3;
    /// `L2TP_CMD_TUNNEL_GET`.
    pub const TUNNEL_GET: u8 = 4;
    /// `L2TP_CMD_SESSION_CREATE`.
    pub const SESSION_CREATE: u8 = 5;
    /// `L2TP_CMD_SESSION_DELETE`.
    pub const SESSION_DELETE: u8 = 6;
    /// `L2TP_CMD_SESSION_MODIFY`.
    pub const SESSION_MODIFY: u8 = 7;
    /// `L2TP_CMD_SESSION_GET`.
    pub const SESSION_GET: u8 = 8;
}

/// `L2TP_ATTR_*` attributes of `linux/l2tp.h`, in enum order.
pub mod attr {
    /// `L2TP_ATTR_PW_TYPE` (u16, `enum l2tp_pwtype`).
    pub const PW_TYPE: u16 = 1;
    /// `L2TP_ATTR_ENCAP_TYPE` (u16, `enum l2tp_encap_type`).
    pub const ENCAP_TYPE: u16 = 2;
    /// `L2TP_ATTR_L2SPEC_TYPE` (u8, `enum l2tp_l2spec_type`).
    pub const L2SPEC_TYPE: u16 = 5;
    /// `L2TP_ATTR_L2SPEC_LEN` (u8, unused by the kernel).
    pub const L2SPEC_LEN: u16 = 6;
    /// `L2TP_ATTR_PROTO_VERSION` (u8: 2 or 3).
    pub const PROTO_VERSION: u16 = 7;
    /// `L2TP_ATTR_IFNAME` (string).
    pub const IFNAME: u16 = 8;
    /// `L2TP_ATTR_CONN_ID` (u32): our tunnel id.
    pub const CONN_ID: u16 = 9;
    /// `L2TP_ATTR_PEER_CONN_ID` (u32): the peer's tunnel id.
    pub const PEER_CONN_ID: u16 = 10;
    /// `L2TP_ATTR_SESSION_ID` (u32): our session id.
    pub const SESSION_ID: u16 = 11;
    /// `L2TP_ATTR_PEER_SESSION_ID` (u32): the peer's session id.
    pub const PEER_SESSION_ID: u16 = 12;
    /// `L2TP_ATTR_UDP_CSUM` (flag in practice: the kernel tests presence).
    pub const UDP_CSUM: u16 = 13;
    /// `L2TP_ATTR_COOKIE` (0, 4 or 8 octets).
    pub const COOKIE: u16 = 15;
    /// `L2TP_ATTR_PEER_COOKIE` (0, 4 or 8 octets).
    pub const PEER_COOKIE: u16 = 16;
    /// `L2TP_ATTR_RECV_SEQ` (u8).
    pub const RECV_SEQ: u16 = 18;
    /// `L2TP_ATTR_SEND_SEQ` (u8).
    pub const SEND_SEQ: u16 = 19;
    /// `L2TP_ATTR_LNS_MODE` (u8).
    pub const LNS_MODE: u16 = 20;
    /// `L2TP_ATTR_RECV_TIMEOUT` (u64, ms).
    pub const RECV_TIMEOUT: u16 = 22;
    /// `L2TP_ATTR_FD` (u32): the tunnel's socket, managed by userspace.
    pub const FD: u16 = 23;
    /// `L2TP_ATTR_IP_SADDR` (u32, network order).
    pub const IP_SADDR: u16 = 24;
    /// `L2TP_ATTR_IP_DADDR` (u32, network order).
    pub const IP_DADDR: u16 = 25;
    /// `L2TP_ATTR_UDP_SPORT` (u16).
    pub const UDP_SPORT: u16 = 26;
    /// `L2TP_ATTR_UDP_DPORT` (u16).
    pub const UDP_DPORT: u16 = 27;
    /// `L2TP_ATTR_STATS` (nested, [`super::stats_attr`]).
    pub const STATS: u16 = 30;
    /// `L2TP_ATTR_IP6_SADDR` (16 octets).
    pub const IP6_SADDR: u16 = 31;
    /// `L2TP_ATTR_IP6_DADDR` (16 octets).
    pub const IP6_DADDR: u16 = 32;
    /// `L2TP_ATTR_UDP_ZERO_CSUM6_TX` (flag).
    pub const UDP_ZERO_CSUM6_TX: u16 = 33;
    /// `L2TP_ATTR_UDP_ZERO_CSUM6_RX` (flag).
    pub const UDP_ZERO_CSUM6_RX: u16 = 34;
}

/// Attributes nested in `L2TP_ATTR_STATS` (`linux/l2tp.h`), all u64.
pub mod stats_attr {
    /// `L2TP_ATTR_TX_PACKETS`.
    pub const TX_PACKETS: u16 = 1;
    /// `L2TP_ATTR_TX_BYTES`.
    pub const TX_BYTES: u16 = 2;
    /// `L2TP_ATTR_TX_ERRORS`.
    pub const TX_ERRORS: u16 = 3;
    /// `L2TP_ATTR_RX_PACKETS`.
    pub const RX_PACKETS: u16 = 4;
    /// `L2TP_ATTR_RX_BYTES`.
    pub const RX_BYTES: u16 = 5;
    /// `L2TP_ATTR_RX_SEQ_DISCARDS`.
    pub const RX_SEQ_DISCARDS: u16 = 6;
    /// `L2TP_ATTR_RX_OOS_PACKETS`.
    pub const RX_OOS_PACKETS: u16 = 7;
    /// `L2TP_ATTR_RX_ERRORS`.
    pub const RX_ERRORS: u16 = 8;
    /// `L2TP_ATTR_RX_COOKIE_DISCARDS`.
    pub const RX_COOKIE_DISCARDS: u16 = 10;
    /// `L2TP_ATTR_RX_INVALID`.
    pub const RX_INVALID: u16 = 11;
}

/// `enum l2tp_pwtype` values the kernel implements (`linux/l2tp.h`).
pub mod pw_type {
    /// `L2TP_PWTYPE_ETH` (`l2tp_eth`): also used for VLAN pseudowires,
    /// whose 802.1Q sub-interface is created on top of the `l2tpeth` device.
    pub const ETH: u16 = 0x0005;
    /// `L2TP_PWTYPE_PPP` (`l2tp_ppp`).
    pub const PPP: u16 = 0x0007;
}

/// `enum l2tp_encap_type`: `L2TP_ENCAPTYPE_UDP`.
pub const ENCAP_UDP: u16 = 0;
/// `enum l2tp_encap_type`: `L2TP_ENCAPTYPE_IP`.
pub const ENCAP_IP: u16 = 1;

/// rtnetlink message types and link attributes (`linux/rtnetlink.h`,
/// `linux/if_link.h`, `linux/if_vlan.h`).
pub mod rt {
    /// `RTM_NEWLINK`: create or change a link.
    pub const RTM_NEWLINK: u16 = 16;
    /// `RTM_DELLINK`: delete a link.
    pub const RTM_DELLINK: u16 = 17;
    /// `IFLA_IFNAME` (string).
    pub const IFLA_IFNAME: u16 = 3;
    /// `IFLA_MTU` (u32, octets).
    pub const IFLA_MTU: u16 = 4;
    /// `IFLA_LINK` (u32 ifindex): the lower device of a VLAN.
    pub const IFLA_LINK: u16 = 5;
    /// `IFLA_MASTER` (u32 ifindex): the bridge.
    pub const IFLA_MASTER: u16 = 10;
    /// `IFLA_LINKINFO` (nested).
    pub const IFLA_LINKINFO: u16 = 18;
    /// `IFLA_INFO_KIND` (string), in `IFLA_LINKINFO`.
    pub const IFLA_INFO_KIND: u16 = 1;
    /// `IFLA_INFO_DATA` (nested), in `IFLA_LINKINFO`.
    pub const IFLA_INFO_DATA: u16 = 2;
    /// `IFLA_VLAN_ID` (u16), in `IFLA_INFO_DATA` of kind `vlan`.
    pub const IFLA_VLAN_ID: u16 = 1;
    /// `IFF_UP`.
    pub const IFF_UP: u32 = 0x1;
}

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// Length of `struct ifinfomsg`.
pub const IFINFO_LEN: usize = 16;
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

    /// Appends a `struct ifinfomsg` (family `AF_UNSPEC`, type 0).
    pub fn ifinfo(self, index: i32, flags: u32, change: u32) -> Self {
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(&index.to_ne_bytes());
        self.out.extend_from_slice(&flags.to_ne_bytes());
        self.out.extend_from_slice(&change.to_ne_bytes());
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
        let mut v = Vec::with_capacity(s.len() + 1);
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

/// Tunnel socket for `L2TP_CMD_TUNNEL_CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelSocket {
    /// A "managed" tunnel: the daemon's connected UDP socket or
    /// `IPPROTO_L2TP` datagram socket (`L2TP_ATTR_FD`). The kernel takes the
    /// data packets arriving on it and passes control packets up.
    Fd(i32),
    /// An "unmanaged" tunnel: the kernel opens its own socket from these
    /// addresses (ports ignored for IP encapsulation). Only for tunnels
    /// without a control connection (static L2TPv3): it would otherwise
    /// take the control packets away from the daemon.
    Addresses {
        /// Local address and UDP port.
        local: SocketAddr,
        /// Peer address and UDP port.
        peer: SocketAddr,
        /// UDP checksums on IPv4 (`L2TP_ATTR_UDP_CSUM`).
        udp_csum: bool,
        /// Zero UDP checksums sent on IPv6 (`L2TP_ATTR_UDP_ZERO_CSUM6_TX`).
        zero_csum6_tx: bool,
        /// Zero UDP checksums accepted on IPv6 (`L2TP_ATTR_UDP_ZERO_CSUM6_RX`).
        zero_csum6_rx: bool,
    },
}

/// `L2TP_CMD_TUNNEL_CREATE` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelCreate {
    /// Our tunnel id (`L2TP_ATTR_CONN_ID`); 16 bits for v2.
    pub tunnel_id: u32,
    /// The peer's tunnel id (`L2TP_ATTR_PEER_CONN_ID`).
    pub peer_tunnel_id: u32,
    /// 2 or 3 (`L2TP_ATTR_PROTO_VERSION`).
    pub version: u8,
    /// True for L2TPv3 over IP (`L2TP_ENCAPTYPE_IP`), else UDP.
    pub encap_ip: bool,
    /// The socket, or the addresses of an unmanaged one.
    pub socket: TunnelSocket,
}

/// `L2TP_CMD_SESSION_CREATE` parameters (RFC 3931 §4.1, §4.6 for the
/// cookie and L2-Specific Sublayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCreate {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id; 16 bits for v2.
    pub session_id: u32,
    /// The peer's session id.
    pub peer_session_id: u32,
    /// [`pw_type::PPP`] or [`pw_type::ETH`].
    pub pw_type: u16,
    /// True for an L2TPv3 tunnel: cookies, L2-Specific Sublayer and
    /// interface name are sent (the kernel ignores them for v2).
    pub v3: bool,
    /// Our cookie (0, 4 or 8 octets): expected on received data.
    pub cookie: Vec<u8>,
    /// The peer's cookie (0, 4 or 8 octets): sent on data.
    pub peer_cookie: Vec<u8>,
    /// L2-Specific Sublayer type, 0 none or 1 default. Always sent for v3:
    /// the kernel assumes 1 when it is absent.
    pub l2spec_type: u8,
    /// Send sequence numbers.
    pub send_seq: bool,
    /// Require sequence numbers on received data.
    pub recv_seq: bool,
    /// LNS mode (RFC 2661 §5.4: the LNS decides on sequencing).
    pub lns_mode: bool,
    /// Interface name for Ethernet pseudowires (kernel picks `l2tpethN`
    /// when `None`); at most [`IFNAME_MAX`] octets.
    pub ifname: Option<String>,
}

/// `L2TP_CMD_SESSION_MODIFY` parameters; `None` leaves a setting alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionModify {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id.
    pub session_id: u32,
    /// Send sequence numbers.
    pub send_seq: Option<bool>,
    /// Require sequence numbers on received data.
    pub recv_seq: Option<bool>,
    /// LNS mode.
    pub lns_mode: Option<bool>,
    /// Reorder timeout in ms (0: no reordering).
    pub recv_timeout_ms: Option<u64>,
}

/// One request of the `l2tp` generic netlink family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L2tpRequest {
    /// Create a tunnel.
    TunnelCreate(TunnelCreate),
    /// Delete a tunnel and its sessions.
    TunnelDelete {
        /// Our tunnel id.
        tunnel_id: u32,
    },
    /// Read a tunnel (its counters).
    TunnelGet {
        /// Our tunnel id.
        tunnel_id: u32,
    },
    /// Read every tunnel (multi-part reply).
    TunnelDump,
    /// Create a session.
    SessionCreate(SessionCreate),
    /// Change a session's sequencing.
    SessionModify(SessionModify),
    /// Delete a session.
    SessionDelete {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
    },
    /// Read a session (interface name, counters).
    SessionGet {
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
    },
    /// Read every session (multi-part reply).
    SessionDump,
}

fn put_addr(m: &mut MessageBuilder<'_>, v4: u16, v6: u16, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => m.attr(v4, &a.octets()),
        IpAddr::V6(a) => m.attr(v6, &a.octets()),
    };
}

impl L2tpRequest {
    /// Emits the request for family id `family` with sequence number
    /// `seq`. Create, modify, delete and get ask for an acknowledgement; get
    /// is answered by the object, then the acknowledgement; dumps by a
    /// multi-part reply ended by `NLMSG_DONE`.
    pub fn emit(&self, family: u16, seq: u32, out: &mut Vec<u8>) {
        let ack = NLM_F_REQUEST | NLM_F_ACK;
        let (command, flags) = match self {
            L2tpRequest::TunnelCreate(_) => (cmd::TUNNEL_CREATE, ack),
            L2tpRequest::TunnelDelete { .. } => (cmd::TUNNEL_DELETE, ack),
            L2tpRequest::TunnelGet { .. } => (cmd::TUNNEL_GET, ack),
            L2tpRequest::TunnelDump => (cmd::TUNNEL_GET, NLM_F_REQUEST | NLM_F_DUMP),
            L2tpRequest::SessionCreate(_) => (cmd::SESSION_CREATE, ack),
            L2tpRequest::SessionModify(_) => (cmd::SESSION_MODIFY, ack),
            L2tpRequest::SessionDelete { .. } => (cmd::SESSION_DELETE, ack),
            L2tpRequest::SessionGet { .. } => (cmd::SESSION_GET, ack),
            L2tpRequest::SessionDump => (cmd::SESSION_GET, NLM_F_REQUEST | NLM_F_DUMP),
        };
        let mut m = MessageBuilder::new(out, family, flags, seq).genl(command, L2TP_GENL_VERSION);
        match self {
            L2tpRequest::TunnelCreate(t) => emit_tunnel_create(&mut m, t),
            L2tpRequest::TunnelDelete { tunnel_id } | L2tpRequest::TunnelGet { tunnel_id } => {
                m.u32(attr::CONN_ID, *tunnel_id);
            }
            L2tpRequest::SessionCreate(s) => emit_session_create(&mut m, s),
            L2tpRequest::SessionModify(s) => {
                m.u32(attr::CONN_ID, s.tunnel_id).u32(attr::SESSION_ID, s.session_id);
                if let Some(v) = s.recv_seq {
                    m.u8(attr::RECV_SEQ, u8::from(v));
                }
                if let Some(v) = s.send_seq {
                    m.u8(attr::SEND_SEQ, u8::from(v));
                }
                if let Some(v) = s.lns_mode {
                    m.u8(attr::LNS_MODE, u8::from(v));
                }
                if let Some(ms) = s.recv_timeout_ms {
                    m.attr(attr::RECV_TIMEOUT, &ms.to_ne_bytes());
                }
            }
            L2tpRequest::SessionDelete { tunnel_id, session_id } | L2tpRequest::SessionGet { tunnel_id, session_id } => {
                m.u32(attr::CONN_ID, *tunnel_id).u32(attr::SESSION_ID, *session_id);
            }
            L2tpRequest::TunnelDump | L2tpRequest::SessionDump => {}
        }
        m.finish();
    }
}

fn emit_tunnel_create(m: &mut MessageBuilder<'_>, t: &TunnelCreate) {
    m.u32(attr::CONN_ID, t.tunnel_id)
        .u32(attr::PEER_CONN_ID, t.peer_tunnel_id)
        .u8(attr::PROTO_VERSION, t.version)
        .u16(attr::ENCAP_TYPE, if t.encap_ip { ENCAP_IP } else { ENCAP_UDP });
    match t.socket {
        TunnelSocket::Fd(fd) => {
            m.u32(attr::FD, fd as u32);
        }
        TunnelSocket::Addresses { local, peer, udp_csum, zero_csum6_tx, zero_csum6_rx } => {
            put_addr(m, attr::IP_SADDR, attr::IP6_SADDR, local.ip());
            put_addr(m, attr::IP_DADDR, attr::IP6_DADDR, peer.ip());
            if !t.encap_ip {
                m.u16(attr::UDP_SPORT, local.port()).u16(attr::UDP_DPORT, peer.port());
                if udp_csum {
                    m.flag(attr::UDP_CSUM);
                }
                if zero_csum6_tx {
                    m.flag(attr::UDP_ZERO_CSUM6_TX);
                }
                if zero_csum6_rx {
                    m.flag(attr::UDP_ZERO_CSUM6_RX);
                }
            }
        }
    }
}

fn emit_session_create(m: &mut MessageBuilder<'_>, s: &SessionCreate) {
    m.u32(attr::CONN_ID, s.tunnel_id).u32(attr::SESSION_ID, s.session_id).u32(attr::PEER_SESSION_ID, s.peer_session_id).u16(attr::PW_TYPE, s.pw_type);
    if s.v3 {
        m.u8(attr::L2SPEC_TYPE, s.l2spec_type);
        m.u8(attr::L2SPEC_LEN, if s.l2spec_type == 1 { 4 } else { 0 });
        if !s.cookie.is_empty() {
            m.attr(attr::COOKIE, &s.cookie);
        }
        if !s.peer_cookie.is_empty() {
            m.attr(attr::PEER_COOKIE, &s.peer_cookie);
        }
        if let Some(name) = &s.ifname {
            m.string(attr::IFNAME, name);
        }
    }
    m.u8(attr::RECV_SEQ, u8::from(s.recv_seq)).u8(attr::SEND_SEQ, u8::from(s.send_seq)).u8(attr::LNS_MODE, u8::from(s.lns_mode));
}

/// One rtnetlink request on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRequest {
    /// Change an existing link, found by name: bring it up, and set
    /// its MTU (octets) and bridge (ifindex) when given.
    Set {
        /// Interface name.
        ifname: String,
        /// Bring the link up (`IFF_UP`).
        up: bool,
        /// MTU in octets.
        mtu: Option<u32>,
        /// Bridge ifindex to enslave to (`IFLA_MASTER`).
        master: Option<u32>,
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
}

impl LinkRequest {
    /// Emits the request with sequence number `seq`; every one asks for an
    /// acknowledgement.
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

fn ne_u16(b: &[u8], at: usize) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_ne_bytes(s))
}

fn ne_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_ne_bytes(s))
}

fn ne_u64(b: &[u8]) -> Option<u64> {
    let s: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(u64::from_ne_bytes(s))
}

/// Iterates the messages of one datagram read from a netlink socket.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// The messages in `buf` (one `recv`).
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        let parsed = (|| {
            let len = usize::try_from(ne_u32(b, 0).ok_or(ParseError::Truncated)?).map_err(|_| ParseError::BadLength)?;
            if len < NLMSG_HDRLEN {
                return Err(ParseError::BadLength);
            }
            let ty = ne_u16(b, 4).ok_or(ParseError::Truncated)?;
            let flags = ne_u16(b, 6).ok_or(ParseError::Truncated)?;
            let seq = ne_u32(b, 8).ok_or(ParseError::Truncated)?;
            let payload = b.get(NLMSG_HDRLEN..len).ok_or(ParseError::Truncated)?;
            Ok((Message { ty, flags, seq, payload }, align4(len)))
        })();
        match parsed {
            Ok((m, next)) => {
                self.rest = b.get(next..).unwrap_or(&[]);
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
        let len = usize::from(ne_u16(b, 0)?);
        let ty = ne_u16(b, 2)? & NLA_TYPE_MASK;
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

/// A resolved generic netlink family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// Family id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Family version (`CTRL_ATTR_VERSION`; 1 for `l2tp`).
    pub version: u32,
}

/// Data-plane counters (`L2TP_ATTR_STATS`), tunnel or session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Data packets sent.
    pub tx_packets: u64,
    /// Data octets sent.
    pub tx_bytes: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Data packets received.
    pub rx_packets: u64,
    /// Data octets received.
    pub rx_bytes: u64,
    /// Packets dropped for their sequence number.
    pub rx_seq_discards: u64,
    /// Packets received out of sequence.
    pub rx_oos_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Packets dropped for a wrong cookie.
    pub rx_cookie_discards: u64,
    /// Invalid packets.
    pub rx_invalid: u64,
}

impl Stats {
    fn parse(b: &[u8]) -> Stats {
        let mut s = Stats::default();
        for (ty, v) in attrs(b) {
            let Some(n) = ne_u64(v) else { continue };
            let slot = match ty {
                stats_attr::TX_PACKETS => &mut s.tx_packets,
                stats_attr::TX_BYTES => &mut s.tx_bytes,
                stats_attr::TX_ERRORS => &mut s.tx_errors,
                stats_attr::RX_PACKETS => &mut s.rx_packets,
                stats_attr::RX_BYTES => &mut s.rx_bytes,
                stats_attr::RX_SEQ_DISCARDS => &mut s.rx_seq_discards,
                stats_attr::RX_OOS_PACKETS => &mut s.rx_oos_packets,
                stats_attr::RX_ERRORS => &mut s.rx_errors,
                stats_attr::RX_COOKIE_DISCARDS => &mut s.rx_cookie_discards,
                stats_attr::RX_INVALID => &mut s.rx_invalid,
                _ => continue,
            };
            *slot = n;
        }
        s
    }
}

/// A tunnel as the kernel reports it (`L2TP_CMD_TUNNEL_GET` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelReply {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// The peer's tunnel id.
    pub peer_tunnel_id: u32,
    /// Protocol version, 2 or 3.
    pub version: u8,
    /// Counters.
    pub stats: Stats,
}

/// A session as the kernel reports it (`L2TP_CMD_SESSION_GET` reply).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionReply {
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id.
    pub session_id: u32,
    /// The peer's session id.
    pub peer_session_id: u32,
    /// Pseudowire type.
    pub pw_type: u16,
    /// Interface name (Ethernet pseudowires).
    pub ifname: Option<String>,
    /// Counters.
    pub stats: Stats,
}

/// A successful answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The request was carried out (an `NLMSG_ERROR` with errno 0).
    Ack,
    /// End of a multi-part reply.
    Done,
    /// `CTRL_CMD_NEWFAMILY`.
    Family(Family),
    /// A tunnel (get or one part of a dump).
    Tunnel(TunnelReply),
    /// A session (get or one part of a dump).
    Session(SessionReply),
    /// Any other message (e.g. an rtnetlink object); ignored.
    Other,
}

/// The kernel's refusal of a request, or a malformed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// `NLMSG_ERROR` with this (positive) errno.
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
}

/// What one message says: a reply, or the kernel's error. `l2tp_family` is
/// the resolved `l2tp` family id (0 when not yet known).
pub fn parse_reply(m: &Message<'_>, l2tp_family: u16) -> Result<Reply, ReplyError> {
    match m.ty {
        NLMSG_ERROR => {
            let code = ne_u32(m.payload, 0).ok_or(ReplyError::Malformed(ParseError::Truncated))? as i32;
            if code == 0 {
                Ok(Reply::Ack)
            } else {
                Err(ReplyError::Errno(code.checked_neg().unwrap_or(libc::EINVAL)))
            }
        }
        NLMSG_DONE => Ok(Reply::Done),
        NLMSG_NOOP => Ok(Reply::Other),
        NLMSG_OVERRUN => Err(ReplyError::Errno(libc::ENOBUFS)),
        GENL_ID_CTRL => {
            let body = m.payload.get(GENL_HDRLEN..).ok_or(ReplyError::Malformed(ParseError::Truncated))?;
            let mut id = None;
            let mut version = 0;
            for (ty, v) in attrs(body) {
                match ty {
                    CTRL_ATTR_FAMILY_ID => id = ne_u16(v, 0),
                    CTRL_ATTR_VERSION => version = ne_u32(v, 0).unwrap_or(0),
                    _ => {}
                }
            }
            let id = id.ok_or(ReplyError::Malformed(ParseError::Truncated))?;
            Ok(Reply::Family(Family { id, version }))
        }
        ty if ty == l2tp_family && l2tp_family != 0 => parse_l2tp(m.payload),
        _ => Ok(Reply::Other),
    }
}

fn parse_l2tp(payload: &[u8]) -> Result<Reply, ReplyError> {
    let command = *payload.first().ok_or(ReplyError::Malformed(ParseError::Truncated))?;
    let body = payload.get(GENL_HDRLEN..).ok_or(ReplyError::Malformed(ParseError::Truncated))?;
    let u32_of = |v: &[u8]| ne_u32(v, 0).unwrap_or(0);
    match command {
        cmd::TUNNEL_GET | cmd::TUNNEL_CREATE => {
            let mut t = TunnelReply::default();
            for (ty, v) in attrs(body) {
                match ty {
                    attr::CONN_ID => t.tunnel_id = u32_of(v),
                    attr::PEER_CONN_ID => t.peer_tunnel_id = u32_of(v),
                    attr::PROTO_VERSION => t.version = v.first().copied().unwrap_or(0),
                    attr::STATS => t.stats = Stats::parse(v),
                    _ => {}
                }
            }
            Ok(Reply::Tunnel(t))
        }
        cmd::SESSION_GET | cmd::SESSION_CREATE => {
            let mut s = SessionReply::default();
            for (ty, v) in attrs(body) {
                match ty {
                    attr::CONN_ID => s.tunnel_id = u32_of(v),
                    attr::SESSION_ID => s.session_id = u32_of(v),
                    attr::PEER_SESSION_ID => s.peer_session_id = u32_of(v),
                    attr::PW_TYPE => s.pw_type = ne_u16(v, 0).unwrap_or(0),
                    attr::IFNAME => {
                        let name = v.split(|b| *b == 0).next().unwrap_or(&[]);
                        s.ifname = std::str::from_utf8(name).ok().filter(|n| !n.is_empty()).map(str::to_owned);
                    }
                    attr::STATS => s.stats = Stats::parse(v),
                    _ => {}
                }
            }
            Ok(Reply::Session(s))
        }
        _ => Ok(Reply::Other),
    }
}

// ---------------------------------------------------------------------------
// Socket
// ---------------------------------------------------------------------------

/// Which netlink protocol a [`NetlinkSocket`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `NETLINK_GENERIC` (controller and `l2tp` family).
    Generic,
    /// `NETLINK_ROUTE` (links).
    Route,
}

/// A non-blocking netlink socket: requests go out with [`NetlinkSocket::send`],
/// which returns their sequence number; answers come back, once its fd is
/// readable, from [`NetlinkSocket::poll_reply`].
pub struct NetlinkSocket {
    fd: OwnedFd,
    next_seq: u32,
    /// The `l2tp` family id once resolved (0 before).
    pub l2tp_family: u16,
    queue: VecDeque<(u32, Result<Reply, ReplyError>)>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkSocket")
            .field("fd", &self.fd)
            .field("next_seq", &self.next_seq)
            .field("l2tp_family", &self.l2tp_family)
            .field("queued", &self.queue.len())
            .finish()
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
        Ok(NetlinkSocket { fd, next_seq: 1, l2tp_family: 0, queue: VecDeque::new(), buf: vec![0; RECV_BUF] })
    }

    /// The fd, to register for readability with the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Sends the message `build` writes for the sequence number it is
    /// given, and returns that number. Errors: the OS error of `send`
    /// (`EAGAIN` when the kernel's buffer is full).
    pub fn send(&mut self, build: impl FnOnce(u32, &mut Vec<u8>)) -> io::Result<u32> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let mut out = Vec::with_capacity(128);
        build(seq, &mut out);
        socket::send(self.fd.as_raw_fd(), &out, MsgFlags::empty())?;
        Ok(seq)
    }

    /// The next answer: `(seq, reply or error)`, reading the socket when
    /// nothing is queued; `None` when nothing is pending. Malformed
    /// messages are answered with sequence number 0.
    pub fn poll_reply(&mut self) -> Option<(u32, Result<Reply, ReplyError>)> {
        if self.queue.is_empty() {
            self.fill();
        }
        self.queue.pop_front()
    }

    fn fill(&mut self) {
        loop {
            let n = match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(e) => {
                    self.queue.push_back((0, Err(ReplyError::Errno(e as i32))));
                    return;
                }
            };
            let data = self.buf.get(..n).unwrap_or(&[]);
            for m in messages(data) {
                match m {
                    Ok(m) => self.queue.push_back((m.seq, parse_reply(&m, self.l2tp_family))),
                    Err(e) => self.queue.push_back((0, Err(ReplyError::Malformed(e)))),
                }
            }
            if !self.queue.is_empty() {
                return;
            }
        }
    }

    /// Sends a request and waits up to `timeout_ms` for its answers, up to
    /// the final one (an acknowledgement, `Done`, or the object of a get).
    /// Blocking: only for start-up (family resolution) and tools, never
    /// from the event loop.
    pub fn request_blocking(&mut self, build: impl FnOnce(u32, &mut Vec<u8>), timeout_ms: u16) -> Result<Vec<Reply>, ReplyError> {
        let seq = self.send(build).map_err(|e| ReplyError::Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let mut replies = Vec::new();
        loop {
            while let Some((s, r)) = self.poll_reply() {
                if s != seq {
                    continue;
                }
                match r? {
                    Reply::Ack | Reply::Done => return Ok(replies),
                    r @ (Reply::Family(_) | Reply::Tunnel(_) | Reply::Session(_) | Reply::Other) => replies.push(r),
                }
            }
            let mut fds = [nix::poll::PollFd::new(self.fd.as_fd(), nix::poll::PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(timeout_ms)) {
                Ok(0) => return Err(ReplyError::Errno(libc::ETIMEDOUT)),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(ReplyError::Errno(e as i32)),
            }
        }
    }

    /// Resolves generic netlink family `name` (blocking, start-up only)
    /// and remembers it as the `l2tp` family. Errors: `ENOENT` when the
    /// kernel has no such family (module `l2tp_netlink` not loaded and not
    /// loadable).
    pub fn resolve_family(&mut self, name: &str) -> Result<Family, ReplyError> {
        let replies = self.request_blocking(|seq, out| emit_get_family(name, seq, out), 1000)?;
        let family = replies
            .into_iter()
            .find_map(|r| match r {
                Reply::Family(f) => Some(f),
                _ => None,
            })
            .ok_or(ReplyError::Malformed(ParseError::Truncated))?;
        if name == L2TP_GENL_NAME {
            self.l2tp_family = family.id;
        }
        Ok(family)
    }
}
