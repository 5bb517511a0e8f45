//! The suite's IPC message set: framed, versioned, typed messages carried in
//! unix datagrams between a daemon and its CLI (and, later, between daemons
//! and to watchers).
//!
//! One datagram holds one message: a fixed 16-octet [`Header`] in network
//! byte order followed by a body of `length` octets:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     magic 0x504C3254 "PL2T"                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          version (1)          |           msg_type            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     length (body octets)                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          request_id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Bodies are made of a few primitives, all big-endian: `u8`, `u16`, `u32`,
//! `u64`, `str` (u16 length + UTF-8 octets), `sel` (an object selector:
//! u8 kind 1 + u32 id, or kind 2 + `str` name; kind 0 = none where the
//! selector is optional) and `params` (u16 count + that many `str` key,
//! `str` value pairs). Requests have types below 0x8000 and replies
//! 0x8000 and up; a reply carries the `request_id` of its request. Data
//! comes back as [`Record`]s: an object kind and an ordered list of
//! `(key, value)` fields, values typed as string, unsigned or boolean, which
//! prints as text and as JSON alike and lets new fields appear without a
//! version change. A reply too large for one datagram is split into several
//! `Records` messages, all but the last flagged `more`.
//!
//! Decoding never panics: every malformed input is an [`IpcError`].
//! Adding a message type is compatible; changing a layout bumps
//! [`VERSION`]. Sockets are [`Server`] (bound to a path, mode 0600) and
//! [`Client`] (autobound in the abstract namespace, so it must run in the
//! daemon's network namespace).
//!
//! Events (`Event` replies) do not come from the daemon's control socket
//! (see [`crate::events`]): [`Client::subscribe`] sends `Subscribe` from a
//! second socket of its own, the event socket; the daemon answers with a
//! [`SUBSCRIPTION_KIND`] record naming a sending socket it made for this
//! subscriber alone (`events_address`), and the client connects its event
//! socket to it. Datagrams between two sockets connected that way are not
//! bounded by `net.unix.max_dgram_qlen`, only by the sending socket's send
//! buffer, so a watcher that keeps reading loses nothing in a burst and
//! one that stops reading fills its own sender's buffer, not the daemon's
//! control socket. [`Client::subscription_alive`] tells whether that
//! sender still exists (it goes with the daemon).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{self as sock, ControlMessageOwned, MsgFlags, SockaddrLike, UnixAddr};
use nix::sys::stat::{umask, Mode};

/// Header magic, ASCII "PL2T".
pub const MAGIC: u32 = 0x504C_3254;
/// Message-set version this code speaks.
pub const VERSION: u16 = 1;
/// Header length in octets.
pub const HEADER_LEN: usize = 16;
/// Largest datagram sent or accepted, header included (octets).
pub const MAX_DATAGRAM: usize = 65_536;
/// Largest body (octets).
pub const MAX_BODY: usize = MAX_DATAGRAM - HEADER_LEN;

/// Message type numbers (the header's `msg_type`).
pub mod msg_type {
    /// Request: node settings and counts.
    pub const SHOW_SYSTEM: u16 = 0x0001;
    /// Request: one line per tunnel.
    pub const SHOW_TUNNELS: u16 = 0x0002;
    /// Request: one tunnel in full. Body: `sel`.
    pub const SHOW_TUNNEL: u16 = 0x0003;
    /// Request: sessions of one tunnel or all. Body: optional `sel`.
    pub const SHOW_SESSIONS: u16 = 0x0004;
    /// Request: one session in full. Body: `sel` tunnel, `sel` session.
    pub const SHOW_SESSION: u16 = 0x0005;
    /// Request: node-wide counters.
    pub const SHOW_STATISTICS: u16 = 0x0006;
    /// Request: reset the node-wide counters.
    pub const CLEAR_STATISTICS: u16 = 0x0007;
    /// Request: re-read the configuration (as SIGHUP).
    pub const RELOAD: u16 = 0x0008;
    /// Request: close a tunnel (StopCCN). Body: `sel`.
    pub const DELETE_TUNNEL: u16 = 0x0009;
    /// Request: close a session (CDN). Body: `sel` tunnel, `sel` session.
    pub const DELETE_SESSION: u16 = 0x000A;
    /// Request: the profiles in force, one record each.
    pub const SHOW_PROFILES: u16 = 0x000B;
    /// Request: create a tunnel instance. Body: `str` name, `params`.
    pub const CREATE_TUNNEL: u16 = 0x000C;
    /// Request: create a session instance. Body: `sel` tunnel, `str` name,
    /// `params`.
    pub const CREATE_SESSION: u16 = 0x000D;
    /// Request: set one instance's trace flags. Body: `sel` tunnel,
    /// optional `sel` session, `str` flags.
    pub const SET_TRACE: u16 = 0x000E;
    /// Request: send me events. Body: u32 event mask, optional `sel`
    /// tunnel filter.
    pub const SUBSCRIBE: u16 = 0x000F;
    /// Request: stop sending me events. Empty body.
    pub const UNSUBSCRIBE: u16 = 0x0010;
    /// Request (propppd): one line per PPP instance. Empty body.
    pub const LIST_PPP: u16 = 0x0011;
    /// Request (propppd): one PPP instance in full. Body: `sel`.
    pub const SHOW_PPP: u16 = 0x0012;
    /// Request (propppd): create a PPP instance. Body: `str` name, `params`.
    pub const CREATE_PPP: u16 = 0x0013;
    /// Request (propppd): end a PPP instance. Body: `sel`.
    pub const DESTROY_PPP: u16 = 0x0014;
    /// Channel (owner to propppd): run PPP on the channel whose fd rides
    /// along (SCM_RIGHTS). Body: u32 reference, `params`.
    pub const PPP_OPEN: u16 = 0x0015;
    /// Channel (owner to propppd): the owner's session is gone; end PPP.
    /// Body: u32 reference, `str` reason.
    pub const PPP_CLOSE: u16 = 0x0016;
    /// Request (proacd): one `interface` record per PPPoE interface.
    /// Empty body.
    pub const LIST_INTERFACES: u16 = 0x0017;
    /// Request (proacd): one `route` record per route. Empty body.
    pub const LIST_ROUTES: u16 = 0x0018;
    /// Request (proacd): one `pppoe` record per PPPoE session. Empty body.
    pub const LIST_PPPOE: u16 = 0x0019;
    /// Request (proacd): end a PPPoE session (PADT). Body: `sel`.
    pub const DELETE_PPPOE: u16 = 0x001A;
    /// Request (proacd): change the MAC allow or deny list. Body: u8 list
    /// (0 allow, 1 deny), u8 operation (0 remove, 1 add), `str` MAC.
    pub const MAC_LIST: u16 = 0x001B;
    /// Channel (owner to propppd, first record): what the owner carries.
    /// Body: `str` linktype.
    pub const CHANNEL_HELLO: u16 = 0x001C;
    /// Reply: the request was carried out. Empty body.
    pub const DONE: u16 = 0x8001;
    /// Reply: the request failed. Body: u16 code, `str` message.
    pub const ERROR: u16 = 0x8002;
    /// Reply: data. Body: u8 flags (bit 0: more follow), u16 count, records.
    pub const RECORDS: u16 = 0x8003;
    /// Unsolicited: one event to a subscriber (from the daemon's sending
    /// socket for it) or to a hook-script runner. Body: u64 sequence
    /// number, one record. The header carries the `request_id` of the
    /// `SUBSCRIBE` that asked for it.
    pub const EVENT: u16 = 0x8004;
    /// Channel (propppd to owner): a PPP instance changed state. Body: u32
    /// reference, one record.
    pub const PPP_STATUS: u16 = 0x8005;
}

/// Why bytes are not a valid message, or a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcError {
    /// Fewer than [`HEADER_LEN`] octets.
    ShortHeader(usize),
    /// The magic is not [`MAGIC`].
    BadMagic(u32),
    /// A version this code does not speak.
    BadVersion(u16),
    /// A message type this version does not define.
    UnknownType(u16),
    /// The header's length disagrees with the datagram's size.
    BadLength {
        /// Length in the header.
        header: u32,
        /// Octets actually after the header.
        actual: usize,
    },
    /// The body ends inside a field.
    Truncated,
    /// Octets left after the last field.
    TrailingBytes(usize),
    /// A string that is not UTF-8.
    BadUtf8,
    /// An unknown selector, value type or boolean octet.
    BadField(&'static str, u8),
    /// Encoding: a string or list too long for its length field, or a body
    /// larger than [`MAX_BODY`].
    TooLarge,
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcError::ShortHeader(n) => {
                write!(f, "message of {n} octets is shorter than the header")
            }
            IpcError::BadMagic(m) => write!(f, "bad magic {m:#010x}"),
            IpcError::BadVersion(v) => write!(f, "unsupported message version {v} (this one speaks {VERSION})"),
            IpcError::UnknownType(t) => write!(f, "unknown message type {t:#06x}"),
            IpcError::BadLength { header, actual } => {
                write!(f, "header length {header} but {actual} body octets")
            }
            IpcError::Truncated => write!(f, "body truncated"),
            IpcError::TrailingBytes(n) => write!(f, "{n} octets after the last field"),
            IpcError::BadUtf8 => write!(f, "string is not UTF-8"),
            IpcError::BadField(what, v) => write!(f, "bad {what} {v}"),
            IpcError::TooLarge => write!(f, "message too large"),
        }
    }
}

impl std::error::Error for IpcError {}

/// The fixed header of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message-set version ([`VERSION`]).
    pub version: u16,
    /// One of [`msg_type`].
    pub msg_type: u16,
    /// Body octets after the header.
    pub length: u32,
    /// Chosen by the requester, echoed in the reply.
    pub request_id: u32,
}

impl Header {
    /// Parses the header and checks magic, version and that `length`
    /// matches the octets present. Errors: [`IpcError::ShortHeader`],
    /// [`IpcError::BadMagic`], [`IpcError::BadVersion`], [`IpcError::BadLength`].
    pub fn parse(bytes: &[u8]) -> Result<Header, IpcError> {
        let mut r = Reader { buf: bytes };
        let short = |_| IpcError::ShortHeader(bytes.len());
        let magic = r.u32().map_err(short)?;
        let version = r.u16().map_err(short)?;
        let msg_type = r.u16().map_err(short)?;
        let length = r.u32().map_err(short)?;
        let request_id = r.u32().map_err(short)?;
        if magic != MAGIC {
            return Err(IpcError::BadMagic(magic));
        }
        if version != VERSION {
            return Err(IpcError::BadVersion(version));
        }
        if usize::try_from(length).ok() != Some(r.buf.len()) {
            return Err(IpcError::BadLength { header: length, actual: r.buf.len() });
        }
        Ok(Header { version, msg_type, length, request_id })
    }
}

/// Names an object: by our numeric id or by its configured name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Our tunnel id or session id.
    Id(u32),
    /// The instance name (`[tunnel "NAME"]`, `[session "T/NAME"]`).
    Name(String),
}

impl Selector {
    /// `"42"` becomes `Id(42)`, anything else `Name`.
    pub fn parse(s: &str) -> Selector {
        match s.parse::<u32>() {
            Ok(id) => Selector::Id(id),
            Err(_) => Selector::Name(s.to_string()),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Id(id) => write!(f, "{id}"),
            Selector::Name(n) => f.write_str(n),
        }
    }
}

/// Requests a CLI sends to a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Node settings and counts: one `system` record.
    ShowSystem,
    /// One `tunnel` record per tunnel (summary fields).
    ShowTunnels,
    /// One `tunnel` record with every parameter and counter.
    ShowTunnel(Selector),
    /// One `session` record per session of a tunnel, or of all tunnels.
    ShowSessions(Option<Selector>),
    /// One `session` record in full.
    ShowSession {
        /// The tunnel.
        tunnel: Selector,
        /// The session within it.
        session: Selector,
    },
    /// One `statistics` record of node-wide counters.
    ShowStatistics,
    /// Resets the node-wide counters.
    ClearStatistics,
    /// Re-reads the configuration.
    Reload,
    /// Closes a tunnel.
    DeleteTunnel(Selector),
    /// Closes a session.
    DeleteSession {
        /// The tunnel.
        tunnel: Selector,
        /// The session within it.
        session: Selector,
    },
    /// One record per profile in force (`tunnel_profile`,
    /// `session_profile`, `ppp_profile`, `eth_profile`, `peer_profile`).
    ShowProfiles,
    /// Creates a tunnel instance that is not in the configuration, with
    /// the parameters of a `[tunnel "NAME"]` section.
    CreateTunnel {
        /// Instance name.
        name: String,
        /// `(key, value)` as in the configuration file.
        params: Vec<(String, String)>,
    },
    /// Creates a session instance in an existing tunnel, with the
    /// parameters of a `[session "TUNNEL/NAME"]` section.
    CreateSession {
        /// The tunnel.
        tunnel: Selector,
        /// Instance name.
        name: String,
        /// `(key, value)` as in the configuration file.
        params: Vec<(String, String)>,
    },
    /// Sets the `trace_flags` of one tunnel, or of one session when
    /// `session` is given.
    SetTrace {
        /// The tunnel.
        tunnel: Selector,
        /// The session within it, if the target is a session.
        session: Option<Selector>,
        /// Trace flags as in the configuration (`all`, `none`, a
        /// comma-separated category list, or a number).
        flags: String,
    },
    /// Asks for events: those whose bit is set in `events` (the daemon's
    /// event numbering; 0 means all) and, with `tunnel`, only those of
    /// that tunnel, to the requester's address. Answered with `Records`
    /// holding one [`SUBSCRIPTION_KIND`] record (see [`Subscription`]),
    /// then `Event` messages carrying this request's id, sent from the
    /// socket that record names.
    Subscribe {
        /// Event bit mask; 0 = every event.
        events: u32,
        /// Only events of this tunnel (by id or name).
        tunnel: Option<Selector>,
    },
    /// Stops the events sent to the requester's address and closes their
    /// sending socket.
    Unsubscribe,
    /// propppd: one `ppp` record per PPP instance (summary fields).
    ListPpp,
    /// propppd: one `ppp` record in full (by handle or name).
    ShowPpp(Selector),
    /// propppd: creates a PPP instance (`propppctl create`); `params` as
    /// the command line's `KEY=VALUE` words.
    CreatePpp {
        /// Instance name.
        name: String,
        /// `(key, value)` pairs.
        params: Vec<(String, String)>,
    },
    /// propppd: ends a PPP instance (LCP Terminate-Request, then the owner
    /// is asked to close the session).
    DestroyPpp(Selector),
    /// Channel, owner to propppd: run PPP on the channel fd passed with
    /// this message (see [`crate::channel`] for the keys of `params`).
    /// Answered, then and later, by [`Reply::PppStatus`] with the same
    /// `reference`.
    PppOpen {
        /// The owner's name for this channel, unique among its open ones.
        reference: u32,
        /// `(key, value)` pairs.
        params: Vec<(String, String)>,
    },
    /// Channel, owner to propppd: the owner's side of the channel is gone
    /// (CDN, PADT); propppd ends the PPP instance without asking back.
    PppClose {
        /// The reference of the `PppOpen`.
        reference: u32,
        /// One line for the log.
        reason: String,
    },
    /// proacd: one `interface` record per interface it serves.
    ListInterfaces,
    /// proacd: one `route` record per `[route]` in force.
    ListRoutes,
    /// proacd: one `pppoe` record per PPPoE session.
    ListPppoe,
    /// proacd: ends a PPPoE session with a PADT (by handle, or by name
    /// `IFACE/SESSION_ID`).
    DeletePppoe(Selector),
    /// proacd: adds a MAC address to, or removes it from, the allow or
    /// the deny list (until the next reload).
    MacList {
        /// `true`: the deny list; `false`: the allow list.
        deny: bool,
        /// `true`: add; `false`: remove.
        add: bool,
        /// The MAC address, `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// Channel, owner to propppd, the first record on a new connection:
    /// the kind of channel the owner hands over (`pppoltp` for prol2tpd,
    /// `pppoe` for proacd), so that `propppctl create` requests of that
    /// linktype reach it. Not answered.
    ChannelHello {
        /// [`crate::channel::LINKTYPE_L2TP`] or [`crate::channel::LINKTYPE_PPPOE`].
        linktype: String,
    },
}

/// Error classes in an [`Reply::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The tunnel or session does not exist.
    NotFound,
    /// The request was malformed.
    BadRequest,
    /// The request was valid but could not be carried out.
    Failed,
    /// Version or message type not supported.
    Unsupported,
    /// The sender is not allowed to ask.
    Denied,
    /// A code this version does not know.
    Other(u16),
}

impl ErrorCode {
    /// Wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotFound => 1,
            ErrorCode::BadRequest => 2,
            ErrorCode::Failed => 3,
            ErrorCode::Unsupported => 4,
            ErrorCode::Denied => 5,
            ErrorCode::Other(v) => v,
        }
    }

    /// From the wire value.
    pub fn from_u16(v: u16) -> ErrorCode {
        match v {
            1 => ErrorCode::NotFound,
            2 => ErrorCode::BadRequest,
            3 => ErrorCode::Failed,
            4 => ErrorCode::Unsupported,
            5 => ErrorCode::Denied,
            v => ErrorCode::Other(v),
        }
    }
}

/// A field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text (value type 0).
    Str(String),
    /// Unsigned number (value type 1).
    U64(u64),
    /// Flag (value type 2).
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::U64(n) => write!(f, "{n}"),
            Value::Bool(b) => f.write_str(if *b { "yes" } else { "no" }),
        }
    }
}

impl Value {
    /// The value as JSON (strings escaped, numbers and booleans bare).
    pub fn to_json(&self) -> String {
        match self {
            Value::Str(s) => json_string(s),
            Value::U64(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// One object: its kind (`system`, `tunnel`, `session`, `statistics`) and
/// its fields in display order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Object kind.
    pub kind: String,
    /// `(key, value)` pairs; keys are lower-case `snake_case`, except that
    /// RFC message names keep their case (`rx_good_SCCRQ`).
    pub fields: Vec<(String, Value)>,
}

impl Record {
    /// An empty record of `kind`.
    pub fn new(kind: &str) -> Record {
        Record { kind: kind.to_string(), fields: Vec::new() }
    }

    /// Appends a string field.
    pub fn str(&mut self, key: &str, value: impl fmt::Display) -> &mut Record {
        self.fields.push((key.to_string(), Value::Str(value.to_string())));
        self
    }

    /// Appends a number field.
    pub fn num(&mut self, key: &str, value: impl Into<u64>) -> &mut Record {
        self.fields.push((key.to_string(), Value::U64(value.into())));
        self
    }

    /// Appends a boolean field.
    pub fn flag(&mut self, key: &str, value: bool) -> &mut Record {
        self.fields.push((key.to_string(), Value::Bool(value)));
        self
    }

    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The record as one JSON object, keys in order.
    pub fn to_json(&self) -> String {
        let body: Vec<String> = self.fields.iter().map(|(k, v)| format!("{}:{}", json_string(k), v.to_json())).collect();
        format!("{{{}}}", body.join(","))
    }

    fn encoded_len(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(k, v)| {
                2 + k.len()
                    + 1
                    + match v {
                        Value::Str(s) => 2 + s.len(),
                        Value::U64(_) => 8,
                        Value::Bool(_) => 1,
                    }
            })
            .sum();
        2 + self.kind.len() + 2 + fields
    }
}

/// `s` as a JSON string literal (RFC 8259 section 7 escaping).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Replies a daemon sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The request was carried out.
    Done,
    /// The request failed.
    Error {
        /// Class of failure.
        code: ErrorCode,
        /// One line for the user.
        message: String,
    },
    /// Data. `more`: further `Records` replies to the same request follow.
    Records {
        /// More parts follow.
        more: bool,
        /// The objects.
        records: Vec<Record>,
    },
    /// One event, unsolicited: sent to subscribers and script runners.
    Event {
        /// Sequence number, counted per receiver from 1 for every event it
        /// matched, sent or dropped; a gap means events were lost.
        seq: u64,
        /// The event: `kind` names it (`SESSION UP`), fields describe it.
        record: Record,
    },
    /// Channel, propppd to owner: a PPP instance changed state; the
    /// record's `state` field is `up` or `down` (see [`crate::channel`]).
    PppStatus {
        /// The reference of the `PppOpen`.
        reference: u32,
        /// The state and what goes with it.
        record: Record,
    },
}

/// Either side of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// CLI to daemon.
    Request(Request),
    /// Daemon to CLI.
    Reply(Reply),
}

/// One datagram's worth: a request id and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Chosen by the requester, echoed in replies.
    pub request_id: u32,
    /// What it says.
    pub body: Body,
}

impl Message {
    /// The header's message type for this body.
    pub fn msg_type(&self) -> u16 {
        use msg_type::*;
        match &self.body {
            Body::Request(r) => match r {
                Request::ShowSystem => SHOW_SYSTEM,
                Request::ShowTunnels => SHOW_TUNNELS,
                Request::ShowTunnel(_) => SHOW_TUNNEL,
                Request::ShowSessions(_) => SHOW_SESSIONS,
                Request::ShowSession { .. } => SHOW_SESSION,
                Request::ShowStatistics => SHOW_STATISTICS,
                Request::ClearStatistics => CLEAR_STATISTICS,
                Request::Reload => RELOAD,
                Request::DeleteTunnel(_) => DELETE_TUNNEL,
                Request::DeleteSession { .. } => DELETE_SESSION,
                Request::ShowProfiles => SHOW_PROFILES,
                Request::CreateTunnel { .. } => CREATE_TUNNEL,
                Request::CreateSession { .. } => CREATE_SESSION,
                Request::SetTrace { .. } => SET_TRACE,
                Request::Subscribe { .. } => SUBSCRIBE,
                Request::Unsubscribe => UNSUBSCRIBE,
                Request::ListPpp => LIST_PPP,
                Request::ShowPpp(_) => SHOW_PPP,
                Request::CreatePpp { .. } => CREATE_PPP,
                Request::DestroyPpp(_) => DESTROY_PPP,
                Request::PppOpen { .. } => PPP_OPEN,
                Request::PppClose { .. } => PPP_CLOSE,
                Request::ListInterfaces => LIST_INTERFACES,
                Request::ListRoutes => LIST_ROUTES,
                Request::ListPppoe => LIST_PPPOE,
                Request::DeletePppoe(_) => DELETE_PPPOE,
                Request::MacList { .. } => MAC_LIST,
                Request::ChannelHello { .. } => CHANNEL_HELLO,
            },
            Body::Reply(r) => match r {
                Reply::Done => DONE,
                Reply::Error { .. } => ERROR,
                Reply::Records { .. } => RECORDS,
                Reply::Event { .. } => EVENT,
                Reply::PppStatus { .. } => PPP_STATUS,
            },
        }
    }

    /// Encodes header and body. Errors: [`IpcError::TooLarge`] when a
    /// string exceeds 65,535 octets, a record list 65,535 entries, or the
    /// body [`MAX_BODY`] octets.
    pub fn encode(&self) -> Result<Vec<u8>, IpcError> {
        let mut w = Writer { buf: Vec::with_capacity(64) };
        w.u32(MAGIC);
        w.u16(VERSION);
        w.u16(self.msg_type());
        w.u32(0);
        w.u32(self.request_id);
        match &self.body {
            Body::Request(r) => encode_request(&mut w, r)?,
            Body::Reply(r) => encode_reply(&mut w, r)?,
        }
        let body_len = w.buf.len().saturating_sub(HEADER_LEN);
        if body_len > MAX_BODY {
            return Err(IpcError::TooLarge);
        }
        let len = u32::try_from(body_len).map_err(|_| IpcError::TooLarge)?;
        if let Some(slot) = w.buf.get_mut(8..12) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        Ok(w.buf)
    }

    /// Decodes one datagram. Every malformed input is an error, never a
    /// panic.
    pub fn decode(bytes: &[u8]) -> Result<Message, IpcError> {
        let h = Header::parse(bytes)?;
        let mut r = Reader { buf: bytes.get(HEADER_LEN..).unwrap_or_default() };
        let body = decode_body(h.msg_type, &mut r)?;
        if !r.buf.is_empty() {
            return Err(IpcError::TrailingBytes(r.buf.len()));
        }
        Ok(Message { request_id: h.request_id, body })
    }
}

fn encode_request(w: &mut Writer, r: &Request) -> Result<(), IpcError> {
    match r {
        Request::ShowSystem
        | Request::ShowTunnels
        | Request::ShowStatistics
        | Request::ClearStatistics
        | Request::Reload
        | Request::ShowProfiles
        | Request::Unsubscribe
        | Request::ListPpp
        | Request::ListInterfaces
        | Request::ListRoutes
        | Request::ListPppoe => Ok(()),
        Request::ShowTunnel(s) | Request::DeleteTunnel(s) | Request::ShowPpp(s) | Request::DestroyPpp(s) | Request::DeletePppoe(s) => w.sel(Some(s)),
        Request::ChannelHello { linktype } => w.str(linktype),
        Request::MacList { deny, add, mac } => {
            w.u8(u8::from(*deny));
            w.u8(u8::from(*add));
            w.str(mac)
        }
        Request::CreatePpp { name, params } => {
            w.str(name)?;
            w.params(params)
        }
        Request::PppOpen { reference, params } => {
            w.u32(*reference);
            w.params(params)
        }
        Request::PppClose { reference, reason } => {
            w.u32(*reference);
            w.str(reason)
        }
        Request::ShowSessions(s) => w.sel(s.as_ref()),
        Request::ShowSession { tunnel, session } | Request::DeleteSession { tunnel, session } => {
            w.sel(Some(tunnel))?;
            w.sel(Some(session))
        }
        Request::CreateTunnel { name, params } => {
            w.str(name)?;
            w.params(params)
        }
        Request::CreateSession { tunnel, name, params } => {
            w.sel(Some(tunnel))?;
            w.str(name)?;
            w.params(params)
        }
        Request::SetTrace { tunnel, session, flags } => {
            w.sel(Some(tunnel))?;
            w.sel(session.as_ref())?;
            w.str(flags)
        }
        Request::Subscribe { events, tunnel } => {
            w.u32(*events);
            w.sel(tunnel.as_ref())
        }
    }
}

fn encode_reply(w: &mut Writer, r: &Reply) -> Result<(), IpcError> {
    match r {
        Reply::Done => Ok(()),
        Reply::Error { code, message } => {
            w.u16(code.to_u16());
            w.str(message)
        }
        Reply::Records { more, records } => {
            w.u8(u8::from(*more));
            w.u16(u16::try_from(records.len()).map_err(|_| IpcError::TooLarge)?);
            for rec in records {
                encode_record(w, rec)?;
            }
            Ok(())
        }
        Reply::Event { seq, record } => {
            w.u64(*seq);
            encode_record(w, record)
        }
        Reply::PppStatus { reference, record } => {
            w.u32(*reference);
            encode_record(w, record)
        }
    }
}

fn encode_record(w: &mut Writer, rec: &Record) -> Result<(), IpcError> {
    w.str(&rec.kind)?;
    w.u16(u16::try_from(rec.fields.len()).map_err(|_| IpcError::TooLarge)?);
    for (k, v) in &rec.fields {
        w.str(k)?;
        match v {
            Value::Str(s) => {
                w.u8(0);
                w.str(s)?;
            }
            Value::U64(n) => {
                w.u8(1);
                w.u64(*n);
            }
            Value::Bool(b) => {
                w.u8(2);
                w.u8(u8::from(*b));
            }
        }
        if w.buf.len() > MAX_DATAGRAM {
            return Err(IpcError::TooLarge);
        }
    }
    Ok(())
}

fn decode_body(t: u16, r: &mut Reader) -> Result<Body, IpcError> {
    use msg_type::*;
    let req = |q| Ok(Body::Request(q));
    match t {
        SHOW_SYSTEM => req(Request::ShowSystem),
        SHOW_TUNNELS => req(Request::ShowTunnels),
        SHOW_TUNNEL => req(Request::ShowTunnel(r.sel_required()?)),
        SHOW_SESSIONS => req(Request::ShowSessions(r.sel()?)),
        SHOW_SESSION => req(Request::ShowSession { tunnel: r.sel_required()?, session: r.sel_required()? }),
        SHOW_STATISTICS => req(Request::ShowStatistics),
        CLEAR_STATISTICS => req(Request::ClearStatistics),
        RELOAD => req(Request::Reload),
        DELETE_TUNNEL => req(Request::DeleteTunnel(r.sel_required()?)),
        DELETE_SESSION => req(Request::DeleteSession { tunnel: r.sel_required()?, session: r.sel_required()? }),
        SHOW_PROFILES => req(Request::ShowProfiles),
        CREATE_TUNNEL => req(Request::CreateTunnel { name: r.str()?, params: r.params()? }),
        CREATE_SESSION => req(Request::CreateSession { tunnel: r.sel_required()?, name: r.str()?, params: r.params()? }),
        SET_TRACE => req(Request::SetTrace { tunnel: r.sel_required()?, session: r.sel()?, flags: r.str()? }),
        SUBSCRIBE => req(Request::Subscribe { events: r.u32()?, tunnel: r.sel()? }),
        UNSUBSCRIBE => req(Request::Unsubscribe),
        LIST_PPP => req(Request::ListPpp),
        SHOW_PPP => req(Request::ShowPpp(r.sel_required()?)),
        CREATE_PPP => req(Request::CreatePpp { name: r.str()?, params: r.params()? }),
        DESTROY_PPP => req(Request::DestroyPpp(r.sel_required()?)),
        PPP_OPEN => req(Request::PppOpen { reference: r.u32()?, params: r.params()? }),
        PPP_CLOSE => req(Request::PppClose { reference: r.u32()?, reason: r.str()? }),
        LIST_INTERFACES => req(Request::ListInterfaces),
        LIST_ROUTES => req(Request::ListRoutes),
        LIST_PPPOE => req(Request::ListPppoe),
        DELETE_PPPOE => req(Request::DeletePppoe(r.sel_required()?)),
        CHANNEL_HELLO => req(Request::ChannelHello { linktype: r.str()? }),
        MAC_LIST => req(Request::MacList { deny: r.bool("mac list")?, add: r.bool("mac list operation")?, mac: r.str()? }),
        DONE => Ok(Body::Reply(Reply::Done)),
        ERROR => Ok(Body::Reply(Reply::Error { code: ErrorCode::from_u16(r.u16()?), message: r.str()? })),
        RECORDS => {
            let more = r.bool("more flag")?;
            let count = r.u16()?;
            let mut records = Vec::new();
            for _ in 0..count {
                records.push(decode_record(r)?);
            }
            Ok(Body::Reply(Reply::Records { more, records }))
        }
        EVENT => Ok(Body::Reply(Reply::Event { seq: r.u64()?, record: decode_record(r)? })),
        PPP_STATUS => Ok(Body::Reply(Reply::PppStatus { reference: r.u32()?, record: decode_record(r)? })),
        t => Err(IpcError::UnknownType(t)),
    }
}

fn decode_record(r: &mut Reader) -> Result<Record, IpcError> {
    let kind = r.str()?;
    let n = r.u16()?;
    let mut fields = Vec::new();
    for _ in 0..n {
        let key = r.str()?;
        let value = match r.u8()? {
            0 => Value::Str(r.str()?),
            1 => Value::U64(r.u64()?),
            2 => Value::Bool(r.bool("boolean")?),
            t => return Err(IpcError::BadField("value type", t)),
        };
        fields.push((key, value));
    }
    Ok(Record { kind, fields })
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn str(&mut self, s: &str) -> Result<(), IpcError> {
        self.u16(u16::try_from(s.len()).map_err(|_| IpcError::TooLarge)?);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }
    fn params(&mut self, params: &[(String, String)]) -> Result<(), IpcError> {
        self.u16(u16::try_from(params.len()).map_err(|_| IpcError::TooLarge)?);
        for (k, v) in params {
            self.str(k)?;
            self.str(v)?;
        }
        Ok(())
    }
    fn sel(&mut self, s: Option<&Selector>) -> Result<(), IpcError> {
        match s {
            None => self.u8(0),
            Some(Selector::Id(id)) => {
                self.u8(1);
                self.u32(*id);
            }
            Some(Selector::Name(n)) => {
                self.u8(2);
                self.str(n)?;
            }
        }
        Ok(())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IpcError> {
        if self.buf.len() < n {
            return Err(IpcError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IpcError> {
        self.take(N)?.try_into().map_err(|_| IpcError::Truncated)
    }
    fn u8(&mut self) -> Result<u8, IpcError> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, IpcError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, IpcError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, IpcError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn bool(&mut self, what: &'static str) -> Result<bool, IpcError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(IpcError::BadField(what, v)),
        }
    }
    fn str(&mut self) -> Result<String, IpcError> {
        let n = usize::from(self.u16()?);
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| IpcError::BadUtf8)
    }
    fn sel(&mut self) -> Result<Option<Selector>, IpcError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(Selector::Id(self.u32()?))),
            2 => Ok(Some(Selector::Name(self.str()?))),
            k => Err(IpcError::BadField("selector kind", k)),
        }
    }
    fn params(&mut self) -> Result<Vec<(String, String)>, IpcError> {
        let n = self.u16()?;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push((self.str()?, self.str()?));
        }
        Ok(out)
    }
    fn sel_required(&mut self) -> Result<Selector, IpcError> {
        match self.sel()? {
            Some(s) => Ok(s),
            None => Err(IpcError::BadField("selector kind", 0)),
        }
    }
}

/// Splits `records` into `Records` replies whose bodies each fit in
/// [`MAX_BODY`] octets (a single oversized record gets a reply of its own,
/// which then fails to encode). Always returns at least one reply; all but
/// the last have `more` set.
pub fn split_records(records: Vec<Record>) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut part = Vec::new();
    let mut size = 3usize;
    for rec in records {
        let len = rec.encoded_len();
        if !part.is_empty() && (size.saturating_add(len) > MAX_BODY || part.len() == usize::from(u16::MAX)) {
            out.push(Reply::Records { more: true, records: std::mem::take(&mut part) });
            size = 3;
        }
        size = size.saturating_add(len);
        part.push(rec);
    }
    out.push(Reply::Records { more: false, records: part });
    out
}

/// Creates the parent directory of `path` (mode 0755) when missing,
/// removes a stale socket left at `path` by a dead process, and binds a
/// non-blocking datagram socket there with mode 0600 (the umask is set to
/// 0177 around `bind` so there is no moment when others may connect).
/// Errors: `AddrInUse` when a live process answers at `path`, `AlreadyExists`
/// when something that is not a socket is there, and any I/O error.
pub fn bind_server(path: &Path) -> io::Result<UnixDatagram> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists and is not a socket", path.display())));
        }
        let probe = UnixDatagram::unbound()?;
        match probe.connect(path) {
            Ok(()) => return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{} is in use by a running process", path.display()))),
            Err(_) => std::fs::remove_file(path)?,
        }
    }
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixDatagram::bind(path);
    umask(old);
    let s = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Where a request came from, to send the reply back to. Two peers are
/// equal when their addresses are (two unbound peers are equal too; they
/// cannot be replied to anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    addr: Option<UnixAddr>,
}

impl Peer {
    /// True when the sender has an address replies can be sent to.
    pub fn is_bound(&self) -> bool {
        self.addr.is_some()
    }

    /// The sender's address, if it has one.
    pub(crate) fn addr(&self) -> Option<&UnixAddr> {
        self.addr.as_ref()
    }
}

/// `record.kind` of the one record answering a `Subscribe`.
pub const SUBSCRIPTION_KIND: &str = "subscription";

/// What a daemon answered to a `Subscribe` ([`Client::subscribe`]): the
/// fields of its [`SUBSCRIPTION_KIND`] record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The abstract-namespace name (without the leading NUL) of the socket
    /// the daemon sends this subscription's events from; the record's
    /// `events_address` field carries it hex-encoded.
    pub events_address: Vec<u8>,
    /// Events of the subscribed kinds (tunnel filter not applied) that the
    /// daemon published before this subscription, since it started: the
    /// record's `events_before` field.
    pub events_before: u64,
}

impl Subscription {
    /// The record a daemon answers with.
    pub fn to_record(&self) -> Record {
        let mut r = Record::new(SUBSCRIPTION_KIND);
        r.str("events_address", hex(&self.events_address)).num("events_before", self.events_before);
        r
    }

    /// Reads the record back; `None` when it is not a subscription record
    /// or its `events_address` is not even-length hex.
    pub fn from_record(r: &Record) -> Option<Subscription> {
        if r.kind != SUBSCRIPTION_KIND {
            return None;
        }
        let Some(Value::Str(addr)) = r.get("events_address") else { return None };
        let events_before = match r.get("events_before") {
            Some(Value::U64(n)) => *n,
            _ => 0,
        };
        Some(Subscription { events_address: unhex(addr)?, events_before })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok())).collect()
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("unbound"),
        }
    }
}

/// One datagram read by [`Server::recv`].
#[derive(Debug)]
pub struct Received {
    /// Sender's address.
    pub peer: Peer,
    /// Sender's user id (SCM_CREDENTIALS, filled in by the kernel).
    pub uid: Option<u32>,
    /// Octets read into the caller's buffer.
    pub len: usize,
}

/// A daemon's listening socket: bound with [`bind_server`], receives with
/// the sender's credentials, replies without blocking, and removes its
/// socket file on drop (unless another process has replaced it since).
#[derive(Debug)]
pub struct Server {
    sock: UnixDatagram,
    path: PathBuf,
    inode: (u64, u64),
}

impl Server {
    /// Binds at `path` (see [`bind_server`]) and turns on SO_PASSCRED so
    /// every datagram carries its sender's uid.
    pub fn bind(path: &Path) -> io::Result<Server> {
        let sock = bind_server(path)?;
        sock::setsockopt(&sock, sock::sockopt::PassCred, &true)?;
        let meta = std::fs::metadata(path)?;
        Ok(Server { sock, path: path.to_path_buf(), inode: (meta.dev(), meta.ino()) })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads one datagram into `buf` without blocking; `Ok(None)` when
    /// none is waiting. Datagrams longer than `buf` are truncated (and then
    /// fail to decode).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut iov = [io::IoSliceMut::new(buf)];
        let mut cmsg = nix::cmsg_space!(sock::UnixCredentials);
        let msg = match sock::recvmsg::<UnixAddr>(self.sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut uid = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmCredentials(cred) = c {
                    uid = Some(cred.uid());
                }
            }
        }
        // An unbound sender leaves the address empty (length 0): nix's
        // accessors must not see that (they assert a family is present).
        let has_family = |a: &UnixAddr| usize::try_from(a.len()).is_ok_and(|l| l >= std::mem::size_of::<libc::sa_family_t>());
        let addr = msg.address.filter(|a| has_family(a) && (a.path().is_some() || a.as_abstract().is_some()));
        Ok(Some(Received { peer: Peer { addr }, uid, len: msg.bytes }))
    }

    /// Sends `msg` to `peer` without blocking. Errors: the peer is unbound
    /// (`NotConnected`), gone, or not reading (`WouldBlock`): the reply is
    /// then lost, by design.
    pub fn send(&self, peer: &Peer, msg: &Message) -> io::Result<()> {
        let Some(addr) = &peer.addr else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "requester has no address to reply to"));
        };
        let bytes = msg.encode().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        sock::sendto(self.sock.as_raw_fd(), &bytes, addr, MsgFlags::MSG_DONTWAIT)?;
        Ok(())
    }

    /// Octets sent from this socket that their receivers have not read yet
    /// (`SIOCOUTQ`: the kernel's accounting against the send buffer,
    /// overhead included). When it reaches [`Server::send_buffer`], every
    /// send fails with `WouldBlock`.
    pub fn queued_octets(&self) -> io::Result<usize> {
        let mut n: libc::c_int = 0;
        // SAFETY: SIOCOUTQ on a socket we own writes one c_int into `n`,
        // which lives for the duration of the call.
        let rc = unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The send buffer's size in octets (as the kernel reports it, i.e.
    /// doubled for overhead).
    pub fn send_buffer(&self) -> io::Result<usize> {
        Ok(sock::getsockopt(&self.sock, sock::sockopt::SndBuf)?)
    }

    /// Asks for a send buffer of `octets`: beyond `net.core.wmem_max` when
    /// privileged (SO_SNDBUFFORCE), else up to that limit. Returns the size
    /// now in force ([`Server::send_buffer`]).
    pub fn set_send_buffer(&self, octets: usize) -> io::Result<usize> {
        if sock::setsockopt(&self.sock, sock::sockopt::SndBufForce, &octets).is_err() {
            sock::setsockopt(&self.sock, sock::sockopt::SndBuf, &octets)?;
        }
        self.send_buffer()
    }
}

impl AsFd for Server {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.inode {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Why a [`Client::call`] failed.
#[derive(Debug)]
pub enum ClientError {
    /// Socket error; `NotFound` / `ConnectionRefused` mean no daemon.
    Io(io::Error),
    /// No (complete) reply within the timeout.
    Timeout,
    /// The reply did not decode, or was a request.
    Protocol(IpcError),
    /// The daemon answered with an error ([`Client::subscribe`],
    /// [`Client::unsubscribe`]).
    Refused {
        /// Class of failure.
        code: ErrorCode,
        /// The daemon's one line.
        message: String,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Timeout => f.write_str("no reply from the daemon"),
            ClientError::Protocol(e) => write!(f, "bad reply: {e}"),
            ClientError::Refused { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// Most events a [`Client`] keeps for [`Client::next_event`] while it waits
/// for the answer to its `Subscribe`; beyond that they are dropped (the
/// subscriber sees a gap in the sequence numbers).
pub const MAX_PENDING_EVENTS: usize = 10_000;

/// A requester: a datagram socket autobound in the abstract namespace
/// (nothing to clean up; same network namespace as the daemon needed),
/// connected to the daemon's path ([`Client::connect`]) or sending to it
/// without connecting ([`Client::unconnected`]). Once subscribed
/// ([`Client::subscribe`]) it also holds the event socket, connected to the
/// daemon's sender for this subscriber.
#[derive(Debug)]
pub struct Client {
    sock: UnixDatagram,
    next_id: u32,
    /// The daemon's control socket.
    path: PathBuf,
    /// `sock` is not connected: requests go to `path` with `sendto` and
    /// only datagrams from there are read.
    unconnected: bool,
    /// The subscription in force: its request id and event socket.
    subscription: Option<(u32, UnixDatagram)>,
    /// Events of the subscription read while waiting for its answer.
    pending: VecDeque<(u64, Record)>,
}

/// What one datagram read by [`recv_datagram`] was.
enum Incoming {
    /// A message from the daemon.
    Message(Message),
    /// Nothing within the timeout (or a signal interrupted the wait).
    Nothing,
    /// A datagram from someone else, skipped.
    Foreign,
}

impl Client {
    /// Connects to the daemon at `path`. Errors: `NotFound` (no socket
    /// file) or `ConnectionRefused` (stale file) when the daemon is not
    /// running, `PermissionDenied` when not allowed.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let sock = Client::autobound()?;
        sock.connect(path)?;
        Ok(Client::with(sock, path, false))
    }

    /// Like [`Client::connect`], but the socket stays unconnected: each
    /// request is sent to `path`, and datagrams from elsewhere are ignored,
    /// so the client keeps working with a daemon restarted at `path`.
    /// Errors as for [`Client::connect`] (checked with a probe connect).
    pub fn unconnected(path: &Path) -> io::Result<Client> {
        UnixDatagram::unbound()?.connect(path)?;
        let sock = Client::autobound()?;
        Ok(Client::with(sock, path, true))
    }

    fn autobound() -> io::Result<UnixDatagram> {
        let fd: OwnedFd = sock::socket(sock::AddressFamily::Unix, sock::SockType::Datagram, sock::SockFlag::SOCK_CLOEXEC, None)?;
        sock::bind(fd.as_raw_fd(), &UnixAddr::new_unnamed())?;
        Ok(UnixDatagram::from(fd))
    }

    fn with(sock: UnixDatagram, path: &Path, unconnected: bool) -> Client {
        let next_id = std::process::id().rotate_left(16) ^ 1;
        Client { sock, next_id, path: path.to_path_buf(), unconnected, subscription: None, pending: VecDeque::new() }
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Sends `req` and waits up to `timeout` for its reply; the parts of a
    /// split `Records` reply are joined into one. Replies to other request
    /// ids and events are skipped.
    pub fn call(&mut self, req: Request, timeout: Duration) -> Result<Reply, ClientError> {
        let id = self.take_id();
        let bytes = Message { request_id: id, body: Body::Request(req) }.encode().map_err(ClientError::Protocol)?;
        if self.unconnected {
            self.sock.send_to(&bytes, &self.path)?;
        } else {
            self.sock.send(&bytes)?;
        }
        let dest = self.unconnected.then_some(self.path.as_path());
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut all: Vec<Record> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout);
            }
            let msg = match recv_datagram(&self.sock, dest, &mut buf, left)? {
                Incoming::Message(m) if m.request_id == id => m,
                Incoming::Message(_) | Incoming::Nothing | Incoming::Foreign => continue,
            };
            match msg.body {
                Body::Reply(Reply::Event { .. }) => continue,
                Body::Reply(Reply::Records { more: true, records }) => all.extend(records),
                Body::Reply(Reply::Records { more: false, records }) => {
                    all.extend(records);
                    return Ok(Reply::Records { more: false, records: all });
                }
                Body::Reply(r) => return Ok(r),
                Body::Request(_) => return Err(ClientError::Protocol(IpcError::UnknownType(0))),
            }
        }
    }

    /// Subscribes to the events whose bit is set in `events` (0: all),
    /// only those of `tunnel` when given, and waits up to `timeout` for
    /// the daemon's answer. The request goes from a new event socket, which
    /// is then connected to the daemon's sender named in the answer; a new
    /// subscription replaces the previous one (whose event socket is
    /// closed). Errors: [`ClientError::Refused`] when the daemon says no
    /// (too many watchers), [`ClientError::Protocol`] when the answer has
    /// no usable [`SUBSCRIPTION_KIND`] record, and those of
    /// [`Client::call`].
    pub fn subscribe(&mut self, events: u32, tunnel: Option<Selector>, timeout: Duration) -> Result<Subscription, ClientError> {
        self.subscription = None;
        self.pending.clear();
        let ev = Client::autobound()?;
        let id = self.take_id();
        let reply = request_from(&ev, &self.path, id, Request::Subscribe { events, tunnel }, timeout, &mut self.pending)?;
        match reply {
            Reply::Records { records, .. } => {
                let sub = records.iter().find_map(Subscription::from_record).ok_or(ClientError::Protocol(IpcError::BadField("subscription record", 0)))?;
                let sender = UnixAddr::new_abstract(&sub.events_address).map_err(io::Error::from)?;
                sock::connect(ev.as_raw_fd(), &sender).map_err(io::Error::from)?;
                self.subscription = Some((id, ev));
                Ok(sub)
            }
            Reply::Error { code, message } => {
                self.pending.clear();
                Err(ClientError::Refused { code, message })
            }
            _ => Err(ClientError::Protocol(IpcError::UnknownType(0))),
        }
    }

    /// Ends the subscription, closes its event socket and forgets events
    /// not yet read. Errors: [`ClientError::Refused`] when there was no
    /// subscription or the daemon knew none, and those of [`Client::call`].
    pub fn unsubscribe(&mut self, timeout: Duration) -> Result<(), ClientError> {
        self.pending.clear();
        let Some((_, ev)) = self.subscription.take() else {
            return Err(ClientError::Refused { code: ErrorCode::NotFound, message: "not subscribed".into() });
        };
        // The daemon knows the subscription by the event socket's address;
        // its answer can only reach that socket once it is no longer
        // connected to the daemon's sender.
        disconnect(&ev)?;
        let id = self.take_id();
        let mut ignored = VecDeque::new();
        match request_from(&ev, &self.path, id, Request::Unsubscribe, timeout, &mut ignored)? {
            Reply::Done => Ok(()),
            Reply::Error { code, message } => Err(ClientError::Refused { code, message }),
            _ => Err(ClientError::Protocol(IpcError::UnknownType(0))),
        }
    }

    /// The next event of the subscription, as `(seq, record)`, waiting up
    /// to `timeout`; `Ok(None)` when none came (or a signal interrupted the
    /// wait). Other messages are skipped. Errors: not subscribed
    /// (`NotConnected`), a socket error, or a datagram that does not
    /// decode.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<(u64, Record)>, ClientError> {
        if let Some(ev) = self.pending.pop_front() {
            return Ok(Some(ev));
        }
        let Some((sub_id, sock)) = &self.subscription else {
            return Err(ClientError::Io(io::Error::new(io::ErrorKind::NotConnected, "not subscribed")));
        };
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match recv_datagram(sock, None, &mut buf, left)? {
                Incoming::Message(Message { request_id, body: Body::Reply(Reply::Event { seq, record }) }) if request_id == *sub_id => {
                    return Ok(Some((seq, record)))
                }
                Incoming::Nothing => return Ok(None),
                Incoming::Message(_) | Incoming::Foreign => continue,
            }
        }
    }

    /// Whether the daemon's sender of the subscription still exists: false
    /// once it is closed (the daemon exited or restarted, or dropped the
    /// subscription), and when not subscribed. Probes it with an empty
    /// datagram, which a live sender refuses (`EPIPE`: the daemon shut its
    /// reading side) and a closed one answers with `ECONNREFUSED` (then
    /// `ENOTCONN`). Events already queued stay readable. Errors: other
    /// socket errors.
    pub fn subscription_alive(&self) -> Result<bool, ClientError> {
        let Some((_, sock)) = &self.subscription else { return Ok(false) };
        match sock::send(sock.as_raw_fd(), &[], MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
            Ok(_) | Err(nix::errno::Errno::EPIPE | nix::errno::Errno::EAGAIN) => Ok(true),
            Err(nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOTCONN | nix::errno::Errno::ECONNRESET) => Ok(false),
            Err(e) => Err(ClientError::Io(e.into())),
        }
    }
}

/// Sends `req` with id `id` from `sock` to the daemon at `path` and waits
/// up to `timeout` for its one-datagram reply on `sock`; events of a
/// subscription with this same id read meanwhile go to `pending` (at most
/// [`MAX_PENDING_EVENTS`]).
fn request_from(
    sock: &UnixDatagram,
    path: &Path,
    id: u32,
    req: Request,
    timeout: Duration,
    pending: &mut VecDeque<(u64, Record)>,
) -> Result<Reply, ClientError> {
    let bytes = Message { request_id: id, body: Body::Request(req) }.encode().map_err(ClientError::Protocol)?;
    sock.send_to(&bytes, path)?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Timeout);
        }
        match recv_datagram(sock, None, &mut buf, left)? {
            Incoming::Message(Message { request_id, body: Body::Reply(Reply::Event { seq, record }) }) if request_id == id => {
                if pending.len() < MAX_PENDING_EVENTS {
                    pending.push_back((seq, record));
                }
            }
            Incoming::Message(Message { request_id, body: Body::Reply(reply) }) if request_id == id => return Ok(reply),
            Incoming::Message(_) | Incoming::Nothing | Incoming::Foreign => continue,
        }
    }
}

/// Reads one datagram from `sock`, waiting up to `timeout` (non-zero);
/// with `dest`, datagrams from any other address are [`Incoming::Foreign`].
fn recv_datagram(sock: &UnixDatagram, dest: Option<&Path>, buf: &mut [u8], timeout: Duration) -> Result<Incoming, ClientError> {
    sock.set_read_timeout(Some(timeout))?;
    let got = match dest {
        Some(dest) => sock.recv_from(buf).map(|(n, from)| (n, from.as_pathname() == Some(dest))),
        None => sock.recv(buf).map(|n| (n, true)),
    };
    let n = match got {
        Ok((n, true)) => n,
        Ok((_, false)) => return Ok(Incoming::Foreign),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => return Ok(Incoming::Nothing),
        Err(e) => return Err(e.into()),
    };
    Message::decode(buf.get(..n).unwrap_or_default()).map(Incoming::Message).map_err(ClientError::Protocol)
}

/// Dissolves a datagram socket's connection (`connect` with `AF_UNSPEC`),
/// so it receives from anyone again.
fn disconnect(sock: &UnixDatagram) -> io::Result<()> {
    // SAFETY: a zeroed sockaddr is valid plain data; AF_UNSPEC asks the
    // kernel to drop the peer, and the pointer and length describe `addr`,
    // which lives for the duration of the call.
    let rc = unsafe {
        let mut addr: libc::sockaddr = std::mem::zeroed();
        addr.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
        libc::connect(sock.as_raw_fd(), &addr, std::mem::size_of::<libc::sockaddr>() as libc::socklen_t)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u32, r: Request) -> Message {
        Message { request_id: id, body: Body::Request(r) }
    }

    fn rep(id: u32, r: Reply) -> Message {
        Message { request_id: id, body: Body::Reply(r) }
    }

    fn hdr(t: u16, len: u32, id: u32) -> Vec<u8> {
        let mut v = vec![0x50, 0x4C, 0x32, 0x54, 0x00, 0x01];
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v
    }

    fn golden(m: Message, t: u16, body: &[u8]) {
        let mut want = hdr(t, body.len() as u32, m.request_id);
        want.extend_from_slice(body);
        assert_eq!(m.encode().unwrap(), want, "{m:?}");
        assert_eq!(Message::decode(&want).unwrap(), m);
    }

    #[test]
    fn header_golden() {
        let b = req(0x0102_0304, Request::ShowSystem).encode().unwrap();
        assert_eq!(b, [b'P', b'L', b'2', b'T', 0, 1, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]);
        let h = Header::parse(&b).unwrap();
        assert_eq!(h, Header { version: 1, msg_type: 1, length: 0, request_id: 0x0102_0304 });
    }

    #[test]
    fn requests_golden() {
        golden(req(7, Request::ShowSystem), 1, &[]);
        golden(req(7, Request::ShowTunnels), 2, &[]);
        golden(req(7, Request::ShowTunnel(Selector::Id(0x1234))), 3, &[1, 0, 0, 0x12, 0x34]);
        golden(req(7, Request::ShowTunnel(Selector::Name("t1".into()))), 3, &[2, 0, 2, b't', b'1']);
        golden(req(7, Request::ShowSessions(None)), 4, &[0]);
        golden(req(7, Request::ShowSessions(Some(Selector::Id(9)))), 4, &[1, 0, 0, 0, 9]);
        golden(req(7, Request::ShowSession { tunnel: Selector::Name("t".into()), session: Selector::Id(2) }), 5, &[2, 0, 1, b't', 1, 0, 0, 0, 2]);
        golden(req(7, Request::ShowStatistics), 6, &[]);
        golden(req(7, Request::ClearStatistics), 7, &[]);
        golden(req(7, Request::Reload), 8, &[]);
        golden(req(7, Request::DeleteTunnel(Selector::Id(1))), 9, &[1, 0, 0, 0, 1]);
        golden(req(7, Request::DeleteSession { tunnel: Selector::Id(1), session: Selector::Name("s".into()) }), 10, &[1, 0, 0, 0, 1, 2, 0, 1, b's']);
        golden(req(7, Request::ShowProfiles), 11, &[]);
        let kv = vec![("peer".to_string(), "192.0.2.1".to_string())];
        let kv_bytes: &[u8] = &[0, 1, 0, 4, b'p', b'e', b'e', b'r', 0, 9, b'1', b'9', b'2', b'.', b'0', b'.', b'2', b'.', b'1'];
        golden(req(7, Request::CreateTunnel { name: "t".into(), params: kv.clone() }), 12, &[&[0, 1, b't'][..], kv_bytes].concat());
        golden(
            req(7, Request::CreateSession { tunnel: Selector::Id(3), name: "s".into(), params: kv }),
            13,
            &[&[1, 0, 0, 0, 3, 0, 1, b's'][..], kv_bytes].concat(),
        );
        golden(req(7, Request::SetTrace { tunnel: Selector::Id(3), session: None, flags: "all".into() }), 14, &[1, 0, 0, 0, 3, 0, 0, 3, b'a', b'l', b'l']);
        golden(
            req(7, Request::SetTrace { tunnel: Selector::Id(3), session: Some(Selector::Id(4)), flags: "".into() }),
            14,
            &[1, 0, 0, 0, 3, 1, 0, 0, 0, 4, 0, 0],
        );
        golden(req(7, Request::Subscribe { events: 0x30, tunnel: None }), 15, &[0, 0, 0, 0x30, 0]);
        golden(req(7, Request::Subscribe { events: 0, tunnel: Some(Selector::Name("a".into())) }), 15, &[0, 0, 0, 0, 2, 0, 1, b'a']);
        golden(req(7, Request::Unsubscribe), 16, &[]);
        golden(req(7, Request::ListPpp), 0x11, &[]);
        golden(req(7, Request::ShowPpp(Selector::Id(0x0102))), 0x12, &[1, 0, 0, 1, 2]);
        golden(req(7, Request::CreatePpp { name: "p".into(), params: kv_pair() }), 0x13, &[&[0, 1, b'p'][..], KV_BYTES].concat());
        golden(req(7, Request::DestroyPpp(Selector::Name("p".into()))), 0x14, &[2, 0, 1, b'p']);
        golden(req(7, Request::PppOpen { reference: 0x0A0B_0C0D, params: kv_pair() }), 0x15, &[&[0x0A, 0x0B, 0x0C, 0x0D][..], KV_BYTES].concat());
        golden(req(7, Request::PppClose { reference: 5, reason: "cdn".into() }), 0x16, &[0, 0, 0, 5, 0, 3, b'c', b'd', b'n']);
        golden(req(7, Request::ListInterfaces), 0x17, &[]);
        golden(req(7, Request::ListRoutes), 0x18, &[]);
        golden(req(7, Request::ListPppoe), 0x19, &[]);
        golden(req(7, Request::DeletePppoe(Selector::Id(3))), 0x1A, &[1, 0, 0, 0, 3]);
        golden(req(7, Request::MacList { deny: true, add: false, mac: "m".into() }), 0x1B, &[1, 0, 0, 1, b'm']);
        golden(req(7, Request::ChannelHello { linktype: "pppoe".into() }), 0x1C, &[&[0, 5][..], b"pppoe"].concat());
    }

    fn kv_pair() -> Vec<(String, String)> {
        vec![("peer".to_string(), "192.0.2.1".to_string())]
    }

    const KV_BYTES: &[u8] = &[0, 1, 0, 4, b'p', b'e', b'e', b'r', 0, 9, b'1', b'9', b'2', b'.', b'0', b'.', b'2', b'.', b'1'];

    #[test]
    fn replies_golden() {
        golden(rep(0xFFFF_FFFF, Reply::Done), 0x8001, &[]);
        golden(rep(1, Reply::Error { code: ErrorCode::NotFound, message: "no".into() }), 0x8002, &[0, 1, 0, 2, b'n', b'o']);
        let mut r = Record::new("t");
        r.str("k", "v").num("n", 258u64).flag("b", true);
        golden(
            rep(1, Reply::Records { more: true, records: vec![r] }),
            0x8003,
            &[
                1, 0, 1, // more, one record
                0, 1, b't', 0, 3, // kind "t", 3 fields
                0, 1, b'k', 0, 0, 1, b'v', // k = str "v"
                0, 1, b'n', 1, 0, 0, 0, 0, 0, 0, 1, 2, // n = u64 258
                0, 1, b'b', 2, 1, // b = true
            ],
        );
        golden(rep(1, Reply::Records { more: false, records: vec![] }), 0x8003, &[0, 0, 0]);
        let mut e = Record::new("SESSION UP");
        e.num("tid", 5u64);
        golden(
            rep(9, Reply::Event { seq: 2, record: e }),
            0x8004,
            &[
                0, 0, 0, 0, 0, 0, 0, 2, 0, 10, b'S', b'E', b'S', b'S', b'I', b'O', b'N', b' ', b'U', b'P', 0, 1, 0, 3, b't', b'i', b'd', 1, 0, 0, 0, 0, 0, 0,
                0, 5,
            ],
        );
        let mut st = Record::new("ppp");
        st.str("state", "up");
        golden(
            rep(0, Reply::PppStatus { reference: 3, record: st }),
            0x8005,
            &[0, 0, 0, 3, 0, 3, b'p', b'p', b'p', 0, 1, 0, 5, b's', b't', b'a', b't', b'e', 0, 0, 2, b'u', b'p'],
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(Message::decode(&[0x50, 0x4C]), Err(IpcError::ShortHeader(2)));
        let mut b = hdr(1, 0, 0);
        b[0] = 0;
        assert_eq!(Message::decode(&b), Err(IpcError::BadMagic(0x004C_3254)));
        let mut b = hdr(1, 0, 0);
        b[5] = 2;
        assert_eq!(Message::decode(&b), Err(IpcError::BadVersion(2)));
        assert_eq!(Message::decode(&hdr(0x77, 0, 0)), Err(IpcError::UnknownType(0x77)));
        assert_eq!(Message::decode(&hdr(1, 1, 0)), Err(IpcError::BadLength { header: 1, actual: 0 }));
        let mut b = hdr(1, 1, 0);
        b.push(0);
        assert_eq!(Message::decode(&b), Err(IpcError::TrailingBytes(1)));
        let mut b = hdr(3, 3, 0);
        b.extend_from_slice(&[1, 0, 0]);
        assert_eq!(Message::decode(&b), Err(IpcError::Truncated));
        let mut b = hdr(3, 1, 0);
        b.push(0);
        assert_eq!(Message::decode(&b), Err(IpcError::BadField("selector kind", 0)));
        let mut b = hdr(3, 4, 0);
        b.extend_from_slice(&[2, 0, 1, 0xFF]);
        assert_eq!(Message::decode(&b), Err(IpcError::BadUtf8));
        let mut b = hdr(0x8003, 9, 0);
        b.extend_from_slice(&[0, 0, 1, 0, 0, 0, 1, 0, 0]);
        assert_eq!(Message::decode(&b), Err(IpcError::Truncated));
        let mut b = hdr(0x8003, 3, 0);
        b.extend_from_slice(&[5, 0, 0]);
        assert_eq!(Message::decode(&b), Err(IpcError::BadField("more flag", 5)));
    }

    #[test]
    fn every_prefix_and_bit_flip_decodes_without_panic() {
        let mut r = Record::new("tunnel");
        r.str("name", "x").num("id", 5u64).flag("up", false);
        let b = rep(3, Reply::Records { more: false, records: vec![r] }).encode().unwrap();
        for n in 0..b.len() {
            assert!(Message::decode(&b[..n]).is_err());
        }
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut c = b.clone();
                c[i] ^= 1 << bit;
                let _ = Message::decode(&c);
            }
        }
    }

    #[test]
    fn oversized_messages_are_refused() {
        let big = "x".repeat(70_000);
        let m = rep(1, Reply::Error { code: ErrorCode::Failed, message: big });
        assert_eq!(m.encode(), Err(IpcError::TooLarge));
    }

    #[test]
    fn split_records_fits_datagrams_and_flags_more() {
        let recs: Vec<Record> = (0..5000u64)
            .map(|i| {
                let mut r = Record::new("session");
                r.num("session_id", i).str("name", "a-reasonably-long-session-name");
                r
            })
            .collect();
        let parts = split_records(recs.clone());
        assert!(parts.len() > 1);
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let Reply::Records { more, records } = p else { panic!("not records") };
            assert_eq!(*more, i + 1 < parts.len());
            let b = rep(1, p.clone()).encode().unwrap();
            assert!(b.len() <= MAX_DATAGRAM);
            joined.extend(records.iter().cloned());
        }
        assert_eq!(joined, recs);
        assert_eq!(split_records(vec![]), vec![Reply::Records { more: false, records: vec![] }]);
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        let mut r = Record::new("x");
        r.str("k", "v").num("n", 3u64).flag("f", true);
        assert_eq!(r.to_json(), r#"{"k":"v","n":3,"f":true}"#);
    }

    #[test]
    fn selector_parse() {
        assert_eq!(Selector::parse("42"), Selector::Id(42));
        assert_eq!(Selector::parse("t1"), Selector::Name("t1".into()));
        assert_eq!(Selector::parse("99999999999"), Selector::Name("99999999999".into()));
    }

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ipc-test-{}-{tag}", std::process::id())).join("sub").join("ctl")
    }

    #[test]
    fn server_and_client_exchange_with_credentials() {
        let path = temp_path("xchg");
        let server = Server::bind(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir_meta = std::fs::metadata(path.parent().unwrap()).unwrap();
        assert_eq!(dir_meta.permissions().mode() & 0o777, 0o755);
        // A second daemon must not steal the socket of a live one.
        assert_eq!(Server::bind(&path).unwrap_err().kind(), io::ErrorKind::AddrInUse);

        let handle = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut c = Client::connect(&path).unwrap();
                c.call(Request::ShowTunnel(Selector::Name("t1".into())), Duration::from_secs(5))
            }
        });
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let got = loop {
            if let Some(r) = server.recv(&mut buf).unwrap() {
                break r;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(got.uid, Some(nix::unistd::geteuid().as_raw()));
        let m = Message::decode(&buf[..got.len]).unwrap();
        assert_eq!(m.body, Body::Request(Request::ShowTunnel(Selector::Name("t1".into()))));
        // A reply to another request id is skipped; a split reply is joined.
        server.send(&got.peer, &rep(m.request_id.wrapping_add(1), Reply::Done)).unwrap();
        let mut a = Record::new("a");
        a.num("n", 1u64);
        let mut b = Record::new("b");
        b.num("n", 2u64);
        server.send(&got.peer, &rep(m.request_id, Reply::Records { more: true, records: vec![a.clone()] })).unwrap();
        server.send(&got.peer, &rep(m.request_id, Reply::Records { more: false, records: vec![b.clone()] })).unwrap();
        let reply = handle.join().unwrap().unwrap();
        assert_eq!(reply, Reply::Records { more: false, records: vec![a, b] });

        drop(server);
        assert!(!path.exists(), "socket file left behind");
        let err = Client::connect(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn stale_socket_is_replaced_and_refuses_clients_meanwhile() {
        let path = temp_path("stale");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        drop(UnixDatagram::bind(&path).unwrap());
        assert!(path.exists());
        assert_eq!(Client::connect(&path).unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let server = Server::bind(&path).unwrap();
        assert!(Client::connect(&path).is_ok());
        drop(server);
        std::fs::write(&path, b"not a socket").unwrap();
        assert_eq!(Server::bind(&path).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn client_times_out_without_reply() {
        let path = temp_path("timeout");
        let _server = Server::bind(&path).unwrap();
        let mut c = Client::connect(&path).unwrap();
        let t0 = Instant::now();
        assert!(matches!(c.call(Request::Reload, Duration::from_millis(100)), Err(ClientError::Timeout)));
        assert!(t0.elapsed() >= Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn unbound_sender_is_received_without_address() {
        let path = temp_path("unbound");
        let server = Server::bind(&path).unwrap();
        let c = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let bytes = Message { request_id: 1, body: Body::Request(Request::Reload) }.encode().unwrap();
        c.send_to(&bytes, &path).unwrap();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = loop {
            if let Some(r) = server.recv(&mut buf).unwrap() {
                break r;
            }
            assert!(Instant::now() < deadline, "nothing received");
            std::thread::yield_now();
        };
        assert_eq!(got.len, bytes.len());
        assert!(got.peer.addr.is_none());
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }
}
