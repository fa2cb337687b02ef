//! Helpers shared by the self-tests that run the bash + curl stand-ins from `fixtures/`:
//! the stand-in config, a tool check, and a minimal Telemetry API listener that stands for
//! the extension's own and keeps every record it receives, in order.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use liftwatch_sandbox::SandboxConfig;
use liftwatch_sandbox::config::TELEMETRY_PORT_VAR;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The stand-ins need bash and curl; without them the tests are skipped (with a note).
pub fn have_tools() -> bool {
    let ok = ["bash", "curl"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok {
        eprintln!("skipping: the stand-in processes need bash and curl");
    }
    ok
}

pub fn config() -> SandboxConfig {
    SandboxConfig::new(fixture("standin-extension"), fixture("standin-function"))
        .function_name("selftest-fn")
        .memory_mb(256)
}

/// The stand-in configuration with its telemetry going to a fresh [`TelemetrySink`].
pub async fn config_with_sink() -> anyhow::Result<(SandboxConfig, TelemetrySink)> {
    let telemetry = TelemetrySink::start().await?;
    let config = config().env(TELEMETRY_PORT_VAR, telemetry.port.to_string());
    Ok((config, telemetry))
}

/// A minimal HTTP/1.1 endpoint that accepts Telemetry API batches (POST bodies holding a
/// JSON array) and keeps every record it received.
pub struct TelemetrySink {
    pub port: u16,
    records: Arc<Mutex<Vec<Value>>>,
}

impl TelemetrySink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&records);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Some(end) = find(&buf, b"\r\n\r\n") else {
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
                        if let Ok(Value::Array(batch)) = serde_json::from_slice(&body) {
                            sink.lock().map(|mut s| s.extend(batch)).ok();
                        }
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(TelemetrySink { port, records })
    }

    pub fn records_of(&self, event_type: &str) -> Vec<Value> {
        self.records
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|e| e["type"] == event_type)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The state letter of `/proc/<pid>/stat` (`T` = stopped).
pub fn process_state(pid: u32) -> anyhow::Result<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(") ").context("bad stat")?.1;
    after_name.chars().next().context("empty stat")
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl TelemetrySink {
    /// Every record received so far, in arrival order.
    pub fn records(&self) -> Vec<Value> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The `type` of every record received so far, in arrival order.
    pub fn types(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter_map(|e| e["type"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until `count` records of `event_type` arrived (at most 5 s).
    pub async fn wait_for(&self, event_type: &str, count: usize) -> anyhow::Result<()> {
        for _ in 0..500 {
            if self.records_of(event_type).len() >= count {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        anyhow::bail!("{count} {event_type} not received; got {:?}", self.types())
    }
}
