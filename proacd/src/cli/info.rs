//! `proac_info`: what proacd is doing (see `proac_info(1)`).
//!
//! `proac_info [-s SOCKET] [-j] [-t SECONDS] [system|interfaces|routes|sessions|statistics]`
//! sends one request per topic over proacd's control socket and prints the
//! replies: `key: value` lines for `system` and `statistics`, a table for
//! the lists; with `-j`, JSON. Without a topic it shows `system`,
//! `interfaces`, `routes` and `sessions` one after the other (JSON: one
//! object keyed by topic). Exit status ([`common::cli`]): 0 done, 1 proacd
//! refused, 2 usage error, 3 proacd is not running or did not answer.

use std::process::ExitCode;

use common::cli::{self as ccli, ClientSpec, Parsed, SocketArg, Tool};
use common::ipc::{json_string, Record, Request};

/// The usage text.
pub const USAGE: &str = "Usage: proac_info [-s SOCKET] [-j] [-t SECONDS] [-h] [-v] [TOPIC]
Topics:
  system       daemon state, connections to propppd and prol2tpd
  interfaces   interfaces discovery is answered on
  routes       where sessions go
  sessions     PPPoE sessions
  statistics   discovery and relay counters
Without a topic: system, interfaces, routes and sessions.";

/// The tool's names for its messages.
pub const TOOL: Tool = Tool { name: "proac_info", daemon: "proacd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

/// Its shared options: `-s`, `-t` per reply, options also after the topic.
const SPEC: ClientSpec =
    ClientSpec { socket: SocketArg::Option(super::DEFAULT_CONTROL), timeout_help: "seconds to wait for each reply (default 5)", stop_at_free: false };

/// What can be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// `system`: the `ShowSystem` record.
    System,
    /// `interfaces`: `ListInterfaces`.
    Interfaces,
    /// `routes`: `ListRoutes`.
    Routes,
    /// `sessions`: `ListPppoe`.
    Sessions,
    /// `statistics`: `ShowStatistics`.
    Statistics,
}

/// The topics shown when none is named.
pub const DEFAULT_TOPICS: [Topic; 4] = [Topic::System, Topic::Interfaces, Topic::Routes, Topic::Sessions];

impl Topic {
    /// The word on the command line and the key in combined JSON.
    pub fn word(self) -> &'static str {
        match self {
            Topic::System => "system",
            Topic::Interfaces => "interfaces",
            Topic::Routes => "routes",
            Topic::Sessions => "sessions",
            Topic::Statistics => "statistics",
        }
    }

    /// The topic named `word`.
    pub fn from_word(word: &str) -> Option<Topic> {
        [Topic::System, Topic::Interfaces, Topic::Routes, Topic::Sessions, Topic::Statistics].into_iter().find(|t| t.word() == word)
    }

    /// The request that fetches it.
    pub fn request(self) -> Request {
        match self {
            Topic::System => Request::ShowSystem,
            Topic::Interfaces => Request::ListInterfaces,
            Topic::Routes => Request::ListRoutes,
            Topic::Sessions => Request::ListPppoe,
            Topic::Statistics => Request::ShowStatistics,
        }
    }

    /// True for the topics that are lists (a table; a JSON array).
    pub fn is_list(self) -> bool {
        matches!(self, Topic::Interfaces | Topic::Routes | Topic::Sessions)
    }
}

/// What the user asked for: the topics, in the order shown.
pub type Invocation = ccli::Invocation<Vec<Topic>>;

/// Parses the arguments (without the program name).
///
/// # Errors
/// The message for a usage error: unknown option or topic, more than one
/// topic, a bad `-t`, an empty `-s`.
pub fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    TOOL.parse_client(&SPEC, args, parse_topics)
}

/// The topics the words name: [`DEFAULT_TOPICS`] for none. Errors: an
/// unknown topic, more than one.
fn parse_topics(words: &[&str]) -> Result<Vec<Topic>, String> {
    match words {
        [] => Ok(DEFAULT_TOPICS.to_vec()),
        [word] => Ok(vec![Topic::from_word(word).ok_or_else(|| format!("unknown topic '{word}'"))?]),
        [_, extra, ..] => Err(format!("unexpected argument '{extra}'")),
    }
}

/// One topic as text: `key: value` lines or a table.
fn render_text(topic: Topic, records: &[Record]) -> String {
    match topic {
        Topic::System | Topic::Statistics => ccli::render_objects(records),
        Topic::Interfaces => super::render_interfaces(records),
        Topic::Routes => super::render_routes(records),
        Topic::Sessions => super::render_sessions(records),
    }
}

/// One topic as JSON (no newline): an array for a list topic, else the
/// object (`{}` when proacd sent none).
fn render_json_value(topic: Topic, records: &[Record]) -> String {
    if topic.is_list() {
        let objs: Vec<String> = records.iter().map(Record::to_json).collect();
        format!("[{}]", objs.join(","))
    } else {
        records.first().map_or_else(|| "{}".to_string(), Record::to_json)
    }
}

/// The output for `shown` (each topic with the records proacd sent): one
/// topic as its text or JSON value; several as text blocks separated by an
/// empty line, or one JSON object keyed by topic word.
pub fn render(shown: &[(Topic, Vec<Record>)], json: bool) -> String {
    match (json, shown) {
        (true, [(topic, records)]) => format!("{}\n", render_json_value(*topic, records)),
        (true, _) => {
            let parts: Vec<String> = shown.iter().map(|(t, r)| format!("{}:{}", json_string(t.word()), render_json_value(*t, r))).collect();
            format!("{{{}}}\n", parts.join(","))
        }
        (false, _) => shown.iter().map(|(t, r)| render_text(*t, r)).collect::<Vec<_>>().join("\n"),
    }
}

/// Carries out `inv`: the text to print, or the exit status after the
/// message was printed.
///
/// # Errors
/// [`common::cli::EXIT_NO_DAEMON`] when proacd is not reachable or does not
/// answer, [`common::cli::EXIT_REFUSED`] when it refuses.
pub fn run(inv: &Invocation) -> Result<String, ExitCode> {
    let mut link = TOOL.link(&inv.opts)?;
    let mut shown = Vec::with_capacity(inv.command.len());
    for topic in &inv.command {
        shown.push((*topic, link.records(topic.request())?));
    }
    Ok(render(&shown, inv.opts.json))
}

/// The program: parses `args` (without the program name), runs, prints.
pub fn main(args: &[String]) -> ExitCode {
    TOOL.main(parse_args(args), |inv| ccli::print_output(run(&inv)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use common::cli::ClientOpts;

    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn inv(s: &str) -> Invocation {
        match parse_args(&args(s)) {
            Ok(Parsed::Run(i)) => i,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse_args(&args(s)) {
            Err(e) => e,
            Ok(p) => panic!("{s}: parsed as {p:?}"),
        }
    }

    #[test]
    fn topics_parse() {
        let opts = |socket: &str, json, secs| ClientOpts { socket: PathBuf::from(socket), json, timeout: Duration::from_secs(secs) };
        assert_eq!(inv(""), Invocation { command: DEFAULT_TOPICS.to_vec(), opts: opts("/run/proac/proacd.ctl", false, 5) });
        let i = inv("-s /tmp/p.ctl -j -t 2 statistics");
        assert_eq!(i, Invocation { command: vec![Topic::Statistics], opts: opts("/tmp/p.ctl", true, 2) });
        // Options may follow the topic.
        assert_eq!(inv("routes -j").opts, opts("/run/proac/proacd.ctl", true, 5));
        for t in ["system", "interfaces", "routes", "sessions", "statistics"] {
            assert_eq!(inv(t).command[0].word(), t);
        }
        assert!(matches!(parse_args(&args("-v")), Ok(Parsed::Print(p)) if p.starts_with("proac_info ")));
        assert!(matches!(parse_args(&args("-h")), Ok(Parsed::Print(p)) if p.starts_with("Usage: proac_info")));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err("tunnels"), "unknown topic 'tunnels'");
        assert_eq!(err("system routes"), "unexpected argument 'routes'");
        assert_eq!(err("-t 0 system"), "-t: '0' is not a number of seconds (1..3600)");
        assert!(err("-q").contains('q'));
        let empty = vec!["-s".to_string(), String::new()];
        assert_eq!(parse_args(&empty), Err("-s: empty socket path".to_string()));
    }

    #[test]
    fn json_shapes() {
        let mut sys = Record::new("system");
        sys.str("version", "0.1.0").num("sessions", 2u64);
        assert_eq!(render(&[(Topic::System, vec![sys.clone()])], true), "{\"version\":\"0.1.0\",\"sessions\":2}\n");
        assert_eq!(render(&[(Topic::Sessions, vec![])], true), "[]\n");
        assert_eq!(render(&[(Topic::Statistics, vec![])], true), "{}\n");
        assert_eq!(render(&[(Topic::System, vec![sys]), (Topic::Routes, vec![])], true), "{\"system\":{\"version\":\"0.1.0\",\"sessions\":2},\"routes\":[]}\n");
    }
}
