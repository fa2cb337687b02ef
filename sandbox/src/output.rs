//! Captured output of a child process: its stdout and stderr lines, kept in memory and
//! optionally echoed to our stderr, with helpers that wait for a line to appear.
//!
//! The extension writes CloudWatch Embedded Metric Format documents to stdout, one per
//! line, so the stdout lines are what `emf` parses; stderr carries its logs.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One of a child's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The lines a child process wrote, shared between the reader tasks and the sandbox.
/// Cloning is cheap and gives another handle on the same lines.
#[derive(Debug, Clone)]
pub struct OutputCapture {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    label: String,
    stdout: Mutex<Vec<String>>,
    stderr: Mutex<Vec<String>>,
    /// Both streams in the order the lines arrived, with the time each was read.
    timeline: Mutex<Vec<(DateTime<Utc>, String)>>,
    /// Bumped after every appended line; waiters subscribe to it.
    version: watch::Sender<u64>,
}

/// Whether the reader tasks echo a stream to our stderr, prefixed with the label.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo {
    /// Echo stdout lines.
    pub stdout: bool,
    /// Echo stderr lines.
    pub stderr: bool,
}

impl OutputCapture {
    /// An empty capture whose echoed lines are prefixed with `[label]`.
    pub fn new(label: impl Into<String>) -> Self {
        let (version, _) = watch::channel(0);
        OutputCapture {
            inner: Arc::new(Inner {
                label: label.into(),
                stdout: Mutex::new(Vec::new()),
                stderr: Mutex::new(Vec::new()),
                timeline: Mutex::new(Vec::new()),
                version,
            }),
        }
    }

    /// Starts a task that reads `reader` line by line into `stream` until end of file.
    /// Invalid UTF-8 is replaced, never fatal.
    pub fn attach<R>(&self, stream: Stream, reader: R, echo: bool) -> JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let capture = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buf);
                        let line = text.trim_end_matches(['\n', '\r']).to_owned();
                        if echo {
                            eprintln!("[{}] {}", capture.inner.label, line);
                        }
                        capture.push(stream, line);
                    }
                }
            }
        })
    }

    /// Appends a line as if the process had written it (used by the reader tasks and tests).
    pub fn push(&self, stream: Stream, line: String) {
        self.inner
            .timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Utc::now(), line.clone()));
        self.lines_mut(stream, |lines| lines.push(line));
        self.inner.version.send_modify(|v| *v += 1);
    }

    /// Every line written to `stream` so far.
    pub fn lines(&self, stream: Stream) -> Vec<String> {
        self.lines_mut(stream, |lines| lines.clone())
    }

    /// The lines of both streams from the `start`-th on, in arrival order, each with the
    /// time it was read.
    pub fn timeline_from(&self, start: usize) -> Vec<(DateTime<Utc>, String)> {
        let timeline = self
            .inner
            .timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        timeline.get(start..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// Every stdout line so far.
    pub fn stdout(&self) -> Vec<String> {
        self.lines(Stream::Stdout)
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<String> {
        self.lines(Stream::Stderr)
    }

    /// The last `n` stderr lines joined by newlines (for error messages).
    pub fn stderr_tail(&self, n: usize) -> String {
        self.lines_mut(Stream::Stderr, |lines| {
            let start = lines.len().saturating_sub(n);
            lines[start..].join("\n")
        })
    }

    /// Waits until a line of `stream` (already written or still to come) satisfies
    /// `predicate`, and returns the first such line; `None` once `timeout` passes.
    pub async fn wait_for_line<P>(
        &self,
        stream: Stream,
        predicate: P,
        timeout: Duration,
    ) -> Option<String>
    where
        P: Fn(&str) -> bool,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.inner.version.subscribe();
        let mut seen = 0;
        loop {
            let found = self.lines_mut(stream, |lines| {
                let hit = lines[seen.min(lines.len())..]
                    .iter()
                    .find(|l| predicate(l))
                    .cloned();
                seen = lines.len();
                hit
            });
            if found.is_some() {
                return found;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    fn lines_mut<T>(&self, stream: Stream, f: impl FnOnce(&mut Vec<String>) -> T) -> T {
        let lock = match stream {
            Stream::Stdout => &self.inner.stdout,
            Stream::Stderr => &self.inner.stderr,
        };
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_lines_and_waits_for_a_match() {
        let capture = OutputCapture::new("t");
        let (mut tx, rx) = tokio::io::duplex(64);
        let reader = capture.attach(Stream::Stdout, rx, false);
        let waiter = {
            let c = capture.clone();
            tokio::spawn(async move {
                c.wait_for_line(
                    Stream::Stdout,
                    |l| l.contains("two"),
                    Duration::from_secs(5),
                )
                .await
            })
        };
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"one\r\ntwo \xff\nthree")
            .await
            .unwrap();
        drop(tx);
        reader.await.unwrap();
        assert_eq!(waiter.await.unwrap().as_deref(), Some("two \u{fffd}"));
        assert_eq!(capture.stdout(), vec!["one", "two \u{fffd}", "three"]);
        assert!(capture.stderr().is_empty());
    }

    #[tokio::test]
    async fn wait_times_out_without_a_match() {
        let capture = OutputCapture::new("t");
        capture.push(Stream::Stderr, "a".into());
        capture.push(Stream::Stderr, "b".into());
        let hit = capture
            .wait_for_line(Stream::Stderr, |l| l == "z", Duration::from_millis(30))
            .await;
        assert_eq!(hit, None);
        assert_eq!(capture.stderr_tail(1), "b");
    }
}
