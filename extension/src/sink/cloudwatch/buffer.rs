//! The CloudWatch sink's kept data: datums not sent by a flush's deadline wait here, oldest
//! first, and go out first at the next export. Bounded; the oldest are dropped beyond it.

use std::collections::VecDeque;

use super::batch::Datum;

/// Datums kept at most.
pub const MAX_KEPT_DATUMS: usize = 20_000;
/// Distinct values kept at most, across the kept datums: bounds memory (16 bytes each, so
/// about 3 MB) when datums are large.
pub const MAX_KEPT_VALUES: usize = 200_000;

/// Datums waiting for the next export, oldest first.
#[derive(Debug, Default)]
pub struct Kept {
    datums: VecDeque<Datum>,
    distinct_values: usize,
}

impl Kept {
    /// Appends `datums` (oldest first) and drops the oldest kept beyond the bounds; returns
    /// how many values were dropped.
    pub fn keep(&mut self, datums: Vec<Datum>) -> u64 {
        for datum in datums {
            self.distinct_values += datum.values.len();
            self.datums.push_back(datum);
        }
        let mut dropped = 0;
        while self.datums.len() > MAX_KEPT_DATUMS || self.distinct_values > MAX_KEPT_VALUES {
            let Some(oldest) = self.datums.pop_front() else {
                break;
            };
            self.distinct_values -= oldest.values.len();
            dropped += oldest.value_count();
        }
        dropped
    }

    /// Takes every kept datum, oldest first.
    pub fn take(&mut self) -> Vec<Datum> {
        self.distinct_values = 0;
        self.datums.drain(..).collect()
    }

    /// The number of kept datums.
    pub fn len(&self) -> usize {
        self.datums.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.datums.is_empty()
    }

    /// The number of values the kept datums stand for.
    pub fn value_count(&self) -> u64 {
        self.datums.iter().map(Datum::value_count).sum()
    }
}

#[cfg(test)]
mod tests {
    use liftwatch::{Resolution, Unit};

    use super::*;

    fn datum(name: usize, distinct: usize, count: u32) -> Datum {
        Datum {
            name: format!("M{name}"),
            unit: Unit::Count,
            resolution: Resolution::Standard,
            dimensions: Vec::new(),
            timestamp_ms: 0,
            values: (0..distinct).map(|v| (v as f64, count)).collect(),
        }
    }

    #[test]
    fn kept_datums_come_back_oldest_first() {
        let mut kept = Kept::default();
        assert_eq!(kept.keep(vec![datum(1, 1, 1), datum(2, 2, 3)]), 0);
        assert_eq!(kept.keep(vec![datum(3, 1, 1)]), 0);
        assert_eq!((kept.len(), kept.value_count()), (3, 8));
        let names: Vec<String> = kept.take().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["M1", "M2", "M3"]);
        assert!(kept.is_empty());
        assert_eq!(kept.value_count(), 0);
    }

    #[test]
    fn beyond_the_datum_bound_the_oldest_are_dropped_and_counted() {
        let mut kept = Kept::default();
        let many: Vec<Datum> = (0..MAX_KEPT_DATUMS).map(|i| datum(i, 1, 2)).collect();
        assert_eq!(kept.keep(many), 0);
        assert_eq!(kept.keep(vec![datum(90_000, 1, 1), datum(90_001, 1, 1)]), 4);
        assert_eq!(kept.len(), MAX_KEPT_DATUMS);
        let all = kept.take();
        assert_eq!(all[0].name, "M2", "M0 and M1 went first");
        assert_eq!(all.last().map(|d| d.name.as_str()), Some("M90001"));
    }

    #[test]
    fn beyond_the_value_bound_the_oldest_are_dropped() {
        let mut kept = Kept::default();
        let big: Vec<Datum> = (0..MAX_KEPT_VALUES / 100)
            .map(|i| datum(i, 100, 2))
            .collect();
        assert_eq!(kept.keep(big), 0, "exactly at the bound");
        assert_eq!(
            kept.keep(vec![datum(9_999, 10, 1)]),
            200,
            "one datum of 100 x 2 went"
        );
        assert_eq!(kept.len(), MAX_KEPT_VALUES / 100);
        assert_eq!(kept.take()[0].name, "M1");
    }
}
