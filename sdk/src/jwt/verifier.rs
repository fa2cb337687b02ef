//! [`Verifier`]: finds the token in a request and checks it, in an order that never
//! trusts unverified input: size and structure, then the header's `alg` against the
//! configured set, then key selection by `kid`, then the signature, and only then the
//! claims (`exp`, `nbf`, `iss`, `aud`).

use std::time::{SystemTime, UNIX_EPOCH};

use super::alg::{self, Algorithm};
use super::builder::VerifierBuilder;
use super::claims::{ClaimNames, Claims};
use super::compact;
use super::error::JwtError;
use super::keys::Key;
use super::request::RequestParts;
use super::token::{Token, TokenSource};

/// Verifies JWTs with a fixed configuration. Build it once at init and share it.
///
/// ```
/// use liftwatch::jwt::{JwtError, RequestParts, Verifier};
/// let verifier = Verifier::builder().hmac_secret([7u8; 32]).build()?;
/// let request = RequestParts::new().headers([("authorization", "Bearer not-a-jwt")]);
/// let err = verifier.authenticate(&request).unwrap_err();
/// assert_eq!(err.status(), 401);
/// assert_eq!(verifier.authenticate(&RequestParts::new()), Err(JwtError::Missing));
/// # Ok::<(), liftwatch::jwt::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) keys: Vec<Key>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway_secs: i64,
    pub(crate) names: ClaimNames,
    pub(crate) sources: Vec<TokenSource>,
    pub(crate) max_token_bytes: usize,
}

impl Verifier {
    /// A builder with the defaults: no keys yet, algorithms derived from the keys, 30 s
    /// leeway, sources `Authorization: Bearer` then `Sec-WebSocket-Protocol`.
    ///
    /// ```
    /// let verifier = liftwatch::jwt::Verifier::builder().hmac_secret([1u8; 32]).build();
    /// assert!(verifier.is_ok());
    /// ```
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The accepted algorithms, sorted.
    ///
    /// ```
    /// use liftwatch::jwt::{Algorithm, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([1u8; 32]).build()?;
    /// assert_eq!(verifier.algorithms(), [Algorithm::HS256]);
    /// # Ok::<(), liftwatch::jwt::ConfigError>(())
    /// ```
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The token from the first configured source that holds one.
    ///
    /// ```
    /// use liftwatch::jwt::{RequestParts, TokenSource, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([1u8; 32]).build()?;
    /// let request = RequestParts::new().headers([("AUTHORIZATION", "bearer abc")]);
    /// let token = verifier.extract(&request)?;
    /// assert_eq!((token.as_str(), token.source()), ("abc", &TokenSource::Bearer));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extract<'r>(&'r self, request: &'r RequestParts) -> Result<Token<'r>, JwtError> {
        for source in &self.sources {
            if let Some(value) = source.find(request)? {
                return Ok(Token { value, source });
            }
        }
        Err(JwtError::Missing)
    }

    /// Extracts the token from `request` and verifies it now.
    ///
    /// ```
    /// use liftwatch::jwt::{JwtError, RequestParts, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([1u8; 32]).build()?;
    /// let request = RequestParts::new().query([("token", "abc")]);
    /// // Query parameters are not a default source.
    /// assert_eq!(verifier.authenticate(&request), Err(JwtError::Missing));
    /// # Ok::<(), liftwatch::jwt::ConfigError>(())
    /// ```
    pub fn authenticate(&self, request: &RequestParts) -> Result<Claims, JwtError> {
        self.verify(self.extract(request)?.as_str())
    }

    /// Verifies `token` against the system clock.
    ///
    /// ```
    /// use liftwatch::jwt::{JwtError, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([1u8; 32]).build()?;
    /// assert!(matches!(verifier.verify("a.b"), Err(JwtError::Malformed(_))));
    /// # Ok::<(), liftwatch::jwt::ConfigError>(())
    /// ```
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
        let now = since_epoch.map_err(|_| JwtError::Clock)?.as_secs();
        self.verify_at(token, i64::try_from(now).unwrap_or(i64::MAX))
    }

    /// Verifies `token` as of `now` (Unix seconds): for tests and replays.
    ///
    /// ```
    /// use liftwatch::jwt::{JwtError, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([1u8; 32]).build()?;
    /// // {"alg":"none"} . {"exp":1} . (no signature)
    /// let unsigned = "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.";
    /// assert_eq!(verifier.verify_at(unsigned, 0), Err(JwtError::AlgorithmNotAllowed(Some("none"))));
    /// # Ok::<(), liftwatch::jwt::ConfigError>(())
    /// ```
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let compact = compact::split(token, self.max_token_bytes)?;
        let alg = Algorithm::from_name(&compact.alg)
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or_else(|| JwtError::AlgorithmNotAllowed(alg::known_name(&compact.alg)))?;
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|key| key.serves(alg))
            .filter(|key| match (&compact.kid, &key.kid) {
                (Some(wanted), Some(kid)) => wanted == kid,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey);
        }
        let signature = compact.signature_bytes()?;
        let message = compact.signing_input.as_bytes();
        if !candidates
            .iter()
            .any(|key| key.verifies(alg, message, &signature))
        {
            return Err(JwtError::BadSignature);
        }
        let claims = Claims::from_payload(compact.payload_object()?, &self.names)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), JwtError> {
        if now >= claims.exp.saturating_add(self.leeway_secs) {
            return Err(JwtError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(self.leeway_secs) < nbf)
        {
            return Err(JwtError::NotYetValid);
        }
        if !self.issuers.is_empty()
            && !claims
                .iss
                .as_ref()
                .is_some_and(|iss| self.issuers.contains(iss))
        {
            return Err(JwtError::WrongIssuer);
        }
        if !self.audiences.is_empty() && !claims.aud.iter().any(|aud| self.audiences.contains(aud))
        {
            return Err(JwtError::WrongAudience);
        }
        Ok(())
    }
}
