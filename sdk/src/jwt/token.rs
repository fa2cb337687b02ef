//! Finding the token in a request: [`TokenSource`] names one place to look in
//! [`RequestParts`], the verifier tries its sources in order, and [`Token`] is what it
//! found.
//!
//! Within one source, every matching header or parameter is looked at: the same token
//! twice is fine, two different tokens are [`JwtError::MultipleTokens`]. The first source
//! that holds a token decides; later sources are not tried, even if that token fails.

use std::fmt;

use super::error::JwtError;
use super::request::RequestParts;

/// The `Sec-WebSocket-Protocol` value that announces a token: the token is the value
/// right after it, as in `Sec-WebSocket-Protocol: bearer, <token>`.
///
/// ```
/// assert_eq!(liftwatch::jwt::PROTOCOL_MARKER, "bearer");
/// ```
pub const PROTOCOL_MARKER: &str = "bearer";

/// One place a token may come from.
///
/// ```
/// use liftwatch::jwt::TokenSource;
/// let order = [TokenSource::bearer(), TokenSource::query("token"), TokenSource::cookie("session")];
/// assert_eq!(order[1], TokenSource::Query("token".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`; header name and scheme case-insensitive.
    Bearer,
    /// In `Sec-WebSocket-Protocol` (comma-separated values), the value right after the
    /// marker (matched case-insensitively): `bearer, <token>` with the default marker.
    WebSocketProtocol(String),
    /// A query-string parameter, by exact name. Values are used as given (API Gateway
    /// has already percent-decoded them).
    Query(String),
    /// A cookie from the `Cookie` header(s), by exact name; surrounding quotes removed.
    Cookie(String),
}

impl TokenSource {
    /// `Authorization: Bearer <token>`.
    ///
    /// ```
    /// assert_eq!(liftwatch::jwt::TokenSource::bearer(), liftwatch::jwt::TokenSource::Bearer);
    /// ```
    pub fn bearer() -> Self {
        TokenSource::Bearer
    }

    /// `Sec-WebSocket-Protocol: bearer, <token>` (marker [`PROTOCOL_MARKER`]).
    ///
    /// ```
    /// use liftwatch::jwt::TokenSource;
    /// assert_eq!(TokenSource::websocket_protocol(), TokenSource::WebSocketProtocol("bearer".into()));
    /// ```
    pub fn websocket_protocol() -> Self {
        TokenSource::WebSocketProtocol(PROTOCOL_MARKER.to_owned())
    }

    /// The query-string parameter `name`.
    ///
    /// ```
    /// let source = liftwatch::jwt::TokenSource::query("access_token");
    /// ```
    pub fn query(name: impl Into<String>) -> Self {
        TokenSource::Query(name.into())
    }

    /// The cookie `name`.
    ///
    /// ```
    /// let source = liftwatch::jwt::TokenSource::cookie("session");
    /// ```
    pub fn cookie(name: impl Into<String>) -> Self {
        TokenSource::Cookie(name.into())
    }

    /// The one token this source holds in `request`, if any.
    pub(crate) fn find<'r>(&self, request: &'r RequestParts) -> Result<Option<&'r str>, JwtError> {
        let mut found: Option<&'r str> = None;
        let mut add = |candidate: &'r str| -> Result<(), JwtError> {
            let candidate = candidate.trim();
            match found {
                _ if candidate.is_empty() => Ok(()),
                Some(existing) if existing != candidate => Err(JwtError::MultipleTokens),
                _ => {
                    found = Some(candidate);
                    Ok(())
                }
            }
        };
        match self {
            TokenSource::Bearer => {
                for value in request.header_values("authorization") {
                    if let Some(token) = bearer_token(value) {
                        add(token)?;
                    }
                }
            }
            TokenSource::WebSocketProtocol(marker) => {
                for value in request.header_values("sec-websocket-protocol") {
                    let mut protocols = value.split(',').map(str::trim);
                    while let Some(protocol) = protocols.next() {
                        if protocol.eq_ignore_ascii_case(marker)
                            && let Some(token) = protocols.next()
                        {
                            add(token)?;
                        }
                    }
                }
            }
            TokenSource::Query(name) => {
                for (_, value) in request.query_pairs().filter(|(key, _)| key == name) {
                    add(value)?;
                }
            }
            TokenSource::Cookie(name) => {
                for value in request.header_values("cookie") {
                    for pair in value.split(';') {
                        if let Some((key, value)) = pair.split_once('=')
                            && key.trim() == name
                        {
                            add(unquote(value.trim()))?;
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The credentials of a `Bearer` authorization value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest)
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// A token found in a request, with the source it came from. Its `Debug` shows the
/// length, never the token.
#[derive(Clone, Copy)]
pub struct Token<'a> {
    pub(crate) value: &'a str,
    pub(crate) source: &'a TokenSource,
}

impl<'a> Token<'a> {
    /// The token text. Do not log it.
    ///
    /// ```
    /// use liftwatch::jwt::{RequestParts, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([7u8; 32]).build()?;
    /// let request = RequestParts::new().headers([("Authorization", "Bearer abc")]);
    /// assert_eq!(verifier.extract(&request)?.as_str(), "abc");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(&self) -> &'a str {
        self.value
    }

    /// Where it was found: a handler that took it from `Sec-WebSocket-Protocol` must
    /// answer with `Sec-WebSocket-Protocol: <marker>` or browsers drop the connection.
    ///
    /// ```
    /// use liftwatch::jwt::{RequestParts, TokenSource, Verifier};
    /// let verifier = Verifier::builder().hmac_secret([7u8; 32]).build()?;
    /// let request = RequestParts::new().headers([("Sec-WebSocket-Protocol", "bearer, abc")]);
    /// assert_eq!(verifier.extract(&request)?.source(), &TokenSource::websocket_protocol());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source(&self) -> &'a TokenSource {
        self.source
    }
}

impl fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("source", self.source)
            .field("len", &self.value.len())
            .finish_non_exhaustive()
    }
}
