//! A health check the application gives the client, run as a guest: on a thread of its own,
//! one evaluation at a time, beside the reports rather than before them. Its answer becomes the
//! reported health like a `set_health` call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::wire::Health;

type CheckFuture = Pin<Box<dyn Future<Output = Health> + Send>>;

/// An application's health check, set with
/// [`HeartbeatBuilder::health_check`](crate::HeartbeatBuilder::health_check).
///
/// Cheap to clone (shared). Its `Debug` shows no more than that it is set.
#[derive(Clone)]
pub struct HealthCheck(Arc<Check>);

enum Check {
    Async(Box<dyn Fn() -> CheckFuture + Send + Sync>),
    Blocking(Box<dyn Fn() -> Health + Send + Sync>),
}

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
        HealthCheck(Arc::new(Check::Async(Box::new(move || Box::pin(check())))))
    }

    /// Wraps a plain function that may block (a synchronous database ping, say): what the
    /// [blocking client](crate::blocking::HeartbeatClient) takes.
    ///
    /// ```
    /// use vortex_client::{Health, HealthCheck};
    ///
    /// let check = HealthCheck::blocking(|| Health::Healthy);
    /// # let _ = check;
    /// ```
    pub fn blocking<F>(check: F) -> Self
    where
        F: Fn() -> Health + Send + Sync + 'static,
    {
        HealthCheck(Arc::new(Check::Blocking(Box::new(check))))
    }

    /// One evaluation on the calling thread; an async check is driven by `runtime`.
    fn evaluate(&self, runtime: &Handle) -> Health {
        match &*self.0 {
            Check::Async(check) => runtime.block_on(check()),
            Check::Blocking(check) => check(),
        }
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthCheck(..)")
    }
}

/// Runs a client's check: at most one evaluation at a time, each on a thread of its own (so a
/// check that blocks or never returns holds that one thread, never a runtime's or its
/// blocking pool's), its bound kept by a task on the runtime.
pub(crate) struct Monitor {
    check: HealthCheck,
    bound: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// An evaluation's thread has not returned yet.
    running: bool,
    /// What went wrong with the last evaluation, if anything: logged once per streak.
    problem: Option<&'static str>,
}

/// Clears `running` when the evaluation's thread ends, however it ends.
struct Running(Arc<Mutex<State>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.lock().running = false;
    }
}

impl Monitor {
    pub(crate) fn new(check: HealthCheck, bound: Duration) -> Self {
        Self {
            check,
            bound,
            state: Arc::default(),
        }
    }

    /// Starts an evaluation unless one is still running, and hands its answer to `apply`:
    /// [`Health::Degraded`] once it overruns its bound, then what it answers (a panic counts as
    /// [`Health::Unhealthy`]). Never waits. Must be called within a tokio runtime.
    pub(crate) fn ask(&self, apply: impl Fn(Health) + Send + 'static) {
        {
            let mut state = self.state.lock();
            if state.running {
                return;
            }
            state.running = true;
        }
        let runtime = Handle::current();
        let (answer, answered) = oneshot::channel();
        let (check, on_thread, running) = (
            self.check.clone(),
            runtime.clone(),
            Running(self.state.clone()),
        );
        let thread = std::thread::Builder::new()
            .name("vortex-health-check".into())
            .spawn(move || {
                let _running = running;
                let _ = answer.send(check.evaluate(&on_thread));
            });
        if let Err(error) = thread {
            self.state.lock().running = false;
            tracing::warn!(%error, "cannot start a thread for the health check; reporting degraded");
            return apply(Health::Degraded);
        }
        let (bound, state) = (self.bound, self.state.clone());
        runtime.spawn(async move {
            tokio::pin!(answered);
            let answer = match tokio::time::timeout(bound, &mut answered).await {
                Ok(answer) => answer,
                Err(_) => {
                    note(
                        &state,
                        Some((
                            "the health check has not answered within its bound",
                            Health::Degraded,
                        )),
                    );
                    apply(Health::Degraded);
                    answered.await
                }
            };
            let health = match answer {
                Ok(health) => {
                    note(&state, None);
                    health
                }
                Err(_) => {
                    note(
                        &state,
                        Some(("the health check panicked", Health::Unhealthy)),
                    );
                    Health::Unhealthy
                }
            };
            apply(health);
        });
    }
}

/// Logs a change of problem (what went wrong, and the health reported for it): a WARN when
/// the check starts failing, an INFO when it answers again.
fn note(state: &Mutex<State>, problem: Option<(&'static str, Health)>) {
    let what = problem.map(|(what, _)| what);
    let previous = std::mem::replace(&mut state.lock().problem, what);
    match problem {
        Some((what, health)) if previous != Some(what) => {
            tracing::warn!("{what}; reporting {health}");
        }
        None if previous.is_some() => tracing::info!("the health check answers again"),
        _ => {}
    }
}
