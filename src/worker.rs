//! The background worker: one loop that waits for whatever comes first (stop, a change, the
//! outcome of a `report_now()`, the next deadline) and sends through the client's one sender.
//! A periodic report also asks the health check, which answers beside it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::changes::Changes;
use crate::plan::{Origin, Outcome, Plan};
use crate::recorder::Recorded;
use crate::schedule::{RateLimiter, Schedule};
use crate::sequencer::Sequencer;

/// What woke the worker.
#[derive(Debug)]
enum Wake {
    /// `stop()`, or the last handle was dropped.
    Stop,
    /// A version or health change waits to be reported.
    Changed,
    /// A report sent by `report_now()` was recorded.
    Recorded(Recorded),
    /// The plan's deadline passed.
    Due,
}

/// The loop: one report at once, then the interval; backoff on failure; prompt, rate-limited
/// reports of changes; exits when `stop` fires.
pub(crate) async fn run(sequencer: Arc<Sequencer>, mut stop: watch::Receiver<bool>) {
    let c = sequencer.config();
    let changes = sequencer.changes();
    let schedule = Schedule::new(c.interval, c.initial_retry_delay, c.max_retry_delay);
    let limiter = RateLimiter::new(c.report_burst, c.min_report_gap);
    let mut plan = Plan::new(schedule, limiter, Instant::now());
    let mut outcomes = sequencer.recorder().outcomes();
    outcomes.mark_unchanged();
    // The sequence number of the outcome the plan last followed.
    let mut followed = 0;
    loop {
        let wake = tokio::select! {
            biased;
            _ = stop.changed() => Wake::Stop,
            () = changes.notified() => Wake::Changed,
            Ok(()) = outcomes.changed() => match *outcomes.borrow_and_update() {
                Some(recorded) => Wake::Recorded(recorded),
                None => continue,
            },
            () = sleep_until(plan.due()) => Wake::Due,
        };
        match wake {
            Wake::Stop => return,
            Wake::Changed => plan.on_change(Instant::now(), changes.waiting()),
            Wake::Recorded(recorded) => follow(changes, &mut plan, &mut followed, recorded),
            Wake::Due => {}
        }
        // Due now (e.g. an isolated change): send at once rather than through a timer, whose
        // 1 ms granularity would add up to a millisecond.
        if plan.due() > Instant::now() {
            continue;
        }
        if plan.periodic_due(Instant::now()) {
            sequencer.ask_health();
        }
        plan.on_send(Instant::now());
        let Some(recorded) = send_within_grace(&sequencer, &mut stop).await else {
            return;
        };
        // A report_now() may have been recorded after this one: the newest outcome wins.
        let newest = outcomes
            .borrow_and_update()
            .filter(|r| r.seq() > recorded.seq());
        follow(
            changes,
            &mut plan,
            &mut followed,
            newest.unwrap_or(recorded),
        );
    }
}

/// `work`, or `None` as soon as `stop` fires.
async fn until_stop<T>(
    stop: &mut watch::Receiver<bool>,
    work: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        _ = stop.changed() => None,
        done = work => Some(done),
    }
}

/// The worker's send. When `stop` fires meanwhile, the request in flight gets the grace to
/// finish, and the result is `None`: the worker exits.
async fn send_within_grace(
    sequencer: &Sequencer,
    stop: &mut watch::Receiver<bool>,
) -> Option<Recorded> {
    let send = sequencer.send(Origin::Worker);
    tokio::pin!(send);
    match until_stop(stop, &mut send).await {
        Some((_, recorded)) => Some(recorded),
        None => {
            let _ = tokio::time::timeout(sequencer.config().stop_grace, send).await;
            None
        }
    }
}

/// Feeds the plan an outcome it has not followed yet.
fn follow(changes: &Changes, plan: &mut Plan, followed: &mut u64, recorded: Recorded) {
    if recorded.seq() <= *followed {
        return;
    }
    *followed = recorded.seq();
    let now = Instant::now();
    plan.on_outcome(now, recorded.outcome(), changes.waiting());
    if let Outcome::Failed { failures, .. } = recorded.outcome() {
        tracing::debug!(
            attempt = failures,
            delay_ms = delay_ms(plan.due().saturating_duration_since(now)),
            "next heartbeat attempt scheduled"
        );
    }
}

/// Milliseconds, for log fields.
pub(crate) fn delay_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}
