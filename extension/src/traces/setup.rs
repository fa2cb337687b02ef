//! Starting tracing during init: the span exporters the configuration asks for, the
//! `/v1/stats` snapshot, and the OTLP/HTTP receiver on 127.0.0.1. A receiver port that
//! cannot bind (another layer's collector holds 4318, say) is logged once and leaves the
//! rest running.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::SpanExporter;
use super::otlp::{IntakeCounters, OtlpExporter, OtlpIntake, OtlpListener};
use super::span::Resource;
use super::xray::XrayExporter;
use crate::config::Config;
use crate::pipeline::{OtlpFeed, SpanOutput};

/// Span batches queued between the OTLP receiver and the pipeline.
const OTLP_CAPACITY: usize = 64;

/// The exporters and the receiver for `function`, as `config` says.
pub async fn start(config: &Config, function: &str) -> (SpanOutput, Option<OtlpFeed>) {
    let mut exporters: Vec<Box<dyn SpanExporter>> = Vec::new();
    if let Some(otlp) = &config.traces.otlp {
        match OtlpExporter::new(otlp.clone()) {
            Ok(exporter) => exporters.push(Box::new(exporter)),
            Err(error) => tracing::warn!(%error, "the otlp trace exporter is off"),
        }
    }
    if let Some(daemon) = config.traces.xray_daemon {
        exporters.push(Box::new(XrayExporter::new(daemon)));
    }
    let resource = Resource::function(function, &config.function_version, &config.region, None);
    let (stats, stats_rx) = watch::channel(serde_json::json!({}));
    let output = SpanOutput {
        exporters,
        resource,
        stats,
    };
    let Some(port) = config.traces.otlp_intake_port else {
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
    let intake = OtlpIntake::new(spans_tx, Arc::clone(&counters), source);
    tokio::spawn(listener.serve(intake));
    let feed = OtlpFeed {
        spans,
        counters,
        seen: Default::default(),
    };
    (output, Some(feed))
}
