//! Proxies are the SDK's own setting, read through the injected `Environment` (curl's
//! precedence, `NO_PROXY` rules, loopback never proxied), and their credentials never leak.
//!
//! The client runs against a small forward proxy on loopback that records each request and
//! answers it itself, so a target such as `vortex.invalid` never has to resolve: a report that
//! goes through the proxy reaches it, a direct one fails at once (the SDK answers `.invalid`
//! names without asking DNS, RFC 6761). Direct IP targets use a `MockServer` on 127.0.0.1,
//! addressed as `0.0.0.0` where the target must not count as loopback (the kernel delivers a
//! connection to 0.0.0.0 on the local host; nothing leaves the machine). The process
//! environment is never changed: one test runs this binary again as a child process with
//! `HTTP_PROXY` in the child's own environment.

use std::time::Duration;

use base64::prelude::{Engine as _, BASE64_STANDARD};

use crate::support::forward_proxy::ForwardProxy;
use crate::support::{self, capture_logs, dead_port};
use vortex_client::testing::MockServer;
use vortex_client::{
    ConfigError, Disposition, Environment, HeartbeatBuilder, HeartbeatClient, ReporterError,
};

const USER: &str = "px-user-5d1c";
const PASSWORD: &str = "px-s3cret-8a7b";
/// What the target's path looks like in every recorded request.
const PATH: &str = "/api/drift/heartbeat/app/prod";

/// A client whose environment holds `vars` (the proxy variables under test), making one
/// attempt per report.
fn builder(vars: &[(&str, &str)], server_url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(server_url)
        .environment(Environment::from_vars(vars.iter().copied()))
        .disable_auto_detect()
        .max_retries(1)
        .timeout(Duration::from_secs(3))
}

/// Where one report went: `proxy` (the proxy saw it), else `direct`, with what became of it.
async fn route_of(client: &HeartbeatClient, proxy: &ForwardProxy) -> (&'static str, String) {
    let before = proxy.seen().len();
    let result = client.report_now().await;
    let seen = proxy.seen();
    if seen.len() > before {
        let last = &seen[seen.len() - 1];
        assert!(last.line.starts_with("POST http://"), "{}", last.line);
        assert!(last.line.contains(PATH), "{}", last.line);
        assert!(result.is_ok(), "{result:?}");
        return ("proxy", "answered by the proxy".into());
    }
    let what = match result {
        Ok(_) => "answered by the server".to_owned(),
        Err(ReporterError::Connect { .. }) => "could not connect".to_owned(),
        Err(e) => format!("failed: {e}"),
    };
    ("direct", what)
}

/// Variables, server URL, expected route.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

/// Every case of the routing rules, with its expected route. `{P}` is the proxy, `{M}` the
/// port of a `MockServer` on 127.0.0.1.
const CASES: &[Case] = &[
    (
        &[("HTTP_PROXY", "{P}")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("http_proxy", "{P}")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("ALL_PROXY", "{P}")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("all_proxy", "{P}")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("HTTPS_PROXY", "{P}")],
        "http://vortex.invalid:8888",
        "direct",
    ),
    (
        &[("http_proxy", "{P}"), ("HTTP_PROXY", "http://127.0.0.1:9")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("REQUEST_METHOD", "POST")],
        "http://vortex.invalid:8888",
        "direct",
    ),
    (&[], "http://vortex.invalid:8888", "direct"),
    (&[("HTTP_PROXY", "{P}")], "http://127.0.0.1:{M}", "direct"),
    (&[("HTTP_PROXY", "{P}")], "http://localhost:{M}", "direct"),
    (
        &[("HTTP_PROXY", "{P}")],
        "http://api.localhost:{M}",
        "direct",
    ),
    (&[("HTTP_PROXY", "{P}")], "http://[::1]:{M}", "direct"),
    (&[("HTTP_PROXY", "{P}")], "http://0.0.0.0:{M}", "proxy"),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "*")],
        "http://0.0.0.0:{M}",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "*")],
        "http://vortex.invalid:8888",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "vortex.invalid")],
        "http://vortex.invalid:8888",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "vortex.invalid")],
        "http://api.vortex.invalid:8888",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", ".vortex.invalid")],
        "http://vortex.invalid:8888",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("no_proxy", ".vortex.invalid")],
        "http://api.vortex.invalid:8888",
        "direct",
    ),
    (
        &[
            ("HTTP_PROXY", "{P}"),
            ("NO_PROXY", "other.invalid,notvortex.invalid"),
        ],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[
            ("HTTP_PROXY", "{P}"),
            ("no_proxy", "other.invalid"),
            ("NO_PROXY", "vortex.invalid"),
        ],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "0.0.0.0")],
        "http://0.0.0.0:{M}",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "0.0.0.0/8")],
        "http://0.0.0.0:{M}",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "10.0.0.0/8")],
        "http://0.0.0.0:{M}",
        "proxy",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "*.vortex.invalid")],
        "http://api.vortex.invalid:8888",
        "direct",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "other.invalid, *")],
        "http://0.0.0.0:{M}",
        "direct",
    ),
    // Entries with a port never match (hyper-util's matcher; they matched that port before).
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "vortex.invalid:8888")],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "0.0.0.0:{M}")],
        "http://0.0.0.0:{M}",
        "proxy",
    ),
    // Only commas separate entries (spaces did before).
    (
        &[
            ("HTTP_PROXY", "{P}"),
            ("NO_PROXY", "other.invalid vortex.invalid"),
        ],
        "http://vortex.invalid:8888",
        "proxy",
    ),
    // A bracketed IPv6 entry never matches (the same address without brackets does).
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "[2001:db8::1]")],
        "http://[2001:db8::1]:8888",
        "proxy",
    ),
    // A trailing dot is part of the name (it was ignored before).
    (
        &[("HTTP_PROXY", "{P}"), ("NO_PROXY", "vortex.invalid")],
        "http://api.vortex.invalid.:8888",
        "proxy",
    ),
];

#[tokio::test(flavor = "current_thread")]
async fn routes_follow_the_rules() {
    let (_logs, _guard) = capture_logs();
    let proxy = ForwardProxy::start(200).await;
    let server = MockServer::start().await.expect("mock");
    let port = server.addr().port().to_string();
    let mut table = String::from("| variables | target | expected | seen |\n|---|---|---|---|\n");
    let mut wrong = Vec::new();
    for (vars, target, expected) in CASES {
        let vars: Vec<(&str, String)> = vars
            .iter()
            .map(|(k, v)| (*k, v.replace("{P}", &proxy.url()).replace("{M}", &port)))
            .collect();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let target_url = target.replace("{M}", &port);
        let client = builder(&pairs, &target_url).build().expect("build");
        let (seen, what) = route_of(&client, &proxy).await;
        let shown: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(&proxy.url(), "P")))
            .collect();
        table.push_str(&format!(
            "| {} | {target} | {expected} | {seen} ({what}) |\n",
            shown.join(" ")
        ));
        if seen != *expected {
            wrong.push(format!(
                "{shown:?} {target_url}: expected {expected}, seen {seen}"
            ));
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "{wrong:#?}\n{table}");
    // Direct reports to the mock's address reached it.
    assert!(server.report_count() >= 4, "{table}");
}

#[tokio::test(flavor = "current_thread")]
async fn explicit_proxy_and_no_proxy_win_over_the_environment() {
    let proxy = ForwardProxy::start(200).await;
    let env_proxy = [("HTTP_PROXY", proxy.url())];
    let env: Vec<(&str, &str)> = env_proxy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let direct = builder(&env, "http://vortex.invalid:8888")
        .no_proxy()
        .build()
        .expect("build");
    assert_eq!(route_of(&direct, &proxy).await.0, "direct");
    // An explicit proxy applies with no environment at all, and even to loopback servers.
    for target in ["http://vortex.invalid:8888", "http://127.0.0.1:9"] {
        let explicit = builder(&[], target)
            .proxy(proxy.url())
            .build()
            .expect("build");
        assert_eq!(route_of(&explicit, &proxy).await.0, "proxy", "{target}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn proxy_credentials_are_sent_and_never_leak() {
    let basic = format!(
        "Basic {}",
        BASE64_STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    for status in [407, 502] {
        let (logs, _guard) = capture_logs();
        let proxy = ForwardProxy::start(status).await;
        let with_credentials = format!("http://{USER}:{PASSWORD}@{}", proxy.addr);
        let client = builder(
            &[("HTTP_PROXY", with_credentials.as_str())],
            "http://vortex.invalid:8888",
        )
        .build()
        .expect("build");
        let error = client.report_now().await.expect_err("the proxy refuses");
        let seen = proxy.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].header("proxy-authorization"), Some(basic.as_str()));
        let shown = [
            error.to_string(),
            format!("{error:?}"),
            client.status().last_error.unwrap_or_default(),
            format!("{client:?}"),
            format!("{:?}", client.config()),
            logs.text(),
        ];
        assert!(shown[0].contains(&status.to_string()), "{}", shown[0]);
        if status == 502 {
            // The echoed page is shown, scrubbed (a 407 names the proxy and shows no page).
            assert!(shown[0].contains("<redacted>"), "{}", shown[0]);
        }
        // The log checked below holds the lines that show the proxy and the error: a capture
        // that missed them would make the check vacuous.
        let text = logs.text();
        assert!(text.contains("reports go through a proxy"), "{text}");
        assert!(text.contains("report_now() failed"), "{text}");
        let b64 = basic.trim_start_matches("Basic ");
        for text in &shown {
            for secret in [USER, PASSWORD, b64] {
                assert!(!text.contains(secret), "{secret} leaked ({status}): {text}");
            }
        }
    }
}

/// An empty userinfo (`http://@host:port`) is sent as empty Basic credentials (`:`), as
/// hyper-util's matcher reads it (it sent none before).
#[tokio::test(flavor = "current_thread")]
async fn an_empty_userinfo_is_sent_as_empty_credentials() {
    let proxy = ForwardProxy::start(200).await;
    let value = format!("http://@{}", proxy.addr);
    let client = builder(
        &[("HTTP_PROXY", value.as_str())],
        "http://vortex.invalid:8888",
    )
    .build()
    .expect("build");
    client.report_now().await.expect("the proxy answers");
    let seen = proxy.seen();
    assert_eq!(seen[0].header("proxy-authorization"), Some("Basic Og=="));
}

#[tokio::test(flavor = "current_thread")]
async fn explicit_proxy_credentials_are_masked_in_debug() {
    let url = format!("http://{USER}:{PASSWORD}@127.0.0.1:9");
    let b = builder(&[], "http://vortex.invalid:8888").proxy(url.as_str());
    let config = support::client("http://vortex.invalid:8888").proxy(url.as_str());
    let client = b.build().expect("build");
    for text in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{:?}", client.config()),
    ] {
        assert!(!text.contains(USER) && !text.contains(PASSWORD), "{text}");
    }
    assert!(format!("{:?}", client.config()).contains("***@127.0.0.1:9"));
}

#[test]
fn unusable_proxy_urls_fail_build_without_echoing_credentials() {
    for (var, value) in [
        ("HTTP_PROXY", "http://u:px-s3cret@proxy:99999"),
        ("http_proxy", "socks5://u:px-s3cret@proxy:1080"),
        ("ALL_PROXY", "http://u:px-s3cret@"),
        // What the URL parser accepted before and hyper-util's matcher does not: an unencoded
        // `@` in the userinfo, characters outside RFC 3986, a host that is not ASCII.
        ("HTTP_PROXY", "http://u@x:px-s3cret@proxy:3128"),
        ("HTTP_PROXY", "http://u:px-s3cret{@proxy:3128"),
        ("HTTP_PROXY", "http://u:px-s3cret@прокси.invalid:3128"),
    ] {
        let err = builder(&[(var, value)], "http://vortex.invalid:8888")
            .build()
            .expect_err("unusable proxy");
        let text = err.to_string();
        assert!(
            matches!(err, ConfigError::InvalidValue { field: "proxy", .. }),
            "{text}"
        );
        assert!(text.contains(var), "{text}");
        assert!(!text.contains("px-s3cret") && !format!("{err:#?}").contains("px-s3cret"));
    }
    let explicit = builder(&[], "http://vortex.invalid:8888")
        .proxy("ftp://u:px-s3cret@proxy:21")
        .build()
        .expect_err("unusable proxy");
    assert!(!explicit.to_string().contains("px-s3cret"), "{explicit}");
    // A proxy that does not apply to the server is not looked at.
    let unused = [("HTTP_PROXY", "socks5://proxy:1080"), ("NO_PROXY", "*")];
    assert!(builder(&unused, "http://vortex.invalid:8888")
        .build()
        .is_ok());
}

#[test]
fn proxy_settings_cannot_be_combined_with_the_applications_client() {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for b in [
        builder(&[], "http://vortex.invalid:8888").proxy("http://127.0.0.1:9"),
        builder(&[], "http://vortex.invalid:8888").no_proxy(),
    ] {
        let err = b.http_client(http.clone()).build().expect_err("refused");
        assert!(err.to_string().contains("http_client"), "{err}");
    }
    // The environment's proxy does not stop it: the application's client decides.
    let env = [("HTTP_PROXY", "not a url")];
    assert!(builder(&env, "http://vortex.invalid:8888")
        .http_client(http)
        .build()
        .is_ok());
}

/// The name of a test in this binary as libtest filters it (the binary may hold this file as
/// a module).
fn test_name(function: &str) -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{function}"),
        None => function.to_owned(),
    }
}

/// Names the child's scenario; set in the child's own environment only.
const CHILD_VAR: &str = "VORTEX_PROXY_TEST_CHILD";

/// Runs `child_with_proxy_variables_in_its_process` for `scenario` with these variables in the
/// child's own process environment (and no other proxy variable), and checks that it passed.
async fn run_child(scenario: &str, vars: &[(&str, String)]) {
    let exe = std::env::current_exe().expect("test binary");
    let name = test_name("child_with_proxy_variables_in_its_process");
    let mut child = tokio::process::Command::new(exe);
    child
        .args([
            "--exact",
            &name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, scenario);
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "REQUEST_METHOD",
    ] {
        child.env_remove(var);
    }
    for (var, value) in vars {
        child.env(var, value);
    }
    let output = child.output().await.expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{scenario}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// With `HTTP_PROXY` in the real process environment, `Environment::empty()` uses no proxy
/// (reqwest's own lookup would), while `Environment::process()` uses it; loopback servers and
/// `NO_PROXY=*` go direct; the credentials never reach the error. The process variables are
/// set for child runs of this binary, never in this process.
#[tokio::test(flavor = "current_thread")]
async fn process_environment_follows_the_same_rules() {
    let proxy = ForwardProxy::start(200).await;
    let http_proxy = || ("HTTP_PROXY", proxy.url());
    run_child("empty", &[http_proxy()]).await;
    // Only the child's `Environment::process()` client went through the proxy.
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());
    run_child("loopback", &[http_proxy()]).await;
    run_child("no-proxy-star", &[http_proxy(), ("NO_PROXY", "*".into())]).await;
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());

    let refusing = ForwardProxy::start(407).await;
    let with_credentials = format!("http://{USER}:{PASSWORD}@{}", refusing.addr);
    run_child("credentials", &[("HTTP_PROXY", with_credentials)]).await;
    let seen = refusing.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].header("proxy-authorization").is_some());
}

/// The child half of `process_environment_follows_the_same_rules`, which runs it once per
/// scenario with the proxy variables in the child's environment. Run on its own
/// (`--ignored`) it fails rather than pass: it has no scenario to check.
#[tokio::test(flavor = "current_thread")]
#[ignore = "the child half of proxy::process_environment_follows_the_same_rules, which runs it with proxy variables in its environment: cargo test --all-features --test it proxy::process_environment_follows_the_same_rules"]
async fn child_with_proxy_variables_in_its_process() {
    let scenario = std::env::var(CHILD_VAR).unwrap_or_else(|_| {
        panic!(
            "{CHILD_VAR} is not set: run by process_environment_follows_the_same_rules only: cargo test --all-features --test it proxy::process_environment_follows_the_same_rules"
        )
    });
    let process = |target: &str| {
        builder(&[], target)
            .environment(Environment::process())
            .build()
            .expect("build")
    };
    match scenario.as_str() {
        "empty" => {
            let empty = builder(&[], "http://vortex.invalid:8888")
                .environment(Environment::empty())
                .build()
                .expect("build");
            let error = empty
                .report_now()
                .await
                .expect_err("no proxy: no such name");
            assert!(matches!(error, ReporterError::Connect { .. }), "{error}");
            let client = process("http://vortex.invalid:8888");
            client
                .report_now()
                .await
                .expect("through the process's proxy");
        }
        "loopback" | "no-proxy-star" => {
            let server = MockServer::start().await.expect("mock");
            let port = server.addr().port();
            let target = match scenario.as_str() {
                "loopback" => format!("http://127.0.0.1:{port}"),
                _ => format!("http://0.0.0.0:{port}"),
            };
            process(&target).report_now().await.expect("direct");
            assert_eq!(server.report_count(), 1);
        }
        "credentials" => {
            let client = process("http://vortex.invalid:8888");
            let error = client.report_now().await.expect_err("the proxy refuses");
            let b64 = BASE64_STANDARD.encode(format!("{USER}:{PASSWORD}"));
            for text in [
                error.to_string(),
                client.status().last_error.unwrap_or_default(),
            ] {
                assert!(text.contains("407"), "{text}");
                for secret in [USER, PASSWORD, b64.as_str()] {
                    assert!(!text.contains(secret), "{secret} leaked: {text}");
                }
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A proxy's faults are the proxy's: named, with where it was set, the same over http and https.

/// The error of one report through a proxy at `proxy`, set by `var`, to `target`.
async fn error_through(var: &str, proxy: &str, target: &str) -> ReporterError {
    builder(&[(var, proxy)], target)
        .build()
        .expect("build")
        .report_now()
        .await
        .expect_err("the proxy fails it")
}

#[tokio::test(flavor = "current_thread")]
async fn a_407_names_the_proxy_the_same_over_http_and_https() {
    let proxy = ForwardProxy::start(407).await;
    for (var, target) in [
        ("HTTP_PROXY", "http://vortex.invalid:8888"),
        ("HTTPS_PROXY", "https://vortex.invalid:8443"),
    ] {
        let error = error_through(var, &proxy.url(), target).await;
        let text = error.to_string();
        assert!(
            text.contains(&proxy.addr.to_string()) && text.contains(var) && text.contains("407"),
            "{target}: the proxy, where it was set and its answer: {text}"
        );
        assert!(
            !text.contains("the server answered") && !text.contains("<!DOCTYPE"),
            "{target}: blamed on the server: {text}"
        );
        assert_eq!(
            error.disposition(),
            Disposition::Retryable,
            "{target}: {text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_proxy_that_is_down_is_named() {
    let dead = format!("http://{}", dead_port().await);
    for (var, target) in [
        ("HTTP_PROXY", "http://vortex.invalid:8888"),
        ("HTTPS_PROXY", "https://vortex.invalid:8443"),
    ] {
        let error = error_through(var, &dead, target).await;
        let text = error.to_string();
        assert!(
            text.contains(dead.trim_start_matches("http://")) && text.contains(var),
            "{target}: {text}"
        );
        assert_eq!(
            error.disposition(),
            Disposition::Retryable,
            "{target}: {text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusing_proxy_moves_the_report_on_to_the_next_url() {
    let proxy = ForwardProxy::start(407).await;
    let direct = MockServer::start().await.expect("mock"); // loopback: never proxied
    let client = builder(&[("HTTP_PROXY", proxy.url().as_str())], "http://unused")
        .server_urls(["http://vortex.invalid:8888".to_owned(), direct.url()])
        .build()
        .expect("build");
    let answer = client.report_now().await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!((proxy.seen().len(), direct.report_count()), (1, 1));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refusing_proxy_is_backed_off_from() {
    let proxy = ForwardProxy::start(407).await;
    let client = builder(
        &[("HTTP_PROXY", proxy.url().as_str())],
        "http://vortex.invalid:8888",
    )
    .interval(Duration::from_millis(200))
    .build()
    .expect("build");
    client.start().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    client.stop().await;
    // Backoff from 1 s: about 4 attempts in 10 s, where the interval would make 50.
    let asked = proxy.seen().len();
    assert!((2..=6).contains(&asked), "{asked} requests in 10 s");
}

#[tokio::test(flavor = "current_thread")]
async fn the_reported_address_is_the_route_to_the_proxy() {
    let proxy = ForwardProxy::start(200).await;
    let client = support::client("http://vortex.invalid:8888") // only the proxy knows this name
        .environment(Environment::from_vars([("HTTP_PROXY", proxy.url())]))
        .build()
        .expect("build");
    client.report_now().await.expect("the proxy answers");
    let seen = proxy.seen();
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("json");
    assert_eq!(body["metadata"]["ip_address"], "127.0.0.1", "{body}");
}
