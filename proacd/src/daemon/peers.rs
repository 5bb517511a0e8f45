//! The connections to the other daemons, both [`common::channel`]
//! connections, each retried every [`super::RECONNECT`] while down:
//!
//! - propppd's channel socket: proacd is the owner. It sends
//!   `ChannelHello { linktype: pppoe }`, then a `PppOpen` (with the
//!   channel fd) per local or client session and `PppClose` when the
//!   PPPoE side ends first; propppd answers `PppStatus` `up` / `down` and
//!   may relay `propppctl create NAME pppoe IFACE …` as `CreatePpp`.
//! - prol2tpd's switch socket: prol2tpd is the owner and proacd the PPP
//!   side. proacd sends `CreateSession` per l2tp-routed session; prol2tpd
//!   answers with the session's `reference`, later sends `PppOpen` with the
//!   L2TP session's channel (or `PppClose` when it failed or ended);
//!   proacd sends `PppStatus` `up` once bridged or relaying and `down`
//!   when the PPPoE side ended.
//!
//! End of file on either: PADT on every session of that side.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

use common::channel::{self, status_key, Channel, Received};
use common::evloop::Interest;
use common::ipc::{Body, ErrorCode, Message, Record, Reply, Request, Selector, Value};
use common::log::{self, Level};

use crate::config::{Destination, RouteConfig};

use super::sessions::{End, State};
use super::{dbg, Daemon, Dbg, Timer, KEY_PROL2TPD, KEY_PROPPPD, RECONNECT};

/// One connection (to propppd or to prol2tpd) and the references on it.
pub(super) struct Peer {
    path: PathBuf,
    chan: Option<Channel>,
    writable: bool,
    next_request: u32,
    /// Our request id → session handle (prol2tpd `CreateSession`).
    requests: HashMap<u32, u64>,
    /// Requests whose session ended before the answer.
    orphans: Vec<u32>,
    /// Reference → session handle.
    refs: HashMap<u32, u64>,
}

impl Peer {
    /// Not connected yet, to `path`.
    pub fn new(path: PathBuf) -> Peer {
        Peer { path, chan: None, writable: false, next_request: 1, requests: HashMap::new(), orphans: Vec::new(), refs: HashMap::new() }
    }

    /// Changes the socket path (reload); the connection is kept.
    pub fn set_path(&mut self, path: PathBuf) {
        self.path = path;
    }

    /// Whether connected.
    pub fn connected(&self) -> bool {
        self.chan.is_some()
    }

    fn send(&mut self, msg: &Message, fd: Option<BorrowedFd<'_>>) -> Result<(), String> {
        let chan = self.chan.as_mut().ok_or("not connected")?;
        chan.send(msg, fd).map_err(|e| e.to_string())
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        id
    }

    /// propppd: `PppOpen` with `fd` under `reference` for session `handle`.
    pub fn open(&mut self, reference: u32, handle: u64, params: Vec<(String, String)>, fd: BorrowedFd<'_>) -> Result<(), String> {
        let id = self.request_id();
        self.send(&Message { request_id: id, body: Body::Request(Request::PppOpen { reference, params }) }, Some(fd))?;
        self.refs.insert(reference, handle);
        Ok(())
    }

    /// Forgets `reference`.
    pub fn forget(&mut self, reference: u32) {
        self.refs.remove(&reference);
    }

    /// propppd: `PppClose`.
    pub fn send_close(&mut self, reference: u32, reason: &str) {
        let id = self.request_id();
        let _ = self.send(&Message { request_id: id, body: Body::Request(Request::PppClose { reference, reason: reason.into() }) }, None);
    }

    /// prol2tpd: `PppStatus` with `state`.
    fn send_status(&mut self, reference: u32, state: &str, reason: Option<&str>) {
        let mut record = Record::new(channel::STATUS_KIND);
        record.str(status_key::STATE, state);
        if let Some(r) = reason {
            record.str(status_key::REASON, r).num(status_key::REASON_CODE, 0u64);
        }
        let _ = self.send(&Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference, record }) }, None);
    }

    /// prol2tpd: `PppStatus down` (the PPPoE side ended).
    pub fn send_status_down(&mut self, reference: u32, reason: &str) {
        self.send_status(reference, channel::STATE_DOWN, Some(reason));
    }

    /// A `CreateSession` request whose session is gone.
    pub fn orphan_request(&mut self, id: u32) {
        if self.requests.remove(&id).is_some() {
            self.orphans.push(id);
        }
    }

    /// Writes what is queued (shutdown).
    pub fn flush_all(&mut self) {
        if let Some(c) = self.chan.as_mut() {
            let _ = c.flush();
        }
    }
}

/// The string value of `key` in `r`.
fn field(r: &Record, key: &str) -> Option<String> {
    r.get(key).map(|v| match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The number under `key` in `r` (a number, or digits in a string).
fn num_field(r: &Record, key: &str) -> Option<u64> {
    match r.get(key)? {
        Value::U64(n) => Some(*n),
        Value::Str(s) => s.parse().ok(),
        Value::Bool(_) => None,
    }
}

impl Daemon {
    /// Tries to connect to propppd (and arms the retry on failure).
    pub(super) fn connect_propppd(&mut self, now: Instant) {
        if self.propppd.connected() || self.stopping {
            return;
        }
        match Channel::connect(&self.propppd.path) {
            Ok(chan) => {
                if let Err(e) = self.evloop.register(chan.as_fd(), KEY_PROPPPD, Interest::READABLE) {
                    log::log(Level::Error, format_args!("propppd watch error=\"{e}\""));
                    self.timers.set(Timer::Propppd, now + RECONNECT);
                    return;
                }
                self.propppd.chan = Some(chan);
                self.propppd.writable = false;
                log::log(Level::Notice, format_args!("propppd connected socket={}", self.propppd.path.display()));
                let hello = Message { request_id: 0, body: Body::Request(Request::ChannelHello { linktype: channel::LINKTYPE_PPPOE.into() }) };
                let _ = self.propppd.send(&hello, None);
                self.sync_peer_interest();
            }
            Err(e) => {
                dbg(Dbg::Ppp, format_args!("propppd connect socket={} error=\"{e}\"", self.propppd.path.display()));
                self.timers.set(Timer::Propppd, now + RECONNECT);
            }
        }
    }

    /// Tries to connect to prol2tpd's switch socket.
    pub(super) fn connect_prol2tpd(&mut self, now: Instant) {
        if self.prol2tpd.connected() || self.stopping {
            return;
        }
        match Channel::connect(&self.prol2tpd.path) {
            Ok(chan) => {
                if let Err(e) = self.evloop.register(chan.as_fd(), KEY_PROL2TPD, Interest::READABLE) {
                    log::log(Level::Error, format_args!("prol2tpd watch error=\"{e}\""));
                    self.timers.set(Timer::Prol2tpd, now + RECONNECT);
                    return;
                }
                self.prol2tpd.chan = Some(chan);
                self.prol2tpd.writable = false;
                log::log(Level::Notice, format_args!("prol2tpd connected socket={}", self.prol2tpd.path.display()));
            }
            Err(e) => {
                dbg(Dbg::L2tp, format_args!("prol2tpd connect socket={} error=\"{e}\"", self.prol2tpd.path.display()));
                self.timers.set(Timer::Prol2tpd, now + RECONNECT);
            }
        }
    }

    /// Watches each connection for writability while records wait.
    pub(super) fn sync_peer_interest(&mut self) {
        for peer in [&mut self.propppd, &mut self.prol2tpd] {
            let Some(chan) = peer.chan.as_ref() else { continue };
            let want = chan.wants_write();
            if want != peer.writable {
                let interest = if want { Interest::BOTH } else { Interest::READABLE };
                if self.evloop.modify(chan.as_fd(), interest).is_ok() {
                    peer.writable = want;
                }
            }
        }
    }

    /// The connection to propppd is readable or writable.
    pub(super) fn on_propppd(&mut self, now: Instant, readable: bool, writable: bool) {
        if writable {
            if let Some(c) = self.propppd.chan.as_mut() {
                if c.flush().is_err() {
                    self.propppd_gone(now);
                    return;
                }
            }
        }
        if readable {
            for _ in 0..super::BURST {
                let Some(chan) = self.propppd.chan.as_mut() else { return };
                match chan.recv() {
                    Received::Message(m, _fd) => self.propppd_message(now, m),
                    Received::Malformed(e) => log::log(Level::Warning, format_args!("propppd bad record error=\"{e}\"")),
                    Received::Nothing => break,
                    Received::Closed => {
                        self.propppd_gone(now);
                        return;
                    }
                }
            }
        }
        self.sync_peer_interest();
    }

    fn propppd_message(&mut self, now: Instant, m: Message) {
        match m.body {
            Body::Reply(Reply::PppStatus { reference, record }) => {
                let Some(h) = self.propppd.refs.get(&reference).copied() else {
                    dbg(Dbg::Ppp, format_args!("propppd status for unknown reference={reference}"));
                    return;
                };
                let state = field(&record, status_key::STATE).unwrap_or_default();
                if state == channel::STATE_UP {
                    if let Some(s) = self.sessions.get_mut(&h) {
                        s.state = State::Up;
                        s.ppp_ifname = field(&record, status_key::IFNAME).unwrap_or_default();
                        s.local_ip = field(&record, status_key::LOCAL_IP).unwrap_or_default();
                        s.peer_ip = field(&record, status_key::PEER_IP).unwrap_or_default();
                        log::log(Level::Notice, format_args!("session up handle={h} name={} ifname={} peer_ip={}", s.name, s.ppp_ifname, s.peer_ip));
                    }
                } else {
                    let reason = field(&record, status_key::REASON).filter(|r| !r.is_empty()).unwrap_or_else(|| "PPP down".into());
                    if self.sessions.get(&h).is_some_and(|s| s.state == State::Starting) {
                        self.stats.ppp_failures = self.stats.ppp_failures.saturating_add(1);
                    }
                    self.propppd.forget(reference);
                    if let Some(s) = self.sessions.get_mut(&h) {
                        s.ppp_ref = None;
                    }
                    self.end_session(now, h, &reason, End::Side);
                }
            }
            Body::Request(Request::CreatePpp { name, params }) => {
                let reply = match self.create_client(now, name, &params) {
                    Ok(()) => Reply::Done,
                    Err(e) => Reply::Error { code: ErrorCode::Failed, message: e },
                };
                let _ = self.propppd.send(&Message { request_id: m.request_id, body: Body::Reply(reply) }, None);
            }
            Body::Request(other) => {
                let reply = Reply::Error { code: ErrorCode::Unsupported, message: "proacd does not serve this request".into() };
                dbg(Dbg::Ppp, format_args!("propppd unexpected request={other:?}"));
                let _ = self.propppd.send(&Message { request_id: m.request_id, body: Body::Reply(reply) }, None);
            }
            Body::Reply(other) => dbg(Dbg::Ppp, format_args!("propppd reply ignored reply={other:?}")),
        }
    }

    /// propppd went away: every local and client session ends (PADT).
    fn propppd_gone(&mut self, now: Instant) {
        if let Some(chan) = self.propppd.chan.take() {
            let _ = self.evloop.deregister(chan.as_fd());
        }
        let handles: Vec<u64> = self.propppd.refs.drain().map(|(_, h)| h).collect();
        log::log(Level::Warning, format_args!("propppd gone sessions={}", handles.len()));
        for h in handles {
            if let Some(s) = self.sessions.get_mut(&h) {
                s.ppp_ref = None;
            }
            self.end_session(now, h, "propppd went away", End::Side);
        }
        self.timers.set(Timer::Propppd, now + RECONNECT);
    }

    /// Asks prol2tpd for an L2TP session for session `handle` (route `rc`).
    pub(super) fn open_l2tp(&mut self, handle: u64, rc: &RouteConfig) -> Result<(), String> {
        if !self.prol2tpd.connected() {
            return Err("prol2tpd is not connected".into());
        }
        let tunnel = rc.tunnel_profile.clone().ok_or("route has no tunnel_profile")?;
        let s = self.sessions.get(&handle).ok_or("session gone")?;
        let mut params: Vec<(String, String)> = vec![("calling_number".into(), s.peer_mac.to_string())];
        if let Some(sp) = rc.session_profile.as_deref().filter(|p| !p.is_empty()) {
            params.push(("session_profile".into(), sp.into()));
        }
        if let Some(pp) = rc.ppp_profile.as_deref().filter(|p| !p.is_empty()) {
            params.push(("ppp_profile".into(), pp.into()));
        }
        let name = s.name.replace('/', "-");
        let id = self.prol2tpd.request_id();
        let msg = Message { request_id: id, body: Body::Request(Request::CreateSession { tunnel: Selector::Name(tunnel.clone()), name, params }) };
        self.prol2tpd.send(&msg, None)?;
        self.prol2tpd.requests.insert(id, handle);
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.l2tp_request = Some(id);
        }
        dbg(Dbg::L2tp, format_args!("create session handle={handle} tunnel={tunnel} request_id={id}"));
        self.sync_peer_interest();
        Ok(())
    }

    /// The switch connection is readable or writable.
    pub(super) fn on_prol2tpd(&mut self, now: Instant, readable: bool, writable: bool) {
        if writable {
            if let Some(c) = self.prol2tpd.chan.as_mut() {
                if c.flush().is_err() {
                    self.prol2tpd_gone(now);
                    return;
                }
            }
        }
        if readable {
            for _ in 0..super::BURST {
                let Some(chan) = self.prol2tpd.chan.as_mut() else { return };
                match chan.recv() {
                    Received::Message(m, fd) => self.prol2tpd_message(now, m, fd),
                    Received::Malformed(e) => log::log(Level::Warning, format_args!("prol2tpd bad record error=\"{e}\"")),
                    Received::Nothing => break,
                    Received::Closed => {
                        self.prol2tpd_gone(now);
                        return;
                    }
                }
            }
        }
        self.sync_peer_interest();
    }

    fn prol2tpd_message(&mut self, now: Instant, m: Message, fd: Option<OwnedFd>) {
        match m.body {
            Body::Reply(reply) => self.prol2tpd_answer(now, m.request_id, reply),
            Body::Request(Request::PppOpen { reference, params }) => {
                let Some(h) = self.prol2tpd.refs.get(&reference).copied() else {
                    dbg(Dbg::L2tp, format_args!("prol2tpd open for unknown reference={reference}"));
                    self.prol2tpd.send_status_down(reference, "no such PPPoE session");
                    return;
                };
                let framing = params.iter().find(|(k, _)| k == channel::open_key::FRAMING).map(|(_, v)| v.clone()).unwrap_or_default();
                let result = match fd {
                    None => Err("PppOpen without a channel fd".to_string()),
                    Some(fd) => self.join_l2tp(h, &framing, fd),
                };
                match result {
                    Ok(()) => {
                        self.prol2tpd.send_status(reference, channel::STATE_UP, None);
                        if let Some(s) = self.sessions.get_mut(&h) {
                            s.state = State::Up;
                            log::log(Level::Notice, format_args!("session up handle={h} name={} framing={framing}", s.name));
                        }
                    }
                    Err(e) => {
                        self.stats.l2tp_failures = self.stats.l2tp_failures.saturating_add(1);
                        log::log(Level::Warning, format_args!("session failed handle={h} error=\"{e}\""));
                        self.end_session(now, h, &e, End::Local);
                    }
                }
            }
            Body::Request(Request::PppClose { reference, reason }) => {
                let Some(h) = self.prol2tpd.refs.remove(&reference) else { return };
                if self.sessions.get(&h).is_some_and(|s| s.state == State::Starting) {
                    self.stats.l2tp_failures = self.stats.l2tp_failures.saturating_add(1);
                }
                if let Some(s) = self.sessions.get_mut(&h) {
                    s.l2tp_ref = None;
                }
                self.end_session(now, h, if reason.is_empty() { "L2TP session closed" } else { &reason }, End::Side);
            }
            Body::Request(other) => {
                dbg(Dbg::L2tp, format_args!("prol2tpd unexpected request={other:?}"));
                let reply = Reply::Error { code: ErrorCode::Unsupported, message: "proacd does not serve this request".into() };
                let _ = self.prol2tpd.send(&Message { request_id: m.request_id, body: Body::Reply(reply) }, None);
            }
        }
    }

    /// prol2tpd answered our `CreateSession` `id`.
    fn prol2tpd_answer(&mut self, now: Instant, id: u32, reply: Reply) {
        let handle = self.prol2tpd.requests.remove(&id);
        let orphan = handle.is_none() && self.prol2tpd.orphans.contains(&id);
        self.prol2tpd.orphans.retain(|o| *o != id);
        match reply {
            Reply::Records { records, .. } => {
                let rec = records.iter().find(|r| r.kind == "session").or(records.first());
                let reference = rec.and_then(|r| num_field(r, "reference")).and_then(|r| u32::try_from(r).ok());
                let Some(reference) = reference else {
                    if let Some(h) = handle {
                        self.stats.l2tp_failures = self.stats.l2tp_failures.saturating_add(1);
                        self.end_session(now, h, "prol2tpd gave no reference", End::Side);
                    }
                    return;
                };
                let Some(h) = handle.filter(|h| self.sessions.contains_key(h)) else {
                    if orphan {
                        self.prol2tpd.send_status_down(reference, "PPPoE session ended");
                    }
                    return;
                };
                let ids = rec.map(|r| (num_field(r, "tunnel_id").unwrap_or(0), num_field(r, "session_id").unwrap_or(0)));
                self.prol2tpd.refs.insert(reference, h);
                if let Some(s) = self.sessions.get_mut(&h) {
                    s.l2tp_request = None;
                    s.l2tp_ref = Some(reference);
                    s.l2tp_ids = ids;
                }
                dbg(Dbg::L2tp, format_args!("session created handle={h} reference={reference} ids={ids:?}"));
            }
            Reply::Error { message, .. } => {
                if let Some(h) = handle {
                    self.stats.l2tp_failures = self.stats.l2tp_failures.saturating_add(1);
                    if let Some(s) = self.sessions.get_mut(&h) {
                        s.l2tp_request = None;
                    }
                    self.end_session(now, h, &format!("prol2tpd: {message}"), End::Side);
                }
            }
            other => dbg(Dbg::L2tp, format_args!("prol2tpd reply ignored request_id={id} reply={other:?}")),
        }
    }

    /// Joins session `h`'s PPPoE side to prol2tpd's channel `fd`.
    fn join_l2tp(&mut self, h: u64, framing: &str, fd: OwnedFd) -> Result<(), String> {
        if framing == channel::FRAMING_KERNEL {
            if !self.kernel {
                return Err("prol2tpd sent a kernel channel but the data plane is userspace".into());
            }
            let s = self.sessions.get_mut(&h).ok_or("session gone")?;
            let pppoe = crate::sys::pppoe_connect(&s.iface, s.session_id, s.peer_mac).map_err(|e| format!("cannot connect PPPoE socket: {e}"))?;
            let bridge = crate::sys::bridge(pppoe.as_fd(), fd.as_fd()).map_err(|e| format!("cannot bridge PPP channels: {e}"))?;
            s.pppoe_fd = Some(pppoe);
            s.l2tp_fd = Some(fd);
            s.bridge = Some(bridge);
            return Ok(());
        }
        if self.kernel {
            return Err("prol2tpd sent a framed channel but the data plane is kernel".into());
        }
        self.set_relay(h, fd)
    }

    /// prol2tpd went away: every l2tp session ends (PADT).
    fn prol2tpd_gone(&mut self, now: Instant) {
        if let Some(chan) = self.prol2tpd.chan.take() {
            let _ = self.evloop.deregister(chan.as_fd());
        }
        let mut handles: Vec<u64> = self.prol2tpd.refs.drain().map(|(_, h)| h).collect();
        handles.extend(self.prol2tpd.requests.drain().map(|(_, h)| h));
        self.prol2tpd.orphans.clear();
        log::log(Level::Warning, format_args!("prol2tpd gone sessions={}", handles.len()));
        for h in handles {
            if let Some(s) = self.sessions.get_mut(&h) {
                s.l2tp_ref = None;
                s.l2tp_request = None;
            }
            self.end_session(now, h, "prol2tpd went away", End::Side);
        }
        self.timers.set(Timer::Prol2tpd, now + RECONNECT);
    }

    /// Whether any configured route needs `dest`.
    #[allow(dead_code)]
    pub(super) fn routes_need(&self, dest: Destination) -> bool {
        self.cfg.routes.iter().any(|r| r.destination == dest)
    }
}
