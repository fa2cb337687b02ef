//! `--events FILE`: one invocation payload per line, in order, so one warm sandbox can play
//! a whole conversation (`$connect`, messages, `$disconnect`). Blank lines and lines
//! starting with `#` are skipped; every other line must be one JSON value.

use serde_json::Value;

/// A line of an events file that is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: not a JSON value: {source}")]
pub struct EventsError {
    /// The 1-based line number.
    pub line: usize,
    /// Why it did not parse.
    #[source]
    pub source: serde_json::Error,
}

/// The payloads of `text`, in order.
pub fn parse_events(text: &str) -> Result<Vec<Value>, EventsError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#')
        })
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|source| EventsError {
                line: index + 1,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_one_payload_per_line_in_order_skipping_blanks_and_comments() {
        let text = "# a websocket conversation\n{\"route\":\"$connect\"}\n\n  {\"route\":\"message\",\"n\":1}\n42\n\"text\"\n";
        let events = parse_events(text).expect("valid file");
        assert_eq!(
            events,
            vec![
                json!({"route": "$connect"}),
                json!({"route": "message", "n": 1}),
                json!(42),
                json!("text"),
            ]
        );
    }

    #[test]
    fn names_the_line_that_is_not_json() {
        let err = parse_events("{}\n# fine\n{\"open\": \n{}\n").expect_err("line 3 is cut");
        assert_eq!(err.line, 3);
        assert!(
            err.to_string().starts_with("line 3: not a JSON value"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_has_no_events() {
        assert!(parse_events("\n# nothing\n").expect("valid").is_empty());
    }
}
