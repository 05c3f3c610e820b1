//! `examples/quickstart.rs` pointed at a server without the drift API (404 to every report):
//! one line of error with the hint, printed once with Display, a non-zero exit, and the log
//! level from `RUST_LOG`.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::example;
use crate::support::replies::answering_blocking;

const HINT: &str = "no drift API at this URL";

fn run_quickstart(server_url: &str, rust_log: Option<&str>) -> Output {
    let mut command = Command::new(example::binary("quickstart"));
    // Only what the test sets: a VORTEX_* variable of the caller must not leak in.
    command
        .env_clear()
        .env("VORTEX_URL", server_url)
        .env("VORTEX_APP", "payment-service")
        .env("VORTEX_PROFILE", "production")
        .stdin(Stdio::null());
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    command.output().expect("run the quickstart")
}

#[test]
fn a_server_without_the_drift_api_ends_the_quickstart_with_one_line_and_the_hint() {
    let server = answering_blocking(404);
    let output = run_quickstart(&server.url(), None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("answered 404"),
        "{}",
        error_lines[0]
    );
    assert!(
        !error_lines[0].contains("Status {"),
        "Display, not Debug: {}",
        error_lines[0]
    );
    let everything = format!("{stdout}{stderr}");
    assert_eq!(everything.matches(HINT).count(), 1, "{everything}");
    assert!(!everything.contains("DEBUG"), "{everything}");
    assert!(server
        .wait_for_reports_blocking(1, Duration::from_secs(5))
        .is_ok());
}

#[test]
fn rust_log_sets_the_quickstarts_log_level() {
    let server = answering_blocking(404);
    let output = run_quickstart(&server.url(), Some("debug"));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("DEBUG"), "{logs}");
    assert_eq!(output.status.code(), Some(1));
}
