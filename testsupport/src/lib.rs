//! Harness shared by the integration tests of prol2tpd, propppd and proacd
//! (test layer 5 in DESIGN.md: real processes in network namespaces on the
//! host, plus the packaging checks).
//!
//! The model: a test creates [`Netns`]es (each with `lo` up), joins them
//! with [`link_veth`] using documentation addresses only (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), writes configuration
//! into a [`TempDir`], starts processes with [`Netns::spawn`] (each a
//! [`Child`] that is killed on drop and keeps its output in a log file),
//! and waits for conditions with [`wait_until`] instead of sleeping.
//! [`NetnsCapture`] records what goes on the wire and decodes it with
//! `tshark`; [`in_netns`] runs a closure on a thread inside a namespace (so
//! the sockets it opens belong there).
//!
//! Tests that need root and `ip netns` start with
//! `if !require_root_and_netns() { return; }` (and [`require_programs`] /
//! [`require_program`] for the tools they run) so that they skip, with a
//! visible `SKIP:` line, where they cannot run.
//!
//! [`packaging`] holds the helpers of the three `tests/packaging.rs`
//! (man page lint, `make install` into a DESTDIR, `systemd-analyze verify`,
//! init-script checks); it is not re-exported at the root because its
//! short names (`run`, `text`, `make`) would clash with the tests' own.
//!
//! Each crate's daemon harness (prol2tpd's `Prol2tpd`, proacd's `Proacd`)
//! stays in that crate's `tests/support/`, built on these pieces: only the
//! test crate knows its binaries (`env!("CARGO_BIN_EXE_…")`).

pub mod netns;
pub mod packaging;
pub mod paths;
pub mod process;
pub mod skip;
pub mod tempdir;

pub use netns::{in_netns, in_netns_named, link_veth, one_host, tshark, two_netns, Netns, NetnsCapture, VethPair};
pub use paths::{bin_dir, repo_root, sibling_bin};
pub use process::{run_ok, wait_until, Child};
pub use skip::{have_program, require_program, require_programs, require_root_and_netns};
pub use tempdir::TempDir;

use std::sync::atomic::{AtomicU32, Ordering};

/// Source of unique suffixes for namespace, interface and directory names
/// within this test process (combined with the process id across processes).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A number unique within this process (wraps after 2^32 calls).
pub(crate) fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}
