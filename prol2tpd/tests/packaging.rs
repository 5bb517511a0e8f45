//! Packaging: the man pages, `make install`, the systemd unit and the
//! init.d script.
//!
//! - Every page in `man/` formats without a single groff warning (and
//!   without `man --warnings` ones), and a broken page does warn, so the
//!   check can fail; `prol2tpd(8)` lists exactly the options of
//!   `prol2tpd -h` and every user-script variable of the contract.
//! - `make install DESTDIR=<tmp> NOBUILD=1 RELEASE_DIR=<cargo's target dir>`
//!   places every file with its mode, keeps edited configuration on a second
//!   run, installs nothing executable in the hook-script directory;
//!   `FIRMWARE=1` writes nothing under `/etc`; `make uninstall` removes the
//!   programs and leaves `/etc` alone.
//! - `systemd-analyze verify` accepts `conf/prol2tp.service` (and rejects a
//!   broken copy); skipped with a printed reason where it is not installed.
//! - `conf/prol2tp.init` passes `sh -n`, and runs a real start / status /
//!   reload / stop cycle inside a network namespace with a private `/run`,
//!   once with `start-stop-daemon` and once with plain `kill`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;
use testsupport::packaging::*;

const WAIT: Duration = Duration::from_secs(15);

/// The variables the hook-script contract lets into a script's environment.
const SCRIPT_ENV: [&str; 13] = [
    "PATH",
    "PROL2TP_EVENT",
    "TUNNEL_NAME",
    "SESSION_NAME",
    "INTERFACE_NAME",
    "MTU",
    "LOCAL_IP",
    "PEER_IP",
    "NETMASK",
    "BRIDGE_NAME",
    "PROFILE_NAME",
    "PPP_PROFILE_NAME",
    "ETH_PROFILE_NAME",
];

/// The script names of the hook-script contract.
const SCRIPT_NAMES: [&str; 8] =
    ["tunnel-created", "tunnel-up", "tunnel-down", "tunnel-deleted", "session-created", "session-up", "session-down", "session-deleted"];

/// The man pages of the repository (`man/*.{1,5,7,8}`), sorted.
fn man_pages() -> Vec<PathBuf> {
    let dir = repo_root().join("man");
    let mut pages: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("1" | "5" | "7" | "8")))
        .collect();
    pages.sort();
    pages
}

#[test]
fn man_pages_format_without_warnings() {
    if !require_programs(&["groff"]) {
        return;
    }
    let pages = man_pages();
    let names: Vec<String> = pages.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    for must in ["prol2tp.7", "prol2tpd.8", "prol2tpd.conf.5", "prol2tp.1"] {
        assert!(names.iter().any(|n| n == must), "man/{must} missing (have {names:?})");
    }
    let bad = man_lint_report(&pages);
    assert!(bad.is_empty(), "man page warnings:\n{bad}");
}

#[test]
fn man_lint_catches_mistakes() {
    if !require_programs(&["groff"]) {
        return;
    }
    let dir = TempDir::new("manlint");
    // An unknown macro, and a font escape that is never closed.
    assert_man_lint_catches(&dir, ".TH BROKEN 8\n.SH NAME\nbroken \\- test\n.XY oops\n.SH DESCRIPTION\nSee \\fBbold.\n");
}

#[test]
fn prol2tpd_man_page_matches_the_program() {
    let out = run(&daemon_bin().to_string_lossy(), &["-h"]);
    assert!(out.status.success(), "prol2tpd -h failed: {}", text(&out.stderr));
    let help = text(&out.stdout);
    let usage = help.lines().find(|l| l.starts_with("Usage: prol2tpd")).unwrap_or_else(|| panic!("no usage line in {help}"));
    let opts = usage_options(usage);
    assert!(opts.len() >= 10, "parsed too few options from {usage:?}: {opts:?}");
    let page = man_page("prol2tpd.8");
    let options = section(&page, "OPTIONS");
    let man_opts = synopsis_options(&page);
    assert_eq!(man_opts, opts, "SYNOPSIS of prol2tpd(8) vs {usage:?}");
    for o in &opts {
        let documented = options.lines().any(|l| (l.starts_with(".B ") || l.starts_with(".BI ")) && l.contains(&format!("\\-{o}")));
        assert!(documented, "option -{o} not described in OPTIONS of prol2tpd(8)");
    }
    let scripts = section(&page, "\"USER SCRIPTS\"");
    for var in SCRIPT_ENV {
        assert!(scripts.contains(&format!(".B {var}")), "{var} not in USER SCRIPTS of prol2tpd(8)");
    }
    for name in SCRIPT_NAMES {
        assert!(scripts.contains(&name.replace('-', "\\-")), "script {name} not in USER SCRIPTS of prol2tpd(8)");
    }
    for part in ["DEBUGGING", "FILES", "\"SEE ALSO\""] {
        assert!(page.contains(&format!(".SH {part}")), "prol2tpd(8) has no {part} section");
    }
}

/// The files `make install` must place (without FIRMWARE), with modes.
fn expected_install() -> Vec<(String, u32)> {
    let mut want: Vec<(String, u32)> = vec![
        ("/usr/sbin/prol2tpd".into(), 0o755),
        ("/usr/sbin/prol2tp-scriptd".into(), 0o755),
        ("/usr/bin/prol2tp".into(), 0o755),
        ("/usr/bin/prol2tpwatch".into(), 0o755),
        ("/usr/lib/systemd/system/prol2tp.service".into(), 0o644),
        ("/etc/init.d/prol2tp".into(), 0o755),
        ("/etc/default/prol2tp".into(), 0o644),
        ("/etc/prol2tp/README.hooks".into(), 0o644),
    ];
    for page in man_pages() {
        let name = page.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let section = page.extension().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
        want.push((format!("/usr/share/man/man{section}/{name}"), 0o644));
    }
    for conf in ["prol2tpd-lns.conf", "prol2tpd-lac.conf", "prol2tpd-l2tpv3-eth.conf"] {
        want.push((format!("/etc/prol2tp/{conf}"), 0o644));
    }
    want
}

#[test]
fn make_install_places_files() {
    if !require_programs(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install");
    let dest = dir.join("root");
    let got = make_install(&bin_dir(), &dest, &[]);
    assert_modes(&got, expected_install());
    for (path, mode) in &got {
        if path.starts_with("/etc/prol2tp/") {
            assert_eq!(mode & 0o111, 0, "{path} is executable: hook directories must hold no runnable script after install");
        }
    }
    assert!(got.keys().any(|p| p.ends_with(".example")), "no example hook scripts installed: {got:#?}");
    // The installed programs are the ones cargo built.
    assert_eq!(fs::read(dest.join("usr/sbin/prol2tpd")).ok(), fs::read(daemon_bin()).ok(), "installed prol2tpd differs");

    // A second install keeps what the administrator edited under /etc but
    // replaces programs, the init script and the unit.
    let edit = ["etc/default/prol2tp", "etc/prol2tp/prol2tpd-lns.conf", "etc/init.d/prol2tp", "usr/lib/systemd/system/prol2tp.service"];
    reinstall_keeps_edits(&bin_dir(), &dest, &edit, &["etc/default/prol2tp", "etc/prol2tp/prol2tpd-lns.conf"]);
    for (p, src) in [("etc/init.d/prol2tp", "conf/prol2tp.init"), ("usr/lib/systemd/system/prol2tp.service", "conf/prol2tp.service")] {
        assert_eq!(fs::read(dest.join(p)).ok(), fs::read(repo_root().join(src)).ok(), "{p} not replaced by {src}");
    }

    // uninstall: programs, pages and unit go; /etc stays.
    let left = uninstall_leaves_etc(&bin_dir(), &dest);
    assert!(left.contains_key("/etc/default/prol2tp") && left.contains_key("/etc/init.d/prol2tp"), "{left:#?}");
}

#[test]
fn make_install_firmware_keeps_out_of_etc() {
    if !require_programs(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install-fw");
    let dest = dir.join("root");
    let got = firmware_install(&bin_dir(), &dest);
    assert!(!got.keys().any(|p| p.contains("/systemd/")), "FIRMWARE=1 installed the systemd unit: {got:#?}");
    let ex = "/usr/share/doc/prol2tp/examples";
    for (file, mode) in [("prol2tpd-lns.conf", 0o644), ("prol2tp.init", 0o644), ("prol2tp.default", 0o644), ("hooks/session-up.example", 0o644)] {
        assert_eq!(got.get(&format!("{ex}/{file}")), Some(&mode), "{ex}/{file} in {got:#?}");
    }
    assert_eq!(got.get("/usr/sbin/prol2tpd"), Some(&0o755));
}

#[test]
fn systemd_unit_verifies() {
    // A root holding the unit, the daemon it runs and stand-ins for the
    // targets it orders itself against (verify checks that they exist).
    let want = ["Type=forking", "PIDFile=/run/prol2tp/prol2tpd.pid", "ExecReload=/bin/kill -HUP $MAINPID", "ExecStartPre=-/sbin/modprobe -a $MODULES"];
    check_systemd_unit(&TempDir::new("unit"), "prol2tp.service", &STAND_IN_TARGETS, &[("usr/sbin/prol2tpd", &daemon_bin())], &want);
}

#[test]
fn init_script_is_valid_sh() {
    let script = repo_root().join("conf/prol2tp.init");
    assert_init_script_syntax(&script, &["dash"]);
    // Unknown actions are a usage error (LSB: 2).
    let dir = TempDir::new("init-usage");
    let defaults = dir.write("default", &format!("DAEMON=\"{}\"\n", daemon_bin().display()));
    let out = init_action(&script, "PROL2TP_DEFAULTS", &defaults, "bogus");
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// A namespace with a private, empty `/run` (tmpfs) kept alive by a
/// sleeping process; commands enter both with `nsenter`.
struct RunNs {
    ns: Netns,
    holder: Child,
}

impl RunNs {
    fn new(tag: &str, dir: &TempDir) -> RunNs {
        let ns = Netns::new(tag);
        // `ip netns exec` gives the command its own mount namespace (slave
        // to the host's), so this /run is seen by it and its children only.
        let script = "mount -t tmpfs -o mode=0755 tmpfs /run && echo ready && exec sleep 600";
        let holder = ns.spawn(&["sh", "-c", script], &dir.join(&format!("{tag}-holder.log")));
        assert!(holder.wait_log("ready", WAIT), "namespace holder did not start: {}", holder.log());
        RunNs { ns, holder }
    }

    /// Runs `cmd` in the namespace and its private `/run`, with `env`.
    fn exec(&self, cmd: &[&str], env: &[(&str, &str)]) -> CliRun {
        let pid = self.holder.pid().to_string();
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-m", "-n", "--"])
            .args(cmd)
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("cannot run nsenter {cmd:?}: {e}"));
        out.into()
    }

    /// Pids in the namespace other than the holder.
    fn others(&self) -> Vec<i32> {
        let holder = i32::try_from(self.holder.pid()).unwrap_or(-1);
        self.ns.pids().into_iter().filter(|p| *p != holder).collect()
    }
}

/// `host_name` as `prol2tp show system` reports it, or "" if that fails.
fn shown_host_name(ns: &Netns, ctl: &Path) -> String {
    let r = prol2tp(ns, ctl, "show system");
    if !r.success() {
        return String::new();
    }
    r.stdout.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "host_name").map(|(_, v)| v.trim().to_string())).unwrap_or_default()
}

/// True while process `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')).unwrap_or(false)).unwrap_or(false)
}

/// The pid in `NAME is running (pid N)`.
fn status_pid(out: &str) -> Option<i32> {
    out.split("(pid ").nth(1).and_then(|s| s.split(')').next()).and_then(|p| p.parse().ok())
}

/// start / status / reload / stop of `conf/prol2tp.init` against the
/// cargo-built prol2tpd, with a defaults file pointing at temp files.
fn init_script_cycle(tag: &str, use_ssd: bool) {
    if !require_root_and_netns() || !require_programs(&["nsenter"]) {
        return;
    }
    if use_ssd && !require_programs(&["start-stop-daemon"]) {
        return;
    }
    let dir = TempDir::new(tag);
    let rns = RunNs::new(tag, &dir);
    let conf = dir.write("prol2tpd.conf", &null_system("before.example", "127.0.0.1"));
    let ctl = dir.join("prol2tpd.ctl");
    let defaults = dir.write(
        "default",
        &format!(
            "DAEMON=\"{}\"\nCONFIG=\"{}\"\nPIDFILE=\"/run/prol2tp/prol2tpd.pid\"\nPROL2TPD_OPTIONS=\"-L local3\"\n\
             MODULES=\"prol2tp_no_such_module\"\nPROL2TP_CONTROL=\"{}\"\nUSE_START_STOP_DAEMON=\"{}\"\n",
            daemon_bin().display(),
            conf.display(),
            ctl.display(),
            if use_ssd { "auto" } else { "no" }
        ),
    );
    let script = repo_root().join("conf/prol2tp.init");
    let (script_s, defaults_s) = (script.to_string_lossy().into_owned(), defaults.to_string_lossy().into_owned());
    let env = [("PROL2TP_DEFAULTS", defaults_s.as_str())];
    let init = |action: &str| rns.exec(&["sh", &script_s, action], &env);

    let st = init("status");
    assert_eq!(st.code, 3, "status before start: {st:?}");

    // A module that does not exist must not stop the start.
    let started = init("start");
    assert_eq!(started.code, 0, "start: {started:?}");
    let st = init("status");
    assert_eq!(st.code, 0, "status after start: {st:?}");
    let pid = status_pid(&st.stdout).unwrap_or_else(|| panic!("no pid in {st:?}"));
    assert!(alive(pid), "pid {pid} is not running");
    assert!(wait_until(WAIT, || shown_host_name(&rns.ns, &ctl) == "before.example"), "daemon does not answer on {}", ctl.display());
    let again = init("start");
    assert_eq!(again.code, 0, "second start: {again:?}");
    assert!(again.stdout.contains("already running"), "second start: {again:?}");

    // reload: a changed file is taken (SIGHUP) ...
    fs::write(&conf, null_system("after.example", "127.0.0.1")).unwrap_or_else(|e| panic!("rewrite config: {e}"));
    let r = init("reload");
    assert_eq!(r.code, 0, "reload: {r:?}");
    assert!(wait_until(WAIT, || shown_host_name(&rns.ns, &ctl) == "after.example"), "reload not applied: {}", shown_host_name(&rns.ns, &ctl));
    // ... a broken one is refused before the daemon is disturbed.
    fs::write(&conf, "[system]\nno_such_key = 1\n").unwrap_or_else(|e| panic!("rewrite config: {e}"));
    let r = init("force-reload");
    assert_eq!(r.code, 1, "reload with a broken file: {r:?}");
    assert!(r.stderr.contains("no_such_key"), "reload error does not name the problem: {r:?}");
    assert_eq!(shown_host_name(&rns.ns, &ctl), "after.example");
    assert_eq!(status_pid(&init("status").stdout), Some(pid), "daemon changed across reloads");
    fs::write(&conf, null_system("after.example", "127.0.0.1")).unwrap_or_else(|e| panic!("rewrite config: {e}"));

    let stopped = init("stop");
    assert_eq!(stopped.code, 0, "stop: {stopped:?}");
    assert!(!alive(pid), "pid {pid} still there after stop");
    assert!(wait_until(WAIT, || rns.others().is_empty()), "processes left in the namespace after stop: {:?}", rns.others());
    let st = init("status");
    assert_eq!(st.code, 3, "status after stop: {st:?}");
    let st = rns.exec(&["test", "-e", "/run/prol2tp/prol2tpd.pid"], &[]);
    assert_ne!(st.code, 0, "pid file left after stop");
    let again = init("stop");
    assert_eq!(again.code, 0, "stop when stopped: {again:?}");
}

#[test]
fn init_script_cycle_with_start_stop_daemon() {
    init_script_cycle("init-ssd", true);
}

#[test]
fn init_script_cycle_with_kill() {
    init_script_cycle("init-kill", false);
}
