//! The settings a builder was not given, filled from the environment and from OpenTelemetry
//! resource attributes, in one precedence (the table is in `docs/metadata.md` and on
//! [`HeartbeatBuilder`](crate::HeartbeatBuilder)):
//!
//! 1. the builder's method;
//! 2. the SDK's variable (`VORTEX_*`), then other configuration variables
//!    (`SPRING_PROFILES_ACTIVE`);
//! 3. resource attributes given in code (`resource_attributes`): an application's `Resource`
//!    is already merged with the environment's by its OpenTelemetry SDK, with the code's values
//!    winning, as the specification says;
//! 4. the environment's OpenTelemetry variables: `OTEL_SERVICE_NAME`, then
//!    `OTEL_RESOURCE_ATTRIBUTES`;
//! 5. detection (`instance_id` only: the pod name, else the host name plus a random suffix).
//!
//! A value found here and then rejected by validation is reported under its source.

use std::time::Duration;

use crate::config::HeartbeatConfig;
use crate::env::Environment;
use crate::error::ConfigError;
use crate::limits::MAX_DURATION;
use crate::metadata::{metadata_from_attributes, otel_env_attributes, warn_malformed};
use crate::server_list::{shown_list, split_server_list};
use crate::sources::{source_of, Source, OTEL_RESOURCE_ATTRIBUTES, SOURCES};

/// Which settings with an environment variable but a default value were set explicitly.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ExplicitlySet {
    pub(crate) interval: bool,
    pub(crate) timeout: bool,
    /// `server_urls(..)` was called (an empty list is then an error, not "unset").
    pub(crate) server_urls: bool,
}

/// Where a value was found (the environment or code, never the builder's methods).
#[derive(Debug, Clone, Copy)]
enum Provenance {
    /// An environment variable.
    Var(&'static str),
    /// A resource attribute given in code.
    Code(&'static str),
    /// An entry of `OTEL_RESOURCE_ATTRIBUTES`.
    OtelEnv(&'static str),
}

/// A setting filled here: where from, and its value.
#[derive(Debug)]
pub(crate) struct Taken {
    field: &'static str,
    provenance: Provenance,
    value: String,
}

/// The sources a configuration is filled from.
struct Lookup<'a> {
    env: &'a Environment,
    code: &'a [(String, String)],
    otel_env: Vec<(String, String)>,
}

impl Lookup<'_> {
    /// The first source of `source.field` with a usable value.
    fn find(&self, source: &Source) -> Option<(Provenance, String)> {
        if let Some(found) = source
            .vars
            .iter()
            .find_map(|&var| self.var(var).map(|v| (Provenance::Var(var), v)))
        {
            return Some(found);
        }
        if let Some((key, value)) = attribute(self.code, source) {
            return Some((Provenance::Code(key), value));
        }
        if let Some(var) = source.otel_var {
            if let Some(value) = self.env.var(var).filter(|v| !is_placeholder(var, v)) {
                return Some((Provenance::Var(var), value));
            }
        }
        attribute(&self.otel_env, source).map(|(key, value)| (Provenance::OtelEnv(key), value))
    }

    /// A variable's value; for `SPRING_PROFILES_ACTIVE` its first profile.
    fn var(&self, var: &str) -> Option<String> {
        let value = self.env.var(var)?;
        if var != "SPRING_PROFILES_ACTIVE" {
            return Some(value);
        }
        let first = value.split(',').map(str::trim).find(|p| !p.is_empty())?;
        Some(first.to_owned())
    }
}

/// The value of the first of `source.otel_keys` present with a usable value; of repeated keys
/// the last one counts, as in a map.
fn attribute(attributes: &[(String, String)], source: &Source) -> Option<(&'static str, String)> {
    source.otel_keys.iter().find_map(|&key| {
        let (_, value) = attributes.iter().rev().find(|(k, _)| k == key)?;
        let value = value.trim();
        (!value.is_empty() && !is_placeholder(key, value)).then(|| (key, value.to_owned()))
    })
}

/// OpenTelemetry SDKs fill `service.name` with `unknown_service` (or `unknown_service:<binary>`)
/// when the application set none: that names no application.
fn is_placeholder(key: &str, value: &str) -> bool {
    matches!(key, "service.name" | "OTEL_SERVICE_NAME")
        && (value == "unknown_service" || value.starts_with("unknown_service:"))
}

/// Fills every unset setting that the environment or `code` (resource attributes given to the
/// builder) can give, and adds the metadata fields among `code` that are not set explicitly.
/// Returns what it took, for [`blame`].
pub(crate) fn fill(
    config: &mut HeartbeatConfig,
    code: &[(String, String)],
    set: ExplicitlySet,
) -> Result<Vec<Taken>, ConfigError> {
    let env = config.environment.clone();
    let no_url = config.server_url.is_empty() && config.fallback_urls.is_empty();
    if set.server_urls && no_url {
        return Err(ConfigError::InvalidValue {
            field: "server_url",
            reason: "server_urls(..) was given an empty list: give at least one URL".into(),
        });
    }
    // Explicit fields win; the attributes hold no custom labels.
    config.metadata.fill_from(metadata_from_attributes(code));
    let slots = [
        ("server_url", no_url),
        ("app", config.app.is_empty()),
        ("profile", config.profile.is_empty()),
        ("instance_id", config.instance_id.is_empty()),
    ];
    let needs_otel = slots[1..].iter().any(|&(_, unset)| unset);
    let (otel_env, malformed) = match needs_otel.then(|| otel_env_attributes(&env)) {
        Some(Ok(attributes)) => (attributes, None),
        Some(Err(error)) => (Vec::new(), Some(error)),
        None => (Vec::new(), None),
    };
    let lookup = Lookup {
        env: &env,
        code,
        otel_env,
    };
    let mut taken = Vec::new();
    for (field, unset) in slots {
        let found = source_of(field)
            .filter(|_| unset)
            .and_then(|s| lookup.find(s));
        if let Some((provenance, value)) = found {
            let took = Taken {
                field,
                provenance,
                value,
            };
            if field == "server_url" {
                // `VORTEX_URL` may hold a comma-separated list.
                take_server_list(config, &took.value)
                    .map_err(|error| blame(std::slice::from_ref(&took), error))?;
            } else {
                *slot(config, field) = took.value.clone();
            }
            taken.push(took);
        }
    }
    // Detection warns about a malformed variable when the client starts; say it here when
    // the build is about to fail for want of a value the variable may have held.
    if let Some(error) = malformed.filter(|_| config.app.is_empty() || config.profile.is_empty()) {
        warn_malformed(&error);
    }
    if !set.interval {
        if let Some(d) = env_duration(&env, var_of("interval"))? {
            config.interval = d;
        }
    }
    if !set.timeout {
        if let Some(d) = env_duration(&env, var_of("timeout"))? {
            config.timeout = d;
        }
    }
    Ok(taken)
}

/// Puts a comma-separated list of server URLs into the configuration: the first as
/// `server_url`, the others as `fallback_urls`. A blank value leaves both unset.
fn take_server_list(config: &mut HeartbeatConfig, value: &str) -> Result<(), ConfigError> {
    let mut items = split_server_list(value)?.into_iter();
    config.server_url = items.next().unwrap_or_default().to_owned();
    config.fallback_urls = items.map(str::to_owned).collect();
    Ok(())
}

/// The string setting called `field` (one of those [`fill`] takes).
fn slot<'c>(config: &'c mut HeartbeatConfig, field: &str) -> &'c mut String {
    match field {
        "server_url" => &mut config.server_url,
        "app" => &mut config.app,
        "profile" => &mut config.profile,
        _ => &mut config.instance_id,
    }
}

/// The SDK's variable for `field`.
fn var_of(field: &str) -> &'static str {
    SOURCES
        .iter()
        .find(|s| s.field == field)
        .and_then(|s| s.vars.first().copied())
        .unwrap_or("")
}

/// Reports a rejected value that [`fill`] took under its source: a variable as
/// [`ConfigError::InvalidEnv`] (a URL without its userinfo), an entry of
/// `OTEL_RESOURCE_ATTRIBUTES` likewise as `key=value`, an attribute given in code as
/// [`ConfigError::InvalidValue`] naming the key.
pub(crate) fn blame(taken: &[Taken], error: ConfigError) -> ConfigError {
    let ConfigError::InvalidValue { field, reason } = error else {
        return error;
    };
    let Some(taken) = taken.iter().find(|t| t.field == field) else {
        return ConfigError::InvalidValue { field, reason };
    };
    match taken.provenance {
        Provenance::Var(var) => ConfigError::InvalidEnv {
            var,
            value: if field == "server_url" {
                shown_list(&taken.value)
            } else {
                taken.value.clone()
            },
            reason,
        },
        Provenance::OtelEnv(key) => ConfigError::InvalidEnv {
            var: OTEL_RESOURCE_ATTRIBUTES,
            value: format!("{key}={}", taken.value),
            reason,
        },
        Provenance::Code(key) => ConfigError::InvalidValue {
            field,
            reason: format!("{reason}; the value is {key} given to .resource_attributes(..)"),
        },
    }
}

fn env_duration(env: &Environment, var: &'static str) -> Result<Option<Duration>, ConfigError> {
    let Some(value) = env.var(var) else {
        return Ok(None);
    };
    match parse_duration(&value) {
        Some(d) if !d.is_zero() && d <= MAX_DURATION => Ok(Some(d)),
        _ => Err(ConfigError::InvalidEnv {
            var,
            value,
            reason: "expected a positive duration of at most 24 hours, such as 30s, 500ms, 2m or plain seconds".into(),
        }),
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h` or plain (possibly fractional) seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        for bad in ["", "s", "-1", "1d", "1e999", "abc", "1..2"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn attributes_prefer_the_current_key_then_the_last_value() {
        let profile = source_of("profile").unwrap();
        let attrs = pairs(&[
            ("deployment.environment", "old"),
            ("deployment.environment.name", "first"),
            ("deployment.environment.name", "last"),
        ]);
        assert_eq!(
            attribute(&attrs, profile),
            Some(("deployment.environment.name", "last".into()))
        );
        let attrs = pairs(&[
            ("deployment.environment.name", " "),
            ("deployment.environment", "old"),
        ]);
        assert_eq!(
            attribute(&attrs, profile),
            Some(("deployment.environment", "old".into()))
        );
    }

    #[test]
    fn the_sdk_placeholder_service_name_names_no_app() {
        let app = source_of("app").unwrap();
        for placeholder in ["unknown_service", "unknown_service:my-binary"] {
            assert_eq!(
                attribute(&pairs(&[("service.name", placeholder)]), app),
                None
            );
        }
        assert_eq!(
            attribute(&pairs(&[("service.name", "unknown_services")]), app),
            Some(("service.name", "unknown_services".into()))
        );
    }
}
