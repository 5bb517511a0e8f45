//! proacd on the host (issue 6, done item 2): real processes in network
//! namespaces joined by a veth pair, userspace data plane.
//!
//! - `pppoe-discovery` (Debian `pppoe`) in one namespace finds proacd in the
//!   other and prints its AC-Name and Service-Name; an interface that does
//!   not exist is listed with `state=error` while the other works;
//! - a PADR with a forged AC-Cookie gets no PADS and no session;
//! - the per-MAC and total session limits refuse the next PADR with
//!   AC-System-Error;
//! - a burst of PADIs from many MACs gets at most burst + rate·t PADOs;
//! - `proacd -n`, a bad configuration line (file:line), SIGHUP and `Reload`.
//!
//! The test speaks discovery itself through `proac::proto` and a
//! `proac::sys::PacketSocket` opened in the client's namespace.

mod support;

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::channel::{Channel, ChannelListener, Received};
use common::ipc::{Body, Reply, Request};
use nix::sys::signal::Signal;
use proac::proto::{tag, Code, Discovery, MacAddr};
use support::*;

const PPPOE_DISCOVERY: &str = "/usr/sbin/pppoe-discovery";

/// The [`fake_mac`] series of these tests.
const MACS: u8 = 0x00;

#[test]
fn pppoe_discovery_finds_proacd_and_a_missing_interface_is_listed_in_error() {
    if !require_program(PPPOE_DISCOVERY) {
        return;
    }
    let Some((ac, cl, veth, dir)) = setup("disc") else { return };
    let conf = format!(
        "{}\n[interface \"{}\"]\nac_name = proac-test-ac\nservice_names = internet, voip\n\n[interface \"nosuch0\"]\n\n[route \"all\"]\ndestination = local\n",
        Proacd::system_section(&dir, "ac", ""),
        veth.a
    );
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let out = cl.exec(&[PPPOE_DISCOVERY, "-I", &veth.b]);
    let text_out = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text_out.contains("Access-Concentrator: proac-test-ac"), "pppoe-discovery said:\n{text_out}\n{}", p.log());
    assert!(text_out.contains("Service-Name: internet"), "pppoe-discovery said:\n{text_out}");
    let ifs = p.records(Request::ListInterfaces);
    assert_eq!(ifs.len(), 2, "{ifs:?}");
    let good = ifs.iter().find(|r| text(r, "name") == veth.a).unwrap_or_else(|| panic!("{ifs:?}"));
    assert_eq!(text(good, "state"), "up");
    assert_eq!(text(good, "ac_name"), "proac-test-ac");
    assert_eq!(text(good, "service_names"), "internet,voip");
    let bad = ifs.iter().find(|r| text(r, "name") == "nosuch0").unwrap_or_else(|| panic!("{ifs:?}"));
    assert_eq!(text(bad, "state"), "error");
    assert!(!text(bad, "error").is_empty());
    assert!(p.stat("pado_tx") >= 1);
    // No session: pppoe-discovery stops after the PADO.
    assert!(p.records(Request::ListPppoe).is_empty());
}

#[test]
fn a_forged_cookie_gets_no_pads_and_no_session() {
    let Some((ac, cl, veth, dir)) = setup("cookie") else { return };
    let conf = format!("{}\n[interface \"{}\"]\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let host = Host::new(&cl, &veth.b);
    let acm = ac_mac(&ac, &veth.a);
    let real = host.discover(host.mac);
    let mut forged = real.clone();
    if let Some(last) = forged.last_mut() {
        *last ^= 0xff;
    }
    let mut padr = Discovery::new(Code::Padr, 0);
    padr.push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, &forged).push(tag::HOST_UNIQ, b"forged");
    host.send(host.mac, acm, &padr);
    assert!(wait_until(Duration::from_secs(5), || p.stat("bad_cookie") == 1), "bad_cookie never counted:\n{}", p.log());
    let got = host.collect(Duration::from_millis(300), |_| false);
    assert!(got.iter().all(|(_, d)| d.code != Code::Pads), "a PADS came back: {got:?}");
    assert!(p.records(Request::ListPppoe).is_empty());
    assert_eq!(p.stat("pads_tx"), 0);
    assert_eq!(p.stat("sessions_opened"), 0);
}

/// Reads what a fake propppd got on `chan` until `want` messages came;
/// the channel fds that came with them are kept in `fds` (closing one
/// would end its session).
fn channel_messages(chan: &mut Channel, want: usize, fds: &mut Vec<OwnedFd>) -> Vec<(Request, bool)> {
    let mut got = Vec::new();
    wait_until(Duration::from_secs(5), || {
        while let Received::Message(m, fd) = chan.recv() {
            if let Body::Request(r) = m.body {
                got.push((r, fd.is_some()));
            }
            fds.extend(fd);
        }
        got.len() >= want
    });
    got
}

#[test]
fn session_limits_refuse_with_ac_system_error_and_propppd_loss_ends_sessions() {
    let Some((ac, cl, veth, dir)) = setup("limit") else { return };
    let conf = format!(
        "{}\n[interface \"{}\"]\n\n[route \"all\"]\nppp_profile = pppoe\n",
        Proacd::system_section(&dir, "ac", "max_sessions = 2\nmax_sessions_per_mac = 1"),
        veth.a
    );
    // A stand-in for propppd that takes the sessions and keeps them starting.
    let listener = ChannelListener::bind(&dir.join("ac-propppd.chan")).unwrap_or_else(|e| panic!("bind: {e}"));
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let mut fake = None;
    assert!(wait_until(Duration::from_secs(5), || {
        fake = listener.accept().ok().flatten();
        fake.is_some()
    }));
    let Some(mut fake) = fake else { return };
    let host = Host::new(&cl, &veth.b);
    let acm = ac_mac(&ac, &veth.a);
    let macs = [fake_mac(MACS, 1), fake_mac(MACS, 2), fake_mac(MACS, 3)];
    let cookies: Vec<Vec<u8>> = macs.iter().map(|m| host.discover(*m)).collect();
    let padr = |src: MacAddr, cookie: &[u8], hu: &[u8]| {
        let mut d = Discovery::new(Code::Padr, 0);
        d.push(tag::SERVICE_NAME, b"").push(tag::AC_COOKIE, cookie).push(tag::HOST_UNIQ, hu);
        host.send(src, acm, &d);
    };
    padr(macs[0], &cookies[0], b"a1");
    padr(macs[0], &cookies[0], b"a2");
    padr(macs[1], &cookies[1], b"b1");
    padr(macs[2], &cookies[2], b"c1");
    let got = host.collect(Duration::from_secs(5), |g| g.iter().filter(|(_, d)| d.code == Code::Pads).count() >= 4);
    let pads = |hu: &[u8]| got.iter().find(|(_, d)| d.code == Code::Pads && d.tag(tag::HOST_UNIQ) == Some(hu)).map(|(_, d)| d.clone());
    let a1 = pads(b"a1").unwrap_or_else(|| panic!("no PADS a1: {got:?}\n{}", p.log()));
    assert_ne!(a1.session_id, 0);
    let a2 = pads(b"a2").unwrap_or_else(|| panic!("no PADS a2: {got:?}"));
    assert_eq!(a2.session_id, 0, "per-MAC limit not applied: {a2:?}");
    assert!(a2.tag(tag::AC_SYSTEM_ERROR).is_some(), "{a2:?}");
    let b1 = pads(b"b1").unwrap_or_else(|| panic!("no PADS b1: {got:?}"));
    assert_ne!(b1.session_id, 0);
    let c1 = pads(b"c1").unwrap_or_else(|| panic!("no PADS c1: {got:?}"));
    assert_eq!(c1.session_id, 0, "total limit not applied: {c1:?}");
    assert!(c1.tag(tag::AC_SYSTEM_ERROR).is_some(), "{c1:?}");
    assert_eq!(p.stat("limit_refused"), 2);
    let sessions = p.records(Request::ListPppoe);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|r| text(r, "state") == "starting" && text(r, "role") == "server" && text(r, "destination") == "local"));
    // propppd got the hello and one PppOpen with a framed channel each.
    let mut fds = Vec::new();
    let msgs = channel_messages(&mut fake, 3, &mut fds);
    assert!(matches!(&msgs.first(), Some((Request::ChannelHello { linktype }, false)) if linktype == "pppoe"), "{msgs:?}");
    let opens: Vec<&Vec<(String, String)>> = msgs
        .iter()
        .filter_map(|(r, fd)| match r {
            Request::PppOpen { params, .. } if *fd => Some(params),
            _ => None,
        })
        .collect();
    assert_eq!(opens.len(), 2, "{msgs:?}");
    let has = |ps: &Vec<(String, String)>, k: &str, v: &str| ps.iter().any(|(a, b)| a == k && b == v);
    for (ps, sid) in opens.iter().zip([a1.session_id, b1.session_id]) {
        assert!(has(ps, "framing", "frames") && has(ps, "role", "server") && has(ps, "linktype", "pppoe") && has(ps, "profile", "pppoe"), "{ps:?}");
        assert!(has(ps, "name", &format!("{}/{sid}", veth.a)) && has(ps, "pppoe_session_id", &sid.to_string()), "{ps:?}");
    }
    assert_eq!(p.stat("padt_tx"), 0);
    // propppd goes away: both sessions end with PADT.
    drop(fake);
    assert!(wait_until(Duration::from_secs(5), || p.stat("padt_tx") == 2), "{}", p.log());
    let padts = host.collect(Duration::from_secs(5), |g| g.iter().filter(|(_, d)| d.code == Code::Padt).count() >= 2);
    let mut ids: Vec<u16> = padts.iter().filter(|(_, d)| d.code == Code::Padt).map(|(_, d)| d.session_id).collect();
    ids.sort_unstable();
    let mut want = vec![a1.session_id, b1.session_id];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(p.records(Request::ListPppoe).is_empty());
}

#[test]
fn a_padi_burst_is_rate_limited() {
    let Some((ac, cl, veth, dir)) = setup("burst") else { return };
    let (rate, burst, n) = (20u64, 10u64, 200u32);
    let conf = format!("{}\n[interface \"{}\"]\npadi_rate = {rate}\npadi_burst = {burst}\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let mut p = Proacd::start(&ac, &dir, "ac", &conf);
    let host = Host::new(&cl, &veth.b);
    let mut padi = Discovery::new(Code::Padi, 0);
    padi.push(tag::SERVICE_NAME, b"");
    let start = Instant::now();
    for i in 0..n {
        host.send(fake_mac(MACS, 1000 + i), MacAddr::BROADCAST, &padi);
    }
    assert!(wait_until(Duration::from_secs(10), || p.stat("padi_rx") == u64::from(n)), "padi_rx={} of {n}\n{}", p.stat("padi_rx"), p.log());
    let elapsed = start.elapsed().as_secs_f64();
    let pado = p.stat("pado_tx");
    let limited = p.stat("rate_limited");
    let bound = burst as f64 + rate as f64 * elapsed + 1.0;
    assert!((pado as f64) <= bound, "{pado} PADOs in {elapsed:.2}s > burst {burst} + rate {rate}·t");
    assert!(pado >= burst.min(u64::from(n)), "only {pado} PADOs");
    assert_eq!(pado + limited, u64::from(n), "pado {pado} + rate_limited {limited} != {n}");
    let got = host.collect(Duration::from_secs(2), |g| g.len() as u64 >= pado);
    assert_eq!(got.iter().filter(|(_, d)| d.code == Code::Pado).count() as u64, pado);
}

#[test]
fn check_flag_bad_line_sighup_and_reload() {
    let Some((ac, cl, veth, dir)) = setup("cfg") else { return };
    let _ = &cl;
    let good = format!("{}\n[interface \"{}\"]\nac_name = first\n\n[route \"all\"]\n", Proacd::system_section(&dir, "ac", ""), veth.a);
    let path = dir.write("check.conf", &good);
    let out = std::process::Command::new(proacd_bin()).args(["-n", "-c", &path.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&veth.a), "{}", String::from_utf8_lossy(&out.stdout));
    let bad = dir.write("bad.conf", "[system]\nmax_sessions = 1\nno_such_key = 3\n");
    let out = std::process::Command::new(proacd_bin()).args(["-n", "-c", &bad.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3", bad.display())), "{err}");
    let out = std::process::Command::new(proacd_bin()).args(["-x"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());

    let mut p = Proacd::start(&ac, &dir, "ac", &good);
    let ac_name = |p: &mut Proacd| p.records(Request::ListInterfaces).first().map(|r| text(r, "ac_name")).unwrap_or_default();
    assert_eq!(ac_name(&mut p), "first");
    // SIGHUP with a new AC-Name and a second route.
    std::fs::write(&p.conf, good.replace("ac_name = first", "ac_name = second") + "\n[route \"two\"]\n").unwrap_or_else(|e| panic!("{e}"));
    p.child.signal(Signal::SIGHUP);
    assert!(wait_until(Duration::from_secs(5), || ac_name(&mut p) == "second"), "{}", p.log());
    assert_eq!(p.records(Request::ListRoutes).len(), 2);
    // A broken file is reported and ignored.
    std::fs::write(&p.conf, good.clone() + "bogus line without equals\n").unwrap_or_else(|e| panic!("{e}"));
    match p.call(Request::Reload) {
        Reply::Error { message, .. } => assert!(message.contains(&p.conf.display().to_string()), "{message}"),
        other => panic!("reload of a broken file: {other:?}"),
    }
    assert_eq!(ac_name(&mut p), "second");
    assert_eq!(p.records(Request::ListRoutes).len(), 2);
    std::fs::write(&p.conf, &good).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.call(Request::Reload), Reply::Done);
    assert_eq!(ac_name(&mut p), "first");
    assert_eq!(p.records(Request::ListRoutes).len(), 1);
    let sys = p.records(Request::ShowSystem);
    assert_eq!(sys.first().map(|r| text(r, "dataplane")).as_deref(), Some("userspace"));
    assert_eq!(sys.first().and_then(|r| num(r, "interfaces")), Some(1));
    assert!(p.child.stop(Duration::from_secs(5)).is_some_and(|s| s.success()), "{}", p.log());
}
