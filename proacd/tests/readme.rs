//! The README's configuration examples work: every ```ini block under
//! "Running prol2tpd", "Running propppd" or "Running proacd" (and their
//! subsections) passes that daemon's `-n` check. The suite's three daemons
//! are built by the workspace; a missing prol2tpd or propppd binary (a
//! `cargo test -p proacd` alone) makes the test print SKIP for it.

use std::process::Command;

use testsupport::{repo_root, sibling_bin, TempDir};

/// Each ```ini block of the README with the daemon whose section it is in.
fn examples(readme: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut daemon = None;
    let mut block: Option<String> = None;
    for line in readme.lines() {
        if let Some(b) = block.as_mut() {
            if line.starts_with("```") {
                if let (Some(d), Some(b)) = (daemon, block.take()) {
                    out.push((d, b));
                }
            } else {
                b.push_str(line);
                b.push('\n');
            }
            continue;
        }
        if line.starts_with("## ") {
            daemon = ["prol2tpd", "propppd", "proacd"].into_iter().find(|d| line == format!("## Running {d}"));
        } else if line.starts_with("```ini") {
            block = Some(String::new());
        }
    }
    out
}

#[test]
fn readme_config_examples_pass_the_daemons_check() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap_or_else(|e| panic!("README.md: {e}"));
    let found = examples(&readme);
    for d in ["prol2tpd", "propppd", "proacd"] {
        assert!(found.iter().any(|(x, _)| *x == d), "no ```ini example for {d} in the README");
    }
    let dir = TempDir::new("readme");
    for (i, (daemon, text)) in found.iter().enumerate() {
        let bin = if *daemon == "proacd" { env!("CARGO_BIN_EXE_proacd").into() } else { sibling_bin(daemon) };
        if !bin.exists() {
            println!("SKIP {daemon} example {i}: {} not built", bin.display());
            continue;
        }
        let conf = dir.join(&format!("{daemon}-{i}.conf"));
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
        let out = Command::new(&bin).arg("-n").arg("-c").arg(&conf).output().unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(
            out.status.success(),
            "README example {i} for {daemon} fails its -n check:\n{text}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
