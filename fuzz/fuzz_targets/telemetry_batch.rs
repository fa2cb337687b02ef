//! The Telemetry API listener's parser: one POST body into records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch_extension::telemetry::record::parse_batch;

fuzz_target!(|data: &[u8]| {
    let _ = parse_batch(data);
});
