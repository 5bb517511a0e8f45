//! Support for prol2tpd's integration tests that run real processes in
//! network namespaces on the host (test layer 5 in DESIGN.md).
//!
//! The generic pieces come from the workspace's `testsupport` crate and are
//! re-exported here, so tests write `use support::*;`. The model: a test creates [`Netns`]es (each with `lo` up), joins them with
//! [`link_veth`] using documentation addresses only (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), writes configuration into
//! a [`TempDir`], starts processes with [`Netns::spawn`] (each a [`Child`] that
//! is killed on drop and keeps its output in a log file), and waits for
//! conditions with [`wait_until`] instead of sleeping. [`NetnsCapture`]
//! records what goes on the wire and decodes it with `tshark`.
//! [`xl2tpd_lns`] / [`xl2tpd_lac`] run xl2tpd as a peer; [`Prol2tpd`] (in
//! `daemon.rs`) runs prol2tpd itself, reads its `key=value` log events and
//! drives its `prol2tp` CLI. [`two_netns`] makes the usual two hosts.
//!
//! prol2tpd's own parts live here: [`daemon_bin`], the xl2tpd peers,
//! [`json_nums`], [`Prol2tpd`] (`daemon.rs`), fake channel sides
//! (`chan.rs`) and hook-script directories (`scripts.rs`).
//!
//! Every test must start with `if !support::require_root_and_netns() { return; }`
//! (and [`require_programs`] for the peers and capture tools it uses) so that
//! it skips (with a visible SKIP line) where it cannot run.
//!
//! Set `PROL2TP_KEEP_TMP=1` to keep temporary directories (configs, logs,
//! captures) after a test for inspection.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Fake PPP sides of channel connections (propppd, proacd).
pub mod chan;
mod daemon;
/// Hook-script directories and checks (tests of prol2tp-scriptd).
pub mod scripts;

// Not every test crate uses the prol2tpd harness (netns_smoke does not).
#[allow(unused_imports)]
pub use daemon::*;
#[allow(unused_imports)]
pub use testsupport::*;

/// Path of the `prol2tpd` binary Cargo built for this test run.
pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prol2tpd"))
}

/// Settings for an xl2tpd peer (see tests/xl2tpd/README.md).
#[derive(Debug, Clone)]
pub struct Xl2tpdOpts {
    /// Host Name AVP xl2tpd sends (`hostname =`).
    pub hostname: String,
    /// Tunnel secret; `Some` turns on `challenge = yes` and writes an
    /// l2tp-secrets file `* * SECRET`.
    pub secret: Option<String>,
    /// `hidden bit = yes` (xl2tpd then adds a Random Vector AVP to every
    /// message but hides nothing; it does decode hidden AVPs).
    pub hidden: bool,
    /// UDP port, local and (for a LAC) of the LNS. Default 1701.
    pub port: u16,
    /// LAC only: dial at start-up (`autodial = yes`); otherwise use
    /// [`Xl2tpd::dial`].
    pub autodial: bool,
    /// Replace `/usr/sbin/pppd` (inside xl2tpd's own mount namespace only)
    /// by tests/xl2tpd/fake-pppd, which keeps the call up until killed. With
    /// false, the real pppd fails at once on hosts without /dev/ppp and
    /// xl2tpd clears the call with a CDN.
    pub fake_pppd: bool,
}

impl Default for Xl2tpdOpts {
    fn default() -> Self {
        Xl2tpdOpts { hostname: "xl2tpd.example".into(), secret: None, hidden: false, port: 1701, autodial: true, fake_pppd: true }
    }
}

/// A running xl2tpd (foreground, `-D`) with its files in a private directory.
pub struct Xl2tpd {
    /// The process; its log holds xl2tpd's debug output.
    pub child: Child,
    /// Control FIFO (`-C`).
    pub control: PathBuf,
    /// Directory where the fake pppd records `pppd.<pid>` files.
    pub ppp_dir: PathBuf,
}

const LNS_TEMPLATE: &str = include_str!("../../../tests/xl2tpd/lns.conf.in");
const LAC_TEMPLATE: &str = include_str!("../../../tests/xl2tpd/lac.conf.in");

/// Starts xl2tpd as LNS (section `[lns default]`, accepting any LAC) in `ns`,
/// files under `<dir>/<role>/`. Returns once it listens.
pub fn xl2tpd_lns(ns: &Netns, dir: &TempDir, role: &str, opts: &Xl2tpdOpts) -> Xl2tpd {
    start_xl2tpd(ns, dir, role, LNS_TEMPLATE, opts, "")
}

/// Starts xl2tpd as LAC (section `[lac test]`) in `ns` towards the LNS at
/// `lns_addr` (IPv4 address or name; xl2tpd 1.3 has no IPv6 support), files
/// under `<dir>/<role>/`. Returns once it listens; with `opts.autodial` it
/// dials at once, otherwise call [`Xl2tpd::dial`].
pub fn xl2tpd_lac(ns: &Netns, dir: &TempDir, role: &str, opts: &Xl2tpdOpts, lns_addr: &str) -> Xl2tpd {
    start_xl2tpd(ns, dir, role, LAC_TEMPLATE, opts, lns_addr)
}

fn start_xl2tpd(ns: &Netns, dir: &TempDir, role: &str, template: &str, opts: &Xl2tpdOpts, lns_addr: &str) -> Xl2tpd {
    let sub = |name: &str| dir.join(&format!("{role}/{name}"));
    let secrets = dir.write(&format!("{role}/l2tp-secrets"), &opts.secret.as_ref().map(|s| format!("* * {s}\n")).unwrap_or_default());
    let pppopts = dir.write(&format!("{role}/ppp.options"), "noauth\n");
    let ppp_dir = sub("ppp");
    fs::create_dir_all(&ppp_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let conf = template
        .replace("@LISTEN_ADDR@", "0.0.0.0")
        .replace("@PORT@", &opts.port.to_string())
        .replace("@AUTH_FILE@", &secrets.to_string_lossy())
        .replace("@HOSTNAME@", &opts.hostname)
        .replace("@CHALLENGE@", yes_no(opts.secret.is_some()))
        .replace("@HIDDEN@", yes_no(opts.hidden))
        .replace("@PPPOPTFILE@", &pppopts.to_string_lossy())
        .replace("@LNS_ADDR@", lns_addr)
        .replace("@AUTODIAL@", yes_no(opts.autodial));
    let conf = dir.write(&format!("{role}/xl2tpd.conf"), &conf);
    let control = sub("l2tp-control");
    let pid = sub("xl2tpd.pid");
    let (conf_s, pid_s, ctl_s) = (conf.to_string_lossy().into_owned(), pid.to_string_lossy().into_owned(), control.to_string_lossy().into_owned());
    let fake = repo_root().join("tests/xl2tpd/fake-pppd");
    let fake_s = fake.to_string_lossy().into_owned();
    let ppp_dir_s = ppp_dir.to_string_lossy().into_owned();
    let xl2tpd = ["xl2tpd", "-D", "-c", &conf_s, "-p", &pid_s, "-C", &ctl_s];
    let log = sub("xl2tpd.log");
    let child = if opts.fake_pppd {
        // `ip netns exec` gives the command a private mount namespace, so the
        // bind mount hides the real pppd from this xl2tpd only.
        let script = r#"mount --bind "$0" /usr/sbin/pppd && exec "$@""#;
        let mut cmd = vec!["sh", "-c", script, &fake_s];
        cmd.extend(xl2tpd);
        ns.spawn_env(&cmd, &[("FAKE_PPPD_DIR", &ppp_dir_s)], &log)
    } else {
        ns.spawn(&xl2tpd, &log)
    };
    assert!(child.wait_log("Listening on IP address", Duration::from_secs(10)), "xl2tpd {role} did not start: {}", child.log());
    Xl2tpd { child, control, ppp_dir }
}

impl Xl2tpd {
    /// Writes one command line to the control FIFO: `c test` dials the LAC
    /// section, `d test` drops its tunnel (StopCCN). Fails if xl2tpd is not
    /// reading the FIFO.
    pub fn control_cmd(&self, cmd: &str) -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&self.control)?;
        f.write_all(format!("{cmd}\n").as_bytes())
    }

    /// Dials the LAC section (`c test`).
    pub fn dial(&self) -> std::io::Result<()> {
        self.control_cmd("c test")
    }

    /// Drops the LAC's tunnel (`d test`): xl2tpd sends StopCCN.
    pub fn hangup_tunnel(&self) -> std::io::Result<()> {
        self.control_cmd("d test")
    }

    /// Pids of the fake pppd processes currently running for this xl2tpd.
    pub fn fake_pppd_pids(&self) -> Vec<i32> {
        fs::read_dir(&self.ppp_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("pppd.")).and_then(|p| p.parse().ok())).collect()
            })
            .unwrap_or_default()
    }

    /// Ends every call of this xl2tpd by killing its fake pppd processes;
    /// xl2tpd then sends CDN (Result Code 1). Returns how many were killed.
    pub fn end_calls(&self) -> usize {
        let pids = self.fake_pppd_pids();
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        pids.len()
    }

    /// Polls until xl2tpd's log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        self.child.wait_log(needle, timeout)
    }
}

/// Every `"key":number` pair of flat JSON output (`prol2tp -j`); for
/// arrays, the last value of a key wins.
pub fn json_nums(json: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let mut rest = json;
    while let Some(q) = rest.find("\":") {
        let key_start = rest.get(..q).and_then(|s| s.rfind('"')).map_or(0, |i| i + 1);
        let key = rest.get(key_start..q).unwrap_or("").to_string();
        let tail = rest.get(q + 2..).unwrap_or("");
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            out.insert(key, n);
        }
        rest = tail;
    }
    out
}
