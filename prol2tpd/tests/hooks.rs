//! Hook scripts end to end through prol2tpd (issue 4, done-means 3): a
//! LAC and an LNS prol2tpd in two network namespaces joined by veth
//! (192.0.2.0/24), the LNS with its `script_dir` in a temporary
//! directory. The scripts write what they saw (arguments, environment,
//! start and end times) into files the test reads; every wait polls a
//! condition against a deadline.
//!
//! Covered: arguments and environment of all eight scripts for a PPP
//! session (null data plane) and of an L2TPv3 Ethernet session (userspace
//! data plane, TAP interface); per-instance order when events outrun the
//! scripts; the `max_running_scripts = 2` limit under a burst of 200
//! sessions while the LNS keeps answering; a hanging script killed at
//! `script_timeout`; `scripts = no`.

mod support;

use std::time::{Duration, Instant};

use support::scripts::*;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// Every hook script name, in the order of one tunnel-and-session life.
const ALL_SCRIPTS: [&str; 8] =
    ["tunnel-created", "tunnel-up", "session-created", "session-up", "session-down", "session-deleted", "tunnel-down", "tunnel-deleted"];

/// The `[system]` section of a test daemon: `dataplane`, host name,
/// `listen` address, then `extra` lines (script settings), a blank line.
fn system(dataplane: &str, host: &str, listen: &str, extra: &str) -> String {
    format!("[system]\ndataplane = {dataplane}\nhost_name = {host}\nlisten = {listen}\n{extra}\n")
}

/// The script settings of `[system]`: `script_dir` = `sd`, the limit and
/// the timeout (seconds).
fn script_settings(sd: &ScriptDir, max_running: u32, timeout_s: u32) -> String {
    format!("script_dir = {}\nmax_running_scripts = {max_running}\nscript_timeout = {timeout_s}\n", sd.path().display())
}

/// An LNS for PPP sessions (null data plane): any peer, tunnel profile
/// `tp` (a short retransmission cycle, so TUNNEL DELETED follows a
/// StopCCN within seconds), session profile `sp`, PPP profile `pp` with
/// MTU 1400.
fn lns_ppp(script_lines: &str) -> String {
    system("null", "lns.test", "192.0.2.1", script_lines)
        + "[peer_profile \"default\"]\npeer = any\ntunnel_profile = tp\n\n\
           [tunnel_profile \"tp\"]\nsession_profile = sp\nretry_timeout = 200\nmax_retries = 3\n\n\
           [session_profile \"sp\"]\nppp_profile = pp\n\n\
           [ppp_profile \"pp\"]\nmtu = 1400\n"
}

/// A LAC (null data plane, no hook scripts) with tunnel `t1` to the LNS
/// and `sessions` incoming-call sessions `t1/s1`…
fn lac_ppp(sessions: usize) -> String {
    let mut c = system("null", "lac.test", "192.0.2.2", "scripts = no\n") + "[tunnel \"t1\"]\npeer = 192.0.2.1\n\n";
    for i in 1..=sessions {
        c += &format!("[session \"t1/s{i}\"]\ncall_type = incoming\n\n");
    }
    c
}

/// The number after `"key":` in JSON output.
fn json_num(out: &str, key: &str) -> Option<u64> {
    let i = out.find(&format!("\"{key}\":"))?.checked_add(key.len() + 3)?;
    let digits: String = out.get(i..)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `(tunnel id, session id)` at the LNS of the LAC's session `t1/NAME`,
/// from the LAC's `prol2tp -j show session`.
fn lns_ids(lac: &Prol2tpd, name: &str) -> (u64, u64) {
    let j = lac.cli_ok(&format!("-j show session t1 {name}"));
    let n = |k| json_num(&j, k).unwrap_or_else(|| panic!("no {k} in {j}"));
    (n("peer_tunnel_id"), n("peer_session_id"))
}

/// Polls until the LAC reports `n` established sessions in tunnel `t1`.
fn wait_established(lac: &Prol2tpd, lns: &Prol2tpd, n: usize, timeout: Duration) {
    let ok = wait_until(timeout, || lac.cli_stdout("-j show sessions t1").matches("\"state\":\"established\"").count() == n);
    assert!(ok, "{n} sessions did not come up; LAC:\n{}\nLNS log:\n{}", lac.cli_stdout("show sessions"), lns.log());
}

/// Polls until output file `name` of `sd` exists; panics with the LNS log.
fn wait_output(sd: &ScriptDir, name: &str, lns: &Prol2tpd, timeout: Duration) {
    assert!(wait_until(timeout, || sd.exists(name)), "no {name} (outputs {:?}); LNS log:\n{}", sd.outputs(), lns.log());
}

/// Two namespaces joined by veth: the LNS (192.0.2.1) and the LAC
/// (192.0.2.2).
fn hosts(tag: &str) -> (Netns, Netns, VethPair) {
    two_netns(&format!("{tag}n"), &format!("{tag}c"), &["192.0.2.1/24"], &["192.0.2.2/24"])
}

#[test]
fn ppp_session_scripts_get_documented_arguments_and_environment() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("hkp");
    let dir = TempDir::new("hooks-ppp");
    let sd = ScriptDir::new(&dir, "lns");
    for name in ALL_SCRIPTS {
        sd.script(name, DUMP);
    }
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_ppp(&script_settings(&sd, 4, 30)));
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_ppp(1));
    wait_established(&lac, &lns, 1, WAIT);
    let (tid, sid) = lns_ids(&lac, "s1");
    wait_output(&sd, "session-up.done", &lns, WAIT);
    lac.cli_ok("delete session t1 s1");
    wait_output(&sd, "session-deleted.done", &lns, WAIT);
    lac.cli_ok("delete tunnel t1");
    wait_output(&sd, "tunnel-deleted.done", &lns, WAIT);

    let path = format!("PATH={SCRIPT_PATH}");
    for name in ["tunnel-created", "tunnel-up", "tunnel-down", "tunnel-deleted"] {
        assert_eq!(sd.read(&format!("{name}.args")), format!("argc=2\narg={tid}\narg=0\n"), "{name}");
        // A network-created tunnel has no name: no TUNNEL_NAME.
        let event = format!("PROL2TP_EVENT={name}");
        assert_eq!(sd.read(&format!("{name}.env")), sorted_lines(&[&path, &event, "PROFILE_NAME=tp"]), "{name}");
    }
    for name in ["session-created", "session-up", "session-down", "session-deleted"] {
        assert_eq!(sd.read(&format!("{name}.args")), format!("argc=3\narg={tid}\narg={sid}\narg=PPP\n"), "{name}");
        // The null data plane makes no interface, and network-created
        // sessions have no name: no INTERFACE_NAME, SESSION_NAME,
        // TUNNEL_NAME; PPP addresses are not prol2tpd's to know.
        let event = format!("PROL2TP_EVENT={name}");
        let want = sorted_lines(&[&path, &event, "MTU=1400", "PROFILE_NAME=sp", "PPP_PROFILE_NAME=pp"]);
        assert_eq!(sd.read(&format!("{name}.env")), want, "{name}");
    }
    let log = lns.log();
    for name in ["session-up", "session-deleted"] {
        let exit = format!("script exit name={name} tid={tid} sid={sid} status=0 duration_ms=");
        assert!(log.contains(&exit), "no `{exit}` in LNS log:\n{log}");
    }
    assert!(log.contains(&format!("script exit name=tunnel-deleted tid={tid} ")), "{log}");
}

#[test]
fn ethernet_session_scripts_see_the_tap_interface() {
    if !require_root_and_netns() {
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        println!("SKIP: /dev/net/tun missing; the userspace data plane needs it");
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("hke");
    let dir = TempDir::new("hooks-eth");
    let sd = ScriptDir::new(&dir, "lns");
    for name in ["session-created", "session-up", "session-down"] {
        sd.script(name, DUMP);
    }
    let lns_conf = system("userspace", "lns.test", "192.0.2.1", &script_settings(&sd, 4, 30))
        + "[peer_profile \"default\"]\npeer = any\ntunnel_profile = v3\n\n\
           [tunnel_profile \"v3\"]\nversion = 3\nsession_profile = pw\n\n\
           [session_profile \"pw\"]\npseudowire = eth\neth_profile = ep\n\n\
           [eth_profile \"ep\"]\nbridge = br0\nmtu = 1400\n";
    let lac_conf = system("userspace", "lac.test", "192.0.2.2", "scripts = no\n")
        + "[tunnel \"t1\"]\npeer = 192.0.2.1\nversion = 3\n\n[session \"t1/pw\"]\npseudowire = eth\n";
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_conf);
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf);
    wait_established(&lac, &lns, 1, WAIT);
    let (tid, sid) = lns_ids(&lac, "pw");
    let tap = lns.wait_event("dataplane session up", WAIT, |_| true).req("interface").to_string();
    wait_output(&sd, "session-up.done", &lns, WAIT);
    lac.cli_ok("delete session t1 pw");
    wait_output(&sd, "session-down.done", &lns, WAIT);

    let path = format!("PATH={SCRIPT_PATH}");
    let ifname = format!("INTERFACE_NAME={tap}");
    assert_eq!(sd.read("session-up.args"), format!("argc=3\narg={tid}\narg={sid}\narg=ETH\n"));
    let want = sorted_lines(&[&path, "PROL2TP_EVENT=session-up", &ifname, "MTU=1400", "BRIDGE_NAME=br0", "PROFILE_NAME=pw", "ETH_PROFILE_NAME=ep"]);
    assert_eq!(sd.read("session-up.env"), want, "LNS log:\n{}", lns.log());
    // The TAP device existed in the namespace while session-up ran.
    assert_eq!(sd.read("session-up.link"), "0\n", "`ip link show {tap}` failed inside session-up");
    assert_eq!(sd.read("session-down.args"), format!("argc=3\narg={tid}\narg={sid}\narg=ETH\n"));
    let down = sd.read("session-down.env");
    for line in ["PROL2TP_EVENT=session-down", "BRIDGE_NAME=br0", "PROFILE_NAME=pw", "ETH_PROFILE_NAME=ep"] {
        assert!(down.lines().any(|l| l == line), "no {line} in session-down's environment:\n{down}");
    }
    assert!(!down.contains("PPP_PROFILE_NAME="), "{down}");
}

#[test]
fn per_instance_order_is_kept_when_events_outrun_scripts() {
    if !require_root_and_netns() {
        return;
    }
    const N: usize = 8;
    let (lns_ns, lac_ns, _veth) = hosts("hko");
    let dir = TempDir::new("hooks-order");
    let sd = ScriptDir::new(&dir, "lns");
    for name in ["session-created", "session-down", "session-deleted"] {
        sd.script(name, "echo \"$PROL2TP_EVENT\" >> @OUT@/s.$2");
    }
    sd.script("session-up", "echo \"start $PROL2TP_EVENT\" >> @OUT@/s.$2\nsleep 0.3\necho \"end $PROL2TP_EVENT\" >> @OUT@/s.$2");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_ppp(&script_settings(&sd, 2, 30)));
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_ppp(N));
    wait_established(&lac, &lns, N, WAIT);
    let sids: Vec<u64> = (1..=N).map(|i| lns_ids(&lac, &format!("s{i}")).1).collect();
    for i in 1..=N {
        lac.cli_ok(&format!("delete session t1 s{i}"));
    }
    let gone = wait_until(WAIT, || json_num(&lns.cli_stdout("-j show system"), "sessions") == Some(0));
    assert!(gone, "LNS sessions not deleted:\n{}", lns.log());
    // With 2 at once and 0.3 s each, the up scripts of N sessions take at
    // least N * 0.15 s: the deletes reached the LNS while some still
    // waited or ran.
    let ends = |sd: &ScriptDir| sids.iter().map(|s| sd.read(&format!("s.{s}")).matches("end session-up").count()).sum::<usize>();
    let ended_at_delete = ends(&sd);
    assert!(ended_at_delete < N, "every session-up had ended before the deletes; the test proved nothing");

    let want = "session-created\nstart session-up\nend session-up\nsession-down\nsession-deleted\n";
    let all = wait_until(WAIT, || sids.iter().all(|s| sd.read(&format!("s.{s}")).lines().count() >= 5));
    assert!(all, "scripts did not all run: {:?}", sids.iter().map(|s| sd.read(&format!("s.{s}"))).collect::<Vec<_>>());
    for s in &sids {
        assert_eq!(sd.read(&format!("s.{s}")), want, "session {s}; LNS log:\n{}", lns.log());
    }
}

#[test]
fn limit_of_two_holds_for_a_burst_of_200_sessions() {
    if !require_root_and_netns() {
        return;
    }
    const N: usize = 200;
    let (lns_ns, lac_ns, _veth) = hosts("hkb");
    let dir = TempDir::new("hooks-burst");
    let sd = ScriptDir::new(&dir, "lns");
    sd.script("session-up", "echo \"S $2 $(date +%s%N)\" >> @OUT@/t\nsleep 0.02\necho \"E $2 $(date +%s%N)\" >> @OUT@/t");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_ppp(&script_settings(&sd, 2, 30)));
    let _lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_ppp(N));

    let ended = || sd.read("t").lines().filter(|l| l.starts_with('E')).count();
    // While the queue drains, the LNS answers `show system` at once.
    let (mut answered_midway, mut slowest) = (0usize, Duration::ZERO);
    let all = wait_until(Duration::from_secs(50), || {
        let before = ended();
        if before > 0 && before < N {
            let t0 = Instant::now();
            let r = lns.cli("show system");
            slowest = slowest.max(t0.elapsed());
            assert!(r.success(), "show system failed while scripts ran: {}{}", r.stdout, r.stderr);
            if ended() < N {
                answered_midway += 1;
            }
        }
        ended() >= N
    });
    assert!(all, "{} of {N} session-up scripts ended; LNS log:\n{}", ended(), lns.log());
    assert!(answered_midway > 0, "never asked the LNS while scripts were queued");
    assert!(slowest < Duration::from_secs(2), "show system took {slowest:?} while scripts ran");

    let iv = intervals(&sd.read("t"));
    assert_eq!(iv.len(), N);
    assert!(iv.iter().all(|(s, e)| s <= e));
    assert_eq!(max_overlap(&iv), 2, "the limit is 2 and up to 200 scripts wait, so exactly 2 run at times");
    let log = lns.log();
    assert_eq!(log.matches("script exit name=session-up").count(), N, "{log}");
    assert!(!log.contains("scriptd drop"), "{log}");
}

#[test]
fn hanging_script_is_killed_at_its_timeout_and_the_instance_goes_on() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("hkt");
    let dir = TempDir::new("hooks-timeout");
    let sd = ScriptDir::new(&dir, "lns");
    sd.script("session-up", "echo start >> @OUT@/s\nsleep 1000 &\nwait");
    sd.script("session-down", "echo down >> @OUT@/s");
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_ppp(&script_settings(&sd, 4, 1)));
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_ppp(1));
    wait_established(&lac, &lns, 1, WAIT);
    let (tid, sid) = lns_ids(&lac, "s1");
    assert!(wait_until(WAIT, || sd.read("s") == "start\n"), "session-up did not start:\n{}", lns.log());
    let started = Instant::now();
    let sleeping = || ns_processes(&lns_ns).into_iter().any(|(_, cmd)| cmd == "sleep 1000");
    assert!(wait_until(WAIT, sleeping), "no `sleep 1000` in the LNS namespace");
    lac.cli_ok("delete session t1 s1");

    assert!(wait_until(WAIT, || sd.read("s") == "start\ndown\n"), "session-down did not run after the kill: {:?}\n{}", sd.read("s"), lns.log());
    assert!(started.elapsed() >= Duration::from_millis(900), "session-down ran before session-up's timeout");
    let log = lns.log();
    assert!(log.contains(&format!("script timeout name=session-up tid={tid} sid={sid} pid=")), "{log}");
    assert!(log.contains(&format!("script exit name=session-up tid={tid} sid={sid} signal=SIGKILL")), "{log}");
    // The background sleep was in the script's process group: gone too.
    assert!(wait_until(Duration::from_secs(5), || !sleeping()), "a `sleep 1000` survived: {:?}", ns_processes(&lns_ns));
}

#[test]
fn scripts_no_starts_no_runner_and_runs_nothing() {
    if !require_root_and_netns() {
        return;
    }
    let (lns_ns, lac_ns, _veth) = hosts("hkn");
    let dir = TempDir::new("hooks-off");
    let off = ScriptDir::new(&dir, "lns");
    let on = ScriptDir::new(&dir, "lac");
    for sd in [&off, &on] {
        for name in ALL_SCRIPTS {
            sd.script(name, DUMP);
        }
    }
    let lns = Prol2tpd::start(&lns_ns, &dir, "lns", &lns_ppp(&format!("scripts = no\n{}", script_settings(&off, 4, 30))));
    // The LAC runs its scripts: the control that shows they would have run.
    let lac_conf = lac_ppp(1).replacen("scripts = no\n", &script_settings(&on, 4, 30), 1);
    let lac = Prol2tpd::start(&lac_ns, &dir, "lac", &lac_conf);
    wait_established(&lac, &lns, 1, WAIT);
    lac.cli_ok("delete session t1 s1");
    wait_output(&on, "session-deleted.done", &lac, WAIT);
    assert!(on.exists("session-up.done"));
    let gone = wait_until(WAIT, || json_num(&lns.cli_stdout("-j show system"), "sessions") == Some(0));
    assert!(gone, "the LNS did not delete its session:\n{}", lns.log());

    assert_eq!(ns_pids_named(&lns_ns, "prol2tp-scriptd"), Vec::<i32>::new(), "a runner runs in the LNS namespace");
    assert_eq!(ns_pids_named(&lac_ns, "prol2tp-scriptd").len(), 1, "the LAC's runner is not there");
    assert_eq!(json_num(&lns.cli_ok("-j show system"), "scriptd_pid"), Some(0));
    assert!(json_num(&lac.cli_ok("-j show system"), "scriptd_pid").is_some_and(|p| p > 1));
    assert_eq!(off.outputs(), Vec::<String>::new(), "scripts ran with scripts = no");
    let log = lns.log();
    assert!(!log.contains("scriptd start") && !log.contains("script exit"), "{log}");
}

#[test]
fn max_overlap_counts_what_it_should() {
    assert_eq!(max_overlap(&[(0, 10), (10, 20), (20, 30)]), 1);
    assert_eq!(max_overlap(&[(0, 10), (5, 20), (6, 7)]), 3);
    assert_eq!(max_overlap(&[]), 0);
}
