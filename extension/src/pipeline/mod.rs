//! The pipeline task: the one owner of the aggregators, the UDP intake and the sinks.
//! Intakes feed it through bounded channels; the lifecycle loop drives it with commands
//! (invoke started, wait for the invocation's end, flush, shut down).

mod connection_counts;
mod events;
mod flush;
mod handle;
mod otlp_metrics;
mod ratelimit;
mod request_gate;
mod sampling;
mod spans;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

pub use crate::traces::setup::{OtlpFeed, SpanOutput};
use handle::{Await, Command};
pub use handle::{FlushSummary, PipelineGone, PipelineHandle};

use connection_counts::ConnectionCounts;
use otlp_metrics::OtlpMetrics;
use ratelimit::RateLimits;
use sampling::Sampling;
use spans::Traces;

use crate::aggregate::{CustomAggregator, InvocationAggregator};
use crate::aws::ClientOptions;
use crate::health::Health;
use crate::intake::{self, UdpIntake};
use crate::ratelimit::TableSchedule;
use crate::resources::ResourceSampler;
use crate::sink::Sink;
use crate::telemetry::Record;
use request_gate::RequestGate;

/// How often resources are sampled while an invocation runs (see the sampler bench).
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
/// Commands queued from the lifecycle loop.
const COMMAND_CAPACITY: usize = 16;

/// The pipeline's state; `spawn` moves it into its task. The optional parts (resource
/// sampling, rate limits and their table, connections and the fleet counter, traces)
/// each own their state in a file of their own.
#[derive(Debug)]
pub struct Pipeline {
    function: String,
    intake: Option<UdpIntake>,
    telemetry: mpsc::Receiver<Vec<Record>>,
    health: Arc<Health>,
    sinks: Vec<Box<dyn Sink>>,
    interval: Duration,
    invocations: InvocationAggregator,
    custom: CustomAggregator,
    waiters: Vec<(Await, oneshot::Sender<()>)>,
    telemetry_records: u64,
    /// Telemetry is taken only for invocations this extension was sent.
    gate: RequestGate,
    sampling: Sampling,
    ratelimits: RateLimits,
    connections: ConnectionCounts,
    traces: Traces,
    otlp_metrics: OtlpMetrics,
    /// Where a SnapStart restore stands.
    restore: Restore,
    /// Durations (ms) of earlier flushes that published something, for `FlushDuration`.
    flush_durations: Vec<f64>,
    /// SHUTDOWN's final flush is running: write everything that is due and kept.
    final_flush: bool,
    last_flush: Instant,
}

impl Pipeline {
    /// A pipeline for `function` that flushes on its own every `interval` while thawed.
    pub fn new(
        function: String,
        intake: Option<UdpIntake>,
        telemetry: mpsc::Receiver<Vec<Record>>,
        health: Arc<Health>,
        sinks: Vec<Box<dyn Sink>>,
        interval: Duration,
    ) -> Self {
        Pipeline {
            traces: Traces::new(&function),
            function,
            intake,
            telemetry,
            health,
            sinks,
            interval,
            invocations: InvocationAggregator::default(),
            custom: CustomAggregator::default(),
            waiters: Vec::new(),
            telemetry_records: 0,
            gate: RequestGate::default(),
            sampling: Sampling::default(),
            ratelimits: RateLimits::default(),
            connections: ConnectionCounts::default(),
            otlp_metrics: OtlpMetrics::default(),
            restore: Restore::NotExpected,
            flush_durations: Vec::new(),
            final_flush: false,
            last_flush: Instant::now(),
        }
    }

    /// A SnapStart sandbox (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): its first INVOKE
    /// follows a restore, so the ids unique to the sandbox are drawn again before it.
    pub fn expecting_restore(mut self) -> Self {
        self.restore = Restore::Expected;
        self
    }

    /// Samples resources with `sampler` between each INVOKE and its runtimeDone.
    pub fn with_sampler(mut self, sampler: ResourceSampler) -> Self {
        self.sampling = Sampling::with_sampler(sampler);
        self
    }

    /// Also writes rate-limit statistics to a DynamoDB table.
    pub fn with_ratelimit_table(mut self, table: TableSchedule) -> Self {
        self.ratelimits.set_table(table);
        self
    }

    /// Exports spans (and keeps `/v1/stats` current) through `output`.
    pub fn with_span_output(mut self, output: SpanOutput) -> Self {
        self.traces.set_output(&self.function, output);
        self
    }

    /// Also takes spans, and metrics if it takes them, from the OTLP receiver.
    pub fn with_otlp(mut self, mut feed: OtlpFeed) -> Self {
        if let Some(metrics) = feed.metrics.take() {
            self.otlp_metrics.set_feed(metrics, feed.started_unix_nanos);
        }
        self.traces.set_otlp(feed);
        self
    }

    /// Also publishes the fleet's `ActiveConnections` from `table` every `interval`.
    pub fn with_connection_counter(
        mut self,
        table: String,
        interval: Duration,
        options: ClientOptions,
    ) -> Self {
        self.connections.set_counter(table, interval, options);
        self
    }

    /// Starts the task; the handle drives it.
    pub fn spawn(self) -> (PipelineHandle, tokio::task::JoinHandle<()>) {
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        (PipelineHandle { commands }, tokio::spawn(self.run(rx)))
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.traces.publish_stats();
        loop {
            let next_timer = self.last_flush + self.interval;
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else {
                        self.flush(Instant::now() + Duration::from_millis(500)).await;
                        return;
                    };
                    if self.handle(command).await.is_break() {
                        return;
                    }
                }
                Some(records) = self.telemetry.recv() => self.record_telemetry(records),
                ready = readable(self.intake.as_ref()) => {
                    if ready.is_ok() {
                        self.drain_intake(intake::BATCH_DATAGRAMS);
                    }
                }
                () = sleep_until_some(self.sampling.next_at()) => self.sampling.sample(),
                Some(attempt) = self.connections.next_attempt() => {
                    self.connections.record_attempt(attempt);
                }
                Some(spans) = self.traces.next_otlp() => self.traces.record_otlp(spans),
                Some(points) = self.otlp_metrics.next() => {
                    self.otlp_metrics.record(points, &mut self.custom, &self.health);
                }
                () = tokio::time::sleep_until(next_timer.into()) => {
                    self.flush(Instant::now() + self.interval / 2).await;
                }
            }
        }
    }

    async fn handle(&mut self, command: Command) -> std::ops::ControlFlow<()> {
        match command {
            Command::InvokeStarted(id, init_gap) => {
                if self.restore == Restore::Expected {
                    self.restored();
                    self.restore = Restore::DoneAtInvoke;
                }
                if let Some(gap) = init_gap {
                    self.invocations.first_invoke_after(gap);
                }
                self.invocations.invoke_started(&id);
                let early = self.gate.invoked(&id);
                self.sampling.start(id);
                self.connections.invoke_started(Instant::now());
                if !early.is_empty() {
                    self.record_telemetry(early);
                }
            }
            Command::Wait(condition, reply) => {
                self.drain_telemetry();
                self.waiters.push((condition, reply));
                self.wake_waiters();
            }
            Command::Flush(deadline, reply) => {
                let summary = self.flush(deadline).await;
                let _ = reply.send(summary);
            }
            Command::Shutdown(deadline, reply) => {
                self.final_flush = true;
                self.connections.await_attempt(deadline).await;
                // The final flush drains the intake, counts the kernel's drops and gives
                // the network sinks their last try, counting what they dropped.
                let summary = self.flush(deadline).await;
                self.connections.release(deadline).await;
                // Flushes stdout after the last document (network sinks: nothing left, 0).
                let shutdowns = self.sinks.iter_mut().map(|sink| sink.shutdown(deadline));
                let _already_counted: Vec<u64> = futures_util::future::join_all(shutdowns).await;
                let _ = reply.send(summary);
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn record_telemetry(&mut self, records: Vec<Record>) {
        self.telemetry_records += records.len() as u64;
        let now_ns = liftwatch::clock::now_ms().saturating_mul(1_000_000);
        let admitted: Vec<Record> = records
            .into_iter()
            .filter_map(|record| self.gate.admit(record))
            .collect();
        for record in &admitted {
            if matches!(record, Record::RestoreStart { .. }) {
                // Already done at this restore's first INVOKE when SnapStart was expected.
                if self.restore != Restore::DoneAtInvoke {
                    self.restored();
                }
                self.restore = Restore::NotExpected;
            }
            self.invocations.record(record);
            self.traces.record_telemetry(record, now_ns);
        }
        self.traces.publish_stats();
        if let Some(id) = self.sampling.request_id()
            && self.invocations.runtime_done_for(id)
        {
            self.sampling.finish();
        }
        self.wake_waiters();
    }

    fn drain_telemetry(&mut self) {
        while let Ok(records) = self.telemetry.try_recv() {
            self.record_telemetry(records);
        }
    }

    /// After a SnapStart restore: every id unique to this sandbox (span ids, the statistics
    /// writer's id, the lease holder) is drawn again from the kernel, before anything is
    /// written with the snapshot's copy, and connections opened before the snapshot are
    /// dropped (they may be dead; clients reconnect on their next request).
    fn restored(&mut self) {
        self.traces.restored();
        let writer = self.ratelimits.restored().unwrap_or_default();
        let holder = self.connections.restored().unwrap_or_default();
        tracing::info!(
            statistics_writer.before = writer.0,
            statistics_writer.after = writer.1,
            lease_holder.before = holder.0,
            lease_holder.after = holder.1,
            "restored from a snapshot: ids drawn again, connections dropped"
        );
        for sink in &mut self.sinks {
            sink.restored();
        }
    }

    /// Answers every waiter whose condition now holds; drops those nobody awaits any more.
    fn wake_waiters(&mut self) {
        let invocations = &self.invocations;
        for (condition, reply) in std::mem::take(&mut self.waiters) {
            if condition.holds(invocations) {
                let _ = reply.send(());
            } else if !reply.is_closed() {
                self.waiters.push((condition, reply));
            }
        }
    }
}

/// Where a SnapStart restore stands: ids are drawn again once per restore, at its first
/// INVOKE or at its `platform.restoreStart`, whichever the pipeline sees first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restore {
    /// On-demand, or the restore was handled.
    NotExpected,
    /// `snap-start`: the first INVOKE follows a restore.
    Expected,
    /// Handled at the first INVOKE; its `platform.restoreStart` needs nothing more.
    DoneAtInvoke,
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn readable(intake: Option<&UdpIntake>) -> std::io::Result<()> {
    match intake {
        Some(intake) => intake.readable().await,
        None => std::future::pending().await,
    }
}
