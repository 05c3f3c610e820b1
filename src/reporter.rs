//! The report's public vocabulary under its historical path: the wire types, the errors and
//! the size limits. Everything here is also exported at the crate root.

pub use crate::answer::HeartbeatResponse;
pub use crate::error::{Cause, Disposition, ReporterError};
pub use crate::limits::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
pub use crate::wire::Health;

#[doc(hidden)]
pub use crate::endpoint::heartbeat_url;
#[doc(hidden)]
pub use crate::retry_after::parse_retry_after;
