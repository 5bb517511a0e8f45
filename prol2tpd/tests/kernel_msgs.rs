//! Golden bytes of the kernel data plane's netlink messages and socket
//! addresses, reply parsing, and family resolution on a host without the
//! L2TP modules.
//!
//! The expected bytes are written out by hand from the kernel's UAPI
//! headers, not produced by the code under test: `linux/netlink.h`
//! (`struct nlmsghdr`, `NLM_F_*`, `NLMSG_ERROR` = 2, `NLMSG_DONE` = 3),
//! `linux/genetlink.h` (`GENL_ID_CTRL` = 0x10, `CTRL_CMD_GETFAMILY` = 3,
//! `CTRL_ATTR_FAMILY_ID` = 1, `CTRL_ATTR_FAMILY_NAME` = 2,
//! `CTRL_ATTR_VERSION` = 3), `linux/l2tp.h` (commands: TUNNEL_CREATE 1,
//! TUNNEL_DELETE 2, SESSION_CREATE 5, SESSION_MODIFY 7, SESSION_GET 8;
//! attributes: PW_TYPE 1, ENCAP_TYPE 2, L2SPEC_TYPE 5, L2SPEC_LEN 6,
//! PROTO_VERSION 7, IFNAME 8, CONN_ID 9, PEER_CONN_ID 10, SESSION_ID 11,
//! PEER_SESSION_ID 12, UDP_CSUM 13, COOKIE 15, PEER_COOKIE 16, RECV_SEQ 18,
//! SEND_SEQ 19, LNS_MODE 20, RECV_TIMEOUT 22, FD 23, IP_SADDR 24,
//! IP_DADDR 25, UDP_SPORT 26, UDP_DPORT 27, STATS 30, IP6_SADDR 31,
//! IP6_DADDR 32; stats: TX_PACKETS 1, RX_PACKETS 4, RX_BYTES 5,
//! STATS_PAD 9), `linux/rtnetlink.h` + `linux/if_link.h` (RTM_NEWLINK 16,
//! RTM_DELLINK 17, IFLA_IFNAME 3, IFLA_MTU 4, IFLA_LINK 5, IFLA_MASTER 10,
//! IFLA_LINKINFO 18, IFLA_INFO_KIND 1, IFLA_INFO_DATA 2, IFLA_VLAN_ID 1),
//! `linux/if_pppox.h` + `linux/if_pppol2tp.h` (packed `sockaddr_pppol2tp*`,
//! AF_PPPOX 24, PX_PROTO_OL2TP 1). Netlink integers are host order, so the
//! vectors are for little-endian hosts.
#![cfg(target_endian = "little")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use prol2tp::dataplane::kernel::netlink::{
    self, emit_get_family, messages, parse_reply, Family, L2tpRequest, LinkRequest, NetlinkSocket, ParseError, Protocol, Reply, ReplyError, SessionCreate,
    SessionModify, Stats, TunnelCreate, TunnelSocket,
};
use prol2tp::dataplane::kernel::sys::{l2tpip_sockaddr, pppol2tp_sockaddr, PppoL2tpAddr};
use prol2tp::dataplane::kernel::{session_create_request, KernelDataplane};
use prol2tp::proto::endpoint::SessionInfo;
use prol2tp::proto::header::{Transport, Version};
use prol2tp::proto::session::{CallType, L2SpecType, Pseudowire};

/// Hex digits, whitespace ignored, `#` to end of line is a comment.
fn h(s: &str) -> Vec<u8> {
    let digits: String = s.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(|l| l.chars()).filter(|c| !c.is_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

const L2TP: u16 = 0x1b;

fn l2tp(req: &L2tpRequest, seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    req.emit(L2TP, seq, &mut out);
    out
}

fn link(req: &LinkRequest, seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    req.emit(seq, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Generic netlink requests
// ---------------------------------------------------------------------------

#[test]
fn get_family_bytes() {
    let mut out = Vec::new();
    emit_get_family("l2tp", 1, &mut out);
    let want = h("
        20000000 1000 0500 01000000 00000000  # len 32, GENL_ID_CTRL, REQUEST|ACK, seq 1, pid 0
        03 01 0000                            # CTRL_CMD_GETFAMILY, version 1
        0900 0200 6c327470 00 000000          # FAMILY_NAME \"l2tp\\0\", padded
    ");
    assert_eq!(out, want);
}

#[test]
fn tunnel_create_managed_fd_bytes() {
    let req = L2tpRequest::TunnelCreate(TunnelCreate { tunnel_id: 0x1234, peer_tunnel_id: 0x5678, version: 2, encap_ip: false, socket: TunnelSocket::Fd(9) });
    let want = h("
        3c000000 1b00 0500 07000000 00000000  # len 60, family, REQUEST|ACK, seq 7
        01 01 0000                            # L2TP_CMD_TUNNEL_CREATE, version 1
        0800 0900 34120000                    # CONN_ID
        0800 0a00 78560000                    # PEER_CONN_ID
        0500 0700 02 000000                   # PROTO_VERSION 2
        0600 0200 0000 0000                   # ENCAP_TYPE UDP
        0800 1700 09000000                    # FD 9
    ");
    assert_eq!(l2tp(&req, 7), want);
}

#[test]
fn tunnel_create_unmanaged_udp4_bytes() {
    let req = L2tpRequest::TunnelCreate(TunnelCreate {
        tunnel_id: 1,
        peer_tunnel_id: 2,
        version: 3,
        encap_ip: false,
        socket: TunnelSocket::Addresses {
            local: "192.0.2.1:1701".parse().unwrap(),
            peer: "198.51.100.2:1701".parse().unwrap(),
            udp_csum: true,
            zero_csum6_tx: false,
            zero_csum6_rx: false,
        },
    });
    let want = h("
        58000000 1b00 0500 02000000 00000000  # len 88
        01 01 0000
        0800 0900 01000000                    # CONN_ID 1
        0800 0a00 02000000                    # PEER_CONN_ID 2
        0500 0700 03 000000                   # PROTO_VERSION 3
        0600 0200 0000 0000                   # ENCAP_TYPE UDP
        0800 1800 c0000201                    # IP_SADDR 192.0.2.1 (network order)
        0800 1900 c6336402                    # IP_DADDR 198.51.100.2
        0600 1a00 a506 0000                   # UDP_SPORT 1701
        0600 1b00 a506 0000                   # UDP_DPORT 1701
        0400 0d00                             # UDP_CSUM (flag)
    ");
    assert_eq!(l2tp(&req, 2), want);
}

#[test]
fn tunnel_create_unmanaged_ip6_bytes() {
    let req = L2tpRequest::TunnelCreate(TunnelCreate {
        tunnel_id: 0x01020304,
        peer_tunnel_id: 0x05060708,
        version: 3,
        encap_ip: true,
        socket: TunnelSocket::Addresses {
            local: "[2001:db8::1]:0".parse().unwrap(),
            peer: "[2001:db8::2]:0".parse().unwrap(),
            udp_csum: true,
            zero_csum6_tx: true,
            zero_csum6_rx: true,
        },
    });
    // IP encapsulation: no ports and no UDP checksum settings.
    let want = h("
        5c000000 1b00 0500 03000000 00000000  # len 92
        01 01 0000
        0800 0900 04030201
        0800 0a00 08070605
        0500 0700 03 000000
        0600 0200 0100 0000                   # ENCAP_TYPE IP
        1400 1f00 20010db8000000000000000000000001  # IP6_SADDR
        1400 2000 20010db8000000000000000000000002  # IP6_DADDR
    ");
    assert_eq!(l2tp(&req, 3), want);
}

#[test]
fn session_create_v3_eth_bytes() {
    let req = L2tpRequest::SessionCreate(SessionCreate {
        tunnel_id: 0x0a,
        session_id: 0x0b0c0d0e,
        peer_session_id: 0x01020304,
        pw_type: netlink::pw_type::ETH,
        v3: true,
        cookie: vec![0xde, 0xad, 0xbe, 0xef],
        peer_cookie: vec![1, 2, 3, 4, 5, 6, 7, 8],
        l2spec_type: 1,
        send_seq: false,
        recv_seq: false,
        lns_mode: false,
        ifname: Some("l2tpeth7".into()),
    });
    let want = h("
        80000000 1b00 0500 04000000 00000000  # len 128
        05 01 0000                            # L2TP_CMD_SESSION_CREATE
        0800 0900 0a000000                    # CONN_ID
        0800 0b00 0e0d0c0b                    # SESSION_ID
        0800 0c00 04030201                    # PEER_SESSION_ID
        0600 0100 0500 0000                   # PW_TYPE ETH
        0500 0500 01 000000                   # L2SPEC_TYPE default
        0500 0600 04 000000                   # L2SPEC_LEN 4
        0800 0f00 deadbeef                    # COOKIE
        0c00 1000 0102030405060708            # PEER_COOKIE
        0d00 0800 6c3274706574683700 000000   # IFNAME \"l2tpeth7\"
        0500 1200 00 000000                   # RECV_SEQ 0
        0500 1300 00 000000                   # SEND_SEQ 0
        0500 1400 00 000000                   # LNS_MODE 0
    ");
    assert_eq!(l2tp(&req, 4), want);
}

#[test]
fn session_create_v2_ppp_bytes() {
    // v2: no cookies, L2-Specific Sublayer or interface name, even if set.
    let req = L2tpRequest::SessionCreate(SessionCreate {
        tunnel_id: 5,
        session_id: 6,
        peer_session_id: 7,
        pw_type: netlink::pw_type::PPP,
        v3: false,
        cookie: vec![1, 2, 3, 4],
        peer_cookie: vec![],
        l2spec_type: 1,
        send_seq: true,
        recv_seq: false,
        lns_mode: true,
        ifname: Some("ignored".into()),
    });
    let want = h("
        4c000000 1b00 0500 05000000 00000000  # len 76
        05 01 0000
        0800 0900 05000000
        0800 0b00 06000000
        0800 0c00 07000000
        0600 0100 0700 0000                   # PW_TYPE PPP
        0500 1200 00 000000                   # RECV_SEQ 0
        0500 1300 01 000000                   # SEND_SEQ 1
        0500 1400 01 000000                   # LNS_MODE 1
    ");
    assert_eq!(l2tp(&req, 5), want);
}

#[test]
fn session_modify_delete_get_dump_bytes() {
    let modify = L2tpRequest::SessionModify(SessionModify {
        tunnel_id: 5,
        session_id: 6,
        send_seq: Some(false),
        recv_seq: None,
        lns_mode: Some(true),
        recv_timeout_ms: Some(250),
    });
    let want = h("
        40000000 1b00 0500 06000000 00000000  # len 64
        07 01 0000                            # L2TP_CMD_SESSION_MODIFY
        0800 0900 05000000
        0800 0b00 06000000
        0500 1300 00 000000                   # SEND_SEQ 0
        0500 1400 01 000000                   # LNS_MODE 1
        0c00 1600 fa00000000000000            # RECV_TIMEOUT 250 ms (u64)
    ");
    assert_eq!(l2tp(&modify, 6), want);

    let want = h("
        1c000000 1b00 0500 08000000 00000000  # len 28
        02 01 0000                            # L2TP_CMD_TUNNEL_DELETE
        0800 0900 34120000
    ");
    assert_eq!(l2tp(&L2tpRequest::TunnelDelete { tunnel_id: 0x1234 }, 8), want);

    let want = h("
        24000000 1b00 0500 09000000 00000000  # len 36
        06 01 0000                            # L2TP_CMD_SESSION_DELETE
        0800 0900 05000000
        0800 0b00 06000000
    ");
    assert_eq!(l2tp(&L2tpRequest::SessionDelete { tunnel_id: 5, session_id: 6 }, 9), want);

    let want = h("
        24000000 1b00 0500 0a000000 00000000
        08 01 0000                            # L2TP_CMD_SESSION_GET
        0800 0900 05000000
        0800 0b00 06000000
    ");
    assert_eq!(l2tp(&L2tpRequest::SessionGet { tunnel_id: 5, session_id: 6 }, 10), want);

    let want = h("
        1c000000 1b00 0500 0b000000 00000000
        04 01 0000                            # L2TP_CMD_TUNNEL_GET
        0800 0900 05000000
    ");
    assert_eq!(l2tp(&L2tpRequest::TunnelGet { tunnel_id: 5 }, 11), want);

    let want = h("
        14000000 1b00 0103 0c000000 00000000  # REQUEST|DUMP (0x301)
        08 01 0000
    ");
    assert_eq!(l2tp(&L2tpRequest::SessionDump, 12), want);
}

// ---------------------------------------------------------------------------
// rtnetlink requests
// ---------------------------------------------------------------------------

#[test]
fn link_set_bytes() {
    let req = LinkRequest::Set { ifname: "l2tpeth0".into(), up: true, mtu: Some(1400), master: Some(4) };
    let want = h("
        40000000 1000 0500 01000000 00000000  # len 64, RTM_NEWLINK, REQUEST|ACK
        00 00 0000 00000000 01000000 01000000 # ifinfomsg: AF_UNSPEC, index 0, IFF_UP, change IFF_UP
        0d00 0300 6c32747065746830 00 000000  # IFLA_IFNAME \"l2tpeth0\"
        0800 0400 78050000                    # IFLA_MTU 1400
        0800 0a00 04000000                    # IFLA_MASTER 4
    ");
    assert_eq!(link(&req, 1), want);
}

#[test]
fn vlan_create_and_delete_bytes() {
    let req = LinkRequest::NewVlan { ifname: "l2tpeth0.100".into(), link: 5, vlan_id: 100 };
    let want = h("
        58000000 1000 0506 02000000 00000000  # len 88, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
        00 00 0000 00000000 01000000 01000000 # ifinfomsg: up
        1100 0300 6c327470657468302e31303000 000000  # IFLA_IFNAME \"l2tpeth0.100\"
        0800 0500 05000000                    # IFLA_LINK 5
        1c00 1200                             # IFLA_LINKINFO, 28 octets
          0900 0100 766c616e00 000000         #   IFLA_INFO_KIND \"vlan\"
          0c00 0200                           #   IFLA_INFO_DATA, 12 octets
            0600 0100 6400 0000               #     IFLA_VLAN_ID 100
    ");
    assert_eq!(link(&req, 2), want);

    let req = LinkRequest::Delete { ifname: "l2tpeth0.100".into() };
    let want = h("
        34000000 1100 0500 03000000 00000000  # len 52, RTM_DELLINK
        00 00 0000 00000000 00000000 00000000
        1100 0300 6c327470657468302e31303000 000000
    ");
    assert_eq!(link(&req, 3), want);
}

#[test]
fn vlan_names_fit_ifnamsiz() {
    assert_eq!(netlink::vlan_ifname("l2tpeth0", 4094).as_deref(), Some("l2tpeth0.4094"));
    assert_eq!(netlink::vlan_ifname("averylongname", 10), None);
}

// ---------------------------------------------------------------------------
// Socket addresses
// ---------------------------------------------------------------------------

fn pppol2tp(v3: bool, peer: &str) -> PppoL2tpAddr {
    PppoL2tpAddr { v3, tunnel_fd: 7, peer: peer.parse().unwrap(), tunnel_id: 0x0102, session_id: 0x0304, peer_tunnel_id: 0x0506, peer_session_id: 0x0708 }
}

#[test]
fn pppol2tp_sockaddr_forms() {
    // struct sockaddr_pppol2tp: v2, IPv4, 38 octets.
    let want = h("
        1800 01000000 00000000 07000000       # AF_PPPOX, PX_PROTO_OL2TP, pid 0, fd 7
        0200 06a5 c0000202 0000000000000000   # sockaddr_in 192.0.2.2:1701
        0201 0403 0605 0807                   # s_tunnel s_session d_tunnel d_session (u16)
    ");
    assert_eq!(pppol2tp_sockaddr(&pppol2tp(false, "192.0.2.2:1701")), want);

    // struct sockaddr_pppol2tpv3: v3, IPv4, 46 octets.
    let want = h("
        1800 01000000 00000000 07000000
        0200 06a5 c0000202 0000000000000000
        02010000 04030000 06050000 08070000   # ids (u32)
    ");
    assert_eq!(pppol2tp_sockaddr(&pppol2tp(true, "192.0.2.2:1701")), want);

    // struct sockaddr_pppol2tpin6: v2, IPv6, 50 octets: ids before the address.
    let want = h("
        1800 01000000 00000000 07000000
        0201 0403 0605 0807
        0a00 06a5 00000000 20010db8000000000000000000000002 00000000  # sockaddr_in6
    ");
    assert_eq!(pppol2tp_sockaddr(&pppol2tp(false, "[2001:db8::2]:1701")), want);

    // struct sockaddr_pppol2tpv3in6: v3, IPv6, 58 octets.
    let want = h("
        1800 01000000 00000000 07000000
        02010000 04030000 06050000 08070000
        0a00 06a5 00000000 20010db8000000000000000000000002 00000000
    ");
    assert_eq!(pppol2tp_sockaddr(&pppol2tp(true, "[2001:db8::2]:1701")), want);

    let lens: Vec<usize> = [(false, "192.0.2.2:1"), (false, "[2001:db8::2]:1"), (true, "192.0.2.2:1"), (true, "[2001:db8::2]:1")]
        .iter()
        .map(|(v3, p)| pppol2tp_sockaddr(&pppol2tp(*v3, p)).len())
        .collect();
    assert_eq!(lens, [38, 50, 46, 58]);
}

#[test]
fn l2tpip_sockaddr_forms() {
    let want = h("0200 0000 c0000201 2a000000 00000000"); // sockaddr_l2tpip, conn_id 42
    assert_eq!(l2tpip_sockaddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 42), want);
    let want = h("0a00 0000 00000000 20010db8000000000000000000000001 00000000 2a000000");
    assert_eq!(l2tpip_sockaddr(IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()), 42), want);
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

fn parse_all(buf: &[u8]) -> Vec<(u32, Result<Reply, ReplyError>)> {
    messages(buf).map(|m| m.map(|m| (m.seq, parse_reply(&m, L2TP))).unwrap_or((0, Err(ReplyError::Malformed(ParseError::Truncated))))).collect()
}

#[test]
fn error_and_ack() {
    let buf = h("
        24000000 0200 0000 09000000 00000000  # NLMSG_ERROR, seq 9
        efffffff                              # -EEXIST
        3c000000 1b00 0500 09000000 00000000  # the request's header
        14000000 0200 0000 0a000000 00000000  # NLMSG_ERROR, seq 10
        00000000                              # 0: acknowledgement
    ");
    let got = parse_all(&buf);
    assert_eq!(got, vec![(9, Err(ReplyError::Errno(libc::EEXIST))), (10, Ok(Reply::Ack))]);
    assert_eq!(ReplyError::Errno(libc::EEXIST).errno(), 17);
}

#[test]
fn family_reply() {
    let buf = h("
        30000000 1000 0000 01000000 00000000  # len 48, GENL_ID_CTRL, seq 1
        01 02 0000                            # CTRL_CMD_NEWFAMILY
        0900 0200 6c32747000 000000           # FAMILY_NAME
        0600 0100 1b00 0000                   # FAMILY_ID 0x1b
        0800 0300 01000000                    # VERSION 1
    ");
    assert_eq!(parse_all(&buf), vec![(1, Ok(Reply::Family(Family { id: 0x1b, version: 1 })))]);
}

#[test]
fn multipart_session_dump_with_stats() {
    let buf = h("
        70000000 1b00 0200 03000000 00000000  # len 112, NLM_F_MULTI, seq 3
        08 01 0000
        0800 0900 0a000000                    # CONN_ID 10
        0800 0b00 0b000000                    # SESSION_ID 11
        0800 0c00 0c000000                    # PEER_SESSION_ID 12
        0600 0100 0500 0000                   # PW_TYPE ETH
        0d00 0800 6c3274706574683300 000000   # IFNAME l2tpeth3
        2c00 1e80                             # STATS (NLA_F_NESTED set), 44 octets
          0c00 0100 1000000000000000          #   TX_PACKETS 16
          0c00 0400 2000000000000000          #   RX_PACKETS 32
          0400 0900                           #   STATS_PAD
          0c00 0500 0504030201000000          #   RX_BYTES 0x0102030405
        2c000000 1b00 0200 03000000 00000000  # second part
        08 01 0000
        0800 0900 0a000000
        0800 0b00 0d000000
        0600 0100 0700 0000                   # PW_TYPE PPP
        14000000 0300 0200 03000000 00000000  # NLMSG_DONE
        00000000
    ");
    let got = parse_all(&buf);
    assert_eq!(got.len(), 3);
    let stats = Stats { tx_packets: 16, rx_packets: 32, rx_bytes: 0x0102030405, ..Stats::default() };
    match &got[0] {
        (3, Ok(Reply::Session(s))) => {
            assert_eq!((s.tunnel_id, s.session_id, s.peer_session_id, s.pw_type), (10, 11, 12, 5));
            assert_eq!(s.ifname.as_deref(), Some("l2tpeth3"));
            assert_eq!(s.stats, stats);
        }
        other => panic!("first part: {other:?}"),
    }
    match &got[1] {
        (3, Ok(Reply::Session(s))) => {
            assert_eq!((s.session_id, s.pw_type, s.ifname.as_deref()), (13, 7, None));
            assert_eq!(s.stats, Stats::default());
        }
        other => panic!("second part: {other:?}"),
    }
    assert_eq!(got[2], (3, Ok(Reply::Done)));
}

#[test]
fn tunnel_reply_with_stats() {
    let buf = h("
        40000000 1b00 0000 04000000 00000000  # len 64
        04 01 0000                            # TUNNEL_GET
        0800 0900 34120000
        0800 0a00 78560000
        0500 0700 02 000000
        1400 1e00                             # STATS, 20 octets
          0400 0900                           #   STATS_PAD
          0c00 0200 e803000000000000          #   TX_BYTES 1000
    ");
    match parse_all(&buf).as_slice() {
        [(4, Ok(Reply::Tunnel(t)))] => {
            assert_eq!((t.tunnel_id, t.peer_tunnel_id, t.version), (0x1234, 0x5678, 2));
            assert_eq!(t.stats, Stats { tx_bytes: 1000, ..Stats::default() });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    // Header says 64 octets, 20 present.
    let buf = h("40000000 0200 0000 01000000 00000000 00000000");
    assert_eq!(messages(&buf).collect::<Vec<_>>(), vec![Err(ParseError::Truncated)]);
    // Length below the header size.
    let buf = h("08000000 0200 0000 01000000 00000000");
    assert_eq!(messages(&buf).collect::<Vec<_>>(), vec![Err(ParseError::BadLength)]);
    // NLMSG_ERROR without its errno.
    let buf = h("10000000 0200 0000 01000000 00000000");
    let m = messages(&buf).next().unwrap().unwrap();
    assert_eq!(parse_reply(&m, L2TP), Err(ReplyError::Malformed(ParseError::Truncated)));
    // An l2tp reply whose attribute claims more than is there: the
    // attribute is dropped, the rest still parses.
    let buf = h("1c000000 1b00 0000 01000000 00000000 08 01 0000 ff00 0900 0a000000");
    let m = messages(&buf).next().unwrap().unwrap();
    assert!(matches!(parse_reply(&m, L2TP), Ok(Reply::Session(s)) if s.tunnel_id == 0));
    // Every prefix of a valid buffer parses without panicking.
    let good = h("14000000 0200 0000 0a000000 00000000 00000000");
    for n in 0..good.len() {
        for m in messages(&good[..n]).flatten() {
            let _ = parse_reply(&m, L2TP);
        }
    }
}

// ---------------------------------------------------------------------------
// SessionInfo → request
// ---------------------------------------------------------------------------

fn info(pseudowire: Pseudowire, version: Version, call_type: CallType) -> SessionInfo {
    SessionInfo {
        tunnel_id: 1,
        session_id: 2,
        peer_tunnel_id: 3,
        peer_session_id: 4,
        version,
        transport: Transport::Udp,
        peer: SocketAddr::from(([192, 0, 2, 2], 1701)),
        local: None,
        pseudowire,
        call_type,
        cookie: vec![1, 2, 3, 4],
        peer_cookie: vec![5, 6, 7, 8],
        l2spec: L2SpecType::None,
        send_seq: true,
        recv_seq: false,
        name: None,
        tunnel_name: None,
        interface_name: Some("pw0".into()),
        vlan_id: Some(100),
        profile: "default".into(),
        ppp_profile: "default".into(),
        eth_profile: "default".into(),
        trace_flags: common::trace::TraceFlags::NONE,
    }
}

#[test]
fn session_requests_from_session_info() {
    // VLAN pseudowires are ETH sessions in the kernel (it has no VLAN type).
    let r = session_create_request(&info(Pseudowire::Vlan, Version::V3, CallType::IncomingLac));
    assert_eq!(r.pw_type, netlink::pw_type::ETH);
    assert!(r.v3 && !r.lns_mode && r.send_seq && !r.recv_seq);
    assert_eq!((r.cookie.as_slice(), r.peer_cookie.as_slice(), r.l2spec_type), (&[1, 2, 3, 4][..], &[5, 6, 7, 8][..], 0));
    assert_eq!(r.ifname.as_deref(), Some("pw0"));

    let r = session_create_request(&info(Pseudowire::Ppp, Version::V2, CallType::IncomingLns));
    assert_eq!(r.pw_type, netlink::pw_type::PPP);
    assert!(!r.v3 && r.lns_mode);
    assert_eq!(r.ifname, None);
    let r = session_create_request(&info(Pseudowire::Ppp, Version::V2, CallType::OutgoingLns));
    assert!(r.lns_mode);
    let r = session_create_request(&info(Pseudowire::Eth, Version::V3, CallType::OutgoingLac));
    assert!(!r.lns_mode);
    assert_eq!(r.pw_type, netlink::pw_type::ETH);
}

// ---------------------------------------------------------------------------
// The real kernel of this host
// ---------------------------------------------------------------------------

fn generic_socket() -> NetlinkSocket {
    NetlinkSocket::open(Protocol::Generic).expect("generic netlink socket")
}

#[test]
fn resolve_controller_family_on_this_host() {
    // The controller always exists: proves the request and parse path
    // against the running kernel.
    let f = generic_socket().resolve_family("nlctrl").expect("nlctrl");
    assert_eq!(f.id, netlink::GENL_ID_CTRL);
    assert!(f.version >= 1);
}

#[test]
fn unknown_family_is_enoent() {
    let r = generic_socket().resolve_family("prol2tp-no-such");
    assert_eq!(r, Err(ReplyError::Errno(libc::ENOENT)));
}

#[test]
fn l2tp_family_resolves_or_fails_cleanly() {
    // This host has no L2TP modules (ENOENT); the lab's kernel has them.
    match KernelDataplane::open(Default::default()) {
        Ok(dp) => {
            assert!(dp.family().id > netlink::GENL_ID_CTRL);
            assert!(dp.family().version >= 1);
        }
        Err(e) => {
            assert_eq!(e.errno, Some(libc::ENOENT), "{e}");
            assert!(e.message.contains("l2tp_netlink"), "{e}");
        }
    }
}

#[test]
fn connected_tunnel_socket_takes_its_peers_datagrams() {
    use prol2tp::dataplane::kernel::sys::udp_tunnel_socket;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    // The daemon's listening socket, as daemon::net opens it: wildcard
    // address, SO_REUSEADDR.
    let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    listener.set_reuse_address(true).unwrap();
    listener.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into()).unwrap();
    listener.set_nonblocking(true).unwrap();
    let listener: UdpSocket = listener.into();
    let port = listener.local_addr().unwrap().port();
    let local = SocketAddr::from(([127, 0, 0, 1], port));

    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tunnel = udp_tunnel_socket(local, peer.local_addr().unwrap()).unwrap();

    let readable = |fd: std::os::fd::BorrowedFd<'_>| {
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(2000u16)).unwrap() == 1
    };
    let mut buf = [0u8; 16];

    peer.send_to(b"tunnel", local).unwrap();
    assert!(readable(tunnel.as_fd()), "the tunnel socket did not get its peer's datagram");
    let n = nix::sys::socket::recv(std::os::fd::AsRawFd::as_raw_fd(&tunnel), &mut buf, nix::sys::socket::MsgFlags::empty()).unwrap();
    assert_eq!(&buf[..n], b"tunnel");

    other.send_to(b"sccrq", local).unwrap();
    assert!(readable(listener.as_fd()), "the listener did not get a new peer's datagram");
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"sccrq");
    // The tunnel's datagram went to the tunnel socket only.
    assert_eq!(listener.recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn pppox_and_l2tp_ip_sockets_fail_cleanly_without_modules() {
    use prol2tp::dataplane::kernel::sys::{l2tp_ip_tunnel_socket, pppol2tp_connect};
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if !std::path::Path::new("/sys/module/l2tp_ppp").exists() {
        let e = pppol2tp_connect(&pppol2tp(false, "127.0.0.1:1701")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAFNOSUPPORT), "{e}");
    }
    if !std::path::Path::new("/sys/module/l2tp_ip").exists() {
        let e = l2tp_ip_tunnel_socket(lo, lo, 1, 2).unwrap_err();
        assert!(matches!(e.raw_os_error(), Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT)), "{e}");
    }
}
