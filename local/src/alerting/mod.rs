//! Alerting in `webmon run`: the evaluator of `webmon_core::alert` fed from the store,
//! its state and outbox kept in the same SQLite file, and delivery through the channels
//! of `webmon-notify`.
//!
//! ```text
//! runner -> NotifyingStore -> SqliteStore.results --(after each batch, every 10 s)--> engine
//!   engine: results after the cursor -> evaluate -> one transaction (state, cursor,
//!           incidents, outbox rows) --wake--> delivery
//!   delivery: due outbox rows -> channel.send (timeout) -> attempt recorded (retry, Retry-After)
//! ```
//!
//! - [`NotifyingStore`] wraps the runner's store and wakes the engine after each batch it
//!   stored: the runner itself is unchanged.
//! - `engine` reads results by storage order from a persisted cursor, so a crash never
//!   loses a result for alerting and never evaluates one twice.
//! - `source` reloads the alerting configuration with the checks file.
//! - `deliver` sends due outbox entries, one incident's notifications in order.
//! - [`PolicyResolver`] resolves channel secrets under the operator's policy.

mod deliver;
mod engine;
mod secrets;
mod source;

pub use engine::Engine;
pub use secrets::PolicyResolver;
pub use source::{for_region, load_for_region, AlertSource};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::store::SqliteStore;
use webmon_core::check::SecretPolicy;
use webmon_core::ports::{Clock, PortError, ResultStore};
use webmon_core::result::ProbeResult;

/// Settings of the alerting tasks.
#[derive(Debug, Clone)]
pub struct AlertingOptions {
    /// The checks file (alerting configuration lives beside `checks:`).
    pub config_path: PathBuf,
    /// The region of this runner; every check is evaluated with this one region.
    pub region: String,
    /// Which `${env:NAME}` references channels may use (the operator's `--secret-env`).
    pub secrets: SecretPolicy,
    /// Evaluations without new results, for time-driven events.
    pub evaluate_every: Duration,
    /// How often the checks file is polled for changes.
    pub reload_every: Duration,
    /// How often the outbox is looked at when nothing wakes the delivery task.
    pub deliver_every: Duration,
    /// Longest single delivery attempt.
    pub send_timeout: Duration,
    /// Longest final delivery pass on shutdown.
    pub drain_timeout: Duration,
}

impl AlertingOptions {
    /// The defaults for a checks file and a region: evaluation every 10 s, reload every
    /// 2 s, delivery every 1 s, 15 s per attempt, 10 s to drain on shutdown.
    pub fn new(config_path: PathBuf, region: &str, secrets: SecretPolicy) -> Self {
        Self {
            config_path,
            region: region.to_string(),
            secrets,
            evaluate_every: Duration::from_secs(10),
            reload_every: Duration::from_secs(2),
            deliver_every: Duration::from_secs(1),
            send_timeout: Duration::from_secs(15),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A [`ResultStore`] that wakes the alerting engine after every batch it stored.
pub struct NotifyingStore<S> {
    inner: Arc<S>,
    stored: Arc<Notify>,
}

impl<S: ResultStore> ResultStore for NotifyingStore<S> {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.inner.write(results).await?;
        self.stored.notify_one();
        Ok(())
    }
}

/// The running alerting tasks.
pub struct Alerting {
    stored: Arc<Notify>,
    stop_engine: watch::Sender<bool>,
    stop_delivery: watch::Sender<bool>,
    engine: JoinHandle<()>,
    delivery: JoinHandle<()>,
}

impl Alerting {
    /// Loads the alerting configuration and the persisted state, evaluates once, and
    /// starts the evaluation and delivery tasks.
    pub async fn start(
        store: SqliteStore,
        clock: Arc<dyn Clock>,
        options: AlertingOptions,
    ) -> Result<Self, PortError> {
        let mut source = AlertSource::new(
            &options.config_path,
            &options.region,
            options.secrets.clone(),
        );
        let config = source.poll().map(|o| o.config).unwrap_or_default();
        let (channels_tx, channels_rx) = watch::channel(config.channels.clone());
        let mut engine = Engine::resume(store.clone(), config, clock.now_ms()).await?;
        let wake = Arc::new(Notify::new());
        if let Err(e) = engine.evaluate(clock.now_ms()).await {
            tracing::error!(error = %e, "alert evaluation failed");
        }
        let stored = Arc::new(Notify::new());
        let (stop_engine, engine_stop) = watch::channel(false);
        let (stop_delivery, delivery_stop) = watch::channel(false);
        let delivery = tokio::spawn(deliver::run(
            deliver::Delivery::new(store, clock.clone(), &options),
            channels_rx,
            wake.clone(),
            delivery_stop,
            options.clone(),
        ));
        let engine = tokio::spawn(engine::run(
            engine,
            engine::Wiring {
                source,
                clock,
                stored: stored.clone(),
                wake_delivery: wake,
                channels: channels_tx,
                stop: engine_stop,
                options,
            },
        ));
        Ok(Self {
            stored,
            stop_engine,
            stop_delivery,
            engine,
            delivery,
        })
    }

    /// Wraps the runner's store so that each stored batch is evaluated at once.
    pub fn store<S>(&self, inner: Arc<S>) -> NotifyingStore<S> {
        NotifyingStore {
            inner,
            stored: self.stored.clone(),
        }
    }

    /// Evaluates what was stored last, delivers what is due (bounded by
    /// `drain_timeout`), and stops both tasks.
    pub async fn stop(self) {
        let _ = self.stop_engine.send(true);
        if let Err(e) = self.engine.await {
            tracing::error!(error = %e, "the alert engine failed");
        }
        let _ = self.stop_delivery.send(true);
        if let Err(e) = self.delivery.await {
            tracing::error!(error = %e, "the alert delivery failed");
        }
    }
}
