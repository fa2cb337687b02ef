//! `liftwatch ratelimit-stats`: a rule's totals over a time range, from the statistics
//! table, through the same `query_totals` the tests and users' code call.

use super::{ArgsError, CliError};
use crate::config::Config;
use crate::ratelimit::{ClientOptions, Totals, query_totals};

/// The subcommand's arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub table: String,
    pub rule: String,
    pub key_class: Option<String>,
    pub from_unix: u64,
    pub to_unix: u64,
}

impl Args {
    /// Parses `--table T --rule R [--key K] [--from UNIX] [--to UNIX]`.
    pub fn parse(args: &[String]) -> Result<Self, ArgsError> {
        let now = liftwatch::clock::now_secs();
        let (mut table, mut rule, mut key_class) = (None, None, None);
        let (mut from_unix, mut to_unix) = (now.saturating_sub(24 * 3600), now);
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let value = rest
                .next()
                .ok_or_else(|| ArgsError::MissingValue(flag.clone()))?
                .clone();
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|source| ArgsError::NotUnixSeconds {
                        flag: flag.clone(),
                        source,
                    })
            };
            match flag.as_str() {
                "--table" => table = Some(value.clone()),
                "--rule" => rule = Some(value.clone()),
                "--key" => key_class = Some(value.clone()),
                "--from" => from_unix = number()?,
                "--to" => to_unix = number()?,
                other => return Err(ArgsError::UnknownOption(other.to_owned())),
            }
        }
        Ok(Args {
            table: table.ok_or(ArgsError::Required("--table"))?,
            rule: rule.ok_or(ArgsError::Required("--rule"))?,
            key_class,
            from_unix,
            to_unix,
        })
    }
}

/// Runs the query and renders the totals as one line of JSON (for people and scripts).
pub async fn run(args: &Args) -> Result<String, CliError> {
    let region = Config::from_lookup(|k| {
        if k == crate::config::vars::RUNTIME_API {
            Some("unused".to_owned())
        } else {
            std::env::var(k).ok()
        }
    })
    .map(|(config, _)| config.region)
    .map_err(CliError::Config)?;
    let options = ClientOptions {
        region,
        endpoint: None,
        credentials: None,
    };
    let shared = options.load_default_chain().await;
    let client = aws_sdk_dynamodb::Client::new(&shared);
    let totals = query_totals(
        &client,
        &args.table,
        &args.rule,
        args.key_class.as_deref(),
        args.from_unix,
        args.to_unix,
    )
    .await
    .map_err(|source| CliError::Statistics {
        table: args.table.clone(),
        source,
    })?;
    Ok(render(args, &totals))
}

fn render(args: &Args, totals: &Totals) -> String {
    serde_json::json!({
        "table": args.table,
        "rule": args.rule,
        "key_class": args.key_class,
        "from": args.from_unix,
        "to": args.to_unix,
        "windows": totals.windows,
        "items": totals.items,
        "requests": totals.counts.requests,
        "allowed": totals.counts.allowed,
        "blocked": totals.counts.blocked,
        "errors": totals.counts.errors,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_every_option_and_refuses_bad_ones() {
        let args = Args::parse(&strings(&[
            "--table", "t", "--rule", "login", "--key", "h07", "--from", "60", "--to", "120",
        ]));
        assert_eq!(
            args,
            Ok(Args {
                table: "t".into(),
                rule: "login".into(),
                key_class: Some("h07".into()),
                from_unix: 60,
                to_unix: 120
            })
        );
        assert_eq!(
            Args::parse(&strings(&["--table", "t"])),
            Err(ArgsError::Required("--rule"))
        );
        assert!(matches!(
            Args::parse(&strings(&["--table", "t", "--rule", "r", "--from", "soon"])),
            Err(ArgsError::NotUnixSeconds { flag, .. }) if flag == "--from"
        ));
        assert_eq!(
            Args::parse(&strings(&["--table", "t", "--rule"])),
            Err(ArgsError::MissingValue("--rule".into()))
        );
        assert_eq!(
            Args::parse(&strings(&["--table", "t", "--rule", "r", "--color", "red"])),
            Err(ArgsError::UnknownOption("--color".into()))
        );
    }
}
