//! proacd's OS layer against the host kernel: `AF_PACKET` sockets
//! ([`proac::sys::PacketSocket`]) and [`proac::sys::interface_info`] on a
//! veth pair between two network namespaces the test creates (`ip netns
//! add`), and the error path of the kernel PPPoE functions where the host
//! has no `pppoe` module (the kernel lab's `proacd-bridge` scenario
//! exercises the success path).
//!
//! The test process stays in its own namespace: each socket is opened by a
//! short-lived thread that first joins the wanted namespace (`setns`), and
//! a socket keeps the namespace it was created in. Without root or `ip
//! netns`, the tests print `SKIP` and pass. Addresses: 192.0.2.0/24 only.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use proac::proto::packet::MacAddr;
use proac::sys::{self, IfInfo, PacketSocket};

/// Two namespaces `A` and `B` joined by veth `pa` (A, 192.0.2.1/24) and
/// `pb` (B, 192.0.2.2/24), both up; deleted on drop.
struct Pair {
    a: String,
    b: String,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).output();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

/// `ip ARGS`: its stdout; panics when it fails.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pair, or None (after printing SKIP) when this host cannot make it.
fn pair() -> Option<Pair> {
    if !is_root() {
        println!("SKIP: not root");
        return None;
    }
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let a = format!("proacd-sys-{}-{n}a", std::process::id());
    match Command::new("ip").args(["netns", "add", &a]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!("SKIP: ip netns add failed: {}", String::from_utf8_lossy(&o.stderr).trim());
            return None;
        }
        Err(e) => {
            println!("SKIP: cannot run ip: {e}");
            return None;
        }
    }
    let b = format!("proacd-sys-{}-{n}b", std::process::id());
    let p = Pair { a: a.clone(), b: b.clone() };
    ip(&["netns", "add", &b]);
    ip(&["link", "add", "pa", "netns", &a, "type", "veth", "peer", "name", "pb", "netns", &b]);
    ip(&["-n", &a, "addr", "add", "192.0.2.1/24", "dev", "pa"]);
    ip(&["-n", &b, "addr", "add", "192.0.2.2/24", "dev", "pb"]);
    for (ns, dev) in [(&a, "pa"), (&b, "pb"), (&a, "lo"), (&b, "lo")] {
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    Some(p)
}

/// Runs `f` on a thread that has joined network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).expect("open the netns file");
        // SAFETY: setns(2) on an open namespace fd; it affects this thread only.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread")
}

fn open(ns: &str, dev: &'static str, ethertype: u16) -> PacketSocket {
    in_netns(ns, move || PacketSocket::open(dev, ethertype)).unwrap_or_else(|e| panic!("open {dev} {ethertype:#x}: {e}"))
}

fn info(ns: &str, dev: &'static str) -> IfInfo {
    in_netns(ns, move || sys::interface_info(dev)).unwrap_or_else(|e| panic!("interface_info {dev}: {e}"))
}

fn readable(fd: BorrowedFd<'_>, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// The next frame on `s`, within 3 s; panics when none comes.
fn next_frame(s: &PacketSocket) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while readable(s.as_fd(), deadline) {
        if let Some(n) = s.recv(&mut buf).expect("recv") {
            return buf[..n].to_vec();
        }
    }
    panic!("no frame on {} ({:#x}) within 3 s", s.info().name, s.ethertype());
}

/// Asserts nothing is queued on `s` now.
fn nothing_queued(s: &PacketSocket, what: &str) {
    let mut buf = [0u8; 2048];
    let got = s.recv(&mut buf).expect("recv");
    assert_eq!(got.map(|n| buf[..n].to_vec()), None, "{what}: unexpected frame on {} ({:#x})", s.info().name, s.ethertype());
}

fn frame(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A PADI (RFC 2516 §5.1): ver/type 0x11, code 0x09, session 0, length
/// 12, tags Service-Name "" and Host-Uniq 01 02 03 04.
const PADI: [u8; 18] = [0x11, 0x09, 0x00, 0x00, 0x00, 0x0c, 0x01, 0x01, 0x00, 0x00, 0x01, 0x03, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04];
/// A session frame of session 0x0042 carrying an LCP Echo-Request (RFC 2516 §6).
const SESSION: [u8; 16] = [0x11, 0x00, 0x00, 0x42, 0x00, 0x0a, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78];

#[test]
fn interface_info_matches_ip_link() {
    let Some(p) = pair() else { return };
    let got = info(&p.a, "pa");
    let json: String = ip(&["-n", &p.a, "-j", "link", "show", "pa"]).chars().filter(|c| !c.is_whitespace()).collect();
    assert!(json.contains(&format!("\"address\":\"{}\"", got.mac)), "{got:?} vs {json}");
    assert!(json.contains(&format!("\"ifindex\":{},", got.ifindex)), "{got:?} vs {json}");
    assert!(json.contains(&format!("\"mtu\":{},", got.mtu)) && got.mtu == 1500, "{got:?} vs {json}");
    assert!(got.up && got.name == "pa" && !got.mac.is_zero() && !got.mac.is_multicast(), "{got:?}");
    ip(&["-n", &p.a, "link", "set", "pa", "down", "mtu", "1400"]);
    let down = info(&p.a, "pa");
    assert!(!down.up && down.mtu == 1400 && down.mac == got.mac, "{down:?}");
    // The peer's end is another interface with another address.
    let b = info(&p.b, "pb");
    assert_ne!(b.mac, got.mac);
    // pa does not exist in B: NotFound naming the interface.
    let e = in_netns(&p.b, || sys::interface_info("pa")).expect_err("pa is not in B");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().starts_with("pa: "), "{e}");
}

#[test]
fn packet_sockets_see_only_their_ethertype_and_not_their_own_frames() {
    let Some(p) = pair() else { return };
    let disc_a = open(&p.a, "pa", 0x8863);
    let disc_a2 = open(&p.a, "pa", 0x8863);
    let disc_b = open(&p.b, "pb", 0x8863);
    let sess_b = open(&p.b, "pb", 0x8864);
    let (mac_a, mac_b) = (disc_a.info().mac, disc_b.info().mac);
    assert_eq!(disc_b.info().mac, info(&p.b, "pb").mac);

    // IPv4 and ARP cross the link first: none of it may reach the sockets.
    let ping = Command::new("ip").args(["netns", "exec", &p.a, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.2"]).output().expect("run ping");
    assert!(ping.status.success(), "ping: {}", String::from_utf8_lossy(&ping.stdout));

    // A broadcast PADI from A arrives in B byte for byte, as B's first
    // discovery frame (the ARP and IPv4 frames before it were filtered).
    let padi = frame(MacAddr::BROADCAST, mac_a, 0x8863, &PADI);
    disc_a.send(&padi).expect("send the PADI");
    assert_eq!(next_frame(&disc_b), padi);
    // Neither the sender nor another discovery socket of the sending host
    // reads the outgoing copy (a protocol-bound packet socket gets none;
    // PACKET_IGNORE_OUTGOING and the PACKET_OUTGOING check hold it too).
    nothing_queued(&disc_a, "own PADI");
    nothing_queued(&disc_a2, "own host's PADI");

    // A session frame reaches only the session socket, as its first frame:
    // the PADI and the IPv4/ARP frames were not given to it.
    let session = frame(mac_b, mac_a, 0x8864, &SESSION);
    disc_a.send(&session).expect("send a session frame on a discovery socket");
    assert_eq!(next_frame(&sess_b), session);
    nothing_queued(&disc_b, "session frame on the discovery socket");

    // The other way: B's unicast reply reaches both discovery sockets of A.
    let mut pado = PADI;
    pado[1] = 0x07;
    let pado = frame(mac_a, mac_b, 0x8863, &pado);
    disc_b.send(&pado).expect("send the PADO");
    assert_eq!(next_frame(&disc_a), pado);
    assert_eq!(next_frame(&disc_a2), pado);
    nothing_queued(&disc_b, "own PADO");
    nothing_queued(&sess_b, "PADO on the session socket");
}

#[test]
fn send_errors_name_the_interface_and_recv_would_block() {
    let Some(p) = pair() else { return };
    let s = open(&p.a, "pa", 0x8863);
    let mut buf = [0u8; 64];
    assert!(s.recv(&mut buf).expect("recv").is_none());
    let e = s.send(&[0u8; 4]).expect_err("a 4-octet frame");
    assert!(e.to_string().starts_with("pa: send (4 octets)"), "{e}");
    let too_big = frame(MacAddr::BROADCAST, s.info().mac, 0x8863, &[0u8; 1600]);
    let e = s.send(&too_big).expect_err("a frame over the MTU");
    assert!(e.to_string().starts_with("pa: send (1614 octets)"), "{e}");
    // Opening on an interface of another namespace fails with its name.
    let e = in_netns(&p.b, || PacketSocket::open("pa", 0x8863)).expect_err("pa is not in B");
    assert!(e.to_string().starts_with("pa: "), "{e}");
}

/// The kernel PPPoE path where the host has it, its errors where not: the
/// error names the interface and session.
#[test]
fn pppoe_kernel_path_or_its_error() {
    let Some(p) = pair() else { return };
    let peer = info(&p.b, "pb").mac;
    let available = in_netns(&p.a, sys::pppoe_kernel_available);
    let result = in_netns(&p.a, move || sys::pppoe_connect("pa", 0x42, peer).and_then(|fd| sys::ppp_channel_index(fd.as_fd()).map(|c| (fd, c))));
    match result {
        Ok((_fd, channel)) => {
            assert!(available, "pppoe_connect worked but pppoe_kernel_available said no");
            println!("kernel PPPoE: session 0x42 on pa is PPP channel {channel}");
        }
        Err(e) => {
            assert!(!available, "pppoe_kernel_available but pppoe_connect failed: {e}");
            assert!(e.to_string().starts_with(&format!("pa: PPPoE session 66 with {peer}: socket(AF_PPPOX")), "{e}");
        }
    }
    let e = in_netns(&p.a, move || sys::pppoe_connect("pa", 0, peer)).expect_err("session 0");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
}
