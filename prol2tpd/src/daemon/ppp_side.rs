//! The daemon's PPP side for PPP sessions, one of (`-p`):
//!
//! - `propppd` (the default, [`super::proppp`]): the session's channel —
//!   the kernel plane's PPPoL2TP socket (`framing=kernel`) or the
//!   userspace plane's framed socket pair end (`framing=frames`) — is sent
//!   to propppd with `PppOpen` on the one channel connection
//!   ([`KEY_PROPPPD`] in the loop: readable, and writable only while
//!   records wait). `PppStatus up` is logged and completes the session's
//!   SESSION UP event (interface and addresses, see `events.rs`);
//!   `PppStatus down` closes the session with a CDN (RFC 2661 §4.4.2,
//!   Result Code 1 "Loss of carrier", the reason as the message), as
//!   xl2tpd does when its pppd ends. The CDNs sent for propppd carry
//!   Error Code 0 (No general error) so that their message goes on the
//!   wire (the Result Code AVP has a message only after an error code). The session closing first sends
//!   `PppClose`. When propppd cannot be reached the session is closed
//!   (CDN Result Code 2, General error); when the connection ends every
//!   session handed over on it is closed the same way ("PPP daemon went
//!   away"), and the next PPP session connects again. propppd may ask for
//!   a session (`CreateSession`, as `prol2tp create session`), answered
//!   with `Done` or `Error` on the connection.
//!
//!   Sessions created through a switch connection (`switch.rs`: proacd
//!   asking for LAC sessions) have that connection as their PPP side
//!   instead, whatever `-p` says: the same `PppOpen` / `PppClose` /
//!   `PppStatus` flow runs on it ([`Side::Switch`]), and its loss closes
//!   them with CDN Result Code 2 ("access concentrator went away").
//! - `ppp_unix` ([`super::ppp`]): stock pppd on the kernel plane's
//!   PPPoL2TP socket; its exit closes the session.
//! - none: PPP sessions come up with nobody running PPP on them.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use common::channel;
use common::evloop::{EventLoop, Interest};
use common::ipc::{ErrorCode, Reply, Request};
use common::log::{self, Level};

use super::plane::{Plane, KEY_PLANE0};
use super::ppp::PppSettings;
use super::proppp::{self, Input, PppConn, Status};
use super::switch::{AC_GONE, KEY_SWITCH0};
use super::Daemon;
use crate::proto::endpoint::SessionInfo;
use crate::proto::message::ResultCode;
use crate::proto::result::{cdn, error};

/// The propppd connection in the event loop (just below the hook runner's).
pub(super) const KEY_PROPPPD: usize = KEY_PLANE0 - 2;

/// CDN message of the sessions closed because the connection to propppd
/// ended.
pub const PPP_GONE: &str = "PPP daemon went away";

/// Records read from a PPP side per wake-up.
const RECV_BURST: usize = 256;

/// Which connection is a PPP session's PPP side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The connection to propppd (`-p propppd`).
    Propppd,
    /// Switch connection in slot `n` (`switch.rs`).
    Switch(usize),
}

impl Side {
    /// The connection's key in the event loop.
    pub(super) fn key(self) -> usize {
        match self {
            Side::Propppd => KEY_PROPPPD,
            Side::Switch(n) => KEY_SWITCH0.saturating_add(n),
        }
    }

    /// The first word of its log lines.
    fn name(self) -> &'static str {
        match self {
            Side::Propppd => proppp::PLUGIN,
            Side::Switch(_) => "switch",
        }
    }
}

/// Connects `p` when it is not connected and registers the new
/// connection (readable) under `key`. Errors: the connect error, or the
/// registration error (the connection is then dropped again).
fn connect_and_register(p: &mut PppConn, evloop: &mut EventLoop, key: usize) -> io::Result<bool> {
    if !p.connect()? {
        return Ok(false);
    }
    let registered = match p.channel() {
        Some(c) => evloop.register(c.as_fd(), key, Interest::READABLE),
        None => Ok(()),
    };
    if let Err(e) = registered {
        p.disconnect();
        return Err(e);
    }
    Ok(true)
}

impl Daemon {
    /// At start-up: connects to propppd when it runs; else that waits for
    /// the first PPP session.
    pub(super) fn propppd_start(&mut self) {
        let Some(p) = self.propppd.as_mut() else { return };
        let path = p.path().display().to_string();
        match connect_and_register(p, &mut self.evloop, KEY_PROPPPD) {
            Ok(_) => log::log(Level::Notice, format_args!("propppd connected path={path}")),
            Err(e) => log::log(Level::Info, format_args!("propppd not connected path={path} error=\"{e}\" (connecting when a PPP session needs it)")),
        }
    }

    /// The connection of `side`, when it exists.
    pub(super) fn conn_mut(&mut self, side: Side) -> Option<&mut PppConn> {
        match side {
            Side::Propppd => self.propppd.as_mut(),
            Side::Switch(n) => self.switch.conn_mut(n),
        }
    }

    /// The connection of `side` and the event loop, borrowed together.
    fn conn_and_loop(&mut self, side: Side) -> (Option<&mut PppConn>, &mut EventLoop) {
        let conn = match side {
            Side::Propppd => self.propppd.as_mut(),
            Side::Switch(n) => self.switch.conn_mut(n),
        };
        (conn, &mut self.evloop)
    }

    fn conn(&self, side: Side) -> Option<&PppConn> {
        match side {
            Side::Propppd => self.propppd.as_ref(),
            Side::Switch(n) => self.switch.conn(n),
        }
    }

    /// The switch connection a session belongs to, if any (else its PPP
    /// side is the one `-p` chose).
    fn switch_side_of(&self, tunnel_id: u32, session_id: u32) -> Option<Side> {
        self.switch.slot_of(tunnel_id, session_id).map(Side::Switch)
    }

    /// Every connection that exists.
    fn sides(&self) -> Vec<Side> {
        let mut v: Vec<Side> = self.switch.slots().into_iter().map(Side::Switch).collect();
        if self.propppd.is_some() {
            v.push(Side::Propppd);
        }
        v
    }

    /// A PPP session is up: its PPP side learns what it needs until the
    /// channel is ready.
    pub(super) fn ppp_session_up(&mut self, s: &SessionInfo) {
        let profile = self.cfg.ppp_profile(Some(&s.ppp_profile));
        let (mtu, mru) = profile.map_or((1500, 1500), |p| (p.mtu, p.mru));
        if let Some(side) = self.switch_side_of(s.tunnel_id, s.session_id) {
            if let Some(c) = self.conn_mut(side) {
                c.session_up(s.tunnel_id, s.session_id, proppp::open_params(s, mtu, mru));
            }
            return;
        }
        if let Some(ppp) = self.ppp.as_mut() {
            let settings = PppSettings {
                lns_mode: s.call_type.is_lns(),
                send_seq: s.send_seq,
                recv_seq: s.recv_seq,
                mtu,
                mru,
                options: PppSettings::split_options(profile.and_then(|p| p.pppd_options.as_deref())),
            };
            ppp.session_up(s.tunnel_id, s.session_id, settings);
        }
        if let Some(p) = self.propppd.as_mut() {
            p.session_up(s.tunnel_id, s.session_id, proppp::open_params(s, mtu, mru));
        }
    }

    /// The session failed before its channel was ready: the PPP side
    /// forgets it.
    pub(super) fn ppp_forget(&mut self, tunnel_id: u32, session_id: u32) {
        if let Some(side) = self.switch_side_of(tunnel_id, session_id) {
            if let Some(c) = self.conn_mut(side) {
                c.take_pending(tunnel_id, session_id);
            }
            return;
        }
        if let Some(ppp) = self.ppp.as_mut() {
            ppp.stop(tunnel_id, session_id);
        }
        if let Some(p) = self.propppd.as_mut() {
            p.take_pending(tunnel_id, session_id);
        }
    }

    /// The PPP channel of a session is ready: run its PPP side on it.
    pub(super) fn ppp_channel_ready(&mut self, now: Instant, tunnel_id: u32, session_id: u32) {
        if let Some(side) = self.switch_side_of(tunnel_id, session_id) {
            self.conn_open(now, side, tunnel_id, session_id);
        } else if self.propppd.is_some() {
            self.conn_open(now, Side::Propppd, tunnel_id, session_id);
        } else if self.ppp.is_some() {
            self.start_pppd(now, tunnel_id, session_id);
        } else {
            log::log(Level::Info, format_args!("ppp tunnel_id={tunnel_id} session_id={session_id} action=none reason=\"no PPP side (-p)\""));
        }
    }

    /// ppp_unix: runs pppd on the session's PPPoL2TP socket.
    fn start_pppd(&mut self, now: Instant, tunnel_id: u32, session_id: u32) {
        let Some(ppp) = self.ppp.as_mut() else { return };
        let Some(fd) = self.dataplane.get_ref().ppp_socket(tunnel_id, session_id) else { return };
        let program = ppp.program().display().to_string();
        match ppp.start(tunnel_id, session_id, fd) {
            Ok(pid) => log::log(Level::Info, format_args!("ppp start tunnel_id={tunnel_id} session_id={session_id} pid={pid} program={program}")),
            Err(e) => self.fail_session(now, tunnel_id, session_id, format!("cannot run {program}: {e}")),
        }
    }

    /// Sends `PppOpen` with the session's channel on `side`, connecting
    /// first when needed (propppd); closes the session when the PPP side
    /// cannot take it.
    fn conn_open(&mut self, now: Instant, side: Side, tunnel_id: u32, session_id: u32) {
        self.conn_check(now, side);
        let Some(params) = self.conn_mut(side).and_then(|p| p.take_pending(tunnel_id, session_id)) else { return };
        let (fd, framing): (Option<OwnedFd>, &str) = match &mut self.dataplane {
            Plane::Userspace(u) => (u.take_ppp_channel(tunnel_id, session_id), channel::FRAMING_FRAMES),
            Plane::Other(o) => (o.ppp_socket(tunnel_id, session_id).and_then(|f| f.try_clone_to_owned().ok()), channel::FRAMING_KERNEL),
        };
        let Some(fd) = fd else {
            return self.fail_session(now, tunnel_id, session_id, "the data plane has no PPP channel for the session".into());
        };
        let (p, evloop) = self.conn_and_loop(side);
        let Some(p) = p else { return };
        let path = p.path().display().to_string();
        let result = connect_and_register(p, evloop, side.key()).and_then(|_| p.open(tunnel_id, session_id, framing, params, fd.as_fd()));
        drop(fd);
        let name = side.name();
        match result {
            Ok(reference) => log::log(
                Level::Info,
                format_args!("ppp open tunnel_id={tunnel_id} session_id={session_id} reference={reference} framing={framing} side={name} path={path}"),
            ),
            Err(e) => {
                log::log(Level::Error, format_args!("{name} unreachable tunnel_id={tunnel_id} session_id={session_id} path={path} error=\"{e}\""));
                let what = if side == Side::Propppd { "the PPP daemon" } else { "the access concentrator" };
                let r = ResultCode { result: cdn::GENERAL_ERROR, error: Some(error::NO_GENERAL_ERROR), message: Some(format!("cannot reach {what}: {e}")) };
                let _ = self.ep.close_session(now, tunnel_id, session_id, Some(r));
                self.conn_check(now, side);
            }
        }
    }

    /// The session is down: its PPP side ends (pppd gets SIGTERM, propppd
    /// or the switch connection gets `PppClose` with the CDN's result as
    /// the reason).
    pub(super) fn ppp_session_down(&mut self, now: Instant, info: &SessionInfo, result: &ResultCode) {
        let (t, s) = (info.tunnel_id, info.session_id);
        let side = self.switch_side_of(t, s);
        if side.is_none() {
            if let Some(pid) = self.ppp.as_mut().and_then(|p| p.stop(t, s)) {
                log::log(Level::Info, format_args!("ppp stop tunnel_id={t} session_id={s} pid={pid}"));
            }
        }
        let side = side.unwrap_or(Side::Propppd);
        let Some(p) = self.conn_mut(side) else { return };
        let reason = format!(
            "L2TP session closed: result {} error {}{}",
            result.result,
            result.error.unwrap_or(0),
            result.message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(" ({m})")).unwrap_or_default()
        );
        if let Some(reference) = p.close(t, s, &reason) {
            log::log(Level::Info, format_args!("ppp close tunnel_id={t} session_id={s} reference={reference} side={} reason=\"{reason}\"", side.name()));
        }
        self.conn_check(now, side);
    }

    /// The tunnel is down: the PPP sides end what is left of its sessions
    /// (normally each already had its own SessionDown).
    pub(super) fn ppp_tunnel_down(&mut self, now: Instant, tunnel_id: u32) {
        if let Some(ppp) = self.ppp.as_mut() {
            ppp.stop_tunnel(tunnel_id);
        }
        for side in self.sides() {
            let Some(p) = self.conn_mut(side) else { continue };
            for s in p.sessions_of(tunnel_id) {
                p.close(tunnel_id, s, "L2TP tunnel closed");
            }
            self.conn_check(now, side);
        }
    }

    /// Children were reaped: a pppd that ended on its own closes its
    /// session with a CDN (RFC 2661 §5.7 Result Code 1, Loss of carrier).
    pub(super) fn on_children(&mut self, now: Instant, statuses: &[nix::sys::wait::WaitStatus]) {
        let Some(ppp) = self.ppp.as_mut() else { return };
        let exits: Vec<_> = statuses.iter().filter_map(|s| ppp.exited(s)).collect();
        for x in exits {
            log::log(
                Level::Info,
                format_args!("ppp exit tunnel_id={} session_id={} pid={} how=\"{}\" close={}", x.tunnel_id, x.session_id, x.pid, x.how, x.close_session),
            );
            if x.close_session {
                let r = ResultCode { result: cdn::LOST_CARRIER, error: None, message: Some(format!("pppd ended: {}", x.how)) };
                let _ = self.ep.close_session(now, x.tunnel_id, x.session_id, Some(r));
            }
        }
    }

    /// A PPP side's connection is readable and/or writable.
    pub(super) fn on_conn(&mut self, now: Instant, side: Side, readable: bool, writable: bool) {
        let Some(p) = self.conn_mut(side) else { return };
        if writable {
            p.flush();
        }
        let mut inputs = Vec::new();
        if readable {
            for _ in 0..RECV_BURST {
                match p.recv() {
                    None => break,
                    Some(Input::Closed) => {
                        inputs.push(Input::Closed);
                        break;
                    }
                    Some(i) => inputs.push(i),
                }
            }
        }
        for input in inputs {
            match input {
                Input::Status { reference, tunnel_id, session_id, status } => self.conn_status(now, side, reference, tunnel_id, session_id, status),
                Input::Request { request_id, request } => self.conn_request(now, side, request_id, request),
                Input::Ignored(what) => log::log(Level::Warning, format_args!("{} ignored what=\"{what}\"", side.name())),
                Input::Closed => self.conn_lost(now, side, "connection closed"),
            }
        }
        self.conn_check(now, side);
    }

    fn conn_status(&mut self, now: Instant, side: Side, reference: u32, tunnel_id: u32, session_id: u32, status: Status) {
        let name = side.name();
        match status {
            Status::Up { ifname, local_ip, peer_ip, user } => {
                log::log(
                    Level::Info,
                    format_args!(
                        "ppp up tunnel_id={tunnel_id} session_id={session_id} reference={reference} side={name} ifname={ifname} user=\"{user}\" local_ip={local_ip} peer_ip={peer_ip}"
                    ),
                );
                self.events_ppp_up(tunnel_id, session_id, &ifname, &local_ip, &peer_ip);
            }
            Status::Down { reason, reason_code } => {
                log::log(
                    Level::Info,
                    format_args!(
                        "ppp down tunnel_id={tunnel_id} session_id={session_id} reference={reference} side={name} reason=\"{reason}\" reason_code={reason_code}"
                    ),
                );
                let message = if reason.is_empty() { "PPP ended".to_string() } else { reason };
                let r = ResultCode { result: cdn::LOST_CARRIER, error: Some(error::NO_GENERAL_ERROR), message: Some(message) };
                let _ = self.ep.close_session(now, tunnel_id, session_id, Some(r));
            }
        }
    }

    /// A request from a PPP side: `CreateSession` runs as `prol2tp create
    /// session` does (propppd: answered `Done`; a switch connection: see
    /// `switch.rs`); anything else is `Unsupported`.
    fn conn_request(&mut self, now: Instant, side: Side, request_id: u32, request: Request) {
        let reply = match (side, request) {
            (Side::Switch(n), Request::CreateSession { tunnel, name, params }) => self.switch_create(now, n, &tunnel, &name, &params),
            (Side::Propppd, Request::CreateSession { tunnel, name, params }) => {
                let reply = match self.api_create_session(now, &tunnel, &name, &params) {
                    Reply::Records { .. } => Reply::Done,
                    other => other,
                };
                let outcome = match &reply {
                    Reply::Error { message, .. } => format!("error=\"{message}\""),
                    _ => "result=done".to_string(),
                };
                log::log(Level::Info, format_args!("propppd request=create-session tunnel={tunnel} name={name} {outcome}"));
                reply
            }
            (_, other) => {
                log::log(Level::Warning, format_args!("{} request=unsupported request=\"{other:?}\"", side.name()));
                Reply::Error { code: ErrorCode::Unsupported, message: "not served on the PPP channel".into() }
            }
        };
        if let Some(p) = self.conn_mut(side) {
            p.reply(request_id, reply);
        }
    }

    /// Handles a broken connection (a send on it failed).
    fn conn_check(&mut self, now: Instant, side: Side) {
        let why = self.conn(side).and_then(|p| p.broken().map(str::to_string));
        if let Some(why) = why {
            self.conn_lost(now, side, &why);
        }
    }

    /// A PPP side's connection ended: deregister it and close every
    /// session handed over on it (CDN Result Code 2, General error, "PPP
    /// daemon went away" / "access concentrator went away"). A switch
    /// connection's slot is freed.
    fn conn_lost(&mut self, now: Instant, side: Side, why: &str) {
        let (p, evloop) = self.conn_and_loop(side);
        let Some(p) = p else { return };
        if let Some(c) = p.channel() {
            let _ = evloop.deregister(c.as_fd());
        }
        let path = p.path().display().to_string();
        let lost = p.disconnect();
        if let Side::Switch(n) = side {
            self.switch.remove(n);
        }
        log::log(Level::Warning, format_args!("{} lost path={path} error=\"{why}\" sessions={}", side.name(), lost.len()));
        let message = if side == Side::Propppd { PPP_GONE } else { AC_GONE };
        for (t, s) in lost {
            let r = ResultCode { result: cdn::GENERAL_ERROR, error: Some(error::NO_GENERAL_ERROR), message: Some(message.into()) };
            let _ = self.ep.close_session(now, t, s, Some(r));
        }
    }

    /// Watches every PPP side's connection for writability exactly while
    /// records wait.
    pub(super) fn sync_conn_interest(&mut self) {
        for side in self.sides() {
            let (p, evloop) = self.conn_and_loop(side);
            let Some(p) = p else { continue };
            let want = p.wants_write();
            if want == p.write_watched() {
                continue;
            }
            let Some(c) = p.channel() else { continue };
            let interest = if want { Interest::BOTH } else { Interest::READABLE };
            if evloop.modify(c.as_fd(), interest).is_ok() {
                p.set_write_watched(want);
            }
        }
    }
}
