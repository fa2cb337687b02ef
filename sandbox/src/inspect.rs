//! What a test reads from a running (or shut down) sandbox: its ports and paths, the
//! children's captured output and the EMF metrics in it, the platform telemetry (the
//! simulator's, as the relay edits it, and what the relay forwarded), and what the proxy
//! observed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::SandboxConfig;
use crate::emf::{self, EmfScan, MetricSummary};
use crate::error::SandboxError;
use crate::output::{OutputCapture, Stream};
use crate::platform::{InitializationType, PlatformEdit, RestoreTiming};
use crate::proxy::ProxyObservations;
use crate::relay::{BatchTransform, RelayedBatch};
use crate::sandbox::{Sandbox, SandboxPorts, lock};
use lambda_simulator::TelemetryEvent;

impl Sandbox {
    /// The sandbox's addresses and ports.
    pub fn ports(&self) -> SandboxPorts {
        self.ports
    }

    /// `http://` + the proxy address: the Runtime API as the children see it.
    pub fn runtime_api_url(&self) -> String {
        format!("http://{}", self.ports.runtime_api)
    }

    /// The sandbox's root directory (Lambda's `/`), removed on drop.
    pub fn root_dir(&self) -> &Path {
        self.layout.root()
    }

    /// Where the extension was placed (`<root>/opt/extensions/<name>`).
    pub fn extension_path(&self) -> &Path {
        &self.extension_path
    }

    /// The configuration the sandbox was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The extension's process id (also its process-group id).
    pub fn extension_pid(&self) -> u32 {
        lock(&self.extension).pid()
    }

    /// The function's process id (also its process-group id).
    pub fn function_pid(&self) -> u32 {
        lock(&self.function).pid()
    }

    /// Whether the simulator has frozen the sandbox (always false with freezing off).
    pub fn is_frozen(&self) -> bool {
        self.simulator.as_ref().is_some_and(|s| s.is_frozen())
    }

    /// Every line the extension wrote to stdout so far (its EMF documents).
    pub fn extension_stdout(&self) -> Vec<String> {
        self.extension_output.stdout()
    }

    /// Every line the extension wrote to stderr so far (its logs).
    pub fn extension_stderr(&self) -> Vec<String> {
        self.extension_output.stderr()
    }

    /// Every line the function wrote to stdout so far.
    pub fn function_stdout(&self) -> Vec<String> {
        self.function_output.stdout()
    }

    /// Every line the function wrote to stderr so far.
    pub fn function_stderr(&self) -> Vec<String> {
        self.function_output.stderr()
    }

    /// A handle on the extension's captured output (usable while the sandbox is borrowed).
    pub fn extension_output(&self) -> OutputCapture {
        self.extension_output.clone()
    }

    /// A handle on the function's captured output.
    pub fn function_output(&self) -> OutputCapture {
        self.function_output.clone()
    }

    /// Waits until a stdout line of the extension (already written or still to come)
    /// satisfies `predicate`, and returns it.
    pub async fn wait_for_stdout<P>(
        &self,
        predicate: P,
        timeout: Duration,
    ) -> Result<String, SandboxError>
    where
        P: Fn(&str) -> bool,
    {
        self.extension_output
            .wait_for_line(Stream::Stdout, predicate, timeout)
            .await
            .ok_or_else(|| SandboxError::Timeout {
                what: "a matching extension stdout line".to_owned(),
                waited: timeout,
            })
    }

    /// The extension's stdout parsed as EMF (non-EMF lines land in `rejected`).
    pub fn emf(&self) -> EmfScan {
        emf::parse_lines(&self.extension_stdout())
    }

    /// The published metrics aggregated per series.
    pub fn metric_summaries(&self) -> Vec<MetricSummary> {
        emf::summarize(&self.emf().metrics)
    }

    /// What the proxy observed: registrations, subscription attempts, SHUTDOWN deliveries.
    pub fn proxy_observations(&self) -> ProxyObservations {
        self.proxy.observations()
    }

    /// The platform telemetry the extension was sent: every event the simulator emitted
    /// (captured whether or not it was delivered), edited as the telemetry relay edits the
    /// extension's stream (`platform.initStart` added; with SnapStart, the init records
    /// replaced by the restore records and the restore fields in the first report). It is
    /// the stream a subscriber of every platform type gets, independent of delivery timing
    /// and of whether a subscription exists; [`Sandbox::relayed_telemetry`] is what
    /// actually went over HTTP. After `shutdown`, the events as of the start of shutdown.
    pub async fn telemetry_events(&self) -> Vec<TelemetryEvent> {
        let mut captured = match &self.simulator {
            Some(sim) => sim.get_telemetry_events().await,
            None => self.telemetry_snapshot.clone(),
        };
        captured.extend(lock(&self.injected).iter().cloned());
        self.edited(captured)
    }

    /// `events` edited as the relay edits a stream that starts with them.
    pub(crate) fn edited(&self, events: Vec<TelemetryEvent>) -> Vec<TelemetryEvent> {
        let batch = events
            .into_iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        PlatformEdit::new(Arc::clone(&self.platform))
            .transform(batch)
            .into_iter()
            .filter_map(|e| serde_json::from_value(e).ok())
            .collect()
    }

    /// Every batch the telemetry relay forwarded to the extension, in order, with the
    /// status the extension answered.
    pub fn relayed_telemetry(&self) -> Vec<RelayedBatch> {
        self.relay.relayed()
    }

    /// How the sandbox was initialised (`snap-start` with [`SandboxConfig::snap_start`]).
    pub fn initialization_type(&self) -> InitializationType {
        self.platform.initialization_type()
    }

    /// The SnapStart freeze and restore (`None` without SnapStart).
    pub fn restore_timing(&self) -> Option<RestoreTiming> {
        self.platform.restore()
    }

    /// The `record` of every captured event of `event_type` (e.g. `platform.report`).
    pub async fn platform_records(&self, event_type: &str) -> Vec<Value> {
        self.telemetry_events()
            .await
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.record)
            .collect()
    }

    /// Every `platform.report` record: the platform's truth for duration, billed
    /// duration and memory (`maxMemoryUsedMB` is always half the memory size here).
    pub async fn platform_reports(&self) -> Vec<Value> {
        self.platform_records("platform.report").await
    }

    /// Every `platform.runtimeDone` record.
    pub async fn runtime_done_records(&self) -> Vec<Value> {
        self.platform_records("platform.runtimeDone").await
    }

    /// Every `platform.initReport` record (none with SnapStart: see
    /// [`Sandbox::restore_reports`]).
    pub async fn init_reports(&self) -> Vec<Value> {
        self.platform_records("platform.initReport").await
    }

    /// Every `platform.restoreReport` record (one with SnapStart, none otherwise).
    pub async fn restore_reports(&self) -> Vec<Value> {
        self.platform_records("platform.restoreReport").await
    }
}
