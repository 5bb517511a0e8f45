//! Daemon plumbing: the command line every daemon shares ([`Program`]),
//! detaching from the terminal and the pid file.
//!
//! Every daemon takes `-f` (foreground), `-c FILE`, `-n` (check the
//! configuration and exit), `-h` and `-v`, plus options of its own listed
//! between `-f` and `-c` ([`Program::command_line`]); its `main` then reads
//! the configuration ([`Program::load_config`], which also answers `-n`),
//! starts logging ([`Program::start_logging`]) and calls [`serve`].
//!
//! Start-up order of a daemon: parse options and check the configuration
//! (errors on the terminal), [`detach`] unless `-f`, create the
//! [`PidFile`], open sockets and set everything up (errors still on the
//! terminal), then [`Detached::ready`] and enter the loop. The command that
//! started the daemon returns only then: with status 0 when it is ready,
//! 1 when it failed to start, so an init system or a shell sees start-up
//! failures. [`detach`] forks, so it must run while the process has a
//! single thread.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, dup2, fork, setsid, ForkResult};

use crate::cli::Parsed;
use crate::log;

/// Ends the calling process at once, without running exit handlers or
/// destructors (the parent's half of a fork must not flush or clean up
/// state it shares with the child).
fn exit_now() -> ! {
    exit_now_with(0)
}

/// [`exit_now`] with a status.
fn exit_now_with(status: i32) -> ! {
    // SAFETY: _exit only terminates the process; it touches no Rust state.
    unsafe { libc::_exit(status) }
}

/// Forks, letting the parent exit with status 0 at once.
fn fork_and_exit_parent() -> io::Result<()> {
    // SAFETY: documented precondition of `daemonize`: the process has a
    // single thread, so the child's copy of the address space holds no lock
    // taken by another thread; the parent only calls `_exit`.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { .. } => exit_now(),
        ForkResult::Child => Ok(()),
    }
}

/// The detached daemon's promise to its starter: call [`Detached::ready`]
/// once set up. Dropping it instead (a start-up failure) makes the
/// starting process exit with status 1.
#[derive(Debug)]
pub struct Detached {
    notify: OwnedFd,
}

impl Detached {
    /// Start-up succeeded: stdin, stdout and stderr go to `/dev/null` and
    /// the starting process exits 0. Errors: opening `/dev/null` or `dup2`
    /// (the starter then exits 1).
    pub fn ready(self) -> io::Result<()> {
        let null = OpenOptions::new().read(true).write(true).open("/dev/null")?;
        for target in 0..=2 {
            dup2(null.as_raw_fd(), target).map_err(io::Error::from)?;
        }
        if null.as_raw_fd() <= 2 {
            // It already is one of the standard fds: keep it open.
            std::mem::forget(null);
        }
        let mut f = File::from(self.notify);
        f.write_all(&[READY])
    }
}

/// The octet a ready daemon writes to its starter.
const READY: u8 = b'R';

/// Detaches the process from its terminal, the classic way, but keeps the
/// starter waiting until the daemon is ready: fork (the parent waits on a
/// pipe and exits 0 when [`Detached::ready`] is called, 1 when the pipe
/// closes first), `setsid` (new session, no controlling terminal), fork
/// again (the daemon is not a session leader, so opening a tty can never
/// make it a controlling terminal), `chdir("/")`, umask 022. Returns in the
/// grandchild, whose pid differs from the caller's: create the [`PidFile`]
/// afterwards. Its stderr is still the starter's until `ready`, so
/// start-up errors can be printed there.
///
/// Must be called while the process has a single thread: before any thread
/// is spawned.
///
/// # Errors
/// The OS error of `pipe`, `fork`, `setsid` or `chdir` (reported by
/// whichever process got that far).
pub fn detach() -> io::Result<Detached> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    // SAFETY: documented precondition: the process has a single thread, so
    // the child's copy of the address space holds no lock taken by another
    // thread; the parent only reads the pipe and calls `_exit`.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { .. } => {
            drop(wr);
            let mut f = File::from(rd);
            let mut b = [0u8; 1];
            let ok = loop {
                match f.read(&mut b) {
                    Ok(1) => break b[0] == READY,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => break false,
                }
            };
            exit_now_with(if ok { 0 } else { 1 })
        }
        ForkResult::Child => drop(rd),
    }
    setsid().map_err(io::Error::from)?;
    fork_and_exit_parent()?;
    chdir("/").map_err(io::Error::from)?;
    umask(Mode::from_bits_truncate(0o022));
    Ok(Detached { notify: wr })
}

/// [`detach`] and at once [`Detached::ready`]: for a program with nothing
/// to set up that could fail.
///
/// # Errors
/// As [`detach`] and [`Detached::ready`].
pub fn daemonize() -> io::Result<()> {
    detach()?.ready()
}

/// An exclusive, `flock`ed pid file that is removed when dropped.
///
/// The lock, not the file's existence, says whether an instance runs: a
/// stale file left by a crash is taken over.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: Flock<File>,
    pid: u32,
}

/// Reads a pid (decimal, surrounding white space allowed) from `file`.
fn read_pid(file: &mut File) -> Option<i32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64).read_to_string(&mut s).ok()?;
    s.trim().parse::<i32>().ok().filter(|&p| p > 0)
}

impl PidFile {
    /// Creates (or takes over) the pid file at `path` (e.g.
    /// `/run/prol2tpd/prol2tpd.pid`): creates its parent directory with mode
    /// 0755 if missing, opens the file (mode 0644), takes an exclusive
    /// non-blocking `flock` and writes the current pid and a newline.
    ///
    /// # Errors
    /// `AlreadyExists` with the message `another instance is running (pid N)`
    /// (or `(pid unknown)`) when another process holds the lock; otherwise
    /// the OS error of creating the directory, opening, locking or writing,
    /// with the path in the message.
    pub fn create(path: impl AsRef<Path>) -> io::Result<PidFile> {
        let path = path.as_ref();
        let ctx = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(|e| ctx(e, "cannot create directory of"))?;
                // The umask may have cleared bits of 0755.
                fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(|e| ctx(e, "cannot set mode of directory of"))?;
            }
        }
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o644).open(path).map_err(|e| ctx(e, "cannot open pid file"))?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let holder = read_pid(&mut file).map(|p| p.to_string()).unwrap_or_else(|| "unknown".to_string());
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("another instance is running (pid {holder})")));
            }
            Err((_, errno)) => return Err(ctx(errno.into(), "cannot lock pid file")),
        };
        let pid = std::process::id();
        write_pid(&mut file, pid).map_err(|e| ctx(e, "cannot write pid file"))?;
        Ok(PidFile { path: path.to_path_buf(), file, pid })
    }

    /// Rewrites the file with the current pid, for a pid file created before
    /// [`daemonize`] (the lock is shared with the forked daemon, which keeps
    /// it once the parent has exited).
    ///
    /// # Errors
    /// The OS error of truncating or writing the file.
    pub fn update_pid(&mut self) -> io::Result<()> {
        self.pid = std::process::id();
        write_pid(&mut self.file, self.pid)
    }

    /// The pid written in the file.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Replaces the contents of `file` with `pid` and a newline.
fn write_pid(file: &mut File, pid: u32) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{pid}\n").as_bytes())?;
    file.flush()
}

impl Drop for PidFile {
    /// Removes the file, then releases the lock (closing the file).
    fn drop(&mut self) {
        // Only the process that wrote it removes it: a forked child that
        // inherited the value (and exits) must not.
        if self.pid == std::process::id() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The pid of the instance holding the pid file at `path`, or `None` if the
/// file is missing, unlocked (stale) or holds no valid pid. Used by `-n`
/// style checks and init scripts; for the daemon's own start-up use
/// [`PidFile::create`], which is race-free.
pub fn running_pid(path: impl AsRef<Path>) -> Option<i32> {
    let file = File::open(path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // We got the lock, so nobody holds it: stale (the lock is released
        // when `_unlocked` drops).
        Ok(_unlocked) => None,
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => read_pid(&mut file),
        Err(_) => None,
    }
}

/// The start-up every daemon of the suite shares once its configuration is
/// read and logging set up: unless `foreground`, [`detach`] and take the
/// pid file `pid_file`; build the daemon with `new` (sockets opened); tell a
/// waiting starter it is ready; log `start version=VERSION`; `run` it.
/// Returns the process's exit status: failure, with the reason logged and
/// (while a terminal can see it) printed as `PROGRAM: cannot start: …`, when
/// any step fails; `run`'s error is logged as `fatal`.
pub fn serve<D>(
    program: &str,
    version: &str,
    foreground: bool,
    pid_file: &Path,
    new: impl FnOnce() -> Result<D, String>,
    run: impl FnOnce(&mut D) -> Result<(), String>,
) -> ExitCode {
    use crate::log::{log, Level};
    let fail = |e: &dyn std::fmt::Display| {
        log(Level::Error, format_args!("cannot start: {e}"));
        eprintln!("{program}: cannot start: {e}");
        ExitCode::FAILURE
    };
    // Detached, the starter waits until the daemon is set up: a start-up
    // failure is printed on its terminal and makes it exit 1, as an init
    // system expects.
    let mut detached = None;
    let mut _pid = None;
    if !foreground {
        match detach() {
            Ok(d) => detached = Some(d),
            Err(e) => {
                eprintln!("{program}: cannot detach: {e}");
                return ExitCode::FAILURE;
            }
        }
        match PidFile::create(pid_file) {
            Ok(p) => _pid = Some(p),
            Err(e) => return fail(&e),
        }
    }
    let mut d = match new() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if let Some(detached) = detached {
        if let Err(e) = detached.ready() {
            log(Level::Error, format_args!("cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    }
    log(Level::Notice, format_args!("start version={version}"));
    match run(&mut d) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(Level::Error, format_args!("fatal: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// A daemon's names and the parts of its command line every daemon of
/// the suite shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// `prol2tpd`: the prefix of its messages, the word `-v` prints, the
    /// syslog ident.
    pub name: &'static str,
    /// The version `-v` prints and `start` logs (its `CARGO_PKG_VERSION`).
    pub version: &'static str,
    /// The usage line: above the option list of `-h`, after a usage error.
    pub usage: &'static str,
    /// The configuration file when `-c` is not given.
    pub default_config: &'static str,
    /// The help text of `-n` (what the check covers).
    pub check_help: &'static str,
}

/// The options every daemon has, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonArgs {
    /// `-f`: stay in the foreground and log to the terminal.
    pub foreground: bool,
    /// `-c FILE`, else [`Program::default_config`].
    pub config_path: PathBuf,
    /// `-n`: check the configuration and exit.
    pub check_only: bool,
}

impl Program {
    /// The daemon's options in the order `-h` lists them: `-f`, the
    /// daemon's own (added by `own`), `-c FILE`, `-n`, `-h`, `-v`.
    pub fn options(&self, own: impl FnOnce(&mut getopts::Options)) -> getopts::Options {
        let mut o = getopts::Options::new();
        o.optflag("f", "", "run in the foreground, log to the terminal");
        own(&mut o);
        o.optopt("c", "", "configuration file", "FILE");
        o.optflag("n", "", self.check_help);
        o.optflag("h", "", "print this help");
        o.optflag("v", "", "print the version");
        o
    }

    /// Parses `args` (without the program name) with `o` ([`Program::options`]):
    /// `-h` (the option list under the usage line) and `-v` (`NAME
    /// VERSION`) are [`Parsed::Print`]. Errors: getopts' message or
    /// `unexpected argument 'WORD'`, each followed by a newline and the
    /// usage line.
    pub fn parse(&self, o: &getopts::Options, args: &[String]) -> Result<Parsed<(CommonArgs, getopts::Matches)>, String> {
        let m = o.parse(args).map_err(|e| format!("{e}\n{}", self.usage))?;
        if m.opt_present("h") {
            return Ok(Parsed::Print(o.usage(self.usage)));
        }
        if m.opt_present("v") {
            return Ok(Parsed::Print(format!("{} {}", self.name, self.version)));
        }
        if let Some(extra) = m.free.first() {
            return Err(format!("unexpected argument '{extra}'\n{}", self.usage));
        }
        let common = CommonArgs {
            foreground: m.opt_present("f"),
            config_path: PathBuf::from(m.opt_str("c").unwrap_or_else(|| self.default_config.to_string())),
            check_only: m.opt_present("n"),
        };
        Ok(Parsed::Run((common, m)))
    }

    /// The command line as the daemon wants it: `own_options` adds the
    /// daemon's own options ([`Program::options`]), `own` reads them.
    ///
    /// # Errors
    /// The exit status, the text already printed: 0 after `-h` or `-v`
    /// (stdout); 1 after a usage error or one of `own`'s (stderr, as
    /// `NAME: ERROR`).
    pub fn command_line<T>(
        &self,
        args: &[String],
        own_options: impl FnOnce(&mut getopts::Options),
        own: impl FnOnce(&CommonArgs, &getopts::Matches) -> Result<T, String>,
    ) -> Result<(CommonArgs, T), ExitCode> {
        let o = self.options(own_options);
        let parsed = self.parse(&o, args).and_then(|p| p.try_map(|(common, m)| own(&common, &m).map(|t| (common, t))));
        match parsed {
            Ok(Parsed::Run(r)) => Ok(r),
            Ok(Parsed::Print(s)) => {
                println!("{s}");
                Err(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: {e}", self.name);
                Err(ExitCode::FAILURE)
            }
        }
    }

    /// Reads the configuration with `load`; with `-n` (`check_only`)
    /// prints `report` of it on stdout (as it is, no newline added) and
    /// stops there.
    ///
    /// # Errors
    /// The exit status, the text already printed: 1 when `load` failed
    /// (its message alone on stderr: it names the file and line); 0 after
    /// the `-n` report.
    pub fn load_config<C>(&self, check_only: bool, load: impl FnOnce() -> Result<C, String>, report: impl FnOnce(&C) -> String) -> Result<C, ExitCode> {
        let cfg = load().map_err(|e| {
            eprintln!("{e}");
            ExitCode::FAILURE
        })?;
        if check_only {
            print!("{}", report(&cfg));
            return Err(ExitCode::SUCCESS);
        }
        Ok(cfg)
    }

    /// Starts logging: on the terminal when `foreground`, else to syslog
    /// with `facility` and the program's name; at most `level`.
    ///
    /// # Errors
    /// Exit status 1 after `NAME: cannot start logging: ERROR` on stderr.
    pub fn start_logging(&self, foreground: bool, facility: log::Facility, level: log::Level) -> Result<(), ExitCode> {
        let target = if foreground { log::Target::Stderr } else { log::Target::Syslog { facility, ident: self.name.into() } };
        log::init(target, level).map_err(|e| {
            eprintln!("{}: cannot start logging: {e}", self.name);
            ExitCode::FAILURE
        })
    }

    /// [`serve`] under this program's name and version.
    pub fn serve<D>(
        &self,
        foreground: bool,
        pid_file: &Path,
        new: impl FnOnce() -> Result<D, String>,
        run: impl FnOnce(&mut D) -> Result<(), String>,
    ) -> ExitCode {
        serve(self.name, self.version, foreground, pid_file, new, run)
    }
}

/// What `prol2tpd -n` and `propppd -n` print when the configuration is
/// good: `Using config file: PATH` and `Config file OK.`, one line each.
pub fn config_ok(path: &Path) -> String {
    format!("Using config file: {}\nConfig file OK.\n", path.display())
}

/// `-L FACILITY`: `daemon` or `local0`..`local7`; `LOG_DAEMON` when the
/// option is absent. Errors: `-L: ` and why.
pub fn facility_arg(m: &getopts::Matches) -> Result<log::Facility, String> {
    match m.opt_str("L") {
        Some(f) => log::parse_facility(&f).map_err(|e| format!("-L: {e}")),
        None => Ok(log::Facility::LOG_DAEMON),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Program = Program {
        name: "xd",
        version: "1.2.3",
        usage: "Usage: xd [-f] [-x] [-c config-file] [-n] [-h] [-v]",
        default_config: "/etc/xd.conf",
        check_help: "check and exit",
    };

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_line_parses() {
        let o = PROGRAM.options(|o| {
            o.optflag("x", "", "the daemon's own");
        });
        let run = |s: &str| match PROGRAM.parse(&o, &words(s)) {
            Ok(Parsed::Run((common, m))) => (common, m.opt_present("x")),
            other => panic!("{s}: {other:?}"),
        };
        let common = |foreground, path: &str, check_only| CommonArgs { foreground, config_path: PathBuf::from(path), check_only };
        assert_eq!(run(""), (common(false, "/etc/xd.conf", false), false));
        assert_eq!(run("-f -x -c /tmp/a.conf -n"), (common(true, "/tmp/a.conf", true), true));
        assert!(matches!(PROGRAM.parse(&o, &words("-n -v")), Ok(Parsed::Print(v)) if v == "xd 1.2.3"));
        let Ok(Parsed::Print(help)) = PROGRAM.parse(&o, &words("-h -n")) else { panic!("no help") };
        assert!(help.starts_with("Usage: xd [-f]"), "{help}");
        let order: Vec<usize> = ["-f ", "-x ", "-c FILE", "-n ", "-h ", "-v "].iter().map(|opt| help.find(opt).unwrap_or(usize::MAX)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{help}");
        assert!(help.contains("check and exit"), "{help}");
        assert_eq!(PROGRAM.parse(&o, &words("-q")).err(), Some(format!("Unrecognized option: 'q'\n{}", PROGRAM.usage)));
        assert_eq!(PROGRAM.parse(&o, &words("extra")).err(), Some(format!("unexpected argument 'extra'\n{}", PROGRAM.usage)));
        assert_eq!(
            PROGRAM.command_line(
                &words("-x"),
                |o| {
                    o.optflag("x", "", "");
                },
                |c, m| Ok((c.foreground, m.opt_present("x")))
            ),
            Ok((common(false, "/etc/xd.conf", false), (false, true)))
        );
        assert_eq!(PROGRAM.command_line(&words(""), |_| (), |_, _| Err::<(), _>("own".to_string())), Err(ExitCode::FAILURE));
    }

    #[test]
    fn config_check_and_facility() {
        assert_eq!(config_ok(Path::new("/etc/xd.conf")), "Using config file: /etc/xd.conf\nConfig file OK.\n");
        assert_eq!(PROGRAM.load_config(false, || Ok(5), |_| unreachable!()), Ok(5));
        assert_eq!(PROGRAM.load_config(false, || Err::<u8, _>("x.conf:1: bad".into()), |_| String::new()), Err(ExitCode::FAILURE));
        assert_eq!(PROGRAM.load_config(true, || Ok(5), |n| format!("{n}\n")), Err(ExitCode::SUCCESS));
        let mut o = getopts::Options::new();
        o.optopt("L", "", "", "F");
        let facility = |s: &str| o.parse(words(s)).map_err(|e| e.to_string()).and_then(|m| facility_arg(&m));
        assert!(matches!(facility(""), Ok(log::Facility::LOG_DAEMON)));
        assert!(matches!(facility("-L local3"), Ok(log::Facility::LOG_LOCAL3)));
        assert!(facility("-L bogus").is_err_and(|e| e.starts_with("-L: ")));
    }
    use std::os::unix::fs::MetadataExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("common-daemon-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn pid_file_lifecycle() {
        let dir = temp_dir("life");
        let path = dir.join("run/prol2tpd/prol2tpd.pid");
        let me = std::process::id();
        let pf = PidFile::create(&path).unwrap();
        assert_eq!(pf.pid(), me);
        assert_eq!(pf.path(), path);
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        let parent_mode = fs::metadata(path.parent().unwrap()).unwrap().mode();
        assert_eq!(parent_mode & 0o777, 0o755);
        assert_eq!(running_pid(&path), Some(me as i32));

        let err = PidFile::create(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(err.to_string(), format!("another instance is running (pid {me})"));
        // The failed attempt did not clobber the file.
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));

        drop(pf);
        assert!(!path.exists());
        assert_eq!(running_pid(&path), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn stale_pid_file_is_taken_over() {
        let dir = temp_dir("stale");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pid");
        fs::write(&path, "999999999 and a long tail\n").unwrap();
        assert_eq!(running_pid(&path), None, "unlocked file is stale");
        let mut pf = PidFile::create(&path).unwrap();
        let me = std::process::id();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        pf.update_pid().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        drop(pf);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn locked_but_unreadable_pid_reports_unknown() {
        let dir = temp_dir("garbage");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.pid");
        fs::write(&path, "garbage").unwrap();
        let holder = Flock::lock(File::open(&path).unwrap(), FlockArg::LockExclusiveNonblock).unwrap();
        let err = PidFile::create(&path).unwrap_err();
        assert_eq!(err.to_string(), "another instance is running (pid unknown)");
        assert_eq!(running_pid(&path), None);
        drop(holder);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_directory_error_names_the_path() {
        // A regular file in the way of the parent directory.
        let dir = temp_dir("blocked");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("file"), "").unwrap();
        let path = dir.join("file/sub/x.pid");
        let err = PidFile::create(&path).unwrap_err();
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    /// Environment variable that makes `daemonize_helper` do its work.
    const HELPER_ENV: &str = "COMMON_DAEMONIZE_HELPER";

    /// Run in a child process by `daemonize_detaches`: daemonizes and writes
    /// a report line to a duplicate of its original stdout.
    #[test]
    #[ignore = "helper run in a child process by daemonize_detaches"]
    fn daemonize_helper() {
        let Some(mode) = std::env::var_os(HELPER_ENV) else {
            return;
        };
        if mode == "fail" {
            let detached = detach().unwrap();
            eprintln!("REPORT cannot start: pid={}", std::process::id());
            drop(detached);
            exit_now();
        }
        use std::os::fd::AsFd;
        let report = io::stdout().as_fd().try_clone_to_owned().unwrap();
        let started_as = std::process::id();
        daemonize().unwrap();
        let pid = std::process::id();
        let sid = nix::unistd::getsid(None).unwrap().as_raw();
        let cwd = std::env::current_dir().unwrap();
        let mask = umask(Mode::from_bits_truncate(0o022)).bits();
        let fd0 = fs::read_link("/proc/self/fd/0").unwrap();
        let fd2 = fs::read_link("/proc/self/fd/2").unwrap();
        let mut out = File::from(report);
        writeln!(out, "\nREPORT started={started_as} pid={pid} sid={sid} cwd={} umask={mask:o} fd0={} fd2={}", cwd.display(), fd0.display(), fd2.display())
            .unwrap();
        exit_now();
    }

    #[test]
    fn daemonize_detaches() {
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["--ignored", "--exact", "daemon::tests::daemonize_helper"])
            .args(["--test-threads=1", "--nocapture"])
            .env(HELPER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // EOF comes when the grandchild has written its report and exited.
        let mut text = String::new();
        child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
        assert!(child.wait().unwrap().success());
        let line = text.lines().find_map(|l| l.strip_prefix("REPORT ")).unwrap_or_else(|| panic!("no report in {text:?}"));
        let field = |k: &str| line.split(' ').find_map(|w| w.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("no {k} in {line}")).to_string();
        let started: i32 = field("started").parse().unwrap();
        let pid: i32 = field("pid").parse().unwrap();
        let sid: i32 = field("sid").parse().unwrap();
        assert_ne!(pid, started, "daemon runs in a forked process");
        assert_ne!(sid, pid, "daemon is not a session leader");
        assert_ne!(sid, started, "setsid made a new session");
        assert_eq!(field("cwd"), "/");
        assert_eq!(field("umask"), "22");
        assert_eq!(field("fd0"), "/dev/null");
        assert_eq!(field("fd2"), "/dev/null");
    }

    /// A daemon that fails after detaching (drops its `Detached`) makes the
    /// command that started it exit 1, and its error reaches the starter's
    /// stderr.
    #[test]
    fn start_failure_after_detach_exits_1() {
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["--ignored", "--exact", "daemon::tests::daemonize_helper"])
            .args(["--test-threads=1", "--nocapture"])
            .env(HELPER_ENV, "fail")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut text = String::new();
        child.stderr.take().unwrap().read_to_string(&mut text).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{text}");
        assert!(text.contains("REPORT cannot start: pid="), "{text}");
    }
}
