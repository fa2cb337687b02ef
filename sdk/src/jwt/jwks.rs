//! JWKS documents (RFC 7517): the `{"keys": [...]}` JSON an identity provider publishes.
//! Read key by key: a key this verifier cannot use is skipped, never fails the document.
//!
//! Used: `kty: RSA` (`n`, `e`; `alg` absent or `RS256`) and `kty: EC` with `crv: P-256`
//! (`x`, `y`; `alg` absent or `ES256`), whose `use` is absent or `sig` and whose
//! `key_ops`, when present, include `verify`. Skipped: encryption keys, other key types
//! and curves, symmetric (`oct`) keys (a published shared secret is no secret: configure
//! secrets with [`hmac_secret`](super::VerifierBuilder::hmac_secret)), and keys that fail
//! the checks of the PEM path (RSA under 2048 bits, points off the curve). A document
//! with no usable key is an error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::alg::Algorithm;
use super::error::ConfigError;
use super::keys::{self, Key};

/// The fields of one JWK this verifier reads; the rest are ignored.
#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The usable keys of a JWKS document; `position` is the builder's key position.
pub(crate) fn parse(position: usize, document: &[u8]) -> Result<Vec<Key>, ConfigError> {
    let value: Value =
        serde_json::from_slice(document).map_err(|_| ConfigError::BadJwks("not valid json"))?;
    let Some(entries) = value.get("keys").and_then(Value::as_array) else {
        return Err(ConfigError::BadJwks("no keys array"));
    };
    let keys: Vec<Key> = entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .filter_map(|jwk| usable(position, jwk))
        .collect();
    if keys.is_empty() {
        return Err(ConfigError::BadJwks("no usable signing key"));
    }
    Ok(keys)
}

/// The key a JWK describes, when it is a signing key this verifier supports.
fn usable(position: usize, jwk: Jwk) -> Option<Key> {
    if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return None;
    }
    let (family_alg, only) = match (jwk.kty.as_str(), jwk.alg.as_deref()) {
        ("RSA", None) => (Algorithm::RS256, None),
        ("EC", None) => (Algorithm::ES256, None),
        (_, Some(alg)) => {
            let alg = Algorithm::from_name(alg)?;
            (alg, Some(alg))
        }
        _ => return None,
    };
    match (jwk.kty.as_str(), family_alg) {
        ("RSA", Algorithm::RS256) => {
            let n = decode(jwk.n.as_deref()?)?;
            let e = decode(jwk.e.as_deref()?)?;
            keys::rsa_components(position, &n, &e, jwk.kid, only).ok()
        }
        ("EC", Algorithm::ES256) if jwk.crv.as_deref() == Some("P-256") => {
            let x = decode(jwk.x.as_deref()?)?;
            let y = decode(jwk.y.as_deref()?)?;
            keys::ec_coordinates(position, &x, &y, jwk.kid, only).ok()
        }
        _ => None,
    }
}

/// base64url without padding, tolerating trailing `=` some publishers add.
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn documents_without_usable_keys_are_refused() {
        assert_eq!(
            parse(0, b"nope").unwrap_err(),
            ConfigError::BadJwks("not valid json")
        );
        assert_eq!(
            parse(0, b"[]").unwrap_err(),
            ConfigError::BadJwks("no keys array")
        );
        assert_eq!(
            parse(0, br#"{"keys": 3}"#).unwrap_err(),
            ConfigError::BadJwks("no keys array")
        );
        let skipped = br#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "!!", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "alg": "RS256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "key_ops": ["encrypt"], "n": "AQAB", "e": "AQAB"},
            {"kid": 7},
            "not an object"
        ]}"#;
        assert_eq!(
            parse(0, skipped).unwrap_err(),
            ConfigError::BadJwks("no usable signing key")
        );
    }
}
