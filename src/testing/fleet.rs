//! The server's read side: what the heartbeats built, as an operator sees it (drift report per
//! app/profile, summary, instance list), with the server's TTL, grace period and alert rule.
//!
//! Pure bookkeeping: every function takes the current time, so the rules are decided on tokio's
//! clock and a test with paused time (or a zero grace) need not wait.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::clock::Clock;
use super::model::{Report, ReportedMetadata};
use super::views::{
    DriftReport, DriftSummary, DriftedInstance, InstanceList, LiveInstance, ALERT_MIN_INSTANCES,
    DEFAULT_ALERT_THRESHOLD, DEFAULT_DRIFT_GRACE, DEFAULT_TTL,
};
use crate::timestamp::rfc3339;
use crate::Health;

/// The read side's rules, settable on the mock server.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules {
    pub(super) ttl: Duration,
    pub(super) grace: Duration,
    pub(super) threshold: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            ttl: DEFAULT_TTL,
            grace: DEFAULT_DRIFT_GRACE,
            threshold: DEFAULT_ALERT_THRESHOLD,
        }
    }
}

/// The clock reading a read is made at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    pub(super) at: Instant,
    pub(super) utc: SystemTime,
}

impl Now {
    pub(super) fn read(clock: &Clock) -> Now {
        let at = Instant::now();
        Now {
            at,
            utc: clock.utc(at),
        }
    }
}

#[derive(Debug)]
struct Live {
    config_version: String,
    health: Health,
    metadata: Option<ReportedMetadata>,
    last_seen: Instant,
    last_seen_utc: SystemTime,
    version_since: Instant,
}

#[derive(Debug)]
struct Group {
    expected: Option<String>,
    expected_since: Instant,
    instances: BTreeMap<String, Live>,
}

impl Group {
    fn new(at: Instant) -> Group {
        Group {
            expected: None,
            expected_since: at,
            instances: BTreeMap::new(),
        }
    }

    fn live<'a>(&'a self, rules: &Rules, now: Now) -> impl Iterator<Item = (&'a String, &'a Live)> {
        let ttl = rules.ttl;
        self.instances
            .iter()
            .filter(move |(_, l)| now.at.saturating_duration_since(l.last_seen) <= ttl)
    }

    /// Whether a live instance counts as drifted now.
    fn is_drifted(&self, live: &Live, rules: &Rules, now: Now) -> bool {
        self.expected
            .as_deref()
            .is_some_and(|e| e != live.config_version)
            && now.at.saturating_duration_since(self.expected_since) >= rules.grace
    }
}

/// Every app/profile the server knows: its expected version and its instances.
#[derive(Debug, Default)]
pub(super) struct Fleet {
    groups: BTreeMap<(String, String), Group>,
}

impl Fleet {
    /// The expected version of an app/profile.
    pub(super) fn expected(&self, app: &str, profile: &str) -> Option<String> {
        self.groups
            .get(&(app.to_owned(), profile.to_owned()))
            .and_then(|g| g.expected.clone())
    }

    /// Sets (or clears) the expected version; the grace period restarts when it changes.
    pub(super) fn set_expected(
        &mut self,
        app: &str,
        profile: &str,
        v: Option<String>,
        at: Instant,
    ) {
        let group = self
            .groups
            .entry((app.to_owned(), profile.to_owned()))
            .or_insert_with(|| Group::new(at));
        if group.expected != v {
            group.expected = v;
            group.expected_since = at;
        }
    }

    /// Registers an accepted report as its instance's latest.
    pub(super) fn register(&mut self, report: &Report) {
        let at = report.received_at;
        let group = self
            .groups
            .entry((report.app.clone(), report.profile.clone()))
            .or_insert_with(|| Group::new(at));
        let version_since = match group.instances.get(&report.instance_id) {
            Some(old) if old.config_version == report.config_version => old.version_since,
            _ => at,
        };
        let live = Live {
            config_version: report.config_version.clone(),
            health: report.health,
            metadata: report.metadata.clone(),
            last_seen: at,
            last_seen_utc: report.received_at_utc,
            version_since,
        };
        group.instances.insert(report.instance_id.clone(), live);
    }

    /// Forgets the instances whose TTL has passed (the server's own sweep).
    pub(super) fn sweep(&mut self, rules: &Rules, now: Now) {
        for group in self.groups.values_mut() {
            group
                .instances
                .retain(|_, l| now.at.saturating_duration_since(l.last_seen) <= rules.ttl);
        }
    }

    /// The drift report of one app/profile.
    pub(super) fn drift_report(
        &self,
        app: &str,
        profile: &str,
        rules: &Rules,
        now: Now,
    ) -> DriftReport {
        let key = (app.to_owned(), profile.to_owned());
        let empty = Group::new(now.at);
        let group = self.groups.get(&key).unwrap_or(&empty);
        let expected = group.expected.clone().unwrap_or_else(|| "unknown".into());
        let mut total = 0;
        let mut up_to_date = 0;
        let mut drifted_instances = Vec::new();
        for (id, live) in group.live(rules, now) {
            total += 1;
            if group.expected.is_none() || group.expected.as_deref() == Some(&live.config_version) {
                up_to_date += 1;
            } else if group.is_drifted(live, rules, now) {
                let since = live.version_since.max(group.expected_since);
                drifted_instances.push(DriftedInstance {
                    instance_id: id.clone(),
                    current_version: live.config_version.clone(),
                    expected_version: expected.clone(),
                    drift_duration_secs: now.at.saturating_duration_since(since).as_secs(),
                    last_seen: rfc3339(live.last_seen_utc),
                    metadata: live.metadata.clone(),
                });
            }
        }
        let drifted = drifted_instances.len();
        let drift_percentage = percentage(drifted, total);
        DriftReport {
            app: app.to_owned(),
            profile: profile.to_owned(),
            expected_version: expected,
            total_instances: total,
            up_to_date,
            drifted,
            drift_percentage,
            alert: alerts(total, drift_percentage, rules.threshold),
            alert_threshold: rules.threshold,
            drifted_instances,
            generated_at: rfc3339(now.utc),
        }
    }

    /// The summary over every app/profile.
    pub(super) fn summary(&self, rules: &Rules, now: Now) -> DriftSummary {
        let mut summary = DriftSummary {
            total_instances: 0,
            total_drifted: 0,
            overall_drift_percentage: 0.0,
            app_profile_count: 0,
            apps_with_drift: 0,
            apps_alerting: 0,
            generated_at: rfc3339(now.utc),
        };
        for ((app, profile), group) in &self.groups {
            let report = self.drift_report(app, profile, rules, now);
            if report.total_instances == 0 && group.expected.is_none() {
                continue;
            }
            summary.app_profile_count += 1;
            summary.total_instances += report.total_instances;
            summary.total_drifted += report.drifted;
            summary.apps_with_drift += usize::from(report.drifted > 0);
            summary.apps_alerting += usize::from(report.alert);
        }
        summary.overall_drift_percentage =
            percentage(summary.total_drifted, summary.total_instances);
        summary
    }

    /// The live instances of one app/profile.
    pub(super) fn instances(
        &self,
        app: &str,
        profile: &str,
        rules: &Rules,
        now: Now,
    ) -> InstanceList {
        let key = (app.to_owned(), profile.to_owned());
        let instances: Vec<LiveInstance> = self
            .groups
            .get(&key)
            .into_iter()
            .flat_map(|g| g.live(rules, now))
            .map(|(id, live)| LiveInstance {
                instance_id: id.clone(),
                config_version: live.config_version.clone(),
                health: live.health,
                metadata: live.metadata.clone(),
                last_seen: rfc3339(live.last_seen_utc),
            })
            .collect();
        InstanceList {
            app: app.to_owned(),
            profile: profile.to_owned(),
            count: instances.len(),
            instances,
        }
    }
}

/// `part` over `whole` in percent (0 when `whole` is 0).
fn percentage(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The server's alert rule: enough instances, and a drift percentage at the threshold or above.
fn alerts(total: usize, drift_percentage: f64, threshold: f64) -> bool {
    total >= ALERT_MIN_INSTANCES && drift_percentage >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, version: &str, at: Instant) -> Report {
        Report {
            app: "a".into(),
            profile: "p".into(),
            instance_id: id.into(),
            config_version: version.into(),
            health: Health::Healthy,
            metadata: None,
            path: String::new(),
            headers: Vec::new(),
            body: String::new(),
            received_at: at,
            received_at_utc: SystemTime::UNIX_EPOCH,
        }
    }

    fn now(at: Instant) -> Now {
        Now {
            at,
            utc: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn grace_ttl_and_alert() {
        let t0 = Instant::now();
        let rules = Rules::default();
        let mut fleet = Fleet::default();
        for i in 0..4 {
            fleet.register(&report(&format!("i{i}"), "v1", t0));
        }
        fleet.register(&report("i4", "v2", t0));
        let r = fleet.drift_report("a", "p", &rules, now(t0));
        assert_eq!(
            (r.expected_version.as_str(), r.total_instances, r.up_to_date),
            ("unknown", 5, 5)
        );

        fleet.set_expected("a", "p", Some("v2".into()), t0);
        let r = fleet.drift_report("a", "p", &rules, now(t0 + Duration::from_secs(59)));
        assert_eq!(
            (r.up_to_date, r.drifted, r.alert),
            (1, 0, false),
            "within the grace"
        );
        let later = t0 + Duration::from_secs(60);
        let r = fleet.drift_report("a", "p", &rules, now(later));
        assert_eq!((r.up_to_date, r.drifted, r.alert), (1, 4, true));
        assert_eq!(r.drift_percentage, 80.0);
        assert_eq!(r.drifted_instances[0].drift_duration_secs, 60);

        // Past the TTL, everyone is forgotten.
        let gone = t0 + DEFAULT_TTL + Duration::from_secs(1);
        assert_eq!(
            fleet
                .drift_report("a", "p", &rules, now(gone))
                .total_instances,
            0
        );
        assert_eq!(fleet.instances("a", "p", &rules, now(later)).count, 5);
        let s = fleet.summary(&rules, now(later));
        assert_eq!(
            (s.total_instances, s.total_drifted, s.apps_alerting),
            (5, 4, 1)
        );
    }

    #[test]
    fn alert_needs_five_instances_and_the_threshold() {
        assert!(!alerts(4, 100.0, 10.0));
        assert!(alerts(5, 10.0, 10.0));
        assert!(!alerts(10, 9.9, 10.0));
        assert_eq!(percentage(0, 0), 0.0);
    }
}
