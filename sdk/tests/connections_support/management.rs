//! A recording stand-in for the API Gateway Management API on 127.0.0.1 (moto's server
//! answers `PostToConnection` 200 for any id, so it cannot play a gone or failing
//! connection). `POST /{stage}/@connections/{id}` answers the status configured for the
//! id (410 with `x-amzn-ErrorType: GoneException`, 500, or 200), after a short delay so
//! overlapping posts are visible, and records every request and the most in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::{response, serve};

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw path, as sent (percent-encoded).
    pub path: String,
    /// The decoded connection id.
    pub connection_id: String,
    pub body: Vec<u8>,
    pub authorization: String,
}

#[derive(Debug, Clone)]
pub struct ManagementApi {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    max_in_flight: Arc<AtomicUsize>,
}

impl ManagementApi {
    /// Starts the server; ids not in `statuses` answer 200.
    pub fn start(statuses: &[(&str, u16)], delay: Duration) -> Self {
        let statuses: HashMap<String, u16> = statuses
            .iter()
            .map(|(id, s)| ((*id).to_owned(), *s))
            .collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (log, max) = (Arc::clone(&requests), Arc::clone(&max_in_flight));
        let addr = serve(move |request| {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            let path = request.path().to_owned();
            let connection_id = path
                .split_once("/@connections/")
                .map(|(_, id)| percent_decode(id))
                .unwrap_or_default();
            log.lock().unwrap().push(Recorded {
                method: request.start.split(' ').next().unwrap_or("").to_owned(),
                path,
                connection_id: connection_id.clone(),
                body: request.body.clone(),
                authorization: request.header("authorization").unwrap_or("").to_owned(),
            });
            thread::sleep(delay);
            let answer = match statuses.get(&connection_id).copied().unwrap_or(200) {
                410 => response(
                    410,
                    &[("x-amzn-ErrorType", "GoneException")],
                    r#"{"message":null}"#,
                ),
                500 => response(
                    500,
                    &[("x-amzn-ErrorType", "InternalServerErrorException")],
                    r#"{"message":"Internal server error"}"#,
                ),
                _ => response(200, &[], ""),
            };
            in_flight.fetch_sub(1, Ordering::SeqCst);
            answer
        });
        ManagementApi {
            addr,
            requests,
            max_in_flight,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests for `connection_id`.
    pub fn requests_for(&self, connection_id: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.connection_id == connection_id)
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
