//! The metric catalogue behind `liftwatch dashboard`: every metric docs/METRICS.md
//! documents, with its unit, the statistics to graph (the first is the default), the
//! dashboard row (`Area`) and widget (`panel`) it goes in, and the dimensions it carries
//! beyond `FunctionName`. The dashboard body and the alarms read metric names from here
//! only; a test holds this list equal to the tables of docs/METRICS.md.

use liftwatch::Unit;

/// The dimension every liftwatch metric carries.
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// A row of the dashboard, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Invocations, errors, cold starts, cost.
    Invocations,
    /// Durations.
    Duration,
    /// Memory.
    Memory,
    /// CPU time and network bytes.
    CpuNetwork,
    /// `/tmp`, file descriptors and threads against their limits.
    SandboxLimits,
    /// Trace statistics.
    Tracing,
    /// WebSocket connections.
    Connections,
    /// Rate-limit decisions per rule.
    RateLimiting,
    /// The extension's own health.
    Extension,
}

impl Area {
    /// Every area, top to bottom.
    pub const ALL: [Area; 9] = [
        Area::Invocations,
        Area::Duration,
        Area::Memory,
        Area::CpuNetwork,
        Area::SandboxLimits,
        Area::Tracing,
        Area::Connections,
        Area::RateLimiting,
        Area::Extension,
    ];
}

/// A metric liftwatch publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The metric name: the contract with the aggregators.
    pub name: &'static str,
    /// Its CloudWatch unit.
    pub unit: Unit,
    /// The statistics to graph (`Sum`, `Maximum`, `Average`, `p99`, ...); the first is the
    /// default, the one docs/METRICS.md recommends first.
    pub statistics: &'static [&'static str],
    /// The dashboard row.
    pub area: Area,
    /// The title of the widget it is graphed in (metrics of one panel share a widget and a
    /// unit).
    pub panel: &'static str,
    /// Dimensions beyond `FunctionName`; metrics with any are graphed with a SEARCH
    /// expression, since their values (rule names) are not known in advance.
    pub dimensions: &'static [&'static str],
}

/// A ratio of two catalogue metrics (numerator / denominator, in percent), graphed and
/// alarmed with metric math.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// The widget title.
    pub title: &'static str,
    /// The dashboard row.
    pub area: Area,
    /// The numerator's metric name.
    pub numerator: &'static str,
    /// The denominator's metric name.
    pub denominator: &'static str,
}

/// `RateLimitBlocked / RateLimitRequests` over every rule of a function.
pub const BLOCKED_RATIO: Ratio = Ratio {
    title: "Rate limit: blocked ratio (%)",
    area: Area::RateLimiting,
    numerator: "RateLimitBlocked",
    denominator: "RateLimitRequests",
};

const SUM: &[&str] = &["Sum"];
const MAX: &[&str] = &["Maximum"];
const SUM_P99: &[&str] = &["Sum", "p99"];
const RULE: &[&str] = &["Rule"];

const fn metric(
    name: &'static str,
    unit: Unit,
    statistics: &'static [&'static str],
    area: Area,
    panel: &'static str,
) -> Metric {
    Metric {
        name,
        unit,
        statistics,
        area,
        panel,
        dimensions: &[],
    }
}

const fn per_rule(name: &'static str, panel: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
        statistics: SUM,
        area: Area::RateLimiting,
        panel,
        dimensions: RULE,
    }
}

use Area::{CpuNetwork, Duration, Extension, Invocations, Memory, SandboxLimits, Tracing};
use Unit::{Bytes, Count, Megabytes, Milliseconds, Percent};

/// Every metric liftwatch publishes, in dashboard order (custom metrics aside: their
/// names are the handlers').
#[rustfmt::skip]
pub const METRICS: &[Metric] = &[
    metric("Invocations", Count, SUM, Invocations, "Invocations and errors"),
    metric("Errors", Count, SUM, Invocations, "Invocations and errors"),
    metric("Timeouts", Count, SUM, Invocations, "Invocations and errors"),
    metric("OutOfMemory", Count, SUM, Invocations, "Invocations and errors"),
    metric("ColdStarts", Count, SUM, Invocations, "Cold starts"),
    metric("ProactiveInitializations", Count, SUM, Invocations, "Cold starts"),
    metric("Restores", Count, SUM, Invocations, "Cold starts"),
    metric("EstimatedCost", Unit::None, SUM, Invocations, "Estimated cost (USD)"),
    metric("Duration", Milliseconds, &["p50", "p90", "p99", "Average"], Duration, "Duration (ms)"),
    metric("RuntimeDuration", Milliseconds, &["p50", "p99"], Duration, "Handler and overhead (ms)"),
    metric("PostRuntimeDuration", Milliseconds, &["p99", "Maximum"], Duration, "Handler and overhead (ms)"),
    metric("BilledDuration", Milliseconds, &["Sum", "Average"], Duration, "Billed duration (ms)"),
    metric("InitDuration", Milliseconds, &["Average", "Maximum"], Duration, "Init duration (ms)"),
    metric("RestoreDuration", Milliseconds, &["Average", "Maximum"], Duration, "Init duration (ms)"),
    metric("BilledRestoreDuration", Milliseconds, &["Sum", "Average"], Duration, "Init duration (ms)"),
    metric("MemoryUtilization", Percent, &["Maximum", "p99"], Memory, "Memory utilisation (%)"),
    metric("MaxMemoryUsed", Megabytes, MAX, Memory, "Memory used and size (MB)"),
    metric("MemorySize", Megabytes, MAX, Memory, "Memory used and size (MB)"),
    metric("CpuUserTime", Milliseconds, SUM_P99, CpuNetwork, "CPU time (ms)"),
    metric("CpuSystemTime", Milliseconds, SUM_P99, CpuNetwork, "CPU time (ms)"),
    metric("CpuTotalTime", Milliseconds, SUM_P99, CpuNetwork, "CPU time (ms)"),
    metric("RxBytes", Bytes, SUM, CpuNetwork, "Network (bytes)"),
    metric("TxBytes", Bytes, SUM, CpuNetwork, "Network (bytes)"),
    metric("TotalNetwork", Bytes, SUM, CpuNetwork, "Network (bytes)"),
    metric("TmpUsed", Bytes, MAX, SandboxLimits, "/tmp (bytes)"),
    metric("TmpMax", Bytes, MAX, SandboxLimits, "/tmp (bytes)"),
    metric("FdUse", Count, MAX, SandboxLimits, "File descriptors"),
    metric("FdMax", Count, MAX, SandboxLimits, "File descriptors"),
    metric("ThreadsUse", Count, MAX, SandboxLimits, "Threads"),
    metric("ThreadsMax", Count, MAX, SandboxLimits, "Threads"),
    metric("TracesGenerated", Count, SUM, Tracing, "Traces"),
    metric("TracesSampled", Count, SUM, Tracing, "Traces"),
    metric("TraceErrors", Count, SUM, Tracing, "Traces"),
    metric("SpansExported", Count, SUM, Tracing, "Spans"),
    metric("SpansDropped", Count, SUM, Tracing, "Spans"),
    metric("SpansTruncated", Count, SUM, Tracing, "Spans"),
    // A fleet gauge (one sandbox publishes the fleet-wide count): Maximum, never Sum.
    metric("ActiveConnections", Count, MAX, Area::Connections, "Active connections (fleet)"),
    metric("ConnectionsOpened", Count, SUM, Area::Connections, "Connections opened and closed"),
    metric("ConnectionsClosed", Count, SUM, Area::Connections, "Connections opened and closed"),
    metric("ConnectionCountErrors", Count, SUM, Area::Connections, "Connection count errors"),
    metric("Messages", Count, SUM, Area::Connections, "Messages"),
    metric("MessageBytes", Bytes, SUM_P99, Area::Connections, "Message bytes"),
    per_rule("RateLimitRequests", "Rate limit: requests by rule"),
    per_rule("RateLimitAllowed", "Rate limit: allowed by rule"),
    per_rule("RateLimitBlocked", "Rate limit: blocked by rule"),
    per_rule("RateLimitErrors", "Rate limit: errors by rule"),
    metric("EventsReceived", Count, SUM, Extension, "Events received"),
    metric("EventsDropped", Count, SUM, Extension, "Events dropped and malformed"),
    metric("EventsDroppedEstimated", Count, SUM, Extension, "Events dropped and malformed"),
    metric("EventsMalformed", Count, SUM, Extension, "Events dropped and malformed"),
    metric("SinkErrors", Count, SUM, Extension, "Sink errors"),
    metric("FlushDuration", Milliseconds, &["p99", "Maximum"], Extension, "Flush duration (ms)"),
];

/// The catalogue entry of `name`.
pub fn get(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// The panel titles of `area`, in catalogue order, each once.
pub fn panels(area: Area) -> Vec<&'static str> {
    let mut titles: Vec<&'static str> = Vec::new();
    for metric in METRICS.iter().filter(|m| m.area == area) {
        if !titles.contains(&metric.panel) {
            titles.push(metric.panel);
        }
    }
    titles
}

/// The metrics of the panel titled `title`.
pub fn panel_metrics(title: &str) -> Vec<&'static Metric> {
    METRICS.iter().filter(|m| m.panel == title).collect()
}

#[cfg(test)]
mod tests;
