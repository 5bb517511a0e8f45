//! AC-Cookies (RFC 2516 §5.2, Appendix A "AC-Cookie"; the RFC suggests a
//! cookie that lets the AC recognise its own PADO and resist PADR floods).
//!
//! A cookie is 20 octets: a 4-octet window number (big endian) followed by
//! the first 16 octets of HMAC-SHA1(secret, window ‖ iface ‖ client MAC). The
//! window number is `elapsed / lifetime` since the [`CookieJar`] was made. A
//! cookie is valid in its own window and the next one, so it lives between
//! one and two lifetimes. Nothing is stored per cookie: a PADR with a forged,
//! stale or other-MAC cookie is recognised without any state.

use super::packet::MacAddr;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{Duration, Instant};

/// Length of an AC-Cookie in octets.
pub const COOKIE_LEN: usize = 20;
/// Length of the truncated HMAC-SHA1 in a cookie, in octets.
const MAC_LEN: usize = 16;

/// Makes and checks AC-Cookies with one secret and window length.
#[derive(Clone)]
pub struct CookieJar {
    secret: [u8; 32],
    epoch: Instant,
    lifetime: Duration,
}

impl CookieJar {
    /// A jar keyed with `secret` (32 random octets), windows of `lifetime` counted from `epoch`.
    /// A zero `lifetime` is treated as 1 ms.
    pub fn new(secret: [u8; 32], epoch: Instant, lifetime: Duration) -> CookieJar {
        CookieJar { secret, epoch, lifetime: lifetime.max(Duration::from_millis(1)) }
    }

    /// The instant window 0 starts at.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Changes the window length (cookies made before may then be judged against other windows).
    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime.max(Duration::from_millis(1));
    }

    /// The window number at `now` (saturating at u32::MAX; times before the epoch are window 0).
    fn window(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.epoch).as_nanos();
        u32::try_from(elapsed / self.lifetime.as_nanos().max(1)).unwrap_or(u32::MAX)
    }

    fn digest(&self, window: u32, iface: u32, client: MacAddr) -> [u8; MAC_LEN] {
        let mut out = [0u8; MAC_LEN];
        // HMAC accepts keys of any length, so new_from_slice cannot fail here.
        if let Ok(mut h) = Hmac::<Sha1>::new_from_slice(&self.secret) {
            h.update(&window.to_be_bytes());
            h.update(&iface.to_be_bytes());
            h.update(&client.0);
            let full = h.finalize().into_bytes();
            for (o, b) in out.iter_mut().zip(full.iter()) {
                *o = *b;
            }
        }
        out
    }

    /// The cookie for `client` on `iface` at `now` (20 octets).
    pub fn make(&self, now: Instant, iface: u32, client: MacAddr) -> Vec<u8> {
        let w = self.window(now);
        let mut out = Vec::with_capacity(COOKIE_LEN);
        out.extend_from_slice(&w.to_be_bytes());
        out.extend_from_slice(&self.digest(w, iface, client));
        out
    }

    /// True when `cookie` was made by this jar for `client` on `iface` in the current or the previous window.
    pub fn check(&self, now: Instant, iface: u32, client: MacAddr, cookie: &[u8]) -> bool {
        if cookie.len() != COOKIE_LEN {
            return false;
        }
        let (wb, mac) = cookie.split_at(4);
        let w = u32::from_be_bytes([wb[0], wb[1], wb[2], wb[3]]);
        let cur = self.window(now);
        if w != cur && Some(w) != cur.checked_sub(1) {
            return false;
        }
        // Constant-time comparison: the cookie is attacker-supplied.
        let expect = self.digest(w, iface, client);
        expect.iter().zip(mac.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let t0 = Instant::now();
        let jar = CookieJar::new([7; 32], t0, Duration::from_secs(60));
        let a = MacAddr([2, 0, 0, 0, 0, 1]);
        let c = jar.make(t0 + Duration::from_secs(59), 3, a);
        assert_eq!(c.len(), COOKIE_LEN);
        assert_eq!(&c[..4], &[0, 0, 0, 0]);
        assert!(jar.check(t0 + Duration::from_secs(59), 3, a, &c));
        assert!(jar.check(t0 + Duration::from_secs(119), 3, a, &c));
        assert!(!jar.check(t0 + Duration::from_secs(120), 3, a, &c));
        assert!(!jar.check(t0, 4, a, &c));
        assert!(!jar.check(t0, 3, MacAddr([2, 0, 0, 0, 0, 2]), &c));
        let other = CookieJar::new([8; 32], t0, Duration::from_secs(60));
        assert!(!other.check(t0, 3, a, &c));
        let mut bad = c.clone();
        bad[19] ^= 1;
        assert!(!jar.check(t0, 3, a, &bad));
        assert!(!jar.check(t0, 3, a, &c[..19]));
        // A window from the future is refused.
        let future = jar.make(t0 + Duration::from_secs(61), 3, a);
        assert!(!jar.check(t0, 3, a, &future));
    }
}
