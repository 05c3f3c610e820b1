//! A health check the application gives the client: asked before each periodic report, its
//! answer becomes the reported health.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

use crate::wire::Health;

type CheckFuture = Pin<Box<dyn Future<Output = Health> + Send>>;

/// An application's health check, set with
/// [`HeartbeatBuilder::health_check`](crate::HeartbeatBuilder::health_check).
///
/// Cheap to clone (shared). Its `Debug` shows no more than that it is set.
#[derive(Clone)]
pub struct HealthCheck(Arc<dyn Fn() -> CheckFuture + Send + Sync>);

impl HealthCheck {
    /// Wraps an async check: a function that returns a future of a [`Health`].
    ///
    /// ```
    /// use vortex_client::{Health, HealthCheck};
    ///
    /// let check = HealthCheck::new(|| async { Health::Healthy });
    /// # let _ = check;
    /// ```
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Health> + Send + 'static,
    {
        HealthCheck(Arc::new(move || Box::pin(check())))
    }

    /// Starts one evaluation off the caller's task: a panic in the check, whether in the
    /// function or in its future, ends only that evaluation (a `JoinError`). On a multi-thread
    /// runtime it runs on a thread of the blocking pool: a check that blocks its thread holds
    /// only that thread, while a blocked worker thread could stop the runtime's timers and so
    /// the caller's bound. There it ends itself at `bound` (as degraded) so that a hung check
    /// frees the thread. A current-thread runtime has one thread, which a blocking check stops
    /// whatever is done; a task there keeps tokio's paused clock usable in tests.
    pub(crate) fn spawn(&self, bound: Duration) -> JoinHandle<Health> {
        let check = Arc::clone(&self.0);
        // The function is called inside the task, so a panic there is caught like one in
        // its future.
        let evaluation = async move { check().await };
        let runtime = Handle::current();
        if runtime.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return runtime.spawn(evaluation);
        }
        let inner = runtime.clone();
        runtime.spawn_blocking(move || {
            inner
                .block_on(tokio::time::timeout(bound, evaluation))
                .unwrap_or(Health::Degraded)
        })
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthCheck(..)")
    }
}
