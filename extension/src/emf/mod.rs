//! CloudWatch Embedded Metric Format: turns one flush's [`MetricBatch`] into EMF documents,
//! one JSON object per line, which the EMF sink writes to stdout (stdout → CloudWatch Logs
//! → metrics).
//!
//! Each document carries one metric directive with one dimension set:
//!
//! ```text
//! {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Liftwatch",
//!   "Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Invocations","Unit":"Count"},
//!   {"Name":"Duration","Unit":"Milliseconds","StorageResolution":1}]}]},
//!   "FunctionName":"orders","Invocations":3,"Duration":[12.5,8,30.25]}
//! ```
//!
//! (one line in the output). Series with identical dimension vectors share documents (sets
//! in first-seen order, series in batch order); two series of one set with the same name,
//! e.g. with different units, go to different documents. A metric's values are a plain
//! number when it has one value in the document, an array otherwise. `StorageResolution` is written only for high resolution (1); 60 is the
//! default and is omitted.
//!
//! Every document holds at most [`MAX_METRICS_PER_DOCUMENT`] metrics, [`MAX_DIMENSIONS`]
//! dimensions and [`MAX_VALUES_PER_METRIC`] values per metric, names each metric once, and
//! stays below the byte limit ([`MAX_DOCUMENT_BYTES`] by default, newline included). What
//! does not fit moves to further documents: a series with 250 values spreads over three
//! documents (100, 100, 50), 250 metrics over three directives.
//!
//! Nothing invalid is written; what is left out is counted in [`EncodeStats`]:
//! - a value that is NaN, ±Inf or outside CloudWatch's range
//!   (`liftwatch::protocol::check_value`) is dropped alone; its series' other values stay;
//! - a series is dropped whole when its name is blank, over 255 characters, holds a control
//!   character or is `_aws`; when it has more than 30 dimensions, or a dimension name or
//!   value that CloudWatch refuses (blank, over 250/1024 characters, control characters,
//!   non-ASCII or `:`-prefixed names, `_aws`, duplicates); or when the metric is named
//!   like one of its own dimensions, since both would be the same root member.
//!
//! Series without values are skipped and not counted.

mod encode;
mod group;
mod json;
mod limits;
#[cfg(test)]
mod tests;

use crate::metrics::MetricBatch;

pub use limits::{
    MAX_DIMENSIONS, MAX_DOCUMENT_BYTES, MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC,
    namespace_problem,
};

/// Why an [`EmfEncoder`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmfError {
    /// The namespace is not one CloudWatch accepts.
    #[error("invalid emf namespace {namespace:?}: {reason}")]
    InvalidNamespace {
        /// The namespace as given.
        namespace: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// What one [`EmfEncoder::encode`] call wrote and left out.
///
/// `values_written + values_rejected` equals the batch's value count: the values of a
/// rejected series are counted in `values_rejected` too.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EncodeStats {
    /// Documents (lines) appended.
    pub documents: usize,
    /// Values written across those documents.
    pub values_written: usize,
    /// Values left out: invalid values, and every value of a rejected series.
    pub values_rejected: usize,
    /// Series left out whole for their name, their dimensions or a name clash.
    pub series_rejected: usize,
}

/// Encodes metric batches as CloudWatch EMF documents for one namespace.
#[derive(Debug, Clone)]
pub struct EmfEncoder {
    namespace: String,
    /// `,"CloudWatchMetrics":[{"Namespace":"…","Dimensions":[[`, built once.
    directive_head: Vec<u8>,
    /// Every line, newline included, is shorter than this.
    max_document_bytes: usize,
}

impl EmfEncoder {
    /// An encoder for `namespace`, which must be 1–255 ASCII characters, not blank, without
    /// control characters, and not start with `:` or the reserved `AWS/`.
    pub fn new(namespace: &str) -> Result<Self, EmfError> {
        if let Some(reason) = limits::namespace_problem(namespace) {
            return Err(EmfError::InvalidNamespace {
                namespace: namespace.to_owned(),
                reason,
            });
        }
        let mut directive_head = br#","CloudWatchMetrics":[{"Namespace":"#.to_vec();
        json::push_str(&mut directive_head, namespace);
        directive_head.extend_from_slice(br#","Dimensions":[["#);
        Ok(Self {
            namespace: namespace.to_owned(),
            directive_head,
            max_document_bytes: MAX_DOCUMENT_BYTES,
        })
    }

    /// Lowers the byte limit for documents (newline included), e.g. for a log pipeline
    /// with smaller events than CloudWatch Logs' 1 MB. It cannot be raised above
    /// [`MAX_DOCUMENT_BYTES`].
    #[must_use]
    pub fn with_max_document_bytes(mut self, bytes: usize) -> Self {
        self.max_document_bytes = bytes.min(MAX_DOCUMENT_BYTES);
        self
    }

    /// The namespace every document is written to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The byte limit documents stay below, newline included.
    pub fn max_document_bytes(&self) -> usize {
        self.max_document_bytes
    }

    /// Appends `batch` to `out` as EMF documents, each followed by `\n`, and reports what
    /// was written and left out. Never fails: invalid input is dropped and counted (see the
    /// module documentation). Reuse `out` across flushes to keep its allocation.
    pub fn encode(&self, batch: &MetricBatch, out: &mut Vec<u8>) -> EncodeStats {
        encode::encode(self, batch, out)
    }
}
