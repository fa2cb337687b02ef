//! The tracing part of the configuration: the OTLP receiver's port, whether it takes
//! metrics and which of their attributes become dimensions, and which span
//! exporters run (`LIFTWATCH_TRACE_EXPORTERS`), with their destinations from the standard
//! variables (`OTEL_EXPORTER_OTLP_*`, `AWS_XRAY_DAEMON_ADDRESS`).

use super::Reader;
use crate::otlp_metrics::decode::DimensionRule;
use crate::traces::otlp::OtlpConfig;
use crate::traces::otlp::intake::DEFAULT_PORT as DEFAULT_OTLP_PORT;
pub use crate::traces::setup::TraceSettings;
use crate::traces::xray::parse_daemon_address;

/// Variables of this part.
pub mod vars {
    pub const OTLP_PORT: &str = "LIFTWATCH_OTLP_PORT";
    pub const TRACE_EXPORTERS: &str = "LIFTWATCH_TRACE_EXPORTERS";
    pub const XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
    pub const OTLP_METRICS: &str = "LIFTWATCH_OTLP_METRICS";
    pub const OTLP_METRIC_DIMENSIONS: &str = "LIFTWATCH_OTLP_METRIC_DIMENSIONS";
}

impl TraceSettings {
    /// Reads the tracing variables; problems become warnings and keep the defaults.
    pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<F>) -> Self {
        let otlp_intake_port =
            env.parse_or(vars::OTLP_PORT, Some(DEFAULT_OTLP_PORT), |s| match s {
                "off" => Some(None),
                port => port.parse().ok().filter(|p| *p != 0).map(Some),
            });
        let (mut otlp, mut xray) = (None, None);
        let exporters = env
            .get(vars::TRACE_EXPORTERS)
            .unwrap_or_else(|| "auto".to_owned());
        let wanted = match parse_exporters(&exporters) {
            Some(wanted) => wanted,
            None => {
                env.warnings.push(format!(
                    "ignoring {}={exporters:?}: expected auto, none, or a list of otlp and xray",
                    vars::TRACE_EXPORTERS
                ));
                Wanted::Auto
            }
        };
        let (want_otlp, want_xray, explicit) = match wanted {
            Wanted::Auto => (true, true, false),
            Wanted::List { otlp, xray } => (otlp, xray, true),
        };
        if want_otlp {
            match OtlpConfig::from_lookup(|key| (env.lookup)(key)) {
                Ok(Some(config)) => otlp = Some(config),
                Ok(None) if explicit => env.warnings.push(
                    "the otlp trace exporter needs LIFTWATCH_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT, which the function's own SDK reads too)".to_owned(),
                ),
                Ok(None) => {}
                Err(error) => env.warnings.push(format!("the otlp trace exporter is off: {error}")),
            }
        }
        if want_xray {
            match env.get(vars::XRAY_DAEMON_ADDRESS) {
                Some(raw) => match parse_daemon_address(&raw) {
                    Some(address) => xray = Some(address),
                    None => env.warnings.push(format!(
                        "the x-ray exporter is off: {}={raw:?} is not an address",
                        vars::XRAY_DAEMON_ADDRESS
                    )),
                },
                None if explicit => env.warnings.push(format!(
                    "the x-ray exporter needs {} (Lambda sets it when active tracing is on)",
                    vars::XRAY_DAEMON_ADDRESS
                )),
                None => {}
            }
        }
        let metrics_on = env.parse_or(vars::OTLP_METRICS, true, |s| match s {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        });
        let rule = env.parse_or(
            vars::OTLP_METRIC_DIMENSIONS,
            DimensionRule::Attributes,
            parse_dimension_rule,
        );
        TraceSettings {
            otlp_intake_port,
            otlp,
            xray_daemon: xray,
            otlp_metrics: (metrics_on && otlp_intake_port.is_some()).then_some(rule),
        }
    }
}

/// `all`, `none`, or a comma-separated list of attribute names.
fn parse_dimension_rule(raw: &str) -> Option<DimensionRule> {
    match raw.trim() {
        "all" => Some(DimensionRule::Attributes),
        "none" | "" => Some(DimensionRule::Only(Vec::new())),
        list => {
            let names: Vec<String> = list.split(',').map(|n| n.trim().to_owned()).collect();
            let valid = names
                .iter()
                .all(|n| !n.is_empty() && n.is_ascii() && n.len() <= 250);
            valid.then_some(DimensionRule::Only(names))
        }
    }
}

enum Wanted {
    Auto,
    List { otlp: bool, xray: bool },
}

fn parse_exporters(raw: &str) -> Option<Wanted> {
    match raw.trim() {
        "auto" => return Some(Wanted::Auto),
        "none" => {
            return Some(Wanted::List {
                otlp: false,
                xray: false,
            });
        }
        _ => {}
    }
    let (mut otlp, mut xray) = (false, false);
    for item in raw.split(',').map(str::trim) {
        match item {
            "otlp" => otlp = true,
            "xray" => xray = true,
            _ => return None,
        }
    }
    Some(Wanted::List { otlp, xray })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::Config;
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (TraceSettings, Vec<String>) {
        let mut all = vec![("AWS_LAMBDA_RUNTIME_API", "x")];
        all.extend_from_slice(pairs);
        let (config, warnings) = Config::from_lookup(|key| {
            all.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        (config.traces, warnings)
    }

    #[test]
    fn auto_follows_the_standard_variables() {
        let (none, warnings) = settings(&[]);
        assert_eq!(
            none,
            TraceSettings {
                otlp_intake_port: Some(4318),
                otlp: None,
                xray_daemon: None,
                otlp_metrics: Some(DimensionRule::Attributes),
            }
        );
        assert!(warnings.is_empty());
        let (both, _) = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ]);
        assert_eq!(
            both.otlp.unwrap().endpoint.to_string(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            both.xray_daemon,
            Some("169.254.79.129:2000".parse().unwrap())
        );
        let (only_otlp, _) = settings(&[
            (vars::TRACE_EXPORTERS, "otlp"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:4319/v1/traces",
            ),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ]);
        assert!(only_otlp.otlp.is_some() && only_otlp.xray_daemon.is_none());
        let (off, _) = settings(&[
            (vars::TRACE_EXPORTERS, "none"),
            (vars::OTLP_PORT, "off"),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
        ]);
        assert_eq!(off, TraceSettings::default());
    }

    #[test]
    fn otlp_metrics_are_on_with_the_receiver_and_their_dimensions_follow_the_rule() {
        let rule = |value: &str| {
            settings(&[(vars::OTLP_METRIC_DIMENSIONS, value)])
                .0
                .otlp_metrics
        };
        assert_eq!(rule("all"), Some(DimensionRule::Attributes));
        assert_eq!(rule("none"), Some(DimensionRule::Only(Vec::new())));
        assert_eq!(
            rule(" http.route , shop"),
            Some(DimensionRule::Only(vec![
                "http.route".into(),
                "shop".into()
            ]))
        );
        let (bad, warnings) = settings(&[(vars::OTLP_METRIC_DIMENSIONS, "a,,b")]);
        assert_eq!(bad.otlp_metrics, Some(DimensionRule::Attributes));
        assert!(
            warnings[0].contains(vars::OTLP_METRIC_DIMENSIONS),
            "{warnings:?}"
        );
        assert_eq!(
            settings(&[(vars::OTLP_METRICS, "off")]).0.otlp_metrics,
            None
        );
        assert_eq!(settings(&[(vars::OTLP_PORT, "off")]).0.otlp_metrics, None);
    }

    #[test]
    fn bad_values_warn_and_keep_defaults() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(vars::TRACE_EXPORTERS, "jaeger")], vars::TRACE_EXPORTERS),
            (&[(vars::OTLP_PORT, "0")], vars::OTLP_PORT),
            (
                &[(vars::TRACE_EXPORTERS, "xray")],
                vars::XRAY_DAEMON_ADDRESS,
            ),
            (
                &[("AWS_XRAY_DAEMON_ADDRESS", "nowhere")],
                vars::XRAY_DAEMON_ADDRESS,
            ),
            (
                &[(vars::TRACE_EXPORTERS, "otlp")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")], "otlp"),
        ];
        for (pairs, mention) in cases {
            let (settings, warnings) = settings(pairs);
            assert_eq!(warnings.len(), 1, "{pairs:?}: {warnings:?}");
            assert!(warnings[0].contains(mention), "{warnings:?}");
            assert_eq!(settings.otlp_intake_port, Some(4318));
            assert!(settings.otlp.is_none() && settings.xray_daemon.is_none());
        }
    }
}
