//! Helpers of the packaging tests (`*/tests/packaging.rs`): man page lint
//! with groff and man-db, `make install` into a DESTDIR, `systemd-analyze
//! verify` of a unit in a throw-away root, and init-script checks.
//!
//! Tests use these after their own SKIP checks (`require_programs(&["groff"])`
//! and so on): the helpers run the tools and panic only when one cannot be
//! started at all.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::paths::repo_root;
use crate::skip::have_program;
use crate::tempdir::TempDir;

/// `b` as text (invalid UTF-8 replaced).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `prog args` and returns its output; panics if it cannot start.
pub fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog).args(args).output().unwrap_or_else(|e| panic!("cannot run {prog}: {e}"))
}

/// Panics, with the command's stdout and stderr, unless `out` is a success;
/// `what` names the command in the message.
pub fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed:\n{}{}", text(&out.stdout), text(&out.stderr));
}

/// Every warning groff (and man-db, when installed) gives for `page`,
/// formatted for an 80-column terminal; empty when it is clean.
pub fn man_warnings(page: &Path) -> String {
    let p = page.to_string_lossy();
    let out = run("groff", &["-t", "-man", "-Tutf8", "-ww", "-z", &p]);
    let mut warnings = text(&out.stderr);
    if !out.status.success() {
        warnings.push_str(&format!("groff exit status {}\n", out.status));
    }
    if have_program("man") {
        let out = Command::new("man")
            .args(["--warnings", "-l", &p])
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .env("MAN_KEEP_FORMATTING", "")
            .output()
            .unwrap_or_else(|e| panic!("cannot run man: {e}"));
        warnings.push_str(&text(&out.stderr));
    }
    warnings
}

/// The source of the repository's man page `man/<name>` (e.g.
/// `propppd.8`); panics when it cannot be read.
pub fn man_page(name: &str) -> String {
    let p = repo_root().join("man").join(name);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The text of section `.SH <name>` of a page source, up to the next
/// `.SH` (multi-word names quoted, e.g. `"\"SEE ALSO\""`). Panics when the
/// page has no such section.
pub fn section(page: &str, name: &str) -> String {
    let start = page.find(&format!(".SH {name}\n")).unwrap_or_else(|| panic!("no {name} section"));
    let rest = page.get(start + 4..).unwrap_or("");
    rest.get(..rest.find("\n.SH ").unwrap_or(rest.len())).unwrap_or("").to_string()
}

/// The option letters of a usage line: `[-f] [-c file] ...` -> f, c.
pub fn usage_options(usage: &str) -> Vec<char> {
    usage.split('[').skip(1).filter_map(|g| g.strip_prefix('-')).filter_map(|g| g.chars().next()).collect()
}

/// The `.RB [ \-x` lines of a page's SYNOPSIS, as option letters in order.
pub fn synopsis_options(page: &str) -> Vec<char> {
    section(page, "SYNOPSIS").lines().filter_map(|l| l.strip_prefix(".RB [ \\-")).filter_map(|s| s.chars().next()).collect()
}

/// Path (relative to `root`, with a leading `/`) and permission bits of
/// every file under `root` that is not a directory.
pub fn tree(root: &Path) -> BTreeMap<String, u32> {
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

/// `make -C <repo> TARGET NOBUILD=1 RELEASE_DIR=<release> DESTDIR=<destdir> EXTRA...`.
pub fn make(target: &str, release: &Path, destdir: &Path, extra: &[&str]) -> Output {
    let release = format!("RELEASE_DIR={}", release.display());
    let dest = format!("DESTDIR={}", destdir.display());
    let repo = repo_root();
    let mut args = vec!["-C", repo.to_str().unwrap_or("."), target, "NOBUILD=1", &release, &dest];
    args.extend(extra);
    run("make", &args)
}

/// A directory `<dir>/release` standing in for Cargo's release directory:
/// copies of `bins` (as Cargo built them) and an empty `#!/bin/sh` script
/// for each name in `stubs` (programs of other packages the Makefile
/// requires). Panics on failure.
pub fn release_dir(dir: &TempDir, bins: &[PathBuf], stubs: &[&str]) -> PathBuf {
    let rel = dir.join("release");
    fs::create_dir_all(&rel).unwrap_or_else(|e| panic!("{e}"));
    for b in bins {
        let name = b.file_name().unwrap_or_default();
        fs::copy(b, rel.join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", b.display()));
    }
    for stub in stubs {
        fs::write(rel.join(stub), "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    }
    rel
}

/// The units a unit of the suite orders itself against; `systemd-analyze
/// verify` needs them to exist.
pub const STAND_IN_TARGETS: [&str; 5] = ["sysinit.target", "basic.target", "shutdown.target", "network-online.target", "multi-user.target"];

/// Runs `systemd-analyze verify` on `unit_text` installed as
/// `/usr/lib/systemd/system/<unit_name>` in a fresh root `root`, next to
/// stand-ins for the units in `stand_ins` (`*.target`, or `*.service`
/// running `/bin/true`) and copies of the programs in `programs` (path in
/// the root, e.g. `usr/sbin/propppd`, and the file to copy there: verify
/// checks that `ExecStart` names an executable). Returns everything it
/// printed plus its exit status when not 0: empty when the unit is clean.
pub fn systemd_verify(root: &Path, unit_name: &str, unit_text: &str, stand_ins: &[&str], programs: &[(&str, &Path)]) -> String {
    let units = root.join("usr/lib/systemd/system");
    fs::create_dir_all(&units).unwrap_or_else(|e| panic!("mkdir: {e}"));
    fs::write(units.join(unit_name), unit_text).unwrap_or_else(|e| panic!("write unit: {e}"));
    for t in stand_ins {
        let body = if t.ends_with(".service") { "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n" } else { "[Unit]\nDescription=stand-in\n" };
        fs::write(units.join(t), body).unwrap_or_else(|e| panic!("write {t}: {e}"));
    }
    for (dest, src) in programs {
        let dest = root.join(dest);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        fs::copy(src, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
    let root_arg = format!("--root={}", root.display());
    let out = run("systemd-analyze", &["verify", "--man=no", &root_arg, &format!("/usr/lib/systemd/system/{unit_name}")]);
    let mut all = text(&out.stdout) + &text(&out.stderr);
    if !out.status.success() {
        all.push_str(&format!("exit status {}\n", out.status));
    }
    all
}

/// Asserts that the init script `script` parses with `sh -n`, with each of
/// `more_shells` that is installed (e.g. `dash`), and with `shellcheck -s
/// sh` when installed (otherwise prints a NOTE).
pub fn assert_init_script_syntax(script: &Path, more_shells: &[&str]) {
    let s = script.to_string_lossy();
    let name = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert_ok(&format!("sh -n conf/{name}"), &run("sh", &["-n", &s]));
    for shell in more_shells.iter().filter(|sh| have_program(sh)) {
        assert_ok(&format!("{shell} -n conf/{name}"), &run(shell, &["-n", &s]));
    }
    if have_program("shellcheck") {
        assert_ok(&format!("shellcheck -s sh conf/{name}"), &run("shellcheck", &["-s", "sh", &s]));
    } else {
        println!("NOTE: shellcheck not installed; init script checked with sh -n only");
    }
}

/// Runs `sh SCRIPT ACTION` with the environment variable `defaults_var`
/// (e.g. `PROPPP_DEFAULTS`) naming the defaults file `defaults`; panics if
/// sh cannot start.
pub fn init_action(script: &Path, defaults_var: &str, defaults: &Path, action: &str) -> Output {
    Command::new("sh").arg(script).arg(action).env(defaults_var, defaults).output().unwrap_or_else(|e| panic!("cannot run init script: {e}"))
}

/// Asserts the LSB exit codes of an init script that reads its defaults
/// file from `$<defaults_var>`, with `DAEMON=/bin/true` and a pid file in
/// `dir`: an unknown action is a usage error (2); `status` is 3 without a
/// pid file and 1 with a stale one.
pub fn assert_init_script_exit_codes(script: &Path, defaults_var: &str, dir: &TempDir, pid_name: &str) {
    let defaults = dir.join("default");
    let pidfile = dir.join(pid_name);
    fs::write(&defaults, format!("DAEMON=\"/bin/true\"\nPIDFILE=\"{}\"\n", pidfile.display())).unwrap_or_else(|e| panic!("{e}"));
    let sh = |action: &str| init_action(script, defaults_var, &defaults, action);
    let out = sh("bogus");
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = sh("status");
    assert_eq!(out.status.code(), Some(3), "{}{}", text(&out.stdout), text(&out.stderr));
    fs::write(&pidfile, "999999999\n").unwrap_or_else(|e| panic!("{e}"));
    let out = sh("status");
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// Lints each of `pages` with [`man_warnings`]; returns `<page>:\n<warnings>`
/// for every page that is not clean (empty when all are).
pub fn man_lint_report(pages: &[PathBuf]) -> String {
    let mut bad = String::new();
    for page in pages {
        let w = man_warnings(page);
        if !w.trim().is_empty() {
            bad.push_str(&format!("{}:\n{w}\n", page.display()));
        }
    }
    bad
}

/// Asserts that the lint notices the mistakes in `broken` (the source of a
/// page written to `<dir>/broken.8`): the check itself can fail.
pub fn assert_man_lint_catches(dir: &TempDir, broken: &str) {
    let page = dir.write("broken.8", broken);
    assert!(!man_warnings(&page).trim().is_empty(), "a broken page gave no warning");
}

/// `make install` with `extra` variables into `destdir` (programs from
/// `release`); asserts it succeeds and returns the installed [`tree`].
pub fn make_install(release: &Path, destdir: &Path, extra: &[&str]) -> BTreeMap<String, u32> {
    let what = if extra.is_empty() { "make install".to_string() } else { format!("make install {}", extra.join(" ")) };
    assert_ok(&what, &make("install", release, destdir, extra));
    tree(destdir)
}

/// Asserts that `got` (a [`tree`]) holds each path of `want` with exactly
/// that mode.
pub fn assert_modes<S: AsRef<str>>(got: &BTreeMap<String, u32>, want: impl IntoIterator<Item = (S, u32)>) {
    for (path, mode) in want {
        let path = path.as_ref();
        assert_eq!(got.get(path), Some(&mode), "{path} (mode {mode:o}) in {got:#?}");
    }
}

/// What the administrator's edits are replaced by in [`reinstall_keeps_edits`].
pub const EDITED: &str = "# edited\n";

/// Overwrites each of `edit` (paths relative to `destdir`) with [`EDITED`],
/// runs `make install` again and asserts that each of `kept` still holds
/// the edit (the others are for the caller to check).
pub fn reinstall_keeps_edits(release: &Path, destdir: &Path, edit: &[&str], kept: &[&str]) {
    for p in edit {
        fs::write(destdir.join(p), EDITED).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    assert_ok("second make install", &make("install", release, destdir, &[]));
    for p in kept {
        assert_eq!(fs::read_to_string(destdir.join(p)).ok().as_deref(), Some(EDITED), "{p} was overwritten");
    }
}

/// `make uninstall` from `destdir`; asserts it succeeds and leaves files
/// under `/etc` only, and returns what is left.
pub fn uninstall_leaves_etc(release: &Path, destdir: &Path) -> BTreeMap<String, u32> {
    assert_ok("make uninstall", &make("uninstall", release, destdir, &[]));
    let left = tree(destdir);
    assert!(left.keys().all(|p| p.starts_with("/etc/")), "left after uninstall: {left:#?}");
    left
}

/// `make install FIRMWARE=1` into `destdir`; asserts it writes nothing
/// under `/etc` and returns the installed [`tree`].
pub fn firmware_install(release: &Path, destdir: &Path) -> BTreeMap<String, u32> {
    let got = make_install(release, destdir, &["FIRMWARE=1"]);
    assert!(!destdir.join("etc").exists(), "FIRMWARE=1 wrote under /etc: {got:#?}");
    got
}

/// Checks the repository's unit `conf/<unit_name>` with [`systemd_verify`]
/// in roots under `dir` (`stand_ins` and `programs` as there): it verifies
/// clean, holds each line of `want_lines` exactly, and a broken copy
/// (`Type=forkin`, `PIDFil=`) is reported. Prints SKIP and returns when
/// `systemd-analyze` is not installed.
pub fn check_systemd_unit(dir: &TempDir, unit_name: &str, stand_ins: &[&str], programs: &[(&str, &Path)], want_lines: &[&str]) {
    if !have_program("systemd-analyze") {
        println!("SKIP: systemd-analyze not installed (Debian package systemd); unit not verified");
        return;
    }
    let unit = fs::read_to_string(repo_root().join("conf").join(unit_name)).unwrap_or_else(|e| panic!("conf/{unit_name}: {e}"));
    let report = systemd_verify(&dir.join("good"), unit_name, &unit, stand_ins, programs);
    assert!(report.trim().is_empty(), "systemd-analyze verify:\n{report}");
    for want in want_lines {
        assert!(unit.lines().any(|l| l == *want), "unit lacks {want:?}");
    }
    // The same check must notice a mistake.
    let broken = unit.replace("Type=forking", "Type=forkin").replace("PIDFile=", "PIDFil=");
    assert!(
        !systemd_verify(&dir.join("broken"), unit_name, &broken, stand_ins, programs).trim().is_empty(),
        "systemd-analyze verify did not notice a broken unit"
    );
}
