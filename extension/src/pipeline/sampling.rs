//! The resource part of the pipeline: `/proc` sampled between each INVOKE and its
//! runtimeDone (when resource metrics are on), and the usage it found aggregated for the
//! next flush.

use std::time::Instant;

use crate::aggregate::ResourceAggregator;
use crate::resources::ResourceSampler;

use super::SAMPLE_INTERVAL;

/// The sampler, the invocation it samples, and the aggregated usage.
#[derive(Debug, Default)]
pub(super) struct Sampling {
    /// `None` when resource metrics are off.
    sampler: Option<ResourceSampler>,
    /// The invocation being sampled and the next sample's time.
    current: Option<(String, Instant)>,
    resources: ResourceAggregator,
}

impl Sampling {
    pub(super) fn with_sampler(sampler: ResourceSampler) -> Self {
        Sampling {
            sampler: Some(sampler),
            ..Sampling::default()
        }
    }

    /// Starts sampling at INVOKE; an invocation still being sampled (its runtimeDone never
    /// came) is finished first.
    pub(super) fn start(&mut self, request_id: String) {
        if self.current.is_some() {
            self.finish();
        }
        if let Some(sampler) = self.sampler.as_mut() {
            sampler.start();
            self.current = Some((request_id, Instant::now() + SAMPLE_INTERVAL));
        }
    }

    /// The invocation being sampled.
    pub(super) fn request_id(&self) -> Option<&str> {
        self.current.as_ref().map(|(id, _)| id.as_str())
    }

    /// When the next sample is due.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.current.as_ref().map(|(_, at)| *at)
    }

    /// Takes a sample now and schedules the next.
    pub(super) fn sample(&mut self) {
        if let (Some(sampler), Some((_, next))) = (self.sampler.as_mut(), self.current.as_mut()) {
            sampler.sample();
            *next = Instant::now() + SAMPLE_INTERVAL;
        }
    }

    /// Ends the invocation's sampling and records its usage.
    pub(super) fn finish(&mut self) {
        self.current = None;
        if let Some(usage) = self.sampler.as_mut().and_then(ResourceSampler::finish) {
            self.resources.record(&usage);
        }
    }

    /// `/proc` reads that failed since the last call.
    pub(super) fn take_errors(&mut self) -> u64 {
        self.sampler
            .as_mut()
            .map_or(0, ResourceSampler::take_errors)
    }

    /// The aggregated usage as series.
    pub(super) fn flush_into(&mut self, function: &str, series: &mut Vec<crate::metrics::Series>) {
        self.resources.flush_into(function, series);
    }
}
