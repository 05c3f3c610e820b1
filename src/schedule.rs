//! When to report: the interval, retry backoff, `Retry-After` and the on-demand rate limit.
//! Pure policy (durations in, durations out; no clock read, no I/O) and self-contained, so
//! that `examples/fleet.rs` compiles this very file to simulate 100,000 instances in memory.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

/// The longest `Retry-After` the client honours (5 minutes). A server that asks for more is
/// waited on for this long: waiting longer would make the instance vanish from the server's
/// drift report, whose default time-to-live is 5 minutes.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Jitter factors, as fractions of the nominal delay: each delay is drawn uniformly from
/// `[low, high] x nominal`. `docs/schedule-notes.md` gives the fleet simulation's numbers
/// behind each range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Jitter {
    /// The delay between the immediate first report and the second, as a fraction of the
    /// interval: a fleet started together spreads over it.
    pub(crate) first: (f64, f64),
    /// Each later interval.
    pub(crate) interval: (f64, f64),
    /// Each retry, around the nominal backoff.
    pub(crate) retry: (f64, f64),
    /// A `Retry-After`: a floor, never shortened.
    pub(crate) retry_after: (f64, f64),
}

impl Jitter {
    /// The client's jitter.
    pub(crate) const DEFAULT: Jitter = Jitter {
        first: (0.1, 1.0),
        interval: (0.9, 1.1),
        retry: (0.5, 1.5),
        retry_after: (1.0, 1.5),
    };

    /// No jitter: every delay is nominal (what lets a fleet fall into lockstep).
    #[allow(dead_code)]
    pub(crate) const NONE: Jitter = Jitter {
        first: (1.0, 1.0),
        interval: (1.0, 1.0),
        retry: (1.0, 1.0),
        retry_after: (1.0, 1.0),
    };
}

/// The nominal delay after `failures` consecutive failures: `initial` doubling, at most
/// `max`; zero for none.
pub(crate) fn nominal_retry_delay(failures: u32, initial: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

/// One client's delays: the interval and the backoff, jittered by its own generator.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    interval: Duration,
    initial: Duration,
    max: Duration,
    jitter: Jitter,
    rng: SmallRng,
}

impl Schedule {
    /// A schedule seeded from the operating system, so that instances of a fleet differ.
    pub(crate) fn new(
        interval: Duration,
        initial_retry_delay: Duration,
        max_retry_delay: Duration,
    ) -> Self {
        let mut seeder: SmallRng = rand::make_rng();
        Self::with_seed(
            interval,
            initial_retry_delay,
            max_retry_delay,
            seeder.random(),
        )
    }

    /// A reproducible schedule, for tests and simulations.
    pub(crate) fn with_seed(
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

    /// The same schedule with other jitter.
    #[allow(dead_code)]
    pub(crate) fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// After the first report, and after one that restarts the countdown: a fresh phase.
    pub(crate) fn first_delay(&mut self) -> Duration {
        let (lo, hi) = self.jitter.first;
        self.draw(self.interval, lo, hi)
    }

    /// After a success: about one interval.
    pub(crate) fn after_success(&mut self) -> Duration {
        let (lo, hi) = self.jitter.interval;
        self.draw(self.interval, lo, hi)
    }

    /// After the `failures`-th consecutive failure: the jittered backoff, at most the cap.
    pub(crate) fn after_failure(&mut self, failures: u32) -> Duration {
        let nominal = nominal_retry_delay(failures, self.initial, self.max);
        let (lo, hi) = self.jitter.retry;
        self.draw(nominal, lo, hi).min(self.max)
    }

    /// After a `Retry-After` (capped at [`MAX_RETRY_AFTER`]): at least that, and never shorter
    /// than the backoff.
    pub(crate) fn after_throttle(&mut self, failures: u32, retry_after: Duration) -> Duration {
        let retry_after = retry_after.min(MAX_RETRY_AFTER);
        let (lo, hi) = self.jitter.retry_after;
        let honoured = self.draw(retry_after, lo, hi).max(retry_after);
        honoured.max(self.after_failure(failures))
    }

    /// The longest total of the backoff delays between `attempts` attempts.
    pub(crate) fn longest_backoff(&self, attempts: u32) -> Duration {
        let longest = |failures| {
            let nominal = nominal_retry_delay(failures, self.initial, self.max);
            scale(nominal, self.jitter.retry.1.max(self.jitter.retry.0)).min(self.max)
        };
        let mut total = Duration::ZERO;
        for failures in 1..attempts {
            // Once at the cap, the rest is the cap each time.
            if longest(failures + 1) == longest(failures) {
                return total.saturating_add(longest(failures).saturating_mul(attempts - failures));
            }
            total = total.saturating_add(longest(failures));
        }
        total
    }

    fn draw(&mut self, nominal: Duration, lo: f64, hi: f64) -> Duration {
        let factor = if hi > lo && (hi - lo).is_finite() {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        };
        scale(nominal, factor)
    }
}

/// `d x factor`, saturating instead of panicking.
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(if factor > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// The on-demand rate limit: `burst` reports at once, then one per `gap` (a GCRA).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    gap: Duration,
    /// How early a slot may be used: the burst.
    tolerance: Duration,
    /// One gap after the last slot taken.
    next_free: Option<Instant>,
}

impl RateLimiter {
    /// A limiter that lets `burst` reports through at once (at least 1), then one per `gap`.
    pub(crate) fn new(burst: u32, gap: Duration) -> Self {
        Self {
            gap,
            tolerance: gap.saturating_mul(burst.max(1) - 1),
            next_free: None,
        }
    }

    /// Reserves the next slot, free or not, and returns how long to wait for it (zero when
    /// free now). Changes arriving meanwhile ride on the send at that slot.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let slot = self.next_free.map_or(now, |t| t.max(now));
        let allowed_from = slot.checked_sub(self.tolerance).unwrap_or(now);
        // Saturates instead of panicking when `gap` is absurdly long.
        self.next_free = Some(slot.checked_add(self.gap).unwrap_or(slot));
        allowed_from.saturating_duration_since(now)
    }

    /// Gives back the last reservation's slot when it goes unused (another report carried
    /// the change): the next reservation gets that slot, not one a gap later.
    pub(crate) fn release(&mut self) {
        self.next_free = self.next_free.and_then(|t| t.checked_sub(self.gap));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
        for _ in 0..3 {
            assert_eq!(l.reserve(t0), Duration::ZERO);
        }
        assert_eq!(l.reserve(t0), gap, "the fourth waits one gap");
        l.release();
        assert_eq!(l.reserve(t0), gap, "a released slot is the same slot");
        assert_eq!(
            l.reserve(t0 + Duration::from_millis(400)),
            Duration::from_millis(1600)
        );
        // After a quiet period the full burst is back.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(l.reserve(later), Duration::ZERO);
        }
        assert_eq!(l.reserve(later), gap);
    }

    /// The longest duration setting.
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    proptest! {
    /// Realistic settings (up to the 24 h limit): every delay within its documented bounds.
    #[test]
    fn backoff_delays_stay_within_their_bounds(
        initial_ns in 1u64..=DAY.as_nanos() as u64,
        cap_fraction in 0.0f64..=1.0,
        interval_ns in 1u64..=DAY.as_nanos() as u64,
        failures in prop::collection::vec(any::<u32>(), 1..16),
        retry_after_s in prop::option::of(0u64..=u64::MAX),
        seed in any::<u64>(),
    ) {
        let initial = Duration::from_nanos(initial_ns);
        let cap = initial + (DAY - initial).mul_f64(cap_fraction);
        let interval = Duration::from_nanos(interval_ns);
        let slack = Duration::from_micros(1);
        let mut schedule = Schedule::with_seed(interval, initial, cap, seed);
        let mut previous = Duration::ZERO;
        for n in 0..40u32 {
            let nominal = nominal_retry_delay(n, initial, cap);
            prop_assert!(nominal <= cap);
            prop_assert!(nominal >= previous, "nominal delays never shrink");
            if n >= 1 {
                prop_assert!(nominal >= initial);
            }
            previous = nominal;
        }
        for &n in &failures {
            let nominal = nominal_retry_delay(n, initial, cap);
            let d = schedule.after_failure(n);
            prop_assert!(d <= cap, "{d:?} above the cap {cap:?}");
            prop_assert!(d + slack >= nominal / 2, "{d:?} below half of {nominal:?}");
            prop_assert!(d <= nominal.mul_f64(1.5) + slack, "{d:?} above 1.5 x {nominal:?}");
            let ok = schedule.after_success();
            prop_assert!(ok + slack >= interval.mul_f64(0.9) && ok <= interval.mul_f64(1.1) + slack);
            let first = schedule.first_delay();
            prop_assert!(first + slack >= interval.mul_f64(0.1) && first <= interval + slack);
            if let Some(s) = retry_after_s {
                let asked = Duration::from_secs(s);
                let t = schedule.after_throttle(n, asked);
                let honoured = asked.min(MAX_RETRY_AFTER);
                prop_assert!(t >= honoured, "waits at least what the server asked (capped)");
                prop_assert!(t <= honoured.mul_f64(1.2).max(cap) + slack);
            }
        }
    }

    /// Absurd settings through the public schedule API (which does not validate): no panic,
    /// and the cap still holds.
    #[test]
    fn schedule_never_panics_on_absurd_durations(
        interval in any::<(u64, u32)>(),
        initial in any::<(u64, u32)>(),
        cap in any::<(u64, u32)>(),
        failures in any::<u32>(),
        retry_after in any::<(u64, u32)>(),
        burst in any::<u32>(),
        gap in any::<(u64, u32)>(),
        steps in prop::collection::vec(any::<u64>(), 0..8),
    ) {
        let d = |(s, n): (u64, u32)| Duration::new(s, n % 1_000_000_000);
        let (interval, initial, cap) = (d(interval), d(initial), d(cap));
        let mut schedule = Schedule::with_seed(interval, initial, cap, 1);
        let _ = schedule.first_delay();
        let _ = schedule.after_success();
        prop_assert!(schedule.after_failure(failures) <= cap.max(initial));
        let _ = schedule.after_throttle(failures, d(retry_after));
        let _ = nominal_retry_delay(failures, initial, cap);
        let mut limiter = RateLimiter::new(burst, d(gap));
        let mut now = Instant::now();
        for step in steps {
            let _ = limiter.reserve(now);
            now = now.checked_add(Duration::from_nanos(step)).unwrap_or(now);
        }
    }

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
}
