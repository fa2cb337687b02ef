//! The sampler against this machine's real `/proc` and temp dir: plausible values, and no
//! failed reading for the test process itself.

use std::fs::File;
use std::path::PathBuf;

use crate::resources::{ProcessScope, ResourceSampler};

#[test]
fn samples_this_process() {
    if !PathBuf::from("/proc/self/fd").exists() {
        return;
    }
    let mut sampler = ResourceSampler::new(
        PathBuf::from("/proc"),
        std::env::temp_dir(),
        ProcessScope::Pids(vec![std::process::id()]),
    );
    sampler.start();
    let held: Vec<File> = (0..8)
        .map(|_| File::open("/proc/self/stat").unwrap())
        .collect();
    let spin = (0..2_000_000_u64).fold(0_u64, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
    sampler.sample();
    drop(held);
    let usage = sampler.finish().unwrap();

    assert!(std::hint::black_box(spin) != 1);
    assert!(usage.cpu_user_ms >= 0.0 && usage.cpu_system_ms >= 0.0);
    assert_eq!(usage.cpu_total_ms, usage.cpu_user_ms + usage.cpu_system_ms);
    assert!(
        usage.fd_use >= 3 + 8,
        "stdio and the 8 held files: {}",
        usage.fd_use
    );
    assert!(usage.threads_use >= 1);
    assert!(usage.fd_max >= usage.fd_use);
    assert!(usage.threads_max >= usage.threads_use);
    assert!(usage.tmp_max_bytes > 0 && usage.tmp_used_bytes <= usage.tmp_max_bytes);
    assert_eq!(sampler.errors(), 0);
}

#[test]
fn samples_every_visible_process() {
    if !PathBuf::from("/proc/self/fd").exists() {
        return;
    }
    let mut sampler = ResourceSampler::new(
        PathBuf::from("/proc"),
        std::env::temp_dir(),
        ProcessScope::All,
    );
    sampler.start();
    let usage = sampler.finish().unwrap();
    assert!(usage.fd_use >= 3);
    assert!(usage.threads_use >= 1);
    assert!(usage.fd_max >= 3);
}
