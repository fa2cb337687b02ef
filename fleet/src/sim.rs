//! The event-driven run: every sandbox's start, table writes, lease attempts,
//! `PutMetricData` sends and shutdown, and the fleet's connects and disconnects, in time
//! order against the two tables. Throttled requests are counted, not retried (the real
//! writer keeps and retries them at its next flush; a run with none needs no retries).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::dynamo::{Access, Outcome, Table, item_size, read_units, write_units};
use crate::layout::{
    WindowCounts, connection_item, counter_item, lease_item, legacy_stats_item,
    legacy_writer_bytes, stats_item,
};
use crate::random::Rng;
use crate::report::{ApiFigures, Report};
use crate::workload::{Design, Workload};

/// Something that happens at a time, to a sandbox (by index and generation) or the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Start(usize),
    TableWrite(usize, u32),
    Lease(usize, u32),
    ApiSend(usize, u32),
    Shutdown(usize, u32),
    Connect,
    Disconnect(u64, u32, u32),
    Housekeeping,
}

/// One sandbox slot of the fleet; `generation` changes when it is replaced.
#[derive(Debug, Clone, Default)]
struct Sandbox {
    generation: u32,
    slot: u128,
    /// Windows up to this start (exclusive) are written.
    written_until: u64,
    seq: u64,
    peek: bool,
}

/// The lease item's state.
#[derive(Debug, Clone, Copy)]
struct Lease {
    holder: usize,
    generation: u32,
    until_ms: u64,
}

struct Run<'a> {
    w: &'a Workload,
    rng: Rng,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    order: u64,
    sandboxes: Vec<Sandbox>,
    stats: Table,
    connections: Table,
    lease: Option<Lease>,
    counts: WindowCounts,
    /// Earlier layout: (rule, window) → writers so far and the item's size without them.
    legacy: HashMap<(usize, u64), (u64, usize)>,
    /// `PutMetricData` per second: (second, requests in it).
    api_second: (u64, u64),
    api: ApiFigures,
    measuring: bool,
    stats_bytes_written: (u64, u64),
    tenant_cdf: Vec<f64>,
    next_connection: u64,
    live_connections: u64,
}

const RULES: [&str; 4] = ["login", "search", "upload", "api"];

impl Run<'_> {
    fn at(&mut self, ms: u64, event: Event) {
        self.order += 1;
        self.queue.push(Reverse((ms, self.order, event)));
    }

    fn after_design(&self) -> bool {
        self.w.design == Design::After
    }

    fn start(&mut self, i: usize, now: u64) {
        let generation = self.sandboxes[i].generation + 1;
        let window_ms = self.w.window_secs * 1_000;
        self.sandboxes[i] = Sandbox {
            generation,
            slot: self.rng.slot(),
            written_until: (now / window_ms) * window_ms / 1_000,
            seq: 0,
            peek: self.after_design(),
        };
        let (lo, hi) = self.w.lifetime_secs;
        let life = lo + (self.rng.fraction() * (hi - lo) as f64) as u64;
        self.at(now + life * 1_000, Event::Shutdown(i, generation));
        let table_phase = self.first_due(self.w.table_interval_secs);
        self.at(now + table_phase, Event::TableWrite(i, generation));
        self.at(now, Event::Lease(i, generation));
        let api_phase = self.first_due(self.w.api_interval_secs);
        self.at(now + api_phase, Event::ApiSend(i, generation));
    }

    /// Milliseconds from a start to the first of a schedule every `interval_secs`: a random
    /// phase now, one whole interval before.
    fn first_due(&mut self, interval_secs: u64) -> u64 {
        let interval_ms = interval_secs * 1_000;
        if self.after_design() {
            (self.rng.fraction() * interval_ms as f64) as u64
        } else {
            interval_ms
        }
    }

    /// Writes the windows of sandbox `i` complete at `now` (all of them, the open one too,
    /// when `everything`).
    fn table_write(&mut self, i: usize, now: u64, everything: bool) {
        let window = self.w.window_secs;
        let now_s = now / 1_000;
        let end = if everything {
            (now_s / window + 1) * window
        } else {
            (now_s / window) * window
        };
        let mut start = self.sandboxes[i].written_until;
        if start >= end {
            return;
        }
        self.sandboxes[i].seq += 1;
        let (slot, seq) = (self.sandboxes[i].slot, self.sandboxes[i].seq);
        while start < end {
            for rule in 0..self.w.rules {
                match self.w.design {
                    Design::After => self.write_sharded(rule, start, slot, seq, now),
                    Design::Before => self.write_legacy(rule, start, now),
                }
            }
            start += window;
        }
        self.sandboxes[i].written_until = end;
    }

    fn write_sharded(&mut self, rule: usize, window: u64, slot: u128, seq: u64, now: u64) {
        let window_secs = u32::try_from(self.w.window_secs).unwrap_or(u32::MAX);
        let item = stats_item(RULES[rule], (window, window_secs), slot, &self.counts, seq);
        let size = item_size(&item);
        let partition = match item.get("pk") {
            Some(crate::dynamo::Value::S(pk)) => pk.clone(),
            _ => String::new(),
        };
        let access = Access {
            partition,
            write: write_units(size),
            read: 0.0,
        };
        let outcome = self.stats.request("UpdateItem", now, &[access], size);
        if self.measuring && outcome == Outcome::Done {
            self.stats_bytes_written.0 += size as u64;
            self.stats_bytes_written.1 += 1;
        }
    }

    fn write_legacy(&mut self, rule: usize, window: u64, now: u64) {
        let window_secs = u32::try_from(self.w.window_secs).unwrap_or(u32::MAX);
        let counts = self.counts.clone();
        let (writers, base) = *self.legacy.entry((rule, window)).or_insert_with(|| {
            let item = legacy_stats_item(RULES[rule], (window, window_secs), &counts, &[]);
            (0, item_size(&item))
        });
        let per_writer = legacy_writer_bytes(1);
        let before = base + writers as usize * per_writer;
        let after = before + per_writer;
        let access = Access {
            partition: format!("rule#{}", RULES[rule]),
            write: write_units(before.max(after)),
            read: 0.0,
        };
        if self.stats.request("UpdateItem", now, &[access], after) == Outcome::Done {
            if let Some(entry) = self.legacy.get_mut(&(rule, window)) {
                entry.0 += 1;
            }
            if self.measuring {
                self.stats_bytes_written.0 += after as u64;
                self.stats_bytes_written.1 += 1;
            }
        }
    }

    fn lease_attempt(&mut self, i: usize, now: u64) {
        let interval = self.w.lease_interval_secs * 1_000;
        let lease_ms = 3 * interval;
        let generation = self.sandboxes[i].generation;
        let holder_id = format!("{:016x}", self.sandboxes[i].slot as u64);
        let lease_bytes = item_size(&lease_item(&holder_id, now + lease_ms));
        let held_by_other = self
            .lease
            .filter(|l| (l.holder, l.generation) != (i, generation) && l.until_ms >= now);
        let jitter = (self.rng.fraction() * 0.25 * interval as f64) as u64;
        if self.sandboxes[i].peek {
            let read = Access {
                partition: "lease#active-connections".into(),
                write: 0.0,
                read: read_units(lease_bytes, false),
            };
            if self.connections.request("GetItem", now, &[read], 0) != Outcome::Done {
                self.at(now + interval + jitter, Event::Lease(i, generation));
                return;
            }
            if let Some(lease) = held_by_other {
                let wait = lease.until_ms.saturating_sub(now).clamp(interval, lease_ms);
                self.at(now + wait + jitter, Event::Lease(i, generation));
                return;
            }
        }
        let write = Access {
            partition: "lease#active-connections".into(),
            write: write_units(lease_bytes),
            read: 0.0,
        };
        if self
            .connections
            .request("UpdateItem", now, &[write], lease_bytes)
            != Outcome::Done
        {
            self.at(now + interval + jitter, Event::Lease(i, generation));
            return;
        }
        if let Some(lease) = held_by_other {
            // The condition failed (charged all the same): someone else holds it.
            self.sandboxes[i].peek = true;
            let wait = lease.until_ms.saturating_sub(now).clamp(interval, lease_ms);
            self.at(now + wait + jitter, Event::Lease(i, generation));
            return;
        }
        self.lease = Some(Lease {
            holder: i,
            generation,
            until_ms: now + lease_ms,
        });
        self.sandboxes[i].peek = false;
        self.read_counter(now);
        self.at(now + interval, Event::Lease(i, generation));
    }

    /// The holder's count: `Query` of `counter#active`, and (own-partition shards) one
    /// `BatchGetItem` of the 15 other possible shards.
    fn read_counter(&mut self, now: u64) {
        let shard_bytes = item_size(&counter_item(1, true, 12_345, 1_234_567));
        let after = self.after_design();
        let in_query = if after {
            1
        } else {
            self.w.counter_shards as usize
        };
        let query = Access {
            partition: "counter#active".into(),
            write: 0.0,
            read: read_units(shard_bytes * in_query, false),
        };
        self.connections.request("Query", now, &[query], 0);
        if after {
            let gets: Vec<Access> = (1..16)
                .map(|k| Access {
                    partition: format!("counter#active#{k}"),
                    write: 0.0,
                    read: read_units(shard_bytes, false),
                })
                .collect();
            self.connections.request("BatchGetItem", now, &gets, 0);
        }
    }

    fn api_send(&mut self, now: u64) {
        let second = now / 1_000;
        if self.api_second.0 != second {
            self.api_second = (second, 0);
        }
        self.api_second.1 += 1;
        if self.measuring {
            self.api.requests += 1;
            self.api.peak_per_second = self.api.peak_per_second.max(self.api_second.1);
            if self.api_second.1 > self.w.api_quota {
                self.api.throttled += 1;
            }
        }
    }

    fn tenant(&mut self) -> usize {
        let x = self.rng.fraction();
        self.tenant_cdf
            .partition_point(|c| *c < x)
            .min(self.w.tenants - 1)
    }

    fn connection_change(&mut self, now: u64, id: u64, tenant: usize, shard: u32, connect: bool) {
        let conn = connection_item(
            &format!("{id:016x}"),
            &format!("user-{:06}", id % 1_000_000),
            &format!("tenant-{tenant:04}"),
            now,
        );
        let size = item_size(&conn);
        let own = self.after_design();
        let counter = item_size(&counter_item(shard, own, 12_345, 1_234_567));
        let counter_pk = match (shard, own) {
            (0, _) | (_, false) => "counter#active".to_owned(),
            (k, true) => format!("counter#active#{k}"),
        };
        let accesses = [
            Access {
                partition: format!("conn#{id:016x}"),
                write: 2.0 * write_units(size),
                read: 0.0,
            },
            Access {
                partition: counter_pk,
                write: 2.0 * write_units(counter),
                read: 0.0,
            },
            Access {
                partition: format!("by_tenant:tenant#tenant-{tenant:04}"),
                write: write_units(size),
                read: 0.0,
            },
            Access {
                partition: format!("by_user:user#{id}"),
                write: write_units(size),
                read: 0.0,
            },
        ];
        self.connections
            .request("TransactWriteItems", now, &accesses, size);
        if connect {
            self.live_connections += 1;
        } else {
            self.live_connections = self.live_connections.saturating_sub(1);
        }
    }

    fn handle(&mut self, now: u64, event: Event) {
        let current = |run: &Self, i: usize, g: u32| run.sandboxes[i].generation == g;
        match event {
            Event::Start(i) => self.start(i, now),
            Event::TableWrite(i, g) if current(self, i, g) => {
                self.table_write(i, now, false);
                let next = now + self.w.table_interval_secs * 1_000;
                self.at(next, Event::TableWrite(i, g));
            }
            Event::Lease(i, g) if current(self, i, g) => self.lease_attempt(i, now),
            Event::ApiSend(i, g) if current(self, i, g) => {
                self.api_send(now);
                self.at(now + self.w.api_interval_secs * 1_000, Event::ApiSend(i, g));
            }
            Event::Shutdown(i, g) if current(self, i, g) => {
                self.table_write(i, now, true);
                self.api_send(now);
                if self
                    .lease
                    .is_some_and(|l| (l.holder, l.generation) == (i, g))
                {
                    self.lease = None;
                }
                self.start(i, now);
            }
            Event::Connect => {
                self.next_connection += 1;
                let id = self.next_connection;
                let tenant = self.tenant();
                let shard = (self.rng.next_u64() % u64::from(self.w.counter_shards)) as u32;
                self.connection_change(now, id, tenant, shard, true);
                let lasts = self.rng.exponential(self.w.connection_secs * 1_000.0) as u64;
                self.at(now + lasts, Event::Disconnect(id, tenant as u32, shard));
                let gap = self.rng.exponential(1_000.0 / self.w.connect_rate()) as u64;
                self.at(now + gap.max(1), Event::Connect);
            }
            Event::Disconnect(id, tenant, shard) => {
                self.connection_change(now, id, tenant as usize, shard, false);
            }
            Event::Housekeeping => {
                let second = now / 1_000;
                self.stats.forget_before(second);
                self.connections.forget_before(second);
                let oldest = second.saturating_sub(3_600);
                self.legacy.retain(|(_, window), _| *window >= oldest);
                self.at(now + 60_000, Event::Housekeeping);
            }
            _ => {}
        }
    }
}

/// Plays `w` and returns what it cost.
pub fn run(w: &Workload) -> Report {
    let clock = Instant::now();
    let per_class = 60 / w.classes.max(1) as u64;
    let counts = WindowCounts {
        totals: [60, 52, 8, 0],
        classes: (0..w.classes)
            .map(|c| (format!("h{c:02}"), [per_class - 2, 2, 0]))
            .collect(),
    };
    let harmonic: f64 = (1..=w.tenants).map(|k| 1.0 / k as f64).sum();
    let mut acc = 0.0;
    let tenant_cdf = (1..=w.tenants)
        .map(|k| {
            acc += 1.0 / (k as f64 * harmonic);
            acc
        })
        .collect();
    let sandboxes = usize::try_from(w.sandboxes).unwrap_or(usize::MAX);
    let mut run = Run {
        w,
        rng: Rng::new(w.seed),
        queue: BinaryHeap::new(),
        order: 0,
        sandboxes: vec![Sandbox::default(); sandboxes],
        stats: Table::default(),
        connections: Table::default(),
        lease: None,
        counts,
        legacy: HashMap::new(),
        api_second: (0, 0),
        api: ApiFigures::default(),
        measuring: false,
        stats_bytes_written: (0, 0),
        tenant_cdf,
        next_connection: 0,
        live_connections: 0,
    };
    // A realistic epoch keeps the numbers' digits (and so the item sizes) real.
    let epoch_ms = 1_764_806_400_000;
    let per_ms = w.scale_out_per_second.max(1) as f64 / 1_000.0;
    for i in 0..sandboxes {
        run.at(epoch_ms + (i as f64 / per_ms) as u64, Event::Start(i));
    }
    run.at(epoch_ms, Event::Connect);
    run.at(epoch_ms + 60_000, Event::Housekeeping);
    let measure_from = epoch_ms + (w.scale_out_secs() + 120) * 1_000;
    let measure_until = measure_from + w.measure_minutes * 60_000;
    while let Some(Reverse((now, _, event))) = run.queue.pop() {
        if now >= measure_until {
            break;
        }
        if !run.measuring && now >= measure_from {
            run.measuring = true;
            run.stats.measure(true);
            run.connections.measure(true);
        }
        run.handle(now, event);
    }
    let minutes = w.measure_minutes as f64;
    Report {
        sandboxes: w.sandboxes,
        design: w.design,
        minutes,
        rules: w.rules,
        window_secs: w.window_secs,
        stats: run.stats.figures,
        connections: run.connections.figures,
        stats_item_bytes: run.stats_bytes_written.0 as f64
            / run.stats_bytes_written.1.max(1) as f64,
        live_connections: run.live_connections,
        api: run.api,
        api_quota: w.api_quota,
        emf_bytes_per_minute: w.sandboxes as f64
            * (60.0 / w.flush_secs as f64)
            * w.emf_bytes as f64,
        simulated_secs: (measure_until - epoch_ms) / 1_000,
        run_time: clock.elapsed(),
    }
}
