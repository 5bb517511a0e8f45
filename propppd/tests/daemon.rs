//! The propppd process end to end with `dataplane = null`: the test plays
//! the channel owner (a [`Channel`] to the daemon, `PppOpen` with one end
//! of a `SOCK_SEQPACKET` pair) and runs the PPP peer itself, a
//! [`Link`] on the other end of the pair; it checks status messages,
//! `propppctl`-style control requests, limits, reload and shutdown.
//! Every wait polls a condition with a deadline.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::channel::{Channel, Received};
use common::ipc::{Body, Client, Message, Record, Reply, Request, Selector, Value};
use nix::sys::socket::{self as sock, AddressFamily, MsgFlags, SockFlag, SockType};
use proppp::proto::auth::{AuthMethod, SecretsBackend};
use proppp::proto::frame::protocol;
use proppp::proto::fsm::SplitMix64;
use proppp::proto::ipcp::IpcpConfig;
use proppp::proto::lcp::LcpConfig;
use proppp::proto::link::{DownReason, Link, LinkConfig, LinkEvent, LinkOutput};

const WAIT: Duration = Duration::from_secs(10);

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

struct Env {
    dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

impl Env {
    fn new(tag: &str, system_extra: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("propppd-daemon-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("chap-secrets"), "alice * wonderland\nbob * builder 192.0.2.99\n").unwrap();
        std::fs::write(dir.join("pap-secrets"), "carol * pw-carol\n").unwrap();
        let conf = dir.join("propppd.conf");
        let env = Env { dir, conf, child: None };
        env.write_conf(system_extra, "");
        env
    }

    fn write_conf(&self, system_extra: &str, more: &str) {
        let d = self.dir.display();
        let text = format!(
            "[system]\ncontrol_socket = {d}/ctl\nchannel_socket = {d}/chan\ndataplane = null\nlog_level = debug\n{system_extra}\n\
             [pool \"p\"]\nrange = 192.0.2.10-192.0.2.20\n\
             [profile \"default\"]\nauth = chap\npool = p\ndns = 198.51.100.53, 198.51.100.54\nlocal_ip = 192.0.2.1\necho_interval = 0\n\
             chap_secrets = {d}/chap-secrets\npap_secrets = {d}/pap-secrets\n\
             [profile \"pap\"]\nauth = pap\n[profile \"ms\"]\nauth = mschapv2\n\
             [profile \"client\"]\nauth = none\nuser_name = alice\npassword = wonderland\n{more}"
        );
        std::fs::write(&self.conf, text).unwrap();
    }

    fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts propppd, behind `prefix` (e.g. `unshare --net`) when given.
    fn start_with(&mut self, prefix: &[&str]) {
        let log = std::fs::File::create(self.dir.join("log")).unwrap();
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(env!("CARGO_BIN_EXE_propppd"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_propppd")),
        };
        let child = cmd.args(["-f", "-c"]).arg(&self.conf).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        self.child = Some(child);
        let ok = wait_for(|| self.dir.join("ctl").exists() && self.dir.join("chan").exists());
        assert!(ok, "propppd did not start: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn chan_path(&self) -> PathBuf {
        self.dir.join("chan")
    }

    fn call(&self, req: Request) -> Reply {
        let mut c = Client::connect(&self.dir.join("ctl")).unwrap();
        c.call(req, Duration::from_secs(5)).unwrap()
    }

    fn records(&self, req: Request) -> Vec<Record> {
        match self.call(req) {
            Reply::Records { records, .. } => records,
            other => panic!("expected records, got {other:?}"),
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.as_ref().unwrap().id() as i32);
        nix::sys::signal::kill(pid, sig).unwrap();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if f() {
            return true;
        }
        // Not a sleep on a guess: a short poll on nothing, bounded by the deadline.
        let _ = nix::poll::poll(&mut [], nix::poll::PollTimeout::from(5u8));
    }
    false
}

fn field<'a>(r: &'a Record, k: &str) -> Option<&'a Value> {
    r.get(k)
}

fn s(r: &Record, k: &str) -> String {
    match field(r, k) {
        Some(Value::Str(v)) => v.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// What a NetworkUp said: local address, peer address, DNS servers.
type NetworkUp = (Option<Ipv4Addr>, Option<Ipv4Addr>, [Option<Ipv4Addr>; 2]);

/// The test's side of one PPP channel: the peer link on its end of the
/// socket pair.
struct Peer {
    link: Link,
    fd: OwnedFd,
    events: Vec<LinkEvent>,
    data: Vec<(u16, Vec<u8>)>,
}

impl Peer {
    fn new(config: LinkConfig, backend: SecretsBackend, seed: u64) -> (Peer, OwnedFd) {
        let (ours, theirs) = sock::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC).unwrap();
        let mut rng = SplitMix64(seed ^ 0x55);
        let source = move |buf: &mut [u8]| {
            for b in buf {
                *b = proppp::proto::fsm::Rng::next_u32(&mut rng) as u8;
            }
        };
        let mut link = Link::new(config, Box::new(backend), Box::new(SplitMix64(seed)), Box::new(source));
        link.open(Instant::now());
        (Peer { link, fd: ours, events: Vec::new(), data: Vec::new() }, theirs)
    }

    fn client(accept: &[AuthMethod], user: &str, password: &str, seed: u64) -> (Peer, OwnedFd) {
        let config = LinkConfig {
            lcp: LcpConfig { accept_auth: accept.to_vec(), echo_interval: None, ..LcpConfig::default() },
            user: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
            ipcp: IpcpConfig { request_dns: true, ..IpcpConfig::default() },
            ipv6: false,
            ..LinkConfig::default()
        };
        Peer::new(config, SecretsBackend::new(), seed)
    }

    /// Moves frames both ways and runs timers once.
    fn pump(&mut self) {
        let now = Instant::now();
        let mut buf = [0u8; 2048];
        loop {
            match sock::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let LinkOutput::Data { protocol, payload } = self.link.handle_frame(now, &buf[..n]) {
                        self.data.push((protocol, payload.to_vec()));
                    }
                }
            }
        }
        if self.link.poll_timeout().is_some_and(|t| t <= now) {
            self.link.handle_timeout(now);
        }
        while let Some(f) = self.link.poll_transmit() {
            let body = if f.starts_with(&[0xff, 0x03]) { &f[2..] } else { &f[..] };
            let _ = sock::send(self.fd.as_raw_fd(), body, MsgFlags::MSG_DONTWAIT);
        }
        while let Some(e) = self.link.poll_event() {
            self.events.push(e);
        }
    }

    fn network_up(&self) -> Option<NetworkUp> {
        self.events.iter().find_map(|e| match e {
            LinkEvent::NetworkUp { local_ip, peer_ip, dns } => Some((*local_ip, *peer_ip, *dns)),
            _ => None,
        })
    }

    fn down(&self) -> Option<DownReason> {
        self.events.iter().find_map(|e| match e {
            LinkEvent::Down { reason, .. } => Some(*reason),
            _ => None,
        })
    }
}

/// The test as channel owner.
struct Owner {
    chan: Channel,
    statuses: Vec<(u32, Record)>,
    /// Requests propppd sent (relayed `CreatePpp` / `CreateSession`).
    requests: Vec<(u32, Request)>,
    closed: bool,
}

impl Owner {
    fn connect(path: &Path) -> Owner {
        Owner { chan: Channel::connect(path).unwrap(), statuses: Vec::new(), requests: Vec::new(), closed: false }
    }

    /// `PppOpen` with exactly `params` (framing and all).
    fn open_with(&mut self, reference: u32, params: &[(&str, &str)], fd: &OwnedFd) {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let msg = Message { request_id: 0, body: Body::Request(Request::PppOpen { reference, params }) };
        self.chan.send(&msg, Some(fd.as_fd())).unwrap();
    }

    fn open(&mut self, reference: u32, name: &str, role: &str, profile: Option<&str>, fd: Option<&OwnedFd>) {
        let mut params = vec![("name", name), ("framing", "frames"), ("linktype", "pppoltp"), ("role", role), ("tunnel_id", "7")];
        if let Some(p) = profile {
            params.push(("profile", p));
        }
        let params = params.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let msg = Message { request_id: reference, body: Body::Request(Request::PppOpen { reference, params }) };
        self.chan.send(&msg, fd.map(|f| f.as_fd())).unwrap();
    }

    fn poll(&mut self) {
        loop {
            match self.chan.recv() {
                Received::Message(Message { body: Body::Reply(Reply::PppStatus { reference, record }), .. }, _) => self.statuses.push((reference, record)),
                Received::Message(Message { request_id, body: Body::Request(r) }, _) => self.requests.push((request_id, r)),
                Received::Message(..) | Received::Malformed(_) => {}
                Received::Nothing => return,
                Received::Closed => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn status(&self, reference: u32, state: &str) -> Option<&Record> {
        self.statuses.iter().find(|(r, rec)| *r == reference && s(rec, "state") == state).map(|(_, r)| r)
    }
}

/// Pumps `peers` and the owner until `done`.
fn run(owner: &mut Owner, peers: &mut [&mut Peer], mut done: impl FnMut(&Owner, &[&mut Peer]) -> bool) -> bool {
    wait_for(|| {
        owner.poll();
        for p in peers.iter_mut() {
            p.pump();
        }
        done(owner, peers)
    })
}

#[test]
fn chap_pap_and_mschapv2_servers_come_up_are_listed_and_destroyed() {
    let mut env = Env::new("servers", "");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let (mut chap, fd1) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 1);
    let (mut pap, fd2) = Peer::client(&[AuthMethod::Pap], "carol", "pw-carol", 2);
    let (mut ms, fd3) = Peer::client(&[AuthMethod::MsChapV2], "alice", "wonderland", 3);
    owner.open(1, "s-chap", "server", None, Some(&fd1));
    let up = run(&mut owner, &mut [&mut chap], |o, p| p[0].network_up().is_some() && o.status(1, "up").is_some());
    assert!(up, "CHAP session did not come up: {}", env.log());
    owner.open(2, "s-pap", "server", Some("pap"), Some(&fd2));
    owner.open(3, "s-ms", "server", Some("ms"), Some(&fd3));
    let up = run(&mut owner, &mut [&mut chap, &mut pap, &mut ms], |o, p| {
        p.iter().all(|p| p.network_up().is_some()) && o.status(2, "up").is_some() && o.status(3, "up").is_some()
    });
    assert!(up, "PAP/MS-CHAPv2 sessions did not come up: {}", env.log());
    let dns = [Some(a("198.51.100.53")), Some(a("198.51.100.54"))];
    assert_eq!(chap.network_up(), Some((Some(a("192.0.2.10")), Some(a("192.0.2.1")), dns)), "first pool address and DNS");
    assert_eq!(pap.network_up().map(|n| n.0), Some(Some(a("192.0.2.11"))));
    assert_eq!(ms.network_up().map(|n| n.0), Some(Some(a("192.0.2.12"))));
    let st = owner.status(1, "up").unwrap();
    assert_eq!((s(st, "peer_ip"), s(st, "local_ip"), s(st, "user")), ("192.0.2.10".into(), "192.0.2.1".into(), "alice".into()));
    assert_eq!(s(owner.status(2, "up").unwrap(), "user"), "carol");

    let list = env.records(Request::ListPpp);
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|r| s(r, "state") == "network" && s(r, "linktype") == "pppoltp"), "{list:?}");
    let show = env.records(Request::ShowPpp(Selector::Name("s-ms".into())));
    let r = &show[0];
    assert_eq!(
        (s(r, "auth"), s(r, "role"), s(r, "framing"), s(r, "lcp"), s(r, "ipcp")),
        ("mschapv2".into(), "server".into(), "frames".into(), "opened".into(), "opened".into())
    );
    assert_eq!((s(r, "peer_ip"), s(r, "tunnel_id"), s(r, "profile")), ("192.0.2.12".into(), "7".into(), "ms".into()));
    assert!(matches!(env.call(Request::ShowPpp(Selector::Name("nope".into()))), Reply::Error { .. }));
    let sys = env.records(Request::ShowSystem);
    assert_eq!((s(&sys[0], "instances"), s(&sys[0], "owners"), s(&sys[0], "pool_p_used")), ("3".into(), "1".into(), "3".into()));

    // DestroyPpp: the peer sees a Terminate-Request, the owner `down` 5.
    let handle = match field(&list[0], "handle") {
        Some(Value::U64(h)) => *h as u32,
        other => panic!("handle {other:?}"),
    };
    assert_eq!(env.call(Request::DestroyPpp(Selector::Id(handle))), Reply::Done);
    let gone = run(&mut owner, &mut [&mut chap], |o, p| p[0].down().is_some() && o.status(1, "down").is_some());
    assert!(gone, "destroy did not end the session: {}", env.log());
    assert_eq!(chap.down(), Some(DownReason::PeerTerminated));
    let down = owner.status(1, "down").unwrap();
    assert_eq!((s(down, "reason_code"), s(down, "reason")), ("5".into(), "User request".into()));
    assert!(wait_for(|| env.records(Request::ListPpp).len() == 2), "instance not freed");
}

#[test]
fn wrong_password_is_refused_without_consuming_an_address() {
    let mut env = Env::new("badpw", "");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let (mut bad, fd) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wrong", 4);
    owner.open(1, "bad", "server", None, Some(&fd));
    let down = run(&mut owner, &mut [&mut bad], |o, _| o.status(1, "down").is_some());
    assert!(down, "no down after a wrong password: {}", env.log());
    assert_eq!(s(owner.status(1, "down").unwrap(), "reason_code"), "11");
    assert!(owner.status(1, "up").is_none());
    let sys = env.records(Request::ShowSystem);
    assert_eq!(s(&sys[0], "pool_p_used"), "0");
    let stats = env.records(Request::ShowStatistics);
    assert_eq!(s(&stats[0], "auth_failures"), "1");
    // The next good peer still gets the first address.
    let (mut good, fd) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 5);
    owner.open(2, "good", "server", None, Some(&fd));
    assert!(run(&mut owner, &mut [&mut good], |_, p| p[0].network_up().is_some()), "{}", env.log());
    assert_eq!(good.network_up().map(|n| n.0), Some(Some(a("192.0.2.10"))));
}

#[test]
fn limits_garbage_and_owner_loss() {
    let mut env = Env::new("limits", "max_sessions = 1\n");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let (mut p1, fd1) = Peer::client(&[AuthMethod::ChapMd5], "bob", "builder", 6);
    let (_p2, fd2) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 7);
    owner.open(1, "one", "server", None, Some(&fd1));
    owner.open(2, "two", "server", None, Some(&fd2));
    // Without an fd, and with bad params: `down` at once.
    owner.open(3, "three", "server", None, None);
    owner.open(4, "four", "sideways", None, Some(&fd2));
    let ok = run(&mut owner, &mut [&mut p1], |o, p| {
        p[0].network_up().is_some() && o.status(2, "down").is_some() && o.status(3, "down").is_some() && o.status(4, "down").is_some()
    });
    assert!(ok, "{:?} {}", owner.statuses, env.log());
    assert!(s(owner.status(2, "down").unwrap(), "reason").contains("max_sessions"));
    assert_eq!(p1.network_up().map(|n| n.0), Some(Some(a("192.0.2.99"))), "static address from chap-secrets");

    // Garbage, and a message an owner does not send, are counted; the
    // connection stays.
    let raw = sock::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
    sock::connect(raw.as_raw_fd(), &sock::UnixAddr::new(&env.chan_path()).unwrap()).unwrap();
    sock::send(raw.as_raw_fd(), b"not a message at all", MsgFlags::empty()).unwrap();
    owner.chan.send(&Message { request_id: 9, body: Body::Request(Request::ListPpp) }, None).unwrap();
    let counted = wait_for(|| s(&env.records(Request::ShowStatistics)[0], "bad_channel_messages") == "2");
    assert!(counted, "{:?}", env.records(Request::ShowStatistics));
    assert_eq!(env.records(Request::ListPpp).len(), 1);

    // The owner goes away: its instance ends, without status.
    drop(owner);
    assert!(wait_for(|| env.records(Request::ListPpp).is_empty()), "{}", env.log());
    let stats = env.records(Request::ShowStatistics);
    assert_eq!((s(&stats[0], "owner_losses"), s(&stats[0], "owners_connected_total")), ("1".into(), "2".into()));
    assert_eq!(s(&env.records(Request::ShowSystem)[0], "pool_p_used"), "0");
}

#[test]
fn sighup_reloads_profiles_and_keeps_sessions_then_sigterm_exits() {
    let mut env = Env::new("reload", "");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let (mut p1, fd1) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 8);
    owner.open(1, "old", "server", None, Some(&fd1));
    assert!(run(&mut owner, &mut [&mut p1], |_, p| p[0].network_up().is_some()), "{}", env.log());

    // A broken file is refused and the running configuration kept.
    std::fs::write(&env.conf, "[system]\nbogus = 1\n").unwrap();
    assert!(matches!(env.call(Request::Reload), Reply::Error { .. }));
    env.write_conf("", "[pool \"q\"]\nrange = 203.0.113.5-203.0.113.9\n[profile \"new\"]\npool = q\n");
    env.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(wait_for(|| field(&env.records(Request::ShowSystem)[0], "pool_q_free").is_some()), "{}", env.log());
    let sys = env.records(Request::ShowSystem);
    assert_eq!(s(&sys[0], "pool_p_used"), "1", "the old session's lease survives the reload");
    let (mut p2, fd2) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 9);
    owner.open(2, "new", "server", Some("new"), Some(&fd2));
    assert!(run(&mut owner, &mut [&mut p1, &mut p2], |_, p| p[1].network_up().is_some()), "{}", env.log());
    assert_eq!(p2.network_up().map(|n| n.0), Some(Some(a("203.0.113.5"))));
    let old = env.records(Request::ShowPpp(Selector::Name("old".into())));
    assert_eq!(s(&old[0], "state"), "network");
    assert!(p1.down().is_none());

    env.signal(nix::sys::signal::Signal::SIGTERM);
    let told = run(&mut owner, &mut [&mut p1, &mut p2], |o, _| o.closed || (o.status(1, "down").is_some() && o.status(2, "down").is_some()));
    assert!(told, "{}", env.log());
    let mut child = env.child.take().unwrap();
    let mut status = None;
    assert!(wait_for(|| {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(!env.dir.join("ctl").exists() && !env.dir.join("chan").exists(), "sockets removed");
}

#[test]
fn client_role_authenticates_with_the_profile_user() {
    let mut env = Env::new("client", "");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let mut backend = SecretsBackend::new();
    backend.insert(b"alice", b"wonderland");
    let config = LinkConfig {
        lcp: LcpConfig { require_auth: vec![AuthMethod::ChapMd5], accept_auth: vec![], echo_interval: None, ..LcpConfig::default() },
        name: b"lns".to_vec(),
        ipcp: IpcpConfig { local_addr: Some(a("198.51.100.1")), peer_addr: Some(a("198.51.100.2")), dns: [None, None], request_dns: false },
        ipv6: false,
        ..LinkConfig::default()
    };
    let (mut server, fd) = Peer::new(config, backend, 10);
    owner.open(1, "lac", "client", Some("client"), Some(&fd));
    let up = run(&mut owner, &mut [&mut server], |o, p| p[0].network_up().is_some() && o.status(1, "up").is_some());
    assert!(up, "{}", env.log());
    let st = owner.status(1, "up").unwrap();
    assert_eq!((s(st, "local_ip"), s(st, "peer_ip"), s(st, "user")), ("198.51.100.2".into(), "198.51.100.1".into(), "alice".into()));
    assert!(server.events.iter().any(|e| matches!(e, LinkEvent::Authenticated { name, .. } if name == b"alice")));
}

#[test]
fn a_pppoe_owner_gets_relayed_creates_and_runs_ppp_as_client_and_server() {
    let mut env = Env::new("pppoe", "");
    env.start();
    let mut owner = Owner::connect(&env.chan_path());
    let kv = |p: &[(&str, &str)]| -> Vec<(String, String)> { p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let create = kv(&[("linktype", "pppoe"), ("pppoe_interface", "eth0"), ("service_name", "isp")]);
    // Before it says what it carries, the owner is not a PPPoE owner.
    assert!(wait_for(|| env.records(Request::ShowSystem).first().is_some_and(|r| s(r, "owners") == "1")));
    match env.call(Request::CreatePpp { name: "dsl".into(), params: create.clone() }) {
        Reply::Error { message, .. } => assert_eq!(message, "no PPPoE owner connected"),
        other => panic!("{other:?}"),
    }
    let hello = Message { request_id: 0, body: Body::Request(Request::ChannelHello { linktype: "pppoe".into() }) };
    owner.chan.send(&hello, None).unwrap();
    assert!(wait_for(|| env.log().contains("owner hello owner=1 linktype=pppoe")), "{}", env.log());
    // An L2TP create does not go to a PPPoE owner.
    match env.call(Request::CreatePpp { name: "x".into(), params: kv(&[("linktype", "pppoltp"), ("tunnel", "t")]) }) {
        Reply::Error { message, .. } => assert_eq!(message, "no L2TP owner connected"),
        other => panic!("{other:?}"),
    }
    match env.call(Request::CreatePpp { name: "x".into(), params: kv(&[("linktype", "pppoe")]) }) {
        Reply::Error { message, .. } => assert_eq!(message, "`pppoe_interface` missing"),
        other => panic!("{other:?}"),
    }

    // The relay: CreatePpp unchanged, under propppd's request id; the CLI
    // gets the owner's answer.
    let ctl = env.dir.join("ctl");
    let cli =
        std::thread::spawn(move || Client::connect(&ctl).unwrap().call(Request::CreatePpp { name: "dsl".into(), params: create }, Duration::from_secs(5)));
    assert!(wait_for(|| {
        owner.poll();
        !owner.requests.is_empty()
    }));
    let (id, req) = owner.requests.remove(0);
    assert_eq!(req, Request::CreatePpp { name: "dsl".into(), params: kv(&[("linktype", "pppoe"), ("pppoe_interface", "eth0"), ("service_name", "isp")]) });
    owner.chan.send(&Message { request_id: id, body: Body::Reply(Reply::Done) }, None).unwrap();
    assert_eq!(cli.join().unwrap().unwrap(), Reply::Done);

    // PPP as client over a PPPoE frames channel.
    let mut backend = SecretsBackend::new();
    backend.insert(b"alice", b"wonderland");
    let config = LinkConfig {
        lcp: LcpConfig { require_auth: vec![AuthMethod::ChapMd5], accept_auth: vec![], echo_interval: None, ..LcpConfig::default() },
        name: b"isp".to_vec(),
        ipcp: IpcpConfig { local_addr: Some(a("198.51.100.1")), peer_addr: Some(a("198.51.100.2")), dns: [None, None], request_dns: false },
        ipv6: false,
        ..LinkConfig::default()
    };
    let (mut ac, fd) = Peer::new(config, backend, 20);
    let pppoe = [("framing", "frames"), ("linktype", "pppoe"), ("peer_mac", "02:00:00:00:00:01"), ("pppoe_session_id", "17")];
    owner.open_with(1, &[&pppoe[..], &[("name", "dsl"), ("role", "client"), ("profile", "client")]].concat(), &fd);
    let up = run(&mut owner, &mut [&mut ac], |o, p| p[0].network_up().is_some() && o.status(1, "up").is_some());
    assert!(up, "{}", env.log());
    assert_eq!(s(owner.status(1, "up").unwrap(), "local_ip"), "198.51.100.2");

    // PPP as server (the AC terminating locally).
    let (mut client, fd2) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 21);
    owner.open_with(2, &[&pppoe[..], &[("name", "eth0/18"), ("role", "server"), ("pppoe_session_id", "18")]].concat(), &fd2);
    let up = run(&mut owner, &mut [&mut ac, &mut client], |o, p| p[1].network_up().is_some() && o.status(2, "up").is_some());
    assert!(up, "{}", env.log());
    for (name, role) in [("dsl", "client"), ("eth0/18", "server")] {
        let show = env.records(Request::ShowPpp(Selector::Name(name.into())));
        let r = &show[0];
        assert_eq!((s(r, "linktype"), s(r, "role"), s(r, "peer_mac")), ("pppoe".into(), role.into(), "02:00:00:00:00:01".into()), "{r:?}");
        assert_eq!(s(r, "mru"), "1492", "PPPoE channels default to MRU 1492: {r:?}");
    }
    let show = env.records(Request::ShowPpp(Selector::Name("dsl".into())));
    assert_eq!(s(&show[0], "pppoe_session_id"), "17");
    let list = env.records(Request::ListPpp);
    assert!(list.iter().all(|r| s(r, "linktype") == "pppoe" && s(r, "state") == "network"), "{list:?}");
}

#[test]
fn check_mode_reports_file_and_line() {
    let env = Env::new("check", "");
    let out = Command::new(env!("CARGO_BIN_EXE_propppd")).arg("-n").arg("-c").arg(&env.conf).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&env.conf, "[system]\ndataplane = null\nmax_owners = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_propppd")).arg("-n").arg("-c").arg(&env.conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", env.conf.display())), "{err}");
    // A missing secrets file is named.
    std::fs::remove_file(env.dir.join("chap-secrets")).unwrap();
    env.write_conf("", "");
    let out = Command::new(env!("CARGO_BIN_EXE_propppd")).arg("-n").arg("-c").arg(&env.conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chap-secrets"));
}

/// The Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP Echo Request from `src` to `dst`.
fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&1u16.to_be_bytes());
    icmp.extend_from_slice(b"propppd tun test");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

/// The userspace plane: with `dataplane = auto` a framed channel gets a
/// TUN device with the negotiated addresses, and IP flows both ways. The
/// daemon runs in a network namespace of its own (`unshare --net`, needs
/// root and /dev/net/tun); the peer pings the LNS address and reads the
/// kernel's Echo Reply from the link.
#[test]
fn tun_plane_carries_ip_both_ways() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/dev/net/tun").exists() {
        eprintln!("skipped: needs root and /dev/net/tun");
        return;
    }
    let mut env = Env::new("tun", "");
    env.write_conf("", "");
    let text = std::fs::read_to_string(&env.conf).unwrap().replace("dataplane = null", "dataplane = auto");
    std::fs::write(&env.conf, text).unwrap();
    env.start_with(&["unshare", "--net"]);
    let mut owner = Owner::connect(&env.chan_path());
    let (mut peer, fd) = Peer::client(&[AuthMethod::ChapMd5], "alice", "wonderland", 11);
    owner.open(1, "tun", "server", None, Some(&fd));
    let up = run(&mut owner, &mut [&mut peer], |o, p| p[0].network_up().is_some() && o.status(1, "up").is_some());
    assert!(up, "{}", env.log());
    let ifname = s(owner.status(1, "up").unwrap(), "ifname");
    assert!(ifname.starts_with("ppp"), "{ifname:?}");
    let ping = echo_request(a("192.0.2.10"), a("192.0.2.1"), 0x4242);
    let replied = wait_for(|| {
        assert!(peer.link.send_data(Instant::now(), protocol::IP, &ping));
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            peer.pump();
            owner.poll();
            if peer.data.iter().any(|(p, d)| *p == protocol::IP && d.get(20) == Some(&0) && d.get(24..26) == Some(&[0x42, 0x42][..])) {
                return true;
            }
            let _ = nix::poll::poll(&mut [], nix::poll::PollTimeout::from(5u8));
        }
        false
    });
    assert!(replied, "no Echo Reply through the TUN device: {}", env.log());
    // (The control socket is not asked here: its clients bind abstract
    // addresses, which do not cross network namespaces.)
    env.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(run(&mut owner, &mut [&mut peer], |o, _| o.closed || o.status(1, "down").is_some()), "{}", env.log());
}
