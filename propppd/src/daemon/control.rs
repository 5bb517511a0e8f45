//! propppd's control socket (`propppctl`, `propppwatch`): a unix datagram
//! socket at `[system] control_socket`, mode 0600, answering the requests
//! of the issue-5 contract with [`common::ipc`] messages. As prol2tpd's,
//! each datagram carries its sender's uid (SO_PASSCRED) and only root and
//! the daemon's own user are answered ([`common::control`]).
//!
//! Records: `ppp` (one per instance, summary for `ListPpp`, full for
//! `ShowPpp`), `system`, `statistics`. Events (`PPP_CREATED_IND` …) go to
//! subscribers through [`common::events::Publisher`].

use std::time::Instant;

use common::control::{self, error, records};
use common::ipc::{self, Body, ErrorCode, Message, Peer, Record, Reply, Request, Selector};
use common::log::Level;

use crate::proto::link::Phase;

use super::instance::Instance;
use super::{clog, Cat, Daemon};

/// Event bit and kind: an instance was created.
pub const EV_CREATED: u32 = 0x1;
/// Event bit and kind: the network layer came up.
pub const EV_UP: u32 = 0x2;
/// Event bit and kind: the link went down after coming up.
pub const EV_DOWN: u32 = 0x4;
/// Event bit and kind: the instance was freed.
pub const EV_DESTROYED: u32 = 0x8;

/// Event names by bit.
const EVENT_NAMES: [(u32, &str); 4] = [(EV_CREATED, "PPP_CREATED_IND"), (EV_UP, "PPP_UP_IND"), (EV_DOWN, "PPP_DOWN_IND"), (EV_DESTROYED, "PPP_DESTROYED_IND")];

/// Requests handled per wake-up.
const REQUEST_BURST: usize = 32;

/// An empty event record of the kind for `bit`.
pub fn event_record(bit: u32) -> Record {
    Record::new(EVENT_NAMES.iter().find(|(b, _)| *b == bit).map_or("PPP_EVENT", |(_, n)| n))
}

/// The `state` word of a link phase.
fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Dead => "dead",
        Phase::Establish => "establish",
        Phase::Authenticate => "authenticate",
        Phase::Network => "network",
        Phase::Terminate => "terminate",
    }
}

/// A `ppp` record: the summary fields, and with `full` the rest.
fn ppp_record(i: &Instance, now: Instant, full: bool) -> Record {
    let mut r = Record::new(common::channel::STATUS_KIND);
    r.num("handle", i.handle).str("name", &i.params.name).str("state", phase_name(i.link.phase()));
    r.str("ifname", i.plane.ifname().unwrap_or("")).str("user", i.user.as_deref().unwrap_or(""));
    r.str("local_ip", i.local_ip.map(|a| a.to_string()).unwrap_or_default()).str("peer_ip", i.peer_ip.map(|a| a.to_string()).unwrap_or_default());
    r.str("linktype", &i.params.linktype).num("connect_time", i.link.connect_time(now).as_secs());
    if !full {
        return r;
    }
    r.str("profile", &i.profile).str("role", i.params.role.name()).str("framing", i.params.framing.name());
    if let Some(u) = i.chan.unit() {
        r.num("unit", u.unit);
    }
    let lcp = i.link.lcp();
    let n = *lcp.negotiated();
    let state = |s: crate::proto::fsm::State| format!("{s:?}").to_ascii_lowercase();
    r.num("mru", n.local_mru).str("auth", i.auth.map_or("none", |m| m.name()));
    r.str("lcp", state(lcp.state())).str("ipcp", state(i.link.ipcp().state())).str("ipv6cp", state(i.link.ipv6cp().state()));
    let dns = |k: usize| i.dns.get(k).copied().flatten().map(|a| a.to_string()).unwrap_or_default();
    r.str("dns1", dns(0)).str("dns2", dns(1));
    let (l6, p6) = i.ipv6_ids.map_or((String::new(), String::new()), |(l, p)| (format!("{l:#018x}"), format!("{p:#018x}")));
    r.str("ipv6_local_id", l6).str("ipv6_peer_id", p6);
    r.str("local_magic", format!("{:#010x}", n.local_magic)).str("peer_magic", format!("{:#010x}", n.peer_magic));
    let s = i.link.stats();
    r.num("bytes_in", s.rx_octets).num("bytes_out", s.tx_octets).num("packets_in", s.rx_packets).num("packets_out", s.tx_packets);
    for (k, v) in &i.params.info {
        r.str(k, v);
    }
    r
}

impl Daemon {
    /// Reads and answers pending control requests (a burst at most).
    pub(super) fn on_control(&mut self, buf: &mut [u8]) {
        for _ in 0..REQUEST_BURST {
            let Some(server) = self.control.as_ref() else { return };
            let got = match control::recv_request(server, buf) {
                Ok(Some(g)) => g,
                Ok(None) => return,
                Err(e) => {
                    clog(Cat::Mgmt, Level::Warning, format_args!("control recv error=\"{e}\""));
                    return;
                }
            };
            let replies = match got.request {
                Ok(req) => self.answer(&got.peer, got.request_id, req),
                Err(refusal) => vec![refusal],
            };
            for reply in replies {
                self.answer_cli(&got.peer, got.request_id, reply);
            }
        }
    }

    /// Sends one reply to a CLI (lost when it does not read).
    pub(super) fn answer_cli(&self, peer: &Peer, request_id: u32, reply: Reply) {
        let Some(server) = self.control.as_ref() else { return };
        if let Err(e) = server.send(peer, &Message { request_id, body: Body::Reply(reply) }) {
            clog(Cat::Mgmt, Level::Info, format_args!("control reply peer={peer} error=\"{e}\""));
        }
    }

    fn find(&self, sel: &Selector) -> Option<&Instance> {
        match sel {
            Selector::Id(h) => self.instances.get(&u64::from(*h)),
            Selector::Name(n) => self.instances.values().find(|i| i.params.name == *n),
        }
    }

    /// Carries out one request; the replies to send now (none when the
    /// answer comes later).
    fn answer(&mut self, peer: &Peer, request_id: u32, req: Request) -> Vec<Reply> {
        clog(Cat::Mgmt, Level::Debug, format_args!("control request={req:?}"));
        let now = Instant::now();
        match req {
            Request::ListPpp => ipc::split_records(self.instances.values().map(|i| ppp_record(i, now, false)).collect()),
            Request::ShowPpp(sel) => match self.find(&sel) {
                Some(i) => vec![records(vec![ppp_record(i, now, true)])],
                None => vec![error(ErrorCode::NotFound, &format!("no PPP instance {sel}"))],
            },
            Request::ShowSystem => vec![records(vec![self.system_record()])],
            Request::ShowStatistics => vec![records(vec![self.statistics_record()])],
            Request::DestroyPpp(sel) => match self.find(&sel).map(|i| i.handle) {
                Some(h) => {
                    clog(Cat::Mgmt, Level::Info, format_args!("control destroy handle={h}"));
                    self.close_instance(now, h);
                    vec![Reply::Done]
                }
                None => vec![error(ErrorCode::NotFound, &format!("no PPP instance {sel}"))],
            },
            Request::CreatePpp { name, params } => {
                let linktype = params.iter().find(|(k, _)| k == "linktype").map(|(_, v)| v.as_str());
                match linktype {
                    Some(common::channel::LINKTYPE_L2TP) => self.relay_create(now, peer, request_id, name, params).into_iter().collect(),
                    Some(common::channel::LINKTYPE_PPPOE) => self.relay_create_pppoe(now, peer, request_id, name, params).into_iter().collect(),
                    Some(other) => vec![error(ErrorCode::Unsupported, &format!("linktype {other} is not supported"))],
                    None => vec![error(ErrorCode::BadRequest, "`linktype` missing")],
                }
            }
            Request::Reload => match self.reload() {
                Ok(()) => vec![Reply::Done],
                Err(e) => vec![error(ErrorCode::Failed, &e)],
            },
            Request::Subscribe { events, .. } => match self.publisher.subscribe(peer, request_id, events, None) {
                Ok(sub) => vec![records(vec![sub.to_record()])],
                Err(e) => vec![error(ErrorCode::Failed, &e.to_string())],
            },
            Request::Unsubscribe => {
                self.publisher.unsubscribe(peer);
                vec![Reply::Done]
            }
            other => {
                vec![error(ErrorCode::Unsupported, &format!("propppd does not answer {:?}", Message { request_id, body: Body::Request(other) }.msg_type()))]
            }
        }
    }

    fn system_record(&self) -> Record {
        let mut r = Record::new("system");
        r.str("version", env!("CARGO_PKG_VERSION")).num("instances", self.instances.len() as u64);
        r.num("instances_up", self.instances.values().filter(|i| i.up && i.link.phase() == Phase::Network).count() as u64);
        r.num("owners", self.owners.iter().flatten().count() as u64);
        r.str("control_socket", self.cfg.system.control_socket.display()).str("channel_socket", self.listener.path().display());
        r.str("config_file", self.cfg.path.display());
        let pools = self.pools.borrow();
        for name in self.cfg.pools.keys() {
            if let Some(s) = pools.stats(name) {
                r.num(&format!("pool_{name}_free"), s.size.saturating_sub(s.used)).num(&format!("pool_{name}_used"), s.used);
            }
        }
        r
    }

    fn statistics_record(&self) -> Record {
        let s = &self.stats;
        let mut r = Record::new("statistics");
        r.num("instances_created", s.instances_created).num("instances_up_total", s.instances_up_total).num("auth_failures", s.auth_failures);
        r.num("owners_connected_total", s.owners_connected_total).num("owner_losses", s.owner_losses);
        r.num("bad_channel_messages", s.bad_channel_messages).num("rx_dropped_frames", s.rx_dropped_frames);
        r
    }
}
