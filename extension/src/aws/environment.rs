//! The `AWS_*` settings the AWS SDK reads from the environment per service, for the
//! extension's clients, which do not load the SDK's shared configuration: in Lambda there
//! are no config files, and the variables are all there is. A setting is looked up as the
//! SDK does: `<VARIABLE>_<SERVICE ID>` first (`AWS_ENDPOINT_URL_DYNAMODB`), then
//! `<VARIABLE>` (`AWS_ENDPOINT_URL`); `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns the
//! endpoint overrides off. `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT` are
//! read as the SDK's loader reads them.

use std::collections::HashMap;
use std::sync::Arc;

use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The endpoint override variable, which `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` switches off.
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
const IGNORE_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";

/// The `AWS_*` variables, read once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: Arc<HashMap<String, String>>,
}

impl Environment {
    /// This process's `AWS_*` variables.
    #[must_use]
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// The `AWS_*` variables among `pairs`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = pairs
            .into_iter()
            .filter(|(name, value)| name.starts_with("AWS_") && !value.is_empty())
            .collect();
        Environment {
            vars: Arc::new(vars),
        }
    }

    /// `AWS_ENDPOINT_URL`, the endpoint of every service without one of its own.
    #[must_use]
    pub fn endpoint_url(&self) -> Option<String> {
        self.setting(ENDPOINT_URL, None)
    }

    /// `AWS_USE_FIPS_ENDPOINT`: `true` or `false` (any case); unset or anything else: `None`.
    #[must_use]
    pub fn use_fips(&self) -> Option<bool> {
        self.flag("AWS_USE_FIPS_ENDPOINT")
    }

    /// `AWS_USE_DUALSTACK_ENDPOINT`, read as [`use_fips`](Self::use_fips).
    #[must_use]
    pub fn use_dual_stack(&self) -> Option<bool> {
        self.flag("AWS_USE_DUALSTACK_ENDPOINT")
    }

    fn flag(&self, variable: &str) -> Option<bool> {
        let value = self.vars.get(variable)?;
        if value.eq_ignore_ascii_case("true") {
            Some(true)
        } else if value.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }

    fn setting(&self, variable: &str, service_id: Option<&str>) -> Option<String> {
        if variable == ENDPOINT_URL && self.ignores_endpoints() {
            return None;
        }
        let service =
            service_id.map(|id| format!("{variable}_{}", id.to_uppercase().replace(' ', "_")));
        service
            .and_then(|name| self.vars.get(&name))
            .or_else(|| self.vars.get(variable))
            .cloned()
    }

    fn ignores_endpoints(&self) -> bool {
        self.vars
            .get(IGNORE_ENDPOINT_URLS)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }
}

impl LoadServiceConfig for Environment {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        self.setting(key.env(), Some(key.service_id()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    fn endpoint(env: &Environment, service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env(ENDPOINT_URL)
            .profile("endpoint_url")
            .build()
            .unwrap();
        env.load_config(key)
    }

    #[test]
    fn a_service_variable_wins_over_the_shared_one() {
        let env = env(&[
            ("AWS_ENDPOINT_URL", "http://shared:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb:2"),
        ]);
        assert_eq!(
            endpoint(&env, "DynamoDB").as_deref(),
            Some("http://dynamodb:2")
        );
        assert_eq!(
            endpoint(&env, "CloudWatch").as_deref(),
            Some("http://shared:1")
        );
        assert_eq!(env.endpoint_url().as_deref(), Some("http://shared:1"));
    }

    #[test]
    fn service_ids_with_spaces_become_underscores() {
        let env = env(&[("AWS_ENDPOINT_URL_API_GATEWAY", "http://apigw:3")]);
        assert_eq!(
            endpoint(&env, "API Gateway").as_deref(),
            Some("http://apigw:3")
        );
        assert_eq!(endpoint(&env, "DynamoDB"), None);
    }

    #[test]
    fn endpoint_overrides_can_be_ignored_and_empty_values_are_unset() {
        let env = env(&[
            ("AWS_ENDPOINT_URL", "http://shared:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", ""),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
        ]);
        assert_eq!(endpoint(&env, "DynamoDB"), None);
        assert_eq!(env.endpoint_url(), None);
        let env = self::env(&[
            ("AWS_ENDPOINT_URL_DYNAMODB", ""),
            ("AWS_ENDPOINT_URL", "http://s:1"),
        ]);
        assert_eq!(endpoint(&env, "DynamoDB").as_deref(), Some("http://s:1"));
    }

    #[test]
    fn fips_and_dual_stack_are_flags() {
        let env = env(&[
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "maybe"),
        ]);
        assert_eq!((env.use_fips(), env.use_dual_stack()), (Some(true), None));
        let env = self::env(&[("AWS_USE_FIPS_ENDPOINT", "false")]);
        assert_eq!((env.use_fips(), env.use_dual_stack()), (Some(false), None));
    }

    #[test]
    fn other_settings_are_read_the_same_way() {
        let env = env(&[
            ("AWS_ACCOUNT_ID_ENDPOINT_MODE_DYNAMODB", "disabled"),
            ("HOME", "/root"),
        ]);
        let key = ServiceConfigKey::builder()
            .service_id("DynamoDB")
            .env("AWS_ACCOUNT_ID_ENDPOINT_MODE")
            .profile("account_id_endpoint_mode")
            .build()
            .unwrap();
        assert_eq!(env.load_config(key).as_deref(), Some("disabled"));
        assert!(
            env.vars.get("HOME").is_none(),
            "only AWS_ variables are kept"
        );
    }
}
