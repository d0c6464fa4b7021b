//! The evaluation side: results after the persisted cursor go through
//! [`webmon_core::alert::evaluate`], and the new state, the cursor, the incidents and
//! the outbox entries of the intents are committed in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use super::source::AlertSource;
use super::AlertingOptions;
use crate::store::{AlertCommit, SqliteStore};
use webmon_core::alert::{evaluate, AlertConfig, AlertState, ChannelConfig};
use webmon_core::ports::{Clock, PortError};

/// Results read from the store per evaluation step.
pub const RESULTS_PER_STEP: usize = 5_000;

/// How far back ended silences are still passed to the evaluator (held changes are
/// judged at their own time).
const SILENCE_LOOKBACK_MS: i64 = 24 * 3600 * 1000;

/// The evaluator with its persisted memory.
pub struct Engine {
    store: SqliteStore,
    state: AlertState,
    cursor: i64,
    config: AlertConfig,
}

/// What one [`Engine::evaluate`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Results evaluated.
    pub results: usize,
    /// Notifications enqueued (one per intent, whatever its channels).
    pub intents: usize,
}

impl Engine {
    /// Continues from the stored state; without one, starts empty at the newest stored
    /// result, so history recorded before alerting existed never notifies.
    pub async fn resume(
        store: SqliteStore,
        config: AlertConfig,
        now_ms: i64,
    ) -> Result<Self, PortError> {
        let (state, cursor) = match store.load_alerting().await? {
            Some(stored) => {
                tracing::info!(
                    checks = stored.state.checks.len(),
                    open_incidents = stored
                        .state
                        .checks
                        .values()
                        .filter(|c| c.incident.as_ref().is_some_and(|i| i.is_open()))
                        .count(),
                    "alert state restored"
                );
                (stored.state, stored.cursor)
            }
            None => {
                let cursor = store.last_result_id().await?;
                tracing::info!(cursor, now_ms, "alert state starts empty");
                (AlertState::default(), cursor)
            }
        };
        Ok(Self {
            store,
            state,
            cursor,
            config,
        })
    }

    /// The state as of the last commit.
    pub fn state(&self) -> &AlertState {
        &self.state
    }

    /// Replaces the configuration (the next evaluation uses it).
    pub fn set_config(&mut self, config: AlertConfig) {
        self.config = config;
    }

    /// Evaluates every result stored since the last call, in steps of
    /// [`RESULTS_PER_STEP`], committing each step.
    pub async fn evaluate(&mut self, now_ms: i64) -> Result<Evaluation, PortError> {
        let silences = self.store.silences(now_ms - SILENCE_LOOKBACK_MS).await?;
        let mut done = Evaluation::default();
        // Bounded: each step consumes results, and the last one is shorter than a step.
        for _ in 0..10_000 {
            let (results, last) = self
                .store
                .results_after(self.cursor, RESULTS_PER_STEP)
                .await?;
            let (next, intents) = evaluate(&self.state, &results, now_ms, &self.config, &silences);
            let commit = AlertCommit::new(&self.state, &next, &intents, last, now_ms)?;
            self.store.commit_alerting(commit).await?;
            for n in &intents {
                tracing::info!(id = %n.id, kind = n.kind.as_str(), channels = ?n.channels, title = %n.title(), "notification enqueued");
            }
            self.state = next;
            self.cursor = last;
            done.results += results.len();
            done.intents += intents.len();
            if results.len() < RESULTS_PER_STEP {
                break;
            }
        }
        Ok(done)
    }
}

/// What the engine task is wired to.
pub(super) struct Wiring {
    pub source: AlertSource,
    pub clock: Arc<dyn Clock>,
    pub stored: Arc<Notify>,
    pub wake_delivery: Arc<Notify>,
    pub channels: watch::Sender<BTreeMap<String, ChannelConfig>>,
    pub stop: watch::Receiver<bool>,
    pub options: AlertingOptions,
}

/// Evaluates after each stored batch and on a timer, reloads the configuration with
/// the checks file, and evaluates once more when stopped.
pub(super) async fn run(mut engine: Engine, mut w: Wiring) {
    let mut timer = tokio::time::interval(w.options.evaluate_every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reload = tokio::time::interval(w.options.reload_every);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = w.stop.changed() => break,
            _ = reload.tick() => {
                if let Some(outcome) = w.source.poll() {
                    let _ = w.channels.send(outcome.config.channels.clone());
                    engine.set_config(outcome.config);
                }
                continue;
            }
            _ = w.stored.notified() => {}
            _ = timer.tick() => {}
        }
        step(&mut engine, &w).await;
    }
    step(&mut engine, &w).await;
}

async fn step(engine: &mut Engine, w: &Wiring) {
    match engine.evaluate(w.clock.now_ms()).await {
        Ok(e) if e.intents > 0 => w.wake_delivery.notify_one(),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "alert evaluation failed; retrying at the next one"),
    }
}
