//! Instance metadata: what tells an operator which host, pod and region a report comes from.
//!
//! Detection runs once per client (when it is first started or first reports) and its result is
//! cached. Each field takes the first usable value of: the builder's value, then the resource
//! attributes given in code (both merged by the caller), `OTEL_RESOURCE_ATTRIBUTES`, the field's
//! variables, then files and the OS. It never spawns a process, reads at most a few KiB from a
//! file, never blocks a runtime thread and never fails: what cannot be found is left out, and a
//! value too long or holding control characters is dropped (logged at debug). See
//! `docs/metadata.md`.

mod otel;
mod route;

use crate::env::Environment;
use crate::limits::{DETECTED_JSON_BUDGET, MAX_LABEL_VALUE_LEN, MAX_NAME_LEN};
use crate::redact::prefix_within;
pub use crate::wire::InstanceMetadata;

pub(crate) use otel::OtelParseError;
use otel::{fields_from_attributes, parse_otel_resource_attributes, Attributes, OTEL_VAR};

/// Where the Kubernetes downward API is commonly mapped for the node's name (`spec.nodeName`):
/// a host name equal to it is the node's (`hostNetwork: true`), not the pod's.
const NODE_VARS: &[&str] = &["NODE_NAME", "MY_NODE_NAME", "KUBERNETES_NODE_NAME"];
/// Kubernetes mounts the pod's namespace here (with the service-account token).
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Set by Kubernetes in every container of a pod.
const IN_KUBERNETES_VAR: &str = "KUBERNETES_SERVICE_HOST";

/// Detects what the environment tells about this instance. Without `server` (the caller knows
/// the IP already) no route is looked up.
pub(crate) async fn detect(env: &Environment, server: Option<&reqwest::Url>) -> InstanceMetadata {
    let attributes = otel_env_attributes(env).inspect_err(warn_malformed);
    let mut meta = detect_local(env, attributes.unwrap_or_default());
    if let (None, Some(server)) = (&meta.ip_address, server) {
        meta.ip_address = route::route_source(server).await;
    }
    fit_budget(&mut meta);
    meta
}

/// The default instance id: the pod name in Kubernetes, else the host name plus a random
/// suffix. Computed once per client, so it is stable for the life of the process.
pub(crate) fn default_instance_id(env: &Environment, explicit: &InstanceMetadata) -> String {
    use rand::RngExt;
    // Quietly: `detect` warns of a malformed variable.
    let detected = detect_local(env, otel_env_attributes(env).unwrap_or_default());
    // The explicit value (cleaned like a detected one), then the detected.
    let candidates = |pick: fn(&InstanceMetadata) -> &Option<String>| {
        let explicit = pick(explicit).clone().and_then(|v| clean("metadata", v));
        explicit.into_iter().chain(pick(&detected).clone())
    };
    if let Some(pod) = candidates(|m| &m.kubernetes_pod).find(|pod| pod.len() <= MAX_NAME_LEN) {
        return pod;
    }
    let mut rng: rand::rngs::SmallRng = rand::make_rng();
    let suffix: String = (0..8)
        .map(|_| char::from_digit(rng.random_range(0..36), 36).unwrap_or('0'))
        .collect();
    let host = candidates(|m| &m.hostname).next();
    let host = host.as_deref().unwrap_or("instance");
    let host = prefix_within(host, MAX_NAME_LEN - suffix.len() - 1);
    format!("{host}-{suffix}")
}

/// The environment's `OTEL_RESOURCE_ATTRIBUTES`, parsed (empty when unset). A malformed one is
/// an error: the caller ignores it whole, as the OpenTelemetry specification says.
pub(crate) fn otel_env_attributes(env: &Environment) -> Result<Attributes, OtelParseError> {
    parse_otel_resource_attributes(env.var(OTEL_VAR).as_deref().unwrap_or(""))
}

/// Logs that `OTEL_RESOURCE_ATTRIBUTES` is ignored, naming the entry (never a value).
pub(crate) fn warn_malformed(error: &OtelParseError) {
    tracing::warn!(
        %error,
        "{OTEL_VAR} is malformed; ignoring it whole, as the OpenTelemetry specification says"
    );
}

/// The metadata fields among resource attributes an application gives in code
/// (`host.name`, `k8s.pod.name`, ...), each cleaned like a detected value.
pub(crate) fn metadata_from_attributes(attributes: &[(String, String)]) -> InstanceMetadata {
    fields_from_attributes("resource_attributes", attributes.iter().cloned())
}

/// Everything but the route lookup: the fields among the environment's OpenTelemetry
/// `attributes`, then each field's variables, then the host name and the namespace file.
fn detect_local(env: &Environment, attributes: Attributes) -> InstanceMetadata {
    let mut meta = fields_from_attributes(OTEL_VAR, attributes);
    for (field, slot) in meta.fields_mut() {
        *slot = slot.take().or_else(|| first_var(env, field.vars));
    }
    // What only the host tells comes last; the pod and the namespace only in Kubernetes.
    let host = env.hostname().and_then(|h| clean("host name", h));
    if env.var(IN_KUBERNETES_VAR).is_some() {
        meta.kubernetes_pod = meta.kubernetes_pod.or_else(|| {
            let node = host.is_some() && first_var(env, NODE_VARS) == host;
            if node {
                tracing::debug!("the host name is the node's (hostNetwork): not using it as the pod name; set POD_NAME from the downward API");
            }
            host.clone().filter(|_| !node)
        });
        meta.kubernetes_namespace = meta.kubernetes_namespace.or_else(|| {
            let file = env.read_small_file(SERVICE_ACCOUNT_NAMESPACE)?;
            clean(SERVICE_ACCOUNT_NAMESPACE, file)
        });
    }
    meta.hostname = meta.hostname.or(host);
    meta
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
    let why = if value.len() > MAX_LABEL_VALUE_LEN {
        "too long"
    } else if value.chars().any(char::is_control) {
        "it holds control characters"
    } else {
        return (!value.is_empty()).then(|| value.to_owned());
    };
    let bytes = value.len();
    tracing::debug!(source, bytes, "ignoring a detected metadata value: {why}");
    None
}

/// Drops the longest detected values until all of them fit the request's reserve for detected
/// metadata (only a hostile environment gets there: each value is already bounded).
fn fit_budget(meta: &mut InstanceMetadata) {
    // Control characters are already gone; quotes and backslashes get escaped.
    let json_len = |value: &str| value.len() + value.matches(['"', '\\']).count() + 2;
    let mut total: usize = meta.fields().filter_map(|(_, v)| v.map(json_len)).sum();
    while total > DETECTED_JSON_BUDGET {
        let longest = meta
            .fields_mut()
            .max_by_key(|(_, v)| v.as_deref().map_or(0, json_len));
        let Some((field, Some(value))) = longest.map(|(field, slot)| (field, slot.take())) else {
            return;
        };
        tracing::debug!(
            field = field.name,
            "ignoring a detected metadata value: detected metadata is too large in total"
        );
        total -= json_len(&value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            custom: Default::default(),
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
