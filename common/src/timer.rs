//! The one timer structure that owns every deadline of a daemon.
//!
//! STYLE.md rule 7: protocol objects expose deadlines (`poll_timeout()`), the
//! loop stores them here under a key of its choosing (typically an enum such
//! as `(TunnelId, TimerKind)`), asks [`TimerWheel::next_deadline`] how long it
//! may sleep, and on wake-up collects the due keys with
//! [`TimerWheel::expire`]. Objects re-check their own state when told a key
//! expired, so an early or stale wake-up is a no-op.
//!
//! # Model
//!
//! Each key has at most one deadline. The structure is an ordered index
//! `(deadline, sequence) -> key` (a `BTreeMap`) plus a hash map
//! `key -> (deadline, sequence)`. Compared with the alternatives the brief
//! allowed:
//!
//! * a hashed/hierarchical wheel rounds deadlines to ticks and needs a
//!   cascade for far-future deadlines; the deadlines of this suite are few per
//!   object (retransmit, hello, idle) and range from milliseconds to hours;
//! * a binary heap needs lazy cancellation, so re-arming a retransmit timer on
//!   every acknowledgement leaves tombstones that grow the heap.
//!
//! The ordered index gives exact deadlines, eager cancellation and
//! O(log n) `set`/`cancel`, O(log n) `next_deadline`, and O(k log n)
//! `expire` for k due keys, with no tick granularity. 100,000 keys cost
//! about 100 bytes each.
//!
//! Keys that expire at the same instant come out in the order they were
//! armed (the sequence number breaks ties), so runs are deterministic.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Deadlines of a daemon, one per key (see the module documentation).
///
/// `K` is the caller's key: `Copy + Eq + Hash`, usually a small enum or a
/// tuple of ids.
#[derive(Debug, Clone)]
pub struct TimerWheel<K> {
    /// Ordered index: earliest deadline first, ties in arming order.
    order: BTreeMap<(Instant, u64), K>,
    /// Current deadline and sequence number of each armed key.
    armed: HashMap<K, (Instant, u64)>,
    /// Next sequence number; wraps after 2^64 arms, which does not happen.
    seq: u64,
    /// Time of the last `expire` call (or of construction); informational.
    last_expire: Instant,
}

impl<K: Copy + Eq + Hash> TimerWheel<K> {
    /// Creates an empty wheel. `now` is the loop's current time; it is only
    /// recorded (see [`TimerWheel::last_expire`]).
    pub fn new(now: Instant) -> Self {
        TimerWheel { order: BTreeMap::new(), armed: HashMap::new(), seq: 0, last_expire: now }
    }

    /// Arms (or re-arms, replacing any earlier deadline of the same key)
    /// `key` at `deadline`. A deadline in the past is allowed: the key
    /// expires at the next [`TimerWheel::expire`]. O(log n).
    pub fn set(&mut self, key: K, deadline: Instant) {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if let Some(old) = self.armed.insert(key, (deadline, seq)) {
            self.order.remove(&old);
        }
        self.order.insert((deadline, seq), key);
    }

    /// Disarms `key`; does nothing if it is not armed. O(log n).
    pub fn cancel(&mut self, key: K) {
        if let Some(old) = self.armed.remove(&key) {
            self.order.remove(&old);
        }
    }

    /// The deadline `key` is armed at, or `None` when it is not armed. O(1).
    pub fn deadline(&self, key: K) -> Option<Instant> {
        self.armed.get(&key).map(|&(deadline, _)| deadline)
    }

    /// The earliest armed deadline, or `None` when nothing is armed: the loop
    /// may sleep until then. O(log n).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.keys().next().map(|&(deadline, _)| deadline)
    }

    /// Removes the keys whose deadline is `<= now` and appends them to `out`
    /// (which is not cleared), earliest deadline first, keys with equal
    /// deadlines in the order they were armed. O(k log n) for k due keys.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        self.last_expire = now;
        while let Some(entry) = self.order.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.armed.remove(&key);
            out.push(key);
        }
    }

    /// Number of armed keys.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// True when no key is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// Disarms every key.
    pub fn clear(&mut self) {
        self.order.clear();
        self.armed.clear();
    }

    /// The `now` of the last [`TimerWheel::expire`] call, or of
    /// [`TimerWheel::new`] if there was none.
    pub fn last_expire(&self) -> Instant {
        self.last_expire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn expires_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.set('c', t0 + ms(30));
        w.set('a', t0 + ms(10));
        w.set('b', t0 + ms(20));
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_deadline(), Some(t0 + ms(10)));

        let mut out = Vec::new();
        w.expire(t0 + ms(9), &mut out);
        assert!(out.is_empty());
        w.expire(t0 + ms(20), &mut out);
        assert_eq!(out, vec!['a', 'b']);
        assert_eq!(w.len(), 1);
        assert_eq!(w.next_deadline(), Some(t0 + ms(30)));
        assert_eq!(w.deadline('a'), None);
        assert_eq!(w.deadline('c'), Some(t0 + ms(30)));
        w.expire(t0 + ms(1000), &mut out);
        assert_eq!(out, vec!['a', 'b', 'c']);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
        assert_eq!(w.last_expire(), t0 + ms(1000));
    }

    #[test]
    fn rearm_replaces_earlier_deadline() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.set(1u32, t0 + ms(10));
        w.set(1u32, t0 + ms(50));
        assert_eq!(w.len(), 1);
        assert_eq!(w.deadline(1), Some(t0 + ms(50)));
        assert_eq!(w.next_deadline(), Some(t0 + ms(50)));
        let mut out = Vec::new();
        w.expire(t0 + ms(10), &mut out);
        assert!(out.is_empty(), "old deadline must not fire");
        // Re-arm earlier also works.
        w.set(1u32, t0 + ms(5));
        w.expire(t0 + ms(10), &mut out);
        assert_eq!(out, vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn cancel_removes_and_is_idempotent() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.set(7u16, t0 + ms(1));
        w.set(8u16, t0 + ms(2));
        w.cancel(7);
        w.cancel(7);
        w.cancel(99);
        assert_eq!(w.len(), 1);
        assert_eq!(w.deadline(7), None);
        assert_eq!(w.next_deadline(), Some(t0 + ms(2)));
        let mut out = Vec::new();
        w.expire(t0 + ms(100), &mut out);
        assert_eq!(out, vec![8]);
    }

    #[test]
    fn same_deadline_many_keys_come_out_in_arming_order() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let d = t0 + ms(100);
        for k in (0..10_000u32).rev() {
            w.set(k, d);
        }
        // Re-arming moves a key to the back of its deadline's queue.
        w.set(9_999, d);
        assert_eq!(w.len(), 10_000);
        let mut out = Vec::new();
        w.expire(d, &mut out);
        assert_eq!(out.len(), 10_000);
        let mut expected: Vec<u32> = (0..9_999u32).rev().collect();
        expected.push(9_999);
        assert_eq!(out, expected);
        assert!(w.is_empty());
    }

    #[test]
    fn far_future_and_past_deadlines() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let year = Duration::from_secs(365 * 24 * 3600);
        w.set("far", t0 + year);
        w.set("past", t0);
        let mut out = Vec::new();
        w.expire(t0, &mut out);
        assert_eq!(out, vec!["past"]);
        w.expire(t0 + year - ms(1), &mut out);
        assert_eq!(out, vec!["past"]);
        assert_eq!(w.next_deadline(), Some(t0 + year));
        w.expire(t0 + year, &mut out);
        assert_eq!(out, vec!["past", "far"]);
    }

    #[test]
    fn hundred_thousand_keys_mixed_operations() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        for k in 0..100_000u32 {
            w.set(k, t0 + ms(u64::from(k % 1000)));
        }
        // Cancel every odd key, re-arm every key divisible by 10 far away.
        for k in (1..100_000u32).step_by(2) {
            w.cancel(k);
        }
        for k in (0..100_000u32).step_by(10) {
            w.set(k, t0 + Duration::from_secs(3600));
        }
        assert_eq!(w.len(), 50_000);
        let mut out = Vec::new();
        w.expire(t0 + ms(999), &mut out);
        assert_eq!(out.len(), 40_000);
        assert!(out.iter().all(|k| k % 2 == 0 && k % 10 != 0));
        // Earliest first: deadlines (k % 1000) are non-decreasing.
        assert!(out.windows(2).all(|p| p[0] % 1000 <= p[1] % 1000));
        assert_eq!(w.len(), 10_000);
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn expire_appends_without_clearing() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.set(2u8, t0);
        let mut out = vec![1u8];
        w.expire(t0, &mut out);
        assert_eq!(out, vec![1, 2]);
        w.set(3u8, t0);
        w.clear();
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }
}
