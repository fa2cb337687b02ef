//! Reading totals back: a rule's (or one key class's) counts over a range of window starts,
//! summed over every item of the rule: one paginated `Query` per shard partition (see
//! [`super::layout`]) and one of the earlier layout's partition, a few at a time. Items
//! whose `expires_at` has passed are skipped (DynamoDB deletes expired items only
//! eventually). Reads are eventually consistent: a flush written a second ago may be missed.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::layout::{self, SHARDS};
use super::{Counts, EXPIRES_AT, OUTCOMES, PK, REQUESTS, SK, class_attribute};

/// Partitions queried at once.
const CONCURRENCY: usize = 8;

/// A rule's counts over a time range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// The summed counters.
    pub counts: Counts,
    /// Windows that contributed (distinct window starts).
    pub windows: u64,
    /// Items read (one per writer and window; the read's cost grows with it).
    pub items: u64,
}

/// The statistics table could not be read.
#[derive(Debug)]
pub struct QueryError(Box<aws_sdk_dynamodb::Error>);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("querying the statistics table failed")
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// Totals of `rule` (of `key_class` only, when given) over the windows starting from
/// `from_unix` to `to_unix` inclusive, as of now.
///
/// Exact, and it reads what was written: one item per sandbox and window (about 230
/// bytes), so an hour of a rule written by 1,000 sandboxes is 60,000 items, about 1,700
/// read units (a fifth of a cent); `Totals::items` says how many. Dashboards and alarms
/// should use the `RateLimit*` CloudWatch metrics instead (`docs/SCALING.md`).
///
/// ```no_run
/// # async fn show(client: aws_sdk_dynamodb::Client) -> Result<(), liftwatch::stats::QueryError> {
/// let paid = liftwatch::stats::query_totals(&client, "stats", "api", Some("paid"), 0, u64::MAX).await?;
/// assert_eq!(paid.counts.requests, paid.counts.allowed + paid.counts.blocked + paid.counts.errors);
/// # Ok(()) }
/// ```
pub async fn query_totals(
    client: &Client,
    table: &str,
    rule: &str,
    key_class: Option<&str>,
    from_unix: u64,
    to_unix: u64,
) -> Result<Totals, QueryError> {
    let now = crate::clock::now_secs();
    query_totals_at(client, table, rule, key_class, from_unix, to_unix, now).await
}

/// One partition to read: its key and the sort key range, as DynamoDB numbers.
struct Partition {
    pk: String,
    from: String,
    to: String,
    /// Sort keys of the current layout (window × 10^25 + slot), not window starts.
    sharded: bool,
}

/// [`query_totals`] with items expired at `now_unix` skipped.
pub async fn query_totals_at(
    client: &Client,
    table: &str,
    rule: &str,
    key_class: Option<&str>,
    from_unix: u64,
    to_unix: u64,
    now_unix: u64,
) -> Result<Totals, QueryError> {
    let (from, to) = layout::sort_key_range(from_unix, to_unix);
    let partitions = (0..SHARDS)
        .map(|shard| Partition {
            pk: layout::shard_partition_key(shard, rule),
            from: from.to_string(),
            to: to.to_string(),
            sharded: true,
        })
        .chain([Partition {
            pk: layout::legacy_partition_key(rule),
            from: from_unix.to_string(),
            to: to_unix.to_string(),
            sharded: false,
        }]);
    let pages: Vec<Vec<(u64, Counts)>> = stream::iter(partitions)
        .map(|partition| read_partition(client, table, partition, key_class, now_unix))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut totals = Totals::default();
    let mut windows = BTreeSet::new();
    for (window, counts) in pages.into_iter().flatten() {
        windows.insert(window);
        totals.items += 1;
        totals.counts.merge(&counts);
    }
    totals.windows = u64::try_from(windows.len()).unwrap_or(u64::MAX);
    Ok(totals)
}

/// Every live item of one partition in the range: its window start and its counts.
async fn read_partition(
    client: &Client,
    table: &str,
    partition: Partition,
    key_class: Option<&str>,
    now_unix: u64,
) -> Result<Vec<(u64, Counts)>, QueryError> {
    let mut found = Vec::new();
    let mut start_key: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(partition.pk.clone()))
            .expression_attribute_values(":from", AttributeValue::N(partition.from.clone()))
            .expression_attribute_values(":to", AttributeValue::N(partition.to.clone()))
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .map_err(|e| QueryError(Box::new(e.into())))?;
        for item in page.items() {
            if number::<u64>(item, EXPIRES_AT).is_some_and(|at| at <= now_unix) {
                continue;
            }
            let sort_key = number::<u128>(item, SK).unwrap_or(0);
            let window = if partition.sharded {
                layout::window_of(sort_key)
            } else {
                u64::try_from(sort_key).unwrap_or(u64::MAX)
            };
            found.push((window, item_counts(item, key_class)));
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start_key = Some(key.clone()),
            _ => break,
        }
    }
    Ok(found)
}

/// The counts an item holds, for the whole rule or one key class.
fn item_counts(item: &HashMap<String, AttributeValue>, key_class: Option<&str>) -> Counts {
    let outcome = |name: &str| match key_class {
        Some(class) => number::<u64>(item, &class_attribute(class, name)).unwrap_or(0),
        None => number::<u64>(item, name).unwrap_or(0),
    };
    let [allowed, blocked, errors] = OUTCOMES.map(outcome);
    let requests = match key_class {
        Some(_) => allowed + blocked + errors,
        None => number::<u64>(item, REQUESTS).unwrap_or(0),
    };
    Counts {
        requests,
        allowed,
        blocked,
        errors,
    }
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}
