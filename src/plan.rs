//! When the worker sends next: one pure state machine, fed the outcome of the last report
//! whoever sent it (the worker or `report_now()`), and the changes waiting to be reported.
//!
//! No clock and no IO: the caller passes `now`, so unit tests drive it without sockets or sleeps.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Disposition;
use crate::schedule::{RateLimiter, Schedule};

/// Who asked for a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The background worker.
    Worker,
    /// A `report_now()` call.
    ReportNow,
}

/// How a recorded report ended, as the schedule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server accepted it.
    Accepted { by: Origin },
    /// It failed; `failures` counts the consecutive failures, this one included.
    Failed {
        disposition: Disposition,
        failures: u32,
    },
}

/// The worker's schedule: the next periodic (or retry) attempt, the on-demand slot booked for
/// a waiting change, and whether the last report failed.
#[derive(Debug)]
pub(crate) struct Plan {
    schedule: Schedule,
    limiter: RateLimiter,
    /// The next periodic attempt, or the next retry while failing.
    next: Instant,
    /// The rate-limited slot booked for a change waiting to be reported.
    booked: Option<Instant>,
    /// The last report failed: changes ride on the next attempt instead of adding requests
    /// to a failing server.
    failing: bool,
    /// No report has ended yet.
    first: bool,
    /// The worker's send in flight uses a booked slot: it reports a change.
    on_demand: bool,
}

impl Plan {
    /// A plan whose first report is due at `now`.
    pub(crate) fn new(schedule: Schedule, limiter: RateLimiter, now: Instant) -> Self {
        Self {
            schedule,
            limiter,
            next: now,
            booked: None,
            failing: false,
            first: true,
            on_demand: false,
        }
    }

    /// When the worker sends next.
    pub(crate) fn due(&self) -> Instant {
        self.booked.map_or(self.next, |slot| slot.min(self.next))
    }

    /// True when the periodic (or retry) attempt is due at `now`, not only a booked slot.
    pub(crate) fn periodic_due(&self, now: Instant) -> bool {
        self.next <= now
    }

    /// A version or health change waits to be reported (`waiting` is false when a report
    /// already carried it). Books the next rate-limited slot, unless one is booked already
    /// (the change rides on it) or the last report failed (it rides on the retry).
    pub(crate) fn on_change(&mut self, now: Instant, waiting: bool) {
        if waiting && !self.failing && self.booked.is_none() {
            self.book(now);
        }
    }

    /// The worker starts a send at `now`: a booked slot that is due is used up by it.
    pub(crate) fn on_send(&mut self, now: Instant) {
        self.on_demand = self.booked.is_some_and(|slot| slot <= now);
        if self.on_demand {
            self.booked = None;
        }
    }

    /// The last report (the worker's or `report_now()`'s) ended with `outcome`; `waiting` says
    /// whether a change made meanwhile still waits to be reported.
    pub(crate) fn on_outcome(&mut self, now: Instant, outcome: Outcome, waiting: bool) {
        let first = std::mem::replace(&mut self.first, false);
        let on_demand = std::mem::take(&mut self.on_demand);
        let delay = match outcome {
            Outcome::Accepted { by } => {
                self.failing = false;
                if !waiting {
                    self.drop_booked();
                } else if self.booked.is_none() {
                    // A change made while the report was in flight goes right after it.
                    self.book(now);
                }
                // After the first report, one that carried a change, or report_now(), the
                // countdown restarts with a fresh random phase: a fleet-wide push makes every
                // instance report in the same second, and a plain interval would keep the fleet
                // in that lockstep (examples/fleet.rs, scenario c).
                if first || on_demand || by == Origin::ReportNow {
                    self.schedule.first_delay()
                } else {
                    self.schedule.after_success()
                }
            }
            Outcome::Failed {
                disposition,
                failures,
            } => {
                self.failing = true;
                // The change rides on the retry: no extra requests to a failing server.
                self.drop_booked();
                match disposition {
                    Disposition::Throttled(wait) => self.schedule.after_throttle(failures, wait),
                    Disposition::Retryable => self.schedule.after_failure(failures),
                    _ => self.schedule.after_success(),
                }
            }
        };
        self.next = deadline(now, delay);
    }

    fn book(&mut self, now: Instant) {
        self.booked = Some(deadline(now, self.limiter.reserve(now)));
    }

    /// Another report carried the booked change: its slot goes back to the limiter, so the
    /// next change gets that slot, not one a gap later (a booked change is never pushed past
    /// its slot).
    fn drop_booked(&mut self) {
        if self.booked.take().is_some() {
            self.limiter.release();
        }
    }
}

/// `now + delay`, saturating far in the future instead of panicking on overflow (validation
/// bounds every delay, so this is a second line of defence).
pub(crate) fn deadline(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// About 30 years: later than any deadline the client computes.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Jitter;

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// Interval 30 s, backoff 1 s doubling to 60 s, no jitter; 1 on-demand report at once,
    /// then one per 5 s.
    fn plan(now: Instant) -> Plan {
        let schedule = Schedule::with_seed(S(30), S(1), S(60), 7).jitter(Jitter::NONE);
        Plan::new(schedule, RateLimiter::new(1, S(5)), now)
    }

    /// A plan whose one on-demand report was spent on a change at `t0`: the next change
    /// waits for the gap.
    fn burst_spent(t0: Instant) -> Plan {
        let mut p = plan(t0);
        p.on_outcome(t0, OK, false);
        p.on_change(t0, true);
        p.on_send(t0);
        p.on_outcome(t0, OK, false);
        p
    }

    const OK: Outcome = Outcome::Accepted { by: Origin::Worker };
    const NOW: Outcome = Outcome::Accepted {
        by: Origin::ReportNow,
    };

    fn failed(failures: u32) -> Outcome {
        Outcome::Failed {
            disposition: Disposition::Retryable,
            failures,
        }
    }

    #[test]
    fn the_first_report_is_due_at_once_then_the_interval() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        assert_eq!(p.due(), t0);
        p.on_send(t0);
        p.on_outcome(t0, OK, false);
        assert_eq!(
            p.due(),
            t0 + S(30),
            "the first: a fresh phase (no jitter: one interval)"
        );
        p.on_send(t0 + S(30));
        p.on_outcome(t0 + S(30), OK, false);
        assert_eq!(p.due(), t0 + S(60));
    }

    #[test]
    fn a_fresh_phase_follows_the_first_report_a_change_and_report_now() {
        let schedule = Schedule::with_seed(S(30), S(1), S(60), 7).jitter(Jitter {
            first: (0.5, 0.5),
            ..Jitter::NONE
        });
        let t0 = Instant::now();
        let mut p = Plan::new(schedule, RateLimiter::new(3, S(1)), t0);
        p.on_send(t0);
        p.on_outcome(t0, OK, false);
        assert_eq!(p.due(), t0 + S(15), "first");
        p.on_send(p.due());
        p.on_outcome(t0 + S(15), OK, false);
        assert_eq!(p.due(), t0 + S(45), "periodic");
        p.on_change(t0 + S(20), true);
        p.on_send(t0 + S(20));
        p.on_outcome(t0 + S(20), OK, false);
        assert_eq!(p.due(), t0 + S(35), "carried a change");
        p.on_outcome(t0 + S(21), NOW, false);
        assert_eq!(p.due(), t0 + S(36), "report_now()");
        p.on_outcome(t0 + S(22), failed(1), false);
        p.on_send(p.due());
        p.on_outcome(t0 + S(23), OK, false);
        assert_eq!(p.due(), t0 + S(53), "recovery: the interval");
    }

    #[test]
    fn a_change_goes_at_once_then_waits_for_the_gap() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.on_outcome(t0, OK, false);
        p.on_change(t0, true);
        assert_eq!(p.due(), t0);
        p.on_send(t0);
        p.on_outcome(t0, OK, false);
        p.on_change(t0, true);
        assert_eq!(p.due(), t0 + S(5), "the burst of 1 is spent");
        // More changes ride on the booked slot.
        p.on_change(t0 + S(1), true);
        assert_eq!(p.due(), t0 + S(5));
    }

    #[test]
    fn a_success_by_anyone_ends_backoff() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.on_outcome(t0, failed(1), false);
        p.on_change(t0, true);
        assert_eq!(
            p.due(),
            t0 + S(1),
            "while failing a change rides on the retry"
        );
        // report_now() succeeds: the worker leaves backoff, and the next change goes at once.
        let t1 = t0 + Duration::from_millis(300);
        p.on_outcome(t1, NOW, false);
        p.on_change(t1, true);
        assert_eq!(p.due(), t1);
    }

    #[test]
    fn a_booked_change_survives_a_success_that_did_not_carry_it() {
        let t0 = Instant::now();
        let mut p = burst_spent(t0);
        p.on_change(t0 + S(1), true);
        assert_eq!(p.due(), t0 + S(5));
        // An answer to a report sent before the change: the slot stays booked, not pushed.
        p.on_outcome(t0 + S(2), NOW, true);
        assert_eq!(p.due(), t0 + S(5));
    }

    #[test]
    fn a_success_that_carried_the_booked_change_frees_the_next_change() {
        let t0 = Instant::now();
        let mut p = burst_spent(t0);
        p.on_change(t0, true);
        assert_eq!(p.due(), t0 + S(5));
        // report_now() carried it: nothing stays booked ...
        p.on_outcome(t0 + S(1), NOW, false);
        assert_eq!(p.due(), t0 + S(31));
        // ... and the next change gets the slot it had, never the restarted countdown nor a
        // gap later.
        p.on_change(t0 + S(2), true);
        assert_eq!(p.due(), t0 + S(5));
    }

    #[test]
    fn a_change_after_report_now_carried_the_booked_one_waits_one_gap() {
        // Burst 1: v1 at t0, v2 booked for t0 + 5 s, report_now() carries v2 at 1 s, v3 at
        // 1.01 s goes at the slot v2 had.
        let t0 = Instant::now();
        let mut p = burst_spent(t0);
        p.on_change(t0 + S(1), true);
        p.on_outcome(t0 + S(1), NOW, false);
        let t3 = t0 + S(1) + Duration::from_millis(10);
        p.on_change(t3, true);
        assert_eq!(p.due(), t0 + S(5));
        p.on_send(t0 + S(5));
        p.on_outcome(t0 + S(5), OK, false);
        // The slot is used now: the next change waits one gap after it.
        p.on_change(t0 + S(6), true);
        assert_eq!(p.due(), t0 + S(10));
    }

    #[test]
    fn a_change_after_the_burst_was_spent_and_report_now_waits_one_gap() {
        // Burst 3, gap 5 s: three changes at t0 go at once, a fourth is booked one gap later;
        // report_now() carries it, and the next change gets that slot.
        let schedule = Schedule::with_seed(S(30), S(1), S(60), 7).jitter(Jitter::NONE);
        let t0 = Instant::now();
        let mut p = Plan::new(schedule, RateLimiter::new(3, S(5)), t0);
        p.on_send(t0);
        p.on_outcome(t0, OK, false);
        for _ in 0..3 {
            p.on_change(t0, true);
            assert_eq!(p.due(), t0);
            p.on_send(t0);
            p.on_outcome(t0, OK, false);
        }
        p.on_change(t0, true);
        assert_eq!(p.due(), t0 + S(5));
        p.on_outcome(t0 + S(1), NOW, false);
        p.on_change(t0 + S(1), true);
        assert_eq!(p.due(), t0 + S(5));
    }

    #[test]
    fn a_slot_dropped_for_a_retry_goes_back_too() {
        let t0 = Instant::now();
        let mut p = burst_spent(t0);
        p.on_change(t0, true);
        p.on_outcome(t0 + S(1), failed(1), true);
        p.on_send(t0 + S(2));
        p.on_outcome(t0 + S(2), OK, false);
        p.on_change(t0 + S(2), true);
        assert_eq!(p.due(), t0 + S(5), "the slot the dropped booking had");
    }

    #[test]
    fn a_change_made_during_a_send_goes_right_after_it() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.on_send(t0);
        p.on_outcome(t0, OK, true);
        assert_eq!(p.due(), t0, "the burst is free: at once");
    }

    #[test]
    fn failures_back_off_and_throttling_waits_for_retry_after() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.on_outcome(t0, failed(1), false);
        assert_eq!(p.due(), t0 + S(1));
        p.on_outcome(t0, failed(3), false);
        assert_eq!(p.due(), t0 + S(4));
        let throttled = Outcome::Failed {
            disposition: Disposition::Throttled(S(20)),
            failures: 4,
        };
        p.on_outcome(t0, throttled, false);
        assert_eq!(p.due(), t0 + S(20));
    }

    #[test]
    fn a_failure_drops_the_booked_slot_and_a_permanent_one_keeps_the_interval() {
        let t0 = Instant::now();
        let mut p = burst_spent(t0);
        p.on_change(t0, true);
        p.on_outcome(t0, failed(1), true);
        assert_eq!(p.due(), t0 + S(1), "the change rides on the retry");
        let permanent = Outcome::Failed {
            disposition: Disposition::Permanent,
            failures: 2,
        };
        p.on_outcome(t0, permanent, true);
        assert_eq!(p.due(), t0 + S(30));
    }

    #[test]
    fn deadlines_saturate() {
        let t0 = Instant::now();
        assert!(deadline(t0, Duration::MAX) > t0);
    }
}
