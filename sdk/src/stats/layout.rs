//! Where a statistics item lives: the keys of both item layouts.
//!
//! Today's layout gives every writer (sandbox) an item of its own per (rule, window): the
//! item's size does not grow with the fleet, and a writer's updates are made idempotent by
//! one `seq` attribute instead of one attribute per writer. The items of a rule are spread
//! over [`SHARDS`] partition keys by the writer's slot, so that no partition takes more
//! than its share of the fleet's writes. The earlier layout (one item per (rule, window),
//! `ADD`ed by every writer, `seq#<writer>` attributes) is still read until its items expire.

use crate::ratelimit::fnv1a_64;

/// The partition keys a rule's items are spread over. Fixed: readers query every one of
/// them, so changing it would hide the items written under another value.
pub const SHARDS: u32 = 32;

/// The sort key of a writer's item is `window_start * SORT_KEY_SCALE + slot`.
pub const SORT_KEY_SCALE: u128 = 10u128.pow(25);

/// Window starts above this (the year 2286) are not written: the sort key would pass the 38
/// digits a DynamoDB number holds.
pub const MAX_WINDOW_START: u64 = 9_999_999_999;

/// The partition key of shard `shard` of `rule`: `stats#<shard>#<rule>`.
pub fn shard_partition_key(shard: u32, rule: &str) -> String {
    format!("stats#{shard}#{rule}")
}

/// The partition key of `rule`'s items in the earlier layout: `rule#<rule>`.
pub fn legacy_partition_key(rule: &str) -> String {
    format!("rule#{rule}")
}

/// A writer's slot: the first 80 bits of its hex id (below [`SORT_KEY_SCALE`]), or, for
/// an id that is not hex, its FNV-1a hash.
pub fn writer_slot(writer_id: &str) -> u128 {
    let prefix = writer_id.get(..20).unwrap_or(writer_id);
    match u128::from_str_radix(prefix, 16) {
        Ok(slot) if !prefix.is_empty() => slot,
        _ => u128::from(fnv1a_64(writer_id.as_bytes())),
    }
}

/// The shard a writer's items go to.
pub fn shard_of(slot: u128) -> u32 {
    u32::try_from(slot % u128::from(SHARDS)).unwrap_or(0)
}

/// The sort key of a writer's item for the window starting at `window_start`; `None`
/// past [`MAX_WINDOW_START`].
pub fn sort_key(window_start: u64, slot: u128) -> Option<u128> {
    (window_start <= MAX_WINDOW_START)
        .then(|| u128::from(window_start) * SORT_KEY_SCALE + slot % SORT_KEY_SCALE)
}

/// The window start a sort key of this layout belongs to.
pub fn window_of(sort_key: u128) -> u64 {
    u64::try_from(sort_key / SORT_KEY_SCALE).unwrap_or(u64::MAX)
}

/// The sort keys of every item whose window starts from `from` to `to` inclusive.
pub fn sort_key_range(from: u64, to: u64) -> (u128, u128) {
    let (from, to) = (from.min(MAX_WINDOW_START), to.min(MAX_WINDOW_START));
    (
        u128::from(from) * SORT_KEY_SCALE,
        u128::from(to) * SORT_KEY_SCALE + (SORT_KEY_SCALE - 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hex_id_gives_its_first_80_bits_and_a_sort_key_within_38_digits() {
        let slot = writer_slot("ffffffffffffffffffffffffffffffff");
        assert_eq!(slot, (1u128 << 80) - 1);
        assert!(slot < SORT_KEY_SCALE);
        let key = sort_key(MAX_WINDOW_START, slot).unwrap_or_default();
        assert_eq!(key.to_string().len(), 35);
        assert_eq!(window_of(key), MAX_WINDOW_START);
        assert_eq!(sort_key(MAX_WINDOW_START + 1, slot), None);
    }

    #[test]
    fn a_window_s_range_holds_every_slot_of_it_and_nothing_of_its_neighbours() {
        let (from, to) = sort_key_range(1_200, 1_200);
        for slot in [0, 1, writer_slot("ffffffffffffffffffff")] {
            let key = sort_key(1_200, slot).unwrap_or_default();
            assert!((from..=to).contains(&key));
        }
        assert!(sort_key(1_199, u128::MAX).unwrap_or_default() < from);
        assert!(sort_key(1_201, 0).unwrap_or_default() > to);
    }

    #[test]
    fn ids_that_are_not_hex_still_get_distinct_slots_and_shards_spread() {
        assert_ne!(writer_slot("snapshot-id"), writer_slot("snapshot-id2"));
        assert_eq!(writer_slot(""), u128::from(fnv1a_64(b"")));
        let shards: std::collections::HashSet<u32> = (0..1_000u32)
            .map(|i| shard_of(writer_slot(&format!("{:032x}", u128::from(i) << 48))))
            .collect();
        assert_eq!(shards.len(), SHARDS as usize);
    }
}
