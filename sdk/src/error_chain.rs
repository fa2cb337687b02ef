//! An error and its sources on one line, for logs: the one formatter the workspace uses.

use std::error::Error;

/// `error` and each of its sources, joined with `": "`.
///
/// ```
/// let io = std::io::Error::other("connection reset");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, io);
/// assert_eq!(liftwatch::error_chain(&outer), "connection reset");
/// let parse = "x".parse::<u8>().unwrap_err();
/// assert_eq!(liftwatch::error_chain(&parse), "invalid digit found in string");
/// ```
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Wrappers that print their source as their own message would repeat it.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Step(&'static str, Option<Box<dyn Error>>);

    impl std::fmt::Display for Step {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Step {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref()
        }
    }

    #[test]
    fn the_chain_follows_every_source_once() {
        let inner = Step("connection refused", None);
        let middle = Step("dispatch failure", Some(Box::new(inner)));
        let outer = Step("table setup failed while testing", Some(Box::new(middle)));
        assert_eq!(
            error_chain(&outer),
            "table setup failed while testing: dispatch failure: connection refused"
        );
        let echo = Step("timed out", Some(Box::new(Step("timed out", None))));
        assert_eq!(error_chain(&echo), "timed out");
    }
}
