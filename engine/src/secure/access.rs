//! Access keys: compared in constant time; repeated failures from one address slowed down.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A shared secret a TLS client must present (KEY, `wire::CMD_EXT_KEY`). Only its SHA-256 is
/// kept, so comparing takes the same time whatever the length or content of a guess; it is never
/// logged or shown (`Debug` prints `AccessKey(****)`).
#[derive(Clone)]
pub struct AccessKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(****)")
    }
}

impl AccessKey {
    /// A key from its text. `None` for an empty key (an empty key would protect nothing).
    pub fn new(key: &str) -> Option<Self> {
        (!key.is_empty()).then(|| Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Whether `guess` (the bytes of a KEY frame) is this key, in constant time
    /// (`subtle::ConstantTimeEq` over the SHA-256 digests).
    pub fn matches(&self, guess: &[u8]) -> bool {
        let g: [u8; 32] = Sha256::digest(guess).into();
        bool::from(self.digest.ct_eq(&g))
    }
}

/// First delay after a failed key from an address: 250 ms, doubling per further failure.
pub const FIRST_PENALTY: Duration = Duration::from_millis(250);
/// Longest delay imposed on an address: 10 s.
pub const MAX_PENALTY: Duration = Duration::from_secs(10);
/// Failures are forgotten after this long without another: 10 minutes.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Addresses remembered at most (older entries are pruned first): 10,000.
pub const MAX_TRACKED: usize = 10_000;

/// Counts failed keys per client IP address and says how long that address must wait before its
/// next key is looked at: 0 before any failure, then [`FIRST_PENALTY`] doubling per failure up
/// to [`MAX_PENALTY`]. A correct key clears the address. Memory is bounded by [`MAX_TRACKED`].
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// How long a key from `ip` waits before it is checked.
    pub fn delay(&self, ip: IpAddr) -> Duration {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some((n, at)) if at.elapsed() < FORGET_AFTER && *n > 0 => {
                let step = FIRST_PENALTY.saturating_mul(1u32 << (n - 1).min(16));
                step.min(MAX_PENALTY)
            }
            _ => Duration::ZERO,
        }
    }

    /// Records a failed key from `ip`; returns the failures counted for it.
    pub fn failed(&self, ip: IpAddr) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now();
        entry.0
    }

    /// Forgets the failures of `ip` (after a correct key).
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_only_themselves() {
        let k = AccessKey::new("s3cret").expect("non-empty");
        assert!(k.matches(b"s3cret"));
        assert!(!k.matches(b"s3cre"));
        assert!(!k.matches(b"s3cret "));
        assert!(!k.matches(b""));
        assert!(AccessKey::new("").is_none());
        assert_eq!(format!("{k:?}"), "AccessKey(****)");
    }

    #[test]
    fn failures_double_the_delay_up_to_the_cap_and_success_clears_it() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        assert_eq!(t.delay(ip), Duration::ZERO);
        t.failed(ip);
        assert_eq!(t.delay(ip), Duration::from_millis(250));
        t.failed(ip);
        assert_eq!(t.delay(ip), Duration::from_millis(500));
        for _ in 0..20 {
            t.failed(ip);
        }
        assert_eq!(t.delay(ip), MAX_PENALTY);
        assert_eq!(t.delay(other), Duration::ZERO, "per address");
        t.succeeded(ip);
        assert_eq!(t.delay(ip), Duration::ZERO);
    }
}
