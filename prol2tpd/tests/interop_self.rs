//! prol2tpd against prol2tpd, as real processes in network namespaces
//! (test layer 5 in DESIGN.md): L2TPv3 Ethernet pseudowires over UDP and IP
//! on IPv4 and IPv6 with cookies, L2TPv2 over IPv6, peers refused by the
//! peer profiles, cookie mismatches, SIGHUP reloads and `prol2tpd -n`.
//!
//! Each test makes its own namespaces (192.0.2.0/24 and 2001:db8::/64 on a
//! veth pair), runs two daemons with the null data plane, and checks what a
//! user relies on: the daemons' log lines (`tunnel up`, `session up`,
//! `tunnel down … result=…`), the `prol2tp` CLI run inside the daemon's
//! namespace (its control socket is per namespace), and the wire through
//! `tshark`. Nothing sleeps a fixed time: every wait polls a condition.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

/// How long a tunnel and its session may take to come up on veth.
const UP: Duration = Duration::from_secs(15);

/// Two namespaces joined by veth: `lns` holds 192.0.2.1 and 2001:db8::1,
/// `lac` holds 192.0.2.2 and 2001:db8::2.
fn two_hosts(tag: &str) -> (Netns, Netns, VethPair) {
    two_netns(&format!("{tag}n"), &format!("{tag}c"), &["192.0.2.1/24", "2001:db8::1/64"], &["192.0.2.2/24", "2001:db8::2/64"])
}

/// The set-up of most tests: `None` (after a SKIP line) when namespaces
/// cannot be used; otherwise the LNS and LAC namespaces of [`two_hosts`] and
/// the test's directory, all named after `tag`.
fn hosts(tag: &str) -> Option<(Netns, Netns, TempDir)> {
    if !require_root_and_netns() {
        return None;
    }
    let (lns_ns, lac_ns, _veth) = two_hosts(tag);
    Some((lns_ns, lac_ns, TempDir::new(tag)))
}

/// One L2TPv3 Ethernet pseudowire scenario (test 6).
struct PwCase {
    tag: &'static str,
    ipv6: bool,
    encap_ip: bool,
    /// Cookie the LAC assigns (the LNS's `peer_cookie`).
    lac_cookie: &'static str,
    /// Cookie the LNS assigns (the LAC's `peer_cookie`).
    lns_cookie: &'static str,
}

/// L2TPv3 with secret, hidden AVPs and an Ethernet pseudowire with cookies:
/// both sides come up with the cookies each assigned and expected, the wire
/// shows the transport, hidden AVPs and the Message Digest AVP, and SIGTERM
/// on the LAC reaches the LNS as StopCCN result 6 (shutting down).
fn v3_eth_pseudowire(case: PwCase) {
    if !require_root_and_netns() || !require_programs(&["tcpdump", "tshark"]) {
        return;
    }
    let (lns_ns, lac_ns, veth) = two_hosts(case.tag);
    let dir = TempDir::new(case.tag);
    let (prefix, lns_addr, lac_addr) = if case.ipv6 { ("2001:db8::/64", "[2001:db8::1]", "2001:db8::2") } else { ("192.0.2.0/24", "192.0.2.1", "192.0.2.2") };
    let encap = if case.encap_ip { "ip" } else { "udp" };
    // Both transports, so a control packet on the wrong one would show.
    let filter = "udp port 1701 or ip proto 115 or ip6 proto 115";
    let mut cap = NetnsCapture::start(&lns_ns, &veth.a, filter, &dir, "pw");
    let lns = Prol2tpd::start(
        &lns_ns,
        &dir,
        "lns",
        &format!(
            "[system]\ndataplane = null\nhost_name = lns.example\n\n\
             [tunnel_profile \"v3\"]\nversion = 3\nsecret = pw-secret\nhide_avps = yes\n\
             session_profile = eth\n\n\
             [session_profile \"eth\"]\npseudowire = eth\ncookie = {}\npeer_cookie = {}\n\n\
             [peer_profile \"lacs\"]\npeer = {prefix}\ntunnel_profile = v3\n",
            case.lns_cookie, case.lac_cookie
        ),
    );
    let mut lac = Prol2tpd::start(
        &lac_ns,
        &dir,
        "lac",
        &format!(
            "[system]\ndataplane = null\nhost_name = lac.example\n\n\
             [tunnel \"pw\"]\npeer = {lns_addr}\nversion = 3\nencap = {encap}\n\
             secret = pw-secret\nhide_avps = yes\n\n\
             [session \"pw/eth0\"]\npseudowire = eth\ncookie = {}\npeer_cookie = {}\n",
            case.lac_cookie, case.lns_cookie
        ),
    );

    let lac_up = lac.wait_event("session up", UP, |_| true);
    let lns_up = lns.wait_event("session up", UP, |_| true);
    assert_eq!(lac_up.req("peer_session_id"), lns_up.req("session_id"));
    assert_eq!(lns_up.req("peer_session_id"), lac_up.req("session_id"));
    let lac_tunnel = lac.wait_event("tunnel up", UP, |_| true);
    assert_eq!(lac_tunnel.req("version"), "V3");
    let lns_tid = lns_up.req("tunnel_id").to_string();
    let lns_tunnel = lns.wait_event("tunnel up", UP, |f| f.req("tunnel_id") == lns_tid);
    assert!(lns_tunnel.req("peer").contains(lac_addr), "LNS sees peer {} instead of {lac_addr}", lns_tunnel.req("peer"));

    // What each side holds: transport, version, and the cookies.
    let t = lns.cli_record(&format!("show tunnel {lns_tid}"));
    assert_record(&t, &[("transport", encap), ("version", "3"), ("state", "established"), ("hide_avps", "yes"), ("peer_host_name", "lac.example")]);
    let hex = |c: &str| c.trim_start_matches("0x").to_ascii_lowercase();
    let s = lns.cli_record(&format!("show session {lns_tid} {}", lns_up.req("session_id")));
    assert_record(&s, &[("pseudowire", "ETH"), ("cookie", hex(case.lns_cookie).as_str()), ("peer_cookie", hex(case.lac_cookie).as_str())]);
    let s = lac.cli_record("show session pw eth0");
    assert_record(&s, &[("state", "established"), ("cookie", hex(case.lac_cookie).as_str()), ("peer_cookie", hex(case.lns_cookie).as_str())]);

    let (took, ok) = lac.terminate();
    assert!(ok, "LAC exit status not 0:\n{}", lac.log());
    assert!(took < Duration::from_secs(6), "LAC took {took:?} to exit");
    let down = lns.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == lns_tid);
    assert_eq!(down.req("result"), "6", "LNS log:\n{}", lns.log());
    assert_eq!(down.req("was_up"), "true");

    // On the wire: the chosen transport, AVPs hidden, Message Digest AVP
    // (type 59, RFC 3931 §5.4.1) and the StopCCN (type 4).
    let pcap = cap.stop();
    let v3 = tshark(&pcap, &["-Y", "l2tp.version == 3 && l2tp.type == 1"]);
    assert!(!v3.trim().is_empty(), "no L2TPv3 control packet captured");
    let wrong = if case.encap_ip { "udp" } else { "ip.proto == 115 or ipv6.nxt == 115" };
    assert!(tshark(&pcap, &["-Y", &format!("l2tp && ({wrong})")]).trim().is_empty(), "control packets on the wrong transport");
    for (filter, what) in [("l2tp.avp.hidden == 1", "hidden AVP"), ("l2tp.avp.type == 59", "Message Digest AVP"), ("l2tp.avp.message_type == 4", "StopCCN")] {
        assert!(!tshark(&pcap, &["-Y", filter]).trim().is_empty(), "no {what} captured");
    }
}

/// One `#[test]` running [`v3_eth_pseudowire`] per `name: case;` line.
macro_rules! pseudowire_tests {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                v3_eth_pseudowire($case);
            }
        )*
    };
}

pseudowire_tests! {
    v3_udp_ipv4_eth_pseudowire_with_4_octet_cookies: PwCase { tag: "u4", ipv6: false, encap_ip: false, lac_cookie: "0x1a2b3c4d", lns_cookie: "0x5e6f7a8b" };
    v3_ip_ipv4_eth_pseudowire_with_8_octet_cookies: PwCase { tag: "i4", ipv6: false, encap_ip: true, lac_cookie: "0x0102030405060708", lns_cookie: "0x1112131415161718" };
    v3_udp_ipv6_eth_pseudowire_with_8_octet_cookies: PwCase { tag: "u6", ipv6: true, encap_ip: false, lac_cookie: "0xa1a2a3a4a5a6a7a8", lns_cookie: "0xb1b2b3b4b5b6b7b8" };
    v3_ip_ipv6_eth_pseudowire_with_4_octet_cookies: PwCase { tag: "i6", ipv6: true, encap_ip: true, lac_cookie: "0xc1c2c3c4", lns_cookie: "0xd1d2d3d4" };
}

/// The LNS side of a plain L2TPv2 setup: secret, hidden AVPs, peers in
/// `prefix`, PPP sessions.
fn v2_lns_conf(prefix: &str) -> String {
    format!(
        "[system]\ndataplane = null\nhost_name = lns.example\n\n\
         [tunnel_profile \"v2\"]\nsecret = v2-secret\nhide_avps = yes\n\n\
         [peer_profile \"lacs\"]\npeer = {prefix}\ntunnel_profile = v2\n"
    )
}

/// A LAC tunnel instance `name` (L2TPv2, secret, hidden AVPs) to `peer`
/// with one PPP session `name/ppp0`; `extra` is added to the tunnel section.
fn v2_lac_tunnel(name: &str, peer: &str, extra: &str) -> String {
    format!(
        "[tunnel \"{name}\"]\npeer = {peer}\nversion = 2\nsecret = v2-secret\nhide_avps = yes\n{extra}\n\
         [session \"{name}/ppp0\"]\npseudowire = ppp\n\n"
    )
}

const LAC_SYSTEM: &str = "[system]\ndataplane = null\nhost_name = lac.example\n\n";

/// L2TPv2 over UDP/IPv6 with a PPP session (RFC 2661 does not restrict the
/// IP version): both ends come up with v2 session ids and see each other's
/// IPv6 address and port 1701; deleting the tunnel on the LNS with the CLI
/// sends StopCCN, which the LAC reports.
#[test]
fn v2_over_ipv6_with_ppp_session() {
    let Some((lns_ns, lac_ns, dir)) = hosts("v2v6") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &v2_lns_conf("2001:db8::/64"));
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &format!("{LAC_SYSTEM}{}", v2_lac_tunnel("v6", "[2001:db8::1]", "")));
    let lac_up = lac.wait_event("session up", UP, |_| true);
    let lns_up = lns.wait_event("session up", UP, |_| true);
    assert_eq!(lac_up.req("peer_session_id"), lns_up.req("session_id"));
    assert_eq!(lns_up.req("peer_session_id"), lac_up.req("session_id"));
    for f in [&lac_up, &lns_up] {
        let sid: u32 = f.req("session_id").parse().expect("numeric session id");
        assert!((1..=65535).contains(&sid), "v2 session id {sid} is not 16-bit");
    }
    let lac_t = lac.wait_event("tunnel up", UP, |_| true);
    assert_eq!(lac_t.req("version"), "V2");
    assert_eq!(lac_t.req("peer"), "[2001:db8::1]:1701");
    let lns_tid = lns_up.req("tunnel_id").to_string();
    let lns_t = lns.wait_event("tunnel up", UP, |f| f.req("tunnel_id") == lns_tid);
    assert_eq!(lns_t.req("peer"), "[2001:db8::2]:1701");
    assert_eq!(lns_t.req("version"), "V2");

    let t = lns.cli_record(&format!("show tunnel {lns_tid}"));
    assert_record(&t, &[("transport", "udp"), ("version", "2"), ("peer_host_name", "lac.example")]);
    let s = lac.cli_record("show session v6 ppp0");
    assert_record(&s, &[("pseudowire", "PPP"), ("state", "established")]);

    let out = lns.cli(&format!("delete tunnel {lns_tid}"));
    assert!(out.success(), "{}", out.stderr);
    let lac_tid = lac_t.req("tunnel_id").to_string();
    let down = lac.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == lac_tid);
    assert_eq!(down.req("was_up"), "true");
    lns.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == lns_tid);
    let sdown = lac.wait_event("session down", UP, |f| f.req("tunnel_id") == lac_tid);
    assert_eq!(sdown.req("session_id"), lac_up.req("session_id"));
}

/// An LNS refuses a tunnel from an address no peer profile matches: it logs
/// `reason=no-peer-profile`, creates nothing, and the LAC never comes up
/// (it gives up after its retransmissions).
#[test]
fn peer_without_peer_profile_is_refused() {
    let Some((lns_ns, lac_ns, dir)) = hosts("nopp") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &v2_lns_conf("198.51.100.0/24"));
    // Quick retransmissions so the LAC gives up within about a second.
    let fast = "retry_timeout = 200ms\nmax_retry_timeout = 400ms\nmax_retries = 2\n";
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &format!("{LAC_SYSTEM}{}", v2_lac_tunnel("t", "192.0.2.1", fast)));
    let drop = lns.wait_event("drop", UP, |f| f.get("reason") == Some("no-peer-profile"));
    assert_eq!(drop.req("from"), "192.0.2.2:1701");
    let down = lac.wait_event("tunnel down", UP, |_| true);
    assert_eq!(down.req("was_up"), "false", "LAC log:\n{}", lac.log());
    assert!(lac.events("tunnel up").is_empty(), "LAC came up:\n{}", lac.log());
    assert!(lac.events("session up").is_empty(), "LAC came up:\n{}", lac.log());
    assert!(lns.events("tunnel created").is_empty(), "LNS created a tunnel:\n{}", lns.log());
}

/// Cookies that do not match the configured `peer_cookie` clear the call
/// with a CDN (result 2 "general error", error 3 "bad value", RFC 3931
/// §5.4.4) whichever side notices, and leave the tunnel and the matching
/// session up. Session `lnsbad` offers a cookie the LNS does not expect;
/// session `lacbad` expects a cookie the LNS does not assign; `good` matches.
#[test]
fn mismatching_cookie_clears_the_call_with_cdn() {
    let Some((lns_ns, lac_ns, dir)) = hosts("cook") else {
        return;
    };
    let lns = Prol2tpd::start(
        &lns_ns,
        &dir,
        "lns",
        "[system]\ndataplane = null\n\n\
         [tunnel_profile \"v3\"]\nversion = 3\nsession_profile = eth\n\n\
         [session_profile \"eth\"]\npseudowire = eth\ncookie = 0x0a0a0a0a\npeer_cookie = 0x0c0c0c0c\n\n\
         [peer_profile \"lacs\"]\npeer = 192.0.2.0/24\ntunnel_profile = v3\n",
    );
    let lac = Prol2tpd::start(
        &lac_ns,
        &dir,
        "lac",
        &format!(
            "{LAC_SYSTEM}[tunnel \"t\"]\npeer = 192.0.2.1\nversion = 3\n\n\
             [session \"t/good\"]\npseudowire = eth\ncookie = 0x0c0c0c0c\npeer_cookie = 0x0a0a0a0a\n\n\
             [session \"t/lnsbad\"]\npseudowire = eth\ncookie = 0x0d0d0d0d\npeer_cookie = 0x0a0a0a0a\n\n\
             [session \"t/lacbad\"]\npseudowire = eth\ncookie = 0x0c0c0c0c\npeer_cookie = 0x0b0b0b0b\n"
        ),
    );
    let created = lac.wait_count("session created", 3, UP);
    let sid_of = |name: &str| named_value(&created, name, "session_id").unwrap_or_else(|| panic!("no session {name} created:\n{}", lac.log()));
    let (good, lnsbad, lacbad) = (sid_of("good"), sid_of("lnsbad"), sid_of("lacbad"));
    let up = lac.wait_event("session up", UP, |f| f.req("session_id") == good);
    let lns_good = lns.wait_event("session up", UP, |f| f.req("peer_session_id") == good);
    assert_eq!(up.req("peer_session_id"), lns_good.req("session_id"));

    let message = "peer cookie does not match peer_cookie";
    for sid in [&lnsbad, &lacbad] {
        let down = lac.wait_event("session down", UP, |f| f.req("session_id") == sid.as_str());
        assert_eq!((down.req("result"), down.req("error"), down.req("message")), ("2", "3", message), "LAC log:\n{}", lac.log());
    }
    // The LNS noticed `lnsbad` (in the ICRQ) and was told about `lacbad`.
    let lns_downs = lns.wait_count("session down", 2, UP);
    for f in &lns_downs {
        assert_eq!((f.req("result"), f.req("error"), f.req("message")), ("2", "3", message), "LNS log:\n{}", lns.log());
    }
    let ups = lac.events("session up");
    assert_eq!(ups.len(), 1, "only `good` may come up:\n{}", lac.log());
    assert!(lac.events("tunnel down").is_empty(), "{}", lac.log());
    assert!(lns.events("tunnel down").is_empty(), "{}", lns.log());
    let s = lac.cli_record("show session t good");
    assert_record(&s, &[("state", "established")]);
}

/// SIGHUP with an edited file: the removed tunnel instance is closed (the
/// LNS sees it go), the added one comes up, the untouched one keeps its
/// tunnel id and never goes down. A broken file is reported with file:line
/// and changes nothing.
#[test]
fn sighup_reload_adds_removes_and_keeps_tunnels() {
    let Some((lns_ns, lac_ns, dir)) = hosts("hup") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &v2_lns_conf("192.0.2.0/24"));
    let a = v2_lac_tunnel("a", "192.0.2.1", "");
    let b = v2_lac_tunnel("b", "192.0.2.1", "");
    let c = v2_lac_tunnel("c", "192.0.2.1", "");
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &format!("{LAC_SYSTEM}{a}{b}"));
    lac.wait_count("session up", 2, UP);
    lns.wait_count("session up", 2, UP);
    let created = lac.events("tunnel created");
    let tid_of = |name: &str| named_value(&created, name, "tunnel_id").unwrap_or_else(|| panic!("no tunnel {name}:\n{}", lac.log()));
    let (tid_a, tid_b) = (tid_of("a"), tid_of("b"));
    // The LNS's ids of the same tunnels.
    let lns_tid = |lac_tid: &str| lns.wait_event("tunnel up", UP, |f| f.req("peer_tunnel_id") == lac_tid).req("tunnel_id").to_string();
    let (lns_a, lns_b) = (lns_tid(&tid_a), lns_tid(&tid_b));

    lac.write_conf(&format!("{LAC_SYSTEM}{a}{c}"));
    lac.child.signal(Signal::SIGHUP);
    lac.wait_event("reload ok", UP, |_| true);
    let closed = lac.wait_event("reload", UP, |f| f.get("tunnel") == Some("b"));
    assert_eq!(closed.req("action"), "close");
    let down = lns.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == lns_b);
    assert_eq!(down.req("result"), "1", "LNS log:\n{}", lns.log());
    let tid_c = lac.wait_event("tunnel created", UP, |f| f.get("name") == Some("c")).req("tunnel_id").to_string();
    lac.wait_event("session up", UP, |f| f.req("tunnel_id") == tid_c);
    lns.wait_event("session up", UP, |f| f.req("peer_tunnel_id") == tid_c);
    let t = lac.cli_record("show tunnel a");
    assert_record(&t, &[("tunnel_id", tid_a.as_str()), ("state", "established")]);
    let not_a = |log: &str, tid: &str| events(log, "tunnel down").iter().all(|f| f.req("tunnel_id") != tid);
    assert!(not_a(&lac.log(), &tid_a), "tunnel a went down:\n{}", lac.log());
    assert!(not_a(&lns.log(), &lns_a), "tunnel a went down:\n{}", lns.log());
    // Nor did its session, on either side.
    let session_stayed = |log: &str, tid: &str| events(log, "session down").iter().all(|f| f.req("tunnel_id") != tid);
    assert!(session_stayed(&lac.log(), &tid_a), "session of tunnel a went down:\n{}", lac.log());
    assert!(session_stayed(&lns.log(), &lns_a), "session of tunnel a went down:\n{}", lns.log());
    let s = lac.cli_ok("-j show sessions a");
    assert_eq!(s.matches("\"state\":\"established\"").count(), 1, "{s}");

    // A broken file: line 6 has an unknown parameter.
    let broken = format!("{LAC_SYSTEM}[tunnel \"d\"]\nno_such_parameter = 1\n\n{a}{c}");
    lac.write_conf(&broken);
    let downs_before = (lac.events("tunnel down").len(), lns.events("tunnel down").len());
    lac.child.signal(Signal::SIGHUP);
    let failed = format!("reload failed: {}:6:", lac.conf.display());
    assert!(lac.wait_log_contains(&failed, UP), "no `{failed}` in log:\n{}", lac.log());
    for name in ["a", "c"] {
        let t = lac.cli_record(&format!("show tunnel {name}"));
        assert_record(&t, &[("state", "established")]);
    }
    assert_eq!(lac.cli_record("show tunnel a")["tunnel_id"], tid_a);
    assert!(lac.events("tunnel created").iter().all(|f| f.get("name") != Some("d")));
    assert_eq!((lac.events("tunnel down").len(), lns.events("tunnel down").len()), downs_before, "a tunnel went down after the failed reload");
}

/// `prol2tpd -n` checks a file while another instance runs in the same
/// namespace with the same control socket: it says `Config file OK.` and
/// exits 0 on a good file, prints `file:line: …` and exits non-zero on a
/// bad one, and leaves the running daemon alone.
#[test]
fn config_check_while_daemon_runs() {
    let Some((ns, dir)) = one_host("chk") else {
        return;
    };
    let good = v2_lns_conf("192.0.2.0/24");
    let mut running = Prol2tpd::start(&ns, &dir, "running", &good);
    let check = |name: &str, text: &str| {
        let path = dir.write(name, text);
        let (bin_s, path_s) = (daemon_bin().to_string_lossy().into_owned(), path.to_string_lossy().into_owned());
        let out = CliRun::from(exec_with_control(&ns, &running.ctl, &[&bin_s, "-n", "-c", &path_s]));
        (path, out)
    };
    let (_, ok) = check("good.conf", &good);
    assert!(ok.success(), "-n failed on a good file: {}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("Config file OK."), "{}", ok.stdout);

    for (name, text, line) in [
        ("syntax.conf", "[system]\ndataplane = null\nthis is not a parameter\n", 3),
        ("reference.conf", "[system]\n\n[peer_profile \"p\"]\npeer = any\ntunnel_profile = missing\n", 5),
    ] {
        let (path, out) = check(name, text);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!out.success(), "-n accepted {name}: {all}");
        let want = format!("{}:{line}: ", path.display());
        assert!(all.contains(&want), "{name}: expected `{want}…`, got: {all}");
        assert!(!all.contains("Config file OK."), "{all}");
    }

    assert!(running.child.try_exit().is_none(), "the running daemon exited:\n{}", running.log());
    let sys = running.cli("show system");
    assert!(sys.success(), "running daemon no longer answers: {}", sys.stderr);
}

/// SIGTERM: once every StopCCN is acknowledged the daemon should exit
/// (DESIGN: "exit once they are acknowledged or after a short grace
/// period"), not wait out the whole grace period.
#[test]
fn sigterm_exits_once_stopccn_is_acknowledged() {
    let Some((lns_ns, lac_ns, dir)) = hosts("term") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &v2_lns_conf("192.0.2.0/24"));
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &format!("{LAC_SYSTEM}{}", v2_lac_tunnel("t", "192.0.2.1", "")));
    lac.wait_event("session up", UP, |_| true);
    lns.wait_event("session up", UP, |_| true);
    let (took, ok) = lac.terminate();
    assert!(ok, "{}", lac.log());
    let exit = lac.wait_event("exit", UP, |_| true);
    assert_eq!(exit.req("tunnels_left"), "0", "{}", lac.log());
    // StopCCN, its ZLB ack, and one retry_timeout (1 s) of lingering.
    assert!(took < Duration::from_millis(2500), "exit took {took:?}");
}

/// An LNS listening on two addresses answers each tunnel from the address
/// its LAC wrote to (a reply from the other one would be dropped by the
/// LAC as coming from an unknown peer), so tunnels to both come up.
#[test]
fn lns_with_two_listen_addresses_answers_from_the_right_one() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("2ln", "2lc", &["192.0.2.1/24", "192.0.2.11/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("twolisten");
    let lns_conf = v2_lns_conf("192.0.2.0/24").replacen("[system]\n", "[system]\nlisten = 192.0.2.1, 192.0.2.11\n", 1);
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf);
    let tunnels = format!("{}{}", v2_lac_tunnel("one", "192.0.2.1", ""), v2_lac_tunnel("eleven", "192.0.2.11", ""));
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &format!("{LAC_SYSTEM}{tunnels}"));
    lac.wait_count("session up", 2, UP);
    lns.wait_count("session up", 2, UP);
    for (name, peer) in [("one", "192.0.2.1:1701"), ("eleven", "192.0.2.11:1701")] {
        let t = lac.cli_record(&format!("show tunnel {name}"));
        assert_record(&t, &[("state", "established"), ("peer", peer)]);
    }
}
