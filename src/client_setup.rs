//! How the HTTP client for one server URL is set up: the SDK's own reqwest client (headers,
//! timeouts, pooling, redirect policy, proxy, TLS roots) or the headers applied per request to
//! the application's, the clear-text warning, and the credentials to scrub from error texts.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};

use crate::config::HeartbeatConfig;
use crate::endpoint::{has_userinfo, is_reserved_invalid};
use crate::error::{error_chain, ConfigError};
use crate::proxy::{route, ProxyRoute, ProxySetting};
use crate::redact::{percent_decode_lossy, redact_url};
use crate::tls::add_roots;
use crate::transport::pool_idle_timeout;

/// The SDK's own client, when the application gave none, taking `route`.
pub(crate) fn own_client(
    config: &HeartbeatConfig,
    url: &Url,
    route: &ProxyRoute,
) -> Result<reqwest::Client, ConfigError> {
    let https = url.scheme() == "https";
    let builder = with_proxy(http_builder(config, url), route)?;
    let builder = add_roots(builder, &config.root_certificates, https)?;
    builder.build().map_err(|e| {
        let hint = if https {
            ". https needs the system's CA certificates (e.g. the ca-certificates package) or the server's CA added with add_root_certificate()"
        } else {
            ""
        };
        ConfigError::Http(format!("{}{hint}", error_chain(&e.without_url())))
    })
}

/// The route to `url` the configuration asks for. The application's client has its own: only
/// the environment's proxy, whose credentials may still be echoed, is looked at for it.
pub(crate) fn proxy_route(config: &HeartbeatConfig, url: &Url) -> Result<ProxyRoute, ConfigError> {
    let setting = match config.http_client {
        Some(_) => &ProxySetting::Environment,
        None => &config.proxy,
    };
    route(setting, url, &|name| config.environment.var(name))
}

/// The proxy chosen by the SDK's own rules, if any, with its credentials as a sensitive
/// `Proxy-Authorization` (also inside a CONNECT tunnel for https).
fn with_proxy(
    builder: reqwest::ClientBuilder,
    route: &ProxyRoute,
) -> Result<reqwest::ClientBuilder, ConfigError> {
    let ProxyRoute::Proxy(target) = route else {
        return Ok(builder);
    };
    tracing::debug!(proxy = %target.url, from = target.source, "reports go through a proxy");
    let mut proxy = reqwest::Proxy::all(target.url.as_str())
        .map_err(|e| ConfigError::Http(error_chain(&e.without_url())))?;
    if let Some(value) = target.authorization() {
        proxy = proxy.custom_http_auth(value.clone());
    }
    Ok(builder.proxy(proxy))
}

/// The reqwest client's settings: headers, timeouts, pooling, redirects, name resolution.
/// Never reqwest's own proxy lookup, which reads the process environment, not the injected
/// one: `with_proxy` adds the proxy the SDK's rules choose.
fn http_builder(config: &HeartbeatConfig, url: &Url) -> reqwest::ClientBuilder {
    let origin = url.origin();
    let builder = reqwest::Client::builder()
        .no_proxy()
        .user_agent(USER_AGENT)
        .default_headers(default_headers(config))
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout.min(config.timeout))
        .pool_idle_timeout(pool_idle_timeout(config.interval))
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
    match url.host_str() {
        Some(host) if is_reserved_invalid(host) => builder.resolve_to_addrs(host, &[]),
        _ => builder,
    }
}

const USER_AGENT: &str = concat!("vortex-client/", env!("CARGO_PKG_VERSION"));

/// What the SDK's own client sends by default, for a client that does not: the default
/// headers and the `User-Agent`.
pub(crate) fn request_headers(config: &HeartbeatConfig) -> HeaderMap {
    let mut headers = default_headers(config);
    headers.insert(
        reqwest::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    headers
}

/// The headers sent with every report. Validation already checked every name and value, so
/// none is dropped here; credentials are marked sensitive (never printed by reqwest).
fn default_headers(config: &HeartbeatConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    let extra = config.headers.iter().filter_map(|(name, value)| {
        Some((
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(value).ok()?,
        ))
    });
    let bearer = config
        .bearer_token
        .as_ref()
        .and_then(|token| HeaderValue::from_str(&format!("Bearer {token}")).ok())
        .map(|value| (AUTHORIZATION, value));
    for (name, mut value) in extra.chain(bearer) {
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    headers
}

/// Credentials over plain http work, but anyone on the path can read them. Loopback has no
/// such path (a local sidecar, a mock server in a test), unless a proxy carries it off the
/// machine.
pub(crate) fn warn_if_clear_text(config: &HeartbeatConfig, server: &Url, route: &ProxyRoute) {
    let authorization = config
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    let credentials = has_userinfo(server) || authorization || config.bearer_token.is_some();
    let stays_local = crate::proxy::is_loopback(server) && *route == ProxyRoute::Direct;
    if server.scheme() == "http" && credentials && !stays_local {
        tracing::warn!(
            url = %redact_url(server.as_str()),
            "credentials are sent in clear text over http: use an https server_url"
        );
    }
}

/// Every credential the client sends, in the forms a server could echo: the bearer token,
/// extra header values, URL userinfo (as written and percent-decoded) and the Basic
/// credentials derived from it. Values shorter than 4 bytes are too short to scrub without
/// mangling messages (and too short to be secrets). Longest first.
pub(crate) fn collect_secrets(
    config: &HeartbeatConfig,
    url: &Url,
    http: &reqwest::Client,
    route: &ProxyRoute,
) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    secrets.extend(config.bearer_token.iter().cloned());
    secrets.extend(config.headers.iter().map(|(_, v)| v.clone()));
    for part in [url.username(), url.password().unwrap_or_default()] {
        secrets.push(part.to_owned());
        secrets.push(percent_decode_lossy(part));
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
    // A proxy's 407 or 502 page may echo the request, Proxy-Authorization included.
    if let ProxyRoute::Proxy(target) = route {
        secrets.extend(target.secrets());
    }
    secrets.retain(|s| s.trim().len() >= 4);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}
