//! The EMF sink: CloudWatch Embedded Metric Format documents, one per line, on stdout
//! (Lambda ships stdout to CloudWatch Logs, which turns the documents into metrics).

use std::io::Write;
use std::time::Instant;

use crate::emf::EmfEncoder;
use crate::metrics::MetricBatch;
use crate::sink::{ExportReport, Sink, SinkError, SinkFuture};

/// Writes EMF documents to a writer (stdout in production, a buffer in tests).
pub struct EmfSink {
    encoder: EmfEncoder,
    buf: Vec<u8>,
    out: Box<dyn Write + Send>,
}

impl std::fmt::Debug for EmfSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfSink")
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl EmfSink {
    /// A sink writing to `out`.
    pub fn new(encoder: EmfEncoder, out: Box<dyn Write + Send>) -> Self {
        EmfSink {
            encoder,
            buf: Vec::with_capacity(16 * 1024),
            out,
        }
    }

    /// A sink writing to the process's stdout.
    pub fn stdout(encoder: EmfEncoder) -> Self {
        Self::new(encoder, Box::new(std::io::stdout()))
    }

    fn write_batch(&mut self, batch: &MetricBatch) -> Result<ExportReport, SinkError> {
        self.buf.clear();
        let stats = self.encoder.encode(batch, &mut self.buf);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(ExportReport {
            values_written: stats.values_written as u64,
            values_rejected: stats.values_rejected as u64,
            ..ExportReport::default()
        })
    }
}

impl Sink for EmfSink {
    fn name(&self) -> &'static str {
        "emf"
    }

    fn is_local(&self) -> bool {
        true
    }

    fn export<'a>(
        &'a mut self,
        batch: &'a MetricBatch,
        _deadline: Instant,
    ) -> SinkFuture<'a, Result<ExportReport, SinkError>> {
        // A local pipe write: no retries, and nothing to wait for beyond the write itself.
        let result = self.write_batch(batch);
        Box::pin(async move { result })
    }

    fn shutdown(&mut self, _deadline: Instant) -> SinkFuture<'_, u64> {
        let _ = self.out.flush();
        Box::pin(async { 0 })
    }
}
