//! [`RequestParts`]: the headers and query parameters of a request, copied from any event
//! type (a `HashMap`, an iterator of pairs, or an API Gateway event as JSON), so token
//! extraction depends on no event crate.

use std::fmt;

use serde_json::Value;

/// The parts of a request a token can hide in: headers and query parameters, copied from
/// any event type. Header names are matched case-insensitively, query names exactly.
/// Its `Debug` lists names only: values (tokens, cookies) are never printed.
///
/// ```
/// use std::collections::HashMap;
/// use liftwatch::jwt::RequestParts;
/// let headers: HashMap<String, String> =
///     HashMap::from([("authorization".into(), "Bearer abc".into())]);
/// let request = RequestParts::new()
///     .headers(&headers)
///     .query([("token", "xyz")]);
/// assert_eq!(request.header_values("Authorization").collect::<Vec<_>>(), ["Bearer abc"]);
/// ```
#[derive(Clone, Default)]
pub struct RequestParts {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl RequestParts {
    /// No headers, no query.
    ///
    /// ```
    /// let request = liftwatch::jwt::RequestParts::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds headers: any iterator of (name, value) pairs, such as a `HashMap`'s `iter()`.
    ///
    /// ```
    /// let request = liftwatch::jwt::RequestParts::new().headers([("Cookie", "a=1")]);
    /// ```
    pub fn headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let pairs = headers.into_iter();
        let pairs = pairs.map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()));
        self.headers.extend(pairs);
        self
    }

    /// Adds query-string parameters, already decoded (as API Gateway gives them).
    ///
    /// ```
    /// let request = liftwatch::jwt::RequestParts::new().query([("token", "abc")]);
    /// ```
    pub fn query<I, K, V>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let pairs = params.into_iter();
        let pairs = pairs.map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()));
        self.query.extend(pairs);
        self
    }

    /// Reads an API Gateway event as JSON (WebSocket, REST or HTTP API): `headers`,
    /// `multiValueHeaders`, `queryStringParameters`, `multiValueQueryStringParameters`
    /// and the HTTP API's `cookies` array. Missing or non-string parts are skipped.
    ///
    /// ```
    /// use liftwatch::jwt::RequestParts;
    /// let event = serde_json::json!({
    ///     "headers": {"Sec-WebSocket-Protocol": "bearer, abc"},
    ///     "queryStringParameters": {"room": "lobby"},
    ///     "requestContext": {"routeKey": "$connect"}
    /// });
    /// let request = RequestParts::from_api_gateway_event(&event);
    /// assert_eq!(request.header_values("sec-websocket-protocol").count(), 1);
    /// ```
    pub fn from_api_gateway_event(event: &Value) -> Self {
        let mut parts = Self::new();
        parts.headers.extend(single(event.get("headers")));
        parts.headers.extend(multi(event.get("multiValueHeaders")));
        parts
            .query
            .extend(single(event.get("queryStringParameters")));
        parts
            .query
            .extend(multi(event.get("multiValueQueryStringParameters")));
        if let Some(cookies) = event.get("cookies").and_then(Value::as_array) {
            let cookies = cookies.iter().filter_map(Value::as_str);
            parts
                .headers
                .extend(cookies.map(|c| ("cookie".to_owned(), c.to_owned())));
        }
        parts
    }

    /// The values of every header called `name`, compared case-insensitively.
    ///
    /// ```
    /// let request = liftwatch::jwt::RequestParts::new().headers([("X-A", "1"), ("x-a", "2")]);
    /// assert_eq!(request.header_values("x-A").collect::<Vec<_>>(), ["1", "2"]);
    /// ```
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let matching = self
            .headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name));
        matching.map(|(_, value)| value.as_str())
    }

    /// Every query parameter, in order.
    pub(crate) fn query_pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.query.iter()
    }
}

impl fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(name, _)| name.clone()).collect()
        };
        f.debug_struct("RequestParts")
            .field("headers", &names(&self.headers))
            .field("query", &names(&self.query))
            .finish()
    }
}

/// The string members of a JSON object of strings.
fn single(map: Option<&Value>) -> Vec<(String, String)> {
    let Some(map) = map.and_then(Value::as_object) else {
        return Vec::new();
    };
    let strings = map
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())));
    strings.collect()
}

/// The string items of a JSON object of string arrays.
fn multi(map: Option<&Value>) -> Vec<(String, String)> {
    let Some(map) = map.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for (key, values) in map {
        for value in values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            pairs.push((key.clone(), value.to_owned()));
        }
    }
    pairs
}
