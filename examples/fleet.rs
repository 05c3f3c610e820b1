//! Fleet simulation of the heartbeat schedule: thousands of instances in virtual time, no sockets.
//!
//! It drives the SDK's pure schedule (`the SDK's schedule (`src/schedule.rs`)`) exactly as the
//! background worker does, for every instance of a fleet, and counts the reports that reach the
//! server in each second. The ratios it prints are the peak second over the mean, where the **mean is the
//! fleet's steady rate, N / interval** (N instances each reporting once per 30 s interval).
//!
//! Scenarios (the DESIGN notes' list of what synchronises a fleet):
//!
//! - **(a) start together**: all N instances start within the same second (a cluster-wide
//!   restart). Each reports at once, then after `first_delay()`, then every `after_success()`.
//!   Measured: the peak second from the second interval on (t >= 30 s). Goal: at most 1.5.
//! - **(b) cold start against a down server**: the same N start within one second while the
//!   server is down; every attempt fails (`after_failure(n)`) until it comes back 5 minutes
//!   later. Measured: the peak second in the minute after recovery. Goal: at most 2.
//! - **(c) fleet-wide config push**: a fleet in steady state (phases spread) calls
//!   `set_config_version` within the same second. The on-demand report goes out at once through
//!   the `RateLimiter`; the worker then restarts its countdown with a fresh phase
//!   (`first_delay()`), compared with a plain interval (`after_success()`). Measured: the push
//!   second, and the peak second afterwards (is the fleet left in lockstep?).
//! - **(d) throttled**: N start together against a server that answers `429` with
//!   `Retry-After: 60` for 5 minutes, then recovers. Measured: the peak second while throttled
//!   (after the first minute) and in the minute after recovery.
//! - **(e) two servers, the first dies and returns**: a fleet in steady state with
//!   `server_urls([first, second])` and the default 5-minute connection max age; the first
//!   server dies (connections refused) for 10 minutes, then returns. It models the failover
//!   rules of `docs/resilience.md` ("Several servers"): a report refused by the first goes at
//!   once to the second, reports stay there, and each instance starts again from the first at
//!   the end of its connection epoch (drawn in `[0.75, 1] x max age`). Measured: the busiest
//!   second at the second server while the first is down (goal: at most 2, as N / interval),
//!   and how the fleet moves back: every instance within one max age plus one interval, the
//!   busiest 10 seconds of returns at most twice their even share (N x 10 s / max age).
//!
//! ```text
//! cargo run --release --example fleet                  # 10,000 and 100,000 instances
//! cargo run --example fleet -- --quick --check         # small N, exits 1 if a goal is missed
//! cargo run --release --example fleet -- --csv target/fleet   # also write arrivals per second
//! cargo run --release --example fleet -- --sweep       # the measurements behind Jitter::DEFAULT
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant as StdInstant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

/// The client's own schedule, compiled from its source: the simulation runs the very code the
/// worker runs.
#[allow(dead_code)]
#[path = "../src/schedule.rs"]
mod schedule;
use schedule::{nominal_retry_delay, Jitter, RateLimiter, Schedule};

/// The SDK's defaults.
const INTERVAL: Duration = Duration::from_secs(30);
const INITIAL_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);
const REPORT_BURST: u32 = 3;
const MIN_REPORT_GAP: Duration = Duration::from_secs(1);

/// Scenario timings, in seconds.
const HORIZON_A: f64 = 20.0 * 30.0;
const OUTAGE: f64 = 300.0;
const AFTER_OUTAGE: f64 = 600.0;
const PUSH_AT: f64 = 300.0;
const AFTER_PUSH: f64 = 900.0;
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Scenario (e): the default connection max age, when the first server dies and returns.
const MAX_AGE: f64 = 300.0;
const DIES_AT: f64 = 300.0;
const RETURNS_AT: f64 = 900.0;
/// The epoch's jitter, as `failover.rs` draws it.
const EPOCH_JITTER: (f64, f64) = (0.75, 1.0);

/// How the simulated instances choose their delays.
#[derive(Debug, Clone, Copy)]
enum Policy {
    /// The SDK's schedule with this jitter.
    Sdk(Jitter),
    /// The seed draft's style: no interval jitter, retries `nominal x [1.0, 1.1)` added after
    /// the cap (so up to 66 s), `Retry-After` ignored.
    SeedStyle,
}

/// What the worker does after a successful on-demand report (scenario c).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Restart {
    /// Restart the countdown with a normal interval, `after_success()`.
    Interval,
    /// Restart the countdown with a fresh phase, `first_delay()`.
    Phase,
}

/// One simulated instance: the schedule plus, for the seed style, its own draws.
struct Instance {
    schedule: Schedule,
    policy: Policy,
    rng: SmallRng,
}

impl Instance {
    fn new(policy: Policy, seed: u64) -> Self {
        let jitter = match policy {
            Policy::Sdk(j) => j,
            Policy::SeedStyle => Jitter::NONE,
        };
        Instance {
            schedule: Schedule::with_seed(INTERVAL, INITIAL_RETRY, MAX_RETRY, seed).jitter(jitter),
            policy,
            rng: SmallRng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15),
        }
    }

    /// Offset within the start second.
    fn start_offset(&mut self) -> f64 {
        self.rng.random_range(0.0..1.0)
    }

    fn first_delay(&mut self) -> f64 {
        self.schedule.first_delay().as_secs_f64()
    }

    fn after_success(&mut self) -> f64 {
        self.schedule.after_success().as_secs_f64()
    }

    fn after_failure(&mut self, failures: u32) -> f64 {
        match self.policy {
            Policy::Sdk(_) => self.schedule.after_failure(failures).as_secs_f64(),
            Policy::SeedStyle => {
                let nominal = nominal_retry_delay(failures, INITIAL_RETRY, MAX_RETRY);
                nominal.as_secs_f64() * self.rng.random_range(1.0..1.1)
            }
        }
    }

    fn after_throttle(&mut self, failures: u32, retry_after: Duration) -> f64 {
        match self.policy {
            Policy::Sdk(_) => self
                .schedule
                .after_throttle(failures, retry_after)
                .as_secs_f64(),
            Policy::SeedStyle => self.after_failure(failures),
        }
    }
}

/// Reports reaching the server, per second of virtual time.
struct Arrivals(Vec<u32>);

impl Arrivals {
    fn new(horizon: f64) -> Self {
        Arrivals(vec![0; horizon.ceil() as usize])
    }

    fn horizon(&self) -> f64 {
        self.0.len() as f64
    }

    fn add(&mut self, t: f64) {
        if let Some(bin) = self.0.get_mut(t as usize) {
            *bin += 1;
        }
    }

    /// The busiest second in `[from, to)`.
    fn peak(&self, from: f64, to: f64) -> u32 {
        let to = (to as usize).min(self.0.len());
        self.0
            .get(from as usize..to)
            .and_then(|w| w.iter().copied().max())
            .unwrap_or(0)
    }
}

fn instance_seed(base: u64, i: usize) -> u64 {
    base.wrapping_add((i as u64).wrapping_mul(0xA076_1D64_78BD_642F))
}

/// (a) All instances start within the same second against a healthy server.
fn start_together(policy: Policy, n: usize, seed: u64) -> Arrivals {
    let mut arrivals = Arrivals::new(HORIZON_A);
    for i in 0..n {
        let mut inst = Instance::new(policy, instance_seed(seed, i));
        let mut t = inst.start_offset();
        arrivals.add(t);
        t += match policy {
            // The seed's loop is a plain tokio interval: the next tick is one interval later.
            Policy::SeedStyle => INTERVAL.as_secs_f64(),
            Policy::Sdk(_) => inst.first_delay(),
        };
        while t < HORIZON_A {
            arrivals.add(t);
            t += inst.after_success();
        }
    }
    arrivals
}

/// (b) and (d): all instances start within the same second while the server fails every
/// attempt (refused, or throttled with `Retry-After`), until it recovers at `OUTAGE`.
fn outage(policy: Policy, n: usize, seed: u64, throttle: Option<Duration>) -> Arrivals {
    let horizon = OUTAGE + AFTER_OUTAGE;
    let mut arrivals = Arrivals::new(horizon);
    for i in 0..n {
        let mut inst = Instance::new(policy, instance_seed(seed, i));
        let mut t = inst.start_offset();
        let mut failures = 0;
        while t < horizon {
            arrivals.add(t);
            t += if t < OUTAGE {
                failures += 1;
                match throttle {
                    Some(retry_after) => inst.after_throttle(failures, retry_after),
                    None => inst.after_failure(failures),
                }
            } else if failures == 0 {
                inst.first_delay()
            } else {
                // The worker's first report went out (and failed) at start, so a success after
                // an outage is followed by a normal interval.
                inst.after_success()
            };
        }
    }
    arrivals
}

/// (c) A fleet in steady state gets a config push: every instance calls `set_config_version`
/// within the same second.
fn config_push(policy: Policy, restart: Restart, n: usize, seed: u64) -> Arrivals {
    let horizon = PUSH_AT + AFTER_PUSH;
    let mut arrivals = Arrivals::new(horizon);
    let base = Instant::now();
    for i in 0..n {
        let mut inst = Instance::new(policy, instance_seed(seed, i));
        let mut limiter = RateLimiter::new(REPORT_BURST, MIN_REPORT_GAP);
        // Steady state: a phase anywhere in the interval (the fleet has been running a while).
        let mut t = inst.start_offset() * INTERVAL.as_secs_f64();
        let push = PUSH_AT + inst.start_offset();
        while t < push {
            arrivals.add(t);
            t += inst.after_success();
        }
        // The change wakes the worker; an isolated change passes the limiter at once.
        let at = push
            + limiter
                .reserve(base + Duration::from_secs_f64(push))
                .as_secs_f64();
        arrivals.add(at);
        t = at
            + match restart {
                Restart::Interval => inst.after_success(),
                Restart::Phase => inst.first_delay(),
            };
        while t < horizon {
            arrivals.add(t);
            t += inst.after_success();
        }
    }
    arrivals
}

/// (e) What the two servers receive, and when each instance came back to the first.
struct TwoServers {
    first: Arrivals,
    second: Arrivals,
    /// Per second: instances whose first report after the return reached the first server.
    returns: Arrivals,
    /// The last instance's return, in seconds after the first server came back.
    last_return: f64,
}

/// (e) A steady fleet with two server URLs; the first dies at `DIES_AT` and returns at
/// `RETURNS_AT`.
fn two_servers(n: usize, seed: u64) -> TwoServers {
    let horizon = RETURNS_AT + MAX_AGE + 3.0 * INTERVAL.as_secs_f64();
    let mut out = TwoServers {
        first: Arrivals::new(horizon),
        second: Arrivals::new(horizon),
        returns: Arrivals::new(horizon),
        last_return: 0.0,
    };
    let up = |server: usize, t: f64| server == 1 || !(DIES_AT..RETURNS_AT).contains(&t);
    for i in 0..n {
        let mut inst = Instance::new(Policy::Sdk(Jitter::DEFAULT), instance_seed(seed, i));
        let draw =
            |inst: &mut Instance| MAX_AGE * inst.rng.random_range(EPOCH_JITTER.0..=EPOCH_JITTER.1);
        // Running for a while: a phase anywhere in the interval, and in the epoch.
        let mut t = inst.start_offset() * INTERVAL.as_secs_f64();
        let mut epoch_ends = inst.start_offset() * draw(&mut inst);
        let (mut current, mut returned) = (0, false);
        while t < horizon {
            let start = if t >= epoch_ends {
                epoch_ends = t + draw(&mut inst);
                0
            } else {
                current
            };
            // A refused connection costs the first server nothing: the same report goes to
            // the other at once.
            current = if up(start, t) { start } else { 1 - start };
            if current == 0 {
                out.first.add(t);
                if t >= RETURNS_AT && !returned {
                    returned = true;
                    out.returns.add(t);
                    out.last_return = out.last_return.max(t - RETURNS_AT);
                }
            } else {
                out.second.add(t);
            }
            t += inst.after_success();
        }
    }
    out
}

impl Arrivals {
    /// The busiest `width` seconds in `[from, to)`, in windows starting at `from`.
    fn peak_window(&self, from: f64, to: f64, width: usize) -> u32 {
        let to = (to as usize).min(self.0.len());
        self.0
            .get(from as usize..to)
            .map(|w| w.chunks(width).map(|c| c.iter().sum()).max().unwrap_or(0))
            .unwrap_or(0)
    }
}

const GOAL_E: f64 = 2.0;

/// Prints scenario (e) for `n` instances; returns the goals missed.
fn report_two_servers(n: usize, seed: u64) -> Vec<String> {
    let e = two_servers(n, seed);
    let during = ratio(e.second.peak(DIES_AT, RETURNS_AT), n);
    let before = ratio(e.first.peak(INTERVAL.as_secs_f64(), DIES_AT), n);
    let fair_window = n as f64 * 10.0 / MAX_AGE;
    let window =
        f64::from(e.returns.peak_window(RETURNS_AT, e.returns.horizon(), 10)) / fair_window;
    let returned: u32 = e.returns.0.iter().sum();
    let bound = MAX_AGE + INTERVAL.as_secs_f64() * 1.1;
    println!("| (e) two servers, max age {MAX_AGE:.0} s | first server before, peak | second server while the first is down, peak | busiest 10 s of returns / even share | instances back | last back after |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| default | {before:.2} | {during:.2} | {window:.2} | {returned} of {n} | {:.0} s |",
        e.last_return
    );
    println!();
    let mut missed = Vec::new();
    if during > GOAL_E {
        missed.push(format!("N={n}: (e) second server {during:.2} > {GOAL_E}"));
    }
    if window > GOAL_E {
        missed.push(format!("N={n}: (e) returns bunched {window:.2} > {GOAL_E}"));
    }
    if returned as usize != n || e.last_return > bound {
        missed.push(format!(
            "N={n}: (e) {returned} of {n} back, the last after {:.0} s (bound {bound:.0} s)",
            e.last_return
        ));
    }
    missed
}

struct Args {
    sizes: Vec<usize>,
    csv: Option<PathBuf>,
    check: bool,
    sweep: bool,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sizes: vec![10_000, 100_000],
        csv: None,
        check: false,
        sweep: false,
        seed: 2024,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.sizes = vec![2_000],
            "--check" => args.check = true,
            "--sweep" => args.sweep = true,
            "--csv" => args.csv = Some(it.next().ok_or("--csv needs a directory")?.into()),
            "--seed" => {
                args.seed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seed needs a number")?;
            }
            "--n" => {
                let n = it
                    .next()
                    .and_then(|s| s.replace('_', "").parse().ok())
                    .ok_or("--n needs a number")?;
                args.sizes = vec![n];
            }
            "-h" | "--help" => {
                return Err(
                    "usage: fleet [--quick] [--n N] [--check] [--sweep] [--csv DIR] [--seed S]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

const GOAL_A: f64 = 1.5;
const GOAL_B: f64 = 2.0;

fn policies() -> [(&'static str, Policy); 3] {
    [
        ("default (`Jitter::DEFAULT`)", Policy::Sdk(Jitter::DEFAULT)),
        ("no jitter (`Jitter::NONE`)", Policy::Sdk(Jitter::NONE)),
        ("seed style: retries +0..10 %", Policy::SeedStyle),
    ]
}

fn ratio(peak: u32, n: usize) -> f64 {
    f64::from(peak) / (n as f64 / INTERVAL.as_secs_f64())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let started = StdInstant::now();
    if args.sweep {
        for &n in &args.sizes {
            sweep(n, args.seed);
        }
        eprintln!("done in {:.1?}", started.elapsed());
        return;
    }
    let j = Jitter::DEFAULT;
    println!(
        "Jitter::DEFAULT: first {:?}, interval {:?}, retry {:?}, retry_after {:?} (fractions of nominal)",
        j.first, j.interval, j.retry, j.retry_after
    );
    println!(
        "interval {}s, retries {}s doubling to {}s; ratio = peak 1-second arrivals / (N / interval)\n",
        INTERVAL.as_secs(),
        INITIAL_RETRY.as_secs(),
        MAX_RETRY.as_secs()
    );
    let mut missed = Vec::new();
    for &n in &args.sizes {
        let mean = n as f64 / INTERVAL.as_secs_f64();
        println!("## N = {n} (mean {mean:.0} reports/s)\n");
        println!("| policy | (a) start together, t >= 30 s | (b) minute after a 5-min outage | (b) rest of the 10 min after | (d) throttled, minutes 2-5 | (d) minute after |");
        println!("|---|---|---|---|---|---|");
        let mut csv_a = Vec::new();
        let mut csv_b = Vec::new();
        let mut csv_d = Vec::new();
        for (name, policy) in policies() {
            let a = start_together(policy, n, args.seed);
            let b = outage(policy, n, args.seed, None);
            let d = outage(policy, n, args.seed, Some(RETRY_AFTER));
            let ra = ratio(a.peak(INTERVAL.as_secs_f64(), a.horizon()), n);
            let rb = ratio(b.peak(OUTAGE, OUTAGE + 60.0), n);
            let rb_rest = ratio(b.peak(OUTAGE + 60.0, b.horizon()), n);
            let rd_during = ratio(d.peak(60.0, OUTAGE), n);
            let rd = ratio(d.peak(OUTAGE, OUTAGE + 60.0), n);
            println!("| {name} | {ra:.2} | {rb:.2} | {rb_rest:.2} | {rd_during:.2} | {rd:.2} |");
            if matches!(policy, Policy::Sdk(j) if j == Jitter::DEFAULT) {
                if ra > GOAL_A {
                    missed.push(format!("N={n}: (a) {ra:.2} > {GOAL_A}"));
                }
                if rb > GOAL_B {
                    missed.push(format!("N={n}: (b) {rb:.2} > {GOAL_B}"));
                }
            }
            csv_a.push((name, a));
            csv_b.push((name, b));
            csv_d.push((name, d));
        }
        println!();
        println!("| (c) config push, everyone within 1 s | push second | peak later, first 5 intervals | peak later, intervals 6-30 |");
        println!("|---|---|---|---|");
        let mut csv_c = Vec::new();
        for (name, policy, restart) in [
            (
                "SDK: countdown restarts with `first_delay()`",
                Policy::Sdk(Jitter::DEFAULT),
                Restart::Phase,
            ),
            (
                "before: countdown restarts with `after_success()`",
                Policy::Sdk(Jitter::DEFAULT),
                Restart::Interval,
            ),
            ("no jitter", Policy::Sdk(Jitter::NONE), Restart::Interval),
        ] {
            let c = config_push(policy, restart, n, args.seed);
            let at = ratio(c.peak(PUSH_AT, PUSH_AT + 2.0), n);
            let soon_end = PUSH_AT + 2.0 + 5.0 * INTERVAL.as_secs_f64();
            let soon = ratio(c.peak(PUSH_AT + 2.0, soon_end), n);
            let later = ratio(c.peak(soon_end, c.horizon()), n);
            println!("| {name} | {at:.2} | {soon:.2} | {later:.2} |");
            csv_c.push((name, c));
        }
        println!();
        missed.extend(report_two_servers(n, args.seed));
        if let Some(dir) = &args.csv {
            for (scenario, runs) in [
                ("a-start-together", &csv_a),
                ("b-outage", &csv_b),
                ("c-config-push", &csv_c),
                ("d-throttled", &csv_d),
            ] {
                let path = dir.join(format!("fleet-{scenario}-{n}.csv"));
                if let Err(e) = write_csv(&path, runs) {
                    eprintln!("cannot write {}: {e}", path.display());
                    std::process::exit(2);
                }
            }
        }
    }
    if let Some(dir) = &args.csv {
        println!(
            "CSV (second, arrivals per policy) written to {}",
            dir.display()
        );
    }
    eprintln!("done in {:.1?}", started.elapsed());
    if args.check {
        if missed.is_empty() {
            println!(
                "check: the default policy meets every goal ((a) <= {GOAL_A}, (b) <= {GOAL_B}, (e) <= {GOAL_E} and back within one max age)"
            );
        } else {
            eprintln!("check failed: {}", missed.join("; "));
            std::process::exit(1);
        }
    }
}

fn write_csv(path: &std::path::Path, runs: &[(&str, Arrivals)]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = String::from("second");
    for (name, _) in runs {
        let label: String = name
            .chars()
            .filter(|c| !matches!(c, '`' | ',' | '"'))
            .collect();
        let _ = write!(out, ",{label}");
    }
    out.push('\n');
    let len = runs.iter().map(|(_, a)| a.0.len()).max().unwrap_or(0);
    for s in 0..len {
        let _ = write!(out, "{s}");
        for (_, a) in runs {
            let _ = write!(out, ",{}", a.0.get(s).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    std::fs::write(path, out)
}

/// Varies one jitter range at a time around `Jitter::DEFAULT` and prints the ratios each
/// scenario gets: the measurements the defaults were chosen by.
fn sweep(n: usize, seed: u64) {
    let d = Jitter::DEFAULT;
    let mut candidates: Vec<(String, Jitter)> = vec![("DEFAULT".into(), d)];
    for first in [
        (0.0, 1.0),
        (0.05, 1.0),
        (0.1, 1.0),
        (0.2, 1.0),
        (0.5, 1.5),
        (0.1, 0.5),
    ] {
        candidates.push((format!("first {first:?}"), Jitter { first, ..d }));
    }
    for interval in [(1.0, 1.0), (0.95, 1.05), (0.9, 1.1), (0.8, 1.2)] {
        candidates.push((format!("interval {interval:?}"), Jitter { interval, ..d }));
    }
    for retry in [
        (1.0, 1.0),
        (1.0, 1.1),
        (0.5, 1.0),
        (0.75, 1.25),
        (0.5, 1.5),
        (1.0, 1.5),
    ] {
        candidates.push((format!("retry {retry:?}"), Jitter { retry, ..d }));
    }
    for retry_after in [
        (1.0, 1.0),
        (1.0, 1.1),
        (1.0, 1.2),
        (1.0, 1.3),
        (1.0, 1.4),
        (1.0, 1.5),
    ] {
        candidates.push((
            format!("retry_after {retry_after:?}"),
            Jitter { retry_after, ..d },
        ));
    }
    candidates.push((
        "first (0.05, 1.0) + interval (0.95, 1.05)".into(),
        Jitter {
            first: (0.05, 1.0),
            interval: (0.95, 1.05),
            ..d
        },
    ));
    println!("## sweep, N = {n}: one range varied at a time around Jitter::DEFAULT\n");
    println!("| candidate | (a) t >= 30 s | (a) t >= 1 s | (b) minute after | (b) later | (d) throttled | (d) minute after | (c) after push |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, jitter) in candidates {
        let policy = Policy::Sdk(jitter);
        let a = start_together(policy, n, seed);
        let b = outage(policy, n, seed, None);
        let dd = outage(policy, n, seed, Some(RETRY_AFTER));
        let c = config_push(policy, Restart::Phase, n, seed);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ratio(a.peak(INTERVAL.as_secs_f64(), a.horizon()), n),
            ratio(a.peak(1.0, a.horizon()), n),
            ratio(b.peak(OUTAGE, OUTAGE + 60.0), n),
            ratio(b.peak(OUTAGE + 60.0, b.horizon()), n),
            ratio(dd.peak(60.0, OUTAGE), n),
            ratio(dd.peak(OUTAGE, OUTAGE + 60.0), n),
            ratio(c.peak(PUSH_AT + 2.0, c.horizon()), n),
        );
    }
    println!();
}
