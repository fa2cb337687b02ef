//! The sampler over scratch copies of the fixture tree changed between `start` and
//! `finish`: exact deltas and peaks, counter resets, failed readings kept out of the
//! deltas and counted.

use std::fs;
use std::path::Path;

use super::{FIXTURES, Scratch};
use crate::resources::{ProcessScope, ResourceSampler, ResourceUsage, read_tmp};

fn sampler(root: &Scratch, tmp: &Path, scope: ProcessScope) -> ResourceSampler {
    ResourceSampler::new(root.path().to_path_buf(), tmp.to_path_buf(), scope)
}

/// Adds `count` fd stand-ins to a fixture pid, numbered from `from`.
fn open_fds(root: &Scratch, pid: u32, from: u32, count: u32) {
    for fd in from..from + count {
        fs::write(root.path().join(format!("{pid}/fd/{fd}")), "").unwrap();
    }
}

fn set_threads(root: &Scratch, pid: u32, threads: u64) {
    let path = root.path().join(format!("{pid}/status"));
    let status = fs::read_to_string(&path).unwrap();
    let status: String = status
        .lines()
        .map(|line| match line.strip_prefix("Threads:") {
            Some(_) => format!("Threads:\t{threads}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    fs::write(path, status).unwrap();
}

#[test]
fn finish_without_start_is_none_and_sample_does_nothing() {
    let root = Scratch::fixture_copy("no-start");
    let mut sampler = sampler(&root, root.path(), ProcessScope::All);
    sampler.sample();
    assert_eq!(sampler.finish(), None);
    assert_eq!(sampler.errors(), 0);
}

#[test]
fn deltas_and_peaks_between_start_and_finish() {
    let root = Scratch::fixture_copy("deltas");
    let tmp = Scratch::empty("deltas-tmp");
    let mut sampler = sampler(&root, tmp.path(), ProcessScope::Pids(vec![101, 102]));
    sampler.start();

    root.replace("stat", "stat.after");
    root.replace("net/dev", "net/dev.after");
    open_fds(&root, 101, 4, 6);
    set_threads(&root, 102, 9);
    sampler.sample();
    // Back down before the end: the peaks keep the sampled maximum.
    for fd in 4..10 {
        fs::remove_file(root.path().join(format!("101/fd/{fd}"))).unwrap();
    }
    set_threads(&root, 102, 2);

    let usage = sampler.finish().unwrap();
    let tmp_now = read_tmp(tmp.path()).unwrap();
    assert_eq!(
        usage,
        ResourceUsage {
            // user +12, nice +3 ticks; system +5, irq +1, softirq +2 ticks; 10 ms a tick.
            cpu_user_ms: 150.0,
            cpu_system_ms: 80.0,
            cpu_total_ms: 230.0,
            // eth0 +4,000 / +1,500 and eth1 +1,000 / +500; lo's growth left out.
            rx_bytes: 5_000,
            tx_bytes: 2_000,
            tmp_used_bytes: usage.tmp_used_bytes,
            tmp_max_bytes: tmp_now.total,
            fd_use: 4 + 6 + 7,
            fd_max: 65_536,
            threads_use: 1 + 9,
            threads_max: 1024,
        }
    );
    assert!(usage.tmp_used_bytes > 0 && usage.tmp_used_bytes <= usage.tmp_max_bytes);
    assert_eq!(sampler.errors(), 0);
    assert_eq!(sampler.finish(), None, "finish ends the invocation");
}

#[test]
fn counter_resets_give_zero() {
    let root = Scratch::fixture_copy("resets");
    let mut sampler = sampler(&root, root.path(), ProcessScope::Pids(vec![101]));
    root.replace("net/dev", "net/dev.after");
    sampler.start();
    // The counters go back below the baseline (a reset, an interface that went away).
    root.replace("stat", "stat.reset");
    fs::copy(format!("{FIXTURES}/net/dev"), root.path().join("net/dev")).unwrap();
    let usage = sampler.finish().unwrap();
    assert_eq!(
        (usage.cpu_user_ms, usage.cpu_system_ms, usage.cpu_total_ms),
        (0.0, 0.0, 0.0)
    );
    assert_eq!((usage.rx_bytes, usage.tx_bytes), (0, 0));
    assert_eq!(sampler.errors(), 0);
}

#[test]
fn a_failed_baseline_keeps_its_delta_at_zero() {
    let root = Scratch::fixture_copy("bad-baseline");
    let mut sampler = sampler(&root, root.path(), ProcessScope::Pids(vec![101, 102]));
    root.replace("stat", "truncated-stat");
    fs::remove_file(root.path().join("net/dev")).unwrap();
    sampler.start();
    assert_eq!(sampler.errors(), 2);

    // Good files at the end must not turn into since-boot "deltas".
    root.replace("stat", "stat.after");
    root.replace("net/dev", "net/dev.after");
    let usage = sampler.finish().unwrap();
    assert_eq!(
        (usage.cpu_total_ms, usage.rx_bytes, usage.tx_bytes),
        (0.0, 0, 0)
    );
    assert_eq!((usage.fd_use, usage.threads_use), (11, 5));
    assert_eq!(sampler.take_errors(), 2);
    assert_eq!(sampler.errors(), 0);
}

#[test]
fn a_failed_end_reading_keeps_its_delta_at_zero() {
    let root = Scratch::fixture_copy("bad-end");
    let mut sampler = sampler(&root, root.path(), ProcessScope::Pids(vec![101]));
    sampler.start();
    root.replace("stat", "stat.after");
    root.replace("net/dev", "bad-net-dev");
    let usage = sampler.finish().unwrap();
    assert_eq!(usage.cpu_total_ms, 230.0);
    assert_eq!((usage.rx_bytes, usage.tx_bytes), (0, 0));
    assert_eq!(sampler.errors(), 1);
}

#[test]
fn malformed_process_files_are_counted_not_fatal() {
    let root = Scratch::fixture_copy("malformed");
    let mut sampler = sampler(&root, root.path(), ProcessScope::All);
    sampler.start();
    sampler.sample();
    let usage = sampler.finish().unwrap();
    assert_eq!(
        (
            usage.fd_use,
            usage.fd_max,
            usage.threads_use,
            usage.threads_max
        ),
        (15, 65_536, 7, 2048)
    );
    // 104's missing status at each of the 2 samples (the timer's and finish's), 103's
    // garbage limits once.
    assert_eq!(sampler.take_errors(), 3);
    assert_eq!(sampler.errors(), 0);
}

#[test]
fn unreadable_limits_and_tmp_fall_back() {
    let root = Scratch::fixture_copy("fallbacks");
    let missing_tmp = root.path().join("no-such-tmp");
    let mut sampler =
        sampler(&root, &missing_tmp, ProcessScope::Pids(vec![103])).with_fallback_limits(100, 50);
    sampler.start();
    let usage = sampler.finish().unwrap();
    assert_eq!(
        (
            usage.fd_use,
            usage.fd_max,
            usage.threads_use,
            usage.threads_max
        ),
        (3, 100, 2, 50)
    );
    assert_eq!((usage.tmp_used_bytes, usage.tmp_max_bytes), (0, 0));
    // Garbage limits and statvfs, in finish's sample.
    assert_eq!(sampler.errors(), 2);
}

#[test]
fn the_defaults_are_lambdas_quotas() {
    let root = Scratch::fixture_copy("defaults");
    let mut sampler = sampler(&root, root.path(), ProcessScope::Pids(vec![103]));
    sampler.start();
    let usage = sampler.finish().unwrap();
    assert_eq!((usage.fd_max, usage.threads_max), (1024, 1024));
}

#[test]
fn start_again_restarts_the_invocation() {
    let root = Scratch::fixture_copy("restart");
    let mut sampler = sampler(&root, root.path(), ProcessScope::Pids(vec![101, 102]));
    sampler.start();
    open_fds(&root, 101, 4, 20);
    sampler.sample();
    for fd in 4..24 {
        fs::remove_file(root.path().join(format!("101/fd/{fd}"))).unwrap();
    }
    root.replace("stat", "stat.after");
    sampler.start();
    let usage = sampler.finish().unwrap();
    assert_eq!((usage.fd_use, usage.cpu_total_ms), (11, 0.0));
}
