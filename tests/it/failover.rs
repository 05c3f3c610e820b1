//! Several server URLs over loopback: a report moves on to the next URL in the same attempt,
//! the backoff starts only when every URL failed, reports return to the first URL within one
//! connection max age, and the one-sender order holds across servers. Schedules run on tokio's
//! paused clock (see `faults.rs`); ordering under both runtime flavours.

use std::sync::Arc;
use std::time::Duration;

use crate::support::keep_alive::KeepAliveServer;
use crate::support::replies::answering;
use crate::support::schedule::nominal_retry_delay;
use crate::support::{self, capture_logs, dead_port};
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply, Report};
use vortex_client::{ConfigError, Environment, HeartbeatBuilder, HeartbeatClient, HeartbeatConfig};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;
/// Virtual time: generous, costs nothing.
const WAIT: Duration = Duration::from_secs(900);

/// A client of these servers, on the schedule the timings below are computed from: a 30 s
/// interval, backoff from 1 s up to 60 s.
fn client(urls: &[String]) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(&urls[0])
        .server_urls(urls)
        .interval(S(30))
        .initial_retry_delay(S(1))
        .max_retry_delay(S(60))
}

fn times(reports: &[Report]) -> Vec<Instant> {
    reports.iter().map(|r| r.received_at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_refused_first_url_sends_the_first_report_to_the_second_at_once() {
    let second = MockServer::start().await.unwrap();
    let refused = format!("http://{}", dead_port().await);
    let c = client(&[refused, second.url()]).build().unwrap();
    let t0 = Instant::now();
    c.start().await;
    let mut status = c.subscribe();
    let report = second.next_report(WAIT).await.unwrap();
    status.wait_for(|s| s.reports_accepted == 1).await.unwrap();
    assert!(
        report.received_at - t0 < MS(100),
        "the first report reached the second URL after {:?}",
        report.received_at - t0
    );
    let status = c.status();
    assert_eq!(status.server_url.as_deref(), Some(second.url().as_str()));
    assert_eq!((status.reports_accepted, status.reports_failed), (1, 0));
    assert_eq!(status.consecutive_failures, 0);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_503_moves_the_same_report_on_and_reports_return_within_one_max_age() {
    let (first, second) = (
        MockServer::start().await.unwrap(),
        MockServer::start().await.unwrap(),
    );
    first.script([Reply::Status(503)]); // then it has recovered
    let max_age = S(120);
    let interval = S(30);
    let c = client(&[first.url(), second.url()])
        .connection_max_age(max_age)
        .build()
        .unwrap();
    let t0 = Instant::now();
    c.report_now().await.unwrap();
    // One attempt: the 503, then the same report accepted by the second URL.
    assert_eq!((first.report_count(), second.report_count()), (1, 1));
    assert_eq!(c.status().reports_failed, 0);
    assert_eq!(
        c.status().server_url.as_deref(),
        Some(second.url().as_str())
    );
    c.start().await;
    // Sticky on the second until the connection's max age, then back on the first.
    let back = first.wait_for_reports(2, WAIT).await.unwrap()[1].received_at;
    assert!(
        back - t0 <= max_age + interval.mul_f64(1.1) + MS(50),
        "back on the first URL after {:?}",
        back - t0
    );
    assert!(second.report_count() >= 2, "the second URL was sticky");
    let on_second = second.report_count();
    first.wait_for_reports(4, WAIT).await.unwrap();
    assert_eq!(
        second.report_count(),
        on_second,
        "the first URL is sticky again"
    );
    assert_eq!(c.status().server_url.as_deref(), Some(first.url().as_str()));
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_outage_of_every_url_costs_one_request_per_url_per_backoff_step() {
    let (first, second) = (answering(503).await, answering(502).await);
    let c = client(&[first.url(), second.url()]).build().unwrap();
    c.start().await;
    let rounds = 7;
    let on_first = times(&first.wait_for_reports(rounds, WAIT).await.unwrap());
    let on_second = times(&second.wait_for_reports(rounds, WAIT).await.unwrap());
    for (i, (a, b)) in on_first.iter().zip(&on_second).enumerate() {
        // The same attempt: the second URL at once after the first.
        assert!(*b >= *a && *b - *a < MS(50), "round {i}: {a:?} then {b:?}");
    }
    for (i, pair) in on_first.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let nominal = nominal_retry_delay(i as u32 + 1, S(1), S(60));
        assert!(
            gap + MS(50) >= nominal / 2 && gap <= nominal.mul_f64(1.5) + MS(50),
            "gap {i} = {gap:?}, nominal {nominal:?}"
        );
    }
    // An attempt is a round: the failure count is the rounds', not the requests'.
    let status = c.status();
    assert!(status.consecutive_failures as usize >= rounds - 1);
    assert!((status.consecutive_failures as usize) <= first.report_count());
    assert_eq!(first.report_count(), second.report_count());
    assert_eq!(status.server_url, None);
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_rejected_report_is_not_sent_elsewhere() {
    let (first, second) = (answering(400).await, MockServer::start().await.unwrap());
    let c = client(&[first.url(), second.url()])
        .max_retries(1)
        .build()
        .unwrap();
    let err = c.report_now().await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!((first.report_count(), second.report_count()), (1, 0));
}

/// The last report a connection's lifetime allows (drawn in [0.75, 1] x the max age, the next
/// report taken one interval and a tenth away) asks for it to be closed, so the next one opens
/// a new connection (the name resolved again): with the application's client, whose pool the
/// SDK does not own, and with the SDK's own.
async fn the_connection_is_asked_to_close_within_the_max_age(own_client: bool) {
    let rx = MockServer::start().await.unwrap();
    let mut builder = client(&[rx.url()]).connection_max_age(S(60)); // interval 30 s
    if !own_client {
        builder = builder.http_client(reqwest::Client::builder().no_proxy().build().unwrap());
    }
    let c = builder.build().unwrap();
    let t0 = Instant::now();
    for at in [S(0), MS(59_900), S(61)] {
        tokio::time::sleep_until(t0 + at).await;
        c.report_now().await.unwrap();
    }
    let connection: Vec<_> = rx
        .reports()
        .iter()
        .map(|r| r.header("connection").map(str::to_owned))
        .collect();
    assert_eq!(
        connection,
        [None, Some("close".to_owned()), None],
        "young, the last before the max age, a new connection"
    );
}

#[tokio::test(start_paused = true)]
async fn the_applications_client_is_asked_to_close_within_the_max_age() {
    the_connection_is_asked_to_close_within_the_max_age(false).await;
}

#[tokio::test(start_paused = true)]
async fn the_sdks_client_is_asked_to_close_within_the_max_age() {
    the_connection_is_asked_to_close_within_the_max_age(true).await;
}

#[test]
fn vortex_url_takes_a_list() {
    let env = Environment::from_vars([
        ("VORTEX_URL", "http://a:1, http://u:pw@b:2/gw"),
        ("VORTEX_APP", "app"),
        ("VORTEX_PROFILE", "prod"),
    ]);
    let config = HeartbeatConfig::builder().environment(env).build().unwrap();
    assert_eq!(config.server_url, "http://a:1");
    assert_eq!(config.fallback_urls, ["http://u:pw@b:2/gw"]);
    // An explicit URL wins over the whole list.
    let env = Environment::from_vars([("VORTEX_URL", "http://a:1,http://b:2")]);
    let config = HeartbeatConfig::builder()
        .environment(env)
        .server_url("http://c:3")
        .app("app")
        .profile("prod")
        .build()
        .unwrap();
    assert_eq!(
        (config.server_url.as_str(), config.fallback_urls.len()),
        ("http://c:3", 0)
    );
}

#[test]
fn bad_lists_are_config_errors_naming_the_url_by_position() {
    let from_env = |value: &str| {
        let env = Environment::from_vars([
            ("VORTEX_URL", value),
            ("VORTEX_APP", "app"),
            ("VORTEX_PROFILE", "prod"),
        ]);
        HeartbeatConfig::builder()
            .environment(env)
            .build()
            .unwrap_err()
    };
    for (list, says) in [
        ("http://a:1,,http://b:2", "#2 is empty"),
        ("http://a:1,", "#2 is empty"),
        ("http://a:1,ftp://b:2", "#2"),
        ("http://a:1,http://u:secret@a:1/", "same server as #1"),
    ] {
        match from_env(list) {
            ConfigError::InvalidEnv { var, value, reason } => {
                assert_eq!(var, "VORTEX_URL");
                assert!(reason.contains(says), "{list}: {reason}");
                assert!(!value.contains("secret"), "{value}");
            }
            other => panic!("{list}: {other:?}"),
        }
    }
    // At most 8 server URLs (docs/security.md, validation limits).
    let many: Vec<String> = (0..=8).map(|i| format!("http://h{i}:1")).collect();
    let err = from_env(&many.join(","));
    assert!(err.to_string().contains("at most 8"), "{err}");
    // The builder's list: the same rules, and an empty list is no list.
    let build = |urls: Vec<&str>| {
        HeartbeatConfig::builder()
            .environment(Environment::from_vars([("VORTEX_URL", "http://env:1")]))
            .server_urls(urls)
            .app("app")
            .profile("prod")
            .build()
    };
    let err = build(vec![]).unwrap_err();
    assert!(err.to_string().contains("empty list"), "{err}");
    let err = build(vec!["http://a:1", "http://a:1/"]).unwrap_err();
    assert!(err.to_string().contains("server URL #2"), "{err}");
    let ok = build(vec!["http://a:1", "http://b:1"]).unwrap();
    assert_eq!(ok.fallback_urls, ["http://b:1"]);
    // A struct literal's further URLs are checked too.
    let literal = HeartbeatConfig {
        server_url: "http://a:1".into(),
        fallback_urls: vec!["not a url".into()],
        app: "app".into(),
        profile: "prod".into(),
        ..Default::default()
    };
    assert!(literal.validate().unwrap_err().to_string().contains("#2"));
    for bad in [Duration::ZERO, S(25 * 3600)] {
        let err = HeartbeatConfig::builder()
            .environment(Environment::empty())
            .server_url("http://a:1")
            .app("app")
            .profile("prod")
            .connection_max_age(bad)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("connection_max_age"), "{err}");
    }
}

/// Servers are compared by the heartbeat URL they give: trailing slashes are dropped when the
/// path is joined, so `/gw//` and `/gw` are one server; a `//` inside the prefix is kept.
#[test]
fn one_server_written_two_ways_is_listed_twice() {
    let build = |urls: [&str; 2]| {
        HeartbeatConfig::builder()
            .environment(Environment::empty())
            .server_urls(urls)
            .app("app")
            .profile("prod")
            .build()
    };
    for urls in [
        ["http://h.invalid/gw//", "http://h.invalid/gw"],
        ["http://u:pw@h.invalid:80/gw", "HTTP://H.invalid/gw///"],
        ["http://h.invalid//", "http://h.invalid"],
    ] {
        let err = build(urls).unwrap_err().to_string();
        assert!(
            err.contains("server URL #2 (") && err.contains("is the same server as #1"),
            "{urls:?}: {err}"
        );
        assert!(!err.contains("pw"), "{err}");
    }
    let env = Environment::from_vars([
        ("VORTEX_URL", "http://h.invalid/gw,http://h.invalid/gw//"),
        ("VORTEX_APP", "app"),
        ("VORTEX_PROFILE", "prod"),
    ]);
    let err = HeartbeatConfig::builder()
        .environment(env)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("same server as #1"), "{err}");
    for urls in [
        ["http://h.invalid/a//b", "http://h.invalid/a/b"],
        ["http://h.invalid/gw", "http://h.invalid/gw/x"],
    ] {
        assert!(build(urls).is_ok(), "{urls:?}");
    }
}

/// Eight tasks set increasing versions and call `report_now()` while the worker runs; the
/// first server fails one request in three, and a short max age keeps bringing reports back to
/// it. Merged over both servers by arrival, the accepted versions never go back.
async fn ordering_holds_across_two_servers() {
    let (first, second) = (
        MockServer::start().await.unwrap(),
        MockServer::start().await.unwrap(),
    );
    let pattern: Vec<Reply> = (0..2000)
        .map(|i| match i % 3 {
            0 => Reply::Status(503),
            _ => Reply::Accept,
        })
        .collect();
    first.script(pattern.clone());
    let c = client(&[first.url(), second.url()])
        .interval(MS(20))
        .initial_retry_delay(MS(5))
        .max_retry_delay(MS(20))
        .min_report_gap(Duration::ZERO)
        .connection_max_age(MS(10))
        .build()
        .unwrap();
    c.start().await;
    let newest = Arc::new(parking_lot::Mutex::new(1u64));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, newest) = (c.clone(), newest.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                {
                    let mut n = newest.lock();
                    *n += 1;
                    c.set_config_version(format!("v{n}"));
                }
                let _ = c.report_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let last = format!("v{}", *newest.lock());
    let mut status = c.subscribe();
    tokio::time::timeout(
        S(10),
        status.wait_for(|s| s.drift.reported_version.as_deref() == Some(last.as_str())),
    )
    .await
    .expect("the last version is accepted")
    .unwrap();
    c.stop().await;
    let version = |r: &Report| r.config_version[1..].parse::<u64>().unwrap();
    let mut accepted: Vec<(Instant, u64)> = first
        .reports()
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(pattern.get(*i), Some(Reply::Status(_))))
        .map(|(_, r)| (r.received_at, version(r)))
        .chain(second.reports().iter().map(|r| (r.received_at, version(r))))
        .collect();
    accepted.sort_by_key(|(at, _)| *at);
    let counts = (first.report_count(), second.report_count());
    // How often reports return to the first depends on how long the run takes (one return
    // per epoch); a few returns are enough for the order to be tested across both.
    assert!(
        counts.0 >= 5 && counts.1 >= 5,
        "both servers took reports: {counts:?}"
    );
    for pair in accepted.windows(2) {
        assert!(
            pair[1].1 >= pair[0].1,
            "v{} after v{}",
            pair[1].1,
            pair[0].1
        );
    }
}

both_runtimes!(ordering_holds_across_two_servers);

/// The blocking client takes the same list and the same max age, and shows the URL in use.
#[test]
fn the_blocking_client_fails_over_too() {
    let first = crate::support::replies::answering_blocking(503);
    let second = MockServer::start_blocking().unwrap();
    let c = support::blocking_client(&first.url())
        .server_urls([first.url(), second.url()])
        .connection_max_age(S(60))
        .build()
        .unwrap();
    c.report_now().unwrap();
    assert_eq!((first.report_count(), second.report_count()), (1, 1));
    let status = c.status();
    assert_eq!(status.server_url.as_deref(), Some(second.url().as_str()));
    assert_eq!(status.reports_failed, 0);
    c.stop();
}

/// A WARN once per URL per outage (never per attempt), an INFO when reports move to another
/// URL and one when they return to the first; no attempt failed, so no outage warning.
#[tokio::test(start_paused = true)]
async fn moves_are_logged_once() {
    let (logs, _guard) = crate::support::capture_logs();
    let (first, second) = (answering(503).await, MockServer::start().await.unwrap());
    let c = client(&[first.url(), second.url()])
        .connection_max_age(S(120))
        .build()
        .unwrap();
    c.start().await;
    // Three epochs: the first URL is tried at the start of each, and fails each time.
    first.wait_for_reports(3, WAIT).await.unwrap();
    first.set_default_reply(Reply::Accept);
    first.wait_for_reports(5, WAIT).await.unwrap();
    c.stop().await;
    let first_url = format!("{}/api/drift/heartbeat/app/prod", first.url());
    let warnings = logs.lines("WARN", "");
    assert_eq!(warnings.len(), 1, "{}", logs.text());
    assert!(warnings[0].contains("server URL failed"), "{}", warnings[0]);
    assert!(warnings[0].contains(&first_url) && warnings[0].contains("503"));
    assert_eq!(logs.lines("INFO", "moved to another server URL").len(), 1);
    assert_eq!(
        logs.lines("INFO", "returned to the first server URL").len(),
        1
    );
    assert_eq!(c.status().server_url.as_deref(), Some(first.url().as_str()));
}

/// The `server` gauge shows which URL answered: 1 for it, 0 for the other.
#[cfg(feature = "metrics")]
#[test]
fn the_server_gauge_follows_the_answering_url() {
    crate::metrics::with_recorder(|recorder| async move {
        let (first, second) = (answering(503).await, MockServer::start().await.unwrap());
        let c = client(&[first.url(), second.url()]).build().unwrap();
        c.report_now().await.unwrap();
        let gauge = |url: String| {
            recorder.gauge(&format!(
                "vortex_heartbeat_server{{app=app,profile=prod,server={url}}}"
            ))
        };
        assert_eq!(gauge(second.url()), Some(1.0));
        assert_eq!(gauge(first.url()), Some(0.0));
    });
}

/// Start, stop and start again with a refused first URL: each start reports through the
/// second URL at once, and nothing is sent after `stop()` returns, not even a change (which a
/// running worker sends at once; the interval is an hour).
async fn start_stop_start_with_two_urls() {
    let second = MockServer::start().await.unwrap();
    let refused = format!("http://{}", dead_port().await);
    let c = client(&[refused, second.url()])
        .interval(S(3600))
        .build()
        .unwrap();
    c.start().await;
    second.wait_for_reports(1, S(10)).await.unwrap();
    c.stop().await;
    assert!(!c.is_running());
    let after_stop = second.report_count();
    c.set_config_version("v2");
    tokio::time::sleep(MS(50)).await;
    assert_eq!(
        second.report_count(),
        after_stop,
        "a report after stop() returned"
    );
    c.start().await;
    let reports = second
        .wait_for_reports(after_stop + 1, S(10))
        .await
        .unwrap();
    assert_eq!(reports[after_stop].config_version, "v2");
    c.stop().await;
    assert_eq!(c.status().reports_failed, 0);
}

both_runtimes!(start_stop_start_with_two_urls);

/// The fleet model with real workers, on the paused clock: 100 clients in steady state on two
/// servers; the first dies (its port refuses connections), then comes back on the same port.
/// While it is down the second's busiest 10 s stay within twice the fleet's steady rate (the
/// move costs no extra request); when it returns, every client is back within one max age
/// plus one interval, spread over that time rather than in one burst.
#[tokio::test(start_paused = true)]
async fn a_fleet_leaves_a_dead_server_and_comes_back_spread_out() {
    const N: usize = 100;
    let interval = S(30);
    let max_age = S(120);
    let first = MockServer::start().await.unwrap();
    let second = MockServer::start().await.unwrap();
    let first_addr = first.addr();
    let urls = [first.url(), second.url()];
    let mut fleet = Vec::new();
    for i in 0..N {
        let c = client(&urls)
            .instance_id(format!("i-{i}"))
            .interval(interval)
            .connection_max_age(max_age)
            .disable_auto_detect()
            .build()
            .unwrap();
        c.start().await;
        fleet.push(c);
    }
    // Steady state, then the first server dies.
    tokio::time::sleep(S(150)).await;
    assert_eq!(
        second.report_count(),
        0,
        "all on the first while it answers"
    );
    drop(first);
    let died = Instant::now();
    tokio::time::sleep(S(300)).await;
    let returned_at = Instant::now();
    let first = MockServer::builder()
        .bind(first_addr)
        .start()
        .await
        .unwrap();
    tokio::time::sleep(max_age + interval.mul_f64(1.2)).await;
    for c in &fleet {
        c.stop().await;
    }

    // While the first was down: the second's busiest 10 s, against the steady rate.
    let during: Vec<Instant> = times(&second.reports())
        .into_iter()
        .filter(|&t| t >= died && t < returned_at)
        .collect();
    let busiest = (0..30)
        .map(|w| {
            let from = died + S(10) * w;
            during
                .iter()
                .filter(|&&t| t >= from && t < from + S(10))
                .count()
        })
        .max()
        .unwrap_or(0);
    let steady = N as f64 * 10.0 / interval.as_secs_f64();
    assert!(
        busiest as f64 <= 2.0 * steady,
        "busiest 10 s at the second server: {busiest} reports, steady {steady:.0}"
    );
    // The return: each client's first report at the first server after it came back.
    let mut back: Vec<Duration> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in first.reports() {
        if seen.insert(r.instance_id.clone()) {
            back.push(r.received_at - returned_at);
        }
    }
    assert_eq!(back.len(), N, "every client came back");
    let last = back.iter().max().copied().unwrap_or_default();
    assert!(
        last <= max_age + interval.mul_f64(1.1) + MS(50),
        "the last came back after {last:?}"
    );
    let busiest_return = (0..20)
        .map(|w| {
            back.iter()
                .filter(|d| **d >= S(10) * w && **d < S(10) * (w + 1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest_return <= N / 3 && last >= max_age / 2,
        "returns bunched: {busiest_return} in one 10 s window, the last after {last:?}"
    );
}

/// No connection carries reports for longer than the max age, also one met again on the way
/// back to the first URL: the first server's connection stays open through a failover (its
/// 503s keep it alive) and must not be reused past its age when reports return. Real time:
/// what counts is the server's own clock between accepting a connection and its last request.
#[tokio::test]
async fn no_connection_outlives_the_max_age_on_the_way_back() {
    let first = KeepAliveServer::start().await;
    let second = KeepAliveServer::start().await;
    let max_age = S(1);
    let c = client(&[first.url(), second.url()])
        .interval(MS(50))
        .connection_max_age(max_age)
        .build()
        .unwrap();
    c.start().await;
    tokio::time::sleep(MS(250)).await;
    first.set_status(503);
    tokio::time::sleep(MS(150)).await;
    first.set_status(200);
    tokio::time::sleep(S(3)).await;
    c.stop().await;
    let status = c.status();
    eprintln!(
        "first {:?}\nsecond {:?}",
        first.connections(),
        second.connections()
    );
    assert!(status.reports_accepted > 50, "{status:?}");
    for (name, server) in [("first", &first), ("second", &second)] {
        for connection in server.connections() {
            let Some(last) = connection.requests.last() else {
                continue;
            };
            let carried = *last - connection.accepted;
            // A request's way to the server and its scheduling: far below what a reuse past
            // the max age adds (an epoch: here 0.75 s to 1 s).
            let transit = MS(100);
            assert!(
                carried <= max_age + transit,
                "a connection to the {name} server carried reports for {carried:?}"
            );
        }
    }
}

/// When every server fails, the retry line and the status say what each one answered.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failed_round_says_what_each_server_answered() {
    let (logs, _guard) = capture_logs();
    let refused = format!("http://{}", dead_port().await);
    let busy = answering(503).await;
    let c = client(&[refused.clone(), busy.url()]).build().unwrap();
    c.start().await;
    let mut status = c.subscribe();
    status
        .wait_for(|s| s.consecutive_failures >= 1)
        .await
        .unwrap();
    c.stop().await;
    let error = c.status().last_error.unwrap_or_default();
    let retry = logs.lines("WARN", "heartbeat failed; retrying");
    assert_eq!(retry.len(), 1, "{}", logs.text());
    for shown in [&error, &retry[0]] {
        assert!(
            shown.contains(&refused) && shown.contains("cannot connect"),
            "the first server's answer: {shown}"
        );
        assert!(
            shown.contains(&busy.url()) && shown.contains("503"),
            "the second server's answer: {shown}"
        );
    }
}
