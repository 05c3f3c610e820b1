//! When to report: the interval, retry backoff, `Retry-After` and the on-demand rate limit.
//!
//! This module is pure policy: durations in, durations out. It reads no clock and does no I/O,
//! so unit tests and fleet simulations (see `examples/fleet.rs`) drive it directly, for 100,000
//! instances in memory.
//!
//! Private: its public items are re-exported as `vortex_client::testing::schedule` (feature
//! `testing`), whose doc says which users need the client's own policy rather than a copy.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use crate::limits::MAX_RETRY_AFTER;

/// Jitter factors, as fractions of the nominal delay: each delay is drawn uniformly from
/// `[low, high] x nominal`.
///
/// The defaults keep a fleet that starts, fails or is throttled together from reporting
/// together; `docs/schedule-notes.md` gives the fleet simulation's numbers behind each range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    /// Range for the delay between the immediate first report and the second one, as a
    /// fraction of the interval. Spreading this phase over a whole interval keeps a fleet that
    /// starts together from reporting together.
    pub first: (f64, f64),
    /// Range for every later interval, as a fraction of the interval.
    pub interval: (f64, f64),
    /// Range for retry delays, as a fraction of the nominal backoff delay; the result is also
    /// clamped to the cap.
    pub retry: (f64, f64),
    /// Range for the wait after a `Retry-After`, as a fraction of it (the client never waits
    /// less than the server asked, so the low end is at least 1.0).
    pub retry_after: (f64, f64),
}

impl Jitter {
    /// The SDK's default policy.
    pub const DEFAULT: Jitter = Jitter {
        first: (0.1, 1.0),
        interval: (0.9, 1.1),
        retry: (0.5, 1.5),
        retry_after: (1.0, 1.5),
    };

    /// No jitter at all: the naive schedule, for comparison in simulations.
    pub const NONE: Jitter = Jitter {
        first: (1.0, 1.0),
        interval: (1.0, 1.0),
        retry: (1.0, 1.0),
        retry_after: (1.0, 1.0),
    };
}

impl Default for Jitter {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The nominal delay before the next attempt after `failures` consecutive failures (1-based):
/// `initial x 2^(failures - 1)`, capped at `max`. Zero failures gives zero.
#[must_use]
pub fn nominal_retry_delay(failures: u32, initial: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

/// One instance's schedule: a seeded random source plus the policy.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    initial: Duration,
    max: Duration,
    jitter: Jitter,
    rng: SmallRng,
}

impl Schedule {
    /// A schedule seeded from the operating system, so that instances of a fleet differ.
    #[must_use]
    pub fn new(
        interval: Duration,
        initial_retry_delay: Duration,
        max_retry_delay: Duration,
    ) -> Self {
        Self::with_seed(
            interval,
            initial_retry_delay,
            max_retry_delay,
            random_seed(),
        )
    }

    /// A reproducible schedule, for tests and simulations.
    #[must_use]
    pub fn with_seed(
        interval: Duration,
        initial_retry_delay: Duration,
        max_retry_delay: Duration,
        seed: u64,
    ) -> Self {
        Self {
            interval,
            initial: initial_retry_delay,
            max: max_retry_delay.max(initial_retry_delay),
            jitter: Jitter::DEFAULT,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The same schedule with another jitter policy.
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Delay from the first report (sent at once on start) to the second.
    pub fn first_delay(&mut self) -> Duration {
        let (lo, hi) = self.jitter.first;
        self.draw(self.interval, lo, hi)
    }

    /// Delay to the next report after a successful one (or after a permanent error, which keeps
    /// the normal schedule).
    pub fn after_success(&mut self) -> Duration {
        let (lo, hi) = self.jitter.interval;
        self.draw(self.interval, lo, hi)
    }

    /// Delay to the next attempt after `failures` consecutive transient failures (1-based).
    /// Within `[0.5, 1.5] x` [`nominal_retry_delay`] by default, and never above the cap.
    pub fn after_failure(&mut self, failures: u32) -> Duration {
        let nominal = nominal_retry_delay(failures, self.initial, self.max);
        let (lo, hi) = self.jitter.retry;
        self.draw(nominal, lo, hi).min(self.max)
    }

    /// Delay after a throttled attempt: at least the server's `Retry-After` (itself capped at
    /// [`MAX_RETRY_AFTER`](crate::MAX_RETRY_AFTER)) and at most 1.5 x it by default, and at
    /// least the normal backoff.
    pub fn after_throttle(&mut self, failures: u32, retry_after: Duration) -> Duration {
        let retry_after = retry_after.min(MAX_RETRY_AFTER);
        let (lo, hi) = self.jitter.retry_after;
        let honoured = self.draw(retry_after, lo, hi).max(retry_after);
        honoured.max(self.after_failure(failures))
    }

    /// The longest delay [`after_failure`](Self::after_failure) can draw after `failures`
    /// consecutive failures: the top of the jitter range, clamped to the cap.
    fn longest_after_failure(&self, failures: u32) -> Duration {
        let nominal = nominal_retry_delay(failures, self.initial, self.max);
        let (lo, hi) = self.jitter.retry;
        scale(nominal, hi.max(lo)).min(self.max)
    }

    /// The longest total of the backoff delays between `attempts` attempts, all failing:
    /// what `report_now()` can spend waiting, besides the attempts themselves.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vortex_client::testing::schedule::Schedule;
    ///
    /// let schedule = Schedule::new(Duration::from_secs(30), Duration::from_secs(1), Duration::from_secs(60));
    /// // Three attempts wait twice: at most 1.5 x 1 s, then 1.5 x 2 s.
    /// assert_eq!(schedule.longest_backoff(3), Duration::from_millis(4500));
    /// ```
    #[must_use]
    pub fn longest_backoff(&self, attempts: u32) -> Duration {
        let mut total = Duration::ZERO;
        for failures in 1..attempts {
            let longest = self.longest_after_failure(failures);
            // Once the delay stops growing (the cap, or the doubling saturating), every later
            // one is the same: add them at once instead of counting to `attempts`.
            if self.longest_after_failure(failures + 1) == longest {
                return total.saturating_add(longest.saturating_mul(attempts - failures));
            }
            total = total.saturating_add(longest);
        }
        total
    }

    fn draw(&mut self, nominal: Duration, lo: f64, hi: f64) -> Duration {
        // A range the RNG cannot sample (infinite or NaN bounds, or a width that overflows)
        // falls back to its lower bound; `scale` then saturates.
        let factor = if hi > lo && (hi - lo).is_finite() {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        };
        scale(nominal, factor)
    }
}

/// `d x factor`, saturating instead of panicking on overflow or a negative factor.
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(if factor > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// Rate limit for on-demand reports: a burst of `burst` reports at once, then one per `gap`.
///
/// An isolated change goes out at once; a storm of changes costs a few reports, and the caller
/// schedules the last value for when the limiter allows it. It is the generic cell rate
/// algorithm: one timestamp of state, no clock of its own.
///
/// ```
/// use std::time::Duration;
/// use tokio::time::Instant;
/// use vortex_client::testing::schedule::RateLimiter;
///
/// let gap = Duration::from_secs(1);
/// let mut limiter = RateLimiter::new(2, gap);
/// let t0 = Instant::now();
/// assert_eq!(limiter.check(t0), Ok(()));
/// assert_eq!(limiter.check(t0), Ok(()));
/// assert_eq!(limiter.check(t0), Err(gap)); // the third must wait one gap
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    gap: Duration,
    tolerance: Duration,
    next_free: Option<Instant>,
}

impl RateLimiter {
    /// A limiter that lets `burst` reports through at once (at least 1), then one per `gap`.
    #[must_use]
    pub fn new(burst: u32, gap: Duration) -> Self {
        Self {
            gap,
            tolerance: gap.saturating_mul(burst.max(1) - 1),
            next_free: None,
        }
    }

    /// Takes a slot at `now` if one is free; otherwise says how long to wait for one.
    ///
    /// # Errors
    ///
    /// The wait until a slot is free, when none is free at `now`.
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        let (slot, allowed_from) = self.next_slot(now);
        if now >= allowed_from {
            self.take(slot);
            Ok(())
        } else {
            Err(allowed_from - now)
        }
    }

    /// Reserves the next slot, free or not, and returns how long to wait for it (zero when
    /// free now). The caller sends when the wait is over; changes arriving meanwhile ride on
    /// that send instead of reserving more.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    /// use vortex_client::testing::schedule::RateLimiter;
    ///
    /// let gap = Duration::from_secs(1);
    /// let mut limiter = RateLimiter::new(1, gap);
    /// let t0 = Instant::now();
    /// assert_eq!(limiter.reserve(t0), Duration::ZERO);
    /// assert_eq!(limiter.reserve(t0), gap);
    /// assert_eq!(limiter.reserve(t0), gap * 2);
    /// ```
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let (slot, allowed_from) = self.next_slot(now);
        self.take(slot);
        allowed_from.saturating_duration_since(now)
    }

    /// Gives back the slot of the last [`reserve`](Self::reserve), when it goes unused (another
    /// report carried the change it was reserved for): the next reservation gets that same
    /// slot instead of one a gap later. Call it at most once per reservation, and only for the
    /// last one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    /// use vortex_client::testing::schedule::RateLimiter;
    ///
    /// let gap = Duration::from_secs(1);
    /// let mut limiter = RateLimiter::new(1, gap);
    /// let t0 = Instant::now();
    /// assert_eq!(limiter.reserve(t0), Duration::ZERO);
    /// assert_eq!(limiter.reserve(t0), gap); // booked, then carried by another report
    /// limiter.release();
    /// assert_eq!(limiter.reserve(t0), gap); // the same slot, not two gaps
    /// ```
    pub fn release(&mut self) {
        // `take` set `next_free` one gap after the reserved slot, never before it.
        self.next_free = self.next_free.and_then(|t| t.checked_sub(self.gap));
    }

    /// The next slot's theoretical time (the GCRA's "theoretical arrival time": one gap after
    /// the last slot taken, or `now` when idle), and the earliest time it may be used (the
    /// burst lets it be used early by up to `tolerance`).
    fn next_slot(&self, now: Instant) -> (Instant, Instant) {
        let slot = self.next_free.map_or(now, |t| t.max(now));
        let allowed_from = slot.checked_sub(self.tolerance).unwrap_or(now);
        (slot, allowed_from)
    }

    fn take(&mut self, slot: Instant) {
        // Saturates instead of panicking when `gap` is absurdly long.
        self.next_free = Some(slot.checked_add(self.gap).unwrap_or(slot));
    }
}

fn random_seed() -> u64 {
    let mut rng: SmallRng = rand::make_rng();
    rng.random()
}

/// A random suffix of `len` lowercase base-36 characters, for generated instance ids.
pub(crate) fn random_suffix(len: usize) -> String {
    let mut rng = SmallRng::seed_from_u64(random_seed());
    (0..len)
        .map(|_| {
            let n: u32 = rng.random_range(0..36);
            char::from_digit(n, 36).unwrap_or('0')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn nominal_delays_double_then_cap() {
        let got: Vec<Duration> = (0..=12)
            .map(|n| nominal_retry_delay(n, S(1), S(60)))
            .collect();
        let want = [0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60].map(S);
        assert_eq!(got, want);
        assert_eq!(nominal_retry_delay(u32::MAX, S(1), S(60)), S(60));
        assert_eq!(nominal_retry_delay(40, Duration::MAX, S(60)), S(60));
    }

    #[test]
    fn retry_delays_stay_within_half_and_one_and_a_half_of_nominal_and_the_cap() {
        let mut s = Schedule::with_seed(S(30), S(1), S(60), 1);
        for _ in 0..200 {
            for n in 1..20 {
                let nominal = nominal_retry_delay(n, S(1), S(60));
                let d = s.after_failure(n);
                assert!(d >= nominal / 2, "{d:?} < half of {nominal:?}");
                assert!(d <= nominal.mul_f64(1.5) && d <= S(60), "{d:?} too long");
            }
        }
    }

    #[test]
    fn intervals_are_jittered_around_the_interval() {
        let mut s = Schedule::with_seed(S(30), S(1), S(60), 2);
        let draws: Vec<Duration> = (0..1000).map(|_| s.after_success()).collect();
        assert!(draws.iter().all(|d| *d >= S(27) && *d <= S(33)));
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 900, "jitter must actually vary");
        let first: Vec<Duration> = (0..1000).map(|_| s.first_delay()).collect();
        assert!(first.iter().all(|d| *d >= S(3) && *d <= S(30)));
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let mut s = Schedule::with_seed(S(30), S(1), S(60), 3);
        for _ in 0..100 {
            let d = s.after_throttle(1, S(20));
            assert!(d >= S(20) && d <= S(30));
            let long = s.after_throttle(1, S(86_400));
            assert!(long >= MAX_RETRY_AFTER && long <= MAX_RETRY_AFTER.mul_f64(1.5));
        }
        // A short Retry-After never shortens the normal backoff.
        let d = s.after_throttle(7, Duration::ZERO);
        assert!(d >= S(30));
    }

    #[test]
    fn default_jitter_keeps_the_promises_the_fleet_simulation_relies_on() {
        let j = Jitter::DEFAULT;
        // Retries stay within [0.5x, 1.5x] of nominal; Retry-After is a floor.
        assert!(j.retry.0 >= 0.5 && j.retry.1 <= 1.5 && j.retry.0 < j.retry.1);
        assert!(j.retry_after.0 >= 1.0 && j.retry_after.0 < j.retry_after.1);
        // The first phase is no wider than the shortest interval, and the third report cannot
        // come before the latest second one: a fleet started together never bunches again.
        let width = j.first.1 - j.first.0;
        assert!(width > 0.0 && width <= j.interval.0 + 1e-9);
        assert!(j.first.0 + j.interval.0 >= j.first.1 - 1e-9);
        // The second report is not a near-duplicate of the first.
        assert!(j.first.0 > 0.0);
    }

    #[test]
    fn a_fleet_started_together_spreads_over_the_interval() {
        // The fleet simulation in miniature: 10,000 instances start at t = 0; count reports per
        // second from the second interval on. The mean is 333 per second; the policy's bound is
        // 370 (1.11x), sampling noise adds a few percent.
        let n = 10_000;
        let mut per_second = vec![0u32; 300];
        for i in 0..n {
            let mut s = Schedule::with_seed(S(30), S(1), S(60), i);
            let mut t = s.first_delay();
            while t < S(300) {
                per_second[t.as_secs() as usize] += 1;
                t += s.after_success();
            }
        }
        let peak = per_second[30..].iter().copied().max().unwrap();
        assert!(
            peak <= 500,
            "peak {peak} per second over a mean of 333 (goal: 1.5x)"
        );
        // Without jitter the whole fleet reports in the same second.
        let mut lockstep = Schedule::with_seed(S(30), S(1), S(60), 0).jitter(Jitter::NONE);
        assert_eq!(lockstep.first_delay(), S(30));
    }

    #[test]
    fn no_jitter_is_exact() {
        let mut s = Schedule::with_seed(S(30), S(1), S(60), 4).jitter(Jitter::NONE);
        assert_eq!(s.first_delay(), S(30));
        assert_eq!(s.after_success(), S(30));
        assert_eq!(s.after_failure(3), S(4));
    }

    #[test]
    fn rate_limiter_bursts_then_spaces() {
        let gap = Duration::from_millis(1000);
        let mut l = RateLimiter::new(3, gap);
        let t0 = Instant::now();
        assert!(l.check(t0).is_ok());
        assert!(l.check(t0).is_ok());
        assert!(l.check(t0).is_ok());
        assert_eq!(l.check(t0), Err(gap));
        assert_eq!(
            l.check(t0 + Duration::from_millis(400)),
            Err(Duration::from_millis(600))
        );
        assert!(l.check(t0 + gap).is_ok());
        assert!(l.check(t0 + gap).is_err());
        // After a quiet period the full burst is back.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.check(later).is_ok());
        }
        assert!(l.check(later).is_err());
    }

    #[test]
    fn longest_backoff_bounds_every_drawn_sequence() {
        let mut s = Schedule::with_seed(S(30), S(1), S(60), 5);
        for attempts in [1, 2, 3, 8, 12] {
            let bound = s.longest_backoff(attempts);
            for _ in 0..100 {
                let drawn: Duration = (1..attempts).map(|n| s.after_failure(n)).sum();
                assert!(
                    drawn <= bound,
                    "{drawn:?} > {bound:?} for {attempts} attempts"
                );
            }
        }
        // 1.5 + 3 + 6 + 12 + 24 + 48, then the cap.
        assert_eq!(s.longest_backoff(8), Duration::from_millis(94_500 + 60_000));
        let exact = s.clone().jitter(Jitter::NONE);
        assert_eq!(exact.longest_backoff(4), S(1 + 2 + 4));
        // Saturates instead of counting to u32::MAX.
        let huge = Schedule::with_seed(S(30), S(1), Duration::MAX, 0);
        assert_eq!(huge.longest_backoff(u32::MAX), Duration::MAX);
    }

    #[test]
    fn random_suffix_is_base36() {
        let s = random_suffix(8);
        assert_eq!(s.len(), 8);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
    }
}
