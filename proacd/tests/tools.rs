//! `proac_info` and `proac_manage` against a stand-in proacd: a control
//! socket served by this test (a `common::ipc::Server` answering canned
//! records), so both what the programs print and what they send are
//! checked.
//!
//! - `proac_info`: every topic as text (byte for byte) and JSON, the
//!   default of four topics one after the other, and the request each sends.
//! - `proac_manage`: every command and the request it sends, `-j`, refusals
//!   (exit 1 with proacd's message), usage errors (exit 2, nothing sent),
//!   and no daemon (exit 3) for both programs.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use testsupport::TempDir;

use common::ipc::{Body, ErrorCode, Message, Record, Reply, Request, Selector, Server, MAX_DATAGRAM};

const INFO: &str = env!("CARGO_BIN_EXE_proac_info");
const MANAGE: &str = env!("CARGO_BIN_EXE_proac_manage");

// ---------------------------------------------------------------- support

/// A finished program run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(prog: &str, socket: &Path, args: &[&str]) -> Run {
    let o = Command::new(prog).arg("-s").arg(socket).args(args).output().unwrap_or_else(|e| panic!("{prog}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A control socket served by a thread, each request answered by
/// `answer` and recorded.
struct FakeProacd {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeProacd {
    fn start(path: &Path, answer: fn(&Request) -> Reply) -> FakeProacd {
        let server = Server::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || serve(&server, answer, &s, &r));
        FakeProacd { stop, thread: Some(thread), requests }
    }

    /// The requests received so far, emptying the list.
    fn take(&self) -> Vec<Request> {
        self.requests.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default()
    }
}

impl Drop for FakeProacd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &Server, answer: fn(&Request) -> Reply, stop: &AtomicBool, requests: &Mutex<Vec<Request>>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [nix::poll::PollFd::new(server.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10u16));
        while let Ok(Some(got)) = server.recv(&mut buf) {
            let Some(bytes) = buf.get(..got.len) else { continue };
            let Ok(msg) = Message::decode(bytes) else { continue };
            let Body::Request(req) = msg.body else { continue };
            let reply = answer(&req);
            if let Ok(mut r) = requests.lock() {
                r.push(req);
            }
            let _ = server.send(&got.peer, &Message { request_id: msg.request_id, body: Body::Reply(reply) });
        }
    }
}

// ---------------------------------------------------------------- records

fn system() -> Record {
    let mut r = Record::new("system");
    r.str("version", "0.1.0")
        .str("config_file", "/etc/proac/proacd.conf")
        .str("control_socket", "/run/proac/proacd.ctl")
        .str("dataplane", "kernel")
        .num("interfaces", 2u64)
        .num("routes", 2u64)
        .num("sessions", 2u64)
        .num("sessions_local", 1u64)
        .num("sessions_l2tp", 1u64)
        .num("clients", 0u64)
        .flag("propppd", true)
        .flag("prol2tpd", false)
        .num("max_sessions", 10_000u64);
    r
}

fn interfaces() -> Vec<Record> {
    let mut a = Record::new("interface");
    a.str("name", "eth1")
        .num("ifindex", 3u64)
        .str("mac", "02:00:5e:00:53:10")
        .str("ac_name", "bras1")
        .str("service_names", "")
        .num("sessions", 1u64)
        .num("max_sessions", 0u64)
        .str("state", "up");
    let mut b = Record::new("interface");
    b.str("name", "eth2.100")
        .num("ifindex", 0u64)
        .str("mac", "")
        .str("ac_name", "bras1-business")
        .str("service_names", "business,internet")
        .num("sessions", 0u64)
        .num("max_sessions", 2000u64)
        .str("state", "error")
        .str("error", "No such device");
    vec![a, b]
}

fn routes() -> Vec<Record> {
    let mut a = Record::new("route");
    a.str("name", "isp-b")
        .str("interfaces", "")
        .str("service_names", "isp-b")
        .str("macs", "")
        .str("destination", "l2tp")
        .str("ppp_profile", "")
        .str("tunnel_profile", "lns-b")
        .num("sessions", 1u64);
    let mut b = Record::new("route");
    b.str("name", "internet")
        .str("interfaces", "eth1")
        .str("service_names", "")
        .str("macs", "02:00:5e:00:53:01,02:00:5e:00:53:02")
        .str("destination", "local")
        .str("ppp_profile", "")
        .str("tunnel_profile", "")
        .num("sessions", 1u64);
    vec![a, b]
}

fn sessions() -> Vec<Record> {
    let mut a = Record::new("pppoe");
    a.num("handle", 1u64)
        .str("interface", "eth1")
        .num("session_id", 1u64)
        .str("client_mac", "02:00:5e:00:53:01")
        .str("route", "internet")
        .str("destination", "local")
        .str("state", "up")
        .str("service_name", "")
        .num("connect_time", 3725u64)
        .str("role", "server")
        .str("peer", "ppp0")
        .str("ppp_ifname", "ppp0")
        .str("local_ip", "192.0.2.1")
        .str("peer_ip", "192.0.2.20");
    let mut b = Record::new("pppoe");
    b.num("handle", 2u64)
        .str("interface", "eth1")
        .num("session_id", 2u64)
        .str("client_mac", "02:00:5e:00:53:05")
        .str("route", "isp-b")
        .str("destination", "l2tp")
        .str("state", "starting")
        .str("service_name", "isp-b")
        .num("connect_time", 0u64)
        .str("role", "server")
        .str("peer", "tunnel 4 session 9")
        .num("tunnel_id", 4u64)
        .num("l2tp_session_id", 9u64);
    vec![a, b]
}

fn statistics() -> Record {
    let mut r = Record::new("statistics");
    r.num("padi_rx", 12u64).num("pado_tx", 10u64).num("padr_rx", 3u64).num("pads_tx", 2u64).num("rate_limited", 2u64);
    r
}

fn answer(req: &Request) -> Reply {
    let records = |records| Reply::Records { more: false, records };
    match req {
        Request::ShowSystem => records(vec![system()]),
        Request::ListInterfaces => records(interfaces()),
        Request::ListRoutes => records(routes()),
        Request::ListPppoe => records(sessions()),
        Request::ShowStatistics => records(vec![statistics()]),
        Request::ClearStatistics | Request::Reload | Request::MacList { .. } => Reply::Done,
        Request::DeletePppoe(Selector::Id(1)) => Reply::Done,
        Request::DeletePppoe(Selector::Name(n)) if n == "eth1/2" => Reply::Done,
        Request::DeletePppoe(sel) => Reply::Error { code: ErrorCode::NotFound, message: format!("no session {sel:?}") },
        _ => Reply::Error { code: ErrorCode::Unsupported, message: "unexpected".into() },
    }
}

/// A stand-in whose reload fails as a bad file would.
fn answer_reload_fails(req: &Request) -> Reply {
    match req {
        Request::Reload => Reply::Error { code: ErrorCode::Failed, message: "/etc/proac/proacd.conf:7: unknown parameter `foo` in [system]".into() },
        other => answer(other),
    }
}

// ------------------------------------------------------------------ tests

const SYSTEM_TEXT: &str = "\
version:        0.1.0
config_file:    /etc/proac/proacd.conf
control_socket: /run/proac/proacd.ctl
dataplane:      kernel
interfaces:     2
routes:         2
sessions:       2
sessions_local: 1
sessions_l2tp:  1
clients:        0
propppd:        yes
prol2tpd:       no
max_sessions:   10000
";

const INTERFACES_TEXT: &str = "  NAME       IFINDEX MAC               STATE SESSIONS    MAX AC-NAME          SERVICES         ERROR
  eth1             3 02:00:5e:00:53:10 up           1      0 bras1            any              -
  eth2.100         0 -                 error        0   2000 bras1-business   business,internet No such device
";

const ROUTES_TEXT: &str = "  NAME         DEST  INTERFACES   SERVICES         MACS              PROFILE      SESSIONS
  isp-b        l2tp  any          isp-b            any               lns-b               1
  internet     local eth1         any              02:00:5e:00:53:01,02:00:5e:00:53:02 default             1
";

const SESSIONS_TEXT: &str = "  HANDLE INTERFACE    SID CLIENT-MAC        ROUTE        DEST  STATE    PEER                      CONNECTED
       1 eth1           1 02:00:5e:00:53:01 internet     local up       ppp0                        1:02:05
       2 eth1           2 02:00:5e:00:53:05 isp-b        l2tp  starting tunnel 4 session 9          0:00:00
";

#[test]
fn info_topics_as_text() {
    let dir = TempDir::new("info-text");
    let sock = dir.join("proacd.ctl");
    let fake = FakeProacd::start(&sock, answer);
    let cases: [(&str, Request, String); 5] = [
        ("system", Request::ShowSystem, SYSTEM_TEXT.to_string()),
        ("interfaces", Request::ListInterfaces, INTERFACES_TEXT.to_string()),
        ("routes", Request::ListRoutes, ROUTES_TEXT.to_string()),
        ("sessions", Request::ListPppoe, SESSIONS_TEXT.to_string()),
        ("statistics", Request::ShowStatistics, "padi_rx:      12\npado_tx:      10\npadr_rx:      3\npads_tx:      2\nrate_limited: 2\n".to_string()),
    ];
    for (word, req, want) in cases {
        let r = run(INFO, &sock, &[word]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{word}");
        assert_eq!(r.stdout, want, "{word}");
        assert_eq!(fake.take(), vec![req], "{word}");
    }
}

#[test]
fn info_without_topic_shows_four() {
    let dir = TempDir::new("info-all");
    let sock = dir.join("proacd.ctl");
    let fake = FakeProacd::start(&sock, answer);
    let r = run(INFO, &sock, &[]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(r.stdout, format!("{SYSTEM_TEXT}\n{INTERFACES_TEXT}\n{ROUTES_TEXT}\n{SESSIONS_TEXT}"));
    assert_eq!(fake.take(), vec![Request::ShowSystem, Request::ListInterfaces, Request::ListRoutes, Request::ListPppoe]);
    let r = run(INFO, &sock, &["-j"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sys = system().to_json();
    let list = |v: Vec<Record>| format!("[{}]", v.iter().map(Record::to_json).collect::<Vec<_>>().join(","));
    assert_eq!(
        r.stdout,
        format!("{{\"system\":{sys},\"interfaces\":{},\"routes\":{},\"sessions\":{}}}\n", list(interfaces()), list(routes()), list(sessions()))
    );
    assert_eq!(fake.take().len(), 4);
}

#[test]
fn info_topics_as_json() {
    let dir = TempDir::new("info-json");
    let sock = dir.join("proacd.ctl");
    let _fake = FakeProacd::start(&sock, answer);
    let r = run(INFO, &sock, &["-j", "system"]);
    assert_eq!(r.stdout, format!("{}\n", system().to_json()));
    assert!(r.stdout.contains("\"propppd\":true,\"prol2tpd\":false"), "{}", r.stdout);
    let r = run(INFO, &sock, &["-j", "sessions"]);
    assert!(r.stdout.starts_with("[{\"handle\":1,\"interface\":\"eth1\",\"session_id\":1,"), "{}", r.stdout);
    assert!(r.stdout.contains("\"peer\":\"tunnel 4 session 9\",\"tunnel_id\":4,\"l2tp_session_id\":9}]"), "{}", r.stdout);
    // Lists stay raw in JSON: "" means any, as proacd sent it.
    let r = run(INFO, &sock, &["-j", "routes"]);
    assert!(r.stdout.contains("\"interfaces\":\"\""), "{}", r.stdout);
    let r = run(INFO, &sock, &["-j", "statistics"]);
    assert_eq!(r.stdout, "{\"padi_rx\":12,\"pado_tx\":10,\"padr_rx\":3,\"pads_tx\":2,\"rate_limited\":2}\n");
}

#[test]
fn manage_commands_send_their_requests() {
    let dir = TempDir::new("manage");
    let sock = dir.join("proacd.ctl");
    let fake = FakeProacd::start(&sock, answer);
    let cases: Vec<(Vec<&str>, Request)> = vec![
        (vec!["delete", "1"], Request::DeletePppoe(Selector::Id(1))),
        (vec!["delete", "eth1/2"], Request::DeletePppoe(Selector::Name("eth1/2".into()))),
        (vec!["allow", "add", "02-00-5E-00-53-01"], Request::MacList { deny: false, add: true, mac: "02:00:5e:00:53:01".into() }),
        (vec!["allow", "remove", "02:00:5e:00:53:01"], Request::MacList { deny: false, add: false, mac: "02:00:5e:00:53:01".into() }),
        (vec!["deny", "add", "02:00:5e:00:53:66"], Request::MacList { deny: true, add: true, mac: "02:00:5e:00:53:66".into() }),
        (vec!["deny", "remove", "02:00:5e:00:53:66"], Request::MacList { deny: true, add: false, mac: "02:00:5e:00:53:66".into() }),
        (vec!["reload"], Request::Reload),
        (vec!["clear-statistics"], Request::ClearStatistics),
    ];
    for (args, req) in cases {
        let r = run(MANAGE, &sock, &args);
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""), "{args:?}");
        assert_eq!(fake.take(), vec![req], "{args:?}");
    }
    let r = run(MANAGE, &sock, &["-j", "reload"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "{\"ok\":true}\n"));
}

#[test]
fn manage_refusals_exit_1() {
    let dir = TempDir::new("manage-refused");
    let sock = dir.join("proacd.ctl");
    let fake = FakeProacd::start(&sock, answer_reload_fails);
    let r = run(MANAGE, &sock, &["delete", "eth1/99"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "proac_manage: no session Name(\"eth1/99\")\n");
    assert_eq!(r.stdout, "");
    let r = run(MANAGE, &sock, &["reload"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "proac_manage: /etc/proac/proacd.conf:7: unknown parameter `foo` in [system]\n");
    assert_eq!(fake.take().len(), 2);
}

#[test]
fn usage_errors_exit_2_and_send_nothing() {
    let dir = TempDir::new("usage");
    let sock = dir.join("proacd.ctl");
    let fake = FakeProacd::start(&sock, answer);
    let cases: [(&str, &[&str], &str); 8] = [
        (MANAGE, &[], "proac_manage: no command given\n"),
        (MANAGE, &["deny", "add", "02:00:5e:00:53"], "proac_manage: bad MAC address '02:00:5e:00:53'"),
        (MANAGE, &["allow", "add", "ff:ff:ff:ff:ff:ff"], "proac_manage: 'ff:ff:ff:ff:ff:ff' is not a unicast MAC address\n"),
        (MANAGE, &["allow", "put", "02:00:5e:00:53:01"], "proac_manage: expected add or remove, not 'put'\n"),
        (MANAGE, &["delete"], "proac_manage: unknown command 'delete'\n"),
        (MANAGE, &["delete", "0"], "proac_manage: handle '0' out of range"),
        (INFO, &["tunnels"], "proac_info: unknown topic 'tunnels'\n"),
        (INFO, &["system", "routes"], "proac_info: unexpected argument 'routes'\n"),
    ];
    for (prog, args, want) in cases {
        let r = run(prog, &sock, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with(want), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("Usage: "), "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "");
    }
    assert_eq!(fake.take(), Vec::<Request>::new());
}

#[test]
fn no_daemon_exits_3() {
    let dir = TempDir::new("nodaemon");
    let sock = dir.join("absent.ctl");
    for (prog, args) in [(INFO, vec![]), (INFO, vec!["sessions"]), (MANAGE, vec!["reload"])] {
        let r = run(prog, &sock, &args);
        assert_eq!(r.code, 3, "{prog} {args:?}: {}", r.stderr);
        assert!(r.stderr.contains("proacd is not running or not reachable at"), "{}", r.stderr);
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn help_and_version() {
    let dir = TempDir::new("help");
    let sock = dir.join("x.ctl");
    for (prog, name) in [(INFO, "proac_info"), (MANAGE, "proac_manage")] {
        let r = run(prog, &sock, &["-v"]);
        assert_eq!((r.code, r.stdout.clone()), (0, format!("{name} {}\n", env!("CARGO_PKG_VERSION"))));
        let r = run(prog, &sock, &["-h"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.starts_with(&format!("Usage: {name} [-s SOCKET] [-j]")), "{}", r.stdout);
    }
}
