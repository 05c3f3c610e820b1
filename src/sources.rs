//! Where each setting that the environment can give comes from: its builder method, its
//! environment variables and its OpenTelemetry resource attributes, in precedence order.
//!
//! One table serves both the lookup (the builder's fallback) and the error messages, so that a
//! message never names a variable the builder does not read.

/// OpenTelemetry's resource attributes variable.
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// The sources of one setting other than its builder method (which has the setting's name),
/// highest priority first: `vars`, then the attributes `otel_keys` given in code, then
/// `otel_var`, then the attributes `otel_keys` in [`OTEL_RESOURCE_ATTRIBUTES`].
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

/// Every setting with an environment variable.
pub(crate) const SOURCES: &[Source] = &[
    Source {
        field: "server_url",
        vars: &["VORTEX_URL"],
        otel_var: None,
        otel_keys: &[],
    },
    Source {
        field: "app",
        vars: &["VORTEX_APP"],
        otel_var: Some("OTEL_SERVICE_NAME"),
        otel_keys: &["service.name"],
    },
    Source {
        field: "profile",
        vars: &["VORTEX_PROFILE", "SPRING_PROFILES_ACTIVE"],
        otel_var: None,
        // `deployment.environment` was renamed in the semantic conventions 1.27.
        otel_keys: &["deployment.environment.name", "deployment.environment"],
    },
    Source {
        field: "instance_id",
        vars: &["VORTEX_INSTANCE_ID"],
        otel_var: None,
        otel_keys: &["service.instance.id"],
    },
    Source {
        field: "interval",
        vars: &["VORTEX_HEARTBEAT_INTERVAL"],
        otel_var: None,
        otel_keys: &[],
    },
    Source {
        field: "timeout",
        vars: &["VORTEX_HEARTBEAT_TIMEOUT"],
        otel_var: None,
        otel_keys: &[],
    },
];

/// The sources of `field`, when the environment can give it.
pub(crate) fn source_of(field: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.field == field)
}

/// The setting an environment variable gives. For [`OTEL_RESOURCE_ATTRIBUTES`], `value` is
/// the offending `key=value` entry, which says which setting.
pub(crate) fn field_of_var(var: &str, value: &str) -> Option<&'static str> {
    SOURCES
        .iter()
        .find(|s| {
            s.vars.contains(&var)
                || s.otel_var == Some(var)
                || (var == OTEL_RESOURCE_ATTRIBUTES
                    && s.otel_keys.iter().any(|key| {
                        value
                            .strip_prefix(key)
                            .is_some_and(|rest| rest.starts_with('='))
                    }))
        })
        .map(|s| s.field)
}

impl Source {
    /// How to set it, e.g. `call .app(..) on the builder or set VORTEX_APP (or
    /// OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES)`.
    pub(crate) fn how_to_set(&self) -> String {
        let mut text = format!("call .{}(..) on the builder", self.field);
        let mut vars = self.vars.iter().copied();
        if let Some(first) = vars.next() {
            text.push_str(" or set ");
            text.push_str(first);
        }
        let others: Vec<String> = vars
            .map(str::to_owned)
            .chain(self.otel_var.map(str::to_owned))
            .chain(
                self.otel_keys
                    .first()
                    .map(|key| format!("{key} in {OTEL_RESOURCE_ATTRIBUTES}")),
            )
            .collect();
        if !others.is_empty() {
            text.push_str(" (or ");
            text.push_str(&others.join(", or "));
            text.push(')');
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
