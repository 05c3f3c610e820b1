//! What the server's read side answers: the drift report of an app/profile, the summary, the
//! instance list (JSON as the server writes it), and the server's default rules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::ReportedMetadata;
use crate::Health;

/// The server's default TTL: an instance is forgotten 5 minutes after its last report.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The server's default grace: an instance counts as drifted 60 s after the expected version
/// changed.
pub const DEFAULT_DRIFT_GRACE: Duration = Duration::from_secs(60);
/// The server's default alert threshold, in percent of drifted instances.
pub const DEFAULT_ALERT_THRESHOLD: f64 = 10.0;
/// An alert needs at least this many live instances.
pub const ALERT_MIN_INSTANCES: usize = 5;

/// The drift report of one app/profile (`GET /api/drift/drift/{app}/{profile}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftReport {
    /// The application.
    pub app: String,
    /// The profile.
    pub profile: String,
    /// The expected version, `"unknown"` when none is set.
    pub expected_version: String,
    /// Live instances (reported within the TTL).
    pub total_instances: usize,
    /// Live instances on the expected version (all of them while none is expected).
    pub up_to_date: usize,
    /// Live instances on another version once the grace period has passed.
    pub drifted: usize,
    /// `drifted` over `total_instances`, 0 to 100.
    pub drift_percentage: f64,
    /// At least 5 instances and a drift percentage of at least the threshold.
    pub alert: bool,
    /// The alert threshold, in percent.
    pub alert_threshold: f64,
    /// The drifted instances.
    pub drifted_instances: Vec<DriftedInstance>,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
}

/// One drifted instance in a [`DriftReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftedInstance {
    /// The instance.
    pub instance_id: String,
    /// The version it reported last.
    pub current_version: String,
    /// The version the server expects.
    pub expected_version: String,
    /// How long it has been on another version than the expected one.
    pub drift_duration_secs: u64,
    /// Its last report (RFC 3339, UTC).
    pub last_seen: String,
    /// Its last metadata.
    pub metadata: Option<ReportedMetadata>,
}

/// The summary over every app/profile (`GET /api/drift/drift`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftSummary {
    /// Live instances over all app/profiles.
    pub total_instances: usize,
    /// Drifted instances over all app/profiles.
    pub total_drifted: usize,
    /// `total_drifted` over `total_instances`, 0 to 100.
    pub overall_drift_percentage: f64,
    /// App/profiles with a live instance or an expected version.
    pub app_profile_count: usize,
    /// App/profiles with at least one drifted instance.
    pub apps_with_drift: usize,
    /// App/profiles whose drift report raises an alert.
    pub apps_alerting: usize,
    /// When the summary was made (RFC 3339, UTC).
    pub generated_at: String,
}

/// The live instances of one app/profile (`GET /api/drift/instances/{app}/{profile}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceList {
    /// The application.
    pub app: String,
    /// The profile.
    pub profile: String,
    /// How many.
    pub count: usize,
    /// The last report of each live instance, by instance id.
    pub instances: Vec<LiveInstance>,
}

/// The last report of a live instance, in an [`InstanceList`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveInstance {
    /// The instance.
    pub instance_id: String,
    /// The version it reported last.
    pub config_version: String,
    /// The health it reported last.
    pub health: Health,
    /// Its last metadata.
    pub metadata: Option<ReportedMetadata>,
    /// Its last report (RFC 3339, UTC).
    pub last_seen: String,
}
