//! `propppctl` and `propppwatch`.
//!
//! - Rendering, byte for byte: every event kind in the seeds' line format
//!   ([`proppp::cli::event_line`]), and `list`, `show`, `status` as text
//!   and JSON, both through the library and through the programs.
//! - The programs against a stand-in propppd (a control socket served by
//!   this test with `common::events::Publisher`, so the requests each
//!   command sends are checked too): every command, refusals (exit 1),
//!   usage errors (exit 2), no daemon (exit 3); `propppwatch` printing
//!   events, `-e`, `-n`, `-j`, `N events lost` after a real loss (the
//!   watcher stopped with SIGSTOP until its queue overflows), following a
//!   restarted daemon, and exit 3 when it stays away.
//! - End to end against the real `propppd -f` (`dataplane = null`), the
//!   test playing the channel owner: `list`, `show`, `status`, `create`
//!   without an L2TP owner, `reload`, `destroy`, and the CREATED /
//!   DESTROYED lines of `propppwatch`.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testsupport::TempDir;

use common::channel::Channel;
use common::events::Publisher;
use common::ipc::{Body, ErrorCode, Message, Record, Reply, Request, Selector, Server, MAX_DATAGRAM};
use proppp::cli;

const CTL: &str = env!("CARGO_BIN_EXE_propppctl");
const WATCH: &str = env!("CARGO_BIN_EXE_propppwatch");
const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------- support

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A finished program run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// `propppctl -s SOCKET ARGS...`.
fn ctl(socket: &Path, args: &[&str]) -> Run {
    let out = Command::new(CTL).arg("-s").arg(socket).args(args).output().unwrap_or_else(|e| panic!("propppctl: {e}"));
    out.into()
}

/// A `propppwatch` with stdout and stderr in files.
struct Watcher {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Watcher {
    fn start(dir: &TempDir, name: &str, socket: &Path, args: &[&str]) -> Watcher {
        let (out, err) = (dir.join(&format!("{name}.out")), dir.join(&format!("{name}.err")));
        let file = |p: &Path| fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let child = Command::new(WATCH)
            .arg("-s")
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err))
            .spawn()
            .unwrap_or_else(|e| panic!("propppwatch: {e}"));
        Watcher { child, out, err }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn lines(&self) -> Vec<String> {
        self.stdout().lines().map(String::from).collect()
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0));
        nix::sys::signal::kill(pid, sig).unwrap_or_else(|e| panic!("kill: {e}"));
    }

    /// Exit status once it ended within `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut code = None;
        wait_until(timeout, || match self.child.try_wait() {
            Ok(Some(st)) => {
                code = Some(st.code().unwrap_or(-1));
                true
            }
            _ => false,
        });
        code
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------- stand-in daemon

/// What the stand-in is asked to do from the test.
enum Cmd {
    /// Publish one event.
    Publish(u32, Record),
    /// Publish copies of this event until one is dropped for a watcher,
    /// then `more` others.
    Flood(u32, Record, usize),
}

/// A control socket served by a thread: `Subscribe`/`Unsubscribe` through
/// a real [`Publisher`], every other request answered by `answer`.
struct FakeDaemon {
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    /// Watchers subscribed now.
    subscribers: Arc<AtomicUsize>,
    /// Events dropped for watchers, in total.
    dropped: Arc<AtomicU64>,
    /// Events sent to watchers, in total.
    sent: Arc<AtomicU64>,
    /// Requests received, in order (subscriptions left out).
    requests: Arc<Mutex<Vec<Request>>>,
}

type Answer = fn(&Request) -> Reply;

impl FakeDaemon {
    fn start(path: &Path, answer: Answer) -> FakeDaemon {
        let server = Server::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        let (tx, rx) = mpsc::channel::<Cmd>();
        let subscribers = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, d, n, r) = (subscribers.clone(), dropped.clone(), sent.clone(), requests.clone());
        let thread = std::thread::spawn(move || serve(&server, &rx, answer, &s, [&d, &n], &r));
        FakeDaemon { tx: Some(tx), thread: Some(thread), subscribers, dropped, sent, requests }
    }

    fn send(&self, cmd: Cmd) {
        if let Some(tx) = &self.tx {
            tx.send(cmd).unwrap_or_else(|e| panic!("fake daemon gone: {e}"));
        }
    }

    fn wait_subscribers(&self, n: usize) {
        assert!(wait_until(WAIT, || self.subscribers.load(Ordering::SeqCst) == n), "watchers: {} (want {n})", self.subscribers.load(Ordering::SeqCst));
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Stops serving: the socket file goes, and so do the watchers'
    /// senders (as when propppd exits).
    fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `counts`: where to keep the publisher's dropped and sent totals.
fn serve(server: &Server, rx: &mpsc::Receiver<Cmd>, answer: Answer, subs: &AtomicUsize, counts: [&AtomicU64; 2], requests: &Mutex<Vec<Request>>) {
    let mut publisher = Publisher::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let mut fds = [nix::poll::PollFd::new(server.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10u16));
        while let Ok(Some(got)) = server.recv(&mut buf) {
            let Some(bytes) = buf.get(..got.len) else { continue };
            let Ok(msg) = Message::decode(bytes) else { continue };
            let Body::Request(req) = msg.body else { continue };
            let reply = match req {
                Request::Subscribe { events, tunnel } => match publisher.subscribe(&got.peer, msg.request_id, events, tunnel) {
                    Ok(sub) => Reply::Records { more: false, records: vec![sub.to_record()] },
                    Err(e) => Reply::Error { code: ErrorCode::Failed, message: e.to_string() },
                },
                Request::Unsubscribe => {
                    publisher.unsubscribe(&got.peer);
                    Reply::Done
                }
                req => {
                    let reply = answer(&req);
                    if let Ok(mut r) = requests.lock() {
                        r.push(req);
                    }
                    reply
                }
            };
            let _ = server.send(&got.peer, &Message { request_id: msg.request_id, body: Body::Reply(reply) });
        }
        loop {
            match rx.try_recv() {
                Ok(Cmd::Publish(bit, r)) => publisher.publish(bit, &r),
                Ok(Cmd::Flood(bit, r, more)) => {
                    for _ in 0..1_000_000 {
                        publisher.publish(bit, &r);
                        if publisher.counters().dropped > 0 {
                            break;
                        }
                    }
                    for _ in 0..more {
                        publisher.publish(bit, &r);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        subs.store(publisher.subscribers().len(), Ordering::SeqCst);
        counts[0].store(publisher.counters().dropped, Ordering::SeqCst);
        counts[1].store(publisher.counters().sent, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- records

fn created(handle: u64, name: &str) -> Record {
    let mut r = Record::new("PPP_CREATED_IND");
    r.num("handle", handle).str("name", name);
    r
}

fn destroyed(handle: u64, name: &str) -> Record {
    let mut r = Record::new("PPP_DESTROYED_IND");
    r.num("handle", handle).str("name", name);
    r
}

fn up() -> Record {
    let mut r = Record::new("PPP_UP_IND");
    r.num("handle", 0x193c9c800000000u64)
        .str("name", "session-4")
        .str("ifname", "ppp0")
        .str("user", "lns")
        .str("local", "10.90.0.10")
        .str("peer", "10.90.0.11")
        .num("unit", 0u64)
        .str("linktype", "pppoltp")
        .str("local_id", "0x8bf5b556")
        .str("peer_id", "0x3dc74aa7");
    r
}

fn down() -> Record {
    let mut r = Record::new("PPP_DOWN_IND");
    r.num("handle", 0x193c9c800000000u64)
        .str("name", "session-4")
        .str("ifname", "ppp0")
        .str("user", "lns")
        .num("unit", 0u64)
        .str("linktype", "pppoltp")
        .str("reason", "User request")
        .num("reason_code", 0u64)
        .str("local_id", "0x8bf5b556")
        .str("peer_id", "0x3dc74aa7")
        .num("bytes_in", 0u64)
        .num("bytes_out", 0u64)
        .num("packets_in", 0u64)
        .num("packets_out", 0u64)
        .num("connect_time", 3u64);
    r
}

/// The seeds' four lines, for the records above.
const SEED_LINES: [&str; 4] = [
    "PPP_CREATED_IND: handle=0x193c9c800000000 name='session-4'",
    "PPP_UP_IND: handle=0x193c9c800000000 name='session-4' ifname='ppp0' user='lns' local=10.90.0.10 peer=10.90.0.11 unit=0 linktype=pppoltp local_id=0x8bf5b556 peer_id=0x3dc74aa7",
    "PPP_DOWN_IND: handle=0x193c9c800000000 name='session-4' ifname='ppp0' user='lns' unit=0 linktype=pppoltp reason='User request' reason_code=0 local_id=0x8bf5b556 peer_id=0x3dc74aa7 bytes_in/out=0/0 packets_in/out=0/0 connect_time=3s",
    "PPP_DESTROYED_IND: handle=0x193c9c800000000 name='session-4'",
];

fn ppp_summary(handle: u64, name: &str, state: &str) -> Record {
    let mut r = Record::new("ppp");
    r.num("handle", handle)
        .str("name", name)
        .str("state", state)
        .str("ifname", if state == "network" { "ppp0" } else { "" })
        .str("user", if state == "network" { "alice" } else { "" })
        .str("local_ip", if state == "network" { "192.0.2.1" } else { "" })
        .str("peer_ip", if state == "network" { "192.0.2.10" } else { "" })
        .str("linktype", "pppoltp")
        .num("connect_time", if state == "network" { 3725u64 } else { 0 });
    r
}

fn system() -> Record {
    let mut r = Record::new("system");
    r.str("version", "0.1.0")
        .num("instances", 2u64)
        .num("instances_up", 1u64)
        .num("owners", 1u64)
        .str("control_socket", "/run/proppp/propppd.ctl")
        .str("channel_socket", "/run/proppp/propppd.chan")
        .str("config_file", "/etc/proppp/propppd.conf")
        .num("pool_lns_free", 240u64)
        .num("pool_lns_used", 1u64);
    r
}

fn statistics() -> Record {
    let mut r = Record::new("statistics");
    r.num("instances_created", 5u64)
        .num("instances_up_total", 4u64)
        .num("auth_failures", 1u64)
        .num("owners_connected_total", 2u64)
        .num("owner_losses", 1u64)
        .num("bad_channel_messages", 0u64)
        .num("rx_dropped_frames", 7u64);
    r
}

/// The stand-in's answers: two instances, `s1` (handle 1, up) and `s2`
/// (handle 2, establishing); `create` works in tunnel `t1` only.
fn answer(req: &Request) -> Reply {
    let records = |records: Vec<Record>| Reply::Records { more: false, records };
    let not_found = || Reply::Error { code: ErrorCode::NotFound, message: "no such PPP instance".into() };
    let full = |h: u64, name: &str, state: &str| {
        let mut r = ppp_summary(h, name, state);
        r.str("profile", "lns").str("role", "server").str("mru", "1410").str("local_magic", "0x8bf5b556");
        r
    };
    let is_s1 = |s: &Selector| matches!(s, Selector::Id(1)) || matches!(s, Selector::Name(n) if n == "s1");
    match req {
        Request::ListPpp => records(vec![ppp_summary(1, "s1", "network"), ppp_summary(2, "s2", "establish")]),
        Request::ShowPpp(s) if is_s1(s) => records(vec![full(1, "s1", "network")]),
        Request::DestroyPpp(s) if is_s1(s) => Reply::Done,
        Request::ShowPpp(_) | Request::DestroyPpp(_) => not_found(),
        Request::ShowSystem => records(vec![system()]),
        Request::ShowStatistics => records(vec![statistics()]),
        Request::CreatePpp { params, .. } if params.iter().any(|(k, v)| k == "tunnel" && v == "t1") => Reply::Done,
        Request::CreatePpp { .. } => Reply::Error { code: ErrorCode::Failed, message: "no such tunnel".into() },
        Request::Reload => Reply::Done,
        _ => Reply::Error { code: ErrorCode::Unsupported, message: "not propppd's".into() },
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn event_lines_match_the_seeds() {
    for (record, want) in [created(0x193c9c800000000, "session-4"), up(), down(), destroyed(0x193c9c800000000, "session-4")].iter().zip(SEED_LINES) {
        assert_eq!(cli::event_line(record), want);
    }
    // Absent fields are left out; numbers where text was expected (magic
    // numbers) still print as the seeds do; one counter of a pair alone.
    let mut r = Record::new("PPP_DOWN_IND");
    r.num("handle", 1u64).str("name", "a").num("local_id", 0x1234u64).num("bytes_in", 5u64).num("connect_time", 0u64);
    assert_eq!(cli::event_line(&r), "PPP_DOWN_IND: handle=0x1 name='a' local_id=0x00001234 bytes_in=5 connect_time=0s");
    let mut u = Record::new("PPP_FUTURE_IND");
    u.num("handle", 1u64).str("x", "y");
    assert_eq!(cli::event_line(&u), "PPP_FUTURE_IND: handle=1 x='y'");
    assert_eq!(common::cli::render_event_json(3, &created(1, "s")), "{\"event\":\"PPP_CREATED_IND\",\"seq\":3,\"handle\":1,\"name\":\"s\"}");
}

const LIST_TEXT: &str = "      HANDLE NAME             STATE        IFNAME   USER             LOCAL-IP        PEER-IP         TYPE      CONNECTED
         0x1 s1               network      ppp0     alice            192.0.2.1       192.0.2.10      pppoltp     1:02:05
         0x2 s2               establish    -        -                -               -               pppoltp     0:00:00
";

const SHOW_TEXT: &str = "handle:       0x1
name:         s1
state:        network
ifname:       ppp0
user:         alice
local_ip:     192.0.2.1
peer_ip:      192.0.2.10
linktype:     pppoltp
connect_time: 1:02:05
profile:      lns
role:         server
mru:          1410
local_magic:  0x8bf5b556
";

const STATUS_TEXT: &str = "version:        0.1.0
instances:      2
instances_up:   1
owners:         1
control_socket: /run/proppp/propppd.ctl
channel_socket: /run/proppp/propppd.chan
config_file:    /etc/proppp/propppd.conf
pool_lns_free:  240
pool_lns_used:  1

instances_created:      5
instances_up_total:     4
auth_failures:          1
owners_connected_total: 2
owner_losses:           1
bad_channel_messages:   0
rx_dropped_frames:      7
";

#[test]
fn records_render_byte_for_byte() {
    let list = [ppp_summary(1, "s1", "network"), ppp_summary(2, "s2", "establish")];
    assert_eq!(cli::render_list(&list, false), LIST_TEXT);
    assert_eq!(
        cli::render_list(&[], false),
        "      HANDLE NAME             STATE        IFNAME   USER             LOCAL-IP        PEER-IP         TYPE      CONNECTED\n"
    );
    assert_eq!(cli::render_list(&[], true), "[]\n");
    let json = cli::render_list(&list[..1], true);
    assert_eq!(
        json,
        "[{\"handle\":1,\"name\":\"s1\",\"state\":\"network\",\"ifname\":\"ppp0\",\"user\":\"alice\",\"local_ip\":\"192.0.2.1\",\"peer_ip\":\"192.0.2.10\",\"linktype\":\"pppoltp\",\"connect_time\":3725}]\n"
    );
    let full = match answer(&Request::ShowPpp(Selector::Id(1))) {
        Reply::Records { records, .. } => records,
        other => panic!("{other:?}"),
    };
    assert_eq!(cli::render_show(&full, false), SHOW_TEXT);
    assert!(cli::render_show(&full, true).starts_with("{\"handle\":1,\"name\":\"s1\""));
    assert_eq!(cli::render_status(&[system(), statistics()], false), STATUS_TEXT);
    assert_eq!(
        cli::render_status(&[system(), statistics()], true),
        format!("{{\"system\":{},\"statistics\":{}}}\n", system().to_json(), statistics().to_json())
    );
}

#[test]
fn propppctl_against_a_stand_in() {
    let dir = TempDir::new("ctl");
    let sock = dir.join("propppd.ctl");
    let fake = FakeDaemon::start(&sock, answer);

    let r = ctl(&sock, &["list"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, LIST_TEXT, ""));
    let r = ctl(&sock, &["show", "0x1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, SHOW_TEXT));
    let r = ctl(&sock, &["show", "s1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, SHOW_TEXT));
    let r = ctl(&sock, &["-j", "show", "1"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("{\"handle\":1,\"name\":\"s1\",") && r.stdout.ends_with("}\n"), "{}", r.stdout);
    let r = ctl(&sock, &["status"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, STATUS_TEXT));
    let r = ctl(&sock, &["-j", "status"]);
    assert_eq!(r.stdout, format!("{{\"system\":{},\"statistics\":{}}}\n", system().to_json(), statistics().to_json()));
    let r = ctl(&sock, &["-j", "list"]);
    assert!(r.stdout.starts_with("[{\"handle\":1,") && r.stdout.contains("},{\"handle\":2,"), "{}", r.stdout);

    // Acting commands print nothing (text) or {"ok":true} (JSON).
    let r = ctl(&sock, &["create", "s9", "l2tp", "t1", "profile=lns"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let r = ctl(&sock, &["-j", "destroy", "s1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "{\"ok\":true}\n"));
    let r = ctl(&sock, &["reload"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));

    // Refusals: exit 1 with the daemon's message.
    let r = ctl(&sock, &["show", "nosuch"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (1, "", "propppctl: no such PPP instance\n"));
    let r = ctl(&sock, &["destroy", "nosuch"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "propppctl: no such PPP instance\n"));
    let r = ctl(&sock, &["create", "s9", "l2tp", "t2"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "propppctl: no such tunnel\n"));
    let r = ctl(&sock, &["create", "dsl", "pppoe", "eth0", "service_name=isp"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "propppctl: no such tunnel\n"), "refused by the fake; what was sent is checked below");

    let kv = |p: &[(&str, &str)]| -> Vec<(String, String)> { p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    assert_eq!(
        fake.requests(),
        vec![
            Request::ListPpp,
            Request::ShowPpp(Selector::Id(1)),
            Request::ShowPpp(Selector::Name("s1".into())),
            Request::ShowPpp(Selector::Id(1)),
            Request::ShowSystem,
            Request::ShowStatistics,
            Request::ShowSystem,
            Request::ShowStatistics,
            Request::ListPpp,
            Request::CreatePpp { name: "s9".into(), params: kv(&[("linktype", "pppoltp"), ("tunnel", "t1"), ("profile", "lns")]) },
            Request::DestroyPpp(Selector::Name("s1".into())),
            Request::Reload,
            Request::ShowPpp(Selector::Name("nosuch".into())),
            Request::DestroyPpp(Selector::Name("nosuch".into())),
            Request::CreatePpp { name: "s9".into(), params: kv(&[("linktype", "pppoltp"), ("tunnel", "t2")]) },
            Request::CreatePpp { name: "dsl".into(), params: kv(&[("linktype", "pppoe"), ("pppoe_interface", "eth0"), ("service_name", "isp")]) },
        ]
    );
}

#[test]
fn usage_errors_exit_2_and_no_daemon_exits_3() {
    let dir = TempDir::new("usage");
    let missing = dir.join("missing.ctl");
    for bad in [
        &[][..],
        &["frobnicate"],
        &["show"],
        &["list", "x"],
        &["destroy"],
        &["create", "s1"],
        &["create", "s1", "l2tp"],
        &["create", "s1", "atm", "eth0"],
        &["create", "s1", "pppoe"],
        &["create", "s1", "pppoe", "eth0", "pppoe_interface=eth1"],
        &["create", "s1", "l2tp", "t1", "peer"],
        &["create", "s1", "l2tp", "t1", "a=1", "a=2"],
        &["-t", "0", "list"],
        &["-q", "list"],
        &["show", "0x100000000"],
    ] {
        let r = ctl(&missing, bad);
        assert_eq!(r.code, 2, "propppctl {bad:?}: {r:?}");
        assert!(r.stderr.starts_with("propppctl: ") && r.stderr.contains("Usage: propppctl"), "{r:?}");
        assert!(r.stdout.is_empty());
    }
    for bad in [&["-n", "0"][..], &["-e", "sideways"], &["-T", "x"], &["extra"], &["-q"]] {
        let r: Run = Command::new(WATCH).arg("-s").arg(&missing).args(bad).output().unwrap_or_else(|e| panic!("{e}")).into();
        assert_eq!(r.code, 2, "propppwatch {bad:?}: {r:?}");
        assert!(r.stderr.contains("Usage: propppwatch"), "{r:?}");
    }
    let r = ctl(&missing, &["list"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(r.stderr.starts_with(&format!("propppctl: propppd is not running or not reachable at {}: ", missing.display())), "{r:?}");
    // A stale socket file of a dead daemon.
    let stale = dir.join("stale.ctl");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(ctl(&stale, &["status"]).code, 3);
    let r: Run = Command::new(WATCH).arg("-s").arg(&stale).output().unwrap_or_else(|e| panic!("{e}")).into();
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.starts_with("propppwatch: propppd is not running"), "{r:?}");
    // -h and -v print and succeed.
    let r: Run = Command::new(CTL).arg("-h").output().unwrap_or_else(|e| panic!("{e}")).into();
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("Usage: propppctl"), "{r:?}");
    let r: Run = Command::new(WATCH).arg("-v").output().unwrap_or_else(|e| panic!("{e}")).into();
    assert_eq!((r.code, r.stdout.trim()), (0, format!("propppwatch {}", env!("CARGO_PKG_VERSION")).as_str()));
}

#[test]
fn propppwatch_prints_events_and_filters() {
    let dir = TempDir::new("watch");
    let sock = dir.join("propppd.ctl");
    let fake = FakeDaemon::start(&sock, answer);
    let all = Watcher::start(&dir, "all", &sock, &["-n", "4"]);
    let mut json = Watcher::start(&dir, "json", &sock, &["-j", "-e", "up,destroyed", "-n", "2"]);
    let stamped = Watcher::start(&dir, "stamped", &sock, &["-t", "-e", "PPP_CREATED_IND"]);
    fake.wait_subscribers(3);
    let h = 0x193c9c800000000u64;
    for (bit, r) in [(0x1, created(h, "session-4")), (0x2, up()), (0x4, down()), (0x8, destroyed(h, "session-4"))] {
        fake.send(Cmd::Publish(bit, r));
    }
    let mut all = all;
    assert_eq!(all.wait_exit(WAIT), Some(0), "{}", all.stderr());
    assert_eq!(all.stdout(), SEED_LINES.iter().map(|l| format!("{l}\n")).collect::<String>());
    assert_eq!(all.stderr(), "");
    assert_eq!(json.wait_exit(WAIT), Some(0), "{}", json.stderr());
    let lines = json.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with(&format!("{{\"event\":\"PPP_UP_IND\",\"seq\":1,\"handle\":{h},\"name\":\"session-4\",")), "{lines:?}");
    assert_eq!(lines[1], format!("{{\"event\":\"PPP_DESTROYED_IND\",\"seq\":2,\"handle\":{h},\"name\":\"session-4\"}}"));
    assert!(wait_until(WAIT, || !stamped.lines().is_empty()), "{}", stamped.stderr());
    let line = stamped.lines().remove(0);
    // `YYYY-MM-DD HH:MM:SS.mmm ` then the line.
    assert_eq!(line.get(24..), Some(SEED_LINES[0]), "{line}");
    assert_eq!(line.as_bytes().get(4), Some(&b'-'), "{line}");
    // The stopped watchers unsubscribed; the last one ends with SIGTERM.
    fake.wait_subscribers(1);
    let mut stamped = stamped;
    stamped.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(stamped.wait_exit(WAIT), Some(0));
    fake.wait_subscribers(0);
}

#[test]
fn propppwatch_reports_lost_events() {
    let dir = TempDir::new("lost");
    let sock = dir.join("propppd.ctl");
    let fake = FakeDaemon::start(&sock, answer);
    let mut w = Watcher::start(&dir, "w", &sock, &[]);
    fake.wait_subscribers(1);
    w.signal(nix::sys::signal::Signal::SIGSTOP);
    fake.send(Cmd::Flood(0x1, created(1, "flood"), 0));
    assert!(wait_until(WAIT, || fake.dropped.load(Ordering::SeqCst) > 0), "nothing dropped");
    let dropped = fake.dropped.load(Ordering::SeqCst);
    let sent = fake.sent.load(Ordering::SeqCst);
    w.signal(nix::sys::signal::Signal::SIGCONT);
    // Only once the watcher has read what was queued for it is there room
    // for one more event (else "last" could be dropped too on a busy host).
    assert!(wait_until(WAIT, || w.lines().len() as u64 >= sent), "{}", w.stderr());
    fake.send(Cmd::Publish(0x8, destroyed(1, "last")));
    let last = "PPP_DESTROYED_IND: handle=0x1 name='last'";
    assert!(wait_until(WAIT, || w.lines().last().map(String::as_str) == Some(last)), "{}", w.stderr());
    assert_eq!(w.stderr(), format!("propppwatch: {dropped} events lost\n"));
    assert!(w.lines().iter().rev().skip(1).all(|l| l == "PPP_CREATED_IND: handle=0x1 name='flood'"));
    w.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(w.wait_exit(WAIT), Some(0));
}

#[test]
fn propppwatch_follows_a_restart_and_gives_up() {
    let dir = TempDir::new("restart");
    let sock = dir.join("propppd.ctl");
    let mut fake = FakeDaemon::start(&sock, answer);
    let mut w = Watcher::start(&dir, "w", &sock, &["-T", "2"]);
    fake.wait_subscribers(1);
    fake.send(Cmd::Publish(0x1, created(1, "before")));
    assert!(wait_until(WAIT, || w.lines().len() == 1), "{}", w.stderr());
    fake.stop();
    let fake = FakeDaemon::start(&sock, answer);
    fake.wait_subscribers(1);
    fake.send(Cmd::Publish(0x1, created(1, "after")));
    assert!(wait_until(WAIT, || w.lines().len() == 2), "{}", w.stderr());
    assert_eq!(w.stdout(), "PPP_CREATED_IND: handle=0x1 name='before'\nPPP_CREATED_IND: handle=0x1 name='after'\n");
    assert_eq!(w.stderr(), "propppwatch: propppd restarted; 0 events may be lost\n");
    // Gone for longer than -T: exit 3.
    drop(fake);
    assert_eq!(w.wait_exit(WAIT), Some(3), "{}", w.stderr());
    assert!(w.stderr().ends_with(&format!("propppwatch: propppd has gone away: {}\n", "No such file or directory (os error 2)")), "{}", w.stderr());
}

// ------------------------------------------------------- real propppd

/// A `propppd -f` with its sockets in `dir`, `dataplane = null`.
struct Propppd {
    child: Child,
    ctl: PathBuf,
    chan: PathBuf,
    log: PathBuf,
}

impl Propppd {
    fn start(dir: &TempDir) -> Propppd {
        let bin = option_env!("CARGO_BIN_EXE_propppd").unwrap_or_else(|| panic!("the propppd program is not built yet (propppd/src/bin/propppd.rs)"));
        let (ctl, chan, log) = (dir.join("propppd.ctl"), dir.join("propppd.chan"), dir.join("propppd.log"));
        let conf = dir.join("propppd.conf");
        let text = format!(
            "[system]\ncontrol_socket = {}\nchannel_socket = {}\npid_file = {}\ndataplane = null\n\n[profile \"default\"]\nauth = none\n",
            ctl.display(),
            chan.display(),
            dir.join("propppd.pid").display()
        );
        fs::write(&conf, text).unwrap_or_else(|e| panic!("{e}"));
        let file = fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let err = file.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(bin).args(["-f", "-c"]).arg(&conf).stdout(file).stderr(err).spawn().unwrap_or_else(|e| panic!("{bin}: {e}"));
        let d = Propppd { child, ctl, chan, log };
        assert!(wait_until(WAIT, || ctl_ok(&d.ctl, &["status"])), "propppd did not answer: {}", d.log());
        d
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Propppd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ctl_ok(sock: &Path, args: &[&str]) -> bool {
    ctl(sock, args).code == 0
}

/// The value of `key` in `key: value` text.
fn value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(&format!("{key}:")).map(|v| v.trim().to_string()))
}

#[test]
fn against_the_real_propppd() {
    let dir = TempDir::new("real");
    let d = Propppd::start(&dir);
    let r = ctl(&d.ctl, &["status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(value(&r.stdout, "instances").as_deref(), Some("0"), "{}", r.stdout);
    assert_eq!(value(&r.stdout, "control_socket"), Some(d.ctl.display().to_string()), "{}", r.stdout);
    assert!(value(&r.stdout, "owner_losses").is_some(), "{}", r.stdout);
    let r = ctl(&d.ctl, &["list"]);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 1), "{r:?}");
    let r = ctl(&d.ctl, &["create", "s1", "l2tp", "t1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no L2TP owner connected"), "{r:?}");
    assert_eq!(ctl(&d.ctl, &["show", "nosuch"]).code, 1);
    assert_eq!(ctl(&d.ctl, &["reload"]).code, 0);

    // The test is the channel owner: PPP instances on frames channels
    // whose peer stays silent. Probe instances until the watcher shows
    // one (then it is subscribed), then one named s1.
    let mut w = Watcher::start(&dir, "w", &d.ctl, &["-e", "created,destroyed"]);
    let mut owner = Channel::connect(&d.chan).unwrap_or_else(|e| panic!("channel: {e}"));
    let mut peers = Vec::new();
    let mut open = |reference: u32, name: &str| {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .unwrap_or_else(|e| panic!("socketpair: {e}"));
        let params: Vec<(String, String)> = [("framing", "frames"), ("linktype", "pppoltp"), ("role", "server"), ("name", name), ("tunnel_id", "7")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let msg = Message { request_id: reference, body: Body::Request(Request::PppOpen { reference, params }) };
        owner.send(&msg, Some(theirs.as_fd())).unwrap_or_else(|e| panic!("PppOpen: {e}"));
        peers.push(ours);
    };
    let mut subscribed = false;
    for probe in 1..=20u32 {
        open(probe, &format!("probe{probe}"));
        if wait_until(Duration::from_secs(1), || !w.lines().is_empty()) {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "the watcher never showed an event: {}\n{}", w.stderr(), d.log());
    open(100, "s1");
    let rows = || ctl(&d.ctl, &["list"]).stdout.lines().filter(|l| l.contains(" s1 ")).map(String::from).collect::<Vec<_>>();
    assert!(wait_until(WAIT, || rows().len() == 1), "{}", d.log());
    let row = rows().remove(0);
    assert!(row.contains("pppoltp"), "{row}");
    let handle = row.split_whitespace().next().unwrap_or_default().to_string();
    assert!(handle.starts_with("0x"), "{row}");
    let r = ctl(&d.ctl, &["show", &handle]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(value(&r.stdout, "name").as_deref(), Some("s1"), "{}", r.stdout);
    assert_eq!(value(&r.stdout, "handle").as_deref(), Some(handle.as_str()), "{}", r.stdout);
    assert_eq!(value(&r.stdout, "tunnel_id").as_deref(), Some("7"), "{}", r.stdout);
    let r = ctl(&d.ctl, &["-j", "show", "s1"]);
    assert!(r.code == 0 && r.stdout.contains("\"name\":\"s1\""), "{r:?}");
    // The owner closes its side: the instance ends.
    let close = Message { request_id: 101, body: Body::Request(Request::PppClose { reference: 100, reason: "test".into() }) };
    owner.send(&close, None).unwrap_or_else(|e| panic!("PppClose: {e}"));
    let s1_lines = || w.lines().into_iter().filter(|l| l.contains("name='s1'")).collect::<Vec<_>>();
    assert!(wait_until(WAIT, || s1_lines().len() == 2), "{}\n{}", w.stdout(), d.log());
    assert_eq!(s1_lines(), vec![format!("PPP_CREATED_IND: handle={handle} name='s1'"), format!("PPP_DESTROYED_IND: handle={handle} name='s1'")]);
    assert!(wait_until(WAIT, || rows().is_empty()));
    assert_eq!(w.stderr(), "");
    w.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(w.wait_exit(WAIT), Some(0));
    drop(peers);
}
