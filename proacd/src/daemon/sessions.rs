//! PPPoE sessions: the ones the access concentrator opened (RFC 2516 §5.4
//! PADS) and routed, and the PPPoE client's; their PPP side and the data
//! plane between them.
//!
//! - `local` route: the session's PPP channel goes to propppd in a
//!   `PppOpen` (`peers.rs`): on the kernel plane a connected PPPoE socket
//!   (`sys::pppoe_connect`), on the userspace plane one end of a framed
//!   socket pair whose other end proacd keeps and relays.
//! - `l2tp` route: `CreateSession` to prol2tpd; its `PppOpen` brings the
//!   L2TP session's channel, which is bridged in the kernel
//!   (`sys::bridge`) to the PPPoE socket or relayed in the loop.
//!
//! The relay moves PPP frames (from the Protocol field on, RFC 2516 §4
//! payload) between a framed fd and PPPoE session frames. A frame the
//! framed socket cannot take now is dropped and counted (`relay_drops`):
//! nothing queues beyond the socket's own buffer. A session frame of no
//! known (client MAC, session id) is counted (`session_unknown`) and
//! dropped without PADT, so a flood of stray frames causes no PADT storm.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use common::channel::{self, open_key};
use common::evloop::Interest;
use common::log::{self, Level};
use nix::errno::Errno;
use nix::sys::socket::{self as sock, MsgFlags};

use crate::config::Destination;
use crate::proto::{self, MacAddr, ETH_P_PPP_SES};

use super::{dbg, sess_key, Daemon, Dbg, BURST};

/// Which end of PPPoE this session is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Side {
    /// The access concentrator's session on interface `ifindex`.
    Server {
        /// The interface's ifindex (the server's key).
        ifindex: u32,
    },
    /// A PPPoE client's session (client slot).
    Client {
        /// The client's slot.
        slot: usize,
    },
}

/// Life of a session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum State {
    /// PPPoE is up; the PPP or L2TP side is being set up.
    Starting,
    /// PPP (local / client) or the L2TP session (l2tp) is up.
    Up,
    /// Ending.
    Closing,
}

impl State {
    /// The `state` word of ListPppoe.
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Up => "up",
            State::Closing => "closing",
        }
    }
}

/// Who ended a session ([`Daemon::end_session`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum End {
    /// The PPPoE peer (PADT received) or the interface went away: the PPP
    /// or L2TP side is told.
    Pppoe,
    /// The PPP or L2TP side ended it (or went away): PADT to the peer, the
    /// side is not told.
    Side,
    /// proacd (delete, shutdown, failure): PADT and the side told.
    Local,
}

/// One session.
pub(super) struct Session {
    /// Handle (from 1).
    pub handle: u64,
    /// AC or client.
    pub side: Side,
    /// Name: `IFACE/SID`, or the client's name.
    pub name: String,
    /// Interface name.
    pub iface: String,
    /// Our MAC on the interface.
    pub our_mac: MacAddr,
    /// The peer's MAC (the client's, or the AC's for a client session).
    pub peer_mac: MacAddr,
    /// PPPoE session id.
    pub session_id: u16,
    /// Route name ("" for client sessions).
    pub route: String,
    /// Where PPP goes.
    pub destination: Destination,
    /// Service-Name of the session.
    pub service_name: String,
    /// State.
    pub state: State,
    /// When PPPoE came up.
    pub started: Instant,
    /// MRU for PPP (PPP-Max-Payload, else 1492).
    pub mru: u16,
    /// Our `PppOpen` reference at propppd (local / client).
    pub ppp_ref: Option<u32>,
    /// Our outstanding `CreateSession` request id at prol2tpd.
    pub l2tp_request: Option<u32>,
    /// prol2tpd's reference of the L2TP session.
    pub l2tp_ref: Option<u32>,
    /// prol2tpd's tunnel id and session id.
    pub l2tp_ids: Option<(u64, u64)>,
    /// Userspace plane: our end of the framed channel (registered).
    pub relay: Option<OwnedFd>,
    /// Kernel plane: the connected PPPoE socket.
    pub pppoe_fd: Option<OwnedFd>,
    /// Kernel plane, l2tp: prol2tpd's PPPoL2TP socket.
    pub l2tp_fd: Option<OwnedFd>,
    /// Kernel plane, l2tp: the channel bridge.
    pub bridge: Option<crate::sys::Bridge>,
    /// What propppd said when up: interface, our and the peer's address.
    pub ppp_ifname: String,
    /// Our IPv4 address (propppd).
    pub local_ip: String,
    /// The peer's IPv4 address (propppd).
    pub peer_ip: String,
}

impl Session {
    /// A session just up on PPPoE (state `starting`, no PPP or L2TP side
    /// yet) on interface `iface` between `our_mac` and `peer_mac`, with
    /// session id `session_id`; route `""`, destination `local`, MRU 1492
    /// until the caller sets them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(handle: u64, side: Side, name: String, iface: String, our_mac: MacAddr, peer_mac: MacAddr, session_id: u16, started: Instant) -> Session {
        Session {
            handle,
            side,
            name,
            iface,
            our_mac,
            peer_mac,
            session_id,
            route: String::new(),
            destination: Destination::Local,
            service_name: String::new(),
            state: State::Starting,
            started,
            mru: 1492,
            ppp_ref: None,
            l2tp_request: None,
            l2tp_ref: None,
            l2tp_ids: None,
            relay: None,
            pppoe_fd: None,
            l2tp_fd: None,
            bridge: None,
            ppp_ifname: String::new(),
            local_ip: String::new(),
            peer_ip: String::new(),
        }
    }

    /// `local`, `l2tp`.
    pub fn destination_name(&self) -> &'static str {
        match self.destination {
            Destination::Local => "local",
            Destination::L2tp => "l2tp",
        }
    }
}

impl Daemon {
    /// The server opened a session (PADS sent): route it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn opened(&mut self, now: Instant, ifindex: u32, client: MacAddr, session_id: u16, route: u32, service_name: String, max_payload: Option<u16>) {
        let Some((iface, our_mac)) = self.iface_by_index(ifindex).map(|i| (i.name.clone(), i.mac)) else { return };
        let rc = usize::try_from(route).ok().and_then(|r| self.cfg.routes.get(r)).cloned();
        let handle = self.new_handle();
        let name = format!("{iface}/{session_id}");
        let s = Session {
            route: rc.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            destination: rc.as_ref().map_or(Destination::Local, |r| r.destination),
            service_name,
            mru: max_payload.unwrap_or(1492),
            ..Session::new(handle, Side::Server { ifindex }, name.clone(), iface, our_mac, client, session_id, now)
        };
        log::log(
            Level::Notice,
            format_args!("session open handle={handle} name={name} client={client} route={} destination={}", s.route, s.destination_name()),
        );
        let dest = s.destination;
        self.sessions.insert(handle, s);
        self.by_sid.insert((ifindex, session_id), handle);
        let Some(rc) = rc else {
            self.end_session(now, handle, "no such route", End::Local);
            return;
        };
        // A peer not connected yet is tried now rather than at the next retry.
        match dest {
            Destination::Local if !self.propppd.connected() => self.connect_propppd(now),
            Destination::L2tp if !self.prol2tpd.connected() => self.connect_prol2tpd(now),
            _ => {}
        }
        let result = match dest {
            Destination::Local => self.open_local(handle, rc.ppp_profile.as_deref(), &[]),
            Destination::L2tp => self.open_l2tp(handle, &rc),
        };
        if let Err(e) = result {
            log::log(Level::Warning, format_args!("session failed handle={handle} name={name} error=\"{e}\""));
            match dest {
                Destination::Local => self.stats.ppp_failures = self.stats.ppp_failures.saturating_add(1),
                Destination::L2tp => self.stats.l2tp_failures = self.stats.l2tp_failures.saturating_add(1),
            }
            self.end_session(now, handle, &e, End::Local);
        }
    }

    /// The PPP channel of session `handle` for a peer: the connected PPPoE
    /// socket (kernel) or the far end of a new framed pair whose near end
    /// is kept and registered (userspace). Returns the fd to hand over and
    /// the `framing` word.
    pub(super) fn ppp_channel(&mut self, handle: u64) -> Result<(OwnedFd, &'static str), String> {
        let kernel = self.kernel;
        let s = self.sessions.get_mut(&handle).ok_or("session gone")?;
        if kernel {
            let fd = crate::sys::pppoe_connect(&s.iface, s.session_id, s.peer_mac).map_err(|e| format!("cannot connect PPPoE socket: {e}"))?;
            let dup = fd.try_clone().map_err(|e| format!("cannot duplicate PPPoE socket: {e}"))?;
            s.pppoe_fd = Some(fd);
            return Ok((dup, channel::FRAMING_KERNEL));
        }
        let (ours, theirs) = crate::sys::framed_pair().map_err(|e| format!("cannot create framed pair: {e}"))?;
        self.set_relay(handle, ours)?;
        Ok((theirs, channel::FRAMING_FRAMES))
    }

    /// Keeps `fd` as session `handle`'s relay fd and watches it.
    pub(super) fn set_relay(&mut self, handle: u64, fd: OwnedFd) -> Result<(), String> {
        let s = self.sessions.get_mut(&handle).ok_or("session gone")?;
        self.evloop.register(fd.as_fd(), sess_key(handle), Interest::READABLE).map_err(|e| format!("cannot watch framed channel: {e}"))?;
        if let Some(old) = s.relay.replace(fd) {
            let _ = self.evloop.deregister(old.as_fd());
        }
        Ok(())
    }

    /// Hands session `handle` to propppd (`local` route, or a client with
    /// `extra` open params). Errors: propppd not connected, the channel
    /// could not be made or sent.
    pub(super) fn open_local(&mut self, handle: u64, profile: Option<&str>, extra: &[(String, String)]) -> Result<(), String> {
        if !self.propppd.connected() {
            return Err("propppd is not connected".into());
        }
        let (fd, framing) = self.ppp_channel(handle)?;
        let s = self.sessions.get(&handle).ok_or("session gone")?;
        let role = if matches!(s.side, Side::Client { .. }) { channel::ROLE_CLIENT } else { channel::ROLE_SERVER };
        let mut params: Vec<(String, String)> = vec![
            (open_key::FRAMING.into(), framing.into()),
            (open_key::LINKTYPE.into(), channel::LINKTYPE_PPPOE.into()),
            (open_key::ROLE.into(), role.into()),
            (open_key::NAME.into(), s.name.clone()),
        ];
        if let Some(p) = profile.filter(|p| !p.is_empty()) {
            params.push((open_key::PROFILE.into(), p.into()));
        }
        params.push((open_key::MRU.into(), s.mru.to_string()));
        params.push((open_key::PEER_MAC.into(), s.peer_mac.to_string()));
        params.push((open_key::PPPOE_SESSION_ID.into(), s.session_id.to_string()));
        params.extend(extra.iter().cloned());
        let reference = u32::try_from(handle).map_err(|_| "handle out of range")?;
        self.propppd.open(reference, handle, params, fd.as_fd())?;
        if let Some(s) = self.sessions.get_mut(&handle) {
            s.ppp_ref = Some(reference);
        }
        self.sync_peer_interest();
        Ok(())
    }

    /// Ends session `handle` (see [`End`]): PADT to the PPPoE peer unless
    /// it ended PPPoE itself, the PPP or L2TP side told unless it ended it,
    /// the data plane closed, the session forgotten.
    pub(super) fn end_session(&mut self, now: Instant, handle: u64, reason: &str, from: End) {
        let Some(mut s) = self.sessions.remove(&handle) else { return };
        s.state = State::Closing;
        log::log(
            Level::Notice,
            format_args!(
                "session close handle={handle} name={} client={} reason=\"{reason}\" connect_time={}",
                s.name,
                s.peer_mac,
                now.saturating_duration_since(s.started).as_secs()
            ),
        );
        // The PPP / L2TP side is told before its channel closes: prol2tpd
        // ends a session whose framed channel hangs up with a bare CDN, so
        // the reason must reach it first.
        if let Some(r) = s.ppp_ref.take() {
            self.propppd.forget(r);
            if from != End::Side {
                self.propppd.send_close(r, reason);
            }
        }
        if let Some(id) = s.l2tp_request.take() {
            // The answer will come: its reference then gets `down`.
            self.prol2tpd.orphan_request(id);
        }
        if let Some(r) = s.l2tp_ref.take() {
            self.prol2tpd.forget(r);
            if from != End::Side {
                self.prol2tpd.send_status_down(r, reason);
            }
        }
        if let Some(fd) = s.relay.take() {
            let _ = self.evloop.deregister(fd.as_fd());
        }
        drop(s.bridge.take());
        match s.side {
            Side::Server { ifindex } => {
                self.by_sid.remove(&(ifindex, s.session_id));
                if let Some(out) = self.server.close(ifindex, s.session_id, reason) {
                    self.server_outputs(now, vec![out]);
                }
            }
            Side::Client { slot } => self.client_session_ended(now, slot, handle, reason, from),
        }
        self.sync_peer_interest();
    }

    /// A readable relay fd: its frames out as PPPoE session frames. End of
    /// file (the other daemon closed its end) ends the session.
    pub(super) fn on_relay(&mut self, now: Instant, handle: u64) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut eof = false;
        for _ in 0..BURST {
            let Some(s) = self.sessions.get(&handle) else { break };
            let Some(fd) = s.relay.as_ref() else { break };
            let n = match sock::recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => break,
                Err(_) => {
                    eof = true;
                    break;
                }
            };
            let ppp = buf.get(..n).unwrap_or_default();
            let frame = proto::session_frame(s.peer_mac, s.our_mac, s.session_id, ppp);
            let sent = match s.side {
                Side::Server { ifindex } => self.iface_by_index(ifindex).and_then(|i| i.sess.as_ref()).map(|so| so.send(&frame)),
                Side::Client { slot } => self.clients.get(slot).and_then(Option::as_ref).and_then(|c| c.sess.as_ref()).map(|so| so.send(&frame)),
            };
            match sent {
                Some(Ok(())) => self.stats.relay_frames_out = self.stats.relay_frames_out.saturating_add(1),
                _ => self.stats.relay_drops = self.stats.relay_drops.saturating_add(1),
            }
        }
        self.buf = buf;
        if eof {
            self.end_session(now, handle, "PPP channel closed", End::Local);
        }
    }

    /// Writes PPP frame `ppp` of session `handle` into its relay fd;
    /// dropped and counted when the socket would block.
    fn relay_in(&mut self, handle: u64, ppp: &[u8]) {
        let Some(fd) = self.sessions.get(&handle).and_then(|s| s.relay.as_ref()) else {
            self.stats.relay_drops = self.stats.relay_drops.saturating_add(1);
            return;
        };
        match sock::send(fd.as_raw_fd(), ppp, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => self.stats.relay_frames_in = self.stats.relay_frames_in.saturating_add(1),
            Err(_) => self.stats.relay_drops = self.stats.relay_drops.saturating_add(1),
        }
    }

    /// One frame from an interface's session socket (userspace plane).
    pub(super) fn server_session_frame(&mut self, ifindex: u32, frame: &[u8]) {
        let Some(our_mac) = self.iface_by_index(ifindex).map(|i| i.mac) else { return };
        let found = session_lookup(frame, our_mac, |sid| self.by_sid.get(&(ifindex, sid)).copied(), |h| self.sessions.get(&h).map(|s| s.peer_mac));
        self.session_frame_to(found);
    }

    /// Relays a session frame's PPP payload to its session (found by
    /// [`session_lookup`]); counts and logs a frame that has none.
    pub(super) fn session_frame_to(&mut self, found: Result<(u64, &[u8]), Unmatched>) {
        match found {
            Ok((h, ppp)) => self.relay_in(h, ppp),
            Err(Unmatched::NotForUs) => {}
            Err(Unmatched::Dropped(why)) => {
                self.stats.session_unknown = self.stats.session_unknown.saturating_add(1);
                dbg(Dbg::Pppoe, format_args!("drop session frame why=\"{why}\""));
            }
        }
    }
}

/// Why a session frame belongs to no session of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unmatched {
    /// Addressed to another host (the socket may see them): not counted.
    NotForUs,
    /// Malformed, or no live session of that id and source MAC: counted.
    Dropped(&'static str),
}

/// The session a PPPoE session frame belongs to (RFC 2516 §6: addressed to
/// `our_mac`, ethertype 0x8864, code 0, a session id `by_sid` knows whose
/// peer MAC (`peer_of`) is the frame's source) and its PPP payload, from
/// the Protocol field on. Errors: why it belongs to none.
pub(super) fn session_lookup(
    frame: &[u8],
    our_mac: MacAddr,
    by_sid: impl Fn(u16) -> Option<u64>,
    peer_of: impl Fn(u64) -> Option<MacAddr>,
) -> Result<(u64, &[u8]), Unmatched> {
    let (eth, pppoe) = proto::parse_eth(frame).map_err(|_| Unmatched::Dropped("malformed Ethernet header"))?;
    if eth.dst != our_mac {
        return Err(Unmatched::NotForUs);
    }
    if eth.ethertype != ETH_P_PPP_SES {
        return Err(Unmatched::Dropped("not a session frame"));
    }
    let (sid, ppp) = proto::parse_session(pppoe).map_err(|_| Unmatched::Dropped("malformed session frame"))?;
    let h = by_sid(sid).ok_or(Unmatched::Dropped("unknown session id"))?;
    if peer_of(h) != Some(eth.src) {
        return Err(Unmatched::Dropped("session id of another MAC"));
    }
    Ok((h, ppp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 1]);
    const PEER: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 2]);

    /// Session 7 is handle 70, whose peer is PEER.
    fn lookup(frame: &[u8]) -> Result<(u64, &[u8]), Unmatched> {
        session_lookup(frame, US, |sid| (sid == 7).then_some(70), |h| (h == 70).then_some(PEER))
    }

    #[test]
    fn session_frames_find_their_session_and_payload() {
        let lcp = [0xc0, 0x21, 0x09, 0x01, 0x00, 0x04];
        assert_eq!(lookup(&proto::session_frame(US, PEER, 7, &lcp)), Ok((70, &lcp[..])));
        assert_eq!(lookup(&proto::session_frame(MacAddr([0x02, 0, 0, 0, 0, 9]), PEER, 7, &lcp)), Err(Unmatched::NotForUs));
        assert_eq!(lookup(&proto::session_frame(US, PEER, 8, &lcp)), Err(Unmatched::Dropped("unknown session id")));
        assert_eq!(lookup(&proto::session_frame(US, US, 7, &lcp)), Err(Unmatched::Dropped("session id of another MAC")));
        let frame = proto::session_frame(US, PEER, 7, &lcp);
        assert_eq!(lookup(frame.get(..16).unwrap_or_default()), Err(Unmatched::Dropped("malformed session frame")));
        assert_eq!(lookup(&[0; 6]), Err(Unmatched::Dropped("malformed Ethernet header")));
    }
}
