//! The lifecycle loop: register, start the intakes and the pipeline during init, then
//! call `/next` forever, flushing according to the strategy, until SHUTDOWN.
//!
//! Never blocks the function: once registered, any failure (a port that cannot bind, a
//! refused subscription, a panicked pipeline) is logged once and the loop falls back to
//! calling `/next` and nothing else.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::time::timeout_at;

use crate::config::{Config, Resources};
use crate::extensions_api::{ApiError, ExtensionsApi, NextEvent};
use crate::flush_policy::FlushPolicy;
use crate::health::Health;
use crate::intake::UdpIntake;
use crate::pipeline::{Pipeline, PipelineHandle};
use crate::ratelimit::{ClientOptions, RateLimitWriter, TableSchedule};
use crate::resources::{
    LAMBDA_DEFAULT_TMP_BYTES, PROC_ROOT, ProcessScope, ResourceSampler, TMP_PATH,
};
use crate::sink::Sink;
use crate::telemetry::{TelemetryListener, subscribe};
use crate::traces::Resource;

/// Telemetry batches queued between the listener and the pipeline.
const TELEMETRY_CAPACITY: usize = 256;
/// Time kept free before SHUTDOWN's deadline (the platform kills the process at it).
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(300);
/// Longest wait at SHUTDOWN for the reports of invocations still in flight.
const SHUTDOWN_REPORT_WAIT: Duration = Duration::from_millis(1_000);
/// Time a flush in `end` mode may take before `/next` is called anyway.
const END_FLUSH_BUDGET: Duration = Duration::from_millis(500);
/// The final flush's budget even when SHUTDOWN's deadline leaves less.
const MIN_FINAL_FLUSH: Duration = Duration::from_millis(100);
/// Added to the telemetry buffering timeout: how long `platform.start` may take to arrive.
const START_GRACE: Duration = Duration::from_secs(1);
/// Longest wait for a registration or subscription answer during init.
const INIT_CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Consecutive `/next` failures tolerated before giving up.
const NEXT_RETRIES: u32 = 5;

/// Why the loop ended without a SHUTDOWN.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("registration with the extensions api failed")]
    Register(#[source] ApiError),
    #[error("the extensions api stopped answering /next")]
    Next(#[source] ApiError),
    #[error("registration with the extensions api timed out")]
    RegisterTimeout,
}

/// The pipeline when it is healthy; `None` once degraded to calling `/next` only.
struct Running {
    pipeline: Option<PipelineHandle>,
    /// Telemetry records are reaching the pipeline (subscribed, and not gone silent).
    telemetry_flowing: bool,
    /// Telemetry records the pipeline had received at the last flush.
    telemetry_records: u64,
    /// How long `platform.start` may take to arrive after INVOKE.
    start_grace: Duration,
    /// The "no telemetry" warning was logged.
    warned_silent: bool,
    policy: FlushPolicy,
    /// When init ended (the first `/next` call); taken by the first INVOKE.
    init_done_at: Option<SystemTime>,
}

impl Running {
    /// Notes the pipeline's telemetry count; new records mean telemetry flows (again).
    fn telemetry_seen(&mut self, records: u64) {
        if records > self.telemetry_records {
            self.telemetry_records = records;
            self.telemetry_flowing = true;
        }
    }

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
    // Before registering: the function's runtime starts after its extensions register.
    let started_unix_nanos = liftwatch::clock::now_nanos();
    let api = ExtensionsApi::new(&config.runtime_api);
    let registration = tokio::time::timeout(INIT_CALL_TIMEOUT, api.register(name))
        .await
        .map_err(|_| LifecycleError::RegisterTimeout)?
        .map_err(LifecycleError::Register)?;
    let id = registration.id;
    let function = registration
        .function_name
        .unwrap_or_else(|| config.function_name.clone());
    let mut running = start(&config, &api, &id, function, sinks, started_unix_nanos).await;
    running.init_done_at = Some(SystemTime::now());
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
    started_unix_nanos: u64,
) -> Running {
    let health = Arc::new(Health::default());
    let intake = UdpIntake::bind(config.port)
        .inspect_err(|error| {
            tracing::error!(port = config.port, %error, "cannot bind the udp intake; handler events are off");
        })
        .ok();
    let (batches, telemetry_rx) = mpsc::channel(TELEMETRY_CAPACITY);
    let telemetry = start_telemetry(config, api, id, batches, Arc::clone(&health)).await;
    let resource = Resource::function(&function, &config.function_version, &config.region, None);
    let (span_output, otlp) =
        crate::traces::setup::start(&config.traces, resource, started_unix_nanos).await;
    let mut pipeline = Pipeline::new(
        function,
        intake,
        telemetry_rx,
        health,
        sinks,
        config.flush.interval(),
    );
    pipeline = pipeline.with_span_output(span_output);
    if config.snap_start {
        pipeline = pipeline.expecting_restore();
    }
    if let Some(feed) = otlp {
        pipeline = pipeline.with_otlp(feed);
    }
    // The function's processes: what liftwatch's parent started (in Lambda its init: the
    // runtime, the runtime's children, the extensions, liftwatch included), neither the
    // parent itself nor anything else the machine runs.
    let scope = ProcessScope::DescendantsOf(std::os::unix::process::parent_id());
    match config.resources {
        Resources::Off => {}
        Resources::Sandbox => {
            let sampler = ResourceSampler::new(PROC_ROOT.into(), TMP_PATH.into(), scope);
            pipeline = pipeline.with_sampler(sampler);
        }
        Resources::Local => {
            let sampler = ResourceSampler::new(PROC_ROOT.into(), std::env::temp_dir(), scope)
                .with_tmp_files(LAMBDA_DEFAULT_TMP_BYTES);
            pipeline = pipeline.with_sampler(sampler);
        }
    }
    if let Some(table) = &config.ratelimit_table {
        let options = ClientOptions {
            region: config.region.clone(),
            endpoint: None,
            credentials: None,
        };
        let writer = RateLimitWriter::new(table.clone(), config.ratelimit_retention, options);
        let interval = config.ratelimit_table_interval;
        let schedule = TableSchedule::with_phase(writer, interval, liftwatch::random::fraction());
        pipeline = pipeline.with_ratelimit_table(schedule);
    }
    if let Some(table) = &config.connections_table {
        let options = ClientOptions {
            region: config.region.clone(),
            endpoint: None,
            credentials: None,
        };
        pipeline =
            pipeline.with_connection_counter(table.clone(), config.connections_interval, options);
    }
    let (pipeline, _task) = pipeline.spawn();
    Running {
        pipeline: Some(pipeline),
        telemetry_flowing: telemetry,
        telemetry_records: 0,
        start_grace: config.telemetry_buffer + START_GRACE,
        warned_silent: false,
        policy: FlushPolicy::new(config.flush),
        init_done_at: None,
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
    // Only the platform learns this path (from the subscription, over the Runtime API):
    // a POST anywhere else is answered 404 and counted, so code in the sandbox cannot
    // forge platform telemetry.
    let path = format!("/{}", liftwatch::random::hex_id(128));
    tokio::spawn(listener.serve(path.clone(), batches, health));
    let body = subscribe::subscription_body(&subscribe::Subscription {
        function_logs: config.telemetry_types.function,
        buffer: config.telemetry_buffer,
        host: &config.telemetry_host,
        port: config.telemetry_port,
        path: &path,
    });
    match tokio::time::timeout(INIT_CALL_TIMEOUT, api.subscribe_telemetry(id, body)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::error!(%error, "telemetry subscription refused; invocation metrics are off");
            false
        }
        Err(_) => {
            tracing::error!("telemetry subscription timed out; invocation metrics are off");
            false
        }
    }
}

async fn on_invoke(running: &mut Running, request_id: &str, deadline: Instant) {
    let flush_at_end = running.policy.flush_at_end(Instant::now());
    // Wall clock: the monotonic clock may not advance while the sandbox is frozen.
    let init_gap = running
        .init_done_at
        .take()
        .and_then(|done| SystemTime::now().duration_since(done).ok());
    let Some(pipeline) = running.pipeline.clone() else {
        return;
    };
    if pipeline.invoke_started(request_id, init_gap).await.is_err() {
        return running.degrade("invoke");
    }
    if !flush_at_end {
        return;
    }
    // Without telemetry the end of the invocation cannot be seen: flush now instead, which
    // publishes what the previous invocations sent.
    if running.telemetry_flowing && !wait_for_end(running, &pipeline, request_id, deadline).await {
        return;
    }
    let flush_deadline = Instant::now() + END_FLUSH_BUDGET;
    match timeout_at(flush_deadline.into(), pipeline.flush(flush_deadline)).await {
        Ok(Ok(summary)) => running.telemetry_seen(summary.telemetry_records),
        Ok(Err(_)) => running.degrade("flush"),
        Err(_) => tracing::warn!("end-of-invocation flush ran out of time"),
    }
}

/// Waits for the invocation's `platform.runtimeDone`, bounded by its deadline. Gives up
/// early when not even the invocation's `platform.start` arrives within the buffering
/// timeout plus a grace period: the telemetry is not reaching the extension, and waiting
/// would hold the sandbox (and the bill) until the function's timeout. False when the
/// pipeline is gone.
async fn wait_for_end(
    running: &mut Running,
    pipeline: &PipelineHandle,
    request_id: &str,
    deadline: Instant,
) -> bool {
    let started_by = deadline.min(Instant::now() + running.start_grace);
    match timeout_at(started_by.into(), pipeline.started(request_id)).await {
        Ok(Err(_)) => {
            running.degrade("start");
            return false;
        }
        Err(_) => {
            running.telemetry_flowing = false;
            if !std::mem::replace(&mut running.warned_silent, true) {
                tracing::warn!(
                    request_id,
                    "no telemetry arrived for this invocation; flushing at each INVOKE until it does"
                );
            }
            return true;
        }
        Ok(Ok(())) => {}
    }
    // A timed-out function sends runtimeDone late or never; the deadline bounds the wait.
    match timeout_at(deadline.into(), pipeline.runtime_done(request_id)).await {
        Ok(Err(_)) => {
            running.degrade("runtime done");
            false
        }
        Err(_) => {
            tracing::debug!(request_id, "no runtimeDone before the deadline");
            true
        }
        Ok(Ok(())) => true,
    }
}

async fn on_shutdown(running: &mut Running, deadline: Instant) {
    let Some(pipeline) = running.pipeline.take() else {
        return;
    };
    // Keep a margin before the platform's kill, but always give the final flush a chance.
    let now = Instant::now();
    let deadline = deadline
        .checked_sub(SHUTDOWN_MARGIN)
        .filter(|d| *d > now + MIN_FINAL_FLUSH)
        .unwrap_or(now + MIN_FINAL_FLUSH);
    if running.telemetry_flowing {
        let wait_until = deadline.min(now + SHUTDOWN_REPORT_WAIT);
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
    let now_ms = liftwatch::clock::now_ms();
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
