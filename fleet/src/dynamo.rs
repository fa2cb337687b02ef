//! DynamoDB as it charges: item sizes, request units, and a table whose partitions and
//! whole serve a bounded number of units each second.
//!
//! Figures (DynamoDB Developer Guide: "Item sizes and formats", "Read/write capacity
//! modes", "Service quotas"): an item holds at most 400 KB; a write costs 1 unit per KB of
//! the item (an update: the larger of the item before and after), a transactional write
//! twice that; a read 1 unit per 4 KB, half when eventually consistent, and a `Query` is
//! charged on the summed size of the items it returns; a partition serves 1,000 write and
//! 3,000 read units a second; an on-demand table 40,000 of each by default.

use std::collections::{BTreeMap, HashMap};

/// The largest item DynamoDB stores.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Write units one partition serves in a second.
pub const PARTITION_WCU: f64 = 1_000.0;
/// Read units one partition serves in a second.
pub const PARTITION_RCU: f64 = 3_000.0;
/// Write (and read) request units an on-demand table serves in a second by default.
pub const TABLE_UNITS: f64 = 40_000.0;

/// An attribute value, numbers as the decimal text the API carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    S(String),
    N(String),
    M(Item),
    Bool(bool),
}

/// An item: attribute name to value.
pub type Item = BTreeMap<String, Value>;

/// A number's size: one byte per two significant digits (leading and trailing zeros
/// trimmed), plus one.
pub fn number_size(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// A value's size (without its name).
pub fn value_size(value: &Value) -> usize {
    match value {
        Value::S(s) => s.len(),
        Value::N(n) => number_size(n),
        Value::Bool(_) => 1,
        Value::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
    }
}

/// An item's size: every attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Write units of a write whose item is `bytes` large (at least 1).
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1_024).max(1) as f64
}

/// Read units of a read returning `bytes` (at least one unit's minimum, even for nothing).
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4_096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A partition (or the table) had no units left in that second.
    Throttled,
    /// The item would pass [`MAX_ITEM_BYTES`] (a `ValidationException`).
    TooLarge,
}

/// One partition's (or the table's) load in its current second.
#[derive(Debug, Clone, Copy, Default)]
struct Second {
    at: u64,
    write: f64,
    read: f64,
}

impl Second {
    fn roll(&mut self, second: u64) {
        if self.at != second {
            *self = Second {
                at: second,
                ..Second::default()
            };
        }
    }
}

/// What a table served while measured.
#[derive(Debug, Clone, Default)]
pub struct TableFigures {
    /// Requests by operation.
    pub requests: BTreeMap<&'static str, u64>,
    pub write_units: f64,
    pub read_units: f64,
    pub throttled: u64,
    pub too_large: u64,
    /// The largest item written.
    pub largest_item: usize,
    /// The most write (read) units one partition served in one second, and its key.
    pub peak_partition_write: (f64, String),
    pub peak_partition_read: (f64, String),
    /// The most units the whole table served in one second.
    pub peak_table_write: f64,
    pub peak_table_read: f64,
}

/// One access of a request: its partition, and the units it takes there.
#[derive(Debug, Clone)]
pub struct Access {
    pub partition: String,
    pub write: f64,
    pub read: f64,
}

/// A table: partitions keyed by partition key value (one partition per key: a hot item
/// collection is never assumed split), each with the limits above.
#[derive(Debug, Default)]
pub struct Table {
    partitions: HashMap<String, Second>,
    whole: Second,
    measuring: bool,
    pub figures: TableFigures,
}

impl Table {
    /// From now on requests count in [`TableFigures`] (throughput is enforced always).
    pub fn measure(&mut self, on: bool) {
        self.measuring = on;
    }

    /// One request `operation` at `at_ms` touching `accesses`; `item_bytes` is the largest
    /// item it writes (0 for reads). Throttled as a whole if any partition or the table
    /// lacks the units.
    pub fn request(
        &mut self,
        operation: &'static str,
        at_ms: u64,
        accesses: &[Access],
        item_bytes: usize,
    ) -> Outcome {
        let second = at_ms / 1_000;
        let outcome = if item_bytes > MAX_ITEM_BYTES {
            Outcome::TooLarge
        } else {
            self.take(second, accesses)
        };
        if self.measuring {
            let f = &mut self.figures;
            *f.requests.entry(operation).or_default() += 1;
            match outcome {
                Outcome::Done => {
                    f.write_units += accesses.iter().map(|a| a.write).sum::<f64>();
                    f.read_units += accesses.iter().map(|a| a.read).sum::<f64>();
                    f.largest_item = f.largest_item.max(item_bytes);
                }
                Outcome::Throttled => f.throttled += 1,
                Outcome::TooLarge => f.too_large += 1,
            }
        }
        outcome
    }

    fn take(&mut self, second: u64, accesses: &[Access]) -> Outcome {
        self.whole.roll(second);
        let (write, read) = accesses
            .iter()
            .fold((0.0, 0.0), |(w, r), a| (w + a.write, r + a.read));
        if self.whole.write + write > TABLE_UNITS || self.whole.read + read > TABLE_UNITS {
            return Outcome::Throttled;
        }
        for access in accesses {
            let load = self.partitions.entry(access.partition.clone()).or_default();
            load.roll(second);
            if load.write + access.write > PARTITION_WCU || load.read + access.read > PARTITION_RCU
            {
                return Outcome::Throttled;
            }
        }
        self.whole.write += write;
        self.whole.read += read;
        let f = &mut self.figures;
        if self.measuring {
            f.peak_table_write = f.peak_table_write.max(self.whole.write);
            f.peak_table_read = f.peak_table_read.max(self.whole.read);
        }
        for access in accesses {
            let load = self.partitions.entry(access.partition.clone()).or_default();
            load.write += access.write;
            load.read += access.read;
            if self.measuring {
                if load.write > f.peak_partition_write.0 {
                    f.peak_partition_write = (load.write, access.partition.clone());
                }
                if load.read > f.peak_partition_read.0 {
                    f.peak_partition_read = (load.read, access.partition.clone());
                }
            }
        }
        Outcome::Done
    }

    /// Forgets partitions idle since before `second` (keeps memory bounded).
    pub fn forget_before(&mut self, second: u64) {
        self.partitions.retain(|_, load| load.at >= second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, Value)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn sizes_follow_the_developer_guide() {
        assert_eq!(item_size(&item(&[("pk", Value::S("rule#a".into()))])), 8);
        // 1,764,806,400: significant digits 17648064 (trailing zeros trimmed): 4 + 1.
        assert_eq!(number_size("1764806400"), 5);
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("123"), 3);
        let map = item(&[("m", Value::M(item(&[("k", Value::S("vv".into()))])))]);
        assert_eq!(item_size(&map), 1 + 3 + (1 + 2 + 1));
    }

    #[test]
    fn units_round_up_per_kilobyte_and_per_4_kilobytes() {
        assert_eq!(write_units(1_024), 1.0);
        assert_eq!(write_units(1_025), 2.0);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(read_units(4_096, true), 1.0);
        assert_eq!(read_units(4_097, false), 1.0);
        assert_eq!(read_units(0, false), 0.5);
    }

    #[test]
    fn a_partition_past_1000_write_units_in_a_second_throttles_and_the_next_second_does_not() {
        let mut table = Table::default();
        table.measure(true);
        let one = [Access {
            partition: "hot".into(),
            write: 1.0,
            read: 0.0,
        }];
        for _ in 0..1_000 {
            assert_eq!(table.request("UpdateItem", 5_000, &one, 100), Outcome::Done);
        }
        assert_eq!(
            table.request("UpdateItem", 5_999, &one, 100),
            Outcome::Throttled
        );
        assert_eq!(table.request("UpdateItem", 6_000, &one, 100), Outcome::Done);
        assert_eq!(table.figures.throttled, 1);
        assert_eq!(table.figures.peak_partition_write.0, 1_000.0);
        let big = MAX_ITEM_BYTES + 1;
        assert_eq!(
            table.request("UpdateItem", 6_000, &one, big),
            Outcome::TooLarge
        );
    }
}
