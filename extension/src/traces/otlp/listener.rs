//! The socket side of the OTLP intake: binds 127.0.0.1 (never another interface: the
//! handler runs in the same sandbox) and serves it with the extension's accept loop
//! (`http_server`), every request answered by `OtlpIntake::route`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;

use super::intake::OtlpIntake;
use crate::http_server::{self, Limits};

/// Handlers' SDKs hold a connection or a few each: 64 at once leave hundreds of the
/// sandbox's 1,024 file descriptors to everything else, and a request head must come
/// within 5 s (an idle keep-alive connection is closed after that).
const LIMITS: Limits = Limits {
    max_connections: 64,
    header_timeout: std::time::Duration::from_secs(5),
    keep_alive: true,
};

/// A bound, not yet serving, OTLP/HTTP receiver on 127.0.0.1.
#[derive(Debug)]
pub struct OtlpListener {
    listener: TcpListener,
}

impl OtlpListener {
    /// Binds `127.0.0.1:port` (0 picks a free port). Loopback only: the handler runs in
    /// the same sandbox.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        Ok(OtlpListener { listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `intake` until the task is dropped.
    pub async fn serve(self, intake: OtlpIntake) {
        let counters = Arc::clone(intake.counters());
        let refused = move || counters.connection_refused();
        let handler = move |request| {
            let intake = intake.clone();
            async move { intake.route(request).await }
        };
        http_server::serve(self.listener, "otlp", LIMITS, refused, handler).await;
    }
}
