//! A proxy in front of moto that hands it one request at a time.
//!
//! moto's server runs each request on its own thread without locking its DynamoDB
//! backend: a `TransactWriteItems` deep-copies the table for rollback and, when a condition
//! fails, puts that copy back, discarding whatever other requests wrote meanwhile; and an
//! `ADD` is a read-modify-write that concurrent requests can interleave. Real DynamoDB
//! applies each request atomically. Behind this proxy, moto does too: the clients still run
//! concurrently (many connections, many requests in flight), and the proxy lets one of
//! them reach moto at a time, in arrival order.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::http::{Message, read_message, response, serve, write_message};

/// The proxy's URL, and how many requests it has held at once at most (in flight at
/// the clients, waiting for their turn or being answered).
#[derive(Debug, Clone)]
pub struct SerialProxy {
    pub url: String,
    peak: Arc<AtomicUsize>,
}

impl SerialProxy {
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// Starts the proxy for `upstream` (`http://127.0.0.1:PORT`).
pub fn serializing_proxy(upstream: &str) -> SerialProxy {
    let target: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let one_at_a_time = Mutex::new(());
    let (holding, peak) = (AtomicUsize::new(0), Arc::new(AtomicUsize::new(0)));
    let seen = Arc::clone(&peak);
    let addr = serve(move |request| {
        seen.fetch_max(holding.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        let answer = {
            let _turn = one_at_a_time.lock().unwrap_or_else(|e| e.into_inner());
            forward(target, &request).unwrap_or_else(|e| response(502, &[], &e.to_string()))
        };
        holding.fetch_sub(1, Ordering::SeqCst);
        answer
    });
    SerialProxy {
        url: format!("http://{addr}"),
        peak,
    }
}

fn forward(target: SocketAddr, request: &Message) -> std::io::Result<Message> {
    let mut upstream = TcpStream::connect(target)?;
    let mut relayed = request.clone();
    relayed
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("connection"));
    relayed.headers.push(("connection".into(), "close".into()));
    write_message(&mut upstream, &relayed)?;
    upstream.flush()?;
    let mut reader = BufReader::new(upstream);
    let mut answer = read_message(&mut reader, true)?
        .ok_or_else(|| std::io::Error::other("moto closed without answering"))?;
    answer
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("connection"));
    Ok(answer)
}
