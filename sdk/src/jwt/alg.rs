//! The signature algorithms a [`Verifier`](super::Verifier) can be configured to accept.
//! The set is fixed by configuration; a token's `alg` header only selects among them.

use std::fmt;

/// A JWS signature algorithm the verifier supports.
///
/// `none` has no variant: an unsigned token can never be accepted.
///
/// ```
/// use liftwatch::jwt::Algorithm;
/// assert_eq!(Algorithm::from_name("RS256"), Some(Algorithm::RS256));
/// assert_eq!(Algorithm::from_name("none"), None);
/// assert_eq!(Algorithm::ES256.as_str(), "ES256");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (shared secret).
    HS256,
    /// HMAC with SHA-384 (shared secret).
    HS384,
    /// HMAC with SHA-512 (shared secret).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA public key).
    RS256,
    /// ECDSA on P-256 with SHA-256 (EC public key).
    ES256,
}

/// The kind of key an algorithm verifies with. A key only ever serves its own family,
/// which is what stops an RSA public key from being used as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// A shared secret.
    Hmac,
    /// An RSA public key.
    Rsa,
    /// An EC P-256 public key.
    EcP256,
}

const ALL: [Algorithm; 5] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::ES256,
];

/// Registered JWS algorithm names a token may carry that this verifier never accepts,
/// named in errors (a known name is not attacker-chosen text; anything else is not echoed).
const KNOWN_OTHERS: [&str; 9] = [
    "none", "RS384", "RS512", "PS256", "PS384", "PS512", "ES384", "ES512", "EdDSA",
];

impl Algorithm {
    /// The JOSE name (`HS256`, `RS256`, ...).
    ///
    /// ```
    /// assert_eq!(liftwatch::jwt::Algorithm::HS384.as_str(), "HS384");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    /// The algorithm with this exact (case-sensitive) JOSE name, if supported.
    ///
    /// ```
    /// use liftwatch::jwt::Algorithm;
    /// assert_eq!(Algorithm::from_name("HS512"), Some(Algorithm::HS512));
    /// assert_eq!(Algorithm::from_name("hs512"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Algorithm> {
        ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    pub(crate) const fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256 => Family::Rsa,
            Algorithm::ES256 => Family::EcP256,
        }
    }

    pub(crate) const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name to show in an error for a token's `alg` header: the registered name when it
/// is exactly one (any spelling of `none` shows as `none`), else `None`.
pub(crate) fn known_name(alg: &str) -> Option<&'static str> {
    if alg.eq_ignore_ascii_case("none") {
        return Some("none");
    }
    ALL.iter()
        .map(|a| a.as_str())
        .chain(KNOWN_OTHERS)
        .find(|name| *name == alg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
    }

    #[test]
    fn known_names_only() {
        assert_eq!(known_name("NONE"), Some("none"));
        assert_eq!(known_name("PS256"), Some("PS256"));
        assert_eq!(known_name("hs256"), None);
        assert_eq!(known_name("<script>"), None);
        assert_eq!(known_name(""), None);
    }
}
