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
use super::proppp::{self, Input, Propppd, Status};
use super::Daemon;
use crate::proto::endpoint::SessionInfo;
use crate::proto::message::ResultCode;
use crate::proto::result::{cdn, error};

/// The propppd connection in the event loop (just below the hook runner's).
pub(super) const KEY_PROPPPD: usize = KEY_PLANE0 - 2;

/// CDN message of the sessions closed because the connection to propppd
/// ended.
pub const PPP_GONE: &str = "PPP daemon went away";

/// Records read from propppd per wake-up.
const RECV_BURST: usize = 256;

/// Connects `p` when it is not connected and registers the new
/// connection (readable). Errors: the connect error, or the registration
/// error (the connection is then dropped again).
fn connect_and_register(p: &mut Propppd, evloop: &mut EventLoop) -> io::Result<bool> {
    if !p.connect()? {
        return Ok(false);
    }
    let registered = match p.channel() {
        Some(c) => evloop.register(c.as_fd(), KEY_PROPPPD, Interest::READABLE),
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
        match connect_and_register(p, &mut self.evloop) {
            Ok(_) => log::log(Level::Notice, format_args!("propppd connected path={path}")),
            Err(e) => log::log(Level::Info, format_args!("propppd not connected path={path} error=\"{e}\" (connecting when a PPP session needs it)")),
        }
    }

    /// A PPP session is up: its PPP side learns what it needs until the
    /// channel is ready.
    pub(super) fn ppp_session_up(&mut self, s: &SessionInfo) {
        let profile = self.cfg.ppp_profile(Some(&s.ppp_profile));
        let (mtu, mru) = profile.map_or((1500, 1500), |p| (p.mtu, p.mru));
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
        if let Some(ppp) = self.ppp.as_mut() {
            ppp.stop(tunnel_id, session_id);
        }
        if let Some(p) = self.propppd.as_mut() {
            p.take_pending(tunnel_id, session_id);
        }
    }

    /// The PPP channel of a session is ready: run its PPP side on it.
    pub(super) fn ppp_channel_ready(&mut self, now: Instant, tunnel_id: u32, session_id: u32) {
        if self.propppd.is_some() {
            self.propppd_open(now, tunnel_id, session_id);
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

    /// propppd: sends `PppOpen` with the session's channel, connecting
    /// first when needed; closes the session when propppd cannot take it.
    fn propppd_open(&mut self, now: Instant, tunnel_id: u32, session_id: u32) {
        self.propppd_check(now);
        let Some(params) = self.propppd.as_mut().and_then(|p| p.take_pending(tunnel_id, session_id)) else { return };
        let (fd, framing): (Option<OwnedFd>, &str) = match &mut self.dataplane {
            Plane::Userspace(u) => (u.take_ppp_channel(tunnel_id, session_id), channel::FRAMING_FRAMES),
            Plane::Other(o) => (o.ppp_socket(tunnel_id, session_id).and_then(|f| f.try_clone_to_owned().ok()), channel::FRAMING_KERNEL),
        };
        let Some(fd) = fd else {
            return self.fail_session(now, tunnel_id, session_id, "the data plane has no PPP channel for the session".into());
        };
        let Some(p) = self.propppd.as_mut() else { return };
        let path = p.path().display().to_string();
        let result = connect_and_register(p, &mut self.evloop).and_then(|_| p.open(tunnel_id, session_id, framing, params, fd.as_fd()));
        drop(fd);
        match result {
            Ok(reference) => log::log(
                Level::Info,
                format_args!("ppp open tunnel_id={tunnel_id} session_id={session_id} reference={reference} framing={framing} path={path}"),
            ),
            Err(e) => {
                log::log(Level::Error, format_args!("propppd unreachable tunnel_id={tunnel_id} session_id={session_id} path={path} error=\"{e}\""));
                let r =
                    ResultCode { result: cdn::GENERAL_ERROR, error: Some(error::NO_GENERAL_ERROR), message: Some(format!("cannot reach the PPP daemon: {e}")) };
                let _ = self.ep.close_session(now, tunnel_id, session_id, Some(r));
                self.propppd_check(now);
            }
        }
    }

    /// The session is down: its PPP side ends (pppd gets SIGTERM, propppd
    /// gets `PppClose` with the CDN's result as the reason).
    pub(super) fn ppp_session_down(&mut self, now: Instant, info: &SessionInfo, result: &ResultCode) {
        let (t, s) = (info.tunnel_id, info.session_id);
        if let Some(pid) = self.ppp.as_mut().and_then(|p| p.stop(t, s)) {
            log::log(Level::Info, format_args!("ppp stop tunnel_id={t} session_id={s} pid={pid}"));
        }
        let Some(p) = self.propppd.as_mut() else { return };
        let reason = format!(
            "L2TP session closed: result {} error {}{}",
            result.result,
            result.error.unwrap_or(0),
            result.message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(" ({m})")).unwrap_or_default()
        );
        if let Some(reference) = p.close(t, s, &reason) {
            log::log(Level::Info, format_args!("ppp close tunnel_id={t} session_id={s} reference={reference} reason=\"{reason}\""));
        }
        self.propppd_check(now);
    }

    /// The tunnel is down: the PPP side ends what is left of its sessions
    /// (normally each already had its own SessionDown).
    pub(super) fn ppp_tunnel_down(&mut self, now: Instant, tunnel_id: u32) {
        if let Some(ppp) = self.ppp.as_mut() {
            ppp.stop_tunnel(tunnel_id);
        }
        let Some(p) = self.propppd.as_mut() else { return };
        for s in p.sessions_of(tunnel_id) {
            p.close(tunnel_id, s, "L2TP tunnel closed");
        }
        self.propppd_check(now);
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

    /// The propppd connection is readable and/or writable.
    pub(super) fn on_propppd(&mut self, now: Instant, readable: bool, writable: bool) {
        let Some(p) = self.propppd.as_mut() else { return };
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
                Input::Status { reference, tunnel_id, session_id, status } => self.propppd_status(now, reference, tunnel_id, session_id, status),
                Input::Request { request_id, request } => self.propppd_request(now, request_id, request),
                Input::Ignored(what) => log::log(Level::Warning, format_args!("propppd ignored what=\"{what}\"")),
                Input::Closed => self.propppd_lost(now, "connection closed"),
            }
        }
        self.propppd_check(now);
    }

    fn propppd_status(&mut self, now: Instant, reference: u32, tunnel_id: u32, session_id: u32, status: Status) {
        match status {
            Status::Up { ifname, local_ip, peer_ip, user } => {
                log::log(
                    Level::Info,
                    format_args!(
                        "ppp up tunnel_id={tunnel_id} session_id={session_id} reference={reference} ifname={ifname} user=\"{user}\" local_ip={local_ip} peer_ip={peer_ip}"
                    ),
                );
                self.events_ppp_up(tunnel_id, session_id, &ifname, &local_ip, &peer_ip);
            }
            Status::Down { reason, reason_code } => {
                log::log(
                    Level::Info,
                    format_args!("ppp down tunnel_id={tunnel_id} session_id={session_id} reference={reference} reason=\"{reason}\" reason_code={reason_code}"),
                );
                let message = if reason.is_empty() { "PPP ended".to_string() } else { reason };
                let r = ResultCode { result: cdn::LOST_CARRIER, error: Some(error::NO_GENERAL_ERROR), message: Some(message) };
                let _ = self.ep.close_session(now, tunnel_id, session_id, Some(r));
            }
        }
    }

    /// A request from propppd: `CreateSession` runs as `prol2tp create
    /// session` does; anything else is `Unsupported`.
    fn propppd_request(&mut self, now: Instant, request_id: u32, request: Request) {
        let reply = match request {
            Request::CreateSession { tunnel, name, params } => {
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
            other => {
                log::log(Level::Warning, format_args!("propppd request=unsupported request=\"{other:?}\""));
                Reply::Error { code: ErrorCode::Unsupported, message: "not served on the PPP channel".into() }
            }
        };
        if let Some(p) = self.propppd.as_mut() {
            p.reply(request_id, reply);
        }
    }

    /// Handles a broken connection (a send on it failed).
    fn propppd_check(&mut self, now: Instant) {
        let why = self.propppd.as_ref().and_then(|p| p.broken().map(str::to_string));
        if let Some(why) = why {
            self.propppd_lost(now, &why);
        }
    }

    /// The connection to propppd ended: deregister it and close every
    /// session handed over on it (CDN Result Code 2, General error).
    fn propppd_lost(&mut self, now: Instant, why: &str) {
        let Some(p) = self.propppd.as_mut() else { return };
        if let Some(c) = p.channel() {
            let _ = self.evloop.deregister(c.as_fd());
        }
        self.propppd_writable = false;
        let path = p.path().display().to_string();
        let lost = p.disconnect();
        log::log(Level::Warning, format_args!("propppd lost path={path} error=\"{why}\" sessions={}", lost.len()));
        for (t, s) in lost {
            let r = ResultCode { result: cdn::GENERAL_ERROR, error: Some(error::NO_GENERAL_ERROR), message: Some(PPP_GONE.into()) };
            let _ = self.ep.close_session(now, t, s, Some(r));
        }
    }

    /// Watches the connection for writability exactly while records wait.
    pub(super) fn sync_propppd_interest(&mut self) {
        let Some(p) = self.propppd.as_ref() else { return };
        let want = p.wants_write();
        if want == self.propppd_writable {
            return;
        }
        if let Some(c) = p.channel() {
            let interest = if want { Interest::BOTH } else { Interest::READABLE };
            if self.evloop.modify(c.as_fd(), interest).is_ok() {
                self.propppd_writable = want;
            }
        }
    }
}
