//! Instance metadata: what tells an operator which host, pod and region a report comes from.
//!
//! Detection runs once per client (when it is first started or first reports) and its result is
//! cached: no heartbeat pays for it. Every field is taken from the first source that has a
//! usable value, highest priority first:
//!
//! 1. the explicit builder value, and then the resource attributes given to the builder in
//!    code (both merged by the client on top of what is detected here);
//! 2. `OTEL_RESOURCE_ATTRIBUTES` (OpenTelemetry's resource attributes);
//! 3. the field's own environment variables, then files and the OS.
//!
//! Detection never spawns a process, reads at most a few KiB from a file, never blocks a runtime
//! thread, and never fails: what cannot be found is left out. A detected value that is too long
//! or holds control characters is dropped (logged at debug), so a hostile environment cannot
//! make a report invalid.

mod otel;
mod route;

use crate::env::Environment;
use crate::limits::{DETECTED_JSON_BUDGET, MAX_LABEL_VALUE_LEN, MAX_NAME_LEN};
use crate::redact::prefix_within;
pub use crate::wire::InstanceMetadata;

pub(crate) use otel::OtelParseError;
use otel::{fields_from_attributes, parse_otel_resource_attributes, OTEL_VAR};

/// Variables the Kubernetes downward API is commonly mapped to, for the node's name
/// (`spec.nodeName`): a host name equal to it is the node's (`hostNetwork: true`), not the pod's.
/// (Each field's own variables are in its row of the metadata table, in `wire/metadata.rs`.)
const NODE_VARS: &[&str] = &["NODE_NAME", "MY_NODE_NAME", "KUBERNETES_NODE_NAME"];
/// Kubernetes mounts the pod's namespace here (with the service-account token).
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Set by Kubernetes in every container of a pod.
const IN_KUBERNETES_VAR: &str = "KUBERNETES_SERVICE_HOST";

/// Detects what the environment tells about this instance. Explicit values are merged on top
/// by the caller. Without `server` (the caller knows the IP already) no route is looked up.
pub(crate) async fn detect(env: &Environment, server: Option<&reqwest::Url>) -> InstanceMetadata {
    let otel = match otel_env_attributes(env) {
        Ok(attributes) => fields_from_attributes(OTEL_VAR, attributes),
        Err(error) => {
            warn_malformed(&error);
            InstanceMetadata::default()
        }
    };
    let mut meta = detect_local(env, otel);
    let address = &mut meta.ip_address;
    if let (None, Some(server)) = (&*address, server) {
        *address = route::route_source(server)
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
    let otel = otel_env_attributes(env)
        .map(|attributes| fields_from_attributes(OTEL_VAR, attributes))
        .unwrap_or_default();
    let detected = detect_local(env, otel);
    // The explicit value (trimmed: it was not cleaned like a detected one), then the detected.
    let candidates = |pick: fn(&InstanceMetadata) -> &Option<String>| {
        let explicit = pick(explicit).as_deref().map(str::trim);
        explicit
            .into_iter()
            .chain(pick(&detected).as_deref())
            .filter(|value| !value.is_empty() && !value.chars().any(char::is_control))
    };
    if let Some(pod) = candidates(|m| &m.kubernetes_pod).find(|pod| pod.len() <= MAX_NAME_LEN) {
        return pod.to_owned();
    }
    let suffix = random_suffix(8);
    let host = candidates(|m| &m.hostname).next().unwrap_or("instance");
    let host = prefix_within(host, MAX_NAME_LEN - suffix.len() - 1);
    format!("{host}-{suffix}")
}

/// The environment's `OTEL_RESOURCE_ATTRIBUTES`, parsed (empty when unset). A malformed one is
/// an error: the caller ignores it whole, as the OpenTelemetry specification says.
pub(crate) fn otel_env_attributes(
    env: &Environment,
) -> Result<Vec<(String, String)>, OtelParseError> {
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
/// (`host.name`, `k8s.pod.name`, `service.version`, ...), each value cleaned like a detected
/// one: an unusable value is left out.
pub(crate) fn metadata_from_attributes(attributes: &[(String, String)]) -> InstanceMetadata {
    fields_from_attributes("resource_attributes", attributes.iter().cloned())
}

/// Everything but the route lookup: on top of `otel`, each field's variables, then the host
/// name and the namespace file.
fn detect_local(env: &Environment, otel: InstanceMetadata) -> InstanceMetadata {
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
    let mut meta = otel;
    for (field, slot) in meta.fields_mut() {
        if slot.is_none() {
            *slot = first_var(env, field.vars);
        }
    }
    // What only the host tells comes last.
    meta.kubernetes_pod = meta.kubernetes_pod.or_else(pod_from_hostname);
    meta.kubernetes_namespace = meta.kubernetes_namespace.or_else(namespace_file);
    meta.hostname = meta.hostname.or(os_hostname);
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

/// Drops the longest detected values until all of them fit the request's reserve for detected
/// metadata (only a hostile environment gets there: each value is already bounded).
fn fit_budget(meta: &mut InstanceMetadata) {
    fn json_len(value: &str) -> usize {
        // Control characters are already gone; quotes and backslashes get escaped.
        value.len() + value.chars().filter(|c| matches!(c, '"' | '\\')).count() + 2
    }
    loop {
        let total: usize = meta
            .fields()
            .filter_map(|(_, value)| value.map(json_len))
            .sum();
        if total <= DETECTED_JSON_BUDGET {
            return;
        }
        let Some((field, longest)) = meta
            .fields_mut()
            .filter(|(_, slot)| slot.is_some())
            .max_by_key(|(_, slot)| slot.as_deref().map_or(0, json_len))
        else {
            return;
        };
        tracing::debug!(
            field = field.name,
            "ignoring a detected metadata value: detected metadata is too large in total"
        );
        *longest = None;
    }
}

/// A random suffix of `len` lowercase base-36 characters, for generated instance ids.
fn random_suffix(len: usize) -> String {
    use rand::RngExt;
    let mut rng: rand::rngs::SmallRng = rand::make_rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..36), 36).unwrap_or('0'))
        .collect()
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
