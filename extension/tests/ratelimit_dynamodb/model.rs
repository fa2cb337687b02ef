//! The statistics items read back from moto, in the fleet model's terms
//! (`liftwatch_fleet`): their size by DynamoDB's rules, and the size of the item the
//! model builds for the same writer, window and counts.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

/// Every item of `table` (a paginated, consistent Scan).
pub async fn scan(client: &Client, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// An item read back, in the fleet model's terms.
pub fn as_model_item(item: &HashMap<String, AttributeValue>) -> liftwatch_fleet::dynamo::Item {
    use liftwatch_fleet::dynamo::Value;
    item.iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(s) => Value::S(s.clone()),
                AttributeValue::N(n) => Value::N(n.clone()),
                AttributeValue::Bool(b) => Value::Bool(*b),
                other => panic!("{name}: unexpected {other:?}"),
            };
            (name.clone(), value)
        })
        .collect()
}

/// The size DynamoDB charges for `item`, by the fleet model's rules.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    liftwatch_fleet::dynamo::item_size(&as_model_item(item))
}

/// The size of the item the fleet model builds for the same writer (slot), rule, window,
/// counts and flush number as `item`: equal to [`item_size`] when the model's layout is
/// what the extension writes.
pub fn modelled_size(item: &HashMap<String, AttributeValue>) -> usize {
    use liftwatch_fleet::layout::{SORT_KEY_SCALE, WindowCounts, stats_item};
    let text = |name: &str| item[name].as_s().unwrap().clone();
    let num = |name: &str| -> u128 {
        item.get(name)
            .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
    };
    let pk = text("pk");
    let rule = pk.splitn(3, '#').nth(2).unwrap();
    let sort_key = num("sk");
    let window = u64::try_from(sort_key / SORT_KEY_SCALE).unwrap();
    let slot = sort_key % SORT_KEY_SCALE;
    let mut classes: Vec<(String, [u64; 3])> = Vec::new();
    for name in item.keys().filter(|k| k.starts_with("kc#")) {
        let class = name.split('#').nth(1).unwrap().to_owned();
        if classes.iter().all(|(c, _)| *c != class) {
            let count = |o: &str| num(&format!("kc#{class}#{o}")) as u64;
            let outcomes = [count("allowed"), count("blocked"), count("errors")];
            classes.push((class, outcomes));
        }
    }
    let counts = WindowCounts {
        totals: ["requests", "allowed", "blocked", "errors"].map(|n| num(n) as u64),
        classes,
    };
    let window_seconds = u32::try_from(num("window_seconds")).unwrap();
    let model = stats_item(
        rule,
        (window, window_seconds),
        slot,
        &counts,
        num("seq") as u64,
    );
    assert_eq!(
        num("expires_at"),
        u128::from(window + u64::from(window_seconds) + liftwatch_fleet::layout::RETENTION_SECS),
        "the default retention, as the model assumes"
    );
    liftwatch_fleet::dynamo::item_size(&model)
}
