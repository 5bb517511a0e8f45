//! `prol2tp-scriptd` as a real process: a `SOCK_SEQPACKET` socket pair on
//! its stdin, a temporary script directory, event records written as
//! prol2tpd writes them; the scripts report what they saw through files.
//! Every wait polls a condition against a deadline.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::ipc::{Body, Message, Record, Reply};
use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use support::scripts::{intervals, max_overlap};

const SCRIPTD: &str = env!("CARGO_BIN_EXE_prol2tp-scriptd");
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("scriptd-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(p.join("scripts")).unwrap();
        fs::create_dir_all(p.join("out")).unwrap();
        TempDir(p)
    }
    fn scripts(&self) -> PathBuf {
        self.0.join("scripts")
    }
    fn out(&self) -> PathBuf {
        self.0.join("out")
    }
    /// Writes `scripts/<name>` with `body` after a `#!/bin/sh` line;
    /// `@OUT@` stands for the output directory.
    fn script(&self, name: &str, body: &str, mode: u32) {
        let p = self.scripts().join(name);
        let text = format!("#!/bin/sh\n{}\n", body.replace("@OUT@", &self.out().to_string_lossy()));
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.out().join(name)).unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running `prol2tp-scriptd` and our end of its stdin.
struct Scriptd {
    child: Child,
    sock: Option<OwnedFd>,
    seq: u64,
    log: PathBuf,
}

impl Scriptd {
    fn start(dir: &TempDir, max_running: u32, timeout_s: u32) -> Scriptd {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
        let log = dir.0.join("scriptd.log");
        let child = Command::new(SCRIPTD)
            .args(["-f", "-d", "--dir"])
            .arg(dir.scripts())
            .args(["--max-running", &max_running.to_string(), "--timeout", &timeout_s.to_string()])
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::from(fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        Scriptd { child, sock: Some(ours), seq: 0, log }
    }

    fn send_raw(&self, bytes: &[u8]) {
        let fd = self.sock.as_ref().unwrap().as_raw_fd();
        send(fd, bytes, MsgFlags::MSG_NOSIGNAL).unwrap();
    }

    fn send(&mut self, record: &Record) {
        self.seq += 1;
        let msg = Message { request_id: 0, body: Body::Reply(Reply::Event { seq: self.seq, record: record.clone() }) };
        self.send_raw(&msg.encode().unwrap());
    }

    /// Closes our end: end of file for the runner.
    fn close(&mut self) {
        self.sock = None;
    }

    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "scriptd did not exit; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Scriptd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 10 ms until it holds or `within` passes.
fn wait_for(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const TID: u64 = 2871686446;
const PEER_TID: u64 = 65483;

fn tunnel_up(handle: u64) -> Record {
    let mut r = Record::new("TUNNEL UP");
    r.num("handle", handle).num("tid", TID).num("peer_tid", PEER_TID);
    r.str("tunnel_name", "t1").str("tunnel_profile", "default").str("local", "192.0.2.2:1701").str("peer", "192.0.2.1:1701").num("version", 2u64);
    r
}

/// A session record of `kind` with the contract's first fields and the
/// hook-script fields of a PPP session.
fn session(kind: &str, handle: u64, sid: u64) -> Record {
    let mut r = Record::new(kind);
    r.num("handle", handle).num("tid", TID).num("sid", sid);
    match kind {
        "SESSION CREATED" => {
            r.str("name", "").str("profile", "spp0").str("pw_profile", "pp0");
        }
        "SESSION UP" => {
            r.num("peer_tid", PEER_TID).num("peer_sid", 1487060649u64);
        }
        "SESSION DOWN" => {
            r.num("peer_tid", PEER_TID).num("peer_sid", 1487060649u64).num("result", 3u64).num("error", 0u64).str("message", "");
        }
        _ => {}
    }
    r.str("tunnel_name", "t1").str("session_name", "").str("session_type", "PPP").str("interface_name", "ppp0").num("mtu", 1460u64);
    r.str("local_ip", "198.51.100.1").str("peer_ip", "198.51.100.2").str("netmask", "255.255.255.255").str("bridge", "");
    r.str("profile", "spp0").str("ppp_profile", "pp0").str("eth_profile", "");
    r
}

/// Script body recording its arguments, its exact environment (as exec'd,
/// from /proc, not as the shell would export it), where its stdio points
/// and whether it leads its own process group.
const DUMP: &str = r#"n=$PROL2TP_EVENT
{ echo "argc=$#"; for a in "$@"; do echo "arg=$a"; done; } > @OUT@/$n.args
tr '\0' '\n' < /proc/$$/environ | sort > @OUT@/$n.env
fds="$(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2)"
echo "$fds" > @OUT@/$n.stdio
set -- $(cat /proc/$$/stat)
[ "$5" = "$$" ] && echo yes > @OUT@/$n.pgrp || echo no > @OUT@/$n.pgrp
echo done > @OUT@/$n.done"#;

fn sorted(lines: &[&str]) -> String {
    let mut v: Vec<&str> = lines.to_vec();
    v.sort_unstable();
    v.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn arguments_and_environment_exactly_as_documented() {
    let dir = TempDir::new("env");
    for name in ["tunnel-up", "session-up", "session-created"] {
        dir.script(name, DUMP, 0o755);
    }
    let mut sd = Scriptd::start(&dir, 4, 30);
    sd.send(&tunnel_up(1));
    sd.send(&session("SESSION UP", 3, 2447900232));
    // An Ethernet session with a bridge and no IP settings.
    let mut eth = Record::new("SESSION CREATED");
    eth.num("handle", 4u64).num("tid", TID).num("sid", 77u64).str("name", "s1").str("profile", "eth-sp").str("pw_profile", "ep1");
    eth.str("tunnel_name", "").str("session_name", "s1").str("session_type", "ETH").str("interface_name", "l2tpeth0").num("mtu", 0u64);
    eth.str("local_ip", "").str("peer_ip", "").str("netmask", "").str("bridge", "br0");
    eth.str("profile", "eth-sp").str("ppp_profile", "").str("eth_profile", "ep1");
    sd.send(&eth);
    for name in ["tunnel-up", "session-up", "session-created"] {
        wait_for(Duration::from_secs(10), name, || dir.read(&format!("{name}.done")) == "done\n");
    }

    assert_eq!(dir.read("tunnel-up.args"), format!("argc=2\narg={TID}\narg=0\n"));
    let want = sorted(&[&format!("PATH={PATH}"), "PROL2TP_EVENT=tunnel-up", "TUNNEL_NAME=t1", "PROFILE_NAME=default"]);
    assert_eq!(dir.read("tunnel-up.env"), want);

    assert_eq!(dir.read("session-up.args"), format!("argc=3\narg={TID}\narg=2447900232\narg=PPP\n"));
    let want = sorted(&[
        &format!("PATH={PATH}"),
        "PROL2TP_EVENT=session-up",
        "TUNNEL_NAME=t1",
        "INTERFACE_NAME=ppp0",
        "MTU=1460",
        "LOCAL_IP=198.51.100.1",
        "PEER_IP=198.51.100.2",
        "NETMASK=255.255.255.255",
        "PROFILE_NAME=spp0",
        "PPP_PROFILE_NAME=pp0",
    ]);
    assert_eq!(dir.read("session-up.env"), want);

    assert_eq!(dir.read("session-created.args"), format!("argc=3\narg={TID}\narg=77\narg=ETH\n"));
    let want = sorted(&[
        &format!("PATH={PATH}"),
        "PROL2TP_EVENT=session-created",
        "SESSION_NAME=s1",
        "INTERFACE_NAME=l2tpeth0",
        "BRIDGE_NAME=br0",
        "PROFILE_NAME=eth-sp",
        "ETH_PROFILE_NAME=ep1",
    ]);
    assert_eq!(dir.read("session-created.env"), want);

    for name in ["tunnel-up", "session-up", "session-created"] {
        assert_eq!(dir.read(&format!("{name}.stdio")), "/dev/null /dev/null /dev/null\n", "{name}");
        assert_eq!(dir.read(&format!("{name}.pgrp")), "yes\n", "{name} has its own process group");
    }
    let log = sd.log();
    assert!(log.contains("script exit name=session-up tid=2871686446 sid=2447900232 status=0 duration_ms="), "{log}");
}

#[test]
fn absent_or_unusable_scripts_do_nothing() {
    let dir = TempDir::new("absent");
    // Not executable, and a directory: neither may run.
    dir.script("session-up", "echo ran > @OUT@/session-up.ran", 0o644);
    fs::create_dir(dir.scripts().join("tunnel-up")).unwrap();
    dir.script("session-deleted", "echo ran > @OUT@/session-deleted.ran", 0o755);
    let mut sd = Scriptd::start(&dir, 2, 30);
    sd.send(&session("SESSION UP", 3, 9));
    sd.send(&tunnel_up(1));
    sd.send(&session("SESSION DOWN", 3, 9)); // no script at all
    sd.send_raw(b"not an ipc message");
    sd.send(&session("SESSION DELETED", 3, 9));
    // Events are taken in order: once the last one ran, the others were seen.
    wait_for(Duration::from_secs(10), "session-deleted", || dir.read("session-deleted.ran") == "ran\n");
    sd.close();
    assert!(sd.wait_exit(Duration::from_secs(10)).success());
    assert!(!dir.out().join("session-up.ran").exists(), "non-executable script ran");
    let entries: BTreeSet<String> = fs::read_dir(dir.out()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(entries, BTreeSet::from(["session-deleted.ran".to_string()]));
    let log = sd.log();
    assert!(log.contains("script skip name=session-up tid=2871686446 sid=9"), "{log}");
    assert!(log.contains("reason=not-executable"), "{log}");
    assert!(log.contains("script skip name=tunnel-up tid=2871686446") && log.contains("reason=not-a-file"), "{log}");
    assert!(log.contains("script skip name=session-down") && log.contains("reason=absent"), "{log}");
    assert!(log.contains("drop len=18"), "{log}");
    assert_eq!(log.matches("script exit").count(), 1, "{log}");
}

#[test]
fn per_instance_order_is_kept_when_events_outrun_scripts() {
    let dir = TempDir::new("order");
    // Earlier events sleep longer, so unserialised runs would reorder.
    for (name, sleep) in [("session-created", "0.15"), ("session-up", "0.1"), ("session-down", "0.05"), ("session-deleted", "0")] {
        let body = format!("echo \"start $PROL2TP_EVENT\" >> @OUT@/s$2\nsleep {sleep}\necho \"end $PROL2TP_EVENT\" >> @OUT@/s$2");
        dir.script(name, &body, 0o755);
    }
    let mut sd = Scriptd::start(&dir, 8, 30);
    let kinds = ["SESSION CREATED", "SESSION UP", "SESSION DOWN", "SESSION DELETED"];
    for kind in kinds {
        for i in 1..=20u64 {
            sd.send(&session(kind, 100 + i, i));
        }
    }
    let want: String = ["session-created", "session-up", "session-down", "session-deleted"].iter().map(|n| format!("start {n}\nend {n}\n")).collect();
    wait_for(Duration::from_secs(30), "all 80 scripts", || (1..=20).all(|i| dir.read(&format!("s{i}")).lines().count() == 8));
    for i in 1..=20 {
        assert_eq!(dir.read(&format!("s{i}")), want, "instance {i}");
    }
}

#[test]
fn limit_of_two_holds_for_a_burst_of_200() {
    let dir = TempDir::new("limit");
    dir.script("session-up", "echo \"S $2 $(date +%s%N)\" >> @OUT@/t\nsleep 0.01\necho \"E $2 $(date +%s%N)\" >> @OUT@/t", 0o755);
    let mut sd = Scriptd::start(&dir, 2, 30);
    for i in 1..=200u64 {
        sd.send(&session("SESSION UP", i, i));
    }
    wait_for(Duration::from_secs(60), "200 scripts", || dir.read("t").lines().filter(|l| l.starts_with('E')).count() == 200);
    let iv = intervals(&dir.read("t"));
    assert_eq!(iv.len(), 200);
    assert!(iv.iter().all(|(s, e)| s <= e));
    assert_eq!(max_overlap(&iv), 2, "the limit is 2 and 200 scripts wait, so exactly 2 run at times");
    sd.close();
    assert!(sd.wait_exit(Duration::from_secs(10)).success());
    assert_eq!(sd.log().matches("script exit name=session-up").count(), 200);
}

#[test]
fn hanging_script_is_killed_at_its_timeout_then_the_instance_goes_on() {
    let dir = TempDir::new("timeout");
    dir.script("session-up", "echo start >> @OUT@/s\nsleep 1000 &\necho $! > @OUT@/bg\nsleep 1000", 0o755);
    dir.script("session-down", "echo down >> @OUT@/s", 0o755);
    let mut sd = Scriptd::start(&dir, 4, 1);
    let t0 = Instant::now();
    sd.send(&session("SESSION UP", 5, 50));
    sd.send(&session("SESSION DOWN", 5, 50));
    wait_for(Duration::from_secs(15), "session-down after the kill", || dir.read("s") == "start\ndown\n");
    assert!(t0.elapsed() >= Duration::from_secs(1), "session-down ran before the timeout");
    let log = sd.log();
    assert!(log.contains("script timeout name=session-up tid=2871686446 sid=50 pid="), "{log}");
    assert!(log.contains("script exit name=session-up tid=2871686446 sid=50 signal=SIGKILL"), "{log}");
    // The script's background child was in its process group: killed too.
    let bg = dir.read("bg");
    let bg = bg.trim();
    assert!(!bg.is_empty());
    wait_for(Duration::from_secs(5), "background sleep killed", || fs::read_to_string(format!("/proc/{bg}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true));
}

#[test]
fn end_of_input_drains_the_queue_then_exits_zero() {
    let dir = TempDir::new("eof");
    for name in ["session-created", "session-up", "session-down"] {
        dir.script(name, "sleep 0.2\necho \"$PROL2TP_EVENT\" >> @OUT@/s", 0o755);
    }
    let mut sd = Scriptd::start(&dir, 1, 30);
    sd.send(&session("SESSION CREATED", 1, 1));
    sd.send(&session("SESSION UP", 1, 1));
    sd.send(&session("SESSION DOWN", 2, 2));
    sd.close();
    let st = sd.wait_exit(Duration::from_secs(15));
    assert!(st.success(), "{st:?}");
    // Every script had finished before the runner left.
    let lines: BTreeSet<String> = dir.read("s").lines().map(String::from).collect();
    assert_eq!(lines, BTreeSet::from(["session-created".into(), "session-up".into(), "session-down".into()]));
    assert!(sd.log().contains("exit reason=input-closed"), "{}", sd.log());
}

#[test]
fn sigterm_kills_running_scripts_and_exits() {
    let dir = TempDir::new("term");
    dir.script("session-up", "echo $$ > @OUT@/pid.tmp && mv @OUT@/pid.tmp @OUT@/pid\nexec sleep 1000", 0o755);
    let mut sd = Scriptd::start(&dir, 1, 300);
    sd.send(&session("SESSION UP", 1, 1));
    wait_for(Duration::from_secs(10), "script started", || !dir.read("pid").is_empty());
    let pid = dir.read("pid").trim().to_string();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(sd.child.id()).unwrap()), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(sd.wait_exit(Duration::from_secs(10)).success());
    wait_for(Duration::from_secs(5), "script killed", || fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true));
    assert!(sd.log().contains("exit reason=SIGTERM killed=1"), "{}", sd.log());
}

#[test]
fn stdin_must_be_a_seqpacket_socket() {
    let dir = TempDir::new("stdin");
    let out =
        Command::new(SCRIPTD).args(["-f", "--dir"]).arg(dir.scripts()).args(["--max-running", "1", "--timeout", "1"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin is not a socket"), "{}", String::from_utf8_lossy(&out.stderr));
}
