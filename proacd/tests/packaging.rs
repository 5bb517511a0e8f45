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

use std::fs;
use std::path::{Path, PathBuf};

use testsupport::packaging::*;
use testsupport::{repo_root, require_programs, TempDir};

const INFO: &str = env!("CARGO_BIN_EXE_proac_info");
const MANAGE: &str = env!("CARGO_BIN_EXE_proac_manage");

const PAGES: [&str; 4] = ["proacd.8", "proacd.conf.5", "proac_info.1", "proac_manage.1"];

#[test]
fn man_pages_are_lint_clean() {
    if !require_programs(&["groff"]) {
        return;
    }
    let bad = man_lint_report(&PAGES.map(|name| repo_root().join("man").join(name)));
    assert!(bad.is_empty(), "man page warnings:\n{bad}");
    assert_man_lint_catches(&TempDir::new("lint"), ".TH BROKEN 8\n.SH NAME\nbroken \\- test\n.XY oops\n");
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
        let p = man_page(name);
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
    let p = man_page("proacd.8");
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
    let p = man_page("proacd.conf.5");
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

/// A release directory: proacd's tools as cargo built them, the daemon
/// when built, and stand-ins for the programs the Makefile requires.
fn release_dir(dir: &TempDir) -> PathBuf {
    let mut bins: Vec<PathBuf> = vec![PathBuf::from(INFO), PathBuf::from(MANAGE)];
    bins.extend(option_env!("CARGO_BIN_EXE_proacd").map(PathBuf::from));
    testsupport::packaging::release_dir(dir, &bins, &["prol2tpd", "prol2tp-scriptd", "prol2tp", "prol2tpwatch"])
}

#[test]
fn make_install_places_proacd_files() {
    if !require_programs(&["make", "install"]) {
        return;
    }
    let dir = TempDir::new("install");
    let dest = dir.join("root");
    let rel = release_dir(&dir);
    let got = make_install(&rel, &dest, &[]);
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
    assert_modes(&got, want);
    assert!(!got.contains_key("/etc/prol2tp/proacd.conf"), "proacd.conf went to /etc/prol2tp");
    assert_eq!(fs::read(dest.join("usr/bin/proac_info")).ok(), fs::read(INFO).ok(), "installed proac_info differs");

    let edited = ["etc/proac/proacd.conf", "etc/default/proac"];
    reinstall_keeps_edits(&rel, &dest, &edited, &edited);

    let left = uninstall_leaves_etc(&rel, &dest);
    assert!(left.contains_key("/etc/proac/proacd.conf"), "{left:#?}");

    let got = firmware_install(&rel, &dir.join("fw"));
    for file in ["proacd.conf", "proacd-lac.conf", "proac.init", "proac.default"] {
        let path = format!("/usr/share/doc/prol2tp/examples/{file}");
        assert_eq!(got.get(&path), Some(&0o644), "{path} in {got:#?}");
    }
}

#[test]
fn systemd_unit_verifies() {
    // Stand-ins for the units it orders itself against, and programs for
    // its Exec lines (verify checks that they are executables).
    let stand_ins: Vec<&str> = STAND_IN_TARGETS.iter().copied().chain(["proppp.service", "prol2tp.service"]).collect();
    let programs: [(&str, &Path); 2] = [("usr/sbin/proacd", Path::new("/bin/true")), ("bin/true", Path::new("/bin/true"))];
    let want = [
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
    ];
    check_systemd_unit(&TempDir::new("unit"), "proac.service", &stand_ins, &programs, &want);
}

#[test]
fn init_script_is_valid_sh() {
    let script = repo_root().join("conf/proac.init");
    assert_init_script_syntax(&script, &[]);
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
    // Unknown action: usage error (LSB: 2); `status`: 3 without a pid
    // file, 1 with a stale one.
    assert_init_script_exit_codes(&script, "PROAC_DEFAULTS", &TempDir::new("init"), "proacd.pid");
}
