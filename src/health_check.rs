//! A health check the application gives the client: asked before each periodic report, its
//! answer becomes the reported health.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

    /// Starts one evaluation.
    pub(crate) fn evaluate(&self) -> impl Future<Output = Health> + Send + 'static {
        (self.0)()
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthCheck(..)")
    }
}
