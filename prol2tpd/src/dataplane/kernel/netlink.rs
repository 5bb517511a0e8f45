//! The `l2tp` generic netlink family (`linux/l2tp.h`) of the kernel data
//! plane: its requests built and its replies parsed without I/O, on top of
//! the suite's shared netlink layer ([`common::netlink`]), plus the socket
//! the plane uses, which parses what the shared socket yields as `l2tp`
//! replies.
//!
//! Two protocols are spoken:
//!
//! - generic netlink (`NETLINK_GENERIC`): the controller's
//!   `CTRL_CMD_GETFAMILY` to resolve the `l2tp` family, then the family's
//!   commands: tunnel and session create, modify, delete and get (the get
//!   replies carry the `L2TP_ATTR_STATS` counters);
//! - rtnetlink (`NETLINK_ROUTE`, [`LinkRequest`] from `common`):
//!   `RTM_NEWLINK` to bring an `l2tpethN` interface up, set its MTU and
//!   bridge, and to create the 802.1Q sub-interface of a VLAN pseudowire;
//!   `RTM_DELLINK` to remove one.
//!
//! The protocol-independent pieces (framing, attributes, acknowledgements,
//! the controller, links) live in `common` and are re-exported here, so
//! the plane and its golden tests (`tests/kernel_msgs.rs`) see one module.
//! Integers in netlink headers and attributes are in host byte order,
//! except the IPv4/IPv6 address attributes (network order, as the kernel's
//! `nla_get_in_addr` reads them).
//!
//! Attribute and command numbers are those of the enums in `linux/l2tp.h`
//! (`L2TP_CMD_*`, `L2TP_ATTR_*`, `L2TP_ATTR_STATS` nest).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;

use common::netlink::{answer, attr_string, get_u16, get_u32, get_u64, parse_family, Answer};
pub use common::netlink::{
    attrs, emit_get_family, messages, rt, vlan_ifname, Attrs, Family, LinkRequest, Message, MessageBuilder, Messages, ParseError, Protocol, ReplyError,
    CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_VERSION, CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY, GENL_HDRLEN, GENL_ID_CTRL, IFINFO_LEN, IFNAME_MAX,
    NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST,
};

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

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

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
            let Some(n) = get_u64(v, 0) else { continue };
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

/// What one message says: a reply, or the kernel's error. `l2tp_family` is
/// the resolved `l2tp` family id (0 when not yet known).
pub fn parse_reply(m: &Message<'_>, l2tp_family: u16) -> Result<Reply, ReplyError> {
    match answer(m)? {
        Answer::Ack => Ok(Reply::Ack),
        Answer::Done => Ok(Reply::Done),
        Answer::Noop => Ok(Reply::Other),
        Answer::Object(o) if o.ty == GENL_ID_CTRL => parse_family(o.payload).map(Reply::Family).map_err(ReplyError::Malformed),
        Answer::Object(o) if o.ty == l2tp_family && l2tp_family != 0 => parse_l2tp(o.payload),
        Answer::Object(_) => Ok(Reply::Other),
    }
}

fn parse_l2tp(payload: &[u8]) -> Result<Reply, ReplyError> {
    let command = *payload.first().ok_or(ReplyError::Malformed(ParseError::Truncated))?;
    let body = payload.get(GENL_HDRLEN..).ok_or(ReplyError::Malformed(ParseError::Truncated))?;
    let u32_of = |v: &[u8]| get_u32(v, 0).unwrap_or(0);
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
                    attr::PW_TYPE => s.pw_type = get_u16(v, 0).unwrap_or(0),
                    attr::IFNAME => s.ifname = attr_string(v),
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

/// The plane's netlink socket: [`common::netlink::NetlinkSocket`] whose
/// answers are parsed as `l2tp` replies ([`parse_reply`]). Requests go out
/// with [`NetlinkSocket::send`], which returns their sequence number;
/// answers come back, once its fd is readable, from
/// [`NetlinkSocket::poll_reply`].
#[derive(Debug)]
pub struct NetlinkSocket {
    inner: common::netlink::NetlinkSocket,
    /// The `l2tp` family id once resolved (0 before).
    pub l2tp_family: u16,
    queue: VecDeque<(u32, Result<Reply, ReplyError>)>,
}

impl NetlinkSocket {
    /// Opens a non-blocking, close-on-exec netlink socket of `protocol`.
    /// Errors: the OS error (e.g. `EAFNOSUPPORT`, `EPROTONOSUPPORT`).
    pub fn open(protocol: Protocol) -> io::Result<NetlinkSocket> {
        Ok(NetlinkSocket { inner: common::netlink::NetlinkSocket::open(protocol)?, l2tp_family: 0, queue: VecDeque::new() })
    }

    /// The fd, to register for readability with the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd()
    }

    /// Sends the message `build` writes for the sequence number it is
    /// given, and returns that number. Errors: the OS error of `send`
    /// (`EAGAIN` when the kernel's buffer is full).
    pub fn send(&mut self, build: impl FnOnce(u32, &mut Vec<u8>)) -> io::Result<u32> {
        self.inner.send(build)
    }

    /// The next answer: `(seq, reply or error)`, reading the socket when
    /// nothing is queued; `None` when nothing is pending. Malformed
    /// messages and socket errors are answered with sequence number 0.
    pub fn poll_reply(&mut self) -> Option<(u32, Result<Reply, ReplyError>)> {
        if self.queue.is_empty() {
            self.fill();
        }
        self.queue.pop_front()
    }

    fn fill(&mut self) {
        let family = self.l2tp_family;
        while self.queue.is_empty() {
            let queue = &mut self.queue;
            let read = self.inner.recv(|m| {
                queue.push_back(match m {
                    Ok(m) => (m.seq, parse_reply(&m, family)),
                    Err(e) => (0, Err(ReplyError::Malformed(e))),
                });
            });
            match read {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    self.queue.push_back((0, Err(ReplyError::from_io(&e))));
                    return;
                }
            }
        }
    }

    /// Sends a request and waits up to `timeout_ms` for its answers, up to
    /// the final one (an acknowledgement, `Done`, or the object of a get):
    /// the replies before it. Blocking: only for start-up (family
    /// resolution) and tools, never from the event loop.
    pub fn request_blocking(&mut self, build: impl FnOnce(u32, &mut Vec<u8>), timeout_ms: u16) -> Result<Vec<Reply>, ReplyError> {
        let family = self.l2tp_family;
        self.inner.request_blocking(build, timeout_ms)?.iter().map(|m| parse_reply(&m.as_message(), family)).collect()
    }

    /// Resolves generic netlink family `name` (blocking, start-up only)
    /// and remembers it as the `l2tp` family when `name` is
    /// [`L2TP_GENL_NAME`]. Errors: `ENOENT` when the kernel has no such
    /// family (module `l2tp_netlink` not loaded and not loadable).
    pub fn resolve_family(&mut self, name: &str) -> Result<Family, ReplyError> {
        let family = self.inner.resolve_family(name)?;
        if name == L2TP_GENL_NAME {
            self.l2tp_family = family.id;
        }
        Ok(family)
    }
}
