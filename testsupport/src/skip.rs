//! SKIP checks: whether the host can run a test (root, `ip netns`, the
//! programs it needs). Each `require_*` prints one `SKIP: <reason>` line
//! and returns false when it cannot, so the test returns early and passes.

use std::path::Path;
use std::process::Command;

/// True when the test runs as root and `ip netns list` works. Otherwise
/// prints `SKIP: <reason>` and returns false.
pub fn require_root_and_netns() -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: not root; network-namespace tests need root");
        return false;
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            println!("SKIP: `ip netns list` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            false
        }
        Err(e) => {
            println!("SKIP: cannot run `ip` (iproute2): {e}");
            false
        }
    }
}

/// True when `prog` is a file in a `PATH` directory, or, when it contains
/// a `/`, an existing path.
pub fn have_program(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file())).unwrap_or(false)
}

/// True when every program in `progs` is found ([`have_program`]).
/// Otherwise prints `SKIP: <prog> not installed …` for the first missing
/// one and returns false.
pub fn require_programs(progs: &[&str]) -> bool {
    match progs.iter().find(|p| !have_program(p)) {
        None => true,
        Some(prog) => {
            println!("SKIP: {prog} not installed (make check installs it)");
            false
        }
    }
}

/// True when the path `prog` exists (no `PATH` search); otherwise prints
/// `SKIP: <prog> not installed …` and returns false.
pub fn require_program(prog: &str) -> bool {
    if Path::new(prog).exists() {
        return true;
    }
    println!("SKIP: {prog} not installed (make check installs it)");
    false
}
