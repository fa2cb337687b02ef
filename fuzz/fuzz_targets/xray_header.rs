//! The X-Ray trace header reader (`Root=...;Parent=...;Sampled=...`), as it meets the
//! Telemetry API's `tracing.value` and `_X_AMZN_TRACE_ID`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch_extension::traces::parse_xray;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        let _ = parse_xray(value);
    }
});
