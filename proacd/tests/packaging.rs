//! Packaging of proacd: its man pages, `make install`, the systemd unit
//! and the init script.
//!
//! - `proacd(8)`, `proacd.conf(5)`, `proac_info(1)`, `proac_manage(1)`
//!   format without a groff or `man --warnings` warning; the tools' pages
//!   document exactly the options of their `-h`, every topic and every
//!   command; `proacd(8)` lists the contract's options and debug
//!   categories; `proacd.conf(5)` documents every key the parser takes
//!   (checked by feeding each documented key to the parser).
//! - `make install DESTDIR=<tmp> NOBUILD=1 RELEASE_DIR=<dir>` places
//!   proacd's files with their modes under /etc/proac, keeps an edited
//!   configuration and `/etc/default/proac`; `FIRMWARE=1` puts them among
//!   the examples.
//! - `systemd-analyze verify` accepts `conf/proac.service` (and rejects a
//!   broken copy); the init script passes `sh -n` (and shellcheck) and
//!   answers an unknown action with status 2 and `status` with 3 / 1.
//!
//! Missing tools (groff, make, systemd-analyze) make a test print SKIP.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

const INFO: &str = env!("CARGO_BIN_EXE_proac_info");
const MANAGE: &str = env!("CARGO_BIN_EXE_proac_manage");

const PAGES: [&str; 4] = ["proacd.8", "proacd.conf.5", "proac_info.1", "proac_manage.1"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".."))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog).args(args).output().unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

fn have(prog: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {prog}")]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn require(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have(p)) {
        Some(p) => {
            println!("SKIP: {p} not installed");
            false
        }
        None => true,
    }
}

fn man_warnings(page: &Path) -> String {
    let p = page.to_string_lossy();
    let out = run("groff", &["-t", "-man", "-Tutf8", "-ww", "-z", &p]);
    let mut warnings = text(&out.stderr);
    if !out.status.success() {
        warnings.push_str(&format!("groff exit status {}\n", out.status));
    }
    if have("man") {
        let out = Command::new("man")
            .args(["--warnings", "-l", &p])
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap_or_else(|e| panic!("cannot run man: {e}"));
        warnings.push_str(&text(&out.stderr));
    }
    warnings
}

fn page(name: &str) -> String {
    let p = repo_root().join("man").join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The text of section `.SH NAME` of a page, up to the next `.SH`.
fn section(page: &str, name: &str) -> String {
    let start = page.find(&format!(".SH {name}\n")).unwrap_or_else(|| panic!("no {name} section"));
    let rest = page.get(start + 4..).unwrap_or("");
    rest.get(..rest.find("\n.SH ").unwrap_or(rest.len())).unwrap_or("").to_string()
}

#[test]
fn man_pages_are_lint_clean() {
    if !require(&["groff"]) {
        return;
    }
    let mut bad = String::new();
    for name in PAGES {
        let w = man_warnings(&repo_root().join("man").join(name));
        if !w.trim().is_empty() {
            bad.push_str(&format!("{name}:\n{w}\n"));
        }
    }
    assert!(bad.is_empty(), "man page warnings:\n{bad}");
    let dir = TempDir::new("lint");
    let broken = dir.join("broken.8");
    fs::write(&broken, ".TH BROKEN 8\n.SH NAME\nbroken \\- test\n.XY oops\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(!man_warnings(&broken).trim().is_empty(), "a broken page gave no warning");
}

/// Option letters of a getopts usage (`-s SOCKET`, `-j` … at line starts).
fn help_options(help: &str) -> Vec<char> {
    let mut v: Vec<char> =
        help.lines().filter_map(|l| l.trim_start().strip_prefix('-')).filter_map(|s| s.chars().next()).filter(char::is_ascii_alphabetic).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// `.RB [ \-x` lines of a SYNOPSIS and `.B \-x` / `.BI \-x` tags of
/// OPTIONS, each as sorted option letters.
fn page_options(p: &str) -> (Vec<char>, Vec<char>) {
    let mut syn: Vec<char> = section(p, "SYNOPSIS").lines().filter_map(|l| l.strip_prefix(".RB [ \\-")).filter_map(|s| s.chars().next()).collect();
    let mut opts: Vec<char> = section(p, "OPTIONS")
        .lines()
        .filter_map(|l| l.strip_prefix(".B \\-").or_else(|| l.strip_prefix(".BI \\-").or_else(|| l.strip_prefix(".BI \"\\-"))))
        .filter_map(|s| s.chars().next())
        .collect();
    syn.sort_unstable();
    opts.sort_unstable();
    (syn, opts)
}

#[test]
fn tool_pages_match_the_programs() {
    for (prog, name, words) in [
        (INFO, "proac_info.1", vec!["system", "interfaces", "routes", "sessions", "statistics"]),
        (MANAGE, "proac_manage.1", vec!["delete", "allow", "deny", "reload", "clear\\-statistics"]),
    ] {
        let help = text(&run(prog, &["-h"]).stdout);
        let want = help_options(&help);
        assert_eq!(want, vec!['h', 'j', 's', 't', 'v'], "{help}");
        let p = page(name);
        let (syn, opts) = page_options(&p);
        assert_eq!(syn, want, "{name} SYNOPSIS");
        assert_eq!(opts, want, "{name} OPTIONS");
        let listed = section(&p, if name == "proac_info.1" { "TOPICS" } else { "COMMANDS" });
        for w in words {
            assert!(listed.contains(&format!(".B {w}")) || listed.contains(&format!(".BI {w} ")) || listed.contains(&format!(".BR {w} ")), "{name} lacks {w}");
            assert!(help.contains(&w.replace('\\', "")), "-h of {name} lacks {w}");
        }
    }
}

#[test]
fn daemon_page_lists_the_options_and_categories() {
    let p = page("proacd.8");
    let (syn, opts) = page_options(&p);
    let want = vec!['D', 'L', 'c', 'd', 'f', 'h', 'n', 'v'];
    assert_eq!(syn, want, "SYNOPSIS");
    assert_eq!(opts, want, "OPTIONS");
    let options = section(&p, "OPTIONS");
    for cat in ["route", "pppoe", "l2tp", "ppp", "ctrl", "system", "parser", "all"] {
        assert!(options.contains(&format!(".B {cat}\n")) || options.contains(&format!(".BR {cat} ")), "-d category {cat} not documented");
    }
    if let Some(bin) = option_env!("CARGO_BIN_EXE_proacd") {
        let help = text(&run(bin, &["-h"]).stdout);
        let mut got = help_options(&help);
        got.sort_unstable();
        assert_eq!(got, want, "proacd -h:\n{help}");
    }
}

#[test]
fn config_page_documents_every_key() {
    let p = page("proacd.conf.5");
    // Each documented key, with a value the parser accepts, in its section.
    let keys: &[(&str, &str, &str)] = &[
        ("system", "log_level", "info"),
        ("system", "log_event", "info"),
        ("system", "log_main", "info"),
        ("system", "log_mgmt", "info"),
        ("system", "log_pppoe", "info"),
        ("system", "control_socket", "/x"),
        ("system", "pid_file", "/x"),
        ("system", "propppd_socket", "/x"),
        ("system", "prol2tpd_socket", "/x"),
        ("system", "dataplane", "auto"),
        ("system", "ac_name", "a"),
        ("system", "max_sessions", "1"),
        ("system", "max_sessions_per_mac", "1"),
        ("system", "padi_rate", "1"),
        ("system", "padi_burst", "1"),
        ("system", "cookie_lifetime", "1"),
        ("system", "allow_mac", "02:00:5e:00:53:01"),
        ("system", "deny_mac", "02:00:5e:00:53:01"),
        ("interface \"eth1\"", "ac_name", "a"),
        ("interface \"eth1\"", "service_names", "a"),
        ("interface \"eth1\"", "max_sessions", "1"),
        ("interface \"eth1\"", "padi_rate", "1"),
        ("interface \"eth1\"", "padi_burst", "1"),
        ("route \"r\"", "interfaces", "eth1"),
        ("route \"r\"", "service_names", "a"),
        ("route \"r\"", "macs", "02:00:5e:00:53:01"),
        ("route \"r\"", "destination", "local"),
        ("route \"r\"", "ppp_profile", "p"),
        ("client \"c\"", "service_name", "s"),
        ("client \"c\"", "ac_name", "a"),
        ("client \"c\"", "ppp_profile", "p"),
        ("client \"c\"", "ifname", "ppp9"),
        ("client \"c\"", "persist", "no"),
        ("client \"c\"", "holdoff", "1"),
    ];
    for (sect, key, value) in keys {
        assert!(p.contains(&format!(".BI {key} \"")) || p.contains(&format!(".BR {key} \"")), "proacd.conf.5 lacks {key}");
        let extra = if sect.starts_with("client") { "interface = eth1\n" } else { "" };
        let text = format!("[interface \"eth1\"]\n[{sect}]\n{extra}{key} = {value}\n")
            .replace("[interface \"eth1\"]\n[interface \"eth1\"]\n", "[interface \"eth1\"]\n");
        proac::config::Config::parse(&text, Path::new("t.conf")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
    for key in ["tunnel_profile", "session_profile", "interface", "user_name", "password"] {
        assert!(p.contains(&format!(".BI {key} \"")), "proacd.conf.5 lacks {key}");
    }
    // And an undocumented key is refused (the parser is what the page describes).
    assert!(proac::config::Config::parse("[system]\nmtu = 1\n", Path::new("t.conf")).is_err());
}

fn tree(root: &Path) -> BTreeMap<String, u32> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u32>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            let Ok(meta) = fs::symlink_metadata(&p) else { continue };
            if meta.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.insert(format!("/{}", rel.display()), meta.permissions().mode() & 0o7777);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A release directory: proacd's tools as cargo built them, the daemon
/// when built, and stand-ins for the programs the Makefile requires.
fn release_dir(dir: &TempDir) -> PathBuf {
    let rel = dir.join("release");
    fs::create_dir_all(&rel).unwrap_or_else(|e| panic!("{e}"));
    let mut bins: Vec<PathBuf> = vec![PathBuf::from(INFO), PathBuf::from(MANAGE)];
    bins.extend(option_env!("CARGO_BIN_EXE_proacd").map(PathBuf::from));
    for b in bins {
        let name = b.file_name().unwrap_or_default();
        fs::copy(&b, rel.join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", b.display()));
    }
    for stub in ["prol2tpd", "prol2tp-scriptd", "prol2tp", "prol2tpwatch"] {
        fs::write(rel.join(stub), "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    }
    rel
}

fn make(target: &str, release: &Path, destdir: &Path, extra: &[&str]) -> Output {
    let release = format!("RELEASE_DIR={}", release.display());
    let dest = format!("DESTDIR={}", destdir.display());
    let repo = repo_root();
    let mut args = vec!["-C", repo.to_str().unwrap_or("."), target, "NOBUILD=1", &release, &dest];
    args.extend(extra);
    run("make", &args)
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed:\n{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn make_install_places_proacd_files() {
    if !require(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install");
    let dest = dir.join("root");
    let rel = release_dir(&dir);
    assert_ok("make install", &make("install", &rel, &dest, &[]));
    let got = tree(&dest);
    let mut want: Vec<(&str, u32)> = vec![
        ("/usr/bin/proac_info", 0o755),
        ("/usr/bin/proac_manage", 0o755),
        ("/usr/share/man/man8/proacd.8", 0o644),
        ("/usr/share/man/man5/proacd.conf.5", 0o644),
        ("/usr/share/man/man1/proac_info.1", 0o644),
        ("/usr/share/man/man1/proac_manage.1", 0o644),
        ("/etc/proac/proacd.conf", 0o644),
        ("/etc/proac/proacd-lac.conf", 0o644),
        ("/etc/default/proac", 0o644),
        ("/etc/init.d/proac", 0o755),
        ("/usr/lib/systemd/system/proac.service", 0o644),
    ];
    if option_env!("CARGO_BIN_EXE_proacd").is_some() {
        want.push(("/usr/sbin/proacd", 0o755));
    }
    for (path, mode) in want {
        assert_eq!(got.get(path), Some(&mode), "{path} (mode {mode:o}) in {got:#?}");
    }
    assert!(!got.contains_key("/etc/prol2tp/proacd.conf"), "proacd.conf went to /etc/prol2tp");
    assert_eq!(fs::read(dest.join("usr/bin/proac_info")).ok(), fs::read(INFO).ok(), "installed proac_info differs");

    let edited = "# edited\n";
    for p in ["etc/proac/proacd.conf", "etc/default/proac"] {
        fs::write(dest.join(p), edited).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    assert_ok("second make install", &make("install", &rel, &dest, &[]));
    for p in ["etc/proac/proacd.conf", "etc/default/proac"] {
        assert_eq!(fs::read_to_string(dest.join(p)).ok().as_deref(), Some(edited), "{p} was overwritten");
    }

    assert_ok("make uninstall", &make("uninstall", &rel, &dest, &[]));
    let left = tree(&dest);
    assert!(left.keys().all(|p| p.starts_with("/etc/")), "left after uninstall: {left:#?}");
    assert!(left.contains_key("/etc/proac/proacd.conf"), "{left:#?}");

    let fw = dir.join("fw");
    assert_ok("make install FIRMWARE=1", &make("install", &rel, &fw, &["FIRMWARE=1"]));
    let got = tree(&fw);
    assert!(!fw.join("etc").exists(), "FIRMWARE=1 wrote under /etc: {got:#?}");
    for file in ["proacd.conf", "proacd-lac.conf", "proac.init", "proac.default"] {
        let path = format!("/usr/share/doc/prol2tp/examples/{file}");
        assert_eq!(got.get(&path), Some(&0o644), "{path} in {got:#?}");
    }
}

#[test]
fn systemd_unit_verifies() {
    if !have("systemd-analyze") {
        println!("SKIP: systemd-analyze not installed; unit not verified");
        return;
    }
    let dir = TempDir::new("unit");
    let unit = fs::read_to_string(repo_root().join("conf/proac.service")).unwrap_or_else(|e| panic!("conf/proac.service: {e}"));
    let verify = |unit_text: &str, tag: &str| -> String {
        let root = dir.join(tag);
        let units = root.join("usr/lib/systemd/system");
        fs::create_dir_all(&units).unwrap_or_else(|e| panic!("mkdir: {e}"));
        fs::write(units.join("proac.service"), unit_text).unwrap_or_else(|e| panic!("write unit: {e}"));
        for t in ["sysinit.target", "basic.target", "shutdown.target", "network-online.target", "multi-user.target", "proppp.service", "prol2tp.service"] {
            let body =
                if t.ends_with(".service") { "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n" } else { "[Unit]\nDescription=stand-in\n" };
            fs::write(units.join(t), body).unwrap_or_else(|e| panic!("{e}"));
        }
        let sbin = root.join("usr/sbin");
        fs::create_dir_all(&sbin).unwrap_or_else(|e| panic!("mkdir: {e}"));
        fs::copy("/bin/true", sbin.join("proacd")).unwrap_or_else(|e| panic!("copy: {e}"));
        let bin = root.join("bin");
        fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("mkdir: {e}"));
        fs::copy("/bin/true", bin.join("true")).unwrap_or_else(|e| panic!("copy: {e}"));
        let root_arg = format!("--root={}", root.display());
        let out = run("systemd-analyze", &["verify", "--man=no", &root_arg, "/usr/lib/systemd/system/proac.service"]);
        let mut all = text(&out.stdout) + &text(&out.stderr);
        if !out.status.success() {
            all.push_str(&format!("exit status {}\n", out.status));
        }
        all
    };
    let report = verify(&unit, "good");
    assert!(report.trim().is_empty(), "systemd-analyze verify:\n{report}");
    for want in [
        "Type=forking",
        "PIDFile=/run/proacd.pid",
        "RuntimeDirectory=proac",
        "EnvironmentFile=-/etc/default/proac",
        "ExecStartPre=/usr/sbin/proacd -n $PROACD_OPTIONS",
        "ExecStart=/usr/sbin/proacd $PROACD_OPTIONS",
        "ExecReload=/usr/sbin/proacd -n $PROACD_OPTIONS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Wants=network-online.target proppp.service prol2tp.service",
        "After=network-online.target proppp.service prol2tp.service",
    ] {
        assert!(unit.lines().any(|l| l == want), "unit lacks {want:?}");
    }
    let broken = unit.replace("Type=forking", "Type=forkin").replace("PIDFile=", "PIDFil=");
    assert!(!verify(&broken, "broken").trim().is_empty(), "systemd-analyze verify did not notice a broken unit");
}

#[test]
fn init_script_is_valid_sh() {
    let script = repo_root().join("conf/proac.init");
    let s = script.to_string_lossy();
    assert_ok("sh -n conf/proac.init", &run("sh", &["-n", &s]));
    if have("shellcheck") {
        assert_ok("shellcheck", &run("shellcheck", &["-s", "sh", &s]));
    } else {
        println!("NOTE: shellcheck not installed; init script checked with sh -n only");
    }
    let body = fs::read_to_string(&script).unwrap_or_else(|e| panic!("{e}"));
    for want in [
        "DAEMON=/usr/sbin/proacd",
        "PIDFILE=/run/proacd.pid",
        "# Should-Start:      proppp prol2tp",
        "DEFAULTS=${PROAC_DEFAULTS:-/etc/default/proac}",
        "MODULES=\"pppoe ppp_generic\"",
    ] {
        assert!(body.contains(want), "init script lacks {want:?}");
    }
    let dir = TempDir::new("init");
    let defaults = dir.join("default");
    let pidfile = dir.join("proacd.pid");
    fs::write(&defaults, format!("DAEMON=\"/bin/true\"\nPIDFILE=\"{}\"\n", pidfile.display())).unwrap_or_else(|e| panic!("{e}"));
    let sh = |action: &str| Command::new("sh").arg(&script).arg(action).env("PROAC_DEFAULTS", &defaults).output().unwrap_or_else(|e| panic!("{e}"));
    let out = sh("bogus");
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = sh("status");
    assert_eq!(out.status.code(), Some(3), "{}{}", text(&out.stdout), text(&out.stderr));
    fs::write(&pidfile, "999999999\n").unwrap_or_else(|e| panic!("{e}"));
    let out = sh("status");
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
}
