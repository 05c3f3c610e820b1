//! The errors: a setting that is wrong ([`ConfigError`]), a report that failed
//! ([`ReporterError`]), and what the client does about a failure ([`Disposition`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::redact::excerpt;
use crate::sources::{field_of_var, source_of, Source};

/// A setting that is wrong, with what to fix.
///
/// The message (`Display`) names the setting, its builder method and, where the environment
/// can give it, its variable, e.g. `server_url is not set: call .server_url(..) on the builder
/// or set VORTEX_URL`. `Debug` prints the same message, so that `?` in a `main` returning
/// `Result<(), Box<dyn Error>>` reads `Error: server_url is not set: ...`; the alternate form
/// (`{:#?}`) shows the variant and its fields.
///
/// Retrying the same settings cannot help, except for [`Runtime`](ConfigError::Runtime): a
/// service fails at start with the message, which says what to fix.
///
/// ```
/// use vortex_client::{ConfigError, Environment, HeartbeatConfig};
///
/// // A deployment that forgot VORTEX_PROFILE and mistyped the interval:
/// let env = Environment::from_vars([
///     ("VORTEX_URL", "http://vortex-config:8888"),
///     ("VORTEX_APP", "billing"),
///     ("VORTEX_HEARTBEAT_INTERVAL", "soon"),
/// ]);
/// match HeartbeatConfig::builder().environment(env).profile("production").build() {
///     Ok(config) => println!("reporting as {}", config.instance_id),
///     // A variable holds a value the SDK cannot use: the message names it and its value.
///     Err(ConfigError::InvalidEnv { var, .. }) => assert_eq!(var, "VORTEX_HEARTBEAT_INTERVAL"),
///     // Not set anywhere: the message names the builder method and the variable.
///     Err(ConfigError::MissingField(field)) => eprintln!("set {field}"),
///     // Out of threads or file descriptors (blocking client): may pass, try again later.
///     Err(e @ ConfigError::Runtime(_)) => eprintln!("retry later: {e}"),
///     // Any other wrong setting: fix it; the message says how.
///     Err(e) => panic!("heartbeat misconfigured: {e}"),
/// }
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting was given neither to the builder nor through the environment.
    #[error("{field} is not set: {how}", field = .0, how = how_to_set(.0))]
    MissingField(&'static str),
    /// A setting has a value the SDK cannot use.
    #[error("invalid {field}: {reason}{}", set_hint(.field))]
    InvalidValue {
        /// The setting.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An environment variable holds a value the SDK cannot use.
    #[error("invalid environment variable {var}={}: {reason}{}", excerpt(.value), env_hint(.var, .value))]
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// Its value (shortened in the message); for `OTEL_RESOURCE_ATTRIBUTES`, the
        /// offending `key=value` entry.
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

impl fmt::Debug for ConfigError {
    /// The message, as `Display` shows it: `?` in a `main` returning `Result<(), Box<dyn
    /// Error>>` then reads `Error: server_url is not set: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How to set a missing setting: its builder method and its variables.
fn how_to_set(field: &str) -> String {
    source_of(field).map_or_else(
        || format!("call .{field}(..) on the builder"),
        Source::how_to_set,
    )
}

/// For a setting the environment can give: where its value comes from.
fn set_hint(field: &str) -> String {
    source_of(field).map_or_else(String::new, |s| format!(" ({})", s.how_to_set()))
}

/// For a rejected variable: the builder method that takes precedence over it.
fn env_hint(var: &str, value: &str) -> String {
    field_of_var(var, value).map_or_else(String::new, |field| {
        format!(
            " (fix or unset {var}, or call .{field}(..) on the builder, which takes precedence)"
        )
    })
}

/// Which timeout fired: the SDK's own when the attempt ran (nearly) that long, else a shorter
/// one of the application's client.
fn timeout_message(url: &str, timeout: Duration, elapsed: Duration) -> String {
    // Timers fire a little early or late; 90 % tells "this timeout" from "a shorter one".
    if elapsed >= timeout.mul_f64(0.9) {
        format!("no answer from {url} within {timeout:?}")
    } else {
        format!("no answer from {url}: the HTTP client given with http_client() timed out after {elapsed:.0?}, before the SDK's {timeout:?}; its own timeouts (e.g. read_timeout) apply too")
    }
}

/// A [`ConfigError::InvalidValue`].
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        field,
        reason: reason.into(),
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

/// What a failure says about the server URL that gave it: whether another URL may take the
/// report (failover), and what the client says it does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Down or busy (connect error, timeout, reset, 5xx, 408, 425, 429), or its proxy failed.
    Unavailable,
    /// No drift API at that URL: 404, 405.
    NoDriftApi,
    /// That URL's credentials were refused: 401, 403.
    Credentials,
    /// That URL or its server is set up wrongly: TLS failure, redirect, oversized answer.
    Misconfigured,
    /// The report itself (400, 422, any other 4xx, a body too large, no runtime): every server
    /// would answer the same, so the attempt ends here.
    Report,
}

impl Problem {
    /// What the client does next, for the log line of a URL that failed.
    pub(crate) fn next_step(self) -> &'static str {
        match self {
            Problem::Unavailable => "the report goes to the next one (logged once until it answers)",
            Problem::NoDriftApi => "no drift API there: check that URL (the report goes to the next one)",
            Problem::Credentials => "its credentials were refused: check that URL's userinfo or the token (the report goes to the next one)",
            Problem::Misconfigured => "check that URL and its server's TLS and redirects (the report goes to the next one)",
            Problem::Report => "the report itself was refused",
        }
    }
}

/// An HTTP error status, decided once: whether retrying helps, what it says about the URL, and
/// the hint its message carries. A `Retry-After` on 429 or 503 makes it `Throttled`.
fn status_rule(status: u16) -> (Disposition, Problem, &'static str) {
    use Disposition::{Permanent, Retryable};
    match status {
        400 | 422 => (Permanent, Problem::Report, ": the server rejected the report's body (a client/server version mismatch?)"),
        401 | 403 => (Permanent, Problem::Credentials, ": check the credentials (bearer_token / headers)"),
        404 | 405 => (Permanent, Problem::NoDriftApi, ": no drift API at this URL; server_url must be the server's base address (a gateway prefix at most) on a server with the drift API (Vortex Config 1.0.2 and older have none)"),
        408 | 425 | 429 | 500 | 502 | 503 | 504 => (Retryable, Problem::Unavailable, " (transient; retrying with backoff)"),
        501 | 505 => (Permanent, Problem::Unavailable, ""),
        500..=599 => (Retryable, Problem::Unavailable, ""),
        _ => (Permanent, Problem::Report, ""),
    }
}

/// The underlying error of a failed attempt (from the HTTP stack), kept so that
/// [`source()`](StdError::source) can return it.
pub(crate) type Cause = Arc<dyn StdError + Send + Sync>;

/// Why a report failed.
///
/// Messages say what to fix; URLs in them never carry userinfo, and no token appears.
///
/// The background worker handles failures itself (it backs off, honours `Retry-After` and
/// logs a permanent error once); an application meets this error from
/// [`report_now`](crate::HeartbeatClient::report_now), and as text in
/// [`HeartbeatStatus::last_error`](crate::HeartbeatStatus::last_error). Its
/// [`disposition`](Self::disposition) says what to do:
///
/// ```
/// use vortex_client::testing::{MockServer, Reply};
/// use vortex_client::{Disposition, Environment, HeartbeatClient};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = MockServer::start().await?;
/// server.script([Reply::Status(404)]); // e.g. a wrong path prefix in server_url
/// let client = HeartbeatClient::builder()
///     .environment(Environment::empty())
///     .server_url(server.url())
///     .app("billing")
///     .profile("test")
///     .build()?;
/// match client.report_now().await {
///     Ok(answer) => println!("accepted; drift: {}", answer.drift_detected),
///     Err(e) => match e.disposition() {
///         // 4xx, TLS, a redirect: retrying cannot help; fix the setting the message names.
///         Disposition::Permanent => assert_eq!(e.status(), Some(404)),
///         // The server asked to wait (429/503 with Retry-After): try again after `delay`.
///         Disposition::Throttled(delay) => println!("retry in {delay:?}"),
///         // A transient fault (connect, timeout, 5xx): the worker retries with backoff.
///         Disposition::Retryable => println!("transient: {e}"),
///         _ => println!("{e}"),
///     },
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReporterError {
    /// No connection could be made (refused, unreachable, DNS failure).
    #[error("cannot connect to {url}: {detail}")]
    Connect {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause, as text.
        detail: String,
        /// The underlying error.
        source: Cause,
    },
    /// The attempt timed out: the SDK's timeout (or its connect timeout) expired, or, well
    /// before it, a timeout of the application's own client
    /// ([`http_client`](crate::HeartbeatBuilder::http_client)), such as its `read_timeout`.
    #[error("{}", timeout_message(.url, *.timeout, *.elapsed))]
    Timeout {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The SDK's timeout that applied: the attempt's, or the connect timeout when no
        /// connection was made in time.
        timeout: Duration,
        /// How long the attempt ran until it timed out. Well below `timeout`, the application's
        /// client's own timeout fired.
        elapsed: Duration,
    },
    /// The connection failed mid-way (reset, closed, malformed HTTP).
    #[error("request to {url} failed: {detail}")]
    Transport {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause, as text.
        detail: String,
        /// The underlying error.
        source: Cause,
    },
    /// TLS failed: an untrusted or invalid certificate, or a server that does not speak TLS.
    #[error("TLS with {url} failed: {detail}. If the server uses a private CA, add it with add_root_certificate(); if it speaks plain HTTP, use an http:// URL")]
    Tls {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The underlying cause, as text.
        detail: String,
        /// The underlying error.
        source: Cause,
    },
    /// A proxy between the SDK and the server failed the report: it could not be reached,
    /// asked for credentials (407), or refused to open a tunnel. Retried with backoff; with
    /// several server URLs the report moves on to the next one.
    #[error("{}", proxy_message(.proxy, .set_by, *.status, .url, .detail))]
    Proxy {
        /// The proxy, `scheme://host:port/` without credentials; empty for a proxy of the
        /// application's own client ([`http_client`](crate::HeartbeatBuilder::http_client)).
        proxy: String,
        /// Where the proxy was set: its variable (`HTTPS_PROXY`, ...), `proxy()` on the
        /// builder, or `http_client()`.
        set_by: &'static str,
        /// `Some(407)` when the proxy asked for credentials.
        status: Option<u16>,
        /// The heartbeat URL, without userinfo.
        url: String,
        /// What failed, as text.
        detail: String,
    },
    /// The server answered with a non-2xx, non-3xx status.
    #[error("the server answered {status} for POST {url}{}{}", status_rule(*.status).2, body_suffix(.body))]
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
    /// The server answered with a redirect, which the client does not follow. With an
    /// application's own client ([`http_client`](crate::HeartbeatBuilder::http_client)) that
    /// followed it, `status` is the final answer's and `location` the address it came from: the
    /// report is not counted as delivered.
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
    /// The response body exceeded the client's cap (64 KiB, `limit`);
    /// the connection was dropped.
    #[error("the response from {url} exceeds {limit} bytes; it was not read")]
    ResponseTooLarge {
        /// The heartbeat URL, without userinfo.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The request body would exceed the client's cap (32 KiB, `limit`)
    /// (too much metadata).
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

fn proxy_message(
    proxy: &str,
    set_by: &str,
    status: Option<u16>,
    url: &str,
    detail: &str,
) -> String {
    let named = if proxy.is_empty() {
        format!("a proxy of the client given with {set_by}")
    } else {
        format!("the proxy {proxy} (set by {set_by})")
    };
    match status {
        Some(407) => format!("{named} answered 407 Proxy Authentication Required for POST {url}: give it valid credentials (user:password in {set_by}, percent-encoded)"),
        _ => format!("cannot reach the server through {named}: {detail}; check that proxy, or fix {set_by}"),
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
            | ReporterError::Transport { .. }
            | ReporterError::Proxy { .. } => Disposition::Retryable,
            ReporterError::Status {
                status: 429 | 503,
                retry_after: Some(delay),
                ..
            } => Disposition::Throttled(*delay),
            ReporterError::Status { status, .. } => status_rule(*status).0,
            ReporterError::Tls { .. }
            | ReporterError::Redirect { .. }
            | ReporterError::ResponseTooLarge { .. }
            | ReporterError::RequestTooLarge { .. }
            | ReporterError::NoRuntime(_) => Disposition::Permanent,
        }
    }

    /// What the failure says about the server URL that gave it.
    pub(crate) fn problem(&self) -> Problem {
        match self {
            ReporterError::Connect { .. }
            | ReporterError::Timeout { .. }
            | ReporterError::Transport { .. }
            | ReporterError::Proxy { .. } => Problem::Unavailable,
            ReporterError::Status { status, .. } => status_rule(*status).1,
            ReporterError::Tls { .. }
            | ReporterError::Redirect { .. }
            | ReporterError::ResponseTooLarge { .. } => Problem::Misconfigured,
            ReporterError::RequestTooLarge { .. } | ReporterError::NoRuntime(_) => Problem::Report,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReporterError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of the answer, when one came (a proxy's 407 included).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ReporterError::Status { status, .. } | ReporterError::Redirect { status, .. } => {
                Some(*status)
            }
            ReporterError::Proxy { status, .. } => *status,
            _ => None,
        }
    }

    /// What makes two errors the same for the log: a permanent error is logged once until
    /// another one comes.
    pub(crate) fn kind(&self) -> (std::mem::Discriminant<Self>, Option<u16>) {
        (std::mem::discriminant(self), self.status())
    }
}

/// The error and its sources, joined with `: `, without repeats.
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_names_the_timeout_that_fired() {
        let timeout = |elapsed| ReporterError::Timeout {
            url: "http://h/x".into(),
            timeout: Duration::from_secs(5),
            elapsed,
        };
        let sdk = timeout(Duration::from_millis(5003)).to_string();
        assert_eq!(sdk, "no answer from http://h/x within 5s");
        let own = timeout(Duration::from_millis(102)).to_string();
        assert!(own.contains("http_client() timed out after 102ms"), "{own}");
        assert!(!own.contains("within"), "{own}");
    }

    fn status(status: u16, retry_after: Option<Duration>) -> ReporterError {
        ReporterError::Status {
            status,
            url: String::new(),
            retry_after,
            body: String::new(),
        }
    }

    #[test]
    fn classification() {
        let classify = |s, after| status(s, after).disposition();
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(classify(s, None), Disposition::Retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 405, 422, 501] {
            assert_eq!(classify(s, None), Disposition::Permanent, "{s}");
        }
        let seven = Some(Duration::from_secs(7));
        assert_eq!(
            classify(429, seven),
            Disposition::Throttled(Duration::from_secs(7))
        );
        assert_eq!(
            classify(503, seven),
            Disposition::Throttled(Duration::from_secs(7))
        );
        assert_eq!(classify(500, seven), Disposition::Retryable);
        let not_found = ReporterError::Status {
            status: 404,
            url: String::new(),
            retry_after: None,
            body: String::new(),
        };
        assert_eq!(not_found.disposition(), Disposition::Permanent);
        let text = not_found.to_string();
        assert!(
            text.contains("no drift API at this URL") && text.contains("1.0.2"),
            "{text}"
        );
    }

    #[test]
    fn transport_errors_keep_their_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = ReporterError::Connect {
            url: "http://h/".into(),
            detail: "refused".into(),
            source: std::sync::Arc::new(io),
        };
        let source = error.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("refused"));
        assert_eq!(error.clone().to_string(), error.to_string());
    }
}
