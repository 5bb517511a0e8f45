//! prol2tpd's control socket: answers `prol2tp` (and later other daemons)
//! over the shared IPC message set of [`common::ipc`].
//!
//! The socket is a unix datagram socket at [`DEFAULT_CONTROL`], or at the
//! path in the `PROL2TP_CONTROL` environment variable (used by the daemon
//! and the CLI alike, so tests running several daemons do not collide).
//! It is created with mode 0600 in a 0755 directory, so only root (or the
//! daemon's own user) can send to it. SO_PEERCRED does not exist for
//! datagram sockets; instead SO_PASSCRED makes the kernel attach each
//! sender's uid, and requests from other users than root and the daemon's
//! own are refused as a second line of defence.
//!
//! Handling never blocks: one request in, one reply (or a few `Records`
//! parts) out with `MSG_DONTWAIT`; a client that does not read loses its
//! reply. Requests only read the [`Endpoint`](crate::proto::endpoint::Endpoint)
//! through its public API, except `clear statistics`, `delete` and
//! `reload`, which call the same entry points as signals and the core, and
//! `create`, `trace` and `show profiles`, answered in `api.rs`.
//! `show tunnel` and `show session` also read the data plane's counters
//! ([`crate::dataplane::Dataplane::session_stats`]; with the kernel plane
//! a netlink get, which the kernel answers while it is sent).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::control::{self as ccontrol, Incoming};
use common::evloop::{EventLoop, Interest};
use common::ipc::{self, Body, ErrorCode, Message, Record, Reply, Request, Selector};
use common::log::{self, Level};

use crate::dataplane::DataStats;
use crate::proto::header::{Transport, Version};
use crate::proto::message::{MessageType, ResultCode};
use crate::proto::result::{cdn, stop_ccn};
use crate::proto::session::Session;
use crate::proto::tunnel::Tunnel;

use super::Daemon;

/// The `Records` and `Error` replies, shared with `api.rs` and `switch.rs`.
pub(super) use common::control::{error, records};

/// Default control socket path.
pub const DEFAULT_CONTROL: &str = "/run/prol2tp/prol2tpd.ctl";
/// Environment variable that overrides [`DEFAULT_CONTROL`] for the daemon
/// and the CLI.
pub const CONTROL_ENV: &str = "PROL2TP_CONTROL";
/// Requests handled per wake-up, so the CLI cannot starve the protocol.
const REQUEST_BURST: usize = 32;

/// The control socket path in force: `$PROL2TP_CONTROL` when set and not
/// empty, else [`DEFAULT_CONTROL`].
pub fn control_path() -> PathBuf {
    match std::env::var_os(CONTROL_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONTROL),
    }
}

/// Binds the control socket and registers it with `evloop` under `key`.
/// Failure is logged and the daemon runs without a control socket (for
/// example when another prol2tpd already answers at the same path).
pub(super) fn open(evloop: &mut EventLoop, key: usize) -> Option<ipc::Server> {
    let path = control_path();
    let server = match ipc::Server::bind(&path) {
        Ok(s) => s,
        Err(e) => {
            log::log(Level::Error, format_args!("control path={} error=\"{e}\" (running without control socket)", path.display()));
            return None;
        }
    };
    if let Err(e) = evloop.register(std::os::fd::AsFd::as_fd(&server), key, Interest::READABLE) {
        log::log(Level::Error, format_args!("control path={} error=\"cannot watch: {e}\"", path.display()));
        return None;
    }
    log::log(Level::Info, format_args!("control listen path={}", path.display()));
    Some(server)
}

impl Daemon {
    /// Reads and answers pending control requests (at most a burst).
    pub(super) fn on_control(&mut self, buf: &mut [u8]) {
        let Some(server) = self.control.take() else {
            return;
        };
        for _ in 0..REQUEST_BURST {
            let Incoming { peer, request_id, request } = match ccontrol::recv_request(&server, buf) {
                Ok(Some(g)) => g,
                Ok(None) => break,
                Err(e) => {
                    log::log(Level::Warning, format_args!("control recv error=\"{e}\""));
                    break;
                }
            };
            let replies = match request {
                Ok(req @ (Request::Subscribe { .. } | Request::Unsubscribe)) => vec![self.on_subscribe(&peer, request_id, req)],
                Ok(req) => self.answer(req),
                Err(refusal) => vec![refusal],
            };
            for reply in replies {
                if let Err(e) = server.send(&peer, &Message { request_id, body: Body::Reply(reply) }) {
                    log::log(Level::Info, format_args!("control reply peer={peer} error=\"{e}\""));
                    break;
                }
            }
        }
        self.control = Some(server);
    }

    /// Carries out one request; returns the replies to send, in order.
    fn answer(&mut self, req: Request) -> Vec<Reply> {
        log::log(Level::Debug, format_args!("control request={req:?}"));
        let now = Instant::now();
        match req {
            Request::ShowSystem => vec![records(vec![self.system_record(now)])],
            Request::ShowStatistics => vec![records(vec![self.statistics_record()])],
            Request::ShowTunnels => ipc::split_records(self.ep.tunnels().map(|t| tunnel_summary(t, now)).collect()),
            Request::ShowTunnel(sel) => {
                let Some(tid) = self.find_tunnel(&sel).map(|t| t.id) else { return vec![no_tunnel(&sel)] };
                let data = self.dataplane.get().tunnel_stats(tid);
                match self.find_tunnel(&sel) {
                    Some(t) => vec![records(vec![with_data_stats(tunnel_detail(t, now), data)])],
                    None => vec![no_tunnel(&sel)],
                }
            }
            Request::ShowSessions(None) => ipc::split_records(self.ep.tunnels().flat_map(|t| t.sessions().map(move |s| session_summary(t, s, now))).collect()),
            Request::ShowSessions(Some(sel)) => match self.find_tunnel(&sel) {
                Some(t) => ipc::split_records(t.sessions().map(|s| session_summary(t, s, now)).collect()),
                None => vec![no_tunnel(&sel)],
            },
            Request::ShowSession { tunnel, session } => {
                let ids = self.find_session(&tunnel, &session).map(|(t, s)| (t.id, s.id));
                let data = ids.as_ref().ok().and_then(|&(t, s)| self.dataplane.get().session_stats(t, s));
                match self.find_session(&tunnel, &session) {
                    Ok((t, s)) => vec![records(vec![with_data_stats(session_detail(t, s, now), data)])],
                    Err(e) => vec![e],
                }
            }
            Request::ClearStatistics => {
                self.ep.clear_stats();
                log::log(Level::Info, format_args!("control clear statistics"));
                vec![Reply::Done]
            }
            // The same path as SIGHUP; the CLI hears why a reload failed.
            Request::Reload => match self.reload() {
                Ok(()) => vec![Reply::Done],
                Err(e) => vec![error(ErrorCode::Failed, &format!("reload failed: {e}"))],
            },
            Request::DeleteTunnel(sel) => vec![self.delete_tunnel(now, &sel)],
            Request::DeleteSession { tunnel, session } => {
                vec![self.delete_session(now, &tunnel, &session)]
            }
            Request::ShowProfiles => self.api_show_profiles(),
            Request::CreateTunnel { name, params } => vec![self.api_create_tunnel(now, &name, &params)],
            Request::CreateSession { tunnel, name, params } => vec![self.api_create_session(now, &tunnel, &name, &params)],
            Request::SetTrace { tunnel, session, flags } => vec![self.api_set_trace(&tunnel, session.as_ref(), &flags)],
            // Answered in `on_control`, which knows the requester's address.
            Request::Subscribe { .. } | Request::Unsubscribe => vec![error(ErrorCode::BadRequest, "subscribe needs a reply address")],
            // propppd's requests and the PPP channel's messages.
            Request::ListPpp
            | Request::ShowPpp(_)
            | Request::CreatePpp { .. }
            | Request::DestroyPpp(_)
            | Request::PppOpen { .. }
            | Request::PppClose { .. }
            | Request::ListInterfaces
            | Request::ListRoutes
            | Request::ListPppoe
            | Request::DeletePppoe(_)
            | Request::MacList { .. }
            | Request::ChannelHello { .. } => vec![error(ErrorCode::Unsupported, "not a prol2tpd request")],
        }
    }

    /// The tunnel `sel` names: by our id, or by instance name.
    pub(super) fn find_tunnel(&self, sel: &Selector) -> Option<&Tunnel> {
        match sel {
            Selector::Id(id) => self.ep.tunnel(*id),
            Selector::Name(n) => self.ep.tunnels().find(|t| t.params.name.as_deref() == Some(n.as_str())),
        }
    }

    /// The session `session` of tunnel `tunnel`, or the not-found reply.
    pub(super) fn find_session(&self, tunnel: &Selector, session: &Selector) -> Result<(&Tunnel, &Session), Reply> {
        let t = self.find_tunnel(tunnel).ok_or_else(|| no_tunnel(tunnel))?;
        let s = match session {
            Selector::Id(id) => t.session(*id),
            Selector::Name(n) => t.sessions().find(|s| s.params.name.as_deref() == Some(n.as_str())),
        };
        s.map(|s| (t, s)).ok_or_else(|| error(ErrorCode::NotFound, &format!("no session {session} in tunnel {tunnel}")))
    }

    /// Closes a tunnel with StopCCN "general request to clear". A tunnel
    /// instance from the configuration is not re-dialled (even with
    /// `persist`) until the next reload.
    fn delete_tunnel(&mut self, now: Instant, sel: &Selector) -> Reply {
        let Some(t) = self.find_tunnel(sel) else {
            return no_tunnel(sel);
        };
        let tid = t.id;
        self.instances.retain(|_, id| *id != tid);
        let r = ResultCode { result: stop_ccn::GENERAL_REQUEST_TO_CLEAR, error: None, message: None };
        match self.ep.close_tunnel(now, tid, Some(r)) {
            Ok(()) => {
                log::log(Level::Info, format_args!("control delete tunnel_id={tid}"));
                Reply::Done
            }
            Err(e) => error(ErrorCode::Failed, &e.to_string()),
        }
    }

    /// Closes a session with CDN "administrative reasons" (RFC 2661 §4.4.2
    /// result code 3).
    fn delete_session(&mut self, now: Instant, tunnel: &Selector, session: &Selector) -> Reply {
        let (tid, sid) = match self.find_session(tunnel, session) {
            Ok((t, s)) => (t.id, s.id),
            Err(e) => return e,
        };
        let r = ResultCode { result: cdn::ADMIN, error: None, message: None };
        match self.ep.close_session(now, tid, sid, Some(r)) {
            Ok(()) => {
                log::log(Level::Info, format_args!("control delete tunnel_id={tid} session_id={sid}"));
                Reply::Done
            }
            Err(e) => error(ErrorCode::Failed, &e.to_string()),
        }
    }

    fn system_record(&self, now: Instant) -> Record {
        let mut r = Record::new("system");
        let listen: Vec<String> = self.sockets.iter().map(|s| format!("{}:{}", transport_name(s.transport), s.local)).collect();
        let c = self.ep.config();
        r.str("version", env!("CARGO_PKG_VERSION"))
            .str("listen", listen.join(" "))
            .str("host_name", &c.host_name)
            .str("router_id", std::net::Ipv4Addr::from(c.router_id))
            .str("dataplane", self.dataplane.get_ref().name())
            .str("dataplane_requested", format!("{:?}", self.cfg.system.dataplane).to_lowercase())
            .str("trace_flags", log::system_mask())
            .num("tunnels", self.ep.tunnels().count() as u64)
            .num("sessions", self.ep.session_count())
            .num("max_tunnels", c.max_tunnels)
            .num("max_sessions", c.max_sessions)
            .num("max_halfopen_tunnels", c.max_halfopen_tunnels)
            .num("uptime", now.saturating_duration_since(self.started).as_secs())
            .str("control", self.control_path_display());
        let ev = self.events.counters();
        r.num("watchers", ev.subscribers)
            .num("events_sent", ev.sent)
            .num("events_dropped", ev.dropped)
            .num("watchers_removed", ev.removed)
            .num("scriptd_pid", self.scriptd_pid())
            .num("script_events_dropped", self.script_events_dropped());
        r
    }

    fn control_path_display(&self) -> String {
        control_path().display().to_string()
    }

    fn statistics_record(&self) -> Record {
        let st = self.ep.stats();
        let mut r = Record::new("statistics");
        for t in MessageType::ALL {
            let i = t as u16 as usize;
            r.num(&format!("rx_good_{}", t.name()), st.rx_good.get(i).copied().unwrap_or(0));
            r.num(&format!("rx_bad_{}", t.name()), st.rx_bad.get(i).copied().unwrap_or(0));
        }
        r.num("ctrl_tx", st.ctrl_tx)
            .num("illegal_messages", st.illegal_messages)
            .num("vendor_avps", st.vendor_avps)
            .num("auth_failures", st.auth_failures)
            .num("session_setup_failures", st.session_setup_failures)
            .num("resource_failures", st.resource_failures)
            .num("sequence_errors", st.sequence_errors)
            .num("peer_timeouts", st.peer_timeouts)
            .num("unknown_peer_sccrq", st.unknown_peer_sccrq)
            .num("data_packets", st.data_packets);
        r
    }
}

/// The fields of `prol2tp show tunnels` (one line per tunnel).
fn tunnel_summary(t: &Tunnel, now: Instant) -> Record {
    let mut r = Record::new("tunnel");
    r.num("tunnel_id", t.id)
        .str("name", t.params.name.as_deref().unwrap_or(""))
        .str("state", t.state.name())
        .num("uptime", since(t.up_at, now))
        .str("peer", t.peer)
        .num("version", version_number(t.version))
        .num("sessions", t.session_count() as u64)
        .flag("network_created", t.network_created)
        .num("peer_tunnel_id", t.peer_id);
    r
}

/// Every parameter in force and every counter of one tunnel.
fn tunnel_detail(t: &Tunnel, now: Instant) -> Record {
    let mut r = tunnel_summary(t, now);
    let p = &t.params;
    let chan = &t.chan;
    r.str("profile", &p.profile)
        .str("transport", transport_name(t.transport))
        .str("local", t.local.map(|a| a.to_string()).unwrap_or_default())
        .num("age", now.saturating_duration_since(t.created_at).as_secs())
        .str("trace_flags", t.trace_flags)
        .str("host_name", p.host_name.as_deref().unwrap_or(""))
        .flag("secret", p.secret.is_some())
        .flag("hide_avps", p.hide_avps)
        .str("digest", format!("{:?}", p.digest))
        .num("hello_interval_ms", p.hello_interval.map(ms).unwrap_or(0))
        .num("retry_timeout_ms", ms(p.retry_timeout))
        .num("max_retry_timeout_ms", ms(p.max_retry_timeout))
        .num("max_retries", p.max_retries)
        .num("rx_window_size", chan.rx_window())
        .num("peer_rx_window_size", chan.peer_window())
        .num("max_sessions", p.max_sessions)
        .str("peer_host_name", String::from_utf8_lossy(&t.peer_info.host_name))
        .str("peer_vendor_name", String::from_utf8_lossy(&t.peer_info.vendor_name))
        .str("peer_router_id", t.peer_info.router_id.map(|v| std::net::Ipv4Addr::from(v).to_string()).unwrap_or_default())
        .num("peer_firmware_revision", t.peer_info.firmware_revision.unwrap_or(0))
        .num("peer_framing_capabilities", t.peer_info.framing_capabilities.unwrap_or(0));
    if let Some(res) = &t.result {
        result_fields(&mut r, res);
    }
    let s = &t.stats;
    r.num("ctrl_rx", s.ctrl_rx)
        .num("ctrl_tx", s.ctrl_tx)
        .num("ctrl_rx_bad", s.ctrl_rx_bad)
        .num("ctrl_rx_packets", s.ctrl_rx_packets)
        .num("ctrl_tx_packets", s.ctrl_tx_packets)
        .num("ctrl_rx_octets", s.ctrl_rx_octets)
        .num("ctrl_tx_octets", s.ctrl_tx_octets)
        .num("hello_rx", s.hello_rx)
        .num("hello_tx", s.hello_tx);
    let c = chan.stats();
    r.num("next_ns", chan.next_ns())
        .num("next_nr", chan.next_nr())
        .num("outstanding", chan.outstanding() as u64)
        .num("queued", chan.queued() as u64)
        .num("send_window", chan.send_window())
        .num("sent", c.sent)
        .num("retransmissions", c.retransmitted)
        .num("acked", c.acked)
        .num("zlb_tx", c.zlb_sent)
        .num("zlb_rx", c.zlb_received)
        .num("delivered", c.delivered)
        .num("buffered", c.buffered)
        .num("duplicates", c.duplicates)
        .num("out_of_window", c.out_of_window)
        .num("bad_nr", c.bad_nr);
    r
}

/// The fields of `prol2tp show sessions` (one line per session).
fn session_summary(t: &Tunnel, s: &Session, now: Instant) -> Record {
    let mut r = Record::new("session");
    r.num("tunnel_id", t.id)
        .num("session_id", s.id)
        .str("name", s.params.name.as_deref().unwrap_or(""))
        .str("tunnel_name", t.params.name.as_deref().unwrap_or(""))
        .str("state", s.state.name())
        .num("uptime", since(s.up_at, now))
        .num("peer_session_id", s.peer_id)
        .str("call_type", call_type_name(s))
        .str("pseudowire", s.pseudowire.name())
        .flag("network_created", !matches!(s.call_type, crate::proto::session::CallType::IncomingLac | crate::proto::session::CallType::OutgoingLns));
    r
}

/// Every parameter in force and every counter of one session.
fn session_detail(t: &Tunnel, s: &Session, now: Instant) -> Record {
    let mut r = session_summary(t, s, now);
    let p = &s.params;
    r.num("peer_tunnel_id", t.peer_id)
        .str("peer", t.peer)
        .num("age", now.saturating_duration_since(s.created_at).as_secs())
        .str("profile", &p.profile)
        .str("ppp_profile", &p.ppp_profile)
        .str("eth_profile", &p.eth_profile)
        .str("interface_name", p.interface_name.as_deref().unwrap_or(""))
        .str("vlan_id", p.vlan_id.map(|v| v.to_string()).unwrap_or_default())
        .str("cookie", hex(&p.cookie))
        .str("peer_cookie", hex(&s.peer_cookie))
        .flag("send_seq", s.send_seq)
        .flag("recv_seq", s.recv_seq)
        .num("call_serial", s.call_serial)
        .str("trace_flags", s.trace_flags)
        .num("ctrl_rx", s.stats.ctrl_rx)
        .num("ctrl_tx", s.stats.ctrl_tx)
        .num("wen_rx", s.stats.wen_rx)
        .num("sli_rx", s.stats.sli_rx);
    if let Some(res) = &s.result {
        result_fields(&mut r, res);
    }
    r
}

/// Appends the data plane's counters as `data_rx_packets` … `data_tx_errors`
/// (see [`DataStats::fields`]); nothing when the plane reported none (null
/// plane, or the object is not, or no longer, in the plane).
fn with_data_stats(mut r: Record, data: Option<DataStats>) -> Record {
    for (name, value) in data.iter().flat_map(DataStats::fields) {
        r.num(&format!("data_{name}"), value);
    }
    r
}

fn result_fields(r: &mut Record, res: &ResultCode) {
    r.num("result_code", res.result).num("error_code", res.error.unwrap_or(0)).str("error_message", res.message.as_deref().unwrap_or(""));
}

fn call_type_name(s: &Session) -> &'static str {
    use crate::proto::session::CallType;
    match s.call_type {
        CallType::IncomingLac => "lac-incoming",
        CallType::IncomingLns => "lns-incoming",
        CallType::OutgoingLns => "lns-outgoing",
        CallType::OutgoingLac => "lac-outgoing",
    }
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Ip => "ip",
    }
}

fn version_number(v: Version) -> u64 {
    match v {
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

/// Whole seconds since `at`, 0 when not yet.
fn since(at: Option<Instant>, now: Instant) -> u64 {
    at.map(|a| now.saturating_duration_since(a).as_secs()).unwrap_or(0)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The reply for a tunnel that does not exist.
pub(super) fn no_tunnel(sel: &Selector) -> Reply {
    error(ErrorCode::NotFound, &format!("no tunnel {sel}"))
}
