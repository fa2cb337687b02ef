//! The Telemetry API subscription body (schema 2022-12-13), built by a pure function.

use serde_json::json;

use crate::config::Config;

/// The schema version the parser in `record.rs` understands.
pub const SCHEMA_VERSION: &str = "2022-12-13";
/// Buffering limits within the documented ranges (maxItems 1,000–10,000, maxBytes
/// 262,144–1,048,576); the timeout comes from the configuration.
const MAX_ITEMS: u32 = 1_000;
const MAX_BYTES: u32 = 262_144;

/// The JSON body for `PUT /2022-07-01/telemetry`.
pub fn subscription_body(config: &Config) -> String {
    let mut types = vec!["platform"];
    if config.telemetry_types.function {
        types.push("function");
    }
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "types": types,
        "buffering": {
            "maxItems": MAX_ITEMS,
            "maxBytes": MAX_BYTES,
            "timeoutMs": u64::try_from(config.telemetry_buffer.as_millis()).unwrap_or(u64::MAX),
        },
        "destination": {
            "protocol": "HTTP",
            "URI": format!("http://{}:{}", config.telemetry_host, config.telemetry_port),
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn body_sets_schema_types_buffering_and_destination() {
        let (mut config, _) = Config::from_lookup(|k| {
            (k == crate::config::vars::RUNTIME_API).then(|| "127.0.0.1:9001".to_owned())
        })
        .unwrap();
        let body: serde_json::Value = serde_json::from_str(&subscription_body(&config)).unwrap();
        assert_eq!(
            body,
            json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9326"},
            })
        );
        config.telemetry_types.function = true;
        let body: serde_json::Value = serde_json::from_str(&subscription_body(&config)).unwrap();
        assert_eq!(body["types"], json!(["platform", "function"]));
    }
}
