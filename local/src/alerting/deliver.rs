//! The delivery side: pending outbox entries are sent through channels built with
//! `webmon_notify::build_channel`, each attempt bounded by a timeout and recorded at
//! once (attempts, next attempt after backoff or the receiver's `Retry-After`, final
//! failure). The notifications of one incident (or one intent) on one channel go out in
//! order: a later one waits while an earlier one is pending.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::{AlertingOptions, PolicyResolver};
use crate::store::SqliteStore;
use webmon_core::alert::ChannelConfig;
use webmon_core::ports::{Clock, PortError};
use webmon_notify::{build_channel, Channel, ChannelContext, NotifyError, Outbox};

/// Pending entries looked at per pass.
const ENTRIES_PER_PASS: usize = 500;

/// Sent and failed entries are kept this long, for `webmon alerts status`.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// Channels and the store they deliver from.
pub(super) struct Delivery {
    store: SqliteStore,
    clock: Arc<dyn Clock>,
    ctx: ChannelContext,
    channels: BTreeMap<String, Box<dyn Channel>>,
    send_timeout: Duration,
    pruned_at_ms: i64,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Attempts made.
    pub attempts: usize,
    /// Of which delivered.
    pub delivered: usize,
}

impl Delivery {
    pub(super) fn new(
        store: SqliteStore,
        clock: Arc<dyn Clock>,
        options: &AlertingOptions,
    ) -> Self {
        let ctx = ChannelContext {
            secrets: Arc::new(PolicyResolver::new(options.secrets.clone())),
            ..ChannelContext::default()
        };
        Self {
            store,
            clock,
            ctx,
            channels: BTreeMap::new(),
            send_timeout: options.send_timeout,
            pruned_at_ms: 0,
        }
    }

    /// Rebuilds the channels from configuration (a channel that cannot be built is
    /// logged; its entries fail with that reason).
    pub(super) fn set_channels(&mut self, configs: &BTreeMap<String, ChannelConfig>) {
        self.channels.clear();
        for (id, config) in configs {
            match build_channel(config, &self.ctx) {
                Ok(channel) => {
                    self.channels.insert(id.clone(), channel);
                }
                Err(e) => tracing::error!(channel = %id, error = %e, "channel cannot be used"),
            }
        }
    }

    /// Attempts every due entry once (in order per incident and channel).
    pub(super) async fn pass(&mut self) -> Result<Pass, PortError> {
        let now = self.clock.now_ms();
        if now - self.pruned_at_ms > 3600 * 1000 {
            self.store.outbox_prune(now - KEEP_MS).await?;
            self.pruned_at_ms = now;
        }
        let mut outbox = Outbox {
            entries: self.store.outbox_pending(ENTRIES_PER_PASS).await?,
            ..Outbox::default()
        };
        let mut blocked = BTreeSet::new();
        let mut pass = Pass::default();
        for i in 0..outbox.entries.len() {
            let e = &outbox.entries[i];
            let key = (
                e.channel_id.clone(),
                e.notification
                    .incident_id
                    .clone()
                    .unwrap_or_else(|| e.intent_id.clone()),
            );
            if blocked.contains(&key) || e.next_attempt_at_ms > self.clock.now_ms() {
                blocked.insert(key);
                continue;
            }
            let outcome = match self.channels.get(&e.channel_id) {
                Some(channel) => {
                    match tokio::time::timeout(self.send_timeout, channel.send(&e.notification))
                        .await
                    {
                        Ok(outcome) => outcome,
                        Err(_) => Err(NotifyError::Transport {
                            channel: e.channel_id.clone(),
                            reason: format!("no answer within {:?}", self.send_timeout),
                        }),
                    }
                }
                None => Err(NotifyError::Config {
                    channel: e.channel_id.clone(),
                    reason: "no such channel is configured (or it cannot be built)".into(),
                }),
            };
            outbox.record(i, &outcome, self.clock.now_ms());
            let e = &outbox.entries[i];
            pass.attempts += 1;
            match &outcome {
                Ok(_) => {
                    pass.delivered += 1;
                    tracing::info!(id = %e.intent_id, channel = %e.channel_id, kind = e.notification.kind.as_str(), "notification delivered");
                }
                Err(err) => {
                    tracing::warn!(id = %e.intent_id, channel = %e.channel_id, attempt = e.attempts, status = ?e.status, error = %err, "notification not delivered");
                    blocked.insert(key);
                }
            }
            self.store.outbox_update(e).await?;
        }
        Ok(pass)
    }
}

/// Delivers when woken, every `deliver_every`, and once more (bounded) when stopped.
pub(super) async fn run(
    mut delivery: Delivery,
    mut channels: watch::Receiver<BTreeMap<String, ChannelConfig>>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    options: AlertingOptions,
) {
    delivery.set_channels(&channels.borrow_and_update());
    let mut timer = tokio::time::interval(options.deliver_every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            Ok(()) = channels.changed() => {
                let configs = channels.borrow_and_update().clone();
                delivery.set_channels(&configs);
            }
            _ = wake.notified() => {}
            _ = timer.tick() => {}
        }
        if let Err(e) = delivery.pass().await {
            tracing::error!(error = %e, "alert delivery failed; retrying");
        }
    }
    match tokio::time::timeout(options.drain_timeout, delivery.pass()).await {
        Ok(Err(e)) => tracing::error!(error = %e, "alert delivery failed on shutdown"),
        Err(_) => tracing::warn!("shutdown: undelivered notifications stay in the outbox"),
        Ok(Ok(_)) => {}
    }
}
