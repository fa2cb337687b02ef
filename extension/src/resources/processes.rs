//! The sandbox's processes under `/proc`: open file descriptors, threads and soft limits.
//! The sampler sums them into `FdUse` and `ThreadsUse` and takes the highest limits as
//! `FdMax` and `ThreadsMax`. What does not change while a process lives — whether it is a
//! kernel thread (`<pid>/stat` flags) and its limits (`<pid>/limits`) — is read once per pid
//! and cached; kernel threads are skipped, as they are no process of the sandbox.
//!
//! The extension reads [`ProcessScope::DescendantsOf`] its parent: in Lambda the init
//! process, which started the runtime and the extensions; in the local sandbox the sandbox.
//! Ancestry is cached per pid, so a sample reads nothing of the other processes `/proc`
//! shows (Lambda's init, and on a developer machine the whole host). Tests and benchmarks
//! also use [`ProcessScope::Pids`] and [`ProcessScope::All`].

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use super::error::{ReadError, read_parsed};
use super::limits::{Limits, parse_limits};
use super::procfs::{
    Counting, count_fds, count_threads, list_pids, parse_stat_identity, pid_path, root_links,
};

/// Which processes the sampler reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessScope {
    /// Every numeric directory of the proc root but kernel threads.
    All,
    /// Exactly these pids; a pid that does not exist is skipped.
    Pids(Vec<u32>),
    /// The processes descended from this pid (its children, theirs, and so on), not the
    /// pid itself. Ancestry is read once per process: one whose parent exited and that
    /// was adopted elsewhere keeps its first place.
    DescendantsOf(u32),
}

/// How many generations [`ProcessScope::DescendantsOf`] follows up (a chain of parents
/// longer than this is not the sandbox's).
const MAX_DEPTH: usize = 64;

/// Sums and highest limits over the processes of one reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessTotals {
    /// Processes that were found (at least one of their readings succeeded).
    pub processes: u64,
    /// Open file descriptors, summed.
    pub fds: u64,
    /// Threads, summed.
    pub threads: u64,
    /// The highest finite soft `Max open files`; `None` when none was readable and finite.
    pub fd_limit: Option<u64>,
    /// The highest finite soft `Max processes`; `None` when none was readable and finite.
    pub thread_limit: Option<u64>,
}

/// What was read about a pid on first sight. A pid reused by a new process within one
/// invocation keeps the old entry until the pid is not seen in a reading; with few
/// processes and a pid space of 32,768 or more, that needs a wrap-around in between.
#[derive(Debug, Clone, Copy)]
struct Known {
    kind: Kind,
    /// `ppid` at first sight (0 when the stat could not be read).
    parent: u32,
    /// The reading in which the pid was last seen, to forget pids that exited.
    seen: u64,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A kernel thread: skipped.
    KernelThread,
    /// A process, with its limits when they could be read (a failure is reported once).
    Process(Option<Limits>),
}

/// Reads the processes of a scope, reusing its buffers between readings.
#[derive(Debug)]
pub struct ProcessReader {
    root: PathBuf,
    scope: ProcessScope,
    counting: Counting,
    /// `<root>/<pid>/<file>`, rebuilt in place for every file.
    path: PathBuf,
    buf: String,
    /// The pids read: the chosen ones, or those of the last listing of the root. Sorted.
    listed: Vec<u32>,
    /// The previous listing, kept while a listing is repeated within one reading.
    spare: Vec<u32>,
    /// The proc root's link count at the last listing (procfs only).
    listed_links: Option<u64>,
    /// A process of the last listing was found gone: list again.
    stale: bool,
    known: HashMap<u32, Known>,
    reading: u64,
}

impl ProcessReader {
    /// A reader of the processes of `scope` under the proc root `root`, counting with the
    /// kernel's shortcuts when `root` is a real procfs.
    #[must_use]
    pub fn new(root: PathBuf, scope: ProcessScope) -> Self {
        let mut listed = match &scope {
            ProcessScope::All | ProcessScope::DescendantsOf(_) => Vec::new(),
            ProcessScope::Pids(pids) => pids.clone(),
        };
        listed.sort_unstable();
        listed.dedup();
        Self {
            counting: Counting::detect(&root),
            path: PathBuf::with_capacity(root.as_os_str().len() + 24),
            root,
            scope,
            buf: String::with_capacity(2048),
            listed,
            spare: Vec::new(),
            listed_links: None,
            stale: true,
            known: HashMap::new(),
            reading: 0,
        }
    }

    /// Replaces the detected way of counting (benchmarks compare the two).
    #[must_use]
    pub fn with_counting(mut self, counting: Counting) -> Self {
        self.counting = counting;
        self
    }

    /// How this reader counts descriptors and threads.
    #[must_use]
    pub fn counting(&self) -> Counting {
        self.counting
    }

    /// Reads every process of the scope. A process that vanished between the listing and
    /// the reading, or that may not be inspected (another user's process on a developer
    /// machine), is skipped silently; any other failure is passed to `on_error` and skips
    /// that one reading. With [`ProcessScope::All`] on procfs, `/proc` is listed again only
    /// when its link count (a constant plus the number of processes, system-wide) moved or
    /// a listed process is gone, in which case the processes new to the second listing are
    /// read too. A process that started while one outside the listing exited leaves the
    /// count unchanged and is first read at the next change.
    pub fn read(&mut self, on_error: &mut impl FnMut(ReadError)) -> ProcessTotals {
        self.reading = self.reading.wrapping_add(1);
        let all = self.lists_root();
        if all {
            self.refresh_listing(on_error);
        }
        let mut totals = ProcessTotals::default();
        let listed = std::mem::take(&mut self.listed);
        self.read_all(&listed, &[], &mut totals, on_error);
        self.listed = listed;
        if all && self.stale {
            // Something exited: what started meanwhile is read now, not next time.
            self.list(root_links(&self.root), on_error);
            let (listed, previous) = (
                std::mem::take(&mut self.listed),
                std::mem::take(&mut self.spare),
            );
            self.read_all(&listed, &previous, &mut totals, on_error);
            (self.listed, self.spare) = (listed, previous);
        }
        totals
    }

    /// Learns what does not change while a process lives (kernel thread or not, parent,
    /// limits) for every process not seen before, and counts nothing. The sampler calls it
    /// at INVOKE, while the handler runs, so that the reading at runtimeDone (on the
    /// response path in `end` mode) finds every process known and reads only the counts
    /// of the function's own. Processes seen here and gone by the next reading are
    /// forgotten by [`prune`](Self::prune) as usual.
    pub fn learn(&mut self, on_error: &mut impl FnMut(ReadError)) {
        self.reading = self.reading.wrapping_add(1);
        if self.lists_root() {
            self.refresh_listing(on_error);
        }
        let listed = std::mem::take(&mut self.listed);
        for &pid in &listed {
            self.in_scope(pid, on_error);
        }
        self.listed = listed;
    }

    /// Whether the scope's processes come from listing the proc root.
    fn lists_root(&self) -> bool {
        !matches!(self.scope, ProcessScope::Pids(_))
    }

    /// Lists the proc root again when processes may have come or gone since the last time.
    fn refresh_listing(&mut self, on_error: &mut impl FnMut(ReadError)) {
        let links = root_links(&self.root);
        if self.counting == Counting::Files
            || self.stale
            || links.is_none()
            || links != self.listed_links
        {
            self.list(links, on_error);
        }
    }

    /// Forgets what is cached about pids absent from the last reading.
    pub fn prune(&mut self) {
        let reading = self.reading;
        self.known.retain(|_, known| known.seen == reading);
    }

    /// The pids of the last reading: the chosen ones, or the last listing (sorted).
    #[must_use]
    pub fn pids(&self) -> &[u32] {
        &self.listed
    }

    /// Pids with a cached entry (kernel threads included).
    #[must_use]
    pub fn cached(&self) -> usize {
        self.known.len()
    }

    /// Lists the proc root into `listed`, keeping the previous listing in `spare`.
    fn list(&mut self, links: Option<u64>, on_error: &mut impl FnMut(ReadError)) {
        std::mem::swap(&mut self.listed, &mut self.spare);
        self.stale = false;
        self.listed_links = links;
        if let Err(err) = list_pids(&self.root, &mut self.listed) {
            self.listed.clear();
            self.listed_links = None;
            on_error(err);
        }
    }

    /// Reads the processes of `pids` that are not in `skip` (sorted).
    fn read_all(
        &mut self,
        pids: &[u32],
        skip: &[u32],
        totals: &mut ProcessTotals,
        on_error: &mut impl FnMut(ReadError),
    ) {
        for &pid in pids {
            if skip.binary_search(&pid).is_err() {
                self.read_process(pid, totals, on_error);
            }
        }
    }

    fn read_process(
        &mut self,
        pid: u32,
        totals: &mut ProcessTotals,
        on_error: &mut impl FnMut(ReadError),
    ) {
        let Some(limits) = self.in_scope(pid, on_error) else {
            return;
        };
        let mut found = false;
        let fds = count_fds(self.counting, &mut self.path, &self.root, pid);
        if let Some(fds) = self.settle(pid, fds, on_error) {
            found = true;
            totals.fds = totals.fds.saturating_add(fds);
        }
        let threads = count_threads(
            self.counting,
            &mut self.path,
            &mut self.buf,
            &self.root,
            pid,
        );
        if let Some(threads) = self.settle(pid, threads, on_error) {
            found = true;
            totals.threads = totals.threads.saturating_add(threads);
        }
        if let Some(limits) = limits {
            totals.fd_limit = totals.fd_limit.max(limits.open_files);
            totals.thread_limit = totals.thread_limit.max(limits.processes);
        }
        if found {
            totals.processes += 1;
        }
    }

    /// Whether `ancestor` is among the ancestors of `pid`, following the cached parents
    /// (reading those not seen yet), at most [`MAX_DEPTH`] generations up.
    /// The limits of `pid` (`None` where unreadable) when it is a process of the scope,
    /// learning its kind, parent and limits at first sight; `None` for a kernel thread, a
    /// process outside the scope or one that is gone.
    fn in_scope(
        &mut self,
        pid: u32,
        on_error: &mut impl FnMut(ReadError),
    ) -> Option<Option<Limits>> {
        let limits = match self.known(pid, on_error)? {
            Kind::KernelThread => return None,
            Kind::Process(limits) => limits,
        };
        if let ProcessScope::DescendantsOf(ancestor) = self.scope
            && !self.descends_from(pid, ancestor, on_error)
        {
            return None;
        }
        Some(limits)
    }

    fn descends_from(
        &mut self,
        pid: u32,
        ancestor: u32,
        on_error: &mut impl FnMut(ReadError),
    ) -> bool {
        let mut current = pid;
        for _ in 0..MAX_DEPTH {
            if self.known(current, on_error).is_none() {
                return false;
            }
            let parent = self.known.get(&current).map_or(0, |known| known.parent);
            if parent == ancestor {
                return true;
            }
            if parent <= 1 {
                return false;
            }
            current = parent;
        }
        false
    }

    /// What is known about `pid`, read on its first sight: `None` when it is gone. A
    /// `stat` that cannot be read or parsed is reported once, and the pid taken for a
    /// process; so are its limits, and the pid then has none.
    fn known(&mut self, pid: u32, on_error: &mut impl FnMut(ReadError)) -> Option<Kind> {
        if let Some(known) = self.known.get_mut(&pid) {
            known.seen = self.reading;
            return Some(known.kind);
        }
        pid_path(&mut self.path, &self.root, pid, "stat");
        let identity = read_parsed(&self.path, &mut self.buf, parse_stat_identity);
        let (kind, parent) = match identity {
            Ok(identity) if identity.kernel_thread => (Kind::KernelThread, identity.parent),
            Ok(identity) => (
                Kind::Process(self.read_limits(pid, on_error)),
                identity.parent,
            ),
            Err(err) if is_gone(&err) && !self.exists(pid) => {
                self.stale = true;
                return None;
            }
            Err(err) => {
                self.settle::<()>(pid, Err(err), on_error);
                (Kind::Process(self.read_limits(pid, on_error)), 0)
            }
        };
        let seen = self.reading;
        self.known.insert(pid, Known { kind, parent, seen });
        Some(kind)
    }

    fn read_limits(&mut self, pid: u32, on_error: &mut impl FnMut(ReadError)) -> Option<Limits> {
        pid_path(&mut self.path, &self.root, pid, "limits");
        let limits = read_parsed(&self.path, &mut self.buf, parse_limits);
        self.settle(pid, limits, on_error)
    }

    /// The value of a reading, or `None` after passing its error to `on_error` unless the
    /// process is gone (then the listing is marked stale) or may not be inspected.
    fn settle<T>(
        &mut self,
        pid: u32,
        reading: Result<T, ReadError>,
        on_error: &mut impl FnMut(ReadError),
    ) -> Option<T> {
        match reading {
            Ok(value) => Some(value),
            Err(err) if err.io_kind() == Some(io::ErrorKind::PermissionDenied) => None,
            Err(err) if is_gone(&err) && !self.exists(pid) => {
                self.stale = true;
                None
            }
            Err(err) => {
                on_error(err);
                None
            }
        }
    }

    fn exists(&mut self, pid: u32) -> bool {
        pid_path(&mut self.path, &self.root, pid, "");
        self.path.exists()
    }
}

/// `ENOENT`, or `ESRCH` which procfs returns for a process that is exiting.
fn is_gone(err: &ReadError) -> bool {
    match err {
        ReadError::Io { source, .. } => {
            source.kind() == io::ErrorKind::NotFound
                || source.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32)
        }
        ReadError::Malformed { .. } | ReadError::Statvfs { .. } => false,
    }
}
