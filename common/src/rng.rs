//! A small random source for protocol cores: xoshiro256** seeded from the OS,
//! or from a fixed seed in tests.
//!
//! Protocol cores never touch the OS; they take a `&mut Rng`. The daemon
//! builds it with [`Rng::from_entropy`], tests with [`Rng::seeded`] so that
//! runs (tunnel ids, loss patterns of simulations) are reproducible.
//!
//! # Unpredictability
//!
//! xoshiro256** is fast and statistically good but not cryptographic: its
//! state can be reconstructed from a few outputs. That is acceptable for
//! identifiers (tunnel and session ids, initial Ns) whose guessability only
//! matters to an off-path attacker that never sees them. Values that must
//! stay secret even from someone who sees other outputs — CHAP challenges,
//! the RFC 2661 section 4.3 Random Vector, L2TPv3 cookies and nonces — are
//! drawn with [`Rng::fill_secret`], which reads the kernel's CSPRNG
//! (`getrandom(2)`) on every call for an entropy-seeded `Rng`, and falls
//! back to the PRNG only for a seeded (test) `Rng`.

use std::io;

/// A random source (see the module documentation).
#[derive(Debug, Clone)]
pub struct Rng {
    /// xoshiro256** state; never all zero.
    s: [u64; 4],
    /// True for [`Rng::from_entropy`]: secrets come from the OS.
    os_secrets: bool,
}

/// SplitMix64 step: expands one 64-bit seed into a well-mixed sequence; used
/// to seed xoshiro256** as its authors recommend.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `buf` from the kernel's CSPRNG with `getrandom(2)`, retrying on
/// `EINTR` and short reads.
///
/// # Errors
/// The OS error of `getrandom` (e.g. `ENOSYS` on kernels older than 3.17).
pub fn os_fill(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0usize;
    while let Some(rest) = buf.get_mut(done..) {
        if rest.is_empty() {
            break;
        }
        // SAFETY: `rest` is a valid, exclusively borrowed byte buffer of
        // `rest.len()` bytes; getrandom writes at most that many bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        // n >= 0 and n <= rest.len() here.
        done = done.saturating_add(n.unsigned_abs());
    }
    Ok(())
}

/// Fills `buf` from `/dev/urandom`; the fallback of [`Rng::from_entropy`].
fn urandom_fill(buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

impl Rng {
    /// A generator seeded from the OS (`getrandom(2)`, else `/dev/urandom`,
    /// else — on a system with neither — the clock, pid and an address,
    /// which is weak but never fails). [`Rng::fill_secret`] of this
    /// generator reads the OS on every call.
    pub fn from_entropy() -> Rng {
        let mut seed = [0u8; 32];
        if os_fill(&mut seed).is_err() && urandom_fill(&mut seed).is_err() {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            let addr = &seed as *const _ as u64;
            let mut st = t ^ u64::from(std::process::id()).rotate_left(32) ^ addr;
            for chunk in seed.chunks_mut(8) {
                let v = splitmix64(&mut st).to_le_bytes();
                chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or(&[]));
            }
        }
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        if s == [0; 4] {
            // The one state xoshiro cannot leave; astronomically unlikely.
            s[0] = 1;
        }
        Rng { s, os_secrets: true }
    }

    /// A deterministic generator: the same seed gives the same sequence on
    /// every platform and run. Meant for tests and simulations.
    pub fn seeded(seed: u64) -> Rng {
        let mut st = seed;
        let s = [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)];
        // SplitMix64 is a bijection of a counter, so four consecutive outputs
        // are never all zero.
        Rng { s, os_secrets: false }
    }

    /// The next 64 uniformly distributed bits (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// The next 32 uniformly distributed bits (the high half of
    /// [`Rng::next_u64`], the better half of xoshiro output).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Fills `buf` with PRNG output (not for secrets: see
    /// [`Rng::fill_secret`]).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            if let Some(src) = v.get(..chunk.len()) {
                chunk.copy_from_slice(src);
            }
        }
    }

    /// Fills `buf` with bytes an observer of other outputs cannot predict:
    /// from the kernel's CSPRNG for an [`Rng::from_entropy`] generator, from
    /// the PRNG for an [`Rng::seeded`] one (so tests stay deterministic).
    /// Use it for CHAP challenges, Random Vectors, cookies and nonces. If the
    /// OS call fails (kernel older than 3.17 and no `/dev/urandom`), the
    /// PRNG is used.
    pub fn fill_secret(&mut self, buf: &mut [u8]) {
        if self.os_secrets && (os_fill(buf).is_ok() || urandom_fill(buf).is_ok()) {
            return;
        }
        self.fill(buf);
    }

    /// A uniformly distributed value in `lo..=hi_inclusive` (without modulo
    /// bias). If `lo > hi_inclusive` the bounds are swapped.
    pub fn range_u32(&mut self, lo: u32, hi_inclusive: u32) -> u32 {
        let (lo, hi) = if lo <= hi_inclusive { (lo, hi_inclusive) } else { (hi_inclusive, lo) };
        let span = u64::from(hi - lo) + 1; // 1..=2^32, cannot overflow u64
                                           // Lemire's multiply-and-reject on 32-bit draws: the result is the high
                                           // 32 bits of draw * span; reject the low part's biased zone.
        let threshold = (1u64 << 32) % span;
        loop {
            let m = u64::from(self.next_u32()) * span;
            if (m & 0xffff_ffff) >= threshold {
                // m >> 32 < span <= 2^32, so it fits; lo + it <= hi.
                return lo + (m >> 32) as u32;
            }
        }
    }

    /// A non-zero 16-bit identifier that is not in use according to
    /// `in_use`, e.g. an L2TPv2 Tunnel ID or Session ID (RFC 2661 section
    /// 3.1: 0 is reserved). Tries up to 65,536 random ids, then scans;
    /// returns `None` only when every id `1..=65535` is in use.
    pub fn unused_id16(&mut self, mut in_use: impl FnMut(u16) -> bool) -> Option<u16> {
        for _ in 0..65_536u32 {
            let id = self.range_u32(1, u32::from(u16::MAX)) as u16;
            if !in_use(id) {
                return Some(id);
            }
        }
        // Fall back to a scan so a nearly full table still finds a free id.
        (1..=u16::MAX).find(|&id| !in_use(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_matches_reference() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = Rng::seeded(43);
        assert_ne!(xs[0], c.next_u64());

        // Reference: xoshiro256** with state {1, 2, 3, 4} (from the authors'
        // C code): first outputs 11520, 0, 1509978240, 1215971899390074240.
        let mut r = Rng { s: [1, 2, 3, 4], os_secrets: false };
        assert_eq!(r.next_u64(), 11520);
        assert_eq!(r.next_u64(), 0);
        assert_eq!(r.next_u64(), 1_509_978_240);
        assert_eq!(r.next_u64(), 1_215_971_899_390_074_240);
    }

    #[test]
    fn splitmix_reference() {
        // SplitMix64 from seed 0: first output 0xe220a8397b1dcdaf.
        let mut st = 0u64;
        assert_eq!(splitmix64(&mut st), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn range_stays_in_bounds_and_covers_it() {
        let mut r = Rng::seeded(7);
        let mut seen = [false; 6];
        for _ in 0..1000 {
            let v = r.range_u32(10, 15);
            assert!((10..=15).contains(&v));
            seen[(v - 10) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.range_u32(5, 5), 5);
        let v = r.range_u32(20, 10);
        assert!((10..=20).contains(&v));
        // Full range does not overflow.
        let _ = r.range_u32(0, u32::MAX);
        let v = r.range_u32(u32::MAX - 1, u32::MAX);
        assert!(v >= u32::MAX - 1);
    }

    #[test]
    fn fill_handles_odd_lengths() {
        let mut a = Rng::seeded(1);
        let mut buf = [0u8; 13];
        a.fill(&mut buf);
        let mut b = Rng::seeded(1);
        let first = b.next_u64().to_le_bytes();
        let second = b.next_u64().to_le_bytes();
        assert_eq!(&buf[..8], &first);
        assert_eq!(&buf[8..], &second[..5]);
        let mut empty = [0u8; 0];
        a.fill(&mut empty);
    }

    #[test]
    fn entropy_generators_differ_and_secrets_come_from_os() {
        let mut a = Rng::from_entropy();
        let mut b = Rng::from_entropy();
        assert_ne!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()), "two OS seeds collided");
        let mut s1 = [0u8; 32];
        let mut s2 = [0u8; 32];
        a.fill_secret(&mut s1);
        a.fill_secret(&mut s2);
        assert_ne!(s1, s2);
        assert_ne!(s1, [0u8; 32]);

        // A seeded generator's secrets are reproducible.
        let mut x = Rng::seeded(9);
        let mut y = Rng::seeded(9);
        x.fill_secret(&mut s1);
        y.fill(&mut s2);
        assert_eq!(s1, s2);
    }

    #[test]
    fn os_fill_fills_large_buffers() {
        let mut buf = vec![0u8; 100_000];
        os_fill(&mut buf).expect("getrandom");
        // 100,000 random bytes without one in the upper half is impossible.
        assert!(buf.iter().any(|&b| b >= 128));
        let zeros = buf.iter().filter(|&&b| b == 0).count();
        assert!(zeros < 1_000, "{zeros} zero bytes");
    }

    #[test]
    fn unused_id16_skips_taken_ids_and_zero() {
        let mut r = Rng::seeded(3);
        let id = r.unused_id16(|id| id != 4242).expect("one free id");
        assert_eq!(id, 4242);
        assert_eq!(r.unused_id16(|_| true), None);
        for _ in 0..1000 {
            assert_ne!(r.unused_id16(|_| false), Some(0));
        }
    }
}
