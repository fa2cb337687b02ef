//! The socket side of the OTLP intake: binds 127.0.0.1 (never another interface: the
//! handler runs in the same sandbox) and serves each connection with HTTP/1.1, every
//! request answered by `OtlpIntake::route`.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::intake::OtlpIntake;

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
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "otlp intake accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let intake = intake.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let intake = intake.clone();
                    async move { Ok::<_, Infallible>(intake.route(request).await) }
                });
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "otlp intake connection ended with an error");
                }
            });
        }
    }
}
