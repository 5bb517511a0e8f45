//! The access concentrator's discovery engine (RFC 2516 §5, RFC 4638 §4).
//!
//! [`Server::input`] takes one received discovery frame and returns what to
//! do: PADOs and PADSs to send, sessions opened or closed by the client,
//! drops for the log. The checks run in a fixed order per packet:
//!
//! - PADI (§5.1, broadcast, SESSION_ID 0): token bucket of the interface →
//!   MAC allow/deny lists → Service-Name offered and a route found → limits
//!   (no PADO when a PADR would be refused) → PADO (§5.2) with AC-Name,
//!   Service-Name(s), AC-Cookie, echoed Host-Uniq / Relay-Session-Id /
//!   PPP-Max-Payload.
//! - PADR (§5.3, to our MAC): AC-Cookie valid for this client and interface
//!   (else nothing is allocated and nothing sent) → MAC lists → duplicate of
//!   a live session (same client and Host-Uniq: the same PADS again) →
//!   route (else PADS with Service-Name-Error) → limits (else PADS with
//!   AC-System-Error) → session id → PADS (§5.4) + [`Output::Opened`].
//! - PADT (§5.5) for a live (interface, client, SESSION_ID):
//!   [`Output::ClientClosed`]. [`Server::close`] makes the AC's PADT.
//!
//! Session ids are 1..=0xFFFE, unique over all interfaces, handed out in
//! increasing order after the last one given (wrapping), never one that is
//! live. Nothing is kept between PADI and PADR: the AC-Cookie
//! ([`super::cookie`]) carries what is needed.

use super::cookie::CookieJar;
use super::packet::{tag, Code, Discovery, EthHeader, MacAddr, PPPOE_STD_PAYLOAD};
use super::ratelimit::TokenBucket;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The daemon's key for an interface (its ifindex).
pub type IfaceId = u32;
/// The daemon's key for a route (its index in the config).
pub type RouteId = u32;

/// The largest session id handed out (0xFFFF is reserved, RFC 2516 §4).
pub const MAX_SESSION_ID: u16 = 0xFFFE;

/// Settings of one interface the AC answers on.
#[derive(Clone, Debug)]
pub struct InterfaceParams {
    /// The interface's MAC: PADOs/PADSs come from it; PADRs and PADTs must be sent to it.
    pub mac: MacAddr,
    /// AC-Name sent in PADO and PADS (RFC 2516 Appendix A), UTF-8.
    pub ac_name: String,
    /// Service-Names offered; empty = accept any requested name.
    pub service_names: Vec<String>,
    /// Sessions allowed on this interface; 0 = no own limit.
    pub max_sessions: u32,
    /// PADIs answered per second on this interface; 0 = unlimited.
    pub padi_rate: u32,
    /// Token bucket depth: PADIs answered at once after a quiet period (0 is treated as 1).
    pub padi_burst: u32,
}

/// Limits over all interfaces.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Live sessions in total; 0 = unlimited (65,534 ids at most in any case).
    pub max_sessions: u32,
    /// Live sessions per client MAC (over all interfaces); 0 = unlimited.
    pub max_sessions_per_mac: u32,
    /// Length of an AC-Cookie window; a cookie is accepted for one to two lifetimes (0 is treated as 1 ms).
    pub cookie_lifetime: Duration,
}

/// One action for the daemon, in order.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send `packet` to `dst` from the interface's MAC on `iface` (ethertype 0x8863).
    Send {
        /// The interface to send on.
        iface: IfaceId,
        /// Ethernet destination (the client).
        dst: MacAddr,
        /// The PADO, PADS or PADT.
        packet: Discovery,
    },
    /// PADR accepted and PADS queued (in the same batch, before this): the daemon routes the session.
    Opened {
        /// The interface the session is on.
        iface: IfaceId,
        /// The client's MAC.
        client: MacAddr,
        /// The session id, 1..=0xFFFE.
        session_id: u16,
        /// The route `route` chose for this session.
        route: RouteId,
        /// The Service-Name the client requested ("" = any).
        service_name: String,
        /// The PPP-Max-Payload agreed (RFC 4638), None when the client did not ask for more than 1492.
        max_payload: Option<u16>,
    },
    /// The client sent PADT for a live session (already freed in the engine).
    ClientClosed {
        /// The interface.
        iface: IfaceId,
        /// The client's MAC.
        client: MacAddr,
        /// The freed session id.
        session_id: u16,
        /// The PADT's Generic-Error text, or "PADT from client".
        reason: String,
    },
    /// Input not answered, counted in [`Stats`]; for the log at trace level.
    Dropped {
        /// The interface it came in on.
        iface: IfaceId,
        /// The frame's source MAC.
        client: MacAddr,
        /// Why.
        why: Drop,
    },
}

/// Why an input got no answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Drop {
    /// Not a valid discovery packet, wrong SESSION_ID for its code, or a bad source MAC.
    Malformed,
    /// Unknown interface, or the destination MAC is not ours (PADR/PADT) or not broadcast (PADI).
    NotForUs,
    /// A code an AC does not take (PADO, PADS).
    UnknownCode,
    /// PADI over the interface's rate.
    RateLimited,
    /// The client's MAC is denied or not allowed.
    Denied,
    /// PADI for a Service-Name not offered.
    NoService,
    /// PADR without a valid AC-Cookie: nothing allocated.
    BadCookie,
    /// PADI refused because a PADR would hit a limit.
    Limit,
    /// PADT for a session that is not live on that interface for that client.
    UnknownSession,
    /// PADI for which `route` found nothing.
    NoRoute,
}

/// Counters since start or [`Server::clear_stats`].
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// PADIs received (parsed).
    pub padi_rx: u64,
    /// PADOs sent.
    pub pado_tx: u64,
    /// PADRs received (parsed, to our MAC).
    pub padr_rx: u64,
    /// PADSs sent, error PADSs and repeats included.
    pub pads_tx: u64,
    /// PADTs received.
    pub padt_rx: u64,
    /// PADTs sent by [`Server::close`].
    pub padt_tx: u64,
    /// Malformed inputs.
    pub malformed: u64,
    /// PADIs over the rate.
    pub rate_limited: u64,
    /// Inputs from denied MACs.
    pub denied: u64,
    /// PADRs with a bad, stale or foreign AC-Cookie.
    pub bad_cookie: u64,
    /// PADIs and PADRs refused by a session limit.
    pub limit_refused: u64,
    /// PADIs and PADRs for a Service-Name not offered or without route.
    pub no_service: u64,
    /// Sessions opened.
    pub sessions_opened: u64,
}

/// A live session.
#[derive(Clone, Debug)]
pub struct SessionEntry {
    /// The interface.
    pub iface: IfaceId,
    /// The client's MAC.
    pub client: MacAddr,
    /// Session id, 1..=0xFFFE.
    pub session_id: u16,
    /// The route chosen at PADR.
    pub route: RouteId,
    /// The Service-Name requested ("" = any).
    pub service_name: String,
    /// When the PADS was sent.
    pub opened_at: Instant,
}

/// A live session with what is needed to repeat its PADS.
#[derive(Clone, Debug)]
struct Live {
    entry: SessionEntry,
    host_uniq: Option<Vec<u8>>,
    max_payload: Option<u16>,
}

#[derive(Clone, Debug)]
struct Iface {
    params: InterfaceParams,
    bucket: TokenBucket,
    sessions: u32,
}

/// The access concentrator's discovery engine; see the module documentation.
#[derive(Debug)]
pub struct Server {
    limits: Limits,
    jar: CookieJar,
    ifaces: HashMap<IfaceId, Iface>,
    allow: Option<HashSet<MacAddr>>,
    deny: HashSet<MacAddr>,
    sessions: HashMap<u16, Live>,
    per_mac: HashMap<MacAddr, Vec<u16>>,
    last_id: u16,
    stats: Stats,
}

/// The route callback of [`Server::input`].
type RouteFn<'a> = &'a dyn Fn(IfaceId, MacAddr, &str) -> Option<RouteId>;

impl Server {
    /// An engine with no interfaces; `secret` keys the AC-Cookies (32 random octets), `now` starts the cookie windows.
    pub fn new(limits: Limits, secret: [u8; 32], now: Instant) -> Server {
        let jar = CookieJar::new(secret, now, limits.cookie_lifetime);
        Server {
            limits,
            jar,
            ifaces: HashMap::new(),
            allow: None,
            deny: HashSet::new(),
            sessions: HashMap::new(),
            per_mac: HashMap::new(),
            last_id: 0,
            stats: Stats::default(),
        }
    }

    /// Replaces the limits (reload); live sessions above a lowered limit stay.
    pub fn set_limits(&mut self, limits: Limits) {
        self.jar.set_lifetime(limits.cookie_lifetime);
        self.limits = limits;
    }

    /// Adds or replaces an interface; its sessions and PADI tokens are kept on replace (reload).
    pub fn set_interface(&mut self, iface: IfaceId, params: InterfaceParams) {
        match self.ifaces.get_mut(&iface) {
            Some(i) => {
                i.bucket.reconfigure(params.padi_rate, params.padi_burst);
                i.params = params;
            }
            None => {
                // The bucket's clock starts at its first PADI: its refill only counts time from a known instant.
                let bucket = TokenBucket::new(params.padi_rate, params.padi_burst, self.jar_epoch());
                self.ifaces.insert(iface, Iface { params, bucket, sessions: 0 });
            }
        }
    }

    fn jar_epoch(&self) -> Instant {
        self.jar.epoch()
    }

    /// Removes an interface and frees its sessions, returned (no PADT is sent: the interface is gone).
    pub fn remove_interface(&mut self, iface: IfaceId) -> Vec<SessionEntry> {
        self.ifaces.remove(&iface);
        let ids: Vec<u16> = self.sessions.values().filter(|l| l.entry.iface == iface).map(|l| l.entry.session_id).collect();
        ids.into_iter().filter_map(|id| self.free(id)).collect()
    }

    /// Replaces the MAC lists: `allow` None = everyone not in `deny`; `deny` wins over `allow`.
    pub fn set_mac_lists(&mut self, allow: Option<HashSet<MacAddr>>, deny: HashSet<MacAddr>) {
        self.allow = allow;
        self.deny = deny;
    }

    /// Adds (`add`) or removes a MAC on the allow list; adding to an absent list creates it (only that MAC allowed).
    pub fn allow_mac(&mut self, mac: MacAddr, add: bool) {
        if add {
            self.allow.get_or_insert_with(HashSet::new).insert(mac);
        } else if let Some(a) = self.allow.as_mut() {
            a.remove(&mac);
        }
    }

    /// Adds (`add`) or removes a MAC on the deny list. Live sessions are not touched.
    pub fn deny_mac(&mut self, mac: MacAddr, add: bool) {
        if add {
            self.deny.insert(mac);
        } else {
            self.deny.remove(&mac);
        }
    }

    fn permitted(&self, mac: MacAddr) -> bool {
        !self.deny.contains(&mac) && self.allow.as_ref().is_none_or(|a| a.contains(&mac))
    }

    /// True when a new session for `client` on `iface` would exceed a limit.
    fn over_limit(&self, iface: IfaceId, client: MacAddr) -> bool {
        let total = self.sessions.len();
        if total >= usize::from(MAX_SESSION_ID) || (self.limits.max_sessions != 0 && total >= self.limits.max_sessions as usize) {
            return true;
        }
        let per_mac = self.per_mac.get(&client).map_or(0, Vec::len);
        if self.limits.max_sessions_per_mac != 0 && per_mac >= self.limits.max_sessions_per_mac as usize {
            return true;
        }
        self.ifaces.get(&iface).is_some_and(|i| i.params.max_sessions != 0 && i.sessions >= i.params.max_sessions)
    }

    /// One received discovery frame (Ethernet header already split; `pppoe` from the PPPoE header on).
    ///
    /// `route` picks the route for (iface, client, requested Service-Name):
    /// None means no PADO, and a PADS with Service-Name-Error for a PADR.
    /// Frames on interfaces not set with [`Server::set_interface`] are dropped (NotForUs).
    pub fn input(&mut self, now: Instant, iface: IfaceId, eth: &EthHeader, pppoe: &[u8], route: RouteFn<'_>) -> Vec<Output> {
        let client = eth.src;
        let drop = |why| vec![Output::Dropped { iface, client, why }];
        let Some(ifc) = self.ifaces.get(&iface) else {
            return drop(Drop::NotForUs);
        };
        let our_mac = ifc.params.mac;
        let pkt = match Discovery::parse(pppoe) {
            Ok(p) if !client.is_multicast() && !client.is_zero() => p,
            _ => {
                self.stats.malformed += 1;
                return drop(Drop::Malformed);
            }
        };
        match pkt.code {
            Code::Padi => self.on_padi(now, iface, eth, &pkt, route),
            Code::Padr | Code::Padt if eth.dst != our_mac => drop(Drop::NotForUs),
            Code::Padr => self.on_padr(now, iface, client, &pkt, route),
            Code::Padt => self.on_padt(iface, client, &pkt),
            Code::Pado | Code::Pads | Code::Session => drop(Drop::UnknownCode),
        }
    }

    /// The Service-Name a PADI/PADR asks for ("" when absent or empty), lossily UTF-8.
    fn requested_service(pkt: &Discovery) -> String {
        pkt.tag(tag::SERVICE_NAME).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
    }

    fn offers(params: &InterfaceParams, requested: &str) -> bool {
        requested.is_empty() || params.service_names.is_empty() || params.service_names.iter().any(|s| s == requested)
    }

    /// The PPP-Max-Payload to echo (RFC 4638 §4): the client's value when it is ≥ 1492.
    fn agreed_max_payload(pkt: &Discovery) -> Option<u16> {
        pkt.max_payload().filter(|v| *v >= PPPOE_STD_PAYLOAD)
    }

    /// Host-Uniq and Relay-Session-Id echoed from `req` into `resp` (RFC 2516 Appendix A).
    fn echo_tags(req: &Discovery, resp: &mut Discovery) {
        for t in &req.tags {
            if t.tag_type == tag::HOST_UNIQ || t.tag_type == tag::RELAY_SESSION_ID {
                resp.push(t.tag_type, &t.value);
            }
        }
    }

    /// PADI → PADO (RFC 2516 §5.1, §5.2).
    fn on_padi(&mut self, now: Instant, iface: IfaceId, eth: &EthHeader, pkt: &Discovery, route: RouteFn<'_>) -> Vec<Output> {
        let client = eth.src;
        let drop = |why| vec![Output::Dropped { iface, client, why }];
        self.stats.padi_rx += 1;
        if !eth.dst.is_broadcast() {
            return drop(Drop::NotForUs);
        }
        if pkt.session_id != 0 {
            self.stats.malformed += 1;
            return drop(Drop::Malformed);
        }
        let Some(ifc) = self.ifaces.get_mut(&iface) else {
            return drop(Drop::NotForUs);
        };
        if !ifc.bucket.take(now) {
            self.stats.rate_limited += 1;
            return drop(Drop::RateLimited);
        }
        if !self.permitted(client) {
            self.stats.denied += 1;
            return drop(Drop::Denied);
        }
        let requested = Self::requested_service(pkt);
        let Some(params) = self.ifaces.get(&iface).map(|i| &i.params) else {
            return drop(Drop::NotForUs);
        };
        if !Self::offers(params, &requested) {
            self.stats.no_service += 1;
            return drop(Drop::NoService);
        }
        if route(iface, client, &requested).is_none() {
            self.stats.no_service += 1;
            return drop(Drop::NoRoute);
        }
        if self.over_limit(iface, client) {
            self.stats.limit_refused += 1;
            return drop(Drop::Limit);
        }
        let mut pado = Discovery::new(Code::Pado, 0);
        pado.push(tag::AC_NAME, params.ac_name.as_bytes());
        if !requested.is_empty() || params.service_names.is_empty() {
            pado.push(tag::SERVICE_NAME, requested.as_bytes());
        } else {
            for s in &params.service_names {
                pado.push(tag::SERVICE_NAME, s.as_bytes());
            }
        }
        pado.push(tag::AC_COOKIE, &self.jar.make(now, iface, client));
        Self::echo_tags(pkt, &mut pado);
        if let Some(mp) = Self::agreed_max_payload(pkt) {
            pado.push(tag::PPP_MAX_PAYLOAD, &mp.to_be_bytes());
        }
        self.stats.pado_tx += 1;
        vec![Output::Send { iface, dst: client, packet: pado }]
    }

    /// A PADS (RFC 2516 §5.4) for `session_id` (0 with an error tag) answering `req`.
    fn pads(&self, iface: IfaceId, req: &Discovery, session_id: u16, service: &str, max_payload: Option<u16>, error: Option<(u16, &str)>) -> Discovery {
        let mut pads = Discovery::new(Code::Pads, session_id);
        pads.push(tag::SERVICE_NAME, service.as_bytes());
        if let Some(i) = self.ifaces.get(&iface) {
            pads.push(tag::AC_NAME, i.params.ac_name.as_bytes());
        }
        Self::echo_tags(req, &mut pads);
        if let Some(mp) = max_payload {
            pads.push(tag::PPP_MAX_PAYLOAD, &mp.to_be_bytes());
        }
        if let Some((t, text)) = error {
            pads.push(t, text.as_bytes());
        }
        pads
    }

    /// PADR → PADS + Opened, or an error PADS (RFC 2516 §5.3, §5.4).
    fn on_padr(&mut self, now: Instant, iface: IfaceId, client: MacAddr, pkt: &Discovery, route: RouteFn<'_>) -> Vec<Output> {
        let drop = |why| vec![Output::Dropped { iface, client, why }];
        self.stats.padr_rx += 1;
        if pkt.session_id != 0 {
            self.stats.malformed += 1;
            return drop(Drop::Malformed);
        }
        if !pkt.tag(tag::AC_COOKIE).is_some_and(|c| self.jar.check(now, iface, client, c)) {
            self.stats.bad_cookie += 1;
            return drop(Drop::BadCookie);
        }
        if !self.permitted(client) {
            self.stats.denied += 1;
            return drop(Drop::Denied);
        }
        let host_uniq = pkt.tag(tag::HOST_UNIQ);
        if let Some(live) = self.duplicate(iface, client, host_uniq) {
            // A retransmitted PADR (our PADS was lost): the same PADS again, no second session.
            let (sid, service, mp) = (live.entry.session_id, live.entry.service_name.clone(), live.max_payload);
            let pads = self.pads(iface, pkt, sid, &service, mp, None);
            self.stats.pads_tx += 1;
            return vec![Output::Send { iface, dst: client, packet: pads }];
        }
        let requested = Self::requested_service(pkt);
        let offered = self.ifaces.get(&iface).is_some_and(|i| Self::offers(&i.params, &requested));
        let chosen = if offered { route(iface, client, &requested) } else { None };
        let Some(route_id) = chosen else {
            self.stats.no_service += 1;
            return self.error_pads(iface, client, pkt, &requested, tag::SERVICE_NAME_ERROR, "service not offered");
        };
        let id = if self.over_limit(iface, client) { None } else { self.allocate_id() };
        let Some(session_id) = id else {
            self.stats.limit_refused += 1;
            return self.error_pads(iface, client, pkt, &requested, tag::AC_SYSTEM_ERROR, "session limit reached");
        };
        let max_payload = Self::agreed_max_payload(pkt);
        let entry = SessionEntry { iface, client, session_id, route: route_id, service_name: requested.clone(), opened_at: now };
        self.sessions.insert(session_id, Live { entry, host_uniq: host_uniq.map(<[u8]>::to_vec), max_payload });
        self.per_mac.entry(client).or_default().push(session_id);
        if let Some(i) = self.ifaces.get_mut(&iface) {
            i.sessions = i.sessions.saturating_add(1);
        }
        let pads = self.pads(iface, pkt, session_id, &requested, max_payload, None);
        self.stats.pads_tx += 1;
        self.stats.sessions_opened += 1;
        vec![
            Output::Send { iface, dst: client, packet: pads },
            Output::Opened { iface, client, session_id, route: route_id, service_name: requested, max_payload },
        ]
    }

    fn error_pads(&mut self, iface: IfaceId, client: MacAddr, pkt: &Discovery, service: &str, t: u16, text: &str) -> Vec<Output> {
        let pads = self.pads(iface, pkt, 0, service, None, Some((t, text)));
        self.stats.pads_tx += 1;
        vec![Output::Send { iface, dst: client, packet: pads }]
    }

    /// The live session of `client` on `iface` with this Host-Uniq (None = the PADR had none).
    fn duplicate(&self, iface: IfaceId, client: MacAddr, host_uniq: Option<&[u8]>) -> Option<&Live> {
        let ids = self.per_mac.get(&client)?;
        ids.iter().filter_map(|id| self.sessions.get(id)).find(|l| l.entry.iface == iface && l.host_uniq.as_deref() == host_uniq)
    }

    /// The next id after the last one given that is not live, 1..=0xFFFE; None when all are live.
    fn allocate_id(&mut self) -> Option<u16> {
        let mut id = self.last_id;
        for _ in 0..MAX_SESSION_ID {
            id = if id >= MAX_SESSION_ID { 1 } else { id + 1 };
            if !self.sessions.contains_key(&id) {
                self.last_id = id;
                return Some(id);
            }
        }
        None
    }

    /// Forgets a session; returns its entry.
    fn free(&mut self, session_id: u16) -> Option<SessionEntry> {
        let live = self.sessions.remove(&session_id)?;
        let e = live.entry;
        if let Some(ids) = self.per_mac.get_mut(&e.client) {
            ids.retain(|i| *i != session_id);
            if ids.is_empty() {
                self.per_mac.remove(&e.client);
            }
        }
        if let Some(i) = self.ifaces.get_mut(&e.iface) {
            i.sessions = i.sessions.saturating_sub(1);
        }
        Some(e)
    }

    /// PADT from the client (RFC 2516 §5.5).
    fn on_padt(&mut self, iface: IfaceId, client: MacAddr, pkt: &Discovery) -> Vec<Output> {
        self.stats.padt_rx += 1;
        let sid = pkt.session_id;
        if !self.sessions.get(&sid).is_some_and(|l| l.entry.iface == iface && l.entry.client == client) {
            return vec![Output::Dropped { iface, client, why: Drop::UnknownSession }];
        }
        self.free(sid);
        let reason = match pkt.error() {
            Some((_, text)) if !text.is_empty() => text,
            _ => "PADT from client".to_string(),
        };
        vec![Output::ClientClosed { iface, client, session_id: sid, reason }]
    }

    /// AC-initiated end (CDN, propppd down, proac_manage delete), RFC 2516 §5.5: frees the id and
    /// returns the PADT to send (with `reason` as Generic-Error when not empty); None if the session is unknown.
    pub fn close(&mut self, iface: IfaceId, session_id: u16, reason: &str) -> Option<Output> {
        let live = self.sessions.get(&session_id).filter(|l| l.entry.iface == iface)?;
        let live_uniq = live.host_uniq.clone();
        let e = self.free(session_id)?;
        let mut padt = Discovery::new(Code::Padt, session_id);
        if let Some(h) = live_uniq {
            padt.push(tag::HOST_UNIQ, &h);
        }
        if !reason.is_empty() {
            padt.push(tag::GENERIC_ERROR, reason.as_bytes());
        }
        self.stats.padt_tx += 1;
        Some(Output::Send { iface, dst: e.client, packet: padt })
    }

    /// The live session `session_id` on `iface`.
    pub fn session(&self, iface: IfaceId, session_id: u16) -> Option<&SessionEntry> {
        self.sessions.get(&session_id).map(|l| &l.entry).filter(|e| e.iface == iface)
    }

    /// Every live session, in no particular order.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionEntry> {
        self.sessions.values().map(|l| &l.entry)
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counts a discovery frame the daemon could not hand to [`Server::input`]
    /// (shorter than an Ethernet header, or of no interface): `malformed`.
    pub fn count_malformed(&mut self) {
        self.stats.malformed = self.stats.malformed.saturating_add(1);
    }

    /// Zeroes the counters.
    pub fn clear_stats(&mut self) {
        self.stats = Stats::default();
    }
}

#[cfg(test)]
mod tests;
