//! The probe Lambda's time budget, shared by the probe service (which cancels what runs
//! at the deadline) and check validation on AWS (which refuses checks that cannot fit).

use std::time::Duration;

/// The probe Lambda's timeout, as the programs deploy it (`probeTimeoutSeconds`) and
/// `docs/aws.md` documents it.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// Time kept before the invocation deadline to cancel what runs and send the rest.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The time a check's executions may take in one invocation, counted from the start of
/// the trigger minute: the probe's timeout less the margin it keeps to send its results.
pub fn probe_time_budget() -> Duration {
    PROBE_TIMEOUT - DEADLINE_MARGIN
}
