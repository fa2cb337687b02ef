//! `google.rpc.Status`, the body of an OTLP/HTTP error response (`opentelemetry-proto`
//! does not ship it). Only fields 1 (`code`) and 2 (`message`) are declared; `details`
//! (field 3) is skipped when decoding, as unknown fields are. The intake answers errors
//! with it; the exporter reads the message out of a collector's error.

use serde::Serialize;

/// A gRPC status: a `google.rpc.Code` and a message.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize)]
pub struct RpcStatus {
    /// The `google.rpc.Code` (3 `INVALID_ARGUMENT`, 8 `RESOURCE_EXHAUSTED`, 14
    /// `UNAVAILABLE`, ...).
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// `google.rpc.Code.INVALID_ARGUMENT`.
pub const INVALID_ARGUMENT: i32 = 3;
/// `google.rpc.Code.RESOURCE_EXHAUSTED`.
pub const RESOURCE_EXHAUSTED: i32 = 8;
/// `google.rpc.Code.UNAVAILABLE`.
pub const UNAVAILABLE: i32 = 14;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use prost::Message;

    use super::*;

    #[test]
    fn encodes_with_the_official_field_numbers() {
        let status = RpcStatus {
            code: INVALID_ARGUMENT,
            message: "bad".into(),
        };
        // field 1 varint 3; field 2 length-delimited "bad".
        assert_eq!(status.encode_to_vec(), b"\x08\x03\x12\x03bad");
        // A `details` entry (field 3) is skipped.
        let with_details = b"\x08\x0e\x12\x01x\x1a\x02\x0a\x00";
        assert_eq!(
            RpcStatus::decode(&with_details[..]).unwrap(),
            RpcStatus {
                code: UNAVAILABLE,
                message: "x".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"code":3,"message":"bad"}"#
        );
    }
}
