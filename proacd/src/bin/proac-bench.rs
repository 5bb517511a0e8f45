//! `proac-bench`: how fast the access concentrator's discovery engine
//! answers, and what a live session costs in it (issue 6, DESIGN.md
//! "Performance").
//!
//! In memory, one core: `--sessions` [`Client`]s with distinct MACs each run
//! PADI → PADO → PADR → PADS (RFC 2516 §5.1–5.4) against one [`Server`],
//! packets emitted and parsed on both sides, handed across directly. The
//! rate is discoveries completed per second of wall time, both sides' work
//! included. The memory figure is the growth of this process's resident
//! set (`VmRSS` in `/proc/self/status`) from before the server exists to after every
//! session is live, divided by the session count; the clients are dropped
//! before the second reading, so it is the engine's own cost (plus
//! allocator slack).
//!
//! Usage: `proac-bench [--sessions N]` (default 10000, at most 65534).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use proac::proto::client::{Client, ClientOutput, ClientParams};
use proac::proto::packet::{eth_frame, parse_eth, EthHeader, MacAddr, ETH_P_PPP_DISC};
use proac::proto::server::{IfaceId, InterfaceParams, Limits, Output, RouteId, Server};

const IFACE: IfaceId = 1;
const AC_MAC: MacAddr = MacAddr([0x02, 0xac, 0, 0, 0, 1]);

fn parse_opts() -> Result<usize, String> {
    let mut o = getopts::Options::new();
    o.optopt("", "sessions", "sessions to open (default 10000, at most 65534)", "N");
    o.optflag("h", "help", "this help");
    let m = o.parse(std::env::args().skip(1)).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        return Err(o.usage("Usage: proac-bench [--sessions N]"));
    }
    let n = match m.opt_str("sessions") {
        Some(s) => s.parse::<usize>().map_err(|_| format!("--sessions: not a number: {s}"))?,
        None => 10_000,
    };
    if n == 0 || n > 65_534 {
        return Err("--sessions must be 1..=65534".to_string());
    }
    Ok(n)
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`, as proppp-bench reads it).
fn rss_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn route(_: IfaceId, _: MacAddr, _: &str) -> Option<RouteId> {
    Some(0)
}

fn client_mac(i: usize) -> MacAddr {
    let b = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    MacAddr([0x02, 0x11, b[0], b[1], b[2], b[3]])
}

/// One discovery: returns true when the client is up.
fn discover(server: &mut Server, client: &mut Client, now: Instant) -> bool {
    let mut pending = client.start(now);
    let mut up = false;
    while !pending.is_empty() {
        let mut next = Vec::new();
        for o in pending {
            match o {
                ClientOutput::Send { dst, packet } => {
                    let frame = eth_frame(dst, client.our_mac(), ETH_P_PPP_DISC, &packet.emit());
                    let Ok((eth, pppoe)) = parse_eth(&frame) else { continue };
                    for so in server.input(now, IFACE, &eth, pppoe, &route) {
                        if let Output::Send { dst, packet, .. } = so {
                            let eth = EthHeader { dst, src: AC_MAC, ethertype: ETH_P_PPP_DISC };
                            next.extend(client.input(now, &eth, &packet.emit()));
                        }
                    }
                }
                ClientOutput::Up { .. } => up = true,
                ClientOutput::Failed(_) | ClientOutput::Down(_) => {}
            }
        }
        pending = next;
    }
    up
}

fn run(n: usize) -> Result<(), String> {
    let params = ClientParams {
        service_name: String::new(),
        ac_name: None,
        host_uniq: vec![0xb0, 0x0c, 0, 1],
        max_payload: None,
        timeout: Duration::from_secs(1),
        attempts: 3,
    };
    let mut clients: Vec<Client> = (0..n).map(|i| Client::new(client_mac(i), params.clone())).collect();
    let before = rss_kib().ok_or("cannot read /proc/self/status")?;
    let t0 = Instant::now();
    let limits = Limits { max_sessions: 0, max_sessions_per_mac: 0, cookie_lifetime: Duration::from_secs(60) };
    let mut server = Server::new(limits, [0x42; 32], t0);
    let ip = InterfaceParams { mac: AC_MAC, ac_name: "bench".into(), service_names: Vec::new(), max_sessions: 0, padi_rate: 0, padi_burst: 1 };
    server.set_interface(IFACE, ip);
    let start = Instant::now();
    let mut up = 0usize;
    for c in clients.iter_mut() {
        // The engine's clock: virtual, so cookies never expire during the run.
        if discover(&mut server, c, t0) {
            up += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(clients);
    let after = rss_kib().ok_or("cannot read /proc/self/status")?;
    if up != n || server.session_count() != n {
        return Err(format!("only {up} of {n} discoveries completed ({} live sessions)", server.session_count()));
    }
    let st = server.stats();
    println!("in memory: {n} discoveries (PADI, PADO, PADR, PADS; client and server) in {secs:.3} s: {:.0} discoveries/s", n as f64 / secs.max(1e-9));
    println!("server: padi_rx={} pado_tx={} padr_rx={} pads_tx={} sessions={}", st.padi_rx, st.pado_tx, st.padr_rx, st.pads_tx, server.session_count());
    let per = after.saturating_sub(before) as f64 / n as f64;
    println!("server: RSS {before} KiB before, {after} KiB with {n} sessions live: {per:.3} KiB per session");
    Ok(())
}

fn main() -> ExitCode {
    let n = match parse_opts() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("proac-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proac-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
