//! The verifier's configuration: keys, accepted algorithms, issuer and audience, leeway,
//! claim names and token sources, checked once by [`VerifierBuilder::build`].
//!
//! Key methods never fail on the spot: the first bad key is kept and returned by
//! `build`, so a configuration reads as one chain.

use std::time::Duration;

use super::alg::{Algorithm, Family};
use super::claims::ClaimNames;
use super::error::ConfigError;
use super::jwks;
use super::keys::{self, Key};
use super::token::TokenSource;
use super::verifier::Verifier;

/// The default clock-skew allowance for `exp` and `nbf`: 30 seconds.
///
/// ```
/// assert_eq!(liftwatch::jwt::DEFAULT_LEEWAY.as_secs(), 30);
/// ```
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The default largest token, in bytes (16 KiB); larger ones are refused unread.
///
/// ```
/// assert_eq!(liftwatch::jwt::DEFAULT_MAX_TOKEN_BYTES, 16 * 1024);
/// ```
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Configures a [`Verifier`]; start with [`Verifier::builder`].
///
/// ```
/// use std::time::Duration;
/// use liftwatch::jwt::{Algorithm, TokenSource, Verifier};
/// let verifier = Verifier::builder()
///     .hmac_secret(b"new-secret-0123456789abcdef-0123456")
///     .hmac_secret(b"old-secret-0123456789abcdef-0123456")
///     .algorithms([Algorithm::HS256])
///     .issuer("https://auth.example.com/")
///     .audience("chat-api")
///     .leeway(Duration::from_secs(10))
///     .tenant_claim("custom:tenant_id")
///     .sources([TokenSource::bearer(), TokenSource::query("token")])
///     .build()?;
/// assert_eq!(verifier.algorithms(), [Algorithm::HS256]);
/// # Ok::<(), liftwatch::jwt::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    keys: Vec<Key>,
    next_position: usize,
    error: Option<ConfigError>,
    algorithms: Option<Vec<Algorithm>>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    names: ClaimNames,
    sources: Vec<TokenSource>,
    max_token_bytes: usize,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            keys: Vec::new(),
            next_position: 0,
            error: None,
            algorithms: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            names: ClaimNames {
                tenant: "tenant_id".to_owned(),
                roles: "roles".to_owned(),
            },
            sources: vec![TokenSource::bearer(), TokenSource::websocket_protocol()],
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

impl VerifierBuilder {
    /// Adds an HMAC secret (raw bytes, at least [`MIN_SECRET_BYTES`](super::MIN_SECRET_BYTES)).
    /// Add the new and the old secret during a rotation: a token verifies if either does.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().hmac_secret([42u8; 32]);
    /// ```
    pub fn hmac_secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.add(|position| keys::hmac(position, secret.as_ref()).map(|key| vec![key]))
    }

    /// Adds an RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`),
    /// 2048 to 4096 bits. It only ever verifies RSA signatures.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().rsa_pem("-----BEGIN PUBLIC KEY-----...");
    /// assert!(builder.build().is_err());
    /// ```
    pub fn rsa_pem(self, pem: impl AsRef<[u8]>) -> Self {
        self.add(|position| keys::rsa_pem(position, pem.as_ref()).map(|key| vec![key]))
    }

    /// Adds an EC P-256 public key in PEM (`BEGIN PUBLIC KEY`), for ES256.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().ec_pem("-----BEGIN PUBLIC KEY-----...");
    /// assert!(builder.build().is_err());
    /// ```
    pub fn ec_pem(self, pem: impl AsRef<[u8]>) -> Self {
        self.add(|position| keys::ec_pem(position, pem.as_ref()).map(|key| vec![key]))
    }

    /// Adds the usable keys of a JWKS document (the JSON an identity provider serves at
    /// its `jwks_uri`; fetch it at init). Keys are selected by the token's `kid`.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().jwks(r#"{"keys": []}"#);
    /// assert!(builder.build().is_err());
    /// ```
    pub fn jwks(self, document: impl AsRef<[u8]>) -> Self {
        self.add(|position| jwks::parse(position, document.as_ref()))
    }

    /// Sets the accepted algorithms, replacing the default: the one algorithm of each
    /// configured key (HS256 for secrets, RS256 for RSA keys, ES256 for EC keys, or a
    /// JWK's own `alg`). HS384 and HS512 must be asked for here.
    ///
    /// ```
    /// use liftwatch::jwt::{Algorithm, Verifier};
    /// let builder = Verifier::builder().algorithms([Algorithm::HS256, Algorithm::HS512]);
    /// ```
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Accepts tokens whose `iss` is exactly `issuer`; call again to accept several.
    /// Once one is set, a token without `iss` is refused. Unset: `iss` is not checked.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().issuer("https://auth.example.com/");
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` names `audience`; call again to accept several. Once
    /// one is set, a token without `aud` is refused. Unset: `aud` is not checked, so set
    /// it whenever the issuer serves more than one API.
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().audience("chat-api");
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The clock-skew allowance for `exp` and `nbf` (default [`DEFAULT_LEEWAY`]).
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().leeway(std::time::Duration::ZERO);
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The claim read into [`Claims::tenant_id`](super::Claims::tenant_id) (default
    /// `tenant_id`; Cognito custom attributes look like `custom:tenant_id`).
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().tenant_claim("org");
    /// ```
    pub fn tenant_claim(mut self, name: impl Into<String>) -> Self {
        self.names.tenant = name.into();
        self
    }

    /// The claim read into [`Claims::roles`](super::Claims::roles) (default `roles`;
    /// Cognito uses `cognito:groups`).
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().roles_claim("cognito:groups");
    /// ```
    pub fn roles_claim(mut self, name: impl Into<String>) -> Self {
        self.names.roles = name.into();
        self
    }

    /// Where to look for the token, in order (default: `Authorization: Bearer`, then
    /// `Sec-WebSocket-Protocol`). Query parameters and cookies are opt-in.
    ///
    /// ```
    /// use liftwatch::jwt::{TokenSource, Verifier};
    /// let builder = Verifier::builder().sources([TokenSource::query("token"), TokenSource::bearer()]);
    /// ```
    pub fn sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// The largest token accepted, in bytes (default [`DEFAULT_MAX_TOKEN_BYTES`]).
    ///
    /// ```
    /// let builder = liftwatch::jwt::Verifier::builder().max_token_bytes(8 * 1024);
    /// ```
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Checks the configuration and builds the verifier.
    ///
    /// ```
    /// use liftwatch::jwt::{ConfigError, Verifier};
    /// assert_eq!(Verifier::builder().build().unwrap_err(), ConfigError::NoKeys);
    /// ```
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        if self.sources.is_empty() {
            return Err(ConfigError::NoSources);
        }
        let mut algorithms = match self.algorithms {
            Some(list) => list,
            None => self.keys.iter().map(default_algorithm).collect(),
        };
        algorithms.sort();
        algorithms.dedup();
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if let Some(&alg) = algorithms
            .iter()
            .find(|&&alg| !self.keys.iter().any(|k| k.serves(alg)))
        {
            return Err(ConfigError::NoKeyFor(alg));
        }
        Ok(Verifier {
            keys: self.keys,
            algorithms,
            issuers: self.issuers,
            audiences: self.audiences,
            leeway_secs: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
            names: self.names,
            sources: self.sources,
            max_token_bytes: self.max_token_bytes,
        })
    }

    /// Loads keys at the next position unless an earlier key already failed.
    fn add(mut self, load: impl FnOnce(usize) -> Result<Vec<Key>, ConfigError>) -> Self {
        let position = self.next_position;
        self.next_position += 1;
        if self.error.is_none() {
            match load(position) {
                Ok(keys) => self.keys.extend(keys),
                Err(error) => self.error = Some(error),
            }
        }
        self
    }
}

/// The algorithm a key verifies when none are configured.
fn default_algorithm(key: &Key) -> Algorithm {
    key.only.unwrap_or(match key.family {
        Family::Hmac => Algorithm::HS256,
        Family::Rsa => Algorithm::RS256,
        Family::EcP256 => Algorithm::ES256,
    })
}
