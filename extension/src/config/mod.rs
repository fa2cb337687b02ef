//! Configuration: the environment read once at start into one typed `Config`.
//!
//! `Config::from_lookup` takes any lookup function so tests never touch the process
//! environment. A missing required variable is an error; a bad optional value keeps its
//! default and leaves a warning for `main` to log.

use std::net::IpAddr;
use std::time::Duration;

use crate::flush_policy::FlushMode;

pub mod traces;

pub use traces::TraceSettings;

/// Variables set by Lambda.
pub mod vars {
    pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
    pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
    pub const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
    pub const INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
    pub const REGION: &str = "AWS_REGION";
    pub const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    pub const NAMESPACE: &str = "LIFTWATCH_NAMESPACE";
    pub const PORT: &str = "LIFTWATCH_PORT";
    pub const TELEMETRY_PORT: &str = "LIFTWATCH_TELEMETRY_PORT";
    pub const TELEMETRY_BIND: &str = "LIFTWATCH_TELEMETRY_BIND";
    pub const TELEMETRY_HOST: &str = "LIFTWATCH_TELEMETRY_HOST";
    pub const TELEMETRY_TYPES: &str = "LIFTWATCH_TELEMETRY_TYPES";
    pub const TELEMETRY_BUFFER_MS: &str = "LIFTWATCH_TELEMETRY_BUFFER_MS";
    pub const FLUSH: &str = "LIFTWATCH_FLUSH";
    pub const LOG_LEVEL: &str = "LIFTWATCH_LOG_LEVEL";
    pub const SINKS: &str = "LIFTWATCH_SINKS";
    pub const RESOURCES: &str = "LIFTWATCH_RESOURCES";
    pub const RATELIMIT_TABLE: &str = "LIFTWATCH_RATELIMIT_TABLE";
    pub const RATELIMIT_RETENTION_DAYS: &str = "LIFTWATCH_RATELIMIT_RETENTION_DAYS";
    pub const RATELIMIT_TABLE_INTERVAL: &str = "LIFTWATCH_RATELIMIT_TABLE_INTERVAL";
    pub const CONNECTIONS_TABLE: &str = "LIFTWATCH_CONNECTIONS_TABLE";
    pub const CONNECTIONS_INTERVAL: &str = "LIFTWATCH_CONNECTIONS_INTERVAL";
    pub const CLOUDWATCH_INTERVAL: &str = "LIFTWATCH_CLOUDWATCH_INTERVAL";
}

/// The accepted values of `LIFTWATCH_LOG_LEVEL`.
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
/// The default UDP intake port (matches the SDK's default).
pub const DEFAULT_PORT: u16 = liftwatch::protocol::DEFAULT_PORT;
/// The default Telemetry API listener port.
pub const DEFAULT_TELEMETRY_PORT: u16 = 9326;
/// The Telemetry API's documented range for `buffering.timeoutMs`.
const TELEMETRY_BUFFER_RANGE_MS: std::ops::RangeInclusive<u64> = 25..=30_000;
const DEFAULT_TELEMETRY_BUFFER_MS: u64 = 25;

/// Which Telemetry API streams to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryTypes {
    /// `platform` records (always on: the invocation metrics come from them).
    pub platform: bool,
    /// `function` log records.
    pub function: bool,
}

/// `LIFTWATCH_RESOURCES`: the resource sampler, and what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resources {
    /// `off`: no resource metrics.
    Off,
    /// `on` (the default): the processes descended from liftwatch's parent (in Lambda its
    /// init: the runtime, the runtime's children and the extensions, liftwatch included)
    /// and the `/tmp` file system.
    Sandbox,
    /// `local`: the same processes, and the files under `$TMPDIR` against Lambda's default
    /// 512 MiB instead of the file system, so that a local sandbox on a shared machine
    /// reports its own figures. The local sandbox sets it.
    Local,
}

impl Resources {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "local" => Some(Resources::Local),
            other => parse_switch(other).map(|on| {
                if on {
                    Resources::Sandbox
                } else {
                    Resources::Off
                }
            }),
        }
    }
}

/// Everything the extension reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `host:port` of the Runtime/Extensions/Telemetry APIs.
    pub runtime_api: String,
    pub function_name: String,
    pub function_version: String,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`: this process will be snapshotted and
    /// restored, so ids are drawn again at the first INVOKE (or `platform.restoreStart`).
    pub snap_start: bool,
    pub region: String,
    /// CloudWatch namespace for every metric.
    pub namespace: String,
    /// UDP port of the local intake on 127.0.0.1.
    pub port: u16,
    /// Port of the Telemetry API listener.
    pub telemetry_port: u16,
    /// Address the Telemetry API listener binds.
    pub telemetry_bind: IpAddr,
    /// Host name in the subscription's destination URI.
    pub telemetry_host: String,
    pub telemetry_types: TelemetryTypes,
    /// The subscription's `buffering.timeoutMs`.
    pub telemetry_buffer: Duration,
    pub flush: FlushMode,
    /// `tracing` level for the extension's own logs (stderr).
    pub log_level: String,
    /// Where flushed metrics go (`LIFTWATCH_SINKS`).
    pub sinks: Sinks,
    /// Whether and over what the resource sampler runs during invocations
    /// (`LIFTWATCH_RESOURCES`).
    pub resources: Resources,
    /// The DynamoDB table for rate-limit statistics; `None`: metrics only.
    pub ratelimit_table: Option<String>,
    /// How long statistics items live past their window's end (the TTL).
    pub ratelimit_retention: Duration,
    /// The WebSocket connection table (`liftwatch::connections`); `None`: no periodic count.
    pub connections_table: Option<String>,
    /// The least time between two writes to the statistics table (0: every flush).
    pub ratelimit_table_interval: Duration,
    /// How often the fleet publishes `ActiveConnections`.
    pub connections_interval: Duration,
    /// The least time between two `PutMetricData` sends of the `cloudwatch` sink (0: every
    /// flush).
    pub cloudwatch_interval: Duration,
    /// The OTLP receiver and the span exporters.
    pub traces: TraceSettings,
}

/// Why the configuration cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("required variable {0} is not set")]
    Missing(&'static str),
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<(Self, Vec<String>), ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `lookup`; returns it with warnings about ignored values.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut env = Reader {
            lookup,
            warnings: Vec::new(),
        };
        let default_bind = IpAddr::from([0, 0, 0, 0]);
        let platform_only = TelemetryTypes {
            platform: true,
            function: false,
        };
        let buffer_ms = env.parse_or(
            vars::TELEMETRY_BUFFER_MS,
            DEFAULT_TELEMETRY_BUFFER_MS,
            |s| {
                s.parse()
                    .ok()
                    .filter(|ms| TELEMETRY_BUFFER_RANGE_MS.contains(ms))
            },
        );
        let traces = TraceSettings::read(&mut env);
        let config = Config {
            runtime_api: env
                .get(vars::RUNTIME_API)
                .ok_or(ConfigError::Missing(vars::RUNTIME_API))?,
            function_name: env
                .get(vars::FUNCTION_NAME)
                .unwrap_or_else(|| "unknown".to_owned()),
            function_version: env
                .get(vars::FUNCTION_VERSION)
                .unwrap_or_else(|| "$LATEST".to_owned()),
            snap_start: env.get(vars::INITIALIZATION_TYPE).as_deref() == Some("snap-start"),
            region: env
                .get(vars::REGION)
                .or_else(|| env.get(vars::DEFAULT_REGION))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            namespace: env.parse_or(vars::NAMESPACE, "Liftwatch".to_owned(), |s| {
                crate::emf::namespace_problem(s)
                    .is_none()
                    .then(|| s.to_owned())
            }),
            port: env.parse_or(vars::PORT, DEFAULT_PORT, |s| {
                s.parse().ok().filter(|p| *p != 0)
            }),
            telemetry_port: env.parse_or(vars::TELEMETRY_PORT, DEFAULT_TELEMETRY_PORT, |s| {
                s.parse().ok().filter(|p| *p != 0 && *p != 9001)
            }),
            telemetry_bind: env.parse_or(vars::TELEMETRY_BIND, default_bind, |s| s.parse().ok()),
            telemetry_host: env
                .get(vars::TELEMETRY_HOST)
                .unwrap_or_else(|| "sandbox.localdomain".to_owned()),
            telemetry_types: env.parse_or(vars::TELEMETRY_TYPES, platform_only, parse_types),
            telemetry_buffer: Duration::from_millis(buffer_ms),
            flush: env.parse_or(vars::FLUSH, FlushMode::default(), FlushMode::parse),
            log_level: env.parse_or(vars::LOG_LEVEL, "warn".to_owned(), |s| {
                LOG_LEVELS.contains(&s).then(|| s.to_owned())
            }),
            sinks: env.parse_or(vars::SINKS, Sinks::default(), Sinks::parse),
            resources: env.parse_or(vars::RESOURCES, Resources::Sandbox, Resources::parse),
            ratelimit_table: env.get(vars::RATELIMIT_TABLE),
            ratelimit_retention: Duration::from_secs(
                24 * 3600
                    * env.parse_or(vars::RATELIMIT_RETENTION_DAYS, 30, |s| {
                        s.parse().ok().filter(|d| (1..=3650).contains(d))
                    }),
            ),
            connections_table: env.get(vars::CONNECTIONS_TABLE),
            ratelimit_table_interval: Duration::from_secs(env.parse_or(
                vars::RATELIMIT_TABLE_INTERVAL,
                60,
                |s| s.parse().ok().filter(|d| (0..=900).contains(d)),
            )),
            connections_interval: Duration::from_secs(env.parse_or(
                vars::CONNECTIONS_INTERVAL,
                60,
                |s| s.parse().ok().filter(|d| (10..=3600).contains(d)),
            )),
            cloudwatch_interval: Duration::from_secs(env.parse_or(
                vars::CLOUDWATCH_INTERVAL,
                60,
                |s| s.parse().ok().filter(|d| (0..=900).contains(d)),
            )),
            traces,
        };
        Ok((config, env.warnings))
    }
}

/// The environment lookup plus the warnings collected while reading it.
struct Reader<F> {
    lookup: F,
    warnings: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    /// The trimmed value of `key`, `None` when unset or blank.
    fn get(&self, key: &str) -> Option<String> {
        (self.lookup)(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Parses `key`, keeping `default` (with a warning) when the value is invalid.
    fn parse_or<T>(&mut self, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> T {
        let Some(raw) = self.get(key) else {
            return default;
        };
        parse(&raw).unwrap_or_else(|| {
            self.warnings.push(format!(
                "ignoring {key}={raw:?}: invalid value, using the default"
            ));
            default
        })
    }
}

/// The sinks flushed metrics go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sinks {
    /// EMF documents on stdout (CloudWatch Logs turns them into metrics).
    pub emf: bool,
    /// The CloudWatch `PutMetricData` API.
    pub cloudwatch: bool,
}

impl Default for Sinks {
    fn default() -> Self {
        Sinks {
            emf: true,
            cloudwatch: false,
        }
    }
}

impl Sinks {
    /// Parses a comma list of `emf` and `cloudwatch` (at least one).
    pub fn parse(raw: &str) -> Option<Self> {
        let mut sinks = Sinks {
            emf: false,
            cloudwatch: false,
        };
        for item in raw.split(',').map(str::trim) {
            match item {
                "emf" => sinks.emf = true,
                "cloudwatch" => sinks.cloudwatch = true,
                _ => return None,
            }
        }
        Some(sinks)
    }
}

fn parse_switch(raw: &str) -> Option<bool> {
    match raw {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_types(raw: &str) -> Option<TelemetryTypes> {
    let mut types = TelemetryTypes {
        platform: true,
        function: false,
    };
    for item in raw.split(',').map(str::trim) {
        match item {
            "platform" => {}
            "function" => types.function = true,
            _ => return None,
        }
    }
    Some(types)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn defaults_apply_when_only_the_runtime_api_is_set() {
        let (c, warnings) = config(&[(vars::RUNTIME_API, "127.0.0.1:9001")]);
        assert!(warnings.is_empty());
        assert_eq!(c.runtime_api, "127.0.0.1:9001");
        assert_eq!(c.function_name, "unknown");
        assert_eq!(c.namespace, "Liftwatch");
        assert_eq!(c.port, 9325);
        assert_eq!(c.telemetry_port, 9326);
        assert_eq!(c.telemetry_bind, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(c.telemetry_host, "sandbox.localdomain");
        assert_eq!(c.telemetry_buffer, Duration::from_millis(25));
        assert_eq!(c.flush, FlushMode::Adaptive);
        assert_eq!(c.region, "us-east-1");
        assert_eq!(
            c.telemetry_types,
            TelemetryTypes {
                platform: true,
                function: false
            }
        );
    }

    #[test]
    fn missing_runtime_api_is_an_error() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert_eq!(err, ConfigError::Missing(vars::RUNTIME_API));
    }

    #[test]
    fn user_values_are_read() {
        let (c, warnings) = config(&[
            (vars::RUNTIME_API, "localhost:1"),
            (vars::FUNCTION_NAME, "orders"),
            (vars::DEFAULT_REGION, "eu-west-1"),
            (vars::NAMESPACE, "Shop"),
            (vars::PORT, "7000"),
            (vars::TELEMETRY_PORT, "7001"),
            (vars::TELEMETRY_BIND, "127.0.0.1"),
            (vars::TELEMETRY_HOST, "localhost"),
            (vars::TELEMETRY_TYPES, "platform,function"),
            (vars::TELEMETRY_BUFFER_MS, "1000"),
            (vars::FLUSH, "periodic:5"),
            (vars::SINKS, "emf, cloudwatch"),
            (vars::RESOURCES, "off"),
            (vars::RATELIMIT_TABLE, "limits"),
            (vars::RATELIMIT_RETENTION_DAYS, "7"),
            (vars::CONNECTIONS_TABLE, "connections"),
            (vars::CONNECTIONS_INTERVAL, "30"),
            (vars::CLOUDWATCH_INTERVAL, "0"),
            (vars::RATELIMIT_TABLE_INTERVAL, "0"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.function_name, "orders");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.namespace, "Shop");
        assert_eq!((c.port, c.telemetry_port), (7000, 7001));
        assert_eq!(c.telemetry_bind, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(c.telemetry_host, "localhost");
        assert!(c.telemetry_types.function);
        assert_eq!(c.telemetry_buffer, Duration::from_millis(1000));
        assert_eq!(c.flush, FlushMode::Periodic(Duration::from_secs(5)));
        assert_eq!(
            c.sinks,
            Sinks {
                emf: true,
                cloudwatch: true
            }
        );
        assert_eq!(c.resources, Resources::Off);
        assert_eq!(c.ratelimit_table.as_deref(), Some("limits"));
        assert_eq!(c.ratelimit_retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(c.connections_table.as_deref(), Some("connections"));
        assert_eq!(c.connections_interval, Duration::from_secs(30));
        assert_eq!(c.cloudwatch_interval, Duration::ZERO, "every flush");
        assert_eq!(c.ratelimit_table_interval, Duration::ZERO, "every flush");
    }

    #[test]
    fn region_prefers_aws_region_over_the_default_region() {
        let (c, _) = config(&[
            (vars::RUNTIME_API, "x"),
            (vars::REGION, "ap-south-1"),
            (vars::DEFAULT_REGION, "eu-west-1"),
        ]);
        assert_eq!(c.region, "ap-south-1");
    }

    #[test]
    fn bad_optional_values_keep_defaults_with_one_warning_each() {
        let cases: &[(&str, &str)] = &[
            (vars::PORT, "0"),
            (vars::PORT, "seventy"),
            (vars::TELEMETRY_PORT, "9001"),
            (vars::TELEMETRY_BUFFER_MS, "10"),
            (vars::TELEMETRY_BUFFER_MS, "30001"),
            (vars::FLUSH, "sometimes"),
            (vars::FLUSH, "periodic:0"),
            (vars::TELEMETRY_BIND, "sandbox"),
            (vars::TELEMETRY_TYPES, "platform,extension"),
            (vars::LOG_LEVEL, "loud"),
            (vars::NAMESPACE, ":Orders"),
            (vars::NAMESPACE, "Liftwätch"),
            (vars::NAMESPACE, "AWS/Lambda"),
            (vars::SINKS, "emf,statsd"),
            (vars::SINKS, ","),
            (vars::RESOURCES, "maybe"),
            (vars::RATELIMIT_RETENTION_DAYS, "0"),
            (vars::CONNECTIONS_INTERVAL, "5"),
            (vars::CLOUDWATCH_INTERVAL, "901"),
            (vars::CLOUDWATCH_INTERVAL, "-1"),
            (vars::RATELIMIT_TABLE_INTERVAL, "901"),
        ];
        let (default, _) = config(&[(vars::RUNTIME_API, "x")]);
        for (key, value) in cases {
            let (c, warnings) = config(&[(vars::RUNTIME_API, "x"), (key, value)]);
            assert_eq!(warnings.len(), 1, "{key}={value}: {warnings:?}");
            assert!(warnings[0].contains(key), "{warnings:?}");
            assert_eq!(c, default, "{key}={value}");
        }
    }
}
