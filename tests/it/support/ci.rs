//! Whether the tests run in CI, where a test that cannot run must fail rather than skip.

/// True when `CI` is set (to anything but empty, `0` or `false`); `.ci/run` exports it before
/// the test step.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}
