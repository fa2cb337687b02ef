//! The subcommands' errors: [`ArgsError`] when the command line is not understood (the
//! binary prints it with the usage and exits 2), [`CliError`] when a subcommand that was
//! understood fails (printed with its sources, exit 1).

use std::num::ParseIntError;

use crate::config::ConfigError;
use crate::dashboard::DashboardError;
use crate::ratelimit::QueryError;

/// Why the arguments were not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// An option that takes a value came last.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// An option the subcommand does not have.
    #[error("unknown option {0:?}")]
    UnknownOption(String),
    /// A required option was not given.
    #[error("{0} is required")]
    Required(&'static str),
    /// A time option's value is not a whole number of seconds.
    #[error("{flag} takes unix seconds")]
    NotUnixSeconds {
        /// The option.
        flag: String,
        /// Why its value is not a number.
        #[source]
        source: ParseIntError,
    },
    /// A first argument that names no subcommand.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
}

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The environment does not make a usable configuration.
    #[error("the configuration cannot be read")]
    Config(#[source] ConfigError),
    /// The arguments and environment do not make a valid dashboard.
    #[error("the dashboard cannot be generated")]
    Spec(#[source] DashboardError),
    /// `--apply`: `PutDashboard` failed.
    #[error("the dashboard was not saved")]
    Apply(#[source] DashboardError),
    /// `--alarms`: a `PutMetricAlarm` failed.
    #[error("the alarms were not all created")]
    Alarms(#[source] DashboardError),
    /// The dashboard body could not be written as JSON.
    #[error("the dashboard body cannot be rendered")]
    Render(#[source] serde_json::Error),
    /// The statistics table could not be read.
    #[error("the totals of table {table} cannot be read")]
    Statistics {
        /// The table.
        table: String,
        /// Why.
        #[source]
        source: QueryError,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn argument_messages_name_the_option_and_keep_the_cause() {
        assert_eq!(
            ArgsError::Required("--table").to_string(),
            "--table is required"
        );
        assert_eq!(
            ArgsError::MissingValue("--rule".into()).to_string(),
            "--rule needs a value"
        );
        let not_a_number = ArgsError::NotUnixSeconds {
            flag: "--from".into(),
            source: "soon".parse::<u64>().unwrap_err(),
        };
        assert_eq!(
            liftwatch::error_chain(&not_a_number),
            "--from takes unix seconds: invalid digit found in string"
        );
        let config = CliError::Config(ConfigError::Missing("AWS_LAMBDA_RUNTIME_API"));
        assert_eq!(
            liftwatch::error_chain(&config),
            "the configuration cannot be read: required variable AWS_LAMBDA_RUNTIME_API is not set"
        );
    }
}
