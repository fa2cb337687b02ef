//! Cumulative streams → deltas, the state the pipeline keeps per stream between exports.
//!
//! CloudWatch adds what it is sent, so a cumulative Sum or Histogram (the OpenTelemetry
//! SDKs' default temporality) is sent as the change since the stream's previous point:
//! - The first point of a stream whose accumulation started after this extension did (a
//!   function's SDK always starts after its extensions) is a delta from zero, sent whole;
//!   one that started earlier, or does not say when, only sets the baseline.
//! - A new start time, or a total that went down (the process restarted), is a reset: the
//!   point is the delta from zero.
//! - Histogram buckets are subtracted bucket by bucket; an exponential histogram whose
//!   scale went down (the SDK merged buckets to cover a wider range) has the previous
//!   point merged the same way first. Bounds that changed otherwise only set a new baseline.
//! - A cumulative up-down counter (non-monotonic Sum) is a level, sent as a gauge.
//!
//! Min and max of a cumulative histogram cover its whole life, not the interval: a delta
//! drops them (the whole first point keeps them). At most [`MAX_STREAMS`] streams are
//! followed; points of further cumulative streams are refused and counted.

use std::collections::{BTreeMap, HashMap};

use super::{Buckets, Data, Point};

/// Cumulative streams followed at once.
pub const MAX_STREAMS: usize = 8_192;

/// What the pipeline does with one received point.
#[derive(Debug, PartialEq)]
// Returned and matched at once, never stored: boxing the common case would cost more.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Send this (delta or gauge) point.
    Send(Point),
    /// The stream's baseline: nothing to send yet.
    Baseline,
    /// Refused: too many streams.
    Refused,
}

#[derive(Debug, Clone, PartialEq)]
struct Last {
    start: u64,
    total: Total,
}

#[derive(Debug, Clone, PartialEq)]
enum Total {
    Sum(f64),
    Histogram {
        count: u64,
        sum: Option<f64>,
        buckets: Buckets,
    },
}

/// The last cumulative point of every stream.
#[derive(Debug)]
pub struct Streams {
    started_unix_nanos: u64,
    last: HashMap<u64, Last>,
}

impl Streams {
    /// Streams for an extension that started at `started_unix_nanos`.
    pub fn new(started_unix_nanos: u64) -> Self {
        Streams {
            started_unix_nanos,
            last: HashMap::new(),
        }
    }

    /// How many streams are followed.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// No stream is followed yet.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// What to send for `point` (rules in the module doc).
    pub fn delta(&mut self, mut point: Point) -> Outcome {
        let (total, min_max) = match &point.data {
            Data::Gauge(_)
            | Data::Sum {
                cumulative: false, ..
            }
            | Data::Histogram {
                cumulative: false, ..
            } => return Outcome::Send(point),
            Data::Sum {
                value,
                monotonic: false,
                cumulative: true,
            } => {
                point.data = Data::Gauge(*value);
                return Outcome::Send(point);
            }
            Data::Sum { value, .. } => (Total::Sum(*value), None),
            Data::Histogram {
                count,
                sum,
                buckets,
                min,
                max,
                ..
            } => {
                let total = Total::Histogram {
                    count: *count,
                    sum: *sum,
                    buckets: buckets.clone(),
                };
                (total, Some((*min, *max)))
            }
        };
        let start = point.start_unix_nanos;
        let current = Last { start, total };
        let from_zero = match self.last.get(&point.stream) {
            None if self.last.len() >= MAX_STREAMS => return Outcome::Refused,
            None => start != 0 && start >= self.started_unix_nanos,
            Some(last) if start != 0 && start != last.start => true,
            Some(last) => match subtract(&current.total, &last.total) {
                Ok(delta) => {
                    self.last.insert(point.stream, current);
                    point.data = delta;
                    return Outcome::Send(point);
                }
                Err(Mismatch::Reset) => true,
                Err(Mismatch::Incomparable) => false,
            },
        };
        let whole = to_data(&current.total, min_max);
        self.last.insert(point.stream, current);
        if from_zero {
            point.data = whole;
            Outcome::Send(point)
        } else {
            Outcome::Baseline
        }
    }
}

/// Why no delta can be told.
enum Mismatch {
    /// The total went down: the stream restarted.
    Reset,
    /// The buckets changed shape: no delta can be told.
    Incomparable,
}

fn subtract(now: &Total, before: &Total) -> Result<Data, Mismatch> {
    match (now, before) {
        (Total::Sum(now), Total::Sum(before)) if now >= before => Ok(Data::Sum {
            value: now - before,
            monotonic: true,
            cumulative: false,
        }),
        (Total::Sum(_), Total::Sum(_)) => Err(Mismatch::Reset),
        (
            Total::Histogram {
                count,
                sum,
                buckets,
            },
            Total::Histogram {
                count: count_before,
                sum: sum_before,
                buckets: buckets_before,
            },
        ) => {
            let count = count.checked_sub(*count_before).ok_or(Mismatch::Reset)?;
            let buckets = subtract_buckets(buckets, buckets_before)?;
            let sum = match (sum, sum_before) {
                (Some(now), Some(before)) => Some(now - before),
                _ => None,
            };
            Ok(Data::Histogram {
                cumulative: false,
                count,
                sum,
                min: None,
                max: None,
                buckets,
            })
        }
        _ => Err(Mismatch::Incomparable),
    }
}

/// `now - before`, bucket by bucket.
fn subtract_buckets(now: &Buckets, before: &Buckets) -> Result<Buckets, Mismatch> {
    match (now, before) {
        (Buckets::None, Buckets::None) => Ok(Buckets::None),
        (
            Buckets::Explicit { bounds, counts },
            Buckets::Explicit {
                bounds: bounds_before,
                counts: counts_before,
            },
        ) if bounds == bounds_before => {
            let counts = counts
                .iter()
                .zip(counts_before)
                .map(|(now, before)| now.checked_sub(*before).ok_or(Mismatch::Reset))
                .collect::<Result<Vec<u64>, Mismatch>>()?;
            Ok(Buckets::Explicit {
                bounds: bounds.clone(),
                counts,
            })
        }
        (
            Buckets::Exponential {
                scale,
                zero_count,
                positive_offset,
                positive,
                negative_offset,
                negative,
            },
            Buckets::Exponential {
                scale: scale_before,
                zero_count: zero_before,
                positive_offset: positive_offset_before,
                positive: positive_before,
                negative_offset: negative_offset_before,
                negative: negative_before,
            },
        ) if scale <= scale_before => {
            let shift = (scale_before - scale) as u32;
            let zero_count = zero_count
                .checked_sub(*zero_before)
                .ok_or(Mismatch::Reset)?;
            let positive_before = merged(*positive_offset_before, positive_before, shift);
            let negative_before = merged(*negative_offset_before, negative_before, shift);
            Ok(Buckets::Exponential {
                scale: *scale,
                zero_count,
                positive_offset: *positive_offset,
                positive: minus(*positive_offset, positive, positive_before)?,
                negative_offset: *negative_offset,
                negative: minus(*negative_offset, negative, negative_before)?,
            })
        }
        _ => Err(Mismatch::Incomparable),
    }
}

/// Exponential buckets as index → count, merged `shift` scales down (index >> shift: the
/// arithmetic shift is the floor division the format's merging uses).
fn merged(offset: i32, counts: &[u64], shift: u32) -> BTreeMap<i32, u64> {
    let mut out = BTreeMap::new();
    for (index, count) in (offset..).zip(counts).filter(|(_, c)| **c > 0) {
        *out.entry(index >> shift.min(31)).or_insert(0) += count;
    }
    out
}

/// `counts` (from `offset`) minus `before`; a bucket of `before` that went down or is
/// missing from `counts` means the stream restarted.
fn minus(
    offset: i32,
    counts: &[u64],
    mut before: BTreeMap<i32, u64>,
) -> Result<Vec<u64>, Mismatch> {
    let out = (offset..)
        .zip(counts)
        .map(|(index, now)| {
            let before = before.remove(&index).unwrap_or(0);
            now.checked_sub(before).ok_or(Mismatch::Reset)
        })
        .collect::<Result<Vec<u64>, Mismatch>>()?;
    if before.is_empty() {
        Ok(out)
    } else {
        Err(Mismatch::Reset)
    }
}

fn to_data(total: &Total, min_max: Option<(Option<f64>, Option<f64>)>) -> Data {
    match total {
        Total::Sum(value) => Data::Sum {
            value: *value,
            monotonic: true,
            cumulative: false,
        },
        Total::Histogram {
            count,
            sum,
            buckets,
        } => {
            let (min, max) = min_max.unwrap_or_default();
            Data::Histogram {
                cumulative: false,
                count: *count,
                sum: *sum,
                min,
                max,
                buckets: buckets.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
