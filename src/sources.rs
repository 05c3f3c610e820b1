//! Where each setting that the environment can give comes from: its builder method, its
//! environment variables and its OpenTelemetry resource attributes, in precedence order.
//!
//! One table serves the lookup (the builder's fallback).

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
