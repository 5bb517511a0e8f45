//! Choosing the data plane on a host without the kernel's L2TP modules
//! (issue 3): `dataplane = auto` falls back to the userspace plane (null
//! without `/dev/net/tun`) and says why in its `dataplane requested=`
//! line; `dataplane = kernel` refuses to start with a message naming the
//! modules. Where the modules are present both tests check the opposite:
//! `auto` and `kernel` use the kernel plane (and its `IPPROTO_L2TP`
//! listeners). The kernel plane proper is exercised in the kernel lab
//! (`tests/lab/scenarios/prol2tpd-*.sh`).

mod support;

use std::time::Duration;

use prol2tp::dataplane::kernel::KernelDataplane;
use support::*;

/// True when this kernel has the `l2tp` generic netlink family.
fn kernel_plane_available() -> bool {
    KernelDataplane::open(Default::default()).is_ok()
}

fn system(dataplane: &str) -> String {
    format!("[system]\ndataplane = {dataplane}\nhost_name = plane.example\nlisten = 127.0.0.1\n\n")
}

#[test]
fn auto_uses_the_kernel_plane_if_it_can_and_says_which() {
    let Some((ns, dir)) = one_host("kp-auto") else { return };
    let mut d = Prol2tpd::start(&ns, &dir, "auto", &system("auto"));
    let line = d.events("dataplane").into_iter().find(|f| f.get("requested").is_some()).unwrap_or_else(|| panic!("no dataplane line:\n{}", d.log()));
    assert_eq!(line.req("requested"), "auto");
    if kernel_plane_available() {
        assert_eq!(line.req("using"), "kernel", "{}", d.log());
        assert!(d.log().contains("kind=l2tp_ip") || !d.log().contains("transport=Ip"), "IP listener must be an IPPROTO_L2TP socket:\n{}", d.log());
    } else {
        let want = if std::path::Path::new("/dev/net/tun").exists() { "userspace" } else { "null" };
        assert_eq!(line.req("using"), want, "{}", d.log());
        let reason = line.req("reason");
        assert!(reason.starts_with("no kernel data plane: ") && reason.contains("l2tp"), "reason={reason}");
        assert!(reason.contains("errno 2"), "ENOENT expected: reason={reason}");
        assert!(!d.log().contains("kind=l2tp_ip"), "no IPPROTO_L2TP listener without the kernel plane:\n{}", d.log());
    }
    let (_, exited) = d.terminate();
    assert!(exited, "{}", d.log());
}

#[test]
fn kernel_refuses_to_start_without_the_modules() {
    let Some((ns, dir)) = one_host("kp-kernel") else { return };
    let mut d = Prol2tpd::spawn(&ns, &dir, "kernel", &system("kernel"));
    if kernel_plane_available() {
        assert!(d.child.wait_log("start version=", Duration::from_secs(10)), "{}", d.log());
        assert!(d.log().contains("dataplane requested=kernel using=kernel"), "{}", d.log());
        return;
    }
    let exited = wait_until(Duration::from_secs(10), || d.child.try_exit().is_some());
    assert!(exited, "prol2tpd kept running with dataplane = kernel and no modules:\n{}", d.log());
    let status = d.child.try_exit();
    assert!(status.is_some_and(|s| s.code() == Some(1)), "exit status {status:?}");
    let log = d.log();
    assert!(log.contains("cannot start: dataplane kernel is not available"), "{log}");
    assert!(log.contains("modprobe l2tp_netlink"), "the message must say what to load: {log}");
    assert!(!log.contains("start version="), "{log}");
}
