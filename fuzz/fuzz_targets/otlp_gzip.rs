//! The OTLP/HTTP intake's `Content-Encoding: gzip` path: the body gunzipped within the
//! intake's size limit, then decoded as both encodings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use liftwatch_extension::traces::otlp::decode::{
    Encoding, decode_request, gunzip, spans_from_request,
};
use liftwatch_extension::traces::otlp::intake::MAX_BODY_BYTES;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = gunzip(data, MAX_BODY_BYTES) else {
        return;
    };
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(request) = decode_request(&body, encoding) {
            spans_from_request(request);
        }
    }
});
