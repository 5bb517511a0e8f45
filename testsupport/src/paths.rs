//! Where things are: the repository and the directory Cargo puts the
//! workspace's programs in.

use std::path::{Path, PathBuf};

/// Root of the repository (the workspace directory, parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The directory Cargo puts this run's programs in (`target/debug`): the
/// test executable's directory, or its parent when that is `deps`.
/// Falls back to `target/debug` when the executable's path is unknown.
pub fn bin_dir() -> PathBuf {
    let Ok(exe) = std::env::current_exe() else { return PathBuf::from("target/debug") };
    let Some(dir) = exe.parent() else { return PathBuf::from("target/debug") };
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf())
    } else {
        dir.to_path_buf()
    }
}

/// A program of any package of the workspace, in [`bin_dir`]
/// (`cargo build --workspace` builds them all; it may not exist yet).
pub fn sibling_bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}
