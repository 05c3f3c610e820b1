//! [`DriftReceiver`]: a blocking wait for drift changes, woken by a task on the client's
//! runtime.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

#[cfg(doc)]
use super::HeartbeatClient;
use crate::drift::DriftState;

/// Wakes blocking drift waiters. The drift watch itself holds the state; the bell only says
/// "look again", rung by a task on the client's runtime after every change.
#[derive(Default)]
pub(super) struct Bell {
    closed: Mutex<bool>,
    rung: Condvar,
}

impl Bell {
    fn ring(&self) {
        let _guard = self.closed.lock();
        self.rung.notify_all();
    }

    pub(super) fn close(&self) {
        *self.closed.lock() = true;
        self.rung.notify_all();
    }
}

/// Rings the bell on every drift change, and once more when the client's runtime drops it.
pub(super) async fn ring_on_drift(mut drift: watch::Receiver<DriftState>, bell: Arc<Bell>) {
    struct RingOnDrop(Arc<Bell>);
    impl Drop for RingOnDrop {
        fn drop(&mut self) {
            self.0.ring();
        }
    }
    let _ring = RingOnDrop(bell.clone());
    while drift.changed().await.is_ok() {
        drift.borrow_and_update();
        bell.ring();
    }
}

/// Waits, blocking, for the drift facts of a [`HeartbeatClient`] to change.
///
/// From [`HeartbeatClient::subscribe_drift`]. Each receiver tracks what it has seen: a change
/// that happens while the application is busy (between two waits) is not missed, and the next
/// [`wait_for_change`](Self::wait_for_change) returns it at once. A receiver that falls behind
/// several changes gets the latest state, not every intermediate one.
///
/// Needs no runtime; usable from any thread, including a runtime's (it blocks that thread).
pub struct DriftReceiver {
    drift: watch::Receiver<DriftState>,
    bell: Arc<Bell>,
}

impl DriftReceiver {
    pub(super) fn new(drift: watch::Receiver<DriftState>, bell: Arc<Bell>) -> Self {
        DriftReceiver { drift, bell }
    }
}

impl DriftReceiver {
    /// Waits up to `timeout` for the drift facts to change since this receiver last returned
    /// them (or since it was created), and returns the new facts. `None` when nothing changed
    /// within `timeout`.
    ///
    /// Once the client is gone nothing can change: it waits out `timeout` and returns `None`
    /// (so a loop around it does not spin); check [`is_closed`](Self::is_closed) to leave the
    /// loop.
    pub fn wait_for_change(&mut self, timeout: Duration) -> Option<DriftState> {
        let deadline = Instant::now().checked_add(timeout);
        let mut closed = self.bell.closed.lock();
        loop {
            if !*closed {
                if let Ok(true) = self.drift.has_changed() {
                    return Some(self.drift.borrow_and_update().clone());
                }
            }
            match deadline {
                Some(deadline) => {
                    if self.bell.rung.wait_until(&mut closed, deadline).timed_out() {
                        let changed = !*closed && matches!(self.drift.has_changed(), Ok(true));
                        return changed.then(|| self.drift.borrow_and_update().clone());
                    }
                }
                None => self.bell.rung.wait(&mut closed),
            }
        }
    }

    /// The current drift facts, marking them seen.
    pub fn current(&mut self) -> DriftState {
        self.drift.borrow_and_update().clone()
    }

    /// True when the facts changed since this receiver last returned them.
    #[must_use]
    pub fn has_changed(&self) -> bool {
        matches!(self.drift.has_changed(), Ok(true))
    }

    /// True once the client is gone: nothing will change any more.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        *self.bell.closed.lock() || self.drift.has_changed().is_err()
    }
}

impl fmt::Debug for DriftReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriftReceiver")
            .field("state", &*self.drift.borrow())
            .field("closed", &self.is_closed())
            .finish()
    }
}
