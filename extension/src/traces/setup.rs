//! Starting tracing during init: the span exporters the configuration asks for, the
//! `/v1/stats` snapshot, and the OTLP/HTTP receiver on 127.0.0.1 (traces, and metrics
//! unless turned off). A receiver port that cannot bind (another layer's collector holds
//! 4318, say) is logged once and leaves the rest running.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::SpanExporter;
use super::breaker::BreakerExporter;
use super::otlp::IntakeSnapshot;
use super::otlp::{IntakeCounters, OtlpConfig, OtlpExporter, OtlpIntake, OtlpListener};
use super::span::{Resource, Span};
use super::xray::XrayExporter;
use crate::otlp_metrics::Point;
use crate::otlp_metrics::decode::DimensionRule;

/// Span batches (and, apart, metric batches) queued between the OTLP receiver and the
/// pipeline.
const OTLP_CAPACITY: usize = 64;

/// Where spans come from and go (read from the environment by `config`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceSettings {
    /// The OTLP/HTTP receiver's port on 127.0.0.1; `None`: no receiver.
    pub otlp_intake_port: Option<u16>,
    /// The OTLP/HTTP exporter's destination, when it runs.
    pub otlp: Option<OtlpConfig>,
    /// The X-Ray daemon, when the X-Ray exporter runs.
    pub xray_daemon: Option<SocketAddr>,
    /// The receiver also takes OTLP metrics (`/v1/metrics`), with dimensions by this rule.
    pub otlp_metrics: Option<DimensionRule>,
}

/// The OTLP receiver's side, handed to the pipeline.
#[derive(Debug)]
pub struct OtlpFeed {
    /// Spans decoded by the receiver.
    pub spans: mpsc::Receiver<Vec<Span>>,
    /// Metric data points decoded by the receiver, when it takes metrics.
    pub metrics: Option<mpsc::Receiver<Vec<Point>>>,
    /// The receiver's running totals.
    pub counters: Arc<IntakeCounters>,
    /// Totals already accounted for.
    pub seen: IntakeSnapshot,
    /// When the extension started (Unix ns): cumulative metric streams that started later
    /// are counted from zero.
    pub started_unix_nanos: u64,
}

/// Where spans go and what describes them, handed to the pipeline.
#[derive(Debug)]
pub struct SpanOutput {
    /// The exporters the configuration turned on.
    pub exporters: Vec<Box<dyn SpanExporter>>,
    /// What every span is about: the function.
    pub resource: Resource,
    /// Where `GET /v1/stats` reads the statistics.
    pub stats: watch::Sender<serde_json::Value>,
}

/// The exporters and the receiver `settings` ask for; spans are described by `resource`.
/// `started_unix_nanos`: when the extension started.
pub async fn start(
    settings: &TraceSettings,
    resource: Resource,
    started_unix_nanos: u64,
) -> (SpanOutput, Option<OtlpFeed>) {
    let mut exporters: Vec<Box<dyn SpanExporter>> = Vec::new();
    if let Some(otlp) = &settings.otlp {
        // A collector that is down must not hold every flush: see `breaker`.
        let exporter = OtlpExporter::new(otlp.clone());
        exporters.push(Box::new(BreakerExporter::new(Box::new(exporter))));
    }
    if let Some(daemon) = settings.xray_daemon {
        exporters.push(Box::new(XrayExporter::new(daemon)));
    }
    let (stats, stats_rx) = watch::channel(serde_json::json!({}));
    let output = SpanOutput {
        exporters,
        resource,
        stats,
    };
    let Some(port) = settings.otlp_intake_port else {
        return (output, None);
    };
    let listener = match OtlpListener::bind(port).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(port, %error, "cannot bind the otlp receiver; otlp spans from handlers are off");
            return (output, None);
        }
    };
    let (spans_tx, spans) = mpsc::channel(OTLP_CAPACITY);
    let counters = Arc::new(IntakeCounters::default());
    let source = Arc::new(move || stats_rx.borrow().clone());
    let mut intake = OtlpIntake::new(spans_tx, Arc::clone(&counters), source);
    let mut metrics = None;
    if let Some(rule) = &settings.otlp_metrics {
        let (points_tx, points) = mpsc::channel(OTLP_CAPACITY);
        intake = intake.with_metrics(points_tx, rule.clone());
        metrics = Some(points);
    }
    tokio::spawn(listener.serve(intake));
    let feed = OtlpFeed {
        spans,
        metrics,
        counters,
        seen: Default::default(),
        started_unix_nanos,
    };
    (output, Some(feed))
}
