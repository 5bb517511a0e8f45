//! Hook-script helpers for tests that run `prol2tp-scriptd` (directly or
//! through prol2tpd): a script directory whose scripts report what they saw
//! through files in an output directory, the script body that dumps
//! arguments and environment, and the interval arithmetic that checks the
//! `max_running_scripts` limit from start/end time stamps.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Netns, TempDir};

/// The `PATH` every hook script gets (issue 4's contract).
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Script body recording, under the output directory and named after
/// `$PROL2TP_EVENT`: its arguments (`.args`: `argc=N` then `arg=…` lines),
/// its exact environment as exec'd (`.env`, sorted, from /proc), whether
/// `ip link show "$INTERFACE_NAME"` succeeded while it ran (`.link`, the
/// exit status; only when `INTERFACE_NAME` is set), and last `.done`.
pub const DUMP: &str = r#"n=$PROL2TP_EVENT
{ echo "argc=$#"; for a in "$@"; do echo "arg=$a"; done; } > @OUT@/$n.args
tr '\0' '\n' < /proc/$$/environ | sort > @OUT@/$n.env
if [ -n "$INTERFACE_NAME" ]; then ip link show "$INTERFACE_NAME" >/dev/null 2>&1; echo $? > @OUT@/$n.link; fi
echo done > @OUT@/$n.done"#;

/// A hook-script directory (`<tmp>/scripts`) and the directory its
/// scripts write to (`<tmp>/out`).
pub struct ScriptDir {
    scripts: PathBuf,
    out: PathBuf,
}

impl ScriptDir {
    /// Creates `scripts/` and `out/` inside `tmp` (under `tag`, so that one
    /// test may have several); panics when it cannot.
    pub fn new(tmp: &TempDir, tag: &str) -> ScriptDir {
        let sd = ScriptDir { scripts: tmp.join(&format!("{tag}-scripts")), out: tmp.join(&format!("{tag}-out")) };
        for d in [&sd.scripts, &sd.out] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        sd
    }

    /// The script directory (for `script_dir =`).
    pub fn path(&self) -> &Path {
        &self.scripts
    }

    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Writes the executable script `name` (mode 0755): `#!/bin/sh`, then
    /// `body` with `@OUT@` replaced by the output directory.
    pub fn script(&self, name: &str, body: &str) {
        let p = self.scripts.join(name);
        let text = format!("#!/bin/sh\n{}\n", body.replace("@OUT@", &self.out.to_string_lossy()));
        fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
    }

    /// Contents of output file `name`, empty when it does not exist yet.
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.out.join(name)).unwrap_or_default()
    }

    /// True when output file `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.out.join(name).exists()
    }

    /// Names of every output file, sorted.
    pub fn outputs(&self) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&self.out).map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
        v.sort();
        v
    }
}

/// `lines` sorted, each followed by a newline (the form of a `.env` file
/// written by [`DUMP`]).
pub fn sorted_lines(lines: &[&str]) -> String {
    let mut v: Vec<&str> = lines.to_vec();
    v.sort_unstable();
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// Parses `S <id> <ns>` / `E <id> <ns>` lines (start and end of a script
/// run, nanoseconds) into `(start, end)` intervals; panics on a malformed
/// line, an id started twice, an end without start or a start without end.
pub fn intervals(text: &str) -> Vec<(u128, u128)> {
    let mut starts = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [tag, id, ns] = f[..] else { panic!("bad line {line:?}") };
        let ns: u128 = ns.parse().unwrap_or_else(|e| panic!("bad time in {line:?}: {e}"));
        match tag {
            "S" => assert!(starts.insert(id.to_string(), ns).is_none(), "{id} started twice"),
            "E" => out.push((starts.remove(id).unwrap_or_else(|| panic!("end without start: {line:?}")), ns)),
            _ => panic!("bad line {line:?}"),
        }
    }
    assert!(starts.is_empty(), "unfinished: {starts:?}");
    out
}

/// The most intervals open at one instant (an end at the same instant as
/// a start counts as before it).
pub fn max_overlap(iv: &[(u128, u128)]) -> usize {
    let mut points: Vec<(u128, i32)> = iv.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
    points.sort_unstable();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in points {
        cur += d;
        max = max.max(cur);
    }
    usize::try_from(max).unwrap_or(0)
}

/// `(pid, command line with spaces between arguments)` of every process in
/// `ns` (processes that end meanwhile are left out).
pub fn ns_processes(ns: &Netns) -> Vec<(i32, String)> {
    ns.pids()
        .into_iter()
        .filter_map(|pid| {
            let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            Some((pid, cmd.join(" ")))
        })
        .collect()
}

/// Pids of the processes in `ns` whose executable's name (`comm`) is
/// `comm` (at most 15 characters, as the kernel keeps it).
pub fn ns_pids_named(ns: &Netns, comm: &str) -> Vec<i32> {
    ns.pids().into_iter().filter(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim_end() == comm).unwrap_or(false)).collect()
}
