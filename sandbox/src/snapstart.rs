//! The SnapStart lifecycle between Init and the first invocation: once init is over, both
//! process groups are frozen (SIGSTOP) for the configured pause, which stands for the
//! snapshot being taken and the sandbox waiting to be restored (the wall clock moves on),
//! then thawed; the restore is done when the kernel reports both processes running again
//! and a runtime that called `/runtime/restore/next` has been answered and polls for its
//! first invocation.
//! The processes are not checkpointed for real (CRIU does not work here): what the
//! extension sees is the frozen gap, the restore telemetry and the restored report fields.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::child::ChildProcess;
use crate::platform::RestoreTiming;
use crate::proxy::InterceptingProxy;

/// How long to wait for the kernel to report a group stopped or running again.
const SETTLE: Duration = Duration::from_millis(500);

/// Freezes both children for `pause`, thaws them and measures the restore: done once both
/// run again and, if the runtime called `/runtime/restore/next`, once that call has been
/// answered and the runtime has called `/runtime/invocation/next` (as Lambda's
/// `restoreRuntimeDone`; waited for at most `limit`).
pub(crate) async fn snapshot_and_restore(
    children: [&mut ChildProcess; 2],
    proxy: &InterceptingProxy,
    pause: Duration,
    limit: Duration,
) -> RestoreTiming {
    for child in &children {
        child.signal_group(Signal::SIGSTOP);
    }
    settle(&children, true).await;
    let frozen_at = now();
    tokio::time::sleep(pause).await;

    let started_at = now();
    let started = Instant::now();
    for child in &children {
        child.signal_group(Signal::SIGCONT);
    }
    settle(&children, false).await;
    if proxy.observations().restore_polled {
        proxy.release_restore();
        proxy
            .wait_for(|o| o.runtime_polled_after_restore, limit)
            .await;
    }
    let duration = started.elapsed();
    RestoreTiming {
        frozen_at,
        started_at,
        done_at: now(),
        duration_ms: duration.as_secs_f64() * 1_000.0,
    }
}

/// The wall clock to the microsecond, the precision of telemetry record times, so the
/// times the sandbox reports are the ones the records carry.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Waits (briefly) until every child is `stopped` (or running, when false) according to
/// the kernel; a child whose state cannot be read counts as settled.
async fn settle(children: &[&mut ChildProcess; 2], stopped: bool) {
    let by = Instant::now() + SETTLE;
    while Instant::now() < by {
        if children
            .iter()
            .all(|c| c.is_stopped().is_none_or(|s| s == stopped))
        {
            return;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}
