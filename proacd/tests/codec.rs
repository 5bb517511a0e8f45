//! Byte vectors for the PPPoE codec (RFC 2516 §4, §5, Appendix A; RFC 4638):
//! every discovery packet and every tag, parsed and emitted, and the PPPoE
//! packets of captures from other implementations (tests/data, see SOURCES.md;
//! decoded fields checked against `tshark -V`).

use proac::proto::packet::{eth_frame, parse_eth, parse_session, session_frame, tag, Code, Discovery, MacAddr, PacketError, ETH_P_PPP_DISC, ETH_P_PPP_SES};
use std::path::PathBuf;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn data(name: &str) -> Vec<u8> {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name].iter().collect();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The frames of a classic libpcap file (either byte order, µs or ns), Ethernet link type only.
fn pcap_frames(name: &str) -> Vec<Vec<u8>> {
    let b = data(name);
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        m => panic!("{name}: not a pcap file (magic {m:08x})"),
    };
    let u32at = |at: usize| {
        let a: [u8; 4] = b[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32at(20), 1, "{name}: link type must be Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32at(at + 8) as usize;
        let orig = u32at(at + 12) as usize;
        assert_eq!(incl, orig, "{name}: truncated frame");
        out.push(b[at + 16..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    assert_eq!(at, b.len(), "{name}: trailing octets");
    out
}

fn dat_frame(name: &str) -> Vec<u8> {
    hex(std::str::from_utf8(&data(name)).unwrap())
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

/// Parses a discovery frame; checks the Ethernet header and that emit gives back the PPPoE octets (without padding).
fn disc(frame: &[u8], src: &str, dst: &str) -> Discovery {
    let (eth, pppoe) = parse_eth(frame).unwrap();
    assert_eq!((eth.src, eth.dst, eth.ethertype), (mac(src), mac(dst), ETH_P_PPP_DISC));
    let d = Discovery::parse(pppoe).unwrap();
    let len = u16::from_be_bytes([pppoe[4], pppoe[5]]) as usize;
    assert_eq!(d.emit(), &pppoe[..6 + len], "round trip");
    d
}

fn tags(d: &Discovery) -> Vec<(u16, Vec<u8>)> {
    d.tags.iter().map(|t| (t.tag_type, t.value.clone())).collect()
}

// ---- hand-made golden vectors: one per discovery code ----

#[test]
fn golden_padi() {
    let bytes = hex("1109 0000 0012  0101 0000  0103 0004 deadbeef  0120 0002 05dc");
    let mut d = Discovery::new(Code::Padi, 0);
    d.push(tag::SERVICE_NAME, b"").push(tag::HOST_UNIQ, &[0xde, 0xad, 0xbe, 0xef]).push(tag::PPP_MAX_PAYLOAD, &1500u16.to_be_bytes());
    assert_eq!(d.emit(), bytes);
    let p = Discovery::parse(&bytes).unwrap();
    assert_eq!(p, d);
    assert_eq!(p.max_payload(), Some(1500));
    assert_eq!(p.tag(tag::SERVICE_NAME), Some(&b""[..]));
}

#[test]
fn golden_pado() {
    let bytes = hex("1107 0000 0028  0102 0004 41432d31  0101 0003 697370  0101 0003 766f64  0104 0008 0102030405060708  0110 0002 abcd");
    let mut d = Discovery::new(Code::Pado, 0);
    d.push(tag::AC_NAME, b"AC-1").push(tag::SERVICE_NAME, b"isp").push(tag::SERVICE_NAME, b"vod");
    d.push(tag::AC_COOKIE, &[1, 2, 3, 4, 5, 6, 7, 8]).push(tag::RELAY_SESSION_ID, &[0xab, 0xcd]);
    assert_eq!(d.emit(), bytes);
    let p = Discovery::parse(&bytes).unwrap();
    assert_eq!(p, d);
    assert_eq!(p.tags_of(tag::SERVICE_NAME).collect::<Vec<_>>(), vec![&b"isp"[..], &b"vod"[..]]);
}

#[test]
fn golden_padr() {
    let bytes = hex("1119 0000 0014  0101 0003 697370  0103 0001 07  0104 0004 c0c0c0c0");
    let mut d = Discovery::new(Code::Padr, 0);
    d.push(tag::SERVICE_NAME, b"isp").push(tag::HOST_UNIQ, &[7]).push(tag::AC_COOKIE, &[0xc0; 4]);
    assert_eq!(d.emit(), bytes);
    assert_eq!(Discovery::parse(&bytes).unwrap(), d);
}

#[test]
fn golden_pads() {
    let ok = hex("1165 1234 0007  0101 0003 697370");
    let mut d = Discovery::new(Code::Pads, 0x1234);
    d.push(tag::SERVICE_NAME, b"isp");
    assert_eq!(d.emit(), ok);
    assert_eq!(Discovery::parse(&ok).unwrap(), d);
    // Error PADS: session 0 with Service-Name-Error.
    let err = hex("1165 0000 000e  0101 0003 697370  0201 0003 6e6f21");
    let p = Discovery::parse(&err).unwrap();
    assert_eq!((p.code, p.session_id), (Code::Pads, 0));
    assert_eq!(p.error(), Some((tag::SERVICE_NAME_ERROR, "no!".to_string())));
    assert_eq!(p.emit(), err);
}

#[test]
fn golden_padt() {
    let bytes = hex("11a7 0042 0008  0203 0004 62796521");
    let mut d = Discovery::new(Code::Padt, 0x42);
    d.push(tag::GENERIC_ERROR, b"bye!");
    assert_eq!(d.emit(), bytes);
    assert_eq!(Discovery::parse(&bytes).unwrap(), d);
    let empty = hex("11a7 0042 0000");
    assert_eq!(Discovery::parse(&empty).unwrap(), Discovery::new(Code::Padt, 0x42));
    assert_eq!(Discovery::new(Code::Padt, 0x42).emit(), empty);
}

// ---- every tag (RFC 2516 Appendix A, RFC 4638 §4) ----

#[test]
fn every_tag() {
    let cases: &[(u16, &str, &[u8], &str)] = &[
        (tag::SERVICE_NAME, "Service-Name", b"", "0101 0000"),
        (tag::SERVICE_NAME, "Service-Name", b"internet", "0101 0008 696e7465726e6574"),
        (tag::AC_NAME, "AC-Name", b"bras", "0102 0004 62726173"),
        (tag::HOST_UNIQ, "Host-Uniq", &[0, 0, 0x17, 0x61], "0103 0004 00001761"),
        (tag::AC_COOKIE, "AC-Cookie", &[0x3d, 0x0f, 0x05, 0x87], "0104 0004 3d0f0587"),
        (tag::VENDOR_SPECIFIC, "Vendor-Specific", &[0, 0, 0x0d, 0xe9, 1, 2], "0105 0006 00000de9 0102"),
        (tag::RELAY_SESSION_ID, "Relay-Session-Id", &[9, 8, 7], "0110 0003 090807"),
        (tag::PPP_MAX_PAYLOAD, "PPP-Max-Payload", &[0x05, 0xdc], "0120 0002 05dc"),
        (tag::SERVICE_NAME_ERROR, "Service-Name-Error", b"", "0201 0000"),
        (tag::AC_SYSTEM_ERROR, "AC-System-Error", b"full", "0202 0004 66756c6c"),
        (tag::GENERIC_ERROR, "Generic-Error", b"x", "0203 0001 78"),
    ];
    for (t, name, value, wire) in cases {
        assert_eq!(tag::name(*t), *name);
        let tag_bytes = hex(wire);
        let mut d = Discovery::new(Code::Pado, 0);
        d.push(*t, value);
        let mut expect = hex("1107 0000");
        expect.extend_from_slice(&(tag_bytes.len() as u16).to_be_bytes());
        expect.extend_from_slice(&tag_bytes);
        assert_eq!(d.emit(), expect, "{name}");
        let p = Discovery::parse(&expect).unwrap();
        assert_eq!(p.tag(*t), Some(*value), "{name}");
        assert_eq!(p.tags.len(), 1);
    }
    assert_eq!(tag::name(tag::END_OF_LIST), "End-Of-List");
    assert_eq!(tag::name(0x0999), "unknown");
    // Unknown tags are kept, in order, and emitted unchanged.
    let unknown = hex("1109 0000 0009  0999 0001 55  0101 0000");
    let p = Discovery::parse(&unknown).unwrap();
    assert_eq!(tags(&p), vec![(0x0999, vec![0x55]), (tag::SERVICE_NAME, vec![])]);
    assert_eq!(p.emit(), unknown);
}

#[test]
fn end_of_list_stops_parsing() {
    let bytes = hex("1109 0000 000c  0101 0000  0000 0000  0103 0000");
    let p = Discovery::parse(&bytes).unwrap();
    assert_eq!(tags(&p), vec![(tag::SERVICE_NAME, vec![])]);
}

#[test]
fn max_payload_needs_two_octets() {
    let p = Discovery::parse(&hex("1109 0000 0005 0120 0001 05")).unwrap();
    assert_eq!(p.max_payload(), None);
}

// ---- errors ----

#[test]
fn malformed() {
    assert_eq!(Discovery::parse(&hex("1109 0000 00")), Err(PacketError::Short(5)));
    assert_eq!(Discovery::parse(&hex("2109 0000 0000")), Err(PacketError::BadVerType(0x21)));
    assert_eq!(Discovery::parse(&hex("1108 0000 0000")), Err(PacketError::BadCode(0x08)));
    assert_eq!(Discovery::parse(&hex("1100 0001 0000")), Err(PacketError::BadCode(0x00)));
    assert_eq!(Discovery::parse(&hex("1109 0000 0005 0101 00")), Err(PacketError::BadLength { header: 5, actual: 3 }));
    assert_eq!(Discovery::parse(&hex("1109 0000 0005 0101 0002 61")), Err(PacketError::TagOverrun { tag_type: 0x0101, at: 0 }));
    assert_eq!(Discovery::parse(&hex("1109 0000 0007 0101 0000 0103 00")), Err(PacketError::TagOverrun { tag_type: 0x0103, at: 4 }));
    assert_eq!(Discovery::parse(&hex("1109 0000 0001 01")), Err(PacketError::TagOverrun { tag_type: 0, at: 0 }));
    // A tag running past LENGTH but inside the padding is still an overrun.
    assert_eq!(Discovery::parse(&hex("1109 0000 0004 0101 0002 6162")), Err(PacketError::TagOverrun { tag_type: 0x0101, at: 0 }));
    assert_eq!(parse_session(&hex("1109 0000 0000")), Err(PacketError::NotSession));
    assert_eq!(parse_session(&hex("1100 0001 0003 c021")), Err(PacketError::BadLength { header: 3, actual: 2 }));
    assert_eq!(parse_eth(&[0; 13]).map(|_| ()), Err(PacketError::Short(13)));
    let mut big = Discovery::new(Code::Pado, 0);
    big.push(tag::VENDOR_SPECIFIC, &vec![0; 65535]);
    assert_eq!(big.try_emit(), Err(PacketError::TooLong));
    for e in [PacketError::Short(1), PacketError::TooLong, PacketError::TagOverrun { tag_type: 1, at: 2 }] {
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn parse_never_panics_on_random_input() {
    // A small deterministic generator (xorshift) over short inputs with a valid header.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x % 40) as usize;
        let mut b: Vec<u8> = (0..n).map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8).collect();
        if b.len() >= 6 {
            b[0] = 0x11;
            b[1] = 0x09;
            let l = (b.len() - 6) as u16;
            b[4..6].copy_from_slice(&l.to_be_bytes());
        }
        if let Ok(d) = Discovery::parse(&b) {
            assert!(d.emit().len() <= b.len());
        }
        let _ = parse_session(&b);
    }
}

// ---- Ethernet and session framing ----

#[test]
fn frames() {
    let a = mac("02:00:00:00:00:01");
    let b = mac("02:00:00:00:00:02");
    let f = session_frame(a, b, 0x0017, &hex("c021 0101 0004"));
    assert_eq!(f, hex("020000000001 020000000002 8864 1100 0017 0006 c021 0101 0004"));
    let (eth, pppoe) = parse_eth(&f).unwrap();
    assert_eq!((eth.dst, eth.src, eth.ethertype), (a, b, ETH_P_PPP_SES));
    assert_eq!(parse_session(pppoe).unwrap(), (0x0017, &hex("c021 0101 0004")[..]));
    let d = eth_frame(MacAddr::BROADCAST, a, ETH_P_PPP_DISC, &hex("1109 0000 0004 0101 0000"));
    assert_eq!(d, hex("ffffffffffff 020000000001 8863 1109 0000 0004 0101 0000"));
}

// ---- captures from other implementations ----

#[test]
fn capture_tcpdump_pppoe_padi() {
    // tshark: PADI, Session ID 0, Payload Length 18, PPP-Max-Payload 05dc, Host-Uniq 16372c16 (+ empty Service-Name).
    let frames = pcap_frames("tcpdump-pppoe.pcap");
    assert_eq!(frames.len(), 1);
    let d = disc(&frames[0], "00:0c:29:90:3a:8b", "ff:ff:ff:ff:ff:ff");
    assert_eq!((d.code, d.session_id), (Code::Padi, 0));
    assert_eq!(d.tag(tag::HOST_UNIQ), Some(&hex("16372c16")[..]));
    assert_eq!(d.max_payload(), Some(1500));
    assert_eq!(d.tag(tag::SERVICE_NAME), Some(&b""[..]));
    assert_eq!(d.tags.len(), 3);
}

#[test]
fn capture_tcpdump_pppoes() {
    // tshark: two session frames, session ids 0x0017 and 0x003b, length 14, PPP protocol LCP 0xc021.
    let frames = pcap_frames("tcpdump-pppoes.pcap");
    let ids: Vec<u16> = frames
        .iter()
        .map(|f| {
            let (eth, pppoe) = parse_eth(f).unwrap();
            assert_eq!(eth.ethertype, ETH_P_PPP_SES);
            let (sid, ppp) = parse_session(pppoe).unwrap();
            assert_eq!((ppp.len(), &ppp[..2]), (14, &[0xc0, 0x21][..]));
            assert_eq!(session_frame(eth.dst, eth.src, sid, ppp), *f, "round trip");
            sid
        })
        .collect();
    assert_eq!(ids, vec![0x0017, 0x003b]);
}

#[test]
fn capture_pcapplusplus_discovery() {
    // tshark: PADI (Host-Uniq 64138518), then PADS session 0x0011 AC-Name "BRAS", AC-Cookie 3d0f…bd5b.
    let frames = pcap_frames("pcapplusplus-PPPoEDiscovery.pcap");
    assert_eq!(frames.len(), 2);
    let padi = disc(&frames[0], "cc:05:0e:88:00:00", "ff:ff:ff:ff:ff:ff");
    assert_eq!(tags(&padi), vec![(tag::SERVICE_NAME, vec![]), (tag::HOST_UNIQ, hex("64138518"))]);
    let pads = disc(&frames[1], "ca:01:0e:88:00:06", "cc:05:0e:88:00:00");
    assert_eq!((pads.code, pads.session_id), (Code::Pads, 0x0011));
    assert_eq!(
        tags(&pads),
        vec![
            (tag::SERVICE_NAME, vec![]),
            (tag::HOST_UNIQ, hex("64138518")),
            (tag::AC_NAME, b"BRAS".to_vec()),
            (tag::AC_COOKIE, hex("3d0f0587062484f2df32b9ddfd77bd5b")),
        ]
    );
    // The .dat files are the same two frames; the trailer variant has padding after LENGTH.
    assert_eq!(dat_frame("pcapplusplus-PPPoEDiscovery1.dat"), frames[0][..32]);
    let d2 = dat_frame("pcapplusplus-PPPoEDiscovery2.dat");
    assert_eq!(disc(&d2, "ca:01:0e:88:00:06", "cc:05:0e:88:00:00"), pads);
    let trailer = dat_frame("pcapplusplus-packet_trailer_pppoed.dat");
    assert_eq!(trailer.len(), 60);
    assert_eq!(disc(&trailer, "cc:05:0e:88:00:00", "ff:ff:ff:ff:ff:ff"), padi);
}

#[test]
fn capture_pcapplusplus_session() {
    // tshark: session 0x0011; LCP (0xc021) payload 20, then IPv6 (0x0057) payload 146.
    let frames = pcap_frames("pcapplusplus-PPPoESession.pcap");
    let got: Vec<(u16, usize, u16)> = frames
        .iter()
        .map(|f| {
            let (_, pppoe) = parse_eth(f).unwrap();
            let (sid, ppp) = parse_session(pppoe).unwrap();
            (sid, ppp.len(), u16::from_be_bytes([ppp[0], ppp[1]]))
        })
        .collect();
    assert_eq!(got, vec![(0x0011, 20, 0xc021), (0x0011, 146, 0x0057)]);
    for (name, len, proto) in [("pcapplusplus-PPPoESession1.dat", 20, 0xc021), ("pcapplusplus-PPPoESession2.dat", 146, 0x0057)] {
        let f = dat_frame(name);
        let (eth, pppoe) = parse_eth(&f).unwrap();
        assert_eq!(eth.ethertype, ETH_P_PPP_SES);
        let (sid, ppp) = parse_session(pppoe).unwrap();
        assert_eq!((sid, ppp.len(), u16::from_be_bytes([ppp[0], ppp[1]])), (0x0011, len, proto), "{name}");
    }
}

#[test]
fn capture_packetdotnet() {
    // tshark: frame 1 is IPv4 (not PPPoE), frame 2 session 0x18a0, payload 46, IPv4 in PPP (0x0021).
    let frames = pcap_frames("packetdotnet-PPPoEPPP.pcap");
    let (eth, _) = parse_eth(&frames[0]).unwrap();
    assert_eq!(eth.ethertype, 0x0800);
    let (eth, pppoe) = parse_eth(&frames[1]).unwrap();
    assert_eq!((eth.src, eth.dst), (mac("00:c0:9f:77:a3:b0"), mac("00:18:82:6c:7c:7f")));
    let (sid, ppp) = parse_session(pppoe).unwrap();
    assert_eq!((sid, ppp.len(), &ppp[..2]), (0x18a0, 46, &[0x00, 0x21][..]));
    assert!(Discovery::parse(pppoe).is_err());
}

#[test]
fn capture_suricata_full_exchange() {
    // tshark -V: PADI/PADO/PADR/PADS (session 1), PADT both ways, then a second discovery (session 2).
    let frames = pcap_frames("suricata-pppoe-input.pcap");
    assert_eq!(frames.len(), 37);
    let host = "00:00:cd:38:13:43";
    let ac = "ee:86:e2:f9:70:57";
    let cookie = hex("afb0dfbe9a018fc9fa8ce5c41f47a97b1c522b00");
    let hu = hex("00001761");
    let padi = disc(&frames[0], host, "ff:ff:ff:ff:ff:ff");
    assert_eq!(tags(&padi), vec![(tag::SERVICE_NAME, vec![]), (tag::HOST_UNIQ, hu.clone())]);
    let pado = disc(&frames[1], ac, host);
    assert_eq!((pado.code, pado.session_id), (Code::Pado, 0));
    assert_eq!(
        tags(&pado),
        vec![(tag::AC_NAME, b"test".to_vec()), (tag::SERVICE_NAME, b"test".to_vec()), (tag::AC_COOKIE, cookie.clone()), (tag::HOST_UNIQ, hu.clone())]
    );
    let padr = disc(&frames[2], host, ac);
    assert_eq!(padr.code, Code::Padr);
    assert_eq!(tags(&padr), vec![(tag::SERVICE_NAME, vec![]), (tag::HOST_UNIQ, hu.clone()), (tag::AC_COOKIE, cookie.clone())]);
    let pads = disc(&frames[3], ac, host);
    assert_eq!((pads.code, pads.session_id), (Code::Pads, 1));
    assert_eq!(tags(&pads), vec![(tag::SERVICE_NAME, b"test".to_vec()), (tag::HOST_UNIQ, hu.clone())]);
    let padt_host = disc(&frames[8], host, ac);
    assert_eq!((padt_host.code, padt_host.session_id), (Code::Padt, 1));
    assert_eq!(tags(&padt_host), vec![(tag::HOST_UNIQ, hu), (tag::GENERIC_ERROR, b"pppd terminated".to_vec()), (tag::AC_COOKIE, cookie)]);
    let padt_ac = disc(&frames[9], ac, host);
    assert_eq!(padt_ac.error(), Some((tag::GENERIC_ERROR, "Received PADT".to_string())));
    let pads2 = disc(&frames[14], ac, host);
    assert_eq!((pads2.code, pads2.session_id, pads2.tag(tag::HOST_UNIQ)), (Code::Pads, 2, Some(&hex("00001776")[..])));
    // Every session frame parses, with session 1 or 2.
    let mut sessions = 0;
    for f in &frames {
        let (eth, pppoe) = parse_eth(f).unwrap();
        if eth.ethertype == ETH_P_PPP_SES {
            let (sid, _) = parse_session(pppoe).unwrap();
            assert!(sid == 1 || sid == 2);
            sessions += 1;
        }
    }
    assert_eq!(sessions, 37 - 10);
}

#[test]
fn capture_arkime() {
    // tshark: ten session frames, session 0x069d, IPv4 (0x0021); lengths as below.
    let frames = pcap_frames("arkime-pppoe.pcap");
    let lens: Vec<usize> = frames
        .iter()
        .map(|f| {
            let (eth, pppoe) = parse_eth(f).unwrap();
            let (sid, ppp) = parse_session(pppoe).unwrap();
            assert_eq!((sid, &ppp[..2]), (0x069d, &[0x00, 0x21][..]));
            assert_eq!(session_frame(eth.dst, eth.src, sid, ppp), *f);
            ppp.len()
        })
        .collect();
    assert_eq!(lens, vec![50, 46, 42, 120, 1402, 1402, 42, 537, 246, 109]);
}
