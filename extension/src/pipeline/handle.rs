//! The lifecycle loop's side of the pipeline: the commands it sends, the conditions it
//! waits for, and [`PipelineHandle`], which sends them.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::aggregate::InvocationAggregator;

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
pub(super) enum Await {
    /// `platform.start` of this request: telemetry for it is flowing.
    Started(String),
    /// `platform.runtimeDone` of this request.
    RuntimeDone(String),
    /// Every started invocation has its `platform.report`.
    ReportsIn,
}

impl Await {
    pub(super) fn holds(&self, invocations: &InvocationAggregator) -> bool {
        match self {
            Await::Started(id) => invocations.started_for(id),
            Await::RuntimeDone(id) => invocations.runtime_done_for(id),
            Await::ReportsIn => invocations.pending_reports() == 0,
        }
    }
}

#[derive(Debug)]
pub(super) enum Command {
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
    pub(super) commands: mpsc::Sender<Command>,
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
