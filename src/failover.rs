//! Several servers: which URL a report goes to, where it goes when that URL fails, when an
//! attempt is over, and when the connection is old enough to be replaced.
//!
//! Pure policy, like `plan.rs`: it holds per-URL state by index (the list order is the
//! preference), reads no clock (the caller passes `now`), does no I/O and logs nothing; it
//! returns [`Event`]s for the caller to log. The rules, with the reasons and other clients'
//! behaviour, are the table in `docs/resilience.md` ("Several servers").
//!
//! One attempt is a round over the URLs: [`Failover::begin`] gives the first URL to try,
//! [`Failover::failed`] the next one (or the end of the round), [`Failover::delivered`] closes
//! it. The steady path (the sticky URL answering 2xx) allocates nothing: events come only
//! with a change. [`ConnectionAge`]
//! keeps each URL's connection within the max age.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use crate::error::{Disposition, Problem, ReporterError};
use crate::limits::{MAX_RETRY_AFTER, MAX_SERVER_URLS};

/// The default `connection_max_age`: a server move is seen within minutes, at one reconnect
/// per 7.5 to 10 reports (why: docs/resilience.md, "Connection max age").
pub(crate) const DEFAULT_CONNECTION_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// Each epoch lasts a draw in `[low, high] x max age`: never longer than the max age (so the
/// client is back on the first URL within one max age), and spread so that a fleet started
/// together does not reconnect in the same second.
const MAX_AGE_JITTER: (f64, f64) = (0.75, 1.0);

/// One URL's failure, as the policy needs it: what it says about the URL, and how the
/// schedule would treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    /// What the failure says about the URL.
    pub(crate) problem: Problem,
    /// The error's own disposition (its `Retry-After` included).
    pub(crate) disposition: Disposition,
}

impl Fault {
    /// Classifies a failed request to one URL.
    pub(crate) fn of(error: &ReporterError) -> Fault {
        Fault {
            problem: error.problem(),
            disposition: error.disposition(),
        }
    }
}

/// Something for the caller to log. With a single URL there are none: the client's own
/// outage log already says everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// WARN: the URL's first failure since it last answered (once per URL per outage, never
    /// per attempt). For `NoDriftApi`, `Credentials` and `Misconfigured` it is the one line
    /// that carries the hint.
    Down {
        /// The URL's index.
        url: usize,
        /// Why.
        problem: Problem,
    },
    /// The URL answered after failing (DEBUG: the move, if any, is the INFO line).
    Recovered {
        /// The URL's index.
        url: usize,
    },
    /// INFO: a URL other than the first answered, and later reports go to it.
    Moved {
        /// The URL reports went to until now.
        from: usize,
        /// The URL they go to from now on.
        to: usize,
    },
    /// INFO: the first URL answered again, and later reports go to it.
    Returned {
        /// The URL reports went to until now.
        from: usize,
    },
}

/// How an attempt starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    /// The URL to send the report to first.
    pub(crate) url: usize,
    /// An epoch ended while reports went to another URL: this round tries the first again.
    pub(crate) back_to_first: bool,
}

/// What to do after a URL failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AfterFailure {
    /// Keep this error as the attempt's error, in place of the one kept before. The kept
    /// error decides the backoff: the longest `Retry-After`, else the first transient error,
    /// else the first error; a `Report` problem is always kept (it ends the attempt).
    pub(crate) keep_error: bool,
    /// The URL to send the same report to now, in the same attempt; `None`: the attempt is
    /// over and fails with the kept error.
    pub(crate) next: Option<usize>,
    /// What to log.
    pub(crate) events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, Default)]
struct UrlState {
    /// Failed since it last answered: its outage was logged.
    failing: bool,
    /// Its `Retry-After`: tried after the others until then.
    not_before: Option<Instant>,
}

/// The round in progress: one request per URL at most.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    start: usize,
    /// Bit `i` set: URL `i` was tried in this round.
    tried: u32,
    /// The URL the outcome that comes next belongs to.
    pending: usize,
    /// The rank of the error kept so far.
    kept: Option<(u8, Duration)>,
}

/// The server set's state: the sticky URL, each URL's outage, when to try the first again.
#[derive(Debug, Clone)]
pub(crate) struct Failover {
    urls: Vec<UrlState>,
    current: usize,
    max_age: Duration,
    /// When the current epoch ends: the next round starts from the first URL. Epochs run from
    /// the first report on, so a fleet's returns are spread however it failed over.
    epoch_ends: Option<Instant>,
    rng: SmallRng,
    round: Round,
}

impl Failover {
    /// A server set of `count` URLs (at least 1, at most [`MAX_SERVER_URLS`]), its returns
    /// jittered from an operating-system seed, so that instances of a fleet differ.
    pub(crate) fn new(count: usize, connection_max_age: Duration) -> Self {
        let mut seeder: SmallRng = rand::make_rng();
        Self::with_seed(count, connection_max_age, seeder.random())
    }

    /// A reproducible server set, for tests and simulations.
    pub(crate) fn with_seed(count: usize, connection_max_age: Duration, seed: u64) -> Self {
        debug_assert!((1..=MAX_SERVER_URLS).contains(&count), "{count} URLs");
        Failover {
            urls: vec![UrlState::default(); count.clamp(1, MAX_SERVER_URLS)],
            current: 0,
            max_age: connection_max_age,
            epoch_ends: None,
            rng: SmallRng::seed_from_u64(seed),
            round: Round::default(),
        }
    }

    /// The URL reports go to: the one that answered last (the first until one did).
    #[cfg(test)]
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// When the current epoch ends (`None` before the first attempt).
    #[cfg(test)]
    pub(crate) fn epoch_ends(&self) -> Option<Instant> {
        self.epoch_ends
    }

    /// Starts an attempt: at the sticky URL, or at the first one once an epoch (a draw in
    /// `[0.75, 1]` x the max age) is over. The caller holds the one-sender lock until the
    /// round ends.
    pub(crate) fn begin(&mut self, now: Instant) -> Start {
        let fresh = self.epoch_ends.is_some_and(|end| now >= end);
        if fresh || self.epoch_ends.is_none() {
            self.epoch_ends = deadline(now, jittered(&mut self.rng, self.max_age));
        }
        let back = fresh && self.current != 0;
        let start = if back { 0 } else { self.current };
        self.round = Round {
            start,
            ..Round::default()
        };
        let url = self.pick(now).unwrap_or(start);
        self.mark(url);
        Start {
            url,
            back_to_first: back,
        }
    }

    /// The URL handed out last failed: the next one to try in this round, if any.
    pub(crate) fn failed(&mut self, fault: Fault, now: Instant) -> AfterFailure {
        let url = self.round.pending;
        let several = self.urls.len() > 1;
        let mut events = Vec::new();
        if fault.problem != Problem::Report {
            if let Some(state) = self.urls.get_mut(url) {
                if !state.failing && several {
                    events.push(Event::Down {
                        url,
                        problem: fault.problem,
                    });
                }
                state.failing = true;
                if let Disposition::Throttled(delay) = fault.disposition {
                    state.not_before = now.checked_add(delay.min(MAX_RETRY_AFTER));
                }
            }
        }
        let rank = rank(fault.disposition);
        let keep_error =
            fault.problem == Problem::Report || self.round.kept.is_none_or(|kept| rank > kept);
        if keep_error {
            self.round.kept = Some(rank);
        }
        let next = match fault.problem {
            Problem::Report => None,
            _ => self.pick(now),
        };
        if let Some(next) = next {
            self.mark(next);
        }
        AfterFailure {
            keep_error,
            next,
            events,
        }
    }

    /// The URL handed out last answered 2xx: it becomes the sticky one.
    pub(crate) fn delivered(&mut self) -> Vec<Event> {
        let url = self.round.pending;
        let several = self.urls.len() > 1;
        let mut events = Vec::new();
        if let Some(state) = self.urls.get_mut(url) {
            if state.failing && several {
                events.push(Event::Recovered { url });
            }
            *state = UrlState::default();
        }
        if url != self.current {
            events.push(match url {
                0 => Event::Returned { from: self.current },
                to => Event::Moved {
                    from: self.current,
                    to,
                },
            });
            self.current = url;
        }
        events
    }

    /// The next URL of the round: the start, then the others in list order, each once; one
    /// under a `Retry-After` only when no other is left.
    fn pick(&self, now: Instant) -> Option<usize> {
        let start = self.round.start;
        let order = std::iter::once(start).chain((0..self.urls.len()).filter(|&i| i != start));
        let untried = order.filter(|&i| self.round.tried & (1 << i) == 0);
        let waiting = |i: usize| {
            self.urls
                .get(i)
                .and_then(|s| s.not_before)
                .is_some_and(|t| now < t)
        };
        untried
            .clone()
            .find(|&i| !waiting(i))
            .or_else(|| untried.clone().next())
    }

    fn mark(&mut self, url: usize) {
        self.round.tried |= 1 << url;
        self.round.pending = url;
    }
}

/// A length drawn uniformly in the jitter range times `max_age`, never above it: instances of
/// a fleet started together do not reconnect (or return) in the same second.
fn jittered(rng: &mut SmallRng, max_age: Duration) -> Duration {
    let factor = rng.random_range(MAX_AGE_JITTER.0..=MAX_AGE_JITTER.1);
    Duration::try_from_secs_f64(max_age.as_secs_f64() * factor).map_or(max_age, |d| d.min(max_age))
}

/// `now + delay`, or never (`None`) past `Instant`'s range.
fn deadline(now: Instant, delay: Duration) -> Option<Instant> {
    now.checked_add(delay)
}

/// One URL's keep-alive connection, as far as the client can tell: when it was opened, how
/// long it may live (a draw in `[0.75, 1]` x the max age), when it was last used. The request
/// that the next periodic report would find past that lifetime asks for the connection to be
/// closed after its answer; a pooled connection met again past the max age itself (after a
/// failover, say) is never ridden: the client is renewed instead.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionAge {
    max_age: Duration,
    /// The longest gap to the next periodic report (1.1 x the interval).
    lookahead: Duration,
    /// How long the pool keeps an idle connection.
    idle: Duration,
    open: Option<Open>,
    rng: SmallRng,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    born: Instant,
    lifetime: Duration,
    last_used: Instant,
}

/// How one request uses its URL's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Use {
    /// It rides a pooled connection (the one resend after a close under it is allowed).
    pub(crate) reused: bool,
    /// The pooled connection is past the max age: renew the client before sending.
    pub(crate) renew: bool,
    /// Ask for the connection to be closed after the answer.
    pub(crate) close: bool,
}

impl ConnectionAge {
    /// A URL's connection with this max age, for reports every `interval` and a pool that
    /// keeps idle connections for `idle`; lifetimes drawn from an operating-system seed.
    pub(crate) fn new(max_age: Duration, interval: Duration, idle: Duration) -> Self {
        let mut seeder: SmallRng = rand::make_rng();
        Self::with_seed(max_age, interval, idle, seeder.random())
    }

    /// A reproducible one, for tests.
    pub(crate) fn with_seed(
        max_age: Duration,
        interval: Duration,
        idle: Duration,
        seed: u64,
    ) -> Self {
        ConnectionAge {
            max_age,
            lookahead: interval.mul_f64(1.1),
            idle,
            open: None,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// A request leaves at `now`.
    pub(crate) fn start(&mut self, now: Instant) -> Use {
        let mut renew = false;
        if let Some(open) = self.open {
            if now.saturating_duration_since(open.last_used) >= self.idle {
                self.open = None; // the pool has dropped it
            } else if now.saturating_duration_since(open.born) >= self.max_age {
                self.open = None;
                renew = true;
            }
        }
        let reused = self.open.is_some();
        let (rng, max_age) = (&mut self.rng, self.max_age);
        let open = self.open.get_or_insert_with(|| Open {
            born: now,
            lifetime: jittered(rng, max_age),
            last_used: now,
        });
        open.last_used = now;
        let ends = open.born.checked_add(open.lifetime);
        let close = now
            .checked_add(self.lookahead)
            .zip(ends)
            .is_some_and(|(next, end)| next >= end);
        Use {
            reused,
            renew,
            close,
        }
    }

    /// The request ended; `kept`: an answer came and nobody asked to close, so the
    /// connection went back to the pool.
    pub(crate) fn finished(&mut self, kept: bool) {
        if !kept {
            self.open = None;
        }
    }
}

/// Which error decides the attempt's backoff: a longer `Retry-After`, then a transient error,
/// then a permanent one.
fn rank(disposition: Disposition) -> (u8, Duration) {
    match disposition {
        Disposition::Throttled(delay) => (2, delay),
        Disposition::Retryable => (1, Duration::ZERO),
        Disposition::Permanent => (0, Duration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_AGE: Duration = DEFAULT_CONNECTION_MAX_AGE;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn status(status: u16, retry_after: Option<u64>) -> Fault {
        Fault::of(&ReporterError::Status {
            status,
            url: String::new(),
            retry_after: retry_after.map(secs),
            body: String::new(),
        })
    }

    fn refused() -> Fault {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        Fault::of(&ReporterError::Connect {
            url: String::new(),
            detail: "refused".into(),
            source: std::sync::Arc::new(io),
        })
    }

    /// Runs one attempt in which the URLs fail with `faults` in turn until one answers (when
    /// `faults` runs out) or the round ends; returns the URLs tried, whether the round went
    /// back to the first URL, the errors kept (as indices into `faults`) and the events.
    fn attempt(
        set: &mut Failover,
        now: Instant,
        faults: &[Fault],
    ) -> (Vec<usize>, bool, Vec<usize>, Vec<Event>) {
        let start = set.begin(now);
        let (mut tried, mut kept, mut logged) = (vec![start.url], Vec::new(), Vec::new());
        let mut faults = faults.iter().enumerate();
        loop {
            let Some((i, fault)) = faults.next() else {
                logged.extend(set.delivered());
                break;
            };
            let after = set.failed(*fault, now);
            logged.extend(after.events);
            if after.keep_error {
                kept.push(i);
            }
            match after.next {
                Some(url) => tried.push(url),
                None => break,
            }
        }
        (tried, start.back_to_first, kept, logged)
    }

    #[test]
    fn faults_are_classified_per_url() {
        for s in [408, 425, 429, 500, 501, 502, 503, 504, 505, 599] {
            assert_eq!(status(s, None).problem, Problem::Unavailable, "{s}");
        }
        for s in [404, 405] {
            assert_eq!(status(s, None).problem, Problem::NoDriftApi, "{s}");
        }
        for s in [401, 403] {
            assert_eq!(status(s, None).problem, Problem::Credentials, "{s}");
        }
        for s in [400, 409, 410, 413, 415, 422, 451] {
            assert_eq!(status(s, None).problem, Problem::Report, "{s}");
        }
        assert_eq!(refused().problem, Problem::Unavailable);
        let timeout = ReporterError::Timeout {
            url: String::new(),
            timeout: secs(5),
            elapsed: secs(5),
        };
        assert_eq!(Fault::of(&timeout).problem, Problem::Unavailable);
        let redirect = ReporterError::Redirect {
            status: 301,
            url: String::new(),
            location: String::new(),
        };
        assert_eq!(Fault::of(&redirect).problem, Problem::Misconfigured);
        let big = ReporterError::ResponseTooLarge {
            url: String::new(),
            limit: 1,
        };
        assert_eq!(Fault::of(&big).problem, Problem::Misconfigured);
        let body = ReporterError::RequestTooLarge {
            size: 2,
            limit: 1,
            detail: String::new(),
        };
        assert_eq!(Fault::of(&body).problem, Problem::Report);
        assert_eq!(
            status(429, Some(7)).disposition,
            Disposition::Throttled(secs(7))
        );
    }

    #[test]
    fn the_sticky_url_gets_every_report_quietly() {
        let mut set = Failover::with_seed(3, MAX_AGE, 1);
        let t0 = Instant::now();
        for n in 0..9 {
            let (tried, fresh, _, logged) = attempt(&mut set, t0 + secs(30 * n), &[]);
            assert_eq!(
                (tried, fresh, logged),
                (vec![0], false, vec![]),
                "report {n}"
            );
        }
        assert_eq!(set.current(), 0);
    }

    #[test]
    fn a_refused_first_url_moves_the_same_report_on() {
        let mut set = Failover::with_seed(2, MAX_AGE, 1);
        let t0 = Instant::now();
        let (tried, fresh, kept, logged) = attempt(&mut set, t0, &[refused()]);
        assert_eq!((tried, fresh, kept), (vec![0, 1], false, vec![0]));
        assert_eq!(
            logged,
            [
                Event::Down {
                    url: 0,
                    problem: Problem::Unavailable
                },
                Event::Moved { from: 0, to: 1 }
            ]
        );
        // Sticky: later reports go straight to the second URL, and nothing more is logged.
        for n in 1..5 {
            let (tried, _, _, logged) = attempt(&mut set, t0 + secs(30 * n), &[]);
            assert_eq!((tried, logged), (vec![1], vec![]));
        }
    }

    #[test]
    fn the_round_starts_at_the_current_url_then_the_list_in_order() {
        let mut set = Failover::with_seed(4, MAX_AGE, 1);
        let t0 = Instant::now();
        let down = [refused(), refused()];
        let (tried, ..) = attempt(&mut set, t0, &down);
        assert_eq!(tried, [0, 1, 2]);
        assert_eq!(set.current(), 2);
        let all = [refused(); 4];
        let (tried, _, kept, logged) = attempt(&mut set, t0 + secs(1), &all);
        assert_eq!(tried, [2, 0, 1, 3], "each URL once, the current one first");
        assert_eq!(kept, [0], "the first transient error decides the backoff");
        assert_eq!(
            logged,
            [
                Event::Down {
                    url: 2,
                    problem: Problem::Unavailable
                },
                Event::Down {
                    url: 3,
                    problem: Problem::Unavailable
                }
            ],
            "URLs 0 and 1 were already down: no second warning"
        );
    }

    #[test]
    fn an_outage_of_every_url_costs_one_request_per_url_per_attempt() {
        let mut set = Failover::with_seed(3, MAX_AGE, 1);
        let t0 = Instant::now();
        let down = [status(503, None); 3];
        let (tried, _, _, logged) = attempt(&mut set, t0, &down);
        assert_eq!((tried, logged.len()), (vec![0, 1, 2], 3));
        for n in 1..=6 {
            // The caller's backoff decides when; each attempt is one round, quietly.
            let (tried, _, _, logged) = attempt(&mut set, t0 + secs(n), &down);
            assert_eq!((tried, logged), (vec![0, 1, 2], vec![]), "attempt {n}");
        }
        let (tried, _, _, logged) = attempt(&mut set, t0 + secs(7), &[]);
        assert_eq!(tried, [0]);
        assert_eq!(logged, [Event::Recovered { url: 0 }]);
    }

    #[test]
    fn the_longest_retry_after_decides_the_attempt() {
        let mut set = Failover::with_seed(4, MAX_AGE, 1);
        let faults = [
            status(503, None),
            status(429, Some(5)),
            status(503, Some(20)),
            status(429, Some(10)),
        ];
        let (_, _, kept, _) = attempt(&mut set, Instant::now(), &faults);
        assert_eq!(kept, [0, 1, 2], "the caller ends with the 20 s one");
        let mut set = Failover::with_seed(3, MAX_AGE, 1);
        let faults = [status(404, None), status(401, None), refused()];
        let (_, _, kept, _) = attempt(&mut set, Instant::now(), &faults);
        assert_eq!(kept, [0, 2], "a transient error outranks a permanent one");
        let mut set = Failover::with_seed(2, MAX_AGE, 1);
        let faults = [status(404, None), status(404, None)];
        let (_, _, kept, _) = attempt(&mut set, Instant::now(), &faults);
        assert_eq!(
            kept,
            [0],
            "all permanent: the first error, and the normal interval"
        );
    }

    #[test]
    fn a_retry_after_holds_off_that_server_only_while_others_remain() {
        let mut set = Failover::with_seed(2, MAX_AGE, 1);
        let t0 = Instant::now();
        let (tried, ..) = attempt(&mut set, t0, &[status(429, Some(400))]);
        assert_eq!((tried, set.current()), (vec![0, 1], 1));
        // The return to the first URL comes, but it asked for (at most) 5 minutes.
        let back = set.epoch_ends().unwrap();
        let (tried, returning, ..) = attempt(&mut set, back, &[]);
        assert!(returning);
        assert!(back < t0 + MAX_RETRY_AFTER, "{:?}", back - t0);
        assert_eq!(
            tried,
            [1],
            "the throttled first URL waits while the second answers"
        );
        // When every other URL fails, the throttled one is still tried: one per URL.
        let (tried, ..) = attempt(&mut set, back + secs(1), &[refused(), refused()]);
        assert_eq!(tried, [1, 0]);
        // Once its Retry-After is over it is first again.
        let later = set.epoch_ends().unwrap().max(t0 + MAX_RETRY_AFTER);
        let (tried, ..) = attempt(&mut set, later, &[]);
        assert_eq!(tried, [0]);
    }

    #[test]
    fn a_body_problem_ends_the_attempt_at_once() {
        for code in [400, 413, 422] {
            let mut set = Failover::with_seed(3, MAX_AGE, 1);
            let (tried, _, kept, logged) = attempt(&mut set, Instant::now(), &[status(code, None)]);
            assert_eq!((tried, kept, logged), (vec![0], vec![0], vec![]), "{code}");
            // Also after a move: the round ends with the body error, the current URL stays.
            let faults = [refused(), status(code, None)];
            let (tried, _, kept, _) = attempt(&mut set, Instant::now(), &faults);
            assert_eq!((tried, kept), (vec![0, 1], vec![0, 1]), "{code}");
            assert_eq!(set.current(), 0);
        }
    }

    #[test]
    fn no_api_and_refused_credentials_move_on_and_are_logged_once_per_url() {
        for (fault, problem) in [
            (status(404, None), Problem::NoDriftApi),
            (status(405, None), Problem::NoDriftApi),
            (status(401, None), Problem::Credentials),
            (status(403, None), Problem::Credentials),
        ] {
            let mut set = Failover::with_seed(2, MAX_AGE, 1);
            let t0 = Instant::now();
            let (tried, _, _, logged) = attempt(&mut set, t0, &[fault]);
            assert_eq!(tried, [0, 1]);
            assert_eq!(logged[0], Event::Down { url: 0, problem });
            for n in 1..10 {
                // Every max age tries the first URL again; it is not logged again.
                let now = set.epoch_ends().unwrap() + secs(n);
                let (tried, returning, _, logged) = attempt(&mut set, now, &[fault]);
                assert_eq!((tried, returning, logged), (vec![0, 1], true, vec![]));
            }
        }
    }

    #[test]
    fn a_warning_once_per_url_per_outage() {
        let mut set = Failover::with_seed(2, MAX_AGE, 1);
        let t0 = Instant::now();
        let down = Event::Down {
            url: 0,
            problem: Problem::Unavailable,
        };
        let (.., logged) = attempt(&mut set, t0, &[refused(), refused()]);
        assert_eq!(logged[0], down);
        let (.., logged) = attempt(&mut set, t0 + secs(1), &[refused(), refused()]);
        assert!(logged.is_empty(), "{logged:?}");
        let (.., logged) = attempt(&mut set, t0 + secs(2), &[]);
        assert_eq!(logged, [Event::Recovered { url: 0 }]);
        let (.., logged) = attempt(&mut set, t0 + secs(3), &[refused()]);
        assert_eq!(logged[0], down, "a new outage warns again");
    }

    #[test]
    fn back_to_the_first_url_within_one_max_age_after_it_recovers() {
        let interval = secs(30);
        for seed in 0..50 {
            let mut set = Failover::with_seed(2, MAX_AGE, seed);
            let t0 = Instant::now();
            let recovers = t0 + secs(600 + seed * 7);
            let mut now = t0;
            let mut returned = None;
            while returned.is_none() && now < t0 + secs(3600) {
                // The first URL refuses until it recovers; the second always answers.
                let start = set.begin(now);
                let mut url = start.url;
                if url == 0 && now < recovers {
                    url = set.failed(refused(), now).next.unwrap();
                }
                let logged = set.delivered();
                if url == 0 && now >= recovers {
                    assert!(start.back_to_first, "seed {seed}");
                    assert_eq!(
                        logged,
                        [Event::Recovered { url: 0 }, Event::Returned { from: 1 }]
                    );
                    returned = Some(now);
                }
                now += interval;
            }
            let returned = returned.unwrap();
            assert!(
                returned <= recovers + MAX_AGE + interval,
                "seed {seed}: {:?} after recovery",
                returned - recovers
            );
        }
    }

    #[test]
    fn the_first_url_is_tried_again_once_per_max_age() {
        let mut set = Failover::with_seed(2, MAX_AGE, 3);
        let t0 = Instant::now();
        let (tried, ..) = attempt(&mut set, t0, &[refused()]);
        assert_eq!(tried, [0, 1]);
        let back = set.epoch_ends().unwrap();
        let (tried, returning, ..) = attempt(&mut set, back - Duration::from_millis(1), &[]);
        assert_eq!((tried, returning), (vec![1], false));
        let (tried, returning, ..) = attempt(&mut set, back, &[refused()]);
        assert_eq!((tried, returning), (vec![0, 1], true), "from the first URL");
        let (tried, returning, ..) = attempt(&mut set, back + secs(1), &[]);
        assert_eq!((tried, returning), (vec![1], false), "once per max age");
        assert!(set.epoch_ends().unwrap() > back);
        // Back on the first URL, the epochs go on and change nothing.
        let back = set.epoch_ends().unwrap();
        let (tried, ..) = attempt(&mut set, back, &[]);
        assert_eq!(tried, [0]);
        let next = set.epoch_ends().unwrap();
        let (tried, returning, ..) = attempt(&mut set, next, &[]);
        assert_eq!((tried, returning), (vec![0], false));
    }

    #[test]
    fn one_url_never_returns_and_logs_nothing() {
        let mut set = Failover::with_seed(1, MAX_AGE, 4);
        let t0 = Instant::now();
        let (tried, returning, _, logged) = attempt(&mut set, t0, &[refused()]);
        assert_eq!((tried, returning, logged), (vec![0], false, vec![]));
        let (tried, returning, _, logged) = attempt(&mut set, t0 + MAX_AGE * 2, &[]);
        assert_eq!((tried, returning, logged), (vec![0], false, vec![]));
    }

    #[test]
    fn returns_are_jittered_within_three_quarters_and_one_max_age() {
        let t0 = Instant::now();
        let mut lengths = Vec::new();
        for seed in 0..200 {
            let mut set = Failover::with_seed(2, MAX_AGE, seed);
            let mut now = t0;
            attempt(&mut set, now, &[refused()]);
            for _ in 0..5 {
                let back = set.epoch_ends().unwrap();
                let length = back - now;
                assert!(
                    length >= MAX_AGE.mul_f64(0.75) && length <= MAX_AGE,
                    "{length:?}"
                );
                lengths.push(length);
                attempt(&mut set, back, &[refused()]);
                now = back;
            }
        }
        let spread = lengths
            .iter()
            .max()
            .unwrap()
            .saturating_sub(*lengths.iter().min().unwrap());
        assert!(spread > secs(60), "a fleet spreads its returns: {spread:?}");
        let draw = |seed| {
            let mut set = Failover::with_seed(2, MAX_AGE, seed);
            attempt(&mut set, t0, &[refused()]);
            set.epoch_ends()
        };
        assert_eq!(draw(9), draw(9), "a seed reproduces its returns");
        let mut os_seeded = Failover::new(2, MAX_AGE);
        assert_eq!(os_seeded.begin(t0).url, 0);
    }

    #[test]
    fn extreme_max_ages_do_not_overflow() {
        let t0 = Instant::now();
        let mut never = Failover::with_seed(2, Duration::MAX, 5);
        attempt(&mut never, t0, &[refused()]);
        for n in 0..3 {
            assert!(!never.begin(t0 + secs(n)).back_to_first);
        }
        let mut always = Failover::with_seed(2, Duration::ZERO, 5);
        attempt(&mut always, t0, &[refused()]);
        let (tried, returning, ..) = attempt(&mut always, t0, &[refused()]);
        assert_eq!((tried, returning), (vec![0, 1], true));
        let mut throttled = Failover::with_seed(2, MAX_AGE, 5);
        throttled.begin(t0);
        let forever = Fault {
            problem: Problem::Unavailable,
            disposition: Disposition::Throttled(Duration::MAX),
        };
        assert_eq!(throttled.failed(forever, t0).next, Some(1));
    }

    const INTERVAL: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(90);

    /// The requests of a steady report every `INTERVAL` on one connection, with `max_age`:
    /// each one's use, finished as kept unless it asked to close.
    fn steady(max_age: Duration, seed: u64, reports: u64) -> Vec<Use> {
        let mut age = ConnectionAge::with_seed(max_age, INTERVAL, IDLE, seed);
        let t0 = Instant::now();
        (0..reports)
            .map(|n| {
                let using = age.start(t0 + INTERVAL * n as u32);
                age.finished(!using.close);
                using
            })
            .collect()
    }

    #[test]
    fn a_connection_is_closed_by_the_last_report_within_its_lifetime() {
        for seed in 0..50 {
            let uses = steady(MAX_AGE, seed, 40);
            let closes: Vec<usize> = (0..uses.len()).filter(|&i| uses[i].close).collect();
            // A lifetime of 225 s to 300 s at 30 s reports: the close comes on the 7th to 10th.
            assert!(closes.len() >= 4, "seed {seed}: {closes:?}");
            let mut opened = 0;
            for &closed in &closes {
                let carried = INTERVAL * (closed - opened) as u32;
                assert!(carried < MAX_AGE, "seed {seed}: {carried:?}");
                assert!(
                    carried >= MAX_AGE.mul_f64(0.75) - INTERVAL * 2,
                    "seed {seed}"
                );
                assert!(!uses[opened].reused && uses[opened + 1].reused);
                opened = closed + 1;
            }
            assert!(
                uses.iter().all(|u| !u.renew),
                "the steady path never renews"
            );
        }
    }

    #[test]
    fn a_max_age_under_the_interval_closes_every_connection() {
        let uses = steady(Duration::from_secs(1), 7, 5);
        assert!(
            uses.iter().all(|u| u.close && !u.reused && !u.renew),
            "{uses:?}"
        );
    }

    #[test]
    fn a_pooled_connection_past_the_max_age_is_renewed_not_ridden() {
        let mut age = ConnectionAge::with_seed(MAX_AGE, INTERVAL, Duration::MAX, 1);
        let t0 = Instant::now();
        age.start(t0);
        age.finished(true); // a 503 that kept the connection, and reports went elsewhere
        let later = age.start(t0 + MAX_AGE);
        assert_eq!((later.reused, later.renew), (false, true));
        // The new connection is young: ridden again, not renewed.
        age.finished(true);
        let next = age.start(t0 + MAX_AGE + INTERVAL);
        assert_eq!((next.reused, next.renew), (true, false));
    }

    #[test]
    fn an_idle_or_closed_connection_is_not_taken_as_reused() {
        let mut age = ConnectionAge::with_seed(MAX_AGE, INTERVAL, IDLE, 1);
        let t0 = Instant::now();
        age.start(t0);
        age.finished(true);
        assert!(!age.start(t0 + IDLE).reused, "the pool dropped it");
        age.finished(false); // a transport error, or a close
        assert!(!age.start(t0 + IDLE + INTERVAL).reused);
    }
}
