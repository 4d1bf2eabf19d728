//! `/readyz` with hysteresis: a replica reports itself unready only after its database has been
//! unreachable for `server.readiness_grace_secs`. A sub-second database restart would otherwise
//! take every replica out of the load balancer at the same moment, turning a blip that requests
//! ride out (see `store::outage`) into a full outage.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a readiness probe waits for the database: a probe must answer before the load
/// balancer's own check times out, whatever the store's retry budget.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// When the database last answered this replica's probe; cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    grace: Duration,
    /// Start of the current run of failed probes; `None` while probes succeed.
    failing_since: Arc<Mutex<Option<Instant>>>,
}

/// What a probe concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The database answered.
    Ready,
    /// It did not, but only for less than the grace: still ready.
    Blip,
    /// Unreachable for at least the grace.
    Unready,
}

impl Readiness {
    /// Readiness that tolerates `grace` of failed probes.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            failing_since: Arc::default(),
        }
    }

    /// Records a probe's outcome at `now` and says what to answer.
    pub fn record(&self, ok: bool, now: Instant) -> Verdict {
        let mut since = self.failing_since.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            *since = None;
            return Verdict::Ready;
        }
        let start = *since.get_or_insert(now);
        if now.duration_since(start) < self.grace {
            Verdict::Blip
        } else {
            Verdict::Unready
        }
    }
}
