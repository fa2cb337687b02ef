//! The metric builder handlers use for metrics with a unit, dimensions or high resolution;
//! validated into a protocol event on send. Plain counts, gauges and timings need no
//! builder: `Client::count` and friends encode straight from their arguments.

use crate::protocol::{Event, MetricEvent, MetricKind, ProtocolError, Resolution};
use crate::unit::Unit;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    event: MetricEvent,
}

impl Metric {
    fn new(name: &str, value: f64, kind: MetricKind, unit: Unit) -> Self {
        Metric {
            event: MetricEvent {
                name: name.to_owned(),
                value,
                unit,
                kind,
                dimensions: Vec::new(),
                resolution: Resolution::Standard,
            },
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
        self.event.unit = unit;
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
        self.event.dimensions.push((name.to_owned(), value.to_owned()));
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
        self.event.resolution = Resolution::High;
        self
    }

    /// The metric's name.
    ///
    /// ```
    /// assert_eq!(liftwatch::Metric::count("Orders", 1.0).name(), "Orders");
    /// ```
    pub fn name(&self) -> &str {
        &self.event.name
    }

    /// Validates the metric into a wire event (dimensions sorted by name).
    ///
    /// ```
    /// use liftwatch::{protocol::ProtocolError, Metric};
    /// let err = Metric::count("Orders", 1.0).dimension("FunctionName", "f").into_event();
    /// assert!(matches!(err, Err(ProtocolError::InvalidField { field: "dimensions", .. })));
    /// ```
    pub fn into_event(self) -> Result<Event, ProtocolError> {
        self.into_metric_event().map(Event::Metric)
    }

    /// Validates the metric into the protocol's metric event.
    pub(crate) fn into_metric_event(self) -> Result<MetricEvent, ProtocolError> {
        self.event.validate()
    }
}
