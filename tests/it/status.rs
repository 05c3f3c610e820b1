//! A status users can show and act on: "unknown" is not "no drift", the status and the drift
//! view serialise to JSON, and dropping the last handle of a running client says so.

use std::time::Duration;

use crate::support::replies::answering;
use crate::support::{capture_logs, client, dead_port};
use vortex_client::testing::{MockServer, Reply};
use vortex_client::HeartbeatClient;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_unreachable_server_leaves_drift_unknown() {
    let url = format!("http://{}", dead_port().await);
    let c = client(&url).build().unwrap();
    let mut status = c.subscribe();
    c.start().await;
    status.wait_for(|s| s.reports_failed > 0).await.unwrap();
    assert_eq!(c.status().drift.drift_detected, None);
    assert_eq!(c.status().drift.drift_detected, None);
    c.stop().await;
}

#[tokio::test]
async fn a_server_without_the_drift_api_leaves_drift_unknown() {
    let rx = answering(404).await;
    let c = client(&rx.url()).build().unwrap();
    assert!(c.report_now().await.is_err());
    assert_eq!(c.status().drift.drift_detected, None);
    assert_eq!(c.status().drift.drift_detected, None);
}

#[tokio::test]
async fn no_drift_and_drift_are_known_after_an_accepted_report() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    c.report_now().await.unwrap();
    assert_eq!(c.status().drift.drift_detected, Some(false));
    assert_eq!(c.status().drift.drift_detected, Some(false));
    assert_eq!(
        c.status().drift.expected_version,
        None,
        "no expectation on the server"
    );

    rx.set_expected_version("app", "prod", "v2");
    c.report_now().await.unwrap();
    assert_eq!(c.status().drift.drift_detected, Some(true));
    assert_eq!(c.status().drift.refresh_to(), Some("v2"));
}

#[tokio::test]
async fn the_status_serialises_with_rfc3339_times() {
    let (_rx, c) = drifted().await;
    let json = serde_json::to_value(c.status()).unwrap();
    let last_success = json["last_success"].as_str().unwrap();
    // e.g. 2026-11-30T23:40:21.123Z
    assert_eq!(last_success.len(), 24, "{last_success}");
    assert!(last_success.ends_with('Z') && last_success.as_bytes()[10] == b'T');
    assert_eq!(json["last_attempt"], json["last_success"]);
    assert_eq!(
        json["drift"],
        serde_json::json!({"expected_version": "v2", "drift_detected": true, "reported_version": "v1"})
    );
    assert_eq!(json["reports_accepted"], 1);
    assert_eq!(json["consecutive_failures"], 0);
    assert_eq!(json["last_error"], serde_json::Value::Null);
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_last_handle_of_a_running_client_warns_once() {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    let clone = c.clone();
    drop(c);
    assert!(logs.lines("WARN", "last handle was dropped").is_empty());
    drop(clone);
    let warned = logs.lines("WARN", "last handle was dropped");
    assert_eq!(warned.len(), 1, "{}", logs.text());
    assert!(warned[0].contains("keep the client"), "{}", warned[0]);
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_stopped_or_unstarted_client_is_quiet() {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    c.stop().await;
    drop(c);
    drop(client(&rx.url()).build().unwrap());
    // The capture saw the client's lifecycle, so the silence below is the client's.
    assert_eq!(
        logs.lines("INFO", "heartbeat client stopped").len(),
        1,
        "{}",
        logs.text()
    );
    assert!(
        logs.lines("WARN", "last handle").is_empty(),
        "{}",
        logs.text()
    );
}

/// A server that expects v2, and a client at v1 that has learnt so from one report.
async fn drifted() -> (MockServer, HeartbeatClient) {
    let rx = MockServer::start().await.unwrap();
    rx.set_expected_version("app", "prod", "v2");
    let c = client(&rx.url()).build().unwrap();
    c.report_now().await.unwrap();
    (rx, c)
}

/// The drift facts `status()` shows: the expected version and whether the client drifted.
fn facts(c: &HeartbeatClient) -> (Option<String>, Option<bool>) {
    let d = c.status().drift;
    (d.expected_version, d.drift_detected)
}

/// One member of the wrong type is ignored alone: a drift already known is not wiped.
#[tokio::test]
async fn a_wrongly_typed_member_keeps_the_drift_facts() {
    let (rx, c) = drifted().await;
    let known = (Some("v2".to_owned()), Some(true));
    assert_eq!(facts(&c), known);
    for body in [
        &br#"{"registered":"yes","expected_version":"v2","drift_detected":true}"#[..],
        br#"{"registered":true,"expected_version":"v2","drift_detected":"true"}"#,
        br#"{"registered":true,"expected_version":2,"drift_detected":true}"#,
        br#"{"registered":true,"expected_version":2,"drift_detected":"maybe"}"#,
        b"<html>gateway says hi</html>",
    ] {
        rx.script([Reply::Raw(200, body.to_vec())]);
        let answer = c.report_now().await.unwrap();
        assert_eq!(facts(&c), known, "{}", String::from_utf8_lossy(body));
        assert_eq!(answer.expected_version.as_deref(), Some("v2"));
        assert!(answer.drift_detected);
    }
    // A well-typed answer still moves the facts.
    rx.set_expected_version("app", "prod", "v1");
    c.report_now().await.unwrap();
    assert_eq!(facts(&c), (Some("v1".to_owned()), Some(false)));
}

/// A member of the contract nested deeper than serde_json's recursion limit (128 levels, the
/// object included) makes the whole answer unreadable: delivered, without drift facts. (The
/// typed visitor the answer was read by before ignored it alone.) Less deep, it is ignored
/// alone.
#[tokio::test]
async fn a_member_nested_past_the_recursion_limit_voids_the_answer() {
    let (rx, c) = drifted().await;
    let nested = |depth: usize| {
        let registered = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        format!(r#"{{"registered":{registered},"expected_version":"v3","drift_detected":false}}"#)
    };
    rx.script([Reply::Raw(200, nested(200).into_bytes())]);
    c.report_now().await.unwrap();
    assert_eq!(facts(&c), (Some("v2".to_owned()), Some(true)));
    rx.script([Reply::Raw(200, nested(100).into_bytes())]);
    c.report_now().await.unwrap();
    assert_eq!(facts(&c), (Some("v3".to_owned()), Some(false)));
}
