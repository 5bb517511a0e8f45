//! The process-wide logger: syslog, the terminal, or an in-memory buffer.
//!
//! Every daemon is single-threaded, so the logger state is a thread-local:
//! [`init`] configures the calling thread (the daemon's only thread). This
//! also isolates parallel unit tests, each of which runs on its own thread and
//! may [`init`] a [`Target::Capture`] logger and read back its own lines with
//! [`take_captured`]. A thread that never called [`init`] logs to stderr at
//! [`Level::Info`].
//!
//! Lines are one line of greppable `key=value` text supplied by the caller
//! (STYLE.md rule 12), e.g. `recv msg=SCCRQ tunnel_id=5 peer=192.0.2.1:1701`;
//! carriage returns and newlines in them are replaced by spaces.
//!
//! Trace lines ([`trace`], the [`trace!`](crate::trace!) macro) are written
//! when the instance's `trace_flags` contain the line's category; they carry
//! a `trace=<category>` prefix and go out with syslog severity `debug`, but
//! are *not* subject to the level filter: enabling a category is the filter.
//! The daemon's own trace, not tied to an instance, uses the system mask set
//! by `-d` ([`set_system_mask`], [`sys_trace`], [`sys_trace!`](crate::sys_trace!)).

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::trace::TraceFlags;

/// The syslog facility (re-exported from the `syslog` crate); the daemons
/// use `LOG_DAEMON` by default and `LOG_LOCAL0..=LOG_LOCAL7` with `-L`.
pub use syslog::Facility;

/// Severity of a log line, most severe first (`Error < Debug` in `Ord`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Level {
    /// Something failed: a socket, a config reload, a kernel request.
    Error,
    /// Unexpected but handled: a malformed packet, a peer error code.
    Warning,
    /// Normal but significant: tunnel or session up / down, start, reload.
    Notice,
    /// Informational: configuration details, per-message summaries.
    Info,
    /// Debugging detail (and every trace line).
    Debug,
}

impl Level {
    /// The lower-case name used in lines written to stderr or captured
    /// (`"error"`, `"warning"`, `"notice"`, `"info"`, `"debug"`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// Parses a level name as written by [`Level::name`] (also `"err"` and
    /// `"warn"`), case-insensitive.
    ///
    /// # Errors
    /// ``unknown log level `x` ``.
    pub fn parse(s: &str) -> Result<Level, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" | "err" => Ok(Level::Error),
            "warning" | "warn" => Ok(Level::Warning),
            "notice" => Ok(Level::Notice),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            _ => Err(format!("unknown log level `{}`", s.trim())),
        }
    }
}

impl fmt::Display for Level {
    /// Writes [`Level::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where log lines go.
#[derive(Clone, Debug)]
pub enum Target {
    /// The local syslog daemon through `/dev/log` (RFC 3164 format), with the
    /// given facility and program name (`ident`, e.g. `"prol2tpd"`).
    Syslog {
        /// `LOG_DAEMON` by default, `LOG_LOCAL0..=7` with `-L`.
        facility: Facility,
        /// Program name written before the pid, e.g. `prol2tpd[1234]:`.
        ident: String,
    },
    /// The terminal (`-f`): stderr, each line prefixed with a UTC timestamp
    /// (`2025-01-02T03:04:05.678Z`) and the level.
    Stderr,
    /// An in-memory buffer for tests; read with [`take_captured`].
    Capture,
}

/// Parses a `-L` facility name: `daemon` or `local0` ... `local7`
/// (case-insensitive, an optional `log_` prefix accepted).
///
/// # Errors
/// ``unknown syslog facility `x` (expected daemon or local0..local7)``.
pub fn parse_facility(s: &str) -> Result<Facility, String> {
    let lower = s.trim().to_ascii_lowercase();
    let name = lower.strip_prefix("log_").unwrap_or(&lower);
    match name {
        "daemon" => Ok(Facility::LOG_DAEMON),
        "local0" => Ok(Facility::LOG_LOCAL0),
        "local1" => Ok(Facility::LOG_LOCAL1),
        "local2" => Ok(Facility::LOG_LOCAL2),
        "local3" => Ok(Facility::LOG_LOCAL3),
        "local4" => Ok(Facility::LOG_LOCAL4),
        "local5" => Ok(Facility::LOG_LOCAL5),
        "local6" => Ok(Facility::LOG_LOCAL6),
        "local7" => Ok(Facility::LOG_LOCAL7),
        _ => Err(format!("unknown syslog facility `{}` (expected daemon or local0..local7)", s.trim())),
    }
}

type SyslogLogger = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

/// The open output of a thread's logger.
enum Sink {
    Syslog {
        logger: SyslogLogger,
        /// Socket path for reconnection; `None` means the standard paths.
        path: Option<std::path::PathBuf>,
        /// True once a send failure was reported on stderr.
        failure_reported: bool,
    },
    Stderr,
    Capture(Vec<String>),
}

/// Logger state of one thread.
struct State {
    sink: Sink,
    level: Level,
    system_mask: TraceFlags,
}

impl Default for State {
    fn default() -> Self {
        State { sink: Sink::Stderr, level: Level::Info, system_mask: TraceFlags::NONE }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Opens a syslog connection at `path` or at the standard paths.
fn open_syslog(facility: Facility, ident: &str, path: Option<&std::path::Path>) -> Result<SyslogLogger, syslog::Error> {
    let formatter = syslog::Formatter3164 {
        facility,
        // The local syslog daemon adds the host name itself.
        hostname: None,
        process: ident.to_string(),
        pid: std::process::id(),
    };
    match path {
        Some(p) => syslog::unix_custom(formatter, p),
        None => syslog::unix(formatter),
    }
}

/// Configures the calling thread's logger: where lines go and the most
/// verbose [`Level`] written. May be called again (e.g. after
/// [`crate::daemon::daemonize`], or to switch to syslog after start-up
/// errors went to stderr); captured lines are dropped when the target
/// changes.
///
/// If syslog is unavailable (no `/dev/log`), logging falls back to stderr and
/// one warning line says so; that is not an error.
///
/// # Errors
/// An empty `ident` for [`Target::Syslog`].
pub fn init(target: Target, level: Level) -> Result<(), String> {
    init_at(target, level, None)
}

/// [`init`] with an explicit syslog socket path (for tests).
fn init_at(target: Target, level: Level, path: Option<&std::path::Path>) -> Result<(), String> {
    let (sink, fallback) = match target {
        Target::Syslog { facility, ident } => {
            if ident.is_empty() {
                return Err("empty syslog ident".to_string());
            }
            match open_syslog(facility, &ident, path) {
                Ok(logger) => (Sink::Syslog { logger, path: path.map(|p| p.to_path_buf()), failure_reported: false }, None),
                Err(e) => (Sink::Stderr, Some(e.to_string())),
            }
        }
        Target::Stderr => (Sink::Stderr, None),
        Target::Capture => (Sink::Capture(Vec::new()), None),
    };
    STATE.with(|st| {
        if let Ok(mut st) = st.try_borrow_mut() {
            st.sink = sink;
            st.level = level;
        }
    });
    if let Some(err) = fallback {
        log(Level::Warning, format_args!("syslog unavailable error=\"{err}\"; logging to stderr"));
    }
    Ok(())
}

/// Sets the most verbose level written (lines above it are dropped).
pub fn set_level(level: Level) {
    with_state(|st| st.level = level);
}

/// The most verbose level written.
pub fn level() -> Level {
    with_state(|st| st.level).unwrap_or(Level::Info)
}

/// True when a line at `level` would be written; lets callers skip costly
/// preparation.
pub fn enabled(level: Level) -> bool {
    level <= self::level()
}

/// Sets the system-wide trace mask (`-d`), used for the daemon's own trace
/// lines that belong to no tunnel or session ([`sys_trace`]).
pub fn set_system_mask(mask: TraceFlags) {
    with_state(|st| st.system_mask = mask);
}

/// The system-wide trace mask (`-d`); [`TraceFlags::NONE`] by default.
pub fn system_mask() -> TraceFlags {
    with_state(|st| st.system_mask).unwrap_or(TraceFlags::NONE)
}

/// Runs `f` on this thread's state, or returns `None` if the state is
/// already borrowed (a log call from inside a log call).
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|st| st.try_borrow_mut().ok().map(|mut st| f(&mut st)))
}

/// Writes one line at `level` if `level` is enabled. Use the macros
/// ([`log_error!`](crate::log_error!) ...) rather than calling this directly.
pub fn log(level: Level, args: fmt::Arguments) {
    if enabled(level) {
        emit(level, fmt::format(args));
    }
}

/// Writes one trace line when `flags` (an instance's `trace_flags`) contains
/// `category` (normally a single category). The line reads
/// `trace=<category> <text>` and goes out with severity debug regardless of
/// the level filter. Use the [`trace!`](crate::trace!) macro, which skips the
/// formatting when the category is off.
pub fn trace(flags: TraceFlags, category: TraceFlags, args: fmt::Arguments) {
    if category.is_empty() || !flags.contains(category) {
        return;
    }
    emit(Level::Debug, format!("trace={category} {args}"));
}

/// [`trace`] against the system mask ([`set_system_mask`]).
pub fn sys_trace(category: TraceFlags, args: fmt::Arguments) {
    trace(system_mask(), category, args);
}

/// Returns and clears the lines captured on this thread since the last call
/// ([`Target::Capture`]); each reads `<level>: <text>`. Empty for other
/// targets.
pub fn take_captured() -> Vec<String> {
    with_state(|st| match &mut st.sink {
        Sink::Capture(lines) => std::mem::take(lines),
        _ => Vec::new(),
    })
    .unwrap_or_default()
}

/// Replaces line breaks so that every call produces exactly one line.
fn one_line(mut msg: String) -> String {
    if msg.contains(['\n', '\r']) {
        msg = msg.replace(['\n', '\r'], " ");
    }
    msg
}

/// Sends a formatted line to this thread's sink.
fn emit(level: Level, msg: String) {
    let msg = one_line(msg);
    let done = with_state(|st| match &mut st.sink {
        Sink::Capture(lines) => {
            lines.push(format!("{}: {}", level.name(), msg));
        }
        Sink::Stderr => write_stderr(level, &msg),
        Sink::Syslog { logger, path, failure_reported } => {
            // The pid changes across daemonize(); keep the header right.
            logger.formatter.pid = std::process::id();
            if let Err(first) = send_syslog(logger, level, &msg) {
                // syslogd may have restarted: reconnect once and retry.
                let facility = logger.formatter.facility;
                let ident = logger.formatter.process.clone();
                let retried = open_syslog(facility, &ident, path.as_deref()).map_err(|e| e.to_string()).and_then(|mut fresh| {
                    send_syslog(&mut fresh, level, &msg).map_err(|e| e.to_string())?;
                    *logger = fresh;
                    Ok(())
                });
                if retried.is_err() {
                    if !*failure_reported {
                        *failure_reported = true;
                        let note = format!("syslog send failed error=\"{first}\"");
                        write_stderr(Level::Warning, &note);
                    }
                    write_stderr(level, &msg);
                }
            }
        }
    });
    if done.is_none() {
        // Re-entrant call (a Display impl that logs): do not lose the line.
        write_stderr(level, &msg);
    }
}

/// Sends one message with the syslog severity of `level`.
fn send_syslog(logger: &mut SyslogLogger, level: Level, msg: &str) -> Result<(), syslog::Error> {
    match level {
        Level::Error => logger.err(msg),
        Level::Warning => logger.warning(msg),
        Level::Notice => logger.notice(msg),
        Level::Info => logger.info(msg),
        Level::Debug => logger.debug(msg),
    }
}

/// Writes `<timestamp> <level>: <msg>` to stderr in one write; errors are
/// ignored (there is nowhere left to report them).
fn write_stderr(level: Level, msg: &str) {
    let line = format!("{} {}: {}\n", utc_timestamp(SystemTime::now()), level.name(), msg);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). Times before 1970 print
/// as the epoch.
fn utc_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, (rem % 3600) / 60, rem % 60, d.subsec_millis())
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month,
/// day) (H. Hinnant's `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Logs at [`Level::Error`](crate::log::Level::Error), format-args style:
/// `log_error!("open failed path={} error={}", p, e)`.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, ::std::format_args!($($arg)+))
    };
}

/// Logs at [`Level::Warning`](crate::log::Level::Warning), format-args style.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warning, ::std::format_args!($($arg)+))
    };
}

/// Logs at [`Level::Notice`](crate::log::Level::Notice), format-args style.
#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Notice, ::std::format_args!($($arg)+))
    };
}

/// Logs at [`Level::Info`](crate::log::Level::Info), format-args style.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, ::std::format_args!($($arg)+))
    };
}

/// Logs at [`Level::Debug`](crate::log::Level::Debug), format-args style.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, ::std::format_args!($($arg)+))
    };
}

/// Writes a trace line when `flags` contains `category`:
/// `trace!(tunnel.trace_flags, TraceFlags::FSM, "tunnel_id={} event={:?}", id, ev)`.
/// The arguments are not evaluated or formatted when the category is off.
#[macro_export]
macro_rules! trace {
    ($flags:expr, $category:expr, $($arg:tt)+) => {{
        let flags: $crate::trace::TraceFlags = $flags;
        let category: $crate::trace::TraceFlags = $category;
        if flags.contains(category) {
            $crate::log::trace(flags, category, ::std::format_args!($($arg)+));
        }
    }};
}

/// Writes a trace line of the daemon itself when the system mask (`-d`)
/// contains `category`: `sys_trace!(TraceFlags::SYSTEM, "reload file={}", f)`.
#[macro_export]
macro_rules! sys_trace {
    ($category:expr, $($arg:tt)+) => {
        $crate::trace!($crate::log::system_mask(), $category, $($arg)+)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    #[test]
    fn capture_filters_by_level() {
        init(Target::Capture, Level::Notice).unwrap();
        crate::log_error!("e n={}", 1);
        crate::log_warn!("w");
        crate::log_notice!("n");
        crate::log_info!("i");
        crate::log_debug!("d");
        assert_eq!(take_captured(), vec!["error: e n=1", "warning: w", "notice: n"]);
        assert!(take_captured().is_empty(), "take_captured clears");
        set_level(Level::Debug);
        assert_eq!(level(), Level::Debug);
        crate::log_debug!("d2");
        assert_eq!(take_captured(), vec!["debug: d2"]);
    }

    #[test]
    fn trace_respects_flags_not_level() {
        init(Target::Capture, Level::Error).unwrap();
        let flags = TraceFlags::FSM | TraceFlags::AVP;
        crate::trace!(flags, TraceFlags::FSM, "tunnel_id={} event=Sccrq", 5);
        crate::trace!(flags, TraceFlags::PROTOCOL, "not shown");
        crate::trace!(TraceFlags::NONE, TraceFlags::NONE, "none category never shown");
        assert_eq!(take_captured(), vec!["debug: trace=fsm tunnel_id=5 event=Sccrq"]);
    }

    #[test]
    fn trace_macro_does_not_evaluate_when_off() {
        init(Target::Capture, Level::Debug).unwrap();
        let mut evaluated = false;
        let mut side_effect = || {
            evaluated = true;
            1
        };
        crate::trace!(TraceFlags::API, TraceFlags::FSM, "x={}", side_effect());
        assert!(!evaluated);
        assert!(take_captured().is_empty());
    }

    #[test]
    fn system_mask_drives_sys_trace() {
        init(Target::Capture, Level::Info).unwrap();
        assert_eq!(system_mask(), TraceFlags::NONE);
        crate::sys_trace!(TraceFlags::SYSTEM, "hidden");
        set_system_mask(TraceFlags::SYSTEM);
        assert_eq!(system_mask(), TraceFlags::SYSTEM);
        crate::sys_trace!(TraceFlags::SYSTEM, "reload file={}", "/etc/x.conf");
        crate::sys_trace!(TraceFlags::FSM, "hidden too");
        assert_eq!(take_captured(), vec!["debug: trace=system reload file=/etc/x.conf"]);
    }

    #[test]
    fn lines_are_single_lines_and_reentrancy_is_safe() {
        init(Target::Capture, Level::Info).unwrap();
        struct Nested;
        impl fmt::Display for Nested {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                crate::log_info!("inner");
                f.write_str("outer")
            }
        }
        crate::log_info!("a\nb\r\nc {}", Nested);
        // The inner line is formatted before the state is borrowed, so both
        // are captured, inner first.
        assert_eq!(take_captured(), vec!["info: inner", "info: a b  c outer"]);
    }

    #[test]
    fn parse_facility_and_level() {
        let code = |s: &str| parse_facility(s).map(|f| f as u8);
        assert_eq!(code("daemon"), Ok(Facility::LOG_DAEMON as u8));
        assert_eq!(code("LOCAL0"), Ok(Facility::LOG_LOCAL0 as u8));
        assert_eq!(code("local5"), Ok(Facility::LOG_LOCAL5 as u8));
        assert_eq!(code("log_local7"), Ok(Facility::LOG_LOCAL7 as u8));
        let err = parse_facility("local8").unwrap_err();
        assert!(err.contains("`local8`"), "{err}");
        assert!(parse_facility("user").is_err());
        assert_eq!(Level::parse("Warn"), Ok(Level::Warning));
        assert_eq!(Level::parse("debug"), Ok(Level::Debug));
        assert!(Level::parse("loud").is_err());
        assert!(Level::Error < Level::Debug);
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-02-29T12:34:56.789Z = 951827696.789
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(utc_timestamp(t), "2000-02-29T12:34:56.789Z");
        // 2024-12-31T23:59:59Z = 1735689599
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(utc_timestamp(t), "2024-12-31T23:59:59.000Z");
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("common-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn syslog_lines_reach_the_socket() {
        let path = temp_path("syslog.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let target = Target::Syslog { facility: Facility::LOG_LOCAL3, ident: "prol2tpd".to_string() };
        init_at(target, Level::Info, Some(&path)).unwrap();
        crate::log_notice!("tunnel up tunnel_id={}", 7);
        crate::trace!(TraceFlags::ALL, TraceFlags::XPRT, "ns=1");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        // LOCAL3 (19 << 3 = 152) | notice (5) = 157.
        assert!(line.starts_with("<157>"), "{line}");
        let pid = std::process::id();
        assert!(line.ends_with(&format!(" prol2tpd[{pid}]: tunnel up tunnel_id=7")), "{line}");
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        // debug = 7.
        assert!(line.starts_with("<159>"), "{line}");
        assert!(line.ends_with("]: trace=xprt ns=1"), "{line}");
        let _ = std::fs::remove_file(&path);
        init(Target::Capture, Level::Info).unwrap();
    }

    #[test]
    fn syslog_unavailable_falls_back_to_stderr() {
        let path = temp_path("no-such.sock");
        let target = Target::Syslog { facility: Facility::LOG_DAEMON, ident: "x".to_string() };
        init_at(target, Level::Info, Some(&path)).unwrap();
        assert!(with_state(|st| matches!(st.sink, Sink::Stderr)).unwrap());
        let bad = Target::Syslog { facility: Facility::LOG_DAEMON, ident: String::new() };
        assert!(init(bad, Level::Info).is_err());
    }
}
