//! `proac_manage`: change what proacd is doing (see `proac_manage(1)`).
//!
//! `proac_manage [-s SOCKET] [-j] [-t SECONDS] COMMAND` with
//! `delete SESSION`, `allow add|remove MAC`, `deny add|remove MAC`,
//! `reload` or `clear-statistics` sends one request over proacd's control
//! socket. Nothing is printed on success (`{"ok":true}` with `-j`). MAC
//! addresses are checked here (a usage error, exit 2) before anything is
//! sent. Exit status ([`common::cli`]): 0 done, 1 proacd refused (no such
//! session, reload failed), 2 usage error, 3 proacd is not running or did
//! not answer.

use std::process::ExitCode;

use common::cli::{self as ccli, Answer, ClientSpec, Parsed, SocketArg, Tool};
use common::ipc::Request;

/// The usage text.
pub const USAGE: &str = "Usage: proac_manage [-s SOCKET] [-j] [-t SECONDS] [-h] [-v] COMMAND
Commands:
  delete SESSION           end a session with a PADT
  allow add|remove MAC     change the allow list (until the next reload)
  deny add|remove MAC      change the deny list (until the next reload)
  reload                   read the configuration file again
  clear-statistics         set the counters to zero
SESSION: a handle (decimal or 0x hex), IFACE/SESSION_ID or a client name;
MAC: aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff";

/// The tool's names for its messages.
pub const TOOL: Tool = Tool { name: "proac_manage", daemon: "proacd", usage: USAGE, version: env!("CARGO_PKG_VERSION") };

/// Its shared options.
const SPEC: ClientSpec =
    ClientSpec { socket: SocketArg::Option(super::DEFAULT_CONTROL), timeout_help: "seconds to wait for the reply (default 5)", stop_at_free: true };

/// What the user asked for.
pub type Invocation = ccli::Invocation<Request>;

/// The request for the command words.
///
/// # Errors
/// No command, an unknown one, missing or extra words, a bad session name
/// or MAC address.
pub fn parse_command(words: &[&str]) -> Result<Request, String> {
    let mac_list = |deny: bool, op: &str, mac: &str| -> Result<Request, String> {
        let add = match op {
            "add" => true,
            "remove" | "del" | "delete" => false,
            other => return Err(format!("expected add or remove, not '{other}'")),
        };
        Ok(Request::MacList { deny, add, mac: super::parse_mac_word(mac)? })
    };
    match words {
        ["delete", session] => Ok(Request::DeletePppoe(super::parse_session(session)?)),
        ["allow", op, mac] => mac_list(false, op, mac),
        ["deny", op, mac] => mac_list(true, op, mac),
        ["reload"] => Ok(Request::Reload),
        ["clear-statistics"] => Ok(Request::ClearStatistics),
        [] => Err("no command given".into()),
        _ => Err(format!("unknown command '{}'", words.join(" "))),
    }
}

/// Parses the arguments (without the program name).
///
/// # Errors
/// The message for a usage error (see [`parse_command`]; also a bad `-t`
/// or an empty `-s`).
pub fn parse_args(args: &[String]) -> Result<Parsed<Invocation>, String> {
    TOOL.parse_client(&SPEC, args, parse_command)
}

/// Carries out `inv`: the text to print (empty, or `{"ok":true}` with
/// `-j`), or the exit status after the message was printed.
///
/// # Errors
/// [`common::cli::EXIT_NO_DAEMON`] when proacd is not reachable or does not
/// answer, [`common::cli::EXIT_REFUSED`] when it refuses.
pub fn run(inv: &Invocation) -> Result<String, ExitCode> {
    let json = inv.opts.json;
    Ok(match TOOL.link(&inv.opts)?.ask(inv.command.clone())? {
        Answer::Done => ccli::done_text(json),
        Answer::Records(r) if json => ccli::render_json(&r, false),
        Answer::Records(r) => ccli::render_objects(&r),
    })
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
    use common::ipc::Selector;

    use super::*;

    fn req(s: &str) -> Result<Request, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        parse_command(&words)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(req("delete 3"), Ok(Request::DeletePppoe(Selector::Id(3))));
        assert_eq!(req("delete eth1/17"), Ok(Request::DeletePppoe(Selector::Name("eth1/17".into()))));
        assert_eq!(req("allow add 02-00-5E-00-53-01"), Ok(Request::MacList { deny: false, add: true, mac: "02:00:5e:00:53:01".into() }));
        assert_eq!(req("deny remove 02:00:5e:00:53:02"), Ok(Request::MacList { deny: true, add: false, mac: "02:00:5e:00:53:02".into() }));
        assert_eq!(req("reload"), Ok(Request::Reload));
        assert_eq!(req("clear-statistics"), Ok(Request::ClearStatistics));
        let a: Vec<String> = ["-s", "/tmp/x.ctl", "-j", "reload"].iter().map(|s| s.to_string()).collect();
        match parse_args(&a) {
            Ok(Parsed::Run(i)) => {
                let opts = ClientOpts { socket: PathBuf::from("/tmp/x.ctl"), json: true, timeout: Duration::from_secs(5) };
                assert_eq!(i, Invocation { command: Request::Reload, opts })
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors() {
        assert_eq!(req(""), Err("no command given".into()));
        assert_eq!(req("delete"), Err("unknown command 'delete'".into()));
        assert_eq!(req("reload now"), Err("unknown command 'reload now'".into()));
        assert_eq!(req("allow put 02:00:5e:00:53:01"), Err("expected add or remove, not 'put'".into()));
        assert!(req("deny add 02:00:5e:00:53").unwrap_err().contains("bad MAC address"));
        assert!(req("deny add ff:ff:ff:ff:ff:ff").unwrap_err().contains("not a unicast"));
        assert!(req("delete 0").is_err());
    }
}
