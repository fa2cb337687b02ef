//! The JWT verifier end to end: tokens signed with jsonwebtoken's `encode` from the test
//! keys in `testdata/jwt/`, one vector per rejection (named by its error), acceptance for
//! each key kind, extraction from every source in the configured order, and garbage that
//! must be refused without a panic and without the token showing up in the error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header, encode};
use liftwatch::jwt::{
    Algorithm, ConfigError, JwtError, MIN_SECRET_BYTES, RequestParts, TokenSource, Verifier,
};
use serde_json::{Value, json};

const SECRET: &[u8] = b"current-secret-0123456789abcdefghij";
const OLD_SECRET: &[u8] = b"previous-secret-0123456789abcdefghi";
const ISSUER: &str = "https://auth.example.com/";
const AUDIENCE: &str = "chat-api";
/// A fixed "now" for the time-bound vectors (2023-11-14).
const NOW: i64 = 1_700_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/jwt")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims valid at `now` for the configured issuer and audience.
fn claims_at(now: i64) -> Value {
    json!({
        "sub": "user-1", "tenant_id": "acme", "roles": ["admin"], "scope": "chat:read chat:write",
        "exp": now + 600, "iat": now, "iss": ISSUER, "aud": AUDIENCE, "email": "u@example.com"
    })
}

fn sign(
    alg: jsonwebtoken::Algorithm,
    key: &EncodingKey,
    kid: Option<&str>,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    sign(
        jsonwebtoken::Algorithm::HS256,
        &EncodingKey::from_secret(secret),
        None,
        claims,
    )
}

fn rs256(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&fixture(private_pem)).unwrap();
    sign(jsonwebtoken::Algorithm::RS256, &key, kid, claims)
}

fn es256(kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap();
    sign(jsonwebtoken::Algorithm::ES256, &key, kid, claims)
}

/// A token put together by hand: base64url of each JSON part, and `signature` as given.
fn raw(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.{signature}", part(header), part(claims))
}

fn hs_verifier() -> Verifier {
    Verifier::builder()
        .hmac_secret(SECRET)
        .hmac_secret(OLD_SECRET)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

fn rs_verifier() -> Verifier {
    Verifier::builder()
        .rsa_pem(fixture("rsa_public.pem"))
        .build()
        .unwrap()
}

fn jwks_verifier() -> Verifier {
    Verifier::builder()
        .jwks(fixture("jwks.json"))
        .build()
        .unwrap()
}

// ---- acceptance -------------------------------------------------------------------------

#[test]
fn hs256_accepts_current_and_rotated_secret_with_typed_claims() {
    let verifier = hs_verifier();
    for secret in [SECRET, OLD_SECRET] {
        let claims = verifier
            .verify_at(&hs256(secret, &claims_at(NOW)), NOW)
            .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("user-1"));
        assert_eq!(claims.tenant_id.as_deref(), Some("acme"));
        assert_eq!(claims.roles, ["admin"]);
        assert_eq!(claims.scopes, ["chat:read", "chat:write"]);
        assert_eq!(
            (claims.exp, claims.iat, claims.nbf),
            (NOW + 600, Some(NOW), None)
        );
        assert_eq!(claims.iss.as_deref(), Some(ISSUER));
        assert_eq!(claims.aud, [AUDIENCE]);
        assert_eq!(claims.extra.len(), 1);
        assert_eq!(claims.extra["email"], "u@example.com");
    }
    // Against the real clock too.
    assert!(
        verifier
            .verify(&hs256(SECRET, &claims_at(wall_clock())))
            .is_ok()
    );
}

#[test]
fn hs384_and_hs512_only_when_configured() {
    let token = sign(
        jsonwebtoken::Algorithm::HS512,
        &EncodingKey::from_secret(SECRET),
        None,
        &claims_at(NOW),
    );
    let default = Verifier::builder().hmac_secret(SECRET).build().unwrap();
    assert_eq!(default.algorithms(), [Algorithm::HS256]);
    assert_eq!(
        default.verify_at(&token, NOW),
        Err(JwtError::AlgorithmNotAllowed(Some("HS512")))
    );
    let wide = Verifier::builder()
        .hmac_secret(SECRET)
        .algorithms([Algorithm::HS256, Algorithm::HS384, Algorithm::HS512])
        .build()
        .unwrap();
    assert!(wide.verify_at(&token, NOW).is_ok());
}

#[test]
fn rs256_from_pem() {
    let claims = rs_verifier().verify_at(&rs256("rsa_private.pem", None, &claims_at(NOW)), NOW);
    assert_eq!(claims.unwrap().sub.as_deref(), Some("user-1"));
    // A kid on the token still finds a PEM key configured without one.
    let with_kid = rs256("rsa_private.pem", Some("whatever"), &claims_at(NOW));
    assert!(rs_verifier().verify_at(&with_kid, NOW).is_ok());
}

#[test]
fn es256_from_pem() {
    let verifier = Verifier::builder()
        .ec_pem(fixture("ec_public.pem"))
        .build()
        .unwrap();
    assert_eq!(verifier.algorithms(), [Algorithm::ES256]);
    let claims = verifier
        .verify_at(&es256(None, &claims_at(NOW)), NOW)
        .unwrap();
    assert_eq!(claims.tenant_id.as_deref(), Some("acme"));
}

#[test]
fn jwks_selects_by_kid_and_falls_back_without_one() {
    let verifier = jwks_verifier();
    assert_eq!(verifier.algorithms(), [Algorithm::RS256, Algorithm::ES256]);
    let claims = claims_at(NOW);
    let accepted = [
        rs256("rsa_private.pem", Some("rsa-1"), &claims),
        rs256("rsa_other_private.pem", Some("rsa-2"), &claims),
        rs256("rsa_other_private.pem", None, &claims),
        rs256("rsa_private.pem", None, &claims),
        es256(Some("ec-1"), &claims),
        es256(None, &claims),
    ];
    for token in &accepted {
        assert!(verifier.verify_at(token, NOW).is_ok(), "{token}");
    }
    // The kid names a key, and the signature is from another one.
    let swapped = rs256("rsa_other_private.pem", Some("rsa-1"), &claims);
    assert_eq!(
        verifier.verify_at(&swapped, NOW),
        Err(JwtError::BadSignature)
    );
    let unknown = rs256("rsa_private.pem", Some("rsa-9"), &claims);
    assert_eq!(verifier.verify_at(&unknown, NOW), Err(JwtError::UnknownKey));
    // The encryption key in the document was skipped, not used for signatures.
    let enc = rs256("rsa_other_private.pem", Some("enc-1"), &claims);
    assert_eq!(verifier.verify_at(&enc, NOW), Err(JwtError::UnknownKey));
    // An RS256 kid on an ES256 token: no key of that algorithm has that kid.
    assert_eq!(
        verifier.verify_at(&es256(Some("rsa-1"), &claims), NOW),
        Err(JwtError::UnknownKey)
    );
}

#[test]
fn custom_claim_names_and_scp() {
    let verifier = Verifier::builder()
        .hmac_secret(SECRET)
        .tenant_claim("custom:tenant_id")
        .roles_claim("cognito:groups")
        .build()
        .unwrap();
    let claims = json!({
        "exp": NOW + 60, "custom:tenant_id": "t-9", "cognito:groups": "readers",
        "scp": ["a", "b"], "aud": ["x", "y"], "tenant_id": "kept-as-extra"
    });
    let claims = verifier.verify_at(&hs256(SECRET, &claims), NOW).unwrap();
    assert_eq!(claims.tenant_id.as_deref(), Some("t-9"));
    assert_eq!(claims.roles, ["readers"]);
    assert!(claims.has_role("readers") && claims.has_scope("b"));
    assert_eq!(claims.aud, ["x", "y"]);
    assert_eq!(claims.extra["tenant_id"], "kept-as-extra");
}

// ---- rejection, one vector each -------------------------------------------------------------

#[test]
fn expired_within_and_beyond_leeway() {
    let verifier = hs_verifier();
    let mut claims = claims_at(NOW);
    claims["exp"] = json!(NOW - 120);
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::Expired)
    );
    claims["exp"] = json!(NOW - 10); // inside the default 30 s
    assert!(verifier.verify_at(&hs256(SECRET, &claims), NOW).is_ok());
    claims["exp"] = json!(NOW - 30); // exactly at the edge: expired
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::Expired)
    );
    let strict = Verifier::builder()
        .hmac_secret(SECRET)
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    claims["exp"] = json!(NOW);
    assert_eq!(
        strict.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::Expired)
    );
    claims["exp"] = json!(NOW + 1);
    assert!(strict.verify_at(&hs256(SECRET, &claims), NOW).is_ok());
}

#[test]
fn not_yet_valid_within_and_beyond_leeway() {
    let verifier = hs_verifier();
    let mut claims = claims_at(NOW);
    claims["nbf"] = json!(NOW + 120);
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::NotYetValid)
    );
    claims["nbf"] = json!(NOW + 10);
    assert_eq!(
        verifier
            .verify_at(&hs256(SECRET, &claims), NOW)
            .unwrap()
            .nbf,
        Some(NOW + 10)
    );
}

#[test]
fn wrong_or_missing_issuer() {
    let verifier = hs_verifier();
    let mut claims = claims_at(NOW);
    claims["iss"] = json!("https://evil.example.com/");
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::WrongIssuer)
    );
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::WrongIssuer)
    );
    // Not configured: not checked.
    let open = Verifier::builder().hmac_secret(SECRET).build().unwrap();
    claims["iss"] = json!("anyone");
    assert!(open.verify_at(&hs256(SECRET, &claims), NOW).is_ok());
}

#[test]
fn wrong_or_missing_audience() {
    let verifier = hs_verifier();
    let mut claims = claims_at(NOW);
    claims["aud"] = json!("billing-api");
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::WrongAudience)
    );
    claims["aud"] = json!(["billing-api", AUDIENCE]);
    assert!(verifier.verify_at(&hs256(SECRET, &claims), NOW).is_ok());
    claims.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        verifier.verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::WrongAudience)
    );
}

#[test]
fn tampered_signature_and_payload() {
    let verifier = hs_verifier();
    let token = hs256(SECRET, &claims_at(NOW));
    let (body, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{body}.{flipped}{}", &signature[1..]);
    assert_eq!(
        verifier.verify_at(&tampered, NOW),
        Err(JwtError::BadSignature)
    );
    // Same signature over a payload that grants more.
    let mut claims = claims_at(NOW);
    claims["roles"] = json!(["superuser"]);
    let forged = raw(&json!({"alg": "HS256", "typ": "JWT"}), &claims, signature);
    assert_eq!(
        verifier.verify_at(&forged, NOW),
        Err(JwtError::BadSignature)
    );
    // RSA too.
    let token = rs256("rsa_private.pem", None, &claims_at(NOW));
    let forged = format!("{}.{}", &token[..token.rfind('.').unwrap()], &signature);
    assert_eq!(
        rs_verifier().verify_at(&forged, NOW),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn wrong_key() {
    let claims = claims_at(NOW);
    let other_secret = [9u8; MIN_SECRET_BYTES];
    assert_eq!(
        hs_verifier().verify_at(&hs256(&other_secret, &claims), NOW),
        Err(JwtError::BadSignature)
    );
    let other_rsa = rs256("rsa_other_private.pem", None, &claims);
    assert_eq!(
        rs_verifier().verify_at(&other_rsa, NOW),
        Err(JwtError::BadSignature)
    );
    // An ES256 token for an RSA-only verifier.
    assert_eq!(
        rs_verifier().verify_at(&es256(None, &claims), NOW),
        Err(JwtError::AlgorithmNotAllowed(Some("ES256")))
    );
}

#[test]
fn alg_none_is_never_accepted() {
    let verifier = hs_verifier();
    let claims = claims_at(NOW);
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in ["", "c2ln"] {
            let token = raw(&json!({"alg": alg, "typ": "JWT"}), &claims, signature);
            assert_eq!(
                verifier.verify_at(&token, NOW),
                Err(JwtError::AlgorithmNotAllowed(Some("none"))),
                "{alg}"
            );
        }
    }
    let unknown = raw(&json!({"alg": "XX999"}), &claims, "c2ln");
    assert_eq!(
        verifier.verify_at(&unknown, NOW),
        Err(JwtError::AlgorithmNotAllowed(None))
    );
    // An allowed alg with the signature stripped.
    let token = hs256(SECRET, &claims);
    let stripped = format!("{}.", &token[..token.rfind('.').unwrap()]);
    assert_eq!(
        verifier.verify_at(&stripped, NOW),
        Err(JwtError::Malformed("empty signature"))
    );
}

#[test]
fn rs_to_hs_confusion_is_refused() {
    // The attack: HMAC-sign with the RSA public key's PEM bytes as the secret.
    let public_pem = fixture("rsa_public.pem");
    let forged = hs256(&public_pem, &claims_at(NOW));
    assert_eq!(
        rs_verifier().verify_at(&forged, NOW),
        Err(JwtError::AlgorithmNotAllowed(Some("HS256")))
    );
    // Even with HS256 allowed next to RS256, the PEM is never an HMAC secret.
    let both = Verifier::builder()
        .rsa_pem(&public_pem)
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    assert_eq!(both.algorithms(), [Algorithm::HS256, Algorithm::RS256]);
    assert_eq!(both.verify_at(&forged, NOW), Err(JwtError::BadSignature));
    // And HS256 cannot be switched on with only an RSA key to serve it.
    let refused = Verifier::builder()
        .rsa_pem(&public_pem)
        .algorithms([Algorithm::HS256])
        .build();
    assert_eq!(
        refused.unwrap_err(),
        ConfigError::NoKeyFor(Algorithm::HS256)
    );
    // The same through a JWKS document.
    assert_eq!(
        jwks_verifier().verify_at(&forged, NOW),
        Err(JwtError::AlgorithmNotAllowed(Some("HS256")))
    );
}

#[test]
fn missing_exp() {
    let mut claims = claims_at(NOW);
    claims.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        hs_verifier().verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::MissingExp)
    );
    claims["exp"] = json!("tomorrow");
    assert_eq!(
        hs_verifier().verify_at(&hs256(SECRET, &claims), NOW),
        Err(JwtError::InvalidClaim("exp".into()))
    );
}

#[test]
fn malformed_tokens() {
    let verifier = hs_verifier();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    let cases = [
        ("", "not three dot-separated segments"),
        ("a.b", "not three dot-separated segments"),
        ("a.b.c.d", "not three dot-separated segments"),
        ("!!!.???.***", "header is not base64url"),
        ("eyJhbGciOiJIUzI1NiJ9=.e30.c2ln", "header is not base64url"),
        ("bm90IGpzb24.e30.c2ln", "header is not a json object"),
    ];
    for (token, reason) in cases {
        assert_eq!(
            verifier.verify_at(token, NOW),
            Err(JwtError::Malformed(reason)),
            "{token:?}"
        );
    }
    let bad_sig = format!("{header}.e30.!!");
    assert_eq!(
        verifier.verify_at(&bad_sig, NOW),
        Err(JwtError::Malformed("signature is not base64url"))
    );
    // A correctly signed payload that is not a JSON object.
    let token = hs256(SECRET, &json!(["not", "an", "object"]));
    assert_eq!(
        verifier.verify_at(&token, NOW),
        Err(JwtError::Malformed("payload is not a json object"))
    );
    let huge = format!("{header}.{}.c2ln", "A".repeat(20_000));
    assert_eq!(
        verifier.verify_at(&huge, NOW),
        Err(JwtError::Malformed("token is too large"))
    );
}

#[test]
fn garbage_never_panics_and_is_never_echoed() {
    let verifiers = [hs_verifier(), rs_verifier(), jwks_verifier()];
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"rsa-1"}"#);
    let mut table: Vec<String> = [
        "",
        ".",
        "..",
        "...",
        "a.b",
        "a..b",
        ".a.b",
        "a.b.",
        "🦀.🦀.🦀",
        "é.ü.ñ",
        "\0.\0.\0",
        "eyJ.eyJ.eyJ",
        "Bearer x.y.z",
        " . . ",
        "=.=.=",
        "e30.e30.e30",
        "bnVsbA.bnVsbA.bnVsbA",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    table.push("a".repeat(1 << 20));
    table.push(".".repeat(100_000));
    table.push(format!(
        "{header}.{}.{}",
        "é".repeat(5000),
        "A".repeat(5000)
    ));
    table.push(format!("{header}.e30.{}", "A".repeat(342)));
    for exp in [
        "1e400",
        "-1e300",
        "18446744073709551616",
        "\"x\"",
        "null",
        "[]",
    ] {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#));
        table.push(format!("{header}.{payload}.c2ln"));
    }
    // Pseudo-random strings over an alphabet heavy in JWT characters.
    let alphabet: Vec<char> = "ABCxyz019-_.=+/ \u{e9}\u{1f980}\0{}\":".chars().collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 120) as usize;
        let text: String = (0..len)
            .map(|i| alphabet[((state >> (i % 48)) as usize + i * 7) % alphabet.len()])
            .collect();
        table.push(text);
    }
    // Every one-character change of valid tokens.
    for token in [
        hs256(SECRET, &claims_at(NOW)),
        es256(Some("ec-1"), &claims_at(NOW)),
    ] {
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
            table.push(String::from_utf8(bytes).unwrap());
        }
    }
    for token in &table {
        for verifier in &verifiers {
            let err = verifier.verify_at(token, NOW).unwrap_err();
            assert!(err.is_unauthorized());
            let text = err.to_string();
            assert!(token.len() < 8 || !text.contains(token.as_str()), "{text}");
            assert!(!text.contains("eyJ") && !text.contains("c2ln"), "{text}");
        }
    }
    let one_bit = verifiers[0].verify_at(&hs256(SECRET, &claims_at(NOW)), NOW);
    assert!(one_bit.is_ok(), "the unmutated token still verifies");
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let verifier = hs_verifier();
    let debug = format!("{verifier:?}");
    assert!(
        !debug.contains("current-secret") && !debug.contains("99, 117, 114"),
        "{debug}"
    );
    let pem = String::from_utf8(fixture("rsa_public.pem")).unwrap();
    let body = pem.lines().nth(1).unwrap();
    assert!(!format!("{:?}", rs_verifier()).contains(body));
    let token = hs256(SECRET, &claims_at(NOW));
    let request = RequestParts::new().headers([("Authorization", format!("Bearer {token}"))]);
    let found = verifier.extract(&request).unwrap();
    assert!(!format!("{found:?}").contains(&token));
    let debug = format!("{request:?}");
    assert_eq!(
        debug,
        r#"RequestParts { headers: ["Authorization"], query: [] }"#
    );
}

// ---- configuration -----------------------------------------------------------------------

#[test]
fn bad_configurations_are_named() {
    let b = Verifier::builder;
    assert_eq!(b().build().unwrap_err(), ConfigError::NoKeys);
    assert_eq!(
        b().hmac_secret(SECRET).sources([]).build().unwrap_err(),
        ConfigError::NoSources
    );
    assert_eq!(
        b().hmac_secret(SECRET).algorithms([]).build().unwrap_err(),
        ConfigError::NoAlgorithms
    );
    assert_eq!(
        b().hmac_secret(SECRET)
            .hmac_secret(b"short")
            .build()
            .unwrap_err(),
        ConfigError::WeakSecret { key: 1 }
    );
    let private = b().rsa_pem(fixture("rsa_private.pem")).build().unwrap_err();
    assert_eq!(
        private,
        ConfigError::BadKey {
            key: 0,
            reason: "a private key was given; configure the public key"
        }
    );
    let ec_as_rsa = b().rsa_pem(fixture("ec_public.pem")).build().unwrap_err();
    assert!(
        matches!(ec_as_rsa, ConfigError::BadKey { key: 0, .. }),
        "{ec_as_rsa}"
    );
    let rsa_as_ec = b().ec_pem(fixture("rsa_public.pem")).build().unwrap_err();
    assert!(
        matches!(rsa_as_ec, ConfigError::BadKey { key: 0, .. }),
        "{rsa_as_ec}"
    );
    assert_eq!(
        b().jwks("{").build().unwrap_err(),
        ConfigError::BadJwks("not valid json")
    );
    assert_eq!(
        b().hmac_secret(SECRET)
            .ec_pem(fixture("ec_public.pem"))
            .algorithms([Algorithm::RS256])
            .build()
            .unwrap_err(),
        ConfigError::NoKeyFor(Algorithm::RS256)
    );
    // The first bad key is the one reported.
    let err = b().hmac_secret(b"x").rsa_pem("nope").build().unwrap_err();
    assert_eq!(err, ConfigError::WeakSecret { key: 0 });
    assert_eq!(
        err.to_string(),
        "key 0: hmac secret is shorter than 32 bytes"
    );
}

// ---- extraction ----------------------------------------------------------------------------

fn all_sources() -> Verifier {
    Verifier::builder()
        .hmac_secret(SECRET)
        .sources([
            TokenSource::bearer(),
            TokenSource::websocket_protocol(),
            TokenSource::query("token"),
            TokenSource::cookie("session"),
        ])
        .build()
        .unwrap()
}

#[test]
fn each_source_alone() {
    let verifier = all_sources();
    let cases: [(RequestParts, TokenSource); 7] = [
        (
            RequestParts::new().headers([("Authorization", "Bearer t1")]),
            TokenSource::Bearer,
        ),
        (
            RequestParts::new().headers([("authorization", "bearer   t1 ")]),
            TokenSource::Bearer,
        ),
        (
            RequestParts::new().headers([("AUTHORIZATION", "BEARER t1")]),
            TokenSource::Bearer,
        ),
        (
            RequestParts::new().headers([("sec-websocket-protocol", "bearer, t1")]),
            TokenSource::websocket_protocol(),
        ),
        (
            RequestParts::new().headers([("Sec-WebSocket-Protocol", "chat.v1, Bearer,t1, json")]),
            TokenSource::websocket_protocol(),
        ),
        (
            RequestParts::new().query([("room", "1"), ("token", "t1")]),
            TokenSource::query("token"),
        ),
        (
            RequestParts::new().headers([("Cookie", "theme=dark; session=\"t1\"; lang=en")]),
            TokenSource::cookie("session"),
        ),
    ];
    for (request, source) in &cases {
        let token = verifier.extract(request).unwrap();
        assert_eq!(
            (token.as_str(), token.source()),
            ("t1", source),
            "{request:?}"
        );
    }
}

#[test]
fn sources_that_hold_no_token() {
    let verifier = all_sources();
    let empty = [
        RequestParts::new(),
        RequestParts::new().headers([("Authorization", "Basic dXNlcjpwYXNz")]),
        RequestParts::new().headers([("Authorization", "Bearer")]),
        RequestParts::new().headers([("Authorization", "Bearer    ")]),
        RequestParts::new().headers([("Sec-WebSocket-Protocol", "chat.v1, bearer")]),
        RequestParts::new().headers([("Sec-WebSocket-Protocol", "t1")]),
        RequestParts::new().query([("Token", "t1"), ("token", "")]),
        RequestParts::new().headers([("Cookie", "Session=t1; sessionx=t2; session")]),
        RequestParts::new().headers([("X-Authorization", "Bearer t1")]),
    ];
    for request in &empty {
        assert_eq!(
            verifier.extract(request).map(|t| t.as_str()),
            Err(JwtError::Missing),
            "{request:?}"
        );
    }
}

#[test]
fn configured_order_decides() {
    let request = RequestParts::new()
        .headers([
            ("Authorization", "Bearer from-header"),
            ("Cookie", "session=from-cookie"),
        ])
        .query([("token", "from-query")]);
    let order = |sources: Vec<TokenSource>| {
        let verifier = Verifier::builder()
            .hmac_secret(SECRET)
            .sources(sources)
            .build()
            .unwrap();
        verifier.extract(&request).unwrap().as_str().to_owned()
    };
    assert_eq!(
        order(vec![TokenSource::bearer(), TokenSource::query("token")]),
        "from-header"
    );
    assert_eq!(
        order(vec![TokenSource::query("token"), TokenSource::bearer()]),
        "from-query"
    );
    assert_eq!(
        order(vec![TokenSource::cookie("session"), TokenSource::bearer()]),
        "from-cookie"
    );
    assert_eq!(
        order(vec![
            TokenSource::websocket_protocol(),
            TokenSource::query("token")
        ]),
        "from-query"
    );
    // Query and cookie are not default sources.
    let defaults = Verifier::builder().hmac_secret(SECRET).build().unwrap();
    let query_only = RequestParts::new().query([("token", "from-query")]);
    assert_eq!(
        defaults.extract(&query_only).map(|t| t.as_str()),
        Err(JwtError::Missing)
    );
}

#[test]
fn two_tokens_in_one_source_are_refused() {
    let verifier = all_sources();
    let twice =
        RequestParts::new().headers([("Authorization", "Bearer a"), ("authorization", "Bearer b")]);
    assert_eq!(
        verifier.extract(&twice).map(|t| t.as_str()),
        Err(JwtError::MultipleTokens)
    );
    let same =
        RequestParts::new().headers([("Authorization", "Bearer a"), ("authorization", "Bearer a")]);
    assert_eq!(verifier.extract(&same).unwrap().as_str(), "a");
    let cookies = RequestParts::new().headers([("Cookie", "session=a; session=b")]);
    assert_eq!(
        verifier.extract(&cookies).map(|t| t.as_str()),
        Err(JwtError::MultipleTokens)
    );
}

#[test]
fn api_gateway_connect_event_end_to_end() {
    let verifier = Verifier::builder()
        .hmac_secret(SECRET)
        .sources([
            TokenSource::bearer(),
            TokenSource::websocket_protocol(),
            TokenSource::query("token"),
        ])
        .build()
        .unwrap();
    let token = hs256(SECRET, &claims_at(wall_clock()));
    let event = json!({
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Protocol": format!("bearer, {token}")},
        "multiValueHeaders": {"Sec-WebSocket-Protocol": [format!("bearer, {token}")]},
        "queryStringParameters": {"room": "lobby"},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1"},
        "isBase64Encoded": false
    });
    let request = RequestParts::from_api_gateway_event(&event);
    assert_eq!(
        verifier.extract(&request).unwrap().source(),
        &TokenSource::websocket_protocol()
    );
    let claims = verifier.authenticate(&request).unwrap();
    assert_eq!(claims.tenant_id.as_deref(), Some("acme"));
    // HTTP API payload v2: cookies arrive in their own array.
    let v2 = json!({"cookies": [format!("session={token}")], "queryStringParameters": null});
    let cookie_verifier = Verifier::builder()
        .hmac_secret(SECRET)
        .sources([TokenSource::cookie("session")])
        .build()
        .unwrap();
    assert!(
        cookie_verifier
            .authenticate(&RequestParts::from_api_gateway_event(&v2))
            .is_ok()
    );
    // A refused token answers 401 with an RFC 6750 challenge.
    let expired = RequestParts::new().headers([(
        "authorization",
        format!("Bearer {}", hs256(SECRET, &claims_at(NOW))),
    )]);
    let err = verifier.authenticate(&expired).unwrap_err();
    assert_eq!((err.clone(), err.status()), (JwtError::Expired, 401));
    assert_eq!(err.www_authenticate(), "Bearer error=\"invalid_token\"");
}
