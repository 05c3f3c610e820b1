//! Instance metadata: what tells an operator which host, pod and region a report comes from.
//!
//! Detection runs once per client (when it is first started or first reports) and its result is
//! cached: no heartbeat pays for it. Every field is taken from the first source that has a
//! usable value, highest priority first:
//!
//! 1. the explicit builder value (merged by the client on top of what is detected here);
//! 2. `OTEL_RESOURCE_ATTRIBUTES` (OpenTelemetry's resource attributes);
//! 3. the field's own environment variables, then files and the OS.
//!
//! Detection never spawns a process, reads at most a few KiB from a file, never blocks a runtime
//! thread, and never fails: what cannot be found is left out. A detected value that is too long
//! or holds control characters is dropped (logged at debug), so a hostile environment cannot
//! make a report invalid.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use serde::Serialize;

use crate::config::{MAX_LABEL_VALUE_LEN, MAX_NAME_LEN};
use crate::env::Environment;

/// Metadata about the running instance, sent under `metadata` in every report.
///
/// Every field is optional: what is unknown is omitted from the request. Custom labels go under
/// `metadata.custom`, as the server's model expects.
///
/// ```
/// use vortex_client::InstanceMetadata;
///
/// let mut meta = InstanceMetadata::default();
/// meta.region = Some("eu-west-1".into());
/// meta.custom.insert("team".into(), "platform".into());
/// assert!(!meta.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceMetadata {
    /// Host name of the machine or container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The address this instance uses to reach the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Cloud region, e.g. `eu-west-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Kubernetes pod name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_pod: Option<String>,
    /// Kubernetes namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_namespace: Option<String>,
    /// Version of the application itself (not of its configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// User labels, e.g. `team = platform`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
}

impl InstanceMetadata {
    /// True when nothing at all is known (the request then omits `metadata`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hostname.is_none()
            && self.ip_address.is_none()
            && self.region.is_none()
            && self.kubernetes_pod.is_none()
            && self.kubernetes_namespace.is_none()
            && self.app_version.is_none()
            && self.custom.is_empty()
    }

    /// Fills every field that is `None` here from `other`; custom labels set here win.
    pub(crate) fn fill_from(&mut self, other: InstanceMetadata) {
        fn fill(slot: &mut Option<String>, value: Option<String>) {
            if slot.is_none() {
                *slot = value;
            }
        }
        fill(&mut self.hostname, other.hostname);
        fill(&mut self.ip_address, other.ip_address);
        fill(&mut self.region, other.region);
        fill(&mut self.kubernetes_pod, other.kubernetes_pod);
        fill(&mut self.kubernetes_namespace, other.kubernetes_namespace);
        fill(&mut self.app_version, other.app_version);
        for (k, v) in other.custom {
            self.custom.entry(k).or_insert(v);
        }
    }
}

/// Variables the Kubernetes downward API is commonly mapped to, for the pod's name.
const POD_VARS: &[&str] = &["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"];
/// ... for the pod's namespace.
const NAMESPACE_VARS: &[&str] = &["POD_NAMESPACE", "MY_POD_NAMESPACE", "KUBERNETES_NAMESPACE"];
/// ... for the node's name (`spec.nodeName`): a host name equal to it is the node's
/// (`hostNetwork: true`), not the pod's.
const NODE_VARS: &[&str] = &["NODE_NAME", "MY_NODE_NAME", "KUBERNETES_NODE_NAME"];
/// Region variables set by AWS, Fly.io and common platforms, in priority order.
const REGION_VARS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "FLY_REGION",
    "REGION_NAME",
    "CLOUD_REGION",
    "REGION",
];
/// Kubernetes mounts the pod's namespace here (with the service-account token).
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Set by Kubernetes in every container of a pod.
const IN_KUBERNETES_VAR: &str = "KUBERNETES_SERVICE_HOST";
/// The OpenTelemetry resource attributes variable.
const OTEL_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// How long resolving the server's host name for the route lookup may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// Resolved addresses tried for the route lookup.
const MAX_ROUTE_CANDIDATES: usize = 8;
/// The most bytes detected values may take in the JSON body. The client reserves 8 KiB of the
/// request for detected metadata; this leaves room for the members' names.
const DETECTED_JSON_BUDGET: usize = 7 * 1024;

/// Detects what the environment tells about this instance. Explicit values are merged on top
/// by the caller. Without `server` (the caller knows the IP already) no route is looked up.
pub(crate) async fn detect(env: &Environment, server: Option<&reqwest::Url>) -> InstanceMetadata {
    let otel = match parse_otel_resource_attributes(env.var(OTEL_VAR).as_deref().unwrap_or("")) {
        Ok(attributes) => OtelFields::from_attributes(attributes),
        Err(error) => {
            tracing::warn!(
                %error,
                "{OTEL_VAR} is malformed; ignoring it whole, as the OpenTelemetry specification says"
            );
            OtelFields::default()
        }
    };
    let mut meta = detect_local(env, otel);
    if let (None, Some(server)) = (&meta.ip_address, server) {
        meta.ip_address = route_source(server)
            .await
            .and_then(|ip| clean("route to the server", ip.to_string()));
    }
    fit_budget(&mut meta);
    meta
}

/// The default instance id: the pod name in Kubernetes, else the host name plus a random
/// suffix. Computed once per client, so it is stable for the life of the process.
pub(crate) fn default_instance_id(env: &Environment, explicit: &InstanceMetadata) -> String {
    // Parse quietly: `detect` reports a malformed variable.
    let otel = parse_otel_resource_attributes(env.var(OTEL_VAR).as_deref().unwrap_or(""))
        .map(OtelFields::from_attributes)
        .unwrap_or_default();
    let detected = detect_local(env, otel);
    let usable = |id: &String| id.len() <= MAX_NAME_LEN && !id.chars().any(char::is_control);
    let explicit_pod = explicit
        .kubernetes_pod
        .as_ref()
        .map(|p| p.trim().to_owned());
    if let Some(pod) = explicit_pod
        .into_iter()
        .chain(detected.kubernetes_pod)
        .find(|p| !p.is_empty() && usable(p))
    {
        return pod;
    }
    let suffix = crate::schedule::random_suffix(8);
    let host = explicit
        .hostname
        .as_ref()
        .map(|h| h.trim().to_owned())
        .into_iter()
        .chain(detected.hostname)
        .find(|h| !h.is_empty() && !h.chars().any(char::is_control))
        .unwrap_or_else(|| "instance".to_owned());
    let host = truncate(&host, MAX_NAME_LEN - suffix.len() - 1);
    format!("{host}-{suffix}")
}

/// Everything but the route lookup: variables, the host name, the namespace file.
fn detect_local(env: &Environment, otel: OtelFields) -> InstanceMetadata {
    let in_kubernetes = env.var(IN_KUBERNETES_VAR).is_some();
    let os_hostname = env.hostname().and_then(|h| clean("host name", h));
    let pod_from_hostname = || {
        if !in_kubernetes {
            return None;
        }
        let host = os_hostname.clone()?;
        // With `hostNetwork: true` the host name is the node's, not the pod's.
        let node = first_var(env, NODE_VARS);
        if node.as_deref() == Some(host.as_str()) {
            tracing::debug!("the host name is the node's (hostNetwork): not using it as the pod name; set POD_NAME from the downward API");
            return None;
        }
        Some(host)
    };
    let namespace_file = || {
        if !in_kubernetes {
            return None;
        }
        env.read_small_file(SERVICE_ACCOUNT_NAMESPACE)
            .and_then(|ns| clean(SERVICE_ACCOUNT_NAMESPACE, ns))
    };
    InstanceMetadata {
        kubernetes_pod: otel
            .k8s_pod_name
            .or_else(|| first_var(env, POD_VARS))
            .or_else(pod_from_hostname),
        kubernetes_namespace: otel
            .k8s_namespace_name
            .or_else(|| first_var(env, NAMESPACE_VARS))
            .or_else(namespace_file),
        hostname: otel.host_name.or(os_hostname),
        ip_address: otel.host_ip.or_else(|| first_var(env, &["POD_IP"])),
        region: otel.cloud_region.or_else(|| first_var(env, REGION_VARS)),
        app_version: otel
            .service_version
            .or_else(|| first_var(env, &["APP_VERSION"])),
        custom: BTreeMap::new(),
    }
}

/// The first of these variables whose value is usable.
fn first_var(env: &Environment, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| env.var(name).and_then(|value| clean(name, value)))
}

/// A detected value, trimmed; `None` (logged at debug, naming the source but not the value)
/// when it is blank, longer than [`MAX_LABEL_VALUE_LEN`] or holds control characters.
fn clean(source: &str, value: String) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.len() > MAX_LABEL_VALUE_LEN {
        tracing::debug!(
            source,
            bytes = value.len(),
            limit = MAX_LABEL_VALUE_LEN,
            "ignoring a detected metadata value: too long"
        );
        return None;
    }
    if value.chars().any(char::is_control) {
        tracing::debug!(
            source,
            "ignoring a detected metadata value: it holds control characters"
        );
        return None;
    }
    Some(value.to_owned())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// Drops the longest detected values until all of them fit the request's reserve for detected
/// metadata (only a hostile environment gets there: each value is already bounded).
fn fit_budget(meta: &mut InstanceMetadata) {
    fn json_len(value: &str) -> usize {
        // Control characters are already gone; quotes and backslashes get escaped.
        value.len() + value.chars().filter(|c| matches!(c, '"' | '\\')).count() + 2
    }
    loop {
        let mut slots = [
            ("hostname", &mut meta.hostname),
            ("ip_address", &mut meta.ip_address),
            ("region", &mut meta.region),
            ("kubernetes_pod", &mut meta.kubernetes_pod),
            ("kubernetes_namespace", &mut meta.kubernetes_namespace),
            ("app_version", &mut meta.app_version),
        ];
        let total: usize = slots
            .iter()
            .filter_map(|(_, slot)| slot.as_deref().map(json_len))
            .sum();
        if total <= DETECTED_JSON_BUDGET {
            return;
        }
        let Some((field, longest)) = slots
            .iter_mut()
            .filter(|(_, slot)| slot.is_some())
            .max_by_key(|(_, slot)| slot.as_deref().map_or(0, json_len))
        else {
            return;
        };
        tracing::debug!(
            field = *field,
            "ignoring a detected metadata value: detected metadata is too large in total"
        );
        **longest = None;
    }
}

/// Resolves the server's host (without blocking a runtime thread) and asks the kernel which
/// local address the route to it leaves from. A UDP socket is "connected" for that: no packet is
/// sent. The answer is the address this instance really uses to reach the server, whatever the
/// number of interfaces, and works without any route to the internet.
async fn route_source(server: &reqwest::Url) -> Option<IpAddr> {
    let host = server.host_str()?;
    if crate::reporter::is_reserved_invalid(host) {
        return None;
    }
    let port = server.port_or_known_default().unwrap_or(80);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let targets: Vec<SocketAddr> = if let Ok(ip) = literal.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addresses)) => addresses.take(MAX_ROUTE_CANDIDATES).collect(),
            Ok(Err(error)) => {
                tracing::debug!(%error, "cannot resolve the server's host to find the local address; ip_address is left out");
                return None;
            }
            Err(_) => {
                tracing::debug!(
                    timeout = ?RESOLVE_TIMEOUT,
                    "resolving the server's host timed out; ip_address is left out"
                );
                return None;
            }
        }
    };
    targets.into_iter().find_map(local_address_towards)
}

/// The local address of the route to `target`, from a connected (never used) UDP socket.
fn local_address_towards(target: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// The OpenTelemetry resource attributes that map onto metadata fields, already cleaned.
#[derive(Debug, Default, PartialEq, Eq)]
struct OtelFields {
    host_name: Option<String>,
    host_ip: Option<String>,
    cloud_region: Option<String>,
    k8s_pod_name: Option<String>,
    k8s_namespace_name: Option<String>,
    service_version: Option<String>,
}

impl OtelFields {
    fn from_attributes(attributes: Vec<(String, String)>) -> Self {
        let mut fields = OtelFields::default();
        // A later duplicate wins, as it would in a map.
        for (key, value) in attributes {
            let slot = match key.as_str() {
                "host.name" => &mut fields.host_name,
                "host.ip" => &mut fields.host_ip,
                "cloud.region" => &mut fields.cloud_region,
                "k8s.pod.name" => &mut fields.k8s_pod_name,
                "k8s.namespace.name" => &mut fields.k8s_namespace_name,
                "service.version" => &mut fields.service_version,
                _ => continue,
            };
            if let Some(value) = clean(OTEL_VAR, value) {
                *slot = Some(value);
            }
        }
        fields
    }
}

/// Why `OTEL_RESOURCE_ATTRIBUTES` was ignored. Names the entry, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtelParseError {
    /// 1-based position of the offending `key=value` entry.
    entry: usize,
    reason: &'static str,
}

impl std::fmt::Display for OtelParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry {}: {}", self.entry, self.reason)
    }
}

/// Parses OpenTelemetry's `OTEL_RESOURCE_ATTRIBUTES`: `key1=value1,key2=value2` in the W3C
/// Baggage format without properties. Keys are tokens; values are percent-decoded (`%2C` is a
/// comma; `+` stays a plus) and must be UTF-8. Whitespace around keys, values and separators is
/// trimmed, and empty entries (e.g. a trailing comma) are skipped. Anything else malformed, e.g.
/// an entry without `=`, an empty key, a raw space, quote, semicolon or backslash inside a value,
/// or a broken `%` escape, is an error: the caller then ignores the whole variable.
pub(crate) fn parse_otel_resource_attributes(
    raw: &str,
) -> Result<Vec<(String, String)>, OtelParseError> {
    let mut attributes = Vec::new();
    for (index, entry) in raw.split(',').enumerate() {
        let error = |reason| OtelParseError {
            entry: index + 1,
            reason,
        };
        let entry = trim_ows(entry);
        if entry.is_empty() {
            continue;
        }
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| error("expected key=value"))?;
        let key = trim_ows(key);
        if key.is_empty() {
            return Err(error("the key is empty"));
        }
        if !key.bytes().all(is_token_char) {
            return Err(error(
                "the key holds a character that is not allowed in a token",
            ));
        }
        let value = percent_decode(trim_ows(value)).map_err(error)?;
        attributes.push((key.to_owned(), value));
    }
    Ok(attributes)
}

/// Trims optional whitespace (spaces and tabs) as the W3C Baggage grammar allows.
fn trim_ows(text: &str) -> &str {
    text.trim_matches(|c| c == ' ' || c == '\t')
}

/// RFC 7230 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// W3C Baggage `baggage-octet`: printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Decodes `%XX` escapes; every other byte must be a baggage octet, and the result UTF-8.
fn percent_decode(value: &str) -> Result<String, &'static str> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.bytes();
    while let Some(b) = rest.next() {
        if b == b'%' {
            let hi = rest.next().and_then(hex_digit);
            let lo = rest.next().and_then(hex_digit);
            match (hi, lo) {
                (Some(hi), Some(lo)) => bytes.push(hi << 4 | lo),
                _ => return Err("a % in the value is not followed by two hex digits"),
            }
        } else if is_baggage_octet(b) {
            bytes.push(b);
        } else {
            return Err("the value holds a character that must be percent-encoded");
        }
    }
    String::from_utf8(bytes).map_err(|_| "the percent-decoded value is not UTF-8")
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Vec<(String, String)>, OtelParseError> {
        parse_otel_resource_attributes(raw)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn otel_parses_pairs_and_trims_whitespace() {
        assert_eq!(parse("").unwrap(), pairs(&[]));
        assert_eq!(
            parse("host.name=web-1,cloud.region=eu-west-1").unwrap(),
            pairs(&[("host.name", "web-1"), ("cloud.region", "eu-west-1")])
        );
        assert_eq!(
            parse(" host.name = web-1 ,\tk8s.pod.name=api-0\t").unwrap(),
            pairs(&[("host.name", "web-1"), ("k8s.pod.name", "api-0")])
        );
        // Empty entries (a trailing or doubled comma) are skipped, an empty value is kept.
        assert_eq!(parse("a=1,,b=,").unwrap(), pairs(&[("a", "1"), ("b", "")]));
        // `=` is a baggage octet: only the first one separates key and value.
        assert_eq!(parse("a=b=c").unwrap(), pairs(&[("a", "b=c")]));
    }

    #[test]
    fn otel_percent_decodes_values() {
        assert_eq!(
            parse("service.version=1.0%2Bbuild%2C7,team=a%3Db%20c,host.name=caf%C3%A9").unwrap(),
            pairs(&[
                ("service.version", "1.0+build,7"),
                ("team", "a=b c"),
                ("host.name", "café"),
            ])
        );
        // Percent-decoding is not form-decoding: `+` stays a plus. Hex is case-insensitive.
        assert_eq!(parse("v=1+2%2f%2F").unwrap(), pairs(&[("v", "1+2//")]));
    }

    #[test]
    fn otel_malformed_values_are_errors_naming_the_entry() {
        for (raw, entry) in [
            ("host.name", 1),
            ("a=1,host.name", 2),
            ("=web-1", 1),
            ("a=1, =2", 2),
            ("host name=web-1", 1),
            ("a=1,b=%zz", 2),
            ("a=%4", 1),
            ("a=%", 1),
            ("a=two words", 1),
            ("a=\"quoted\"", 1),
            ("a=v;prop=1", 1),
            ("a=back\\slash", 1),
            ("a=caf\u{e9}", 1),
            ("a=line\nbreak", 1),
            ("a=%FF%FE", 1),
        ] {
            let error = parse(raw).expect_err(raw);
            assert_eq!(error.entry, entry, "{raw}: {error}");
        }
        let shown = parse("a=1,b=s3cret%zz").unwrap_err().to_string();
        assert!(shown.contains("entry 2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn otel_fields_pick_known_keys_and_drop_unusable_values() {
        let fields = OtelFields::from_attributes(pairs(&[
            ("host.name", "first"),
            ("host.name", "web-1"),
            ("host.ip", "10.0.0.7"),
            ("cloud.region", "  "),
            ("k8s.pod.name", &"p".repeat(MAX_LABEL_VALUE_LEN + 1)),
            ("k8s.namespace.name", "pay\u{7}ments"),
            ("service.version", "2.0.1"),
            ("service.name", "ignored"),
        ]));
        assert_eq!(
            fields,
            OtelFields {
                host_name: Some("web-1".into()),
                host_ip: Some("10.0.0.7".into()),
                service_version: Some("2.0.1".into()),
                ..OtelFields::default()
            }
        );
    }

    #[test]
    fn clean_bounds_values() {
        assert_eq!(clean("t", " ok ".into()).as_deref(), Some("ok"));
        assert_eq!(
            clean("t", "a".repeat(MAX_LABEL_VALUE_LEN)).map(|v| v.len()),
            Some(MAX_LABEL_VALUE_LEN)
        );
        assert_eq!(clean("t", "a".repeat(MAX_LABEL_VALUE_LEN + 1)), None);
        assert_eq!(clean("t", "a\u{1b}[31m".into()), None);
        assert_eq!(clean("t", "a\u{85}b".into()), None);
    }

    #[test]
    fn budget_drops_the_longest_values_first() {
        let big = "\"".repeat(MAX_LABEL_VALUE_LEN);
        let mut meta = InstanceMetadata {
            hostname: Some(big.clone()),
            ip_address: Some("10.0.0.7".into()),
            region: Some(big.clone()),
            kubernetes_pod: Some(big.clone()),
            kubernetes_namespace: Some(big.clone()),
            app_version: Some("1.0".into()),
            custom: BTreeMap::new(),
        };
        fit_budget(&mut meta);
        let json = serde_json::to_string(&meta).unwrap();
        assert!(json.len() <= DETECTED_JSON_BUDGET + 200, "{}", json.len());
        assert_eq!(meta.ip_address.as_deref(), Some("10.0.0.7"));
        assert_eq!(meta.app_version.as_deref(), Some("1.0"));
        // Realistic metadata is left alone.
        let mut small = InstanceMetadata {
            hostname: Some("h".repeat(MAX_LABEL_VALUE_LEN)),
            region: Some("eu-west-1".into()),
            ..InstanceMetadata::default()
        };
        let before = small.clone();
        fit_budget(&mut small);
        assert_eq!(small, before);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn default_instance_id_prefers_the_pod_then_the_host() {
        let pod = Environment::from_vars([("POD_NAME", "api-7d4f9b8c-abc12")]).with_hostname("x");
        assert_eq!(
            default_instance_id(&pod, &InstanceMetadata::default()),
            "api-7d4f9b8c-abc12"
        );
        let laptop = Environment::empty().with_hostname("dev-laptop");
        let a = default_instance_id(&laptop, &InstanceMetadata::default());
        let b = default_instance_id(&laptop, &InstanceMetadata::default());
        assert!(
            a.starts_with("dev-laptop-") && a.len() == "dev-laptop-".len() + 8,
            "{a}"
        );
        assert_ne!(a, b, "two processes on one host need different ids");
        // An explicit pod wins; a hostile host name is bounded; no host at all still works.
        let explicit = InstanceMetadata {
            kubernetes_pod: Some("explicit-pod".into()),
            ..InstanceMetadata::default()
        };
        assert_eq!(default_instance_id(&pod, &explicit), "explicit-pod");
        let long = Environment::empty().with_hostname("h".repeat(600));
        let id = default_instance_id(&long, &InstanceMetadata::default());
        assert_eq!(id.len(), MAX_NAME_LEN);
        let none = Environment::empty().with_hostname("");
        assert!(default_instance_id(&none, &InstanceMetadata::default()).starts_with("instance-"));
        // A pod name that cannot be an id falls back to the host name.
        let bad_pod = Environment::from_vars([("POD_NAME", "p".repeat(MAX_NAME_LEN + 1))])
            .with_hostname("node-host");
        assert!(
            default_instance_id(&bad_pod, &InstanceMetadata::default()).starts_with("node-host-")
        );
    }
}
