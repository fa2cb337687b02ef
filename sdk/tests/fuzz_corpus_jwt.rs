//! Replays the `jwt_compact` fuzz corpus (`fuzz/corpus/jwt_compact/`, docs/TESTING.md
//! "Fuzzing") through the fuzz target's verifier and call: a file holding a newline is
//! `header JSON \n payload JSON`, signed here with the HS256 secret; any other file is the
//! token itself. No input may panic, and the corpus holds tokens the verifier accepts and
//! tokens it refuses. The extension's decoders are replayed by its `tests/fuzz_corpus.rs`.
#![cfg(feature = "jwt")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use liftwatch::jwt::Verifier;

/// The fuzz target's secret, that of `tests/jwt.rs`.
const SECRET: &[u8] = b"current-secret-0123456789abcdefghij";
/// The fuzz target's "now" (2023-11-14).
const NOW: i64 = 1_700_000_000;

fn verifier() -> Verifier {
    Verifier::builder()
        .hmac_secret(SECRET)
        .rsa_pem(include_bytes!("../testdata/jwt/rsa_public.pem"))
        .ec_pem(include_bytes!("../testdata/jwt/ec_public.pem"))
        .issuer("https://auth.example.com/")
        .audience("chat-api")
        .build()
        .unwrap()
}

/// `header.payload.signature` with both parts base64url-encoded as given and signed HS256.
fn signed(header: &str, payload: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = EncodingKey::from_secret(SECRET);
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{signing_input}.{signature}")
}

#[test]
fn jwt_compact() {
    let verifier = verifier();
    let replayed = liftwatch_sandbox::fuzz_corpus::replay("jwt_compact", |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        let token = match text.split_once('\n') {
            Some((header, payload)) => signed(header, payload),
            None => text.to_owned(),
        };
        verifier.verify_at(&token, NOW).is_ok()
    });
    if let Err(error) = replayed {
        panic!("{error}");
    }
}
