//! The resource readers' error type, and the one file-reading helper they share: a file
//! read into a caller-owned `String`, so the sampler reuses one buffer for every reading.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What is wrong with a file's text, as a parser saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

/// Why one reading of the sampler failed. The sampler counts it and skips that reading.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read (missing, permission, I/O).
    #[error("cannot read {path}")]
    Io {
        /// The file or directory that was read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file was read but its text is not what the kernel writes (truncated, garbage).
    #[error("malformed {path}")]
    Malformed {
        /// The file that was read.
        path: PathBuf,
        /// What the parser found wrong.
        #[source]
        source: Malformed,
    },
    /// `statvfs` failed on the path.
    #[error("cannot statvfs {path}")]
    Statvfs {
        /// The path given to `statvfs`.
        path: PathBuf,
        /// The call's errno.
        #[source]
        source: nix::errno::Errno,
    },
}

impl ReadError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A parse error in the file at `path`.
    pub(crate) fn malformed(path: &Path, source: Malformed) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The I/O error kind, when this is an I/O error.
    pub(crate) fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Self::Io { source, .. } => Some(source.kind()),
            Self::Malformed { .. } | Self::Statvfs { .. } => None,
        }
    }
}

/// The most read from one file: `/proc` files are a few KB; a bigger file is a wrong path
/// and is cut here (and then fails to parse) rather than read whole.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads the file at `path` into `buf`, replacing its contents and keeping its capacity.
/// The read goes through `Take`, which skips the `statx` + `lseek` size probe that
/// `File::read_to_string` makes (useless on `/proc`, whose files report size 0): one
/// `open`, two `read`s and a `close` per file.
pub(crate) fn read_into(path: &Path, buf: &mut String) -> Result<(), ReadError> {
    buf.clear();
    File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES).read_to_string(buf))
        .map(|_| ())
        .map_err(|source| ReadError::io(path, source))
}

/// Reads `path` and parses it with `parse`, attaching the path to a parse error.
pub(crate) fn read_parsed<T>(
    path: &Path,
    buf: &mut String,
    parse: impl FnOnce(&str) -> Result<T, Malformed>,
) -> Result<T, ReadError> {
    read_into(path, buf)?;
    parse(buf).map_err(|source| ReadError::malformed(path, source))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_into_the_reused_buffer() {
        let dir = std::env::temp_dir().join(format!("liftwatch-read-into-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "second").unwrap();
        let mut buf = String::from("a much longer first content");
        let capacity = buf.capacity();
        read_into(&file, &mut buf).unwrap();
        assert_eq!(buf, "second");
        assert_eq!(buf.capacity(), capacity);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_path_and_keep_the_cause() {
        let mut buf = String::new();
        let missing = Path::new("/nonexistent/liftwatch/file");
        let err = read_into(missing, &mut buf).unwrap_err();
        assert_eq!(err.to_string(), "cannot read /nonexistent/liftwatch/file");
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));

        let err = ReadError::malformed(Path::new("/proc/stat"), Malformed("no cpu line"));
        assert_eq!(err.to_string(), "malformed /proc/stat");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("no cpu line"));
        assert_eq!(err.io_kind(), None);
    }
}
