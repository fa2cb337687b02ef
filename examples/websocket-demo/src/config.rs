//! The function's configuration, read once at cold start from the environment through an
//! injectable lookup (tests never touch the process environment), and the JWT verifier
//! it describes.

use liftwatch::jwt::{TokenSource, Verifier};

/// The DynamoDB connection table (required).
pub const TABLE_VAR: &str = "CONNECTIONS_TABLE";
/// HMAC secrets for HS256, comma-separated: the first signs new tokens upstream, the
/// others are still accepted during a rotation.
pub const SECRET_VAR: &str = "JWT_SECRET";
/// A JWKS document (the JSON text an identity provider serves at its `jwks_uri`).
pub const JWKS_VAR: &str = "JWT_JWKS";
/// The accepted `iss`, when set.
pub const ISSUER_VAR: &str = "JWT_ISSUER";
/// The accepted `aud`, when set.
pub const AUDIENCE_VAR: &str = "JWT_AUDIENCE";
/// Replaces `https://{domainName}/{stage}` as the Management API endpoint (tests, or a
/// custom domain).
pub const MANAGEMENT_ENDPOINT_VAR: &str = "MANAGEMENT_ENDPOINT";
/// The query-string parameter a token may come in, last of the three sources.
pub const TOKEN_QUERY_PARAM: &str = "token";

/// Why the configuration is unusable; the function does not start with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No table.
    #[error("{TABLE_VAR} is not set")]
    MissingTable,
    /// Neither secrets nor a JWKS.
    #[error("no JWT key: set {SECRET_VAR} (comma-separated secrets) or {JWKS_VAR}")]
    NoKeys,
    /// The verifier refused the keys (a short secret, an unreadable JWKS, ...); the source
    /// names the key by position, never its value.
    #[error("the JWT configuration is invalid")]
    Jwt(#[source] liftwatch::jwt::ConfigError),
}

/// What the environment says.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The connection table.
    pub table: String,
    /// HMAC secrets, in the order given.
    pub secrets: Vec<String>,
    /// A JWKS document.
    pub jwks: Option<String>,
    /// The accepted issuer.
    pub issuer: Option<String>,
    /// The accepted audience.
    pub audience: Option<String>,
    /// The Management API endpoint override.
    pub management_endpoint: Option<String>,
}

impl std::fmt::Debug for Config {
    /// Secrets and keys are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("secrets", &self.secrets.len())
            .field("jwks", &self.jwks.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("management_endpoint", &self.management_endpoint)
            .finish()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`; blank values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let table = get(TABLE_VAR).ok_or(ConfigError::MissingTable)?;
        let secrets: Vec<String> = get(SECRET_VAR)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let jwks = get(JWKS_VAR);
        if secrets.is_empty() && jwks.is_none() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Config {
            table,
            secrets,
            jwks,
            issuer: get(ISSUER_VAR),
            audience: get(AUDIENCE_VAR),
            management_endpoint: get(MANAGEMENT_ENDPOINT_VAR),
        })
    }

    /// The `$connect` verifier: every secret and the JWKS's keys, issuer and audience when
    /// set, and the token looked for in `Authorization: Bearer`, then
    /// `Sec-WebSocket-Protocol: bearer, <token>`, then the `token` query parameter.
    pub fn verifier(&self) -> Result<Verifier, ConfigError> {
        let mut builder = Verifier::builder().sources([
            TokenSource::bearer(),
            TokenSource::websocket_protocol(),
            TokenSource::query(TOKEN_QUERY_PARAM),
        ]);
        for secret in &self.secrets {
            builder = builder.hmac_secret(secret.as_bytes());
        }
        if let Some(jwks) = &self.jwks {
            builder = builder.jwks(jwks.as_bytes());
        }
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer.clone());
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience.clone());
        }
        builder.build().map_err(ConfigError::Jwt)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn secrets_are_a_trimmed_comma_separated_list() {
        let old = "fedcba9876543210fedcba9876543210";
        let config = read(&[
            (TABLE_VAR, " connections "),
            (SECRET_VAR, &format!(" {SECRET} ,, {old} ")),
            (ISSUER_VAR, "https://auth.example.com/"),
            (AUDIENCE_VAR, " "),
        ])
        .unwrap();
        assert_eq!(config.table, "connections");
        assert_eq!(config.secrets, [SECRET, old]);
        assert_eq!(config.issuer.as_deref(), Some("https://auth.example.com/"));
        assert_eq!(config.audience, None, "blank is unset");
        assert_eq!(config.management_endpoint, None);
        assert!(config.verifier().is_ok());
        assert!(!format!("{config:?}").contains(SECRET), "never printed");
    }

    #[test]
    fn the_table_and_a_key_are_required() {
        assert!(matches!(
            read(&[(SECRET_VAR, SECRET)]),
            Err(ConfigError::MissingTable)
        ));
        assert!(matches!(
            read(&[(TABLE_VAR, "t"), (SECRET_VAR, " , ")]),
            Err(ConfigError::NoKeys)
        ));
        assert!(read(&[(TABLE_VAR, "t"), (JWKS_VAR, r#"{"keys":[]}"#)]).is_ok());
    }

    #[test]
    fn a_weak_secret_or_bad_jwks_fails_the_verifier_without_echoing_it() {
        let short = read(&[(TABLE_VAR, "t"), (SECRET_VAR, "short-secret")]).unwrap();
        let err = short.verifier().unwrap_err();
        assert!(matches!(err, ConfigError::Jwt(_)));
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(!chain.contains("short-secret"), "{chain}");
        let jwks = read(&[(TABLE_VAR, "t"), (JWKS_VAR, "not json")]).unwrap();
        assert!(jwks.verifier().is_err());
    }
}
