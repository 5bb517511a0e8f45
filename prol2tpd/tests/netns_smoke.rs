//! Proves the network-namespace test support works on this host: namespaces,
//! veth with IPv4 and IPv6, spawning and logging, packet capture, and xl2tpd
//! as a peer (LAC against LNS, with tunnel authentication).

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

#[test]
fn ping_across_veth_ipv4_and_ipv6() {
    if !require_root_and_netns() {
        return;
    }
    let (a, b, veth) = two_netns("pinga", "pingb", &["192.0.2.1/24", "2001:db8::1/64"], &["192.0.2.2/24", "2001:db8::2/64"]);
    let dir = TempDir::new("ping");
    let mut cap = NetnsCapture::start(&b, &veth.b, "icmp or icmp6", &dir, "ping");

    let v4 = a.exec(&["ping", "-c", "1", "-W", "5", "192.0.2.2"]);
    assert!(v4.status.success(), "IPv4 ping failed: {}", String::from_utf8_lossy(&v4.stdout));
    let v6 = a.exec(&["ping", "-6", "-c", "1", "-W", "5", "2001:db8::2"]);
    assert!(v6.status.success(), "IPv6 ping failed: {}", String::from_utf8_lossy(&v6.stdout));

    assert!(cap.wait_for("icmpv6.type == 128", Duration::from_secs(5)));
    let summary = cap.summary("icmp.type == 8 or icmpv6.type == 128");
    assert!(summary.contains("192.0.2.1 → 192.0.2.2"), "no IPv4 echo request captured:\n{summary}");
    assert!(summary.contains("2001:db8::1 → 2001:db8::2"), "no IPv6 echo request captured:\n{summary}");

    // A third namespace that is not linked cannot reach the others.
    let c = Netns::new("pingc");
    let out = c.exec(&["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
    assert!(!out.status.success(), "unlinked namespace reached 192.0.2.2");
}

#[test]
fn spawned_child_logs_and_is_killed_with_namespace() {
    let Some((ns, dir)) = one_host("spawn") else {
        return;
    };
    let log = dir.join("sh.log");
    let mut child = ns.spawn(&["sh", "-c", "echo started; exec sleep 600"], &log);
    assert!(child.wait_log("started", Duration::from_secs(5)), "log: {}", child.log());
    assert!(ns.pids().contains(&(child.pid() as i32)), "child not in namespace");
    assert!(child.try_exit().is_none());
    let status = child.stop(Duration::from_secs(5));
    assert!(status.is_some(), "sleep did not end on SIGTERM");
    assert!(wait_until(Duration::from_secs(2), || ns.pids().is_empty()));
}

#[test]
fn xl2tpd_lac_reaches_xl2tpd_lns_with_challenge() {
    if !require_root_and_netns() || !require_programs(&["xl2tpd", "tcpdump"]) {
        return;
    }
    let (lns_ns, lac_ns, veth) = two_netns("xlns", "xlac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("xl2tpd");
    let mut cap = NetnsCapture::start(&lns_ns, &veth.a, "udp port 1701", &dir, "xl2tpd");
    let secret = Some("s3cr3t-test".to_string());
    let lns = xl2tpd_lns(&lns_ns, &dir, "lns", &Xl2tpdOpts { hostname: "lns.example".into(), secret: secret.clone(), ..Default::default() });
    let lac = xl2tpd_lac(&lac_ns, &dir, "lac", &Xl2tpdOpts { hostname: "lac.example".into(), secret, autodial: false, ..Default::default() }, "192.0.2.1");
    lac.dial().expect("write to control pipe");
    assert!(lns.wait_log("Call established", Duration::from_secs(15)), "LNS log:\n{}", lns.child.log());
    assert!(wait_until(Duration::from_secs(5), || lac.fake_pppd_pids().len() == 1));
    assert_eq!(lac.end_calls(), 1);
    assert!(lns.wait_log("Call-Disconnect-Notify", Duration::from_secs(10)), "LNS log:\n{}", lns.child.log());
    lac.hangup_tunnel().expect("write to control pipe");
    assert!(lac.wait_log("Disconnecting from 192.0.2.1", Duration::from_secs(10)), "LAC log:\n{}", lac.child.log());
    // Wait for the LNS's acknowledgement of the StopCCN to be on the wire.
    assert!(lns.wait_log("Stop-Control-Connection-Notification", Duration::from_secs(10)));

    let text = cap.summary("l2tp");
    for msg in ["SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "StopCCN"] {
        assert!(text.contains(&format!("Control Message - {msg} ")), "{msg} not captured:\n{text}");
    }
    let full = tshark(&cap.stop(), &["-V", "-Y", "l2tp.avp.type == 13"]);
    assert!(full.contains("Challenge Response"), "no Challenge Response AVP:\n{full}");
}

/// Where pppd cannot run (no /dev/ppp), an xl2tpd LNS still answers ICRQ and
/// ICCN, then clears the call itself with a CDN once its pppd exits.
#[test]
fn xl2tpd_lns_without_pppd_sends_cdn() {
    if !require_root_and_netns() || !require_programs(&["xl2tpd", "tcpdump"]) {
        return;
    }
    if Path::new("/dev/ppp").exists() {
        println!("SKIP: /dev/ppp exists, pppd may work here");
        return;
    }
    let (lns_ns, lac_ns, veth) = two_netns("nplns", "nplac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("nopppd");
    let cap = NetnsCapture::start(&lns_ns, &veth.a, "udp port 1701", &dir, "nopppd");
    let lns_opts = Xl2tpdOpts { hostname: "lns.example".into(), fake_pppd: false, ..Default::default() };
    let lns = xl2tpd_lns(&lns_ns, &dir, "lns", &lns_opts);
    let lac_opts = Xl2tpdOpts { hostname: "lac.example".into(), ..Default::default() };
    let _lac = xl2tpd_lac(&lac_ns, &dir, "lac", &lac_opts, "192.0.2.1");
    assert!(cap.wait_for("ip.src == 192.0.2.1 && l2tp.avp.message_type == 14", Duration::from_secs(15)), "LNS sent no CDN; LNS log:\n{}", lns.child.log());
    let cdn = tshark(cap.path(), &["-V", "-Y", "ip.src == 192.0.2.1 && l2tp.avp.message_type == 14"]);
    assert!(cdn.contains("Result code: Session disconnected due to loss of carrier or circuit disconnect (1)"), "{cdn}");
}
