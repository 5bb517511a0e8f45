use super::*;
use crate::proto::auth::DigestAlg;
use crate::proto::header::{Transport, Version};
use crate::proto::session::Pseudowire;
use std::net::{Ipv6Addr, SocketAddrV4};
use std::time::Duration;

fn path() -> &'static Path {
    Path::new("/etc/prol2tp/prol2tpd.conf")
}

fn parse(text: &str) -> Config {
    match Config::parse_str(path(), text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The error for `text`: (line, message).
fn error(text: &str) -> (Option<usize>, String) {
    match Config::parse_str(path(), text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => (e.line, e.message),
    }
}

/// Asserts that `text` fails at `line` with a message containing `needle`.
#[track_caller]
fn assert_error(text: &str, line: usize, needle: &str) {
    let (l, m) = error(text);
    assert_eq!(l, Some(line), "wrong line for `{m}`");
    assert!(m.contains(needle), "message `{m}` lacks `{needle}`");
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

#[test]
fn empty_file_gives_builtin_defaults() {
    let c = parse("");
    assert_eq!(c.system, SystemConfig::default());
    assert_eq!(c.system.udp_port, 1701);
    assert_eq!(c.system.max_halfopen_tunnels, 100);
    assert_eq!(c.system.listen, vec![v4("0.0.0.0"), IpAddr::V6(Ipv6Addr::UNSPECIFIED)]);
    let t = c.tunnel_profile(None).unwrap();
    assert_eq!(t.line, None);
    assert_eq!(t.params, TunnelParams::builtin(TraceFlags::NONE));
    assert_eq!(t.params.core.hello_interval, Some(Duration::from_secs(60)));
    assert_eq!(c.session_profile(None).unwrap().params, SessionParams::builtin(TraceFlags::NONE));
    assert_eq!(c.ppp_profile(None).unwrap().mru, 1500);
    assert_eq!(c.eth_profile(None).unwrap().mtu, None);
    assert_eq!(c.peer_profiles.len(), 1);
    assert_eq!(c.peer_profiles[0].peer, None);
    assert!(c.tunnels.is_empty() && c.sessions.is_empty());
    // The built-in default peer profile accepts nobody.
    assert!(c.match_peer(v4("192.0.2.1")).is_none());
}

/// The built-in defaults come from the core's `Default`s (with the config's
/// own `l2spec_type`); pin them to the values `prol2tpd.conf(5)` documents.
#[test]
fn builtin_defaults_are_the_documented_ones() {
    let t = TunnelParams::builtin(TraceFlags::NONE).core;
    assert_eq!((t.version, t.v2_fallback, t.transport, t.digest), (Version::V2, true, Transport::Udp, DigestAlg::HmacMd5));
    assert_eq!((t.peer, t.local, t.secret, t.hide_avps, t.host_name), (None, None, None, false, None));
    assert_eq!(
        (t.hello_interval, t.retry_timeout, t.max_retry_timeout),
        (Some(Duration::from_secs(60)), Duration::from_millis(1000), Duration::from_millis(8000))
    );
    assert_eq!((t.max_retries, t.rx_window_size, t.max_sessions, t.trace_flags), (5, 10, 0, TraceFlags::NONE));
    assert_eq!(TunnelParams::builtin(TraceFlags::ALL).core.trace_flags, TraceFlags::ALL);
    let s = SessionParams::builtin(TraceFlags::NONE).core;
    assert_eq!((s.pseudowire, s.l2spec, s.seqnum, s.trace_flags), (Pseudowire::Ppp, L2SpecType::Default, false, TraceFlags::NONE));
    assert_eq!((s.cookie, s.peer_cookie, s.interface_name, s.vlan_id), (vec![], None, None, None));
}

/// `peer_cookie = none` (or empty, or `0`) is "no cookie expected", and a
/// profile can clear one its `default` sets.
#[test]
fn empty_peer_cookie_is_none() {
    let c = parse("[session_profile \"default\"]\npeer_cookie = 01020304\n[session_profile \"s\"]\npeer_cookie = none\n");
    assert_eq!(c.session_profiles["default"].params.core.peer_cookie, Some(vec![1, 2, 3, 4]));
    assert_eq!(c.session_profiles["s"].params.core.peer_cookie, None);
}

#[test]
fn every_system_parameter() {
    let c = parse(
        "[system]\nudp_port = 1702\ntrace_flags = protocol,fsm\nmax_tunnels = 200\nmax_sessions = 5000\n\
         max_halfopen_tunnels = 0\nhost_name = lns1\nrouter_id = 192.0.2.7\ndataplane = userspace\n\
         listen = 192.0.2.1, 2001:db8::1\nmax_running_scripts = 3\n",
    );
    let s = &c.system;
    assert_eq!(s.udp_port, 1702);
    assert_eq!(s.trace_flags, TraceFlags::PROTOCOL | TraceFlags::FSM);
    assert_eq!((s.max_tunnels, s.max_sessions, s.max_halfopen_tunnels), (200, 5000, 0));
    assert_eq!(s.host_name.as_deref(), Some("lns1"));
    assert_eq!(s.router_id, Some(0xc000_0207));
    assert_eq!(s.dataplane, DataplaneKind::Userspace);
    assert_eq!(s.listen, vec![v4("192.0.2.1"), "2001:db8::1".parse().unwrap()]);
    assert_eq!(s.max_running_scripts, 3);
    assert_eq!(parse("[system]\nrouter_id = 42\n").system.router_id, Some(42));
    assert_eq!(parse("[system]\ndataplane = NULL\n").system.dataplane, DataplaneKind::Null);
    assert_eq!(parse("[system]\ntrace_flags = 0x3\n").system.trace_flags.0, 3);
}

#[test]
fn propppd_socket_has_a_default_and_can_be_set() {
    assert_eq!(parse("").system.propppd_socket, std::path::PathBuf::from("/run/proppp/propppd.chan"));
    assert_eq!(parse("[system]\npropppd_socket = /tmp/p.chan\n").system.propppd_socket, std::path::PathBuf::from("/tmp/p.chan"));
    assert_eq!(parse("").system.switch_socket, std::path::PathBuf::from("/run/prol2tp/prol2tpd.chan"));
    assert_eq!(parse("[system]\nswitch_socket = /tmp/s.chan\n").system.switch_socket, std::path::PathBuf::from("/tmp/s.chan"));
}

#[test]
fn every_tunnel_parameter() {
    let c = parse(
        "[tunnel_profile \"t\"]\npeer = [2001:db8::1]:1702\nlocal = 192.0.2.2\nversion = 3\nv2_fallback = no\n\
         encap = ip\nsecret = s3cret\nhide_avps = yes\ndigest = sha1\nhost_name = lac\nhello_timeout = 0\n\
         retry_timeout = 500\nmax_retry_timeout = 4s\nmax_retries = 7\nrx_window_size = 64\nmax_sessions = 9\n\
         trace_flags = all\nsession_profile = s\nppp_profile = p\neth_profile = e\n\
         [session_profile \"s\"]\n[ppp_profile \"p\"]\n[eth_profile \"e\"]\n",
    );
    let p = &c.tunnel_profile(Some("t")).unwrap().params;
    assert_eq!(p.core.peer, Some("[2001:db8::1]:1702".parse().unwrap()));
    assert_eq!(p.core.local, Some("192.0.2.2:0".parse().unwrap()));
    assert_eq!(p.core.version, Version::V3);
    assert!(!p.core.v2_fallback);
    assert_eq!(p.core.transport, Transport::Ip);
    assert_eq!(p.core.secret.as_deref(), Some(&b"s3cret"[..]));
    assert!(p.core.hide_avps);
    assert_eq!(p.core.digest, DigestAlg::HmacSha1);
    assert_eq!(p.core.host_name.as_deref(), Some("lac"));
    assert_eq!(p.core.hello_interval, None);
    assert_eq!(p.core.retry_timeout, Duration::from_millis(500));
    assert_eq!(p.core.max_retry_timeout, Duration::from_secs(4));
    assert_eq!((p.core.max_retries, p.core.rx_window_size, p.core.max_sessions), (7, 64, 9));
    assert_eq!(p.core.trace_flags, TraceFlags::ALL);
    assert_eq!((p.session_profile.as_str(), p.ppp_profile.as_str(), p.eth_profile.as_str()), ("s", "p", "e"));
    assert_eq!(c.tunnel_profile(Some("t")).unwrap().line, Some(1));
}

#[test]
fn peer_address_forms() {
    let peer = |v: &str| parse(&format!("[tunnel_profile \"t\"]\npeer = {v}\n")).tunnel_profiles["t"].params.core.peer;
    assert_eq!(peer("192.0.2.1"), Some("192.0.2.1:1701".parse().unwrap()));
    assert_eq!(peer("192.0.2.1:1999"), Some("192.0.2.1:1999".parse().unwrap()));
    assert_eq!(peer("2001:db8::1"), Some("[2001:db8::1]:1701".parse().unwrap()));
    assert_eq!(peer("[2001:db8::1]"), Some("[2001:db8::1]:1701".parse().unwrap()));
    for bad in ["lns.example.net", "192.0.2.1:0", "192.0.2.1:70000", "192.0.2", "[2001:db8::1", ""] {
        assert_error(&format!("[tunnel_profile \"t\"]\npeer = {bad}\n"), 2, "bad value");
    }
}

#[test]
fn every_session_parameter() {
    let c = parse(
        "[session_profile \"s\"]\npseudowire = vlan\ncookie = 01:02:03:04\npeer_cookie = 0x0102030405060708\n\
         l2spec_type = none\nseqnum = yes\ninterface_name = l2tpeth7\nvlan_id = 4094\ntrace_flags = 0x1\n\
         ppp_profile = p\neth_profile = e\n[ppp_profile \"p\"]\n[eth_profile \"e\"]\n",
    );
    let p = &c.session_profile(Some("s")).unwrap().params;
    assert_eq!(p.core.pseudowire, Pseudowire::Vlan);
    assert_eq!(p.core.cookie, vec![1, 2, 3, 4]);
    assert_eq!(p.core.peer_cookie, Some(vec![1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(p.core.l2spec, L2SpecType::None);
    assert!(p.core.seqnum);
    assert_eq!(p.core.interface_name.as_deref(), Some("l2tpeth7"));
    assert_eq!(p.core.vlan_id, Some(4094));
    assert_eq!(p.core.trace_flags, TraceFlags::PROTOCOL);
    assert_eq!(p.ppp_profile.as_deref(), Some("p"));
    assert_eq!(p.eth_profile.as_deref(), Some("e"));
}

#[test]
fn every_ppp_and_eth_parameter() {
    let c = parse(
        "[ppp_profile \"p\"]\nmtu = 1400\nmru = 64\ntrace_flags = ppp\npppd_options = noauth debug\n\
         [eth_profile \"e\"]\nmtu = 1450\nbridge = br0\ntrace_flags = data\n",
    );
    let p = c.ppp_profile(Some("p")).unwrap();
    assert_eq!((p.name.as_str(), p.line, p.mtu, p.mru), ("p", Some(1), 1400, 64));
    assert_eq!(p.trace_flags, TraceFlags::PPP);
    assert_eq!(p.pppd_options.as_deref(), Some("noauth debug"));
    let e = c.eth_profile(Some("e")).unwrap();
    assert_eq!((e.name.as_str(), e.line, e.mtu), ("e", Some(6), Some(1450)));
    assert_eq!(e.bridge.as_deref(), Some("br0"));
    assert_eq!(e.trace_flags, TraceFlags::DATA);
}

#[test]
fn every_peer_profile_parameter() {
    let c = parse(
        "[tunnel_profile \"t\"]\n[session_profile \"s\"]\n[ppp_profile \"p\"]\n[eth_profile \"e\"]\n\
         [peer_profile \"office\"]\npeer = 192.0.2.0/24\ntunnel_profile = t\nsession_profile = s\n\
         ppp_profile = p\neth_profile = e\n",
    );
    let p = c.peer_profile(Some("office")).unwrap();
    assert_eq!(p.peer, Some(PeerMatch::Prefix { addr: v4("192.0.2.0"), len: 24 }));
    assert_eq!(p.line, Some(5));
    assert_eq!((p.tunnel_profile.as_str(), p.session_profile.as_str(), p.ppp_profile.as_str(), p.eth_profile.as_str()), ("t", "s", "p", "e"));
}

#[test]
fn named_profiles_start_from_the_files_default() {
    let c = parse(
        "[tunnel_profile \"default\"]\nhello_timeout = 30\nsecret = base\n\
         [tunnel_profile \"fast\"]\nretry_timeout = 200\n\
         [ppp_profile \"default\"]\nmtu = 1400\n[ppp_profile \"big\"]\nmru = 9000\n",
    );
    let d = &c.tunnel_profiles["default"];
    assert_eq!(d.line, Some(1));
    assert_eq!(d.params.core.hello_interval, Some(Duration::from_secs(30)));
    let f = &c.tunnel_profiles["fast"].params;
    assert_eq!(f.core.hello_interval, Some(Duration::from_secs(30)));
    assert_eq!(f.core.secret.as_deref(), Some(&b"base"[..]));
    assert_eq!(f.core.retry_timeout, Duration::from_millis(200));
    assert_eq!(f.core.max_retries, 5);
    let big = &c.ppp_profiles["big"];
    assert_eq!((big.mtu, big.mru), (1400, 9000));
}

#[test]
fn tunnel_instance_overrides_its_profile() {
    let c = parse(
        "[tunnel_profile \"lac\"]\nsecret = s\nhello_timeout = 20\nversion = 3\n\
         [tunnel \"a\"]\ntunnel_profile = lac\npeer = 192.0.2.1\nhello_timeout = 10\npersist = yes\n\
         [tunnel \"b\"]\npeer = 198.51.100.1:1999\n",
    );
    let a = c.tunnel("a").unwrap();
    assert_eq!((a.line, a.tunnel_profile.as_str(), a.persist), (5, "lac", true));
    assert_eq!(a.peer, SocketAddr::V4(SocketAddrV4::new("192.0.2.1".parse().unwrap(), 1701)));
    assert_eq!(a.params.core.peer, Some(a.peer));
    assert_eq!(a.params.core.secret.as_deref(), Some(&b"s"[..]));
    assert_eq!(a.params.core.version, Version::V3);
    assert_eq!(a.params.core.hello_interval, Some(Duration::from_secs(10)));
    let b = c.tunnel("b").unwrap();
    assert_eq!((b.tunnel_profile.as_str(), b.persist), ("default", false));
    assert_eq!(b.params.core.secret, None);
    assert_eq!(c.tunnels.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
}

#[test]
fn session_instance_resolution_order() {
    let c = parse(
        "[ppp_profile \"tp\"]\n[ppp_profile \"sp\"]\n[ppp_profile \"ip\"]\n\
         [session_profile \"fromtunnel\"]\nseqnum = yes\n\
         [session_profile \"own\"]\nppp_profile = sp\ninterface_name = ppp9\n\
         [tunnel_profile \"t\"]\nsession_profile = fromtunnel\nppp_profile = tp\n\
         [tunnel \"x\"]\ntunnel_profile = t\npeer = 192.0.2.1\n\
         [session \"x/one\"]\n\
         [session \"x/two\"]\nsession_profile = own\n\
         [session \"x/three\"]\nsession_profile = own\nppp_profile = ip\ncall_type = outgoing\nuser_name = u@example.net\n",
    );
    let s: Vec<&SessionInstance> = c.sessions_of("x").collect();
    assert_eq!(s.len(), 3);
    assert_eq!((s[0].name.as_str(), s[0].session_profile.as_str()), ("one", "fromtunnel"));
    assert!(s[0].params.core.seqnum);
    assert_eq!(s[0].params.ppp_profile.as_deref(), Some("tp"));
    assert_eq!(s[0].params.eth_profile.as_deref(), Some("default"));
    assert_eq!(s[0].call_type, CallType::IncomingLac);
    assert_eq!((s[1].session_profile.as_str(), s[1].params.ppp_profile.as_deref()), ("own", Some("sp")));
    assert!(!s[1].params.core.seqnum);
    assert_eq!(s[1].params.core.interface_name.as_deref(), Some("ppp9"));
    assert_eq!(s[2].params.ppp_profile.as_deref(), Some("ip"));
    assert_eq!(s[2].call_type, CallType::OutgoingLns);
    assert_eq!(s[2].user_name.as_deref(), Some("u@example.net"));
    assert_eq!((s[2].tunnel.as_str(), s[2].line), ("x", 18));
}

#[test]
fn trace_all_option_changes_only_builtin_masks() {
    let text = "[tunnel_profile \"quiet\"]\ntrace_flags = none\n[tunnel \"t\"]\npeer = 192.0.2.1\n[session \"t/s\"]\n";
    let c = Config::parse_str_with(path(), text, LoadOptions { trace_all: true }).unwrap();
    assert_eq!(c.tunnel_profiles["default"].params.core.trace_flags, TraceFlags::ALL);
    assert_eq!(c.tunnel_profiles["quiet"].params.core.trace_flags, TraceFlags::NONE);
    assert_eq!(c.tunnels[0].params.core.trace_flags, TraceFlags::ALL);
    assert_eq!(c.sessions[0].params.core.trace_flags, TraceFlags::ALL);
    assert_eq!(c.ppp_profiles["default"].trace_flags, TraceFlags::ALL);
    assert_eq!(c.system.trace_flags, TraceFlags::NONE);
}

#[test]
fn peer_matching_longest_prefix_wins() {
    let c = parse(
        "[peer_profile \"default\"]\npeer = any\n\
         [peer_profile \"all4\"]\npeer = 0.0.0.0/0\n\
         [peer_profile \"net\"]\npeer = 192.0.2.0/24\n\
         [peer_profile \"host\"]\npeer = 192.0.2.10\n\
         [peer_profile \"v6\"]\npeer = 2001:db8::/32\n",
    );
    let name = |a: &str| c.match_peer(a.parse().unwrap()).map(|p| p.name.clone());
    assert_eq!(name("192.0.2.10").as_deref(), Some("host"));
    assert_eq!(name("192.0.2.11").as_deref(), Some("net"));
    assert_eq!(name("::ffff:192.0.2.11").as_deref(), Some("net"));
    assert_eq!(name("203.0.113.1").as_deref(), Some("all4"));
    assert_eq!(name("2001:db8:1::1").as_deref(), Some("v6"));
    assert_eq!(name("2001:db9::1").as_deref(), Some("default"));
    // Without `any`, unmatched peers are refused.
    let c = parse("[peer_profile \"net\"]\npeer = 198.51.100.0/25\n");
    assert!(c.match_peer(v4("198.51.100.127")).is_some());
    assert!(c.match_peer(v4("198.51.100.128")).is_none());
    assert!(c.match_peer("2001:db8::1".parse().unwrap()).is_none());
}

#[test]
fn peer_profile_inherits_references_not_peer() {
    let c = parse(
        "[tunnel_profile \"t\"]\n[peer_profile \"default\"]\npeer = any\ntunnel_profile = t\n\
         [peer_profile \"x\"]\n",
    );
    let x = c.peer_profile(Some("x")).unwrap();
    assert_eq!(x.peer, None);
    assert_eq!(x.tunnel_profile, "t");
    assert_eq!(c.peer_profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["default", "x"]);
}

#[test]
fn section_errors() {
    assert_error("[system]\n[tunel \"x\"]\n", 2, "unknown section kind `tunel`");
    assert_error("[system \"x\"]\n", 1, "takes no name");
    assert_error("[tunnel_profile]\n", 1, "needs a name");
    assert_error("[system]\n[system]\n", 2, "duplicate section [system] (first at line 1)");
    assert_error("[ppp_profile \"a\"]\n\n[ppp_profile \"a\"]\n", 3, "duplicate section");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\n[tunnel \"a\"]\npeer = 192.0.2.1\n", 3, "duplicate");
    assert_error("[session \"a\"]\n", 1, "must be TUNNEL/NAME");
    assert_error("[session \"/a\"]\n", 1, "must be TUNNEL/NAME");
    // Syntax errors from common::ini come with lines too.
    assert_error("[system]\nudp_port = 1\nudp_port = 2\n", 3, "duplicate key");
    assert_error("udp_port = 1\n", 1, "outside any section");
}

#[test]
fn unknown_parameter_errors() {
    assert_error("[system]\nudp_port = 1701\nport = 1\n", 3, "unknown parameter `port` in [system]");
    assert_error("[tunnel_profile \"a\"]\npersist = yes\n", 2, "unknown parameter `persist`");
    assert_error("[tunnel_profile \"a\"]\ntunnel_profile = b\n", 2, "unknown parameter");
    assert_error("[session_profile \"a\"]\ncall_type = outgoing\n", 2, "unknown parameter");
    assert_error("[ppp_profile \"a\"]\nbridge = br0\n", 2, "unknown parameter");
    assert_error("[eth_profile \"a\"]\nmru = 1500\n", 2, "unknown parameter");
    assert_error("[peer_profile \"a\"]\nsecret = x\n", 2, "unknown parameter");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\nvlan_id = 3\n", 3, "unknown parameter");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\n[session \"a/s\"]\nsecret = x\n", 4, "unknown parameter");
}

#[test]
fn bad_value_errors() {
    let cases: &[(&str, &str)] = &[
        ("[system]\n\nudp_port = 0\n", "udp_port"),
        ("[system]\n\nmax_tunnels = 65536\n", "max_tunnels"),
        ("[system]\n\ntrace_flags = fsn\n", "unknown trace category `fsn`"),
        ("[system]\n\nrouter_id = 0\n", "router_id"),
        ("[system]\n\nrouter_id = 0.0.0.0\n", "router_id"),
        ("[system]\n\ndataplane = dpdk\n", "one of auto, kernel, userspace, null"),
        ("[system]\n\nlisten = 192.0.2.1, nowhere\n", "listen"),
        ("[system]\n\nmax_running_scripts = 0\n", "max_running_scripts"),
        ("[system]\n\nhost_name =\n", "host_name"),
        ("[system]\n\npropppd_socket =\n", "propppd_socket"),
        ("[system]\n\nswitch_socket =\n", "switch_socket"),
        ("[tunnel_profile \"a\"]\n\nversion = 4\n", "version"),
        ("[tunnel_profile \"a\"]\n\nv2_fallback = perhaps\n", "yes or no"),
        ("[tunnel_profile \"a\"]\n\nencap = tcp\n", "encap"),
        ("[tunnel_profile \"a\"]\n\ndigest = sha256\n", "digest"),
        ("[tunnel_profile \"a\"]\n\nhello_timeout = 3601\n", "hello_timeout"),
        ("[tunnel_profile \"a\"]\n\nretry_timeout = 99\n", "retry_timeout"),
        ("[tunnel_profile \"a\"]\n\nmax_retries = 0\n", "max_retries"),
        ("[tunnel_profile \"a\"]\n\nrx_window_size = 0\n", "rx_window_size"),
        ("[tunnel_profile \"a\"]\n\nrx_window_size = 65536\n", "rx_window_size"),
        ("[tunnel_profile \"a\"]\n\nlocal = 192.0.2.300\n", "local"),
        ("[tunnel_profile \"a\"]\n\nsession_profile =\n", "session_profile"),
        ("[session_profile \"a\"]\n\npseudowire = atm\n", "pseudowire"),
        ("[session_profile \"a\"]\n\ncookie = 010203\n", "cookie"),
        ("[session_profile \"a\"]\n\npeer_cookie = 0x01020304050607\n", "peer_cookie"),
        ("[session_profile \"a\"]\n\nl2spec_type = atm\n", "l2spec_type"),
        ("[session_profile \"a\"]\n\nvlan_id = 4095\n", "vlan_id"),
        ("[session_profile \"a\"]\n\nvlan_id = 0\n", "vlan_id"),
        ("[session_profile \"a\"]\n\ninterface_name = a/b\n", "interface_name"),
        ("[ppp_profile \"a\"]\n\nmtu = 63\n", "mtu"),
        ("[ppp_profile \"a\"]\n\nmru = 65536\n", "mru"),
        ("[eth_profile \"a\"]\n\nbridge = this-name-is-too-long\n", "bridge"),
        ("[peer_profile \"a\"]\n\npeer = 192.0.2.0/33\n", "peer"),
        ("[peer_profile \"a\"]\n\npeer = 2001:db8::/129\n", "peer"),
        ("[peer_profile \"a\"]\n\npeer = somewhere\n", "peer"),
        ("[peer_profile \"a\"]\n\npeer = 192.0.2.1/24\n", "did you mean 192.0.2.0/24"),
        ("[tunnel \"a\"]\n\npersist = sometimes\n", "persist"),
        ("[tunnel \"t\"]\npeer = 192.0.2.1\n[session \"t/a\"]\ncall_type = sideways\n", "call_type"),
    ];
    for (text, needle) in cases {
        let line = text.lines().count();
        assert_error(text, line, needle);
    }
}

#[test]
fn missing_reference_errors() {
    assert_error("[tunnel_profile \"a\"]\nsession_profile = nope\n", 2, "no [session_profile \"nope\"]");
    assert_error("[tunnel_profile \"a\"]\n\nppp_profile = nope\n", 3, "no [ppp_profile \"nope\"]");
    assert_error("[tunnel_profile \"default\"]\neth_profile = nope\n", 2, "no [eth_profile \"nope\"]");
    assert_error("[session_profile \"a\"]\nppp_profile = nope\n", 2, "no [ppp_profile");
    assert_error("[session_profile \"a\"]\neth_profile = nope\n", 2, "no [eth_profile");
    assert_error("[peer_profile \"a\"]\npeer = any\ntunnel_profile = nope\n", 3, "no [tunnel_profile");
    assert_error("[peer_profile \"a\"]\nsession_profile = nope\n", 2, "no [session_profile");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\ntunnel_profile = nope\n", 3, "no [tunnel_profile");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\n[session \"b/s\"]\n", 3, "no [tunnel \"b\"]");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\n[session \"a/s\"]\nsession_profile = x\n", 4, "no [session_profile");
    assert_error("[tunnel \"a\"]\npeer = 192.0.2.1\n[session \"a/s\"]\neth_profile = x\n", 4, "no [eth_profile");
    // A profile defined after its user is fine.
    parse("[tunnel_profile \"a\"]\nppp_profile = later\n[ppp_profile \"later\"]\n");
}

#[test]
fn consistency_errors_point_at_the_cause() {
    assert_error("[tunnel_profile \"a\"]\nencap = ip\n", 2, "needs `version = 3`");
    assert_error("[tunnel_profile \"a\"]\nhide_avps = yes\n", 2, "needs a `secret`");
    assert_error("[tunnel_profile \"a\"]\nmax_retry_timeout = 500\n", 2, "less than `retry_timeout`");
    // Inherited from the profile, broken by the instance: the instance's line.
    assert_error(
        "[tunnel_profile \"v3\"]\nversion = 3\nencap = ip\n[tunnel \"a\"]\npeer = 192.0.2.1\ntunnel_profile = v3\nversion = 2\n",
        3,
        "needs `version = 3`",
    );
    assert_error(
        "[tunnel_profile \"h\"]\nsecret = s\nhide_avps = yes\n[tunnel \"a\"]\ntunnel_profile = h\npeer = 192.0.2.1\nsecret =\n",
        3,
        "needs a `secret`",
    );
    assert_error("[tunnel \"a\"]\nversion = 3\n", 1, "needs a `peer`");
    assert_error("[session_profile \"a\"]\nvlan_id = 5\n", 2, "only for `pseudowire = vlan`");
    let v3 = "[tunnel \"t\"]\npeer = 192.0.2.1\nversion = 3\n";
    assert_error(&format!("{v3}[session \"t/s\"]\npseudowire = vlan\n"), 5, "needs a `vlan_id`");
    parse(&format!("{v3}[session \"t/s\"]\npseudowire = vlan\nvlan_id = 100\n"));
    let v2 = "[tunnel \"t\"]\npeer = 192.0.2.1\n";
    assert_error(&format!("{v2}[session \"t/s\"]\npseudowire = eth\n"), 4, "only `pseudowire = ppp`");
    assert_error(&format!("{v2}[session \"t/s\"]\n\ncookie = 0x01020304\n"), 5, "cookies need L2TPv3");
    // A vlan profile without vlan_id is fine until an instance uses it.
    assert_error(&format!("[session_profile \"v\"]\npseudowire = vlan\n{v3}[session \"t/s\"]\nsession_profile = v\n"), 2, "needs a `vlan_id`");
}

#[test]
fn duplicate_peer_match_is_an_error() {
    assert_error("[peer_profile \"a\"]\npeer = 192.0.2.0/24\n[peer_profile \"b\"]\npeer = 192.0.2.0/24\n", 4, "already matched by the profile at line 2");
}

#[test]
fn errors_display_file_and_line() {
    let e = Config::parse_str(path(), "[system]\nudp_port = x\n").unwrap_err();
    assert_eq!(e.to_string(), "/etc/prol2tp/prol2tpd.conf:2: bad value `x` for `udp_port`: expected an integer from 1 to 65535");
}

/// The example files shipped in `conf/` load and mean what their comments say.
#[test]
fn shipped_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf");
    let load = |name: &str| match Config::load(&dir.join(name)) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let lns = load("prol2tpd-lns.conf");
    let p = lns.match_peer(v4("203.0.113.9")).unwrap();
    assert_eq!(p.tunnel_profile, "lns");
    assert!(lns.match_peer("2001:db8::9".parse().unwrap()).is_some());
    assert_eq!(lns.tunnel_profiles["lns"].params.core.secret.as_deref(), Some(&b"change-this-shared-secret"[..]));
    assert!(lns.tunnels.is_empty());

    let lac = load("prol2tpd-lac.conf");
    assert_eq!(lac.tunnels.len(), 1);
    assert_eq!(lac.tunnels[0].peer, "192.0.2.1:1701".parse().unwrap());
    assert_eq!(lac.sessions.len(), 1);
    assert_eq!(lac.sessions[0].params.ppp_profile.as_deref(), Some("lac"));
    assert!(lac.match_peer(v4("192.0.2.1")).is_none());

    let eth = load("prol2tpd-l2tpv3-eth.conf");
    let t = &eth.tunnels[0];
    assert_eq!((t.params.core.version, t.params.core.transport), (Version::V3, Transport::Ip));
    let s = &eth.sessions[0];
    assert_eq!(s.params.core.pseudowire, Pseudowire::Eth);
    assert_eq!(s.params.core.cookie.len(), 8);
    assert_eq!(s.params.eth_profile.as_deref(), Some("lan"));
    assert_eq!(eth.eth_profiles["lan"].bridge.as_deref(), Some("br0"));

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("prol2tpd") && n.ends_with(".conf"))
        .collect();
    names.sort();
    for name in names {
        load(&name);
    }
}

/// The examples in prol2tpd.conf(5) are valid configurations.
#[test]
fn manual_examples_load() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/prol2tpd.conf.5");
    let text = std::fs::read_to_string(&page).unwrap();
    let examples = text.split(".SH EXAMPLES").nth(1).unwrap();
    let mut count = 0;
    for block in examples.split(".nf\n").skip(1) {
        let body = block.split(".fi\n").next().unwrap().replace("\\-", "-");
        if let Err(e) = Config::parse_str(&page, &body) {
            panic!("example {count}: {e}\n{body}");
        }
        count += 1;
    }
    assert_eq!(count, 3);
}
