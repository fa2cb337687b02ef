//! Resource metrics per invocation, from the sampler's `ResourceUsage`: CPU time, network
//! bytes, `/tmp`, file descriptors and threads. Per-invocation figures are kept as samples
//! (so Maximum and percentiles work); the limits (`TmpMax`, `FdMax`, `ThreadsMax`) change
//! rarely and are published once per flush.

use liftwatch::Unit;

use crate::aggregate::{function_series, take_samples};
use crate::metrics::Series;
use crate::resources::ResourceUsage;

/// Aggregates resource usage between flushes.
#[derive(Debug, Default)]
pub struct ResourceAggregator {
    cpu_user: Vec<f64>,
    cpu_system: Vec<f64>,
    cpu_total: Vec<f64>,
    rx: Vec<f64>,
    tx: Vec<f64>,
    network: Vec<f64>,
    tmp_used: Vec<f64>,
    fd_use: Vec<f64>,
    threads_use: Vec<f64>,
    limits: Option<(f64, f64, f64)>,
}

impl ResourceAggregator {
    /// Records one invocation's usage.
    pub fn record(&mut self, usage: &ResourceUsage) {
        self.cpu_user.push(usage.cpu_user_ms);
        self.cpu_system.push(usage.cpu_system_ms);
        self.cpu_total.push(usage.cpu_total_ms);
        self.rx.push(usage.rx_bytes as f64);
        self.tx.push(usage.tx_bytes as f64);
        self.network
            .push(usage.rx_bytes.saturating_add(usage.tx_bytes) as f64);
        self.tmp_used.push(usage.tmp_used_bytes as f64);
        self.fd_use.push(usage.fd_use as f64);
        self.threads_use.push(usage.threads_use as f64);
        self.limits = Some((
            usage.tmp_max_bytes as f64,
            usage.fd_max as f64,
            usage.threads_max as f64,
        ));
    }

    /// Moves everything recorded since the last flush into `out`.
    pub fn flush_into(&mut self, function: &str, out: &mut Vec<Series>) {
        let samples = [
            ("CpuUserTime", Unit::Milliseconds, &mut self.cpu_user),
            ("CpuSystemTime", Unit::Milliseconds, &mut self.cpu_system),
            ("CpuTotalTime", Unit::Milliseconds, &mut self.cpu_total),
            ("RxBytes", Unit::Bytes, &mut self.rx),
            ("TxBytes", Unit::Bytes, &mut self.tx),
            ("TotalNetwork", Unit::Bytes, &mut self.network),
            ("TmpUsed", Unit::Bytes, &mut self.tmp_used),
            ("FdUse", Unit::Count, &mut self.fd_use),
            ("ThreadsUse", Unit::Count, &mut self.threads_use),
        ];
        take_samples(function, samples, out);
        if let Some((tmp_max, fd_max, threads_max)) = self.limits.take() {
            out.push(function_series(
                function,
                "TmpMax",
                Unit::Bytes,
                vec![tmp_max],
            ));
            out.push(function_series(
                function,
                "FdMax",
                Unit::Count,
                vec![fd_max],
            ));
            out.push(function_series(
                function,
                "ThreadsMax",
                Unit::Count,
                vec![threads_max],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn usage(cpu: f64, rx: u64) -> ResourceUsage {
        ResourceUsage {
            cpu_user_ms: cpu,
            cpu_system_ms: 1.0,
            cpu_total_ms: cpu + 1.0,
            rx_bytes: rx,
            tx_bytes: 100,
            tmp_used_bytes: 4096,
            tmp_max_bytes: 512 * 1024 * 1024,
            fd_use: 12,
            fd_max: 1024,
            threads_use: 5,
            threads_max: 1024,
        }
    }

    #[test]
    fn samples_per_invocation_and_limits_once_per_flush() {
        let mut agg = ResourceAggregator::default();
        agg.record(&usage(10.0, 1000));
        agg.record(&usage(20.0, 3000));
        let mut out = Vec::new();
        agg.flush_into("fn", &mut out);
        let values = |name: &str| {
            out.iter()
                .find(|s| s.name == name)
                .map(|s| s.values.clone())
        };
        assert_eq!(values("CpuUserTime").unwrap(), [10.0, 20.0]);
        assert_eq!(values("CpuTotalTime").unwrap(), [11.0, 21.0]);
        assert_eq!(values("RxBytes").unwrap(), [1000.0, 3000.0]);
        assert_eq!(values("TotalNetwork").unwrap(), [1100.0, 3100.0]);
        assert_eq!(values("FdUse").unwrap(), [12.0, 12.0]);
        assert_eq!(values("TmpMax").unwrap(), [512.0 * 1024.0 * 1024.0]);
        assert_eq!(values("ThreadsMax").unwrap(), [1024.0]);
        assert_eq!(out.len(), 12);
        let mut again = Vec::new();
        agg.flush_into("fn", &mut again);
        assert!(again.is_empty());
    }
}
