//! Examples run as users run them: built with the test's features, then started as a process.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Builds the example `name` and returns its path (from cargo's JSON messages). Built, not `cargo
/// run`: the test then signals the example itself, and no wait includes a build. With this
/// test's features, so the library built for the test is reused (a feature missing from the
/// list costs one more build, never a wrong result); a no-op once built.
pub fn binary(name: &str) -> PathBuf {
    let features = [
        ("rustls-ring", cfg!(feature = "rustls-ring")),
        ("rustls", cfg!(feature = "rustls")),
        ("metrics", cfg!(feature = "metrics")),
        ("testing", cfg!(feature = "testing")),
    ];
    let features: Vec<&str> = features.iter().filter(|f| f.1).map(|f| f.0).collect();
    let mut cargo = Command::new(env!("CARGO"));
    // What cargo set for this test, not for a build: a build script that watches one of these
    // (ring watches CARGO_MANIFEST_DIR) would rebuild, and the next `cargo test` again.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CARGO_PKG_") || key_text.starts_with("CARGO_MANIFEST_") {
            cargo.env_remove(&key);
        }
    }
    let output = cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", name])
        .args(["--message-format", "json-render-diagnostics"])
        .args(["--no-default-features", "--features", &features.join(",")])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["target"]["name"] == name && m["target"]["kind"][0] == "example")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named no executable for the example")
}
