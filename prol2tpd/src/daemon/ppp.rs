//! The alternative PPP side of PPP pseudowires (`-p ppp_unix`; the default
//! is propppd, see [`super::proppp`]): stock `pppd` with its
//! `pppol2tp.so` plugin, run the way the seeds' `ppp_unix` plugin did.
//!
//! When the data plane reports a session's PPPoL2TP socket ready, the
//! daemon starts
//!
//! ```text
//! pppd plugin pppol2tp.so pppol2tp FD [pppol2tp_lns_mode]
//!      pppol2tp_tunnel_id TID pppol2tp_session_id SID
//!      [pppol2tp_send_seq] [pppol2tp_recv_seq] nodetach
//!      mtu MTU mru MRU PPPD_OPTIONS...
//! ```
//!
//! with the socket open as `FD` (close-on-exec cleared in the child only),
//! no signal blocked (the daemon blocks those its signal fd reads),
//! stdin/stdout/stderr on `/dev/null`, a fixed environment, in a process
//! group of its own (a terminal's ^C reaches the daemon, not pppd), and
//! never through a shell: the PPP profile's `pppd_options` are split at
//! white space. The loop never waits: pppd's exit is learnt from SIGCHLD
//! ([`PppUnix::exited`]) and closes the session (CDN); the session closing
//! first ([`PppUnix::stop`]) sends pppd SIGTERM.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::dataplane::kernel::sys;

/// The plugin name that selects this PPP side (`-p ppp_unix`).
pub const PLUGIN: &str = "ppp_unix";

/// Where pppd is looked for, in order; the first that exists is used.
const PPPD_PATHS: [&str; 3] = ["/usr/sbin/pppd", "/sbin/pppd", "/usr/local/sbin/pppd"];

/// The whole environment pppd gets.
const PPPD_PATH_ENV: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// What pppd needs to know about one PPP session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PppSettings {
    /// True when we are the LNS (`pppol2tp_lns_mode`).
    pub lns_mode: bool,
    /// Sequence numbers on sent data packets (`pppol2tp_send_seq`).
    pub send_seq: bool,
    /// Sequence numbers required on received ones (`pppol2tp_recv_seq`).
    pub recv_seq: bool,
    /// PPP profile MTU in octets (`mtu`).
    pub mtu: u16,
    /// PPP profile MRU in octets (`mru`).
    pub mru: u16,
    /// The PPP profile's `pppd_options`, one word each.
    pub options: Vec<String>,
}

impl PppSettings {
    /// Splits a `pppd_options` value at white space (no quoting: the words
    /// go to pppd's argv as they are, never through a shell).
    pub fn split_options(text: Option<&str>) -> Vec<String> {
        text.map(|t| t.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
    }
}

/// pppd's arguments (after the program name) for session
/// `tunnel_id`/`session_id` on PPPoL2TP socket `fd`.
pub fn pppd_args(fd: i32, tunnel_id: u32, session_id: u32, s: &PppSettings) -> Vec<String> {
    let mut a: Vec<String> = vec!["plugin".into(), "pppol2tp.so".into(), "pppol2tp".into(), fd.to_string()];
    if s.lns_mode {
        a.push("pppol2tp_lns_mode".into());
    }
    a.extend(["pppol2tp_tunnel_id".into(), tunnel_id.to_string(), "pppol2tp_session_id".into(), session_id.to_string()]);
    if s.send_seq {
        a.push("pppol2tp_send_seq".into());
    }
    if s.recv_seq {
        a.push("pppol2tp_recv_seq".into());
    }
    a.push("nodetach".into());
    a.extend(["mtu".into(), s.mtu.to_string(), "mru".into(), s.mru.to_string()]);
    a.extend(s.options.iter().cloned());
    a
}

/// The pppd program: the first of the usual places that exists, else
/// `pppd` (looked up in the fixed `PATH`).
pub fn default_program() -> PathBuf {
    PPPD_PATHS.iter().map(Path::new).find(|p| p.exists()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("pppd"))
}

/// One pppd we started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Child {
    tunnel_id: u32,
    session_id: u32,
    /// True once we sent SIGTERM (the session is closing already).
    stopping: bool,
}

/// How a pppd ended, for the log and the CDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PppExit {
    /// Its pid.
    pub pid: i32,
    /// Our tunnel id.
    pub tunnel_id: u32,
    /// Our session id.
    pub session_id: u32,
    /// `exit status N` or `signal SIGx`.
    pub how: String,
    /// True when the session is still open and must be closed (pppd ended
    /// on its own); false when we had stopped it.
    pub close_session: bool,
}

/// The pppd processes of the PPP sessions.
#[derive(Debug)]
pub struct PppUnix {
    program: PathBuf,
    /// Settings of PPP sessions that are up, waiting for their channel.
    settings: HashMap<(u32, u32), PppSettings>,
    /// Running pppd per session.
    running: HashMap<(u32, u32), i32>,
    children: HashMap<i32, Child>,
}

impl PppUnix {
    /// A PPP side that runs `program` (see [`default_program`]).
    pub fn new(program: PathBuf) -> PppUnix {
        PppUnix { program, settings: HashMap::new(), running: HashMap::new(), children: HashMap::new() }
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Number of pppd processes alive (including those told to stop).
    pub fn children(&self) -> usize {
        self.children.len()
    }

    /// The pid of the session's pppd, if it runs.
    pub fn pid(&self, tunnel_id: u32, session_id: u32) -> Option<i32> {
        self.running.get(&(tunnel_id, session_id)).copied()
    }

    /// A PPP session is up: remember its settings until its channel is ready.
    pub fn session_up(&mut self, tunnel_id: u32, session_id: u32, settings: PppSettings) {
        self.settings.insert((tunnel_id, session_id), settings);
    }

    /// Starts pppd for a session that is up, on its PPPoL2TP socket `fd`.
    /// Returns the pid. The fd is duplicated (above 2, close-on-exec) for
    /// the child; the caller keeps its own. Errors: no settings for the
    /// session (`ENOENT`), already running (`EEXIST`), `fork`/`exec`
    /// failures (e.g. `ENOENT` when pppd is not installed).
    pub fn start(&mut self, tunnel_id: u32, session_id: u32, fd: BorrowedFd<'_>) -> io::Result<i32> {
        let key = (tunnel_id, session_id);
        if self.running.contains_key(&key) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let settings = self.settings.get(&key).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        // std duplicates with F_DUPFD_CLOEXEC from 3 up, so the copy
        // survives the child's stdio set-up.
        let child_fd = fd.try_clone_to_owned()?;
        let mut cmd = Command::new(&self.program);
        cmd.args(pppd_args(child_fd.as_raw_fd(), tunnel_id, session_id, settings))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_clear()
            .env("PATH", PPPD_PATH_ENV);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        sys::prepare_child(&mut cmd, child_fd.as_raw_fd());
        let child = cmd.spawn()?;
        drop(child_fd);
        let pid = i32::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // The Child handle is dropped without waiting: SIGCHLD reaps it.
        self.running.insert(key, pid);
        self.children.insert(pid, Child { tunnel_id, session_id, stopping: false });
        Ok(pid)
    }

    /// The session is closing: SIGTERM to its pppd (if any), and forget its
    /// settings. Returns the pid signalled.
    pub fn stop(&mut self, tunnel_id: u32, session_id: u32) -> Option<i32> {
        self.settings.remove(&(tunnel_id, session_id));
        let pid = self.running.remove(&(tunnel_id, session_id))?;
        if let Some(c) = self.children.get_mut(&pid) {
            c.stopping = true;
        }
        // ESRCH: it has just exited and SIGCHLD will tell.
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        Some(pid)
    }

    /// The tunnel is going: [`PppUnix::stop`] for each of its sessions.
    pub fn stop_tunnel(&mut self, tunnel_id: u32) -> Vec<i32> {
        let keys: Vec<(u32, u32)> = self.settings.keys().chain(self.running.keys()).filter(|(t, _)| *t == tunnel_id).copied().collect();
        keys.into_iter().filter_map(|(t, s)| self.stop(t, s)).collect()
    }

    /// A child was reaped: if it was one of our pppd, how it ended. Other
    /// children (and non-final statuses) give `None`.
    pub fn exited(&mut self, status: &WaitStatus) -> Option<PppExit> {
        let how = match status {
            WaitStatus::Exited(_, code) => format!("exit status {code}"),
            WaitStatus::Signaled(_, sig, _) => format!("signal {}", sig.as_str()),
            _ => return None,
        };
        let pid = status.pid()?.as_raw();
        let c = self.children.remove(&pid)?;
        let key = (c.tunnel_id, c.session_id);
        if self.running.get(&key) == Some(&pid) {
            self.running.remove(&key);
        }
        Some(PppExit { pid, tunnel_id: c.tunnel_id, session_id: c.session_id, how, close_session: !c.stopping })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::waitpid;
    use std::os::fd::AsFd;

    fn settings() -> PppSettings {
        PppSettings { lns_mode: true, send_seq: false, recv_seq: true, mtu: 1400, mru: 1450, options: PppSettings::split_options(Some(" noauth\tdebug  ")) }
    }

    #[test]
    fn args_follow_the_pppol2tp_plugin_and_the_profile() {
        let a = pppd_args(7, 100, 200, &settings());
        let want = "plugin pppol2tp.so pppol2tp 7 pppol2tp_lns_mode pppol2tp_tunnel_id 100 pppol2tp_session_id 200 \
                    pppol2tp_recv_seq nodetach mtu 1400 mru 1450 noauth debug";
        assert_eq!(a.join(" "), want);
        let lac = PppSettings { lns_mode: false, send_seq: true, recv_seq: false, mtu: 1500, mru: 1500, options: vec![] };
        assert_eq!(
            pppd_args(3, 1, 2, &lac).join(" "),
            "plugin pppol2tp.so pppol2tp 3 pppol2tp_tunnel_id 1 pppol2tp_session_id 2 pppol2tp_send_seq nodetach mtu 1500 mru 1500"
        );
        assert!(PppSettings::split_options(None).is_empty());
    }

    /// A stand-in pppd: writes its argv, environment and whether the fd
    /// named after `pppol2tp` is open into `out`, then waits for SIGTERM
    /// (or exits at once with status 3 when `$stay` is not set).
    fn fake_pppd(dir: &Path, stay: bool) -> PathBuf {
        let out = dir.join("out");
        let script = format!(
            "#!/bin/sh\nfd=$4\n{{ echo \"args=$*\"; echo \"env=$(env | sort | tr '\\n' ' ')\"; \
             if [ -e /proc/self/fd/$fd ]; then echo fd=open; else echo fd=closed; fi; \
             if [ \"$(readlink /proc/self/fd/0)\" = /dev/null ]; then echo stdin=null; fi; \
             grep -E '^Sig(Blk|Ign)' /proc/self/status; }} > {}.tmp\n\
             mv {}.tmp {}\n{}",
            out.display(),
            out.display(),
            out.display(),
            if stay { "trap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n" } else { "exit 3\n" }
        );
        let path = dir.join(if stay { "pppd-stay" } else { "pppd-exit" });
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        path
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("prol2tp-ppp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn wait_file(p: &Path) -> String {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < end {
            if let Ok(s) = std::fs::read_to_string(p) {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{} never written", p.display());
    }

    #[test]
    fn pppd_gets_the_socket_open_a_fixed_environment_and_its_exit_closes_the_session() {
        let dir = tempdir("exit");
        let mut ppp = PppUnix::new(fake_pppd(&dir, false));
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        // Not up yet: nothing to start.
        assert_eq!(ppp.start(1, 2, a.as_fd()).map_err(|e| e.raw_os_error()), Err(Some(libc::ENOENT)));
        ppp.session_up(1, 2, settings());
        // The daemon's thread has SIGTERM and SIGCHLD blocked (its signal
        // fd): pppd must not inherit that.
        let mut blocked = nix::sys::signal::SigSet::empty();
        blocked.add(Signal::SIGTERM);
        blocked.add(Signal::SIGCHLD);
        blocked.thread_block().unwrap();
        let started = ppp.start(1, 2, a.as_fd());
        blocked.thread_unblock().unwrap();
        let pid = started.unwrap();
        assert_eq!(ppp.pid(1, 2), Some(pid));
        assert_eq!(ppp.start(1, 2, a.as_fd()).map_err(|e| e.raw_os_error()), Err(Some(libc::EEXIST)));
        let out = wait_file(&dir.join("out"));
        assert!(out.contains("pppol2tp_lns_mode pppol2tp_tunnel_id 1 pppol2tp_session_id 2"), "{out}");
        assert!(out.contains("fd=open"), "the PPPoL2TP fd must reach pppd open: {out}");
        assert!(out.contains("stdin=null"), "{out}");
        assert!(out.contains("SigBlk:\t0000000000000000"), "no signal may be blocked in pppd: {out}");
        let env_line = out.lines().find(|l| l.starts_with("env=")).unwrap();
        assert!(!env_line.contains("HOME=") && env_line.contains("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), "{env_line}");
        // The parent's own fd keeps close-on-exec.
        let flags = nix::fcntl::fcntl(a.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        let exit = ppp.exited(&status).unwrap();
        assert_eq!(exit, PppExit { pid, tunnel_id: 1, session_id: 2, how: "exit status 3".into(), close_session: true });
        assert_eq!((ppp.children(), ppp.pid(1, 2)), (0, None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn closing_the_session_terminates_pppd_without_a_second_close() {
        let dir = tempdir("stop");
        let mut ppp = PppUnix::new(fake_pppd(&dir, true));
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        ppp.session_up(5, 6, settings());
        ppp.session_up(5, 7, settings());
        let pid = ppp.start(5, 6, a.as_fd()).unwrap();
        wait_file(&dir.join("out"));
        assert_eq!(ppp.stop_tunnel(5), vec![pid]);
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        let exit = ppp.exited(&status).unwrap();
        assert!(!exit.close_session, "{exit:?}");
        assert_eq!(ppp.start(5, 7, a.as_fd()).map_err(|e| e.raw_os_error()), Err(Some(libc::ENOENT)), "settings forgotten with the tunnel");
        // A child that is not ours is not reported.
        assert_eq!(ppp.exited(&WaitStatus::Exited(Pid::from_raw(1), 0)), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
