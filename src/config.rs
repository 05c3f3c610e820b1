//! Configuration: [`HeartbeatConfig`], its builder, validation and environment fallbacks.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::env::Environment;
use crate::metadata::InstanceMetadata;
use crate::Health;

/// The server forgets an instance that has not reported for this long (its default TTL).
pub(crate) const SERVER_INSTANCE_TTL: Duration = Duration::from_secs(300);
/// Longest accepted `app`, `profile` or `instance_id`, in bytes.
pub const MAX_NAME_LEN: usize = 253;
/// Longest accepted configuration version, in bytes.
pub const MAX_VERSION_LEN: usize = 256;
/// Most custom labels accepted.
pub const MAX_LABELS: usize = 64;
/// Longest accepted custom label key, in bytes.
pub const MAX_LABEL_KEY_LEN: usize = 128;
/// Longest accepted custom label value (and detected metadata value), in bytes.
pub const MAX_LABEL_VALUE_LEN: usize = 1024;
/// Longest accepted `server_url`, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Most extra headers accepted (see [`HeartbeatBuilder::header`]).
pub const MAX_HEADERS: usize = 32;
/// Longest accepted extra header value or bearer token, in bytes.
pub const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;
/// Longest accepted duration setting: `interval`, `timeout`, `connect_timeout`,
/// `initial_retry_delay`, `max_retry_delay`, `min_report_gap` and `stop_grace` (24 hours).
///
/// Anything longer is a mistake (the server forgets an instance after 5 minutes of silence),
/// and a bound keeps every deadline the client computes far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Shortest accepted `interval` and `initial_retry_delay`: anything shorter would turn the
/// worker into a busy loop against the server.
pub const MIN_PERIOD: Duration = Duration::from_millis(1);
/// Room left in the request body for detected metadata (host name, pod, region, ...) when
/// explicit metadata is checked against [`MAX_REQUEST_BYTES`](crate::reporter::MAX_REQUEST_BYTES).
const DETECTED_METADATA_ALLOWANCE: usize = 8 * 1024;
/// Headers the client sets itself or that control the HTTP framing: `header()` cannot override
/// them.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// Everything a [`HeartbeatClient`](crate::HeartbeatClient) needs to know.
///
/// Build it with [`HeartbeatConfig::builder`] (validated, with environment fallbacks) or as a
/// struct literal over [`Default`]; [`HeartbeatClient::new`](crate::HeartbeatClient::new)
/// validates it either way.
///
/// ```
/// use std::time::Duration;
/// use vortex_client::HeartbeatConfig;
///
/// let config = HeartbeatConfig {
///     server_url: "http://localhost:8080".into(),
///     app: "payment-service".into(),
///     profile: "production".into(),
///     interval: Duration::from_secs(15),
///     ..Default::default()
/// };
/// assert_eq!(config.timeout, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct HeartbeatConfig {
    /// Base URL of the Vortex Config server, e.g. `http://vortex-config:8080`. May carry a path
    /// prefix (`https://gateway.example/config`) and userinfo (never logged).
    pub server_url: String,
    /// Application name: the `{app}` path segment.
    pub app: String,
    /// Profile, e.g. `production`: the `{profile}` path segment.
    pub profile: String,
    /// Unique id of this instance, stable for the life of the process. Empty means generated:
    /// the Kubernetes pod name, else the host name plus a random suffix.
    pub instance_id: String,
    /// The configuration version reported until [`set_config_version`] is called.
    /// Default `"unknown"`.
    ///
    /// [`set_config_version`]: crate::HeartbeatClient::set_config_version
    pub config_version: String,
    /// The health reported until it is changed. Default [`Health::Healthy`].
    pub health: Health,
    /// Time between periodic reports (jittered, see [`crate::schedule`]). Default 30 s.
    pub interval: Duration,
    /// Total time one HTTP attempt may take, body included. Default 5 s.
    pub timeout: Duration,
    /// Time to establish a connection. Default 2 s.
    pub connect_timeout: Duration,
    /// Attempts one [`report_now`](crate::HeartbeatClient::report_now) call makes. Default 3.
    pub max_retries: u32,
    /// Backoff delay after the first failure. Default 1 s.
    pub initial_retry_delay: Duration,
    /// Longest backoff delay. Default 60 s.
    pub max_retry_delay: Duration,
    /// Minimum gap between on-demand reports once the burst is spent. Default 1 s.
    pub min_report_gap: Duration,
    /// On-demand reports allowed at once before [`min_report_gap`](Self::min_report_gap)
    /// applies. Default 3.
    pub report_burst: u32,
    /// How long [`stop`](crate::HeartbeatClient::stop) lets a request already in flight finish.
    /// Default 1 s.
    pub stop_grace: Duration,
    /// Explicit metadata. Its fields win over detected ones; `custom` holds the labels set with
    /// the builder's `metadata(key, value)`.
    pub metadata: InstanceMetadata,
    /// Whether to detect hostname, IP, region and Kubernetes facts. Default `true`.
    pub auto_detect_metadata: bool,
    /// Bearer token sent as `Authorization: Bearer ...` on every request. Never logged.
    pub bearer_token: Option<String>,
    /// Extra headers sent on every request (e.g. for a gateway). Values are never logged.
    pub headers: Vec<(String, String)>,
    /// Extra trusted root certificates, PEM encoded, for servers behind a private CA.
    pub root_certificates: Vec<Vec<u8>>,
    /// Where environment variables and files are read from. Default: the process.
    pub environment: Environment,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            server_url: String::new(),
            app: String::new(),
            profile: String::new(),
            instance_id: String::new(),
            config_version: "unknown".to_owned(),
            health: Health::Healthy,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_retries: 3,
            initial_retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(60),
            min_report_gap: Duration::from_secs(1),
            report_burst: 3,
            stop_grace: Duration::from_secs(1),
            metadata: InstanceMetadata::default(),
            auto_detect_metadata: true,
            bearer_token: None,
            headers: Vec::new(),
            root_certificates: Vec::new(),
            environment: Environment::process(),
        }
    }
}

impl fmt::Debug for HeartbeatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HeartbeatConfig")
            .field("server_url", &redact_url(&self.server_url))
            .field("app", &self.app)
            .field("profile", &self.profile)
            .field("instance_id", &self.instance_id)
            .field("config_version", &self.config_version)
            .field("health", &self.health)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_retry_delay", &self.initial_retry_delay)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("min_report_gap", &self.min_report_gap)
            .field("report_burst", &self.report_burst)
            .field("stop_grace", &self.stop_grace)
            .field("metadata", &self.metadata)
            .field("auto_detect_metadata", &self.auto_detect_metadata)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "headers",
                &format_args!("{header_names:?} (values redacted)"),
            )
            .field("root_certificates", &self.root_certificates.len())
            .field("environment", &self.environment)
            .finish()
    }
}

/// Replaces what may be the userinfo of a URL (`user:password@`) with `***@`.
///
/// Conservative, so that it also protects malformed input: everything between `://` and the
/// *last* `@` is hidden (everything before the last `@` when there is no `://` before it). A
/// well-formed URL loses exactly its userinfo, since validation rejects `@` anywhere else.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let start = url[..at].find("://").map_or(0, |i| i + 3);
    format!("{}***@{}", &url[..start], &url[at + 1..])
}

/// At most 64 characters of `value`, quoted, for an error message that must stay short.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}... ({} bytes)", value.len())
    } else {
        format!("{head:?}")
    }
}

/// A setting that is wrong, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting was given neither to the builder nor through the environment.
    #[error("missing required setting `{0}`: set it on the builder or through its environment variable (see the README)")]
    MissingField(&'static str),
    /// A setting has a value the SDK cannot use.
    #[error("invalid `{field}`: {reason}")]
    InvalidValue {
        /// The setting.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An environment variable holds a value the SDK cannot use.
    #[error("invalid environment variable {var}={}: {reason}", excerpt(.value))]
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// Its value (shortened in the message).
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The HTTP client could not be built (e.g. an unusable root certificate).
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// The blocking client could not start its thread or that thread's runtime (e.g. the
    /// process is out of threads or file descriptors).
    #[error("cannot start the heartbeat thread: {0}")]
    Runtime(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        field,
        reason: reason.into(),
    }
}

/// Checks a name that becomes a path segment or an id.
pub(crate) fn check_name(
    field: &'static str,
    value: &str,
    allow_empty: bool,
) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return if allow_empty && value.is_empty() {
            Ok(())
        } else if value.is_empty() {
            Err(ConfigError::MissingField(field))
        } else {
            Err(invalid(field, "must not be blank"))
        };
    }
    check_text(field, value, MAX_NAME_LEN)
}

/// Checks `app` or `profile`, which travel as one percent-encoded path segment.
pub(crate) fn check_segment(field: &'static str, value: &str) -> Result<(), ConfigError> {
    check_name(field, value, false)?;
    // URL parsers resolve these as relative path segments (the `%2E` forms are safe: `%` is
    // encoded as `%25`), so they cannot travel as a segment without changing the path's shape.
    if value == "." || value == ".." {
        return Err(invalid(
            field,
            format!("{value:?} cannot be used as a path segment"),
        ));
    }
    Ok(())
}

/// Bounded length and no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.len() > max {
        return Err(invalid(
            field,
            format!("is {} bytes long; at most {max} are allowed", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a configuration version (builder value or `set_config_version`).
pub(crate) fn check_version(value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid("config_version", "must not be empty or blank"));
    }
    check_text("config_version", value, MAX_VERSION_LEN)
}

/// Parses and checks `server_url`: bounded, http(s), a host, no query or fragment, and no `@`
/// outside the userinfo (an unencoded `/` in a password would otherwise leak it into the path).
pub(crate) fn parse_server_url(raw: &str) -> Result<reqwest::Url, ConfigError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::MissingField("server_url"));
    }
    if trimmed.len() > MAX_URL_LEN {
        return Err(invalid(
            "server_url",
            format!(
                "is {} bytes long; at most {MAX_URL_LEN} are allowed",
                trimmed.len()
            ),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(
            "server_url",
            "must not contain control characters (a stray newline or tab?)",
        ));
    }
    let shown = excerpt(&redact_url(trimmed));
    let url = reqwest::Url::parse(trimmed).map_err(|e| {
        invalid(
            "server_url",
            format!("{shown} is not a URL ({e}); expected e.g. http://vortex-config:8080"),
        )
    })?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(any(feature = "rustls", feature = "rustls-ring")) => {}
        "https" => {
            return Err(invalid(
                "server_url",
                format!("{shown} uses https, but the crate was built without a TLS feature; enable the `rustls-ring` or `rustls` feature"),
            ))
        }
        _ => {
            // The scheme is not echoed: in `user:password@host` the parser takes `user` for it.
            return Err(invalid(
                "server_url",
                format!("{shown} does not start with http:// or https://; only http and https are supported"),
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("server_url", format!("{shown} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "server_url",
            format!("{shown} must not have a query or fragment: give only the base URL"),
        ));
    }
    if url.path().contains('@') {
        return Err(invalid(
            "server_url",
            format!("{shown} has an `@` in its path; in a user name or password, percent-encode `/`, `?`, `#` and `@` (e.g. `/` as %2F)"),
        ));
    }
    Ok(url)
}

/// Checks `headers` and `bearer_token`: valid, bounded, not overriding what the client sets,
/// and at most one source for the `Authorization` header.
fn check_auth(config: &HeartbeatConfig, url: &reqwest::Url) -> Result<(), ConfigError> {
    use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};

    if config.headers.len() > MAX_HEADERS {
        return Err(invalid(
            "headers",
            format!(
                "{} extra headers; at most {MAX_HEADERS} are allowed",
                config.headers.len()
            ),
        ));
    }
    let userinfo = !url.username().is_empty() || url.password().is_some();
    let mut authorization_header = false;
    for (name, value) in &config.headers {
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            invalid(
                "headers",
                format!(
                    "{} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only: no spaces, colons or control characters)",
                    excerpt(name)
                ),
            )
        })?;
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            return Err(invalid(
                "headers",
                format!("{parsed} is set by the client itself and cannot be overridden"),
            ));
        }
        // Never echo a header value: it may be a secret.
        if value.len() > MAX_HEADER_VALUE_LEN {
            return Err(invalid(
                "headers",
                format!(
                    "the value of {parsed} is {} bytes long; at most {MAX_HEADER_VALUE_LEN} are allowed",
                    value.len()
                ),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(invalid(
                "headers",
                format!("the value of {parsed} is not a valid header value (control characters such as a newline?)"),
            ));
        }
        authorization_header |= parsed == AUTHORIZATION;
    }
    if let Some(token) = &config.bearer_token {
        if token.trim().is_empty() {
            return Err(invalid("bearer_token", "must not be empty or blank"));
        }
        if token.len() > MAX_HEADER_VALUE_LEN {
            return Err(invalid(
                "bearer_token",
                format!(
                    "is {} bytes long; at most {MAX_HEADER_VALUE_LEN} are allowed",
                    token.len()
                ),
            ));
        }
        if HeaderValue::from_str(token).is_err() {
            return Err(invalid(
                "bearer_token",
                "is not a valid header value (control characters such as a trailing newline?)",
            ));
        }
        if authorization_header {
            return Err(invalid(
                "bearer_token",
                "an Authorization header is also set with header(): set one or the other",
            ));
        }
    }
    if userinfo && (config.bearer_token.is_some() || authorization_header) {
        return Err(invalid(
            "server_url",
            "carries a user name or password, which is sent as HTTP Basic authentication in the Authorization header, and a bearer_token or Authorization header is set too: keep one",
        ));
    }
    Ok(())
}

impl HeartbeatConfig {
    /// A builder that validates the configuration and fills unset values from the environment.
    pub fn builder() -> HeartbeatBuilder<HeartbeatConfig> {
        HeartbeatBuilder::new()
    }

    /// A configuration read entirely from the process environment (`VORTEX_URL`, `VORTEX_APP`,
    /// `VORTEX_PROFILE`, ...; see the README).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_env() -> Result<HeartbeatConfig, ConfigError> {
        Self::builder().build()
    }

    /// Like [`HeartbeatConfig::from_env`], reading from the given [`Environment`].
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_environment(env: Environment) -> Result<HeartbeatConfig, ConfigError> {
        Self::builder().environment(env).build()
    }

    /// Checks every setting; [`HeartbeatClient::new`](crate::HeartbeatClient::new) calls this.
    ///
    /// The limits are those of the builder's methods (see [`HeartbeatBuilder`]): required names
    /// not blank and bounded, no control characters anywhere, durations non-zero and at most
    /// [`MAX_DURATION`], a bounded label set and request body, valid extra headers and PEM root
    /// certificates, and at most one source of the `Authorization` header.
    ///
    /// # Errors
    ///
    /// The first problem found, saying what to fix. Error messages never echo a header value
    /// or token, show URLs without userinfo, and quote at most 64 characters of any value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = parse_server_url(&self.server_url)?;
        check_segment("app", &self.app)?;
        check_segment("profile", &self.profile)?;
        check_name("instance_id", &self.instance_id, true)?;
        check_version(&self.config_version)?;
        for (field, d, zero_allowed) in [
            ("interval", self.interval, false),
            ("timeout", self.timeout, false),
            ("connect_timeout", self.connect_timeout, false),
            ("initial_retry_delay", self.initial_retry_delay, false),
            ("max_retry_delay", self.max_retry_delay, false),
            ("min_report_gap", self.min_report_gap, true),
            ("stop_grace", self.stop_grace, true),
        ] {
            if d.is_zero() && !zero_allowed {
                return Err(invalid(field, "must be greater than zero"));
            }
            if d > MAX_DURATION {
                return Err(invalid(
                    field,
                    format!("{d:?} is longer than the limit of 24 hours"),
                ));
            }
        }
        for (field, d) in [
            ("interval", self.interval),
            ("initial_retry_delay", self.initial_retry_delay),
        ] {
            if d < MIN_PERIOD {
                return Err(invalid(
                    field,
                    format!("{d:?} is shorter than the minimum of {MIN_PERIOD:?}"),
                ));
            }
        }
        if self.initial_retry_delay > self.max_retry_delay {
            return Err(invalid(
                "initial_retry_delay",
                format!(
                    "{:?} is longer than max_retry_delay {:?}",
                    self.initial_retry_delay, self.max_retry_delay
                ),
            ));
        }
        if self.max_retries == 0 {
            return Err(invalid(
                "max_retries",
                "must be at least 1 (it counts attempts)",
            ));
        }
        if self.report_burst == 0 {
            return Err(invalid("report_burst", "must be at least 1"));
        }
        if self.metadata.custom.len() > MAX_LABELS {
            return Err(invalid(
                "metadata",
                format!(
                    "{} custom labels; at most {MAX_LABELS} are allowed",
                    self.metadata.custom.len()
                ),
            ));
        }
        for (k, v) in &self.metadata.custom {
            if k.is_empty() {
                return Err(invalid("metadata", "a custom label key is empty"));
            }
            check_text("metadata", k, MAX_LABEL_KEY_LEN)?;
            check_text("metadata", v, MAX_LABEL_VALUE_LEN)?;
        }
        for value in [
            &self.metadata.hostname,
            &self.metadata.ip_address,
            &self.metadata.region,
            &self.metadata.kubernetes_pod,
            &self.metadata.kubernetes_namespace,
            &self.metadata.app_version,
        ]
        .into_iter()
        .flatten()
        {
            check_text("metadata", value, MAX_LABEL_VALUE_LEN)?;
        }
        self.check_body_size()?;
        check_auth(self, &url)?;
        crate::reporter::parse_root_certificates(&self.root_certificates)?;
        Ok(())
    }

    /// Rejects explicit metadata so large that a report carrying the longest allowed version
    /// and instance id, plus detected metadata, would not fit in
    /// [`MAX_REQUEST_BYTES`](crate::reporter::MAX_REQUEST_BYTES).
    fn check_body_size(&self) -> Result<(), ConfigError> {
        let limit = crate::reporter::MAX_REQUEST_BYTES - DETECTED_METADATA_ALLOWANCE;
        let longest_id;
        let instance_id = if self.instance_id.is_empty() {
            longest_id = "i".repeat(MAX_NAME_LEN);
            &longest_id
        } else {
            &self.instance_id
        };
        let longest_version = "v".repeat(MAX_VERSION_LEN);
        let size = serde_json::to_vec(&crate::reporter::HeartbeatRequest {
            instance_id,
            config_version: &longest_version,
            metadata: &self.metadata,
            health: Health::Unhealthy,
        })
        .map_or(usize::MAX, |body| body.len());
        if size > limit {
            return Err(invalid(
                "metadata",
                format!("explicit metadata makes a report of up to {size} bytes; at most {limit} are allowed (the request body is capped at {} bytes, with room kept for detected metadata)", crate::reporter::MAX_REQUEST_BYTES),
            ));
        }
        Ok(())
    }

    /// Warnings about settings that work but are probably not what the user wants.
    pub(crate) fn warn_if_questionable(&self) {
        if self.interval >= SERVER_INSTANCE_TTL.mul_f64(0.8) {
            tracing::warn!(
                interval = ?self.interval,
                "the heartbeat interval is close to or above the server's 5-minute instance TTL: healthy instances may vanish from the drift report"
            );
        }
        if self.max_retry_delay >= SERVER_INSTANCE_TTL.mul_f64(0.8) {
            tracing::warn!(
                max_retry_delay = ?self.max_retry_delay,
                "the backoff cap is close to or above the server's 5-minute instance TTL: after an outage instances may vanish from the drift report until their next attempt"
            );
        }
        if let Ok(url) = parse_server_url(&self.server_url) {
            let userinfo = !url.username().is_empty() || url.password().is_some();
            let authorization = self
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
            if url.scheme() == "http" && (userinfo || authorization || self.bearer_token.is_some())
            {
                tracing::warn!(
                    url = %redact_url(&self.server_url),
                    "credentials are sent in clear text over http: use an https server_url"
                );
            }
        }
    }
}

/// Builds a [`HeartbeatConfig`] or, through [`HeartbeatClient::builder`], a client.
///
/// Explicit calls win; settings left unset are read from the builder's [`Environment`] (the
/// process by default) when [`build`](HeartbeatBuilder::build) runs:
///
/// | setting | variables |
/// |---|---|
/// | `server_url` | `VORTEX_URL` |
/// | `app` | `VORTEX_APP`, else `OTEL_SERVICE_NAME` |
/// | `profile` | `VORTEX_PROFILE`, else the first of `SPRING_PROFILES_ACTIVE` |
/// | `instance_id` | `VORTEX_INSTANCE_ID` |
/// | `interval` | `VORTEX_HEARTBEAT_INTERVAL` (`30s`, `500ms`, `2m` or plain seconds) |
/// | `timeout` | `VORTEX_HEARTBEAT_TIMEOUT` (same forms) |
///
/// [`HeartbeatClient::builder`]: crate::HeartbeatClient::builder
///
/// ```
/// use std::time::Duration;
/// use vortex_client::{Environment, HeartbeatConfig};
///
/// let env = Environment::from_vars([("VORTEX_APP", "billing"), ("VORTEX_HEARTBEAT_INTERVAL", "15s")]);
/// let config = HeartbeatConfig::builder()
///     .environment(env)
///     .server_url("http://localhost:8080")
///     .profile("production")
///     .build()?;
/// assert_eq!(config.app, "billing");
/// assert_eq!(config.interval, Duration::from_secs(15));
/// # Ok::<(), vortex_client::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct HeartbeatBuilder<T> {
    config: HeartbeatConfig,
    set: Explicit,
    target: PhantomData<fn() -> T>,
}

/// Which env-overridable settings were set explicitly.
#[derive(Debug, Default, Clone, Copy)]
struct Explicit {
    interval: bool,
    timeout: bool,
}

impl<T> fmt::Debug for HeartbeatBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeartbeatBuilder")
            .field("config", &self.config)
            .finish()
    }
}

impl<T> Default for HeartbeatBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> HeartbeatBuilder<T> {
    /// A builder with every default.
    pub fn new() -> Self {
        Self {
            config: HeartbeatConfig::default(),
            set: Explicit::default(),
            target: PhantomData,
        }
    }

    /// Base URL of the Vortex Config server (required, or `VORTEX_URL`): http or https, a host,
    /// optionally a path prefix and userinfo; no query or fragment; at most
    /// [`MAX_URL_LEN`] bytes. Userinfo (`http://user:password@host`) is sent as HTTP Basic
    /// authentication and never logged; percent-encode `/`, `?`, `#` and `@` inside it.
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.config.server_url = url.into();
        self
    }

    /// Application name (required, or `VORTEX_APP` / `OTEL_SERVICE_NAME`): not blank, at most
    /// [`MAX_NAME_LEN`] bytes, no control characters, not `.` or `..`. Percent-encoded as one
    /// path segment.
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.config.app = app.into();
        self
    }

    /// Profile, e.g. `production` (required, or `VORTEX_PROFILE` / `SPRING_PROFILES_ACTIVE`).
    /// Same rules as [`app`](Self::app).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.config.profile = profile.into();
        self
    }

    /// Instance id; generated when absent (see [`HeartbeatConfig::instance_id`]). At most
    /// [`MAX_NAME_LEN`] bytes, no control characters.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.instance_id = id.into();
        self
    }

    /// The initial configuration version. Default `"unknown"`. Not blank, at most
    /// [`MAX_VERSION_LEN`] bytes, no control characters.
    pub fn config_version(mut self, version: impl Into<String>) -> Self {
        self.config.config_version = version.into();
        self
    }

    /// The initial health. Default [`Health::Healthy`].
    pub fn health(mut self, health: Health) -> Self {
        self.config.health = health;
        self
    }

    /// Time between periodic reports. Default 30 s; non-zero, at most [`MAX_DURATION`]. A
    /// warning is logged when it approaches the server's 5-minute instance TTL.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = interval;
        self.set.interval = true;
        self
    }

    /// Total time one HTTP attempt may take, body included. Default 5 s; non-zero, at most
    /// [`MAX_DURATION`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self.set.timeout = true;
        self
    }

    /// Time to establish a connection (bounded by the total timeout). Default 2 s; non-zero,
    /// at most [`MAX_DURATION`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Attempts one `report_now()` call makes. Default 3.
    pub fn max_retries(mut self, attempts: u32) -> Self {
        self.config.max_retries = attempts;
        self
    }

    /// Backoff delay after the first failure. Default 1 s; non-zero, at most
    /// [`max_retry_delay`](Self::max_retry_delay).
    pub fn initial_retry_delay(mut self, delay: Duration) -> Self {
        self.config.initial_retry_delay = delay;
        self
    }

    /// Longest backoff delay. Default 60 s; at most [`MAX_DURATION`]. A warning is logged when
    /// it approaches the server's 5-minute instance TTL.
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.config.max_retry_delay = delay;
        self
    }

    /// Minimum gap between on-demand reports once the burst is spent. Default 1 s; at most
    /// [`MAX_DURATION`].
    pub fn min_report_gap(mut self, gap: Duration) -> Self {
        self.config.min_report_gap = gap;
        self
    }

    /// On-demand reports allowed at once. Default 3.
    pub fn report_burst(mut self, burst: u32) -> Self {
        self.config.report_burst = burst;
        self
    }

    /// How long `stop()` lets a request in flight finish. Default 1 s; at most
    /// [`MAX_DURATION`].
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.config.stop_grace = grace;
        self
    }

    /// Adds a custom label, sent under `metadata.custom`. At most [`MAX_LABELS`] labels, keys
    /// of at most [`MAX_LABEL_KEY_LEN`] bytes, values of at most [`MAX_LABEL_VALUE_LEN`], no
    /// control characters; all explicit metadata together must leave the request body (capped
    /// at 32 KiB) 8 KiB for detected metadata.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.metadata.custom.insert(key.into(), value.into());
        self
    }

    /// Sets explicit metadata fields; any field set here wins over detection.
    pub fn instance_metadata(mut self, metadata: InstanceMetadata) -> Self {
        let labels = std::mem::take(&mut self.config.metadata.custom);
        self.config.metadata = metadata;
        for (k, v) in labels {
            self.config.metadata.custom.entry(k).or_insert(v);
        }
        self
    }

    /// The application's own version, e.g. `.app_version(env!("CARGO_PKG_VERSION"))`.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.config.metadata.app_version = Some(version.into());
        self
    }

    /// Disables detection: only explicit metadata is sent.
    pub fn disable_auto_detect(mut self) -> Self {
        self.config.auto_detect_metadata = false;
        self
    }

    /// Sends `Authorization: Bearer <token>` on every request. Never logged, never shown in
    /// `Debug` or errors. At most [`MAX_HEADER_VALUE_LEN`] bytes, no control characters; cannot
    /// be combined with userinfo in `server_url` or an `Authorization` header.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.config.bearer_token = Some(token.into());
        self
    }

    /// Sends an extra header on every request (e.g. for a gateway). Its value is never logged,
    /// never shown in `Debug` or errors.
    ///
    /// At most [`MAX_HEADERS`] headers; a valid header name; a value of at most
    /// [`MAX_HEADER_VALUE_LEN`] bytes without control characters. Headers the client sets
    /// itself (`Content-Type`, `Accept`, `User-Agent`) and connection-level ones (`Host`,
    /// `Content-Length`, `Transfer-Encoding`, `Connection`, ...) cannot be set.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// Trusts an extra root certificate (PEM; a bundle of several is fine), for a server
    /// behind a private CA. For https it is trusted in addition to the platform's roots.
    /// `build()` fails with a [`ConfigError`] when the data holds no PEM certificate.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/vortex/ca.pem")?;
    /// let client = vortex_client::HeartbeatClient::builder()
    ///     .server_url("https://vortex-config.internal:8443")
    ///     .app("payment-service")
    ///     .profile("production")
    ///     .add_root_certificate(ca)
    ///     .build()?;
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.config.root_certificates.push(pem.into());
        self
    }

    /// Reads environment variables and files from `env` instead of the process.
    pub fn environment(mut self, env: Environment) -> Self {
        self.config.environment = env;
        self
    }

    /// Fills unset settings from the environment, then validates.
    fn finish(mut self) -> Result<HeartbeatConfig, ConfigError> {
        let env = self.config.environment.clone();
        let c = &mut self.config;
        // (field, variable, value as shown) for settings taken from the environment, so that a
        // value validation rejects is reported under the variable's name.
        let mut from_env: Vec<(&'static str, &'static str, String)> = Vec::new();
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|&name| env.var(name).map(|v| (name, v)))
        };
        if c.server_url.is_empty() {
            if let Some((var, v)) = first(&["VORTEX_URL"]) {
                from_env.push(("server_url", var, redact_url(&v)));
                c.server_url = v;
            }
        }
        if c.app.is_empty() {
            if let Some((var, v)) = first(&["VORTEX_APP", "OTEL_SERVICE_NAME"]) {
                from_env.push(("app", var, v.clone()));
                c.app = v;
            }
        }
        if c.profile.is_empty() {
            let profile = first(&["VORTEX_PROFILE"]).or_else(|| {
                let (var, all) = first(&["SPRING_PROFILES_ACTIVE"])?;
                let first_profile = all.split(',').map(str::trim).find(|p| !p.is_empty())?;
                Some((var, first_profile.to_owned()))
            });
            if let Some((var, v)) = profile {
                from_env.push(("profile", var, v.clone()));
                c.profile = v;
            }
        }
        if c.instance_id.is_empty() {
            if let Some((var, v)) = first(&["VORTEX_INSTANCE_ID"]) {
                from_env.push(("instance_id", var, v.clone()));
                c.instance_id = v;
            }
        }
        if !self.set.interval {
            if let Some(d) = env_duration(&env, "VORTEX_HEARTBEAT_INTERVAL")? {
                c.interval = d;
            }
        }
        if !self.set.timeout {
            if let Some(d) = env_duration(&env, "VORTEX_HEARTBEAT_TIMEOUT")? {
                c.timeout = d;
            }
        }
        c.validate().map_err(|error| match error {
            ConfigError::InvalidValue { field, reason } => {
                match from_env.into_iter().find(|(f, _, _)| *f == field) {
                    Some((_, var, value)) => ConfigError::InvalidEnv { var, value, reason },
                    None => ConfigError::InvalidValue { field, reason },
                }
            }
            other => other,
        })?;
        Ok(self.config)
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
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
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

impl HeartbeatBuilder<HeartbeatConfig> {
    /// Validates and returns the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing or invalid setting or a malformed environment variable.
    pub fn build(self) -> Result<HeartbeatConfig, ConfigError> {
        self.finish()
    }
}

impl HeartbeatBuilder<crate::HeartbeatClient> {
    /// Validates the configuration and creates the client (it does not start it).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing or invalid setting, a malformed environment variable, or
    /// an HTTP client that cannot be built (e.g. an unusable root certificate).
    pub fn build(self) -> Result<crate::HeartbeatClient, ConfigError> {
        crate::HeartbeatClient::new(self.finish()?)
    }
}

impl<T> HeartbeatBuilder<T> {
    /// Validates and returns the configuration, whatever this builder was made for.
    ///
    /// # Errors
    ///
    /// As [`HeartbeatBuilder::<HeartbeatConfig>::build`].
    pub fn build_config(self) -> Result<HeartbeatConfig, ConfigError> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> HeartbeatBuilder<HeartbeatConfig> {
        HeartbeatConfig::builder().environment(Environment::empty())
    }

    #[test]
    fn required_fields_are_checked_in_order() {
        assert_eq!(
            builder().build().unwrap_err(),
            ConfigError::MissingField("server_url")
        );
        assert_eq!(
            builder()
                .server_url("http://localhost:8080")
                .build()
                .unwrap_err(),
            ConfigError::MissingField("app")
        );
        assert_eq!(
            builder()
                .server_url("http://localhost:8080")
                .app("a")
                .build()
                .unwrap_err(),
            ConfigError::MissingField("profile")
        );
        let config = builder()
            .server_url("http://localhost:8080")
            .app("a")
            .profile("p")
            .build()
            .unwrap();
        assert_eq!(config.config_version, "unknown");
    }

    #[test]
    fn environment_fills_gaps_and_explicit_wins() {
        let env = Environment::from_vars([
            ("VORTEX_URL", "http://env:1"),
            ("OTEL_SERVICE_NAME", "otel-app"),
            ("SPRING_PROFILES_ACTIVE", " ,prod,eu"),
            ("VORTEX_INSTANCE_ID", "i-1"),
            ("VORTEX_HEARTBEAT_INTERVAL", "500ms"),
            ("VORTEX_HEARTBEAT_TIMEOUT", "2"),
        ]);
        let c = HeartbeatConfig::from_environment(env.clone()).unwrap();
        assert_eq!(c.server_url, "http://env:1");
        assert_eq!(c.app, "otel-app");
        assert_eq!(c.profile, "prod");
        assert_eq!(c.instance_id, "i-1");
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.timeout, Duration::from_secs(2));
        let c = HeartbeatConfig::builder()
            .environment(env)
            .app("explicit")
            .interval(Duration::from_secs(9))
            .build()
            .unwrap();
        assert_eq!(c.app, "explicit");
        assert_eq!(c.interval, Duration::from_secs(9));
    }

    #[test]
    fn malformed_env_duration_names_the_variable_and_value() {
        let env = Environment::from_vars([
            ("VORTEX_URL", "http://env:1"),
            ("VORTEX_APP", "a"),
            ("VORTEX_PROFILE", "p"),
            ("VORTEX_HEARTBEAT_INTERVAL", "soon"),
        ]);
        let err = HeartbeatConfig::from_environment(env).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("VORTEX_HEARTBEAT_INTERVAL") && text.contains("soon"),
            "{text}"
        );
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
    fn server_url_rules() {
        assert!(parse_server_url("http://h:1").is_ok());
        assert!(parse_server_url("http://gw/prefix/").is_ok());
        for bad in [
            "h:1",
            "ftp://h",
            "http://h/?a=1",
            "http://h/#x",
            "not a url",
            "http://",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad}");
        }
        let err = parse_server_url("ftp://user:hunter2@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("http://u:p@h:1/x"), "http://***@h:1/x");
        assert_eq!(redact_url("http://h:1/x"), "http://h:1/x");
        assert_eq!(redact_url("nonsense"), "nonsense");
        // Malformed input: more is hidden, never less.
        assert_eq!(redact_url("http://u:p/w@h:1/x"), "http://***@h:1/x");
        assert_eq!(redact_url("http://u:p@w@h"), "http://***@h");
        assert_eq!(redact_url("u:pw@h:1"), "***@h:1");
        assert_eq!(redact_url("http://h:1/x@y"), "http://***@y");
        // Validation rejects `@` outside the userinfo, so accepted URLs lose only that.
        assert!(parse_server_url("http://h:1/x@y").is_err());
        let err = parse_server_url("http://us/er:hunter2@h").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn bad_values_are_rejected() {
        let ok = || builder().server_url("http://h:1").app("a").profile("p");
        assert!(ok().app("a\nb").build().is_err());
        assert!(ok().app("x".repeat(MAX_NAME_LEN + 1)).build().is_err());
        assert!(ok().profile("  ").build().is_err());
        assert!(ok().app("..").build().is_err());
        assert!(ok().profile(".").build().is_err());
        assert!(ok().config_version("").build().is_err());
        assert!(ok().interval(Duration::ZERO).build().is_err());
        // A busy loop is not a heartbeat.
        assert!(ok().interval(Duration::from_nanos(1)).build().is_err());
        assert!(ok()
            .initial_retry_delay(Duration::from_micros(1))
            .build()
            .is_err());
        assert!(ok()
            .interval(MIN_PERIOD)
            .initial_retry_delay(MIN_PERIOD)
            .build()
            .is_ok());
        assert!(ok().timeout(Duration::ZERO).build().is_err());
        assert!(ok().max_retries(0).build().is_err());
        assert!(ok()
            .initial_retry_delay(Duration::from_secs(10))
            .max_retry_delay(Duration::from_secs(5))
            .build()
            .is_err());
        let mut many = ok();
        for i in 0..=MAX_LABELS {
            many = many.metadata(format!("k{i}"), "v");
        }
        assert!(many.build().is_err());
        assert!(ok()
            .metadata("k", "v".repeat(MAX_LABEL_VALUE_LEN + 1))
            .build()
            .is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        // Debug redacts also a configuration that would not validate (userinfo and a token).
        let c = HeartbeatConfig {
            server_url: "http://user:hunter2@h:1".into(),
            app: "a".into(),
            profile: "p".into(),
            bearer_token: Some("tok-s3cret".into()),
            headers: vec![("X-Api-Key".into(), "key-s3cret".into())],
            ..Default::default()
        };
        let text = format!("{c:?}");
        for secret in ["hunter2", "tok-s3cret", "key-s3cret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("X-Api-Key"));
    }
}
