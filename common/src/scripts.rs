//! Hook-script runner shared by the daemons' script helpers
//! (`prol2tp-scriptd`, later propppd's and proacd's).
//!
//! Two layers:
//!
//! - [`Scheduler`], pure data (no I/O, no clock): jobs queue per *key* (a
//!   tunnel or session instance handle) in FIFO order; at most one job per
//!   key runs at a time, at most `max_running` over all keys, and at most
//!   `max_queued` jobs wait (a push beyond that is refused). Keys take
//!   turns round-robin, so one instance with a long backlog does not starve
//!   the others.
//! - [`Runner`], which executes what the scheduler allows with
//!   `std::process::Command`: environment cleared and replaced by the
//!   job's, stdin/stdout/stderr on `/dev/null`, each script in its own
//!   process group, the signal mask and SIGPIPE disposition reset before
//!   `exec`. The owner's event loop calls [`Runner::on_sigchld`] on SIGCHLD
//!   (it reaps only the runner's own children, with `waitpid(WNOHANG)`;
//!   an owner that reaps every child itself hands each status to
//!   [`Runner::child_reaped`] instead) and
//!   [`Runner::expire`] at [`Runner::next_deadline`], which SIGKILLs the
//!   process group of a script that outlived its timeout.
//!
//! Spawning happens only in [`Runner::start_ready`] (called by every
//! method that may free a slot), and only when the scheduler hands out a
//! job: the limit is the only path to a new process, so a burst of
//! thousands of events cannot fork-bomb the machine.
//!
//! Log lines (through [`crate::log`]), with `<context>` the job's
//! `key=value` context such as `tid=5 sid=7`:
//! `script start name=session-up <context> pid=123` (debug),
//! `script exit name=session-up <context> status=0 duration_ms=12` (info
//! when 0, notice otherwise), `script exit ... signal=SIGKILL
//! duration_ms=..` (notice), `script timeout name=.. <context> pid=..
//! timeout_s=..` (warning), `script spawn failed name=.. <context>
//! path=.. error=".."` (error).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::log::Level;

/// One script to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Serialisation key: jobs with the same key run one at a time, in push
    /// order (the tunnel / session instance handle).
    pub key: u64,
    /// Script name for log lines (`session-up`).
    pub name: String,
    /// Further `key=value` pairs for log lines (`tid=5 sid=7`); may be
    /// empty.
    pub context: String,
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments (without `argv[0]`).
    pub args: Vec<String>,
    /// Its whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
}

/// [`Scheduler::push`] refused a job: `max_queued` jobs already wait. The
/// job is handed back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueFull(pub Box<Job>);

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "script queue full name={} key={}", self.0.name, self.0.key)
    }
}

impl std::error::Error for QueueFull {}

/// Per-key FIFO queues under a global running limit (see the module
/// documentation). Pure data: the caller starts what
/// [`Scheduler::next_to_start`] returns and reports
/// [`Scheduler::finished`].
#[derive(Debug)]
pub struct Scheduler {
    /// Waiting jobs of each key that has any.
    queues: HashMap<u64, VecDeque<Job>>,
    /// Keys with waiting jobs and none running, in turn order.
    ready: VecDeque<u64>,
    /// Keys with a job running.
    running: HashSet<u64>,
    /// Total waiting jobs.
    queued: usize,
    max_running: usize,
    max_queued: usize,
}

impl Scheduler {
    /// A scheduler that lets `max_running` jobs run at once (at least 1;
    /// 0 is taken as 1) and holds at most `max_queued` waiting jobs.
    pub fn new(max_running: usize, max_queued: usize) -> Scheduler {
        Scheduler { queues: HashMap::new(), ready: VecDeque::new(), running: HashSet::new(), queued: 0, max_running: max_running.max(1), max_queued }
    }

    /// Queues `job` behind the other jobs of its key.
    ///
    /// # Errors
    /// [`QueueFull`] (with the job) when `max_queued` jobs already wait.
    pub fn push(&mut self, job: Job) -> Result<(), QueueFull> {
        if self.queued >= self.max_queued {
            return Err(QueueFull(Box::new(job)));
        }
        let key = job.key;
        let q = self.queues.entry(key).or_default();
        let was_empty = q.is_empty();
        q.push_back(job);
        self.queued += 1;
        if was_empty && !self.running.contains(&key) {
            self.ready.push_back(key);
        }
        Ok(())
    }

    /// The next job to start, if the running limit allows one and a key
    /// without a running job has one waiting; it is then counted as
    /// running until [`Scheduler::finished`] is called for its key. Keys
    /// take turns in the order they became ready.
    pub fn next_to_start(&mut self) -> Option<Job> {
        if self.running.len() >= self.max_running {
            return None;
        }
        while let Some(key) = self.ready.pop_front() {
            let Some(q) = self.queues.get_mut(&key) else { continue };
            let Some(job) = q.pop_front() else {
                self.queues.remove(&key);
                continue;
            };
            if q.is_empty() {
                self.queues.remove(&key);
            }
            self.queued = self.queued.saturating_sub(1);
            self.running.insert(key);
            return Some(job);
        }
        None
    }

    /// The running job of `key` has ended (or could not be started): the
    /// key's next job, if any, becomes ready (at the back of the turn
    /// order). Returns false if no job of `key` was running.
    pub fn finished(&mut self, key: u64) -> bool {
        if !self.running.remove(&key) {
            return false;
        }
        if self.queues.get(&key).is_some_and(|q| !q.is_empty()) {
            self.ready.push_back(key);
        }
        true
    }

    /// Jobs counted as running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Jobs waiting.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Drops every waiting job; returns how many there were.
    pub fn clear_queued(&mut self) -> usize {
        let n = self.queued;
        self.queues.clear();
        self.ready.clear();
        self.queued = 0;
        n
    }
}

/// A started script.
#[derive(Debug)]
struct Child {
    key: u64,
    name: String,
    context: String,
    start: Instant,
    deadline: Instant,
    /// SIGKILL sent to its group at the timeout; waiting to be reaped.
    killed: bool,
}

/// How a script ended, as returned by [`Runner::on_sigchld`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Its process id.
    pub pid: i32,
    /// Its job's key.
    pub key: u64,
    /// Its job's name.
    pub name: String,
    /// Exit status, when it exited.
    pub status: Option<i32>,
    /// Signal that ended it (e.g. `SIGKILL` after a timeout), when killed.
    pub signal: Option<&'static str>,
    /// True when the runner killed it at its timeout.
    pub timed_out: bool,
    /// Run time, ms.
    pub duration_ms: u64,
}

/// Runs [`Job`]s under a [`Scheduler`] with a per-script timeout (see the
/// module documentation).
#[derive(Debug)]
pub struct Runner {
    sched: Scheduler,
    timeout: Duration,
    children: HashMap<i32, Child>,
}

impl Runner {
    /// A runner allowing `max_running` scripts at once (at least 1),
    /// `max_queued` waiting, each killed after `timeout`.
    pub fn new(max_running: usize, max_queued: usize, timeout: Duration) -> Runner {
        Runner { sched: Scheduler::new(max_running, max_queued), timeout, children: HashMap::new() }
    }

    /// Queues `job` and starts whatever the limits allow.
    ///
    /// # Errors
    /// [`QueueFull`] when the queue is at its bound (nothing is logged:
    /// the caller knows what the job was).
    pub fn push(&mut self, job: Job, now: Instant) -> Result<(), QueueFull> {
        self.sched.push(job)?;
        self.start_ready(now);
        Ok(())
    }

    /// Starts jobs while the scheduler hands them out. A job that cannot
    /// be spawned (`ENOENT`, `EACCES`, `ENOEXEC` ...) is logged and counts
    /// as finished, so the next job of its key becomes ready.
    pub fn start_ready(&mut self, now: Instant) {
        while let Some(job) = self.sched.next_to_start() {
            match spawn(&job) {
                Ok(pid) => {
                    crate::log_debug!("script start {} pid={pid}", label(&job.name, &job.context));
                    let deadline = now.checked_add(self.timeout).unwrap_or(now);
                    let child = Child { key: job.key, name: job.name, context: job.context, start: now, deadline, killed: false };
                    self.children.insert(pid, child);
                }
                Err(e) => {
                    crate::log_error!("script spawn failed {} path={} error=\"{e}\"", label(&job.name, &job.context), job.program.display());
                    self.sched.finished(job.key);
                }
            }
        }
    }

    /// SIGCHLD arrived: reaps (without blocking) those of the runner's
    /// children that have ended, logs each exit, starts the jobs that can
    /// now run and returns the exits. Children of others are not touched.
    pub fn on_sigchld(&mut self, now: Instant) -> Vec<Exit> {
        let pids: Vec<i32> = self.children.keys().copied().collect();
        let mut exits = Vec::new();
        for pid in pids {
            let status = match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => continue,
                Ok(status) => Some(status),
                // ECHILD: reaped by someone else; it is gone all the same.
                Err(_) => None,
            };
            if let Some(exit) = self.finish(pid, status.as_ref(), now) {
                exits.push(exit);
            }
        }
        self.start_ready(now);
        exits
    }

    /// For an owner that reaps every child itself (`waitpid(-1)`): takes
    /// one reaped status; if it is the end of one of the runner's scripts,
    /// logs it, starts the jobs that can now run and returns the exit.
    /// Other pids and non-final statuses (stopped, continued) give `None`.
    pub fn child_reaped(&mut self, status: &WaitStatus, now: Instant) -> Option<Exit> {
        let pid = status.pid()?.as_raw();
        if !self.children.contains_key(&pid) {
            return None;
        }
        let exit = self.finish(pid, Some(status), now)?;
        self.start_ready(now);
        Some(exit)
    }

    /// Forgets an ended child (`status` `None`: reaped elsewhere, status
    /// unknown) and tells the scheduler; `None` for a non-final status.
    fn finish(&mut self, pid: i32, status: Option<&WaitStatus>, now: Instant) -> Option<Exit> {
        let (code, signal) = match status {
            Some(WaitStatus::Exited(_, code)) => (Some(*code), None),
            Some(WaitStatus::Signaled(_, sig, _)) => (None, Some(sig.as_str())),
            Some(_) => return None,
            None => (None, None),
        };
        let c = self.children.remove(&pid)?;
        self.sched.finished(c.key);
        let duration_ms = u64::try_from(now.saturating_duration_since(c.start).as_millis()).unwrap_or(u64::MAX);
        let exit = Exit { pid, key: c.key, name: c.name, status: code, signal, timed_out: c.killed, duration_ms };
        log_exit(&exit, &c.context);
        Some(exit)
    }

    /// Kills (SIGKILL to the process group) every script whose deadline is
    /// at or before `now`, and logs `script timeout`. The script stays
    /// counted as running until it is reaped, so the next script of its
    /// key starts only after it is gone.
    pub fn expire(&mut self, now: Instant) {
        let timeout_s = self.timeout.as_secs_f64();
        for (pid, c) in self.children.iter_mut().filter(|(_, c)| !c.killed && c.deadline <= now) {
            c.killed = true;
            crate::log_warn!("script timeout {} pid={pid} timeout_s={timeout_s}", label(&c.name, &c.context));
            // ESRCH: the group is already gone; SIGCHLD will tell.
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }

    /// The earliest deadline of a running script not yet killed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.children.values().filter(|c| !c.killed).map(|c| c.deadline).min()
    }

    /// Shutting down: drops the waiting jobs and SIGKILLs every running
    /// script's process group (they are reaped by later
    /// [`Runner::on_sigchld`] calls, or by init once the owner has
    /// exited). Returns (killed, dropped).
    pub fn kill_all(&mut self) -> (usize, usize) {
        let dropped = self.sched.clear_queued();
        let mut killed = 0;
        for (pid, c) in self.children.iter_mut() {
            c.killed = true;
            killed += 1;
            let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        (killed, dropped)
    }

    /// Scripts started and not yet reaped.
    pub fn running(&self) -> usize {
        self.children.len()
    }

    /// Jobs waiting to start.
    pub fn queued(&self) -> usize {
        self.sched.queued()
    }

    /// True when nothing runs and nothing waits.
    pub fn is_idle(&self) -> bool {
        self.children.is_empty() && self.sched.queued() == 0
    }
}

/// `name=<name>` followed by the job's context, if any.
fn label(name: &str, context: &str) -> String {
    if context.is_empty() {
        format!("name={name}")
    } else {
        format!("name={name} {context}")
    }
}

/// Logs one exit: info for status 0, notice otherwise.
fn log_exit(e: &Exit, context: &str) {
    let (level, how) = match (e.status, e.signal) {
        (Some(0), _) => (Level::Info, "status=0".to_string()),
        (Some(code), _) => (Level::Notice, format!("status={code}")),
        (None, Some(sig)) => (Level::Notice, format!("signal={sig}")),
        (None, None) => (Level::Notice, "status=unknown".to_string()),
    };
    let timed_out = if e.timed_out { " timed_out=yes" } else { "" };
    crate::log::log(level, format_args!("script exit {} {how} duration_ms={}{timed_out}", label(&e.name, context), e.duration_ms));
}

/// Starts `job` as described in the module documentation; returns its pid.
fn spawn(job: &Job) -> io::Result<i32> {
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args).env_clear().envs(job.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    reset_signals_before_exec(&mut cmd);
    let child = cmd.spawn()?;
    // The Child handle is dropped without waiting: on_sigchld reaps it.
    i32::try_from(child.id()).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// Makes `cmd`'s child undo [`crate::signal::Signals::new`] before `exec`
/// (unblock SIGHUP/SIGTERM/SIGINT/SIGCHLD, default SIGPIPE), so that a
/// program started by a daemon gets the signals a normal process gets.
pub fn reset_signals_before_exec(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only
    // calls `reset_in_child`, which makes async-signal-safe calls
    // (sigaction, sigemptyset/sigaddset on a stack set, pthread_sigmask)
    // and allocates nothing.
    unsafe {
        cmd.pre_exec(crate::signal::reset_in_child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: u64, name: &str) -> Job {
        Job { key, name: name.to_string(), context: String::new(), program: PathBuf::from("/bin/true"), args: vec![], env: vec![] }
    }

    /// Starts everything allowed; returns the names started.
    fn start_all(s: &mut Scheduler) -> Vec<String> {
        std::iter::from_fn(|| s.next_to_start()).map(|j| j.name).collect()
    }

    #[test]
    fn per_key_fifo_one_at_a_time() {
        let mut s = Scheduler::new(10, 100);
        for n in ["a1", "a2", "a3"] {
            s.push(job(1, n)).unwrap();
        }
        assert_eq!(start_all(&mut s), vec!["a1"]);
        assert_eq!((s.running(), s.queued()), (1, 2));
        assert!(s.next_to_start().is_none(), "second job of a running key must wait");
        assert!(s.finished(1));
        assert_eq!(start_all(&mut s), vec!["a2"]);
        assert!(s.finished(1));
        assert_eq!(start_all(&mut s), vec!["a3"]);
        assert!(s.finished(1));
        assert!(!s.finished(1), "nothing of key 1 runs any more");
        assert_eq!((s.running(), s.queued()), (0, 0));
        assert!(s.next_to_start().is_none());
    }

    #[test]
    fn running_limit_over_all_keys() {
        let mut s = Scheduler::new(2, 100);
        for k in 1..=5 {
            s.push(job(k, &format!("k{k}"))).unwrap();
        }
        assert_eq!(start_all(&mut s), vec!["k1", "k2"]);
        assert_eq!(s.running(), 2);
        assert!(s.finished(2));
        assert_eq!(start_all(&mut s), vec!["k3"]);
        assert!(s.finished(1));
        assert!(s.finished(3));
        assert_eq!(start_all(&mut s), vec!["k4", "k5"]);
        assert_eq!((s.running(), s.queued()), (2, 0));
    }

    #[test]
    fn zero_limit_is_one() {
        let mut s = Scheduler::new(0, 10);
        s.push(job(1, "a")).unwrap();
        s.push(job(2, "b")).unwrap();
        assert_eq!(start_all(&mut s), vec!["a"]);
    }

    #[test]
    fn busy_key_does_not_starve_others() {
        let mut s = Scheduler::new(1, 1000);
        for i in 0..50 {
            s.push(job(1, &format!("busy{i}"))).unwrap();
        }
        s.push(job(2, "other")).unwrap();
        s.push(job(3, "third")).unwrap();
        let mut order = Vec::new();
        while let Some(j) = s.next_to_start() {
            order.push(j.name.clone());
            s.finished(j.key);
        }
        assert_eq!(order.len(), 52);
        // Round-robin: the two other keys run within the first turns.
        assert_eq!(&order[..4], &["busy0", "other", "third", "busy1"]);
        let busy: Vec<&String> = order.iter().filter(|n| n.starts_with("busy")).collect();
        let want: Vec<String> = (0..50).map(|i| format!("busy{i}")).collect();
        assert_eq!(busy, want.iter().collect::<Vec<_>>(), "per-key order kept");
    }

    #[test]
    fn queue_is_bounded() {
        let mut s = Scheduler::new(1, 3);
        for i in 0..3 {
            s.push(job(i, "q")).unwrap();
        }
        let err = s.push(job(9, "over")).unwrap_err();
        assert_eq!(err.0.name, "over");
        assert!(err.to_string().contains("key=9"));
        assert_eq!(s.queued(), 3);
        // Starting one frees a queue slot.
        assert!(s.next_to_start().is_some());
        s.push(job(9, "fits")).unwrap();
        assert_eq!(s.queued(), 3);
        assert_eq!(s.clear_queued(), 3);
        assert_eq!((s.running(), s.queued()), (1, 0));
        assert!(s.next_to_start().is_none());
    }

    #[test]
    fn finished_unknown_key_is_a_no_op() {
        let mut s = Scheduler::new(1, 10);
        assert!(!s.finished(42));
        s.push(job(1, "a")).unwrap();
        assert!(!s.finished(1), "queued but not running");
        assert_eq!(start_all(&mut s), vec!["a"]);
    }

    /// Waits (bounded) until the runner has reaped `n` exits.
    fn reap(r: &mut Runner, n: usize) -> Vec<Exit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        while out.len() < n && Instant::now() < deadline {
            let now = Instant::now();
            r.expire(now);
            out.extend(r.on_sigchld(now));
            std::thread::sleep(Duration::from_millis(5));
        }
        out
    }

    #[test]
    fn runner_spawns_reaps_and_times_out() {
        crate::log::init(crate::log::Target::Capture, Level::Debug).unwrap();
        let mut r = Runner::new(4, 100, Duration::from_millis(200));
        let sh = |key: u64, name: &str, script: &str| Job {
            key,
            name: name.to_string(),
            context: format!("k={key}"),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: vec![],
        };
        let now = Instant::now();
        r.push(sh(1, "ok", "exit 0"), now).unwrap();
        r.push(sh(2, "fail", "exit 3"), now).unwrap();
        r.push(sh(3, "hang", "sleep 1000"), now).unwrap();
        r.push(sh(3, "after", "exit 0"), now).unwrap();
        let missing = Job { program: PathBuf::from("/nonexistent/script"), ..sh(4, "missing", "") };
        r.push(missing, now).unwrap();
        assert_eq!((r.running(), r.queued()), (3, 1));
        assert!(r.next_deadline().is_some());
        let exits = reap(&mut r, 4);
        let by_name = |n: &str| exits.iter().find(|e| e.name == n).cloned();
        assert_eq!(by_name("ok").map(|e| e.status), Some(Some(0)));
        assert_eq!(by_name("fail").map(|e| e.status), Some(Some(3)));
        let hang = by_name("hang").unwrap();
        assert!(hang.timed_out);
        assert_eq!(hang.signal, Some("SIGKILL"));
        assert_eq!(by_name("after").map(|e| e.status), Some(Some(0)));
        let pos = |n: &str| exits.iter().position(|e| e.name == n);
        assert!(pos("hang") < pos("after"), "the key's next job waits for the killed one");
        assert!(r.is_idle());
        assert_eq!(r.next_deadline(), None);
        let log = crate::log::take_captured().join("\n");
        assert!(log.contains("error: script spawn failed name=missing k=4 path=/nonexistent/script"), "{log}");
        assert!(log.contains("info: script exit name=ok k=1 status=0 duration_ms="), "{log}");
        assert!(log.contains("notice: script exit name=fail k=2 status=3 duration_ms="), "{log}");
        assert!(log.contains("warning: script timeout name=hang k=3 pid="), "{log}");
        assert!(log.contains("notice: script exit name=hang k=3 signal=SIGKILL duration_ms="), "{log}");
    }

    #[test]
    fn owner_reaping_everything_reports_through_child_reaped() {
        crate::log::init(crate::log::Target::Capture, Level::Info).unwrap();
        let mut r = Runner::new(1, 10, Duration::from_secs(30));
        let job = |key: u64, name: &str| Job {
            key,
            name: name.to_string(),
            context: String::new(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "exit 4".into()],
            env: vec![],
        };
        r.push(job(1, "first"), Instant::now()).unwrap();
        r.push(job(2, "second"), Instant::now()).unwrap();
        assert_eq!((r.running(), r.queued()), (1, 1));
        let pid = *r.children.keys().next().unwrap();
        // The owner reaps (blocking here for the test) and hands the status on.
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        let other = WaitStatus::Exited(Pid::from_raw(1), 0);
        assert_eq!(r.child_reaped(&other, Instant::now()), None, "not one of ours");
        let exit = r.child_reaped(&status, Instant::now()).unwrap();
        assert_eq!((exit.name.as_str(), exit.status, exit.pid), ("first", Some(4), pid));
        assert_eq!((r.running(), r.queued()), (1, 0), "the queued job started");
        let second = *r.children.keys().next().unwrap();
        let _ = waitpid(Pid::from_raw(second), None);
        assert!(crate::log::take_captured().iter().any(|l| l.starts_with("notice: script exit name=first status=4")));
    }
}
