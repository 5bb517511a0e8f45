//! Support for proacd's host tests: real processes in network namespaces
//! joined by veth pairs (test layer 5 in DESIGN.md).
//!
//! A test creates [`Netns`]es, joins them with [`link_veth`], writes
//! configuration into a [`TempDir`], starts [`Proacd`] (or any program with
//! [`Netns::spawn`]) and waits for conditions with [`wait_until`] instead of
//! sleeping. [`packet_socket_in`] opens a `proac::sys::PacketSocket` inside a
//! namespace; [`Host`] (in `host.rs`) is a whole PPPoE peer on one, with
//! [`setup`] for the usual AC and client namespaces, for tests that speak
//! PPPoE discovery themselves.
//!
//! Every test starts with `if !support::require_root_and_netns() { return; }`
//! so that it skips (with a visible SKIP line) where it cannot run. Each
//! test's daemons use sockets and pid files in its own temporary directory;
//! a namespace's drop kills the processes left in it (only the test's own:
//! the namespace is the test's). `PROAC_KEEP_TMP=1` keeps the directories.
//!
//! The generic pieces ([`Netns`], [`link_veth`], [`Child`], [`TempDir`],
//! [`wait_until`], [`in_netns`], the SKIP checks, [`sibling_bin`]) come from
//! the workspace's `testsupport` crate and are re-exported here; proacd's
//! own parts are [`Proacd`], [`packet_socket_in`], [`num`], [`text`] and
//! the discovery peer of `host.rs` ([`Host`], [`fake_mac`], [`setup`],
//! [`ac_mac`]).
#![allow(dead_code)]

mod host;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::ipc::{self, Record, Reply, Request, Value};
#[allow(unused_imports)]
pub use testsupport::*;

#[allow(unused_imports)]
pub use host::*;

/// Opens a `PacketSocket` on `ifname` for `ethertype` inside `ns`.
pub fn packet_socket_in(ns: &Netns, ifname: &str, ethertype: u16) -> proac::sys::PacketSocket {
    let ifname = ifname.to_string();
    in_netns(ns, move || proac::sys::PacketSocket::open(&ifname, ethertype).unwrap_or_else(|e| panic!("packet socket on {ifname}: {e}")))
}

/// The `proacd` binary Cargo built for this test run.
pub fn proacd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proacd"))
}

/// One proacd with its files in a test directory.
pub struct Proacd {
    /// The process.
    pub child: Child,
    /// Its configuration file.
    pub conf: PathBuf,
    /// Its control socket.
    pub ctl: PathBuf,
    ns_path: String,
    client: Option<ipc::Client>,
}

impl Proacd {
    /// The `[system]` section for an instance called `name` in `dir`
    /// (sockets and pid file there; propppd and prol2tpd expected at
    /// `NAME-propppd.chan` / `NAME-prol2tpd.chan`) plus `extra_system` lines.
    pub fn system_section(dir: &TempDir, name: &str, extra_system: &str) -> String {
        let pp = dir.join(&format!("{name}-propppd.chan"));
        let l2 = dir.join(&format!("{name}-prol2tpd.chan"));
        Proacd::system_section_with(dir, name, &pp, &l2, extra_system)
    }

    /// As [`Proacd::system_section`] with propppd's channel socket at
    /// `propppd` and prol2tpd's switch socket at `prol2tpd`.
    pub fn system_section_with(dir: &TempDir, name: &str, propppd: &Path, prol2tpd: &Path, extra_system: &str) -> String {
        format!(
            "[system]\ncontrol_socket = {ctl}\npid_file = {pid}\npropppd_socket = {pp}\nprol2tpd_socket = {l2}\ndataplane = userspace\n{extra_system}\n",
            ctl = dir.join(&format!("{name}.ctl")).display(),
            pid = dir.join(&format!("{name}.pid")).display(),
            pp = propppd.display(),
            l2 = prol2tpd.display(),
        )
    }

    /// Starts proacd in `ns` (foreground, debug, every category) with the
    /// configuration `conf` written to `NAME.conf`; waits for its control
    /// socket to answer.
    pub fn start(ns: &Netns, dir: &TempDir, name: &str, conf: &str) -> Proacd {
        Proacd::start_with(ns, dir, name, conf, dir.join(&format!("{name}.ctl")))
    }

    /// As [`Proacd::start`] with the control socket at `ctl` (the one the
    /// configuration names).
    pub fn start_with(ns: &Netns, dir: &TempDir, name: &str, conf: &str, ctl: PathBuf) -> Proacd {
        let path = dir.write(&format!("{name}.conf"), conf);
        let bin = proacd_bin();
        let child = ns.spawn(&[&bin.to_string_lossy(), "-f", "-D", "-d", "all", "-c", &path.to_string_lossy()], &dir.join(&format!("{name}.log")));
        let mut p = Proacd { child, conf: path, ctl, ns_path: ns.name().to_string(), client: None };
        let up = wait_until(Duration::from_secs(10), || p.ctl.exists() && p.try_call(Request::ShowSystem).is_some());
        assert!(up, "proacd {name} did not answer on {}:\n{}", p.ctl.display(), p.child.log());
        p
    }

    /// A control client in proacd's namespace (abstract addresses are per
    /// namespace).
    fn connect(&mut self) {
        if self.client.is_some() {
            return;
        }
        let ctl = self.ctl.clone();
        self.client = in_netns_named(&self.ns_path, move || ipc::Client::unconnected(&ctl).ok());
    }

    fn try_call(&mut self, req: Request) -> Option<Reply> {
        self.connect();
        self.client.as_mut()?.call(req, Duration::from_secs(2)).ok()
    }

    /// Sends `req` and returns the reply (panics when none comes).
    pub fn call(&mut self, req: Request) -> Reply {
        let what = format!("{req:?}");
        self.connect();
        let Some(client) = self.client.as_mut() else { panic!("{what}: no control socket at {}", self.ctl.display()) };
        match client.call(req, Duration::from_secs(5)) {
            Ok(r) => r,
            Err(e) => panic!("{what}: {e:?}\n{}", self.child.log()),
        }
    }

    /// The records of `req` (panics on an error reply).
    pub fn records(&mut self, req: Request) -> Vec<Record> {
        match self.call(req) {
            Reply::Records { records, .. } => records,
            Reply::Done => Vec::new(),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// One counter of `ShowStatistics`.
    pub fn stat(&mut self, key: &str) -> u64 {
        let recs = self.records(Request::ShowStatistics);
        recs.first().and_then(|r| num(r, key)).unwrap_or_else(|| panic!("no statistic {key} in {recs:?}"))
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.child.log()
    }
}

/// The number under `key` of `r`.
pub fn num(r: &Record, key: &str) -> Option<u64> {
    match r.get(key)? {
        Value::U64(n) => Some(*n),
        Value::Str(s) => s.parse().ok(),
        Value::Bool(b) => Some(u64::from(*b)),
    }
}

/// The text under `key` of `r` ("" when absent).
pub fn text(r: &Record, key: &str) -> String {
    r.get(key).map(|v| v.to_string()).unwrap_or_default()
}
