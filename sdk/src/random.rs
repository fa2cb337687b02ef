//! Randomness from the operating system, for the ids and jitter that must differ between
//! sandboxes: every call asks the kernel (`getrandom(2)`), so two processes restored from
//! one SnapStart snapshot draw different numbers from the first call after the restore.
//! A generator seeded once at start, or the standard library's hasher keys (read once per
//! thread, then only incremented), would repeat in every restored copy.
//!
//! Should the kernel refuse (it does not on Lambda), the fallback mixes the time, the
//! process id and a counter through the standard library's keyed hasher.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// 64 random bits.
///
/// ```
/// assert_ne!(liftwatch::random::u64(), liftwatch::random::u64());
/// ```
pub fn u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| fallback())
}

/// A number in `[0, 1)` with 53 random bits.
///
/// ```
/// let x = liftwatch::random::fraction();
/// assert!((0.0..1.0).contains(&x));
/// ```
pub fn fraction() -> f64 {
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `bits` random bits (at most 128) as lowercase hex, two characters a byte: an id that
/// must be unique per sandbox (128 bits cannot collide in practice).
///
/// ```
/// let id = liftwatch::random::hex_id(128);
/// assert_eq!(id.len(), 32);
/// assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
/// ```
pub fn hex_id(bits: u32) -> String {
    let bytes = (bits.min(128) as usize).div_ceil(8);
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw[..bytes]).is_err() {
        raw[..8].copy_from_slice(&fallback().to_le_bytes());
        raw[8..].copy_from_slice(&fallback().to_le_bytes());
    }
    raw[..bytes].iter().map(|b| format!("{b:02x}")).collect()
}

fn fallback() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let calls = CALLS.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one((crate::clock::now_nanos(), std::process::id(), calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_stay_in_the_unit_interval_and_vary() {
        let samples: Vec<f64> = (0..256).map(|_| fraction()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.3..0.7).contains(&mean), "{mean}");
    }

    #[test]
    fn ids_have_the_asked_length_and_differ() {
        assert_eq!(hex_id(64).len(), 16);
        assert_eq!(hex_id(12).len(), 4);
        assert_eq!(hex_id(999).len(), 32);
        assert_ne!(hex_id(128), hex_id(128));
    }

    #[test]
    fn the_fallback_differs_between_calls() {
        assert_ne!(fallback(), fallback());
    }
}
