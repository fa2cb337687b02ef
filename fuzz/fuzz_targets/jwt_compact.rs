//! The JWT verifier on hostile tokens: the compact form taken apart (segments, base64url,
//! header JSON, `alg`, `kid`, `crit`), key selection and a signature check on whatever
//! bytes the token carries, for HMAC, RSA and EC keys.
//!
//! An input holding a newline is read as `header JSON \n payload JSON` instead: the target
//! encodes and signs it with its HS256 secret, so the claims parser behind the signature
//! check (`exp`, `nbf`, `iat`, `iss`, `aud`, scopes, roles) sees fuzzed JSON too.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use liftwatch::jwt::Verifier;

/// The secret of the SDK's JWT tests (sdk/tests/jwt.rs).
const SECRET: &[u8] = b"current-secret-0123456789abcdefghij";
/// A fixed "now" (2023-11-14), the seeds' tokens expire 600 s later.
const NOW: i64 = 1_700_000_000;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::builder()
        .hmac_secret(SECRET)
        .rsa_pem(include_bytes!("../../sdk/testdata/jwt/rsa_public.pem"))
        .ec_pem(include_bytes!("../../sdk/testdata/jwt/ec_public.pem"))
        .issuer("https://auth.example.com/")
        .audience("chat-api")
        .build()
        .expect("the test keys make a verifier")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let token = match text.split_once('\n') {
        Some((header, payload)) => signed(header, payload),
        None => text.to_owned(),
    };
    let _ = VERIFIER.verify_at(&token, NOW);
});

/// `header.payload.signature` with both parts base64url-encoded as given and signed HS256.
fn signed(header: &str, payload: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = EncodingKey::from_secret(SECRET);
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256)
        .expect("hmac signing does not fail");
    format!("{signing_input}.{signature}")
}
