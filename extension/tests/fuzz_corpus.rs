//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, docs/TESTING.md "Fuzzing") through
//! the decoder call of each fuzz target, so every seed, and every crash saved next to
//! them, is checked by a plain `cargo test`: no input may panic, and each corpus holds
//! inputs the decoder accepts and inputs it refuses. The `jwt_compact` corpus is replayed
//! by the SDK's `tests/fuzz_corpus_jwt.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use liftwatch::protocol::decode_datagram;
use liftwatch_extension::telemetry::record::parse_batch;
use liftwatch_extension::traces::otlp::decode::{
    Encoding, decode_request, gunzip, spans_from_request,
};
use liftwatch_extension::traces::otlp::intake::MAX_BODY_BYTES;
use liftwatch_extension::traces::parse_xray;
use liftwatch_sandbox::fuzz_corpus;

/// Replays `target`'s corpus through `decode` (`liftwatch_sandbox::fuzz_corpus`): no
/// input panics, and the corpus holds inputs the decoder accepts and inputs it refuses.
fn replay(target: &str, decode: impl Fn(&[u8]) -> bool) {
    if let Err(error) = fuzz_corpus::replay(target, decode) {
        panic!("{error}");
    }
}

/// The OTLP intake's decode of an uncompressed body; true when it is a request.
fn otlp(body: &[u8], encoding: Encoding) -> bool {
    match decode_request(body, encoding) {
        Ok(request) => {
            spans_from_request(request);
            true
        }
        Err(_) => false,
    }
}

#[test]
fn udp_datagram() {
    replay("udp_datagram", |bytes| {
        let mut events = 0;
        decode_datagram(bytes, |result| events += usize::from(result.is_ok()));
        events > 0
    });
}

#[test]
fn telemetry_batch() {
    replay("telemetry_batch", |body| parse_batch(body).is_ok());
}

#[test]
fn otlp_protobuf() {
    replay("otlp_protobuf", |body| otlp(body, Encoding::Protobuf));
}

#[test]
fn otlp_json() {
    replay("otlp_json", |body| otlp(body, Encoding::Json));
}

#[test]
fn otlp_gzip() {
    replay("otlp_gzip", |body| {
        let Ok(plain) = gunzip(body, MAX_BODY_BYTES) else {
            return false;
        };
        // Both decodes run, as in the fuzz target.
        let protobuf = otlp(&plain, Encoding::Protobuf);
        otlp(&plain, Encoding::Json) || protobuf
    });
}

#[test]
fn xray_header() {
    replay("xray_header", |bytes| {
        std::str::from_utf8(bytes).is_ok_and(|value| parse_xray(value).is_some())
    });
}
