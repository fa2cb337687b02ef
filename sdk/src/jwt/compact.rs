//! The JWS compact form (`header.payload.signature`, RFC 7515 §7.1) taken apart without
//! trusting any of it: three base64url segments (no padding), a JSON object header with a
//! string `alg` and an optional string `kid`, and no `crit` extensions. The payload is
//! only decoded after the signature has been checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::error::JwtError;

/// A token split into its parts; nothing in it is verified yet.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    /// The payload segment, still encoded.
    pub(crate) payload: &'a str,
    /// The signature segment, still encoded.
    pub(crate) signature: &'a str,
    /// The header's `alg`, as sent.
    pub(crate) alg: String,
    /// The header's `kid`, as sent.
    pub(crate) kid: Option<String>,
}

/// Splits `token` and reads its header. `max_bytes` bounds the work done on hostile input.
pub(crate) fn split(token: &str, max_bytes: usize) -> Result<Compact<'_>, JwtError> {
    if token.len() > max_bytes {
        return Err(JwtError::Malformed("token is too large"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated segments"));
    };
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(JwtError::Malformed("not three dot-separated segments"))?;
    let header = object(header, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(JwtError::Malformed("header has no string alg")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("header kid is not a string")),
    };
    if header.contains_key("crit") {
        return Err(JwtError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    Ok(Compact {
        signing_input,
        payload,
        signature,
        alg,
        kid,
    })
}

impl Compact<'_> {
    /// The decoded signature; empty is malformed (an unsigned token).
    pub(crate) fn signature_bytes(&self) -> Result<Vec<u8>, JwtError> {
        if self.signature.is_empty() {
            return Err(JwtError::Malformed("empty signature"));
        }
        URL_SAFE_NO_PAD
            .decode(self.signature)
            .map_err(|_| JwtError::Malformed("signature is not base64url"))
    }

    /// The decoded payload object. Call only once the signature has verified.
    pub(crate) fn payload_object(&self) -> Result<Map<String, Value>, JwtError> {
        object(self.payload, "payload")
    }
}

/// A segment decoded as a JSON object. `part` names it in the fixed error phrase.
fn object(segment: &str, part: &'static str) -> Result<Map<String, Value>, JwtError> {
    let (not_base64, not_object) = match part {
        "header" => ("header is not base64url", "header is not a json object"),
        _ => ("payload is not base64url", "payload is not a json object"),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed(not_base64))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed(not_object)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn splits_header_and_signing_input() {
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"HS256","kid":"k1"}"#),
            b64("{}")
        );
        let compact = split(&token, 1024).unwrap();
        assert_eq!(compact.alg, "HS256");
        assert_eq!(compact.kid.as_deref(), Some("k1"));
        assert_eq!(compact.signing_input, &token[..token.len() - 5]);
        assert_eq!(compact.signature_bytes().unwrap(), b"sig");
        assert!(compact.payload_object().unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_structure() {
        let header = b64(r#"{"alg":"HS256"}"#);
        let cases = [
            (String::new(), "not three dot-separated segments"),
            ("a.b".to_owned(), "not three dot-separated segments"),
            ("a.b.c.d".to_owned(), "not three dot-separated segments"),
            (format!("{header}=.e30.c2ln"), "header is not base64url"),
            (
                format!("{}.e30.c2ln", b64("[1]")),
                "header is not a json object",
            ),
            (
                format!("{}.e30.c2ln", b64(r#"{"alg":1}"#)),
                "header has no string alg",
            ),
            (
                format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","kid":2}"#)),
                "header kid is not a string",
            ),
            (
                format!("{}.e30.c2ln", b64(r#"{"alg":"HS256","crit":["b64"]}"#)),
                "critical header extensions are not supported",
            ),
            ("x".repeat(2000), "token is too large"),
        ];
        for (token, reason) in cases {
            let err = split(&token, 1024).map(|_| ()).unwrap_err();
            assert_eq!(err, JwtError::Malformed(reason), "{token}");
        }
        let unsigned = format!("{header}.e30.");
        let unsigned = split(&unsigned, 1024).unwrap();
        assert_eq!(
            unsigned.signature_bytes().unwrap_err(),
            JwtError::Malformed("empty signature")
        );
    }
}
