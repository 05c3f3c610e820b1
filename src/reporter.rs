//! The wire: request and response types of the server's contract, the HTTP send, and the
//! classification of every outcome.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, HeartbeatConfig};
use crate::metadata::InstanceMetadata;

/// The most response-body bytes the client reads. A larger answer is an error and the
/// connection is dropped: a misbehaving server cannot make the client buffer megabytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The largest request body the client sends.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024;
/// How much of an error response's body is kept for the error message.
const ERROR_BODY_SNIPPET: usize = 256;

/// The health an instance reports.
///
/// ```
/// use vortex_client::Health;
///
/// assert_eq!(serde_json::to_string(&Health::Degraded).unwrap(), "\"degraded\"");
/// assert_eq!(Health::default(), Health::Healthy);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Working normally (the default).
    #[default]
    Healthy,
    /// Working with reduced capacity or features.
    Degraded,
    /// Not working.
    Unhealthy,
}

impl Health {
    /// The wire name: `healthy`, `degraded` or `unhealthy`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request body of the server's model.
#[derive(Debug, Serialize)]
pub(crate) struct HeartbeatRequest<'a> {
    pub instance_id: &'a str,
    pub config_version: &'a str,
    #[serde(skip_serializing_if = "InstanceMetadata::is_empty")]
    pub metadata: &'a InstanceMetadata,
    pub health: Health,
}

impl HeartbeatRequest<'_> {
    /// Serialises the body once; it is reused until version, health or metadata change.
    pub(crate) fn to_bytes(&self) -> Result<Bytes, ReporterError> {
        let body = serde_json::to_vec(self).map_err(|e| ReporterError::RequestTooLarge {
            size: 0,
            limit: MAX_REQUEST_BYTES,
            detail: e.to_string(),
        })?;
        if body.len() > MAX_REQUEST_BYTES {
            return Err(ReporterError::RequestTooLarge {
                size: body.len(),
                limit: MAX_REQUEST_BYTES,
                detail: String::new(),
            });
        }
        Ok(Bytes::from(body))
    }
}

/// The server's answer to a report.
///
/// Parsed leniently: unknown members are ignored, a missing `expected_version` means none, a
/// missing `drift_detected` means false, and a 2xx with an empty or non-JSON body counts as
/// delivered with no drift facts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// The server registered the report.
    pub registered: bool,
    /// The version the server expects for this app and profile, if it has an expectation.
    pub expected_version: Option<String>,
    /// The reported version differs from the expected one.
    pub drift_detected: bool,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    registered: Option<bool>,
    #[serde(default)]
    expected_version: Option<String>,
    #[serde(default)]
    drift_detected: Option<bool>,
}

impl HeartbeatResponse {
    /// Parses a 2xx body leniently (see the type's docs). Never fails, never panics.
    #[must_use]
    pub fn parse_lenient(body: &[u8]) -> HeartbeatResponse {
        match serde_json::from_slice::<WireResponse>(body) {
            Ok(wire) => HeartbeatResponse {
                registered: wire.registered.unwrap_or(true),
                expected_version: wire.expected_version,
                drift_detected: wire.drift_detected.unwrap_or(false),
            },
            Err(_) => HeartbeatResponse {
                registered: true,
                expected_version: None,
                drift_detected: false,
            },
        }
    }
}

/// What the client does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// A transient fault: retry with exponential backoff.
    Retryable,
    /// The server asked to wait this long (`Retry-After`) before the next attempt.
    Throttled(Duration),
    /// Retrying cannot help until something is fixed: log once, keep the normal interval.
    Permanent,
}

/// Why a report failed.
///
/// Messages say what to fix; URLs in them never carry userinfo, and no token appears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReporterError {
    /// No connection could be made (refused, unreachable, DNS failure).
    #[error("cannot connect to {url}: {detail}")]
    Connect {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause.
        detail: String,
    },
    /// The attempt took longer than the configured timeout.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The connection failed mid-way (reset, closed, malformed HTTP).
    #[error("request to {url} failed: {detail}")]
    Transport {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause.
        detail: String,
    },
    /// TLS failed: an untrusted or invalid certificate, or a server that does not speak TLS.
    #[error("TLS with {url} failed: {detail}. If the server uses a private CA, add it with add_root_certificate(); if it speaks plain HTTP, use an http:// URL")]
    Tls {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause.
        detail: String,
    },
    /// The server answered with a non-2xx, non-3xx status.
    #[error("the server answered {status} for POST {url}{}{}", status_hint(*.status), body_suffix(.body))]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The server's `Retry-After`, when it sent a usable one.
        retry_after: Option<Duration>,
        /// The start of the response body, for diagnosis.
        body: String,
    },
    /// The server answered with a redirect, which the client does not follow.
    #[error("the server redirected POST {url} ({status}) to {location:?}; redirects are not followed: set server_url to the final address")]
    Redirect {
        /// The HTTP status code.
        status: u16,
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The `Location` header, without userinfo.
        location: String,
    },
    /// The response body exceeded [`MAX_RESPONSE_BYTES`]; the connection was dropped.
    #[error("the response from {url} exceeds {limit} bytes; it was not read")]
    ResponseTooLarge {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The request body would exceed [`MAX_REQUEST_BYTES`] (too much metadata).
    #[error("the request body is {size} bytes; at most {limit} are sent. Reduce custom metadata {detail}")]
    RequestTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
        /// Extra detail.
        detail: String,
    },
    /// The client has no async runtime to run on (e.g. polled outside tokio).
    #[error("no tokio runtime: {0}")]
    NoRuntime(String),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        400 | 422 => ": the server rejected the report's body (a client/server version mismatch?)",
        401 | 403 => ": check the credentials (bearer_token / headers)",
        404 | 405 => ": check server_url and that the server's drift API is enabled",
        408 | 425 | 429 | 500 | 502 | 503 | 504 => " (transient; retrying with backoff)",
        _ => "",
    }
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!("; body: {body:?}")
    }
}

impl ReporterError {
    /// How the client reacts to this error.
    #[must_use]
    pub fn disposition(&self) -> Disposition {
        match self {
            ReporterError::Connect { .. }
            | ReporterError::Timeout { .. }
            | ReporterError::Transport { .. } => Disposition::Retryable,
            ReporterError::Status {
                status,
                retry_after,
                ..
            } => match (*status, retry_after) {
                (429 | 503, Some(delay)) => Disposition::Throttled(*delay),
                (408 | 425 | 429 | 500 | 502 | 503 | 504, _) => Disposition::Retryable,
                (501 | 505, _) => Disposition::Permanent,
                (500..=599, _) => Disposition::Retryable,
                _ => Disposition::Permanent,
            },
            ReporterError::Tls { .. }
            | ReporterError::Redirect { .. }
            | ReporterError::ResponseTooLarge { .. }
            | ReporterError::RequestTooLarge { .. }
            | ReporterError::NoRuntime(_) => Disposition::Permanent,
        }
    }

    /// True when retrying with backoff may help.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        !matches!(self.disposition(), Disposition::Permanent)
    }

    /// The server's `Retry-After`, if it sent one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReporterError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ReporterError::Status { status, .. } | ReporterError::Redirect { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// A short, stable label for metrics and log de-duplication.
    pub(crate) fn kind(&self) -> String {
        match self {
            ReporterError::Connect { .. } => "connect".into(),
            ReporterError::Timeout { .. } => "timeout".into(),
            ReporterError::Transport { .. } => "transport".into(),
            ReporterError::Tls { .. } => "tls".into(),
            ReporterError::Status { status, .. } => format!("status {status}"),
            ReporterError::Redirect { status, .. } => format!("redirect {status}"),
            ReporterError::ResponseTooLarge { .. } => "response too large".into(),
            ReporterError::RequestTooLarge { .. } => "request too large".into(),
            ReporterError::NoRuntime(_) => "no runtime".into(),
        }
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date, relative to `now`.
/// A date in the past gives zero; anything unparsable gives `None`.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 seconds is "forever": the cap applies downstream.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate
        [_, day, month, year, time, "GMT"] => (*day, *month, year.parse::<i64>().ok()?, *time),
        // RFC 850
        [_, date, time, "GMT"] => {
            let mut it = date.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            let y: i64 = y.parse().ok()?;
            (
                d,
                m,
                if y < 70 {
                    2000 + y
                } else if y < 100 {
                    1900 + y
                } else {
                    y
                },
                *time,
            )
        }
        // asctime
        [_, month, day, time, year] => (*day, *month, year.parse::<i64>().ok()?, *time),
        _ => return None,
    };
    let day: i64 = day.parse().ok()?;
    let month = match month {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Builds the heartbeat URL: `{server_url}/api/drift/heartbeat/{app}/{profile}`, joined without
/// a double or missing `/` and with `app` and `profile` percent-encoded as single segments.
/// (`.` and `..` are rejected by validation: URL parsers resolve them as relative segments.)
///
/// ```
/// # use vortex_client::reporter::heartbeat_url;
/// let url = heartbeat_url("https://gw.example/config/", "my app", "a/b").unwrap();
/// assert_eq!(url.as_str(), "https://gw.example/config/api/drift/heartbeat/my%20app/a%2Fb");
/// ```
///
/// # Errors
///
/// [`ConfigError`] when `server_url` is not an http(s) URL with a host.
pub fn heartbeat_url(server_url: &str, app: &str, profile: &str) -> Result<Url, ConfigError> {
    let mut url = crate::config::parse_server_url(server_url)?;
    for (field, value) in [("app", app), ("profile", profile)] {
        if value.is_empty() || value == "." || value == ".." {
            return Err(ConfigError::InvalidValue {
                field,
                reason: format!("{value:?} cannot be used as a path segment"),
            });
        }
    }
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| ConfigError::InvalidValue {
                field: "server_url",
                reason: "cannot carry a path".into(),
            })?;
        segments
            .pop_if_empty()
            .extend(["api", "drift", "heartbeat"])
            .push(app)
            .push(profile);
    }
    Ok(url)
}

/// The URL as it may appear in logs and errors: no userinfo.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

/// Sends reports: one HTTP client, URL and headers built once and reused.
pub(crate) struct Reporter {
    http: reqwest::Client,
    url: Url,
    shown_url: String,
    timeout: Duration,
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("url", &self.shown_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    pub(crate) fn new(config: &HeartbeatConfig) -> Result<Self, ConfigError> {
        let url = heartbeat_url(&config.server_url, &config.app, &config.profile)?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in &config.headers {
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConfigError::InvalidValue {
                    field: "headers",
                    reason: format!("{name:?} is not a valid header name"),
                })?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| ConfigError::InvalidValue {
                    field: "headers",
                    reason: format!("the value of {name} is not a valid header value"),
                })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(token) = &config.bearer_token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ConfigError::InvalidValue {
                    field: "bearer_token",
                    reason: "is not a valid header value (control characters?)".into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let origin = url.origin();
        let builder = reqwest::Client::builder()
            .user_agent(concat!("vortex-client/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout.min(config.timeout))
            .pool_idle_timeout(
                config
                    .interval
                    .saturating_mul(2)
                    .max(Duration::from_secs(90)),
            )
            .pool_max_idle_per_host(1)
            // 307/308 keep the method and body; follow them within the same origin only.
            // Anything else comes back as a 3xx and is reported as a configuration error.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let same_origin = attempt.url().origin() == origin;
                let keeps_body = matches!(
                    attempt.status(),
                    StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
                );
                if same_origin && keeps_body && attempt.previous().len() < 3 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }));
        let builder = add_roots(builder, &config.root_certificates)?;
        let http = builder
            .build()
            .map_err(|e| ConfigError::Http(error_chain(&e.without_url())))?;
        Ok(Reporter {
            shown_url: display_url(&url),
            http,
            url,
            timeout: config.timeout,
        })
    }

    /// The heartbeat URL (it may carry userinfo: never log it).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    pub(crate) fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// One attempt: POST the body, classify the outcome, read a bounded answer.
    pub(crate) async fn send(&self, body: Bytes) -> Result<HeartbeatResponse, ReporterError> {
        let mut response = self
            .http
            .post(self.url.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(crate::config::redact_url)
                .unwrap_or_default();
            return Err(ReporterError::Redirect {
                status: status.as_u16(),
                url: self.shown_url.clone(),
                location,
            });
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let snippet = self
                .read_bounded(&mut response, ERROR_BODY_SNIPPET, true)
                .await;
            let body = snippet
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .chars()
                        .filter(|c| !c.is_control())
                        .collect()
                })
                .unwrap_or_default();
            return Err(ReporterError::Status {
                status: status.as_u16(),
                url: self.shown_url.clone(),
                retry_after,
                body,
            });
        }
        let body = self
            .read_bounded(&mut response, MAX_RESPONSE_BYTES, false)
            .await?;
        Ok(HeartbeatResponse::parse_lenient(&body))
    }

    /// Reads at most `limit` bytes. With `truncate`, a longer body is cut (for error snippets);
    /// without, it is an error. Either way no more than `limit` bytes are buffered and the rest
    /// is never read (the connection is dropped).
    async fn read_bounded(
        &self,
        response: &mut reqwest::Response,
        limit: usize,
        truncate: bool,
    ) -> Result<Vec<u8>, ReporterError> {
        let too_large = || ReporterError::ResponseTooLarge {
            url: self.shown_url.clone(),
            limit,
        };
        if !truncate && response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            let room = limit - body.len();
            if chunk.len() > room {
                if truncate {
                    body.extend_from_slice(&chunk[..room]);
                    return Ok(body);
                }
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, error: reqwest::Error) -> ReporterError {
        let error = error.without_url();
        let url = self.shown_url.clone();
        if error.is_timeout() || chain_has_timeout(&error) {
            return ReporterError::Timeout {
                url,
                timeout: self.timeout,
            };
        }
        let detail = error_chain(&error);
        if is_tls_failure(&error) {
            return ReporterError::Tls { url, detail };
        }
        if error.is_connect() {
            ReporterError::Connect { url, detail }
        } else {
            ReporterError::Transport { url, detail }
        }
    }
}

#[cfg(feature = "rustls")]
fn add_roots(
    mut builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, ConfigError> {
    for pem in pems {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!("not a PEM certificate: {}", error_chain(&e)),
            })?;
        if certs.is_empty() {
            return Err(ConfigError::InvalidValue {
                field: "root_certificates",
                reason: "no certificate found in the PEM data".into(),
            });
        }
        builder = builder.tls_certs_merge(certs);
    }
    Ok(builder)
}

/// With `rustls-ring` (and not `rustls`): reqwest has no crypto provider of its own, so the
/// client gets a complete rustls configuration: the provider the application installed as the
/// process default if it did (as reqwest itself does), else ring, which is never installed
/// process-wide; the platform's verifier with the extra roots; HTTP/1.1 by ALPN.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, ConfigError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    use std::sync::Arc;

    let mut roots = Vec::new();
    for pem in pems {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!("not a PEM certificate: {e}"),
            })?;
        if certs.is_empty() {
            return Err(ConfigError::InvalidValue {
                field: "root_certificates",
                reason: "no certificate found in the PEM data".into(),
            });
        }
        roots.extend(certs);
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls_error = |e: rustls::Error| ConfigError::Http(format!("TLS setup failed: {e}"));
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(tls_error)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(tls))
}

#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, ConfigError> {
    if pems.is_empty() {
        Ok(builder)
    } else {
        Err(ConfigError::InvalidValue {
            field: "root_certificates",
            reason: "the crate was built without a TLS feature; enable `rustls` or `rustls-ring`"
                .into(),
        })
    }
}

/// The error and its sources, joined with `: `, without repeats.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// Every error in the chain, looking inside `std::io::Error` wrappers too (their `source()`
/// skips the wrapped error).
fn walk_chain(
    error: &(dyn StdError + 'static),
    visit: &mut dyn FnMut(&(dyn StdError + 'static)) -> bool,
) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if visit(e) {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if walk_chain(inner, visit) {
                    return true;
                }
            }
        }
        current = e.source();
    }
    false
}

fn chain_has_timeout(error: &(dyn StdError + 'static)) -> bool {
    walk_chain(error, &mut |e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    walk_chain(error, &mut |e| {
        #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        let text = e.to_string().to_ascii_lowercase();
        text.contains("certificate")
            || text.contains("invalid peer")
            || text.contains("tls handshake")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn urls_join_prefixes_and_encode_segments() {
        let cases = [
            (
                "http://h:8080",
                "a",
                "p",
                "http://h:8080/api/drift/heartbeat/a/p",
            ),
            (
                "http://h:8080/",
                "a",
                "p",
                "http://h:8080/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg/",
                "a",
                "p",
                "http://h/cfg/api/drift/heartbeat/a/p",
            ),
            (
                "http://h/cfg//",
                "a",
                "p",
                "http://h/cfg//api/drift/heartbeat/a/p",
            ),
            (
                "http://h",
                "a b",
                "x/y",
                "http://h/api/drift/heartbeat/a%20b/x%2Fy",
            ),
            (
                "http://h",
                "100%",
                "...",
                "http://h/api/drift/heartbeat/100%25/...",
            ),
            (
                "http://h",
                "?#",
                "é",
                "http://h/api/drift/heartbeat/%3F%23/%C3%A9",
            ),
        ];
        for (base, app, profile, want) in cases {
            let got = heartbeat_url(base, app, profile).unwrap();
            assert_eq!(got.as_str(), want, "{base} {app} {profile}");
        }
    }

    #[test]
    fn body_has_the_contract_shape() {
        let mut meta = InstanceMetadata {
            hostname: Some("h1".into()),
            ..Default::default()
        };
        meta.custom.insert("team".into(), "platform".into());
        let body = HeartbeatRequest {
            instance_id: "i",
            config_version: "v1",
            metadata: &meta,
            health: Health::Degraded,
        }
        .to_bytes()
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "instance_id": "i",
                "config_version": "v1",
                "metadata": {"hostname": "h1", "custom": {"team": "platform"}},
                "health": "degraded"
            })
        );
        let empty = InstanceMetadata::default();
        let body = HeartbeatRequest {
            instance_id: "i",
            config_version: "v1",
            metadata: &empty,
            health: Health::Healthy,
        }
        .to_bytes()
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v.get("metadata").is_none());
    }

    #[test]
    fn responses_parse_leniently() {
        let full =
            br#"{"registered":true,"expected_version":"v2","drift_detected":true,"extra":1}"#;
        assert_eq!(
            HeartbeatResponse::parse_lenient(full),
            HeartbeatResponse {
                registered: true,
                expected_version: Some("v2".into()),
                drift_detected: true
            }
        );
        let delivered = HeartbeatResponse {
            registered: true,
            expected_version: None,
            drift_detected: false,
        };
        for body in [
            &b""[..],
            b"not json",
            b"{}",
            br#"{"expected_version":null}"#,
            b"[1,2]",
            b"\xff\xfe",
        ] {
            assert_eq!(HeartbeatResponse::parse_lenient(body), delivered);
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = at(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:47 1994", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn classification() {
        let status = |status: u16, retry_after: Option<u64>| ReporterError::Status {
            status,
            url: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
            body: String::new(),
        };
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(status(s, None).disposition(), Disposition::Retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 405, 422, 501] {
            assert_eq!(status(s, None).disposition(), Disposition::Permanent, "{s}");
        }
        assert_eq!(
            status(429, Some(7)).disposition(),
            Disposition::Throttled(Duration::from_secs(7))
        );
        assert_eq!(
            status(503, Some(7)).disposition(),
            Disposition::Throttled(Duration::from_secs(7))
        );
        assert_eq!(status(500, Some(7)).disposition(), Disposition::Retryable);
        assert!(status(404, None).to_string().contains("check server_url"));
    }
}
