//! How a report is sent to one server URL: one reqwest client (URL, headers, timeouts, redirect
//! policy and TLS set up once; or the application's own client, with the SDK's rules applied
//! per request), the POST, a bounded read of the answer, and the mapping of every failure to a
//! [`ReporterError`] whose text carries no credential. Which URL, and when the connection is
//! replaced, is `servers.rs`'s.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, CONNECTION};
use reqwest::Url;

use crate::answer::Answer;
use crate::client_setup::{
    collect_secrets, own_client, proxy_route, request_headers, warn_if_clear_text,
};
use crate::config::HeartbeatConfig;
use crate::endpoint::join_heartbeat_path;
use crate::error::{error_chain, Cause, ConfigError, ReporterError};
use crate::failover::{ConnectionAge, Use};
use crate::limits::{ERROR_BODY_SNIPPET, MAX_RESPONSE_BYTES, MAX_SHOWN_LOCATION};
use crate::proxy::ProxyRoute;
use crate::redact::{redact_url, scrub, shorten};
use crate::retry_after::parse_retry_after;

/// Sends reports to one server URL: one HTTP client, URL and headers built once and reused
/// (each URL of a list has its own, so its userinfo, proxy route and redirect origin are its
/// own). [`Servers`](crate::servers::Servers) holds one per URL.
pub(crate) struct Transport {
    http: reqwest::Client,
    url: Url,
    /// `url` without userinfo: what logs and errors show.
    redacted_url: String,
    timeout: Duration,
    /// The SDK's own client's connect timeout (never longer than `timeout`).
    connect_timeout: Duration,
    /// Set when `http` is the application's client: the SDK's headers and timeout go on each
    /// request, and only an answer from `url` itself counts.
    shared: Option<HeaderMap>,
    /// Credentials that must never appear in an error message, even when a server echoes
    /// them in its answer: longest first. Never printed.
    secrets: Vec<String>,
    /// The proxy reports go through, if the SDK chose one: its URL without credentials and
    /// where it was set. Its faults are named as its own.
    proxy: Option<(Url, &'static str)>,
    /// How old the pooled connection is, and when to replace it.
    age: ConnectionAge,
    /// What the SDK's own client is built from, to build it again when its pooled connection
    /// is past the max age; `None` for the application's client.
    setup: Option<(Arc<HeartbeatConfig>, ProxyRoute)>,
    /// The last answer's body and what it says: a steady server repeats itself, so an answer
    /// is parsed once.
    last: Option<(Vec<u8>, Answer)>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("url", &self.redacted_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Sets up the HTTP client for a checked configuration and its parsed server URL: nothing
    /// is checked again here.
    pub(crate) fn connect(config: &Arc<HeartbeatConfig>, server: Url) -> Result<Self, ConfigError> {
        let url = join_heartbeat_path(server, &config.app, &config.profile)?;
        let route = match proxy_route(config, &url) {
            Ok(route) => route,
            // The application's client decides its own proxy: an environment the SDK cannot
            // read only means no credentials of it to scrub.
            Err(_) if config.http_client.is_some() => ProxyRoute::Direct,
            Err(e) => return Err(e),
        };
        warn_if_clear_text(config, &url, &route);
        let (http, shared) = match &config.http_client {
            Some(client) => (client.clone(), Some(request_headers(config))),
            None => (own_client(config, &url, &route)?, None),
        };
        let secrets = collect_secrets(config, &url, &http, &route);
        let proxy = match &route {
            ProxyRoute::Proxy(target) if shared.is_none() => {
                Some((target.url.clone(), target.source))
            }
            _ => None,
        };
        let setup = shared.is_none().then(|| (Arc::clone(config), route));
        Ok(Transport {
            redacted_url: redact_url(url.as_str()),
            http,
            url,
            timeout: config.timeout,
            connect_timeout: config.connect_timeout.min(config.timeout),
            shared,
            secrets,
            proxy,
            age: ConnectionAge::new(
                config.connection_max_age,
                config.interval,
                pool_idle_timeout(config.interval),
            ),
            setup,
            last: None,
        })
    }

    /// Where the route to the server starts: the proxy's URL when reports go through one
    /// (the first hop), else the heartbeat URL (it may carry userinfo: never log it). The
    /// local address is found from it, and no name only the proxy knows is looked up.
    pub(crate) fn first_hop(&self) -> &Url {
        self.proxy.as_ref().map_or(&self.url, |(proxy, _)| proxy)
    }

    /// The heartbeat URL without userinfo: what logs and errors show.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// One attempt: POST the body, classify the outcome, read a bounded answer. A timeout
    /// says how long the attempt ran, which tells whose timeout fired. The connection is kept
    /// within its max age (see [`ConnectionAge`]): the request that ends its lifetime asks for
    /// it to be closed (`Connection: close`), so the next one opens a new connection and
    /// resolves the name again, with the SDK's pool or the application's.
    pub(crate) async fn send(&mut self, body: Bytes) -> Result<Answer, ReporterError> {
        let started = tokio::time::Instant::now();
        let mut using = self.age.start(started);
        if using.renew {
            self.renew();
            // The application's pool cannot be renewed: its old connection closes after this.
            using.close |= self.setup.is_none();
        }
        let (result, kept) = self.attempt(body, started, using).await;
        self.age.finished(kept && !using.close);
        match result {
            Ok(raw) => Ok(self.read(raw)),
            Err(ReporterError::Timeout { url, timeout, .. }) => Err(ReporterError::Timeout {
                url,
                timeout,
                elapsed: started.elapsed(),
            }),
            Err(error) => Err(error),
        }
    }

    /// The answer in `raw`, parsed once per distinct body.
    fn read(&mut self, raw: Vec<u8>) -> Answer {
        match &self.last {
            Some((seen, answer)) if *seen == raw => answer.clone(),
            _ => {
                let answer = Answer::parse(&raw);
                self.last = Some((raw, answer.clone()));
                answer
            }
        }
    }

    /// Builds the SDK's own client again, without its pooled connections.
    fn renew(&mut self) {
        let Some((config, route)) = &self.setup else {
            return;
        };
        match own_client(config, &self.url, route) {
            Ok(http) => self.http = http,
            Err(error) => tracing::debug!(%error, "cannot renew the HTTP client"),
        }
    }

    /// The outcome, and whether the connection went back to the pool (an answer came and the
    /// server did not ask to close it).
    async fn attempt(
        &self,
        body: Bytes,
        started: tokio::time::Instant,
        using: Use,
    ) -> (Result<Vec<u8>, ReporterError>, bool) {
        let close = using.close;
        let response = match self.post(body.clone(), self.timeout, close).await {
            Ok(response) => response,
            // A keep-alive connection that the server closed as it was reused (its idle
            // timeout fired): nothing is wrong with the server, and the report is idempotent
            // (it carries the current state), so it goes once more at once, on a new
            // connection, within what is left of the attempt's timeout. Never for a new
            // connection: a server that closes without answering gets one request.
            Err(e) if using.reused && closed_under_request(&e) => {
                let left = self.timeout.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return (Err(self.transport_error(e)), false);
                }
                tracing::debug!(error = %error_chain(&e.without_url()), "connection closed under the report; sending it again");
                match self.post(body, left, close).await {
                    Ok(response) => response,
                    Err(e) => return (Err(self.transport_error(e)), false),
                }
            }
            Err(e) => return (Err(self.transport_error(e)), false),
        };
        let kept = !response
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        (self.answer(response).await, kept)
    }

    /// What a response means: a redirect, a proxy's 407, an error status, or an answer's body.
    async fn answer(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ReporterError> {
        let status = response.status();
        if self.shared.is_some() && !same_target(response.url(), &self.url) {
            return Err(ReporterError::Redirect {
                status: status.as_u16(),
                url: self.redacted_url.clone(),
                location: self.redacted_location(response.url().as_str()),
            });
        }
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| self.redacted_location(&String::from_utf8_lossy(v.as_bytes())))
                .unwrap_or_default();
            return Err(ReporterError::Redirect {
                status: status.as_u16(),
                url: self.redacted_url.clone(),
                location,
            });
        }
        if status == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            return Err(self.proxy_error(Some(407), String::new()));
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
                url: self.redacted_url.clone(),
                retry_after,
                body,
            });
        }
        self.read_bounded(&mut response, MAX_RESPONSE_BYTES, false)
            .await
    }

    /// One POST, within `timeout` (the SDK's own client already has the full one).
    async fn post(
        &self,
        body: Bytes,
        timeout: Duration,
        close: bool,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = self.http.post(self.url.clone()).body(body);
        if close {
            // HTTP/1.1 only: HTTP/2 has no such header (hyper drops it), see docs/resilience.md.
            request = request.header(CONNECTION, HeaderValue::from_static("close"));
        }
        // The application's client has not the SDK's timeout; a retry has only what is left.
        if self.shared.is_some() || timeout < self.timeout {
            request = request.timeout(timeout);
        }
        if let Some(headers) = &self.shared {
            // The application's client has not the SDK's headers either. Headers set here win
            // over the client's default headers of the same name.
            for (name, value) in headers {
                request = request.header(name.clone(), value.clone());
            }
        }
        request.send().await
    }

    /// A redirect's `Location` as it may appear in errors and logs: resolved against the
    /// heartbeat URL, without userinfo, without any of the client's credentials, shortened.
    fn redacted_location(&self, location: &str) -> String {
        let shown = match self.url.join(location) {
            Ok(resolved) => redact_url(resolved.as_str()),
            Err(_) => redact_url(location),
        };
        shorten(&scrub(&shown, &self.secrets, false), MAX_SHOWN_LOCATION).into_owned()
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
        shorten(&scrub(&text, &self.secrets, cut), ERROR_BODY_SNIPPET).into_owned()
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
            url: self.redacted_url.clone(),
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
        let url = self.redacted_url.clone();
        if error.is_timeout() || chain_has_timeout(&error) {
            // The SDK's own client times out a connection at its connect timeout.
            let own_connect = self.shared.is_none() && error.is_connect();
            let timeout = if own_connect {
                self.connect_timeout
            } else {
                self.timeout
            };
            // `send` sets how long the attempt really ran.
            return ReporterError::Timeout {
                url,
                timeout,
                elapsed: timeout,
            };
        }
        let detail = error_chain(&error);
        let tls = is_tls_failure(&error);
        let connect = error.is_connect();
        // hyper-util's tunnel error is not public: its text is all there is to go by.
        if detail.contains("proxy authorization required") {
            return self.proxy_error(Some(407), detail);
        }
        if !tls && (detail.contains("tunnel error") || (connect && self.proxy.is_some())) {
            return self.proxy_error(None, detail);
        }
        let source: Cause = Arc::new(error);
        if tls {
            ReporterError::Tls {
                url,
                detail,
                source,
            }
        } else if connect {
            ReporterError::Connect {
                url,
                detail,
                source,
            }
        } else {
            ReporterError::Transport {
                url,
                detail,
                source,
            }
        }
    }
}

impl Transport {
    /// A fault of the proxy between the SDK and the server, naming it.
    fn proxy_error(&self, status: Option<u16>, detail: String) -> ReporterError {
        let (proxy, set_by) = match &self.proxy {
            Some((proxy, set_by)) => (proxy.to_string(), *set_by),
            None => (String::new(), "http_client()"),
        };
        ReporterError::Proxy {
            proxy,
            set_by,
            status,
            url: self.redacted_url.clone(),
            detail: scrub(&detail, &self.secrets, false),
        }
    }
}

/// How long the SDK's pool keeps an idle connection: two intervals, at least reqwest's 90 s
/// (the application's pool is taken to keep it as long).
pub(crate) fn pool_idle_timeout(interval: Duration) -> Duration {
    interval.saturating_mul(2).max(Duration::from_secs(90))
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

/// The connection was closed or reset under a request already on its way (not a refused
/// connection, not a timeout): what a server's idle timeout does to a keep-alive connection
/// reused at that moment.
fn closed_under_request(error: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    if error.is_connect() || error.is_timeout() {
        return false;
    }
    walk_chain(error, &mut |e| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
                )
            })
    })
}

/// The answer came from the heartbeat URL itself, not from where a redirect led (reqwest
/// removes userinfo from the URL it reports, so that is not compared).
fn same_target(answered: &Url, asked: &Url) -> bool {
    answered.scheme() == asked.scheme()
        && answered.host_str() == asked.host_str()
        && answered.port_or_known_default() == asked.port_or_known_default()
        && answered.path() == asked.path()
        && answered.query() == asked.query()
}
