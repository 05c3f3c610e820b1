//! Instance metadata: what tells an operator which host, pod and region a report comes from.
//!
//! Detection runs once per client (when it is first started or first reports) and its result is
//! cached: no heartbeat pays for it.

use std::collections::BTreeMap;

use serde::Serialize;

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

/// The OS host name, if it is valid UTF-8.
pub(crate) fn os_hostname() -> Option<String> {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.trim().is_empty())
}

fn first_var(env: &Environment, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| env.var(name))
}

/// Detects what the environment tells about this instance. Explicit values are merged on top
/// by the caller.
pub(crate) async fn detect(env: &Environment, _server: &reqwest::Url) -> InstanceMetadata {
    let hostname = os_hostname();
    let in_kubernetes = env.var("KUBERNETES_SERVICE_HOST").is_some();
    InstanceMetadata {
        kubernetes_pod: first_var(env, &["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"])
            .or_else(|| in_kubernetes.then(|| hostname.clone()).flatten()),
        kubernetes_namespace: first_var(
            env,
            &["POD_NAMESPACE", "MY_POD_NAMESPACE", "KUBERNETES_NAMESPACE"],
        )
        .or_else(|| {
            in_kubernetes
                .then(|| {
                    env.read_small_file("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                })
                .flatten()
        }),
        hostname,
        ip_address: first_var(env, &["POD_IP"]),
        region: first_var(
            env,
            &[
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "FLY_REGION",
                "REGION_NAME",
                "CLOUD_REGION",
                "REGION",
            ],
        ),
        app_version: first_var(env, &["APP_VERSION"]),
        custom: BTreeMap::new(),
    }
}

/// The default instance id: the pod name in Kubernetes, else the host name plus a random suffix.
pub(crate) fn default_instance_id(env: &Environment, explicit: &InstanceMetadata) -> String {
    let pod = explicit
        .kubernetes_pod
        .clone()
        .or_else(|| first_var(env, &["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"]));
    if let Some(pod) = pod {
        return pod;
    }
    let host = explicit
        .hostname
        .clone()
        .or_else(os_hostname)
        .unwrap_or_else(|| "instance".to_owned());
    format!("{host}-{}", crate::schedule::random_suffix(8))
}
