//! The sandbox clock (`memberhub dev --test-clock` only).

use memberhub_proto::sandbox as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::timestamp;

/// The suite's movable clock.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SandboxClock {
    /// What every service takes as now (RFC 3339, UTC).
    pub now: Option<String>,
    /// How far the clock is ahead of the wall clock, in seconds.
    pub offset_seconds: i64,
    /// The periodic jobs that ran at `now` before this answer.
    pub caught_up_jobs: Vec<String>,
    /// The periodic jobs still finishing a run at an earlier time (they run at `now` next).
    pub pending_jobs: Vec<String>,
}

impl From<pb::Clock> for SandboxClock {
    fn from(c: pb::Clock) -> Self {
        Self {
            now: timestamp(c.now),
            offset_seconds: c.offset_seconds,
            caught_up_jobs: c.caught_up_jobs,
            pending_jobs: c.pending_jobs,
        }
    }
}

/// Where to move the clock.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct AdvanceSandboxClock {
    /// RFC 3339; not earlier than the clock's time (moving to the time it shows changes
    /// nothing, so a retry is safe).
    pub to: Option<String>,
}
