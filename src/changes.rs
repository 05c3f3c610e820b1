//! The state users change (version and health), what of it the server has, and the wake-up
//! that tells the worker a change waits to be reported.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::error::ReporterError;
use crate::metadata::InstanceMetadata;
use crate::wire::{Health, HeartbeatRequest};

/// The version and health reported now, and the body that carries them.
pub(crate) struct Changes {
    current: Mutex<Current>,
    /// A version or health change waits to be reported. `notify_one` stores one permit, so a
    /// burst of changes coalesces into one wake-up.
    changed: Notify,
}

/// The state users change, and what of it the server has.
struct Current {
    version: Arc<str>,
    health: Health,
    /// Bumped on every change of version or health.
    generation: u64,
    /// The generation the server last accepted.
    delivered: Option<u64>,
    /// The serialised body of `generation`, reused until the next change.
    snapshot: Option<Snapshot>,
}

/// One generation of the state, serialised: what a report sends. Cheap to clone (two
/// reference counts).
#[derive(Clone)]
pub(crate) struct Snapshot {
    generation: u64,
    bytes: Bytes,
    version: Arc<str>,
}

impl Snapshot {
    /// The request body.
    pub(crate) fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The version the body carries.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }
}

impl Changes {
    pub(crate) fn new(version: &str, health: Health) -> Self {
        Self {
            current: Mutex::new(Current {
                version: Arc::from(version),
                health,
                generation: 0,
                delivered: None,
                snapshot: None,
            }),
            changed: Notify::new(),
        }
    }

    pub(crate) fn version(&self) -> Arc<str> {
        self.current.lock().version.clone()
    }

    pub(crate) fn health(&self) -> Health {
        self.current.lock().health
    }

    /// Sets the version; a change wakes the worker.
    pub(crate) fn set_version(&self, version: String) {
        self.change(|c| {
            if &*c.version == version.as_str() {
                false
            } else {
                c.version = Arc::from(version);
                true
            }
        });
    }

    /// Sets the health; a change wakes the worker.
    pub(crate) fn set_health(&self, health: Health) {
        self.change(|c| std::mem::replace(&mut c.health, health) != health);
    }

    fn change(&self, apply: impl FnOnce(&mut Current) -> bool) {
        let changed = {
            let mut current = self.current.lock();
            let changed = apply(&mut current);
            if changed {
                current.generation += 1;
                current.snapshot = None;
            }
            changed
        };
        if changed {
            self.changed.notify_one();
        }
    }

    /// Completes when a change waits (at once if one came since the last wake-up).
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// True while a change has not been accepted by the server yet.
    pub(crate) fn waiting(&self) -> bool {
        let current = self.current.lock();
        current.delivered != Some(current.generation)
    }

    /// The current state as a body, serialised once per change of version or health.
    pub(crate) fn snapshot(
        &self,
        instance_id: &str,
        metadata: &InstanceMetadata,
    ) -> Result<Snapshot, ReporterError> {
        let mut current = self.current.lock();
        if let Some(snapshot) = current
            .snapshot
            .as_ref()
            .filter(|s| s.generation == current.generation)
        {
            return Ok(snapshot.clone());
        }
        let bytes = HeartbeatRequest {
            instance_id,
            config_version: &current.version,
            metadata,
            health: current.health,
        }
        .to_bytes()?;
        let snapshot = Snapshot {
            generation: current.generation,
            bytes,
            version: current.version.clone(),
        };
        current.snapshot = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The server accepted `snapshot`: its generation is delivered.
    pub(crate) fn delivered(&self, snapshot: &Snapshot) {
        self.current.lock().delivered = Some(snapshot.generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(changes: &Changes) -> Snapshot {
        changes
            .snapshot("i-1", &InstanceMetadata::default())
            .unwrap()
    }

    #[test]
    fn the_body_is_serialised_once_per_change() {
        let changes = Changes::new("v1", Health::Healthy);
        let first = snapshot(&changes);
        assert_eq!(first.version(), "v1");
        // Reused: the same bytes, not a copy.
        assert_eq!(snapshot(&changes).bytes().as_ptr(), first.bytes().as_ptr());
        changes.set_version("v1".into());
        assert_eq!(snapshot(&changes).bytes().as_ptr(), first.bytes().as_ptr());
        changes.set_health(Health::Degraded);
        let second = snapshot(&changes);
        assert_ne!(second.bytes(), first.bytes());
        assert_eq!(second.version(), "v1");
    }

    #[test]
    fn a_change_waits_until_its_generation_is_delivered() {
        let changes = Changes::new("v1", Health::Healthy);
        assert!(changes.waiting());
        let first = snapshot(&changes);
        changes.set_version("v2".into());
        // An older body accepted does not deliver the newer change.
        changes.delivered(&first);
        assert!(changes.waiting());
        changes.delivered(&snapshot(&changes));
        assert!(!changes.waiting());
        changes.set_version("v2".into());
        assert!(!changes.waiting(), "the same version is no change");
        changes.set_health(Health::Unhealthy);
        assert!(changes.waiting());
        assert_eq!(&*changes.version(), "v2");
        assert_eq!(changes.health(), Health::Unhealthy);
    }

    #[tokio::test]
    async fn a_burst_of_changes_is_one_wake_up() {
        let changes = Changes::new("v1", Health::Healthy);
        changes.set_version("v2".into());
        changes.set_version("v3".into());
        changes.notified().await;
        let again = tokio::time::timeout(std::time::Duration::from_millis(10), changes.notified());
        assert!(again.await.is_err());
    }
}
