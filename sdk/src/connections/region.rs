//! Which AWS region the API Gateway Management API is called in: an explicit setting, then
//! the region of the event's request context (parsed from an `execute-api` domain name or
//! passed in), then `AWS_REGION`, `AWS_DEFAULT_REGION`, and `us-east-1`. Pure functions:
//! the environment is read through a lookup closure, so tests never touch it.

/// The variable Lambda sets to the function's region.
pub const REGION_VAR: &str = "AWS_REGION";
/// The older, secondary region variable.
pub const DEFAULT_REGION_VAR: &str = "AWS_DEFAULT_REGION";
/// The region used when nothing names one.
pub const FALLBACK_REGION: &str = "us-east-1";

/// The region, first non-empty of: `explicit`, `context` (the request context's region),
/// `AWS_REGION`, `AWS_DEFAULT_REGION` (both read through `lookup`), then
/// [`FALLBACK_REGION`].
///
/// ```
/// use liftwatch::connections::region::{region_from_domain, resolve_region};
/// let context = region_from_domain("abc123.execute-api.eu-west-1.amazonaws.com");
/// let env = |name: &str| (name == "AWS_REGION").then(|| "us-west-2".to_owned());
/// assert_eq!(resolve_region(None, context, env), "eu-west-1");
/// assert_eq!(resolve_region(Some("ap-south-1"), context, env), "ap-south-1");
/// assert_eq!(resolve_region(None, None, env), "us-west-2");
/// assert_eq!(resolve_region(None, None, |_| None), "us-east-1");
/// ```
pub fn resolve_region<F>(explicit: Option<&str>, context: Option<&str>, lookup: F) -> String
where
    F: Fn(&str) -> Option<String>,
{
    let given = [explicit, context]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|r| !r.is_empty())
        .map(str::to_owned);
    given
        .or_else(|| from_env(&lookup, REGION_VAR))
        .or_else(|| from_env(&lookup, DEFAULT_REGION_VAR))
        .unwrap_or_else(|| FALLBACK_REGION.to_owned())
}

fn from_env<F: Fn(&str) -> Option<String>>(lookup: &F, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The region in an API Gateway domain name, `<api id>.execute-api.<region>.amazonaws.com`
/// (or `.amazonaws.com.cn`); `None` for anything else, such as a custom domain.
///
/// ```
/// use liftwatch::connections::region::region_from_domain;
/// assert_eq!(region_from_domain("abc.execute-api.eu-west-1.amazonaws.com"), Some("eu-west-1"));
/// assert_eq!(region_from_domain("ws.example.com"), None);
/// ```
pub fn region_from_domain(domain: &str) -> Option<&str> {
    let domain = domain.trim().trim_end_matches('.');
    let rest = domain
        .strip_suffix(".amazonaws.com")
        .or_else(|| domain.strip_suffix(".amazonaws.com.cn"))?;
    let mut labels = rest.rsplitn(3, '.');
    let region = labels.next()?;
    let service = labels.next()?;
    let api = labels.next()?;
    let valid = service == "execute-api"
        && !api.is_empty()
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_order_is_explicit_context_region_default_region_then_us_east_1() {
        let both = &[
            (REGION_VAR, "us-west-2"),
            (DEFAULT_REGION_VAR, "eu-central-1"),
        ];
        let default_only = &[(DEFAULT_REGION_VAR, "eu-central-1")];
        let blank = &[(REGION_VAR, "  "), (DEFAULT_REGION_VAR, "")];
        type Vars = &'static [(&'static str, &'static str)];
        let cases: [(Option<&str>, Option<&str>, Vars, &str); 8] = [
            (Some("ap-south-1"), Some("eu-west-1"), both, "ap-south-1"),
            (None, Some("eu-west-1"), both, "eu-west-1"),
            (Some(""), Some("eu-west-1"), both, "eu-west-1"),
            (None, None, both, "us-west-2"),
            (None, Some(" "), both, "us-west-2"),
            (None, None, default_only, "eu-central-1"),
            (None, None, blank, "us-east-1"),
            (None, None, &[], "us-east-1"),
        ];
        for (explicit, context, vars, expected) in cases {
            assert_eq!(
                resolve_region(explicit, context, env(vars)),
                expected,
                "{explicit:?} {context:?} {vars:?}"
            );
        }
    }

    #[test]
    fn regions_are_parsed_only_from_execute_api_domains() {
        let cases = [
            (
                "abc123.execute-api.eu-west-1.amazonaws.com",
                Some("eu-west-1"),
            ),
            (
                "abc123.execute-api.us-gov-west-1.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            (
                "abc123.execute-api.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            (
                "abc123.execute-api.eu-west-1.amazonaws.com.",
                Some("eu-west-1"),
            ),
            ("execute-api.eu-west-1.amazonaws.com", None),
            ("abc123.lambda.eu-west-1.amazonaws.com", None),
            ("ws.example.com", None),
            ("abc.execute-api..amazonaws.com", None),
            ("", None),
        ];
        for (domain, expected) in cases {
            assert_eq!(region_from_domain(domain), expected, "{domain}");
        }
    }
}
