//! The sweeper (every minute, home region): the time-driven half of alerting.
//!
//! 1. Every check that is not settled (index `active`) is evaluated with no new
//!    results: rounds whose missing regions never came, regions gone stale (UNKNOWN),
//!    reminders, the end of flapping and of maintenance.
//! 2. Probe-region liveness: a region silent for three of its shortest check interval
//!    (at least five minutes) opens a "probe region silent" incident for the operator
//!    channels ([`super::liveness`]).
//! 3. Deliveries due again (retries, expired claims, ones that waited for an earlier
//!    notification) are attempted.

use webmon_core::ports::CheckRepository;

use super::deliver::{Delivered, Notifier};
use super::evaluate::AlertEvaluator;
use super::liveness;
use crate::AwsError;

/// Deliveries attempted per sweep.
pub const DUE_PER_SWEEP: i32 = 200;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Active checks evaluated.
    pub evaluated: usize,
    /// Notifications enqueued by those evaluations.
    pub intents: usize,
    /// Region liveness notifications enqueued.
    pub region_events: usize,
    /// Due deliveries attempted.
    pub delivered: Delivered,
    /// Checks whose evaluation failed (tried again next minute).
    pub failed: Vec<String>,
}

/// Runs one sweep.
pub async fn sweep<R: CheckRepository>(
    evaluator: &AlertEvaluator<R>,
    notifier: &Notifier,
) -> Result<Swept, AwsError> {
    let clock = evaluator.clock();
    let mut swept = Swept::default();
    let config = evaluator.config(clock.now_ms()).await?;
    for id in evaluator.table().active_checks().await? {
        match evaluator.check(&id, &[], &config, clock).await {
            Ok(step) => {
                swept.evaluated += 1;
                swept.intents += step.intents;
            }
            Err(e) => {
                tracing::error!(check_id = %id, error = %e, "sweep evaluation failed; tried again next minute");
                swept.failed.push(id);
            }
        }
    }
    swept.region_events = liveness::sweep(
        evaluator.table(),
        &liveness::silent_after(&config),
        &config.global.operator_channels,
        clock.now_ms(),
    )
    .await?
    .len();
    swept.delivered = notifier.deliver_due(DUE_PER_SWEEP, clock).await?;
    tracing::info!(
        evaluated = swept.evaluated,
        intents = swept.intents,
        region_events = swept.region_events,
        sent = swept.delivered.sent,
        retry = swept.delivered.retry,
        failed = swept.delivered.failed,
        "sweep done"
    );
    Ok(swept)
}
