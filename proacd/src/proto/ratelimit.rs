//! A token bucket for PADI rate limiting per interface (RFC 2516 §5.1
//! PADIs are broadcast and unauthenticated, so an AC must bound its answers).

use std::time::{Duration, Instant};

/// Token bucket: holds up to `burst` tokens, refilled at `rate` per second; each answered PADI takes one.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens × 10⁹ (one token = 10⁹ units), so refills of `rate` × elapsed ns stay integer.
    tokens_ns: u128,
    last: Instant,
}

const NS: u128 = 1_000_000_000;

impl TokenBucket {
    /// A full bucket: `rate` tokens per second (0 = unlimited), at most `burst` tokens (0 is treated as 1).
    pub fn new(rate: u32, burst: u32, now: Instant) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket { rate, burst, tokens_ns: u128::from(burst) * NS, last: now }
    }

    /// Changes rate and burst, keeping the tokens present (capped at the new burst).
    pub fn reconfigure(&mut self, rate: u32, burst: u32) {
        self.rate = rate;
        self.burst = burst.max(1);
        self.tokens_ns = self.tokens_ns.min(u128::from(self.burst) * NS);
    }

    /// Takes one token at `now`; false when the bucket is empty. Always true when the rate is 0 (unlimited).
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let cap = u128::from(self.burst) * NS;
        let dt: Duration = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        // One token = NS / rate ns of refill; store tokens scaled by NS.
        self.tokens_ns = self.tokens_ns.saturating_add(dt.as_nanos().saturating_mul(u128::from(self.rate))).min(cap);
        if self.tokens_ns >= NS {
            self.tokens_ns -= NS;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 5);
        // 10 per second: after 1 s, 10 more.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| b.take(t1)).count(), 5, "capped at burst");
        let t2 = t1 + Duration::from_millis(300);
        assert_eq!((0..20).filter(|_| b.take(t2)).count(), 3);
        // Time going backwards refills nothing.
        assert!(!b.take(t1));
        let mut u = TokenBucket::new(0, 0, t0);
        assert!((0..1000).all(|_| u.take(t0)));
    }
}
