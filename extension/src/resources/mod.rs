//! Resource sampling: what an invocation used of the sandbox's CPU, network, `/tmp`, file
//! descriptors and threads, read from `/proc` and `statvfs`.
//!
//! It sits beside the intakes in the pipeline: the pipeline task owns a
//! [`ResourceSampler`], calls [`start`](ResourceSampler::start) at INVOKE,
//! [`sample`](ResourceSampler::sample) on a timer while the invocation runs (a timer that
//! cannot fire while the sandbox is frozen), and [`finish`](ResourceSampler::finish) at
//! `platform.runtimeDone`; the [`ResourceUsage`] it returns becomes the `Cpu*`, `*Bytes`,
//! `Tmp*`, `Fd*` and `Threads*` metrics of that invocation. Everything here is synchronous
//! and clock-free, and every reader takes its path so that the fixture trees under
//! `testdata/proc` test it. A file that is missing, truncated or malformed is a
//! [`ReadError`], counted by the sampler ([`ResourceSampler::take_errors`]), never a panic.

mod error;
mod limits;
mod net_dev;
mod processes;
mod procfs;
mod sampler;
mod stat;
mod tmp;

#[cfg(test)]
mod tests;

pub use error::{Malformed, ReadError};
pub use limits::{Limits, parse_limits};
pub use net_dev::{LOOPBACK, NetBytes, parse_net_dev, read_net_dev};
pub use processes::{ProcessReader, ProcessScope, ProcessTotals};
pub use procfs::{
    Counting, StatIdentity, count_entries, parse_kernel_thread, parse_stat_identity, parse_threads,
};
pub use sampler::{DEFAULT_FD_MAX, DEFAULT_THREADS_MAX, ResourceSampler, ResourceUsage};
pub use stat::{CpuTicks, MS_PER_TICK, USER_HZ, parse_cpu, read_cpu, ticks_to_ms};
pub use tmp::{LAMBDA_DEFAULT_TMP_BYTES, TmpUsage, read_tmp, read_tmp_files};

/// Where the readers look in Lambda.
pub const PROC_ROOT: &str = "/proc";
/// The file system measured for `TmpUsed` and `TmpMax` in Lambda.
pub const TMP_PATH: &str = "/tmp";
