//! The background worker: one loop that waits for whatever comes first (stop, a change, a
//! `report_now()` that moved the schedule, the next deadline) and reports through the engine.
//! A periodic report also asks the health check, which answers beside it.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::report::Engine;

/// The loop: one report at once, then the interval; backoff on failure; prompt, rate-limited
/// reports of changes; exits when `stop` fires.
pub(crate) async fn run(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    engine.restart_plan();
    let changes = &engine.changes;
    loop {
        let due = engine.plan.lock().due();
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            () = changes.notified() => engine.plan.lock().on_change(Instant::now(), changes.waiting()),
            () = engine.replanned() => {}
            () = sleep_until(due) => {}
        }
        // Due now (e.g. an isolated change): send at once rather than through a timer, whose
        // 1 ms granularity would add up to a millisecond.
        let now = Instant::now();
        let periodic = {
            let plan = engine.plan.lock();
            if plan.due() > now {
                continue;
            }
            plan.periodic_due(now)
        };
        if periodic {
            engine.ask_health();
        }
        if !report_within_grace(&engine, &mut stop).await {
            return;
        }
    }
}

/// The worker's report. When `stop` fires meanwhile, the request in flight gets the grace to
/// finish, and the result is false: the worker exits.
async fn report_within_grace(engine: &Engine, stop: &mut watch::Receiver<bool>) -> bool {
    let report = engine.report_if_due();
    tokio::pin!(report);
    tokio::select! {
        biased;
        _ = stop.changed() => {
            let _ = tokio::time::timeout(engine.config.stop_grace, report).await;
            false
        }
        () = &mut report => true,
    }
}
