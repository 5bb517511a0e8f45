//! The PPP side of PPP pseudowires by default: the suite's own PPP daemon,
//! propppd (`-p propppd`), reached over one `common::channel` connection
//! (see that module for the contract: `PppOpen` with the session's channel
//! fd, `PppClose`, `PppStatus` `up`/`down`).
//!
//! [`PppConn`] keeps one such connection and the sessions handed over on
//! it, each under a `reference` of ours (numbered from 1, never 0, unique
//! among the open ones). The same type serves the connection prol2tpd
//! makes to propppd ([`PppConn::new`], connected on demand, saying
//! `ChannelHello { linktype: "pppoltp" }` first) and each connection a
//! switching PPP side (proacd) makes to prol2tpd's switch socket
//! ([`PppConn::accepted`]; see `switch.rs`), where a session's reference
//! is given out when it is created ([`PppConn::reserve`]), before its
//! `PppOpen`. It does no event-loop work itself: the daemon registers
//! its fd ([`PppConn::channel`]), calls [`PppConn::recv`] when it is
//! readable and [`PppConn::flush`] when it is writable, and acts on what
//! comes back ([`Input`]). A send that fails marks the connection broken
//! ([`PppConn::broken`]); the daemon then deregisters it and calls
//! [`PppConn::disconnect`], which gives back every session handed over so
//! they can be closed (CDN, RFC 2661 §4.4.2 / §5.7 Result Code 2).
//!
//! The connection to propppd is made at start when propppd runs, else
//! when a PPP session first needs it, and again after a loss.
//!
//! Sessions whose channel is not ready yet (the kernel plane reports the
//! PPPoL2TP socket later, `DataplaneEvent::PppReady`) wait with their
//! `PppOpen` parameters ([`PppConn::session_up`]).

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use common::channel::{self, open_key, status_key, Channel, Received};
use common::ipc::{Body, IpcError, Message, Reply, Request, Value};

use crate::proto::endpoint::SessionInfo;

/// The plugin name that selects this PPP side (`-p propppd`, the default).
pub const PLUGIN: &str = "propppd";

/// Which PPP side runs PPP sessions (`-p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PppSideKind {
    /// propppd over a channel connection (the default).
    Propppd,
    /// Stock pppd with `pppol2tp.so` (`-p ppp_unix`).
    PppUnix,
    /// None: PPP sessions come up without a PPP side (other plugins named).
    None,
}

impl PppSideKind {
    /// The side named by the `-p` plugins: `propppd` when none is named,
    /// else the first of `propppd` / `ppp_unix` named (paths and a `.so`
    /// suffix allowed), else [`PppSideKind::None`].
    pub fn from_plugins(plugins: &[String]) -> PppSideKind {
        if plugins.is_empty() {
            return PppSideKind::Propppd;
        }
        for p in plugins {
            match plugin_name(p) {
                PLUGIN => return PppSideKind::Propppd,
                super::ppp::PLUGIN => return PppSideKind::PppUnix,
                _ => {}
            }
        }
        PppSideKind::None
    }

    /// The name logged (`ppp side=…`): the plugin name, or `none`.
    pub fn name(self) -> &'static str {
        match self {
            PppSideKind::Propppd => PLUGIN,
            PppSideKind::PppUnix => super::ppp::PLUGIN,
            PppSideKind::None => "none",
        }
    }
}

/// A `-p` argument's plugin name: without directories and `.so`.
pub fn plugin_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p).trim_end_matches(".so")
}

/// The `PppOpen` parameters of PPP session `s` (all but `framing`):
/// `linktype`, `role` (`server` on an LNS, `client` on a LAC), `name` (the
/// session's instance name, else `TID/SID`), `profile` (its PPP profile),
/// `ifname` (its `interface_name`, when set), `mtu`/`mru` (octets, from the
/// PPP profile) and the four L2TP ids.
pub fn open_params(s: &SessionInfo, mtu: u16, mru: u16) -> Vec<(String, String)> {
    let role = if s.call_type.is_lns() { channel::ROLE_SERVER } else { channel::ROLE_CLIENT };
    let name = s.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("{}/{}", s.tunnel_id, s.session_id));
    let mut p: Vec<(String, String)> = vec![
        (open_key::LINKTYPE.into(), channel::LINKTYPE_L2TP.into()),
        (open_key::ROLE.into(), role.into()),
        (open_key::NAME.into(), name),
        (open_key::PROFILE.into(), s.ppp_profile.clone()),
    ];
    if let Some(ifname) = s.interface_name.as_deref().filter(|n| !n.is_empty()) {
        p.push((open_key::IFNAME.into(), ifname.into()));
    }
    p.push((open_key::MTU.into(), mtu.to_string()));
    p.push((open_key::MRU.into(), mru.to_string()));
    p.push((open_key::TUNNEL_ID.into(), s.tunnel_id.to_string()));
    p.push((open_key::SESSION_ID.into(), s.session_id.to_string()));
    p.push((open_key::PEER_TUNNEL_ID.into(), s.peer_tunnel_id.to_string()));
    p.push((open_key::PEER_SESSION_ID.into(), s.peer_session_id.to_string()));
    p
}

/// What a `PppStatus` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The network layer is up.
    Up {
        /// PPP interface (`ppp0`); empty when not given.
        ifname: String,
        /// Our IPv4 address; empty when IPCP is not up.
        local_ip: String,
        /// The peer's IPv4 address; empty when IPCP is not up.
        peer_ip: String,
        /// The authenticated user; empty when not given.
        user: String,
    },
    /// The PPP instance is gone.
    Down {
        /// Why, one line (empty when not given).
        reason: String,
        /// pppd's exit status for it (0 when not given).
        reason_code: u64,
    },
}

/// Something that came from the PPP side ([`PppConn::recv`]).
#[derive(Debug)]
pub enum Input {
    /// A status of a session handed over. After `Down` the session is no
    /// longer handed over.
    Status {
        /// Our reference of the `PppOpen`.
        reference: u32,
        /// Our tunnel id.
        tunnel_id: u32,
        /// Our session id.
        session_id: u32,
        /// The state.
        status: Status,
    },
    /// A request of the PPP side's (`CreateSession`, or one we do not
    /// serve), to answer with [`PppConn::reply`] under `request_id`.
    Request {
        /// The PPP side's request id.
        request_id: u32,
        /// The request.
        request: Request,
    },
    /// Something to log and otherwise ignore (a status of a reference no
    /// longer open, a bad status, a malformed record, an unexpected reply).
    Ignored(String),
    /// The connection ended (EOF or error): deregister it and call
    /// [`PppConn::disconnect`].
    Closed,
}

/// One PPP-side connection (to propppd, or from a switching PPP side)
/// and the sessions handed over on it.
#[derive(Debug)]
pub struct PppConn {
    path: PathBuf,
    chan: Option<Channel>,
    /// True for a connection accepted on our switch socket: it is never
    /// made again by [`PppConn::connect`].
    accepted: bool,
    /// True while the daemon watches the connection for writability.
    write_watched: bool,
    /// Why the connection is unusable (a send failed); `None` while fine.
    broken: Option<String>,
    next_reference: u32,
    /// Reference → (tunnel id, session id) of the sessions handed over.
    handed: HashMap<u32, (u32, u32)>,
    /// The reverse of `handed`.
    refs: HashMap<(u32, u32), u32>,
    /// `PppOpen` parameters of sessions waiting for their channel.
    pending: HashMap<(u32, u32), Vec<(String, String)>>,
}

impl PppConn {
    /// A PPP side that connects to propppd at `path` (see
    /// [`common::channel::DEFAULT_CHANNEL_SOCKET`]); not connected yet.
    pub fn new(path: &Path) -> PppConn {
        PppConn {
            path: path.to_path_buf(),
            chan: None,
            accepted: false,
            write_watched: false,
            broken: None,
            next_reference: 1,
            handed: HashMap::new(),
            refs: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// A PPP side that connected to us: `chan` was accepted on the
    /// listening socket at `path`. It is not made again once lost.
    pub fn accepted(chan: Channel, path: &Path) -> PppConn {
        PppConn { chan: Some(chan), accepted: true, ..PppConn::new(path) }
    }

    /// Whether the daemon watches the connection for writability.
    pub fn write_watched(&self) -> bool {
        self.write_watched
    }

    /// Records whether the daemon watches the connection for writability.
    pub fn set_write_watched(&mut self, on: bool) {
        self.write_watched = on;
    }

    /// The socket path connected to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the socket path (on reload); an existing connection is kept.
    pub fn set_path(&mut self, path: &Path) {
        self.path = path.to_path_buf();
    }

    /// The connection, for registering its fd with the loop.
    pub fn channel(&self) -> Option<&Channel> {
        self.chan.as_ref()
    }

    /// Whether a connection exists (possibly broken).
    pub fn connected(&self) -> bool {
        self.chan.is_some()
    }

    /// Why the connection is broken, when a send on it failed.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Number of sessions handed over.
    pub fn handed(&self) -> usize {
        self.handed.len()
    }

    /// The reference of a session handed over.
    pub fn reference(&self, tunnel_id: u32, session_id: u32) -> Option<u32> {
        self.refs.get(&(tunnel_id, session_id)).copied()
    }

    /// Connects when not connected and says
    /// `ChannelHello { linktype: "pppoltp" }` first. Returns true when a
    /// new connection was made (the caller registers it). Errors: the OS
    /// error of connecting (`ENOENT`, `ECONNREFUSED`: propppd is not
    /// running) or of sending the hello; `NotConnected` for a lost
    /// accepted connection.
    pub fn connect(&mut self) -> io::Result<bool> {
        if self.chan.is_some() {
            return Ok(false);
        }
        if self.accepted {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the PPP side's connection is gone"));
        }
        let mut chan = Channel::connect(&self.path)?;
        let hello = Message { request_id: 0, body: Body::Request(Request::ChannelHello { linktype: channel::LINKTYPE_L2TP.into() }) };
        chan.send(&hello, None)?;
        self.chan = Some(chan);
        self.broken = None;
        Ok(true)
    }

    /// Drops the connection (after the caller deregistered it) and returns
    /// the sessions that were handed over on it, which propppd no longer
    /// runs. Sessions waiting for their channel stay waiting.
    pub fn disconnect(&mut self) -> Vec<(u32, u32)> {
        self.chan = None;
        self.broken = None;
        self.write_watched = false;
        self.refs.clear();
        let mut lost: Vec<(u32, u32)> = self.handed.drain().map(|(_, k)| k).collect();
        lost.sort_unstable();
        lost
    }

    /// A PPP session is up; its channel comes later ([`PppConn::take_pending`]).
    pub fn session_up(&mut self, tunnel_id: u32, session_id: u32, params: Vec<(String, String)>) {
        self.pending.insert((tunnel_id, session_id), params);
    }

    /// The parameters of a session waiting for its channel, removed.
    pub fn take_pending(&mut self, tunnel_id: u32, session_id: u32) -> Option<Vec<(String, String)>> {
        self.pending.remove(&(tunnel_id, session_id))
    }

    /// Gives session `(tunnel_id, session_id)` a reference now, before its
    /// channel exists (a switching PPP side learns it in the answer to its
    /// `CreateSession`). From here on the session counts as handed over on
    /// this connection: [`PppConn::open`] uses that reference,
    /// [`PppConn::close`] sends `PppClose` for it, a loss gives it back.
    /// Returns the reference (the one it has when it has one already).
    pub fn reserve(&mut self, tunnel_id: u32, session_id: u32) -> u32 {
        if let Some(&r) = self.refs.get(&(tunnel_id, session_id)) {
            return r;
        }
        let reference = self.new_reference();
        self.handed.insert(reference, (tunnel_id, session_id));
        self.refs.insert((tunnel_id, session_id), reference);
        reference
    }

    /// Whether session `(tunnel_id, session_id)` belongs to this
    /// connection (reserved, handed over or waiting for its channel).
    pub fn has_session(&self, tunnel_id: u32, session_id: u32) -> bool {
        self.refs.contains_key(&(tunnel_id, session_id))
    }

    /// Hands a session's channel `fd` to the PPP side: `PppOpen` with
    /// `params` plus `framing` ([`channel::FRAMING_KERNEL`] or
    /// [`channel::FRAMING_FRAMES`]), under the session's reserved reference
    /// or a new one. Returns the reference. The fd is duplicated into the
    /// message; the caller keeps its own. Errors: `NotConnected` when there
    /// is no usable connection; a send failure (the connection is then
    /// marked broken).
    pub fn open(&mut self, tunnel_id: u32, session_id: u32, framing: &str, params: Vec<(String, String)>, fd: BorrowedFd<'_>) -> io::Result<u32> {
        if self.broken.is_some() {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "connection to the PPP side broken"));
        }
        let reference = self.refs.get(&(tunnel_id, session_id)).copied().unwrap_or_else(|| self.new_reference());
        let mut all = vec![(open_key::FRAMING.to_string(), framing.to_string())];
        all.extend(params);
        let msg = Message { request_id: 0, body: Body::Request(Request::PppOpen { reference, params: all }) };
        self.send(&msg, Some(fd))?;
        self.handed.insert(reference, (tunnel_id, session_id));
        self.refs.insert((tunnel_id, session_id), reference);
        Ok(reference)
    }

    /// The session is closing: forgets it (also when it waited for its
    /// channel) and, when it was handed over, sends `PppClose` with
    /// `reason`. Returns the reference closed. A send failure marks the
    /// connection broken.
    pub fn close(&mut self, tunnel_id: u32, session_id: u32, reason: &str) -> Option<u32> {
        self.pending.remove(&(tunnel_id, session_id));
        let reference = self.refs.remove(&(tunnel_id, session_id))?;
        self.handed.remove(&reference);
        let msg = Message { request_id: 0, body: Body::Request(Request::PppClose { reference, reason: reason.to_string() }) };
        let _ = self.send(&msg, None);
        Some(reference)
    }

    /// The sessions of `tunnel_id` handed over or waiting.
    pub fn sessions_of(&self, tunnel_id: u32) -> Vec<u32> {
        let mut v: Vec<u32> = self.refs.keys().chain(self.pending.keys()).filter(|(t, _)| *t == tunnel_id).map(|(_, s)| *s).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Answers the PPP side's request `request_id`. A send failure marks the
    /// connection broken.
    pub fn reply(&mut self, request_id: u32, reply: Reply) {
        let msg = Message { request_id, body: Body::Reply(reply) };
        let _ = self.send(&msg, None);
    }

    /// Writes what waits for the socket. A failure marks the connection
    /// broken.
    pub fn flush(&mut self) {
        let Some(chan) = self.chan.as_mut() else { return };
        if let Err(e) = chan.flush() {
            self.broken = Some(e.to_string());
        }
    }

    /// Whether records wait for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        self.chan.as_ref().is_some_and(Channel::wants_write)
    }

    /// Reads one record from the PPP side; `None` when nothing is waiting
    /// (or not connected).
    pub fn recv(&mut self) -> Option<Input> {
        let chan = self.chan.as_mut()?;
        match chan.recv() {
            Received::Nothing => None,
            Received::Closed => Some(Input::Closed),
            Received::Malformed(e) => Some(Input::Ignored(format!("malformed record: {}", malformed(&e)))),
            // An fd that came along is dropped (closed) here: PPP sides send none.
            Received::Message(m, _fd) => Some(self.on_message(m)),
        }
    }

    fn on_message(&mut self, m: Message) -> Input {
        match m.body {
            Body::Request(request) => Input::Request { request_id: m.request_id, request },
            Body::Reply(Reply::PppStatus { reference, record }) => {
                let Some(&(tunnel_id, session_id)) = self.handed.get(&reference) else {
                    return Input::Ignored(format!("status of reference {reference}, not open"));
                };
                let text = |k: &str| match record.get(k) {
                    Some(Value::Str(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                let status = match text(status_key::STATE).as_str() {
                    channel::STATE_UP => Status::Up {
                        ifname: text(status_key::IFNAME),
                        local_ip: text(status_key::LOCAL_IP),
                        peer_ip: text(status_key::PEER_IP),
                        user: text(status_key::USER),
                    },
                    channel::STATE_DOWN => {
                        let reason_code = match record.get(status_key::REASON_CODE) {
                            Some(Value::U64(n)) => *n,
                            Some(Value::Str(s)) => s.parse().unwrap_or(0),
                            _ => 0,
                        };
                        self.handed.remove(&reference);
                        self.refs.remove(&(tunnel_id, session_id));
                        Status::Down { reason: text(status_key::REASON), reason_code }
                    }
                    other => return Input::Ignored(format!("status of reference {reference} with state \"{other}\"")),
                };
                Input::Status { reference, tunnel_id, session_id, status }
            }
            Body::Reply(r) => Input::Ignored(format!("unexpected reply type={}", Message { request_id: 0, body: Body::Reply(r) }.msg_type())),
        }
    }

    fn new_reference(&mut self) -> u32 {
        loop {
            let r = self.next_reference;
            self.next_reference = self.next_reference.checked_add(1).unwrap_or(1);
            if r != 0 && !self.handed.contains_key(&r) {
                return r;
            }
        }
    }

    fn send(&mut self, msg: &Message, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let Some(chan) = self.chan.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected to the PPP side"));
        };
        chan.send(msg, fd).inspect_err(|e| {
            // InvalidInput: this message did not encode; the connection is fine.
            if e.kind() != io::ErrorKind::InvalidInput {
                self.broken = Some(e.to_string());
            }
        })
    }
}

fn malformed(e: &IpcError) -> String {
    e.to_string().replace('"', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::header::{Transport, Version};
    use crate::proto::session::{CallType, L2SpecType, Pseudowire};
    use common::channel::ChannelListener;
    use common::ipc::{ErrorCode, Record, Selector};
    use common::trace::TraceFlags;
    use std::os::fd::AsFd;

    fn info(call_type: CallType, name: Option<&str>, ifname: Option<&str>) -> SessionInfo {
        SessionInfo {
            tunnel_id: 11,
            session_id: 22,
            peer_tunnel_id: 33,
            peer_session_id: 44,
            version: Version::V2,
            transport: Transport::Udp,
            peer: "192.0.2.1:1701".parse().unwrap_or_else(|e| panic!("{e}")),
            local: None,
            pseudowire: Pseudowire::Ppp,
            call_type,
            cookie: vec![],
            peer_cookie: vec![],
            l2spec: L2SpecType::None,
            send_seq: false,
            recv_seq: false,
            name: name.map(str::to_string),
            tunnel_name: None,
            interface_name: ifname.map(str::to_string),
            vlan_id: None,
            profile: "default".into(),
            ppp_profile: "isp".into(),
            eth_profile: "default".into(),
            trace_flags: TraceFlags::NONE,
        }
    }

    fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
        p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn open_params_name_the_role_ids_and_profile() {
        let lns = open_params(&info(CallType::IncomingLns, None, None), 1400, 1450);
        let want: Vec<(String, String)> = [
            ("linktype", "pppoltp"),
            ("role", "server"),
            ("name", "11/22"),
            ("profile", "isp"),
            ("mtu", "1400"),
            ("mru", "1450"),
            ("tunnel_id", "11"),
            ("session_id", "22"),
            ("peer_tunnel_id", "33"),
            ("peer_session_id", "44"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(lns, want);
        let lac = open_params(&info(CallType::OutgoingLac, Some("s1"), Some("ppp9")), 1500, 1500);
        assert_eq!((get(&lac, "role"), get(&lac, "name"), get(&lac, "ifname")), (Some("client"), Some("s1"), Some("ppp9")));
    }

    #[test]
    fn plugins_choose_the_side() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(PppSideKind::from_plugins(&[]), PppSideKind::Propppd);
        assert_eq!(PppSideKind::from_plugins(&v(&["ppp_unix"])), PppSideKind::PppUnix);
        assert_eq!(PppSideKind::from_plugins(&v(&["/usr/lib/propppd.so"])), PppSideKind::Propppd);
        assert_eq!(PppSideKind::from_plugins(&v(&["other"])), PppSideKind::None);
        assert_eq!(plugin_name("/x/ppp_unix.so"), "ppp_unix");
        assert_eq!((PppSideKind::PppUnix.name(), PppSideKind::Propppd.name(), PppSideKind::None.name()), ("ppp_unix", "propppd", "none"));
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("prol2tp-proppp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    fn recv_msg(c: &mut Channel) -> (Message, bool) {
        for _ in 0..1000 {
            match c.recv() {
                Received::Message(m, fd) => return (m, fd.is_some()),
                Received::Nothing => std::thread::sleep(std::time::Duration::from_millis(2)),
                other => panic!("{other:?}"),
            }
        }
        panic!("nothing received")
    }

    fn status(reference: u32, state: &str, extra: &[(&str, &str)]) -> Message {
        let mut r = Record::new(channel::STATUS_KIND);
        r.str(status_key::STATE, state);
        for (k, v) in extra {
            r.str(k, v);
        }
        if state == channel::STATE_DOWN {
            r.num(status_key::REASON_CODE, 5u64);
        }
        Message { request_id: 0, body: Body::Reply(Reply::PppStatus { reference, record: r }) }
    }

    #[test]
    fn open_status_close_and_loss() {
        let dir = tempdir("flow");
        let mut side = PppConn::new(&dir.join("chan"));
        assert!(side.connect().is_err(), "nobody listens yet");
        let listener = ChannelListener::bind(side.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(side.connect().unwrap_or_else(|e| panic!("{e}")));
        assert!(!side.connect().unwrap_or_else(|e| panic!("{e}")), "already connected");
        let mut fake = listener.accept().ok().flatten().unwrap_or_else(|| panic!("no connection"));
        match recv_msg(&mut fake) {
            (Message { body: Body::Request(Request::ChannelHello { linktype }), .. }, false) => assert_eq!(linktype, "pppoltp"),
            other => panic!("expected the hello first, got {other:?}"),
        }
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap_or_else(|e| panic!("{e}"));

        side.session_up(1, 2, open_params(&info(CallType::IncomingLns, None, None), 1500, 1500));
        assert_eq!(side.sessions_of(1), vec![2]);
        let params = side.take_pending(1, 2).unwrap_or_else(|| panic!("not pending"));
        let r1 = side.open(1, 2, channel::FRAMING_FRAMES, params, a.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        let r2 = side.open(1, 3, channel::FRAMING_KERNEL, vec![], a.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(r1, r2);
        let (m, with_fd) = recv_msg(&mut fake);
        assert!(with_fd, "the channel fd comes along");
        match m.body {
            Body::Request(Request::PppOpen { reference, params }) => {
                assert_eq!(reference, r1);
                assert_eq!(params.first().map(|(k, v)| (k.as_str(), v.as_str())), Some(("framing", "frames")));
                assert_eq!(get(&params, "role"), Some("server"));
            }
            other => panic!("{other:?}"),
        }
        recv_msg(&mut fake);

        let up = status(r1, channel::STATE_UP, &[(status_key::IFNAME, "ppp3"), (status_key::LOCAL_IP, "203.0.113.1")]);
        fake.send(&up, None).unwrap_or_else(|e| panic!("{e}"));
        let got = wait_input(&mut side);
        match got {
            Input::Status { reference, tunnel_id: 1, session_id: 2, status: Status::Up { ifname, local_ip, peer_ip, .. } } => {
                assert_eq!((reference, ifname.as_str(), local_ip.as_str(), peer_ip.as_str()), (r1, "ppp3", "203.0.113.1", ""));
            }
            other => panic!("{other:?}"),
        }
        fake.send(&status(r1, channel::STATE_DOWN, &[(status_key::REASON, "User request")]), None).unwrap_or_else(|e| panic!("{e}"));
        match wait_input(&mut side) {
            Input::Status { status: Status::Down { reason, reason_code: 5 }, .. } => assert_eq!(reason, "User request"),
            other => panic!("{other:?}"),
        }
        assert_eq!(side.reference(1, 2), None, "down ends the hand-over");
        // A second down for it is only logged.
        fake.send(&status(r1, channel::STATE_DOWN, &[]), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(wait_input(&mut side), Input::Ignored(_)));

        // Closing first sends PppClose.
        assert_eq!(side.close(1, 3, "CDN from peer"), Some(r2));
        assert_eq!(side.close(1, 3, "again"), None);
        match recv_msg(&mut fake).0.body {
            Body::Request(Request::PppClose { reference, reason }) => assert_eq!((reference, reason.as_str()), (r2, "CDN from peer")),
            other => panic!("{other:?}"),
        }

        // propppd's requests surface with their id; the reply carries it.
        let create =
            Message { request_id: 77, body: Body::Request(Request::CreateSession { tunnel: Selector::Name("t".into()), name: "s".into(), params: vec![] }) };
        fake.send(&create, None).unwrap_or_else(|e| panic!("{e}"));
        match wait_input(&mut side) {
            Input::Request { request_id: 77, request: Request::CreateSession { .. } } => {}
            other => panic!("{other:?}"),
        }
        side.reply(77, Reply::Error { code: ErrorCode::NotFound, message: "x".into() });
        assert_eq!(recv_msg(&mut fake).0.request_id, 77);

        // Loss: the sessions handed over come back.
        let r4 = side.open(4, 5, channel::FRAMING_FRAMES, vec![], a.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(side.reference(4, 5), Some(r4));
        drop(fake);
        assert!(matches!(wait_input(&mut side), Input::Closed));
        assert_eq!(side.disconnect(), vec![(4, 5)]);
        assert!(!side.connected() && side.handed() == 0);
        let e = side.open(6, 7, channel::FRAMING_FRAMES, vec![], a.as_fd()).err().map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::NotConnected));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn accepted_connections_reserve_references_before_the_channel() {
        let dir = tempdir("switch");
        let path = dir.join("sw");
        let listener = ChannelListener::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut peer = Channel::connect(&path).unwrap_or_else(|e| panic!("{e}"));
        let chan = listener.accept().ok().flatten().unwrap_or_else(|| panic!("no connection"));
        let mut conn = PppConn::accepted(chan, &path);
        assert!(!conn.connect().unwrap_or_else(|e| panic!("{e}")), "already connected, no hello");
        let r = conn.reserve(3, 4);
        assert_eq!(conn.reserve(3, 4), r, "one reference per session");
        assert!(conn.has_session(3, 4) && !conn.has_session(3, 5));
        assert_eq!(conn.sessions_of(3), vec![4]);
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conn.open(3, 4, channel::FRAMING_FRAMES, vec![], a.as_fd()).unwrap_or_else(|e| panic!("{e}")), r);
        match recv_msg(&mut peer) {
            (Message { body: Body::Request(Request::PppOpen { reference, .. }), .. }, true) => assert_eq!(reference, r),
            other => panic!("expected PppOpen, got {other:?}"),
        }
        // A session reserved but never opened still gets its PppClose.
        let r2 = conn.reserve(3, 6);
        assert_eq!(conn.close(3, 6, "CDN"), Some(r2));
        match recv_msg(&mut peer).0.body {
            Body::Request(Request::PppClose { reference, .. }) => assert_eq!(reference, r2),
            other => panic!("expected PppClose, got {other:?}"),
        }
        drop(peer);
        assert!(matches!(wait_input(&mut conn), Input::Closed));
        assert_eq!(conn.disconnect(), vec![(3, 4)]);
        assert_eq!(conn.connect().err().map(|e| e.kind()), Some(io::ErrorKind::NotConnected), "an accepted connection is not made again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn wait_input(side: &mut PppConn) -> Input {
        for _ in 0..1000 {
            if let Some(i) = side.recv() {
                return i;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("no input")
    }
}
