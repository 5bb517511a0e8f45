//! What the suite's command-line tools share: the request tools
//! `prol2tp`, `propppctl`, `proac_info` and `proac_manage` (requests,
//! replies printed as text or JSON) and the watchers `prol2tpwatch` and
//! `propppwatch` (events as they happen).
//!
//! Every tool exits with the same statuses ([`EXIT_REFUSED`],
//! [`EXIT_USAGE`], [`EXIT_NO_DAEMON`]) and says so with the same words,
//! through [`Tool`]; [`Tool::main`] is the body of every tool's `main`.
//! The request tools share their options (`[-s SOCKET] -j -t SECONDS -h
//! -v`, [`Tool::parse_client`] into an [`Invocation`]) and the round
//! trip ([`Tool::link`], [`Link::ask`]); the watchers build their own option
//! sets (with the re-exported [`getopts`]) and read them with
//! [`Tool::parse_matches`], [`socket_path`] and [`no_free_words`]. The
//! values the tools have in common (a timeout in seconds, a positive
//! count, `KEY=VALUE` words) are parsed here. Records print as a table
//! ([`render_table`]), as `key: value` lines ([`render_object`]) or as
//! JSON ([`render_json`]).
//!
//! [`watch`] is the watchers' loop: subscribe on the daemon's control
//! socket ([`Client::subscribe`]), print each event with the tool's own
//! line format, report gaps in the sequence numbers (`N events lost`),
//! check that the daemon is still there (its sender for this watcher, and
//! a `ShowSystem` every two seconds), and subscribe again when it
//! restarted, giving up with [`EXIT_NO_DAEMON`] when it stays away.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use getopts;

use crate::ipc::{json_string, Client, ClientError, Record, Reply, Request, Selector, Subscription, Value};

/// Exit status: the daemon refused the request (no such object, a bad
/// parameter, reload failed) or answered something unexpected.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status: the command line is wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the daemon is not running, did not answer, or (watchers)
/// stayed away after it went.
pub const EXIT_NO_DAEMON: u8 = 3;

/// Default time a CLI waits for the daemon's reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A tool's names, for its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program (`prol2tp`), the prefix of every message it prints.
    pub name: &'static str,
    /// The daemon it talks to (`prol2tpd`).
    pub daemon: &'static str,
    /// The usage text printed after a usage error and above the option
    /// list of `-h`.
    pub usage: &'static str,
    /// The version `-v` prints (the program's `CARGO_PKG_VERSION`).
    pub version: &'static str,
}

/// Outcome of parsing a command line.
#[derive(Debug, PartialEq)]
pub enum Parsed<T> {
    /// Run with these settings.
    Run(T),
    /// Print this and exit 0 (`-h`, `-v`).
    Print(String),
}

impl<T> Parsed<T> {
    /// The settings made into others by `f`; `Print` stays as it is.
    ///
    /// # Errors
    /// `f`'s (a usage error).
    pub fn try_map<U>(self, f: impl FnOnce(T) -> Result<U, String>) -> Result<Parsed<U>, String> {
        match self {
            Parsed::Run(t) => f(t).map(Parsed::Run),
            Parsed::Print(s) => Ok(Parsed::Print(s)),
        }
    }
}

/// What a daemon answered, when it did not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Done`.
    Done,
    /// `Records` (parts of a split reply joined).
    Records(Vec<Record>),
}

/// Where a request tool finds its daemon's control socket.
#[derive(Debug, Clone, Copy)]
pub enum SocketArg {
    /// `-s SOCKET` ("DAEMON's control socket"), this path when not given.
    Option(&'static str),
    /// No `-s`: this function says where (an environment variable or a
    /// default, as the daemon itself decides).
    Fixed(fn() -> PathBuf),
}

/// How a request tool's shared options look (`[-s SOCKET] -j -t SECONDS
/// -h -v`, in that order in `-h`).
#[derive(Debug, Clone, Copy)]
pub struct ClientSpec {
    /// `-s` or a fixed path.
    pub socket: SocketArg,
    /// The help text of `-t`.
    pub timeout_help: &'static str,
    /// Options end at the first free word (set when the command's words
    /// may look like options); else options may follow the words.
    pub stop_at_free: bool,
}

/// The shared options of a request tool, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOpts {
    /// The daemon's control socket.
    pub socket: PathBuf,
    /// `-j`: print JSON.
    pub json: bool,
    /// `-t SECONDS`: how long to wait for each reply ([`DEFAULT_TIMEOUT`]
    /// when not given).
    pub timeout: Duration,
}

/// A request tool's command line: what its words ask for and the shared
/// options ([`Tool::parse_client`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<C> {
    /// The command (or topics) the free words name.
    pub command: C,
    /// `-s`, `-j`, `-t`.
    pub opts: ClientOpts,
}

/// A request tool's connection to its daemon ([`Tool::link`]).
#[derive(Debug)]
pub struct Link<'a> {
    tool: &'a Tool,
    path: &'a Path,
    timeout: Duration,
    client: Client,
}

impl Link<'_> {
    /// Sends `req` and waits for the reply, as [`Tool::call`].
    ///
    /// # Errors
    /// As [`Tool::call`] (the message already printed).
    pub fn ask(&mut self, req: Request) -> Result<Answer, ExitCode> {
        self.tool.call(&mut self.client, self.path, req, self.timeout)
    }

    /// [`Link::ask`], keeping the records (none for `Done`).
    ///
    /// # Errors
    /// As [`Tool::call`].
    pub fn records(&mut self, req: Request) -> Result<Vec<Record>, ExitCode> {
        self.ask(req).map(Answer::into_records)
    }
}

impl Answer {
    /// The records (none for `Done`).
    pub fn into_records(self) -> Vec<Record> {
        match self {
            Answer::Done => Vec::new(),
            Answer::Records(r) => r,
        }
    }
}

/// What a tool prints for a `Done` answer: nothing, or `{"ok":true}` and
/// a newline with `-j`.
pub fn done_text(json: bool) -> String {
    if json {
        "{\"ok\":true}\n".to_string()
    } else {
        String::new()
    }
}

/// Prints what a tool made of its answers on stdout as it is (no newline
/// added): exit 0; or the exit status it already reported.
pub fn print_output(out: Result<String, ExitCode>) -> ExitCode {
    match out {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `-s SOCKET`: the path given, `default` when the option is absent.
/// Errors: `-s: empty socket path`.
pub fn socket_path(m: &getopts::Matches, default: &str) -> Result<PathBuf, String> {
    match m.opt_str("s") {
        Some(s) if s.is_empty() => Err("-s: empty socket path".into()),
        Some(s) => Ok(PathBuf::from(s)),
        None => Ok(PathBuf::from(default)),
    }
}

/// Errors: `unexpected argument 'WORD'` for the first free word.
pub fn no_free_words(m: &getopts::Matches) -> Result<(), String> {
    match m.free.first() {
        Some(extra) => Err(format!("unexpected argument '{extra}'")),
        None => Ok(()),
    }
}

impl Tool {
    /// `NAME VERSION` for `-v`.
    pub fn version(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// The body of a tool's `main`: [`Parsed::Print`] text goes to stdout
    /// with a newline (exit 0), a usage error to [`Tool::usage_error`],
    /// settings to `run`.
    pub fn main<T>(&self, parsed: Result<Parsed<T>, String>, run: impl FnOnce(T) -> ExitCode) -> ExitCode {
        match parsed {
            Ok(Parsed::Run(t)) => run(t),
            Ok(Parsed::Print(s)) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => self.usage_error(&e),
        }
    }

    /// Parses `args` with `o`, which must hold `-h` and `-v`: `-h` prints
    /// the option list under [`Tool::usage`], `-v` the version. Errors:
    /// getopts' message (unknown option, missing value).
    pub fn parse_matches(&self, o: &getopts::Options, args: &[String]) -> Result<Parsed<getopts::Matches>, String> {
        let m = o.parse(args).map_err(|e| e.to_string())?;
        if m.opt_present("h") {
            return Ok(Parsed::Print(o.usage(self.usage)));
        }
        if m.opt_present("v") {
            return Ok(Parsed::Print(self.version()));
        }
        Ok(Parsed::Run(m))
    }

    /// Parses a request tool's command line (`spec`): its shared options,
    /// then `command` reads the free words. Errors: as
    /// [`Tool::parse_matches`]; a bad `-t` ([`parse_seconds`]); an empty
    /// `-s`; `command`'s.
    pub fn parse_client<C>(
        &self,
        spec: &ClientSpec,
        args: &[String],
        command: impl FnOnce(&[&str]) -> Result<C, String>,
    ) -> Result<Parsed<Invocation<C>>, String> {
        let mut o = getopts::Options::new();
        if let SocketArg::Option(_) = spec.socket {
            o.optopt("s", "", &format!("{}'s control socket", self.daemon), "SOCKET");
        }
        o.optflag("j", "", "print JSON");
        o.optopt("t", "", spec.timeout_help, "SECONDS");
        o.optflag("h", "", "print this help");
        o.optflag("v", "", "print the version");
        if spec.stop_at_free {
            o.parsing_style(getopts::ParsingStyle::StopAtFirstFree);
        }
        self.parse_matches(&o, args)?.try_map(|m| {
            let timeout = match m.opt_str("t") {
                Some(s) => parse_seconds("-t", &s)?,
                None => DEFAULT_TIMEOUT,
            };
            let socket = match spec.socket {
                SocketArg::Option(default) => socket_path(&m, default)?,
                SocketArg::Fixed(path) => path(),
            };
            let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
            Ok(Invocation { command: command(&words)?, opts: ClientOpts { socket, json: m.opt_present("j"), timeout } })
        })
    }

    /// Connects to the daemon at `opts.socket`, for requests that wait
    /// `opts.timeout` for their replies. Errors: the exit status after the
    /// message was printed ([`EXIT_NO_DAEMON`]).
    pub fn link<'a>(&'a self, opts: &'a ClientOpts) -> Result<Link<'a>, ExitCode> {
        let client = self.connect(&opts.socket)?;
        Ok(Link { tool: self, path: &opts.socket, timeout: opts.timeout, client })
    }

    /// Prints `NAME: MESSAGE` and the usage on stderr; [`EXIT_USAGE`].
    pub fn usage_error(&self, message: &str) -> ExitCode {
        eprintln!("{}: {message}\n{}", self.name, self.usage);
        ExitCode::from(EXIT_USAGE)
    }

    /// Prints that the daemon is not reachable at `path`;
    /// [`EXIT_NO_DAEMON`].
    pub fn unreachable(&self, path: &Path, why: &dyn std::fmt::Display) -> ExitCode {
        eprintln!("{}: {} is not running or not reachable at {}: {why}", self.name, self.daemon, path.display());
        ExitCode::from(EXIT_NO_DAEMON)
    }

    /// Prints `NAME: MESSAGE`; [`EXIT_REFUSED`].
    pub fn refused(&self, message: &str) -> ExitCode {
        eprintln!("{}: {message}", self.name);
        ExitCode::from(EXIT_REFUSED)
    }

    /// A client of the daemon at `path`. Errors: the exit status after
    /// the message was printed ([`EXIT_NO_DAEMON`]).
    pub fn connect(&self, path: &Path) -> Result<Client, ExitCode> {
        Client::connect(path).map_err(|e| self.unreachable(path, &e))
    }

    /// Sends `req` and waits up to `timeout` for the reply. Errors (the
    /// message already printed): [`EXIT_REFUSED`] for an `Error` reply or
    /// one that makes no sense, [`EXIT_NO_DAEMON`] when the daemon is gone
    /// or did not answer in time.
    pub fn call(&self, client: &mut Client, path: &Path, req: Request, timeout: Duration) -> Result<Answer, ExitCode> {
        match client.call(req, timeout) {
            Ok(Reply::Done) => Ok(Answer::Done),
            Ok(Reply::Records { records, .. }) => Ok(Answer::Records(records)),
            Ok(Reply::Error { message, .. }) => Err(self.refused(&message)),
            Ok(Reply::Event { .. } | Reply::PppStatus { .. }) => Err(self.refused("unexpected message in reply")),
            Err(e @ (ClientError::Io(_) | ClientError::Timeout)) => Err(self.unreachable(path, &e)),
            Err(e) => Err(self.refused(&e.to_string())),
        }
    }
}

/// `-t SECONDS` style values: a whole number of seconds in 1..=3600.
/// Errors: `OPT: 'S' is not a number of seconds (1..3600)`.
pub fn parse_seconds(opt: &str, s: &str) -> Result<Duration, String> {
    s.parse::<u64>().ok().filter(|t| (1..=3600).contains(t)).map(Duration::from_secs).ok_or(format!("{opt}: '{s}' is not a number of seconds (1..3600)"))
}

/// `-n COUNT` style values: a positive number. Errors: `OPT: 'S' is not
/// a positive number`.
pub fn parse_count(opt: &str, s: &str) -> Result<u64, String> {
    s.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("{opt}: '{s}' is not a positive number"))
}

/// `KEY=VALUE` words as `(key, value)` pairs; the value may be empty (it
/// unsets, as an empty value in a file does) and may hold `=` (only the
/// first one splits). Errors: a word without `=` or with an empty or
/// blank-holding key, a key given twice. Which keys exist and what values
/// they take is the daemon's to check.
pub fn parse_pairs(words: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(words.len());
    for w in words {
        let (key, value) = w
            .split_once('=')
            .filter(|(k, _)| !k.is_empty() && !k.chars().any(char::is_whitespace))
            .ok_or_else(|| format!("malformed parameter '{w}': expected KEY=VALUE"))?;
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("parameter '{key}' given twice"));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `s` padded to `|w|` characters: right-aligned for `w >= 0`,
/// left-aligned for `w < 0`. Longer text is kept whole.
pub fn pad(s: &str, w: i32) -> String {
    let n = w.unsigned_abs() as usize;
    if w < 0 {
        format!("{s:<n$}")
    } else {
        format!("{s:>n$}")
    }
}

/// Seconds as `H:MM:SS`, with `Nd ` in front past a day.
pub fn duration(secs: u64) -> String {
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let hms = format!("{}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if d > 0 {
        format!("{d}d {hms}")
    } else {
        hms
    }
}

/// A table column: heading, record key, width (negative: left-aligned).
pub type Column = (&'static str, &'static str, i32);

/// How [`render_table`] prints a cell: `Some(text)` to use it, `None`
/// for the default (the value, `-` when absent or empty).
pub type CellFn = fn(key: &str, value: &Value) -> Option<String>;

/// One line per record under a heading line. Each line starts with a
/// mark and a blank: `*` for objects the peer created (a
/// `network_created` flag that is set), else a blank. A cell is `-` when
/// the key is absent or its text empty; `cell` may print some keys its
/// own way (durations). Trailing blanks are trimmed.
pub fn render_table(records: &[Record], cols: &[Column], cell: CellFn) -> String {
    let mut out = String::new();
    let heads: Vec<String> = cols.iter().map(|(h, _, w)| pad(h, *w)).collect();
    out.push_str(&format!("  {}\n", heads.join(" ").trim_end()));
    for r in records {
        let mark = if matches!(r.get("network_created"), Some(Value::Bool(true))) { '*' } else { ' ' };
        let cells: Vec<String> = cols
            .iter()
            .map(|(_, key, w)| {
                let v = match r.get(key) {
                    Some(Value::Str(s)) if s.is_empty() => "-".to_string(),
                    Some(v) => cell(key, v).unwrap_or_else(|| v.to_string()),
                    None => "-".to_string(),
                };
                pad(&v, *w)
            })
            .collect();
        out.push_str(&format!("{mark} {}\n", cells.join(" ").trim_end()));
    }
    out
}

/// `key: value` lines, values aligned one blank after the longest key;
/// empty strings print as `-`.
pub fn render_object(r: &Record) -> String {
    let width = r.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in &r.fields {
        let v = match v {
            Value::Str(s) if s.is_empty() => "-".to_string(),
            v => v.to_string(),
        };
        out.push_str(&format!("{:<w$} {v}\n", format!("{k}:"), w = width + 1));
    }
    out
}

/// Several objects as [`render_object`] blocks separated by an empty line.
pub fn render_objects(records: &[Record]) -> String {
    let blocks: Vec<String> = records.iter().map(render_object).collect();
    blocks.join("\n")
}

/// Records as one line of JSON: an array for a list (`list`, or any
/// number of records but one), the object itself for one record.
pub fn render_json(records: &[Record], list: bool) -> String {
    let objs: Vec<String> = records.iter().map(Record::to_json).collect();
    match (list, objs.as_slice()) {
        (false, [one]) => format!("{one}\n"),
        _ => format!("[{}]\n", objs.join(",")),
    }
}

/// One event as a JSON object on one line (no newline): `event` (the
/// record kind), `seq`, then every field in order.
pub fn render_event_json(seq: u64, record: &Record) -> String {
    let mut parts = vec![format!("\"event\":{}", json_string(&record.kind)), format!("\"seq\":{seq}")];
    parts.extend(record.fields.iter().map(|(k, v)| format!("{}:{}", json_string(k), v.to_json())));
    format!("{{{}}}", parts.join(","))
}

/// One event as `KIND: key=value ...` (no newline): the fields named in
/// `order` that the record has, in that order, or every field when
/// `order` is `None`; strings in single quotes, numbers and flags bare.
pub fn render_event_fields(record: &Record, order: Option<&[&str]>) -> String {
    let fields: Vec<&(String, Value)> = match order {
        Some(keys) => keys.iter().filter_map(|f| record.fields.iter().find(|(key, _)| key == f)).collect(),
        None => record.fields.iter().collect(),
    };
    let mut line = format!("{}:", record.kind);
    for (k, v) in fields {
        match v {
            Value::Str(s) => line.push_str(&format!(" {k}='{s}'")),
            v => line.push_str(&format!(" {k}={v}")),
        }
    }
    line
}

/// Time allowed for the daemon to answer a watcher's request.
pub const WATCH_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a watcher checks that the daemon answers.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// Unanswered liveness checks in a row after which the daemon is taken
/// for gone (it may be busy).
const PING_MISSES: u32 = 3;
/// Default time the daemon may stay unreachable after it went away
/// before a watcher gives up.
pub const DEFAULT_GONE_AFTER: Duration = Duration::from_secs(6);
/// Pause between two attempts to subscribe again.
const RETRY_INTERVAL: Duration = Duration::from_millis(250);
/// Longest wait for one event, so signals and pings are handled promptly.
const EVENT_WAIT: Duration = Duration::from_millis(250);

/// Set by the SIGINT/SIGTERM handler of [`watch`].
static STOP: AtomicBool = AtomicBool::new(false);

/// What a watcher subscribes to and how it prints.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchOptions {
    /// Event bits (the daemon's numbering); 0 = all.
    pub events: u32,
    /// Only events of this tunnel (prol2tpd).
    pub tunnel: Option<Selector>,
    /// Exit after this many events.
    pub count: Option<u64>,
    /// A local timestamp before each line.
    pub timestamps: bool,
    /// One JSON object per line ([`render_event_json`]) instead of text.
    pub json: bool,
    /// How long the daemon may stay unreachable after it went away.
    pub gone_after: Duration,
}

/// Why a subscription could not be made.
#[derive(Debug)]
enum Fail {
    /// The daemon said no (too many watchers).
    Refused(String),
    /// No daemon answered.
    Unreachable(String),
}

/// How watching ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// Count reached, signal, or stdout closed.
    Done,
    /// The daemon went away for good (already reported).
    Gone,
    /// A restarted daemon refused the subscription (already reported).
    Refused,
}

/// Watches the daemon at `path`: prints every event (`render` makes the
/// text line) until `opts.count` events, SIGINT/SIGTERM (then it
/// unsubscribes) or stdout closes, all exit status 0. Gaps in the
/// sequence numbers are reported on stderr as `N events lost`; when the
/// daemon goes away it subscribes again (for up to `opts.gone_after`) and
/// says `DAEMON restarted; N events may be lost`. Exit statuses:
/// [`EXIT_REFUSED`] the daemon refused the subscription, [`EXIT_NO_DAEMON`]
/// it is not running or stayed away.
pub fn watch(tool: &Tool, path: &Path, opts: &WatchOptions, render: &dyn Fn(&Record) -> String) -> ExitCode {
    sys::on_stop_signals();
    let client = match subscribe(path, opts) {
        Ok((c, _)) => c,
        Err(Fail::Refused(message)) => return tool.refused(&message),
        Err(Fail::Unreachable(e)) => return tool.unreachable(path, &e),
    };
    let mut w = Watcher { tool, path, opts, render, out: std::io::stdout().lock(), last_seq: 0, printed: 0 };
    match w.run(client) {
        (Exit::Done, client) => {
            if let Some(mut c) = client {
                let _ = c.unsubscribe(WATCH_REPLY_TIMEOUT);
            }
            ExitCode::SUCCESS
        }
        (Exit::Refused, _) => ExitCode::from(EXIT_REFUSED),
        (Exit::Gone, _) => ExitCode::from(EXIT_NO_DAEMON),
    }
}

/// A client of the daemon at `path` subscribed as `opts` asks.
fn subscribe(path: &Path, opts: &WatchOptions) -> Result<(Client, Subscription), Fail> {
    let mut c = Client::connect(path).map_err(|e| Fail::Unreachable(e.to_string()))?;
    match c.subscribe(opts.events, opts.tunnel.clone(), WATCH_REPLY_TIMEOUT) {
        Ok(sub) => Ok((c, sub)),
        Err(ClientError::Refused { message, .. }) => Err(Fail::Refused(message)),
        Err(e) => Err(Fail::Unreachable(e.to_string())),
    }
}

/// The state of one [`watch`].
struct Watcher<'a> {
    tool: &'a Tool,
    path: &'a Path,
    opts: &'a WatchOptions,
    render: &'a dyn Fn(&Record) -> String,
    out: std::io::StdoutLock<'static>,
    /// Sequence number of the last event of the current subscription.
    last_seq: u64,
    printed: u64,
}

impl Watcher<'_> {
    /// Prints one event; true when watching should end (count reached,
    /// stdout closed).
    fn print(&mut self, seq: u64, record: &Record) -> bool {
        if seq > self.last_seq.saturating_add(1) {
            eprintln!("{}: {} events lost", self.tool.name, seq - self.last_seq - 1);
        }
        self.last_seq = seq;
        let mut line = if self.opts.json { render_event_json(seq, record) } else { (self.render)(record) };
        if self.opts.timestamps {
            line = format!("{} {line}", local_timestamp());
        }
        if writeln!(self.out, "{line}").and_then(|()| self.out.flush()).is_err() {
            return true;
        }
        self.printed = self.printed.saturating_add(1);
        self.opts.count.is_some_and(|n| self.printed >= n)
    }

    /// Prints events until the count is reached, a signal comes or the
    /// daemon goes away for good; subscribes again when it restarts.
    /// Returns how it ended, with the client when it is still subscribed.
    fn run(&mut self, mut client: Client) -> (Exit, Option<Client>) {
        let mut next_ping = Instant::now() + PING_INTERVAL;
        let mut misses = 0u32;
        loop {
            if STOP.load(Ordering::Relaxed) {
                return (Exit::Done, Some(client));
            }
            let mut lost = match client.next_event(EVENT_WAIT) {
                Ok(Some((seq, record))) => {
                    if self.print(seq, &record) {
                        return (Exit::Done, Some(client));
                    }
                    false
                }
                // Idle: is the daemon's sender for this watcher still there?
                Ok(None) => !client.subscription_alive().unwrap_or(false),
                Err(ClientError::Protocol(e)) => {
                    eprintln!("{}: skipped a message: {e}", self.tool.name);
                    false
                }
                Err(_) => true,
            };
            if !lost && Instant::now() >= next_ping {
                next_ping = Instant::now() + PING_INTERVAL;
                lost = match client.call(Request::ShowSystem, WATCH_REPLY_TIMEOUT) {
                    Ok(_) => {
                        misses = 0;
                        !client.subscription_alive().unwrap_or(false)
                    }
                    Err(ClientError::Timeout) if misses + 1 < PING_MISSES => {
                        misses += 1;
                        false
                    }
                    Err(_) => true,
                };
            }
            if !lost {
                continue;
            }
            // What the old sender queued before it went is still readable.
            while let Ok(Some((seq, record))) = client.next_event(Duration::from_millis(1)) {
                if self.print(seq, &record) {
                    return (Exit::Done, None);
                }
            }
            match self.resubscribe() {
                Ok(Some((c, sub))) => {
                    eprintln!("{}: {} restarted; {} events may be lost", self.tool.name, self.tool.daemon, sub.events_before);
                    client = c;
                    self.last_seq = 0;
                    misses = 0;
                    next_ping = Instant::now() + PING_INTERVAL;
                }
                Ok(None) => return (Exit::Done, None),
                Err(Fail::Refused(message)) => {
                    eprintln!("{}: {message}", self.tool.name);
                    return (Exit::Refused, None);
                }
                Err(Fail::Unreachable(e)) => {
                    eprintln!("{}: {} has gone away: {e}", self.tool.name, self.tool.daemon);
                    return (Exit::Gone, None);
                }
            }
        }
    }

    /// Subscribes again, retrying every [`RETRY_INTERVAL`] while the
    /// daemon is unreachable, for at most `gone_after`. `Ok(None)`: a stop
    /// signal came.
    fn resubscribe(&self) -> Result<Option<(Client, Subscription)>, Fail> {
        let deadline = Instant::now() + self.opts.gone_after;
        loop {
            if STOP.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match subscribe(self.path, self.opts) {
                Ok(s) => return Ok(Some(s)),
                Err(Fail::Unreachable(e)) if Instant::now() >= deadline => return Err(Fail::Unreachable(e)),
                Err(Fail::Unreachable(_)) => std::thread::sleep(RETRY_INTERVAL),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Local time now as `YYYY-MM-DD HH:MM:SS.mmm` (seconds since the epoch
/// and milliseconds when the local time cannot be had).
pub fn local_timestamp() -> String {
    sys::local_timestamp()
}

/// The few calls into libc the watchers make.
mod sys {
    use std::sync::atomic::Ordering;

    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

    extern "C" fn on_signal(_: libc::c_int) {
        super::STOP.store(true, Ordering::Relaxed);
    }

    /// Sets [`super::STOP`] on SIGINT and SIGTERM. Without SA_RESTART, so a
    /// wait for an event returns early.
    pub fn on_stop_signals() {
        let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler is async-signal-safe (one atomic store).
            let _ = unsafe { sigaction(sig, &action) };
        }
    }

    pub fn local_timestamp() -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let secs = libc::time_t::try_from(now.as_secs()).unwrap_or(0);
        // SAFETY: `tm` is plain data; localtime_r fills it from `secs` and
        // touches nothing else (thread-safe variant).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call.
        let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
        if !ok {
            return format!("{}.{:03}", now.as_secs(), now.subsec_millis());
        }
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            i64::from(tm.tm_year) + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            now.subsec_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse() {
        assert_eq!(parse_seconds("-t", "2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("-t", "3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_seconds("-t", "0"), Err("-t: '0' is not a number of seconds (1..3600)".to_string()));
        assert!(parse_seconds("-T", "3601").is_err());
        assert!(parse_seconds("-T", "x").is_err());
        assert_eq!(parse_count("-n", "3"), Ok(3));
        assert_eq!(parse_count("-n", "0"), Err("-n: '0' is not a positive number".to_string()));
        assert!(parse_count("-n", "-1").is_err());
    }

    const TOOL: Tool = Tool { name: "xctl", daemon: "xd", usage: "Usage: xctl [-s SOCKET] [-j] [-t SECONDS] COMMAND", version: "9.8.7" };

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn fixed_path() -> PathBuf {
        PathBuf::from("/run/fixed.ctl")
    }

    #[test]
    fn client_options_parse() {
        let spec = ClientSpec { socket: SocketArg::Option("/run/x.ctl"), timeout_help: "seconds to wait", stop_at_free: true };
        let echo = |w: &[&str]| Ok(w.join(" "));
        let run = |s: &str| match TOOL.parse_client(&spec, &words(s), echo) {
            Ok(Parsed::Run(r)) => (r.opts, r.command),
            other => panic!("{s}: {other:?}"),
        };
        let opts = |socket: &str, json, secs| ClientOpts { socket: PathBuf::from(socket), json, timeout: Duration::from_secs(secs) };
        assert_eq!(run("show x"), (opts("/run/x.ctl", false, 5), "show x".to_string()));
        assert_eq!(run("-s /tmp/y -j -t 7 show -j"), (opts("/tmp/y", true, 7), "show -j".to_string()));
        assert_eq!(TOOL.parse_client(&spec, &words("-v"), echo), Ok(Parsed::Print("xctl 9.8.7".into())));
        let Ok(Parsed::Print(help)) = TOOL.parse_client(&spec, &words("-h"), echo) else { panic!("no help") };
        assert!(help.starts_with("Usage: xctl [-s SOCKET]"), "{help}");
        let options = help.split_once("Options:").map_or("", |(_, o)| o);
        let at = |opt: &str| options.find(opt).unwrap_or_else(|| panic!("{opt} missing: {help}"));
        assert!(at("-s SOCKET") < at("xd's control socket") && at("xd's control socket") < at("-j") && at("-j") < at("-t SECONDS"));
        assert!(at("-t SECONDS") < at("seconds to wait") && at("seconds to wait") < at("-h") && at("-h") < at("-v"));
        assert_eq!(TOOL.parse_client(&spec, &words("-t 0 show"), echo), Err("-t: '0' is not a number of seconds (1..3600)".into()));
        assert_eq!(TOOL.parse_client(&spec, &[String::from("-s"), String::new()], echo), Err("-s: empty socket path".into()));
        assert_eq!(TOOL.parse_client(&spec, &words("-q"), echo), Err("Unrecognized option: 'q'".into()));

        // No -s, options also after the words.
        let fixed = ClientSpec { socket: SocketArg::Fixed(fixed_path), timeout_help: "t", stop_at_free: false };
        let want = Invocation { command: "show".to_string(), opts: opts("/run/fixed.ctl", true, 5) };
        assert_eq!(TOOL.parse_client(&fixed, &words("show -j"), echo), Ok(Parsed::Run(want)));
        assert_eq!(TOOL.parse_client(&fixed, &words("-s /tmp/y show"), echo), Err("Unrecognized option: 's'".into()));
        assert_eq!(TOOL.parse_client(&spec, &words("bad"), |w| Err::<(), _>(format!("no {}", w.join(" ")))), Err("no bad".into()));
    }

    #[test]
    fn watcher_helpers() {
        let mut o = getopts::Options::new();
        o.optopt("s", "", "socket", "SOCKET");
        o.optflag("h", "", "help");
        o.optflag("v", "", "version");
        let m = |s: &str| match TOOL.parse_matches(&o, &words(s)) {
            Ok(Parsed::Run(m)) => m,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(socket_path(&m(""), "/run/d.ctl"), Ok(PathBuf::from("/run/d.ctl")));
        assert_eq!(socket_path(&m("-s /tmp/a"), "/run/d.ctl"), Ok(PathBuf::from("/tmp/a")));
        assert_eq!(no_free_words(&m("-s /tmp/a")), Ok(()));
        assert_eq!(no_free_words(&m("one two")), Err("unexpected argument 'one'".into()));
        assert!(matches!(TOOL.parse_matches(&o, &words("-h -q")), Err(e) if e.contains('q')));
        assert_eq!(Parsed::Run(2).try_map(|n| Ok::<_, String>(n * 2)), Ok(Parsed::Run(4)));
        assert_eq!(Parsed::Print("p".into()).try_map(|n: u8| Ok::<_, String>(n)), Ok(Parsed::Print("p".into())));
        assert_eq!(Parsed::Run(2).try_map(|_| Err::<u8, _>("bad".to_string())), Err("bad".into()));
        assert_eq!(done_text(true), "{\"ok\":true}\n");
        assert_eq!(done_text(false), "");
        assert_eq!(Answer::Done.into_records(), vec![]);
    }

    #[test]
    fn pairs_parse() {
        let kv = |p: &[(&str, &str)]| -> Vec<(String, String)> { p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        assert_eq!(parse_pairs(&["a=1", "b=", "c=x=y"]), Ok(kv(&[("a", "1"), ("b", ""), ("c", "x=y")])));
        assert_eq!(parse_pairs(&[]), Ok(vec![]));
        assert_eq!(parse_pairs(&["peer"]), Err("malformed parameter 'peer': expected KEY=VALUE".to_string()));
        assert_eq!(parse_pairs(&["=1"]), Err("malformed parameter '=1': expected KEY=VALUE".to_string()));
        assert_eq!(parse_pairs(&["a b=1"]), Err("malformed parameter 'a b=1': expected KEY=VALUE".to_string()));
        assert_eq!(parse_pairs(&["a=1", "a=2"]), Err("parameter 'a' given twice".to_string()));
    }

    #[test]
    fn text_rendering() {
        assert_eq!(duration(0), "0:00:00");
        assert_eq!(duration(3725), "1:02:05");
        assert_eq!(duration(90_061), "1d 1:01:01");
        assert_eq!(pad("ab", 4), "  ab");
        assert_eq!(pad("ab", -4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abcdef");
        let mut a = Record::new("thing");
        a.num("id", 7u64).str("name", "").str("state", "up").flag("network_created", true);
        let mut b = Record::new("thing");
        b.num("id", 12u64).str("name", "b").num("secs", 61u64);
        let cols: &[Column] = &[("ID", "id", 4), ("NAME", "name", -5), ("SECS", "secs", 8)];
        let secs: CellFn = |k, v| match (k, v) {
            ("secs", Value::U64(s)) => Some(duration(*s)),
            _ => None,
        };
        assert_eq!(render_table(&[a.clone(), b.clone()], cols, secs), "    ID NAME      SECS\n*    7 -            -\n    12 b      0:01:01\n");
        assert_eq!(render_object(&a), "id:              7\nname:            -\nstate:           up\nnetwork_created: yes\n");
        assert_eq!(render_objects(&[b.clone(), b.clone()]), "id:   12\nname: b\nsecs: 61\n\nid:   12\nname: b\nsecs: 61\n");
        assert_eq!(render_json(std::slice::from_ref(&b), false), "{\"id\":12,\"name\":\"b\",\"secs\":61}\n");
        assert_eq!(render_json(std::slice::from_ref(&b), true), "[{\"id\":12,\"name\":\"b\",\"secs\":61}]\n");
        assert_eq!(render_json(&[], false), "[]\n");
    }

    #[test]
    fn event_rendering() {
        let mut r = Record::new("THING UP");
        r.num("handle", 3u64).str("name", "it's").flag("up", true).num("extra", 1u64);
        assert_eq!(render_event_fields(&r, Some(&["name", "handle", "missing", "up"])), "THING UP: name='it's' handle=3 up=yes");
        assert_eq!(render_event_fields(&r, None), "THING UP: handle=3 name='it's' up=yes extra=1");
        assert_eq!(render_event_json(4, &r), "{\"event\":\"THING UP\",\"seq\":4,\"handle\":3,\"name\":\"it's\",\"up\":true,\"extra\":1}");
    }

    #[test]
    fn timestamp_shape() {
        let ts = local_timestamp();
        let b = ts.as_bytes();
        assert_eq!(ts.len(), 23, "{ts}");
        for (i, c) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':'), (19, b'.')] {
            assert_eq!(b.get(i), Some(&c), "{ts}");
        }
    }
}
