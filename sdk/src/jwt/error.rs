//! Why a token was refused ([`JwtError`]) and why a verifier could not be built
//! ([`ConfigError`]). No message ever contains the token, a secret or any other text the
//! caller sent: only fixed words, configured names and registered algorithm names.

use std::error::Error;
use std::fmt;

use super::alg::Algorithm;

/// Why a request or token was refused. Every variant but [`JwtError::Clock`] means the
/// caller is not authenticated: answer 401 (see [`JwtError::status`]).
///
/// ```
/// use liftwatch::jwt::JwtError;
/// let err = JwtError::Expired;
/// assert!(err.is_unauthorized());
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.to_string(), "token has expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// No configured source held a token.
    Missing,
    /// One source held two different tokens (two `Authorization` headers, say).
    MultipleTokens,
    /// Not a compact JWS: the reason is a fixed phrase.
    Malformed(&'static str),
    /// The header's `alg` is not one the verifier accepts (`none` included). Shows the
    /// name when it is a registered JOSE name.
    AlgorithmNotAllowed(Option<&'static str>),
    /// No configured key can verify this token: its `kid` is unknown or no key serves
    /// its algorithm.
    UnknownKey,
    /// The signature does not match any candidate key.
    BadSignature,
    /// The token carries no `exp` claim.
    MissingExp,
    /// A claim has the wrong type or an out-of-range value; names the claim.
    InvalidClaim(String),
    /// `exp` (plus the leeway) is past.
    Expired,
    /// `nbf` (minus the leeway) is still ahead.
    NotYetValid,
    /// `iss` is missing or not one of the configured issuers.
    WrongIssuer,
    /// `aud` is missing or names none of the configured audiences.
    WrongAudience,
    /// The system clock reads before 1970: nothing time-bound can be checked.
    Clock,
}

impl JwtError {
    /// Whether the caller should get 401 Unauthorized (all but [`JwtError::Clock`]).
    ///
    /// ```
    /// use liftwatch::jwt::JwtError;
    /// assert!(JwtError::BadSignature.is_unauthorized());
    /// assert!(!JwtError::Clock.is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, JwtError::Clock)
    }

    /// The HTTP status to answer with: 401, or 500 for a server-side failure.
    ///
    /// ```
    /// use liftwatch::jwt::JwtError;
    /// assert_eq!(JwtError::Missing.status(), 401);
    /// assert_eq!(JwtError::Clock.status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        if self.is_unauthorized() { 401 } else { 500 }
    }

    /// A `WWW-Authenticate` value for the 401 (RFC 6750): `Bearer` when no token came,
    /// `Bearer error="invalid_token"` when one was refused. Says nothing about why.
    ///
    /// ```
    /// use liftwatch::jwt::JwtError;
    /// assert_eq!(JwtError::Missing.www_authenticate(), "Bearer");
    /// assert_eq!(JwtError::Expired.www_authenticate(), "Bearer error=\"invalid_token\"");
    /// ```
    pub fn www_authenticate(&self) -> &'static str {
        match self {
            JwtError::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Missing => f.write_str("no token found in the request"),
            JwtError::MultipleTokens => f.write_str("more than one distinct token in one source"),
            JwtError::Malformed(reason) => write!(f, "malformed token: {reason}"),
            JwtError::AlgorithmNotAllowed(Some(name)) => {
                write!(f, "token algorithm {name} is not allowed")
            }
            JwtError::AlgorithmNotAllowed(None) => f.write_str("token algorithm is not allowed"),
            JwtError::UnknownKey => f.write_str("no configured key matches the token"),
            JwtError::BadSignature => f.write_str("token signature is invalid"),
            JwtError::MissingExp => f.write_str("token has no exp claim"),
            JwtError::InvalidClaim(name) => write!(f, "claim {name} has an invalid type or value"),
            JwtError::Expired => f.write_str("token has expired"),
            JwtError::NotYetValid => f.write_str("token is not valid yet"),
            JwtError::WrongIssuer => f.write_str("token issuer is not accepted"),
            JwtError::WrongAudience => f.write_str("token audience is not accepted"),
            JwtError::Clock => f.write_str("system clock is before the unix epoch"),
        }
    }
}

impl Error for JwtError {}

/// Why [`VerifierBuilder::build`](super::VerifierBuilder::build) refused a configuration.
/// Key positions count every key added, in order, from 0.
///
/// ```
/// use liftwatch::jwt::{ConfigError, Verifier};
/// let err = Verifier::builder().hmac_secret("short").build().unwrap_err();
/// assert_eq!(err, ConfigError::WeakSecret { key: 0 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was configured.
    NoKeys,
    /// The algorithm list was set empty.
    NoAlgorithms,
    /// No token source was configured.
    NoSources,
    /// An HMAC secret is shorter than [`MIN_SECRET_BYTES`](super::MIN_SECRET_BYTES).
    WeakSecret {
        /// The key's position.
        key: usize,
    },
    /// A key could not be used; the reason is a fixed phrase.
    BadKey {
        /// The key's position.
        key: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A JWKS document could not be read; the reason is a fixed phrase.
    BadJwks(&'static str),
    /// An allowed algorithm has no key that can verify it.
    NoKeyFor(Algorithm),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoKeys => f.write_str("no verification key configured"),
            ConfigError::NoAlgorithms => f.write_str("no algorithm allowed"),
            ConfigError::NoSources => f.write_str("no token source configured"),
            ConfigError::WeakSecret { key } => write!(
                f,
                "key {key}: hmac secret is shorter than {} bytes",
                super::MIN_SECRET_BYTES
            ),
            ConfigError::BadKey { key, reason } => write!(f, "key {key}: {reason}"),
            ConfigError::BadJwks(reason) => write!(f, "jwks document: {reason}"),
            ConfigError::NoKeyFor(alg) => {
                write!(
                    f,
                    "algorithm {alg} is allowed but no configured key verifies it"
                )
            }
        }
    }
}

impl Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_after_names() {
        let all = [
            JwtError::Missing,
            JwtError::MultipleTokens,
            JwtError::Malformed("not three segments"),
            JwtError::AlgorithmNotAllowed(None),
            JwtError::UnknownKey,
            JwtError::BadSignature,
            JwtError::MissingExp,
            JwtError::Expired,
            JwtError::NotYetValid,
            JwtError::WrongIssuer,
            JwtError::WrongAudience,
            JwtError::Clock,
        ];
        for err in all {
            let text = err.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        }
        assert_eq!(
            JwtError::AlgorithmNotAllowed(Some("none")).to_string(),
            "token algorithm none is not allowed"
        );
    }
}
