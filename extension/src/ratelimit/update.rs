//! The one `UpdateItem` a (rule, window) delta becomes, built by a pure function: `ADD` for
//! every non-zero counter, `SET` of the window length, the TTL and this writer's sequence
//! number, under the condition that makes a replay a no-op, on the writer's own item of
//! that window (see the module doc of [`super::store`] for the item layout).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::aggregate::WindowDelta;

use liftwatch::stats::layout::{shard_of, shard_partition_key, sort_key};
pub use liftwatch::stats::{
    EXPIRES_AT, OUTCOMES, PK, REQUESTS, SEQ, SK, WINDOW_SECONDS, class_attribute,
};

/// Everything an `UpdateItem` request needs besides the table name.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateSpec {
    /// `pk` and `sk`.
    pub key: HashMap<String, AttributeValue>,
    /// `ADD ... SET ...`.
    pub update_expression: String,
    /// Applies only if this writer has not applied this or a later sequence number.
    pub condition_expression: String,
    /// Placeholder `#...` to attribute name.
    pub names: HashMap<String, String>,
    /// Placeholder `:...` to value.
    pub values: HashMap<String, AttributeValue>,
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The update applying `delta` as flush `seq` of the writer with slot `slot` (see
/// `liftwatch::stats::layout`), with the item kept `retention_secs` past the window's end;
/// `None` for a window that starts past `liftwatch::stats::layout::MAX_WINDOW_START`.
pub fn update_spec(
    delta: &WindowDelta,
    slot: u128,
    seq: u64,
    retention_secs: u64,
) -> Option<UpdateSpec> {
    let sort_key = sort_key(delta.key.window_start, slot)?;
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut adds = Vec::new();
    let mut add = |attribute: String, count: u64| {
        if count > 0 {
            let i = adds.len();
            names.insert(format!("#n{i}"), attribute);
            values.insert(format!(":v{i}"), number(count));
            adds.push(format!("#n{i} :v{i}"));
        }
    };
    let totals = &delta.totals;
    add(REQUESTS.to_owned(), totals.requests);
    for (outcome, count) in OUTCOMES
        .iter()
        .zip([totals.allowed, totals.blocked, totals.errors])
    {
        add((*outcome).to_owned(), count);
    }
    for (class, counts) in &delta.classes {
        for (outcome, count) in OUTCOMES
            .iter()
            .zip([counts.allowed, counts.blocked, counts.errors])
        {
            add(class_attribute(class, outcome), count);
        }
    }
    let expires_at = delta.key.window_end().saturating_add(retention_secs);
    names.insert("#ws".to_owned(), WINDOW_SECONDS.to_owned());
    names.insert("#exp".to_owned(), EXPIRES_AT.to_owned());
    names.insert("#seq".to_owned(), SEQ.to_owned());
    values.insert(
        ":ws".to_owned(),
        number(u64::from(delta.key.window_seconds)),
    );
    values.insert(":exp".to_owned(), number(expires_at));
    values.insert(":seq".to_owned(), number(seq));
    let set = "SET #ws = :ws, #exp = :exp, #seq = :seq";
    let update_expression = if adds.is_empty() {
        set.to_owned()
    } else {
        format!("ADD {} {set}", adds.join(", "))
    };
    let key = HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(shard_partition_key(shard_of(slot), &delta.key.rule)),
        ),
        (SK.to_owned(), AttributeValue::N(sort_key.to_string())),
    ]);
    Some(UpdateSpec {
        key,
        update_expression,
        condition_expression: "attribute_not_exists(#seq) OR #seq < :seq".to_owned(),
        names,
        values,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;
    use crate::ratelimit::aggregate::{Counts, MAX_KEY_CLASSES, WindowKey};

    fn delta(classes: usize) -> WindowDelta {
        let counts = Counts {
            requests: 6,
            allowed: 3,
            blocked: 2,
            errors: 1,
        };
        WindowDelta {
            key: WindowKey {
                rule: "login".to_owned(),
                window_start: 1_200,
                window_seconds: 60,
            },
            totals: counts,
            classes: (0..classes)
                .map(|i| (format!("class-{i:02}"), counts))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_delta_becomes_adds_of_its_non_zero_counters_and_sets_ttl_and_sequence() {
        let mut d = delta(1);
        d.totals.errors = 0;
        d.classes.values_mut().for_each(|c| c.errors = 0);
        let spec = update_spec(&d, 0xabc, 7, 100).unwrap();
        assert_eq!(
            spec.update_expression,
            "ADD #n0 :v0, #n1 :v1, #n2 :v2, #n3 :v3, #n4 :v4 SET #ws = :ws, #exp = :exp, #seq = :seq"
        );
        assert_eq!(spec.names["#n3"], "kc#class-00#allowed");
        assert_eq!(spec.names["#n4"], "kc#class-00#blocked");
        assert_eq!(spec.names["#seq"], "seq");
        assert_eq!(spec.values[":v0"], AttributeValue::N("6".into()));
        assert_eq!(
            spec.values[":exp"],
            AttributeValue::N("1360".into()),
            "window end + retention"
        );
        assert_eq!(spec.values[":seq"], AttributeValue::N("7".into()));
        assert_eq!(
            spec.key[PK],
            AttributeValue::S(format!("stats#{}#login", 0xabc % 32))
        );
        assert_eq!(
            spec.key[SK],
            AttributeValue::N(format!("1200{:025}", 0xabc)),
            "window start x 10^25 + slot"
        );
    }

    #[test]
    fn the_largest_update_stays_within_dynamodbs_expression_limit() {
        let spec = update_spec(&delta(MAX_KEY_CLASSES + 1), (1 << 80) - 1, u64::MAX, 0).unwrap();
        assert!(
            spec.update_expression.len() < 4_096,
            "{}",
            spec.update_expression.len()
        );
    }
}
