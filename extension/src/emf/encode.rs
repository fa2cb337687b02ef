//! Packs a batch's series into EMF documents: groups them by dimension set, drops what is
//! invalid, splits at the metric, value and byte limits, and writes each document straight
//! into the caller's buffer.

use liftwatch::Resolution;
use liftwatch::protocol::check_value;

use super::group::Groups;
use super::json::{push_f64, push_str, push_u64};
use super::limits::{
    MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC, check_dimensions, check_metric_name,
    check_no_clash,
};
use super::{EmfEncoder, EncodeStats};
use crate::metrics::{MetricBatch, Series};

/// Slots of the open document's name table: a power of two, over twice the metric limit.
const SLOTS: usize = 256;
/// Initial room for one document's metric members.
const VALUES_CAPACITY: usize = 8 * 1024;

/// Bytes kept free for a weighted series' tail: `],"Counts":[` is written with the counts,
/// then `],"Max":..,"Min":..,"Count":..,"Sum":..}` (numbers of at most 24 characters).
const WEIGHTED_TAIL_BYTES: usize = 160;

/// Closes the directive and `_aws`, after the metric definitions.
const DIRECTIVE_TAIL: &[u8] = b"]}]}";
/// Closes the root object and the line.
const DOCUMENT_TAIL: &[u8] = b"}\n";

/// A series still to be written, with the index of its next unread value.
#[derive(Debug, Clone, Copy)]
struct Pending<'b> {
    series: &'b Series,
    next: usize,
}

/// How writing one series into the open document ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every value of the series has been written or rejected.
    Done,
    /// The series has values left for a later document.
    More,
    /// The document has no room left for more bytes; the series may have values left.
    Full,
}

/// Encodes `batch` into `out`; see [`EmfEncoder::encode`] for the rules.
pub(super) fn encode(encoder: &EmfEncoder, batch: &MetricBatch, out: &mut Vec<u8>) -> EncodeStats {
    let groups = Groups::of(batch);
    let mut session = Session {
        encoder,
        timestamp_ms: batch.timestamp_ms,
        out,
        stats: EncodeStats::default(),
        dimension_names: Vec::new(),
        dimension_values: Vec::new(),
        values: Vec::with_capacity(VALUES_CAPACITY),
        counts: Vec::new(),
        queue: Vec::new(),
        deferred: Vec::new(),
        names: Vec::with_capacity(MAX_METRICS_PER_DOCUMENT),
        slots: [0; SLOTS],
    };
    for group in groups.iter() {
        session.encode_group(group);
    }
    session.stats
}

/// The state of one `encode` call. Its buffers are reused for every group and document.
struct Session<'e, 'b, 'o> {
    encoder: &'e EmfEncoder,
    timestamp_ms: u64,
    out: &'o mut Vec<u8>,
    stats: EncodeStats,
    /// `"A","B"`: the current group's dimension set.
    dimension_names: Vec<u8>,
    /// `,"A":"a","B":"b"`: the current group's dimension members.
    dimension_values: Vec<u8>,
    /// `,"m":1,"n":[1,2]`: the open document's metric members; its definitions go to `out`.
    values: Vec<u8>,
    /// `3,1,40`: the counts of the weighted series being written.
    counts: Vec<u8>,
    /// The current group's series still to be written.
    queue: Vec<Pending<'b>>,
    /// Series that did not fit the open document.
    deferred: Vec<Pending<'b>>,
    /// The metric names in the open document, with their hash.
    names: Vec<(u64, &'b str)>,
    /// Open-addressing index over `names`: 0 is empty, `i + 1` points at `names[i]`.
    slots: [u16; SLOTS],
}

impl<'b> Session<'_, 'b, '_> {
    /// Encodes the series of one dimension set (every series in `group` has the same one).
    fn encode_group(&mut self, group: &[&'b Series]) {
        let Some(first) = group.first() else { return };
        let dimensions = first.dimensions.as_slice();
        if check_dimensions(dimensions).is_err() {
            for series in group {
                self.reject_series(series);
            }
            return;
        }

        self.dimension_names.clear();
        self.dimension_values.clear();
        for (i, (name, value)) in dimensions.iter().enumerate() {
            if i > 0 {
                self.dimension_names.push(b',');
            }
            push_str(&mut self.dimension_names, name);
            self.dimension_values.push(b',');
            push_str(&mut self.dimension_values, name);
            self.dimension_values.push(b':');
            push_str(&mut self.dimension_values, value);
        }

        self.queue.clear();
        for &series in group {
            if check_metric_name(&series.name).is_err()
                || check_no_clash(&series.name, dimensions).is_err()
            {
                self.reject_series(series);
            } else {
                self.queue.push(Pending { series, next: 0 });
            }
        }
        while !self.queue.is_empty() {
            self.write_document();
        }
    }

    fn reject_series(&mut self, series: &Series) {
        self.stats.series_rejected += 1;
        self.stats.values_rejected += series.values.len();
    }

    /// Writes one document from the queue. What does not fit (the metric count, a name
    /// already present, the byte budget, values past the 100th) is deferred, in order, to
    /// the next document. Each call makes progress: the first queued series meets an empty
    /// document and either writes a value, rejects one, or runs out.
    fn write_document(&mut self) {
        let start = self.out.len();
        self.open_document();
        let mut queue = std::mem::take(&mut self.queue);
        let mut full = false;
        for mut pending in queue.drain(..) {
            if full || self.names.len() == MAX_METRICS_PER_DOCUMENT {
                self.deferred.push(pending);
                continue;
            }
            let hash = name_hash(&pending.series.name);
            let Err(slot) = self.find(hash, &pending.series.name) else {
                // The name is in this document already.
                self.deferred.push(pending);
                continue;
            };
            match self.write_metric(&mut pending, start, (hash, slot)) {
                Outcome::Done => {}
                Outcome::More => self.deferred.push(pending),
                Outcome::Full => {
                    full = true;
                    self.deferred.push(pending);
                }
            }
        }
        self.close_document(start);
        self.queue = std::mem::replace(&mut self.deferred, queue);
    }

    fn open_document(&mut self) {
        self.names.clear();
        self.slots.fill(0);
        self.values.clear();
        self.out.extend_from_slice(br#"{"_aws":{"Timestamp":"#);
        push_u64(self.out, self.timestamp_ms);
        self.out.extend_from_slice(&self.encoder.directive_head);
        self.out.extend_from_slice(&self.dimension_names);
        self.out.extend_from_slice(br#"]],"Metrics":["#);
    }

    /// Finishes the open document, or removes it when it holds no metric.
    fn close_document(&mut self, start: usize) {
        if self.names.is_empty() {
            self.out.truncate(start);
            return;
        }
        self.out.extend_from_slice(DIRECTIVE_TAIL);
        self.out.extend_from_slice(&self.dimension_values);
        self.out.extend_from_slice(&self.values);
        self.out.extend_from_slice(DOCUMENT_TAIL);
        self.stats.documents += 1;
    }

    /// The length the open document's line would have if closed now, newline included.
    fn line_len(&self, start: usize) -> usize {
        (self.out.len() - start)
            + DIRECTIVE_TAIL.len()
            + self.dimension_values.len()
            + self.values.len()
            + DOCUMENT_TAIL.len()
    }

    /// Looks `name` up in the open document: `Ok(())` when present, otherwise the free
    /// slot where it would go.
    fn find(&self, hash: u64, name: &str) -> Result<(), usize> {
        // The table never holds more than 100 of its 256 slots, so a free slot ends the probe.
        let mut slot = (hash >> 56) as usize;
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                n => {
                    let (h, present) = self.names[usize::from(n) - 1];
                    if h == hash && present == name {
                        return Ok(());
                    }
                }
            }
            slot = (slot + 1) % SLOTS;
        }
    }

    /// Skips (and counts) rejected values from `pending.next`; true when a value is left.
    fn skip_invalid(&mut self, pending: &mut Pending<'_>) -> bool {
        let values = &pending.series.values;
        while let Some(&value) = values.get(pending.next) {
            if check_value(value).is_ok() {
                return true;
            }
            self.stats.values_rejected += 1;
            pending.next += 1;
        }
        false
    }

    /// Writes the definition and up to 100 values of one series into the open document,
    /// keeping its line under the encoder's byte limit. `(hash, slot)` come from [`find`]
    /// and record the name once something is written.
    ///
    /// [`find`]: Self::find
    fn write_metric(
        &mut self,
        pending: &mut Pending<'b>,
        start: usize,
        (hash, slot): (u64, usize),
    ) -> Outcome {
        if !self.skip_invalid(pending) {
            return Outcome::Done;
        }
        let series = pending.series;
        let definition_mark = self.out.len();
        let member_mark = self.values.len();

        // The member key first; the definition reuses its escaped name.
        self.values.push(b',');
        let name_start = self.values.len();
        push_str(&mut self.values, &series.name);
        let name_end = self.values.len();
        self.values.push(b':');
        let bracket = self.values.len();
        // A series with counts is written as CloudWatch's statistic object (the form the
        // AWS EMF exporter writes histograms in): values, counts, and their summary.
        let weighted = !series.counts.is_empty();
        if weighted {
            self.values.extend_from_slice(br#"{"Values":["#);
            self.counts.clear();
        } else {
            self.values.push(b'[');
        }
        let mut summary = Summary::default();

        if !self.names.is_empty() {
            self.out.push(b',');
        }
        self.out.extend_from_slice(br#"{"Name":"#);
        self.out
            .extend_from_slice(&self.values[name_start..name_end]);
        self.out.extend_from_slice(br#","Unit":""#);
        self.out.extend_from_slice(series.unit.as_str().as_bytes());
        self.out.push(b'"');
        match series.resolution {
            Resolution::Standard => {}
            Resolution::High => {
                self.out.extend_from_slice(br#","StorageResolution":"#);
                push_u64(self.out, u64::from(series.resolution.seconds()));
            }
        }
        self.out.push(b'}');

        let max = self.encoder.max_document_bytes;
        let mut written = 0;
        let mut full = false;
        while written < MAX_VALUES_PER_METRIC {
            let Some(&value) = series.values.get(pending.next) else {
                break;
            };
            let mark = self.values.len();
            if written > 0 {
                self.values.push(b',');
            }
            if check_value(value).is_err() || push_f64(&mut self.values, value).is_err() {
                self.values.truncate(mark);
                self.stats.values_rejected += 1;
                pending.next += 1;
                continue;
            }
            // The line must stay below the limit (one more byte for the closing `]`, or the
            // counts and the summary), and a summary within CloudWatch's range: a sum that
            // would leave it starts the next document.
            let fits = if weighted {
                let count = series.counts.get(pending.next).copied().unwrap_or(1);
                let counts_mark = self.counts.len();
                if written > 0 {
                    self.counts.push(b',');
                }
                push_u64(&mut self.counts, u64::from(count));
                let summed = summary.with(value, count);
                let reserve = self.counts.len() + WEIGHTED_TAIL_BYTES;
                let fits = self.line_len(start) + reserve < max && check_value(summed.sum).is_ok();
                if fits {
                    summary = summed;
                } else {
                    self.counts.truncate(counts_mark);
                }
                fits
            } else {
                self.line_len(start) + 1 < max
            };
            if !fits {
                self.values.truncate(mark);
                full = true;
                break;
            }
            written += 1;
            pending.next += 1;
        }

        if written == 0 {
            self.out.truncate(definition_mark);
            self.values.truncate(member_mark);
            if self.names.is_empty() {
                // Not even one value fits an empty document under this limit: drop it.
                self.stats.values_rejected += 1;
                pending.next += 1;
                return Outcome::More;
            }
            return Outcome::Full;
        }
        if weighted {
            self.values.extend_from_slice(br#"],"Counts":["#);
            self.values.extend_from_slice(&self.counts);
            summary.write(&mut self.values);
        } else if written == 1 {
            // A single value is a plain number, not a one-element array.
            self.values.remove(bracket);
        } else {
            self.values.push(b']');
        }
        self.names.push((hash, &series.name));
        self.slots[slot] = self.names.len() as u16;
        self.stats.values_written += written;

        if full {
            Outcome::Full
        } else if self.skip_invalid(pending) {
            Outcome::More
        } else {
            Outcome::Done
        }
    }
}

/// The statistics of the values written for one weighted series in one document.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    min: f64,
    max: f64,
    count: u64,
    sum: f64,
}

impl Summary {
    fn with(self, value: f64, count: u32) -> Self {
        let first = self.count == 0;
        Summary {
            min: if first { value } else { self.min.min(value) },
            max: if first { value } else { self.max.max(value) },
            count: self.count + u64::from(count),
            sum: self.sum + value * f64::from(count),
        }
    }

    /// Closes the values' array, then writes the statistics and closes the object. Each
    /// number was checked on the way in (a valid value, a sum within range).
    fn write(&self, out: &mut Vec<u8>) {
        for (key, value) in [
            (&br#"],"Max":"#[..], self.max),
            (br#","Min":"#, self.min),
            (br#","Sum":"#, self.sum),
        ] {
            out.extend_from_slice(key);
            let _ = push_f64(out, value);
        }
        out.extend_from_slice(br#","Count":"#);
        push_u64(out, self.count);
        out.push(b'}');
    }
}

/// A fast multiplicative hash (FxHash-like) of a name, eight bytes at a time. Equal hashes
/// are confirmed by comparing the names.
fn name_hash(name: &str) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let bytes = name.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = bytes.len() as u64;
    for chunk in &mut chunks {
        let word = chunk
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b));
        hash = (hash.rotate_left(26) ^ word).wrapping_mul(K);
    }
    let tail = chunks
        .remainder()
        .iter()
        .rev()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b));
    (hash.rotate_left(26) ^ tail).wrapping_mul(K)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hashes_tell_apart_typical_names() {
        let names = [
            "Metric000",
            "Metric001",
            "Metric010",
            "RateLimitRequests",
            "RateLimitAllowed",
            "a",
            "b",
            "",
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(name_hash(a), name_hash(b), "{a} {b}");
            }
        }
        assert_eq!(name_hash("Duration"), name_hash("Duration"));
    }
}
