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
/// How much of an error response's body is kept for the error message, in characters.
const ERROR_BODY_SNIPPET: usize = 256;
/// How much of a redirect's `Location` is kept for the error message, in characters.
const MAX_SHOWN_LOCATION: usize = 512;

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
        // Only an object is the contract's shape (serde would also read a struct from an
        // array such as `[false]`).
        let is_object = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        let wire = is_object
            .then(|| serde_json::from_slice::<WireResponse>(body).ok())
            .flatten();
        match wire {
            Some(wire) => HeartbeatResponse {
                registered: wire.registered.unwrap_or(true),
                expected_version: wire.expected_version,
                drift_detected: wire.drift_detected.unwrap_or(false),
            },
            None => HeartbeatResponse {
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
        /// The start of the response body, for diagnosis: at most 256 characters, control
        /// characters removed, the client's credentials replaced by `<redacted>`.
        body: String,
    },
    /// The server answered with a redirect, which the client does not follow.
    #[error("the server redirected POST {url} ({status}) to {location:?}; redirects to another origin, and redirects other than 307/308, are not followed: set server_url to the final address")]
    Redirect {
        /// The HTTP status code.
        status: u16,
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The `Location` header resolved against the heartbeat URL, without userinfo or the
        /// client's credentials, at most 512 characters.
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
    if !(1..=9999).contains(&year) {
        return None;
    }
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

/// True for `invalid` and names under it (RFC 6761 section 6.4): they never resolve, so no
/// DNS query is made for them.
pub(crate) fn is_reserved_invalid(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

/// Builds the heartbeat URL: `{server_url}/api/drift/heartbeat/{app}/{profile}`, joined without
/// a double or missing `/` and with `app` and `profile` percent-encoded as single segments.
/// `app` and `profile` get the configuration's checks: non-empty, not blank, at most
/// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes, no control characters, and not `.` or `..`
/// (URL parsers resolve those as relative segments). Whatever passes travels as exactly one
/// segment and percent-decodes back to itself.
///
/// ```
/// # use vortex_client::reporter::heartbeat_url;
/// let url = heartbeat_url("https://gw.example/config/", "my app", "a/b").unwrap();
/// assert_eq!(url.as_str(), "https://gw.example/config/api/drift/heartbeat/my%20app/a%2Fb");
/// ```
///
/// # Errors
///
/// [`ConfigError`] when `server_url` is not an http(s) URL with a host, or `app` or `profile`
/// fails the checks above.
pub fn heartbeat_url(server_url: &str, app: &str, profile: &str) -> Result<Url, ConfigError> {
    let mut url = crate::config::parse_server_url(server_url)?;
    crate::config::check_segment("app", app)?;
    crate::config::check_segment("profile", profile)?;
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
    /// Credentials that must never appear in an error message, even when a server echoes
    /// them in its answer: longest first. Never printed.
    secrets: Vec<String>,
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
        // RFC 6761: names under .invalid never resolve, and resolvers should say so without
        // asking DNS. The system resolver asks anyway; an empty override answers at once.
        let builder = match url.host_str() {
            Some(host) if is_reserved_invalid(host) => builder.resolve_to_addrs(host, &[]),
            _ => builder,
        };
        let https = url.scheme() == "https";
        let builder = add_roots(builder, &config.root_certificates, https)?;
        let http = builder.build().map_err(|e| {
            let hint = if https {
                ". https needs the system's CA certificates (e.g. the ca-certificates package) or the server's CA added with add_root_certificate()"
            } else {
                ""
            };
            ConfigError::Http(format!("{}{hint}", error_chain(&e.without_url())))
        })?;
        let secrets = collect_secrets(config, &url, &http);
        Ok(Reporter {
            shown_url: display_url(&url),
            http,
            url,
            timeout: config.timeout,
            secrets,
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
                .map(|v| self.shown_location(&String::from_utf8_lossy(v.as_bytes())))
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
            let body = self.error_snippet(&mut response).await;
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

    /// A redirect's `Location` as it may appear in errors and logs: resolved against the
    /// heartbeat URL, without userinfo, without any of the client's credentials, shortened.
    fn shown_location(&self, location: &str) -> String {
        let shown = match self.url.join(location) {
            Ok(resolved) => display_url(&resolved),
            Err(_) => crate::config::redact_url(location),
        };
        let shown = scrub(&shown, &self.secrets, false);
        shorten(&shown, MAX_SHOWN_LOCATION)
    }

    /// The start of an error response's body, for the error message: at most
    /// [`ERROR_BODY_SNIPPET`] characters, control characters removed, and every credential the
    /// client sends replaced (a gateway may echo the request's headers). Reads a little more
    /// than it keeps, so that a credential cut by the read limit is recognised too.
    async fn error_snippet(&self, response: &mut reqwest::Response) -> String {
        let longest_secret = self.secrets.first().map_or(0, String::len);
        let window = ERROR_BODY_SNIPPET + longest_secret;
        let Ok(raw) = self.read_bounded(response, window, true).await else {
            return String::new();
        };
        let cut = raw.len() >= window;
        let text: String = String::from_utf8_lossy(&raw)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        shorten(&scrub(&text, &self.secrets, cut), ERROR_BODY_SNIPPET)
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

/// One extra root certificate, in the form the TLS backend takes.
#[cfg(feature = "rustls")]
type RootCertificate = reqwest::Certificate;
/// One extra root certificate, in the form the TLS backend takes.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
type RootCertificate = rustls::pki_types::CertificateDer<'static>;

#[cfg(feature = "rustls")]
fn parse_pem_bundle(pem: &[u8]) -> Result<Vec<RootCertificate>, String> {
    reqwest::Certificate::from_pem_bundle(pem).map_err(|e| error_chain(&e))
}

#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn parse_pem_bundle(pem: &[u8]) -> Result<Vec<RootCertificate>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Parses the extra root certificates (each entry a PEM bundle of one or more certificates).
#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
pub(crate) fn parse_root_certificates(
    pems: &[Vec<u8>],
) -> Result<Vec<RootCertificate>, ConfigError> {
    let mut all = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let n = i + 1;
        let certs = parse_pem_bundle(pem).map_err(|e| ConfigError::InvalidValue {
            field: "root_certificates",
            reason: format!("root certificate #{n} is not PEM data: {e}"),
        })?;
        if certs.is_empty() {
            return Err(ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!(
                    "no certificate (-----BEGIN CERTIFICATE-----) found in root certificate #{n}"
                ),
            });
        }
        all.extend(certs);
    }
    Ok(all)
}

/// Without a TLS feature, extra root certificates cannot be used.
#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
pub(crate) fn parse_root_certificates(pems: &[Vec<u8>]) -> Result<(), ConfigError> {
    if pems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            field: "root_certificates",
            reason: "the crate was built without a TLS feature; enable `rustls-ring` or `rustls`"
                .into(),
        })
    }
}

/// Trust for https: the platform's verifier and roots, plus the extra roots. For an http
/// server no TLS connection is ever made (redirects stay on the same origin), so the client
/// trusts only the extra roots and does not need the system's CA certificates at all: a
/// minimal container without them can still report over http.
#[cfg(feature = "rustls")]
fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let certs = parse_root_certificates(pems)?;
    Ok(if https {
        builder.tls_certs_merge(certs)
    } else {
        builder.tls_certs_only(certs)
    })
}

/// With `rustls-ring` (and not `rustls`) reqwest has no crypto provider of its own, so the
/// client gets a complete rustls configuration: the provider the application installed as the
/// process default if it did (as reqwest itself does), else ring, which is never installed
/// process-wide; for https the platform's verifier with the extra roots, for http only the
/// extra roots (no system CA certificates needed); HTTP/1.1 by ALPN.
#[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    use std::sync::Arc;

    let roots = parse_root_certificates(pems)?;
    // PEM armour can hold bytes that are no certificate: check each one as a trust anchor.
    let mut store = rustls::RootCertStore::empty();
    for (i, root) in roots.iter().enumerate() {
        store
            .add(root.clone())
            .map_err(|e| ConfigError::InvalidValue {
                field: "root_certificates",
                reason: format!("certificate #{} cannot be a trust anchor: {e}", i + 1),
            })?;
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let tls_error = |e: rustls::Error| ConfigError::Http(format!("TLS setup failed: {e}"));
    let versions = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let mut tls = if https {
        match rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider) {
            Ok(verifier) => versions
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth(),
            // No system CA certificates (a minimal container): the extra roots alone, if any.
            Err(_) if !store.is_empty() => {
                versions.with_root_certificates(store).with_no_client_auth()
            }
            Err(e) => {
                return Err(ConfigError::Http(format!(
                    "TLS setup failed: {e}. https needs the system's CA certificates (e.g. the ca-certificates package) or the server's CA added with add_root_certificate()"
                )))
            }
        }
    } else {
        versions.with_root_certificates(store).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(tls))
}

#[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
fn add_roots(
    builder: reqwest::ClientBuilder,
    pems: &[Vec<u8>],
    _https: bool,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    parse_root_certificates(pems)?;
    Ok(builder)
}

/// Every credential the client sends, in the forms a server could echo: the bearer token,
/// extra header values, URL userinfo (as written and percent-decoded) and the Basic
/// credentials derived from it. Values shorter than 4 bytes are too short to scrub without
/// mangling messages (and too short to be secrets). Longest first.
fn collect_secrets(config: &HeartbeatConfig, url: &Url, http: &reqwest::Client) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    secrets.extend(config.bearer_token.iter().cloned());
    secrets.extend(config.headers.iter().map(|(_, v)| v.clone()));
    for part in [url.username(), url.password().unwrap_or_default()] {
        secrets.push(part.to_owned());
        secrets.push(percent_decode(part));
    }
    // The Basic credentials reqwest derives from the userinfo, exactly as sent.
    if let Ok(request) = http.post(url.clone()).build() {
        if let Some(value) = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            if let Some(credentials) = value.strip_prefix("Basic ") {
                secrets.push(credentials.to_owned());
            }
        }
    }
    secrets.retain(|s| s.trim().len() >= 4);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are (lossy).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces every secret in `text` with `<redacted>`. With `cut` (the text was cut short),
/// also drops a trailing start of a secret, which the cut may have split.
fn scrub(text: &str, secrets: &[String], cut: bool) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "<redacted>");
        }
    }
    if cut {
        for secret in secrets {
            if let Some(k) = (1..secret.len())
                .rev()
                .find(|&k| secret.is_char_boundary(k) && text.ends_with(&secret[..k]))
            {
                text.truncate(text.len() - k);
            }
        }
    }
    text
}

/// At most `max` characters of `text`, with `...` when it was longer.
fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        head.push_str("...");
    }
    head
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
            br#"[false, "v9", true]"#,
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
            // Years that would overflow the date arithmetic.
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
            "Sun Nov  6 08:49:37 99999999999",
            "Sun, 06 Nov 0 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        assert!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).is_some());
    }

    #[test]
    fn secrets_are_scrubbed_whole_and_when_cut() {
        let secrets = vec!["tok-s3cret".to_owned(), "pass".to_owned()];
        assert_eq!(
            scrub("bad token tok-s3cret, pass?", &secrets, false),
            "bad token <redacted>, <redacted>?"
        );
        // A body cut inside a secret loses the secret's start.
        assert_eq!(scrub("bad token tok-s3", &secrets, true), "bad token ");
        assert_eq!(
            scrub("bad token tok-s3", &secrets, false),
            "bad token tok-s3"
        );
        assert_eq!(shorten("abcdef", 3), "abc...");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(percent_decode("p%40ss%2Fw%zz%"), "p@ss/w%zz%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn reserved_invalid_names() {
        for host in ["invalid", "x.invalid", "a.b.INVALID", "x.invalid."] {
            assert!(is_reserved_invalid(host), "{host}");
        }
        for host in ["invalid.example", "xinvalid", "localhost", "127.0.0.1"] {
            assert!(!is_reserved_invalid(host), "{host}");
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
