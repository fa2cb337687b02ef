//! The metric builder handlers use for metrics with a unit, dimensions or high resolution;
//! validated into a protocol event on send. Plain counts, gauges and timings need no
//! builder: `Client::count` and friends encode straight from their arguments.
//!
//! A metric keeps all its text (name, dimension names and values) in one `String` and its
//! dimensions as spans into it: one allocation, two with dimensions, however many there
//! are; validation and encoding read the spans in place, with the protocol's own checks.

use std::fmt;

use crate::protocol::{self, Event, MetricEvent, MetricKind, ProtocolError, Resolution};
use crate::unit::Unit;

/// Text room reserved up front for dimension names and values.
const DIMENSION_TEXT_HINT: usize = 96;
/// Dimension spans reserved by the first `dimension` call.
const DIMENSION_HINT: usize = 4;

/// One dimension inside [`Metric::text`]: the name is `start..split`, the value
/// `split..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: usize,
    split: usize,
    end: usize,
}

/// A metric value with its unit, kind, dimensions and resolution.
///
/// ```
/// use liftwatch::{Metric, Unit};
/// let m = Metric::distribution("QueryTime", 12.5)
///     .unit(Unit::Milliseconds)
///     .dimension("Table", "orders")
///     .high_resolution();
/// assert_eq!(m.name(), "QueryTime");
/// ```
#[derive(Clone, PartialEq)]
pub struct Metric {
    /// The name followed by every stored dimension's name and value.
    text: String,
    name_end: usize,
    value: f64,
    unit: Unit,
    kind: MetricKind,
    resolution: Resolution,
    /// The dimensions, in the order added until validation sorts them by name.
    dimensions: Vec<Span>,
}

impl Metric {
    fn new(name: &str, value: f64, kind: MetricKind, unit: Unit) -> Self {
        let mut text = String::with_capacity(name.len() + DIMENSION_TEXT_HINT);
        text.push_str(name);
        Metric {
            name_end: text.len(),
            text,
            value,
            unit,
            kind,
            resolution: Resolution::Standard,
            dimensions: Vec::new(),
        }
    }

    /// A counter increment (unit `Count`); summed per flush.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, MetricKind, Unit};
    /// let Ok(Event::Metric(m)) = Metric::count("Orders", 2.0).into_event() else { unreachable!() };
    /// assert_eq!((m.kind, m.unit, m.value), (MetricKind::Count, Unit::Count, 2.0));
    /// ```
    pub fn count(name: &str, value: f64) -> Self {
        Self::new(name, value, MetricKind::Count, Unit::Count)
    }

    /// A gauge (unit `None`); the last value per flush wins.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, MetricKind, Unit};
    /// let Ok(Event::Metric(m)) = Metric::gauge("QueueDepth", 7.0).into_event() else { unreachable!() };
    /// assert_eq!((m.kind, m.unit), (MetricKind::Gauge, Unit::None));
    /// ```
    pub fn gauge(name: &str, value: f64) -> Self {
        Self::new(name, value, MetricKind::Gauge, Unit::None)
    }

    /// A distribution sample (unit `None`); every value is kept.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, MetricKind};
    /// let Ok(Event::Metric(m)) = Metric::distribution("CartValue", 42.5).into_event() else { unreachable!() };
    /// assert_eq!(m.kind, MetricKind::Distribution);
    /// ```
    pub fn distribution(name: &str, value: f64) -> Self {
        Self::new(name, value, MetricKind::Distribution, Unit::None)
    }

    /// A duration sample in milliseconds (a distribution with unit `Milliseconds`).
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, Unit};
    /// let Ok(Event::Metric(m)) = Metric::timing("Latency", 87.0).into_event() else { unreachable!() };
    /// assert_eq!(m.unit, Unit::Milliseconds);
    /// ```
    pub fn timing(name: &str, millis: f64) -> Self {
        Self::new(name, millis, MetricKind::Distribution, Unit::Milliseconds)
    }

    /// Sets the CloudWatch unit.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, Unit};
    /// let m = Metric::distribution("Payload", 512.0).unit(Unit::Bytes);
    /// let Ok(Event::Metric(m)) = m.into_event() else { unreachable!() };
    /// assert_eq!(m.unit, Unit::Bytes);
    /// ```
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = unit;
        self
    }

    /// Adds a dimension (at most 29; `FunctionName` is added by the extension). Names are
    /// ASCII and unique; the order they are added in does not matter.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric};
    /// let m = Metric::count("Orders", 1.0).dimension("Tenant", "acme").dimension("Region", "eu");
    /// let Ok(Event::Metric(m)) = m.into_event() else { unreachable!() };
    /// assert_eq!(m.dimensions[0], ("Region".to_owned(), "eu".to_owned()), "sorted by name");
    /// ```
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        if self.dimensions.capacity() == 0 {
            self.dimensions.reserve_exact(DIMENSION_HINT);
        }
        let start = self.text.len();
        self.text.push_str(name);
        let split = self.text.len();
        self.text.push_str(value);
        self.dimensions.push(Span {
            start,
            split,
            end: self.text.len(),
        });
        self
    }

    /// Stores the metric at 1-second resolution.
    ///
    /// ```
    /// use liftwatch::{protocol::Event, Metric, Resolution};
    /// let Ok(Event::Metric(m)) = Metric::count("Hits", 1.0).high_resolution().into_event() else {
    ///     unreachable!()
    /// };
    /// assert_eq!(m.resolution, Resolution::High);
    /// ```
    pub fn high_resolution(mut self) -> Self {
        self.resolution = Resolution::High;
        self
    }

    /// The metric's name.
    ///
    /// ```
    /// assert_eq!(liftwatch::Metric::count("Orders", 1.0).name(), "Orders");
    /// ```
    pub fn name(&self) -> &str {
        self.text.get(..self.name_end).unwrap_or_default()
    }

    /// Validates the metric into a wire event (dimensions sorted by name).
    ///
    /// ```
    /// use liftwatch::{protocol::ProtocolError, Metric};
    /// let err = Metric::count("Orders", 1.0).dimension("FunctionName", "f").into_event();
    /// assert!(matches!(err, Err(ProtocolError::InvalidField { field: "dimensions", .. })));
    /// ```
    pub fn into_event(self) -> Result<Event, ProtocolError> {
        let metric = self.validated()?;
        let dimensions = metric
            .dimensions
            .iter()
            .map(|&span| {
                let (name, value) = metric.pair(span);
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Ok(Event::Metric(MetricEvent {
            name: metric.name().to_owned(),
            value: metric.value,
            count: 1,
            unit: metric.unit,
            kind: metric.kind,
            dimensions,
            resolution: metric.resolution,
        }))
    }

    /// Applies [`MetricEvent::validate`]'s checks, in the same order, to the metric in
    /// place, and sorts its dimensions by name.
    pub(crate) fn validated(mut self) -> Result<Self, ProtocolError> {
        protocol::check_simple(self.name(), self.value)?;
        protocol::check_dimension_count(self.dimensions.len())?;
        for &span in &self.dimensions {
            let (name, value) = self.pair(span);
            protocol::check_dimension(name, value)?;
        }
        let text = &self.text;
        self.dimensions
            .sort_unstable_by(|a, b| text.get(a.start..a.split).cmp(&text.get(b.start..b.split)));
        if self
            .dimensions
            .windows(2)
            .any(|pair| self.pair(pair[0]).0 == self.pair(pair[1]).0)
        {
            return Err(protocol::duplicate_dimension());
        }
        Ok(self)
    }

    /// Appends the metric's wire form; call on a [`validated`](Self::validated) metric.
    pub(crate) fn write(&self, buf: &mut Vec<u8>) {
        let dimensions = self.dimensions.iter().map(|&span| self.pair(span));
        protocol::write_metric(
            buf,
            self.name(),
            (self.value, 1),
            self.unit,
            self.kind,
            dimensions,
            self.resolution,
        );
    }

    /// The parts the client's aggregate keys a series by, borrowed:
    /// (value, unit, kind, resolution, dimensions in their current order).
    pub(crate) fn parts(
        &self,
    ) -> (
        f64,
        Unit,
        MetricKind,
        Resolution,
        impl Iterator<Item = (&str, &str)>,
    ) {
        let dimensions = self.dimensions.iter().map(|&span| self.pair(span));
        (
            self.value,
            self.unit,
            self.kind,
            self.resolution,
            dimensions,
        )
    }

    fn pair(&self, span: Span) -> (&str, &str) {
        (
            self.text.get(span.start..span.split).unwrap_or_default(),
            self.text.get(span.split..span.end).unwrap_or_default(),
        )
    }
}

impl fmt::Debug for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dimensions: Vec<_> = self
            .dimensions
            .iter()
            .map(|&span| self.pair(span))
            .collect();
        f.debug_struct("Metric")
            .field("name", &self.name())
            .field("value", &self.value)
            .field("unit", &self.unit)
            .field("kind", &self.kind)
            .field("dimensions", &dimensions)
            .field("resolution", &self.resolution)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn event(metric: Metric) -> Result<MetricEvent, ProtocolError> {
        metric.into_event().map(|e| match e {
            Event::Metric(m) => m,
            other => panic!("a metric builds a metric event: {other:?}"),
        })
    }

    /// The builder must accept and refuse exactly what `MetricEvent::validate` does, with
    /// the same error, and produce the same event.
    #[test]
    fn the_builder_validates_like_the_protocol() {
        type Case<'a> = (&'a str, f64, Vec<(&'a str, &'a str)>);
        let long = "x".repeat(1025);
        let cases: Vec<Case<'_>> = vec![
            ("Ok", 1.0, vec![("b", "2"), ("a", "1"), ("C", "3")]),
            ("", f64::NAN, vec![]),
            ("Ok", f64::NAN, vec![("FunctionName", "f")]),
            ("Ok", 1.0, vec![("a", "1"), ("FunctionName", "f")]),
            ("Ok", 1.0, vec![("é", "1")]),
            ("Ok", 1.0, vec![("a", &long)]),
            ("Ok", 1.0, vec![("a", "1"), ("b", "\u{85}")]),
            ("Ok", 1.0, vec![("b", "1"), ("a", "2"), ("b", "3")]),
            ("Ok", 1.0, vec![("", "1"), ("a", "1"), ("a", "2")]),
        ];
        for (name, value, dims) in cases {
            let built = dims
                .iter()
                .fold(Metric::gauge(name, value), |m, (n, v)| m.dimension(n, v));
            let reference = MetricEvent {
                name: name.to_owned(),
                value,
                count: 1,
                unit: Unit::None,
                kind: MetricKind::Gauge,
                dimensions: dims
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                resolution: Resolution::Standard,
            };
            let (got, want) = (event(built), reference.validate());
            match (&got, &want) {
                (Err(a), Err(b)) => assert_eq!(a, b, "{name:?} {dims:?}"),
                (Ok(a), Ok(b)) => assert!(a.name == b.name && a.dimensions == b.dimensions),
                _ => panic!("{name:?} {dims:?}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn dimensions_past_the_limit_are_refused() {
        let at_limit = (0..29).fold(Metric::count("M", 1.0), |m, i| {
            m.dimension(&format!("d{i:02}"), "v")
        });
        assert_eq!(event(at_limit.clone()).unwrap().dimensions.len(), 29);
        let over = at_limit.dimension("d29", "v");
        assert_eq!(
            event(over),
            Err(ProtocolError::InvalidField {
                field: "dimensions",
                reason: "more than 29 dimensions"
            })
        );
    }

    #[test]
    fn writes_what_the_protocol_encoder_writes() {
        let metric = Metric::timing("T", 2.5)
            .dimension("z", "1")
            .dimension("a", "\"q\"")
            .high_resolution();
        let mut direct = Vec::new();
        metric.clone().validated().unwrap().write(&mut direct);
        let mut reference = Vec::new();
        protocol::encode(&metric.into_event().unwrap(), &mut reference);
        assert_eq!(
            String::from_utf8(direct).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    #[test]
    fn debug_shows_the_fields() {
        let text = format!(
            "{:?}",
            Metric::count("Orders", 2.0).dimension("Tenant", "acme")
        );
        assert!(
            text.contains(r#"name: "Orders""#) && text.contains(r#"("Tenant", "acme")"#),
            "{text}"
        );
    }
}
