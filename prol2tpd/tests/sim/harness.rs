//! A deterministic two-endpoint simulation (test layer 3 of DESIGN.md,
//! quinn-proto's `Pair` idea): two [`Endpoint`]s on virtual time, joined
//! by a simulated network that delays, loses, duplicates and reorders
//! datagrams from a seeded generator.
//!
//! Nothing sleeps: [`Pair::step`] advances the virtual clock straight to
//! the next thing that can happen — the earlier of the two endpoints'
//! [`Endpoint::poll_timeout`] and the next datagram in flight — and does
//! it. The same seed gives the same run, packet for packet.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::rng::Rng;
use prol2tp::proto::endpoint::{Endpoint, EndpointConfig, Event, Transmit};
use prol2tp::proto::header::Transport;
use prol2tp::proto::tunnel::TunnelParams;

/// The network's own generator: xorshift64*, so that the loss pattern does
/// not depend on how many random numbers the endpoints draw.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed ^ 0x2545_f491_4f6c_dd1d })
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        (self.next_u64() % 1000) < u64::from(per_mille)
    }

    /// A uniform value in `0..=max` (0 when `max` is 0).
    pub fn below_or_eq(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

/// How the simulated network treats every datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// Base one-way delay.
    pub latency: Duration,
    /// Extra random delay, uniform in 0..=jitter: reorders datagrams whose
    /// send times are closer than it.
    pub jitter: Duration,
    /// Loss probability, per mille.
    pub loss: u32,
    /// Duplication probability, per mille (the copy gets its own delay).
    pub dup: u32,
}

impl NetConfig {
    /// 10 ms each way, nothing lost, duplicated or reordered.
    pub fn perfect() -> NetConfig {
        NetConfig { latency: Duration::from_millis(10), jitter: Duration::ZERO, loss: 0, dup: 0 }
    }

    /// `loss` per mille lost, plus 5 % duplicates and 30 ms of jitter
    /// (reordering).
    pub fn lossy(loss: u32) -> NetConfig {
        NetConfig { latency: Duration::from_millis(10), jitter: Duration::from_millis(30), loss, dup: 50 }
    }
}

/// What a filter decides for one datagram.
pub enum Verdict {
    /// Let the network carry it (it may still be lost).
    Pass,
    /// Drop it.
    Drop,
    /// Drop it and deliver these datagrams back to the sender instead
    /// (a crafted answer from "the peer").
    Answer(Vec<Vec<u8>>),
    /// Carry these bytes instead (a rewritten datagram; it may be lost).
    Replace(Vec<u8>),
}

/// A per-direction hook on what an endpoint sends: (virtual time since the
/// start, the datagram) → verdict.
pub type Filter = Box<dyn FnMut(Duration, &Transmit) -> Verdict>;

/// One side of the pair.
pub struct Node {
    /// The endpoint under test.
    pub ep: Endpoint,
    /// Its address (port 1701 for UDP; the port is 0 for IP-encapsulated
    /// datagrams it sends).
    pub addr: SocketAddr,
    /// Every event, with the virtual time it was seen.
    pub events: Vec<(Duration, Event)>,
    /// Every datagram it sent, with its virtual time (before loss).
    pub sent: Vec<(Duration, Transmit)>,
    /// Hook on what it sends.
    pub filter: Option<Filter>,
    /// Datagrams it received (after loss), counted.
    pub received: u64,
}

impl Node {
    fn new(ep: Endpoint, addr: SocketAddr) -> Node {
        Node { ep, addr, events: Vec::new(), sent: Vec::new(), filter: None, received: 0 }
    }

    /// The events for which `f` is true.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }
}

struct InFlight {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    transport: Transport,
    bytes: Vec<u8>,
}

/// Two endpoints and the network between them. Node 0 is the LAC (or
/// "A"), node 1 the LNS (or "B").
pub struct Pair {
    /// Start of virtual time.
    pub base: Instant,
    /// Current virtual time.
    pub now: Instant,
    /// The two sides.
    pub nodes: [Node; 2],
    /// Network behaviour, both directions.
    pub net: NetConfig,
    rng: XorShift,
    flight: Vec<InFlight>,
    seq: u64,
}

/// 192.0.2.1:1701, the LAC of the v4 runs.
pub fn lac_v4() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 1701))
}

/// 192.0.2.2:1701, the LNS of the v4 runs.
pub fn lns_v4() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 1701))
}

/// [2001:db8::1]:1701.
pub fn lac_v6() -> SocketAddr {
    SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 1701))
}

/// [2001:db8::2]:1701.
pub fn lns_v6() -> SocketAddr {
    SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2], 1701))
}

impl Pair {
    /// Two endpoints at `addrs` with their configs, endpoint generators
    /// seeded from `seed`, the network from `seed` too.
    pub fn new(seed: u64, addrs: [SocketAddr; 2], configs: [EndpointConfig; 2], net: NetConfig) -> Pair {
        let base = Instant::now();
        let [ca, cb] = configs;
        let a = Endpoint::new(ca, Rng::seeded(seed.wrapping_mul(2).wrapping_add(1)), base);
        let b = Endpoint::new(cb, Rng::seeded(seed.wrapping_mul(2).wrapping_add(2)), base);
        Pair { base, now: base, nodes: [Node::new(a, addrs[0]), Node::new(b, addrs[1])], net, rng: XorShift::new(seed), flight: Vec::new(), seq: 0 }
    }

    /// A LAC at 192.0.2.1 and an LNS at 192.0.2.2 with default configs.
    pub fn v4(seed: u64, net: NetConfig) -> Pair {
        Pair::new(seed, [lac_v4(), lns_v4()], [EndpointConfig::default(), EndpointConfig::default()], net)
    }

    /// Virtual time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// Makes node `i` accept every tunnel with `params`.
    pub fn accept_all(&mut self, i: usize, params: Rc<TunnelParams>) {
        self.nodes[i].ep.set_acceptor(Box::new(move |_from| Some(params.clone())));
    }

    /// Mutable access to endpoint `i`.
    pub fn ep(&mut self, i: usize) -> &mut Endpoint {
        &mut self.nodes[i].ep
    }

    /// Moves outputs of both endpoints: events into the logs, datagrams
    /// onto the network.
    fn collect(&mut self) {
        for i in 0..2 {
            while let Some(e) = self.nodes[i].ep.poll_event() {
                let at = self.now - self.base;
                self.nodes[i].events.push((at, e));
            }
            while let Some(t) = self.nodes[i].ep.poll_transmit() {
                self.launch(i, t);
            }
        }
    }

    fn launch(&mut self, i: usize, mut t: Transmit) {
        let at = self.now - self.base;
        self.nodes[i].sent.push((at, t.clone()));
        let other = 1 - i;
        let mut from = self.nodes[i].addr;
        if t.transport == Transport::Ip {
            from.set_port(0);
        }
        let verdict = match self.nodes[i].filter.as_mut() {
            Some(f) => f(at, &t),
            None => Verdict::Pass,
        };
        match verdict {
            Verdict::Drop => return,
            Verdict::Answer(replies) => {
                let mut back = self.nodes[other].addr;
                if t.transport == Transport::Ip {
                    back.set_port(0);
                }
                for bytes in replies {
                    self.schedule(i, back, t.transport, bytes);
                }
                return;
            }
            Verdict::Pass => {}
            Verdict::Replace(bytes) => t.bytes = bytes,
        }
        if t.to.ip() != self.nodes[other].addr.ip() {
            return; // addressed to nobody in the simulation
        }
        let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(self.net.loss) {
                continue;
            }
            self.schedule(other, from, t.transport, t.bytes.clone());
        }
    }

    fn schedule(&mut self, to: usize, from: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        let jitter_us = u64::try_from(self.net.jitter.as_micros()).unwrap_or(u64::MAX);
        let delay = self.net.latency + Duration::from_micros(self.rng.below_or_eq(jitter_us));
        self.seq += 1;
        self.flight.push(InFlight { at: self.now + delay, seq: self.seq, to, from, transport, bytes });
    }

    /// The next instant something happens, if anything is armed.
    pub fn next_event_time(&self) -> Option<Instant> {
        let a = self.nodes[0].ep.poll_timeout();
        let b = self.nodes[1].ep.poll_timeout();
        let f = self.flight.iter().map(|p| p.at).min();
        [a, b, f].into_iter().flatten().min()
    }

    /// Flushes outputs, then advances to the next thing that happens, no
    /// further than `limit`, and does it. Returns false when nothing
    /// happens before `limit` (the clock then stands at `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        self.collect();
        let Some(next) = self.next_event_time() else {
            self.now = self.now.max(limit);
            return false;
        };
        if next > limit {
            self.now = self.now.max(limit);
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        // Deliver everything due, in (time, send order).
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.flight.len() {
            if self.flight[i].at <= now {
                due.push(self.flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|p| (p.at, p.seq));
        for p in due {
            let local = Some(self.nodes[p.to].addr);
            self.nodes[p.to].received += 1;
            self.nodes[p.to].ep.handle_datagram(now, local, p.from, p.transport, &p.bytes);
            self.collect();
        }
        for i in 0..2 {
            if self.nodes[i].ep.poll_timeout().is_some_and(|d| d <= now) {
                self.nodes[i].ep.handle_timeout(now);
            }
        }
        self.collect();
        true
    }

    /// Runs until virtual time `d` from now has passed.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.step(limit) {}
        self.collect();
    }

    /// Runs until `cond` holds (checked after every step) or `max` virtual
    /// time has passed; returns whether it held.
    pub fn run_until(&mut self, max: Duration, mut cond: impl FnMut(&Pair) -> bool) -> bool {
        let limit = self.now + max;
        loop {
            self.collect();
            if cond(self) {
                return true;
            }
            if !self.step(limit) {
                self.collect();
                return cond(self);
            }
        }
    }

    /// Runs until nothing is armed any more, or `max` passed; returns true
    /// when the pair went quiet.
    pub fn run_to_quiet(&mut self, max: Duration) -> bool {
        let limit = self.now + max;
        while self.step(limit) {}
        self.next_event_time().is_none()
    }

    /// The IP of node `i`.
    pub fn ip(&self, i: usize) -> IpAddr {
        self.nodes[i].addr.ip()
    }
}
