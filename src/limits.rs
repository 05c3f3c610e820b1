//! Every limit the client enforces, in one place: what a setting may hold, how large a request
//! or an answer may be, and the server's facts the client plans around. The values a user
//! meets are in the validation table of `docs/security.md`; `build()` names any that is broken.

use std::time::Duration;

/// Longest `app`, `profile` or `instance_id`, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 253;
/// Longest configuration version, in bytes.
pub(crate) const MAX_VERSION_LEN: usize = 256;
/// Most custom labels.
pub(crate) const MAX_LABELS: usize = 64;
/// Longest custom label key, in bytes.
pub(crate) const MAX_LABEL_KEY_LEN: usize = 128;
/// Longest custom label value (and detected metadata value), in bytes.
pub(crate) const MAX_LABEL_VALUE_LEN: usize = 1024;
/// Longest server URL, in bytes.
pub(crate) const MAX_URL_LEN: usize = 2048;
/// Most extra headers.
pub(crate) const MAX_HEADERS: usize = 32;
/// Longest extra header value or bearer token, in bytes.
pub(crate) const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;
/// Longest duration setting. Anything longer is a mistake (the server forgets an instance
/// after 5 minutes of silence), and the bound keeps every deadline far from overflowing.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Shortest `interval`, `initial_retry_delay` and `connection_max_age`: anything shorter
/// would be a busy loop against the server (or a reconnection per report).
pub(crate) const MIN_PERIOD: Duration = Duration::from_millis(1);
/// Most server URLs in one list. A round in which every server fails costs one request (at
/// worst one `timeout`) per URL: 8 keeps it under a minute at the default timeout, far inside
/// the server's 5-minute instance TTL.
pub(crate) const MAX_SERVER_URLS: usize = 8;

/// The most response-body bytes the client reads: a server cannot make it buffer megabytes.
/// A larger answer is a
/// [`ReporterError::ResponseTooLarge`](crate::ReporterError::ResponseTooLarge).
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The largest request body the client sends: a gateway in front of the server must accept it.
pub(crate) const MAX_REQUEST_BYTES: usize = 32 * 1024;
pub(crate) use crate::schedule::MAX_RETRY_AFTER;

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
