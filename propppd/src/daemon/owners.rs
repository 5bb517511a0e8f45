//! Channel owners (prol2tpd, proacd): their connections to the channel
//! socket ([`common::channel`]), what they send (`ChannelHello` naming the
//! linktype they carry, `PppOpen` with its fd, `PppClose`, answers to a
//! relayed `CreateSession` / `CreatePpp`) and what they are sent
//! (`PppStatus`, `CreateSession` for `propppctl create … l2tp`, `CreatePpp`
//! for `propppctl create … pppoe`).
//!
//! At most `max_owners` connections; one more is closed at once. A record
//! that is not a valid message, or a message an owner should not send, is
//! counted (`bad_channel_messages`) and logged, and the connection kept;
//! end-of-file or a failed read ends every instance of that owner without
//! status (there is nobody to tell) and removes their interfaces.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use common::channel::{self, status_key, Channel, Received};
use common::evloop::Interest;
use common::ipc::{Body, ErrorCode, Message, Peer, Record, Reply, Request, Selector};
use common::log::Level;

use super::{clog, Cat, Daemon, KEY_OWNER0};

/// How long `propppctl create` waits for the owner's answer.
pub(super) const RELAY_TIMEOUT: Duration = Duration::from_secs(5);

/// One connected owner.
#[derive(Debug)]
pub(super) struct Owner {
    /// Serial number (1, 2, …), what instances remember.
    pub serial: u64,
    /// The connection.
    pub chan: Channel,
    /// The `linktype` of its channels: from its `ChannelHello`, else
    /// from the first channel it opened.
    pub linktype: Option<String>,
    /// True while watched for writability (records queued).
    pub writable: bool,
}

/// A `CreatePpp` relayed to an owner (as `CreateSession` for L2TP,
/// unchanged for PPPoE).
#[derive(Debug)]
pub(super) struct PendingCreate {
    /// The CLI that asked.
    pub peer: Peer,
    /// Its request id.
    pub request_id: u32,
    /// The owner asked.
    pub owner: u64,
    /// When to give up.
    pub deadline: Instant,
}

impl Daemon {
    /// Accepts waiting owners.
    pub(super) fn on_accept(&mut self) {
        loop {
            let chan = match self.listener.accept() {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    clog(Cat::Mgmt, Level::Warning, format_args!("channel accept error=\"{e}\""));
                    return;
                }
            };
            let connected = self.owners.iter().flatten().count();
            let max = usize::try_from(self.cfg.system.max_owners).unwrap_or(usize::MAX);
            if connected >= max || self.shutdown_deadline.is_some() {
                clog(Cat::Mgmt, Level::Warning, format_args!("owner refused reason=\"max_owners ({max}) reached\""));
                continue;
            }
            let slot = match self.owners.iter().position(Option::is_none) {
                Some(s) => s,
                None => {
                    self.owners.push(None);
                    self.owners.len().saturating_sub(1)
                }
            };
            if let Err(e) = self.evloop.register(chan.as_fd(), KEY_OWNER0.saturating_add(slot), Interest::READABLE) {
                clog(Cat::Mgmt, Level::Error, format_args!("owner register error=\"{e}\""));
                continue;
            }
            self.owner_serial = self.owner_serial.saturating_add(1);
            self.stats.owners_connected_total = self.stats.owners_connected_total.saturating_add(1);
            clog(Cat::Mgmt, Level::Info, format_args!("owner connected owner={} slot={slot}", self.owner_serial));
            if let Some(s) = self.owners.get_mut(slot) {
                *s = Some(Owner { serial: self.owner_serial, chan, linktype: None, writable: false });
            }
        }
    }

    /// An owner's connection is ready.
    pub(super) fn on_owner(&mut self, slot: usize, readable: bool, writable: bool) {
        if writable {
            self.flush_owner(slot);
        }
        if !readable {
            return;
        }
        // A burst at most, so one owner cannot starve the rest.
        for _ in 0..256 {
            let Some(owner) = self.owners.get_mut(slot).and_then(Option::as_mut) else { return };
            match owner.chan.recv() {
                Received::Message(m, fd) => self.on_owner_message(slot, m, fd),
                Received::Malformed(e) => self.bad_message(slot, &format!("malformed: {e}")),
                Received::Nothing => return,
                Received::Closed => {
                    self.owner_gone(slot);
                    return;
                }
            }
        }
    }

    fn bad_message(&mut self, slot: usize, what: &str) {
        self.stats.bad_channel_messages = self.stats.bad_channel_messages.saturating_add(1);
        let serial = self.owner_serial_of(slot).unwrap_or(0);
        clog(Cat::Mgmt, Level::Warning, format_args!("channel bad_message owner={serial} error=\"{what}\""));
    }

    pub(super) fn owner_serial_of(&self, slot: usize) -> Option<u64> {
        self.owners.get(slot).and_then(Option::as_ref).map(|o| o.serial)
    }

    pub(super) fn owner_slot(&self, serial: u64) -> Option<usize> {
        self.owners.iter().position(|o| o.as_ref().is_some_and(|o| o.serial == serial))
    }

    fn on_owner_message(&mut self, slot: usize, m: Message, fd: Option<OwnedFd>) {
        let now = Instant::now();
        match m.body {
            Body::Request(Request::PppOpen { reference, params }) => self.on_ppp_open(now, slot, reference, &params, fd),
            Body::Request(Request::ChannelHello { linktype }) => {
                let serial = self.owner_serial_of(slot).unwrap_or(0);
                clog(Cat::Mgmt, Level::Info, format_args!("owner hello owner={serial} linktype={linktype}"));
                if let Some(o) = self.owners.get_mut(slot).and_then(Option::as_mut) {
                    o.linktype = Some(linktype);
                }
            }
            Body::Request(Request::PppClose { reference, reason }) => {
                let serial = self.owner_serial_of(slot).unwrap_or(0);
                let found = self.instances.values().find(|i| i.owner == serial && i.reference == reference).map(|i| i.handle);
                clog(Cat::Mgmt, Level::Info, format_args!("channel close owner={serial} reference={reference} reason=\"{reason}\""));
                match found {
                    Some(h) => self.lower_down(now, h),
                    None => self.bad_message(slot, &format!("PppClose for unknown reference {reference}")),
                }
            }
            Body::Reply(reply @ (Reply::Done | Reply::Error { .. })) => match self.pending.remove(&m.request_id) {
                Some(p) => self.answer_cli(&p.peer, p.request_id, reply),
                None => self.bad_message(slot, &format!("answer to unknown request {}", m.request_id)),
            },
            other => self.bad_message(slot, &format!("unexpected message {other:?}")),
        }
    }

    /// Sends a status record to the owner of an instance (nothing when
    /// the owner is gone).
    pub(super) fn send_status(&mut self, owner: u64, reference: u32, record: Record) {
        let Some(slot) = self.owner_slot(owner) else { return };
        let msg = Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference, record }) };
        self.send_owner(slot, &msg);
    }

    /// `down` for a `PppOpen` refused at once (no instance was made).
    pub(super) fn refuse(&mut self, slot: usize, reference: u32, reason: &str, code: u8) {
        let serial = self.owner_serial_of(slot).unwrap_or(0);
        clog(Cat::Event, Level::Warning, format_args!("ppp refused owner={serial} reference={reference} reason=\"{reason}\""));
        let mut r = Record::new(channel::STATUS_KIND);
        r.str(status_key::STATE, channel::STATE_DOWN).str(status_key::REASON, reason).num(status_key::REASON_CODE, code);
        let msg = Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference, record: r }) };
        self.send_owner(slot, &msg);
    }

    fn send_owner(&mut self, slot: usize, msg: &Message) {
        let Some(owner) = self.owners.get_mut(slot).and_then(Option::as_mut) else { return };
        if let Err(e) = owner.chan.send(msg, None) {
            clog(Cat::Mgmt, Level::Warning, format_args!("channel send owner={} error=\"{e}\"", owner.serial));
        }
        self.sync_owner_interest(slot);
    }

    /// Writes what waits for an owner.
    pub(super) fn flush_owner(&mut self, slot: usize) {
        if let Some(owner) = self.owners.get_mut(slot).and_then(Option::as_mut) {
            let _ = owner.chan.flush();
        }
        self.sync_owner_interest(slot);
    }

    fn sync_owner_interest(&mut self, slot: usize) {
        let Some(owner) = self.owners.get_mut(slot).and_then(Option::as_mut) else { return };
        let want = owner.chan.wants_write();
        if want != owner.writable {
            let interest = if want { Interest::BOTH } else { Interest::READABLE };
            if self.evloop.modify(owner.chan.as_fd(), interest).is_ok() {
                owner.writable = want;
            }
        }
    }

    /// The owner closed its connection (or it failed): its instances end
    /// without status, its relayed requests fail.
    fn owner_gone(&mut self, slot: usize) {
        let Some(owner) = self.owners.get_mut(slot).and_then(Option::take) else { return };
        let _ = self.evloop.deregister(owner.chan.as_fd());
        self.stats.owner_losses = self.stats.owner_losses.saturating_add(1);
        let now = Instant::now();
        let handles: Vec<u64> = self.instances.values().filter(|i| i.owner == owner.serial).map(|i| i.handle).collect();
        clog(Cat::Mgmt, Level::Notice, format_args!("owner gone owner={} instances={}", owner.serial, handles.len()));
        for h in handles {
            if let Some(i) = self.instances.get_mut(&h) {
                i.down_sent = true;
            }
            self.lower_down(now, h);
        }
        let failed: Vec<u32> = self.pending.iter().filter(|(_, p)| p.owner == owner.serial).map(|(id, _)| *id).collect();
        for id in failed {
            if let Some(p) = self.pending.remove(&id) {
                self.answer_cli(&p.peer, p.request_id, Reply::Error { code: ErrorCode::Failed, message: "owner went away".into() });
            }
        }
    }

    /// `CreatePpp` with `linktype=pppoltp`: relayed as `CreateSession` to
    /// a connected L2TP owner; the answer comes later (or an error now).
    pub(super) fn relay_create(&mut self, now: Instant, peer: &Peer, request_id: u32, name: String, params: Vec<(String, String)>) -> Option<Reply> {
        let tunnel = params.iter().find(|(k, _)| k == "tunnel").map(|(_, v)| v.clone());
        let Some(tunnel) = tunnel.filter(|t| !t.is_empty()) else {
            return Some(Reply::Error { code: ErrorCode::BadRequest, message: "`tunnel` missing".into() });
        };
        // An owner known to carry L2TP, else one that has not said what it
        // carries (an older prol2tpd says nothing before its first session).
        let Some(slot) = self.owner_for(channel::LINKTYPE_L2TP, true) else {
            return Some(Reply::Error { code: ErrorCode::Failed, message: "no L2TP owner connected".into() });
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in params {
            match k.as_str() {
                "tunnel" | "linktype" => {}
                "profile" => out.push(("ppp_profile".into(), v)),
                _ => out.push((k, v)),
            }
        }
        clog(Cat::Mgmt, Level::Info, format_args!("relay create name={name} tunnel={tunnel} linktype=pppoltp"));
        let req = Request::CreateSession { tunnel: Selector::parse(&tunnel), name, params: out };
        self.relay(now, peer, request_id, slot, req);
        None
    }

    /// `CreatePpp` with `linktype=pppoe`: relayed unchanged to the first
    /// owner that said `ChannelHello { linktype: "pppoe" }` (proacd), which
    /// answers `Done` once discovery started and hands the channel over
    /// later with `PppOpen`. Errors now: `pppoe_interface` missing, no
    /// PPPoE owner connected.
    pub(super) fn relay_create_pppoe(&mut self, now: Instant, peer: &Peer, request_id: u32, name: String, params: Vec<(String, String)>) -> Option<Reply> {
        if !params.iter().any(|(k, v)| k == "pppoe_interface" && !v.is_empty()) {
            return Some(Reply::Error { code: ErrorCode::BadRequest, message: "`pppoe_interface` missing".into() });
        }
        let Some(slot) = self.owner_for(channel::LINKTYPE_PPPOE, false) else {
            return Some(Reply::Error { code: ErrorCode::Failed, message: "no PPPoE owner connected".into() });
        };
        clog(Cat::Mgmt, Level::Info, format_args!("relay create name={name} linktype=pppoe"));
        self.relay(now, peer, request_id, slot, Request::CreatePpp { name, params });
        None
    }

    /// The first owner carrying `linktype`; with `or_unknown`, else the
    /// first that has not said what it carries.
    fn owner_for(&self, linktype: &str, or_unknown: bool) -> Option<usize> {
        let says = |o: &Owner| o.linktype.as_deref() == Some(linktype);
        let unknown = |o: &Owner| or_unknown && o.linktype.is_none();
        self.owners.iter().position(|o| o.as_ref().is_some_and(says)).or_else(|| self.owners.iter().position(|o| o.as_ref().is_some_and(unknown)))
    }

    /// Sends `req` to the owner in `slot` under a request id of ours and
    /// remembers to answer the CLI `peer`'s `request_id` with its answer.
    fn relay(&mut self, now: Instant, peer: &Peer, request_id: u32, slot: usize, req: Request) {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        let owner = self.owner_serial_of(slot).unwrap_or(0);
        clog(Cat::Mgmt, Level::Info, format_args!("relay owner={owner} request_id={id}"));
        self.send_owner(slot, &Message { request_id: id, body: Body::Request(req) });
        self.pending.insert(id, PendingCreate { peer: peer.clone(), request_id, owner, deadline: now + RELAY_TIMEOUT });
    }

    /// Relayed requests whose owner did not answer in time.
    pub(super) fn pending_due(&mut self, now: Instant) {
        let late: Vec<u32> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in late {
            if let Some(p) = self.pending.remove(&id) {
                self.answer_cli(&p.peer, p.request_id, Reply::Error { code: ErrorCode::Failed, message: "owner did not answer".into() });
            }
        }
    }
}
