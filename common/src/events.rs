//! Publishing event records to watchers (`prol2tpwatch`, later
//! `propppwatch`).
//!
//! A watcher sends `Subscribe { events, tunnel }` from its event socket and
//! is answered with a [`Subscription`] record naming a socket made for it
//! alone: a non-blocking `AF_UNIX` datagram socket autobound in the
//! abstract namespace, with a send buffer of [`SENDER_BUFFER`] octets and
//! its reading side shut (the daemon never reads it, and nobody can queue
//! anything on it). The watcher connects its event socket to that sender;
//! from then on every event whose bit is in its mask (0 = all) and whose
//! tunnel matches its filter goes from the sender to the event socket as an
//! `Event` message carrying the subscription's request id and a sequence
//! number counted per watcher from 1 for every matching event, sent or not,
//! so that a gap tells the watcher how many it lost.
//!
//! Because the receiving socket is connected to its sender, the kernel
//! does not bound its queue by `net.unix.max_dgram_qlen` (Linux
//! `unix_dgram_sendmsg` skips that check when the receiver's peer is the
//! sender): only the sender's own send buffer does. So a watcher that keeps
//! reading loses nothing in a burst, and one that stops reading fills its
//! own sender's buffer and nothing else: not the control socket, which the
//! CLI's replies use, nor another watcher's.
//!
//! Nothing here ever blocks the daemon: each event is sent with
//! `MSG_DONTWAIT`. When a watcher's sender is full (`EAGAIN`, `ENOBUFS`)
//! the event is lost for it, counted for it and in total; a watcher that is
//! gone (`ECONNREFUSED`, `ENOENT`, `EPIPE`, or `EPERM` when its socket now
//! listens to another sender) is removed. At most [`MAX_SUBSCRIBERS`]
//! watchers at once; subscribing again from the same address replaces that
//! watcher's subscription (and sender). Unsubscribing, or dropping the
//! [`Publisher`], closes the senders; a watcher notices with
//! [`crate::ipc::Client::subscription_alive`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self as sock, MsgFlags, Shutdown, UnixAddr};

use crate::ipc::{Body, Message, Peer, Record, Reply, Selector, Subscription, Value};
use crate::log::{self, Level};

/// Most watchers at once.
pub const MAX_SUBSCRIBERS: usize = 64;

/// Send buffer asked for on each watcher's sender (octets; the kernel
/// doubles it for its overhead, and caps it at `net.core.wmem_max` unless
/// the daemon may use `SO_SNDBUFFORCE`). It bounds what one watcher that
/// is not reading can hold back: a few thousand event records.
pub const SENDER_BUFFER: usize = 1 << 20;

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    /// The requester's socket has no address to send events to.
    Unbound,
    /// [`MAX_SUBSCRIBERS`] watchers already.
    TooMany,
    /// The watcher's sending socket could not be made (the OS error).
    Socket(String),
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscribeError::Unbound => f.write_str("the requester's socket has no address to send events to"),
            SubscribeError::TooMany => write!(f, "too many watchers (at most {MAX_SUBSCRIBERS})"),
            SubscribeError::Socket(e) => write!(f, "cannot make an event socket: {e}"),
        }
    }
}

impl std::error::Error for SubscribeError {}

/// Counters for `show system` / `show statistics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Watchers subscribed now.
    pub subscribers: u64,
    /// Events sent, over all watchers.
    pub sent: u64,
    /// Events a watcher matched but did not get (its sender's buffer was
    /// full: it was not reading), over all watchers.
    pub dropped: u64,
    /// Watchers removed because their socket was gone.
    pub removed: u64,
}

/// One watcher.
#[derive(Debug)]
pub struct Subscriber {
    /// Where events go: the watcher's event socket.
    pub peer: Peer,
    /// The `Subscribe` request's id, carried by every event.
    pub request_id: u32,
    /// Event bits wanted; 0 = all.
    pub events: u32,
    /// Only events of this tunnel: `Id` matches the record's `tid` field,
    /// `Name` its `tunnel_name` field.
    pub tunnel: Option<Selector>,
    /// Sequence number of the last event that matched.
    pub seq: u64,
    /// Events sent to this watcher.
    pub sent: u64,
    /// Events this watcher matched but did not get.
    pub dropped: u64,
    /// The socket its events are sent from (see the module documentation).
    sender: OwnedFd,
    /// The sender's abstract name, without the leading NUL.
    sender_name: Vec<u8>,
}

impl Subscriber {
    /// True when an event with `bit` and `record` is for this watcher.
    pub fn matches(&self, bit: u32, record: &Record) -> bool {
        if self.events != 0 && self.events & bit == 0 {
            return false;
        }
        match &self.tunnel {
            None => true,
            Some(Selector::Id(id)) => record.get("tid") == Some(&Value::U64(u64::from(*id))),
            Some(Selector::Name(n)) => matches!(record.get("tunnel_name"), Some(Value::Str(s)) if s == n),
        }
    }

    /// The abstract name (without the leading NUL) its events come from.
    pub fn sender_name(&self) -> &[u8] {
        &self.sender_name
    }
}

/// The watchers of one daemon and what was sent to them.
#[derive(Debug, Default)]
pub struct Publisher {
    subscribers: Vec<Subscriber>,
    /// Events published, per event bit number (0..32).
    published: [u64; 32],
    sent: u64,
    dropped: u64,
    removed: u64,
}

/// What sending one event to one watcher came to.
enum Outcome {
    Sent,
    Dropped,
    Gone,
}

/// A watcher's sender: non-blocking, close-on-exec, autobound in the
/// abstract namespace, [`SENDER_BUFFER`] of send buffer, reading side shut
/// and the smallest receive buffer. Returns it with its abstract name.
fn open_sender() -> io::Result<(OwnedFd, Vec<u8>)> {
    let fd = sock::socket(sock::AddressFamily::Unix, sock::SockType::Datagram, sock::SockFlag::SOCK_CLOEXEC | sock::SockFlag::SOCK_NONBLOCK, None)?;
    sock::bind(fd.as_raw_fd(), &UnixAddr::new_unnamed())?;
    if sock::setsockopt(&fd, sock::sockopt::SndBufForce, &SENDER_BUFFER).is_err() {
        sock::setsockopt(&fd, sock::sockopt::SndBuf, &SENDER_BUFFER)?;
    }
    // The kernel raises this to its minimum; nothing is ever read here.
    sock::setsockopt(&fd, sock::sockopt::RcvBuf, &0)?;
    sock::shutdown(fd.as_raw_fd(), Shutdown::Read)?;
    let addr: UnixAddr = sock::getsockname(fd.as_raw_fd())?;
    let name = addr.as_abstract().map(<[u8]>::to_vec).ok_or_else(|| io::Error::other("event socket has no abstract name"))?;
    Ok((fd, name))
}

impl Publisher {
    /// No watchers yet.
    pub fn new() -> Publisher {
        Publisher::default()
    }

    /// Adds the watcher whose event socket is `peer` (or replaces its
    /// subscription, restarting its sequence numbers) for the event bits
    /// `events` (0 = all) and the optional tunnel filter, with a sender of
    /// its own. Returns what to answer (see [`Subscription`]). Errors:
    /// [`SubscribeError::Unbound`], [`SubscribeError::TooMany`],
    /// [`SubscribeError::Socket`].
    pub fn subscribe(&mut self, peer: &Peer, request_id: u32, events: u32, tunnel: Option<Selector>) -> Result<Subscription, SubscribeError> {
        if !peer.is_bound() {
            return Err(SubscribeError::Unbound);
        }
        let existing = self.subscribers.iter().position(|s| s.peer == *peer);
        if existing.is_none() && self.subscribers.len() >= MAX_SUBSCRIBERS {
            return Err(SubscribeError::TooMany);
        }
        let (sender, sender_name) = open_sender().map_err(|e| SubscribeError::Socket(e.to_string()))?;
        let answer = Subscription { events_address: sender_name.clone(), events_before: self.published(events) };
        let sub = Subscriber { peer: peer.clone(), request_id, events, tunnel, seq: 0, sent: 0, dropped: 0, sender, sender_name };
        log::log(
            Level::Info,
            format_args!(
                "watch subscribe peer={peer} events={events:#x} tunnel={} sender=@{}",
                sub.tunnel.as_ref().map(ToString::to_string).unwrap_or_default(),
                String::from_utf8_lossy(&sub.sender_name)
            ),
        );
        match existing.and_then(|i| self.subscribers.get_mut(i)) {
            Some(old) => *old = sub,
            None => self.subscribers.push(sub),
        }
        Ok(answer)
    }

    /// Removes the watcher at `peer`, closing its sender; false when there
    /// was none.
    pub fn unsubscribe(&mut self, peer: &Peer) -> bool {
        let before = self.subscribers.len();
        self.subscribers.retain(|s| s.peer != *peer);
        let removed = self.subscribers.len() != before;
        if removed {
            log::log(Level::Info, format_args!("watch unsubscribe peer={peer}"));
        }
        removed
    }

    /// Events published so far whose bit is in `mask` (0 = all).
    pub fn published(&self, mask: u32) -> u64 {
        self.published.iter().enumerate().filter(|(i, _)| mask == 0 || mask & (1u32 << i) != 0).fold(0u64, |a, (_, n)| a.saturating_add(*n))
    }

    /// Sends `record` (an event with bit `bit`) to every watcher it
    /// matches, each from its own sender, without blocking; see the module
    /// documentation for drops and removals.
    pub fn publish(&mut self, bit: u32, record: &Record) {
        if let Some(n) = self.published.get_mut(bit.trailing_zeros() as usize) {
            *n = n.saturating_add(1);
        }
        let mut gone = Vec::new();
        for (i, sub) in self.subscribers.iter_mut().enumerate() {
            if !sub.matches(bit, record) {
                continue;
            }
            sub.seq = sub.seq.saturating_add(1);
            match send_one(sub, record) {
                Outcome::Sent => {
                    sub.sent = sub.sent.saturating_add(1);
                    self.sent = self.sent.saturating_add(1);
                }
                Outcome::Dropped => {
                    sub.dropped = sub.dropped.saturating_add(1);
                    self.dropped = self.dropped.saturating_add(1);
                }
                Outcome::Gone => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            if i < self.subscribers.len() {
                let sub = self.subscribers.remove(i);
                self.removed = self.removed.saturating_add(1);
                log::log(Level::Info, format_args!("watch gone peer={} sent={} dropped={}", sub.peer, sub.sent, sub.dropped));
            }
        }
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        Counters { subscribers: self.subscribers.len() as u64, sent: self.sent, dropped: self.dropped, removed: self.removed }
    }

    /// The watchers subscribed now.
    pub fn subscribers(&self) -> &[Subscriber] {
        &self.subscribers
    }
}

fn send_one(sub: &Subscriber, record: &Record) -> Outcome {
    let Some(addr) = sub.peer.addr() else { return Outcome::Gone };
    let msg = Message { request_id: sub.request_id, body: Body::Reply(Reply::Event { seq: sub.seq, record: record.clone() }) };
    let bytes = match msg.encode() {
        Ok(b) => b,
        Err(e) => {
            log::log(Level::Warning, format_args!("watch encode kind={} error=\"{e}\"", record.kind));
            return Outcome::Dropped;
        }
    };
    match sock::sendto(sub.sender.as_raw_fd(), &bytes, addr, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
        Ok(_) => Outcome::Sent,
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::ENOBUFS) => Outcome::Dropped,
        Err(nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOENT | nix::errno::Errno::EPIPE | nix::errno::Errno::EPERM) => Outcome::Gone,
        Err(e) => {
            log::log(Level::Debug, format_args!("watch send peer={} error=\"{e}\"", sub.peer));
            Outcome::Dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{Client, ClientError, ErrorCode, Request, Server};
    use std::path::PathBuf;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(5);

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("events-test-{}-{tag}", std::process::id())).join("ctl")
    }

    fn cleanup(path: &std::path::Path) {
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Answers `n` subscribe / unsubscribe requests on `server` as the
    /// daemon's control loop does (in the caller's thread here, so the
    /// clients run in other threads).
    fn serve(server: &Server, publisher: &mut Publisher, n: usize) {
        let mut buf = vec![0u8; crate::ipc::MAX_DATAGRAM];
        let mut done = 0;
        while done < n {
            let Some(got) = server.recv(&mut buf).unwrap() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            let m = Message::decode(&buf[..got.len]).unwrap();
            let reply = match m.body {
                Body::Request(Request::Subscribe { events, tunnel }) => match publisher.subscribe(&got.peer, m.request_id, events, tunnel) {
                    Ok(sub) => Reply::Records { more: false, records: vec![sub.to_record()] },
                    Err(e) => Reply::Error { code: ErrorCode::Failed, message: e.to_string() },
                },
                Body::Request(Request::Unsubscribe) if publisher.unsubscribe(&got.peer) => Reply::Done,
                Body::Request(Request::Unsubscribe) => Reply::Error { code: ErrorCode::NotFound, message: "not subscribed".into() },
                b => panic!("{b:?}"),
            };
            server.send(&got.peer, &Message { request_id: m.request_id, body: Body::Reply(reply) }).unwrap();
            done += 1;
        }
    }

    fn subscribed_client(path: &std::path::Path, events: u32, tunnel: Option<Selector>) -> std::thread::JoinHandle<(Client, Subscription)> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let mut c = Client::connect(&path).unwrap();
            let sub = c.subscribe(events, tunnel, T).unwrap();
            (c, sub)
        })
    }

    fn subscribed(server: &Server, p: &mut Publisher, events: u32, tunnel: Option<Selector>) -> (Client, Subscription) {
        let h = subscribed_client(server.path(), events, tunnel);
        serve(server, p, 1);
        h.join().unwrap()
    }

    fn event(kind: &str, tid: u64, tunnel_name: &str) -> Record {
        let mut r = Record::new(kind);
        r.num("handle", 1u64).num("tid", tid).str("tunnel_name", tunnel_name);
        r
    }

    /// Every event the client has queued, as `seq`s.
    fn drain(c: &mut Client) -> Vec<u64> {
        let mut seqs = Vec::new();
        while let Some((seq, _)) = c.next_event(Duration::from_millis(200)).unwrap() {
            seqs.push(seq);
        }
        seqs
    }

    #[test]
    fn filters_by_bit_and_tunnel() {
        let path = temp_path("filters");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let (mut all, sub) = subscribed(&server, &mut p, 0, None);
        assert_eq!(sub.events_before, 0);
        assert_eq!(sub.events_address, p.subscribers()[0].sender_name());
        let (mut up_only, _) = subscribed(&server, &mut p, 1 << 1, None);
        let (mut by_id, _) = subscribed(&server, &mut p, 0, Some(Selector::Id(7)));
        let (mut by_name, _) = subscribed(&server, &mut p, 0, Some(Selector::Name("b".into())));
        assert_eq!(p.counters().subscribers, 4);

        p.publish(1 << 0, &event("TUNNEL CREATED", 7, "a"));
        p.publish(1 << 1, &event("TUNNEL UP", 7, "a"));
        p.publish(1 << 1, &event("TUNNEL UP", 8, "b"));

        let kinds = |c: &mut Client| {
            let mut out = Vec::new();
            while let Some((seq, r)) = c.next_event(Duration::from_millis(200)).unwrap() {
                out.push((seq, r.kind.clone(), r.get("tid").cloned()));
            }
            out
        };
        let u = |n| Some(Value::U64(n));
        assert_eq!(kinds(&mut all), vec![(1, "TUNNEL CREATED".to_string(), u(7)), (2, "TUNNEL UP".to_string(), u(7)), (3, "TUNNEL UP".to_string(), u(8))]);
        assert_eq!(kinds(&mut up_only), vec![(1, "TUNNEL UP".to_string(), u(7)), (2, "TUNNEL UP".to_string(), u(8))]);
        assert_eq!(kinds(&mut by_id), vec![(1, "TUNNEL CREATED".to_string(), u(7)), (2, "TUNNEL UP".to_string(), u(7))]);
        assert_eq!(kinds(&mut by_name), vec![(1, "TUNNEL UP".to_string(), u(8))]);
        assert_eq!(p.counters(), Counters { subscribers: 4, sent: 8, dropped: 0, removed: 0 });
        // What was published before a subscription, by the kinds it asks for.
        assert_eq!((p.published(0), p.published(1 << 1), p.published(1 << 5)), (3, 2, 0));
        let (_late, sub) = subscribed(&server, &mut p, (1 << 1) | (1 << 5), None);
        assert_eq!(sub.events_before, 2);
        drop(server);
        cleanup(&path);
    }

    #[test]
    fn a_reader_that_is_behind_loses_nothing_until_its_sender_is_full() {
        let path = temp_path("burst");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let (mut c, _) = subscribed(&server, &mut p, 0, None);
        // Far more datagrams than net.unix.max_dgram_qlen (10 by default)
        // wait unread: the receiver is connected to its sender, so only the
        // sender's buffer bounds them.
        let qlen: u64 = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(10);
        let n = (qlen * 20).max(500);
        for i in 0..n {
            p.publish(1 << 5, &event("SESSION UP", i, "a"));
        }
        assert_eq!(p.counters(), Counters { subscribers: 1, sent: n, dropped: 0, removed: 0 });
        assert_eq!(drain(&mut c), (1..=n).collect::<Vec<_>>());
        drop(server);
        cleanup(&path);
    }

    #[test]
    fn stopped_reader_is_counted_closed_one_removed() {
        let path = temp_path("slow");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let (mut slow, _) = subscribed(&server, &mut p, 0, None);
        let (closed, _) = subscribed(&server, &mut p, 0, None);
        drop(closed);
        // The slow one reads nothing while events are published until its
        // sender's buffer is full: the rest are dropped, never blocking.
        let mut n = 0u64;
        while p.counters().dropped < 100 && n < 200_000 {
            p.publish(1 << 5, &event("SESSION UP", n, "a"));
            n += 1;
        }
        let c = p.counters();
        assert_eq!(c.subscribers, 1, "{c:?}");
        assert_eq!(c.removed, 1, "{c:?}");
        assert_eq!(c.dropped, 100, "{c:?}");
        assert_eq!(c.sent + c.dropped, n, "{c:?}");
        let sub = &p.subscribers()[0];
        assert_eq!((sub.seq, sub.sent, sub.dropped), (n, c.sent, c.dropped));
        // What it does read is in order, starting at 1, and the gap after
        // it shows the loss.
        assert_eq!(drain(&mut slow), (1..=c.sent).collect::<Vec<_>>());
        p.publish(1 << 5, &event("SESSION UP", 0, "a"));
        assert_eq!(slow.next_event(T).unwrap().map(|(s, _)| s), Some(n + 1));
        drop(server);
        cleanup(&path);
    }

    #[test]
    fn resubscribe_replaces_unsubscribe_closes_and_limit_holds() {
        let path = temp_path("limit");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let (c, _) = subscribed(&server, &mut p, 1, None);
        assert!(c.subscription_alive().unwrap());
        // The same event socket subscribing again replaces its subscription
        // (a new sender; the old one is closed).
        let first_sender = p.subscribers()[0].sender_name().to_vec();
        let peer = p.subscribers()[0].peer.clone();
        let sub = p.subscribe(&peer, 99, 2, None).unwrap();
        assert_eq!(p.subscribers().len(), 1);
        assert_eq!((p.subscribers()[0].events, p.subscribers()[0].request_id), (2, 99));
        assert_ne!(sub.events_address, first_sender);
        assert!(!c.subscription_alive().unwrap(), "the replaced sender is closed");
        drop(c);

        let (mut c, _) = subscribed(&server, &mut p, 2, None);
        p.publish(1, &event("TUNNEL CREATED", 1, ""));
        p.publish(2, &event("TUNNEL UP", 1, ""));
        assert_eq!(c.next_event(T).unwrap().map(|(s, r)| (s, r.kind)), Some((1, "TUNNEL UP".to_string())));
        // The gone client's subscription was removed by that send.
        assert_eq!((p.subscribers().len(), p.counters().removed), (1, 1));
        let unsub = std::thread::spawn(move || {
            let r = c.unsubscribe(T);
            (c, r)
        });
        serve(&server, &mut p, 1);
        let (mut c, r) = unsub.join().unwrap();
        r.unwrap();
        assert!(p.subscribers().is_empty());
        assert!(matches!(c.next_event(T), Err(ClientError::Io(_))));
        assert!(matches!(c.unsubscribe(T), Err(ClientError::Refused { .. })));

        let others: Vec<_> = (0..MAX_SUBSCRIBERS).map(|_| subscribed_client(&path, 0, None)).collect();
        serve(&server, &mut p, MAX_SUBSCRIBERS);
        let others: Vec<(Client, Subscription)> = others.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(p.subscribers().len(), MAX_SUBSCRIBERS);
        let extra = std::thread::spawn({
            let path = path.clone();
            move || Client::connect(&path).unwrap().subscribe(0, None, T)
        });
        serve(&server, &mut p, 1);
        assert!(matches!(extra.join().unwrap(), Err(ClientError::Refused { .. })));
        assert_eq!(p.subscribers().len(), MAX_SUBSCRIBERS);
        // A daemon that goes away closes every sender: each watcher can tell.
        assert!(others.iter().all(|(c, _)| c.subscription_alive().unwrap()));
        drop(p);
        assert!(others.iter().all(|(c, _)| !c.subscription_alive().unwrap()));
        drop(server);
        cleanup(&path);
    }
}
