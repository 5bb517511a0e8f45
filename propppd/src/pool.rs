//! IPv4 address pools: named sets of address ranges from which the server
//! hands one address to each PPP session it negotiates IPCP with
//! (RFC 1332 section 3.3, IP-Address option).
//!
//! A [`PoolSet`] holds every pool of the configuration and the leases of
//! live sessions. Sessions are identified by a `u64` handle; a handle holds
//! at most one address. Two kinds of lease exist:
//!
//! - [`PoolSet::allocate`]: the lowest free address of a named pool;
//! - [`PoolSet::reserve`]: a given address, the static address of a user
//!   from the secrets file. When that address lies in a pool it is taken
//!   out of the pool while the session lives; when it lies in no pool it is
//!   still recorded, so that two sessions never get it at once.
//!
//! One map from address to owner covers every lease of every pool, which
//! is what guarantees that no address is ever handed to two live sessions.
//!
//! Allocation is amortised O(log n) in the number of released addresses:
//! a pool hands out never-used addresses from a cursor that walks its
//! ranges in ascending order (skipping addresses reserved as static ones),
//! and released addresses behind the cursor go to an ordered set from
//! which the lowest is taken first. Memory therefore grows with the number
//! of leases, not with the size of the ranges, so a `/8` costs nothing
//! until it is used.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::Ipv4Addr;

/// An inclusive range of IPv4 addresses, `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Range {
    /// The first address of the range.
    pub first: Ipv4Addr,
    /// The last address of the range (at least `first`).
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    /// Parses one range as written in a `range =` value:
    ///
    /// - `192.0.2.10-192.0.2.250`: both ends included (blanks around `-`
    ///   allowed), first not above last;
    /// - `198.51.100.0/24`: the prefix without its network and broadcast
    ///   addresses (prefix length 1..=30; `/31` gives both addresses as in
    ///   RFC 3021 and `/32` the one address); host bits must be zero;
    /// - `192.0.2.7`: one address.
    ///
    /// Addresses that may never be given to a peer are refused: `0.0.0.0/8`,
    /// loopback `127.0.0.0/8`, multicast `224.0.0.0/4` and `240.0.0.0/4`
    /// (which holds the limited broadcast address).
    ///
    /// # Errors
    /// A message saying what is wrong with `text`.
    pub fn parse(text: &str) -> Result<Ipv4Range, String> {
        let t = text.trim();
        let addr = |s: &str| s.trim().parse::<Ipv4Addr>().map_err(|_| format!("`{}` is not an IPv4 address", s.trim()));
        let range = if let Some((a, b)) = t.split_once('-') {
            let (first, last) = (addr(a)?, addr(b)?);
            if first > last {
                return Err(format!("range `{t}` ends before it starts"));
            }
            Ipv4Range { first, last }
        } else if let Some((a, l)) = t.split_once('/') {
            let net = addr(a)?;
            let len: u32 = match l.trim() {
                d if !d.is_empty() && d.len() <= 2 && d.bytes().all(|b| b.is_ascii_digit()) => d.parse().map_err(|_| format!("bad prefix length in `{t}`"))?,
                _ => return Err(format!("bad prefix length in `{t}`")),
            };
            if !(1..=32).contains(&len) {
                return Err(format!("prefix length in `{t}` must be 1 to 32"));
            }
            let host_bits = u32::MAX.checked_shr(len).unwrap_or(0);
            let base = u32::from(net);
            if base & host_bits != 0 {
                let fixed = Ipv4Addr::from(base & !host_bits);
                return Err(format!("`{t}` has host bits set: did you mean {fixed}/{len}?"));
            }
            let top = base | host_bits;
            let (first, last) = if len >= 31 { (base, top) } else { (base.saturating_add(1), top.saturating_sub(1)) };
            Ipv4Range { first: Ipv4Addr::from(first), last: Ipv4Addr::from(last) }
        } else {
            let a = addr(t)?;
            Ipv4Range { first: a, last: a }
        };
        if let Some(bad) = range.forbidden_part() {
            return Err(format!("`{t}` contains {bad} addresses, which cannot be given to a peer"));
        }
        Ok(range)
    }

    /// The number of addresses in the range (1..=2^32).
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last)).saturating_sub(u64::from(u32::from(self.first))).saturating_add(1)
    }

    /// Always false: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True when `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }

    /// True when the two ranges share an address.
    pub fn overlaps(&self, other: &Ipv4Range) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// The name of a forbidden block the range touches, if any.
    fn forbidden_part(&self) -> Option<&'static str> {
        const BLOCKS: [(u32, u32, &str); 4] = [
            (0x0000_0000, 0x00ff_ffff, "0.0.0.0/8"),
            (0x7f00_0000, 0x7fff_ffff, "loopback"),
            (0xe000_0000, 0xefff_ffff, "multicast"),
            (0xf000_0000, 0xffff_ffff, "reserved (240.0.0.0/4)"),
        ];
        let (a, b) = (u32::from(self.first), u32::from(self.last));
        BLOCKS.iter().find(|(lo, hi, _)| a <= *hi && *lo <= b).map(|(_, _, name)| *name)
    }
}

impl fmt::Display for Ipv4Range {
    /// `first-last`, or one address when the range holds one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Why a pool operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// No pool has this name.
    UnknownPool(String),
    /// Every address of the pool is in use.
    Exhausted(String),
    /// The address is held by another live session.
    InUse {
        /// The address asked for.
        addr: Ipv4Addr,
        /// The handle of the session holding it.
        owner: u64,
    },
    /// This session handle already holds an address.
    HandleBusy {
        /// The handle.
        handle: u64,
        /// The address it holds.
        addr: Ipv4Addr,
    },
    /// The address may not be given to a peer (loopback, multicast,
    /// `0.0.0.0/8`, `240.0.0.0/4`).
    Forbidden(Ipv4Addr),
    /// Building a set: a pool has no range.
    EmptyPool(String),
    /// Building a set: two ranges (of one pool or of two) share addresses.
    Overlap {
        /// The pool of the first range.
        pool: String,
        /// The first range.
        range: Ipv4Range,
        /// The pool of the second range.
        other_pool: String,
        /// The second range.
        other: Ipv4Range,
    },
    /// Building a set: the same pool name twice.
    DuplicatePool(String),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::UnknownPool(p) => write!(f, "no pool named `{p}`"),
            PoolError::Exhausted(p) => write!(f, "pool `{p}` has no free address"),
            PoolError::InUse { addr, owner } => write!(f, "address {addr} is in use by session {owner:#x}"),
            PoolError::HandleBusy { handle, addr } => write!(f, "session {handle:#x} already holds {addr}"),
            PoolError::Forbidden(a) => write!(f, "address {a} cannot be given to a peer"),
            PoolError::EmptyPool(p) => write!(f, "pool `{p}` has no range"),
            PoolError::Overlap { pool, range, other_pool, other } => {
                write!(f, "range {range} of pool `{pool}` overlaps range {other} of pool `{other_pool}`")
            }
            PoolError::DuplicatePool(p) => write!(f, "pool `{p}` defined twice"),
        }
    }
}

impl std::error::Error for PoolError {}

/// Occupation of one pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Number of addresses in the pool's ranges.
    pub size: u64,
    /// Number of them held by live sessions (allocated or reserved).
    pub used: u64,
}

/// One session's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The address.
    pub addr: Ipv4Addr,
    /// The pool it belongs to; `None` for a static address outside every
    /// pool.
    pub pool: Option<String>,
}

/// One named pool's ranges and free-address bookkeeping.
#[derive(Clone, Debug)]
struct Pool {
    /// Sorted, disjoint ranges as `(first, last)` integers.
    ranges: Vec<(u32, u32)>,
    /// Sum of the range sizes.
    size: u64,
    /// Index in `ranges` of the cursor.
    cursor_range: usize,
    /// Next never-handed address (as u64 so that it may pass 2^32 - 1).
    cursor: u64,
    /// Free addresses behind the cursor.
    released: BTreeSet<u32>,
    /// Addresses of this pool held by live sessions.
    used: u64,
}

impl Pool {
    /// A pool over `ranges` (already checked to be disjoint).
    fn new(mut ranges: Vec<(u32, u32)>) -> Pool {
        ranges.sort_unstable();
        let size = ranges.iter().map(|(a, b)| u64::from(*b).saturating_sub(u64::from(*a)).saturating_add(1)).sum();
        let cursor = ranges.first().map_or(0, |(a, _)| u64::from(*a));
        Pool { ranges, size, cursor_range: 0, cursor, released: BTreeSet::new(), used: 0 }
    }

    /// True when `addr` is in one of the ranges (binary search).
    fn contains(&self, addr: u32) -> bool {
        let i = self.ranges.partition_point(|(first, _)| *first <= addr);
        i.checked_sub(1).and_then(|j| self.ranges.get(j)).is_some_and(|(_, last)| addr <= *last)
    }

    /// True when the cursor has already passed `addr` (an address of the
    /// pool).
    fn behind_cursor(&self, addr: u32) -> bool {
        u64::from(addr) < self.cursor || self.cursor_range >= self.ranges.len()
    }

    /// The next free address, lowest released first, else from the cursor,
    /// skipping addresses for which `in_use` is true.
    fn take(&mut self, in_use: impl Fn(u32) -> bool) -> Option<u32> {
        while let Some(a) = self.released.pop_first() {
            if !in_use(a) {
                return Some(a);
            }
        }
        while let Some(&(_, last)) = self.ranges.get(self.cursor_range) {
            if self.cursor > u64::from(last) {
                self.cursor_range = self.cursor_range.saturating_add(1);
                self.cursor = self.ranges.get(self.cursor_range).map_or(self.cursor, |(a, _)| u64::from(*a));
                continue;
            }
            let candidate = u32::try_from(self.cursor).ok()?;
            self.cursor = self.cursor.saturating_add(1);
            if !in_use(candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// Puts `addr` (of this pool, no longer in use) back.
    fn give_back(&mut self, addr: u32) {
        if self.behind_cursor(addr) {
            self.released.insert(addr);
        }
    }
}

/// Every pool of the configuration and the leases of live sessions.
#[derive(Clone, Debug, Default)]
pub struct PoolSet {
    /// Pools by name.
    pools: HashMap<String, Pool>,
    /// Lease of each live session.
    leases: HashMap<u64, Lease>,
    /// Owner of each leased address, over all pools and statics.
    owners: HashMap<u32, u64>,
}

impl PoolSet {
    /// Builds the pools from `(name, ranges)` pairs.
    ///
    /// # Errors
    /// [`PoolError::DuplicatePool`], [`PoolError::EmptyPool`], or
    /// [`PoolError::Overlap`] when two ranges share an address, within one
    /// pool or across pools.
    pub fn new<I, S>(pools: I) -> Result<PoolSet, PoolError>
    where
        I: IntoIterator<Item = (S, Vec<Ipv4Range>)>,
        S: Into<String>,
    {
        let mut all: Vec<(Ipv4Range, String)> = Vec::new();
        let mut set = PoolSet::default();
        for (name, ranges) in pools {
            let name: String = name.into();
            if ranges.is_empty() {
                return Err(PoolError::EmptyPool(name));
            }
            if set.pools.contains_key(&name) {
                return Err(PoolError::DuplicatePool(name));
            }
            all.extend(ranges.iter().map(|r| (*r, name.clone())));
            let raw = ranges.iter().map(|r| (u32::from(r.first), u32::from(r.last))).collect();
            set.pools.insert(name, Pool::new(raw));
        }
        all.sort();
        for pair in all.windows(2) {
            if let [(r1, p1), (r2, p2)] = pair {
                if r1.overlaps(r2) {
                    return Err(PoolError::Overlap { pool: p1.clone(), range: *r1, other_pool: p2.clone(), other: *r2 });
                }
            }
        }
        Ok(set)
    }

    /// The pool names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pools.keys().map(String::as_str)
    }

    /// Gives session `handle` the lowest free address of pool `pool`.
    ///
    /// # Errors
    /// [`PoolError::UnknownPool`], [`PoolError::HandleBusy`] when the
    /// handle already holds an address, [`PoolError::Exhausted`].
    pub fn allocate(&mut self, pool: &str, handle: u64) -> Result<Ipv4Addr, PoolError> {
        if let Some(lease) = self.leases.get(&handle) {
            return Err(PoolError::HandleBusy { handle, addr: lease.addr });
        }
        let owners = &self.owners;
        let p = self.pools.get_mut(pool).ok_or_else(|| PoolError::UnknownPool(pool.to_string()))?;
        let addr = p.take(|a| owners.contains_key(&a)).ok_or_else(|| PoolError::Exhausted(pool.to_string()))?;
        p.used = p.used.saturating_add(1);
        self.owners.insert(addr, handle);
        let addr = Ipv4Addr::from(addr);
        self.leases.insert(handle, Lease { addr, pool: Some(pool.to_string()) });
        Ok(addr)
    }

    /// Gives session `handle` the static address `addr` (from the secrets
    /// file). If `addr` is in a pool it is taken out of that pool until
    /// released.
    ///
    /// # Errors
    /// [`PoolError::Forbidden`] for loopback, multicast, `0.0.0.0/8` and
    /// `240.0.0.0/4`; [`PoolError::HandleBusy`]; [`PoolError::InUse`] when
    /// another live session holds `addr`.
    pub fn reserve(&mut self, addr: Ipv4Addr, handle: u64) -> Result<(), PoolError> {
        if (Ipv4Range { first: addr, last: addr }).forbidden_part().is_some() {
            return Err(PoolError::Forbidden(addr));
        }
        if let Some(lease) = self.leases.get(&handle) {
            return Err(PoolError::HandleBusy { handle, addr: lease.addr });
        }
        let raw = u32::from(addr);
        if let Some(&owner) = self.owners.get(&raw) {
            return Err(PoolError::InUse { addr, owner });
        }
        let mut pool_name = None;
        if let Some((name, p)) = self.pools.iter_mut().find(|(_, p)| p.contains(raw)) {
            p.released.remove(&raw);
            p.used = p.used.saturating_add(1);
            pool_name = Some(name.clone());
        }
        self.owners.insert(raw, handle);
        self.leases.insert(handle, Lease { addr, pool: pool_name });
        Ok(())
    }

    /// Ends session `handle`'s lease and returns it; `None` when the handle
    /// holds no address (releasing twice is harmless).
    pub fn release(&mut self, handle: u64) -> Option<Lease> {
        let lease = self.leases.remove(&handle)?;
        let raw = u32::from(lease.addr);
        self.owners.remove(&raw);
        if let Some(p) = lease.pool.as_deref().and_then(|n| self.pools.get_mut(n)) {
            p.used = p.used.saturating_sub(1);
            p.give_back(raw);
        }
        Some(lease)
    }

    /// The session holding `addr`, if any.
    pub fn owner(&self, addr: Ipv4Addr) -> Option<u64> {
        self.owners.get(&u32::from(addr)).copied()
    }

    /// The lease of session `handle`, if any.
    pub fn lease(&self, handle: u64) -> Option<&Lease> {
        self.leases.get(&handle)
    }

    /// The name of the pool whose ranges hold `addr`, if any.
    pub fn pool_of(&self, addr: Ipv4Addr) -> Option<&str> {
        self.pools.iter().find(|(_, p)| p.contains(u32::from(addr))).map(|(n, _)| n.as_str())
    }

    /// Size and occupation of pool `pool`; `None` when there is no such pool.
    pub fn stats(&self, pool: &str) -> Option<PoolStats> {
        self.pools.get(pool).map(|p| PoolStats { size: p.size, used: p.used })
    }

    /// Number of live leases (pool and static).
    pub fn leases_len(&self) -> usize {
        self.leases.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Ipv4Range {
        Ipv4Range::parse(text).unwrap()
    }

    fn a(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn parse_forms() {
        assert_eq!(r("192.0.2.10-192.0.2.250"), Ipv4Range { first: a("192.0.2.10"), last: a("192.0.2.250") });
        assert_eq!(r(" 192.0.2.10 - 192.0.2.10 ").len(), 1);
        let c = r("198.51.100.0/24");
        assert_eq!((c.first, c.last, c.len()), (a("198.51.100.1"), a("198.51.100.254"), 254));
        assert_eq!(r("198.51.100.0/31").len(), 2);
        assert_eq!(r("198.51.100.7/32").len(), 1);
        assert_eq!(r("203.0.113.0/30").len(), 2);
        assert_eq!(r("192.0.2.7"), Ipv4Range { first: a("192.0.2.7"), last: a("192.0.2.7") });
        assert_eq!(r("10.0.0.0/8").len(), (1 << 24) - 2);
        assert_eq!(r("192.0.2.1-192.0.2.9").to_string(), "192.0.2.1-192.0.2.9");
        assert_eq!(r("192.0.2.1").to_string(), "192.0.2.1");
    }

    #[test]
    fn parse_errors() {
        for (bad, what) in [
            ("192.0.2.9-192.0.2.1", "ends before"),
            ("192.0.2.0/33", "1 to 32"),
            ("192.0.2.0/0", "1 to 32"),
            ("192.0.2.0/", "prefix length"),
            ("192.0.2.0/x", "prefix length"),
            ("192.0.2.1/24", "did you mean 192.0.2.0/24"),
            ("192.0.2", "not an IPv4"),
            ("", "not an IPv4"),
            ("192.0.2.1-", "not an IPv4"),
            ("127.0.0.1", "loopback"),
            ("126.255.255.250-128.0.0.1", "loopback"),
            ("224.0.0.0/24", "multicast"),
            ("255.255.255.255", "reserved"),
            ("0.0.0.0/8", "0.0.0.0/8"),
        ] {
            let e = Ipv4Range::parse(bad).unwrap_err();
            assert!(e.contains(what), "{bad}: {e}");
        }
    }

    fn set(ranges: &[&str]) -> PoolSet {
        PoolSet::new([("p", ranges.iter().map(|t| r(t)).collect::<Vec<_>>())]).unwrap()
    }

    #[test]
    fn exhaustion_and_release() {
        let mut s = set(&["192.0.2.1-192.0.2.2", "192.0.2.10"]);
        assert_eq!(s.stats("p"), Some(PoolStats { size: 3, used: 0 }));
        assert_eq!(s.allocate("p", 1).unwrap(), a("192.0.2.1"));
        assert_eq!(s.allocate("p", 2).unwrap(), a("192.0.2.2"));
        assert_eq!(s.allocate("p", 3).unwrap(), a("192.0.2.10"));
        assert_eq!(s.allocate("p", 4), Err(PoolError::Exhausted("p".into())));
        assert_eq!(s.stats("p").unwrap().used, 3);
        let lease = s.release(2).unwrap();
        assert_eq!(lease, Lease { addr: a("192.0.2.2"), pool: Some("p".into()) });
        assert_eq!(s.release(2), None);
        assert_eq!(s.stats("p").unwrap().used, 2);
        assert_eq!(s.allocate("p", 4).unwrap(), a("192.0.2.2"));
        assert_eq!(s.owner(a("192.0.2.2")), Some(4));
        assert_eq!(s.allocate("p", 5), Err(PoolError::Exhausted("p".into())));
        assert_eq!(s.allocate("q", 5), Err(PoolError::UnknownPool("q".into())));
        assert_eq!(s.allocate("p", 4), Err(PoolError::HandleBusy { handle: 4, addr: a("192.0.2.2") }));
        assert_eq!(s.leases_len(), 3);
    }

    #[test]
    fn statics_are_reserved_inside_and_outside_pools() {
        let mut s = set(&["192.0.2.1-192.0.2.3"]);
        s.reserve(a("192.0.2.2"), 10).unwrap();
        assert_eq!(s.stats("p").unwrap().used, 1);
        assert_eq!(s.lease(10).unwrap().pool.as_deref(), Some("p"));
        assert_eq!(s.allocate("p", 1).unwrap(), a("192.0.2.1"));
        assert_eq!(s.allocate("p", 2).unwrap(), a("192.0.2.3"));
        assert_eq!(s.allocate("p", 3), Err(PoolError::Exhausted("p".into())));
        assert_eq!(s.reserve(a("192.0.2.3"), 11), Err(PoolError::InUse { addr: a("192.0.2.3"), owner: 2 }));
        // Outside every pool: still never given twice.
        s.reserve(a("203.0.113.5"), 12).unwrap();
        assert_eq!(s.lease(12).unwrap().pool, None);
        assert_eq!(s.reserve(a("203.0.113.5"), 13), Err(PoolError::InUse { addr: a("203.0.113.5"), owner: 12 }));
        assert_eq!(s.reserve(a("127.0.0.1"), 13), Err(PoolError::Forbidden(a("127.0.0.1"))));
        // The static ahead of the cursor comes back to the pool on release.
        s.release(10).unwrap();
        assert_eq!(s.allocate("p", 3).unwrap(), a("192.0.2.2"));
        // A released address taken as a static is not handed out.
        s.release(1).unwrap();
        s.reserve(a("192.0.2.1"), 14).unwrap();
        assert_eq!(s.allocate("p", 15), Err(PoolError::Exhausted("p".into())));
        assert_eq!(s.stats("p").unwrap().used, 3);
        assert_eq!(s.pool_of(a("192.0.2.3")), Some("p"));
        assert_eq!(s.pool_of(a("192.0.2.9")), None);
    }

    #[test]
    fn overlap_duplicate_and_empty_are_refused() {
        let e = PoolSet::new([("a", vec![r("192.0.2.1-192.0.2.9")]), ("b", vec![r("192.0.2.9-192.0.2.20")])]).unwrap_err();
        assert!(matches!(e, PoolError::Overlap { .. }), "{e}");
        assert!(e.to_string().contains("overlaps"));
        let e = PoolSet::new([("a", vec![r("192.0.2.0/24"), r("192.0.2.5")])]).unwrap_err();
        assert!(matches!(e, PoolError::Overlap { .. }));
        assert_eq!(PoolSet::new([("a", vec![])]).unwrap_err(), PoolError::EmptyPool("a".into()));
        let e = PoolSet::new([("a", vec![r("192.0.2.1")]), ("a", vec![r("192.0.2.2")])]).unwrap_err();
        assert_eq!(e, PoolError::DuplicatePool("a".into()));
    }

    #[test]
    fn large_pool_allocates_every_address_once() {
        let mut s = set(&["10.0.0.0-10.0.255.255"]);
        let mut seen = std::collections::HashSet::new();
        for h in 0..65_536u64 {
            assert!(seen.insert(s.allocate("p", h).unwrap()));
        }
        assert_eq!(s.stats("p"), Some(PoolStats { size: 65_536, used: 65_536 }));
        assert!(matches!(s.allocate("p", 70_000), Err(PoolError::Exhausted(_))));
    }

    /// A small deterministic generator (xorshift64*), so that a failure
    /// can be replayed from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_sequence_never_double_allocates() {
        let mut s = PoolSet::new([("p", vec![r("192.0.2.1-192.0.2.100"), r("198.51.100.0/28")]), ("q", vec![r("203.0.113.0/29")])]).unwrap();
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        // The model: handle -> address and address -> handle.
        let mut live: HashMap<u64, Ipv4Addr> = HashMap::new();
        let mut by_addr: HashMap<Ipv4Addr, u64> = HashMap::new();
        let mut handles: Vec<u64> = Vec::new();
        let mut next_handle = 1u64;
        let (mut allocs, mut exhausted, mut refused) = (0u32, 0u32, 0u32);
        let used_in = |live: &HashMap<u64, Ipv4Addr>, s: &PoolSet, name: &str| live.values().filter(|v| s.pool_of(**v) == Some(name)).count() as u64;
        for step in 0..100_000u32 {
            let roll = rng.next() % 10;
            let handle = next_handle;
            let got = if roll < 5 {
                let pool = if rng.next() & 3 == 0 { "q" } else { "p" };
                match s.allocate(pool, handle) {
                    Ok(addr) => {
                        assert_eq!(s.pool_of(addr), Some(pool), "step {step}");
                        allocs += 1;
                        Some(addr)
                    }
                    Err(PoolError::Exhausted(_)) => {
                        assert_eq!(used_in(&live, &s, pool), s.stats(pool).unwrap().size, "step {step}: exhausted with free addresses");
                        exhausted += 1;
                        None
                    }
                    Err(e) => panic!("step {step}: {e}"),
                }
            } else if roll < 7 {
                // A static address anywhere in 192.0.2.1..=192.0.2.120:
                // mostly in pool p, some outside every pool.
                let addr = Ipv4Addr::new(192, 0, 2, 1 + (rng.next() % 120) as u8);
                match s.reserve(addr, handle) {
                    Ok(()) => Some(addr),
                    Err(PoolError::InUse { owner, .. }) => {
                        assert_eq!(by_addr.get(&addr), Some(&owner), "step {step}");
                        refused += 1;
                        None
                    }
                    Err(e) => panic!("step {step}: {e}"),
                }
            } else {
                if !handles.is_empty() {
                    let victim = handles.swap_remove((rng.next() % handles.len() as u64) as usize);
                    let lease = s.release(victim).unwrap();
                    let addr = live.remove(&victim).unwrap();
                    assert_eq!(lease.addr, addr);
                    by_addr.remove(&addr);
                }
                None
            };
            if let Some(addr) = got {
                assert!(by_addr.insert(addr, handle).is_none(), "step {step}: {addr} handed to two live sessions");
                live.insert(handle, addr);
                handles.push(handle);
                next_handle += 1;
            }
            if step % 97 == 0 {
                for name in ["p", "q"] {
                    assert_eq!(s.stats(name).unwrap().used, used_in(&live, &s, name), "step {step}: pool {name}");
                }
            }
        }
        assert_eq!(s.leases_len(), live.len());
        assert!(allocs > 1_000 && exhausted > 100 && refused > 100, "both paths exercised: {allocs} {exhausted} {refused}");
    }
}
