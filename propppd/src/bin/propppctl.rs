//! `propppctl`: the command-line interface of propppd (see
//! `propppctl(1)`).
//!
//! Each invocation sends one request (two for `status`) over propppd's
//! control socket (`-s SOCKET`, default [`cli::DEFAULT_CONTROL`]) and
//! prints the reply: a table for `list`, `key: value` lines for `show`
//! and `status`, nothing for the commands that only act; with `-j`, JSON.
//! Exit status ([`common::cli`]): 0 done, 1 the daemon refused (no such
//! instance, no L2TP owner connected, reload failed), 2 usage error, 3
//! propppd is not running or did not answer.

use std::process::ExitCode;

use common::cli::{self as ccli, parse_pairs, Answer, ClientSpec, Parsed, SocketArg, Tool};
use common::ipc::{Record, Request};
use proppp::cli;

const USAGE: &str = "Usage: propppctl [-s SOCKET] [-j] [-t SECONDS] [-h] [-v] COMMAND
Commands:
  list
  show NAME|HANDLE
  status
  create NAME l2tp TUNNEL [KEY=VALUE...]
  create NAME pppoe IFACE [KEY=VALUE...]
  destroy NAME|HANDLE
  reload
HANDLE: decimal or 0x hex, as propppwatch prints it; TUNNEL: prol2tpd's
tunnel id or name; KEY=VALUE: for l2tp, session parameters passed to
prol2tpd (profile=P picks the PPP profile); for pppoe, passed to proacd
(service_name, ac_name, profile, user_name, password, ifname)";

const TOOL: Tool = Tool { name: "propppctl", daemon: "propppd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

const SPEC: ClientSpec =
    ClientSpec { socket: SocketArg::Option(cli::DEFAULT_CONTROL), timeout_help: "seconds to wait for the reply (default 5)", stop_at_free: true };

/// A command and how its answer is printed.
#[derive(Debug, PartialEq)]
enum Command {
    /// `list`: a table.
    List,
    /// `show`: one record.
    Show(Request),
    /// `status`: `ShowSystem` and `ShowStatistics`.
    Status,
    /// `create`, `destroy`, `reload`: nothing printed on success.
    Act(Request),
}

/// What the user asked for.
type Invocation = ccli::Invocation<Command>;

fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    TOOL.parse_client(&SPEC, args, parse_command)
}

fn parse_command(words: &[&str]) -> Result<Command, String> {
    Ok(match words {
        ["list"] => Command::List,
        ["show", sel] => Command::Show(Request::ShowPpp(cli::parse_selector(sel)?)),
        ["status"] => Command::Status,
        ["reload"] => Command::Act(Request::Reload),
        ["destroy", sel] => Command::Act(Request::DestroyPpp(cli::parse_selector(sel)?)),
        ["create", name, kind @ ("l2tp" | "pppoe"), target, pairs @ ..] => {
            let (linktype, key) = if *kind == "l2tp" { ("pppoltp", "tunnel") } else { ("pppoe", "pppoe_interface") };
            let mut params = vec![("linktype".to_string(), linktype.to_string()), (key.to_string(), target.to_string())];
            for (k, v) in parse_pairs(pairs)? {
                if k == "linktype" || k == key {
                    return Err(format!("parameter '{k}' is set by the command"));
                }
                params.push((k, v));
            }
            Command::Act(Request::CreatePpp { name: name.to_string(), params })
        }
        ["create", _, kind, ..] if *kind != "l2tp" && *kind != "pppoe" => return Err(format!("unknown link type '{kind}' (l2tp or pppoe)")),
        [] => return Err("no command given".into()),
        _ => return Err(format!("unknown command '{}'", words.join(" "))),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    TOOL.main(parse_args(&args), |inv| ccli::print_output(run(&inv)))
}

/// Carries out `inv`; the text to print, or the exit status after the
/// message was printed.
fn run(inv: &Invocation) -> Result<String, ExitCode> {
    let mut link = TOOL.link(&inv.opts)?;
    let json = inv.opts.json;
    Ok(match &inv.command {
        Command::List => cli::render_list(&link.records(Request::ListPpp)?, json),
        Command::Show(req) => cli::render_show(&link.records(req.clone())?, json),
        Command::Status => {
            let mut all: Vec<Record> = link.records(Request::ShowSystem)?;
            all.extend(link.records(Request::ShowStatistics)?);
            cli::render_status(&all, json)
        }
        Command::Act(req) => match link.ask(req.clone())? {
            Answer::Done => ccli::done_text(json),
            Answer::Records(r) => cli::render_show(&r, json),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use common::cli::ClientOpts;
    use common::ipc::Selector;

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

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn commands_parse() {
        let opts = |socket: &str, json, secs| ClientOpts { socket: PathBuf::from(socket), json, timeout: Duration::from_secs(secs) };
        let i = inv("list");
        assert_eq!(i, Invocation { command: Command::List, opts: opts("/run/proppp/propppd.ctl", false, 5) });
        let i = inv("-s /tmp/x.ctl -j -t 2 status");
        assert_eq!(i, Invocation { command: Command::Status, opts: opts("/tmp/x.ctl", true, 2) });
        assert_eq!(inv("show 0x2").command, Command::Show(Request::ShowPpp(Selector::Id(2))));
        assert_eq!(inv("show s1").command, Command::Show(Request::ShowPpp(Selector::Name("s1".into()))));
        assert_eq!(inv("destroy 9").command, Command::Act(Request::DestroyPpp(Selector::Id(9))));
        assert_eq!(inv("reload").command, Command::Act(Request::Reload));
        assert_eq!(
            inv("create s1 l2tp t1 profile=p1 user_name=a=b").command,
            Command::Act(Request::CreatePpp {
                name: "s1".into(),
                params: kv(&[("linktype", "pppoltp"), ("tunnel", "t1"), ("profile", "p1"), ("user_name", "a=b")])
            })
        );
        assert_eq!(
            inv("create s1 l2tp 42").command,
            Command::Act(Request::CreatePpp { name: "s1".into(), params: kv(&[("linktype", "pppoltp"), ("tunnel", "42")]) })
        );
        assert!(matches!(parse_args(&args("-v")), Ok(Parsed::Print(p)) if p.starts_with("propppctl ")));
        assert!(matches!(parse_args(&args("-h")), Ok(Parsed::Print(p)) if p.starts_with("Usage: propppctl")));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err(""), "no command given");
        assert_eq!(err("list extra"), "unknown command 'list extra'");
        assert_eq!(err("show"), "unknown command 'show'");
        assert_eq!(err("show 4294967296"), "handle '4294967296' out of range");
        assert_eq!(err("create s1 atm eth0"), "unknown link type 'atm' (l2tp or pppoe)");
        assert_eq!(err("create s1 pppoe"), "unknown command 'create s1 pppoe'");
        assert_eq!(err("create s1 pppoe eth0 pppoe_interface=eth1"), "parameter 'pppoe_interface' is set by the command");
        assert_eq!(
            inv("create dsl pppoe eth0 service_name=isp user_name=u").command,
            Command::Act(Request::CreatePpp {
                name: "dsl".into(),
                params: kv(&[("linktype", "pppoe"), ("pppoe_interface", "eth0"), ("service_name", "isp"), ("user_name", "u")])
            })
        );
        assert_eq!(err("create s1 l2tp"), "unknown command 'create s1 l2tp'");
        assert_eq!(err("create s1 l2tp t1 peer"), "malformed parameter 'peer': expected KEY=VALUE");
        assert_eq!(err("create s1 l2tp t1 a=1 a=2"), "parameter 'a' given twice");
        assert_eq!(err("create s1 l2tp t1 tunnel=t2"), "parameter 'tunnel' is set by the command");
        assert_eq!(err("-t 0 list"), "-t: '0' is not a number of seconds (1..3600)");
        let empty = vec!["-s".to_string(), String::new(), "list".to_string()];
        assert_eq!(parse_args(&empty), Err("-s: empty socket path".to_string()));
        assert!(err("-q list").contains("q"));
    }
}
