//! The concurrent workload of the counter test: connects and disconnects (repeats
//! included) run as tasks, tallied by outcome, then the counter and a Scan of the items.

use aws_sdk_dynamodb::Client;
use liftwatch::connections::{Connection, ConnectionStore, Removed, Saved, StoreError};

use super::{run_bounded, scan_connection_items};

/// What one phase of the concurrent workload did.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub created: usize,
    pub already_saved: usize,
    pub deleted: usize,
    pub already_gone: usize,
    /// Operations that failed (moto answered an error).
    pub errors: usize,
    pub counter: i64,
    pub items: i64,
}

pub enum Op {
    Save(String),
    Delete(String),
}

async fn apply(store: ConnectionStore, op: Op) -> Result<Result<Saved, Removed>, StoreError> {
    match op {
        Op::Save(id) => store
            .save(&Connection::new(id).tenant("acme"))
            .await
            .map(Ok),
        Op::Delete(id) => store.delete(&id).await.map(Err),
    }
}

pub async fn run_phase(
    store: &ConnectionStore,
    client: &Client,
    ops: Vec<Op>,
    concurrency: usize,
) -> Tally {
    let work = ops.into_iter().map(|op| apply(store.clone(), op)).collect();
    let mut tally = Tally::default();
    for outcome in run_bounded(work, concurrency).await {
        match outcome {
            Ok(Ok(Saved::Created)) => tally.created += 1,
            Ok(Ok(Saved::AlreadySaved)) => tally.already_saved += 1,
            Ok(Err(Removed::Deleted)) => tally.deleted += 1,
            Ok(Err(Removed::AlreadyGone)) => tally.already_gone += 1,
            Ok(Err(Removed::Expired)) => panic!("nothing here expires"),
            Err(error) => {
                eprintln!("operation failed: {error:?}");
                tally.errors += 1;
            }
        }
    }
    tally.counter = store.count_active().await.unwrap();
    tally.items = scan_connection_items(client, store.table()).await;
    tally
}

/// 300 connects (240 ids, 60 of them twice), then 190 mixed operations: 80 disconnects,
/// 40 of them repeated, 10 disconnects of ids never saved, 60 new connects.
pub async fn workload(
    store: &ConnectionStore,
    client: &Client,
    concurrency: usize,
) -> (Tally, Tally) {
    let id = |i: usize| format!("c{i:03}=");
    let mut connects = Vec::new();
    for i in 0..240 {
        connects.push(Op::Save(id(i)));
        if i % 4 == 0 {
            connects.push(Op::Save(id(i)));
        }
    }
    let first = run_phase(store, client, connects, concurrency).await;
    let mut mixed = Vec::new();
    for i in 0..240 {
        if i % 3 == 0 {
            mixed.push(Op::Delete(id(i)));
        }
        if i % 6 == 0 {
            mixed.push(Op::Delete(id(i)));
        }
        if i % 4 == 0 {
            mixed.push(Op::Save(format!("n{i:03}")));
        }
        if i % 24 == 0 {
            mixed.push(Op::Delete(format!("ghost{i}")));
        }
    }
    let second = run_phase(store, client, mixed, concurrency).await;
    (first, second)
}

pub fn expected() -> (Tally, Tally) {
    let first = Tally {
        created: 240,
        already_saved: 60,
        counter: 240,
        items: 240,
        ..Tally::default()
    };
    let second = Tally {
        created: 60,
        deleted: 80,
        already_gone: 50,
        counter: 220,
        items: 220,
        ..Tally::default()
    };
    (first, second)
}
