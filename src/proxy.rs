//! Which proxy, if any, carries the reports of the SDK's own client: the [`ProxySetting`], the
//! environment's proxy variables read with curl's precedence, `NO_PROXY` matching, and the
//! never-proxied loopback. Pure policy: variables come through a lookup function (the
//! configuration's `Environment`), nothing here opens a socket.

use std::fmt;
use std::net::IpAddr;

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
    /// The userinfo as written (percent-encoded) and decoded, if any.
    credentials: Option<Credentials>,
}

#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    raw_user: String,
    raw_password: String,
    user: String,
    password: String,
}

impl fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("url", &self.url.as_str())
            .field("source", &self.source)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ProxyTarget {
    /// The `Proxy-Authorization` value for the userinfo (`Basic base64(user:password)`).
    pub(crate) fn authorization(&self) -> Option<String> {
        let c = self.credentials.as_ref()?;
        Some(format!(
            "Basic {}",
            base64(format!("{}:{}", c.user, c.password).as_bytes())
        ))
    }

    /// Every form of the credentials a proxy could echo: as written, decoded, and the Basic
    /// value. For scrubbing error texts; never printed.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let Some(c) = &self.credentials else {
            return Vec::new();
        };
        let basic = base64(format!("{}:{}", c.user, c.password).as_bytes());
        vec![
            c.raw_user.clone(),
            c.raw_password.clone(),
            c.user.clone(),
            c.password.clone(),
            format!("{}:{}", c.user, c.password),
            basic,
        ]
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
        ProxySetting::Url(url) => parse_proxy(url, "proxy() on the builder").map(ProxyRoute::Proxy),
        ProxySetting::Environment => from_environment(target, var),
    }
}

/// Whether `target` is `localhost` or a loopback address: traffic that never leaves the
/// machine by itself (the rule [`TargetHost::is_loopback`] gives).
pub(crate) fn is_loopback(target: &Url) -> bool {
    target
        .host_str()
        .is_some_and(|host| TargetHost::parse(host).is_loopback())
}

fn from_environment(
    target: &Url,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<ProxyRoute, ConfigError> {
    let Some(host) = target.host_str().map(TargetHost::parse) else {
        return Ok(ProxyRoute::Direct);
    };
    if host.is_loopback() {
        return Ok(ProxyRoute::Direct);
    }
    let Some((name, value)) = proxy_variable(target.scheme(), var) else {
        return Ok(ProxyRoute::Direct);
    };
    let port = target.port_or_known_default().unwrap_or(0);
    let no_proxy = ["no_proxy", "NO_PROXY"].iter().find_map(|n| var(n));
    if no_proxy.is_some_and(|list| NoProxy::parse(&list).matches(&host, port)) {
        return Ok(ProxyRoute::Direct);
    }
    parse_proxy(&value, name).map(ProxyRoute::Proxy)
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
        .find_map(|&name| var(name).map(|value| (name, value.trim().to_owned())))
}

/// A proxy URL as curl takes it: no scheme means `http://`; http and https only (the SDK has
/// no SOCKS support); a host is required; a path is ignored.
fn parse_proxy(raw: &str, source: &'static str) -> Result<ProxyTarget, ConfigError> {
    let raw = raw.trim();
    let fail = |why: &str| {
        invalid(
            "proxy",
            format!("{source} is not a usable proxy URL ({why}); expected http://[user:password@]host:port (the value is not shown: it may hold credentials)"),
        )
    };
    // No scheme ("proxy:3128", "user:pw@proxy:3128"): curl reads an http proxy.
    let parsed = if raw.contains("://") {
        Url::parse(raw)
    } else {
        Url::parse(&format!("http://{raw}"))
    }
    .map_err(|e| fail(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail("only http:// and https:// proxies are supported"));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(fail("no host"));
    };
    let credentials = (!parsed.username().is_empty() || parsed.password().is_some()).then(|| {
        let raw_password = parsed.password().unwrap_or_default().to_owned();
        Credentials {
            user: percent_decode_lossy(parsed.username()),
            password: percent_decode_lossy(&raw_password),
            raw_user: parsed.username().to_owned(),
            raw_password,
        }
    });
    let port = parsed.port_or_known_default().unwrap_or(80);
    let bare = format!("{}://{host}:{port}/", parsed.scheme());
    let url = Url::parse(&bare).map_err(|e| fail(&e.to_string()))?;
    Ok(ProxyTarget {
        url,
        source,
        credentials,
    })
}

/// A target host, normalised for matching: names lowercased without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TargetHost {
    Name(String),
    Ip(IpAddr),
}

impl TargetHost {
    /// A parsed URL's host: IPv6 in brackets, IPv4 already normalised by the URL parser.
    fn parse(host: &str) -> Self {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => TargetHost::Ip(ip),
            Err(_) => TargetHost::Name(host.trim_end_matches('.').to_ascii_lowercase()),
        }
    }

    /// `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8 and `::1` (also IPv4-mapped):
    /// a proxy elsewhere could not reach them (Go's net/http rule).
    fn is_loopback(&self) -> bool {
        match self {
            TargetHost::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            TargetHost::Ip(IpAddr::V4(ip)) => ip.is_loopback(),
            TargetHost::Ip(IpAddr::V6(ip)) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
    }
}

/// A parsed `NO_PROXY` list.
#[derive(Debug, Default, PartialEq, Eq)]
struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Debug, PartialEq, Eq)]
enum Entry {
    /// `*`: every host.
    All,
    /// A domain and its subdomains (`example.com`, `.example.com`, `*.example.com`).
    Domain(String, Option<u16>),
    /// One address.
    Ip(IpAddr, Option<u16>),
    /// A CIDR range: network and prefix length.
    Cidr(IpAddr, u8),
}

impl NoProxy {
    /// Entries separated by commas or whitespace; an entry that means nothing is skipped
    /// (as curl does).
    fn parse(list: &str) -> Self {
        let entries = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
            .filter_map(Entry::parse)
            .collect();
        NoProxy { entries }
    }

    fn matches(&self, host: &TargetHost, port: u16) -> bool {
        self.entries.iter().any(|e| e.matches(host, port))
    }
}

impl Entry {
    fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Entry::All);
        }
        if let Some((net, bits)) = text.split_once('/') {
            let net: IpAddr = net.trim_matches(['[', ']']).parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            return (bits <= max).then_some(Entry::Cidr(net, bits));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Entry::Ip(ip, None));
        }
        let (host, port) = split_port(text)?;
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Some(Entry::Ip(ip, port));
        }
        let domain = host.trim_start_matches("*.").trim_start_matches('.');
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        (!domain.is_empty()).then_some(Entry::Domain(domain, port))
    }

    fn matches(&self, host: &TargetHost, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match (self, host) {
            (Entry::All, _) => true,
            (Entry::Domain(d, p), TargetHost::Name(name)) => {
                port_ok(p)
                    && (name == d
                        || name
                            .strip_suffix(d.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            (Entry::Ip(ip, p), TargetHost::Ip(addr)) => port_ok(p) && ip == addr,
            (Entry::Cidr(net, bits), TargetHost::Ip(addr)) => in_range(*addr, *net, *bits),
            _ => false,
        }
    }
}

/// `host:port`, `[v6]:port`, or a bare host. `None` for a port that is not a number.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    let colon = match text.rfind(':') {
        Some(i) if !text.starts_with('[') || text[..i].ends_with(']') => i,
        _ => return Some((text, None)),
    };
    let port = text[colon + 1..].parse().ok()?;
    Some((&text[..colon], Some(port)))
}

fn in_range(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials (also those the
/// mock server requires).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let mut b = [0u8; 3];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
    fn no_proxy_follows_curl() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "http://vortex.test/", true),
            ("*", "http://10.1.2.3/", true),
            ("*", "http://[2001:db8::1]/", true),
            ("vortex.test", "http://vortex.test/", true),
            ("vortex.test", "http://a.b.vortex.test/", true),
            ("vortex.test", "http://notvortex.test/", false),
            (".vortex.test", "http://vortex.test/", true),
            (".vortex.test", "http://api.vortex.test/", true),
            ("*.vortex.test", "http://api.vortex.test/", true),
            ("VORTEX.TEST.", "http://Api.Vortex.Test./", true),
            ("test", "http://vortex.test/", true),
            ("10.1.2.3", "http://10.1.2.3/", true),
            ("10.1.2.3", "http://10.1.2.4/", false),
            ("10.0.0.0/8", "http://10.200.0.1/", true),
            ("10.0.0.0/8", "http://11.0.0.1/", false),
            ("0.0.0.0/0", "http://8.8.8.8/", true),
            ("2001:db8::/32", "http://[2001:db8:1::5]/", true),
            ("2001:db8::/32", "http://[2001:db9::5]/", false),
            ("2001:db8::1", "http://[2001:db8::1]:8080/", true),
            ("[2001:db8::1]:8080", "http://[2001:db8::1]:8080/", true),
            ("[2001:db8::1]:8080", "http://[2001:db8::1]:9090/", false),
            ("vortex.test:8888", "http://vortex.test:8888/", true),
            ("vortex.test:8888", "http://vortex.test:9999/", false),
            ("vortex.test:80", "http://vortex.test/", true),
            ("10.1.2.3:8888", "http://10.1.2.3:8888/", true),
            ("10.1.2.3:8888", "http://10.1.2.3:1/", false),
            // An IP entry never matches a name, nor a name an IP (no DNS).
            ("10.1.2.3", "http://vortex.test/", false),
            ("vortex.test", "http://10.1.2.3/", false),
            (" other.test , vortex.test ", "http://vortex.test/", true),
            ("other.test vortex.test", "http://vortex.test/", true),
            ("", "http://vortex.test/", false),
            ("10.0.0.0/99,bad:port,.", "http://vortex.test/", false),
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
        assert_eq!(p.authorization(), Some(format!("Basic {basic}")));
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

    #[test]
    fn base64_known_answers() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
