//! The wire: what a report carries and what the server answers, as the server's contract
//! defines them (`POST {server_url}/api/drift/heartbeat/{app}/{profile}`).

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::ReporterError;
use crate::limits::MAX_REQUEST_BYTES;

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
///
/// Not `#[non_exhaustive]`: applications pass it to `instance_metadata(..)` as a literal. It
/// grows by optional fields only (absent by default): write `..Default::default()`.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
