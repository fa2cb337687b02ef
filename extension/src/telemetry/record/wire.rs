//! The serde shapes of the telemetry records as sent (schema 2022-12-13), and the number
//! helpers that accept integers or floats and refuse negative or non-finite values.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

use super::{InitType, Phase, Span, Status, TraceContext};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitStartWire {
    pub(super) initialization_type: InitType,
    pub(super) phase: Phase,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitRuntimeDoneWire {
    pub(super) initialization_type: InitType,
    pub(super) phase: Option<Phase>,
    pub(super) status: Status,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InitReportWire {
    pub(super) initialization_type: InitType,
    pub(super) phase: Phase,
    pub(super) status: Status,
    pub(super) metrics: DurationMetricsWire,
}

/// `InitReportMetrics` and `RestoreReportMetrics`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DurationMetricsWire {
    #[serde(deserialize_with = "duration")]
    pub(super) duration_ms: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartWire {
    pub(super) request_id: String,
    pub(super) tracing: Option<TraceContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RuntimeDoneWire {
    pub(super) request_id: String,
    pub(super) status: Status,
    pub(super) error_type: Option<String>,
    pub(super) metrics: Option<RuntimeDoneMetricsWire>,
    pub(super) spans: Option<Vec<Span>>,
    pub(super) tracing: Option<TraceContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RuntimeDoneMetricsWire {
    #[serde(deserialize_with = "duration")]
    pub(super) duration_ms: f64,
    #[serde(default, deserialize_with = "optional_count")]
    pub(super) produced_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportWire {
    pub(super) request_id: String,
    pub(super) status: Status,
    pub(super) error_type: Option<String>,
    pub(super) metrics: ReportMetricsWire,
    pub(super) tracing: Option<TraceContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportMetricsWire {
    #[serde(deserialize_with = "duration")]
    pub(super) duration_ms: f64,
    #[serde(deserialize_with = "duration")]
    pub(super) billed_duration_ms: f64,
    #[serde(rename = "memorySizeMB", deserialize_with = "duration")]
    pub(super) memory_size_mb: f64,
    #[serde(rename = "maxMemoryUsedMB", deserialize_with = "duration")]
    pub(super) max_memory_used_mb: f64,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) init_duration_ms: Option<f64>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) restore_duration_ms: Option<f64>,
    #[serde(default, deserialize_with = "optional_duration")]
    pub(super) billed_restore_duration_ms: Option<f64>,
}

#[derive(Deserialize)]
pub(super) struct StatusWire {
    pub(super) status: Status,
}

#[derive(Deserialize)]
pub(super) struct RestoreReportWire {
    pub(super) status: Status,
    pub(super) metrics: Option<DurationMetricsWire>,
}

#[derive(Deserialize)]
pub(super) struct NameStateWire {
    pub(super) name: String,
    pub(super) state: String,
}

#[derive(Deserialize)]
pub(super) struct SubscriptionWire {
    pub(super) name: String,
    pub(super) state: String,
    pub(super) types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogsDroppedWire {
    pub(super) reason: String,
    #[serde(deserialize_with = "count")]
    pub(super) dropped_records: u64,
    #[serde(deserialize_with = "count")]
    pub(super) dropped_bytes: u64,
}

/// A non-negative quantity (milliseconds, megabytes), integer or float.
pub(super) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(de::Error::custom("expected a non-negative finite number"))
    }
}

pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    match Option::<f64>::deserialize(deserializer)? {
        Some(value) if !(value.is_finite() && value >= 0.0) => {
            Err(de::Error::custom("expected a non-negative finite number"))
        }
        other => Ok(other),
    }
}

/// A count (bytes, records): a non-negative integer, or a float with no fractional part.
pub(super) fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(CountVisitor)
}

pub(super) fn optional_count<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_option(OptionalCountVisitor)
}

pub(super) struct CountVisitor;

impl Visitor<'_> for CountVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative whole number")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        // 2^64 as f64: every whole float in [0, 2^64) converts to u64 exactly.
        const LIMIT: f64 = 18_446_744_073_709_551_616.0;
        if (0.0..LIMIT).contains(&value) && value.fract() == 0.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = value as u64;
            Ok(whole)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(value), &self))
        }
    }
}

pub(super) struct OptionalCountVisitor;

impl<'de> Visitor<'de> for OptionalCountVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative whole number or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u64>, D::Error> {
        count(deserializer).map(Some)
    }
}
