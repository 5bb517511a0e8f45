//! The userspace data plane end to end (issue 3, "done" item 5): prol2tpd
//! against prol2tpd in two network namespaces with `dataplane = userspace`,
//! an L2TPv3 Ethernet pseudowire with cookies, over UDP/IPv4 (with
//! sequence numbers) and over IP/IPv6 (8-octet cookies), and `ping` across
//! the two TAP interfaces both ways. Over IP, a forged packet with a wrong
//! cookie is injected too and must be counted and dropped.
//!
//! A `prol2tpwatch -j` on the LNS checks that the session's SESSION UP
//! event names the TAP device the plane made, and comes right after the
//! session is up (not after the events' ten-second wait for an interface).
//!
//! The session counters are read twice: live through `prol2tp show session`
//! (text, and `-j`), before and after the pings, and from the `dataplane
//! session down` line each daemon logs when its session ends (at SIGTERM).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;

const UP_TIMEOUT: Duration = Duration::from_secs(20);

/// How the pseudowire is set up for one run.
struct Pw {
    /// Namespace/directory tag.
    tag: &'static str,
    /// `udp` or `ip`.
    encap: &'static str,
    /// Peer address of the LNS as the LAC's `peer =` writes it.
    lns_peer: &'static str,
    /// Cookie the LNS expects (and the LAC sends).
    lns_cookie: &'static str,
    /// Cookie the LAC expects (and the LNS sends).
    lac_cookie: &'static str,
    /// Inject one data packet with a wrong cookie into the LNS's session
    /// (IP encapsulation over IPv6 only) after the pings.
    forge: bool,
    /// `seqnum = yes` on both sides.
    seqnum: bool,
}

/// The two daemons' configs: the LNS accepts v3 tunnels from both
/// documentation networks; the LAC dials one with an Ethernet session.
fn configs(pw: &Pw) -> (String, String) {
    let seq = if pw.seqnum { "seqnum = yes\n" } else { "" };
    let lns = format!(
        "[system]\ndataplane = userspace\nhost_name = lns.example\n\n\
         [tunnel_profile \"v3\"]\nversion = 3\nsecret = pw-secret\nsession_profile = eth\n\n\
         [session_profile \"eth\"]\npseudowire = eth\ncookie = {}\npeer_cookie = {}\n{seq}\n\
         [peer_profile \"v4\"]\npeer = 192.0.2.0/24\ntunnel_profile = v3\n\n\
         [peer_profile \"v6\"]\npeer = 2001:db8::/64\ntunnel_profile = v3\n",
        pw.lns_cookie, pw.lac_cookie
    );
    let lac = format!(
        "[system]\ndataplane = userspace\nhost_name = lac.example\n\n\
         [tunnel \"t\"]\npeer = {}\nversion = 3\nencap = {}\nsecret = pw-secret\n\n\
         [session \"t/pw\"]\npseudowire = eth\ninterface_name = pw%d\ncookie = {}\npeer_cookie = {}\n{seq}",
        pw.lns_peer, pw.encap, pw.lac_cookie, pw.lns_cookie
    );
    (lns, lac)
}

/// The TAP interface a daemon made for its session (from its
/// `dataplane session up` line).
fn interface_of(d: &Prol2tpd<'_>) -> String {
    let f = d.wait_event("dataplane session up", UP_TIMEOUT, |_| true);
    assert_eq!(f.req("pseudowire"), "ETH");
    f.req("interface").to_string()
}

/// `(tunnel_id, session_id)` of the daemon's session (from its
/// `dataplane session up` line).
fn ids_of(d: &Prol2tpd<'_>) -> (String, String) {
    let f = d.wait_event("dataplane session up", UP_TIMEOUT, |_| true);
    (f.req("tunnel_id").to_string(), f.req("session_id").to_string())
}

/// The session's record in `prol2tp show session T S`.
fn show_session(d: &Prol2tpd<'_>) -> HashMap<String, String> {
    let (t, s) = ids_of(d);
    d.cli_record(&format!("show session {t} {s}"))
}

/// Field `key` of a `show` record, as a number.
fn num(r: &HashMap<String, String>, key: &str) -> u64 {
    let v = r.get(key).unwrap_or_else(|| panic!("no {key} in {r:?}"));
    v.parse().unwrap_or_else(|e| panic!("{key}={v}: {e}"))
}

/// Number `key` in the one-object JSON `out` of `prol2tp -j`.
fn json_num(out: &str, key: &str) -> Option<u64> {
    let i = out.find(&format!("\"{key}\":"))?.checked_add(key.len() + 3)?;
    let digits: String = out.get(i..)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Live counters of both daemons' sessions after the pings, compared with
/// `before`: 3 echo requests and 3 replies crossed each way, so each side
/// sent and received at least 6 frames of at least 98 octets (Ethernet +
/// IPv4 + ICMP echo with 56 octets of data). The tunnel's counters cover
/// the session's; `-j` carries the same fields.
fn check_live_counters(lns: &Prol2tpd<'_>, lac: &Prol2tpd<'_>, before: &[HashMap<String, String>; 2]) {
    for (d, before) in [lns, lac].into_iter().zip(before) {
        let after = show_session(d);
        for dir in ["rx", "tx"] {
            let moved = num(&after, &format!("data_{dir}_packets")).saturating_sub(num(before, &format!("data_{dir}_packets")));
            assert!(moved >= 6, "data_{dir}_packets moved by {moved}: before {before:?} after {after:?}");
            let octets = num(&after, &format!("data_{dir}_octets")).saturating_sub(num(before, &format!("data_{dir}_octets")));
            assert!(octets >= 6 * 98, "data_{dir}_octets moved by {octets}: {after:?}");
            assert_eq!(num(&after, &format!("data_{dir}_errors")), 0, "{after:?}");
        }
        assert_eq!(num(&after, "data_rx_seq_discards"), 0, "{after:?}");
        let (t, s) = ids_of(d);
        let json = d.cli_ok(&format!("-j show session {t} {s}"));
        assert!(json_num(&json, "data_rx_packets").is_some_and(|n| n >= num(&after, "data_rx_packets")), "{json}");
        let tunnel = d.cli_record(&format!("show tunnel {t}"));
        assert!(num(&tunnel, "data_tx_packets") >= num(&after, "data_tx_packets"), "{tunnel:?}");
        assert!(num(&tunnel, "data_rx_octets") >= num(&after, "data_rx_octets"), "{tunnel:?}");
        assert_eq!(d.cli_record("show system").get("dataplane").map(String::as_str), Some("userspace"));
    }
}

/// Counter `key` of the daemon's `dataplane session down` line.
fn counter(d: &Prol2tpd<'_>, key: &str) -> u64 {
    let f = d.wait_event("dataplane session down", Duration::from_secs(5), |_| true);
    f.req(key).parse().unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// From `ns`, sends the LNS (2001:db8::1) one L2TPv3-over-IP data packet
/// for its session with an all-zero 8-octet cookie and a 60-octet frame.
fn forge_wrong_cookie(ns: &Netns, lns: &Prol2tpd<'_>) {
    let f = lns.wait_event("dataplane session up", UP_TIMEOUT, |_| true);
    let sid = f.req("session_id");
    let script = "import socket,sys\n\
                  s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,115)\n\
                  s.sendto(int(sys.argv[1]).to_bytes(4,'big')+bytes(8)+bytes(60),('2001:db8::1',0))\n";
    ns.exec_ok(&["python3", "-c", script, sid]);
}

/// `prol2tpwatch -j -n 1 -e session-up` in `ns` against `d`, its stdout
/// in `<dir>/<name>.out`; returns once `d` counts it as a watcher.
fn watch_session_up(ns: &Netns, d: &Prol2tpd<'_>, dir: &TempDir, name: &str) -> (std::process::Child, std::path::PathBuf) {
    let out = dir.join(&format!("{name}.out"));
    let env = format!("PROL2TP_CONTROL={}", d.ctl.display());
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "env", &env, env!("CARGO_BIN_EXE_prol2tpwatch"), "-j", "-n", "1", "-e", "session-up"])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    let subscribed = wait_until(Duration::from_secs(10), || json_num(&d.cli_stdout("-j show system"), "watchers") == Some(1));
    assert!(subscribed, "watcher did not subscribe: {}", d.cli_stdout("show system"));
    (child, out)
}

fn ping(ns: &Netns, to: &str) -> bool {
    ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "3", to]).status.success()
}

/// Brings the pseudowire up, addresses both TAPs (203.0.113.1 on the LNS,
/// .2 on the LAC) and returns the namespaces, daemons and whether pings
/// crossed each way (LAC → LNS, LNS → LAC).
fn run(pw: &Pw, check: impl FnOnce(&Prol2tpd<'_>, &Prol2tpd<'_>, bool, bool)) {
    let (lns_ns, lac_ns, _veth) =
        two_netns(&format!("{}s", pw.tag), &format!("{}c", pw.tag), &["192.0.2.1/24", "2001:db8::1/64"], &["192.0.2.2/24", "2001:db8::2/64"]);
    let dir = TempDir::new(pw.tag);
    let (lns_conf, lac_conf) = configs(pw);
    let mut lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf);
    let (mut watcher, watched) = watch_session_up(&lns_ns, &lns, &dir, "lns-watch");
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf);
    assert!(lns.log().contains("dataplane requested=userspace using=userspace"), "{}", lns.log());

    let lns_if = interface_of(&lns);
    // The SESSION UP record carries the TAP device's name, at once.
    let mut line = String::new();
    let seen = wait_until(Duration::from_secs(2), || {
        line = std::fs::read_to_string(&watched).unwrap_or_default();
        line.ends_with('\n')
    });
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(seen, "no SESSION UP within 2 s of the session: {line:?}\n{}", lns.log());
    assert!(line.starts_with("{\"event\":\"SESSION UP\",\"seq\":"), "{line}");
    assert!(line.contains(&format!("\"interface_name\":\"{lns_if}\"")) && line.contains("\"session_type\":\"ETH\""), "{line}");
    let lac_if = interface_of(&lac);
    assert_eq!(lns_if, "l2tpeth0", "default name on the LNS");
    assert_eq!(lac_if, "pw0", "interface_name on the LAC");
    for (ns, ifname, addr) in [(&lns_ns, &lns_if, "203.0.113.1/24"), (&lac_ns, &lac_if, "203.0.113.2/24")] {
        let link = ns.exec_ok(&["ip", "-o", "link", "show", ifname]);
        assert!(String::from_utf8_lossy(&link.stdout).contains(",UP"), "{ifname} not up");
        ns.exec_ok(&["ip", "addr", "add", addr, "dev", ifname]);
    }
    let before = [show_session(&lns), show_session(&lac)];
    let there = ping(&lac_ns, "203.0.113.1");
    let back = ping(&lns_ns, "203.0.113.2");
    if there && back {
        check_live_counters(&lns, &lac, &before);
    }
    if pw.forge {
        forge_wrong_cookie(&lac_ns, &lns);
        // Data packets share the LNS's raw socket queue with the forged one:
        // a ping that crosses afterwards means it has been processed.
        assert!(ping(&lac_ns, "203.0.113.1"), "ping after the forged packet failed");
        assert_eq!(num(&show_session(&lns), "data_rx_cookie_discards"), 1, "the forged packet, live");
    }
    lac.terminate();
    lns.terminate();
    check(&lns, &lac, there, back);
}

#[test]
fn v3_ethernet_over_udp_ipv4_with_cookies_and_sequence() {
    if !require_root_and_netns() || !require_programs(&["ping"]) {
        return;
    }
    let pw = Pw { tag: "usu", encap: "udp", lns_peer: "192.0.2.1", lns_cookie: "0x5e6f7a8b", lac_cookie: "0x1a2b3c4d", forge: false, seqnum: true };
    run(&pw, |lns, lac, there, back| {
        assert!(there, "ping LAC → LNS failed\nLNS:\n{}\nLAC:\n{}", lns.log(), lac.log());
        assert!(back, "ping LNS → LAC failed\nLNS:\n{}\nLAC:\n{}", lns.log(), lac.log());
        for d in [lns, lac] {
            // 3 echo requests or replies each way at least, plus ARP.
            assert!(counter(d, "rx_packets") >= 6, "{}", d.log());
            assert!(counter(d, "tx_packets") >= 6, "{}", d.log());
            assert_eq!(counter(d, "cookie_mismatches"), 0);
            assert_eq!(counter(d, "seq_discards"), 0);
        }
    });
}

#[test]
fn v3_ethernet_over_ip_ipv6_with_8_octet_cookies() {
    if !require_root_and_netns() || !require_programs(&["ping", "python3"]) {
        return;
    }
    let pw = Pw {
        tag: "usi",
        encap: "ip",
        lns_peer: "[2001:db8::1]",
        lns_cookie: "0x0102030405060708",
        lac_cookie: "0x1112131415161718",
        forge: true,
        seqnum: false,
    };
    run(&pw, |lns, lac, there, back| {
        assert!(there, "ping LAC → LNS failed\nLNS:\n{}\nLAC:\n{}", lns.log(), lac.log());
        assert!(back, "ping LNS → LAC failed\nLNS:\n{}\nLAC:\n{}", lns.log(), lac.log());
        for d in [lns, lac] {
            assert!(counter(d, "rx_packets") >= 6, "{}", d.log());
        }
        assert_eq!(counter(lns, "cookie_mismatches"), 1, "the forged packet");
        assert_eq!(counter(lac, "cookie_mismatches"), 0);
    });
}
