//! What the fleet does, with defaults for a busy function, and the two designs compared.

/// The layout and schedules a run plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// Before issue 16: one statistics item per rule and window shared by every sandbox
    /// (a `seq#<sandbox>` attribute each), one counter item, a cold start's first lease
    /// attempt a conditional write, `PutMetricData` at every 20-s flush.
    Before,
    /// Now: an item per sandbox, rule and window over 32 shards written at a random phase,
    /// 8 counter shards with partition keys of their own, a cold start reads the lease
    /// before it writes, `PutMetricData` once per 60 s at a random phase.
    After,
}

/// The fleet's behaviour.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Concurrent sandboxes (each replaced by a cold start when it ends).
    pub sandboxes: u64,
    pub design: Design,
    /// Measured minutes, after the scale-out and two minutes of warm-up.
    pub measure_minutes: u64,
    /// New sandboxes per second while scaling out: Lambda adds at most 1,000 execution
    /// environments every 10 s per function.
    pub scale_out_per_second: u64,
    /// A sandbox lives uniformly between these many seconds, then shuts down.
    pub lifetime_secs: (u64, u64),
    /// Rate-limit rules each sandbox decides on, every second each.
    pub rules: usize,
    /// Key classes that see decisions in each window.
    pub classes: usize,
    /// Rate-limit window length, seconds.
    pub window_secs: u64,
    /// The statistics table interval (`TABLE_INTERVAL`), seconds.
    pub table_interval_secs: u64,
    /// WebSocket connects per second per sandbox, capped fleet-wide by API Gateway's
    /// default quota of 500 new connections a second.
    pub connects_per_sandbox: f64,
    pub connect_quota: f64,
    /// Mean connection length, seconds.
    pub connection_secs: f64,
    /// Tenants, their shares following Zipf (s = 1): the largest has 13% of 1,000.
    pub tenants: usize,
    /// Counter shards.
    pub counter_shards: u32,
    /// `LIFTWATCH_CONNECTIONS_INTERVAL`, seconds; the lease lasts three.
    pub lease_interval_secs: u64,
    /// Metric flushes (adaptive mode on a busy sandbox: every 20 s) and an EMF document's size.
    pub flush_secs: u64,
    pub emf_bytes: u64,
    /// Seconds between two `PutMetricData` sends of one sandbox (`cloudwatch` sink): now,
    /// what docs/SCALING.md tells a fleet to set, N / 250 s and at least the default 60 s,
    /// so the fleet uses half the default quota at most.
    pub api_interval_secs: u64,
    /// `PutMetricData` requests a second per account and Region (default quota).
    pub api_quota: u64,
    pub seed: u64,
}

impl Workload {
    /// The defaults for `sandboxes` under `design`.
    pub fn new(sandboxes: u64, design: Design) -> Self {
        let after = design == Design::After;
        Workload {
            sandboxes,
            design,
            measure_minutes: 10,
            scale_out_per_second: 100,
            lifetime_secs: (1_800, 14_400),
            rules: 2,
            classes: 4,
            window_secs: 60,
            table_interval_secs: 60,
            connects_per_sandbox: 0.01,
            connect_quota: 500.0,
            connection_secs: 600.0,
            tenants: 1_000,
            counter_shards: if after { 8 } else { 1 },
            lease_interval_secs: 60,
            flush_secs: 20,
            emf_bytes: 2_048,
            api_interval_secs: if after {
                sandboxes.div_ceil(250).max(60)
            } else {
                20
            },
            api_quota: 500,
            seed: 0x5eed_f1ee7,
        }
    }

    /// Seconds until the whole fleet has started.
    pub fn scale_out_secs(&self) -> u64 {
        self.sandboxes.div_ceil(self.scale_out_per_second.max(1))
    }

    /// The fleet's connect rate, per second.
    pub fn connect_rate(&self) -> f64 {
        (self.sandboxes as f64 * self.connects_per_sandbox).min(self.connect_quota)
    }
}
