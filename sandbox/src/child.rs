//! One child process of the sandbox (the extension or the function): started in its own
//! process group with exactly the environment it is given, its output captured, and
//! signalled either alone (SIGTERM to the runtime) or as a whole group (freeze, kill).
//!
//! A process group stands in for Lambda's per-sandbox cgroup: freezing or killing the
//! group also reaches the helpers a child started (a shell script's `curl`, say).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Role, SandboxError};
use crate::output::{Echo, OutputCapture, Stream};

const SPAWN_ATTEMPTS: usize = 50;

/// A running (or exited) child with its captured output.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    role: Role,
    pid: u32,
    child: Child,
    output: OutputCapture,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `path` in `cwd` with exactly `env` (nothing inherited), stdin closed and
    /// stdout/stderr captured into `output`. Retries briefly on "text file busy", which a freshly
    /// copied executable hits when another thread forked while the copy was open.
    pub async fn spawn(
        role: Role,
        path: &Path,
        cwd: &Path,
        env: &BTreeMap<String, String>,
        echo: Echo,
        output: OutputCapture,
    ) -> Result<Self, SandboxError> {
        let mut command = Command::new(path);
        command
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut attempt = 0;
        let mut child = loop {
            attempt += 1;
            match command.spawn() {
                Ok(child) => break child,
                Err(e)
                    if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32)
                        && attempt < SPAWN_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    return Err(SandboxError::io(
                        format!("starting the {role} {}", path.display()),
                        e,
                    ));
                }
            }
        };
        let pid = child.id().unwrap_or(0);
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(output.attach(Stream::Stdout, stdout, echo.stdout));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(output.attach(Stream::Stderr, stderr, echo.stderr));
        }
        Ok(ChildProcess {
            role,
            pid,
            child,
            output,
            readers,
            exit: None,
        })
    }

    /// The process id (also its process-group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The id to register with the simulator's freezer: the negated process-group id, so
    /// its `kill(pid, SIGSTOP)` stops the whole group (kill(2) semantics for pid < 0).
    /// The simulator stores ids as `u32` and casts them back to `i32`, which restores the sign.
    pub fn freeze_id(&self) -> Option<u32> {
        let pid = i32::try_from(self.pid).ok().filter(|&p| p > 1)?;
        Some((-pid).cast_unsigned())
    }

    /// Whether the process is stopped (SIGSTOP), from `/proc/<pid>/stat`; `None` where
    /// that file cannot be read (not Linux, or the process is gone).
    pub fn is_stopped(&self) -> Option<bool> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let state = stat.rsplit_once(") ")?.1.chars().next()?;
        Some(matches!(state, 'T' | 't'))
    }

    /// The captured output.
    pub fn output(&self) -> &OutputCapture {
        &self.output
    }

    /// The exit status, if the process has exited (reaps it without blocking).
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// An error describing the exit if the process is no longer running.
    pub fn ensure_running(&mut self) -> Result<(), SandboxError> {
        match self.poll_exit() {
            None => Ok(()),
            Some(status) => Err(SandboxError::ProcessExited {
                role: self.role,
                status: status.to_string(),
                stderr_tail: self.output.stderr_tail(20),
            }),
        }
    }

    /// Sends `signal` to the process alone; false if it has exited or the send failed.
    pub fn signal(&mut self, signal: Signal) -> bool {
        if self.poll_exit().is_some() || self.pid == 0 {
            return false;
        }
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        kill(Pid::from_raw(pid), signal).is_ok()
    }

    /// Sends `signal` to the whole process group (ignoring a group that is gone).
    pub fn signal_group(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.pid)
            && pid > 1
        {
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }

    /// Waits for the process to exit until `deadline`; `None` if it is still running.
    pub async fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        if let Some(status) = self.poll_exit() {
            return Some(status);
        }
        match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(Ok(status)) => {
                self.exit = Some(status);
                Some(status)
            }
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// SIGKILLs the whole group (thawing it is unnecessary: SIGKILL reaches stopped
    /// processes) and reaps the process.
    pub async fn kill(&mut self) -> Option<ExitStatus> {
        self.signal_group(Signal::SIGKILL);
        self.wait_until(Instant::now() + Duration::from_secs(5))
            .await
    }

    /// Waits (up to `timeout`) until both output streams reach end of file, so every line
    /// the process wrote is captured.
    pub async fn drain_output(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for mut reader in std::mem::take(&mut self.readers) {
            if tokio::time::timeout_at(deadline, &mut reader)
                .await
                .is_err()
            {
                reader.abort();
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.signal_group(Signal::SIGKILL);
    }
}
