#![allow(clippy::unwrap_used)]

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use super::*;

fn sleep(d: Duration) -> tokio::time::Sleep {
    tokio::time::sleep(d)
}

#[test]
fn backoff_doubles_within_its_jitter_band_up_to_the_cap() {
    let backoff = Backoff::default();
    assert_eq!(backoff.delay(0, 0.0), Duration::from_micros(12_500));
    assert_eq!(backoff.delay(0, 0.999_999).as_millis(), 24);
    assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(25));
    assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(100));
    assert_eq!(
        backoff.delay(6, 0.0),
        Duration::from_millis(500),
        "capped at 1 s"
    );
    assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_secs(1));
    assert_eq!(
        backoff.delay(2, 7.0),
        Duration::from_millis(100),
        "jitter clamped"
    );
}

#[test]
fn an_attempt_gets_half_of_what_is_left_within_its_limit() {
    let now = Instant::now();
    let policy = Policy::until(now + Duration::from_secs(2));
    assert_eq!(policy.attempt_timeout(now), Some(Duration::from_secs(1)));
    let policy = Policy::until(now + Duration::from_millis(200));
    assert_eq!(
        policy.attempt_timeout(now),
        Some(Duration::from_millis(100))
    );
    let policy = Policy::until(now + Duration::from_millis(150));
    assert_eq!(
        policy.attempt_timeout(now),
        Some(Duration::from_millis(150))
    );
    let policy = Policy::until(now + Duration::from_millis(9));
    assert_eq!(
        policy.attempt_timeout(now),
        None,
        "too little left to start"
    );
    let policy =
        Policy::until(now + Duration::from_secs(60)).with_attempt_limit(Duration::from_secs(10));
    assert_eq!(policy.attempt_timeout(now), Some(Duration::from_secs(10)));
    assert_eq!(
        Policy::attempts(3).attempt_timeout(now),
        Some(Duration::MAX)
    );
}

#[test]
fn retry_after_reads_whole_seconds_only() {
    let table = [
        ("3", Some(Duration::from_secs(3))),
        (" 0 ", Some(Duration::ZERO)),
        ("99999999", Some(Duration::from_secs(3600))),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-1", None),
        ("1.5", None),
        ("", None),
    ];
    for (value, expected) in table {
        assert_eq!(retry_after_secs(value), expected, "{value:?}");
    }
}

#[tokio::test]
async fn transient_failures_are_retried_until_done_and_numbered() {
    let seen = RefCell::new(Vec::new());
    let policy = Policy::until(Instant::now() + Duration::from_secs(5));
    let result: Result<u32, Failed<()>> = run(&policy, sleep, |n, _| {
        seen.borrow_mut().push(n);
        async move {
            if n < 2 {
                Attempt::Retry {
                    error: (),
                    after: None,
                }
            } else {
                Attempt::Done(n)
            }
        }
    })
    .await;
    assert_eq!(result, Ok(2));
    assert_eq!(seen.into_inner(), [0, 1, 2]);
}

#[tokio::test]
async fn a_rejection_is_not_retried() {
    let calls = Cell::new(0);
    let policy = Policy::until(Instant::now() + Duration::from_secs(5));
    let result: Result<(), Failed<&str>> = run(&policy, sleep, |_, _| {
        calls.set(calls.get() + 1);
        async { Attempt::Rejected("no") }
    })
    .await;
    assert_eq!(result, Err(Failed::Rejected("no")));
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn failures_give_up_by_the_deadline_after_backing_off() {
    let calls = Cell::new(0);
    let start = Instant::now();
    let deadline = start + Duration::from_millis(300);
    let result: Result<(), Failed<&str>> = run(&Policy::until(deadline), sleep, |_, _| {
        calls.set(calls.get() + 1);
        async {
            Attempt::Retry {
                error: "busy",
                after: None,
            }
        }
    })
    .await;
    assert_eq!(result, Err(Failed::GaveUp(Last::Failed("busy"))));
    assert!(Instant::now() <= deadline, "returned by the deadline");
    assert!(
        (3..=12).contains(&calls.get()),
        "backed off: {} calls",
        calls.get()
    );
}

#[tokio::test]
async fn a_silent_attempt_is_cut_at_its_timeout_and_retried() {
    let timeouts = RefCell::new(Vec::new());
    let deadline = Instant::now() + Duration::from_millis(400);
    let result: Result<(), Failed<()>> = run(&Policy::until(deadline), sleep, |_, timeout| {
        timeouts.borrow_mut().push(timeout);
        let first = timeouts.borrow().len() == 1;
        async move {
            if first {
                std::future::pending::<()>().await;
            }
            Attempt::Done(())
        }
    })
    .await;
    assert_eq!(result, Ok(()));
    let timeouts = timeouts.into_inner();
    assert_eq!(timeouts.len(), 2);
    assert!(timeouts[0] <= Duration::from_millis(200), "{timeouts:?}");
    assert!(Instant::now() <= deadline);
}

#[tokio::test]
async fn attempts_that_never_answer_end_as_timed_out() {
    let deadline = Instant::now() + Duration::from_millis(300);
    let result: Result<(), Failed<()>> = run(&Policy::until(deadline), sleep, |_, _| {
        std::future::pending()
    })
    .await;
    assert!(
        matches!(result, Err(Failed::GaveUp(Last::TimedOut(_)))),
        "{result:?}"
    );
    assert!(Instant::now() <= deadline + Duration::from_millis(50));
    let past = Policy::until(Instant::now());
    let result: Result<(), Failed<()>> = run(&past, sleep, |_, _| std::future::pending()).await;
    assert_eq!(result, Err(Failed::GaveUp(Last::NotStarted)));
}

#[tokio::test]
async fn a_retry_after_hint_replaces_the_backoff() {
    let waits = RefCell::new(Vec::new());
    let policy = Policy::attempts(3);
    let result: Result<(), Failed<()>> = run(
        &policy,
        |d| {
            waits.borrow_mut().push(d);
            async {}
        },
        |n, _| async move {
            match n {
                0 => Attempt::Retry {
                    error: (),
                    after: Some(Duration::from_millis(777)),
                },
                _ => Attempt::Retry {
                    error: (),
                    after: None,
                },
            }
        },
    )
    .await;
    assert_eq!(result, Err(Failed::GaveUp(Last::Failed(()))));
    let waits = waits.into_inner();
    assert_eq!(waits.len(), 2, "no wait after the last attempt: {waits:?}");
    assert_eq!(waits[0], Duration::from_millis(777));
    assert!(
        waits[1] >= Duration::from_millis(25) && waits[1] <= Duration::from_millis(50),
        "the backoff of retry 1: {waits:?}"
    );
}
