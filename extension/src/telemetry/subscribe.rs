//! The Telemetry API subscription body (schema 2022-12-13), built by a pure function.

use std::time::Duration;

use serde_json::json;

/// The schema version the parser in `record` understands.
pub const SCHEMA_VERSION: &str = "2022-12-13";
/// Buffering limits within the documented ranges (maxItems 1,000–10,000, maxBytes
/// 262,144–1,048,576); the timeout comes from the configuration.
const MAX_ITEMS: u32 = 1_000;
const MAX_BYTES: u32 = 262_144;

/// What the extension subscribes to, and where the platform delivers it.
#[derive(Debug, Clone, Copy)]
pub struct Subscription<'a> {
    /// Also the function's own log records (`function`), not only `platform`.
    pub function_logs: bool,
    /// How long the platform buffers records before a POST.
    pub buffer: Duration,
    /// The listener's host name as the platform reaches it (`sandbox.localdomain`).
    pub host: &'a str,
    /// The listener's port.
    pub port: u16,
    /// The path the listener accepts batches on (a per-process secret, with its `/`).
    pub path: &'a str,
}

/// The JSON body for `PUT /2022-07-01/telemetry`.
pub fn subscription_body(subscription: &Subscription<'_>) -> String {
    let mut types = vec!["platform"];
    if subscription.function_logs {
        types.push("function");
    }
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "types": types,
        "buffering": {
            "maxItems": MAX_ITEMS,
            "maxBytes": MAX_BYTES,
            "timeoutMs": u64::try_from(subscription.buffer.as_millis()).unwrap_or(u64::MAX),
        },
        "destination": {
            "protocol": "HTTP",
            "URI": format!("http://{}:{}{}", subscription.host, subscription.port, subscription.path),
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
        let mut subscription = Subscription {
            function_logs: false,
            buffer: Duration::from_millis(25),
            host: "sandbox.localdomain",
            port: 9326,
            path: "/0123abcd",
        };
        let body: serde_json::Value =
            serde_json::from_str(&subscription_body(&subscription)).unwrap();
        assert_eq!(
            body,
            json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9326/0123abcd"},
            })
        );
        subscription.function_logs = true;
        let body: serde_json::Value =
            serde_json::from_str(&subscription_body(&subscription)).unwrap();
        assert_eq!(body["types"], json!(["platform", "function"]));
    }
}
