//! `proacd.conf`: every key of every section, the defaults, every error
//! with the line it names, route matching order, and the example files in
//! `conf/`.

use std::path::{Path, PathBuf};

use proac::config::{Config, DataplaneMode, Destination, Level};
use proac::proto::MacAddr;

fn p() -> &'static Path {
    Path::new("/etc/proac/t.conf")
}

fn load(text: &str) -> Config {
    Config::parse(text, p()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The error for `text`, checked to be `FILE:LINE: …` on `line` and to
/// contain `words`.
fn err_at(text: &str, line: usize, words: &str) {
    let e = match Config::parse(text, p()) {
        Err(e) => e,
        Ok(_) => panic!("accepted:\n{text}"),
    };
    let prefix = format!("/etc/proac/t.conf:{line}: ");
    assert!(e.starts_with(&prefix), "want line {line}, got `{e}` for\n{text}");
    assert!(e.contains(words), "`{e}` lacks `{words}`");
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

#[test]
fn empty_file_gives_defaults() {
    let c = load("# nothing\n");
    let d = Config::defaults();
    assert_eq!(c.file, PathBuf::from("/etc/proac/t.conf"));
    assert_eq!(d.file, PathBuf::from("/etc/proac/proacd.conf"));
    for s in [&c.system, &d.system] {
        assert_eq!(s.control_socket, PathBuf::from("/run/proac/proacd.ctl"));
        assert_eq!(s.pid_file, PathBuf::from("/run/proacd.pid"));
        assert_eq!(s.propppd_socket, PathBuf::from("/run/proppp/propppd.chan"));
        assert_eq!(s.prol2tpd_socket, PathBuf::from("/run/prol2tp/prol2tpd.chan"));
        assert_eq!(s.dataplane, DataplaneMode::Auto);
        assert_eq!(s.ac_name, proac::config::host_name());
        assert!(!s.ac_name.is_empty());
        assert_eq!((s.max_sessions, s.max_sessions_per_mac, s.padi_rate, s.padi_burst), (10_000, 4, 200, 400));
        assert_eq!(s.cookie_lifetime_ms, 60_000);
        assert_eq!(s.cookie_lifetime(), std::time::Duration::from_secs(60));
        assert_eq!(s.allow_mac, None);
        assert!(s.deny_mac.is_empty());
        assert_eq!(s.log.event, Level::Info);
        assert_eq!(s.log.pppoe, Level::Info);
    }
    assert!(c.interfaces.is_empty() && c.routes.is_empty() && c.clients.is_empty());
    assert_eq!(c.route_for("eth0", mac("02:00:5e:00:53:01"), ""), None);
}

#[test]
fn system_keys() {
    let c = load(
        "[system]\nlog_level = debug\nlog_mgmt = warning\ncontrol_socket = /tmp/a.ctl\npid_file = /tmp/a.pid\npropppd_socket = /tmp/p.chan\n\
         prol2tpd_socket = /tmp/l.chan\ndataplane = userspace\nac_name = \"BRAS one\"\nmax_sessions = 65534\nmax_sessions_per_mac = 0\n\
         padi_rate = 0\npadi_burst = 1\ncookie_lifetime = 2m\nallow_mac = 02:00:5e:00:53:01, 02-00-5E-00-53-02\ndeny_mac = 02:00:5e:00:53:03 02:00:5e:00:53:04\n",
    );
    let s = &c.system;
    assert_eq!((s.log.event, s.log.main, s.log.mgmt, s.log.pppoe), (Level::Debug, Level::Debug, Level::Warning, Level::Debug));
    assert_eq!(s.control_socket, PathBuf::from("/tmp/a.ctl"));
    assert_eq!(s.pid_file, PathBuf::from("/tmp/a.pid"));
    assert_eq!(s.propppd_socket, PathBuf::from("/tmp/p.chan"));
    assert_eq!(s.prol2tpd_socket, PathBuf::from("/tmp/l.chan"));
    assert_eq!(s.dataplane, DataplaneMode::Userspace);
    assert_eq!(s.ac_name, "BRAS one");
    assert_eq!((s.max_sessions, s.max_sessions_per_mac, s.padi_rate, s.padi_burst), (65534, 0, 0, 1));
    assert_eq!(s.cookie_lifetime_ms, 120_000);
    assert_eq!(s.allow_mac, Some(vec![mac("02:00:5e:00:53:01"), mac("02:00:5e:00:53:02")]));
    assert_eq!(s.deny_mac, vec![mac("02:00:5e:00:53:03"), mac("02:00:5e:00:53:04")]);
    assert_eq!(load("[system]\ndataplane = KERNEL\ncookie_lifetime = 5\n").system.dataplane, DataplaneMode::Kernel);
    assert_eq!(load("[system]\ncookie_lifetime = 5\n").system.cookie_lifetime_ms, 5_000);
    assert_eq!(load("[system]\nlog_pppoe = notice\n").system.log.pppoe, Level::Notice);
    assert_eq!(load("[system]\nlog_event = error\nlog_main = warning\n").system.log.main, Level::Warning);
}

#[test]
fn interface_keys_and_fallbacks() {
    let c = load("[system]\nac_name = sys-ac\npadi_rate = 50\n[interface \"eth1\"]\n[interface \"eth2.100\"]\nac_name = vlan-ac\nservice_names = internet, voip\nmax_sessions = 100\npadi_rate = 10\npadi_burst = 20\n");
    let a = &c.interfaces[0];
    assert_eq!(
        (a.name.as_str(), a.line, a.ac_name.as_deref(), a.service_names.len(), a.max_sessions, a.padi_rate, a.padi_burst),
        ("eth1", 4, None, 0, 0, None, None)
    );
    assert_eq!(c.ac_name_for(a), "sys-ac");
    let b = c.interface("eth2.100").unwrap();
    assert_eq!(b.line, 5);
    assert_eq!(c.ac_name_for(b), "vlan-ac");
    assert_eq!(b.service_names, vec!["internet".to_string(), "voip".to_string()]);
    assert_eq!((b.max_sessions, b.padi_rate, b.padi_burst), (100, Some(10), Some(20)));
    let text = c.describe();
    assert!(text.contains("interface eth1: ac_name=sys-ac service_names=any max_sessions=0 padi_rate=50 padi_burst=400\n"), "{text}");
    assert!(text.contains("interface eth2.100: ac_name=vlan-ac service_names=internet,voip max_sessions=100 padi_rate=10 padi_burst=20\n"), "{text}");
}

#[test]
fn route_keys() {
    let c = load(
        "[interface \"eth1\"]\n[interface \"eth2\"]\n[route \"wholesale\"]\ninterfaces = eth1, eth2\nservice_names = isp-b\nmacs = 02:00:5e:00:53:0a\n\
         destination = l2tp\ntunnel_profile = lns-b\nsession_profile = lac\n[route \"local\"]\nppp_profile = bras\n",
    );
    let w = c.route("wholesale").unwrap();
    assert_eq!(w.line, 3);
    assert_eq!(w.interfaces, vec!["eth1".to_string(), "eth2".to_string()]);
    assert_eq!(w.service_names, vec!["isp-b".to_string()]);
    assert_eq!(w.macs, vec![mac("02:00:5e:00:53:0a")]);
    assert_eq!(w.destination, Destination::L2tp);
    assert_eq!((w.tunnel_profile.as_deref(), w.session_profile.as_deref(), w.ppp_profile.as_deref()), (Some("lns-b"), Some("lac"), None));
    let l = c.route("local").unwrap();
    assert_eq!((l.destination, l.ppp_profile.as_deref()), (Destination::Local, Some("bras")));
    assert!(l.interfaces.is_empty() && l.service_names.is_empty() && l.macs.is_empty());
    let text = c.describe();
    assert!(
        text.contains(
            "route wholesale: interfaces=eth1,eth2 service_names=isp-b macs=02:00:5e:00:53:0a destination=l2tp tunnel_profile=lns-b session_profile=lac\n"
        ),
        "{text}"
    );
    assert!(text.contains("route local: interfaces=any service_names=any macs=any destination=local ppp_profile=bras\n"), "{text}");
}

#[test]
fn client_keys() {
    let c = load(
        "[client \"home\"]\ninterface = eth3\nservice_name = internet\nac_name = BRAS\nppp_profile = dsl\nuser_name = alice@isp\npassword = \"s3cr#t \"\n\
         ifname = ppp-home\npersist = no\nholdoff = 30\n[client \"backup\"]\ninterface = eth4\n",
    );
    let h = c.client("home").unwrap();
    assert_eq!((h.line, h.interface.as_str(), h.service_name.as_str(), h.ac_name.as_deref()), (1, "eth3", "internet", Some("BRAS")));
    assert_eq!(
        (h.ppp_profile.as_deref(), h.user_name.as_deref(), h.password.as_deref(), h.ifname.as_deref()),
        (Some("dsl"), Some("alice@isp"), Some("s3cr#t "), Some("ppp-home"))
    );
    assert_eq!((h.persist, h.holdoff_ms), (false, 30_000));
    let b = c.client("backup").unwrap();
    assert_eq!((b.service_name.as_str(), b.ac_name.as_deref(), b.persist, b.holdoff_ms, b.user_name.as_deref()), ("", None, true, 5_000, None));
    let text = c.describe();
    assert!(
        text.contains("client backup: interface=eth4 service_name=any ac_name=any ppp_profile=default user_name=- ifname=- persist=yes holdoff_ms=5000\n"),
        "{text}"
    );
    assert!(!text.contains("s3cr#t"), "describe must not print passwords: {text}");
}

#[test]
fn route_matching_order() {
    let c = load(
        "[interface \"eth1\"]\n[interface \"eth2\"]\n\
         [route \"vip\"]\nmacs = 02:00:5e:00:53:01\nppp_profile = vip\n\
         [route \"isp-b\"]\nservice_names = isp-b, isp-b2\ndestination = l2tp\ntunnel_profile = lns-b\n\
         [route \"eth2-only\"]\ninterfaces = eth2\n\
         [route \"internet\"]\nservice_names = internet\ninterfaces = eth1\n",
    );
    let (vip, other) = (mac("02:00:5e:00:53:01"), mac("02:00:5e:00:53:02"));
    // The MAC route comes first and catches every service of that client.
    assert_eq!(c.route_for("eth1", vip, "isp-b"), Some(0));
    assert_eq!(c.route_for("eth1", other, "isp-b"), Some(1));
    assert_eq!(c.route_for("eth2", other, "isp-b2"), Some(1));
    assert_eq!(c.route_for("eth2", other, "internet"), Some(2));
    assert_eq!(c.route_for("eth1", other, "internet"), Some(3));
    // An empty Service-Name means any service: the first route that matches
    // interface and MAC, whatever its service names.
    assert_eq!(c.route_for("eth1", other, ""), Some(1));
    assert_eq!(c.route_for("eth1", other, "video"), None);
    assert_eq!(c.route_for("eth3", other, "internet"), None);
    // Service-Names compare exactly.
    assert_eq!(c.route_for("eth1", other, "Internet"), None);
}

#[test]
fn errors_name_their_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("[system]\nfoo = 1\n", 2, "unknown parameter `foo` in [system]"),
        ("[tunnel \"x\"]\n", 1, "unknown section kind `tunnel`"),
        ("[system \"x\"]\n", 1, "takes no name"),
        ("[interface]\n", 1, "needs a name"),
        ("[interface \"eth1\"]\n[interface \"eth1\"]\n", 2, "duplicate section"),
        ("[system]\nlog_level = loud\n", 2, "log_level"),
        ("[system]\nlog_pppoe = loud\n", 2, "log_pppoe"),
        ("[system]\ncontrol_socket = run/x\n", 2, "an absolute path"),
        ("[system]\npid_file =\n", 2, "pid_file"),
        ("[system]\npropppd_socket = x\n", 2, "absolute"),
        ("[system]\nprol2tpd_socket = x\n", 2, "absolute"),
        ("[system]\ndataplane = null\n", 2, "one of auto, kernel, userspace"),
        ("[system]\nac_name =\n", 2, "ac_name"),
        ("[system]\nmax_sessions = 0\n", 2, "from 1 to 65534"),
        ("[system]\nmax_sessions = 65535\n", 2, "from 1 to 65534"),
        ("[system]\nmax_sessions_per_mac = 70000\n", 2, "max_sessions_per_mac"),
        ("[system]\npadi_rate = -1\n", 2, "padi_rate"),
        ("[system]\npadi_burst = 0\n", 2, "padi_burst"),
        ("[system]\ncookie_lifetime = 0\n", 2, "cookie_lifetime"),
        ("[system]\ncookie_lifetime = 2h\n", 2, "cookie_lifetime"),
        ("[system]\nallow_mac = 02:00:5e:00:53\n", 2, "bad MAC address `02:00:5e:00:53` in `allow_mac`"),
        ("[system]\ndeny_mac = ff:ff:ff:ff:ff:ff\n", 2, "unicast"),
        ("[system]\ndeny_mac = 00:00:00:00:00:00\n", 2, "deny_mac"),
        ("[system]\nallow_mac = ,\n", 2, "allow_mac"),
        ("\n[interface \"eth/1\"]\n", 2, "bad interface name"),
        ("[interface \"eth0123456789abcd\"]\n", 1, "bad interface name"),
        ("[interface \"eth1\"]\nmtu = 1500\n", 2, "unknown parameter `mtu` in [interface]"),
        ("[interface \"eth1\"]\nservice_names = a,,b\n", 2, "service_names"),
        ("[interface \"eth1\"]\nservice_names = a, a\n", 2, "`a` given twice"),
        ("[interface \"eth1\"]\nmax_sessions = 65535\n", 2, "max_sessions"),
        ("[interface \"eth1\"]\npadi_burst = 0\n", 2, "padi_burst"),
        ("[interface \"eth1\"]\npadi_rate = x\n", 2, "padi_rate"),
        ("[interface \"eth1\"]\nac_name = \"\"\n", 2, "ac_name"),
        ("[route \"r\"]\ninterfaces = eth9\n", 2, "no [interface \"eth9\"] section"),
        ("[interface \"eth1\"]\n[route \"r\"]\ninterfaces = eth1, eth1\n", 3, "given twice"),
        ("[route \"r\"]\ninterfaces = a b\n", 2, "interface names"),
        ("[route \"r\"]\nmacs = 02:00:5e:00:53:01, bogus\n", 2, "bad MAC address `bogus` in `macs`"),
        ("[route \"r\"]\ndestination = ppp\n", 2, "one of local, l2tp"),
        ("[route \"r\"]\n\ndestination = l2tp\n", 3, "needs tunnel_profile"),
        ("[route \"r\"]\n", 1, ""),
        ("[route \"r\"]\ndestination = l2tp\ntunnel_profile = t\nppp_profile = p\n", 4, "ppp_profile is for destination = local"),
        ("[route \"r\"]\ntunnel_profile = t\n", 2, "tunnel_profile needs destination = l2tp"),
        ("[route \"r\"]\nsession_profile = s\n", 2, "session_profile needs destination = l2tp"),
        ("[route \"r\"]\nppp_profile = two words\n", 2, "ppp_profile"),
        ("[route \"r\"]\nweight = 1\n", 2, "unknown parameter `weight` in [route]"),
        ("[client \"c\"]\nservice_name = x\n", 1, "needs `interface`"),
        ("[client \"a/b\"]\ninterface = eth1\n", 1, "bad client name"),
        ("[client \"c\"]\ninterface = eth 1\n", 2, "interface"),
        ("[client \"c\"]\ninterface = eth1\npassword = x\n", 3, "password without user_name"),
        ("[client \"c\"]\ninterface = eth1\nuser_name = u\n", 3, "user_name without password"),
        ("[client \"c\"]\ninterface = eth1\npersist = maybe\n", 3, "yes or no"),
        ("[client \"c\"]\ninterface = eth1\nholdoff = 2h\n", 3, "holdoff"),
        ("[client \"c\"]\ninterface = eth1\nifname = a/b\n", 3, "ifname"),
        ("[client \"c\"]\ninterface = eth1\nretries = 3\n", 3, "unknown parameter `retries` in [client]"),
        ("[system]\nac_name = a\nac_name = b\n", 3, "duplicate key"),
    ];
    for (text, line, words) in cases {
        if words.is_empty() {
            // A route with nothing set is fine: local, matches everything.
            assert_eq!(load(text).route_for("x", mac("02:00:5e:00:53:01"), "y"), Some(0));
            continue;
        }
        err_at(text, *line, words);
    }
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let missing = Path::new("/nonexistent/proacd.conf");
    let e = Config::load(missing).unwrap_err();
    assert!(e.starts_with("/nonexistent/proacd.conf: cannot read"), "{e}");
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf").join(name)
}

#[test]
fn example_local_termination_loads() {
    let c = Config::load(&example("proacd.conf")).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.interfaces.is_empty());
    assert!(!c.routes.is_empty());
    assert!(c.routes.iter().all(|r| r.destination == Destination::Local));
    assert!(!c.describe().is_empty());
}

#[test]
fn example_lac_loads() {
    let c = Config::load(&example("proacd-lac.conf")).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.routes.iter().any(|r| r.destination == Destination::L2tp && r.tunnel_profile.is_some()));
}
