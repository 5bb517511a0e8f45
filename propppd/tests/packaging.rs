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

use std::fs;
use std::path::{Path, PathBuf};

use testsupport::packaging::*;
use testsupport::{repo_root, require_programs, TempDir};

const CTL: &str = env!("CARGO_BIN_EXE_propppctl");
const WATCH: &str = env!("CARGO_BIN_EXE_propppwatch");

/// The cargo-built propppd, when it exists yet.
fn daemon_bin() -> Option<PathBuf> {
    option_env!("CARGO_BIN_EXE_propppd").map(PathBuf::from)
}

/// propppd's man pages.
const PAGES: [&str; 3] = ["propppd.8", "propppctl.1", "propppwatch.1"];

#[test]
fn man_pages_are_lint_clean() {
    if !require_programs(&["groff"]) {
        return;
    }
    let bad = man_lint_report(&PAGES.map(|name| repo_root().join("man").join(name)));
    assert!(bad.is_empty(), "man page warnings:\n{bad}");
    // The check itself can fail.
    assert_man_lint_catches(&TempDir::new("lint"), ".TH BROKEN 8\n.SH NAME\nbroken \\- test\n.XY oops\n");
}

/// Asserts the page's SYNOPSIS and OPTIONS hold exactly the options of
/// `prog -h`'s usage line.
fn options_match(prog: &str, page_name: &str) {
    let out = run(prog, &["-h"]);
    assert!(out.status.success(), "{prog} -h: {}", text(&out.stderr));
    let help = text(&out.stdout);
    let usage = help.lines().find(|l| l.starts_with("Usage: ")).unwrap_or_else(|| panic!("no usage in {help}"));
    let opts = usage_options(usage);
    let page = man_page(page_name);
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
    let p8 = man_page("propppd.8");
    for part in ["SIGNALS", "FILES", "LOGGING", "\"EXIT STATUS\"", "\"SEE ALSO\""] {
        assert!(p8.contains(&format!(".SH {part}\n")), "propppd(8) has no {part} section");
    }
    for word in ["/dev/ppp", "TUN", "SIGHUP", "SIGTERM", "/run/proppp/propppd.chan", "/run/propppd.pid", "/etc/proppp/propppd.conf"] {
        assert!(p8.contains(word), "propppd(8) does not mention {word}");
    }

    // Every command of the usage text is a tagged paragraph of COMMANDS.
    let help = text(&run(CTL, &["-h"]).stdout);
    let commands = section(&man_page("propppctl.1"), "COMMANDS");
    let mut n = 0;
    for cmd in help.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1).take_while(|l| l.starts_with("  ")) {
        let word = cmd.split_whitespace().next().unwrap_or_default();
        let tagged = commands.lines().any(|l| l == format!(".B {word}") || l.starts_with(&format!(".BI {word} ")));
        assert!(tagged, "propppctl command {word} not in COMMANDS of propppctl(1)");
        n += 1;
    }
    assert_eq!(n, 7, "{help}");

    // propppwatch(1): each event with its fields, in the printed order.
    let output = section(&man_page("propppwatch.1"), "OUTPUT");
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

/// A directory standing in for cargo's release directory: propppd's
/// programs as cargo built them, and stand-ins for prol2tpd's (which the
/// Makefile requires and `cargo test -p propppd` does not build).
fn release_dir(dir: &TempDir) -> PathBuf {
    let mut bins: Vec<PathBuf> = vec![PathBuf::from(CTL), PathBuf::from(WATCH)];
    bins.extend(daemon_bin());
    testsupport::packaging::release_dir(dir, &bins, &["prol2tpd", "prol2tp-scriptd", "prol2tp", "prol2tpwatch"])
}

#[test]
fn make_install_places_propppd_files() {
    if !require_programs(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install");
    let dest = dir.join("root");
    let rel = release_dir(&dir);
    let got = make_install(&rel, &dest, &[]);
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
    assert_modes(&got, want);
    assert!(!got.contains_key("/etc/prol2tp/propppd.conf"), "propppd.conf went to /etc/prol2tp: {got:#?}");
    assert_eq!(fs::read(dest.join("usr/bin/propppctl")).ok(), fs::read(CTL).ok(), "installed propppctl differs");

    // A second install keeps what the administrator edited.
    let kept = ["etc/proppp/propppd.conf", "etc/default/proppp"];
    reinstall_keeps_edits(&rel, &dest, &["etc/proppp/propppd.conf", "etc/default/proppp", "usr/lib/systemd/system/proppp.service"], &kept);
    let unit = fs::read(dest.join("usr/lib/systemd/system/proppp.service")).ok();
    assert_eq!(unit, fs::read(repo_root().join("conf/proppp.service")).ok(), "unit not replaced");

    let left = uninstall_leaves_etc(&rel, &dest);
    assert!(left.contains_key("/etc/proppp/propppd.conf"), "{left:#?}");

    let got = firmware_install(&rel, &dir.join("fw"));
    for file in ["propppd.conf", "proppp.init", "proppp.default"] {
        let path = format!("/usr/share/doc/prol2tp/examples/{file}");
        assert_eq!(got.get(&path), Some(&0o644), "{path} in {got:#?}");
    }
}

#[test]
fn systemd_unit_verifies() {
    // verify checks that ExecStart names an executable file.
    let want = [
        "Type=forking",
        "PIDFile=/run/propppd.pid",
        "EnvironmentFile=-/etc/default/proppp",
        "ExecStartPre=/usr/sbin/propppd -n $PROPPPD_OPTIONS",
        "ExecStart=/usr/sbin/propppd $PROPPPD_OPTIONS",
        "ExecReload=/usr/sbin/propppd -n $PROPPPD_OPTIONS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Before=prol2tp.service",
    ];
    check_systemd_unit(&TempDir::new("unit"), "proppp.service", &STAND_IN_TARGETS, &[("usr/sbin/propppd", Path::new("/bin/true"))], &want);
}

#[test]
fn init_script_is_valid_sh() {
    let script = repo_root().join("conf/proppp.init");
    assert_init_script_syntax(&script, &[]);
    let body = fs::read_to_string(&script).unwrap_or_else(|e| panic!("{e}"));
    for want in ["DAEMON=/usr/sbin/propppd", "PIDFILE=/run/propppd.pid", "# X-Start-Before:    prol2tp", "DEFAULTS=${PROPPP_DEFAULTS:-/etc/default/proppp}"] {
        assert!(body.contains(want), "init script lacks {want:?}");
    }
    // Unknown action: usage error (LSB: 2); `status`: 3 without a pid
    // file, 1 with a stale one.
    assert_init_script_exit_codes(&script, "PROPPP_DEFAULTS", &TempDir::new("init"), "propppd.pid");
}
