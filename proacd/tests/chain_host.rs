//! The suite's PPPoE chain on the host (issue 6, done item 5), userspace
//! data plane (the host kernel has no PPP or PPPoE), in network namespaces
//! joined by veth pairs:
//!
//! - local termination: namespace A runs proacd as PPPoE client (a
//!   `[client]` section) with propppd as PPP client; namespace B runs
//!   proacd as access concentrator with propppd terminating PPP (CHAP, a
//!   pool). The client's TUN gets the pool's address, `ping` crosses, and
//!   deleting the client's session (PADT) ends both sides.
//! - the wholesale chain: B's route is `l2tp`: proacd asks its prol2tpd
//!   (LAC) for a session in a tunnel to namespace C, where prol2tpd and
//!   propppd terminate PPP (LNS). `ping` crosses A → C; stopping the client
//!   sends PADT, which the LNS sees as a CDN.
//!
//! propppd and prol2tpd are other packages of the workspace: their
//! binaries are looked for next to proacd's (`cargo build --workspace`).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use common::ipc::{Reply, Request, Selector};
use support::*;

const UP: Duration = Duration::from_secs(30);
const SERVER_PPP: &str = "198.51.100.1";
const CLIENT_PPP: &str = "198.51.100.10";

fn bin(name: &str) -> Option<PathBuf> {
    let p = sibling_bin(name);
    if p.exists() {
        Some(p)
    } else {
        println!("SKIP: {} is missing: build the workspace first (cargo build --workspace)", p.display());
        None
    }
}

fn have_tun() -> bool {
    if std::path::Path::new("/dev/net/tun").exists() {
        return true;
    }
    println!("SKIP: no /dev/net/tun");
    false
}

/// Starts propppd in `ns` with `profiles`; waits for its channel socket.
fn start_propppd(ns: &Netns, dir: &TempDir, name: &str, profiles: &str) -> Child {
    let conf = format!(
        "[system]\nlog_level = debug\ncontrol_socket = {ctl}\nchannel_socket = {chan}\npid_file = {pid}\n\n{profiles}",
        ctl = dir.join(&format!("{name}.ctl")).display(),
        chan = dir.join(&format!("{name}.chan")).display(),
        pid = dir.join(&format!("{name}.pid")).display(),
    );
    let path = dir.write(&format!("{name}.conf"), &conf);
    let Some(b) = bin("propppd") else { panic!("propppd missing") };
    let child = ns.spawn(&[&b.to_string_lossy(), "-f", "-c", &path.to_string_lossy()], &dir.join(&format!("{name}.log")));
    let chan = dir.join(&format!("{name}.chan"));
    assert!(wait_until(Duration::from_secs(10), || chan.exists()), "{name} did not open its channel socket:\n{}", child.log());
    child
}

fn tun_count(ns: &Netns) -> usize {
    let out = ns.exec(&["ip", "-o", "link", "show", "type", "tun"]);
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn logs(dir: &TempDir, names: &[&str]) -> String {
    names.iter().map(|n| format!("--- {n}.log:\n{}", std::fs::read_to_string(dir.join(&format!("{n}.log"))).unwrap_or_default())).collect()
}

/// propppd's profiles on the terminating side: CHAP against `secrets`,
/// addresses from a pool.
fn server_profiles(dir: &TempDir) -> String {
    dir.write("chap-secrets", "\"alice@example.net\" * wonderland *\n");
    format!(
        "[pool \"lab\"]\nrange = {CLIENT_PPP}-198.51.100.20\n\n\
         [profile \"default\"]\nauth = chap\nlocal_ip = {SERVER_PPP}\npool = lab\ndns = 192.0.2.53\nipv6 = no\nchap_secrets = {}\n",
        dir.join("chap-secrets").display()
    )
}

const CLIENT_PROFILES: &str = "[profile \"dsl\"]\nauth = none\nuser_name = alice@example.net\npassword = wonderland\nipv6 = no\n";

/// proacd as PPPoE client on `ifname` in `ns`, with propppd `client-ppp`.
fn start_client(ns: &Netns, dir: &TempDir, ifname: &str) -> (Child, Proacd) {
    let ppp = start_propppd(ns, dir, "client-ppp", CLIENT_PROFILES);
    let conf = format!(
        "{}\n[client \"dsl0\"]\ninterface = {ifname}\nppp_profile = dsl\n",
        Proacd::system_section_with(dir, "client", &dir.join("client-ppp.chan"), &dir.join("client-prol2tpd.chan"), ""),
    );
    let p = Proacd::start(ns, dir, "client", &conf);
    (ppp, p)
}

#[test]
fn pppoe_client_to_local_termination_pings_and_padt_cleans_up() {
    if !require_root_and_netns() || !have_tun() || bin("propppd").is_none() {
        return;
    }
    let a = Netns::new("cha");
    let b = Netns::new("chb");
    let veth = link_veth(&a, &b, &[], &[]);
    let dir = TempDir::new("chain-local");
    let _server_ppp = start_propppd(&b, &dir, "ac-ppp", &server_profiles(&dir));
    let ac_conf = format!(
        "{}\n[interface \"{}\"]\nac_name = bras\n\n[route \"all\"]\ndestination = local\n",
        Proacd::system_section_with(&dir, "ac", &dir.join("ac-ppp.chan"), &dir.join("ac-prol2tpd.chan"), ""),
        veth.b
    );
    let mut ac = Proacd::start(&b, &dir, "ac", &ac_conf);
    let (_client_ppp, mut client) = start_client(&a, &dir, &veth.a);
    let names = ["ac", "ac-ppp", "client", "client-ppp"];
    let want_client = Some((CLIENT_PPP.to_string(), SERVER_PPP.to_string()));
    assert!(wait_until(UP, || a.ptp_addr() == want_client), "client TUN not addressed:\n{}", logs(&dir, &names));
    let want_server = Some((SERVER_PPP.to_string(), CLIENT_PPP.to_string()));
    assert!(wait_until(UP, || b.ptp_addr() == want_server), "server TUN not addressed:\n{}", logs(&dir, &names));
    let out = a.exec(&["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", SERVER_PPP]);
    assert!(out.status.success(), "ping failed: {}\n{}", String::from_utf8_lossy(&out.stdout), logs(&dir, &names));

    // Both proacds list the session, up, with the PPP side's addresses.
    let on_ac = ac.records(Request::ListPppoe);
    assert_eq!(on_ac.len(), 1, "{on_ac:?}");
    let s = &on_ac[0];
    assert_eq!((text(s, "role"), text(s, "state"), text(s, "destination")), ("server".into(), "up".into(), "local".into()), "{s:?}");
    assert_eq!(text(s, "peer_ip"), CLIENT_PPP);
    assert!(wait_until(Duration::from_secs(5), || client.records(Request::ListPppoe).first().is_some_and(|r| text(r, "state") == "up")));
    let on_client = client.records(Request::ListPppoe);
    assert_eq!(text(&on_client[0], "role"), "client");
    assert_eq!(num(&on_client[0], "session_id"), num(s, "session_id"));
    assert!(ac.stat("relay_frames_in") >= 3 && ac.stat("relay_frames_out") >= 3);
    assert!(client.stat("pads_rx") >= 1);

    // Deleting the client's session: PADT to the AC, both PPP sides end.
    assert_eq!(client.call(Request::DeletePppoe(Selector::Name("dsl0".into()))), Reply::Done);
    assert!(wait_until(UP, || ac.records(Request::ListPppoe).is_empty()), "AC kept the session:\n{}", logs(&dir, &names));
    assert!(wait_until(UP, || tun_count(&b) == 0), "server TUN left:\n{}", logs(&dir, &names));
    assert!(wait_until(UP, || tun_count(&a) == 0), "client TUN left:\n{}", logs(&dir, &names));
    assert!(client.records(Request::ListPppoe).is_empty());
    assert_eq!(ac.stat("padt_rx"), 1);

    // `propppctl create NAME pppoe IFACE`: propppd asks proacd, which
    // dials and hands the session back with role=client.
    let Some(ctl) = bin("propppctl") else { return };
    let sock = dir.join("client-ppp.ctl");
    let out = a.exec(&[&ctl.to_string_lossy(), "-s", &sock.to_string_lossy(), "create", "dsl1", "pppoe", &veth.a, "profile=dsl"]);
    assert!(
        out.status.success(),
        "propppctl create failed: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        logs(&dir, &names)
    );
    assert!(wait_until(UP, || a.ptp_addr() == want_client), "no session from propppctl create:\n{}", logs(&dir, &names));
    let out = a.exec(&["ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", SERVER_PPP]);
    assert!(out.status.success(), "ping over the second session failed:\n{}", logs(&dir, &names));
    let on_client = client.records(Request::ListPppoe);
    assert_eq!(on_client.first().map(|r| text(r, "peer_ip")).as_deref(), Some(SERVER_PPP), "{on_client:?}");
}

/// Starts prol2tpd in `ns` with `conf` (control socket `NAME.ctl`); waits
/// for its start line.
fn start_prol2tpd(ns: &Netns, dir: &TempDir, name: &str, conf: &str) -> Child {
    let path = dir.write(&format!("{name}.conf"), conf);
    let Some(b) = bin("prol2tpd") else { panic!("prol2tpd missing") };
    let ctl = format!("PROL2TP_CONTROL={}", dir.join(&format!("{name}.ctl")).display());
    let child = ns.spawn(&["env", &ctl, &b.to_string_lossy(), "-f", "-c", &path.to_string_lossy()], &dir.join(&format!("{name}.log")));
    assert!(child.wait_log("start version=", Duration::from_secs(10)), "{name} did not start:\n{}", child.log());
    child
}

#[test]
fn pppoe_client_through_the_lac_into_l2tp_to_the_lns() {
    if !require_root_and_netns() || !have_tun() || bin("propppd").is_none() || bin("prol2tpd").is_none() {
        return;
    }
    let a = Netns::new("l2a");
    let b = Netns::new("l2b");
    let c = Netns::new("l2c");
    let access = link_veth(&a, &b, &[], &[]);
    let _core = link_veth(&b, &c, &["192.0.2.2/24"], &["192.0.2.1/24"]);
    let dir = TempDir::new("chain-l2tp");
    // C: the LNS, prol2tpd + propppd terminating PPP.
    let _lns_ppp = start_propppd(&c, &dir, "lns-ppp", &server_profiles(&dir));
    let lns_conf = format!(
        "[system]\ndataplane = userspace\nhost_name = lns.example\npropppd_socket = {}\nswitch_socket = {}\n\n\
         [tunnel_profile \"v2\"]\nsecret = s3cret\n\n[peer_profile \"lacs\"]\npeer = 192.0.2.0/24\ntunnel_profile = v2\n",
        dir.join("lns-ppp.chan").display(),
        dir.join("lns-switch.chan").display()
    );
    let lns = start_prol2tpd(&c, &dir, "lns", &lns_conf);
    // B: proacd switching into L2TP through its prol2tpd (LAC).
    let lac_conf = format!(
        "[system]\ndataplane = userspace\nhost_name = lac.example\npropppd_socket = {}\nswitch_socket = {}\n\n\
         [tunnel_profile \"isp\"]\npeer = 192.0.2.1\nversion = 2\nsecret = s3cret\n",
        dir.join("lac-no-propppd.chan").display(),
        dir.join("lac-switch.chan").display()
    );
    let _lac = start_prol2tpd(&b, &dir, "lac", &lac_conf);
    let ac_conf = format!(
        "{}\n[interface \"{}\"]\nac_name = wholesale\n\n[route \"isp\"]\ndestination = l2tp\ntunnel_profile = isp\n",
        Proacd::system_section_with(&dir, "ac", &dir.join("ac-propppd.chan"), &dir.join("lac-switch.chan"), ""),
        access.b
    );
    let mut ac = Proacd::start(&b, &dir, "ac", &ac_conf);
    assert!(
        wait_until(Duration::from_secs(5), || ac.records(Request::ShowSystem).first().and_then(|r| num(r, "prol2tpd")) == Some(1)),
        "proacd did not connect to prol2tpd:\n{}",
        ac.log()
    );
    // A: the PPPoE client.
    let (_client_ppp, mut client) = start_client(&a, &dir, &access.a);
    let names = ["ac", "lac", "lns", "lns-ppp", "client", "client-ppp"];
    let want_client = Some((CLIENT_PPP.to_string(), SERVER_PPP.to_string()));
    assert!(wait_until(UP, || a.ptp_addr() == want_client), "client TUN not addressed:\n{}", logs(&dir, &names));
    let out = a.exec(&["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", SERVER_PPP]);
    assert!(out.status.success(), "ping failed: {}\n{}", String::from_utf8_lossy(&out.stdout), logs(&dir, &names));
    let on_ac = ac.records(Request::ListPppoe);
    assert_eq!(on_ac.len(), 1, "{on_ac:?}");
    let s = &on_ac[0];
    assert_eq!((text(s, "destination"), text(s, "state")), ("l2tp".into(), "up".into()), "{s:?}");
    assert!(text(s, "peer").starts_with("tunnel "), "{s:?}");
    assert!(num(s, "tunnel_id").is_some_and(|t| t != 0), "{s:?}");
    assert!(ac.stat("relay_frames_in") >= 3 && ac.stat("relay_frames_out") >= 3);

    // The client stops: PADT, the L2TP session ends with a CDN at the LNS,
    // its PPP interface goes.
    assert_eq!(client.call(Request::DeletePppoe(Selector::Name("dsl0".into()))), Reply::Done);
    assert!(wait_until(UP, || ac.records(Request::ListPppoe).is_empty()), "AC kept the session:\n{}", logs(&dir, &names));
    assert!(wait_until(UP, || tun_count(&c) == 0), "LNS TUN left after the PADT:\n{}", logs(&dir, &names));
    assert!(wait_until(UP, || lns.log().contains("session down tunnel_id=")), "no CDN at the LNS:\n{}", lns.log());
}
