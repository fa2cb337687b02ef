//! The items liftwatch writes, attribute for attribute as the extension and the SDK write
//! them (`extension/src/ratelimit/update.rs`, `sdk/src/stats/layout.rs`,
//! `sdk/src/connections/`, `extension/src/active_connections/store.rs`), so their sizes
//! are the real ones; `extension/tests/ratelimit_sandbox.rs` compares them with items
//! read back from moto.

use crate::dynamo::{Item, Value};

/// A rule's statistics shards (`liftwatch::stats::SHARDS`).
pub const STATS_SHARDS: u128 = 32;
/// `sk` = window start × this + the writer's slot.
pub const SORT_KEY_SCALE: u128 = 10u128.pow(25);
/// The statistics items' default retention past their window: 30 days.
pub const RETENTION_SECS: u64 = 30 * 24 * 3_600;

/// The counts a writer adds for one rule and window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// `requests`, `allowed`, `blocked`, `errors`.
    pub totals: [u64; 4],
    /// Per key class: `allowed`, `blocked`, `errors`.
    pub classes: Vec<(String, [u64; 3])>,
}

fn n(value: impl ToString) -> Value {
    Value::N(value.to_string())
}

fn s(value: impl Into<String>) -> Value {
    Value::S(value.into())
}

/// The counters of `counts`, as the update `ADD`s them: only the ones above zero.
fn put_counts(item: &mut Item, counts: &WindowCounts) {
    for (name, count) in ["requests", "allowed", "blocked", "errors"]
        .iter()
        .zip(counts.totals)
    {
        if count > 0 {
            item.insert((*name).to_owned(), n(count));
        }
    }
    for (class, outcomes) in &counts.classes {
        for (outcome, count) in ["allowed", "blocked", "errors"].iter().zip(outcomes) {
            if *count > 0 {
                item.insert(format!("kc#{class}#{outcome}"), n(count));
            }
        }
    }
}

/// A writer's item of `rule`'s window (the current layout): `pk` = `stats#<shard>#<rule>`,
/// `sk` = window start × 10^25 + slot, `seq` = its last flush number.
pub fn stats_item(
    rule: &str,
    (window_start, window_seconds): (u64, u32),
    slot: u128,
    counts: &WindowCounts,
    seq: u64,
) -> Item {
    let mut item = Item::new();
    let shard = slot % STATS_SHARDS;
    item.insert("pk".into(), s(format!("stats#{shard}#{rule}")));
    let sort_key = u128::from(window_start) * SORT_KEY_SCALE + slot % SORT_KEY_SCALE;
    item.insert("sk".into(), n(sort_key));
    item.insert("window_seconds".into(), n(window_seconds));
    let expires = window_start + u64::from(window_seconds) + RETENTION_SECS;
    item.insert("expires_at".into(), n(expires));
    item.insert("seq".into(), n(seq));
    put_counts(&mut item, counts);
    item
}

/// The earlier layout's item of `rule`'s window, shared by every writer: one
/// `seq#<writer id>` per writer (`writers`: each writer's 32-hex id and last flush).
pub fn legacy_stats_item(
    rule: &str,
    (window_start, window_seconds): (u64, u32),
    counts: &WindowCounts,
    writers: &[(String, u64)],
) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(format!("rule#{rule}")));
    item.insert("sk".into(), n(window_start));
    item.insert("window_seconds".into(), n(window_seconds));
    let expires = window_start + u64::from(window_seconds) + RETENTION_SECS;
    item.insert("expires_at".into(), n(expires));
    put_counts(&mut item, counts);
    for (id, seq) in writers {
        item.insert(format!("seq#{id}"), n(seq));
    }
    item
}

/// The bytes one more writer adds to an earlier-layout item: `seq#` + 32 hex + its number.
pub fn legacy_writer_bytes(seq: u64) -> usize {
    "seq#".len() + 32 + crate::dynamo::number_size(&seq.to_string())
}

/// A WebSocket connection item (`liftwatch::connections`), with user and tenant.
pub fn connection_item(id: &str, user: &str, tenant: &str, at_ms: u64) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(format!("conn#{id}")));
    item.insert("sk".into(), n(0));
    item.insert("connection_id".into(), s(id));
    item.insert("user_id".into(), s(user));
    item.insert(
        "user_key".into(),
        s(format!("user#{}:{tenant}#{user}", tenant.len())),
    );
    item.insert("tenant_id".into(), s(tenant));
    item.insert("tenant_key".into(), s(format!("tenant#{tenant}")));
    item.insert("created_at".into(), n(at_ms));
    item.insert("last_seen".into(), n(at_ms));
    item.insert("expires_at".into(), n(at_ms / 1_000 + 2 * 3_600));
    item
}

/// Counter shard `shard` with a partition key of its own (`shard_pk`) or, in the earlier
/// layout, as sort key `shard` of `counter#active`.
pub fn counter_item(shard: u32, own_partition: bool, count: i64, version: u64) -> Item {
    let mut item = Item::new();
    let (pk, sk) = match (shard, own_partition) {
        (0, _) => ("counter#active".to_owned(), 0),
        (k, true) => (format!("counter#active#{k}"), 0),
        (k, false) => ("counter#active".to_owned(), k),
    };
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), n(sk));
    item.insert("count".into(), n(count));
    item.insert("version".into(), n(version));
    item
}

/// The fleet lease item of the `ActiveConnections` gauge.
pub fn lease_item(holder: &str, until_ms: u64) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s("lease#active-connections"));
    item.insert("sk".into(), n(0));
    item.insert("holder".into(), s(holder));
    item.insert("lease_until".into(), n(until_ms));
    item.insert("expires_at".into(), n(until_ms / 1_000 + 86_400));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::{MAX_ITEM_BYTES, item_size};

    fn counts(classes: usize) -> WindowCounts {
        WindowCounts {
            totals: [60, 52, 8, 0],
            classes: (0..classes)
                .map(|c| (format!("h{c:02}"), [13, 2, 0]))
                .collect(),
        }
    }

    #[test]
    fn a_writer_s_item_is_the_same_size_in_a_fleet_of_10_and_of_10000() {
        let window = (1_764_806_400, 60);
        let size = |slot: u128| item_size(&stats_item("login", window, slot, &counts(4), 3));
        // Slots of one digit count give the same size; the fleet's size does not enter.
        let small_fleet: Vec<usize> = (0..10).map(|i| size((1 << 79) + i * 977)).collect();
        let large_fleet: Vec<usize> = (0..10_000).map(|i| size((1 << 79) + i * 977)).collect();
        assert_eq!(small_fleet.iter().max(), large_fleet.iter().max());
        assert!(
            *large_fleet.iter().max().unwrap_or(&0) < 1_024,
            "one write unit"
        );
    }

    #[test]
    fn the_earlier_layout_grows_by_every_writer_until_it_fails() {
        let window = (1_764_806_400, 60);
        let writers =
            |k: usize| -> Vec<(String, u64)> { (0..k).map(|i| (format!("{i:032x}"), 1)).collect() };
        let one = item_size(&legacy_stats_item("login", window, &counts(4), &writers(1)));
        let ten = item_size(&legacy_stats_item(
            "login",
            window,
            &counts(4),
            &writers(10),
        ));
        assert_eq!(ten - one, 9 * legacy_writer_bytes(1));
        let limit_writers = (MAX_ITEM_BYTES - one) / legacy_writer_bytes(1) + 2;
        let over = item_size(&legacy_stats_item(
            "login",
            window,
            &counts(4),
            &writers(limit_writers),
        ));
        assert!(over > MAX_ITEM_BYTES, "{limit_writers} writers: {over}");
    }
}
