//! The mock server itself (feature `testing`), over real HTTP on loopback: the server's model is
//! enforced, answers follow the contract and the script, waits end without sleeps, only the
//! heartbeat route is served, and shutdown is clean anywhere.

use std::time::Duration;

use crate::support;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vortex_client::testing::{MockServer, Reply, WaitError};
use vortex_client::{blocking, Disposition, Health};

const WAIT: Duration = Duration::from_secs(10);
const HEARTBEAT: &str = "/api/drift/heartbeat/payment-service/production";

/// An answer read off the wire.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a connection of its own, by hand (the test needs no HTTP client
/// beyond the SDK's own); `Err` when the connection closes without an answer.
async fn request(
    server: &MockServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Result<Answer, String> {
    let content_type = content_type.map(|t| ("content-type", t));
    request_with(server, method, path, content_type.as_slice(), body).await
}

/// [`request`] with these header lines.
async fn request_with(
    server: &MockServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(server.addr())
        .await
        .map_err(|e| e.to_string())?;
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: mock\r\nconnection: close\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(body.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no answer")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status: status.ok_or("no status")?,
        headers,
        body: body.as_bytes().to_vec(),
    })
}

async fn post_json(server: &MockServer, path: &str, body: &str) -> Answer {
    let answer = request(server, "POST", path, Some("application/json"), body).await;
    answer.expect("the mock server answers")
}

async fn heartbeat(server: &MockServer, instance: &str, version: &str) -> Answer {
    let body = json!({"instance_id": instance, "config_version": version}).to_string();
    post_json(server, HEARTBEAT, &body).await
}

#[tokio::test]
async fn malformed_bodies_are_refused_like_the_server_model_does() {
    let server = MockServer::start().await.unwrap();
    server.script([Reply::Status(503)]);
    let cases = [
        ("{not json", 400),
        (r#"{"config_version":"v1"}"#, 422),
        (r#"{"instance_id":"i","config_version":3}"#, 422),
        (
            r#"{"instance_id":"i","config_version":"v1","health":"sick"}"#,
            422,
        ),
        (
            r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":{"n":1}}}"#,
            422,
        ),
    ];
    for (body, status) in cases {
        let answer = post_json(&server, HEARTBEAT, body).await;
        assert_eq!(answer.status, status, "{body}");
        assert!(answer.json()["error"].is_string(), "{body}");
    }
    let body = r#"{"instance_id":"i","config_version":"v1"}"#;
    let no_type = request(&server, "POST", HEARTBEAT, None, body)
        .await
        .unwrap();
    assert_eq!(no_type.status, 415);
    let too_big = format!(
        r#"{{"instance_id":"{}","config_version":"v1"}}"#,
        "x".repeat(70_000)
    );
    assert_eq!(post_json(&server, HEARTBEAT, &too_big).await.status, 413);

    assert_eq!(server.report_count(), 0, "refused bodies are not reports");
    let rejections = server.rejections();
    assert_eq!(rejections.len(), cases.len() + 2);
    assert_eq!(rejections[0].body, "{not json");
    assert!(
        rejections[1].reason.contains("instance_id"),
        "{:?}",
        rejections[1]
    );
    // The scripted 503 was kept for the first well-formed heartbeat.
    assert_eq!(heartbeat(&server, "i", "v1").await.status, 503);
}

/// serde reads a struct from a JSON array by position; the server's model takes objects, at
/// the top and in `metadata` (and `custom` is a map): arrays there are 422, never reports.
#[tokio::test]
async fn arrays_where_the_model_has_objects_are_refused() {
    let server = MockServer::start().await.unwrap();
    let arrays = [
        r#"["i-1","v9"]"#,
        r#"["i-1","v9",null,"healthy"]"#,
        r#"[]"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":["h","10.0.0.1"]}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":[]}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":[]}}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":[["team","core"]]}}"#,
    ];
    for body in arrays {
        let answer = post_json(&server, HEARTBEAT, body).await;
        assert_eq!(answer.status, 422, "{body}");
        assert!(answer.json()["error"].is_string(), "{body}");
    }
    assert_eq!(server.report_count(), 0, "{:?}", server.reports());
    assert_eq!(server.rejections().len(), arrays.len());
    // Objects pass as before, an empty or null `metadata` included.
    let objects = [
        r#"{"instance_id":"i","config_version":"v1","metadata":{}}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":null}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":{"custom":{}}}"#,
        r#"{"instance_id":"i","config_version":"v1","metadata":{"hostname":"h","x":[1]},"y":[2]}"#,
    ];
    for body in objects {
        assert_eq!(
            post_json(&server, HEARTBEAT, body).await.status,
            200,
            "{body}"
        );
    }
    assert_eq!(server.report_count(), objects.len());
}

#[tokio::test]
async fn answers_follow_the_expected_version_of_each_app_and_profile() {
    let server = MockServer::start().await.unwrap();
    let answer = heartbeat(&server, "i-1", "v1").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let none = json!({"registered": true, "expected_version": null, "drift_detected": false});
    assert_eq!(answer.json(), none);

    server.set_expected_version("payment-service", "production", "v2");
    server.set_expected_version("payment-service", "staging", "v1");
    let drifted = json!({"registered": true, "expected_version": "v2", "drift_detected": true});
    assert_eq!(heartbeat(&server, "i-1", "v1").await.json(), drifted);
    assert_eq!(
        heartbeat(&server, "i-1", "v2").await.json()["drift_detected"],
        false
    );
    server.clear_expected_version("payment-service", "production");
    assert_eq!(heartbeat(&server, "i-1", "v1").await.json(), none);
    assert_eq!(
        server
            .expected_version("payment-service", "staging")
            .as_deref(),
        Some("v1")
    );
}

#[tokio::test]
async fn reports_are_typed_and_decoded() {
    let server = MockServer::builder()
        .path_prefix("/config/")
        .start()
        .await
        .unwrap();
    let body = json!({
        "instance_id": "i-1",
        "config_version": "v1",
        "health": "degraded",
        "hostname": "lost at the top level",
        "metadata": {"region": "eu-west-1", "custom": {"team": "platform"}},
    });
    let path = "/config/api/drift/heartbeat/my%20app%2Fv2/100%25";
    let answer = post_json(&server, path, &body.to_string()).await;
    assert_eq!(answer.status, 200);
    let report = server.next_report(WAIT).await.unwrap();
    assert_eq!(
        (report.app.as_str(), report.profile.as_str()),
        ("my app/v2", "100%")
    );
    assert_eq!(report.path, path);
    assert_eq!(
        (report.instance_id.as_str(), report.config_version.as_str()),
        ("i-1", "v1")
    );
    assert_eq!(report.health, Health::Degraded);
    let metadata = report.metadata.clone().unwrap();
    assert_eq!(metadata.region.as_deref(), Some("eu-west-1"));
    assert_eq!(metadata.custom["team"], "platform");
    assert_eq!(metadata.hostname, None);
    assert_eq!(report.json(), body);
    assert_eq!(report.header("Content-Type"), Some("application/json"));

    // The prefix is part of the route: without it, nothing matches.
    assert_eq!(heartbeat(&server, "i", "v1").await.status, 404);
    let answer = request(&server, "GET", "/config/api/drift/heartbeat/a/p", None, "").await;
    assert_eq!(answer.unwrap().status, 405);
    let statuses: Vec<u16> = server.rejections().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 405]);
}

#[tokio::test(start_paused = true)]
async fn scripted_replies_are_used_in_order_then_the_default() {
    let server = MockServer::start().await.unwrap();
    server.script([
        Reply::Status(500),
        Reply::RetryAfter(429, "120".into()),
        Reply::Raw(200, b"not json".to_vec()),
        Reply::Redirect(307, "http://127.0.0.1:9/elsewhere".into()),
        Reply::Delay(Duration::from_secs(30)),
    ]);
    server.set_default_reply(Reply::Status(404));
    assert_eq!(heartbeat(&server, "i", "v1").await.status, 500);
    let throttled = heartbeat(&server, "i", "v2").await;
    assert_eq!(
        (throttled.status, throttled.header("retry-after")),
        (429, Some("120"))
    );
    let raw = heartbeat(&server, "i", "v3").await;
    assert_eq!((raw.status, raw.body.as_slice()), (200, &b"not json"[..]));
    let moved = heartbeat(&server, "i", "v4").await;
    assert_eq!(
        moved.header("location"),
        Some("http://127.0.0.1:9/elsewhere")
    );
    let before = tokio::time::Instant::now();
    assert_eq!(heartbeat(&server, "i", "v5").await.status, 200);
    assert!(tokio::time::Instant::now() - before >= Duration::from_secs(30));
    assert_eq!(heartbeat(&server, "i", "v6").await.status, 404);
    let versions: Vec<String> = server
        .reports()
        .into_iter()
        .map(|r| r.config_version)
        .collect();
    assert_eq!(
        versions,
        ["v1", "v2", "v3", "v4", "v5", "v6"],
        "every attempt is a report"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_connection_is_closed_when_the_server_is_dropped() {
    let server = MockServer::start().await.unwrap();
    server.set_default_reply(Reply::Hang);
    let hung = {
        let addr = server.addr();
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let body = r#"{"instance_id":"i","config_version":"v1"}"#;
            let head = format!(
                "POST {HEARTBEAT} HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
            answer
        })
    };
    server.next_report(WAIT).await.unwrap();
    // Hung: an hour of (virtual) time passes without an answer.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!hung.is_finished());
    drop(server);
    let answer = tokio::time::timeout(WAIT, hung).await.unwrap().unwrap();
    assert!(answer.is_empty(), "the connection closed without an answer");
}

#[tokio::test(start_paused = true)]
async fn waits_take_reports_in_order_and_time_out_with_a_result() {
    let server = MockServer::start().await.unwrap();
    for version in ["v1", "v2", "v3", "v2"] {
        heartbeat(&server, "i", version).await;
    }
    assert_eq!(server.next_report(WAIT).await.unwrap().config_version, "v1");
    // The cursor is past v1: the first v2 comes next, then the second one.
    let v2 = server.wait_for_version("v2", WAIT).await.unwrap();
    assert_eq!(v2.received_at, server.reports()[1].received_at);
    assert_eq!(
        server
            .wait_for_version("v2", WAIT)
            .await
            .unwrap()
            .config_version,
        "v2"
    );
    assert_eq!(server.wait_for_reports(4, WAIT).await.unwrap().len(), 4);

    let before = tokio::time::Instant::now();
    let err = server
        .next_report(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(tokio::time::Instant::now() - before, Duration::from_secs(5));
    let WaitError::Timeout { received, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(received, &["v1", "v2", "v3", "v2"]);
    assert!(err.to_string().contains("the next report"), "{err}");
    assert!(server
        .wait_for_version("v9", Duration::from_secs(1))
        .await
        .is_err());

    // A report arriving while a test waits wakes it. (A wait can also be spawned: it is Send.)
    fn send<T: Send>(future: T) -> T {
        future
    }
    let waiter = send(server.wait_for_version("v4", WAIT));
    let (found, _) = tokio::join!(waiter, heartbeat(&server, "i", "v4"));
    assert_eq!(found.unwrap().config_version, "v4");
}

#[tokio::test(start_paused = true)]
async fn wait_for_report_takes_the_next_report_that_matches() {
    let server = MockServer::start().await.unwrap();
    for (instance, version) in [("a", "v1"), ("b", "v1"), ("b", "v2")] {
        heartbeat(&server, instance, version).await;
    }
    let from_b = server
        .wait_for_report(|r| r.instance_id == "b", WAIT)
        .await
        .unwrap();
    assert_eq!(
        from_b.config_version, "v1",
        "the first match, skipping the one before it"
    );
    let next = server.next_report(WAIT).await.unwrap();
    assert_eq!(next.config_version, "v2", "the cursor moved past the match");
    let err = server
        .wait_for_report(|r| r.instance_id == "c", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a matching report"), "{err}");
}

/// The server's read side is the server's: the mock serves the heartbeat route only, and a
/// GET anywhere else gets its ordinary refusal.
#[tokio::test]
async fn only_the_heartbeat_route_is_served() {
    let server = MockServer::start().await.unwrap();
    let paths = [
        "/api/drift/drift",
        "/api/drift/drift/payment-service/production",
        "/api/drift/instances/payment-service/production",
    ];
    for path in paths {
        let answer = request(&server, "GET", path, None, "").await.unwrap();
        assert_eq!(answer.status, 404, "{path}");
        assert!(answer.json()["error"].is_string(), "{path}");
    }
    let answer = request(&server, "GET", HEARTBEAT, None, "").await.unwrap();
    assert_eq!(answer.status, 405);
    let statuses: Vec<u16> = server.rejections().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 404, 404, 405]);
    assert_eq!(server.report_count(), 0);
}

/// A blocking client that reports only when started, asked, or given a change.
fn blocking_client(url: &str) -> blocking::HeartbeatClient {
    support::blocking_client(url)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// A plain test with the blocking client: the server runs on its own thread.
#[test]
fn a_plain_test_drives_the_blocking_client() {
    let server = MockServer::start_blocking().unwrap();
    server.set_expected_version("app", "prod", "v2");
    let client = blocking_client(&server.url());
    client.start();
    let first = server.next_report_blocking(WAIT).unwrap();
    assert_eq!(first.config_version, "v1");
    client.set_config_version("v2");
    server.wait_for_version_blocking("v2", WAIT).unwrap();
    assert_eq!(server.wait_for_reports_blocking(2, WAIT).unwrap().len(), 2);
    let err = server
        .next_report_blocking(Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, WaitError::Timeout { .. }));
    client.stop();
    drop(server);
    // Once dropped, the port refuses: the client sees a server that is down.
    assert!(client.report_now().is_err());
}

/// Dropping either kind inside a runtime, of either flavour, neither blocks nor panics.
async fn drop_inside_a_runtime() {
    let on_runtime = MockServer::start().await.unwrap();
    let on_thread = MockServer::start_blocking().unwrap();
    let client = support::client(&on_thread.url())
        .max_retries(1)
        .build()
        .unwrap();
    client.report_now().await.unwrap();
    drop(on_runtime);
    drop(on_thread);
    assert!(client.report_now().await.is_err());
}

both_runtimes!(drop_inside_a_runtime);

/// `start()` polled without a tokio runtime fails with an error that names the way out.
#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut start = std::pin::pin!(MockServer::start());
    let polled = start.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    let Poll::Ready(Err(err)) = polled else {
        panic!("expected an error at once")
    };
    assert!(err.to_string().contains("start_blocking"), "{err}");
}

/// A heartbeat with this `Authorization` (or none), by hand.
async fn heartbeat_as(server: &MockServer, authorization: Option<&str>) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(authorization.map(|value| ("authorization", value)));
    let body = r#"{"instance_id":"i","config_version":"v1"}"#;
    let answer = request_with(server, "POST", HEARTBEAT, &headers, body).await;
    answer.expect("the mock server answers")
}

/// Behind an auth gateway: the right token passes, anything else is 401 with a challenge,
/// recorded as a rejection (never as a report, never echoing what was sent), and uses up no
/// scripted reply. Every route is guarded, one the server does not serve included.
#[tokio::test]
async fn a_required_bearer_token_is_checked_on_every_request() {
    let server = MockServer::builder()
        .require_bearer_token("tok-right-7c1")
        .start()
        .await
        .unwrap();
    server.script([Reply::Status(503)]);
    let refused = [
        (None, r#"Bearer realm="vortex""#),
        (
            Some("Basic dG9rLXJpZ2h0LTdjMQ=="),
            r#"Bearer realm="vortex""#,
        ),
        (
            Some("Bearer tok-wrong-9d2"),
            r#"Bearer realm="vortex", error="invalid_token""#,
        ),
        (
            Some("Bearer tok-right-7c1x"),
            r#"Bearer realm="vortex", error="invalid_token""#,
        ),
    ];
    for (authorization, challenge) in refused {
        let answer = heartbeat_as(&server, authorization).await;
        assert_eq!(answer.status, 401, "{authorization:?}");
        assert_eq!(answer.header("www-authenticate"), Some(challenge));
        assert!(answer.json()["error"].is_string(), "{authorization:?}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("tok-"));
    }
    let rejections = server.rejections();
    assert_eq!(rejections.len(), refused.len());
    assert!(rejections
        .iter()
        .all(|r| r.status == 401 && r.method == "POST"));
    assert!(rejections.iter().all(|r| !r.reason.contains("tok-")));
    assert_eq!(server.report_count(), 0);
    let elsewhere = request(&server, "GET", "/api/drift/drift", None, "").await;
    assert_eq!(elsewhere.unwrap().status, 401, "the gateway answers first");

    // The right token: the scripted reply is still there, then the default.
    let right = Some("Bearer tok-right-7c1");
    assert_eq!(heartbeat_as(&server, right).await.status, 503);
    assert_eq!(
        heartbeat_as(&server, Some("bearer tok-right-7c1"))
            .await
            .status,
        200
    );
    assert_eq!(server.report_count(), 2);
    let auth = [("authorization", "Bearer tok-right-7c1")];
    let elsewhere = request_with(&server, "GET", "/api/drift/drift", &auth, "").await;
    assert_eq!(
        elsewhere.unwrap().status,
        404,
        "past the gateway, the server's own refusal"
    );
}

/// The SDK's client against a server that requires credentials: the right ones report, wrong
/// ones get a permanent 401, for a token and (below) for URL userinfo.
#[tokio::test]
async fn the_client_meets_a_server_that_requires_a_token() {
    let server = MockServer::builder()
        .require_bearer_token("tok-right-7c1")
        .start()
        .await
        .unwrap();
    let client = |token: &str| {
        support::client(&server.url())
            .bearer_token(token)
            .build()
            .unwrap()
    };
    client("tok-right-7c1").report_now().await.unwrap();
    let err = client("tok-wrong-9d2").report_now().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert_eq!((server.report_count(), server.rejections().len()), (1, 1));
}

#[test]
fn the_blocking_client_meets_a_server_that_requires_basic_credentials() {
    let server = MockServer::builder()
        .require_basic_auth("svc@corp", "p@ss:w")
        .start_blocking()
        .unwrap();
    let url = |userinfo: &str| {
        server
            .url()
            .replace("http://", &format!("http://{userinfo}@"))
    };
    let right = blocking_client(&url("svc%40corp:p%40ss%3Aw"));
    right.report_now().unwrap();
    let wrong = blocking_client(&url("svc%40corp:p%40ss"));
    let err = wrong.report_now().unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(err.disposition(), Disposition::Permanent);
    let no_credentials = blocking_client(&server.url());
    assert_eq!(no_credentials.report_now().unwrap_err().status(), Some(401));
    assert_eq!((server.report_count(), server.rejections().len()), (1, 2));
}
