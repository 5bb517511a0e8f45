//! Instances through their lives: a `PppOpen` becomes an [`Instance`]
//! (profile → [`LinkConfig`](crate::proto::link::LinkConfig), secrets
//! backend, pool address for a peer that is not authenticated), the loop
//! feeds its [`Link`] frames and timeouts and executes what comes out:
//! frames to the channel (a leading FF 03 stripped), the interface on
//! NetworkUp / Ipv6Up, `PppStatus` to the owner and `PPP_*_IND` events;
//! `Finished` or a hung-up channel frees everything.
//!
//! Data: on framed channels IP packets go between the link and the TUN
//! device (or are counted and dropped with `dataplane = null`); on kernel
//! channels they never pass through propppd, so the idle timer sees only
//! control traffic there (approximate: documented in `propppd.conf(5)`).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use common::channel::{self, status_key};
use common::ipc::Record;
use common::log::Level;

use crate::config::Dataplane;
use crate::proto::frame::protocol;
use crate::proto::fsm::{SplitMix64, State};
use crate::proto::link::{AuthRole, DownReason, Link, LinkEvent, LinkOutput, LinkStats};
use crate::sys::netif::NetIf;
use crate::sys::ppp::PppUnit;
use crate::sys::tun::Tun;

use super::control::{event_record, EV_CREATED, EV_DESTROYED, EV_DOWN, EV_UP};
use super::instance::{link_config, reason_text, Framing, Instance, OpenParams, Role, SecretsAuth};
use super::plane::{Chan, Plane, ReadOutcome};
use super::{clog, inst_key, Cat, Daemon};

/// pppd's `EXIT_FATAL_ERROR`: refusals for limits and set-up failures.
const EXIT_FATAL_ERROR: u8 = 1;
/// pppd's `EXIT_OPTION_ERROR`: refusals for bad params.
const EXIT_OPTION_ERROR: u8 = 2;
/// Frames read from one channel per wake-up.
const READ_BURST: usize = 64;

impl Daemon {
    /// A `PppOpen`: checks, creates the instance and opens its link, or
    /// answers `down` at once.
    pub(super) fn on_ppp_open(&mut self, now: Instant, slot: usize, reference: u32, params: &[(String, String)], fd: Option<OwnedFd>) {
        let Some(serial) = self.owner_serial_of(slot) else { return };
        let p = match OpenParams::parse(params) {
            Ok(p) => p,
            Err(e) => return self.refuse(slot, reference, &format!("bad parameters: {e}"), EXIT_OPTION_ERROR),
        };
        let Some(fd) = fd else { return self.refuse(slot, reference, "no channel fd", EXIT_OPTION_ERROR) };
        if self.instances.values().any(|i| i.owner == serial && i.reference == reference) {
            return self.refuse(slot, reference, "reference in use", EXIT_OPTION_ERROR);
        }
        if self.shutdown_deadline.is_some() {
            return self.refuse(slot, reference, "shutting down", EXIT_FATAL_ERROR);
        }
        let max = usize::try_from(self.cfg.system.max_sessions).unwrap_or(usize::MAX);
        if self.instances.len() >= max {
            return self.refuse(slot, reference, &format!("too many sessions (max_sessions {max})"), EXIT_FATAL_ERROR);
        }
        if let Some(o) = self.owners.get_mut(slot).and_then(Option::as_mut) {
            o.linktype = Some(p.linktype.clone());
        }
        let chan = match p.framing {
            Framing::Frames => {
                let _ = nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
                Chan::Frames(fd)
            }
            Framing::Kernel => match PppUnit::open(fd.as_fd()) {
                Ok(unit) => Chan::Kernel { _pppox: fd, unit },
                Err(e) => return self.refuse(slot, reference, &format!("cannot attach the channel to /dev/ppp: {e}"), EXIT_FATAL_ERROR),
            },
        };
        let cfg = self.cfg.clone();
        let profile = match cfg.profile(p.profile.as_deref()) {
            Some(pr) => pr,
            None => {
                clog(Cat::Mgmt, Level::Notice, format_args!("profile missing name={} using=default", p.profile.as_deref().unwrap_or("")));
                match cfg.profile(None) {
                    Some(pr) => pr,
                    None => return self.refuse(slot, reference, "no default profile", EXIT_FATAL_ERROR),
                }
            }
        };
        let handle = self.next_handle;
        self.next_handle = self.next_handle.saturating_add(1);
        let lc = link_config(profile, &p, &self.host_name);
        let backend = SecretsAuth {
            secrets: self.secrets.clone(),
            chap_file: profile.chap_secrets.clone(),
            pap_file: profile.pap_secrets.clone(),
            our_name: self.host_name.clone(),
            pools: self.pools.clone(),
            pool: profile.pool.clone(),
            handle,
        };
        let mut link = Link::new(lc, Box::new(backend), Box::new(SplitMix64(self.rng.next_u64())), Box::new(common::rng::Rng::from_entropy()));
        if p.role == Role::Server && profile.auth.is_empty() {
            if let Some(pool) = &profile.pool {
                match self.pools.borrow_mut().allocate(pool, handle) {
                    Ok(a) => link.set_peer_addr(Some(a)),
                    Err(e) => clog(Cat::Ppp, Level::Warning, format_args!("pool handle={handle} pool={pool} error=\"{e}\"")),
                }
            }
        }
        for (sub, fd) in chan.fds() {
            if let Err(e) = self.evloop.register(fd, inst_key(handle, sub), common::evloop::Interest::READABLE) {
                clog(Cat::Main, Level::Error, format_args!("register handle={handle} error=\"{e}\""));
            }
        }
        let inst = Instance {
            handle,
            owner: serial,
            reference,
            profile: profile.name.clone(),
            params: p,
            link,
            chan,
            plane: Plane::None,
            user: None,
            auth: None,
            local_ip: None,
            peer_ip: None,
            dns: [None, None],
            ipv6_ids: None,
            up: false,
            down_sent: false,
            down_note: None,
        };
        self.stats.instances_created = self.stats.instances_created.saturating_add(1);
        clog(
            Cat::Event,
            Level::Info,
            format_args!(
                "ppp created handle={handle} name={} owner={serial} reference={reference} profile={} role={} framing={}",
                inst.params.name,
                inst.profile,
                inst.params.role.name(),
                inst.params.framing.name()
            ),
        );
        let mut rec = event_record(EV_CREATED);
        rec.num("handle", handle).str("name", &inst.params.name);
        self.publisher.publish(EV_CREATED, &rec);
        self.instances.insert(handle, inst);
        if let Some(i) = self.instances.get_mut(&handle) {
            i.link.open(now);
        }
        self.drive(now, handle);
    }

    /// A channel or interface fd of an instance is readable.
    pub(super) fn on_instance_readable(&mut self, handle: u64, sub: usize, buf: &mut [u8]) {
        let now = Instant::now();
        for _ in 0..READ_BURST {
            let Some(inst) = self.instances.get_mut(&handle) else { return };
            if sub == 2 {
                let Plane::Tun(tun) = &inst.plane else { return };
                match tun.read(buf) {
                    Ok(Some(n)) => {
                        let packet = buf.get(..n).unwrap_or_default();
                        let proto = if packet.first().is_some_and(|b| b >> 4 == 6) { protocol::IPV6 } else { protocol::IP };
                        inst.link.send_data(now, proto, packet);
                    }
                    _ => break,
                }
                continue;
            }
            match inst.chan.read(sub, buf) {
                ReadOutcome::Frame(n) => {
                    let frame = buf.get(..n).unwrap_or_default();
                    match inst.link.handle_frame(now, frame) {
                        LinkOutput::Data { payload, .. } => {
                            if let Plane::Tun(tun) = &inst.plane {
                                let _ = tun.write(payload);
                            }
                        }
                        LinkOutput::Dropped(reason) => {
                            self.stats.rx_dropped_frames = self.stats.rx_dropped_frames.saturating_add(1);
                            clog(Cat::Ppp, Level::Debug, format_args!("ppp drop handle={handle} reason={reason:?}"));
                        }
                        LinkOutput::Control => {}
                    }
                }
                ReadOutcome::Nothing => break,
                ReadOutcome::HungUp => {
                    clog(Cat::Ppp, Level::Info, format_args!("ppp hangup handle={handle}"));
                    self.lower_down(now, handle);
                    return;
                }
            }
        }
        self.drive(now, handle);
    }

    /// The lower layer went away (owner's `PppClose`, channel hang-up,
    /// owner gone).
    pub(super) fn lower_down(&mut self, now: Instant, handle: u64) {
        if let Some(i) = self.instances.get_mut(&handle) {
            i.link.lower_down(now);
            self.drive(now, handle);
        }
    }

    /// Administrative close (`DestroyPpp`, shutdown).
    pub(super) fn close_instance(&mut self, now: Instant, handle: u64) {
        if let Some(i) = self.instances.get_mut(&handle) {
            i.link.close(now, DownReason::AdminClose);
            self.drive(now, handle);
        }
    }

    /// Executes what the link produced: frames, events, its deadline.
    pub(super) fn drive(&mut self, now: Instant, handle: u64) {
        let mut finished = false;
        loop {
            let Some(inst) = self.instances.get_mut(&handle) else { return };
            while let Some(frame) = inst.link.poll_transmit() {
                let body = match frame.as_slice() {
                    [0xff, 0x03, rest @ ..] => rest,
                    all => all,
                };
                if let Err(e) = inst.chan.write(body) {
                    clog(Cat::Ppp, Level::Debug, format_args!("ppp send handle={handle} error=\"{e}\""));
                }
            }
            let Some(ev) = inst.link.poll_event() else { break };
            if ev == LinkEvent::Finished {
                finished = true;
                continue;
            }
            self.on_link_event(now, handle, ev);
        }
        if finished {
            self.destroy(now, handle);
            return;
        }
        match self.instances.get(&handle).and_then(|i| i.link.poll_timeout()) {
            Some(t) => self.timers.set(handle, t),
            None => self.timers.cancel(handle),
        }
    }

    fn on_link_event(&mut self, now: Instant, handle: u64, ev: LinkEvent) {
        let Some(inst) = self.instances.get_mut(&handle) else { return };
        match ev {
            LinkEvent::Authenticated { role, method, name } => {
                let name = String::from_utf8_lossy(&name).into_owned();
                clog(Cat::Ppp, Level::Info, format_args!("ppp auth ok handle={handle} role={role:?} method={method} user={name}"));
                if role == AuthRole::Authenticator || inst.user.is_none() {
                    inst.user = Some(name);
                }
                if role == AuthRole::Authenticator || inst.auth.is_none() {
                    inst.auth = Some(method);
                }
            }
            LinkEvent::AuthFailed { role, method, reason } => {
                if role == AuthRole::Authenticator {
                    self.stats.auth_failures = self.stats.auth_failures.saturating_add(1);
                }
                clog(Cat::Ppp, Level::Notice, format_args!("ppp auth failed handle={handle} role={role:?} method={method} reason=\"{reason}\""));
            }
            LinkEvent::NetworkUp { local_ip, peer_ip, dns } => {
                (inst.local_ip, inst.peer_ip, inst.dns) = (local_ip, peer_ip, dns);
                self.network_up(now, handle, false);
            }
            LinkEvent::Ipv6Up { local_id, peer_id } => {
                inst.ipv6_ids = Some((local_id, peer_id));
                self.network_up(now, handle, true);
            }
            LinkEvent::Down { reason, reason_code } => self.link_down(now, handle, reason, reason_code),
            LinkEvent::Finished => {}
        }
    }

    /// IPCP or IPv6CP is up: the interface, then `up` once.
    fn network_up(&mut self, now: Instant, handle: u64, ipv6: bool) {
        if let Err(e) = self.plane_up(handle, ipv6) {
            clog(Cat::Main, Level::Error, format_args!("interface handle={handle} error=\"{e}\""));
            if let Some(i) = self.instances.get_mut(&handle) {
                i.down_note = Some(format!("interface setup failed: {e}"));
                i.link.close(now, DownReason::LowerDown);
            }
            return;
        }
        let Some(inst) = self.instances.get_mut(&handle) else { return };
        // One `up` per instance, when IPv4 is up (its addresses are what
        // owners and watchers report); IPv6CP alone counts only when IPCP
        // is no longer negotiating (refused or failed).
        let ipcp_pending = matches!(inst.link.ipcp().state(), State::ReqSent | State::AckRcvd | State::AckSent | State::Opened);
        if inst.up || (ipv6 && ipcp_pending) {
            return;
        }
        inst.up = true;
        self.stats.instances_up_total = self.stats.instances_up_total.saturating_add(1);
        let mut st = Record::new(channel::STATUS_KIND);
        st.str(status_key::STATE, channel::STATE_UP);
        if let Some(n) = inst.plane.ifname() {
            st.str(status_key::IFNAME, n);
        }
        if let Some(u) = inst.chan.unit() {
            st.num(status_key::UNIT, u.unit);
        }
        if let Some(u) = &inst.user {
            st.str(status_key::USER, u);
        }
        if let (Some(l), Some(p)) = (inst.local_ip, inst.peer_ip) {
            st.str(status_key::LOCAL_IP, l).str(status_key::PEER_IP, p);
        }
        if let Some((l, p)) = inst.ipv6_ids {
            st.str(status_key::IPV6_LOCAL_ID, format!("{l:#018x}")).str(status_key::IPV6_PEER_ID, format!("{p:#018x}"));
        }
        let mut ev = event_record(EV_UP);
        ev.num("handle", handle).str("name", &inst.params.name);
        if let Some(n) = inst.plane.ifname() {
            ev.str("ifname", n);
        }
        if let Some(u) = &inst.user {
            ev.str("user", u);
        }
        if let (Some(l), Some(p)) = (inst.local_ip, inst.peer_ip) {
            ev.str("local", l).str("peer", p);
        }
        if let Some(u) = inst.chan.unit() {
            ev.num("unit", u.unit);
        }
        let n = *inst.link.lcp().negotiated();
        ev.str("linktype", &inst.params.linktype).str("local_id", format!("{:#010x}", n.local_magic)).str("peer_id", format!("{:#010x}", n.peer_magic));
        clog(
            Cat::Event,
            Level::Notice,
            format_args!(
                "ppp up handle={handle} name={} user={} local={} peer={} ifname={}",
                inst.params.name,
                inst.user.as_deref().unwrap_or(""),
                inst.local_ip.map(|a| a.to_string()).unwrap_or_default(),
                inst.peer_ip.map(|a| a.to_string()).unwrap_or_default(),
                inst.plane.ifname().unwrap_or("")
            ),
        );
        let (owner, reference) = (inst.owner, inst.reference);
        self.send_status(owner, reference, st);
        self.publisher.publish(EV_UP, &ev);
    }

    /// Makes (or completes) the interface for the network layer that came
    /// up. Nothing with `dataplane = null`.
    fn plane_up(&mut self, handle: u64, ipv6: bool) -> std::io::Result<()> {
        if self.cfg.system.dataplane == Dataplane::Null {
            return Ok(());
        }
        if self.netif.is_none() {
            self.netif = Some(NetIf::open()?);
        }
        let Some(inst) = self.instances.get_mut(&handle) else { return Ok(()) };
        if let Plane::None = inst.plane {
            inst.plane = match &mut inst.chan {
                Chan::Kernel { unit, .. } => {
                    // A configured name replaces the kernel's pppN while the
                    // new unit is still down.
                    if let (Some(want), Some(netif)) = (inst.params.ifname.as_deref(), self.netif.as_mut()) {
                        if want != unit.ifname {
                            netif.rename(&unit.ifname, want)?;
                            unit.ifname = want.to_string();
                        }
                    }
                    Plane::Unit(unit.ifname.clone())
                }
                Chan::Frames(_) => {
                    let tun = Tun::open(inst.params.ifname.as_deref().unwrap_or("ppp%d"))?;
                    if let Err(e) = self.evloop.register(tun.fd(), inst_key(handle, 2), common::evloop::Interest::READABLE) {
                        clog(Cat::Main, Level::Error, format_args!("register handle={handle} error=\"{e}\""));
                    }
                    Plane::Tun(tun)
                }
            };
        }
        let ifname = inst.plane.ifname().unwrap_or_default().to_string();
        let Some(netif) = self.netif.as_mut() else { return Ok(()) };
        let mtu = inst.params.mtu.map(u32::from).or(Some(u32::from(inst.link.lcp().negotiated().peer_mru)).filter(|m| *m > 0));
        if let Some(unit) = inst.chan.unit() {
            unit.set_npmode(if ipv6 { protocol::IPV6 } else { protocol::IP }, true)?;
        }
        // Up first, as pppd does: IPv6 addresses added to a down link get
        // no routes (the kernel sets up the device's IPv6 when it comes up).
        netif.set_link(&ifname, true, mtu)?;
        match (ipv6, inst.ipv6_ids, inst.local_ip, inst.peer_ip) {
            (true, Some((l, p)), _, _) => netif.add_ipv6_link_local(&ifname, l, p),
            (false, _, Some(l), Some(p)) => netif.add_ipv4_ptp(&ifname, l, p),
            _ => Ok(()),
        }
    }

    /// `(bytes_in, bytes_out, packets_in, packets_out)` of an instance's
    /// data: the interface's counters when it has one (on kernel units data
    /// never passes through propppd), else the link's frame counters.
    fn data_counters(netif: Option<&mut NetIf>, ifname: Option<&str>, link: &LinkStats) -> (u64, u64, u64, u64) {
        match (netif, ifname) {
            (Some(n), Some(i)) => match n.stats(i) {
                Ok(s) => (s.rx_bytes, s.tx_bytes, s.rx_packets, s.tx_packets),
                Err(_) => (link.rx_octets, link.tx_octets, link.rx_packets, link.tx_packets),
            },
            _ => (link.rx_octets, link.tx_octets, link.rx_packets, link.tx_packets),
        }
    }

    /// The link is going down: `down` to the owner, `PPP_DOWN_IND` when
    /// it had come up.
    fn link_down(&mut self, now: Instant, handle: u64, reason: DownReason, code: u8) {
        let Some(inst) = self.instances.get_mut(&handle) else { return };
        let text = inst.down_note.clone().unwrap_or_else(|| reason_text(reason).to_string());
        clog(Cat::Event, Level::Notice, format_args!("ppp down handle={handle} name={} reason=\"{text}\" reason_code={code}", inst.params.name));
        if inst.up {
            let s = inst.link.stats();
            let n = *inst.link.lcp().negotiated();
            let mut ev = event_record(EV_DOWN);
            ev.num("handle", handle).str("name", &inst.params.name);
            if let Some(i) = inst.plane.ifname() {
                ev.str("ifname", i);
            }
            if let Some(u) = &inst.user {
                ev.str("user", u);
            }
            if let Some(u) = inst.chan.unit() {
                ev.num("unit", u.unit);
            }
            ev.str("linktype", &inst.params.linktype).str("reason", &text).num("reason_code", code);
            ev.str("local_id", format!("{:#010x}", n.local_magic)).str("peer_id", format!("{:#010x}", n.peer_magic));
            let (bi, bo, pi, po) = Self::data_counters(self.netif.as_mut(), inst.plane.ifname(), &s);
            ev.num("bytes_in", bi).num("bytes_out", bo).num("packets_in", pi).num("packets_out", po);
            ev.num("connect_time", inst.link.connect_time(now).as_secs());
            self.publisher.publish(EV_DOWN, &ev);
        }
        self.send_down(handle, &text, code);
    }

    fn send_down(&mut self, handle: u64, text: &str, code: u8) {
        let Some(inst) = self.instances.get_mut(&handle) else { return };
        if inst.down_sent {
            return;
        }
        inst.down_sent = true;
        let mut st = Record::new(channel::STATUS_KIND);
        st.str(status_key::STATE, channel::STATE_DOWN).str(status_key::REASON, text).num(status_key::REASON_CODE, code);
        let (owner, reference) = (inst.owner, inst.reference);
        self.send_status(owner, reference, st);
    }

    /// Frees an instance: fds, interface, address, timer; `down` if not
    /// sent yet; `PPP_DESTROYED_IND`.
    pub(super) fn destroy(&mut self, _now: Instant, handle: u64) {
        self.send_down(handle, "Lower layer down", 16);
        let Some(inst) = self.instances.remove(&handle) else { return };
        for (_, fd) in inst.chan.fds() {
            let _ = self.evloop.deregister(fd);
        }
        if let Plane::Tun(t) = &inst.plane {
            let _ = self.evloop.deregister(t.fd());
        }
        self.timers.cancel(handle);
        if let Some(lease) = self.pools.borrow_mut().release(handle) {
            clog(Cat::Ppp, Level::Debug, format_args!("pool release handle={handle} addr={}", lease.addr));
        }
        clog(Cat::Event, Level::Info, format_args!("ppp destroyed handle={handle} name={}", inst.params.name));
        let mut ev = event_record(EV_DESTROYED);
        ev.num("handle", handle).str("name", &inst.params.name);
        self.publisher.publish(EV_DESTROYED, &ev);
        drop(inst);
    }
}
