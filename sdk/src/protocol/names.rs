//! The naming rules CloudWatch and the embedded metric format share, in one place: the
//! SDK checks names with them before sending, the extension's intake on receipt, and the
//! extension's EMF encoder before writing a document. Lengths count characters (Unicode
//! scalar values), not bytes.

/// Characters (Unicode scalar values) in a metric or dimension name.
///
/// ```
/// use liftwatch::protocol::{check_metric_name, MAX_NAME_CHARS};
/// assert!(check_metric_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
/// assert!(check_metric_name(&"é".repeat(MAX_NAME_CHARS + 1)).is_err());
/// ```
pub const MAX_NAME_CHARS: usize = 255;
/// Characters (Unicode scalar values) in a dimension value.
///
/// ```
/// use liftwatch::{protocol::MAX_DIMENSION_VALUE_CHARS, Metric};
/// let value = "x".repeat(MAX_DIMENSION_VALUE_CHARS + 1);
/// assert!(Metric::count("M", 1.0).dimension("D", &value).into_event().is_err());
/// ```
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// Characters in a dimension name (the EMF schema's `DimensionReference` allows 250).
///
/// ```
/// use liftwatch::{protocol::MAX_DIMENSION_NAME_CHARS, Metric};
/// let name = "d".repeat(MAX_DIMENSION_NAME_CHARS + 1);
/// assert!(Metric::count("M", 1.0).dimension(&name, "v").into_event().is_err());
/// ```
pub const MAX_DIMENSION_NAME_CHARS: usize = 250;
/// The root member holding EMF's metadata; no metric or dimension may take its name.
pub const METADATA_MEMBER: &str = "_aws";

/// The names of the extension's own metrics (docs/METRICS.md). A handler's metric may not
/// take one: it would land in the extension's series (a custom `Invocations` would add to
/// the platform's count), so the SDK refuses it before sending and the intake counts it in
/// `EventsMalformed`.
///
/// ```
/// use liftwatch::protocol::names::{RESERVED_METRIC_NAMES, is_reserved_metric_name};
/// assert!(is_reserved_metric_name("Invocations") && !is_reserved_metric_name("Orders"));
/// assert!(RESERVED_METRIC_NAMES.iter().all(|n| is_reserved_metric_name(n)));
/// ```
pub const RESERVED_METRIC_NAMES: &[&str] = &[
    "Invocations",
    "Errors",
    "Timeouts",
    "OutOfMemory",
    "ColdStarts",
    "ProactiveInitializations",
    "Restores",
    "EstimatedCost",
    "Duration",
    "RuntimeDuration",
    "PostRuntimeDuration",
    "BilledDuration",
    "InitDuration",
    "RestoreDuration",
    "BilledRestoreDuration",
    "MemoryUtilization",
    "MaxMemoryUsed",
    "MemorySize",
    "CpuUserTime",
    "CpuSystemTime",
    "CpuTotalTime",
    "RxBytes",
    "TxBytes",
    "TotalNetwork",
    "TmpUsed",
    "TmpMax",
    "FdUse",
    "FdMax",
    "ThreadsUse",
    "ThreadsMax",
    "TracesGenerated",
    "TracesSampled",
    "TraceErrors",
    "SpansExported",
    "SpansDropped",
    "SpansTruncated",
    "ActiveConnections",
    "ConnectionsOpened",
    "ConnectionsClosed",
    "ConnectionCountErrors",
    "Messages",
    "MessageBytes",
    "RateLimitRequests",
    "RateLimitAllowed",
    "RateLimitBlocked",
    "RateLimitErrors",
    "EventsReceived",
    "EventsDropped",
    "EventsDroppedEstimated",
    "EventsMalformed",
    "SinkErrors",
    "FlushDuration",
];

/// True when `name` is one of [`RESERVED_METRIC_NAMES`] (exact, case-sensitive).
#[inline]
pub fn is_reserved_metric_name(name: &str) -> bool {
    matches!(
        name,
        "Invocations"
            | "Errors"
            | "Timeouts"
            | "OutOfMemory"
            | "ColdStarts"
            | "ProactiveInitializations"
            | "Restores"
            | "EstimatedCost"
            | "Duration"
            | "RuntimeDuration"
            | "PostRuntimeDuration"
            | "BilledDuration"
            | "InitDuration"
            | "RestoreDuration"
            | "BilledRestoreDuration"
            | "MemoryUtilization"
            | "MaxMemoryUsed"
            | "MemorySize"
            | "CpuUserTime"
            | "CpuSystemTime"
            | "CpuTotalTime"
            | "RxBytes"
            | "TxBytes"
            | "TotalNetwork"
            | "TmpUsed"
            | "TmpMax"
            | "FdUse"
            | "FdMax"
            | "ThreadsUse"
            | "ThreadsMax"
            | "TracesGenerated"
            | "TracesSampled"
            | "TraceErrors"
            | "SpansExported"
            | "SpansDropped"
            | "SpansTruncated"
            | "ActiveConnections"
            | "ConnectionsOpened"
            | "ConnectionsClosed"
            | "ConnectionCountErrors"
            | "Messages"
            | "MessageBytes"
            | "RateLimitRequests"
            | "RateLimitAllowed"
            | "RateLimitBlocked"
            | "RateLimitErrors"
            | "EventsReceived"
            | "EventsDropped"
            | "EventsDroppedEstimated"
            | "EventsMalformed"
            | "SinkErrors"
            | "FlushDuration"
    )
}

/// True when `s` has more than `max` characters; counts only when the byte length could.
///
/// ```
/// use liftwatch::protocol::names::longer_than;
/// assert!(!longer_than(&"é".repeat(3), 3) && longer_than("abcd", 3));
/// ```
#[inline]
pub fn longer_than(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

/// True when `s` is empty or only Unicode whitespace (what `str::trim` removes).
///
/// ```
/// use liftwatch::protocol::names::blank;
/// assert!(blank("") && blank(" \u{a0}\t") && !blank(" x"));
/// ```
#[inline]
pub fn blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        // An ASCII first byte that is not whitespace settles it without a scan.
        Some(&b) if b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r') => false,
        Some(_) => s.trim().is_empty(),
    }
}

/// True when `s` holds a Unicode control character (U+0000–U+001F, U+007F–U+009F). One
/// plain byte scan settles almost every string: U+0080–U+009F are the only other control
/// characters, and their UTF-8 encoding starts with `C2`.
///
/// ```
/// use liftwatch::protocol::names::has_control;
/// assert!(has_control("a\nb") && has_control("c1\u{85}") && !has_control("héllo"));
/// ```
#[inline]
pub fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) && s.chars().any(char::is_control)
}

/// True when `s` is not blank and holds no control character: the check every name and
/// dimension value needs, in one pass over ASCII text.
///
/// ```
/// use liftwatch::protocol::names::visible;
/// assert!(visible("Latency p99") && visible("héllo"));
/// assert!(!visible("  ") && !visible("tab\there") && !visible("\u{a0}"));
/// ```
#[inline]
pub fn visible(s: &str) -> bool {
    let mut seen = false;
    for &b in s.as_bytes() {
        if b >= 0x80 {
            return !blank(s) && !has_control(s);
        }
        if b < 0x20 || b == 0x7f {
            return false;
        }
        seen |= b != b' ';
    }
    seen
}
