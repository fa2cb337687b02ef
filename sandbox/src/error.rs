//! The sandbox's error type: every way starting, invoking or shutting down the sandbox fails.

use std::path::PathBuf;
use std::time::Duration;

/// Which child process an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The external extension started from `opt/extensions/`.
    Extension,
    /// The function (the runtime, started as `var/task/bootstrap`).
    Function,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Extension => f.write_str("extension"),
            Role::Function => f.write_str("function"),
        }
    }
}

/// An error from the sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// A binary to run does not exist.
    #[error("{role} binary not found at {}", path.display())]
    BinaryNotFound {
        /// Whose binary.
        role: Role,
        /// The missing path.
        path: PathBuf,
    },
    /// A file-system or socket operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The simulator could not be started or failed.
    #[error("lambda simulator failed")]
    Simulator(#[source] lambda_simulator::SimulatorError),
    /// A child process exited when it should still be running.
    #[error("{role} process exited early ({status}); last stderr lines:\n{stderr_tail}")]
    ProcessExited {
        /// Which process.
        role: Role,
        /// Its exit status, rendered.
        status: String,
        /// The last lines it wrote to stderr.
        stderr_tail: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The Init phase did not finish in time.
    #[error(
        "timed out after {waited:?} waiting for {what}\nextension stderr:\n{extension_stderr}\nfunction stderr:\n{function_stderr}"
    )]
    InitTimeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        waited: Duration,
        /// The extension's last stderr lines.
        extension_stderr: String,
        /// The function's last stderr lines (empty before it starts).
        function_stderr: String,
    },
    /// The sandbox was already shut down.
    #[error("the sandbox has already been shut down")]
    ShutDown,
    /// An invocation timed out: like Lambda, the sandbox must be reset (shut down with
    /// reason `timeout`) and a new one started for the next invocation.
    #[error(
        "invocation {0} timed out: shut this sandbox down and start a new one (Lambda resets it)"
    )]
    Reset(String),
    /// The simulator panicked inside a call (it does when a frozen process is gone).
    #[error("lambda simulator panicked while {0}")]
    SimulatorPanicked(String),
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
}
