//! `proac-syscheck`: a probe of proacd's kernel path for the kernel lab
//! (`tests/lab/scenarios/proacd-bridge.sh`); not installed.
//!
//! ```text
//! proac-syscheck info IFACE
//!     interface_info and whether the kernel makes PPPoE sockets
//! proac-syscheck bridge IFACE PEER_MAC SID_A SID_B
//!     two PPPoE session sockets (SID_A and SID_B, both with PEER_MAC) on
//!     IFACE, their PPP channels bridged; then reads commands on stdin:
//!     `unbridge` (PPPIOCUNBRIDGECHAN, the sockets stay), `quit` or EOF
//! proac-syscheck inject IFACE AC_MAC SID_IN SID_OUT expect|none
//!     sends an LCP Echo-Request in session SID_IN to AC_MAC, then waits
//!     for a session frame from AC_MAC in session SID_OUT carrying the same
//!     PPP octets: `expect` succeeds when it comes within 3 s, `none` when
//!     nothing comes within 2 s
//! ```
//!
//! Every line it prints starts with the subcommand's result word
//! (`info`, `bridged`, `unbridged`, `received`, `nothing`); errors go to
//! stderr and the exit status is 1.

use std::io::{self, BufRead, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use proac::proto::packet::{parse_eth, parse_session, session_frame, MacAddr, ETH_P_PPP_SES};
use proac::sys::{self, PacketSocket};

const USAGE: &str = "usage: proac-syscheck info IFACE\n       proac-syscheck bridge IFACE PEER_MAC SID_A SID_B\n       proac-syscheck inject IFACE AC_MAC SID_IN SID_OUT expect|none";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["info", ifname] => info(ifname),
        ["bridge", ifname, peer, a, b] => bridge(ifname, peer, a, b),
        ["inject", ifname, ac, sid_in, sid_out, mode @ ("expect" | "none")] => inject(ifname, ac, sid_in, sid_out, *mode == "expect"),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proac-syscheck: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sid(text: &str) -> Result<u16, String> {
    let v = if let Some(hex) = text.strip_prefix("0x") { u16::from_str_radix(hex, 16) } else { text.parse() };
    v.ok().filter(|&v| v != 0 && v != 0xFFFF).ok_or_else(|| format!("bad session id {text:?} (1..=65534)"))
}

fn mac(text: &str) -> Result<MacAddr, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn info(ifname: &str) -> Result<(), String> {
    let i = sys::interface_info(ifname).map_err(|e| e.to_string())?;
    say(&format!("info name={} ifindex={} mac={} mtu={} up={} pppoe_kernel={}", i.name, i.ifindex, i.mac, i.mtu, i.up, sys::pppoe_kernel_available()));
    Ok(())
}

fn bridge(ifname: &str, peer: &str, a: &str, b: &str) -> Result<(), String> {
    let (peer, a, b) = (mac(peer)?, sid(a)?, sid(b)?);
    let sock_a = sys::pppoe_connect(ifname, a, peer).map_err(|e| e.to_string())?;
    let sock_b = sys::pppoe_connect(ifname, b, peer).map_err(|e| e.to_string())?;
    let joined = sys::bridge(sock_a.as_fd(), sock_b.as_fd()).map_err(|e| e.to_string())?;
    say(&format!("bridged {ifname} peer {peer}: session {a} (channel {}) <-> session {b} (channel {})", joined.channel_a, joined.channel_b));
    let mut joined = Some(joined);
    for line in io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        match line.trim() {
            "unbridge" => {
                let j = joined.take().ok_or("not bridged")?;
                j.unbridge().map_err(|e| e.to_string())?;
                say("unbridged");
            }
            "quit" => break,
            "" => {}
            other => return Err(format!("unknown command {other:?}")),
        }
    }
    drop(joined);
    drop((sock_a, sock_b));
    Ok(())
}

fn inject(ifname: &str, ac: &str, sid_in: &str, sid_out: &str, expect: bool) -> Result<(), String> {
    let (ac, sid_in, sid_out) = (mac(ac)?, sid(sid_in)?, sid(sid_out)?);
    let sock = PacketSocket::open(ifname, ETH_P_PPP_SES).map_err(|e| e.to_string())?;
    // LCP Echo-Request (RFC 1661 §5.8), identifier and magic from the clock
    // so that each run's frame is its own.
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) ^ std::process::id();
    let magic = stamp.to_be_bytes();
    let ppp = [0xc0, 0x21, 0x09, magic[3], 0x00, 0x08, magic[0], magic[1], magic[2], magic[3]];
    let me = sock.info().mac;
    sock.send(&session_frame(ac, me, sid_in, &ppp)).map_err(|e| e.to_string())?;
    let wait = if expect { Duration::from_secs(3) } else { Duration::from_secs(2) };
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(sock.as_fd(), nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        while let Some(n) = sock.recv(&mut buf).map_err(|e| e.to_string())? {
            let frame = buf.get(..n).unwrap_or(&[]);
            let Ok((eth, pppoe)) = parse_eth(frame) else { continue };
            let Ok((got_sid, got_ppp)) = parse_session(pppoe) else { continue };
            say(&format!("received session {got_sid} from {} to {} ({} octets of PPP: {})", eth.src, eth.dst, got_ppp.len(), hex(got_ppp)));
            if eth.src == ac && eth.dst == me && got_sid == sid_out && got_ppp == ppp {
                return if expect { Ok(()) } else { Err(format!("session {sid_in} came back as session {sid_out}: still bridged")) };
            }
        }
    }
    if expect {
        Err(format!("no frame in session {sid_out} from {ac} within {} s after sending session {sid_in} ({})", wait.as_secs(), hex(&ppp)))
    } else {
        say(&format!("nothing in session {sid_out} from {ac} within {} s after sending session {sid_in}", wait.as_secs()));
        Ok(())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}
