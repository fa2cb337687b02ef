//! Per-process paths and counts under a proc root, for the process reader: listing the
//! pids, building `<root>/<pid>/<file>` without allocating, and counting one process's
//! file descriptors and threads either from file contents (any tree, fixtures included)
//! or, on a real procfs, from the attributes the kernel computes for `stat`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::{Malformed, ReadError, read_parsed};

/// How a process's file descriptors and threads are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// From contents: the entries of `<pid>/fd` and `Threads:` of `<pid>/status`. Works on
    /// any directory tree, so fixture trees use it.
    Files,
    /// From the kernel's `stat` attributes on a real procfs, a few times cheaper: the link
    /// count of `<pid>/task` is 2 plus the number of threads (every Linux since 2.6). Also
    /// lets a scope that lists `/proc` list it again only when its link count (a constant
    /// plus the number of processes) changes.
    Procfs {
        /// The size of `<pid>/fd` is its number of open descriptors (Linux 6.2 and later,
        /// seen on `<root>/self/fd`); without it the entries are counted.
        fd_dir_size: bool,
    },
}

impl Counting {
    /// [`Procfs`](Self::Procfs) when `root` is a mounted procfs, else [`Files`](Self::Files).
    #[must_use]
    pub fn detect(root: &Path) -> Self {
        if is_procfs(root) {
            // This process has descriptors open, so a size of 0 means no support.
            let fd_dir_size = fs::metadata(root.join("self").join("fd")).is_ok_and(|m| m.len() > 0);
            Self::Procfs { fd_dir_size }
        } else {
            Self::Files
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_procfs(root: &Path) -> bool {
    use nix::sys::statfs::{PROC_SUPER_MAGIC, statfs};
    statfs(root).is_ok_and(|fs| fs.filesystem_type() == PROC_SUPER_MAGIC)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_procfs(_root: &Path) -> bool {
    false
}

/// Sets `path` to `<root>/<pid>/<file>` (or `<root>/<pid>` when `file` is empty), reusing
/// its allocation.
pub(crate) fn pid_path(path: &mut PathBuf, root: &Path, pid: u32, file: &str) {
    let mut digits = PidDigits::default();
    // A u32 has at most 10 digits: the buffer cannot overflow.
    let _ = write!(digits, "{pid}");
    path.clear();
    path.push(root);
    path.push(digits.as_str());
    if !file.is_empty() {
        path.push(file);
    }
}

/// A pid's decimal digits on the stack.
#[derive(Debug, Default)]
struct PidDigits {
    bytes: [u8; 10],
    len: usize,
}

impl PidDigits {
    fn as_str(&self) -> &str {
        let digits = self.bytes.get(..self.len).unwrap_or_default();
        std::str::from_utf8(digits).unwrap_or_default()
    }
}

impl std::fmt::Write for PidDigits {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Replaces `pids` with the numeric entries of the proc root, sorted.
pub(crate) fn list_pids(root: &Path, pids: &mut Vec<u32>) -> Result<(), ReadError> {
    pids.clear();
    let entries = fs::read_dir(root).map_err(|source| ReadError::io(root, source))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(pid) = name.to_str().and_then(|name| name.parse().ok()) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(())
}

/// The link count of the proc root, which procfs sets to a constant plus the number of
/// processes: a change means processes came or went. `None` when it cannot be read.
pub(crate) fn root_links(root: &Path) -> Option<u64> {
    fs::metadata(root).ok().map(|meta| meta.nlink())
}

/// The number of entries of a directory (`<pid>/fd`: one per open descriptor). Reading
/// the caller's own `fd` directory counts the descriptor that reads it.
pub fn count_entries(dir: &Path) -> Result<u64, ReadError> {
    let entries = fs::read_dir(dir).map_err(|source| ReadError::io(dir, source))?;
    Ok(entries.fold(0, |count, entry| count + u64::from(entry.is_ok())))
}

/// The `Threads:` value of a `/proc/<pid>/status` text.
pub fn parse_threads(text: &str) -> Result<u64, Malformed> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .ok_or(Malformed("no Threads line"))?;
    line.trim()
        .parse()
        .map_err(|_| Malformed("Threads is not a number"))
}

/// `PF_KTHREAD`, the kernel-thread bit of the flags in `/proc/<pid>/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

/// What `/proc/<pid>/stat` says of a process that never changes while it lives (its
/// parent changes only if that parent exits first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatIdentity {
    /// A kernel thread: bit `PF_KTHREAD` of `flags`, the 9th field.
    pub kernel_thread: bool,
    /// `ppid`, the 4th field.
    pub parent: u32,
}

/// The identity in a `/proc/<pid>/stat` text. The 2nd field, `(comm)`, may hold spaces and
/// parentheses, so fields are counted after its last `)`.
pub fn parse_stat_identity(text: &str) -> Result<StatIdentity, Malformed> {
    let (_, rest) = text.rsplit_once(')').ok_or(Malformed("no (comm) field"))?;
    // state ppid pgrp session tty_nr tpgid flags
    let mut fields = rest.split_ascii_whitespace();
    let parent = fields
        .nth(1)
        .ok_or(Malformed("stat has fewer than 4 fields"))?
        .parse()
        .map_err(|_| Malformed("ppid is not a number"))?;
    let flags: u64 = fields
        .nth(4)
        .ok_or(Malformed("stat has fewer than 9 fields"))?
        .parse()
        .map_err(|_| Malformed("flags is not a number"))?;
    Ok(StatIdentity {
        kernel_thread: flags & PF_KTHREAD != 0,
        parent,
    })
}

/// Whether a `/proc/<pid>/stat` text is a kernel thread's (see [`parse_stat_identity`]).
pub fn parse_kernel_thread(text: &str) -> Result<bool, Malformed> {
    parse_stat_identity(text).map(|identity| identity.kernel_thread)
}

/// Open descriptors of the process whose directory `<root>/<pid>` is in `path` (which is
/// left changed).
pub(crate) fn count_fds(
    counting: Counting,
    path: &mut PathBuf,
    root: &Path,
    pid: u32,
) -> Result<u64, ReadError> {
    pid_path(path, root, pid, "fd");
    if counting == (Counting::Procfs { fd_dir_size: true }) {
        fs::metadata(&*path)
            .map(|meta| meta.len())
            .map_err(|source| ReadError::io(path, source))
    } else {
        count_entries(path)
    }
}

/// Threads of the process `<root>/<pid>`, `buf` being the reused read buffer.
pub(crate) fn count_threads(
    counting: Counting,
    path: &mut PathBuf,
    buf: &mut String,
    root: &Path,
    pid: u32,
) -> Result<u64, ReadError> {
    if let Counting::Procfs { .. } = counting {
        pid_path(path, root, pid, "task");
        let links = fs::metadata(&*path)
            .map_err(|source| ReadError::io(path, source))?
            .nlink();
        // A live process has a thread; fewer links means the shortcut does not hold here.
        if links > 2 {
            return Ok(links - 2);
        }
    }
    pid_path(path, root, pid, "status");
    read_parsed(path, buf, parse_threads)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pid_paths_reuse_the_buffer() {
        let mut path = PathBuf::new();
        pid_path(&mut path, Path::new("/proc"), 4_294_967_295, "status");
        assert_eq!(path, Path::new("/proc/4294967295/status"));
        pid_path(&mut path, Path::new("/proc"), 7, "");
        assert_eq!(path, Path::new("/proc/7"));
    }

    #[test]
    fn parses_the_kernel_thread_flag() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/proc");
        let kthreadd = fs::read_to_string(format!("{fixtures}/2/stat")).unwrap();
        let bootstrap = fs::read_to_string(format!("{fixtures}/101/stat")).unwrap();
        let cases: [(&str, Result<bool, Malformed>); 7] = [
            (&kthreadd, Ok(true)),
            (&bootstrap, Ok(false)),
            // A command name with spaces and parentheses.
            ("7 (a) b (c)) S 1 7 7 0 -1 4194560 0 0\n", Ok(false)),
            ("9 (kworker/0:1) I 2 0 0 0 -1 69238880 0 0\n", Ok(true)),
            (
                "7 cat S 1 7 7 0 -1 4194560\n",
                Err(Malformed("no (comm) field")),
            ),
            (
                "7 (cat) S 1 7 7 0\n",
                Err(Malformed("stat has fewer than 9 fields")),
            ),
            (
                "7 (cat) S 1 7 7 0 -1 0x400\n",
                Err(Malformed("flags is not a number")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_kernel_thread(text), expected, "{text:?}");
        }
    }

    #[test]
    fn detects_procfs() {
        if Path::new("/proc/self/fd").exists() {
            let kernel_6_2 = Counting::Procfs { fd_dir_size: true };
            assert!(matches!(
                Counting::detect(Path::new("/proc")),
                Counting::Procfs { .. }
            ));
            // This machine's kernel (6.18) reports fd counts as the directory's size.
            if fs::metadata("/proc/self/fd").unwrap().len() > 0 {
                assert_eq!(Counting::detect(Path::new("/proc")), kernel_6_2);
            }
        }
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/proc");
        assert_eq!(Counting::detect(Path::new(fixtures)), Counting::Files);
        assert_eq!(Counting::detect(Path::new("/nonexistent")), Counting::Files);
    }

    #[test]
    fn both_countings_agree_on_a_real_process() {
        let root = Path::new("/proc");
        if !root.join("self/fd").exists() {
            return;
        }
        // A child at rest: the test binary's own counts move with the tests running beside.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50)); // past the dynamic loader
        let pid = child.id();
        let (mut path, mut buf) = (PathBuf::new(), String::new());
        let kernel = Counting::detect(root);
        let kernel_fds = count_fds(kernel, &mut path, root, pid).unwrap();
        let listed_fds = count_fds(Counting::Files, &mut path, root, pid).unwrap();
        let threads = count_threads(kernel, &mut path, &mut buf, root, pid).unwrap();
        let status = count_threads(Counting::Files, &mut path, &mut buf, root, pid).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(kernel_fds, listed_fds);
        assert!(listed_fds >= 3);
        assert_eq!((threads, status), (1, 1));
    }
}
