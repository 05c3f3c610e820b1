//! The settings a builder was not given, filled from the environment and from OpenTelemetry
//! resource attributes given in code, in one precedence (the table is [`SOURCES`]; the reasons
//! are in `docs/metadata.md`):
//!
//! 1. the builder's method;
//! 2. the SDK's variable (`VORTEX_*`), then other configuration variables
//!    (`SPRING_PROFILES_ACTIVE`);
//! 3. resource attributes given in code (`resource_attributes`): an application's `Resource`
//!    is already merged with the environment's by its OpenTelemetry SDK, the code's winning;
//! 4. the environment's OpenTelemetry variables: `OTEL_SERVICE_NAME`, then
//!    `OTEL_RESOURCE_ATTRIBUTES`;
//! 5. detection (`instance_id` only: the pod name, else the host name plus a random suffix).
//!
//! A value found here and then rejected is reported under its source.

use std::time::Duration;

use crate::config::HeartbeatConfig;
use crate::env::Environment;
use crate::error::{invalid, ConfigError};
use crate::limits::MAX_DURATION;
use crate::metadata::{metadata_from_attributes, otel_env_attributes, warn_malformed};
use crate::server_list::{shown_list, split_server_list};
use crate::sources::{Source, OTEL_RESOURCE_ATTRIBUTES, SOURCES};

/// Which settings that have both a default and a variable were set explicitly.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ExplicitlySet {
    pub(crate) interval: bool,
    pub(crate) timeout: bool,
    /// `server_urls(..)` was called (an empty list is then an error, not "unset").
    pub(crate) server_urls: bool,
}

/// Where a filled setting came from, as an error names it.
#[derive(Debug)]
enum Origin {
    /// A variable and its value; for `OTEL_RESOURCE_ATTRIBUTES`, the entry `key=value`.
    Env(&'static str, String),
    /// The key of a resource attribute given in code.
    Code(&'static str),
}

/// The settings [`fill`] took, each with its origin.
#[derive(Debug)]
pub(crate) struct Taken(Vec<(&'static str, Origin)>);

/// Fills every unset setting that the environment or `code` (resource attributes given to the
/// builder) can give, and adds the metadata fields among `code` that are not set explicitly.
pub(crate) fn fill(
    config: &mut HeartbeatConfig,
    code: &[(String, String)],
    set: ExplicitlySet,
) -> Result<Taken, ConfigError> {
    let no_url = config.server_url.is_empty() && config.fallback_urls.is_empty();
    if set.server_urls && no_url {
        let reason = "server_urls(..) was given an empty list: give at least one URL";
        return Err(invalid("server_url", reason));
    }
    // Explicit fields win; the attributes hold no custom labels.
    config.metadata.fill_from(metadata_from_attributes(code));
    let env = config.environment.clone();
    let (otel_env, mut malformed) = match otel_env_attributes(&env) {
        Ok(attributes) => (attributes, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    let mut taken = Taken(Vec::new());
    for source in SOURCES {
        let unset = match source.field {
            "server_url" => no_url,
            "app" => config.app.is_empty(),
            "profile" => config.profile.is_empty(),
            "instance_id" => config.instance_id.is_empty(),
            "interval" => !set.interval,
            _ => !set.timeout,
        };
        if !unset {
            continue;
        }
        let Some((value, origin)) = find(source, &env, code, &otel_env) else {
            // Detection warns about a malformed variable when the client starts; say it here
            // when the build is about to fail for want of a value the variable may have held.
            let identity = matches!(source.field, "app" | "profile");
            if let Some(error) = malformed.take_if(|_| identity) {
                warn_malformed(&error);
            }
            continue;
        };
        taken.0.push((source.field, origin));
        apply(config, source.field, &value).map_err(|error| taken.blame(error))?;
    }
    Ok(taken)
}

/// The first usable value of a setting, and where it came from (the module's precedence).
fn find(
    source: &Source,
    env: &Environment,
    code: &[(String, String)],
    otel_env: &[(String, String)],
) -> Option<(String, Origin)> {
    let from_var = |var: &'static str| {
        let value = env.var(var).filter(|value| !is_placeholder(var, value))?;
        // A list of profiles: the first.
        let value = match var {
            "SPRING_PROFILES_ACTIVE" => value.split(',').map(str::trim).find(|p| !p.is_empty())?,
            _ => value.as_str(),
        };
        Some((value.to_owned(), Origin::Env(var, value.to_owned())))
    };
    let otel_env_entry = |(key, value): (&str, String)| {
        let entry = format!("{key}={value}");
        (value, Origin::Env(OTEL_RESOURCE_ATTRIBUTES, entry))
    };
    source
        .vars
        .iter()
        .find_map(|&var| from_var(var))
        .or_else(|| attribute(code, source).map(|(key, value)| (value, Origin::Code(key))))
        .or_else(|| source.otel_var.and_then(from_var))
        .or_else(|| attribute(otel_env, source).map(otel_env_entry))
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

/// Puts a value found for `field` into the configuration: `VORTEX_URL` may hold a list, and a
/// duration is parsed.
fn apply(
    config: &mut HeartbeatConfig,
    field: &'static str,
    value: &str,
) -> Result<(), ConfigError> {
    let duration = || {
        let reason = "expected a positive duration of at most 24 hours, such as 30s, 500ms, 2m or plain seconds";
        let valid = |d: &Duration| !d.is_zero() && *d <= MAX_DURATION;
        parse_duration(value)
            .filter(valid)
            .ok_or_else(|| invalid(field, reason))
    };
    match field {
        "server_url" => {
            let mut urls = split_server_list(value)?.into_iter().map(str::to_owned);
            config.server_url = urls.next().unwrap_or_default();
            config.fallback_urls = urls.collect();
        }
        "app" => config.app = value.to_owned(),
        "profile" => config.profile = value.to_owned(),
        "instance_id" => config.instance_id = value.to_owned(),
        "interval" => config.interval = duration()?,
        _ => config.timeout = duration()?,
    }
    Ok(())
}

impl Taken {
    /// Reports a rejected value that [`fill`] took under its source: a variable (or an entry of
    /// `OTEL_RESOURCE_ATTRIBUTES`) as [`ConfigError::InvalidEnv`], a URL list without its
    /// userinfo; an attribute given in code as [`ConfigError::InvalidValue`] naming the key.
    pub(crate) fn blame(&self, error: ConfigError) -> ConfigError {
        let ConfigError::InvalidValue { field, reason } = error else {
            return error;
        };
        match self.0.iter().find(|(taken, _)| *taken == field) {
            Some((_, Origin::Env(var, value))) => ConfigError::InvalidEnv {
                var,
                value: if field == "server_url" {
                    shown_list(value)
                } else {
                    value.clone()
                },
                reason,
            },
            Some((_, Origin::Code(key))) => invalid(
                field,
                format!("{reason}; the value is {key} given to .resource_attributes(..)"),
            ),
            None => ConfigError::InvalidValue { field, reason },
        }
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
    use crate::sources::source_of;

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
