//! Which proxy, if any, carries the reports of the SDK's own client: the [`ProxySetting`], the
//! environment's proxy variables read with curl's precedence, and the never-proxied loopback;
//! `NO_PROXY` and the proxy URL are read by hyper-util's proxy matcher. Pure policy: variables
//! come through a lookup function (the configuration's `Environment`), nothing here opens a
//! socket.

use std::fmt;
use std::net::IpAddr;

use hyper::Uri;
use hyper_util::client::proxy::matcher::Matcher;
use reqwest::header::HeaderValue;
use reqwest::Url;

use crate::error::{invalid, ConfigError};
use crate::redact::{percent_decode_lossy, redact_url};

/// Whether the SDK's own HTTP client uses a proxy. Set it with
/// [`HeartbeatBuilder::proxy`](crate::HeartbeatBuilder::proxy) or
/// [`HeartbeatBuilder::no_proxy`](crate::HeartbeatBuilder::no_proxy); `docs/security.md`
/// ("Proxies") has the rules and a table of cases.
///
/// With [`HeartbeatBuilder::http_client`](crate::HeartbeatBuilder::http_client) the
/// application's client decides the proxy, and only the default (`Environment`) is accepted.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySetting {
    /// The default: the proxy named by the configuration's
    /// [`Environment`](crate::Environment) (`https_proxy`/`HTTPS_PROXY` for an https server,
    /// `http_proxy`/`HTTP_PROXY` for an http one, else `all_proxy`/`ALL_PROXY`), unless
    /// `no_proxy`/`NO_PROXY` lists the server or the server is `localhost` or a loopback
    /// address. [`Environment::empty()`](crate::Environment::empty) means no proxy.
    #[default]
    Environment,
    /// Always this proxy (`http://[user:password@]host:port`, or `https://...`), whatever the
    /// environment says. Userinfo is sent as `Proxy-Authorization: Basic` and never shown.
    Url(String),
    /// Never a proxy, whatever the environment says.
    Direct,
}

impl fmt::Debug for ProxySetting {
    // The URL may carry credentials: shown without userinfo.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
            ProxySetting::Direct => f.write_str("Direct"),
        }
    }
}

/// Where the SDK's own client sends a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyRoute {
    /// Straight to the server.
    Direct,
    /// Through this proxy.
    Proxy(ProxyTarget),
}

/// A proxy to use: its URL without userinfo, and the credentials it gets.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyTarget {
    /// `scheme://host:port/`, without userinfo.
    pub(crate) url: Url,
    /// Where it was named: the variable, or `proxy()` on the builder.
    pub(crate) source: &'static str,
    /// `Basic base64(user:password)` from the userinfo (percent-decoded), marked sensitive.
    authorization: Option<HeaderValue>,
    /// The user and password as written (percent-encoded), if any.
    userinfo: Option<(String, String)>,
}

impl fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("url", &self.url.as_str())
            .field("source", &self.source)
            .field("credentials", &self.userinfo.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ProxyTarget {
    /// The `Proxy-Authorization` value for the userinfo, marked sensitive.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// Every form of the credentials a proxy could echo: as written, decoded, and the Basic
    /// value. For scrubbing error texts; never printed.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let Some((raw_user, raw_password)) = &self.userinfo else {
            return Vec::new();
        };
        let (user, password) = (
            percent_decode_lossy(raw_user),
            percent_decode_lossy(raw_password),
        );
        let basic = self.authorization.as_ref().and_then(|v| v.to_str().ok());
        let mut secrets = vec![
            raw_user.clone(),
            raw_password.clone(),
            format!("{user}:{password}"),
            user,
            password,
        ];
        secrets.extend(
            basic
                .and_then(|v| v.strip_prefix("Basic "))
                .map(str::to_owned),
        );
        secrets
    }
}

/// The route to `target` (the heartbeat URL) for `setting`, reading variables with `var`.
///
/// # Errors
///
/// A proxy URL that cannot be used (unparseable, no host, a scheme other than http or
/// https), named by its variable; the message never shows the value (it may hold
/// credentials).
pub(crate) fn route(
    setting: &ProxySetting,
    target: &Url,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<ProxyRoute, ConfigError> {
    match setting {
        ProxySetting::Direct => Ok(ProxyRoute::Direct),
        ProxySetting::Url(url) => through(target, url, "", "proxy() on the builder"),
        ProxySetting::Environment if is_loopback(target) => Ok(ProxyRoute::Direct),
        ProxySetting::Environment => {
            let Some((name, value)) = proxy_variable(target.scheme(), var) else {
                return Ok(ProxyRoute::Direct);
            };
            let no_proxy = var("no_proxy")
                .or_else(|| var("NO_PROXY"))
                .unwrap_or_default();
            // Kept on top of the matcher: `*` also covers IP literals (curl's rule; the
            // matcher applies it to names only), and `*.example.com` reads as `.example.com`.
            if no_proxy.split(',').any(|entry| entry.trim() == "*") {
                return Ok(ProxyRoute::Direct);
            }
            through(target, &value, &no_proxy.replace("*.", "."), name)
        }
    }
}

/// Whether `target` is `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8 or `::1` (also
/// IPv4-mapped): a proxy elsewhere could not reach it (Go's net/http rule).
pub(crate) fn is_loopback(target: &Url) -> bool {
    let Some(host) = target.host_str() else {
        return false;
    };
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// The variable naming the proxy for `scheme`, curl's order: the scheme's own variable before
/// `all_proxy`, lowercase before uppercase. Uppercase `HTTP_PROXY` is read (unlike curl, like
/// Go and reqwest) except under CGI (`REQUEST_METHOD` set), where a request's `Proxy:` header
/// arrives as `HTTP_PROXY` (httpoxy).
fn proxy_variable(
    scheme: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    let cgi = var("REQUEST_METHOD").is_some();
    let names: &[&'static str] = match scheme {
        "https" => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        _ if cgi => &["http_proxy", "all_proxy", "ALL_PROXY"],
        _ => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
    };
    names
        .iter()
        .find_map(|&name| var(name).map(|value| (name, value)))
}

/// The route to `target` through the proxy `value` unless the `no_proxy` list excludes it, as
/// hyper-util's matcher (the one reqwest uses) decides: no scheme means http, a path is
/// ignored, userinfo becomes the Basic credentials. The SDK takes http and https proxies only.
fn through(
    target: &Url,
    value: &str,
    no_proxy: &str,
    source: &'static str,
) -> Result<ProxyRoute, ConfigError> {
    let fail = |why: &str| {
        invalid(
            "proxy",
            format!("{source} is not a usable proxy URL ({why}); expected http://[user:password@]host:port (the value is not shown: it may hold credentials)"),
        )
    };
    // Only the scheme and host are matched. A host that is no URI host cannot be sent to
    // (reqwest refuses it too): nothing to route.
    let host = target.host_str().unwrap_or_default();
    let Ok(dst) = format!("{}://{host}/", target.scheme()).parse::<Uri>() else {
        return Ok(ProxyRoute::Direct);
    };
    let value = value.trim();
    let intercept = |no: &str| Matcher::builder().all(value).no(no).build().intercept(&dst);
    let unusable = "not an http:// or https:// URL with a host";
    let Some(proxy) = intercept(no_proxy) else {
        // Excluded (an unusable proxy that does not apply is not looked at), or unusable.
        return match intercept("") {
            Some(_) => Ok(ProxyRoute::Direct),
            None => Err(fail(unusable)),
        };
    };
    // The matcher also takes SOCKS, which the SDK does not support.
    if !matches!(proxy.uri().scheme_str(), Some("http" | "https")) {
        return Err(fail(unusable));
    }
    let url = Url::parse(&proxy.uri().to_string()).map_err(|e| fail(&e.to_string()))?;
    // The matcher splits the userinfo at the first `@`: with another one, part of it is left
    // in the URL.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("an @ in the user or password must be written %40"));
    }
    Ok(ProxyRoute::Proxy(ProxyTarget {
        url,
        source,
        authorization: proxy.basic_auth().cloned(),
        userinfo: userinfo(value),
    }))
}

/// The user and password of a proxy URL as written, split as the matcher splits them.
fn userinfo(value: &str) -> Option<(String, String)> {
    let uri = value.parse::<Uri>().ok()?;
    let (userinfo, _) = uri.authority()?.as_str().split_once('@')?;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((user.to_owned(), password.to_owned()))
}

/// Standard base64 with padding, for the Basic credentials the mock server requires.
#[cfg(feature = "testing")]
pub(crate) fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// The proxy's `host:port` for `target` under these variables, or "direct".
    fn via(pairs: &[(&str, &str)], target: &str) -> String {
        let target = Url::parse(target).unwrap();
        match route(&ProxySetting::Environment, &target, &vars(pairs)).unwrap() {
            ProxyRoute::Direct => "direct".to_owned(),
            ProxyRoute::Proxy(p) => format!(
                "{}:{}",
                p.url.host_str().unwrap(),
                p.url.port_or_known_default().unwrap()
            ),
        }
    }

    #[test]
    fn scheme_variables_with_curls_precedence() {
        let all = [
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:2"),
            ("https_proxy", "http://lower-s:3"),
            ("HTTPS_PROXY", "http://upper-s:4"),
            ("all_proxy", "http://all:5"),
            ("ALL_PROXY", "http://all-upper:6"),
        ];
        assert_eq!(via(&all, "http://vortex.test/"), "lower:1");
        assert_eq!(via(&all, "https://vortex.test/"), "lower-s:3");
        assert_eq!(via(&all[1..], "http://vortex.test/"), "upper:2");
        assert_eq!(via(&all[3..], "https://vortex.test/"), "upper-s:4");
        assert_eq!(via(&all[2..], "http://vortex.test/"), "all:5");
        assert_eq!(via(&all[5..], "https://vortex.test/"), "all-upper:6");
        assert_eq!(via(&[], "http://vortex.test/"), "direct");
        // httpoxy: under CGI, HTTP_PROXY may come from a request's Proxy: header.
        let cgi = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
        assert_eq!(via(&cgi, "http://vortex.test/"), "direct");
        let cgi_lower = [("REQUEST_METHOD", "GET"), ("http_proxy", "http://ok:1")];
        assert_eq!(via(&cgi_lower, "http://vortex.test/"), "ok:1");
        // An http proxy variable does not serve https, and the reverse.
        assert_eq!(
            via(&[("HTTP_PROXY", "p:1")], "https://vortex.test/"),
            "direct"
        );
        assert_eq!(
            via(&[("HTTPS_PROXY", "p:1")], "http://vortex.test/"),
            "direct"
        );
    }

    #[test]
    fn loopback_and_localhost_are_never_proxied() {
        let p = [("HTTP_PROXY", "http://proxy:3128")];
        for target in [
            "http://127.0.0.1:8888/",
            "http://127.4.5.6/",
            "http://[::1]:8888/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8888/",
            "http://LOCALHOST./",
            "http://api.localhost/",
        ] {
            assert_eq!(via(&p, target), "direct", "{target}");
        }
        for target in [
            "http://128.0.0.1/",
            "http://0.0.0.0/",
            "http://localhost.example/",
            "http://notlocalhost/",
            "http://[::2]/",
        ] {
            assert_eq!(via(&p, target), "proxy:3128", "{target}");
        }
    }

    #[test]
    fn no_proxy_is_the_matchers_with_the_sdks_wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            // The SDK's own: `*` covers IP literals, `*.example.com` reads as `.example.com`.
            ("*", "http://vortex.test/", true),
            ("other.test, *", "http://10.1.2.3/", true),
            ("*", "http://[2001:db8::1]/", true),
            ("*.vortex.test", "http://api.vortex.test/", true),
            ("*.vortex.test", "http://vortex.test/", true),
            // The matcher's (curl's) rules.
            ("vortex.test", "http://a.b.vortex.test/", true),
            ("vortex.test", "http://notvortex.test/", false),
            ("VORTEX.TEST", "http://Api.Vortex.Test/", true),
            ("10.0.0.0/8", "http://10.200.0.1/", true),
            ("10.0.0.0/8", "http://11.0.0.1/", false),
            ("2001:db8::1", "http://[2001:db8::1]:8080/", true),
            ("10.1.2.3", "http://vortex.test/", false),
            (" other.test , vortex.test ", "http://vortex.test/", true),
        ];
        for (list, target, direct) in cases {
            let env = [("HTTP_PROXY", "http://proxy:3128"), ("NO_PROXY", list)];
            let expected = if *direct { "direct" } else { "proxy:3128" };
            assert_eq!(via(&env, target), expected, "NO_PROXY={list:?} {target}");
        }
        // Lowercase wins over uppercase.
        let env = [
            ("HTTP_PROXY", "http://proxy:3128"),
            ("no_proxy", "other.test"),
            ("NO_PROXY", "vortex.test"),
        ];
        assert_eq!(via(&env, "http://vortex.test/"), "proxy:3128");
    }

    #[test]
    fn proxy_urls_as_curl_takes_them() {
        assert_eq!(
            via(&[("HTTP_PROXY", "proxy:3128")], "http://v.test/"),
            "proxy:3128"
        );
        assert_eq!(
            via(&[("HTTP_PROXY", "http://proxy")], "http://v.test/"),
            "proxy:80"
        );
        assert_eq!(
            via(
                &[("HTTP_PROXY", "http://proxy:3128/some/path")],
                "http://v.test/"
            ),
            "proxy:3128"
        );
        let target = Url::parse("http://v.test/").unwrap();
        for bad in [
            "socks5://u:s3cret-pw@proxy:1080",
            "http://u:s3cret-pw@",
            "http://u:s3cret-pw@proxy:99999",
            "http://u:s3cret-pw",
            "http://u@s:s3cret-pw@proxy:3128",
        ] {
            let err = route(
                &ProxySetting::Environment,
                &target,
                &vars(&[("HTTP_PROXY", bad)]),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("HTTP_PROXY"), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
        // An unusable proxy that does not apply is not an error.
        let env = [("HTTP_PROXY", "socks5://p:1"), ("NO_PROXY", "*")];
        assert_eq!(via(&env, "http://v.test/"), "direct");
    }

    #[test]
    fn explicit_settings_win_over_the_environment() {
        let target = Url::parse("http://127.0.0.1:1/").unwrap();
        let env = vars(&[("HTTP_PROXY", "http://env-proxy:1")]);
        let direct = route(
            &ProxySetting::Direct,
            &Url::parse("http://v.test/").unwrap(),
            &env,
        );
        assert_eq!(direct.unwrap(), ProxyRoute::Direct);
        // An explicit proxy is the application's choice, also for loopback.
        let setting = ProxySetting::Url("http://mine:8080".into());
        match route(&setting, &target, &env).unwrap() {
            ProxyRoute::Proxy(p) => {
                assert_eq!(p.url.as_str(), "http://mine:8080/");
                assert_eq!(p.source, "proxy() on the builder");
            }
            ProxyRoute::Direct => panic!("explicit proxy ignored"),
        }
    }

    #[test]
    fn credentials_become_basic_and_are_never_shown() {
        let setting = ProxySetting::Url("http://us%40er:p%3Ass-w0rd@proxy:3128".into());
        let target = Url::parse("http://v.test/").unwrap();
        let ProxyRoute::Proxy(p) = route(&setting, &target, &vars(&[])).unwrap() else {
            panic!("no proxy");
        };
        assert_eq!(p.url.as_str(), "http://proxy:3128/");
        let basic = base64(b"us@er:p:ss-w0rd");
        let sent = p.authorization().and_then(|v| v.to_str().ok());
        assert_eq!(sent, Some(format!("Basic {basic}").as_str()));
        assert!(p.authorization().is_some_and(HeaderValue::is_sensitive));
        let secrets = p.secrets();
        for s in [
            "us%40er",
            "p%3Ass-w0rd",
            "us@er",
            "p:ss-w0rd",
            basic.as_str(),
        ] {
            assert!(secrets.iter().any(|x| x == s), "{s} missing");
        }
        for shown in [format!("{p:?}"), format!("{setting:?}")] {
            assert!(
                !shown.contains("w0rd") && !shown.contains(&basic),
                "{shown}"
            );
        }
        assert!(format!("{setting:?}").contains("***@proxy:3128"));
    }
}
