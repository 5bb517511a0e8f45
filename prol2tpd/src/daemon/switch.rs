//! The switch channel: PPP sides that switch their sessions into L2TP
//! (proacd, the PPPoE access concentrator) connect to `[system]
//! switch_socket` (`SOCK_SEQPACKET`, mode 0600, default
//! `/run/prol2tp/prol2tpd.chan`) and ask for LAC sessions. On this
//! connection prol2tpd is the channel owner and the connecting process
//! the PPP side: the messages are those of `common::channel`, with the
//! roles propppd plays there played by the connecting process.
//!
//! 1. PPP side → prol2tpd: `CreateSession { tunnel: Name(T), name, params }`.
//!    T is a configured tunnel instance, else a tunnel profile: a live
//!    tunnel made here for that profile, not closing and below its
//!    `max_sessions`, is reused, else one is created from the profile
//!    (named `T`, else `T-2`, `T-3`, … when taken). `params` are those of
//!    `prol2tp create session`, plus `calling_number` (sent as the ICRQ's
//!    Calling Number AVP, RFC 2661 §4.4.5). A `name` that is not a valid
//!    session instance name (`IFACE/SID` holds `/`) has such characters
//!    replaced by `-` (a number gets the prefix `s`). Answer: `Records`
//!    with one `session` record (`tunnel_id`, `session_id`, `reference`),
//!    or `Error`.
//! 2. prol2tpd → PPP side: `PppOpen { reference, params }` with the
//!    session's channel fd once the session is established and its
//!    channel ready (as to propppd: `framing`, `linktype=pppoltp`,
//!    `role=client`, the ids); `PppClose { reference, reason }` when the
//!    session ends on the L2TP side, also before it was opened.
//! 3. PPP side → prol2tpd: `PppStatus up` (SESSION UP is published),
//!    `PppStatus down` (CDN Result Code 1 with the reason, no `PppClose`).
//! 4. End of file: every session of the connection is closed with CDN
//!    Result Code 2, "access concentrator went away".
//!
//! At most [`MAX_SWITCH`] connections; one more is closed at once.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

use common::channel::ChannelListener;
use common::evloop::Interest;
use common::ipc::{ErrorCode, Record, Reply, Selector};
use common::log::{self, Level};

use super::control::{error, records};
use super::plane::KEY_PLANE0;
use super::proppp::PppConn;
use super::Daemon;
use crate::proto::tunnel::TunnelState;

/// Most switch connections at once.
pub const MAX_SWITCH: usize = 16;
/// CDN message of the sessions closed because their switch connection
/// ended.
pub const AC_GONE: &str = "access concentrator went away";
/// The listening socket in the event loop.
pub(super) const KEY_SWITCH_LISTEN: usize = KEY_PLANE0 - 3;
/// Switch connections: `KEY_SWITCH0 + slot`, slot < [`MAX_SWITCH`].
pub(super) const KEY_SWITCH0: usize = KEY_SWITCH_LISTEN - 1 - MAX_SWITCH;
/// The `CreateSession` param carried in the ICRQ's Calling Number AVP.
const CALLING_NUMBER: &str = "calling_number";
/// Tunnel names tried for a profile: `T`, `T-2`, … `T-<this>`.
const MAX_TUNNEL_SUFFIX: u32 = 65_535;

/// The switch socket, its connections and the tunnels made for them.
#[derive(Debug, Default)]
pub(super) struct Switch {
    listener: Option<ChannelListener>,
    conns: Vec<Option<PppConn>>,
    /// Tunnel id → the tunnel profile it was created from here.
    tunnels: HashMap<u32, String>,
}

impl Switch {
    /// Connection in `slot`.
    pub(super) fn conn_mut(&mut self, slot: usize) -> Option<&mut PppConn> {
        self.conns.get_mut(slot).and_then(Option::as_mut)
    }

    /// Connection in `slot`.
    pub(super) fn conn(&self, slot: usize) -> Option<&PppConn> {
        self.conns.get(slot).and_then(Option::as_ref)
    }

    /// Slots in use.
    pub(super) fn slots(&self) -> Vec<usize> {
        self.conns.iter().enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| i).collect()
    }

    /// The slot whose connection has session `(tunnel_id, session_id)`.
    pub(super) fn slot_of(&self, tunnel_id: u32, session_id: u32) -> Option<usize> {
        self.conns.iter().position(|c| c.as_ref().is_some_and(|c| c.has_session(tunnel_id, session_id)))
    }

    /// Frees `slot` (its connection was deregistered and disconnected).
    pub(super) fn remove(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            *c = None;
        }
    }

    /// A tunnel is gone: it is no longer reused.
    pub(super) fn tunnel_deleted(&mut self, tunnel_id: u32) {
        self.tunnels.remove(&tunnel_id);
    }

    /// Number of connections.
    pub(super) fn connections(&self) -> usize {
        self.conns.iter().flatten().count()
    }
}

/// `name` as a session instance name: `/`, blanks and control characters
/// become `-`, an all-digit name gets the prefix `s`, an empty one is
/// `fallback`.
fn session_name(name: &str, fallback: &str) -> String {
    let mut n: String = name.chars().map(|c| if c == '/' || c.is_whitespace() || c.is_control() { '-' } else { c }).collect();
    if n.is_empty() {
        n = fallback.to_string();
    }
    if n.bytes().all(|b| b.is_ascii_digit()) {
        n.insert(0, 's');
    }
    n
}

impl Daemon {
    /// Binds the switch socket (creating its directory) and watches it.
    /// Failure is logged; the daemon runs without it.
    pub(super) fn switch_start(&mut self) {
        let path = self.cfg.system.switch_socket.clone();
        let bound = (|| {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let l = ChannelListener::bind(&path)?;
            self.evloop.register(l.as_fd(), KEY_SWITCH_LISTEN, Interest::READABLE)?;
            Ok::<_, std::io::Error>(l)
        })();
        match bound {
            Ok(l) => {
                log::log(Level::Info, format_args!("switch listen path={}", path.display()));
                self.switch.listener = Some(l);
            }
            Err(e) => log::log(Level::Warning, format_args!("switch listen path={} error=\"{e}\" (running without the switch channel)", path.display())),
        }
    }

    /// Accepts waiting switch connections (at most [`MAX_SWITCH`]).
    pub(super) fn on_switch_accept(&mut self) {
        loop {
            let Some(l) = self.switch.listener.as_ref() else { return };
            let chan = match l.accept() {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    log::log(Level::Warning, format_args!("switch accept error=\"{e}\""));
                    return;
                }
            };
            let path = l.path().to_path_buf();
            if self.switch.connections() >= MAX_SWITCH || self.shutdown_deadline.is_some() {
                log::log(Level::Warning, format_args!("switch refused reason=\"at most {MAX_SWITCH} connections\""));
                continue;
            }
            let slot = match self.switch.conns.iter().position(Option::is_none) {
                Some(s) => s,
                None => {
                    self.switch.conns.push(None);
                    self.switch.conns.len().saturating_sub(1)
                }
            };
            if let Err(e) = self.evloop.register(chan.as_fd(), KEY_SWITCH0.saturating_add(slot), Interest::READABLE) {
                log::log(Level::Error, format_args!("switch register error=\"{e}\""));
                continue;
            }
            log::log(Level::Notice, format_args!("switch connected slot={slot}"));
            if let Some(c) = self.switch.conns.get_mut(slot) {
                *c = Some(PppConn::accepted(chan, Path::new(&path)));
            }
        }
    }

    /// `CreateSession` on switch connection `slot`: a LAC session in the
    /// tunnel `tunnel` names (see the module documentation), whose PPP
    /// side is that connection. Replies `Records` with one `session`
    /// record (`tunnel_id`, `session_id`, `reference`), or `Error`:
    /// `BadRequest` (not a name, a bad parameter), `NotFound` (no such
    /// instance or profile), `Failed` (the tunnel cannot be made, a limit).
    pub(super) fn switch_create(&mut self, now: Instant, slot: usize, tunnel: &Selector, name: &str, params: &[(String, String)]) -> Reply {
        let reply = self.switch_create_inner(now, slot, tunnel, name, params);
        let outcome = match &reply {
            Reply::Error { message, .. } => format!("error=\"{message}\""),
            _ => "result=created".to_string(),
        };
        log::log(Level::Info, format_args!("switch request=create-session slot={slot} tunnel={tunnel} name={name} {outcome}"));
        reply
    }

    fn switch_create_inner(&mut self, now: Instant, slot: usize, tunnel: &Selector, name: &str, params: &[(String, String)]) -> Reply {
        let Selector::Name(t) = tunnel else {
            return error(ErrorCode::BadRequest, "the tunnel must be named: a tunnel instance or a tunnel profile");
        };
        let tid = match self.switch_tunnel(now, t) {
            Ok(tid) => tid,
            Err(e) => return e,
        };
        let calling = params.iter().find(|(k, _)| k == CALLING_NUMBER).map(|(_, v)| v.as_bytes().to_vec());
        let rest: Vec<(String, String)> = params.iter().filter(|(k, _)| k != CALLING_NUMBER).cloned().collect();
        let session = session_name(name, "switch");
        let (tid, sid) = match self.create_session_with(now, &Selector::Id(tid), &session, &rest, calling) {
            Ok(ids) => ids,
            Err(e) => return e,
        };
        let Some(conn) = self.switch.conn_mut(slot) else {
            return error(ErrorCode::Failed, "the connection is gone");
        };
        let reference = conn.reserve(tid, sid);
        let mut r = Record::new("session");
        r.num("tunnel_id", tid).num("session_id", sid).num("reference", reference);
        records(vec![r])
    }

    /// The tunnel for a switched session named `t`: the configured tunnel
    /// instance `t`, else a reusable tunnel of tunnel profile `t`, else a
    /// new one of that profile. Errors: the reply to send.
    fn switch_tunnel(&mut self, now: Instant, t: &str) -> Result<u32, Reply> {
        if self.cfg.tunnel(t).is_some() {
            return self
                .instances
                .get(t)
                .copied()
                .filter(|id| self.ep.tunnel(*id).is_some_and(|x| x.state != TunnelState::Closing))
                .ok_or_else(|| error(ErrorCode::Failed, &format!("tunnel instance `{t}` is not running")));
        }
        if !self.cfg.tunnel_profiles.contains_key(t) {
            return Err(error(ErrorCode::NotFound, &format!("no tunnel instance or tunnel profile `{t}`")));
        }
        let room = |x: &crate::proto::tunnel::Tunnel| {
            x.state != TunnelState::Closing && (x.params.max_sessions == 0 || x.session_count() < usize::try_from(x.params.max_sessions).unwrap_or(usize::MAX))
        };
        let reuse = self.switch.tunnels.iter().filter(|(id, p)| p.as_str() == t && self.ep.tunnel(**id).is_some_and(room)).map(|(id, _)| *id).min();
        if let Some(id) = reuse {
            return Ok(id);
        }
        let taken = |n: &str| self.cfg.tunnel(n).is_some() || self.ep.tunnels().any(|x| x.params.name.as_deref() == Some(n));
        let mut name = t.to_string();
        let mut k: u32 = 2;
        while taken(&name) {
            if k > MAX_TUNNEL_SUFFIX {
                return Err(error(ErrorCode::Failed, &format!("no free tunnel name for profile `{t}`")));
            }
            name = format!("{t}-{k}");
            k = k.saturating_add(1);
        }
        let id = self.create_tunnel_named(now, &name, &[("tunnel_profile".to_string(), t.to_string())])?;
        log::log(Level::Info, format_args!("switch tunnel created tunnel_id={id} name={name} tunnel_profile={t}"));
        self.switch.tunnels.insert(id, t.to_string());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pppoe_names_become_session_names() {
        assert_eq!(session_name("eth0/5", "x"), "eth0-5");
        assert_eq!(session_name("a b", "x"), "a-b");
        assert_eq!(session_name("42", "x"), "s42");
        assert_eq!(session_name("", "switch"), "switch");
        assert_eq!(session_name("client1", "x"), "client1");
    }

    // The connections' keys stay below the listener's, and that below
    // propppd's: checked when compiling.
    const _: () = assert!(KEY_SWITCH0 + MAX_SWITCH < KEY_SWITCH_LISTEN && KEY_SWITCH_LISTEN < super::super::ppp_side::KEY_PROPPPD);
}
