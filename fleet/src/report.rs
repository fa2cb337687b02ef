//! The figures of one run and what they cost a month, printed as the rows of the bench's
//! tables.

use std::time::Duration;

use crate::dynamo::{PARTITION_RCU, PARTITION_WCU, TableFigures};
use crate::price::{
    CLOUDWATCH_PER_THOUSAND_REQUESTS, DYNAMODB_READ_PER_MILLION, DYNAMODB_STORAGE_PER_GB_MONTH,
    DYNAMODB_WRITE_PER_MILLION, GB, LOGS_INGESTION_PER_GB, MINUTES_PER_MONTH,
};
use crate::workload::Design;

/// DynamoDB bills 100 bytes of overhead per stored item.
const STORED_ITEM_OVERHEAD: f64 = 100.0;

/// `PutMetricData` while measured.
#[derive(Debug, Clone, Default)]
pub struct ApiFigures {
    pub requests: u64,
    /// The most requests the fleet sent in one second.
    pub peak_per_second: u64,
    /// Requests past the quota in their second.
    pub throttled: u64,
}

/// One run's figures.
#[derive(Debug, Clone)]
pub struct Report {
    pub sandboxes: u64,
    pub design: Design,
    pub minutes: f64,
    /// Rules decided on, and their window length.
    pub rules: usize,
    pub window_secs: u64,
    pub stats: TableFigures,
    pub connections: TableFigures,
    /// The statistics items' mean size as written.
    pub stats_item_bytes: f64,
    pub live_connections: u64,
    pub api: ApiFigures,
    pub api_quota: u64,
    pub emf_bytes_per_minute: f64,
    pub simulated_secs: u64,
    pub run_time: Duration,
}

/// Monthly dollars by line item.
#[derive(Debug, Clone, Copy, Default)]
pub struct Monthly {
    pub stats_writes: f64,
    pub stats_storage: f64,
    pub connections: f64,
    pub put_metric_data: f64,
    pub emf_logs: f64,
}

impl Monthly {
    pub fn total(&self) -> f64 {
        self.stats_writes
            + self.stats_storage
            + self.connections
            + self.put_metric_data
            + self.emf_logs
    }
}

fn requests(figures: &TableFigures) -> u64 {
    figures.requests.values().sum()
}

impl Report {
    fn per_minute(&self, value: f64) -> f64 {
        value / self.minutes
    }

    /// Statistics items written per minute.
    pub fn stats_items_per_minute(&self) -> f64 {
        self.per_minute(self.stats.requests.get("UpdateItem").copied().unwrap_or(0) as f64)
    }

    pub fn monthly(&self) -> Monthly {
        let month = |per_minute: f64| per_minute * MINUTES_PER_MONTH;
        let writes = |f: &TableFigures| month(self.per_minute(f.write_units));
        let reads = |f: &TableFigures| month(self.per_minute(f.read_units));
        // Items live 30 days past their window: a month's items are stored at once.
        let stored = match self.design {
            Design::After => month(self.stats_items_per_minute()),
            Design::Before => month(self.legacy_items_per_minute()),
        };
        Monthly {
            stats_writes: writes(&self.stats) / 1e6 * DYNAMODB_WRITE_PER_MILLION,
            stats_storage: stored * (self.stats_item_bytes + STORED_ITEM_OVERHEAD) / GB
                * DYNAMODB_STORAGE_PER_GB_MONTH,
            connections: writes(&self.connections) / 1e6 * DYNAMODB_WRITE_PER_MILLION
                + reads(&self.connections) / 1e6 * DYNAMODB_READ_PER_MILLION,
            put_metric_data: month(self.per_minute(self.api.requests as f64)) / 1_000.0
                * CLOUDWATCH_PER_THOUSAND_REQUESTS,
            emf_logs: month(self.emf_bytes_per_minute) / GB * LOGS_INGESTION_PER_GB,
        }
    }

    /// The earlier layout stores one item per rule and window, whatever the fleet.
    fn legacy_items_per_minute(&self) -> f64 {
        self.rules as f64 * 60.0 / self.window_secs.max(1) as f64
    }

    /// Reading one rule's totals over `minutes` of windows: items and read units (one
    /// `Query` per shard, eventually consistent, plus the earlier layout's partition).
    pub fn read_cost(&self, minutes: f64) -> (f64, f64) {
        let per_rule = match self.design {
            Design::After => self.stats_items_per_minute(),
            Design::Before => self.legacy_items_per_minute(),
        } / self.rules.max(1) as f64;
        let items = per_rule * minutes;
        let bytes = items * self.stats_item_bytes;
        let shards = if self.design == Design::After {
            33.0
        } else {
            1.0
        };
        let units = (bytes / 4_096.0).ceil().max(shards) / 2.0;
        (items, units)
    }

    /// The table row of this run's DynamoDB and CloudWatch figures.
    pub fn row(&self) -> String {
        let s = &self.stats;
        let c = &self.connections;
        let pct = |v: f64, limit: f64| 100.0 * v / limit;
        format!(
            "| {:>7} | {:<6} | {:>9.0} | {:>10.0} | {:>7} | {:>6.0} ({:>5.1}%) | {:>6} | {:>6} | {:>7.0} | {:>8.0} | {:>7.0} | {:>5.0} ({:>4.1}%) | {:>5.0} ({:>4.1}%) | {:>6} | {:>6.1} / {:>5} ({:>4}) |",
            self.sandboxes,
            format!("{:?}", self.design),
            self.per_minute(requests(s) as f64),
            self.per_minute(s.write_units),
            s.largest_item,
            s.peak_partition_write.0,
            pct(s.peak_partition_write.0, PARTITION_WCU),
            s.throttled,
            s.too_large,
            self.per_minute(requests(c) as f64),
            self.per_minute(c.write_units),
            self.per_minute(c.read_units),
            c.peak_partition_write.0,
            pct(c.peak_partition_write.0, PARTITION_WCU),
            c.peak_partition_read.0,
            pct(c.peak_partition_read.0, PARTITION_RCU),
            c.throttled,
            self.per_minute(self.api.requests as f64) / 60.0,
            self.api.peak_per_second,
            self.api.throttled,
        )
    }

    /// The table row of this run's monthly cost and read cost.
    pub fn cost_row(&self) -> String {
        let m = self.monthly();
        let (hour_items, hour_units) = self.read_cost(60.0);
        let (day_items, day_units) = self.read_cost(1_440.0);
        format!(
            "| {:>7} | {:<6} | {:>9.2} | {:>9.2} | {:>8.2} | {:>9.2} | {:>9.2} | {:>10.2} | {:>10.0} / {:>8.1} | {:>11.0} / {:>9.1} | {:>6.1} s ({:>5} s simulated) |",
            self.sandboxes,
            format!("{:?}", self.design),
            m.stats_writes,
            m.stats_storage,
            m.connections,
            m.put_metric_data,
            m.emf_logs,
            m.total(),
            hour_items,
            hour_units,
            day_items,
            day_units,
            self.run_time.as_secs_f64(),
            self.simulated_secs,
        )
    }
}

impl Report {
    /// The table row naming the hottest partitions.
    pub fn hot_row(&self) -> String {
        let (s, c) = (&self.stats, &self.connections);
        format!(
            "| {:>7} | {:<6} | {} ({:.0}) | {} ({:.0}) | {} ({:.0}) |",
            self.sandboxes,
            format!("{:?}", self.design),
            s.peak_partition_write.1,
            s.peak_partition_write.0,
            c.peak_partition_write.1,
            c.peak_partition_write.0,
            c.peak_partition_read.1,
            c.peak_partition_read.0,
        )
    }
}

/// The header of [`Report::hot_row`]'s table.
pub const HOT_HEADER: &str = "| sandboxes | design | hottest stats partition (WCU/s) | hottest connections partition, writes (WCU/s) | hottest connections partition, reads (RCU/s) |\n|---:|---|---|---|---|";

/// The header of [`Report::row`]'s table.
pub const HEADER: &str = "| sandboxes | design | stats req/min | stats WRU/min | largest item B | hottest stats partition WCU/s (% of 1,000) | stats throttled | too large | conn req/min | conn WRU/min | conn RRU/min | hottest conn partition WCU/s | hottest conn partition RCU/s | conn throttled | PutMetricData/s mean / peak (over quota) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// The header of [`Report::cost_row`]'s table.
pub const COST_HEADER: &str = "| sandboxes | design | stats writes $/month | stats storage $/month | connections $/month | PutMetricData $/month | EMF logs $/month | total $/month | a rule's last hour: items / RRU | a rule's day: items / RRU | model run time |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
