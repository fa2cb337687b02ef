//! The `liftwatch` executable's subcommands for people (Lambda starts it with no
//! arguments, as the extension). `liftwatch ratelimit-stats` reads rate-limit totals back
//! from the statistics table; `liftwatch dashboard` generates the CloudWatch dashboard.

pub mod dashboard;
mod error;
pub mod ratelimit_stats;

pub use error::{ArgsError, CliError};

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// No arguments: run as the Lambda extension.
    Extension,
    /// `ratelimit-stats ...`.
    RateLimitStats(ratelimit_stats::Args),
    /// `dashboard ...`.
    Dashboard(dashboard::Args),
    /// `--help`, or something not understood (with the reason).
    Usage(Option<ArgsError>),
}

/// The usage text.
pub const USAGE: &str = "usage:
  liftwatch                      run as the Lambda extension (how Lambda starts it)
  liftwatch ratelimit-stats --table TABLE --rule RULE [--key KEY_CLASS] [--from UNIX] [--to UNIX]
                                 totals of a rule (and key class) over windows starting in
                                 [from, to] (default: the last 24 hours), read from the
                                 statistics table; region and credentials from the environment
  liftwatch dashboard --function NAME [--function NAME ...] [--namespace NS] [--region R]
                      [--name DASHBOARD] [--metric NAME[:STATISTIC] ...] [--apply] [--alarms]
                                 prints the CloudWatch dashboard body of every liftwatch
                                 metric for the functions (namespace from LIFTWATCH_NAMESPACE,
                                 default Liftwatch; name default liftwatch-<functions>),
                                 plus a graph per --metric (a handler's own metric, Sum
                                 unless a statistic such as Average or p99 is given);
                                 --apply saves it (PutDashboard), --alarms creates the
                                 recommended alarms liftwatch-<function>-{errors,timeouts,
                                 memory,ratelimit-blocked-ratio} (PutMetricAlarm)";

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Command {
    match args.split_first() {
        None => Command::Extension,
        Some((first, rest)) if first == "ratelimit-stats" => {
            match ratelimit_stats::Args::parse(rest) {
                Ok(args) => Command::RateLimitStats(args),
                Err(reason) => Command::Usage(Some(reason)),
            }
        }
        Some((first, rest)) if first == "dashboard" => match dashboard::Args::parse(rest) {
            Ok(args) => Command::Dashboard(args),
            Err(reason) => Command::Usage(Some(reason)),
        },
        Some((first, _)) if first == "--help" || first == "-h" => Command::Usage(None),
        Some((first, _)) => Command::Usage(Some(ArgsError::UnknownCommand(first.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_arguments_is_the_extension_and_others_are_subcommands() {
        assert_eq!(parse(&[]), Command::Extension);
        assert_eq!(parse(&strings(&["--help"])), Command::Usage(None));
        assert_eq!(
            parse(&strings(&["dance"])),
            Command::Usage(Some(ArgsError::UnknownCommand("dance".into())))
        );
        assert!(matches!(
            parse(&strings(&[
                "ratelimit-stats",
                "--table",
                "t",
                "--rule",
                "login"
            ])),
            Command::RateLimitStats(_)
        ));
        assert_eq!(
            parse(&strings(&["ratelimit-stats", "--rule", "login"])),
            Command::Usage(Some(ArgsError::Required("--table")))
        );
        assert!(matches!(
            parse(&strings(&["dashboard", "--function", "f", "--apply"])),
            Command::Dashboard(_)
        ));
        assert_eq!(
            parse(&strings(&["dashboard", "--apply"])),
            Command::Usage(Some(ArgsError::Required("--function")))
        );
    }
}
