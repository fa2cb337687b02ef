//! The OTLP/HTTP intake's `application/x-protobuf` path: body → request → spans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch_extension::traces::otlp::decode::{Encoding, decode_request, spans_from_request};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = decode_request(data, Encoding::Protobuf) {
        spans_from_request(request);
    }
});
