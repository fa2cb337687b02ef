//! Typed claims read from a verified token's payload: the registered ones (`sub`, `iss`,
//! `aud`, `exp`, `nbf`, `iat`), a tenant, roles and scopes, and every other claim kept
//! as JSON in [`Claims::extra`].

use serde_json::{Map, Value};

use super::error::JwtError;

/// The claims of a verified token.
///
/// - `aud` is a list whether the token has one string or an array.
/// - `roles` comes from the roles claim (default `roles`): an array of strings, or one
///   string for a single role.
/// - `scopes` joins `scope` (a space-separated string, RFC 8693, or an array) and `scp`
///   (an array, or a space-separated string), duplicates removed, first seen first.
/// - Times are Unix seconds; a fractional NumericDate is rounded down.
///
/// ```
/// use liftwatch::jwt::Claims;
/// let claims = Claims { roles: vec!["admin".into()], ..Claims::default() };
/// assert!(claims.has_role("admin"));
/// assert!(!claims.has_scope("chat:write"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// `sub`: the subject (the user).
    pub sub: Option<String>,
    /// The tenant claim (`tenant_id` unless configured otherwise).
    pub tenant_id: Option<String>,
    /// The roles claim (`roles` unless configured otherwise).
    pub roles: Vec<String>,
    /// `scope` and `scp`, merged.
    pub scopes: Vec<String>,
    /// `exp`: expiry, Unix seconds (required, so always present once verified).
    pub exp: i64,
    /// `nbf`: not before, Unix seconds.
    pub nbf: Option<i64>,
    /// `iat`: issued at, Unix seconds.
    pub iat: Option<i64>,
    /// `iss`: the issuer.
    pub iss: Option<String>,
    /// `aud`: the audiences.
    pub aud: Vec<String>,
    /// Every other claim, as sent.
    pub extra: Map<String, Value>,
}

/// The configured names of the claims that are not registered ones.
#[derive(Debug, Clone)]
pub(crate) struct ClaimNames {
    pub(crate) tenant: String,
    pub(crate) roles: String,
}

impl Claims {
    /// Whether `role` is among [`Claims::roles`].
    ///
    /// ```
    /// let claims = liftwatch::jwt::Claims { roles: vec!["ops".into()], ..Default::default() };
    /// assert!(claims.has_role("ops"));
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether `scope` is among [`Claims::scopes`].
    ///
    /// ```
    /// let claims = liftwatch::jwt::Claims { scopes: vec!["chat:read".into()], ..Default::default() };
    /// assert!(claims.has_scope("chat:read"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Reads the claims out of a payload object. `exp` missing is
    /// [`JwtError::MissingExp`]; a claim of the wrong type is [`JwtError::InvalidClaim`].
    pub(crate) fn from_payload(
        mut payload: Map<String, Value>,
        names: &ClaimNames,
    ) -> Result<Claims, JwtError> {
        let exp = match payload.remove("exp") {
            None => return Err(JwtError::MissingExp),
            Some(value) => numeric_date("exp", &value)?,
        };
        let nbf = payload
            .remove("nbf")
            .map(|v| numeric_date("nbf", &v))
            .transpose()?;
        let iat = payload
            .remove("iat")
            .map(|v| numeric_date("iat", &v))
            .transpose()?;
        let sub = payload
            .remove("sub")
            .map(|v| string("sub", v))
            .transpose()?;
        let iss = payload
            .remove("iss")
            .map(|v| string("iss", v))
            .transpose()?;
        let aud = payload
            .remove("aud")
            .map(|v| strings("aud", v))
            .transpose()?;
        let tenant = payload.remove(&names.tenant);
        let tenant_id = tenant.map(|v| string(&names.tenant, v)).transpose()?;
        let roles = payload
            .remove(&names.roles)
            .map(|v| strings(&names.roles, v))
            .transpose()?;
        let mut scopes = Vec::new();
        for name in ["scope", "scp"] {
            if let Some(value) = payload.remove(name) {
                for scope in scope_list(name, value)? {
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
            }
        }
        Ok(Claims {
            sub,
            tenant_id,
            roles: roles.unwrap_or_default(),
            scopes,
            exp,
            nbf,
            iat,
            iss,
            aud: aud.unwrap_or_default(),
            extra: payload,
        })
    }
}

/// A NumericDate: an integer or a finite number of seconds, rounded down.
fn numeric_date(name: &str, value: &Value) -> Result<i64, JwtError> {
    let invalid = || JwtError::InvalidClaim(name.to_owned());
    let Value::Number(number) = value else {
        return Err(invalid());
    };
    if let Some(seconds) = number.as_i64() {
        return Ok(seconds);
    }
    // Past i64 as an integer, or a float: only floats inside the i64 range are dates.
    const LIMIT: f64 = 9.0e18;
    match number.as_f64() {
        Some(f) if number.is_f64() && f.is_finite() && f.abs() < LIMIT => Ok(f.floor() as i64),
        _ => Err(invalid()),
    }
}

fn string(name: &str, value: Value) -> Result<String, JwtError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(JwtError::InvalidClaim(name.to_owned())),
    }
}

/// One string or an array of strings.
fn strings(name: &str, value: Value) -> Result<Vec<String>, JwtError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items.into_iter().map(|item| string(name, item)).collect(),
        _ => Err(JwtError::InvalidClaim(name.to_owned())),
    }
}

/// A space-separated string or an array of strings.
fn scope_list(name: &str, value: Value) -> Result<Vec<String>, JwtError> {
    match value {
        Value::String(s) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        other => strings(name, other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn names() -> ClaimNames {
        ClaimNames {
            tenant: "tenant_id".into(),
            roles: "roles".into(),
        }
    }

    fn read(payload: Value) -> Result<Claims, JwtError> {
        let Value::Object(map) = payload else {
            panic!("not an object")
        };
        Claims::from_payload(map, &names())
    }

    #[test]
    fn typed_fields_and_extra() {
        let claims = read(json!({
            "sub": "u1", "tenant_id": "acme", "roles": ["admin", "ops"],
            "scope": "chat:read  chat:write", "scp": ["chat:write", "admin"],
            "exp": 2000, "nbf": 1000.9, "iat": 999, "iss": "https://idp", "aud": "api",
            "email": "a@b.c", "jti": "j1"
        }))
        .unwrap();
        assert_eq!(claims.sub.as_deref(), Some("u1"));
        assert_eq!(claims.tenant_id.as_deref(), Some("acme"));
        assert_eq!(claims.roles, ["admin", "ops"]);
        assert_eq!(claims.scopes, ["chat:read", "chat:write", "admin"]);
        assert_eq!(
            (claims.exp, claims.nbf, claims.iat),
            (2000, Some(1000), Some(999))
        );
        assert_eq!(claims.iss.as_deref(), Some("https://idp"));
        assert_eq!(claims.aud, ["api"]);
        assert_eq!(claims.extra.len(), 2);
        assert_eq!(claims.extra["email"], "a@b.c");
    }

    #[test]
    fn wrong_types_name_the_claim() {
        let cases = [
            (json!({"exp": "soon"}), "exp"),
            (json!({"exp": 1e300}), "exp"),
            (json!({"exp": 18446744073709551615u64}), "exp"),
            (json!({"exp": 1, "nbf": null}), "nbf"),
            (json!({"exp": 1, "sub": 5}), "sub"),
            (json!({"exp": 1, "aud": ["a", 1]}), "aud"),
            (json!({"exp": 1, "roles": {"a": 1}}), "roles"),
            (json!({"exp": 1, "scope": 3}), "scope"),
            (json!({"exp": 1, "tenant_id": ["a"]}), "tenant_id"),
        ];
        for (payload, name) in cases {
            assert_eq!(
                read(payload).unwrap_err(),
                JwtError::InvalidClaim(name.into())
            );
        }
        assert_eq!(read(json!({"sub": "x"})).unwrap_err(), JwtError::MissingExp);
        assert_eq!(read(json!({"exp": -5})).unwrap().exp, -5);
        assert_eq!(read(json!({"exp": -1.5})).unwrap().exp, -2);
    }
}
