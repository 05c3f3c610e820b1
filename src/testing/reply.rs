//! Scripted answers: how the mock server answers a well-formed heartbeat.

use std::time::Duration;

/// How the mock server answers one well-formed heartbeat: queued with
/// [`MockServer::script`](super::MockServer::script), one per heartbeat, else
/// [`MockServer::set_default_reply`](super::MockServer::set_default_reply). A malformed body
/// gets 400 or 422 whatever the script says; only a 2xx answer counts for the read side.
///
/// ```
/// use std::time::Duration;
/// use vortex_client::testing::Reply;
///
/// let outage = [Reply::Status(503), Reply::RetryAfter(429, "5".into()), Reply::Delay(Duration::from_millis(50))];
/// assert_eq!(outage[0].status(), Some(503));
/// assert_eq!(Reply::Hang.status(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reply {
    /// `200` with the contract's answer `{registered, expected_version, drift_detected}` (the
    /// default).
    #[default]
    Accept,
    /// This status with an empty body.
    Status(u16),
    /// This status with a `Retry-After` header of this value (seconds, or an HTTP date).
    RetryAfter(u16, String),
    /// This status with this raw body (for example a 200 that is not JSON).
    Raw(u16, Vec<u8>),
    /// This redirect status (301, 302, 307, 308) to this `Location`.
    Redirect(u16, String),
    /// The normal answer, after this delay (on tokio's clock: paused time skips it).
    Delay(Duration),
    /// Never answer: the connection stays open, silent, until the client gives up or the mock
    /// server is dropped.
    Hang,
}

impl Reply {
    /// The status this reply answers with (`None` for [`Reply::Hang`]).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Accept | Reply::Delay(_) => Some(200),
            Reply::Status(code)
            | Reply::RetryAfter(code, _)
            | Reply::Raw(code, _)
            | Reply::Redirect(code, _) => Some(*code),
            Reply::Hang => None,
        }
    }

    /// Whether the server registers the heartbeat it answers this way (a 2xx status).
    pub(super) fn registers(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }
}
