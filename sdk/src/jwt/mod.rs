//! JWT checks for a WebSocket API's `$connect` handler (feature `jwt`): find the token in
//! the request, verify it with keys fixed at init, and hand back typed [`Claims`] or a
//! [`JwtError`] that maps to 401. Built on `jsonwebtoken` (RustCrypto backend, PEM
//! parsing); no network access: fetch a JWKS document yourself at init.
//!
//! # Where the token comes from
//!
//! [`TokenSource`]s are tried in the configured order; the first that holds a token
//! decides. Default order: `Authorization: Bearer <token>`, then `Sec-WebSocket-Protocol`.
//! Header names are matched case-insensitively, as is the `Bearer` scheme.
//!
//! - **`Sec-WebSocket-Protocol`**: browsers cannot set headers on a WebSocket, but can
//!   offer subprotocols. The convention here: offer the marker [`PROTOCOL_MARKER`]
//!   (`bearer`) and the token as the value right after it,
//!   `new WebSocket(url, ["bearer", token])`, which sends
//!   `Sec-WebSocket-Protocol: bearer, <token>` (a JWT's characters are all legal there).
//!   The `$connect` response must then carry `Sec-WebSocket-Protocol: bearer`, never the
//!   token, or the browser drops the connection; [`Token::source`] says when.
//! - **Query parameter** ([`TokenSource::query`]) and **cookie** ([`TokenSource::cookie`])
//!   are opt-in: a URL ends up in access logs and browser history.
//! - Two different tokens in one source (two `Authorization` headers) are refused.
//!
//! Build [`RequestParts`] from any event: pass the `headers` and `queryStringParameters`
//! maps, or the whole event as JSON with [`RequestParts::from_api_gateway_event`].
//!
//! # What is checked
//!
//! - **Algorithms** are fixed by configuration, never by the token: by default the one
//!   algorithm of each configured key (HS256 for secrets, RS256 for RSA keys, ES256 for
//!   P-256 keys), or the list given to [`VerifierBuilder::algorithms`]. Supported: HS256,
//!   HS384, HS512, RS256, ES256. `alg: none` can never be accepted, and every key serves
//!   only its own family, so an RSA public key is never used as an HMAC secret.
//! - **Keys**: HMAC secrets of at least [`MIN_SECRET_BYTES`] (add several to rotate), RSA
//!   (2048–4096 bits) and EC P-256 public keys in PEM, and JWKS documents. A token with a
//!   `kid` is tried against the keys with that `kid` and the keys configured without one;
//!   a token without a `kid` against every key of its algorithm. Keys embedded in the
//!   token (`jwk`, `jku`, `x5u`, `x5c`) are ignored; a `crit` header is refused.
//! - **Claims**, only after the signature verified: `exp` is required; `nbf` is checked
//!   when present; `iss` and `aud` when configured (then they are required). `exp` and
//!   `nbf` get a leeway of [`DEFAULT_LEEWAY`] (30 s) unless configured.
//! - Tokens over [`DEFAULT_MAX_TOKEN_BYTES`] (16 KiB) are refused unread. No input makes
//!   the verifier panic, and no error message repeats the token or a key.
//!
//! ```
//! use liftwatch::jwt::{RequestParts, TokenSource, Verifier};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At init, once.
//! let verifier = Verifier::builder()
//!     .hmac_secret(b"a-secret-of-at-least-32-bytes-long!")
//!     .issuer("https://auth.example.com/")
//!     .audience("chat-api")
//!     .sources([TokenSource::bearer(), TokenSource::websocket_protocol(), TokenSource::query("token")])
//!     .build()?;
//!
//! // In the $connect handler.
//! let event = serde_json::json!({"headers": {"Sec-WebSocket-Protocol": "bearer, not.a.jwt"}});
//! match verifier.authenticate(&RequestParts::from_api_gateway_event(&event)) {
//!     Ok(claims) => assert!(claims.tenant_id.is_some()), // connect, keyed by tenant
//!     Err(err) => assert_eq!(err.status(), 401), // answer err.status(), log err
//! }
//! # Ok(())
//! # }
//! ```

mod alg;
mod builder;
mod claims;
mod compact;
mod error;
mod jwks;
mod keys;
mod request;
mod token;
mod verifier;

pub use alg::Algorithm;
pub use builder::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, VerifierBuilder};
pub use claims::Claims;
pub use error::{ConfigError, JwtError};
pub use keys::MIN_SECRET_BYTES;
pub use request::RequestParts;
pub use token::{PROTOCOL_MARKER, Token, TokenSource};
pub use verifier::Verifier;
