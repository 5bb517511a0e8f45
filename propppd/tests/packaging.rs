//! Packaging of propppd: its man pages, `make install`, the systemd unit
//! and the init script.
//!
//! - `propppd(8)`, `propppctl(1)`, `propppwatch(1)` format without a groff
//!   or `man --warnings` warning; `propppd(8)` documents exactly the options
//!   of `propppd -h`, `propppctl(1)` every command of `propppctl -h`, and
//!   `propppwatch(1)` every event name with its fields in the order the
//!   program prints them.
//! - `make install DESTDIR=<tmp> NOBUILD=1 RELEASE_DIR=<cargo's dir>`
//!   places propppd's files with their modes, keeps an edited
//!   `/etc/proppp/propppd.conf` and `/etc/default/proppp`, and `FIRMWARE=1`
//!   puts the init script and defaults file among the examples instead.
//! - `systemd-analyze verify` accepts `conf/proppp.service` (and rejects a
//!   broken copy); the init script passes `sh -n` (and shellcheck when
//!   installed) and answers an unknown action with status 2.
//!
//! Tools that are missing (groff, make, systemd-analyze) make the test
//! that needs them print SKIP and return.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

const CTL: &str = env!("CARGO_BIN_EXE_propppctl");
const WATCH: &str = env!("CARGO_BIN_EXE_propppwatch");

/// propppd's man pages.
const PAGES: [&str; 3] = ["propppd.8", "propppctl.1", "propppwatch.1"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".."))
}

/// The cargo-built propppd, when it exists yet.
fn daemon_bin() -> Option<PathBuf> {
    option_env!("CARGO_BIN_EXE_propppd").map(PathBuf::from)
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

/// False (after printing SKIP) when one of `progs` is not installed.
fn require(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have(p)) {
        Some(p) => {
            println!("SKIP: {p} not installed");
            false
        }
        None => true,
    }
}

/// Every warning groff (and man-db, when installed) gives for `page`.
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
    // The check itself can fail.
    let dir = TempDir::new("lint");
    let broken = dir.join("broken.8");
    fs::write(&broken, ".TH BROKEN 8\n.SH NAME\nbroken \\- test\n.XY oops\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(!man_warnings(&broken).trim().is_empty(), "a broken page gave no warning");
}

/// The option letters of a usage line: `[-f] [-c file] ...` -> f, c.
fn usage_options(usage: &str) -> Vec<char> {
    usage.split('[').skip(1).filter_map(|g| g.strip_prefix('-')).filter_map(|g| g.chars().next()).collect()
}

/// `.RB [ \-x` lines of a SYNOPSIS, as option letters.
fn synopsis_options(page: &str) -> Vec<char> {
    section(page, "SYNOPSIS").lines().filter_map(|l| l.strip_prefix(".RB [ \\-")).filter_map(|s| s.chars().next()).collect()
}

/// Asserts the page's SYNOPSIS and OPTIONS hold exactly the options of
/// `prog -h`'s usage line.
fn options_match(prog: &str, page_name: &str) {
    let out = run(prog, &["-h"]);
    assert!(out.status.success(), "{prog} -h: {}", text(&out.stderr));
    let help = text(&out.stdout);
    let usage = help.lines().find(|l| l.starts_with("Usage: ")).unwrap_or_else(|| panic!("no usage in {help}"));
    let opts = usage_options(usage);
    let page = page(page_name);
    assert_eq!(synopsis_options(&page), opts, "SYNOPSIS of {page_name} vs {usage:?}");
    let options = section(&page, "OPTIONS");
    for o in &opts {
        let documented = options.lines().any(|l| (l.starts_with(".B ") || l.starts_with(".BI ")) && l.contains(&format!("\\-{o}")));
        assert!(documented, "option -{o} not described in OPTIONS of {page_name}");
    }
}

#[test]
fn man_pages_match_the_programs() {
    let Some(daemon) = daemon_bin() else { panic!("propppd is not built yet (propppd/src/bin/propppd.rs)") };
    options_match(&daemon.to_string_lossy(), "propppd.8");
    options_match(CTL, "propppctl.1");
    options_match(WATCH, "propppwatch.1");
    let p8 = page("propppd.8");
    for part in ["SIGNALS", "FILES", "LOGGING", "\"EXIT STATUS\"", "\"SEE ALSO\""] {
        assert!(p8.contains(&format!(".SH {part}\n")), "propppd(8) has no {part} section");
    }
    for word in ["/dev/ppp", "TUN", "SIGHUP", "SIGTERM", "/run/proppp/propppd.chan", "/run/propppd.pid", "/etc/proppp/propppd.conf"] {
        assert!(p8.contains(word), "propppd(8) does not mention {word}");
    }

    // Every command of the usage text is a tagged paragraph of COMMANDS.
    let help = text(&run(CTL, &["-h"]).stdout);
    let commands = section(&page("propppctl.1"), "COMMANDS");
    let mut n = 0;
    for cmd in help.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1).take_while(|l| l.starts_with("  ")) {
        let word = cmd.split_whitespace().next().unwrap_or_default();
        let tagged = commands.lines().any(|l| l == format!(".B {word}") || l.starts_with(&format!(".BI {word} ")));
        assert!(tagged, "propppctl command {word} not in COMMANDS of propppctl(1)");
        n += 1;
    }
    assert_eq!(n, 7, "{help}");

    // propppwatch(1): each event with its fields, in the printed order.
    let output = section(&page("propppwatch.1"), "OUTPUT");
    for kind in proppp::cli::EVENT_KINDS {
        let start = output.find(&format!(".TP\n.B {}\n", kind.kind)).unwrap_or_else(|| panic!("{} not in OUTPUT", kind.kind));
        let rest = output.get(start + 4..).unwrap_or("");
        let para = rest.get(..rest.find("\n.TP").or_else(|| rest.find("\n.PP")).unwrap_or(rest.len())).unwrap_or("");
        let mut at = 0;
        for (field, _) in kind.fields {
            let found = para.get(at..).and_then(|r| r.find(*field)).unwrap_or_else(|| panic!("{field} of {} missing or out of order:\n{para}", kind.kind));
            at += found + field.len();
        }
    }
}

/// Path (relative to DESTDIR) and permission bits of every file.
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

/// A directory standing in for cargo's release directory: propppd's
/// programs as cargo built them, and stand-ins for prol2tpd's (which the
/// Makefile requires and `cargo test -p propppd` does not build).
fn release_dir(dir: &TempDir) -> PathBuf {
    let rel = dir.join("release");
    fs::create_dir_all(&rel).unwrap_or_else(|e| panic!("{e}"));
    let mut bins: Vec<PathBuf> = vec![PathBuf::from(CTL), PathBuf::from(WATCH)];
    bins.extend(daemon_bin());
    for b in bins {
        let name = b.file_name().unwrap_or_default();
        fs::copy(&b, rel.join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", b.display()));
    }
    for stub in ["prol2tpd", "prol2tp-scriptd", "prol2tp", "prol2tpwatch"] {
        fs::write(rel.join(stub), "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    }
    rel
}

/// `make -C <repo> TARGET NOBUILD=1 RELEASE_DIR=<release> DESTDIR=...`.
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
fn make_install_places_propppd_files() {
    if !require(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install");
    let dest = dir.join("root");
    let rel = release_dir(&dir);
    assert_ok("make install", &make("install", &rel, &dest, &[]));
    let got = tree(&dest);
    let mut want: Vec<(&str, u32)> = vec![
        ("/usr/bin/propppctl", 0o755),
        ("/usr/bin/propppwatch", 0o755),
        ("/usr/share/man/man8/propppd.8", 0o644),
        ("/usr/share/man/man1/propppctl.1", 0o644),
        ("/usr/share/man/man1/propppwatch.1", 0o644),
        ("/usr/share/man/man5/propppd.conf.5", 0o644),
        ("/etc/proppp/propppd.conf", 0o644),
        ("/etc/default/proppp", 0o644),
        ("/etc/init.d/proppp", 0o755),
        ("/usr/lib/systemd/system/proppp.service", 0o644),
    ];
    if daemon_bin().is_some() {
        want.push(("/usr/sbin/propppd", 0o755));
    }
    for (path, mode) in want {
        assert_eq!(got.get(path), Some(&mode), "{path} (mode {mode:o}) in {got:#?}");
    }
    assert!(!got.contains_key("/etc/prol2tp/propppd.conf"), "propppd.conf went to /etc/prol2tp: {got:#?}");
    assert_eq!(fs::read(dest.join("usr/bin/propppctl")).ok(), fs::read(CTL).ok(), "installed propppctl differs");

    // A second install keeps what the administrator edited.
    let edited = "# edited\n";
    for p in ["etc/proppp/propppd.conf", "etc/default/proppp", "usr/lib/systemd/system/proppp.service"] {
        fs::write(dest.join(p), edited).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    assert_ok("second make install", &make("install", &rel, &dest, &[]));
    for p in ["etc/proppp/propppd.conf", "etc/default/proppp"] {
        assert_eq!(fs::read_to_string(dest.join(p)).ok().as_deref(), Some(edited), "{p} was overwritten");
    }
    let unit = fs::read(dest.join("usr/lib/systemd/system/proppp.service")).ok();
    assert_eq!(unit, fs::read(repo_root().join("conf/proppp.service")).ok(), "unit not replaced");

    assert_ok("make uninstall", &make("uninstall", &rel, &dest, &[]));
    let left = tree(&dest);
    assert!(left.keys().all(|p| p.starts_with("/etc/")), "left after uninstall: {left:#?}");
    assert!(left.contains_key("/etc/proppp/propppd.conf"), "{left:#?}");

    let fw = dir.join("fw");
    assert_ok("make install FIRMWARE=1", &make("install", &rel, &fw, &["FIRMWARE=1"]));
    let got = tree(&fw);
    assert!(!fw.join("etc").exists(), "FIRMWARE=1 wrote under /etc: {got:#?}");
    for file in ["propppd.conf", "proppp.init", "proppp.default"] {
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
    let unit = fs::read_to_string(repo_root().join("conf/proppp.service")).unwrap_or_else(|e| panic!("conf/proppp.service: {e}"));
    let verify = |unit_text: &str, tag: &str| -> String {
        let root = dir.join(tag);
        let units = root.join("usr/lib/systemd/system");
        fs::create_dir_all(&units).unwrap_or_else(|e| panic!("mkdir: {e}"));
        fs::write(units.join("proppp.service"), unit_text).unwrap_or_else(|e| panic!("write unit: {e}"));
        for t in ["sysinit", "basic", "shutdown", "network-online", "multi-user"] {
            fs::write(units.join(format!("{t}.target")), "[Unit]\nDescription=stand-in\n").unwrap_or_else(|e| panic!("{e}"));
        }
        let sbin = root.join("usr/sbin");
        fs::create_dir_all(&sbin).unwrap_or_else(|e| panic!("mkdir: {e}"));
        // verify checks that ExecStart names an executable file.
        fs::copy("/bin/true", sbin.join("propppd")).unwrap_or_else(|e| panic!("copy: {e}"));
        let root_arg = format!("--root={}", root.display());
        let out = run("systemd-analyze", &["verify", "--man=no", &root_arg, "/usr/lib/systemd/system/proppp.service"]);
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
        "PIDFile=/run/propppd.pid",
        "EnvironmentFile=-/etc/default/proppp",
        "ExecStartPre=/usr/sbin/propppd -n $PROPPPD_OPTIONS",
        "ExecStart=/usr/sbin/propppd $PROPPPD_OPTIONS",
        "ExecReload=/usr/sbin/propppd -n $PROPPPD_OPTIONS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Before=prol2tp.service",
    ] {
        assert!(unit.lines().any(|l| l == want), "unit lacks {want:?}");
    }
    let broken = unit.replace("Type=forking", "Type=forkin").replace("PIDFile=", "PIDFil=");
    assert!(!verify(&broken, "broken").trim().is_empty(), "systemd-analyze verify did not notice a broken unit");
}

#[test]
fn init_script_is_valid_sh() {
    let script = repo_root().join("conf/proppp.init");
    let s = script.to_string_lossy();
    assert_ok("sh -n conf/proppp.init", &run("sh", &["-n", &s]));
    if have("shellcheck") {
        assert_ok("shellcheck", &run("shellcheck", &["-s", "sh", &s]));
    } else {
        println!("NOTE: shellcheck not installed; init script checked with sh -n only");
    }
    let body = fs::read_to_string(&script).unwrap_or_else(|e| panic!("{e}"));
    for want in ["DAEMON=/usr/sbin/propppd", "PIDFILE=/run/propppd.pid", "# X-Start-Before:    prol2tp", "DEFAULTS=${PROPPP_DEFAULTS:-/etc/default/proppp}"] {
        assert!(body.contains(want), "init script lacks {want:?}");
    }
    // Unknown action: usage error (LSB: 2), with an installed daemon.
    let dir = TempDir::new("init");
    let defaults = dir.join("default");
    let pidfile = dir.join("propppd.pid");
    fs::write(&defaults, format!("DAEMON=\"/bin/true\"\nPIDFILE=\"{}\"\n", pidfile.display())).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("sh").arg(&script).arg("bogus").env("PROPPP_DEFAULTS", &defaults).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = Command::new("sh").arg(&script).arg("status").env("PROPPP_DEFAULTS", &defaults).output().unwrap_or_else(|e| panic!("{e}"));
    // No pid file: not running (3); a stale one: 1.
    assert_eq!(out.status.code(), Some(3), "{}{}", text(&out.stdout), text(&out.stderr));
    fs::write(&pidfile, "999999999\n").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("sh").arg(&script).arg("status").env("PROPPP_DEFAULTS", &defaults).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
}
