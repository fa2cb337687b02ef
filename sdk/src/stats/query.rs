//! Reading totals back: a rule's (or one key class's) counts over a range of window starts,
//! summed from the statistics table with a paginated `Query`; items whose `expires_at` has
//! passed are skipped (DynamoDB deletes expired items only eventually).

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Counts, EXPIRES_AT, OUTCOMES, PK, REQUESTS, SK, class_attribute, partition_key};

/// A rule's counts over a time range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// The summed counters.
    pub counts: Counts,
    /// Items (windows) that contributed.
    pub windows: u64,
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
    let mut totals = Totals::default();
    let mut start_key: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(partition_key(rule)))
            .expression_attribute_values(":from", AttributeValue::N(from_unix.to_string()))
            .expression_attribute_values(":to", AttributeValue::N(to_unix.to_string()))
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .map_err(|e| QueryError(Box::new(e.into())))?;
        for item in page.items() {
            if number(item, EXPIRES_AT).is_some_and(|at| at <= now_unix) {
                continue;
            }
            totals.windows += 1;
            totals.counts.merge(&item_counts(item, key_class));
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start_key = Some(key.clone()),
            _ => break,
        }
    }
    Ok(totals)
}

/// The counts an item holds, for the whole rule or one key class.
fn item_counts(item: &HashMap<String, AttributeValue>, key_class: Option<&str>) -> Counts {
    let outcome = |name: &str| match key_class {
        Some(class) => number(item, &class_attribute(class, name)).unwrap_or(0),
        None => number(item, name).unwrap_or(0),
    };
    let [allowed, blocked, errors] = OUTCOMES.map(outcome);
    let requests = match key_class {
        Some(_) => allowed + blocked + errors,
        None => number(item, REQUESTS).unwrap_or(0),
    };
    Counts {
        requests,
        allowed,
        blocked,
        errors,
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}
