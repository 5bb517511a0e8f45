//! prol2tpd against xl2tpd 1.3 (Debian's build), as real processes in
//! network namespaces (test layer 5 in DESIGN.md). IPv4 only: xl2tpd has no
//! IPv6. xl2tpd runs with the fake pppd of tests/xl2tpd/ so its calls stay
//! up on hosts without /dev/ppp (see tests/xl2tpd/README.md for what xl2tpd
//! does and logs).
//!
//! Covered: xl2tpd LAC → prol2tpd LNS with challenge and hidden AVPs, and
//! its teardown (CDN, StopCCN) as prol2tpd reports it; the CDN xl2tpd sends
//! when its real pppd fails; prol2tpd LAC → xl2tpd LNS with and without
//! hidden AVPs and its SIGTERM shutdown; wrong secrets both ways (checked
//! on the wire: prol2tpd sends StopCCN result 4, xl2tpd result 2 error 6);
//! and the L2TPv3 → L2TPv2 fallback. Towards xl2tpd prol2tpd never hides
//! AVPs (xl2tpd cannot unhide them correctly) and logs `hide-avps=off`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// How long a tunnel and its call may take to come up on veth.
const UP: Duration = Duration::from_secs(15);

/// Namespaces `lns` (192.0.2.1) and `lac` (192.0.2.2) joined by veth.
fn two_hosts(tag: &str) -> (Netns, Netns, VethPair) {
    two_netns(&format!("{tag}n"), &format!("{tag}c"), &["192.0.2.1/24"], &["192.0.2.2/24"])
}

/// True when the test can run: root, `ip netns`, xl2tpd, tcpdump, tshark.
fn ready() -> bool {
    require_root_and_netns() && require_programs(&["xl2tpd", "tcpdump", "tshark"])
}

/// The set-up of a test that captures: `None` when it cannot run (see
/// [`ready`]); otherwise the LNS and LAC namespaces of [`two_hosts`], the
/// test's directory, and a capture of `udp port 1701` on the LNS's side, all
/// named after `tag`.
fn captured_hosts(tag: &str) -> Option<(Netns, Netns, TempDir, NetnsCapture)> {
    if !ready() {
        return None;
    }
    let (lns_ns, lac_ns, veth) = two_hosts(tag);
    let dir = TempDir::new(tag);
    let cap = NetnsCapture::start(&lns_ns, &veth.a, "udp port 1701", &dir, tag);
    Some((lns_ns, lac_ns, dir, cap))
}

const SECRET: &str = "s3cr3t-interop";

/// A prol2tpd LNS accepting L2TPv2 tunnels from 192.0.2.0/24 with `secret`
/// and `hide_avps`.
fn lns_conf(secret: &str, hide: bool) -> String {
    let hide = if hide { "yes" } else { "no" };
    format!(
        "[system]\ndataplane = null\nhost_name = prol2tpd-lns.example\n\n\
         [tunnel_profile \"lns\"]\nsecret = {secret}\nhide_avps = {hide}\n\n\
         [peer_profile \"lacs\"]\npeer = 192.0.2.0/24\ntunnel_profile = lns\n"
    )
}

/// A prol2tpd LAC with tunnel instance `x` to 192.0.2.1 (extra tunnel
/// parameters in `tunnel`) and one PPP session `x/ppp0`.
fn lac_conf(tunnel: &str) -> String {
    format!(
        "[system]\ndataplane = null\nhost_name = prol2tpd-lac.example\n\n\
         [tunnel \"x\"]\npeer = 192.0.2.1\n{tunnel}\n\
         [session \"x/ppp0\"]\npseudowire = ppp\n"
    )
}

/// xl2tpd settings with challenge (`secret`) and `hidden bit`.
fn xl2tpd_opts(hostname: &str, secret: &str, hidden: bool, fake_pppd: bool) -> Xl2tpdOpts {
    Xl2tpdOpts { hostname: hostname.into(), secret: Some(secret.into()), hidden, fake_pppd, ..Default::default() }
}

/// `tshark -T fields` over `pcap`: one line per packet matching `filter`,
/// the fields tab-separated.
fn fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut args = vec!["-Y", filter, "-T", "fields"];
    for f in fields {
        args.push("-e");
        args.push(f);
    }
    tshark(pcap, &args).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// Test 1: xl2tpd LAC (challenge, hidden bit, fake pppd) dials a prol2tpd
/// LNS (secret, hidden AVPs). Both see the tunnel and call up; killing the
/// LAC's pppd sends CDN, `d test` sends StopCCN, and prol2tpd reports both
/// with the result codes xl2tpd sent (1 and 1, message `Goodbye!`).
#[test]
fn xl2tpd_lac_to_prol2tpd_lns_up_and_torn_down_by_xl2tpd() {
    let Some((lns_ns, lac_ns, dir, mut cap)) = captured_hosts("x1") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(SECRET, true));
    let opts = xl2tpd_opts("xl2tpd-lac.example", SECRET, true, true);
    let lac = xl2tpd_lac(&lac_ns, &dir, "xlac", &opts, "192.0.2.1");

    let up = lns.wait_event("session up", UP, |_| true);
    assert!(lac.wait_log("Call established", UP), "xl2tpd log:\n{}", lac.child.log());
    let tid = up.req("tunnel_id").to_string();
    let sid = up.req("session_id").to_string();
    let t = lns.wait_event("tunnel up", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(t.req("peer"), "192.0.2.2:1701");
    assert_eq!(t.req("version"), "V2");
    let detail = lns.cli_record(&format!("show tunnel {tid}"));
    assert_record(&detail, &[("peer_host_name", "xl2tpd-lac.example"), ("state", "established")]);

    assert!(wait_until(Duration::from_secs(5), || lac.fake_pppd_pids().len() == 1));
    assert_eq!(lac.end_calls(), 1);
    let sdown = lns.wait_event("session down", UP, |f| f.req("session_id") == sid);
    assert_eq!(sdown.req("result"), "1", "LNS log:\n{}", lns.log());
    assert!(lns.events("tunnel down").is_empty(), "{}", lns.log());

    lac.hangup_tunnel().expect("write to xl2tpd's control FIFO");
    let down = lns.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!((down.req("result"), down.req("message")), ("1", "Goodbye!"), "LNS log:\n{}", lns.log());
    assert_eq!(down.req("was_up"), "true");
    assert!(lac.wait_log("Disconnecting from 192.0.2.1", UP), "{}", lac.child.log());

    // xl2tpd hashes hidden AVP types in host byte order, so prol2tpd turns
    // hiding off for it (it knows xl2tpd by its Vendor Name) and says so.
    let off = lns.wait_event("tunnel hide-avps=off", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(off.req("reason"), XL2TPD_NO_HIDE_REASON);
    let pcap = cap.stop();
    let hidden = fields(&pcap, "ip.src == 192.0.2.1 && l2tp.avp.hidden == 1", &["l2tp.avp.type"]);
    assert!(hidden.is_empty(), "prol2tpd hid AVPs from xl2tpd: {hidden:?}");
    let stop = fields(&pcap, "l2tp.avp.message_type == 4", &["ip.src", "l2tp.result_code"]);
    assert_eq!(stop, vec!["192.0.2.2\t1".to_string()], "StopCCNs on the wire");
}

/// Test 2: with the real pppd (which fails without /dev/ppp), the xl2tpd
/// LAC clears the call with CDN result 1 right after ICCN: prol2tpd reports
/// the session down and keeps the tunnel, which still works (it later
/// receives xl2tpd's StopCCN).
#[test]
fn xl2tpd_cdn_after_pppd_fails_keeps_tunnel() {
    if !ready() {
        return;
    }
    if Path::new("/dev/ppp").exists() {
        println!("SKIP: /dev/ppp exists, pppd may work here");
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_hosts("x2");
    let dir = TempDir::new("x2");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf(SECRET, true));
    let opts = xl2tpd_opts("xl2tpd-lac.example", SECRET, true, false);
    let lac = xl2tpd_lac(&lac_ns, &dir, "xlac", &opts, "192.0.2.1");

    let up = lns.wait_event("session up", UP, |_| true);
    let tid = up.req("tunnel_id").to_string();
    let sdown = lns.wait_event("session down", UP, |f| f.req("session_id") == up.req("session_id"));
    assert_eq!((sdown.req("result"), sdown.req("error")), ("1", "0"), "LNS log:\n{}", lns.log());
    assert!(lac.wait_log("pppd exited for call", UP), "{}", lac.child.log());
    let t = lns.cli_record(&format!("show tunnel {tid}"));
    assert_record(&t, &[("state", "established"), ("sessions", "0")]);
    assert!(lns.events("tunnel down").is_empty(), "{}", lns.log());

    lac.hangup_tunnel().expect("write to xl2tpd's control FIFO");
    let down = lns.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(down.req("result"), "1", "LNS log:\n{}", lns.log());
}

/// Test 3: prol2tpd LAC (secret, `hide_avps`) dials an xl2tpd LNS
/// (challenge, hidden bit, fake pppd); the tunnel and call come up; SIGTERM
/// makes prol2tpd send StopCCN (result 6), which xl2tpd logs, and exit 0.
fn prol2tpd_lac_to_xl2tpd_lns(tag: &str, hide: bool) {
    let Some((lns_ns, lac_ns, dir, mut cap)) = captured_hosts(tag) else {
        return;
    };
    let opts = xl2tpd_opts("xl2tpd-lns.example", SECRET, true, true);
    let lns = xl2tpd_lns(&lns_ns, &dir, "xlns", &opts);
    let hide_s = if hide { "yes" } else { "no" };
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&format!("version = 2\nsecret = {SECRET}\nhide_avps = {hide_s}\n")));
    let up = lac.wait_event("session up", UP, |_| true);
    assert!(lns.wait_log("Call established", UP), "xl2tpd log:\n{}", lns.child.log());
    let tid = up.req("tunnel_id").to_string();
    let t = lac.cli_record("show tunnel x");
    assert_record(&t, &[("peer_host_name", "xl2tpd-lns.example"), ("tunnel_id", tid.as_str())]);
    assert!(wait_until(Duration::from_secs(5), || lns.fake_pppd_pids().len() == 1));

    let (took, ok) = lac.terminate();
    assert!(ok, "prol2tpd exit status not 0:\n{}", lac.log());
    assert!(took < Duration::from_secs(5), "prol2tpd took {took:?} to exit");
    let down = lac.wait_event("tunnel down", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(down.req("result"), "6");
    for line in XL2TPD_STOPCCN_LINES {
        assert!(lns.wait_log(line, UP), "xl2tpd did not log `{line}`:\n{}", lns.child.log());
    }
    // xl2tpd ends the call (kills its pppd) with the tunnel.
    assert!(wait_until(UP, || lns.fake_pppd_pids().is_empty()));

    let pcap = cap.stop();
    let stop = fields(&pcap, "ip.src == 192.0.2.2 && l2tp.avp.message_type == 4", &["l2tp.result_code"]);
    assert!(!stop.is_empty() && stop.iter().all(|l| l.trim() == "6"), "StopCCN result codes from prol2tpd: {stop:?}");
    // Towards xl2tpd, prol2tpd hides nothing whatever hide_avps says, and
    // tells the user when hide_avps = yes is overridden.
    let hidden = fields(&pcap, "ip.src == 192.0.2.2 && l2tp.avp.hidden == 1", &["l2tp.avp.type"]);
    assert!(hidden.is_empty(), "prol2tpd hid AVPs from xl2tpd: {hidden:?}");
    let off = lac.events("tunnel hide-avps=off");
    assert_eq!(off.len(), usize::from(hide), "hide-avps=off notices:\n{}", lac.log());
    if let Some(f) = off.first() {
        assert_eq!(f.req("reason"), XL2TPD_NO_HIDE_REASON);
        assert_eq!(f.req("tunnel_id"), tid);
    }
}

/// What xl2tpd (with `debug avp = yes`) logs when prol2tpd's StopCCN with
/// result 6 arrives, and then when it closes the tunnel.
const XL2TPD_STOPCCN_LINES: [&str; 2] =
    ["result_code_avp: peer closing for reason 6 (Requester is being shut down)", "control_finish: Connection closed to 192.0.2.2, port 1701"];

/// Why prol2tpd does not hide AVPs towards xl2tpd (its `hide-avps=off` log).
const XL2TPD_NO_HIDE_REASON: &str = "xl2tpd cannot unhide AVPs";

#[test]
fn prol2tpd_lac_to_xl2tpd_lns_hidden_avps() {
    prol2tpd_lac_to_xl2tpd_lns("x3h", true);
}

#[test]
fn prol2tpd_lac_to_xl2tpd_lns_plain_avps() {
    prol2tpd_lac_to_xl2tpd_lns("x3p", false);
}

/// The StopCCNs in `pcap` as `(source address, result code)`.
fn stop_ccns(pcap: &Path) -> Vec<(String, String)> {
    fields(pcap, "l2tp.avp.message_type == 4", &["ip.src", "l2tp.result_code"])
        .iter()
        .map(|l| {
            let (src, rc) = l.split_once('\t').unwrap_or((l.as_str(), ""));
            (src.to_string(), rc.to_string())
        })
        .collect()
}

/// Test 4a: an xl2tpd LAC whose secret differs from the prol2tpd LNS's is
/// refused. xl2tpd challenges first, so it is xl2tpd that finds prol2tpd's
/// Challenge Response wrong: it logs `Invalid authentication`, and sends
/// StopCCN result 2 (general error) error 6 with the message `Invalid
/// challenge authentication` (not result 4). prol2tpd reports exactly that
/// and nothing comes up.
#[test]
fn wrong_secret_xl2tpd_lac_is_refused() {
    let Some((lns_ns, lac_ns, dir, mut cap)) = captured_hosts("x4a") else {
        return;
    };
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf("the-lns-secret", true));
    let opts = xl2tpd_opts("xl2tpd-lac.example", "another-secret", true, true);
    let lac = xl2tpd_lac(&lac_ns, &dir, "xlac", &opts, "192.0.2.1");
    let down = lns.wait_event("tunnel down", UP, |_| true);
    assert_eq!(
        (down.req("result"), down.req("error"), down.req("message"), down.req("was_up")),
        ("2", "6", "Invalid challenge authentication", "false"),
        "{}",
        lns.log()
    );
    assert!(lac.wait_log("Invalid authentication for host 'prol2tpd-lns.example'", UP), "{}", lac.child.log());
    assert!(lns.events("tunnel up").is_empty(), "{}", lns.log());
    assert!(lns.events("session up").is_empty(), "{}", lns.log());
    assert!(cap.wait_for("l2tp.avp.message_type == 4", UP), "no StopCCN captured; prol2tpd log:\n{}\nxl2tpd log:\n{}", lns.log(), lac.child.log());
    let pcap = cap.stop();
    let stops = fields(&pcap, "l2tp.avp.message_type == 4", &["ip.src", "l2tp.result_code", "l2tp.avp.error_code"]);
    assert_eq!(stops, vec!["192.0.2.2\t2\t6".to_string()], "StopCCNs on the wire");
}

/// Test 4b: a prol2tpd LAC whose secret differs from the xl2tpd LNS's finds
/// the LNS's Challenge Response wrong and sends StopCCN result 4.
#[test]
fn wrong_secret_xl2tpd_lns_is_refused() {
    let Some((lns_ns, lac_ns, dir, mut cap)) = captured_hosts("x4b") else {
        return;
    };
    let opts = xl2tpd_opts("xl2tpd-lns.example", "the-lns-secret", true, true);
    let lns = xl2tpd_lns(&lns_ns, &dir, "xlns", &opts);
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf("version = 2\nsecret = another-secret\n"));
    let down = lac.wait_event("tunnel down", UP, |_| true);
    assert_eq!((down.req("result"), down.req("was_up")), ("4", "false"), "{}", lac.log());
    assert!(lac.events("tunnel up").is_empty(), "{}", lac.log());
    assert!(cap.wait_for("ip.src == 192.0.2.2 && l2tp.avp.message_type == 4", UP), "no StopCCN from prol2tpd; log:\n{}", lac.log());
    let stops = stop_ccns(&cap.stop());
    assert!(stops.contains(&("192.0.2.2".to_string(), "4".to_string())), "StopCCNs: {stops:?}");
    assert!(!lns.child.log().contains("Call established"), "{}", lns.child.log());
}

/// Test 5: a prol2tpd LAC configured for L2TPv3 with `v2_fallback = yes`
/// dialling xl2tpd (which speaks only L2TPv2 and answers a v3 SCCRQ with a
/// stray v2 ZLB) falls back to L2TPv2, says so in its log, and brings the
/// tunnel and the PPP call up.
#[test]
fn v3_to_v2_fallback_against_xl2tpd() {
    let Some((lns_ns, lac_ns, dir, mut cap)) = captured_hosts("x5") else {
        return;
    };
    let opts = xl2tpd_opts("xl2tpd-lns.example", SECRET, false, true);
    let lns = xl2tpd_lns(&lns_ns, &dir, "xlns", &opts);
    let t0 = Instant::now();
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf(&format!("version = 3\nencap = udp\nv2_fallback = yes\nsecret = {SECRET}\n")));
    let created = lac.wait_event("tunnel created", UP, |f| f.get("name") == Some("x"));
    assert_eq!(created.req("version"), "V3");
    let tid = created.req("tunnel_id").to_string();
    let fb = lac.wait_event("tunnel version-fallback", Duration::from_secs(40), |f| f.req("tunnel_id") == tid);
    assert_eq!((fb.req("from"), fb.req("to")), ("3", "2"), "{}", lac.log());
    let ev = lac.wait_event("tunnel fallback", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(ev.req("version"), "2");
    let up = lac.wait_event("tunnel up", UP, |f| f.req("tunnel_id") == tid);
    assert_eq!(up.req("version"), "V2");
    lac.wait_event("session up", UP, |f| f.req("tunnel_id") == tid);
    assert!(lns.wait_log("Call established", UP), "xl2tpd log:\n{}", lns.child.log());
    let fallback_took = t0.elapsed();
    let t = lac.cli_record("show tunnel x");
    assert_eq!((t["version"].as_str(), t["state"].as_str()), ("2", "established"), "{t:?}");

    let pcap = cap.stop();
    let v3 = fields(&pcap, "ip.src == 192.0.2.2 && l2tp.version == 3", &["l2tp.type"]);
    assert!(!v3.is_empty(), "no L2TPv3 SCCRQ was tried first");
    let v2_sccrq = fields(&pcap, "ip.src == 192.0.2.2 && l2tp.version == 2 && l2tp.avp.message_type == 1", &["l2tp.tunnel"]);
    assert_eq!(v2_sccrq.len(), 1, "v2 SCCRQs: {v2_sccrq:?}");
    println!("fallback to a working v2 call took {fallback_took:?}");
}
