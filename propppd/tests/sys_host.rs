//! propppd's OS layer against the host kernel, inside network namespaces
//! the tests create: TUN devices ([`proppp::sys::tun::Tun`]) and interface
//! state and addresses through rtnetlink ([`proppp::sys::netif::NetIf`]).
//! (`/dev/ppp` units need the kernel lab: this host has no `ppp_generic`.)
//!
//! Each test re-runs itself, as a child process, inside a fresh namespace
//! (`ip netns exec NS <this test binary> --exact <test>` with
//! `PROPPPD_SYS_HOST_CHILD` set): the child does the work and checks what
//! `ip` reports; the parent checks that the child passed and deletes the
//! namespace. Without root or `ip netns`, the tests print `SKIP` and pass.
//! Addresses: 192.0.2.0/24 and fe80::/64 only.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::BorrowedFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use proppp::sys::netif::NetIf;
use proppp::sys::tun::Tun;

const CHILD_ENV: &str = "PROPPPD_SYS_HOST_CHILD";

/// A namespace deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).output();
    }
}

/// True in the child, which runs the test body. In the parent: runs the
/// child in a new namespace, asserts it passed, and returns false.
fn in_child_netns(test: &str) -> bool {
    if std::env::var_os(CHILD_ENV).is_some() {
        return true;
    }
    // The effective uid, from /proc (no libc call needed).
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false);
    if !root {
        println!("SKIP: not root");
        return false;
    }
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("propppd-sys-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    match Command::new("ip").args(["netns", "add", &name]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!("SKIP: ip netns add failed: {}", String::from_utf8_lossy(&o.stderr).trim());
            return false;
        }
        Err(e) => {
            println!("SKIP: cannot run ip: {e}");
            return false;
        }
    }
    let ns = Netns(name);
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed in {}:\n{stdout}\n{stderr}", ns.0);
    assert!(stdout.contains("1 passed"), "the child did not run {test}:\n{stdout}\n{stderr}");
    false
}

/// `ip ARGS` in this (the child's) namespace: its stdout; panics when it fails.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes the whitespace from `ip -j` output, for substring checks.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn readable(fd: BorrowedFd<'_>, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// The next IPv4 packet read from `tun` that `pred` accepts, within 3 s.
fn read_ipv4(tun: &Tun, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while readable(tun.fd(), deadline) {
        if let Some(n) = tun.read(&mut buf).expect("read the tun") {
            let p = &buf[..n];
            if p.first().map(|b| b >> 4) == Some(4) && pred(p) {
                return p.to_vec();
            }
        }
    }
    panic!("no matching IPv4 packet on {} within 3 s", tun.ifname);
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4/UDP packet (UDP checksum 0: none, allowed on IPv4).
fn udp4(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    let sum = ipv4_checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

#[test]
fn tun_up_mtu_ipv4_ptp_and_packets_both_ways() {
    if !in_child_netns("tun_up_mtu_ipv4_ptp_and_packets_both_ways") {
        return;
    }
    let tun = Tun::open("ppp%d").expect("create ppp%d");
    // A fresh namespace: the kernel picks the first free number.
    assert_eq!(tun.ifname, "ppp0");
    let mut netif = NetIf::open().expect("rtnetlink socket");
    let ifindex = netif.ifindex("ppp0").expect("ifindex");
    assert!(ifindex > 1, "{ifindex}");

    netif.set_link("ppp0", true, Some(1400)).expect("up, mtu 1400");
    let link = compact(&ip(&["-j", "link", "show", "dev", "ppp0"]));
    assert!(link.contains("\"mtu\":1400"), "{link}");
    assert!(link.contains("\"UP\""), "{link}");
    assert!(link.contains("POINTOPOINT"), "{link}");
    let info = netif.link("ppp0").expect("link");
    assert_eq!((info.ifindex, info.mtu, info.flags & 1), (ifindex, Some(1400), 1));

    netif.add_ipv4_ptp("ppp0", LOCAL, PEER).expect("add 192.0.2.1 peer 192.0.2.2");
    // Adding it again replaces it: no error, still one address.
    netif.add_ipv4_ptp("ppp0", LOCAL, PEER).expect("add again");
    let addr = compact(&ip(&["-j", "-4", "addr", "show", "dev", "ppp0"]));
    assert!(addr.contains("\"local\":\"192.0.2.1\",\"address\":\"192.0.2.2\",\"prefixlen\":32"), "{addr}");
    assert_eq!(addr.matches("\"local\"").count(), 1, "{addr}");
    let route = ip(&["-4", "route", "show", "dev", "ppp0"]);
    assert!(route.lines().any(|l| l.starts_with("192.0.2.2 ") && l.contains("scope link") && l.contains("src 192.0.2.1")), "{route}");

    // Out: a datagram to the peer leaves through the TUN as one IPv4 packet.
    let sock = UdpSocket::bind((LOCAL, 0)).expect("bind 192.0.2.1");
    let port = sock.local_addr().expect("local addr").port();
    sock.send_to(b"to the peer", (PEER, 9)).expect("send to 192.0.2.2:9");
    let p = read_ipv4(&tun, |p| p.get(9) == Some(&17));
    assert_eq!((&p[12..16], &p[16..20]), (&LOCAL.octets()[..], &PEER.octets()[..]));
    assert_eq!(&p[22..24], &9u16.to_be_bytes());
    assert_eq!(&p[28..], b"to the peer");

    // In: a packet written to the TUN is delivered to the local socket.
    let packet = udp4(SocketAddrV4::new(PEER, 9), SocketAddrV4::new(LOCAL, port), b"from the peer");
    tun.write(&packet).expect("write to the tun");
    sock.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).expect("the packet written to the tun");
    assert_eq!((&buf[..n], from), (&b"from the peer"[..], (PEER, 9).into()));

    // The interface counted both packets, 64-bit.
    let stats = netif.stats("ppp0").expect("stats");
    assert!(stats.tx_packets >= 1 && stats.tx_bytes >= 28 + 11, "{stats:?}");
    assert_eq!((stats.rx_packets, stats.rx_bytes), (1, packet.len() as u64), "{stats:?}");

    // Nothing else waits on the TUN that is not ours to read.
    let mut buf = [0u8; 2048];
    while let Some(n) = tun.read(&mut buf).expect("read") {
        assert_ne!(buf.first().map(|b| b >> 4), Some(4), "unexpected IPv4 packet: {:02x?}", &buf[..n]);
    }
}

#[test]
fn ipv6_link_local_ptp() {
    if !in_child_netns("ipv6_link_local_ptp") {
        return;
    }
    let tun = Tun::open("ppp%d").expect("create ppp%d");
    let mut netif = NetIf::open().expect("rtnetlink socket");
    netif.set_link(&tun.ifname, true, Some(1500)).expect("up");
    netif.add_ipv6_link_local(&tun.ifname, 1, 2).expect("add fe80::1 peer fe80::2");
    let addr = compact(&ip(&["-j", "-6", "addr", "show", "dev", &tun.ifname]));
    assert!(addr.contains("\"local\":\"fe80::1\",\"address\":\"fe80::2\",\"prefixlen\":128,\"scope\":\"link\""), "{addr}");
    // The peer route follows the address once the kernel's (skipped) DAD
    // has completed, which its workqueue does a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let route = ip(&["-6", "route", "show", "dev", &tun.ifname]);
        if route.lines().any(|l| l.starts_with("fe80::2 ")) {
            break;
        }
        assert!(Instant::now() < deadline, "no route to fe80::2 within 5 s: {route}");
        std::thread::yield_now();
    }
}

#[test]
fn rename_down_only_then_delete() {
    if !in_child_netns("rename_down_only_then_delete") {
        return;
    }
    let tun = Tun::open("ppp%d").expect("create ppp%d");
    let mut netif = NetIf::open().expect("rtnetlink socket");
    let ifindex = netif.ifindex(&tun.ifname).expect("ifindex");
    netif.set_link(&tun.ifname, true, None).expect("up");
    let errno = |r: std::io::Result<()>| r.err().and_then(|e| e.raw_os_error());
    // Renaming an up link: EBUSY before Linux 6.2, allowed since. Either
    // way the name must not change when it is refused.
    match errno(netif.rename(&tun.ifname, "l2tp-ppp7")) {
        Some(libc::EBUSY) => assert_eq!(netif.ifindex(&tun.ifname).ok(), Some(ifindex)),
        None => netif.rename("l2tp-ppp7", &tun.ifname).expect("rename back"),
        other => panic!("renaming an up link: {other:?}"),
    }

    netif.set_link(&tun.ifname, false, Some(1280)).expect("down, mtu 1280");
    let link = compact(&ip(&["-j", "link", "show", "dev", &tun.ifname]));
    assert!(link.contains("\"mtu\":1280") && !link.contains("\"UP\""), "{link}");
    netif.rename(&tun.ifname, "l2tp-ppp7").expect("rename");
    assert_eq!(netif.ifindex("l2tp-ppp7").ok(), Some(ifindex));
    assert_eq!(netif.ifindex(&tun.ifname).err().and_then(|e| e.raw_os_error()), Some(libc::ENODEV));
    let link = compact(&ip(&["-j", "link", "show", "dev", "l2tp-ppp7"]));
    assert!(link.contains(&format!("\"ifindex\":{ifindex},\"ifname\":\"l2tp-ppp7\"")), "{link}");

    netif.delete_link("l2tp-ppp7").expect("delete");
    assert_eq!(errno(netif.delete_link("l2tp-ppp7")), Some(libc::ENODEV));
    assert!(!ip(&["link", "show"]).contains("l2tp-ppp7"));
}

#[test]
fn dropping_the_tun_removes_its_interface() {
    if !in_child_netns("dropping_the_tun_removes_its_interface") {
        return;
    }
    let mut netif = NetIf::open().expect("rtnetlink socket");
    let tun = Tun::open("tunx%d").expect("create tunx%d");
    assert_eq!(tun.ifname, "tunx0");
    let taken = Tun::open("tunx0").err().and_then(|e| e.raw_os_error());
    assert_eq!(taken, Some(libc::EBUSY), "a second open of a live name");
    assert!(netif.ifindex("tunx0").is_ok());
    drop(tun);
    assert_eq!(netif.ifindex("tunx0").err().and_then(|e| e.raw_os_error()), Some(libc::ENODEV));
}
