//! The lifecycle loop: register, start the intakes and the pipeline during init, then
//! call `/next` forever, flushing according to the strategy, until SHUTDOWN.
//!
//! Never blocks the function: once registered, any failure (a port that cannot bind, a
//! refused subscription, a panicked pipeline) is logged once and the loop falls back to
//! calling `/next` and nothing else.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::timeout_at;

use crate::config::Config;
use crate::extensions_api::{ApiError, ExtensionsApi, NextEvent};
use crate::flush::FlushPolicy;
use crate::health::Health;
use crate::intake::UdpIntake;
use crate::pipeline::{Pipeline, PipelineHandle};
use crate::sink::Sink;
use crate::telemetry::{TelemetryListener, subscribe};

/// Telemetry batches queued between the listener and the pipeline.
const TELEMETRY_CAPACITY: usize = 256;
/// Time kept free before SHUTDOWN's deadline (the platform kills the process at it).
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(300);
/// Longest wait at SHUTDOWN for the reports of invocations still in flight.
const SHUTDOWN_REPORT_WAIT: Duration = Duration::from_millis(1_000);
/// Time a flush in `end` mode may take before `/next` is called anyway.
const END_FLUSH_BUDGET: Duration = Duration::from_millis(500);
/// Consecutive `/next` failures tolerated before giving up.
const NEXT_RETRIES: u32 = 5;

/// Why the loop ended without a SHUTDOWN.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("registration with the extensions api failed")]
    Register(#[source] ApiError),
    #[error("the extensions api stopped answering /next")]
    Next(#[source] ApiError),
}

/// The pipeline when it is healthy; `None` once degraded to calling `/next` only.
struct Running {
    pipeline: Option<PipelineHandle>,
    telemetry: bool,
    policy: FlushPolicy,
}

impl Running {
    fn degrade(&mut self, what: &str) {
        if self.pipeline.take().is_some() {
            tracing::error!(what, "pipeline failed; continuing without metrics");
        }
    }
}

/// Registers under `name` and runs until SHUTDOWN.
pub async fn run(
    config: Config,
    name: &str,
    sinks: Vec<Box<dyn Sink>>,
) -> Result<(), LifecycleError> {
    let api = ExtensionsApi::new(&config.runtime_api);
    let registration = api.register(name).await.map_err(LifecycleError::Register)?;
    let id = registration.id;
    let function = registration
        .function_name
        .unwrap_or_else(|| config.function_name.clone());
    let mut running = start(&config, &api, &id, function, sinks).await;
    let mut failures = 0;
    loop {
        let event = match api.next(&id).await {
            Ok(event) => {
                failures = 0;
                event
            }
            Err(error) if failures < NEXT_RETRIES => {
                failures += 1;
                tracing::warn!(%error, failures, "/next failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(failures))).await;
                continue;
            }
            Err(error) => return Err(LifecycleError::Next(error)),
        };
        match event {
            NextEvent::Invoke {
                request_id,
                deadline_ms,
                ..
            } => {
                on_invoke(&mut running, &request_id, instant_at(deadline_ms)).await;
            }
            NextEvent::Shutdown {
                shutdown_reason,
                deadline_ms,
            } => {
                tracing::debug!(reason = %shutdown_reason, "shutdown");
                on_shutdown(&mut running, instant_at(deadline_ms)).await;
                return Ok(());
            }
        }
    }
}

/// Init work: bind the intakes, subscribe to telemetry, start the pipeline. Failures
/// degrade the extension; they never fail the init.
async fn start(
    config: &Config,
    api: &ExtensionsApi,
    id: &str,
    function: String,
    sinks: Vec<Box<dyn Sink>>,
) -> Running {
    let health = Arc::new(Health::default());
    let intake = UdpIntake::bind(config.port)
        .inspect_err(|error| {
            tracing::error!(port = config.port, %error, "cannot bind the udp intake; handler events are off");
        })
        .ok();
    let (batches, telemetry_rx) = mpsc::channel(TELEMETRY_CAPACITY);
    let telemetry = start_telemetry(config, api, id, batches, Arc::clone(&health)).await;
    let (pipeline, _task) = Pipeline::new(
        function,
        intake,
        telemetry_rx,
        health,
        sinks,
        config.flush.interval(),
    )
    .spawn();
    Running {
        pipeline: Some(pipeline),
        telemetry,
        policy: FlushPolicy::new(config.flush),
    }
}

async fn start_telemetry(
    config: &Config,
    api: &ExtensionsApi,
    id: &str,
    batches: mpsc::Sender<Vec<crate::telemetry::Record>>,
    health: Arc<Health>,
) -> bool {
    let addr = (config.telemetry_bind, config.telemetry_port).into();
    let listener = match TelemetryListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%addr, %error, "cannot bind the telemetry listener; invocation metrics are off");
            return false;
        }
    };
    tokio::spawn(listener.serve(batches, health));
    match api
        .subscribe_telemetry(id, subscribe::subscription_body(config))
        .await
    {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, "telemetry subscription refused; invocation metrics are off");
            false
        }
    }
}

async fn on_invoke(running: &mut Running, request_id: &str, deadline: Instant) {
    let flush_at_end = running.policy.flush_at_end(Instant::now());
    let Some(pipeline) = running.pipeline.clone() else {
        return;
    };
    if pipeline.invoke_started(request_id).await.is_err() {
        return running.degrade("invoke");
    }
    if !(flush_at_end && running.telemetry) {
        return;
    }
    // The invocation's deadline bounds the wait: a timed-out function sends runtimeDone
    // late or never, and the extension must still call /next.
    match timeout_at(deadline.into(), pipeline.runtime_done(request_id)).await {
        Ok(Err(_)) => return running.degrade("runtime done"),
        Err(_) => tracing::debug!(request_id, "no runtimeDone before the deadline"),
        Ok(Ok(())) => {}
    }
    let flush_deadline = Instant::now() + END_FLUSH_BUDGET;
    if let Ok(Err(_)) = timeout_at(flush_deadline.into(), pipeline.flush(flush_deadline)).await {
        running.degrade("flush");
    }
}

async fn on_shutdown(running: &mut Running, deadline: Instant) {
    let Some(pipeline) = running.pipeline.take() else {
        return;
    };
    let deadline = deadline
        .checked_sub(SHUTDOWN_MARGIN)
        .unwrap_or_else(Instant::now);
    if running.telemetry {
        let wait_until = deadline.min(Instant::now() + SHUTDOWN_REPORT_WAIT);
        let _ = timeout_at(wait_until.into(), pipeline.reports_in()).await;
    }
    match timeout_at(deadline.into(), pipeline.shutdown(deadline)).await {
        Ok(Ok(summary)) => tracing::debug!(series = summary.series, "final flush done"),
        Ok(Err(_)) => tracing::error!("pipeline gone before the final flush"),
        Err(_) => tracing::error!("final flush did not finish before the deadline"),
    }
}

/// Converts a deadline in Unix milliseconds to an `Instant`.
fn instant_at(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
