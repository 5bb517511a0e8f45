//! PPP over L2TP with the suite alone, on the host (issue 5, done items 5
//! and 6): prol2tpd + propppd as LAC against prol2tpd + propppd as LNS in
//! two network namespaces, userspace data plane (the host kernel has no
//! L2TP or PPP): the LAC's propppd authenticates with CHAP as a client, the
//! LNS's gives it the pool's first address, both bring up a TUN device, and
//! `ping` crosses both ways. Then the lives of the daemons are tied
//! together: killing the LNS's propppd closes the session with a CDN and
//! removes the TUN devices on both sides; a restarted propppd serves the
//! next session, which `propppctl create` asks the LAC's prol2tpd for; and
//! killing the LAC's prol2tpd ends its propppd's instance.
//!
//! propppd is another package of the workspace: its binary is looked for
//! next to prol2tpd's (`cargo build --workspace` or `make check` builds
//! both).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

const UP: Duration = Duration::from_secs(30);
const LNS_PPP: &str = "198.51.100.1";
const LAC_PPP: &str = "198.51.100.10";

fn propppd_bin() -> PathBuf {
    let p = daemon_bin().with_file_name("propppd");
    assert!(p.exists(), "{} is missing: build the workspace first (cargo build --workspace)", p.display());
    p
}

/// Starts propppd in `ns` with `conf`; waits for its channel socket.
fn start_propppd(ns: &Netns, dir: &TempDir, name: &str, conf: &str) -> Child {
    let path = dir.write(&format!("{name}.conf"), conf);
    let bin = propppd_bin();
    let child = ns.spawn(&[&bin.to_string_lossy(), "-f", "-c", &path.to_string_lossy()], &dir.join(&format!("{name}.log")));
    let chan = dir.join(&format!("{name}.chan"));
    assert!(wait_until(Duration::from_secs(10), || chan.exists()), "{name} did not open its channel socket:\n{}", child.log());
    child
}

fn propppd_conf(dir: &TempDir, name: &str, profile: &str) -> String {
    format!(
        "[system]\nlog_level = debug\ncontrol_socket = {ctl}\nchannel_socket = {chan}\npid_file = {pid}\n\n{profile}",
        ctl = dir.join(&format!("{name}.ctl")).display(),
        chan = dir.join(&format!("{name}.chan")).display(),
        pid = dir.join(&format!("{name}.pid")).display(),
    )
}

/// Every daemon's log, for failure messages.
fn all_logs(dir: &TempDir) -> String {
    ["lac", "lac-ppp", "lns", "lns-ppp"]
        .iter()
        .map(|n| format!("--- {n}.log:\n{}", std::fs::read_to_string(dir.join(&format!("{n}.log"))).unwrap_or_default()))
        .collect()
}

fn tun_count(ns: &Netns) -> usize {
    let out = ns.exec(&["ip", "-o", "link", "show", "type", "tun"]);
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn ppp_over_l2tp_between_two_suites_with_the_userspace_plane() {
    if !require_root_and_netns() {
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("SKIP: no /dev/net/tun");
        return;
    }
    let (lac_ns, lns_ns, _veth) = two_netns("pphl", "pphn", &["192.0.2.2/24"], &["192.0.2.1/24"]);
    let dir = TempDir::new("ppp-host");
    dir.write("chap-secrets", "\"alice@example.net\" * wonderland *\n");

    let lns_profile = format!(
        "[pool \"lab\"]\nrange = {LAC_PPP}-198.51.100.20\n\n\
         [profile \"default\"]\nauth = chap\nlocal_ip = {LNS_PPP}\npool = lab\ndns = 192.0.2.53\nipv6 = no\nchap_secrets = {}\n",
        dir.join("chap-secrets").display()
    );
    let lac_profile = "[profile \"dsl\"]\nauth = none\nuser_name = alice@example.net\npassword = wonderland\nipv6 = no\n";
    let mut lns_ppp = start_propppd(&lns_ns, &dir, "lns-ppp", &propppd_conf(&dir, "lns-ppp", &lns_profile));
    let mut lac_ppp = start_propppd(&lac_ns, &dir, "lac-ppp", &propppd_conf(&dir, "lac-ppp", lac_profile));

    let lns_conf = format!(
        "[system]\ndataplane = userspace\nhost_name = lns.example\npropppd_socket = {}\n\n\
         [tunnel_profile \"v2\"]\nsecret = s3cret\n\n[peer_profile \"lacs\"]\npeer = 192.0.2.0/24\ntunnel_profile = v2\n",
        dir.join("lns-ppp.chan").display()
    );
    let lac_conf = format!(
        "[system]\ndataplane = userspace\nhost_name = lac.example\npropppd_socket = {}\n\n\
         [ppp_profile \"dsl\"]\nmtu = 1400\nmru = 1400\n\n\
         [tunnel \"t\"]\npeer = 192.0.2.1\nversion = 2\nsecret = s3cret\n\n\
         [session \"t/dsl0\"]\ncall_type = incoming\nppp_profile = dsl\n",
        dir.join("lac-ppp.chan").display()
    );
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf);
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf);

    let logs = || all_logs(&dir);
    let want_lac = Some((LAC_PPP.to_string(), LNS_PPP.to_string()));
    let want_lns = Some((LNS_PPP.to_string(), LAC_PPP.to_string()));
    assert!(wait_until(UP, || lac_ns.ptp_addr() == want_lac), "LAC TUN not addressed:\n{}", logs());
    assert!(wait_until(UP, || lns_ns.ptp_addr() == want_lns), "LNS TUN not addressed:\n{}", logs());

    for (ns, to) in [(&lac_ns, LNS_PPP), (&lns_ns, LAC_PPP)] {
        let out = ns.exec(&["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", to]);
        assert!(out.status.success(), "ping {to} failed: {}\n{}", String::from_utf8_lossy(&out.stdout), logs());
    }

    // The LNS's prol2tpd heard propppd's `up` with the interface and the
    // addresses (what its SESSION UP event and hook scripts carry).
    let up = lns.wait_event("ppp up", UP, |_| true);
    assert_eq!((up.req("local_ip"), up.req("peer_ip")), (LNS_PPP, LAC_PPP), "{}", logs());
    assert!(up.req("ifname").starts_with("ppp"), "{}", logs());

    // Killing the LNS's propppd: its sessions close with a CDN, the TUN
    // devices go on both sides.
    lns_ppp.stop_with(Signal::SIGKILL, Duration::from_secs(5));
    assert!(wait_until(UP, || tun_count(&lns_ns) == 0), "LNS TUN left after propppd died:\n{}", logs());
    assert!(wait_until(UP, || tun_count(&lac_ns) == 0), "LAC TUN left after the CDN:\n{}", logs());
    // Whichever the LNS noticed first closed the session: the owner
    // connection's end ("PPP daemon went away") or the session's own framed
    // channel's ("PPP channel closed").
    let log = lns.log();
    let cdn = events(&log, "session down").into_iter().any(|f| matches!(f.get("message"), Some("PPP daemon went away" | "PPP channel closed")));
    assert!(cdn, "the LNS did not close the session for propppd's death:\n{log}");

    // A restarted propppd on the LNS serves the next session, created
    // with `propppctl create` on the LAC (propppd asks its prol2tpd).
    lns_ppp = start_propppd(&lns_ns, &dir, "lns-ppp", &propppd_conf(&dir, "lns-ppp", &lns_profile));
    let ctl = propppd_bin().with_file_name("propppctl");
    let sock = dir.join("lac-ppp.ctl");
    let out = lac_ns.exec(&[&ctl.to_string_lossy(), "-s", &sock.to_string_lossy(), "create", "dsl1", "l2tp", "t", "profile=dsl", "call_type=incoming"]);
    assert!(out.status.success(), "propppctl create failed: {}{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr), logs());
    assert!(wait_until(UP, || lac_ns.ptp_addr() == want_lac), "no second session after propppd's restart:\n{}", logs());
    let out = lac_ns.exec(&["ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", LNS_PPP]);
    assert!(out.status.success(), "ping after the restart failed:\n{}", logs());

    // Killing the LAC's prol2tpd ends its propppd's instance.
    lac.child.stop_with(Signal::SIGKILL, Duration::from_secs(5));
    assert!(wait_until(UP, || tun_count(&lac_ns) == 0), "LAC TUN left after prol2tpd died:\n{}", logs());
    assert!(lac_ppp.try_exit().is_none(), "the LAC's propppd died with prol2tpd:\n{}", lac_ppp.log());
    let _ = lac_ppp.stop(Duration::from_secs(5));
    let _ = lns_ppp.stop(Duration::from_secs(5));
}
