//! The sandbox: one simulated Lambda execution environment running an external extension
//! and a function as child processes, as Lambda does. It owns the simulator, the
//! intercepting proxy in front of it, the directory layout and the two children; this
//! file starts it and stops it.
//! Invocations live in `invoke.rs`, the SHUTDOWN phase in `shutdown.rs`, the read-side
//! accessors in `inspect.rs`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lambda_simulator::{FreezeMode, Simulator, TelemetryEvent};

use crate::child::ChildProcess;
use crate::config::{
    INTAKE_PORT_VAR, PASSTHROUGH_VARS, RESOURCES_VAR, SandboxConfig, TELEMETRY_BIND_VAR,
    TELEMETRY_HOST_VAR, TELEMETRY_PORT_VAR,
};
use crate::error::{Role, SandboxError};
use crate::layout::Layout;
use crate::output::{Echo, OutputCapture};
use crate::platform::{InitializationType, PlatformEdit, PlatformModel};
use crate::ports::PortPicker;
use crate::proxy::{InterceptingProxy, ProxyObservations, ProxyOptions};
use crate::relay::{BatchTransform, TelemetryRelay};
use crate::simulator_thread::SimulatorThread;

/// The addresses and ports of one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxPorts {
    /// The proxy: what the children see as `AWS_LAMBDA_RUNTIME_API`.
    pub runtime_api: SocketAddr,
    /// The simulator behind the proxy.
    pub simulator: SocketAddr,
    /// `LIFTWATCH_TELEMETRY_PORT`: where the extension's Telemetry API listener binds.
    pub telemetry: u16,
    /// `LIFTWATCH_PORT`: the extension's UDP intake.
    pub intake: u16,
}

/// A running sandbox. Dropping it kills both children and removes its directory; call
/// [`Sandbox::shutdown`] first to run Lambda's SHUTDOWN phase.
pub struct Sandbox {
    pub(crate) config: SandboxConfig,
    pub(crate) simulator: Option<Arc<Simulator>>,
    /// The thread the simulator runs on; ended after its shutdown or when dropped.
    pub(crate) simulator_thread: Option<SimulatorThread>,
    pub(crate) telemetry_snapshot: Vec<TelemetryEvent>,
    pub(crate) proxy: InterceptingProxy,
    pub(crate) relay: Arc<TelemetryRelay>,
    pub(crate) platform: Arc<PlatformModel>,
    pub(crate) extension: Mutex<ChildProcess>,
    pub(crate) function: Mutex<ChildProcess>,
    pub(crate) extension_output: OutputCapture,
    pub(crate) function_output: OutputCapture,
    pub(crate) ports: SandboxPorts,
    pub(crate) extension_path: PathBuf,
    pub(crate) layout: Layout,
    /// The request id of an invocation that timed out: the sandbox must be reset (its
    /// SHUTDOWN has reason `timeout`, and nothing more can be invoked).
    pub(crate) timed_out: Mutex<Option<String>>,
    /// Platform records the sandbox sent itself (those the simulator cannot emit).
    pub(crate) injected: Mutex<Vec<TelemetryEvent>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("ports", &self.ports)
            .field("root", &self.layout.root())
            .field("running", &self.simulator.is_some())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the sandbox as Lambda's Init phase does: starts the extension from
    /// `opt/extensions/`, waits for its init (register, subscribe, first `/next`), starts
    /// the function, and returns once
    /// init is over (the runtime and the extension have both called `/next`).
    ///
    /// The children get exactly: the simulator's Lambda variables (`lambda_env_vars()`),
    /// `AWS_LAMBDA_RUNTIME_API` = the proxy, `LIFTWATCH_TELEMETRY_BIND`/`_HOST` =
    /// 127.0.0.1, `LIFTWATCH_TELEMETRY_PORT` and `LIFTWATCH_PORT` (free ports, unless the
    /// config's `env` fixes them), `RUST_LOG` and `RUST_BACKTRACE` when set here, then the
    /// config's `env` on top.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        for (role, path) in [
            (Role::Extension, &config.extension),
            (Role::Function, &config.function),
        ] {
            if !path.is_file() {
                return Err(SandboxError::BinaryNotFound {
                    role,
                    path: path.clone(),
                });
            }
        }
        // A port the caller fixed through `env` wins; otherwise pick a free one.
        let fixed = |var: &str| {
            config
                .env
                .get(var)
                .and_then(|v| v.trim().parse::<u16>().ok())
        };
        let mut picker = PortPicker::new();
        let telemetry = match fixed(TELEMETRY_PORT_VAR) {
            Some(port) => port,
            None => picker
                .tcp()
                .map_err(|e| SandboxError::io("picking a port", e))?,
        };
        let intake = match fixed(INTAKE_PORT_VAR) {
            Some(port) => port,
            None => picker
                .udp()
                .map_err(|e| SandboxError::io("picking a port", e))?,
        };

        // Lambda's Init phase begins when the extensions start; the simulator's clock for it
        // starts when it is built, just after this.
        let initialization_type = if config.snap_start.is_some() {
            InitializationType::SnapStart
        } else {
            InitializationType::OnDemand
        };
        let platform = Arc::new(PlatformModel::new(
            initialization_type,
            chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
            &config.function_name,
            config.memory_mb,
            &config.region,
        ));
        // On a thread of its own: the simulator loses its readiness wake-up on a
        // multi-threaded runtime (`simulator_thread.rs`).
        let builder = Simulator::builder()
            .function_name(config.function_name.clone())
            .memory_size_mb(config.memory_mb)
            .region(config.region.clone())
            .invocation_timeout(config.invocation_timeout)
            .init_timeout(config.init_timeout)
            .extension_ready_timeout(config.invocation_timeout)
            .shutdown_timeout(config.shutdown_deadline)
            .freeze_mode(if config.freeze {
                FreezeMode::Process
            } else {
                FreezeMode::None
            });
        let (simulator, simulator_thread) = SimulatorThread::start(builder).await?;
        simulator.enable_telemetry_capture().await;
        // Declared before `sim` so that, on an early return, `sim` is dropped first and
        // the guard can stop the simulator's server (and then its thread).
        let simulator = SimulatorGuard(Some(Arc::new(simulator)), Some(simulator_thread));
        let sim = simulator.0.clone().ok_or(SandboxError::ShutDown)?;

        // The function's output, delivered as `function` records to subscribers of them.
        let function_output = OutputCapture::new(Role::Function.to_string());
        let edits = Arc::clone(&platform);
        let logs = function_output.clone();
        let relay = TelemetryRelay::start(Arc::new(move |types: &[String]| {
            let edit = PlatformEdit::new(Arc::clone(&edits));
            let edit = if types.iter().any(|t| t == "function") {
                edit.with_function_logs(logs.clone())
            } else {
                edit
            };
            Box::new(edit) as Box<dyn BatchTransform>
        }))
        .await
        .map(Arc::new)
        .map_err(|e| SandboxError::io("starting the telemetry relay", e))?;
        let options = ProxyOptions {
            refuse_telemetry_subscription: config.refuse_telemetry_subscription,
            relay: Some(Arc::clone(&relay)),
        };
        let proxy = InterceptingProxy::start(sim.addr(), options)
            .await
            .map_err(|e| SandboxError::io("starting the proxy", e))?;
        let ports = SandboxPorts {
            runtime_api: proxy.addr(),
            simulator: sim.addr(),
            telemetry,
            intake,
        };

        let layout = Layout::create()?;
        let extension_path = layout.install_extension(&config.extension)?;
        let function_path = layout.install_function(&config.function)?;
        let env = child_env(&config, &sim, &ports, &layout, initialization_type);

        let echo = Echo {
            stdout: false,
            stderr: config.verbose,
        };
        let mut extension = ChildProcess::spawn(
            Role::Extension,
            &extension_path,
            layout.root(),
            &env,
            echo,
            OutputCapture::new(Role::Extension.to_string()),
        )
        .await?;
        register_freeze(&sim, &extension);
        // Lambda runs the extensions' init before the runtime's: the runtime starts once
        // every extension has registered, subscribed and called `/next`. (The simulator
        // emits initReport at the runtime's first `/next`, so starting the runtime earlier
        // would lose it for an extension still subscribing.)
        let ready = |o: &ProxyObservations| o.extensions_ready;
        await_init(
            &proxy,
            &mut [&mut extension],
            ready,
            config.init_timeout,
            "the extension to register and call /next",
        )
        .await?;

        let echo = Echo {
            stdout: config.verbose,
            stderr: config.verbose,
        };
        let mut function = ChildProcess::spawn(
            Role::Function,
            &function_path,
            &layout.task_dir(),
            &env,
            echo,
            function_output.clone(),
        )
        .await?;
        register_freeze(&sim, &function);
        let done = |o: &ProxyObservations| o.init_complete;
        let mut children = [&mut extension, &mut function];
        await_init(
            &proxy,
            &mut children,
            done,
            config.init_timeout,
            "init to complete",
        )
        .await?;
        if let Some(pause) = config.snap_start {
            let timing = crate::snapstart::snapshot_and_restore(
                [&mut extension, &mut function],
                &proxy,
                pause,
                config.init_timeout,
            )
            .await;
            platform.set_restore(timing);
        }

        let (simulator, simulator_thread) = simulator.take();
        Ok(Sandbox {
            extension_output: extension.output().clone(),
            function_output: function.output().clone(),
            extension: Mutex::new(extension),
            function: Mutex::new(function),
            simulator,
            simulator_thread,
            telemetry_snapshot: Vec::new(),
            proxy,
            relay,
            platform,
            ports,
            extension_path,
            layout,
            config,
            timed_out: Mutex::new(None),
            injected: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn running_simulator(&self) -> Result<Arc<Simulator>, SandboxError> {
        self.simulator.clone().ok_or(SandboxError::ShutDown)
    }

    /// An error if either child has exited.
    pub(crate) fn ensure_children_running(&self) -> Result<(), SandboxError> {
        lock(&self.extension).ensure_running()?;
        lock(&self.function).ensure_running()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        lock(&self.extension).signal_group(nix::sys::signal::Signal::SIGKILL);
        lock(&self.function).signal_group(nix::sys::signal::Signal::SIGKILL);
        drop(SimulatorGuard(
            self.simulator.take(),
            self.simulator_thread.take(),
        ));
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stops the simulator's HTTP server when dropped (the simulator itself never does), then
/// its thread.
struct SimulatorGuard(Option<Arc<Simulator>>, Option<SimulatorThread>);

impl SimulatorGuard {
    fn take(mut self) -> (Option<Arc<Simulator>>, Option<SimulatorThread>) {
        (self.0.take(), self.1.take())
    }
}

impl Drop for SimulatorGuard {
    fn drop(&mut self) {
        let thread = self.1.take();
        if let Some(sim) = self.0.take()
            && let Ok(sim) = Arc::try_unwrap(sim)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                sim.shutdown().await;
                drop(thread);
            });
        }
        // Otherwise `thread` is dropped here, which ends the simulator's runtime.
    }
}

fn register_freeze(sim: &Simulator, child: &ChildProcess) {
    if sim.freeze_mode() == FreezeMode::Process
        && let Some(id) = child.freeze_id()
    {
        sim.register_freeze_pid(id);
    }
}

/// The environment both children get (Lambda gives extensions the function's variables).
/// `TMPDIR` is the sandbox's own `tmp`, and `LIFTWATCH_RESOURCES=local` has the extension
/// measure its processes and that directory, not the host's. SnapStart functions get `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` and no log group
/// or stream name, as in Lambda.
fn child_env(
    config: &SandboxConfig,
    sim: &Simulator,
    ports: &SandboxPorts,
    layout: &Layout,
    initialization_type: InitializationType,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = sim.lambda_env_vars().into_iter().collect();
    env.insert(
        "AWS_LAMBDA_RUNTIME_API".into(),
        ports.runtime_api.to_string(),
    );
    env.insert(
        "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
        initialization_type.as_str().into(),
    );
    match initialization_type {
        InitializationType::OnDemand => {
            env.insert(
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{}", config.function_name),
            );
        }
        InitializationType::SnapStart => {
            env.remove("AWS_LAMBDA_LOG_GROUP_NAME");
            env.remove("AWS_LAMBDA_LOG_STREAM_NAME");
        }
    }
    for key in PASSTHROUGH_VARS {
        if let Ok(value) = std::env::var(key) {
            env.insert(key.into(), value);
        }
    }
    let loopback = Ipv4Addr::LOCALHOST.to_string();
    env.insert(TELEMETRY_BIND_VAR.into(), loopback.clone());
    env.insert(TELEMETRY_HOST_VAR.into(), loopback);
    env.insert(TELEMETRY_PORT_VAR.into(), ports.telemetry.to_string());
    env.insert(INTAKE_PORT_VAR.into(), ports.intake.to_string());
    env.insert("TMPDIR".into(), layout.tmp_dir().display().to_string());
    env.insert(RESOURCES_VAR.into(), "local".into());
    env.extend(config.env.clone());
    env
}

/// Waits for `condition` on the proxy's observations while every child keeps running.
async fn await_init(
    proxy: &InterceptingProxy,
    children: &mut [&mut ChildProcess],
    condition: impl Fn(&ProxyObservations) -> bool + Copy,
    timeout: Duration,
    what: &str,
) -> Result<(), SandboxError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if proxy.wait_for(condition, Duration::from_millis(20)).await {
            return Ok(());
        }
        for child in children.iter_mut() {
            child.ensure_running()?;
        }
        if tokio::time::Instant::now() >= deadline {
            let tail = |i: usize| {
                children
                    .get(i)
                    .map(|c| c.output().stderr_tail(20))
                    .unwrap_or_default()
            };
            return Err(SandboxError::InitTimeout {
                what: what.to_owned(),
                waited: timeout,
                extension_stderr: tail(0),
                function_stderr: tail(1),
            });
        }
    }
}
