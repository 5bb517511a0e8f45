//! Temporary directories for one test (configurations, logs, sockets,
//! captures, install trees).

use std::fs;
use std::path::{Path, PathBuf};

/// Environment variables that keep temporary directories after a test for
/// inspection (any of them, set to anything).
const KEEP_VARS: [&str; 2] = ["PROL2TP_KEEP_TMP", "PROAC_KEEP_TMP"];

/// A temporary directory, removed on drop unless `PROL2TP_KEEP_TMP` (or
/// `PROAC_KEEP_TMP`) is set.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty `$TMPDIR/<package>-<tag>-<pid>-<n>`, where
    /// `<package>` is the test's Cargo package (`CARGO_PKG_NAME` at run
    /// time, `test` without it). Panics when it cannot be made (the test
    /// cannot run).
    pub fn new(tag: &str) -> TempDir {
        let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "test".into());
        let path = std::env::temp_dir().join(format!("{package}-{tag}-{}-{}", std::process::id(), crate::next_id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` (relative; parent directories are
    /// created) and returns the full path. Panics on failure.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Full path of `name` inside the directory (not created).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if KEEP_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
