//! Lifecycle events: numbered handles for tunnels and sessions, one event
//! record per change, published to `prol2tpwatch` subscribers (through
//! [`common::events::Publisher`], one sending socket per watcher) and to the
//! hook-script runner (`prol2tp-scriptd`, through `Hooks`).
//!
//! The records follow the shared contract of issue 4: `kind` is one of
//! [`EVENT_KINDS`] (`TUNNEL CREATED` … `SESSION DELETED`), the first fields
//! are what `prol2tpwatch` prints ([`EventKind::watch_fields`]), then come
//! the hook-script fields (`tunnel_name`, `session_type`, `mtu` …).
//!
//! A handle numbers each tunnel and session instance from 1 at its
//! CREATED event and is never reused while the daemon runs. What the
//! core's later events lack (the peer's tunnel id at TUNNEL DOWN, the
//! session at SESSION DELETED) is kept per instance from CREATED / UP.
//!
//! SESSION UP of an Ethernet or VLAN session on the kernel or userspace data
//! plane waits for the interface (the kernel plane's `InterfaceUp`, the
//! userspace plane's TAP device), so that watchers and scripts get its
//! name, at most [`INTERFACE_WAIT`]; an UP is never published after the
//! DOWN. Likewise SESSION UP of a PPP session handed to propppd (`-p
//! propppd`, kernel or userspace plane) waits for propppd's `PppStatus up`,
//! at most [`PPP_WAIT`], and then carries the PPP interface and the IPv4
//! addresses (`interface_name`, `local_ip`, `peer_ip`); a PPP session that
//! fails before PPP is up gets DOWN without UP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::events::Publisher;
use common::ipc::{ErrorCode, Peer, Record, Reply, Request};
use common::log::{self, Level};

use super::plane::Plane;
use super::Daemon;
use crate::proto::endpoint::{Event, SessionInfo, TunnelInfo};
use crate::proto::header::Version;
use crate::proto::message::ResultCode;
use crate::proto::session::Pseudowire;

/// How long a SESSION UP waits for the data plane's interface before it is
/// published without the interface name.
pub const INTERFACE_WAIT: Duration = Duration::from_secs(10);

/// How long a PPP session's SESSION UP waits for propppd's `PppStatus up`
/// (LCP, authentication and IPCP) before it is published without the
/// interface and addresses.
pub const PPP_WAIT: Duration = Duration::from_secs(30);

/// One event kind of the contract: its subscription bit, its record kind,
/// the hook script it runs and the fields `prol2tpwatch` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// Bit in `Subscribe { events }`.
    pub bit: u32,
    /// `record.kind`, e.g. `SESSION UP`.
    pub kind: &'static str,
    /// Hook script name and `prol2tpwatch -e` name, e.g. `session-up`.
    pub name: &'static str,
    /// The first fields of the record, printed by `prol2tpwatch` in order.
    pub watch_fields: &'static [&'static str],
}

/// The eight event kinds, in bit order.
pub const EVENT_KINDS: [EventKind; 8] = [
    EventKind { bit: 1 << 0, kind: "TUNNEL CREATED", name: "tunnel-created", watch_fields: &["handle", "tid", "name", "profile", "peer"] },
    EventKind { bit: 1 << 1, kind: "TUNNEL UP", name: "tunnel-up", watch_fields: &["handle", "tid", "peer_tid"] },
    EventKind { bit: 1 << 2, kind: "TUNNEL DOWN", name: "tunnel-down", watch_fields: &["handle", "tid", "peer_tid", "result", "error", "message"] },
    EventKind { bit: 1 << 3, kind: "TUNNEL DELETED", name: "tunnel-deleted", watch_fields: &["handle", "tid"] },
    EventKind { bit: 1 << 4, kind: "SESSION CREATED", name: "session-created", watch_fields: &["handle", "tid", "sid", "name", "profile", "pw_profile"] },
    EventKind { bit: 1 << 5, kind: "SESSION UP", name: "session-up", watch_fields: &["handle", "tid", "sid", "peer_tid", "peer_sid"] },
    EventKind {
        bit: 1 << 6,
        kind: "SESSION DOWN",
        name: "session-down",
        watch_fields: &["handle", "tid", "sid", "peer_tid", "peer_sid", "result", "error", "message"],
    },
    EventKind { bit: 1 << 7, kind: "SESSION DELETED", name: "session-deleted", watch_fields: &["handle", "tid", "sid"] },
];

/// The kind whose record kind is `kind`.
pub fn event_kind(kind: &str) -> Option<&'static EventKind> {
    EVENT_KINDS.iter().find(|k| k.kind == kind)
}

/// Indexes into [`EVENT_KINDS`].
const TUNNEL_CREATED: usize = 0;
const TUNNEL_UP: usize = 1;
const TUNNEL_DOWN: usize = 2;
const TUNNEL_DELETED: usize = 3;
const SESSION_CREATED: usize = 4;
const SESSION_UP: usize = 5;
const SESSION_DOWN: usize = 6;
const SESSION_DELETED: usize = 7;

/// A tunnel instance as the events know it.
struct TunnelEntry {
    handle: u64,
    info: TunnelInfo,
}

/// Where a session is, as far as its events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    /// Up in the core; SESSION UP waits for the interface (at most until
    /// its deadline in `EventState::awaiting`).
    AwaitingInterface,
    Up,
    Down,
}

/// A session instance as the events know it.
struct SessionEntry {
    handle: u64,
    info: SessionInfo,
    /// From the data plane's `InterfaceUp` or propppd's `PppStatus up`,
    /// else the configured name.
    interface_name: String,
    /// PPP sessions: our IPv4 address, from propppd (empty when unknown).
    local_ip: String,
    /// PPP sessions: the peer's IPv4 address, from propppd.
    peer_ip: String,
    phase: Phase,
}

/// The daemon's event state: handles, what later events need, watchers.
#[derive(Default)]
pub(super) struct EventState {
    publisher: Publisher,
    next_handle: u64,
    tunnels: HashMap<u32, TunnelEntry>,
    sessions: HashMap<(u32, u32), SessionEntry>,
    /// Sessions whose SESSION UP waits for the interface, with the time
    /// it is published without.
    awaiting: HashMap<(u32, u32), Instant>,
}

impl EventState {
    fn new_handle(&mut self) -> u64 {
        self.next_handle = self.next_handle.saturating_add(1);
        self.next_handle
    }

    /// The watchers' counters (`show system`).
    pub(super) fn counters(&self) -> common::events::Counters {
        self.publisher.counters()
    }

    /// The earliest deadline of a SESSION UP waiting for its interface.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.awaiting.values().min().copied()
    }
}

impl Daemon {
    /// A `Subscribe` or `Unsubscribe` request from `peer`.
    pub(super) fn on_subscribe(&mut self, peer: &Peer, request_id: u32, req: Request) -> Reply {
        match req {
            Request::Subscribe { events, tunnel } => match self.events.publisher.subscribe(peer, request_id, events, tunnel) {
                Ok(sub) => Reply::Records { more: false, records: vec![sub.to_record()] },
                Err(e) => Reply::Error { code: ErrorCode::Failed, message: e.to_string() },
            },
            Request::Unsubscribe => {
                if self.events.publisher.unsubscribe(peer) {
                    Reply::Done
                } else {
                    Reply::Error { code: ErrorCode::NotFound, message: "not subscribed".into() }
                }
            }
            _ => Reply::Error { code: ErrorCode::BadRequest, message: "not a subscription request".into() },
        }
    }

    /// Publishes the event record(s) of one core event.
    pub(super) fn publish_core_event(&mut self, now: Instant, ev: &Event) {
        match ev {
            Event::TunnelCreated(t) => {
                let handle = self.events.new_handle();
                self.events.tunnels.insert(t.tunnel_id, TunnelEntry { handle, info: t.clone() });
                self.emit_tunnel(TUNNEL_CREATED, t.tunnel_id, |r, e| {
                    r.str("name", e.info.name.as_deref().unwrap_or("")).str("profile", &e.info.profile).str("peer", e.info.peer);
                });
            }
            Event::TunnelUp(t) => {
                if let Some(e) = self.events.tunnels.get_mut(&t.tunnel_id) {
                    e.info = t.clone();
                }
                self.emit_tunnel(TUNNEL_UP, t.tunnel_id, |r, e| {
                    r.num("peer_tid", e.info.peer_tunnel_id);
                });
            }
            Event::TunnelDown { tunnel_id, result, .. } => self.emit_tunnel(TUNNEL_DOWN, *tunnel_id, |r, e| {
                r.num("peer_tid", e.info.peer_tunnel_id);
                result_fields(r, result);
            }),
            Event::TunnelDeleted { tunnel_id, .. } => {
                self.emit_tunnel(TUNNEL_DELETED, *tunnel_id, |_, _| {});
                self.events.tunnels.remove(tunnel_id);
                // Sessions the core did not report deleted do not outlive their tunnel.
                self.events.sessions.retain(|(t, _), _| t != tunnel_id);
                self.events.awaiting.retain(|(t, _), _| t != tunnel_id);
            }
            Event::VersionFallback { .. } => {}
            Event::SessionCreated(s) => {
                let handle = self.events.new_handle();
                let interface_name = s.interface_name.clone().unwrap_or_default();
                self.events.sessions.insert(
                    (s.tunnel_id, s.session_id),
                    SessionEntry { handle, info: s.clone(), interface_name, local_ip: String::new(), peer_ip: String::new(), phase: Phase::Created },
                );
                self.emit_session(SESSION_CREATED, (s.tunnel_id, s.session_id), |r, e| {
                    let pw_profile = if e.info.pseudowire == Pseudowire::Ppp { &e.info.ppp_profile } else { &e.info.eth_profile };
                    r.str("name", e.info.name.as_deref().unwrap_or("")).str("profile", &e.info.profile).str("pw_profile", pw_profile);
                });
            }
            Event::SessionUp(s) => self.session_up(now, s),
            Event::SessionDown { info, result, .. } => {
                let key = (info.tunnel_id, info.session_id);
                if let Some(e) = self.events.sessions.get_mut(&key) {
                    e.info = info.clone();
                    e.phase = Phase::Down;
                }
                self.events.awaiting.remove(&key);
                self.emit_session(SESSION_DOWN, key, |r, e| {
                    r.num("peer_tid", e.info.peer_tunnel_id).num("peer_sid", e.info.peer_session_id);
                    result_fields(r, result);
                });
            }
            Event::SessionDeleted { tunnel_id, session_id } => {
                let key = (*tunnel_id, *session_id);
                self.emit_session(SESSION_DELETED, key, |_, _| {});
                self.events.sessions.remove(&key);
                self.events.awaiting.remove(&key);
            }
        }
    }

    /// The core's SessionUp: publish now, or, on a plane that creates
    /// interfaces (kernel, userspace), when the interface is up: the data
    /// plane's for an Ethernet or VLAN session, propppd's for a PPP session
    /// handed to it.
    fn session_up(&mut self, now: Instant, s: &SessionInfo) {
        let key = (s.tunnel_id, s.session_id);
        let ppp = s.pseudowire == Pseudowire::Ppp;
        let waits = (!ppp || self.propppd.is_some()) && matches!(self.dataplane.get_ref().name(), "kernel" | "userspace");
        let Some(e) = self.events.sessions.get_mut(&key) else { return };
        e.info = s.clone();
        if waits {
            e.phase = Phase::AwaitingInterface;
            self.events.awaiting.insert(key, now + if ppp { PPP_WAIT } else { INTERFACE_WAIT });
        } else {
            self.publish_session_up(key);
        }
    }

    /// The data plane reports the interface of a session (its
    /// `DataplaneEvent::InterfaceUp`): publish the SESSION UP waiting for it.
    pub(super) fn events_interface_up(&mut self, tunnel_id: u32, session_id: u32, ifname: &str) {
        let key = (tunnel_id, session_id);
        let Some(e) = self.events.sessions.get_mut(&key) else { return };
        e.interface_name = ifname.to_string();
        if e.phase == Phase::AwaitingInterface {
            self.publish_session_up(key);
        }
    }

    /// propppd reports a PPP session up (`PppStatus up`): its interface
    /// and addresses, then the SESSION UP waiting for them.
    pub(super) fn events_ppp_up(&mut self, tunnel_id: u32, session_id: u32, ifname: &str, local_ip: &str, peer_ip: &str) {
        let key = (tunnel_id, session_id);
        let Some(e) = self.events.sessions.get_mut(&key) else { return };
        if !ifname.is_empty() {
            e.interface_name = ifname.to_string();
        }
        e.local_ip = local_ip.to_string();
        e.peer_ip = peer_ip.to_string();
        if e.phase == Phase::AwaitingInterface {
            self.publish_session_up(key);
        }
    }

    /// Publishes the SESSION UPs whose interface is known now, and those
    /// whose interface did not come in time. The userspace plane opens its
    /// TAP device while the daemon hands it the session (after the event
    /// that started the wait) and reports no `InterfaceUp`: its name is
    /// read from the plane here.
    pub(super) fn events_due(&mut self, now: Instant) {
        if self.events.awaiting.is_empty() {
            return;
        }
        if let Plane::Userspace(u) = &self.dataplane {
            let known: Vec<((u32, u32), String)> =
                self.events.awaiting.keys().filter_map(|&(t, s)| u.interface_name(t, s).map(|n| ((t, s), n.to_string()))).collect();
            for ((t, s), ifname) in known {
                self.events_interface_up(t, s, &ifname);
            }
        }
        let due: Vec<(u32, u32)> = self.events.awaiting.iter().filter(|(_, t)| **t <= now).map(|(k, _)| *k).collect();
        for (t, s) in due {
            log::log(Level::Warning, format_args!("event session up tunnel_id={t} session_id={s} interface=unknown reason=\"no interface reported in time\""));
            self.publish_session_up((t, s));
        }
    }

    fn publish_session_up(&mut self, key: (u32, u32)) {
        self.events.awaiting.remove(&key);
        if let Some(e) = self.events.sessions.get_mut(&key) {
            if e.phase == Phase::Down {
                return;
            }
            e.phase = Phase::Up;
        }
        self.emit_session(SESSION_UP, key, |r, e| {
            r.num("peer_tid", e.info.peer_tunnel_id).num("peer_sid", e.info.peer_session_id);
        });
    }

    /// Builds a tunnel event (`handle`, `tid`, what `fill` adds, then the
    /// hook-script fields) and publishes it; nothing for an unknown tunnel.
    fn emit_tunnel(&mut self, kind: usize, tunnel_id: u32, fill: impl FnOnce(&mut Record, &TunnelEntry)) {
        let Some(ek) = EVENT_KINDS.get(kind) else { return };
        let Some(e) = self.events.tunnels.get(&tunnel_id) else { return };
        let mut r = Record::new(ek.kind);
        r.num("handle", e.handle).num("tid", tunnel_id);
        fill(&mut r, e);
        let t = &e.info;
        add_str(&mut r, "tunnel_name", t.name.as_deref().unwrap_or(""));
        add_str(&mut r, "tunnel_profile", &t.profile);
        add_str(&mut r, "local", &t.local.map(|a| a.to_string()).unwrap_or_default());
        add_str(&mut r, "peer", &t.peer.to_string());
        r.num("version", version_number(t.version));
        self.emit(ek.bit, &r);
    }

    /// Builds a session event (`handle`, `tid`, `sid`, what `fill` adds,
    /// then the hook-script fields) and publishes it.
    fn emit_session(&mut self, kind: usize, key: (u32, u32), fill: impl FnOnce(&mut Record, &SessionEntry)) {
        let Some(ek) = EVENT_KINDS.get(kind) else { return };
        let Some(e) = self.events.sessions.get(&key) else { return };
        let mut r = Record::new(ek.kind);
        r.num("handle", e.handle).num("tid", key.0).num("sid", key.1);
        fill(&mut r, e);
        let s = &e.info;
        let ppp = s.pseudowire == Pseudowire::Ppp;
        let (mtu, bridge) = if ppp {
            (self.cfg.ppp_profile(Some(&s.ppp_profile)).map_or(0, |p| u64::from(p.mtu)), String::new())
        } else {
            let p = self.cfg.eth_profile(Some(&s.eth_profile));
            (p.and_then(|p| p.mtu).map_or(0, u64::from), p.and_then(|p| p.bridge.clone()).unwrap_or_default())
        };
        add_str(&mut r, "tunnel_name", s.tunnel_name.as_deref().unwrap_or(""));
        add_str(&mut r, "session_name", s.name.as_deref().unwrap_or(""));
        add_str(&mut r, "session_type", if ppp { "PPP" } else { "ETH" });
        add_str(&mut r, "interface_name", &e.interface_name);
        r.num("mtu", mtu);
        // Addresses are negotiated by PPP: known from propppd's status.
        add_str(&mut r, "local_ip", &e.local_ip);
        add_str(&mut r, "peer_ip", &e.peer_ip);
        add_str(&mut r, "netmask", "");
        add_str(&mut r, "bridge", &bridge);
        add_str(&mut r, "profile", &s.profile);
        add_str(&mut r, "ppp_profile", if ppp { &s.ppp_profile } else { "" });
        add_str(&mut r, "eth_profile", if ppp { "" } else { &s.eth_profile });
        self.emit(ek.bit, &r);
    }

    /// Sends one record to the watchers and to the hook-script runner.
    fn emit(&mut self, bit: u32, record: &Record) {
        self.events.publisher.publish(bit, record);
        if let Some(h) = self.hooks.as_mut() {
            h.send(record);
        }
    }
}

/// Appends a string field unless the record already has `key` (a watcher
/// field of the same name and value, e.g. `peer` of TUNNEL CREATED).
fn add_str(r: &mut Record, key: &str, value: &str) {
    if r.get(key).is_none() {
        r.str(key, value);
    }
}

fn result_fields(r: &mut Record, res: &ResultCode) {
    r.num("result", res.result).num("error", res.error.unwrap_or(0)).str("message", res.message.as_deref().unwrap_or(""));
}

fn version_number(v: Version) -> u64 {
    match v {
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_table_is_consistent() {
        for (i, k) in EVENT_KINDS.iter().enumerate() {
            assert_eq!(k.bit, 1 << i);
            assert_eq!(k.name, k.kind.to_lowercase().replace(' ', "-"));
            assert_eq!(&k.watch_fields[..2], &["handle", "tid"]);
            assert_eq!(event_kind(k.kind), Some(k));
        }
        assert_eq!(EVENT_KINDS[SESSION_UP].kind, "SESSION UP");
        assert_eq!(EVENT_KINDS[TUNNEL_DELETED].kind, "TUNNEL DELETED");
        assert_eq!(event_kind("SESSION SIDEWAYS"), None);
    }
}
