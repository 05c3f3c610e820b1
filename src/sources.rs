//! Where each setting that the environment can give comes from, besides its builder method:
//! its variables and its OpenTelemetry resource attributes, in precedence order. One table
//! serves the builder's fallback (`fallback.rs`) and the error messages, so that a message
//! never names a variable the builder does not read.

/// OpenTelemetry's resource attributes variable.
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// The sources of one setting, highest priority first: `vars`, then the attributes `otel_keys`
/// given in code, then `otel_var`, then the attributes `otel_keys` in
/// [`OTEL_RESOURCE_ATTRIBUTES`].
#[derive(Debug)]
pub(crate) struct Source {
    /// The setting, which is also the name of its builder method.
    pub(crate) field: &'static str,
    /// The SDK's own variable first, then other configuration variables.
    pub(crate) vars: &'static [&'static str],
    /// OpenTelemetry's dedicated variable, if any (`OTEL_SERVICE_NAME`).
    pub(crate) otel_var: Option<&'static str>,
    /// Resource attribute keys, the current name first and an older one after it.
    pub(crate) otel_keys: &'static [&'static str],
}

const fn source(
    field: &'static str,
    vars: &'static [&'static str],
    otel_var: Option<&'static str>,
    otel_keys: &'static [&'static str],
) -> Source {
    Source {
        field,
        vars,
        otel_var,
        otel_keys,
    }
}

/// Every setting with an environment variable, in the order the builder fills them.
pub(crate) const SOURCES: &[Source] = &[
    source("server_url", &["VORTEX_URL"], None, &[]),
    source(
        "app",
        &["VORTEX_APP"],
        Some("OTEL_SERVICE_NAME"),
        &["service.name"],
    ),
    // `deployment.environment` was renamed in the semantic conventions 1.27.
    source(
        "profile",
        &["VORTEX_PROFILE", "SPRING_PROFILES_ACTIVE"],
        None,
        &["deployment.environment.name", "deployment.environment"],
    ),
    source(
        "instance_id",
        &["VORTEX_INSTANCE_ID"],
        None,
        &["service.instance.id"],
    ),
    source("interval", &["VORTEX_HEARTBEAT_INTERVAL"], None, &[]),
    source("timeout", &["VORTEX_HEARTBEAT_TIMEOUT"], None, &[]),
];

/// The sources of `field`, when the environment can give it.
pub(crate) fn source_of(field: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.field == field)
}

/// The setting an environment variable gives. For [`OTEL_RESOURCE_ATTRIBUTES`], `value` is
/// the offending `key=value` entry, which says which setting.
pub(crate) fn field_of_var(var: &str, value: &str) -> Option<&'static str> {
    let entry_of = |key: &&str| value.strip_prefix(key).is_some_and(|v| v.starts_with('='));
    SOURCES
        .iter()
        .find(|s| {
            s.vars.contains(&var)
                || s.otel_var == Some(var)
                || (var == OTEL_RESOURCE_ATTRIBUTES && s.otel_keys.iter().any(entry_of))
        })
        .map(|s| s.field)
}

impl Source {
    /// How to set it, e.g. `call .app(..) on the builder or set VORTEX_APP (or
    /// OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES)`.
    pub(crate) fn how_to_set(&self) -> String {
        let mut text = format!("call .{}(..) on the builder", self.field);
        let [first, others @ ..] = self.vars else {
            return text;
        };
        text += &format!(" or set {first}");
        let attribute = self.otel_keys.first();
        let others: Vec<String> = (others.iter().chain(&self.otel_var))
            .map(|var| var.to_string())
            .chain(attribute.map(|key| format!("{key} in {OTEL_RESOURCE_ATTRIBUTES}")))
            .collect();
        if !others.is_empty() {
            text += &format!(" (or {})", others.join(", or "));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_to_set_names_the_method_and_every_variable() {
        let app = source_of("app").map(Source::how_to_set);
        assert_eq!(
            app.as_deref(),
            Some("call .app(..) on the builder or set VORTEX_APP (or OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES)")
        );
        let url = source_of("server_url").map(Source::how_to_set);
        assert_eq!(
            url.as_deref(),
            Some("call .server_url(..) on the builder or set VORTEX_URL")
        );
        assert!(source_of("max_retries").is_none());
    }

    #[test]
    fn variables_and_attribute_entries_map_to_their_setting() {
        assert_eq!(field_of_var("VORTEX_APP", "x"), Some("app"));
        assert_eq!(field_of_var("OTEL_SERVICE_NAME", "x"), Some("app"));
        assert_eq!(field_of_var("SPRING_PROFILES_ACTIVE", "x"), Some("profile"));
        assert_eq!(
            field_of_var(OTEL_RESOURCE_ATTRIBUTES, "deployment.environment=.."),
            Some("profile")
        );
        assert_eq!(
            field_of_var(OTEL_RESOURCE_ATTRIBUTES, "service.instance.id=a\nb"),
            Some("instance_id")
        );
        assert_eq!(
            field_of_var(OTEL_RESOURCE_ATTRIBUTES, "service.names=x"),
            None
        );
        assert_eq!(field_of_var("HOME", "x"), None);
    }
}
