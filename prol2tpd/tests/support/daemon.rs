//! A `prol2tpd` under test and its `prol2tp` CLI.
//!
//! [`Prol2tpd::start`] writes `<name>.conf` into the test's [`TempDir`],
//! starts the daemon in the foreground (`-f -c FILE`) inside a [`Netns`]
//! with its own control socket (`PROL2TP_CONTROL=<dir>/<name>.ctl`, so
//! daemons of parallel tests never share one), and waits for its
//! `start version=` line. The test then observes it the way a user does:
//!
//! - its log, as `key=value` events: [`Prol2tpd::events`],
//!   [`Prol2tpd::wait_event`], [`Prol2tpd::wait_count`] (parsed by
//!   [`parse_fields`] into [`Fields`]);
//! - the `prol2tp` CLI run inside the daemon's namespace against its socket:
//!   [`Prol2tpd::cli`] (exit code and output as a [`CliRun`]),
//!   [`Prol2tpd::cli_ok`], [`Prol2tpd::cli_stdout`], [`Prol2tpd::cli_record`];
//! - its exit: [`Prol2tpd::terminate`].
//!
//! CLI command lines are given as one string split at white space (no
//! quoting), e.g. `"-j show session t1 s1"`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use super::{daemon_bin, wait_until, Child, Netns, TempDir};

/// Path of the `prol2tp` CLI binary Cargo built for this test run.
pub const CLI: &str = env!("CARGO_BIN_EXE_prol2tp");

/// How long [`Prol2tpd::start`] waits for the daemon's `start version=` line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Prol2tpd::terminate`] waits for the exit after SIGTERM.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(8);

/// Key/value fields of one daemon log line (`verb key=value key="a b"`), in
/// the order they appear.
#[derive(Debug, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Value of `key`, if the line has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Value of `key`; panics (with the line) when it is missing.
    pub fn req(&self, key: &str) -> &str {
        self.get(key).unwrap_or_else(|| panic!("no {key}= in {:?}", self.0))
    }
}

/// Splits `key=value` tokens, honouring double quotes in values; words
/// without `=` are skipped.
pub fn parse_fields(text: &str) -> Fields {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (token, next) = match rest.find('=') {
            Some(eq) if !rest[..eq].contains(' ') => {
                let key = &rest[..eq];
                let after = &rest[eq + 1..];
                if let Some(q) = after.strip_prefix('"') {
                    let end = q.find('"').unwrap_or(q.len());
                    let value = &q[..end];
                    let next = q.get(end + 1..).unwrap_or("");
                    (Some((key.to_string(), value.to_string())), next)
                } else {
                    let end = after.find(' ').unwrap_or(after.len());
                    (Some((key.to_string(), after[..end].to_string())), &after[end..])
                }
            }
            _ => {
                let end = rest.find(' ').unwrap_or(rest.len());
                (None, &rest[end..])
            }
        };
        out.extend(token);
        rest = next.trim_start();
    }
    Fields(out)
}

/// The lines of a daemon log whose message (after `level: `) starts with
/// `verb` followed by a space, e.g. `tunnel up`, parsed into fields.
pub fn events(log: &str, verb: &str) -> Vec<Fields> {
    let prefix = format!("{verb} ");
    log.lines().filter_map(|l| l.split_once(": ").map(|(_, m)| m)).filter(|m| m.starts_with(&prefix)).map(|m| parse_fields(&m[prefix.len()..])).collect()
}

/// Asserts that `record` (from [`Prol2tpd::cli_record`]) holds each
/// `(key, value)` of `want`; panics with the whole record.
pub fn assert_record(record: &HashMap<String, String>, want: &[(&str, &str)]) {
    for (key, value) in want {
        assert_eq!(record.get(*key).map(String::as_str), Some(*value), "{key} in {record:?}");
    }
}

/// A `[system]` section for a test daemon with the null data plane (no
/// kernel needed), `host_name` and the local address to `listen` on,
/// followed by a blank line; append the rest of the config to it.
pub fn null_system(host_name: &str, listen: &str) -> String {
    format!("[system]\ndataplane = null\nhost_name = {host_name}\nlisten = {listen}\n\n")
}

/// The value of `key` in the first of `events` whose `name=` is `name`
/// (e.g. the `tunnel_id` of the `tunnel created` line of instance `a`).
pub fn named_value(events: &[Fields], name: &str, key: &str) -> Option<String> {
    events.iter().find(|f| f.get("name") == Some(name)).and_then(|f| f.get(key)).map(str::to_string)
}

/// The outcome of one command run to completion (e.g. `prol2tp`).
#[derive(Debug, Clone)]
pub struct CliRun {
    /// Exit status; -1 when the process was killed by a signal.
    pub code: i32,
    /// Everything written to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything written to stderr (lossy UTF-8).
    pub stderr: String,
}

impl CliRun {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

impl From<Output> for CliRun {
    fn from(o: Output) -> CliRun {
        CliRun {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `cmd` (program and arguments) in `ns` with `PROL2TP_CONTROL=ctl`
/// (through env(1)), waits for it and returns its output.
pub fn exec_with_control(ns: &Netns, ctl: &Path, cmd: &[&str]) -> Output {
    let env = format!("PROL2TP_CONTROL={}", ctl.display());
    let mut full = vec!["env", env.as_str()];
    full.extend_from_slice(cmd);
    ns.exec(&full)
}

/// Runs `prol2tp ARGS` in `ns` against the control socket `ctl`; `args` is
/// split at white space.
pub fn prol2tp(ns: &Netns, ctl: &Path, args: &str) -> CliRun {
    let mut cmd = vec![CLI];
    cmd.extend(args.split_whitespace());
    exec_with_control(ns, ctl, &cmd).into()
}

/// A prol2tpd started with `-f` in a namespace, with its own control socket
/// (`PROL2TP_CONTROL`) and config file in the test's directory. Dropping it
/// stops the daemon (see [`Child`]).
pub struct Prol2tpd<'a> {
    /// The namespace the daemon and its CLI runs are in.
    pub ns: &'a Netns,
    /// The daemon process; its log holds everything the daemon printed.
    pub child: Child,
    /// The config file (`-c`); rewrite it with [`Prol2tpd::write_conf`].
    pub conf: PathBuf,
    /// The control socket (`PROL2TP_CONTROL`).
    pub ctl: PathBuf,
}

impl<'a> Prol2tpd<'a> {
    /// Writes `<name>.conf`, starts the daemon (log `<name>.log`, control
    /// socket `<name>.ctl`) and waits up to 10 s for its `start version=`
    /// line; panics with the log when it does not come.
    pub fn start(ns: &'a Netns, dir: &TempDir, name: &str, conf: &str) -> Prol2tpd<'a> {
        let d = Prol2tpd::spawn(ns, dir, name, conf);
        assert!(d.child.wait_log("start version=", START_TIMEOUT), "{name} did not start:\n{}", d.log());
        d
    }

    /// Like [`Prol2tpd::start`] without waiting: the daemon may not be
    /// listening yet when this returns.
    pub fn spawn(ns: &'a Netns, dir: &TempDir, name: &str, conf: &str) -> Prol2tpd<'a> {
        Prol2tpd::spawn_with_ctl(ns, dir, name, conf, dir.join(&format!("{name}.ctl")))
    }

    /// Like [`Prol2tpd::spawn`] with the control socket at `ctl` (e.g. in a
    /// directory the daemon has to create).
    pub fn spawn_with_ctl(ns: &'a Netns, dir: &TempDir, name: &str, conf: &str, ctl: PathBuf) -> Prol2tpd<'a> {
        let conf = dir.write(&format!("{name}.conf"), conf);
        let bin = daemon_bin();
        let (bin_s, conf_s, ctl_s) = (bin.to_string_lossy().into_owned(), conf.to_string_lossy().into_owned(), ctl.to_string_lossy().into_owned());
        let child = ns.spawn_env(&[&bin_s, "-f", "-c", &conf_s], &[("PROL2TP_CONTROL", &ctl_s)], &dir.join(&format!("{name}.log")));
        Prol2tpd { ns, child, conf, ctl }
    }

    /// Polls until the control socket exists; false after `timeout`.
    pub fn wait_control_socket(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.ctl.exists())
    }

    /// Replaces the contents of the config file (before a reload); panics
    /// when it cannot be written.
    pub fn write_conf(&self, text: &str) {
        std::fs::write(&self.conf, text).unwrap_or_else(|e| panic!("write {}: {e}", self.conf.display()));
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// The `verb` lines logged so far (see [`events`]).
    pub fn events(&self, verb: &str) -> Vec<Fields> {
        events(&self.log(), verb)
    }

    /// Polls until a `verb` line satisfying `pred` is logged and returns the
    /// first one; panics with the log after `timeout`.
    pub fn wait_event(&self, verb: &str, timeout: Duration, pred: impl Fn(&Fields) -> bool) -> Fields {
        let mut found = None;
        wait_until(timeout, || {
            found = self.events(verb).into_iter().find(|f| pred(f));
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no matching `{verb}` line in log:\n{}", self.log()))
    }

    /// Polls until at least `n` lines start with `verb` and returns them all;
    /// panics with the log after `timeout`.
    pub fn wait_count(&self, verb: &str, n: usize, timeout: Duration) -> Vec<Fields> {
        let mut got = Vec::new();
        let ok = wait_until(timeout, || {
            got = self.events(verb);
            got.len() >= n
        });
        assert!(ok, "expected {n} `{verb}` lines, log:\n{}", self.log());
        got
    }

    /// Polls until the log contains `needle`; false after `timeout`.
    pub fn wait_log_contains(&self, needle: &str, timeout: Duration) -> bool {
        self.child.wait_log(needle, timeout)
    }

    /// Runs `prol2tp ARGS` in the daemon's namespace against its socket.
    pub fn cli(&self, args: &str) -> CliRun {
        prol2tp(self.ns, &self.ctl, args)
    }

    /// Like [`Prol2tpd::cli`]; asserts exit status 0 and returns stdout.
    pub fn cli_ok(&self, args: &str) -> String {
        let r = self.cli(args);
        assert_eq!(r.code, 0, "prol2tp {args}: stdout={} stderr={}", r.stdout, r.stderr);
        r.stdout
    }

    /// Stdout of `prol2tp ARGS`, or an empty string when it fails (for
    /// polling a daemon that may not answer yet).
    pub fn cli_stdout(&self, args: &str) -> String {
        let r = self.cli(args);
        if r.success() {
            r.stdout
        } else {
            String::new()
        }
    }

    /// `prol2tp ARGS` for one object, as its `key: value` lines; panics
    /// when the command fails.
    pub fn cli_record(&self, args: &str) -> HashMap<String, String> {
        let r = self.cli(args);
        assert!(r.success(), "prol2tp {args:?} failed: {}{}", r.stdout, r.stderr);
        r.stdout.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
    }

    /// Sends SIGTERM and returns how long the daemon took to exit and
    /// whether it exited with status 0; panics if it did not exit in 8 s.
    pub fn terminate(&mut self) -> (Duration, bool) {
        let t0 = Instant::now();
        let status = self.child.stop(TERMINATE_TIMEOUT);
        let status = status.unwrap_or_else(|| panic!("no exit on SIGTERM:\n{}", self.log()));
        (t0.elapsed(), status.success())
    }
}
