//! CloudWatch metric units: the only unit names CloudWatch and EMF accept.

use std::fmt;
use std::str::FromStr;

/// A CloudWatch unit. The wire name is the exact CloudWatch spelling.
///
/// ```
/// use liftwatch::Unit;
/// assert_eq!("Milliseconds".parse::<Unit>(), Ok(Unit::Milliseconds));
/// assert_eq!(Unit::BytesPerSecond.as_str(), "Bytes/Second");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
    /// Kilobytes.
    Kilobytes,
    /// Megabytes.
    Megabytes,
    /// Gigabytes.
    Gigabytes,
    /// Terabytes.
    Terabytes,
    /// Bits.
    Bits,
    /// Kilobits.
    Kilobits,
    /// Megabits.
    Megabits,
    /// Gigabits.
    Gigabits,
    /// Terabits.
    Terabits,
    /// Percent.
    Percent,
    /// Count.
    Count,
    /// `Bytes/Second`.
    BytesPerSecond,
    /// `Kilobytes/Second`.
    KilobytesPerSecond,
    /// `Megabytes/Second`.
    MegabytesPerSecond,
    /// `Gigabytes/Second`.
    GigabytesPerSecond,
    /// `Terabytes/Second`.
    TerabytesPerSecond,
    /// `Bits/Second`.
    BitsPerSecond,
    /// `Kilobits/Second`.
    KilobitsPerSecond,
    /// `Megabits/Second`.
    MegabitsPerSecond,
    /// `Gigabits/Second`.
    GigabitsPerSecond,
    /// `Terabits/Second`.
    TerabitsPerSecond,
    /// `Count/Second`.
    CountPerSecond,
    /// No unit (`None` in CloudWatch).
    #[default]
    None,
}

const ALL: [(Unit, &str); 27] = [
    (Unit::Seconds, "Seconds"),
    (Unit::Microseconds, "Microseconds"),
    (Unit::Milliseconds, "Milliseconds"),
    (Unit::Bytes, "Bytes"),
    (Unit::Kilobytes, "Kilobytes"),
    (Unit::Megabytes, "Megabytes"),
    (Unit::Gigabytes, "Gigabytes"),
    (Unit::Terabytes, "Terabytes"),
    (Unit::Bits, "Bits"),
    (Unit::Kilobits, "Kilobits"),
    (Unit::Megabits, "Megabits"),
    (Unit::Gigabits, "Gigabits"),
    (Unit::Terabits, "Terabits"),
    (Unit::Percent, "Percent"),
    (Unit::Count, "Count"),
    (Unit::BytesPerSecond, "Bytes/Second"),
    (Unit::KilobytesPerSecond, "Kilobytes/Second"),
    (Unit::MegabytesPerSecond, "Megabytes/Second"),
    (Unit::GigabytesPerSecond, "Gigabytes/Second"),
    (Unit::TerabytesPerSecond, "Terabytes/Second"),
    (Unit::BitsPerSecond, "Bits/Second"),
    (Unit::KilobitsPerSecond, "Kilobits/Second"),
    (Unit::MegabitsPerSecond, "Megabits/Second"),
    (Unit::GigabitsPerSecond, "Gigabits/Second"),
    (Unit::TerabitsPerSecond, "Terabits/Second"),
    (Unit::CountPerSecond, "Count/Second"),
    (Unit::None, "None"),
];

impl Unit {
    /// The CloudWatch spelling, as written on the wire and in EMF.
    ///
    /// ```
    /// assert_eq!(liftwatch::Unit::CountPerSecond.as_str(), "Count/Second");
    /// ```
    pub fn as_str(self) -> &'static str {
        // `ALL` lists the variants in declaration order (checked by a test below).
        ALL.get(self as usize).map_or("None", |(_, name)| name)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a unit name CloudWatch does not know.
///
/// ```
/// use liftwatch::{Unit, UnknownUnit};
/// assert_eq!("ms".parse::<Unit>(), Err(UnknownUnit("ms".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownUnit(pub String);

impl fmt::Display for UnknownUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown cloudwatch unit {:?}", self.0)
    }
}

impl std::error::Error for UnknownUnit {}

impl FromStr for Unit {
    type Err = UnknownUnit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(unit, _)| *unit)
            .ok_or_else(|| UnknownUnit(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_round_trips_through_its_name() {
        for (i, (unit, name)) in ALL.into_iter().enumerate() {
            assert_eq!(unit as usize, i, "ALL is in declaration order");
            assert_eq!(unit.as_str(), name);
            assert_eq!(name.parse::<Unit>(), Ok(unit));
        }
    }

    #[test]
    fn names_are_case_sensitive_and_closed() {
        assert!("milliseconds".parse::<Unit>().is_err());
        assert!("Bytes/s".parse::<Unit>().is_err());
        assert!("".parse::<Unit>().is_err());
    }
}
