//! Groups a batch's series by dimension set, the first step of encoding: one EMF document
//! carries one dimension set, so series with identical dimension vectors are written
//! together.

use std::collections::HashMap;

use crate::metrics::{MetricBatch, Series};

/// Dimension sets scanned linearly before a map takes over.
const SCAN_LIMIT: usize = 8;

type Dimensions = [(String, String)];

/// The series that have values, each dimension set's series contiguous and in batch
/// order, the sets in the order they first appear.
#[derive(Debug)]
pub(super) struct Groups<'b> {
    series: Vec<&'b Series>,
    /// Where each group ends in `series`.
    ends: Vec<usize>,
}

impl<'b> Groups<'b> {
    /// Groups `batch` in O(n): an id per dimension set, then a counting sort by id.
    pub(super) fn of(batch: &'b MetricBatch) -> Self {
        let series: Vec<&Series> = batch
            .series
            .iter()
            .filter(|s| !s.values.is_empty())
            .collect();
        let mut ids = SetIds::default();
        let of_series: Vec<usize> = series.iter().map(|s| ids.id(&s.dimensions)).collect();
        if ids.sets.len() <= 1 {
            let ends = if series.is_empty() {
                Vec::new()
            } else {
                vec![series.len()]
            };
            return Self { series, ends };
        }

        let mut ends = vec![0; ids.sets.len()];
        for &id in &of_series {
            ends[id] += 1;
        }
        let mut next = Vec::with_capacity(ends.len());
        let mut total = 0;
        for end in &mut ends {
            next.push(total);
            total += *end;
            *end = total;
        }
        let mut grouped = series.clone();
        for (&s, &id) in series.iter().zip(&of_series) {
            grouped[next[id]] = s;
            next[id] += 1;
        }
        Self {
            series: grouped,
            ends,
        }
    }

    /// Each group's series; every group is non-empty and shares one dimension vector.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[&'b Series]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let group = &self.series[start..end];
            start = end;
            group
        })
    }
}

/// Numbers dimension sets in first-seen order. Consecutive series usually share a set, so
/// the previous id is tried first; a few sets are scanned; past [`SCAN_LIMIT`] a map
/// answers, so many distinct sets stay linear.
#[derive(Debug, Default)]
struct SetIds<'b> {
    sets: Vec<&'b Dimensions>,
    map: HashMap<&'b Dimensions, usize>,
    previous: usize,
}

impl<'b> SetIds<'b> {
    fn id(&mut self, dimensions: &'b Dimensions) -> usize {
        if let Some(&set) = self.sets.get(self.previous)
            && set == dimensions
        {
            return self.previous;
        }
        let found = if self.map.is_empty() {
            self.sets.iter().position(|&set| set == dimensions)
        } else {
            self.map.get(dimensions).copied()
        };
        let id = found.unwrap_or_else(|| {
            let id = self.sets.len();
            self.sets.push(dimensions);
            if !self.map.is_empty() {
                self.map.insert(dimensions, id);
            } else if self.sets.len() > SCAN_LIMIT {
                self.map
                    .extend(self.sets.iter().enumerate().map(|(i, &set)| (set, i)));
            }
            id
        });
        self.previous = id;
        id
    }
}

#[cfg(test)]
mod tests {
    use liftwatch::{Resolution, Unit};

    use super::*;

    fn series(name: &str, dims: &[(&str, &str)], values: usize) -> Series {
        Series {
            name: name.to_owned(),
            unit: Unit::Count,
            resolution: Resolution::Standard,
            dimensions: dims
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            values: vec![1.0; values],
            counts: Vec::new(),
        }
    }

    fn names(batch: &MetricBatch) -> Vec<Vec<&str>> {
        Groups::of(batch)
            .iter()
            .map(|g| g.iter().map(|s| s.name.as_str()).collect())
            .collect()
    }

    #[test]
    fn groups_in_first_seen_order_keeping_batch_order() {
        let a = [("FunctionName", "f")];
        let b = [("FunctionName", "f"), ("Rule", "r")];
        let batch = MetricBatch {
            timestamp_ms: 0,
            series: vec![
                series("b1", &b, 1),
                series("a1", &a, 1),
                series("empty", &a, 0),
                series("b2", &b, 2),
                series("n1", &[], 1),
                series("a2", &a, 1),
            ],
        };
        assert_eq!(
            names(&batch),
            [vec!["b1", "b2"], vec!["a1", "a2"], vec!["n1"]]
        );
    }

    #[test]
    fn one_set_and_no_series() {
        let a = [("FunctionName", "f")];
        let batch = MetricBatch {
            timestamp_ms: 0,
            series: vec![series("x", &a, 1), series("y", &a, 1)],
        };
        assert_eq!(names(&batch), [vec!["x", "y"]]);
        let empty = MetricBatch {
            timestamp_ms: 0,
            series: vec![series("x", &a, 0)],
        };
        assert!(names(&empty).is_empty());
        assert!(names(&MetricBatch::default()).is_empty());
    }

    #[test]
    fn many_interleaved_sets_use_the_map() {
        let rules: Vec<String> = (0..20).map(|r| format!("r{r}")).collect();
        let series_list: Vec<Series> = (0..200)
            .map(|i| series(&format!("m{i}"), &[("Rule", rules[i % 20].as_str())], 1))
            .collect();
        let batch = MetricBatch {
            timestamp_ms: 0,
            series: series_list,
        };
        let groups = names(&batch);
        assert_eq!(groups.len(), 20);
        for (r, group) in groups.iter().enumerate() {
            let expected: Vec<String> = (0..10).map(|k| format!("m{}", r + 20 * k)).collect();
            assert_eq!(group, &expected);
        }
    }
}
