//! proacd's control socket (`proac_info`, `proac_manage`): a unix datagram
//! socket at `[system] control_socket`, mode 0600, answering the issue-6
//! requests with [`common::ipc`] messages. As propppd's, each datagram
//! carries its sender's uid (SO_PASSCRED) and only root and the daemon's
//! own user are answered ([`common::control`]).
//!
//! Records: `system`, `statistics`, `interface`, `route`, `pppoe`.

use std::time::Instant;

use common::control::{self, error, records};
use common::ipc::{self, Body, ErrorCode, Message, Peer, Record, Reply, Request, Selector};
use common::log::Level;

use crate::config::Destination;
use crate::proto::MacAddr;

use super::sessions::{End, Session, Side};
use super::{dbg, Daemon, Dbg};

/// Requests handled per wake-up.
const REQUEST_BURST: usize = 32;

fn dest_name(d: Destination) -> &'static str {
    match d {
        Destination::Local => "local",
        Destination::L2tp => "l2tp",
    }
}

/// A `pppoe` record of session `s`.
fn pppoe_record(s: &Session, now: Instant) -> Record {
    let mut r = Record::new("pppoe");
    r.num("handle", s.handle).str("interface", &s.iface).num("session_id", u64::from(s.session_id)).str("client_mac", s.peer_mac);
    r.str("route", &s.route).str("destination", s.destination_name()).str("state", s.state.name()).str("service_name", &s.service_name);
    r.num("connect_time", now.saturating_duration_since(s.started).as_secs());
    r.str("role", if matches!(s.side, Side::Client { .. }) { "client" } else { "server" });
    match (s.destination, s.l2tp_ids) {
        (Destination::L2tp, Some((t, sid))) => {
            r.str("peer", format!("tunnel {t} session {sid}")).num("tunnel_id", t).num("l2tp_session_id", sid);
        }
        (Destination::L2tp, None) => {
            r.str("peer", "");
        }
        (Destination::Local, _) => {
            r.str("peer", &s.ppp_ifname);
        }
    }
    for (k, v) in [("ppp_ifname", &s.ppp_ifname), ("local_ip", &s.local_ip), ("peer_ip", &s.peer_ip)] {
        if !v.is_empty() {
            r.str(k, v);
        }
    }
    r
}

impl Daemon {
    /// Reads and answers pending control requests (a burst at most).
    pub(super) fn on_control(&mut self) {
        let mut buf = vec![0u8; ipc::MAX_DATAGRAM];
        for _ in 0..REQUEST_BURST {
            let Some(server) = self.control.as_ref() else { return };
            let got = match control::recv_request(server, &mut buf) {
                Ok(Some(g)) => g,
                Ok(None) => return,
                Err(e) => {
                    dbg(Dbg::Ctrl, format_args!("control recv error=\"{e}\""));
                    return;
                }
            };
            let replies = match got.request {
                Ok(req) => self.answer(got.request_id, req),
                Err(refusal) => vec![refusal],
            };
            for reply in replies {
                self.answer_cli(&got.peer, got.request_id, reply);
            }
        }
    }

    fn answer_cli(&self, peer: &Peer, request_id: u32, reply: Reply) {
        let Some(server) = self.control.as_ref() else { return };
        if let Err(e) = server.send(peer, &Message { request_id, body: Body::Reply(reply) }) {
            dbg(Dbg::Ctrl, format_args!("control reply peer={peer} error=\"{e}\""));
        }
    }

    /// Carries out one request; the replies to send.
    fn answer(&mut self, request_id: u32, req: Request) -> Vec<Reply> {
        dbg(Dbg::Ctrl, format_args!("control request={req:?}"));
        let now = Instant::now();
        match req {
            Request::ShowSystem => vec![records(vec![self.system_record()])],
            Request::ShowStatistics => vec![records(vec![self.statistics_record()])],
            Request::ClearStatistics => {
                self.server.clear_stats();
                self.stats = super::Stats::default();
                vec![Reply::Done]
            }
            Request::ListInterfaces => ipc::split_records(self.interface_records()),
            Request::ListRoutes => ipc::split_records(self.route_records()),
            Request::ListPppoe => ipc::split_records(self.sessions.values().map(|s| pppoe_record(s, now)).collect()),
            Request::DeletePppoe(sel) => self.delete(now, &sel),
            Request::MacList { deny, add, mac } => match mac.parse::<MacAddr>() {
                Ok(m) => {
                    if deny {
                        self.server.deny_mac(m, add);
                    } else {
                        self.server.allow_mac(m, add);
                    }
                    common::log::log(
                        Level::Info,
                        format_args!("mac list={} {} mac={m}", if deny { "deny" } else { "allow" }, if add { "add" } else { "remove" }),
                    );
                    vec![Reply::Done]
                }
                Err(_) => vec![error(ErrorCode::BadRequest, &format!("bad MAC address `{mac}`"))],
            },
            Request::Reload => match self.reload() {
                Ok(()) => vec![Reply::Done],
                Err(e) => vec![error(ErrorCode::Failed, &e)],
            },
            other => {
                vec![error(
                    ErrorCode::Unsupported,
                    &format!("proacd does not answer message type {}", Message { request_id, body: Body::Request(other) }.msg_type()),
                )]
            }
        }
    }

    /// `DeletePppoe`: by handle, `IFACE/SID` or a client's name.
    fn delete(&mut self, now: Instant, sel: &Selector) -> Vec<Reply> {
        let found = match sel {
            Selector::Id(h) => self.sessions.get(&u64::from(*h)).map(|s| s.handle),
            Selector::Name(n) => self.sessions.values().find(|s| s.name == *n).map(|s| s.handle),
        };
        if let Some(h) = found {
            common::log::log(Level::Info, format_args!("control delete handle={h}"));
            if let Some(Side::Client { slot }) = self.sessions.get(&h).map(|s| s.side) {
                self.stop_client(now, slot, "administrative delete");
            } else {
                self.end_session(now, h, "administrative delete", End::Local);
            }
            return vec![Reply::Done];
        }
        if let Selector::Name(n) = sel {
            if let Some(slot) = self.clients.iter().position(|c| c.as_ref().is_some_and(|c| c.cfg.name == *n)) {
                self.stop_client(now, slot, "administrative delete");
                return vec![Reply::Done];
            }
        }
        vec![error(ErrorCode::NotFound, &format!("no PPPoE session {sel}"))]
    }

    fn system_record(&self) -> Record {
        let mut r = Record::new("system");
        r.str("version", env!("CARGO_PKG_VERSION")).str("config_file", self.cfg.file.display()).str("control_socket", self.cfg.system.control_socket.display());
        r.str("dataplane", self.dataplane_name()).num("interfaces", self.ifaces.iter().flatten().count() as u64).num("routes", self.cfg.routes.len() as u64);
        let local = self.sessions.values().filter(|s| s.destination == Destination::Local).count() as u64;
        r.num("sessions", self.sessions.len() as u64).num("sessions_local", local).num("sessions_l2tp", self.sessions.len() as u64 - local);
        r.num("clients", self.clients.iter().flatten().count() as u64);
        r.flag("propppd", self.propppd.connected()).flag("prol2tpd", self.prol2tpd.connected());
        r.num("max_sessions", self.cfg.system.max_sessions);
        r
    }

    fn statistics_record(&self) -> Record {
        let s = self.server.stats();
        let mut r = Record::new("statistics");
        r.num("padi_rx", s.padi_rx)
            .num("pado_tx", s.pado_tx)
            .num("padr_rx", s.padr_rx)
            .num("pads_tx", s.pads_tx)
            .num("padt_rx", s.padt_rx)
            .num("padt_tx", s.padt_tx);
        r.num("malformed", s.malformed).num("rate_limited", s.rate_limited).num("denied", s.denied).num("bad_cookie", s.bad_cookie);
        r.num("limit_refused", s.limit_refused).num("no_service", s.no_service).num("sessions_opened", s.sessions_opened);
        let d = &self.stats;
        r.num("padi_tx", d.padi_tx)
            .num("pado_rx", d.pado_rx)
            .num("pads_rx", d.pads_rx)
            .num("ppp_failures", d.ppp_failures)
            .num("l2tp_failures", d.l2tp_failures);
        r.num("relay_frames_in", d.relay_frames_in).num("relay_frames_out", d.relay_frames_out).num("relay_drops", d.relay_drops);
        r.num("session_unknown", d.session_unknown);
        r
    }

    fn interface_records(&self) -> Vec<Record> {
        self.ifaces
            .iter()
            .flatten()
            .map(|i| {
                let mut r = Record::new("interface");
                let sessions = self.sessions.values().filter(|s| matches!(s.side, Side::Server { ifindex } if ifindex == i.ifindex && i.ifindex != 0)).count();
                r.str("name", &i.name).num("ifindex", i.ifindex).str("mac", i.mac).str("ac_name", &i.params.ac_name);
                r.str("service_names", i.params.service_names.join(",")).num("sessions", sessions as u64).num("max_sessions", i.params.max_sessions);
                r.str("state", i.state());
                if let Some(e) = &i.error {
                    r.str("error", e);
                }
                r
            })
            .collect()
    }

    fn route_records(&self) -> Vec<Record> {
        self.cfg
            .routes
            .iter()
            .map(|rc| {
                let mut r = Record::new("route");
                let macs: Vec<String> = rc.macs.iter().map(|m| m.to_string()).collect();
                r.str("name", &rc.name).str("interfaces", rc.interfaces.join(",")).str("service_names", rc.service_names.join(",")).str("macs", macs.join(","));
                r.str("destination", dest_name(rc.destination)).str("ppp_profile", rc.ppp_profile.as_deref().unwrap_or(""));
                r.str("tunnel_profile", rc.tunnel_profile.as_deref().unwrap_or(""));
                r.num("sessions", self.sessions.values().filter(|s| s.route == rc.name && matches!(s.side, Side::Server { .. })).count() as u64);
                r
            })
            .collect()
    }
}
