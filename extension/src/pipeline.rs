//! The pipeline task: the one owner of the aggregators, the UDP intake and the sinks.
//! Intakes feed it through bounded channels; the lifecycle loop drives it with commands
//! (invoke started, wait for the invocation's end, flush, shut down).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use liftwatch::protocol::{Event, RateLimitEvent};
use tokio::sync::{mpsc, oneshot};

use crate::aggregate::{self, CustomAggregator, InvocationAggregator, ResourceAggregator};
use crate::health::Health;
use crate::intake::{self, UdpIntake};
use crate::metrics::MetricBatch;
use crate::ratelimit::{Decision, RateLimitAggregator, TableFlush, WriteReport};
use crate::resources::ResourceSampler;
use crate::sink::{Sink, SinkError};
use crate::telemetry::Record;

/// How often resources are sampled while an invocation runs (see the sampler bench).
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
/// Commands queued from the lifecycle loop.
const COMMAND_CAPACITY: usize = 16;

/// What a flush published.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushSummary {
    /// Telemetry records the pipeline has received since it started (all flushes).
    pub telemetry_records: u64,
    pub series: usize,
    pub values: usize,
}

/// What a lifecycle call waits for.
#[derive(Debug)]
enum Await {
    /// `platform.start` of this request: telemetry for it is flowing.
    Started(String),
    /// `platform.runtimeDone` of this request.
    RuntimeDone(String),
    /// Every started invocation has its `platform.report`.
    ReportsIn,
}

impl Await {
    fn holds(&self, invocations: &InvocationAggregator) -> bool {
        match self {
            Await::Started(id) => invocations.started_for(id),
            Await::RuntimeDone(id) => invocations.runtime_done_for(id),
            Await::ReportsIn => invocations.pending_reports() == 0,
        }
    }
}

#[derive(Debug)]
enum Command {
    InvokeStarted(String, Option<Duration>),
    Wait(Await, oneshot::Sender<()>),
    Flush(Instant, oneshot::Sender<FlushSummary>),
    Shutdown(Instant, oneshot::Sender<FlushSummary>),
}

/// The pipeline task stopped (it panicked or was shut down).
#[derive(Debug, thiserror::Error)]
#[error("the pipeline task is gone")]
pub struct PipelineGone;

/// The lifecycle loop's handle on the pipeline task.
#[derive(Debug, Clone)]
pub struct PipelineHandle {
    commands: mpsc::Sender<Command>,
}

impl PipelineHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, PipelineGone> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| PipelineGone)?;
        rx.await.map_err(|_| PipelineGone)
    }

    /// Notes an INVOKE so shutdown can wait for its report; `init_gap` is the time from
    /// the end of init to the sandbox's first INVOKE, passed with that first one.
    pub async fn invoke_started(
        &self,
        request_id: &str,
        init_gap: Option<Duration>,
    ) -> Result<(), PipelineGone> {
        self.commands
            .send(Command::InvokeStarted(request_id.to_owned(), init_gap))
            .await
            .map_err(|_| PipelineGone)
    }

    /// Resolves once `platform.start` (or a later record) for `request_id` was recorded.
    pub async fn started(&self, request_id: &str) -> Result<(), PipelineGone> {
        self.ask(|tx| Command::Wait(Await::Started(request_id.to_owned()), tx))
            .await
    }

    /// Resolves once `platform.runtimeDone` for `request_id` has been recorded.
    pub async fn runtime_done(&self, request_id: &str) -> Result<(), PipelineGone> {
        self.ask(|tx| Command::Wait(Await::RuntimeDone(request_id.to_owned()), tx))
            .await
    }

    /// Resolves once every started invocation has its `platform.report`.
    pub async fn reports_in(&self) -> Result<(), PipelineGone> {
        self.ask(|tx| Command::Wait(Await::ReportsIn, tx)).await
    }

    /// Drains the intakes and flushes every sink, finishing by `deadline`.
    pub async fn flush(&self, deadline: Instant) -> Result<FlushSummary, PipelineGone> {
        self.ask(|tx| Command::Flush(deadline, tx)).await
    }

    /// Final drain and flush, then the task ends.
    pub async fn shutdown(&self, deadline: Instant) -> Result<FlushSummary, PipelineGone> {
        self.ask(|tx| Command::Shutdown(deadline, tx)).await
    }
}

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

    /// Starts the task; the handle drives it.
    pub fn spawn(self) -> (PipelineHandle, tokio::task::JoinHandle<()>) {
        let (commands, rx) = mpsc::channel(COMMAND_CAPACITY);
        (PipelineHandle { commands }, tokio::spawn(self.run(rx)))
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
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
                // The last chance to count what the kernel dropped: drain, then look.
                self.drain_intake(usize::MAX);
                if let Some(intake) = self.intake.as_mut() {
                    self.health.dropped(intake.take_kernel_drops());
                }
                let summary = self.flush(deadline).await;
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
        for record in records {
            self.invocations.record(record);
        }
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

    fn finish_sampling(&mut self) {
        self.sampling = None;
        if let Some(usage) = self.sampler.as_mut().and_then(ResourceSampler::finish) {
            self.resources.record(&usage);
        }
    }

    /// Writes the rate-limit statistics table when its interval has passed (or at SHUTDOWN).
    async fn write_table(&mut self, deadline: Instant) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let now_unix = now_ms() / 1000;
        let Some(report) = table.write_due(self.final_flush, now_unix, deadline).await else {
            return;
        };
        self.health.dropped(report.dropped as u64);
        if report.kept > 0 || report.dropped > 0 {
            self.health.sink_error(1);
            log_table_failure(&report);
        }
    }

    fn drain_intake(&mut self, max: usize) -> usize {
        let Some(intake) = self.intake.as_mut() else {
            return 0;
        };
        let custom = &mut self.custom;
        let ratelimit = &mut self.ratelimit;
        let table = &mut self.table;
        let warned_no_table = &mut self.warned_no_table;
        let health = &self.health;
        let now_secs = now_ms() / 1000;
        intake.drain(max, health, |event| {
            let kept = match event {
                Event::Metric(metric) => custom.record(metric),
                Event::RateLimit(event) => {
                    let decision = decision(event, now_secs);
                    let in_table = match table.as_mut() {
                        Some(table) => table.record(decision.clone()),
                        None => {
                            if !std::mem::replace(warned_no_table, true) {
                                tracing::warn!(
                                    "rate-limit decisions go to metrics only: set LIFTWATCH_RATELIMIT_TABLE for per-window statistics"
                                );
                            }
                            true
                        }
                    };
                    ratelimit.record(decision) && in_table
                }
                // A type this build does not aggregate yet: counted, never silently lost.
                _ => false,
            };
            if !kept {
                health.dropped(1);
            }
        })
    }

    async fn flush(&mut self, deadline: Instant) -> FlushSummary {
        self.drain_intake(usize::MAX);
        if let Some(intake) = self.intake.as_mut() {
            self.health.dropped(intake.take_kernel_drops_if_due());
        }
        self.drain_telemetry();
        self.last_flush = Instant::now();
        let mut batch = MetricBatch {
            timestamp_ms: now_ms(),
            series: Vec::new(),
        };
        self.invocations
            .flush_into(&self.function, &mut batch.series);
        self.custom.flush_into(&self.function, &mut batch.series);
        self.resources.flush_into(&self.function, &mut batch.series);
        let decisions = self.ratelimit.flush();
        decisions.series_into(&self.function, &mut batch.series);
        if let Some(sampler) = self.sampler.as_mut() {
            self.health.malformed(sampler.take_errors());
        }
        let counts = self.health.take();
        aggregate::health_series(&self.function, counts, &mut batch.series);
        if batch.is_empty() {
            self.write_table(deadline).await;
            return FlushSummary {
                telemetry_records: self.telemetry_records,
                ..FlushSummary::default()
            };
        }
        // Sinks export concurrently, each bound by the same deadline.
        let exports = self.sinks.iter_mut().map(|sink| {
            let name = sink.name();
            let export = sink.export(&batch, deadline);
            async move { (name, export.await) }
        });
        for (name, result) in futures_util::future::join_all(exports).await {
            match result {
                Ok(report) => self.health.malformed(report.values_rejected),
                Err(error) => {
                    self.health.sink_error(1);
                    if let SinkError::Incomplete { report, .. } = &error {
                        self.health.malformed(report.values_rejected);
                        self.health.dropped(report.values_dropped);
                    }
                    tracing::warn!(sink = name, %error, "sink export incomplete");
                }
            }
        }
        self.write_table(deadline).await;
        FlushSummary {
            telemetry_records: self.telemetry_records,
            series: batch.series.len(),
            values: batch.value_count(),
        }
    }
}

/// A handler's rate-limit event as the aggregator counts it; an event without a window
/// start falls in the window containing `now_secs`.
fn decision(event: RateLimitEvent, now_secs: u64) -> Decision {
    let window = u64::from(event.window_seconds.max(1));
    Decision {
        rule: event.rule,
        key_class: event.key_class,
        outcome: event.outcome,
        window_seconds: event.window_seconds,
        window_start: event.window_start.unwrap_or(now_secs / window * window),
    }
}

fn log_table_failure(report: &WriteReport) {
    let error = report
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::warn!(
        kept = report.kept,
        dropped = report.dropped,
        error,
        "rate-limit statistics table write incomplete"
    );
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
