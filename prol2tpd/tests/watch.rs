//! `prol2tpwatch` against running `prol2tpd`s (issue 4, done-means 2).
//!
//! An LNS and a LAC run in two network namespaces joined by veth
//! (192.0.2.0/24) with the null data plane. Watchers subscribe first; then
//! the LAC's config gains a tunnel and a session (`prol2tp reload`), which
//! come up and are deleted with `prol2tp delete session` / `delete tunnel`.
//! Every watcher's stdout is checked line by line against the ids that
//! `prol2tp -j show` reports. Further tests: a watcher that keeps reading
//! loses nothing while 150 sessions come up, while others are killed or
//! stopped (the stopped one loses events only once its own sender is
//! full); a watcher follows a daemon restarted at the same control socket;
//! and the exit status without a daemon.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::*;

const WAIT: Duration = Duration::from_secs(20);
const WATCH: &str = env!("CARGO_BIN_EXE_prol2tpwatch");

/// A `prol2tpwatch` running in a namespace, stdout and stderr in files.
struct Watcher {
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
}

impl Watcher {
    /// Starts `prol2tpwatch ARGS` (split at white space) in `ns` against
    /// the control socket `ctl`.
    fn start(ns: &Netns, ctl: &Path, dir: &TempDir, name: &str, args: &str) -> Watcher {
        let (out, err) = (dir.join(&format!("{name}.out")), dir.join(&format!("{name}.err")));
        let env = format!("PROL2TP_CONTROL={}", ctl.display());
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "env", &env, WATCH])
            .args(args.split_whitespace())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Watcher { child, out, err }
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Polls until at least `n` lines are out; returns them (panics after
    /// [`WAIT`]).
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let ok = wait_until(WAIT, || self.lines().len() >= n);
        assert!(ok, "watcher printed {:?}, stderr {:?}; wanted {n} lines", self.lines(), self.stderr());
        self.lines()
    }

    fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), sig);
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut st = None;
        wait_until(timeout, || {
            st = self.child.try_wait().ok().flatten();
            st.is_some()
        });
        st
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.signal(Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `"key":` in JSON output.
fn json_num(out: &str, key: &str) -> Option<u64> {
    let i = out.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = out.get(i..)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Polls `show system` until `watchers` is `n`.
fn wait_watchers(d: &Prol2tpd, n: u64) {
    let ok = wait_until(WAIT, || json_num(&d.cli_stdout("-j show system"), "watchers") == Some(n));
    assert!(ok, "watchers never {n}: {}", d.cli_stdout("show system"));
}

/// The LNS: accepts any peer; a short retransmission cycle, so that the
/// hold after a received StopCCN (and so TUNNEL DELETED) ends in seconds.
fn lns_conf() -> String {
    null_system("lns.test", "192.0.2.1") + "[peer_profile \"default\"]\npeer = any\n\n[tunnel_profile \"default\"]\nretry_timeout = 200\nmax_retries = 3\n"
}

fn lac_idle() -> String {
    null_system("lac.test", "192.0.2.2")
}

fn lac_with(tunnel: &str, sessions: usize) -> String {
    let mut c = lac_idle() + &format!("[tunnel \"{tunnel}\"]\npeer = 192.0.2.1\n\n");
    for i in 1..=sessions {
        c += &format!("[session \"{tunnel}/s{i}\"]\ncall_type = incoming\n\n");
    }
    c
}

/// The ids of one established session, from `prol2tp -j show session`.
struct Ids {
    tid: u64,
    sid: u64,
    peer_tid: u64,
    peer_sid: u64,
}

fn session_ids(d: &Prol2tpd, tunnel: &str, session: &str) -> Ids {
    let j = d.cli_ok(&format!("-j show session {tunnel} {session}"));
    let n = |k| json_num(&j, k).unwrap_or_else(|| panic!("no {k} in {j}"));
    Ids { tid: n("tunnel_id"), sid: n("session_id"), peer_tid: n("peer_tunnel_id"), peer_sid: n("peer_session_id") }
}

/// The eight lines of a tunnel with one session, as the contract prints
/// them, in the order they happen when the session and then the tunnel
/// are deleted.
fn life(ids: &Ids, tunnel_line: &str, session_line: &str) -> Vec<String> {
    let Ids { tid, sid, peer_tid, peer_sid } = ids;
    vec![
        format!("TUNNEL CREATED: handle=1 tid={tid} {tunnel_line}"),
        format!("SESSION CREATED: handle=2 tid={tid} sid={sid} {session_line}"),
        format!("TUNNEL UP: handle=1 tid={tid} peer_tid={peer_tid}"),
        format!("SESSION UP: handle=2 tid={tid} sid={sid} peer_tid={peer_tid} peer_sid={peer_sid}"),
        format!("SESSION DOWN: handle=2 tid={tid} sid={sid} peer_tid={peer_tid} peer_sid={peer_sid} result=3 error=0 message=''"),
        format!("SESSION DELETED: handle=2 tid={tid} sid={sid}"),
        format!("TUNNEL DOWN: handle=1 tid={tid} peer_tid={peer_tid} result=1 error=0 message=''"),
        format!("TUNNEL DELETED: handle=1 tid={tid}"),
    ]
}

/// Orders lines as [`life`] does: the LAC creates its session before the
/// tunnel is up, the LNS only once it is (when the ICRQ arrives).
fn lns_order(mut v: Vec<String>) -> Vec<String> {
    v.swap(1, 2);
    v
}

#[test]
fn no_daemon_exits_3() {
    let dir = TempDir::new("watch-nodaemon");
    let out = Command::new(WATCH).env("PROL2TP_CONTROL", dir.join("missing.ctl")).output().unwrap();
    let r = CliRun::from(out);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = CliRun::from(Command::new(WATCH).args(["-e", "sideways"]).output().unwrap());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Usage"), "{}", r.stderr);
}

#[test]
fn full_life_seen_in_order_by_every_watcher() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("wlns", "wlac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("watch");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf());
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_idle());

    let lns_1 = Watcher::start(&lns_ns, &lns.ctl, &dir, "lns1", "");
    let lns_2 = Watcher::start(&lns_ns, &lns.ctl, &dir, "lns2", "-j");
    let by_name = Watcher::start(&lac_ns, &lac.ctl, &dir, "byname", "-t t1");
    let mut stamped = Watcher::start(&lac_ns, &lac.ctl, &dir, "stamped", "-T");
    let mut once = Watcher::start(&lac_ns, &lac.ctl, &dir, "once", "-n 1 -e session-up");
    wait_watchers(&lns, 2);
    wait_watchers(&lac, 3);

    lac.write_conf(&lac_with("t1", 1));
    lac.cli_ok("reload");
    let up = wait_until(WAIT, || lac.cli_stdout("-j show session t1 s1").contains("\"state\":\"established\""));
    assert!(up, "session did not come up; LAC log:\n{}\nLNS log:\n{}", lac.log(), lns.log());
    let st = once.wait_exit(WAIT).expect("-n 1 watcher did not exit");
    assert!(st.success(), "{st:?} {}", once.stderr());
    let lac_ids = session_ids(&lac, "t1", "s1");
    let lns_ids = session_ids(&lns, &lac_ids.peer_tid.to_string(), &lac_ids.peer_sid.to_string());
    assert_eq!((lns_ids.peer_tid, lns_ids.peer_sid), (lac_ids.tid, lac_ids.sid));
    assert_eq!(
        once.lines(),
        vec![format!("SESSION UP: handle=2 tid={} sid={} peer_tid={} peer_sid={}", lac_ids.tid, lac_ids.sid, lac_ids.peer_tid, lac_ids.peer_sid)]
    );

    // Filters by tunnel id and event group, and one that matches nothing.
    let by_id = Watcher::start(&lac_ns, &lac.ctl, &dir, "byid", &format!("-t {} -e session", lac_ids.tid));
    let other = Watcher::start(&lac_ns, &lac.ctl, &dir, "other", "-t 12345");
    wait_watchers(&lac, 4);

    lac.cli_ok("delete session t1 s1");
    assert!(wait_until(WAIT, || lac.cli("show session t1 s1").code != 0), "session not deleted");
    lac.cli_ok("delete tunnel t1");

    let want_lac = life(&lac_ids, "name='t1' profile='default' peer='192.0.2.1:1701'", "name='s1' profile='default' pw_profile='default'");
    assert_eq!(by_name.wait_lines(8), want_lac, "stderr: {}", by_name.stderr());
    let stamped_lines = stamped.wait_lines(8);
    let stripped: Vec<String> = stamped_lines.iter().map(|l| l.get(24..).unwrap_or("").to_string()).collect();
    assert_eq!(stripped, want_lac);
    for l in &stamped_lines {
        let b = l.as_bytes();
        assert!(b.len() > 24 && b[4] == b'-' && b[10] == b' ' && b[19] == b'.' && b[23] == b' ', "{l}");
    }
    assert_eq!(by_id.wait_lines(2), want_lac[4..6].to_vec());

    let want_lns = lns_order(life(&lns_ids, "name='' profile='default' peer='192.0.2.2:1701'", "name='' profile='default' pw_profile='default'"));
    assert_eq!(lns_1.wait_lines(8), want_lns, "LNS log:\n{}", lns.log());
    // The JSON watcher saw the same events, with sequence numbers 1..8 and
    // the hook-script fields too.
    let json = lns_2.wait_lines(8);
    for (i, (j, line)) in json.iter().zip(&want_lns).enumerate() {
        let kind = line.split(':').next().unwrap();
        assert!(j.starts_with(&format!("{{\"event\":\"{kind}\",\"seq\":{},\"handle\":", i + 1)), "{j}");
        assert!(j.contains(&format!("\"tid\":{}", lns_ids.tid)) && j.ends_with('}'), "{j}");
    }
    assert!(json[2].contains("\"session_type\":\"PPP\"") && json[2].contains("\"mtu\":1500"), "{}", json[2]);
    assert!(json[0].contains("\"version\":2") && json[0].contains("\"local\":"), "{}", json[0]);

    // Nothing else arrived, and the unmatched filter printed nothing.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(by_name.lines().len(), 8);
    assert_eq!(by_id.lines().len(), 2);
    assert!(other.lines().is_empty(), "{:?}", other.lines());
    let sys = lac.cli_ok("-j show system");
    assert_eq!(json_num(&sys, "events_dropped"), Some(0), "{sys}");
    assert_eq!(json_num(&sys, "watchers"), Some(4), "{sys}");
    assert!(json_num(&sys, "events_sent").is_some_and(|n| n >= 8 + 8 + 1 + 2), "{sys}");
    // Hook scripts are on by default: the runner was started.
    assert!(json_num(&sys, "scriptd_pid").is_some_and(|p| p > 1), "{sys}");

    // The daemon goes away: the watcher notices, waits some 6 s for it to
    // come back, and exits 3.
    let t0 = Instant::now();
    lac.terminate();
    let st = stamped.wait_exit(WAIT).expect("watcher did not notice the daemon's exit");
    assert_eq!(st.code(), Some(3), "{}", stamped.stderr());
    assert!(stamped.stderr().contains("gone away"), "{}", stamped.stderr());
    assert!(t0.elapsed() >= Duration::from_secs(5), "gave up after {:?}", t0.elapsed());
}

/// The `seq` and `event` of each JSON line, in order.
fn seqs_and_kinds(lines: &[String]) -> Vec<(u64, String)> {
    lines
        .iter()
        .map(|l| {
            let seq = json_num(l, "seq").unwrap_or_else(|| panic!("no seq in {l}"));
            let kind = l.strip_prefix("{\"event\":\"").and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("no event in {l}"));
            (seq, kind.to_string())
        })
        .collect()
}

/// Asserts that `w` printed the JSON lines with seq 1..=n, in order, and
/// reported no loss; returns how many of each kind there were.
fn check_lossless(w: &Watcher, n: usize) -> std::collections::BTreeMap<String, usize> {
    let got = seqs_and_kinds(&w.wait_lines(n));
    assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (1..=n as u64).collect::<Vec<_>>(), "stderr: {}", w.stderr());
    assert!(!w.stderr().contains("lost"), "{}", w.stderr());
    let mut kinds = std::collections::BTreeMap::new();
    for (_, k) in got {
        *kinds.entry(k).or_insert(0) += 1;
    }
    kinds
}

#[test]
fn killed_and_stopped_watchers_do_not_disturb_the_daemon() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("wslns", "wslac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("watch-slow");
    let _lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf());
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_idle());
    let killed = Watcher::start(&lac_ns, &lac.ctl, &dir, "killed", "");
    let stopped = Watcher::start(&lac_ns, &lac.ctl, &dir, "stopped", "");
    let healthy = Watcher::start(&lac_ns, &lac.ctl, &dir, "healthy", "-e session-down");
    let keeper = Watcher::start(&lac_ns, &lac.ctl, &dir, "keeper", "-j");
    wait_watchers(&lac, 4);
    stopped.signal(Signal::SIGSTOP);

    // 150 sessions come up in a burst: far more events than
    // net.unix.max_dgram_qlen (10 here) datagrams at once.
    let sessions = 150;
    lac.write_conf(&lac_with("t2", sessions));
    lac.cli_ok("reload");
    killed.wait_lines(1);
    killed.signal(Signal::SIGKILL);

    let all_up = wait_until(Duration::from_secs(60), || lac.cli_stdout("-j show sessions t2").matches("\"state\":\"established\"").count() == sessions);
    assert!(all_up, "sessions did not all come up:\n{}", lac.cli_stdout("show sessions"));
    // The watcher that keeps reading got every event, without a gap.
    let kinds = check_lossless(&keeper, 2 + 2 * sessions);
    let want: std::collections::BTreeMap<String, usize> =
        [("SESSION CREATED", sessions), ("SESSION UP", sessions), ("TUNNEL CREATED", 1), ("TUNNEL UP", 1)].iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(kinds, want);
    let sys = lac.cli_ok("-j show system");
    assert_eq!(json_num(&sys, "watchers"), Some(3), "{sys}");
    assert_eq!(json_num(&sys, "watchers_removed"), Some(1), "{sys}");
    // The stopped watcher's own sender holds all of them so far.
    assert_eq!(json_num(&sys, "events_dropped"), Some(0), "{sys}");

    // Tunnels of 150 sessions come and go until the stopped watcher's
    // sender is full and its events are dropped; the others still get
    // everything.
    let mut round = 2;
    let mut expected = 2 + 2 * sessions;
    while json_num(&lac.cli_stdout("-j show system"), "events_dropped") == Some(0) {
        assert!(round < 12, "nothing dropped for the stopped watcher: {}", lac.cli_stdout("show system"));
        lac.cli_ok(&format!("delete tunnel t{round}"));
        assert!(wait_until(WAIT, || lac.cli(&format!("show tunnel t{round}")).code != 0), "tunnel t{round} not deleted");
        round += 1;
        lac.write_conf(&lac_with(&format!("t{round}"), sessions));
        lac.cli_ok("reload");
        let up = wait_until(Duration::from_secs(60), || {
            lac.cli_stdout(&format!("-j show sessions t{round}")).matches("\"state\":\"established\"").count() == sessions
        });
        assert!(up, "round {round}: sessions did not all come up:\n{}", lac.cli_stdout("show sessions"));
        expected += 4 + 4 * sessions;
    }
    let kinds = check_lossless(&keeper, expected);
    assert_eq!(kinds.get("SESSION DOWN"), Some(&((round - 2) * sessions)), "{kinds:?}");
    let downs = healthy.wait_lines((round - 2) * sessions).len();
    assert!(healthy.stderr().is_empty(), "{}", healthy.stderr());

    // The stopped watcher resumes: it prints what its sender held, and the
    // next event shows the gap.
    stopped.signal(Signal::SIGCONT);
    lac.cli_ok(&format!("delete session t{round} s1"));
    let down = healthy.wait_lines(downs + 1);
    assert!(down[downs].starts_with("SESSION DOWN: handle="), "{down:?}");
    let lost = wait_until(WAIT, || stopped.stderr().contains(" events lost"));
    assert!(lost, "no loss reported: {} / {:?}", stopped.stderr(), stopped.lines().len());
    let last_down = &down[downs];
    assert!(wait_until(WAIT, || stopped.lines().contains(last_down)), "{last_down} not in {:?}", stopped.lines().last());
    assert!(stopped.lines().len() < expected, "{}", stopped.lines().len());
}

#[test]
fn watcher_follows_a_restarted_daemon() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = two_netns("wrlns", "wrlac", &["192.0.2.1/24"], &["192.0.2.2/24"]);
    let dir = TempDir::new("watch-restart");
    let _lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf());
    let mut lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_idle());
    let w = Watcher::start(&lac_ns, &lac.ctl, &dir, "w", "-e tunnel");
    wait_watchers(&lac, 1);
    lac.write_conf(&lac_with("t1", 0));
    lac.cli_ok("reload");
    let first = w.wait_lines(2);
    assert!(first[0].starts_with("TUNNEL CREATED: handle=1 ") && first[0].contains("name='t1'"), "{first:?}");

    // Stopped, and started again at the same control socket: the watcher
    // prints what the old daemon still sent (its TUNNEL DOWN), notices,
    // and subscribes to the new one.
    lac.terminate();
    let lac2 = Prol2tpd::spawn_with_ctl(&lac_ns, &dir, "lac2", &lac_idle(), lac.ctl.clone());
    assert!(lac2.child.wait_log("start version=", WAIT), "{}", lac2.log());
    let restarted = wait_until(WAIT, || w.stderr().contains("prol2tpd restarted; 0 events may be lost"));
    assert!(restarted, "stderr: {:?}, out: {:?}", w.stderr(), w.lines());
    let old = w.lines();
    assert!(old.last().is_some_and(|l| l.starts_with("TUNNEL DOWN: handle=1 ")), "{old:?}");
    wait_watchers(&lac2, 1);

    lac2.write_conf(&lac_with("t9", 0));
    lac2.cli_ok("reload");
    let lines = w.wait_lines(old.len() + 1);
    let new = &lines[old.len()];
    assert!(new.starts_with("TUNNEL CREATED: handle=1 ") && new.contains("name='t9'"), "{lines:?}");
    assert_eq!(w.stderr(), "prol2tpwatch: prol2tpd restarted; 0 events may be lost\n");
}
