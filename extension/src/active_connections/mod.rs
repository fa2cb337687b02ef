//! The fleet-wide `ActiveConnections` gauge: while the sandbox is thawed, one sandbox of
//! the fleet per interval (the holder of a lease item) reads the connection counter the
//! SDK's `ConnectionStore` keeps exact, and the pipeline publishes it. An attempt starts
//! at an INVOKE (so the sandbox is thawed while it runs) in a task of its own, never on the
//! response path; its result reaches the pipeline through a channel.
//!
//! `schedule` decides when (plain state), `store` makes the requests.

pub mod schedule;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use liftwatch::clock::now_ms;
use liftwatch::random;
use tokio::sync::{Mutex, mpsc};

pub use schedule::{Attempt, LEASE_INTERVALS, Schedule};

use crate::aws::dynamodb::{ClientOptions, Connection, open};

/// How long each request of an attempt may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The periodic counter's state, owned by the pipeline task.
#[derive(Debug)]
pub struct ConnectionCounter {
    table: String,
    holder: String,
    options: ClientOptions,
    connection: Arc<Mutex<Option<Connection>>>,
    schedule: Schedule,
    results: mpsc::Sender<Attempt>,
}

impl ConnectionCounter {
    /// A counter reading `table` every `interval`; attempts report on `results`.
    pub fn new(
        table: String,
        interval: Duration,
        options: ClientOptions,
        results: mpsc::Sender<Attempt>,
    ) -> Self {
        ConnectionCounter {
            table,
            holder: random::hex_id(64),
            options,
            connection: Arc::default(),
            schedule: Schedule::new(interval, Instant::now()),
            results,
        }
    }

    /// After a SnapStart restore: a new holder id from the kernel (every copy of the
    /// snapshot held the same one) and a new connection (the old one may be dead).
    pub fn restored(&mut self) {
        self.holder = random::hex_id(64);
        self.connection = Arc::default();
    }

    /// This sandbox's id in the lease item.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Starts an attempt in its own task when one is due at `now`.
    pub fn start_if_due(&mut self, now: Instant) {
        if !self.schedule.due(now) {
            return;
        }
        self.schedule.started();
        let (table, holder) = (self.table.clone(), self.holder.clone());
        let (options, connection) = (self.options.clone(), Arc::clone(&self.connection));
        let (lease, peek) = (self.schedule.lease(), self.schedule.peek());
        let results = self.results.clone();
        tokio::spawn(async move {
            let client = {
                let mut connection = connection.lock().await;
                if connection.is_none() {
                    *connection = Some(open(&options).await);
                }
                connection.as_mut().map(|c| c.client(Instant::now()))
            };
            let attempt = match client {
                Some(client) => {
                    let timing = (lease, REQUEST_TIMEOUT, peek);
                    store::attempt(&client, &table, &holder, now_ms(), timing).await
                }
                None => Attempt::Failed,
            };
            let _ = results.send(attempt).await;
        });
    }

    /// True while an attempt runs.
    pub fn in_flight(&self) -> bool {
        self.schedule.in_flight()
    }

    /// Notes an attempt's result.
    pub fn finished(&mut self, attempt: Attempt) {
        let interval = self.schedule.lease() / LEASE_INTERVALS;
        let jitter = interval.mul_f64(0.25 * random::fraction());
        self.schedule
            .finished(attempt, Instant::now(), now_ms(), jitter);
    }

    /// At SHUTDOWN: hands the lease back when this sandbox holds it, so another sandbox
    /// publishes from its next attempt on. Best effort within `timeout`.
    pub async fn release(&mut self, timeout: Duration) {
        if !self.schedule.holder() {
            return;
        }
        let client = self
            .connection
            .lock()
            .await
            .as_mut()
            .map(|c| c.client(Instant::now()));
        if let Some(client) = client {
            store::release(&client, &self.table, &self.holder, timeout).await;
        }
    }
}
