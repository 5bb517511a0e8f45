//! Control requests that change or describe the running configuration:
//! `prol2tp create tunnel|session`, `prol2tp trace` and `prol2tp show
//! profiles` (the read-only and delete requests are in `control.rs`).
//!
//! Instances created here are built from `KEY=VALUE` pairs with the same
//! parsers and checks as the configuration file
//! ([`Config::tunnel_from_pairs`](crate::config::Config::tunnel_from_pairs)),
//! against the running configuration's profiles, and handed to the core as
//! configured instances are. They are not configured instances: they are
//! not in `Daemon::instances`, so a reload neither closes nor re-creates
//! them, and they are never re-dialled (`persist` is refused).

use std::rc::Rc;
use std::time::Instant;

use common::ipc::{self, ErrorCode, Record, Reply, Selector, Value};
use common::log::{self, Level};
use common::trace::TraceFlags;

use crate::config::{self, ParamValue};
use crate::proto::tunnel::Tunnel;

use super::control::{error, no_tunnel, records};
use super::{glue, Daemon};

impl Daemon {
    /// `prol2tp create tunnel NAME KEY=VALUE...`: dials a tunnel that is
    /// not in the configuration. Replies with a `tunnel` record holding
    /// `tunnel_id`. Errors: a name in use by a tunnel or a configured
    /// instance, a bad parameter (named), `persist`, a core limit.
    pub(super) fn api_create_tunnel(&mut self, now: Instant, name: &str, pairs: &[(String, String)]) -> Reply {
        match self.create_tunnel_named(now, name, pairs) {
            Ok(tid) => {
                let mut r = Record::new("tunnel");
                r.num("tunnel_id", tid);
                records(vec![r])
            }
            Err(e) => e,
        }
    }

    /// [`Daemon::api_create_tunnel`]'s work: returns the new tunnel's id,
    /// or the error reply.
    pub(super) fn create_tunnel_named(&mut self, now: Instant, name: &str, pairs: &[(String, String)]) -> Result<u32, Reply> {
        if self.cfg.tunnel(name).is_some() {
            return Err(error(ErrorCode::Failed, &format!("tunnel name `{name}` is a configured instance")));
        }
        if let Some(t) = self.ep.tunnels().find(|t| t.params.name.as_deref() == Some(name)) {
            return Err(error(ErrorCode::Failed, &format!("tunnel name `{name}` is in use by tunnel {}", t.id)));
        }
        let inst = self.cfg.tunnel_from_pairs(name, pairs).map_err(|e| error(ErrorCode::BadRequest, &e))?;
        if inst.persist {
            return Err(error(ErrorCode::BadRequest, "persist: only configured tunnels are re-dialled; add the tunnel to the configuration file"));
        }
        let params = glue::instance_params(&self.cfg, &inst);
        match self.ep.create_tunnel(now, Rc::new(params)) {
            Ok(tid) => {
                log::log(Level::Info, format_args!("control create tunnel_id={tid} name={name} peer={}", inst.peer));
                Ok(tid)
            }
            Err(e) => Err(error(ErrorCode::Failed, &format!("cannot create tunnel {name}: {e}"))),
        }
    }

    /// `prol2tp create session TUNNEL NAME KEY=VALUE...`: places a call in
    /// a tunnel (configured, created with `prol2tp` or opened by the peer);
    /// it starts once the tunnel is established. Replies with a `session`
    /// record holding `tunnel_id` and `session_id`. Errors: no such tunnel,
    /// a name in use in it, a bad parameter (named), what the tunnel cannot
    /// carry, a core limit.
    pub(super) fn api_create_session(&mut self, now: Instant, tunnel: &Selector, name: &str, pairs: &[(String, String)]) -> Reply {
        match self.create_session_with(now, tunnel, name, pairs, None) {
            Ok((tid, sid)) => {
                let mut r = Record::new("session");
                r.num("tunnel_id", tid).num("session_id", sid);
                records(vec![r])
            }
            Err(e) => e,
        }
    }

    /// [`Daemon::api_create_session`]'s work, with the Calling Number its
    /// ICRQ carries (RFC 2661 §4.4.5; the switch channel's
    /// `calling_number`). Returns `(tunnel_id, session_id)`, or the error
    /// reply.
    pub(super) fn create_session_with(
        &mut self,
        now: Instant,
        tunnel: &Selector,
        name: &str,
        pairs: &[(String, String)],
        calling_number: Option<Vec<u8>>,
    ) -> Result<(u32, u32), Reply> {
        let Some(t) = self.find_tunnel(tunnel) else {
            return Err(no_tunnel(tunnel));
        };
        let tid = t.id;
        let tunnel_name = t.params.name.clone().unwrap_or_else(|| tid.to_string());
        let configured = self.instances.get(&tunnel_name) == Some(&tid);
        if t.sessions().any(|s| s.params.name.as_deref() == Some(name)) || (configured && self.cfg.sessions_of(&tunnel_name).any(|s| s.name == name)) {
            return Err(error(ErrorCode::Failed, &format!("session name `{name}` is in use in tunnel {tunnel_name}")));
        }
        let tunnel_params = self.tunnel_config_params(t, configured);
        let inst = self.cfg.session_from_pairs(&tunnel_name, &tunnel_params, name, pairs).map_err(|e| error(ErrorCode::BadRequest, &e))?;
        let mut sp = glue::session_params(&inst.params, &inst.session_profile, Some(name.to_string()), &tunnel_params);
        sp.calling_number = calling_number;
        match self.ep.create_session(now, tid, inst.call_type, Rc::new(sp)) {
            Ok(sid) => {
                log::log(Level::Info, format_args!("control create tunnel_id={tid} session_id={sid} name={name}"));
                Ok((tid, sid))
            }
            Err(e) => Err(error(ErrorCode::Failed, &format!("cannot create session {name} in tunnel {tunnel_name}: {e}"))),
        }
    }

    /// The configuration-level parameters a new session of `t` resolves
    /// against: a configured instance's own, else those the tunnel was
    /// created with (its session profile and the PPP and Ethernet profiles
    /// its sessions get). The version is the one in force (after any
    /// fallback to L2TPv2).
    fn tunnel_config_params(&self, t: &Tunnel, configured: bool) -> config::TunnelParams {
        let own = t.params.name.as_deref().filter(|_| configured).and_then(|n| self.cfg.tunnel(n)).map(|i| i.params.clone());
        let mut p = own.unwrap_or_else(|| config::TunnelParams {
            core: (*t.params).clone(),
            session_profile: t.params.session.profile.clone(),
            ppp_profile: t.params.session.ppp_profile.clone(),
            eth_profile: t.params.session.eth_profile.clone(),
        });
        p.core.version = t.version;
        p
    }

    /// `prol2tp trace tunnel|session ... FLAGS`: changes the `trace_flags`
    /// of one tunnel or one session at once; logged at info. Errors: flags
    /// that do not parse (the bad word is named), no such object.
    pub(super) fn api_set_trace(&mut self, tunnel: &Selector, session: Option<&Selector>, flags: &str) -> Reply {
        let flags = match TraceFlags::parse(flags) {
            Ok(f) => f,
            Err(e) => return error(ErrorCode::BadRequest, &format!("bad trace flags: {e}")),
        };
        let target = match session {
            Some(s) => self.find_session(tunnel, s).map(|(t, s)| (t.id, Some(s.id))),
            None => self.find_tunnel(tunnel).map(|t| (t.id, None)).ok_or_else(|| no_tunnel(tunnel)),
        };
        let (tid, sid) = match target {
            Ok(ids) => ids,
            Err(e) => return e,
        };
        let done = match sid {
            Some(sid) => self.ep.set_session_trace(tid, sid, flags),
            None => self.ep.set_tunnel_trace(tid, flags),
        };
        match done {
            Ok(()) => {
                let sid_text = sid.map(|s| format!(" session_id={s}")).unwrap_or_default();
                log::log(Level::Info, format_args!("control trace tunnel_id={tid}{sid_text} trace_flags={flags}"));
                Reply::Done
            }
            Err(e) => error(ErrorCode::Failed, &e.to_string()),
        }
    }

    /// `prol2tp show profiles`: one record per profile in force, of kind
    /// `tunnel_profile`, `session_profile`, `ppp_profile`, `eth_profile`
    /// or `peer_profile`, with `kind`, `name`, `line` (0: built-in) and
    /// every parameter under its configuration key.
    pub(super) fn api_show_profiles(&self) -> Vec<Reply> {
        let list = self.cfg.profile_views().into_iter().map(profile_record).collect();
        ipc::split_records(list)
    }
}

/// One profile as a record.
fn profile_record(v: config::ProfileView) -> Record {
    let mut r = Record::new(v.kind);
    r.str("kind", v.kind).str("name", &v.name).num("line", v.line.map_or(0, |l| u64::try_from(l).unwrap_or(u64::MAX)));
    for (key, value) in v.params {
        let value = match value {
            ParamValue::Text(s) => Value::Str(s),
            ParamValue::Num(n) => Value::U64(n),
            ParamValue::Flag(b) => Value::Bool(b),
        };
        r.fields.push((key.to_string(), value));
    }
    r
}
