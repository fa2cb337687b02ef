//! The per-invocation resource sampler: a baseline at INVOKE, cheap samples of the peaks
//! while the invocation runs, and at its end the deltas and peaks that become the resource
//! metrics. Synchronous, with no clock and no task of its own: the pipeline decides when
//! each call happens, and nothing runs while the sandbox is frozen.

use std::path::PathBuf;

use super::error::ReadError;
use super::net_dev::{NetBytes, read_net_dev};
use super::processes::{ProcessReader, ProcessScope};
use super::stat::{CpuTicks, read_cpu, ticks_to_ms};
use super::tmp::{read_tmp, read_tmp_files};

/// Lambda's quota on file descriptors per execution environment, used as `FdMax` when no
/// process has a readable, finite `Max open files`.
pub const DEFAULT_FD_MAX: u64 = 1024;
/// Lambda's quota on processes and threads per execution environment, used as
/// `ThreadsMax` when no process has a readable, finite `Max processes`.
pub const DEFAULT_THREADS_MAX: u64 = 1024;

/// What one invocation used, between [`ResourceSampler::start`] and
/// [`ResourceSampler::finish`]. A reading that failed at either end contributes 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResourceUsage {
    /// `CpuUserTime`: user + nice time of all CPUs, in ms (10 ms resolution).
    pub cpu_user_ms: f64,
    /// `CpuSystemTime`: system + irq + softirq time of all CPUs, in ms.
    pub cpu_system_ms: f64,
    /// `CpuTotalTime`: the sum of the two.
    pub cpu_total_ms: f64,
    /// `RxBytes`: bytes received on every interface but loopback.
    pub rx_bytes: u64,
    /// `TxBytes`: bytes transmitted on every interface but loopback.
    pub tx_bytes: u64,
    /// `TmpUsed`: peak used bytes of the tmp file system.
    pub tmp_used_bytes: u64,
    /// `TmpMax`: size of the tmp file system.
    pub tmp_max_bytes: u64,
    /// `FdUse`: peak of the open file descriptors summed over the processes.
    pub fd_use: u64,
    /// `FdMax`: the highest soft `Max open files` among the processes.
    pub fd_max: u64,
    /// `ThreadsUse`: peak of the threads summed over the processes.
    pub threads_use: u64,
    /// `ThreadsMax`: the highest soft `Max processes` among the processes.
    pub threads_max: u64,
}

/// The counters read at `start`; `None` where that reading failed.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    cpu: Option<CpuTicks>,
    net: Option<NetBytes>,
}

/// Peaks since `start`.
#[derive(Debug, Clone, Copy, Default)]
struct Peaks {
    fds: u64,
    threads: u64,
    tmp_used: u64,
    tmp_total: u64,
    fd_limit: Option<u64>,
    thread_limit: Option<u64>,
}

/// Samples `/proc` and the tmp file system for one invocation at a time.
#[derive(Debug)]
pub struct ResourceSampler {
    stat_path: PathBuf,
    net_dev_path: PathBuf,
    tmp_path: PathBuf,
    /// `Some(size)`: count the files under `tmp_path` against `size` instead of
    /// `statvfs` of its file system.
    tmp_files: Option<u64>,
    processes: ProcessReader,
    buf: String,
    baseline: Option<Baseline>,
    peaks: Peaks,
    fallback_fd_max: u64,
    fallback_threads_max: u64,
    errors: u64,
}

impl ResourceSampler {
    /// A sampler reading `<proc_root>/stat`, `<proc_root>/net/dev` and the processes of
    /// `scope` under `proc_root`, and `statvfs(tmp_path)`. In Lambda: `/proc`, `/tmp`,
    /// [`ProcessScope::DescendantsOf`] the extension's parent.
    #[must_use]
    pub fn new(proc_root: PathBuf, tmp_path: PathBuf, scope: ProcessScope) -> Self {
        Self {
            stat_path: proc_root.join("stat"),
            net_dev_path: proc_root.join("net").join("dev"),
            tmp_path,
            tmp_files: None,
            processes: ProcessReader::new(proc_root, scope),
            buf: String::with_capacity(4096),
            baseline: None,
            peaks: Peaks::default(),
            fallback_fd_max: DEFAULT_FD_MAX,
            fallback_threads_max: DEFAULT_THREADS_MAX,
            errors: 0,
        }
    }

    /// Measures `TmpUsed` as the files under the tmp path and `TmpMax` as `size`, for a
    /// tmp directory that shares its file system with others (the local sandbox's).
    #[must_use]
    pub fn with_tmp_files(mut self, size: u64) -> Self {
        self.tmp_files = Some(size);
        self
    }

    /// Replaces the `FdMax` and `ThreadsMax` reported when no limit is readable.
    #[must_use]
    pub fn with_fallback_limits(mut self, fd_max: u64, threads_max: u64) -> Self {
        self.fallback_fd_max = fd_max;
        self.fallback_threads_max = threads_max;
        self
    }

    /// Begins an invocation (at INVOKE): reads the CPU and network baselines, resets the
    /// peaks and learns the processes it has not seen yet (their ancestry and limits), so
    /// that `finish`, on the response path in `end` mode, reads only what changes. It takes
    /// no peak sample: at INVOKE the handler has not run yet, and `finish` always takes
    /// one. Calling it again restarts the invocation.
    pub fn start(&mut self) {
        let cpu = self.reading(|this| read_cpu(&this.stat_path, &mut this.buf));
        let net = self.reading(|this| read_net_dev(&this.net_dev_path, &mut this.buf));
        self.baseline = Some(Baseline { cpu, net });
        self.peaks = Peaks::default();
        let errors = &mut self.errors;
        self.processes.learn(&mut |err| count(errors, &err));
    }

    /// Updates the peaks (file descriptors, threads, tmp used). Cheap enough to call on a
    /// timer while the invocation runs; does nothing before [`start`](Self::start).
    pub fn sample(&mut self) {
        if self.baseline.is_none() {
            return;
        }
        let errors = &mut self.errors;
        let totals = self.processes.read(&mut |err| count(errors, &err));
        let peaks = &mut self.peaks;
        peaks.fds = peaks.fds.max(totals.fds);
        peaks.threads = peaks.threads.max(totals.threads);
        peaks.fd_limit = peaks.fd_limit.max(totals.fd_limit);
        peaks.thread_limit = peaks.thread_limit.max(totals.thread_limit);
        let tmp = self.reading(|this| match this.tmp_files {
            Some(size) => read_tmp_files(&this.tmp_path, size),
            None => read_tmp(&this.tmp_path),
        });
        if let Some(tmp) = tmp {
            self.peaks.tmp_used = self.peaks.tmp_used.max(tmp.used);
            self.peaks.tmp_total = self.peaks.tmp_total.max(tmp.total);
        }
    }

    /// Ends the invocation (at `platform.runtimeDone`): takes a last sample and returns
    /// what was used since [`start`](Self::start), or `None` if it was not called.
    pub fn finish(&mut self) -> Option<ResourceUsage> {
        self.baseline?;
        self.sample();
        let baseline = self.baseline.take()?;
        let cpu = baseline.cpu.and_then(|before| {
            let after = self.reading(|this| read_cpu(&this.stat_path, &mut this.buf))?;
            Some(after.since(before))
        });
        let net = baseline.net.and_then(|before| {
            let after = self.reading(|this| read_net_dev(&this.net_dev_path, &mut this.buf))?;
            Some(after.since(before))
        });
        self.processes.prune();
        let cpu = cpu.unwrap_or_default();
        let net = net.unwrap_or_default();
        let (user, system) = (ticks_to_ms(cpu.user), ticks_to_ms(cpu.system));
        let peaks = self.peaks;
        Some(ResourceUsage {
            cpu_user_ms: user,
            cpu_system_ms: system,
            cpu_total_ms: user + system,
            rx_bytes: net.rx,
            tx_bytes: net.tx,
            tmp_used_bytes: peaks.tmp_used,
            tmp_max_bytes: peaks.tmp_total,
            fd_use: peaks.fds,
            fd_max: peaks.fd_limit.unwrap_or(self.fallback_fd_max),
            threads_use: peaks.threads,
            threads_max: peaks.thread_limit.unwrap_or(self.fallback_threads_max),
        })
    }

    /// Readings that failed (missing, unreadable or malformed files) since the last
    /// [`take_errors`](Self::take_errors).
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Returns the failed readings counted so far and resets the count.
    pub fn take_errors(&mut self) -> u64 {
        std::mem::take(&mut self.errors)
    }

    /// Runs one reading, counting its error and turning it into `None`.
    fn reading<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, ReadError>) -> Option<T> {
        read(self).map_err(|err| count(&mut self.errors, &err)).ok()
    }
}

/// Counts a failed reading; logged at debug level only, since a broken file fails at
/// every sample and the count is what gets reported.
fn count(errors: &mut u64, err: &ReadError) {
    *errors = errors.saturating_add(1);
    tracing::debug!(error = %err, cause = ?std::error::Error::source(err), "resource reading failed");
}
