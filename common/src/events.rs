//! Publishing event records to watchers (`prol2tpwatch`, later
//! `propppwatch`) over a daemon's control socket.
//!
//! A watcher sends `Subscribe { events, tunnel }` and is answered `Done`;
//! from then on every event whose bit is in its mask (0 = all) and whose
//! tunnel matches its filter goes to its address as an `Event` message
//! carrying the subscription's request id and a sequence number counted per
//! watcher from 1 for every matching event, sent or not, so that a gap
//! tells the watcher how many it lost.
//!
//! Nothing here ever blocks the daemon: each event is sent with
//! `MSG_DONTWAIT`. A watcher that does not keep up (`EAGAIN`, `ENOBUFS`)
//! loses the event, which is counted for it and in total; a watcher that is
//! gone (`ECONNREFUSED`, `ENOENT`) is removed. Events are also held back
//! (and counted as dropped) when the control socket's send buffer is nearly
//! full, so that replies to the CLI always find room. At most
//! [`MAX_SUBSCRIBERS`] watchers at once; subscribing again from the same
//! address replaces that watcher's subscription.

use std::io;

use crate::ipc::{Body, Message, Peer, Record, Reply, Selector, Server, Value};
use crate::log::{self, Level};

/// Most watchers at once.
pub const MAX_SUBSCRIBERS: usize = 64;

/// Room (octets) kept free in the control socket's send buffer for replies
/// to requests: two of the largest datagrams with their overhead.
pub const REPLY_RESERVE: usize = 2 * (crate::ipc::MAX_DATAGRAM + 4096);

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    /// The requester's socket has no address to send events to.
    Unbound,
    /// [`MAX_SUBSCRIBERS`] watchers already.
    TooMany,
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscribeError::Unbound => f.write_str("the requester's socket has no address to send events to"),
            SubscribeError::TooMany => write!(f, "too many watchers (at most {MAX_SUBSCRIBERS})"),
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
    /// Events a watcher matched but did not get (it was not reading, or
    /// the send buffer was nearly full), over all watchers.
    pub dropped: u64,
    /// Watchers removed because their socket was gone.
    pub removed: u64,
}

/// One watcher.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Where events go.
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
}

/// The watchers of one daemon and what was sent to them.
#[derive(Debug, Default)]
pub struct Publisher {
    subscribers: Vec<Subscriber>,
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

impl Publisher {
    /// No watchers yet.
    pub fn new() -> Publisher {
        Publisher::default()
    }

    /// Adds the watcher at `peer` (or replaces its subscription, restarting
    /// its sequence numbers) for the event bits `events` (0 = all) and the
    /// optional tunnel filter. Errors: [`SubscribeError::Unbound`],
    /// [`SubscribeError::TooMany`].
    pub fn subscribe(&mut self, peer: &Peer, request_id: u32, events: u32, tunnel: Option<Selector>) -> Result<(), SubscribeError> {
        if !peer.is_bound() {
            return Err(SubscribeError::Unbound);
        }
        let sub = Subscriber { peer: peer.clone(), request_id, events, tunnel, seq: 0, sent: 0, dropped: 0 };
        if let Some(old) = self.subscribers.iter_mut().find(|s| s.peer == *peer) {
            *old = sub;
            return Ok(());
        }
        if self.subscribers.len() >= MAX_SUBSCRIBERS {
            return Err(SubscribeError::TooMany);
        }
        log::log(
            Level::Info,
            format_args!("watch subscribe peer={peer} events={events:#x} tunnel={}", sub.tunnel.as_ref().map(ToString::to_string).unwrap_or_default()),
        );
        self.subscribers.push(sub);
        Ok(())
    }

    /// Removes the watcher at `peer`; false when there was none.
    pub fn unsubscribe(&mut self, peer: &Peer) -> bool {
        let before = self.subscribers.len();
        self.subscribers.retain(|s| s.peer != *peer);
        let removed = self.subscribers.len() != before;
        if removed {
            log::log(Level::Info, format_args!("watch unsubscribe peer={peer}"));
        }
        removed
    }

    /// Sends `record` (an event with bit `bit`) to every watcher it
    /// matches, without blocking; see the module documentation for drops
    /// and removals.
    pub fn publish(&mut self, server: &Server, bit: u32, record: &Record) {
        if self.subscribers.is_empty() {
            return;
        }
        let room = match (server.send_buffer(), server.queued_octets()) {
            (Ok(size), Ok(queued)) => size.saturating_sub(queued) > REPLY_RESERVE,
            _ => true,
        };
        let mut gone = Vec::new();
        for (i, sub) in self.subscribers.iter_mut().enumerate() {
            if !sub.matches(bit, record) {
                continue;
            }
            sub.seq = sub.seq.saturating_add(1);
            let outcome = if room { send_one(server, sub, record) } else { Outcome::Dropped };
            match outcome {
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

fn send_one(server: &Server, sub: &Subscriber, record: &Record) -> Outcome {
    let msg = Message { request_id: sub.request_id, body: Body::Reply(Reply::Event { seq: sub.seq, record: record.clone() }) };
    match server.send(&sub.peer, &msg) {
        Ok(()) => Outcome::Sent,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS) => Outcome::Dropped,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOENT)) => Outcome::Gone,
        Err(e) => {
            log::log(Level::Debug, format_args!("watch send peer={} error=\"{e}\"", sub.peer));
            Outcome::Dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::Client;
    use std::path::PathBuf;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(5);

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("events-test-{}-{tag}", std::process::id())).join("ctl")
    }

    fn cleanup(path: &std::path::Path) {
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Answers requests on `server` until `n` subscriptions are in, like
    /// the daemon's control loop (which runs in the caller's thread here,
    /// so the clients subscribe from other threads).
    fn serve_subscriptions(server: &Server, publisher: &mut Publisher, n: usize) {
        let mut buf = vec![0u8; crate::ipc::MAX_DATAGRAM];
        let mut done = 0;
        while done < n {
            let Some(got) = server.recv(&mut buf).unwrap() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            let m = Message::decode(&buf[..got.len]).unwrap();
            let Body::Request(crate::ipc::Request::Subscribe { events, tunnel }) = m.body else { panic!("{m:?}") };
            let reply = match publisher.subscribe(&got.peer, m.request_id, events, tunnel) {
                Ok(()) => Reply::Done,
                Err(e) => Reply::Error { code: crate::ipc::ErrorCode::Failed, message: e.to_string() },
            };
            server.send(&got.peer, &Message { request_id: m.request_id, body: Body::Reply(reply) }).unwrap();
            done += 1;
        }
    }

    fn subscribed_client(path: &std::path::Path, events: u32, tunnel: Option<Selector>) -> std::thread::JoinHandle<Client> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let mut c = Client::unconnected(&path).unwrap();
            c.subscribe(events, tunnel, T).unwrap();
            c
        })
    }

    fn event(kind: &str, tid: u64, tunnel_name: &str) -> Record {
        let mut r = Record::new(kind);
        r.num("handle", 1u64).num("tid", tid).str("tunnel_name", tunnel_name);
        r
    }

    #[test]
    fn filters_by_bit_and_tunnel() {
        let path = temp_path("filters");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let all = subscribed_client(&path, 0, None);
        let up_only = subscribed_client(&path, 1 << 1, None);
        let by_id = subscribed_client(&path, 0, Some(Selector::Id(7)));
        let by_name = subscribed_client(&path, 0, Some(Selector::Name("b".into())));
        serve_subscriptions(&server, &mut p, 4);
        let (mut all, mut up_only, mut by_id, mut by_name) = (all.join().unwrap(), up_only.join().unwrap(), by_id.join().unwrap(), by_name.join().unwrap());
        assert_eq!(p.counters().subscribers, 4);

        p.publish(&server, 1 << 0, &event("TUNNEL CREATED", 7, "a"));
        p.publish(&server, 1 << 1, &event("TUNNEL UP", 7, "a"));
        p.publish(&server, 1 << 1, &event("TUNNEL UP", 8, "b"));

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
        drop(server);
        cleanup(&path);
    }

    #[test]
    fn stopped_reader_is_counted_closed_one_removed() {
        let path = temp_path("slow");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let slow = subscribed_client(&path, 0, None);
        let closed = subscribed_client(&path, 0, None);
        serve_subscriptions(&server, &mut p, 2);
        let (mut slow, closed) = (slow.join().unwrap(), closed.join().unwrap());
        drop(closed);
        // The slow one reads nothing while many events are published: its
        // receive queue fills (net.unix.max_dgram_qlen) and the rest are
        // dropped, never blocking.
        let n = 2000u64;
        for i in 0..n {
            p.publish(&server, 1 << 5, &event("SESSION UP", i, "a"));
        }
        let c = p.counters();
        assert_eq!(c.subscribers, 1, "{c:?}");
        assert_eq!(c.removed, 1, "{c:?}");
        assert!(c.dropped > 0, "{c:?}");
        assert_eq!(c.sent + c.dropped, n, "{c:?}");
        let sub = &p.subscribers()[0];
        assert_eq!((sub.seq, sub.sent, sub.dropped), (n, c.sent, c.dropped));
        // What it does read is in order, starting at 1, and the gap after
        // it shows the loss.
        let mut seqs = Vec::new();
        while let Some((seq, _)) = slow.next_event(Duration::from_millis(200)).unwrap() {
            seqs.push(seq);
        }
        assert_eq!(seqs, (1..=c.sent).collect::<Vec<_>>());
        p.publish(&server, 1 << 5, &event("SESSION UP", 0, "a"));
        assert_eq!(slow.next_event(T).unwrap().map(|(s, _)| s), Some(n + 1));
        drop(server);
        cleanup(&path);
    }

    #[test]
    fn resubscribe_replaces_and_limit_holds() {
        let path = temp_path("limit");
        let server = Server::bind(&path).unwrap();
        let mut p = Publisher::new();
        let first = subscribed_client(&path, 1, None);
        serve_subscriptions(&server, &mut p, 1);
        let mut c = first.join().unwrap();
        let again = std::thread::spawn(move || {
            c.subscribe(2, None, T).unwrap();
            c
        });
        serve_subscriptions(&server, &mut p, 1);
        let mut c = again.join().unwrap();
        assert_eq!(p.subscribers().len(), 1);
        assert_eq!(p.subscribers()[0].events, 2);
        p.publish(&server, 1, &event("TUNNEL CREATED", 1, ""));
        p.publish(&server, 2, &event("TUNNEL UP", 1, ""));
        assert_eq!(c.next_event(T).unwrap().map(|(s, r)| (s, r.kind)), Some((1, "TUNNEL UP".to_string())));

        let others: Vec<_> = (1..MAX_SUBSCRIBERS).map(|_| subscribed_client(&path, 0, None)).collect();
        serve_subscriptions(&server, &mut p, MAX_SUBSCRIBERS - 1);
        let _others: Vec<Client> = others.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(p.subscribers().len(), MAX_SUBSCRIBERS);
        let extra = std::thread::spawn({
            let path = path.clone();
            move || Client::unconnected(&path).unwrap().subscribe(0, None, T)
        });
        serve_subscriptions(&server, &mut p, 1);
        assert!(matches!(extra.join().unwrap(), Err(crate::ipc::ClientError::Refused { .. })));
        assert_eq!(p.subscribers().len(), MAX_SUBSCRIBERS);
        assert!(p.unsubscribe(&p.subscribers()[0].peer.clone()));
        assert_eq!(p.subscribers().len(), MAX_SUBSCRIBERS - 1);
        drop(server);
        cleanup(&path);
    }
}
