//! The wire: what a report carries and what the server answers, as the server's contract
//! defines them (`POST {server_url}/api/drift/heartbeat/{app}/{profile}`).

mod metadata;

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::ReporterError;
use crate::limits::MAX_REQUEST_BYTES;

/// The mock server's model is generated from the same table.
#[cfg(feature = "testing")]
pub(crate) use metadata::metadata_fields;
pub use metadata::InstanceMetadata;

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
    /// (Serialising strings cannot fail; were it to, the body would count as too large.)
    pub(crate) fn to_bytes(&self) -> Result<Bytes, ReporterError> {
        match serde_json::to_vec(self) {
            Ok(body) if body.len() <= MAX_REQUEST_BYTES => Ok(Bytes::from(body)),
            body => Err(ReporterError::RequestTooLarge {
                size: body.map_or(usize::MAX, |body| body.len()),
                limit: MAX_REQUEST_BYTES,
                detail: String::new(),
            }),
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
