//! Configuration from the environment: every variable, precedence, malformed values, and the
//! "minimal configuration" (`server_url` in code, app and profile from the environment). And
//! what `build()` makes of a server URL and the names, from code or the environment: the URLs
//! it refuses without echoing them, how a path prefix is joined, the names it warns about.
//!
//! Every environment is injected with `Environment::from_vars`: no test reads or changes the
//! process environment.

use std::time::Duration;

use crate::support::{capture_logs, client};
use vortex_client::testing::MockServer;
use vortex_client::{ConfigError, Environment, HeartbeatClient, HeartbeatConfig};

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("VORTEX_URL", "http://vortex-config:8080"),
        ("VORTEX_APP", "payment-service"),
        ("VORTEX_PROFILE", "production"),
    ]
}

/// A configuration built from these variables alone.
fn config_from(
    vars: impl IntoIterator<Item = (&'static str, &'static str)>,
) -> Result<HeartbeatConfig, ConfigError> {
    HeartbeatConfig::builder()
        .environment(Environment::from_vars(vars))
        .build()
}

/// [`config_from`] `base()` with `var` set to `value` (replacing it if present).
fn with(var: &'static str, value: &'static str) -> Result<HeartbeatConfig, ConfigError> {
    let mut vars = base();
    vars.retain(|(name, _)| *name != var);
    vars.push((var, value));
    config_from(vars)
}

fn without(var: &str) -> Vec<(&'static str, &'static str)> {
    let mut vars = base();
    vars.retain(|(name, _)| *name != var);
    vars
}

#[test]
fn every_variable_is_read() {
    let env = Environment::from_vars([
        ("VORTEX_URL", "https://gw.example/config"),
        ("VORTEX_APP", "payment-service"),
        ("VORTEX_PROFILE", "production"),
        ("VORTEX_INSTANCE_ID", "payment-1"),
        ("VORTEX_HEARTBEAT_INTERVAL", "15s"),
        ("VORTEX_HEARTBEAT_TIMEOUT", "750ms"),
    ]);
    let config = HeartbeatConfig::builder().environment(env).build().unwrap();
    assert_eq!(config.server_url, "https://gw.example/config");
    assert_eq!(config.app, "payment-service");
    assert_eq!(config.profile, "production");
    assert_eq!(config.instance_id, "payment-1");
    assert_eq!(config.interval, Duration::from_secs(15));
    assert_eq!(config.timeout, Duration::from_millis(750));
}

#[test]
fn durations_accept_units_and_plain_seconds() {
    for (text, expected) in [
        ("30s", Duration::from_secs(30)),
        ("500ms", Duration::from_millis(500)),
        ("45", Duration::from_secs(45)),
        ("2.5", Duration::from_millis(2500)),
        ("2m", Duration::from_secs(120)),
        (" 10s ", Duration::from_secs(10)),
    ] {
        let config = with("VORTEX_HEARTBEAT_INTERVAL", text).unwrap();
        assert_eq!(config.interval, expected, "{text:?}");
        let config = with("VORTEX_HEARTBEAT_TIMEOUT", text).unwrap();
        assert_eq!(config.timeout, expected, "{text:?}");
    }
}

#[test]
fn unset_and_blank_variables_keep_the_defaults() {
    let defaults = HeartbeatConfig::default();
    let config = config_from(base()).unwrap();
    assert_eq!(config.interval, defaults.interval);
    assert_eq!(config.timeout, defaults.timeout);
    let config = with("VORTEX_HEARTBEAT_INTERVAL", "  ").unwrap();
    assert_eq!(config.interval, defaults.interval);
}

#[test]
fn vortex_app_wins_over_otel_service_name() {
    let mut vars = base();
    vars.push(("OTEL_SERVICE_NAME", "otel-name"));
    let config = config_from(vars).unwrap();
    assert_eq!(config.app, "payment-service");

    let mut vars = without("VORTEX_APP");
    vars.push(("OTEL_SERVICE_NAME", "otel-name"));
    let config = config_from(vars).unwrap();
    assert_eq!(config.app, "otel-name");
}

#[test]
fn vortex_profile_wins_over_the_first_spring_profile() {
    let mut vars = base();
    vars.push(("SPRING_PROFILES_ACTIVE", "staging,eu"));
    let config = config_from(vars).unwrap();
    assert_eq!(config.profile, "production");

    for (spring, expected) in [
        ("staging,eu", "staging"),
        ("kubernetes", "kubernetes"),
        (" , cloud , eu", "cloud"),
    ] {
        let mut vars = without("VORTEX_PROFILE");
        vars.push(("SPRING_PROFILES_ACTIVE", spring));
        let config = config_from(vars).unwrap();
        assert_eq!(config.profile, expected, "{spring:?}");
    }

    let mut vars = without("VORTEX_PROFILE");
    vars.push(("SPRING_PROFILES_ACTIVE", ",,"));
    let error = config_from(vars).unwrap_err();
    assert_eq!(error, ConfigError::MissingField("profile"));
}

#[test]
fn explicit_builder_values_win_over_every_variable() {
    let env = Environment::from_vars([
        ("VORTEX_URL", "http://from-env:1"),
        ("VORTEX_APP", "env-app"),
        ("OTEL_SERVICE_NAME", "otel-app"),
        ("VORTEX_PROFILE", "env-profile"),
        ("SPRING_PROFILES_ACTIVE", "spring-profile"),
        ("VORTEX_INSTANCE_ID", "env-id"),
        // Malformed, but never read: the explicit values below take their place.
        ("VORTEX_HEARTBEAT_INTERVAL", "soon"),
        ("VORTEX_HEARTBEAT_TIMEOUT", "later"),
    ]);
    let config = HeartbeatConfig::builder()
        .environment(env)
        .server_url("http://explicit:2")
        .app("explicit-app")
        .profile("explicit-profile")
        .instance_id("explicit-id")
        .interval(Duration::from_secs(9))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(config.server_url, "http://explicit:2");
    assert_eq!(config.app, "explicit-app");
    assert_eq!(config.profile, "explicit-profile");
    assert_eq!(config.instance_id, "explicit-id");
    assert_eq!(config.interval, Duration::from_secs(9));
    assert_eq!(config.timeout, Duration::from_secs(3));
}

/// `error` is `InvalidEnv` naming `var` and `value`.
#[track_caller]
fn assert_invalid_env(error: &ConfigError, var: &str, value: &str) {
    match error {
        ConfigError::InvalidEnv {
            var: v, value: got, ..
        } => {
            assert_eq!(*v, var);
            assert_eq!(got, value);
        }
        other => panic!("{var}={value:?}: expected InvalidEnv, got {other:?}"),
    }
}

#[test]
fn malformed_durations_name_the_variable_and_the_value() {
    for var in ["VORTEX_HEARTBEAT_INTERVAL", "VORTEX_HEARTBEAT_TIMEOUT"] {
        for value in ["soon", "0", "0s", "-5s", "1d", "10 parsecs", "1e999"] {
            let error = with(var, value).unwrap_err();
            assert_invalid_env(&error, var, value);
            let text = error.to_string();
            assert!(text.contains(var) && text.contains(value), "{text}");
        }
    }
}

#[test]
fn rejected_string_values_name_the_variable_and_the_value() {
    for (var, value) in [
        ("VORTEX_URL", "not a url"),
        ("VORTEX_URL", "ftp://vortex-config"),
        ("VORTEX_APP", "pay\u{7}ment"),
        ("VORTEX_PROFILE", ".."),
        ("VORTEX_INSTANCE_ID", "pod\nname"),
    ] {
        let error = with(var, value).unwrap_err();
        assert_invalid_env(&error, var, value);
        assert!(error.to_string().contains(var), "{error}");
    }
    // The fallbacks are named too.
    let too_long: &'static str = "x".repeat(300).leak();
    let mut vars = without("VORTEX_APP");
    vars.push(("OTEL_SERVICE_NAME", too_long));
    let error = config_from(vars).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::InvalidEnv {
                var: "OTEL_SERVICE_NAME",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_url_from_the_environment_never_shows_its_password() {
    let error = with("VORTEX_URL", "ftp://deploy:hunter2@vortex-config").unwrap_err();
    assert!(matches!(
        error,
        ConfigError::InvalidEnv {
            var: "VORTEX_URL",
            ..
        }
    ));
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A raw comma in a user name or password splits `VORTEX_URL` inside the userinfo: an error
/// that shows neither half of it and says to write the comma as `%2C`.
#[test]
fn a_comma_in_a_vortex_url_userinfo_is_refused_without_showing_it() {
    for (value, pieces) in [
        (
            "http://svc:S3cr3tHalfOne,HalfTwo9@vortex.invalid:8888",
            &["svc", "S3cr3tHalfOne", "HalfTwo9"][..],
        ),
        // The first half looks like a port: `http://svc:12345` parses.
        (
            "http://svc:12345,67890@vortex.invalid:8888",
            &["svc", "12345", "67890"],
        ),
        (
            "http://a.invalid:1,http://svc:Hunter,,Two@b.invalid",
            &["svc", "Hunter", "Two"],
        ),
        (
            "http://svc:Pass@Word,Tail@b.invalid",
            &["Pass", "Word", "Tail"],
        ),
        ("http://svc:Pass,Tail://x@b.invalid", &["Pass", "Tail"]),
        (
            "http://Svc,User:Password@b.invalid",
            &["Svc", "User", "Password"],
        ),
    ] {
        let error = with("VORTEX_URL", value).unwrap_err();
        let ConfigError::InvalidEnv { var, reason, .. } = &error else {
            panic!("{value}: expected InvalidEnv, got {error:#?}");
        };
        assert_eq!(*var, "VORTEX_URL");
        let shown = format!("{error} {error:?} {error:#?}");
        for piece in pieces {
            assert!(!shown.contains(piece), "{value}: {piece} in {shown}");
        }
        assert!(reason.contains("%2C"), "{value}: {reason}");
    }
}

#[test]
fn missing_settings_say_which() {
    let error = config_from([]).unwrap_err();
    assert_eq!(error, ConfigError::MissingField("server_url"));
    let error = config_from(without("VORTEX_APP")).unwrap_err();
    assert_eq!(error, ConfigError::MissingField("app"));
    let error = config_from(without("VORTEX_PROFILE")).unwrap_err();
    assert_eq!(error, ConfigError::MissingField("profile"));
}

/// The story's minimal configuration: only the server URL in code, the rest from the environment.
#[tokio::test]
async fn minimal_configuration_reports_to_the_app_and_profile_from_the_environment() {
    let rx = MockServer::start().await.unwrap();
    let env = Environment::from_vars([
        ("VORTEX_APP", "payment-service"),
        ("VORTEX_PROFILE", "production"),
        ("VORTEX_INSTANCE_ID", "payment-1"),
        LAPTOP,
    ]);
    let client = HeartbeatClient::builder()
        .server_url(rx.url())
        .environment(env)
        .build()
        .unwrap();
    client.report_now().await.unwrap();
    let reports = rx
        .wait_for_reports(1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        reports[0].path,
        "/api/drift/heartbeat/payment-service/production"
    );
    assert_eq!(reports[0].instance_id, "payment-1");
}

#[tokio::test]
async fn configuration_entirely_from_the_environment_reports() {
    let rx = MockServer::start().await.unwrap();
    let env = Environment::from_vars([
        ("VORTEX_URL", rx.url()),
        ("OTEL_SERVICE_NAME", "billing".to_owned()),
        ("SPRING_PROFILES_ACTIVE", "kubernetes,eu".to_owned()),
    ]);
    let client =
        HeartbeatClient::new(HeartbeatConfig::builder().environment(env).build().unwrap()).unwrap();
    client.report_now().await.unwrap();
    let reports = rx
        .wait_for_reports(1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reports[0].path, "/api/drift/heartbeat/billing/kubernetes");
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry identity: service.name, deployment.environment.name, service.instance.id

const URL: (&str, &str) = ("VORTEX_URL", "http://vortex-config:8888");
/// The host name an injected environment stands in for the operating system's.
const LAPTOP: (&str, &str) = ("HOSTNAME", "dev-laptop");

/// A configuration from `vars` (plus `VORTEX_URL`), on a machine called `dev-laptop`, with
/// `code` given to `resource_attributes`.
fn build(
    vars: &[(&'static str, &'static str)],
    code: &[(&str, &str)],
) -> Result<HeartbeatConfig, ConfigError> {
    let mut all = vec![URL, LAPTOP];
    all.extend_from_slice(vars);
    HeartbeatConfig::builder()
        .environment(Environment::from_vars(all))
        .resource_attributes(code.iter().copied())
        .build()
}

#[test]
fn otel_resource_attributes_give_app_profile_and_instance_id() {
    let config = build(
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=billing,deployment.environment.name=staging,service.instance.id=billing-7f9c,host.name=h1",
        )],
        &[],
    )
    .unwrap();
    assert_eq!(config.app, "billing");
    assert_eq!(config.profile, "staging");
    assert_eq!(config.instance_id, "billing-7f9c");
    // Metadata from the environment stays detection's business: it is not made explicit.
    assert_eq!(config.metadata.hostname, None);
}

#[test]
fn the_older_deployment_environment_key_is_accepted_and_the_current_one_wins() {
    let base = [("OTEL_SERVICE_NAME", "billing")];
    let old = [
        base[0],
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=legacy"),
    ];
    assert_eq!(build(&old, &[]).unwrap().profile, "legacy");
    let both = [
        base[0],
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=current,deployment.environment=legacy",
        ),
    ];
    assert_eq!(build(&both, &[]).unwrap().profile, "current");
    let in_code = [
        ("deployment.environment", "legacy"),
        ("deployment.environment.name", "current"),
    ];
    assert_eq!(build(&base, &in_code).unwrap().profile, "current");
}

/// A config builder over `URL`, `fixed` and `vars` (on `dev-laptop`), with `code` given to
/// `resource_attributes`.
fn ladder_step(
    fixed: &[(&'static str, &'static str)],
    vars: &[(&'static str, &'static str)],
    code: &[(&'static str, &'static str)],
) -> vortex_client::HeartbeatBuilder<vortex_client::HeartbeatConfig> {
    let mut all = vec![URL, LAPTOP];
    all.extend_from_slice(fixed);
    all.extend_from_slice(vars);
    HeartbeatConfig::builder()
        .environment(Environment::from_vars(all))
        .resource_attributes(code.iter().copied())
}

#[test]
fn app_precedence_explicit_vortex_code_otel_service_name_then_the_attribute() {
    let fixed = [
        ("VORTEX_PROFILE", "p"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=otel-attribute"),
    ];
    let vars = [
        ("VORTEX_APP", "vortex-app"),
        ("OTEL_SERVICE_NAME", "otel-service-name"),
    ];
    let code = [("service.name", "code-app")];
    let app =
        |b: vortex_client::HeartbeatBuilder<vortex_client::HeartbeatConfig>| b.build().unwrap().app;
    assert_eq!(
        app(ladder_step(&fixed, &vars, &code).app("explicit")),
        "explicit"
    );
    assert_eq!(app(ladder_step(&fixed, &vars, &code)), "vortex-app");
    assert_eq!(
        app(ladder_step(&fixed, &vars[1..], &code)),
        "code-app",
        "code beats the environment's OpenTelemetry variables"
    );
    assert_eq!(
        app(ladder_step(&fixed, &vars[1..], &[])),
        "otel-service-name",
        "OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES"
    );
    assert_eq!(app(ladder_step(&fixed, &[], &[])), "otel-attribute");
}

#[test]
fn profile_precedence_explicit_vortex_spring_code_then_the_attribute() {
    let fixed = [
        ("VORTEX_APP", "a"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=otel-profile",
        ),
    ];
    let vars = [
        ("VORTEX_PROFILE", "vortex-profile"),
        ("SPRING_PROFILES_ACTIVE", "spring,eu"),
    ];
    let code = [("deployment.environment.name", "code-profile")];
    let profile = |b: vortex_client::HeartbeatBuilder<vortex_client::HeartbeatConfig>| {
        b.build().unwrap().profile
    };
    assert_eq!(
        profile(ladder_step(&fixed, &vars, &code).profile("explicit")),
        "explicit"
    );
    assert_eq!(profile(ladder_step(&fixed, &vars, &code)), "vortex-profile");
    assert_eq!(profile(ladder_step(&fixed, &vars[1..], &code)), "spring");
    assert_eq!(profile(ladder_step(&fixed, &[], &code)), "code-profile");
    assert_eq!(profile(ladder_step(&fixed, &[], &[])), "otel-profile");
}

#[test]
fn instance_id_precedence_explicit_vortex_code_attribute_then_generated() {
    let fixed = [("VORTEX_APP", "a"), ("VORTEX_PROFILE", "p")];
    let otel = [("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=otel-id")];
    let vortex = [otel[0], ("VORTEX_INSTANCE_ID", "vortex-id")];
    let code = [("service.instance.id", "code-id")];
    let id = |b: vortex_client::HeartbeatBuilder<vortex_client::HeartbeatConfig>| {
        b.build().unwrap().instance_id
    };
    assert_eq!(
        id(ladder_step(&fixed, &vortex, &code).instance_id("explicit")),
        "explicit"
    );
    assert_eq!(id(ladder_step(&fixed, &vortex, &code)), "vortex-id");
    assert_eq!(id(ladder_step(&fixed, &otel, &code)), "code-id");
    assert_eq!(id(ladder_step(&fixed, &otel, &[])), "otel-id");
    let generated = id(ladder_step(&fixed, &[], &[]));
    assert!(generated.starts_with("dev-laptop-"), "{generated}");
}

#[test]
fn the_sdk_placeholder_service_name_is_not_an_app() {
    for placeholder in ["unknown_service", "unknown_service:payment-bin"] {
        let error = build(
            &[("VORTEX_PROFILE", "p"), ("OTEL_SERVICE_NAME", placeholder)],
            &[],
        )
        .unwrap_err();
        assert_eq!(error, ConfigError::MissingField("app"), "{placeholder}");
        // A placeholder in code lets the environment's real name through.
        let config = build(
            &[("VORTEX_PROFILE", "p"), ("OTEL_SERVICE_NAME", "billing")],
            &[("service.name", placeholder)],
        )
        .unwrap();
        assert_eq!(config.app, "billing", "{placeholder}");
    }
}

#[test]
fn a_malformed_otel_variable_gives_no_identity() {
    let error = build(
        &[
            ("VORTEX_PROFILE", "p"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,broken"),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(error, ConfigError::MissingField("app"));
}

#[test]
fn rejected_otel_identity_values_name_their_source() {
    let error = build(
        &[
            ("VORTEX_APP", "a"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=.."),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::InvalidEnv {
            var: "OTEL_RESOURCE_ATTRIBUTES",
            value: "deployment.environment.name=..".into(),
            reason: "\"..\" cannot be used as a path segment".into(),
        }
    );
    assert!(error.to_string().contains(".profile(..)"), "{error}");
    let error = build(
        &[("VORTEX_PROFILE", "p")],
        &[("service.name", "pay\u{7}ment")],
    )
    .unwrap_err();
    match &error {
        ConfigError::InvalidValue {
            field: "app",
            reason,
        } => {
            assert!(
                reason.contains("service.name given to .resource_attributes(..)"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidValue for app, got {other:#?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The generated instance id is filled by build() and is the one sent

#[test]
fn the_config_builder_fills_the_generated_instance_id() {
    let laptop = build(&[("VORTEX_APP", "a"), ("VORTEX_PROFILE", "p")], &[]).unwrap();
    let suffix = laptop
        .instance_id
        .strip_prefix("dev-laptop-")
        .expect(&laptop.instance_id);
    assert_eq!(suffix.len(), 8, "{}", laptop.instance_id);
    let pod = build(
        &[
            ("VORTEX_APP", "a"),
            ("VORTEX_PROFILE", "p"),
            ("POD_NAME", "api-7d4f9b8c-abc12"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(pod.instance_id, "api-7d4f9b8c-abc12");
    // A configuration without an id still gets one from the client.
    let bare = HeartbeatConfig {
        server_url: "http://127.0.0.1:9".into(),
        app: "a".into(),
        profile: "p".into(),
        environment: Environment::from_vars([("HOSTNAME", "bare-host")]),
        ..HeartbeatConfig::default()
    };
    let client = HeartbeatClient::new(bare).unwrap();
    assert!(
        client.config().instance_id.starts_with("bare-host-"),
        "{}",
        client.config().instance_id
    );
}

#[tokio::test]
async fn the_built_instance_id_is_the_one_the_server_receives() {
    let server = MockServer::start().await.unwrap();
    let config = HeartbeatConfig::builder()
        .environment(Environment::from_vars([LAPTOP]))
        .server_url(server.url())
        .app("payment-service")
        .profile("production")
        .build()
        .unwrap();
    assert!(
        config.instance_id.starts_with("dev-laptop-"),
        "{}",
        config.instance_id
    );
    let client = HeartbeatClient::new(config.clone()).unwrap();
    assert_eq!(client.config().instance_id, config.instance_id);
    client.report_now().await.unwrap();
    let report = server.next_report(Duration::from_secs(5)).await.unwrap();
    assert_eq!(report.instance_id, config.instance_id);

    // Through the client builder too, and from an OTel attribute.
    let client = HeartbeatClient::builder()
        .environment(Environment::from_vars([(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.instance.id=otel-7f9c",
        )]))
        .server_url(server.url())
        .app("payment-service")
        .profile("production")
        .build()
        .unwrap();
    client.report_now().await.unwrap();
    let report = server.next_report(Duration::from_secs(5)).await.unwrap();
    assert_eq!(report.instance_id, "otel-7f9c");
}

// ---------------------------------------------------------------------------------------------
// Error messages: the setting, its builder method and its variable, through `?` in main too

fn missing(vars: &[(&'static str, &'static str)]) -> ConfigError {
    config_from(vars.iter().copied()).unwrap_err()
}

#[test]
fn a_missing_setting_names_its_builder_method_and_variable() {
    let url = missing(&[]);
    assert_eq!(
        url.to_string(),
        "server_url is not set: call .server_url(..) on the builder or set VORTEX_URL"
    );
    let app = missing(&[URL]);
    assert_eq!(
        app.to_string(),
        "app is not set: call .app(..) on the builder or set VORTEX_APP \
         (or OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES)"
    );
    let profile = missing(&[URL, ("VORTEX_APP", "a")]);
    assert_eq!(
        profile.to_string(),
        "profile is not set: call .profile(..) on the builder or set VORTEX_PROFILE \
         (or SPRING_PROFILES_ACTIVE, or deployment.environment.name in OTEL_RESOURCE_ATTRIBUTES)"
    );
}

#[test]
fn debug_reads_like_the_message_as_main_prints_it() {
    let error = missing(&[]);
    assert_eq!(format!("{error:?}"), error.to_string());
    // What `fn main() -> Result<(), Box<dyn Error>>` prints when `build()?` fails.
    let boxed: Box<dyn std::error::Error> = error.clone().into();
    assert_eq!(
        format!("Error: {boxed:?}"),
        "Error: server_url is not set: call .server_url(..) on the builder or set VORTEX_URL"
    );
    // A match on the variant gives the structure.
    assert_eq!(error, ConfigError::MissingField("server_url"));
}

#[test]
fn an_invalid_value_names_its_builder_method_and_variable() {
    let error = HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url("http://vortex-config:8888")
        .app("..")
        .profile("p")
        .build()
        .unwrap_err();
    assert_eq!(
        format!("{error:?}"),
        "invalid app: \"..\" cannot be used as a path segment (call .app(..) on the builder or \
         set VORTEX_APP (or OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES))"
    );
    let error = with("VORTEX_HEARTBEAT_INTERVAL", "soon").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid environment variable VORTEX_HEARTBEAT_INTERVAL=\"soon\": expected a positive \
         duration of at most 24 hours, such as 30s, 500ms, 2m or plain seconds (fix or unset \
         VORTEX_HEARTBEAT_INTERVAL, or call .interval(..) on the builder, which takes precedence)"
    );
    for (var, value, method) in [
        ("VORTEX_URL", "ftp://vortex-config", ".server_url(..)"),
        ("VORTEX_APP", "..", ".app(..)"),
        ("VORTEX_PROFILE", "..", ".profile(..)"),
        ("VORTEX_INSTANCE_ID", "pod\nname", ".instance_id(..)"),
        ("VORTEX_HEARTBEAT_TIMEOUT", "0", ".timeout(..)"),
    ] {
        let text = format!("{:?}", with(var, value).unwrap_err());
        assert!(text.contains(var) && text.contains(method), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The server URL and the names

fn config_error(url: &str) -> String {
    HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url(url)
        .app("app")
        .profile("prod")
        .build()
        .unwrap_err()
        .to_string()
}

/// A refused server URL is shown without its query or fragment, which may hold a secret.
#[test]
fn a_refused_url_does_not_echo_its_query() {
    for url in [
        "http://h/gw?token=s3cr3t-q",
        "http://u:pw-s3cr3t@h/gw?token=s3cr3t-q",
        "http://h/gw#token=s3cr3t-q",
    ] {
        let err = config_error(url);
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("http://"), "the URL is shown: {err}");
    }
    let err = config_error("http://h/gw?token=s3cr3t-q");
    assert!(err.contains("has a query"), "{err}");
    assert!(err.contains("http://h/gw"), "{err}");
}

/// The heartbeat endpoint given as the server URL, in code or in `VORTEX_URL`, is refused with
/// a pointer to the base address.
#[test]
fn a_heartbeat_endpoint_as_the_server_url_is_refused() {
    for url in [
        "http://host:8888/api/drift/heartbeat/myservice/prod",
        "http://host:8888/gw/api/drift/heartbeat",
        "http://host:8888/api/drift/heartbeat/",
    ] {
        let err = config_error(url);
        assert!(err.contains("/api/drift/heartbeat"), "{err}");
        assert!(err.contains("base address"), "{err}");
    }
    let env = Environment::from_vars([
        (
            "VORTEX_URL",
            "http://host:8888/api/drift/heartbeat/myservice/prod",
        ),
        ("VORTEX_APP", "myservice"),
        ("VORTEX_PROFILE", "prod"),
    ]);
    let err = HeartbeatConfig::builder()
        .environment(env)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("VORTEX_URL") && err.contains("base address"),
        "{err}"
    );
}

/// The path a report takes to a mock server under `/gw`, from a server URL in which `{addr}`
/// stands for the mock's address.
async fn heartbeat_path(server_url: &str) -> String {
    let rx = MockServer::builder()
        .path_prefix("/gw")
        .start()
        .await
        .unwrap();
    let url = server_url.replace("{addr}", &rx.addr().to_string());
    let c = client(&url).build().unwrap();
    c.report_now().await.unwrap();
    rx.last_report().unwrap().path
}

/// A path prefix joins the heartbeat path with exactly one slash, whatever trailing slashes it
/// has.
#[tokio::test]
async fn a_prefix_joins_with_exactly_one_slash() {
    for url in [
        "http://{addr}/gw",
        "http://{addr}/gw/",
        "http://{addr}/gw//",
    ] {
        assert_eq!(
            heartbeat_path(url).await,
            "/gw/api/drift/heartbeat/app/prod",
            "{url}"
        );
    }
}

/// An app or profile name with a space is sent as written (the server takes any segment),
/// with one warning at build() naming the character and its position.
#[tokio::test(flavor = "current_thread")]
async fn a_name_with_a_space_warns_once() {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).app("my service").build().unwrap();
    c.report_now().await.unwrap();
    let warnings = logs.lines("WARN", "my service");
    assert_eq!(warnings.len(), 1, "{}", logs.text());
    assert!(warnings[0].contains("position 3"), "{}", warnings[0]);
    let report = rx.last_report().unwrap();
    assert_eq!(report.app, "my service");
    let plain = client(&rx.url()).app("my-service").build().unwrap();
    drop(plain);
    assert!(
        logs.lines("WARN", "my-service").is_empty(),
        "{}",
        logs.text()
    );
}
