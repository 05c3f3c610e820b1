//! Every limit the client enforces, in one place: what a setting may hold, how large a request
//! or an answer may be, and the server's facts the client plans around.

use std::time::Duration;

/// Longest accepted `app`, `profile` or `instance_id`, in bytes.
pub const MAX_NAME_LEN: usize = 253;
/// Longest accepted configuration version, in bytes.
pub const MAX_VERSION_LEN: usize = 256;
/// Most custom labels accepted.
pub const MAX_LABELS: usize = 64;
/// Longest accepted custom label key, in bytes.
pub const MAX_LABEL_KEY_LEN: usize = 128;
/// Longest accepted custom label value (and detected metadata value), in bytes.
pub const MAX_LABEL_VALUE_LEN: usize = 1024;
/// Longest accepted `server_url`, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Most extra headers accepted (see [`HeartbeatBuilder::header`](crate::HeartbeatBuilder::header)).
pub const MAX_HEADERS: usize = 32;
/// Longest accepted extra header value or bearer token, in bytes.
pub const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;
/// Longest accepted duration setting: `interval`, `timeout`, `connect_timeout`,
/// `initial_retry_delay`, `max_retry_delay`, `min_report_gap`, `stop_grace`,
/// `health_check_timeout` and `connection_max_age` (24 hours).
///
/// Anything longer is a mistake (the server forgets an instance after 5 minutes of silence),
/// and a bound keeps every deadline the client computes far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Shortest accepted `interval`, `initial_retry_delay` and `connection_max_age`: anything
/// shorter would turn the worker into a busy loop against the server (or reconnect on every
/// report).
pub const MIN_PERIOD: Duration = Duration::from_millis(1);

/// The most response-body bytes the client reads. A larger answer is an error and the
/// connection is dropped: a misbehaving server cannot make the client buffer megabytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The largest request body the client sends.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024;
pub use crate::schedule::MAX_RETRY_AFTER;

/// The server forgets an instance that has not reported for this long (its default TTL).
pub(crate) const SERVER_INSTANCE_TTL: Duration = Duration::from_secs(300);
/// Room left in the request body for detected metadata (host name, pod, region, ...) when
/// explicit metadata is checked against [`MAX_REQUEST_BYTES`].
pub(crate) const DETECTED_METADATA_ALLOWANCE: usize = 8 * 1024;
/// The most bytes detected values may take in the JSON body: the allowance above, less room
/// for the members' names.
pub(crate) const DETECTED_JSON_BUDGET: usize = 7 * 1024;
/// The largest file read during detection (a Kubernetes namespace file is a few bytes).
pub(crate) const MAX_FILE_BYTES: u64 = 4096;
/// How much of an error response's body is kept for the error message, in characters.
pub(crate) const ERROR_BODY_SNIPPET: usize = 256;
/// How much of a redirect's `Location` is kept for the error message, in characters.
pub(crate) const MAX_SHOWN_LOCATION: usize = 512;
/// How much of a rejected value an error message quotes, in characters.
pub(crate) const MAX_QUOTED_CHARS: usize = 64;

/// Most server URLs accepted in one list (`server_urls`, or a comma-separated `VORTEX_URL`).
///
/// A round in which every server fails costs one request, and at worst one `timeout`, per
/// URL: 8 keeps that round under a minute at the default 5 s timeout, far inside the server's
/// 5-minute instance TTL. The anchors try fewer (the Eureka client at most 3 per request); a
/// longer list is a mistake, not a deployment.
pub const MAX_SERVER_URLS: usize = 8;
