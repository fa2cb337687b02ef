//! Wall-clock time as Unix numbers: the one place the workspace reads `SystemTime` into
//! milliseconds, seconds or nanoseconds. A clock set before 1970 reads as 0; a value past
//! `u64::MAX` saturates. Code that must be testable takes these numbers as arguments
//! instead of calling the clock itself.

use std::time::{SystemTime, UNIX_EPOCH};

/// `at` in Unix milliseconds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(liftwatch::clock::unix_ms(UNIX_EPOCH + Duration::from_millis(1_500)), 1_500);
/// assert_eq!(liftwatch::clock::unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
/// ```
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `at` in Unix seconds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(liftwatch::clock::unix_secs(UNIX_EPOCH + Duration::from_millis(1_999)), 1);
/// ```
pub fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `at` in Unix nanoseconds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(liftwatch::clock::unix_nanos(UNIX_EPOCH + Duration::from_micros(3)), 3_000);
/// ```
pub fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Now, in Unix milliseconds.
///
/// ```
/// assert!(liftwatch::clock::now_ms() > 1_700_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// Now, in Unix seconds.
pub fn now_secs() -> u64 {
    unix_secs(SystemTime::now())
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> u64 {
    unix_nanos(SystemTime::now())
}
