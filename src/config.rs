//! [`HeartbeatConfig`]: every setting of a client, and its validation.

use std::fmt;
use std::iter::once;
use std::time::Duration;

use reqwest::Url;

use crate::endpoint::has_userinfo;
use crate::env::Environment;
use crate::error::{invalid, ConfigError};
use crate::failover::DEFAULT_CONNECTION_MAX_AGE;
use crate::health_check::HealthCheck;
use crate::limits::{
    DETECTED_METADATA_ALLOWANCE, MAX_DURATION, MAX_LABELS, MAX_LABEL_KEY_LEN, MAX_LABEL_VALUE_LEN,
    MAX_NAME_LEN, MAX_REQUEST_BYTES, MAX_VERSION_LEN, MIN_PERIOD, SERVER_INSTANCE_TTL,
};
use crate::metadata::default_instance_id;
use crate::proxy::{route, ProxySetting};
use crate::redact::redact_url;
use crate::server_list::parse_server_urls;
use crate::tls::parse_root_certificates;
use crate::validate::{
    check_credentials, check_name, check_segment, check_text, check_version, ensure, name_warning,
};
use crate::wire::{Health, HeartbeatRequest, InstanceMetadata};

/// Everything a [`HeartbeatClient`](crate::HeartbeatClient) needs to know.
///
/// Build it with [`HeartbeatConfig::builder`] (validated, with environment fallbacks) or as a
/// struct literal over [`Default`]; [`HeartbeatClient::new`](crate::HeartbeatClient::new)
/// validates it either way. The fields' limits are in
/// [docs/security.md](https://github.com/vortex-config/vortex-client/blob/main/docs/security.md#validation-limits).
///
/// ```
/// use std::time::Duration;
/// use vortex_client::HeartbeatConfig;
///
/// let config = HeartbeatConfig {
///     server_url: "http://localhost:8888".into(),
///     app: "payment-service".into(),
///     profile: "production".into(),
///     interval: Duration::from_secs(15),
///     ..Default::default()
/// };
/// assert_eq!(config.timeout, Duration::from_secs(5));
/// ```
///
/// Not `#[non_exhaustive]`, so that it can be written as a literal: a new field is therefore a
/// breaking change (a major version), as it breaks a literal written without
/// `..Default::default()`; one written with it keeps compiling.
#[derive(Clone)]
pub struct HeartbeatConfig {
    /// Base URL of the Vortex Config server, e.g. `http://vortex-config:8888`. May carry a path
    /// prefix (`https://gateway.example/config`) and userinfo (never logged).
    pub server_url: String,
    /// Further server URLs, tried in this order after [`server_url`](Self::server_url) when
    /// it fails; each checked like it, with userinfo of its own. Default none. See
    /// [`HeartbeatBuilder::server_urls`](crate::HeartbeatBuilder::server_urls) for the rules.
    pub fallback_urls: Vec<String>,
    /// Application name: the `{app}` path segment.
    pub app: String,
    /// Profile, e.g. `production`: the `{profile}` path segment.
    pub profile: String,
    /// Unique id of this instance, stable for the life of the process. Empty means generated:
    /// the Kubernetes pod name, else the host name plus a random suffix. The builder's
    /// `build()` fills it in (after `VORTEX_INSTANCE_ID` and OpenTelemetry's
    /// `service.instance.id`), so a built configuration shows the id that will be sent;
    /// [`HeartbeatClient::new`](crate::HeartbeatClient::new) generates it for a configuration
    /// that has none.
    pub instance_id: String,
    /// The configuration version reported until [`set_config_version`] is called.
    /// Default `"unknown"`.
    ///
    /// [`set_config_version`]: crate::HeartbeatClient::set_config_version
    pub config_version: String,
    /// The health reported until it is changed. Default [`Health::Healthy`].
    pub health: Health,
    /// Time between periodic reports (jittered by up to 10 %; see `docs/resilience.md`). Default 30 s.
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
    /// How long reports keep one connection (and one server URL) before the next report
    /// opens a new one from the first URL, jittered down by up to a quarter. Default 5 min;
    /// see [`HeartbeatBuilder::connection_max_age`](crate::HeartbeatBuilder::connection_max_age).
    pub connection_max_age: Duration,
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
    /// Asked before each periodic report; its answer becomes the reported health. Default
    /// none. See [`HeartbeatBuilder::health_check`](crate::HeartbeatBuilder::health_check).
    pub health_check: Option<HealthCheck>,
    /// How long one health check may take before it counts as [`Health::Degraded`]. Default
    /// 1 s.
    pub health_check_timeout: Duration,
    /// The application's own HTTP client, used instead of one the SDK builds (see
    /// [`HeartbeatBuilder::http_client`](crate::HeartbeatBuilder::http_client) for what the
    /// SDK still applies and which settings cannot be combined with it). Default `None`.
    pub http_client: Option<reqwest::Client>,
    /// Whether the SDK's own client uses a proxy: by default the one the
    /// [`environment`](Self::environment) names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// `NO_PROXY`; loopback never). See [`ProxySetting`]. With
    /// [`http_client`](Self::http_client) the application's client decides.
    pub proxy: ProxySetting,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            server_url: String::new(),
            fallback_urls: Vec::new(),
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
            connection_max_age: DEFAULT_CONNECTION_MAX_AGE,
            metadata: InstanceMetadata::default(),
            auto_detect_metadata: true,
            bearer_token: None,
            headers: Vec::new(),
            root_certificates: Vec::new(),
            environment: Environment::process(),
            health_check: None,
            health_check_timeout: Duration::from_secs(1),
            http_client: None,
            proxy: ProxySetting::Environment,
        }
    }
}

impl fmt::Debug for HeartbeatConfig {
    /// The settings that tell configurations apart, never a secret: URLs without userinfo,
    /// header names without their values, the token hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fallback_urls: Vec<String> = self.fallback_urls.iter().map(|u| redact_url(u)).collect();
        let header_names: Vec<&String> = self.headers.iter().map(|(name, _)| name).collect();
        let token = self.bearer_token.as_ref().map(|_| "<redacted>");
        // The client's own Debug shows its default headers, which may hold credentials.
        let http_client = self.http_client.as_ref().map(|_| "<application's client>");
        f.debug_struct("HeartbeatConfig")
            .field("server_url", &redact_url(&self.server_url))
            .field("fallback_urls", &fallback_urls)
            .field("app", &self.app)
            .field("profile", &self.profile)
            .field("instance_id", &self.instance_id)
            .field("config_version", &self.config_version)
            .field("header_names", &header_names)
            .field("bearer_token", &token)
            .field("http_client", &http_client)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HeartbeatConfig {
    /// Checks every setting; [`HeartbeatClient::new`](crate::HeartbeatClient::new) calls this.
    /// The limits are those of
    /// [docs/security.md](https://github.com/vortex-config/vortex-client/blob/main/docs/security.md#validation-limits).
    ///
    /// # Errors
    ///
    /// The first problem found, saying what to fix. Error messages never echo a header value
    /// or token, show URLs without userinfo, and quote at most 64 characters of any value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map(drop)
    }

    /// [`validate`](Self::validate), returning the parsed server URLs (`server_url` first,
    /// then `fallback_urls`), so that the sender need not parse them again.
    pub(crate) fn check(&self) -> Result<Vec<Url>, ConfigError> {
        let fallbacks = self.fallback_urls.iter().map(String::as_str);
        let all: Vec<&str> = once(self.server_url.as_str()).chain(fallbacks).collect();
        let urls = parse_server_urls(&all)?;
        check_segment("app", &self.app)?;
        check_segment("profile", &self.profile)?;
        check_name("instance_id", &self.instance_id, true)?;
        check_version(&self.config_version)?;
        self.check_durations()?;
        let reason = "must be at least 1 (it counts attempts)";
        ensure(self.max_retries > 0, "max_retries", reason)?;
        ensure(self.report_burst > 0, "report_burst", "must be at least 1")?;
        self.check_metadata()?;
        self.check_body_size()?;
        let userinfo = urls.iter().any(has_userinfo);
        check_credentials(&self.headers, self.bearer_token.as_deref(), userinfo)?;
        parse_root_certificates(&self.root_certificates)?;
        self.check_client(&urls)?;
        Ok(urls)
    }

    /// Every duration non-zero (where zero means nothing) and at most [`MAX_DURATION`]; the
    /// periods at least [`MIN_PERIOD`]; the backoff's start at most its cap.
    fn check_durations(&self) -> Result<(), ConfigError> {
        for (field, d, zero_allowed) in [
            ("interval", self.interval, false),
            ("timeout", self.timeout, false),
            ("connect_timeout", self.connect_timeout, false),
            ("initial_retry_delay", self.initial_retry_delay, false),
            ("max_retry_delay", self.max_retry_delay, false),
            ("min_report_gap", self.min_report_gap, true),
            ("stop_grace", self.stop_grace, true),
            ("health_check_timeout", self.health_check_timeout, false),
            ("connection_max_age", self.connection_max_age, false),
        ] {
            let zero = d.is_zero() && !zero_allowed;
            ensure(!zero, field, "must be greater than zero")?;
            let too_long = format!("{d:?} is longer than the limit of 24 hours");
            ensure(d <= MAX_DURATION, field, too_long)?;
        }
        for (field, d) in [
            ("interval", self.interval),
            ("initial_retry_delay", self.initial_retry_delay),
            ("connection_max_age", self.connection_max_age),
        ] {
            let too_short = format!("{d:?} is shorter than the minimum of {MIN_PERIOD:?}");
            ensure(d >= MIN_PERIOD, field, too_short)?;
        }
        let (initial, max) = (self.initial_retry_delay, self.max_retry_delay);
        let reason = format!("{initial:?} is longer than max_retry_delay {max:?}");
        ensure(initial <= max, "initial_retry_delay", reason)
    }

    /// A bounded label set; every explicit value bounded and free of control characters.
    fn check_metadata(&self) -> Result<(), ConfigError> {
        let labels = &self.metadata.custom;
        let count = labels.len();
        let reason = format!("{count} custom labels; at most {MAX_LABELS} are allowed");
        ensure(count <= MAX_LABELS, "metadata", reason)?;
        for (key, value) in labels {
            ensure(!key.is_empty(), "metadata", "a custom label key is empty")?;
            check_text("metadata", key, MAX_LABEL_KEY_LEN)?;
            check_text("metadata", value, MAX_LABEL_VALUE_LEN)?;
        }
        for value in self.metadata.fields().filter_map(|(_, value)| value) {
            check_text("metadata", value, MAX_LABEL_VALUE_LEN)?;
        }
        Ok(())
    }

    /// Rejects explicit metadata so large that a report carrying the longest allowed version
    /// and instance id, plus detected metadata, would not fit in [`MAX_REQUEST_BYTES`].
    fn check_body_size(&self) -> Result<(), ConfigError> {
        let limit = MAX_REQUEST_BYTES - DETECTED_METADATA_ALLOWANCE;
        let longest_id = "i".repeat(MAX_NAME_LEN);
        let instance_id = Some(&self.instance_id).filter(|id| !id.is_empty());
        let size = serde_json::to_vec(&HeartbeatRequest {
            instance_id: instance_id.unwrap_or(&longest_id),
            config_version: &"v".repeat(MAX_VERSION_LEN),
            metadata: &self.metadata,
            health: Health::Unhealthy,
        })
        .map_or(usize::MAX, |body| body.len());
        let reason = format!("explicit metadata makes a report of up to {size} bytes; at most {limit} are allowed (the request body is capped at {MAX_REQUEST_BYTES} bytes, with room kept for detected metadata)");
        ensure(size <= limit, "metadata", reason)
    }

    /// The proxy the SDK's own client would use can be used (an unparseable `HTTP_PROXY`
    /// fails here, not at the first report); the settings of the SDK's own client cannot
    /// apply to the application's, which decides its certificates and proxy itself.
    fn check_client(&self, urls: &[Url]) -> Result<(), ConfigError> {
        if self.http_client.is_none() {
            for url in urls {
                route(&self.proxy, url, &|name| self.environment.var(name))?;
            }
            return Ok(());
        }
        let reason = "cannot be combined with http_client(): the application's client decides which certificates it trusts; add the certificate to that client (reqwest::ClientBuilder::tls_certs_merge) instead";
        ensure(
            self.root_certificates.is_empty(),
            "root_certificates",
            reason,
        )?;
        let reason = "cannot be combined with http_client(): the application's client decides its proxy; set it on that client (reqwest::ClientBuilder::proxy or no_proxy) instead";
        ensure(self.proxy == ProxySetting::Environment, "proxy", reason)
    }

    /// Fills an empty `instance_id` with the generated one (the pod name in Kubernetes, else
    /// the host name plus a random suffix; see `docs/metadata.md`) and checks it like a user
    /// value. A set id is kept. Both the builder's `build()` and `HeartbeatClient::new` call
    /// it, so the id a configuration shows is the one sent.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for `instance_id` when the generated id is unusable.
    pub(crate) fn fill_instance_id(&mut self) -> Result<(), ConfigError> {
        if !self.instance_id.is_empty() {
            return Ok(());
        }
        let id = default_instance_id(&self.environment, &self.metadata);
        // The pod name or host name comes from the environment: check it like a user value.
        check_name("instance_id", &id, false).map_err(|e| {
            let why = match e {
                ConfigError::InvalidValue { reason, .. } => reason,
                other => other.to_string(),
            };
            let reason =
                format!("the generated id (from the pod name or host name) is unusable: {why}");
            invalid("instance_id", reason)
        })?;
        self.instance_id = id;
        Ok(())
    }

    /// Warnings about settings that work but are probably not what the user wants. (Credentials
    /// over plain http are warned about where the URL is parsed for sending.)
    pub(crate) fn warn_if_questionable(&self) {
        for (field, name) in [("app", &self.app), ("profile", &self.profile)] {
            if let Some(warning) = name_warning(field, name) {
                tracing::warn!("{warning}");
            }
        }
        let near_ttl = SERVER_INSTANCE_TTL.mul_f64(0.8);
        if self.interval >= near_ttl {
            tracing::warn!(
                interval = ?self.interval,
                "the heartbeat interval is close to or above the server's 5-minute instance TTL: healthy instances may vanish from the drift report"
            );
        }
        if self.max_retry_delay >= near_ttl {
            tracing::warn!(
                max_retry_delay = ?self.max_retry_delay,
                "the backoff cap is close to or above the server's 5-minute instance TTL: after an outage instances may vanish from the drift report until their next attempt"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
