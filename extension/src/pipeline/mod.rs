//! The pipeline task: the one owner of the aggregators, the UDP intake and the sinks.
//! Intakes feed it through bounded channels; the lifecycle loop drives it with commands
//! (invoke started, wait for the invocation's end, flush, shut down).

mod events;
mod flush;
mod handle;
mod spans;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

pub use crate::traces::setup::{OtlpFeed, SpanOutput};
use handle::{Await, Command};
pub use handle::{FlushSummary, PipelineGone, PipelineHandle};

use crate::aggregate::{
    ConnectionAggregator, CustomAggregator, InvocationAggregator, ResourceAggregator,
};
use crate::aws::ClientOptions;
use crate::connections::{Attempt, ConnectionCounter};
use crate::health::Health;
use crate::intake::{self, UdpIntake};
use crate::ratelimit::{RateLimitAggregator, TableFlush};
use crate::resources::ResourceSampler;
use crate::sink::Sink;
use crate::telemetry::Record;
use crate::traces::{Span, TraceCollector};

/// How often resources are sampled while an invocation runs (see the sampler bench).
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
/// The longest SHUTDOWN spends handing the connection lease back.
const RELEASE_TIMEOUT: Duration = Duration::from_millis(300);
/// Commands queued from the lifecycle loop.
const COMMAND_CAPACITY: usize = 16;

/// The pipeline's state; `spawn` moves it into its task.
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
    /// Samples `/proc` while an invocation runs; `None` when resource metrics are off.
    sampler: Option<ResourceSampler>,
    resources: ResourceAggregator,
    ratelimit: RateLimitAggregator,
    /// The statistics table, when `LIFTWATCH_RATELIMIT_TABLE` is set.
    table: Option<TableFlush>,
    /// The "no statistics table" note was logged.
    warned_no_table: bool,
    connections: ConnectionAggregator,
    /// The periodic `ActiveConnections` count, when `LIFTWATCH_CONNECTIONS_TABLE` is set,
    /// and where its attempts report.
    counter: Option<(ConnectionCounter, mpsc::Receiver<Attempt>)>,
    /// The "no connection table" note was logged.
    warned_no_counter: bool,
    traces: TraceCollector,
    /// Span exporters and the `/v1/stats` snapshot, when tracing exports.
    span_output: Option<SpanOutput>,
    /// Spans from the OTLP receiver, when it runs.
    otlp: Option<OtlpFeed>,
    /// SHUTDOWN's final flush is running: write everything that is due and kept.
    final_flush: bool,
    /// The invocation being sampled and the next sample's time.
    sampling: Option<(String, Instant)>,
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
            traces: TraceCollector::new(&function, false),
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
            sampler: None,
            resources: ResourceAggregator::default(),
            ratelimit: RateLimitAggregator::new(),
            table: None,
            warned_no_table: false,
            connections: ConnectionAggregator::default(),
            counter: None,
            warned_no_counter: false,
            span_output: None,
            otlp: None,
            final_flush: false,
            sampling: None,
            last_flush: Instant::now(),
        }
    }

    /// Samples resources with `sampler` between each INVOKE and its runtimeDone.
    pub fn with_sampler(mut self, sampler: ResourceSampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Also writes rate-limit statistics to a DynamoDB table.
    pub fn with_ratelimit_table(mut self, table: TableFlush) -> Self {
        self.table = Some(table);
        self
    }

    /// Exports spans (and keeps `/v1/stats` current) through `output`.
    pub fn with_span_output(mut self, output: SpanOutput) -> Self {
        self.traces = TraceCollector::new(&self.function, !output.exporters.is_empty());
        self.span_output = Some(output);
        self
    }

    /// Also takes spans from the OTLP receiver.
    pub fn with_otlp(mut self, feed: OtlpFeed) -> Self {
        self.otlp = Some(feed);
        self
    }

    /// Also publishes the fleet's `ActiveConnections` from `table` every `interval`.
    pub fn with_connection_counter(
        mut self,
        table: String,
        interval: Duration,
        options: ClientOptions,
    ) -> Self {
        let (results, rx) = mpsc::channel(1);
        self.counter = Some((
            ConnectionCounter::new(table, interval, options, results),
            rx,
        ));
        self
    }

    /// Starts the task; the handle drives it.
    pub fn spawn(self) -> (PipelineHandle, tokio::task::JoinHandle<()>) {
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        (PipelineHandle { commands }, tokio::spawn(self.run(rx)))
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.publish_trace_stats();
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
                Some(records) = self.telemetry.recv() => self.record_telemetry(&records),
                ready = readable(self.intake.as_ref()) => {
                    if ready.is_ok() {
                        self.drain_intake(intake::BATCH_DATAGRAMS);
                    }
                }
                () = sleep_until_some(self.sampling.as_ref().map(|(_, at)| *at)) => self.sample(),
                Some(attempt) = counted(self.counter.as_mut()) => self.record_count(attempt),
                Some(spans) = otlp_spans(self.otlp.as_mut()) => self.record_otlp(spans),
                () = tokio::time::sleep_until(next_timer.into()) => {
                    self.flush(Instant::now() + self.interval / 2).await;
                }
            }
        }
    }

    async fn handle(&mut self, command: Command) -> std::ops::ControlFlow<()> {
        match command {
            Command::InvokeStarted(id, init_gap) => {
                if let Some(gap) = init_gap {
                    self.invocations.first_invoke_after(gap);
                }
                self.invocations.invoke_started(&id);
                self.start_sampling(id);
                if let Some((counter, _)) = self.counter.as_mut() {
                    counter.start_if_due(Instant::now());
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
                self.await_count_attempt(deadline).await;
                // The last chance to count what the kernel dropped: drain, then look.
                self.drain_intake(usize::MAX);
                if let Some(intake) = self.intake.as_mut() {
                    self.health.dropped(intake.take_kernel_drops());
                }
                let summary = self.flush(deadline).await;
                if let Some((counter, _)) = self.counter.as_mut() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    counter.release(left.min(RELEASE_TIMEOUT)).await;
                }
                let shutdowns = self.sinks.iter_mut().map(|sink| sink.shutdown(deadline));
                futures_util::future::join_all(shutdowns).await;
                let _ = reply.send(summary);
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn record_telemetry(&mut self, records: &[Record]) {
        self.telemetry_records += records.len() as u64;
        let now_ns = liftwatch::clock::now_ms().saturating_mul(1_000_000);
        for record in records {
            self.invocations.record(record);
            self.traces.record_telemetry(record, now_ns);
        }
        self.publish_trace_stats();
        if let Some((id, _)) = &self.sampling
            && self.invocations.runtime_done_for(id)
        {
            self.finish_sampling();
        }
        self.wake_waiters();
    }

    fn drain_telemetry(&mut self) {
        while let Ok(records) = self.telemetry.try_recv() {
            self.record_telemetry(&records);
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

    /// Starts sampling at INVOKE; an invocation still being sampled (its runtimeDone never
    /// came) is finished first.
    fn start_sampling(&mut self, request_id: String) {
        if self.sampling.is_some() {
            self.finish_sampling();
        }
        if let Some(sampler) = self.sampler.as_mut() {
            sampler.start();
            self.sampling = Some((request_id, Instant::now() + SAMPLE_INTERVAL));
        }
    }

    fn sample(&mut self) {
        if let (Some(sampler), Some((_, next))) = (self.sampler.as_mut(), self.sampling.as_mut()) {
            sampler.sample();
            *next = Instant::now() + SAMPLE_INTERVAL;
        }
    }

    /// At SHUTDOWN: waits (briefly) for a connection count attempt still running, so its
    /// count is published and a lease it took is handed back rather than left to a sandbox
    /// about to die.
    async fn await_count_attempt(&mut self, deadline: Instant) {
        let Some((counter, results)) = self.counter.as_mut() else {
            return;
        };
        if !counter.in_flight() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(RELEASE_TIMEOUT);
        if let Ok(Some(attempt)) = tokio::time::timeout(wait, results.recv()).await {
            self.record_count(attempt);
        }
    }

    /// Records what a connection count attempt found and schedules the next.
    fn record_count(&mut self, attempt: Attempt) {
        match attempt {
            Attempt::Published(active) => self.connections.record_active(active),
            Attempt::Failed => self.connections.record_count_error(),
            Attempt::HeldElsewhere(_) => {}
        }
        if let Some((counter, _)) = self.counter.as_mut() {
            counter.finished(attempt);
        }
    }

    fn finish_sampling(&mut self) {
        self.sampling = None;
        if let Some(usage) = self.sampler.as_mut().and_then(ResourceSampler::finish) {
            self.resources.record(&usage);
        }
    }
}

/// The next attempt result of the connection counter, or never without one.
async fn counted(
    counter: Option<&mut (ConnectionCounter, mpsc::Receiver<Attempt>)>,
) -> Option<Attempt> {
    match counter {
        Some((_, results)) => results.recv().await,
        None => std::future::pending().await,
    }
}

/// The next spans from the OTLP receiver, or never without one.
async fn otlp_spans(feed: Option<&mut OtlpFeed>) -> Option<Vec<Span>> {
    match feed {
        Some(feed) => feed.spans.recv().await,
        None => std::future::pending().await,
    }
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
