//! The userspace data plane: the daemon carries sessions' packets itself,
//! for kernels without the L2TP modules (containers, CI hosts).
//!
//! Model: each established session gets an [`Encap`] (sans-IO, in
//! `encap.rs`) and a device (in `tap.rs`):
//! - Ethernet and VLAN pseudowires: a TAP device named from the session's
//!   `interface_name` or `l2tpeth%d`, brought up with an MTU that leaves room
//!   for the encapsulation in a 1,500-octet path. VLAN pseudowires carry the
//!   tagged frames on the TAP as they are (no 802.1Q sub-interface here).
//! - PPP pseudowires: a framed channel (a `SOCK_SEQPACKET` socket pair); the
//!   far end is what the PPP side gets where the kernel path hands out a
//!   PPPoL2TP socket ([`UserspaceDataplane::ppp_channel`]). Frames on it start
//!   with the PPP protocol field, as on a PPPoL2TP channel.
//!
//! The plane does no I/O on the L2TP sockets: the daemon gives it received
//! data packets ([`UserspaceDataplane::handle_data`]) and sends what it
//! queues ([`UserspaceDataplane::poll_transmit`]) on the tunnel's socket.
//! Devices are watched by the daemon's event loop: the plane announces
//! each device fd to register or deregister ([`UserspaceDataplane::poll_fd_change`],
//! a fd is never closed before the daemon got it back) and the daemon calls
//! [`UserspaceDataplane::handle_readable`] with the token when one is ready.
//!
//! Received packets are matched by session id: L2TPv3 ids are unique in
//! the node (RFC 3931 §4.1), L2TPv2 ones within our tunnel id (RFC 2661
//! §3.1). The packet must also come over the session's transport from its
//! peer's address (and UDP port), so nobody else can inject into a session
//! by guessing its id.
//!
//! Counters are kept per session by its [`Encap`]; a tunnel's counters
//! ([`Dataplane::tunnel_stats`]) are those of its sessions, plus what its
//! sessions that already went down had counted (as the kernel's tunnel
//! counters do).

pub mod encap;
pub mod tap;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use common::log::{self, Level};
use common::trace::TraceFlags;

use super::{DataStats, Dataplane, DataplaneError};
use crate::proto::endpoint::{SessionInfo, TunnelInfo};
use crate::proto::header::{DataPacket, Transport, Version};
use crate::proto::session::Pseudowire;

pub use encap::{DecapError, Encap, SessionStats};
pub use tap::Tap;

/// Interface name template of TAP devices of sessions without an
/// `interface_name` (the kernel's `l2tpeth` naming).
pub const DEFAULT_IFNAME: &str = "l2tpeth%d";
/// Path MTU assumed under the tunnel when sizing a TAP device, octets.
pub const UNDERLAY_MTU: usize = 1500;
/// Frames read from one device per wake-up, so one busy session cannot
/// starve the others or the control traffic.
pub const READ_BURST: usize = 64;
/// Largest frame read from a device, octets.
const FRAME_BUF: usize = 65_536;

/// A data packet to send, queued by the plane for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTransmit {
    /// Our tunnel id of the session that sends it.
    pub tunnel_id: u32,
    /// Our session id of the session that sends it.
    pub session_id: u32,
    /// The peer (port ignored for IP encapsulation).
    pub to: SocketAddr,
    /// UDP or IP: the tunnel's transport, so the packet leaves on the
    /// socket the tunnel's control traffic uses.
    pub transport: Transport,
    /// The whole L2TP data packet.
    pub bytes: Vec<u8>,
}

/// A device fd the daemon must (de)register with its event loop.
#[derive(Debug)]
pub enum FdChange {
    /// Register [`UserspaceDataplane::fd`] of this token for reading.
    Added(usize),
    /// Deregister this fd (it was under this token), then drop it, which
    /// closes it (and removes a TAP device).
    Removed(usize, OwnedFd),
    /// The device of this token hung up (the PPP side closed its end of
    /// the channel) or fails every read: stop watching it (interest none,
    /// or the level-triggered loop spins) and close the session with a CDN.
    /// Announced once per session.
    HungUp {
        /// The device's token.
        token: usize,
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
        /// What happened, for the log and the CDN's message.
        reason: String,
    },
}

/// What carries a session's frames on this side.
#[derive(Debug)]
enum Device {
    /// An Ethernet/VLAN pseudowire's TAP device.
    Tap(Tap),
    /// A PPP pseudowire's channel: our end, and the far end until the PPP
    /// side takes it.
    Ppp { ours: OwnedFd, far: Option<OwnedFd> },
}

impl Device {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Device::Tap(t) => t.as_fd(),
            Device::Ppp { ours, .. } => ours.as_fd(),
        }
    }

    fn read(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        tap::read_fd(self.fd(), buf)
    }

    fn write(&self, frame: &[u8]) -> std::io::Result<()> {
        tap::write_fd(self.fd(), frame)
    }

    fn into_fd(self) -> OwnedFd {
        match self {
            Device::Tap(t) => t.into_fd(),
            Device::Ppp { ours, .. } => ours,
        }
    }
}

/// How a received data packet names its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DataKey {
    /// L2TPv2: our tunnel id and session id (16 bits each).
    V2(u32, u32),
    /// L2TPv3: our session id, unique in the node.
    V3(u32),
}

impl DataKey {
    fn of_session(info: &SessionInfo) -> DataKey {
        match info.version {
            Version::V2 => DataKey::V2(info.tunnel_id, info.session_id),
            Version::V3 => DataKey::V3(info.session_id),
        }
    }

    fn of_packet(pkt: &DataPacket<'_>) -> DataKey {
        match pkt.version {
            Version::V2 => DataKey::V2(u32::from(pkt.tunnel_id), pkt.session_id),
            Version::V3 => DataKey::V3(pkt.session_id),
        }
    }
}

/// One carried session.
#[derive(Debug)]
struct Slot {
    info: SessionInfo,
    encap: Encap,
    device: Device,
    /// Interface name of the TAP device (empty for PPP).
    ifname: String,
    /// [`FdChange::HungUp`] was announced.
    hung_up: bool,
}

/// Why [`UserspaceDataplane::handle_data`] did not deliver a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDrop {
    /// No session of ours has that id (or the packet came from another
    /// address or transport than the session's peer).
    UnknownSession,
    /// The session's checks refused it (counted in its [`SessionStats`]).
    Refused(DecapError),
    /// The device did not take the frame (counted as an rx error).
    DeviceFull,
}

/// The userspace data plane (see the module documentation).
#[derive(Debug, Default)]
pub struct UserspaceDataplane {
    /// Sessions by token (the index); `None` for free tokens.
    slots: Vec<Option<Slot>>,
    by_key: HashMap<DataKey, usize>,
    by_id: HashMap<(u32, u32), usize>,
    transmits: VecDeque<DataTransmit>,
    fd_changes: VecDeque<FdChange>,
    buf: Vec<u8>,
    /// Per tunnel up: what its sessions that went down had counted.
    tunnel_totals: HashMap<u32, DataStats>,
}

impl UserspaceDataplane {
    /// An empty plane.
    pub fn new() -> UserspaceDataplane {
        UserspaceDataplane::default()
    }

    /// True when this host can run the userspace plane (`/dev/net/tun`).
    pub fn available() -> bool {
        tap::tun_available()
    }

    /// Number of sessions carried.
    pub fn session_count(&self) -> usize {
        self.by_id.len()
    }

    /// The counters of a session, by our tunnel and session id.
    pub fn session_stats(&self, tunnel_id: u32, session_id: u32) -> Option<&SessionStats> {
        self.slot_of(tunnel_id, session_id).map(|s| s.encap.stats())
    }

    /// The TAP interface name of an Ethernet/VLAN session.
    pub fn interface_name(&self, tunnel_id: u32, session_id: u32) -> Option<&str> {
        self.slot_of(tunnel_id, session_id).filter(|s| !s.ifname.is_empty()).map(|s| s.ifname.as_str())
    }

    /// The far end of a PPP session's framed channel, for the PPP side
    /// (the userspace counterpart of the kernel path's PPPoL2TP socket).
    /// Each message on it is one PPP frame starting with the protocol
    /// field. `None` for other pseudowires or once taken.
    pub fn ppp_channel(&self, tunnel_id: u32, session_id: u32) -> Option<BorrowedFd<'_>> {
        match &self.slot_of(tunnel_id, session_id)?.device {
            Device::Ppp { far: Some(far), .. } => Some(far.as_fd()),
            _ => None,
        }
    }

    /// Takes the far end of a PPP session's channel (to pass it to the PPP
    /// daemon with SCM_RIGHTS); later calls return `None`.
    pub fn take_ppp_channel(&mut self, tunnel_id: u32, session_id: u32) -> Option<OwnedFd> {
        let token = *self.by_id.get(&(tunnel_id, session_id))?;
        match &mut self.slots.get_mut(token)?.as_mut()?.device {
            Device::Ppp { far, .. } => far.take(),
            Device::Tap(_) => None,
        }
    }

    /// The device fd of `token`, to register with the event loop after
    /// [`FdChange::Added`].
    pub fn fd(&self, token: usize) -> Option<BorrowedFd<'_>> {
        self.slots.get(token)?.as_ref().map(|s| s.device.fd())
    }

    /// Next device fd to (de)register, in order.
    pub fn poll_fd_change(&mut self) -> Option<FdChange> {
        self.fd_changes.pop_front()
    }

    /// Next data packet to send.
    pub fn poll_transmit(&mut self) -> Option<DataTransmit> {
        self.transmits.pop_front()
    }

    fn slot_of(&self, tunnel_id: u32, session_id: u32) -> Option<&Slot> {
        let token = *self.by_id.get(&(tunnel_id, session_id))?;
        self.slots.get(token)?.as_ref()
    }

    /// A received data packet (`from` the sender, over `transport`): checks
    /// it against its session and writes the frame to the session's device.
    ///
    /// Errors: see [`DataDrop`]; the packet is dropped and, when it names a
    /// session of ours, counted in that session's statistics.
    pub fn handle_data(&mut self, from: SocketAddr, transport: Transport, pkt: &DataPacket<'_>) -> Result<(), DataDrop> {
        let token = *self.by_key.get(&DataKey::of_packet(pkt)).ok_or(DataDrop::UnknownSession)?;
        let slot = self.slots.get_mut(token).and_then(Option::as_mut).ok_or(DataDrop::UnknownSession)?;
        let peer = slot.info.peer;
        let same_peer = peer.ip() == from.ip() && (transport == Transport::Ip || peer.port() == from.port());
        if slot.info.transport != transport || !same_peer {
            return Err(DataDrop::UnknownSession);
        }
        let frame = slot.encap.decapsulate(pkt).map_err(DataDrop::Refused)?;
        match slot.device.write(frame) {
            Ok(()) => {
                slot.encap.count_delivered(frame.len());
                Ok(())
            }
            Err(e) => {
                slot.encap.stats_mut().rx_errors += 1;
                log::trace(
                    slot.info.trace_flags | log::system_mask(),
                    TraceFlags::DATA,
                    format_args!("drop data tunnel_id={} session_id={} reason=\"device: {e}\"", slot.info.tunnel_id, slot.info.session_id),
                );
                Err(DataDrop::DeviceFull)
            }
        }
    }

    /// The device of `token` is readable: reads up to [`READ_BURST`] frames,
    /// encapsulates them and queues them for [`UserspaceDataplane::poll_transmit`].
    /// A stale token (session gone) is ignored.
    pub fn handle_readable(&mut self, token: usize) {
        if self.buf.len() < FRAME_BUF {
            self.buf.resize(FRAME_BUF, 0);
        }
        let Some(slot) = self.slots.get_mut(token).and_then(Option::as_mut) else { return };
        if slot.hung_up {
            return;
        }
        for _ in 0..READ_BURST {
            let hangup = match slot.device.read(&mut self.buf) {
                Ok(Some(0)) if matches!(slot.device, Device::Ppp { .. }) => "PPP channel closed".to_string(),
                Ok(Some(n)) => {
                    let Some(frame) = self.buf.get(..n).filter(|f| !f.is_empty()) else { continue };
                    let mut bytes = Vec::with_capacity(n + 32);
                    slot.encap.encapsulate(frame, &mut bytes);
                    self.transmits.push_back(DataTransmit {
                        tunnel_id: slot.info.tunnel_id,
                        session_id: slot.info.session_id,
                        to: slot.info.peer,
                        transport: slot.info.transport,
                        bytes,
                    });
                    continue;
                }
                Ok(None) => return,
                Err(e) => {
                    slot.encap.stats_mut().tx_errors += 1;
                    format!("device read failed: {e}")
                }
            };
            slot.hung_up = true;
            log::log(
                Level::Warning,
                format_args!("dataplane hangup tunnel_id={} session_id={} reason=\"{hangup}\"", slot.info.tunnel_id, slot.info.session_id),
            );
            self.fd_changes.push_back(FdChange::HungUp { token, tunnel_id: slot.info.tunnel_id, session_id: slot.info.session_id, reason: hangup });
            return;
        }
    }

    /// Counts a queued packet the daemon could not send against its session.
    pub fn count_send_error(&mut self, tunnel_id: u32, session_id: u32) {
        if let Some(token) = self.by_id.get(&(tunnel_id, session_id)).copied() {
            if let Some(slot) = self.slots.get_mut(token).and_then(Option::as_mut) {
                slot.encap.stats_mut().tx_errors += 1;
            }
        }
    }

    /// Creates the device of a new session.
    fn open_device(info: &SessionInfo, encap: &Encap) -> Result<(Device, String), DataplaneError> {
        let err = |what: String, e: std::io::Error| DataplaneError { errno: e.raw_os_error(), message: format!("{what}: {e}") };
        match info.pseudowire {
            Pseudowire::Ppp => {
                let (ours, far) = tap::ppp_channel().map_err(|e| err("cannot create PPP channel".into(), e))?;
                Ok((Device::Ppp { ours, far: Some(far) }, String::new()))
            }
            Pseudowire::Eth | Pseudowire::Vlan => {
                let name = info.interface_name.as_deref().filter(|n| !n.is_empty()).unwrap_or(DEFAULT_IFNAME);
                if !tap::is_valid_ifname(name) {
                    return Err(DataplaneError { errno: None, message: format!("bad interface name {name:?}") });
                }
                let tap = Tap::open(name).map_err(|e| err(format!("cannot create TAP device {name}"), e))?;
                let mtu = tap_mtu(info, encap);
                tap::set_link(tap.name(), Some(mtu)).map_err(|e| err(format!("cannot bring up {}", tap.name()), e))?;
                let ifname = tap.name().to_string();
                Ok((Device::Tap(tap), ifname))
            }
        }
    }

    fn remove_token(&mut self, token: usize) {
        let Some(slot) = self.slots.get_mut(token).and_then(Option::take) else { return };
        self.by_key.remove(&DataKey::of_session(&slot.info));
        self.by_id.remove(&(slot.info.tunnel_id, slot.info.session_id));
        let s = slot.encap.stats();
        if let Some(total) = self.tunnel_totals.get_mut(&slot.info.tunnel_id) {
            total.add(&DataStats::from(s));
        }
        log::log(
            Level::Info,
            format_args!(
                "dataplane session down tunnel_id={} session_id={} interface={} rx_packets={} rx_octets={} rx_errors={} tx_packets={} tx_octets={} tx_errors={} cookie_mismatches={} seq_discards={} seq_lost={}",
                slot.info.tunnel_id,
                slot.info.session_id,
                if slot.ifname.is_empty() { "-" } else { slot.ifname.as_str() },
                s.rx_packets,
                s.rx_octets,
                s.rx_errors,
                s.tx_packets,
                s.tx_octets,
                s.tx_errors,
                s.cookie_mismatches,
                s.seq_discards,
                s.seq_lost
            ),
        );
        self.fd_changes.push_back(FdChange::Removed(token, slot.device.into_fd()));
    }
}

/// MTU of a session's TAP device: what is left of [`UNDERLAY_MTU`] after
/// the outer IP (20 or 40 octets) and UDP (8) headers, the L2TP
/// encapsulation and the Ethernet header; at least 576.
fn tap_mtu(info: &SessionInfo, encap: &Encap) -> u32 {
    let ip = if info.peer.is_ipv4() { 20 } else { 40 };
    let udp = if info.transport == Transport::Udp { 8 } else { 0 };
    let overhead = ip + udp + encap.overhead() + encap::ETH_HEADER_LEN;
    u32::try_from(UNDERLAY_MTU.saturating_sub(overhead).max(576)).unwrap_or(1280)
}

impl Dataplane for UserspaceDataplane {
    fn name(&self) -> &'static str {
        "userspace"
    }

    fn tunnel_up(&mut self, tunnel: &TunnelInfo) -> Result<(), DataplaneError> {
        // Nothing to set up: packets leave on the daemon's own sockets.
        self.tunnel_totals.entry(tunnel.tunnel_id).or_default();
        Ok(())
    }

    fn tunnel_down(&mut self, tunnel_id: u32) {
        let tokens: Vec<usize> = self.by_id.iter().filter(|((t, _), _)| *t == tunnel_id).map(|(_, &tok)| tok).collect();
        for token in tokens {
            self.remove_token(token);
        }
        self.tunnel_totals.remove(&tunnel_id);
    }

    fn session_stats(&mut self, tunnel_id: u32, session_id: u32) -> Option<DataStats> {
        UserspaceDataplane::session_stats(self, tunnel_id, session_id).map(DataStats::from)
    }

    fn tunnel_stats(&mut self, tunnel_id: u32) -> Option<DataStats> {
        let mut total = *self.tunnel_totals.get(&tunnel_id)?;
        for ((t, _), token) in &self.by_id {
            if *t != tunnel_id {
                continue;
            }
            if let Some(slot) = self.slots.get(*token).and_then(Option::as_ref) {
                total.add(&DataStats::from(slot.encap.stats()));
            }
        }
        Some(total)
    }

    fn session_up(&mut self, session: &SessionInfo) -> Result<(), DataplaneError> {
        let key = DataKey::of_session(session);
        if self.by_key.contains_key(&key) || self.by_id.contains_key(&(session.tunnel_id, session.session_id)) {
            return Err(DataplaneError { errno: Some(libc::EEXIST), message: format!("session {} already carried", session.session_id) });
        }
        if session.version == Version::V2 && session.pseudowire != Pseudowire::Ppp {
            return Err(DataplaneError { errno: None, message: "L2TPv2 carries PPP only".into() });
        }
        let encap = Encap::new(session);
        let (device, ifname) = Self::open_device(session, &encap)?;
        let token = match self.slots.iter().position(Option::is_none) {
            Some(t) => t,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        log::log(
            Level::Info,
            format_args!(
                "dataplane session up tunnel_id={} session_id={} pseudowire={} interface={} transport={:?}",
                session.tunnel_id,
                session.session_id,
                session.pseudowire.name(),
                if ifname.is_empty() { "-" } else { ifname.as_str() },
                session.transport
            ),
        );
        if let Some(s) = self.slots.get_mut(token) {
            *s = Some(Slot { info: session.clone(), encap, device, ifname, hung_up: false });
        }
        self.by_key.insert(key, token);
        self.by_id.insert((session.tunnel_id, session.session_id), token);
        self.fd_changes.push_back(FdChange::Added(token));
        Ok(())
    }

    fn session_down(&mut self, session: &SessionInfo) {
        if let Some(token) = self.by_id.get(&(session.tunnel_id, session.session_id)).copied() {
            self.remove_token(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::{emit_data_v2, parse_packet, Packet};
    use crate::proto::session::{CallType, L2SpecType};

    fn ppp_info(tunnel_id: u32, session_id: u32) -> SessionInfo {
        SessionInfo {
            tunnel_id,
            session_id,
            peer_tunnel_id: 100,
            peer_session_id: 200,
            version: Version::V2,
            transport: Transport::Udp,
            peer: SocketAddr::from(([192, 0, 2, 2], 1701)),
            local: None,
            pseudowire: Pseudowire::Ppp,
            call_type: CallType::IncomingLns,
            cookie: Vec::new(),
            peer_cookie: Vec::new(),
            l2spec: L2SpecType::None,
            send_seq: false,
            recv_seq: false,
            name: None,
            tunnel_name: None,
            interface_name: None,
            vlan_id: None,
            profile: "default".into(),
            ppp_profile: "default".into(),
            eth_profile: "default".into(),
            trace_flags: common::trace::TraceFlags::NONE,
        }
    }

    fn first_data(bytes: &[u8]) -> DataPacket<'_> {
        match parse_packet(Transport::Udp, bytes) {
            Ok(Packet::Data(d)) => d,
            other => panic!("not data: {other:?}"),
        }
    }

    #[test]
    fn ppp_session_relays_both_ways_through_its_channel() {
        let mut dp = UserspaceDataplane::new();
        let info = ppp_info(5, 6);
        dp.session_up(&info).unwrap_or_else(|e| panic!("{e}"));
        let Some(FdChange::Added(token)) = dp.poll_fd_change() else { panic!("no fd added") };
        assert!(dp.fd(token).is_some());
        let far = dp.take_ppp_channel(5, 6).unwrap_or_else(|| panic!("no channel"));
        assert!(dp.take_ppp_channel(5, 6).is_none());

        // PPP side → peer: ff 03 added, peer ids used.
        tap::write_fd(far.as_fd(), &[0xc0, 0x21, 0x09]).unwrap_or_else(|e| panic!("{e}"));
        dp.handle_readable(token);
        let tx = dp.poll_transmit().unwrap_or_else(|| panic!("nothing queued"));
        assert_eq!(tx.to, info.peer);
        assert_eq!(tx.bytes, [0x00, 0x02, 0, 100, 0, 200, 0xff, 0x03, 0xc0, 0x21, 0x09]);
        assert!(dp.poll_transmit().is_none());

        // Peer → PPP side: ff 03 stripped.
        let mut pkt = Vec::new();
        emit_data_v2(5, 6, None, &[0xff, 0x03, 0x80, 0x21, 0x01], &mut pkt);
        assert_eq!(dp.handle_data(info.peer, Transport::Udp, &first_data(&pkt)), Ok(()));
        let mut buf = [0u8; 16];
        assert_eq!(tap::read_fd(far.as_fd(), &mut buf).ok(), Some(Some(3)));
        assert_eq!(&buf[..3], &[0x80, 0x21, 0x01]);

        // Wrong source address or port, or unknown session: not delivered.
        let other = SocketAddr::from(([192, 0, 2, 9], 1701));
        assert_eq!(dp.handle_data(other, Transport::Udp, &first_data(&pkt)), Err(DataDrop::UnknownSession));
        let other_port = SocketAddr::from(([192, 0, 2, 2], 1702));
        assert_eq!(dp.handle_data(other_port, Transport::Udp, &first_data(&pkt)), Err(DataDrop::UnknownSession));
        let mut stray = Vec::new();
        emit_data_v2(5, 7, None, &[0x80, 0x21], &mut stray);
        assert_eq!(dp.handle_data(info.peer, Transport::Udp, &first_data(&stray)), Err(DataDrop::UnknownSession));

        let stats = *dp.session_stats(5, 6).unwrap_or_else(|| panic!("no stats"));
        assert_eq!((stats.tx_packets, stats.tx_octets, stats.rx_packets, stats.rx_octets), (1, 3, 1, 3));

        dp.session_down(&info);
        assert!(matches!(dp.poll_fd_change(), Some(FdChange::Removed(t, _)) if t == token));
        assert!(dp.session_stats(5, 6).is_none());
        assert_eq!(dp.handle_data(info.peer, Transport::Udp, &first_data(&pkt)), Err(DataDrop::UnknownSession));
        // A stale readiness for the removed token is ignored.
        dp.handle_readable(token);
        assert!(dp.poll_transmit().is_none());
    }

    #[test]
    fn counters_per_session_and_per_tunnel_outlive_the_session() {
        let mut dp = UserspaceDataplane::new();
        let plane: &mut dyn Dataplane = &mut dp;
        assert_eq!(plane.tunnel_stats(5), None, "unknown tunnel");
        let info = ppp_info(5, 6);
        let tunnel = TunnelInfo {
            tunnel_id: 5,
            peer_tunnel_id: 100,
            name: None,
            profile: "default".into(),
            version: Version::V2,
            transport: Transport::Udp,
            peer: info.peer,
            local: None,
            network_created: false,
        };
        plane.tunnel_up(&tunnel).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plane.tunnel_stats(5), Some(DataStats::default()));
        plane.session_up(&info).unwrap_or_else(|e| panic!("{e}"));
        let Some(FdChange::Added(token)) = dp.poll_fd_change() else { panic!("no fd added") };
        let far = dp.take_ppp_channel(5, 6).unwrap_or_else(|| panic!("no channel"));

        // Two frames out (3 and 4 octets), one in (3 octets), and one for
        // an unknown session, which no session's counters see.
        tap::write_fd(far.as_fd(), &[0xc0, 0x21, 0x09]).unwrap_or_else(|e| panic!("{e}"));
        tap::write_fd(far.as_fd(), &[0xc0, 0x21, 0x09, 0x01]).unwrap_or_else(|e| panic!("{e}"));
        dp.handle_readable(token);
        assert_eq!(std::iter::from_fn(|| dp.poll_transmit()).count(), 2);
        let mut pkt = Vec::new();
        emit_data_v2(5, 6, None, &[0xff, 0x03, 0x80, 0x21, 0x01], &mut pkt);
        assert_eq!(dp.handle_data(info.peer, Transport::Udp, &first_data(&pkt)), Ok(()));
        let mut stray = Vec::new();
        emit_data_v2(5, 9, None, &[0x80, 0x21], &mut stray);
        assert!(dp.handle_data(info.peer, Transport::Udp, &first_data(&stray)).is_err());

        let want = DataStats { tx_packets: 2, tx_octets: 7, rx_packets: 1, rx_octets: 3, ..DataStats::default() };
        let plane: &mut dyn Dataplane = &mut dp;
        assert_eq!(plane.session_stats(5, 6), Some(want));
        assert_eq!(plane.session_stats(5, 7), None);
        assert_eq!(plane.session_stats(4, 6), None);
        assert_eq!(plane.tunnel_stats(5), Some(want));

        // The session goes: the tunnel keeps what it counted.
        plane.session_down(&info);
        assert_eq!(plane.session_stats(5, 6), None);
        assert_eq!(plane.tunnel_stats(5), Some(want));
        plane.tunnel_down(5);
        assert_eq!(plane.tunnel_stats(5), None);
    }

    #[test]
    fn ppp_side_closing_its_channel_hangs_up_once() {
        let mut dp = UserspaceDataplane::new();
        let info = ppp_info(5, 6);
        dp.session_up(&info).unwrap_or_else(|e| panic!("{e}"));
        let Some(FdChange::Added(token)) = dp.poll_fd_change() else { panic!("no fd added") };
        drop(dp.take_ppp_channel(5, 6));
        dp.handle_readable(token);
        match dp.poll_fd_change() {
            Some(FdChange::HungUp { token: t, tunnel_id: 5, session_id: 6, reason }) => {
                assert_eq!(t, token);
                assert!(reason.contains("PPP channel closed"), "{reason}");
            }
            other => panic!("expected a hang-up, got {other:?}"),
        }
        // Level-triggered readiness may report it again: announced once.
        dp.handle_readable(token);
        assert!(dp.poll_fd_change().is_none());
        assert!(dp.poll_transmit().is_none());
        dp.session_down(&info);
        assert!(matches!(dp.poll_fd_change(), Some(FdChange::Removed(t, _)) if t == token));
    }

    #[test]
    fn duplicate_sessions_and_v2_ethernet_are_refused() {
        let mut dp = UserspaceDataplane::new();
        let info = ppp_info(5, 6);
        assert!(dp.session_up(&info).is_ok());
        assert_eq!(dp.session_up(&info).map_err(|e| e.errno), Err(Some(libc::EEXIST)));
        let mut eth = ppp_info(5, 8);
        eth.pseudowire = Pseudowire::Eth;
        assert!(dp.session_up(&eth).is_err());
        // The tunnel going down takes its sessions with it.
        dp.tunnel_down(5);
        assert_eq!(dp.session_count(), 0);
    }
}
