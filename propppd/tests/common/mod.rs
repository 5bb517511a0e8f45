//! The in-memory channel the PPP simulations share: two sides exchanging
//! frames at virtual times through a seeded channel that loses (per mille)
//! and delays (0–`jitter_ms`, which reorders) what each side sends.

use std::time::{Duration, Instant};

use proppp::proto::fsm::{Rng, SplitMix64};

/// One end of the channel.
pub trait Peer {
    /// Frames the side wants sent now.
    fn transmit(&mut self) -> Vec<Vec<u8>>;
    /// A frame arrives.
    fn receive(&mut self, now: Instant, bytes: &[u8]);
    /// A deadline of the side passed.
    fn timeout(&mut self, now: Instant);
    /// The side's next deadline.
    fn next_timeout(&self) -> Option<Instant>;
}

/// Two sides (0 and 1) and the frames between them.
pub struct Sim<P> {
    /// The two ends.
    pub sides: [P; 2],
    rng: SplitMix64,
    loss_per_mille: u32,
    jitter_ms: u32,
    /// `cut[i]` drops everything side `i` sends.
    pub cut: [bool; 2],
    /// (deliver at, sequence, to side, bytes)
    pub in_flight: Vec<(Instant, u64, usize, Vec<u8>)>,
    seq: u64,
    /// Virtual time.
    pub now: Instant,
}

impl<P: Peer> Sim<P> {
    /// A channel between `a` (side 0) and `b` (side 1).
    pub fn new(a: P, b: P, seed: u64, loss_per_mille: u32, jitter_ms: u32) -> Sim<P> {
        Sim { sides: [a, b], rng: SplitMix64(seed), loss_per_mille, jitter_ms, cut: [false; 2], in_flight: Vec::new(), seq: 0, now: Instant::now() }
    }

    fn collect(&mut self) {
        for from in 0..2 {
            for bytes in self.sides[from].transmit() {
                if self.cut[from] || self.rng.next_u32() % 1000 < self.loss_per_mille {
                    continue;
                }
                let delay = Duration::from_millis(u64::from(self.rng.next_u32() % (self.jitter_ms + 1)));
                self.seq += 1;
                self.in_flight.push((self.now + delay, self.seq, 1 - from, bytes));
            }
        }
    }

    /// Runs until `done` holds or virtual time reaches `end`, which then
    /// becomes the current time; returns whether `done`.
    pub fn run_until(&mut self, end: Instant, done: impl Fn(&Self) -> bool) -> bool {
        loop {
            self.collect();
            if done(self) {
                return true;
            }
            let next_packet = self.in_flight.iter().map(|(t, s, _, _)| (*t, *s)).min();
            let next_timer = self.sides.iter().filter_map(P::next_timeout).min();
            let next = match (next_packet.map(|p| p.0), next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if next > end || (next == end && next_packet.is_none() && next_timer.is_none()) {
                self.now = self.now.max(end);
                return false;
            }
            self.now = next;
            if let Some((t, s)) = next_packet.filter(|p| p.0 <= next) {
                let index = self.in_flight.iter().position(|(a, b, _, _)| (*a, *b) == (t, s)).unwrap();
                let (_, _, to, bytes) = self.in_flight.remove(index);
                self.sides[to].receive(self.now, &bytes);
            } else {
                for side in &mut self.sides {
                    side.timeout(self.now);
                }
            }
        }
    }

    /// [`Sim::run_until`] `limit` from now.
    pub fn run_for(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let end = self.now + limit;
        self.run_until(end, done)
    }
}
