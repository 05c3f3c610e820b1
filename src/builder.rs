//! [`HeartbeatBuilder`]: the builder's setters, the environment fallback for settings left
//! unset, and what a builder can build ([`FromConfig`]).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::config::HeartbeatConfig;
use crate::env::Environment;
use crate::error::ConfigError;
use crate::limits::MAX_DURATION;
#[cfg(doc)]
use crate::limits::{
    MAX_HEADERS, MAX_HEADER_VALUE_LEN, MAX_LABELS, MAX_LABEL_KEY_LEN, MAX_LABEL_VALUE_LEN,
    MAX_NAME_LEN, MAX_URL_LEN, MAX_VERSION_LEN,
};
use crate::redact::redact_url;
use crate::wire::{Health, InstanceMetadata};

/// What a [`HeartbeatBuilder`] builds: a [`HeartbeatConfig`], an async
/// [`HeartbeatClient`](crate::HeartbeatClient) or a blocking
/// [`blocking::HeartbeatClient`](crate::blocking::HeartbeatClient).
pub trait FromConfig: Sized + sealed::Sealed {
    /// Makes the value from a configuration the builder has filled in, validating it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting, or when the value cannot be made, e.g. an HTTP
    /// client that cannot be built (an unusable root certificate) or a thread that cannot be
    /// started.
    fn from_config(config: HeartbeatConfig) -> Result<Self, ConfigError>;
}

/// Keeps [`FromConfig`] to the crate's own types.
pub(crate) mod sealed {
    /// Implemented by the types a builder can build.
    pub trait Sealed {}
}

impl sealed::Sealed for HeartbeatConfig {}

impl FromConfig for HeartbeatConfig {
    fn from_config(config: HeartbeatConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(config)
    }
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
///     .server_url("http://localhost:8888")
///     .profile("production")
///     .build()?;
/// assert_eq!(config.app, "billing");
/// assert_eq!(config.interval, Duration::from_secs(15));
/// # Ok::<(), vortex_client::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct HeartbeatBuilder<T> {
    config: HeartbeatConfig,
    set: ExplicitlySet,
    target: PhantomData<fn() -> T>,
}

/// Which env-overridable settings were set explicitly.
#[derive(Debug, Default, Clone, Copy)]
struct ExplicitlySet {
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
            set: ExplicitlySet::default(),
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

    /// Fills unset settings from the environment, then makes `U`, which validates the
    /// configuration (once). A rejected value taken from the environment is reported under
    /// the variable's name.
    fn resolve<U: FromConfig>(mut self) -> Result<U, ConfigError> {
        let from_env = self.fill_from_environment()?;
        U::from_config(self.config).map_err(|error| match error {
            ConfigError::InvalidValue { field, reason } => {
                match from_env.into_iter().find(|taken| taken.field == field) {
                    Some(taken) => ConfigError::InvalidEnv {
                        var: taken.var,
                        value: taken.shown,
                        reason,
                    },
                    None => ConfigError::InvalidValue { field, reason },
                }
            }
            other => other,
        })
    }

    /// Fills every unset setting that has an environment variable; returns what it took.
    fn fill_from_environment(&mut self) -> Result<Vec<TakenFromEnv>, ConfigError> {
        let env = self.config.environment.clone();
        let c = &mut self.config;
        let mut taken = Vec::new();
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|&name| env.var(name).map(|v| (name, v)))
        };
        let mut take = |field, slot: &mut String, found: Option<(&'static str, String)>| {
            if let Some((var, value)) = found {
                let shown = if field == "server_url" {
                    redact_url(&value)
                } else {
                    value.clone()
                };
                taken.push(TakenFromEnv { field, var, shown });
                *slot = value;
            }
        };
        if c.server_url.is_empty() {
            take("server_url", &mut c.server_url, first(&["VORTEX_URL"]));
        }
        if c.app.is_empty() {
            let found = first(&["VORTEX_APP", "OTEL_SERVICE_NAME"]);
            take("app", &mut c.app, found);
        }
        if c.profile.is_empty() {
            let found = first(&["VORTEX_PROFILE"]).or_else(|| {
                let (var, all) = first(&["SPRING_PROFILES_ACTIVE"])?;
                let first_profile = all.split(',').map(str::trim).find(|p| !p.is_empty())?;
                Some((var, first_profile.to_owned()))
            });
            take("profile", &mut c.profile, found);
        }
        if c.instance_id.is_empty() {
            let found = first(&["VORTEX_INSTANCE_ID"]);
            take("instance_id", &mut c.instance_id, found);
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
        Ok(taken)
    }

    /// Validates and returns what this builder builds: a [`HeartbeatConfig`], or a client
    /// created (not started) from it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing or invalid setting or a malformed environment variable;
    /// for a client also an HTTP client that cannot be built (e.g. an unusable root
    /// certificate), and for the blocking client a thread or runtime that cannot be started.
    pub fn build(self) -> Result<T, ConfigError>
    where
        T: FromConfig,
    {
        self.resolve()
    }

    /// Validates and returns the configuration, whatever this builder was made for.
    ///
    /// # Errors
    ///
    /// As [`HeartbeatBuilder::<HeartbeatConfig>::build`].
    pub fn build_config(self) -> Result<HeartbeatConfig, ConfigError> {
        self.resolve()
    }
}

impl<T> HeartbeatBuilder<T> {
    /// Sends reports through the application's own `reqwest::Client` instead of a client the
    /// SDK builds: its connection pool, proxies, TLS stack and trusted roots serve the reports
    /// too, and the SDK builds no second client. A `reqwest::Client` is a handle: keep using
    /// your clone, the pool is shared.
    ///
    /// The SDK still applies, per request: its [`timeout`](Self::timeout) (which overrides the
    /// client's own total timeout for these requests), its headers (`Content-Type`, `Accept`,
    /// `User-Agent`), [`header`](Self::header)s and [`bearer_token`](Self::bearer_token)
    /// (these win over the client's default headers of the same name; the client's other
    /// default headers are sent too), userinfo from `server_url` as Basic authentication, and
    /// its cap on the answer's size. The client's own default headers are not known to the
    /// SDK, so an error answer that echoes them is not scrubbed of them in error messages.
    ///
    /// Redirects follow the client's redirect policy, which the SDK cannot change. The SDK
    /// counts an answer only when it comes from the heartbeat URL itself: an answer the client
    /// reached by following a redirect is a [`ReporterError::Redirect`] (a configuration
    /// error, `status` being the final answer's), never a delivered report, because the SDK
    /// cannot see whether a 301/302/303 on the way turned the POST into a GET. What the client
    /// sent to the other address is its policy's choice: reqwest's default policy follows up to
    /// 10 redirects and drops `Authorization` and cookies on the way to another host, but
    /// sends the report body (after a 307/308) and the other headers, those set with
    /// [`header`](Self::header) included. To have no request leave for another address, build
    /// the client with `.redirect(reqwest::redirect::Policy::none())`: a 3xx then fails as it
    /// does with the SDK's own client.
    ///
    /// Settings of the SDK's own client that cannot apply to the application's:
    ///
    /// - [`add_root_certificate`](Self::add_root_certificate): `build()` fails with a
    ///   [`ConfigError`]; trust the certificate in the application's client instead.
    /// - [`connect_timeout`](Self::connect_timeout): ignored; the client's own connect timeout
    ///   applies, and the SDK's [`timeout`](Self::timeout) bounds the whole attempt, connecting
    ///   included.
    /// - The SDK's pool settings (idle timeout, one idle connection per host), its name
    ///   resolution (which fails `.invalid` host names without asking DNS) and the TLS feature
    ///   chosen for the SDK: the client's own apply. An `https://` server URL still needs a TLS
    ///   feature of the SDK, which checks the URL.
    ///
    /// [`ReporterError::Redirect`]: crate::ReporterError::Redirect
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let http = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let heartbeat = vortex_client::HeartbeatClient::builder()
    ///     .server_url("http://vortex-config:8888")
    ///     .app("payment-service")
    ///     .profile("production")
    ///     .http_client(http.clone())
    ///     .build()?;
    /// # drop(heartbeat);
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.config.http_client = Some(client);
        self
    }
}

/// A setting taken from the environment: which variable, and its value as an error may show it.
struct TakenFromEnv {
    field: &'static str,
    var: &'static str,
    shown: String,
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
    use crate::limits::{MAX_LABELS, MAX_LABEL_VALUE_LEN, MAX_NAME_LEN, MIN_PERIOD};

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
                .server_url("http://localhost:8888")
                .build()
                .unwrap_err(),
            ConfigError::MissingField("app")
        );
        assert_eq!(
            builder()
                .server_url("http://localhost:8888")
                .app("a")
                .build()
                .unwrap_err(),
            ConfigError::MissingField("profile")
        );
        let config = builder()
            .server_url("http://localhost:8888")
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
}
