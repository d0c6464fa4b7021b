//! Notification channels for webmon alerts.
//!
//! The alert evaluator (`webmon_core::alert`) decides *what* to say as
//! [`Notification`]s; this crate says it. Every channel is one file behind the one
//! [`Channel`] trait:
//!
//! - [`webhook`]: generic webhook signed per Standard Webhooks (HMAC-SHA256);
//! - [`slack`]: Slack incoming webhook; [`discord`]: Discord webhook;
//! - [`teams`]: Microsoft Teams Workflows (adaptive card);
//! - [`pagerduty`]: PagerDuty Events API v2 (`dedup_key` = incident id);
//! - [`telegram`]: Telegram Bot API `sendMessage`;
//! - [`email`]: email over SMTP (lettre, rustls).
//!
//! Amazon SNS and SES channels are delivered by the AWS adapters, not here:
//! [`build_channel`] refuses them with a configuration error.
//!
//! Around the channels: [`http`] (the shared HTTPS client), [`secrets`] (resolving
//! `${env:...}` / `${secret:...}` at send time), [`render`] (common text), [`retry`]
//! (backoff honouring `Retry-After`) and [`outbox`] (a persistable delivery queue).

#![warn(missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use webmon_core::alert::ChannelConfig;

pub mod discord;
pub mod email;
mod error;
pub mod http;
pub mod incoming;

use incoming::IncomingWebhook;
pub mod outbox;
pub mod pagerduty;
pub mod render;
pub mod retry;
pub mod secrets;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod webhook;

pub use error::NotifyError;
pub use outbox::{Outbox, OutboxEntry, OutboxStatus};
pub use retry::{send_with_retries, RetryPolicy};
pub use secrets::{EnvResolver, MapResolver, SecretResolver};

/// What channels send: the evaluator's intent.
pub type Notification = webmon_core::alert::NotificationIntent;

/// A successful delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Provider status (HTTP status, SMTP reply code).
    pub status: u16,
    /// What the provider returned to refer to the message (PagerDuty `dedup_key`,
    /// Telegram message id, SMTP queue reply), if anything.
    pub reference: Option<String>,
}

/// One notification channel.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The channel id from configuration.
    fn id(&self) -> &str;

    /// Delivers one notification. Secrets are resolved here, at send time.
    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError>;
}

/// What channels are built with.
#[derive(Clone)]
pub struct ChannelContext {
    /// The HTTP client.
    pub http: http::HttpClient,
    /// Resolves secret references at send time.
    pub secrets: Arc<dyn SecretResolver>,
}

impl Default for ChannelContext {
    fn default() -> Self {
        Self {
            http: http::HttpClient::default(),
            secrets: Arc::new(EnvResolver),
        }
    }
}

/// Builds the channel for a validated configuration entry.
pub fn build_channel(
    config: &ChannelConfig,
    ctx: &ChannelContext,
) -> Result<Box<dyn Channel>, NotifyError> {
    let id = config.id().to_string();
    let secrets = ctx.secrets.clone();
    let http = ctx.http.clone();
    Ok(match config {
        ChannelConfig::Webhook { url, secret, .. } => Box::new(webhook::WebhookChannel::new(
            id,
            url.clone(),
            secret.clone(),
            http,
            secrets,
        )),
        ChannelConfig::Slack { url, .. } => Box::new(IncomingWebhook::new(
            id,
            url.clone(),
            slack::payload,
            http,
            secrets,
        )),
        ChannelConfig::Discord { url, .. } => Box::new(IncomingWebhook::new(
            id,
            url.clone(),
            discord::payload,
            http,
            secrets,
        )),
        ChannelConfig::Teams { url, .. } => Box::new(IncomingWebhook::new(
            id,
            url.clone(),
            teams::payload,
            http,
            secrets,
        )),
        ChannelConfig::Pagerduty {
            routing_key, url, ..
        } => Box::new(pagerduty::PagerDutyChannel::new(
            id,
            routing_key.clone(),
            url.clone(),
            http,
            secrets,
        )),
        ChannelConfig::Telegram {
            bot_token,
            chat_id,
            message_thread_id,
            url,
            ..
        } => Box::new(telegram::TelegramChannel::new(
            id,
            telegram::TelegramSettings {
                bot_token: bot_token.clone(),
                chat_id: chat_id.clone(),
                message_thread_id: *message_thread_id,
                base_url: url.clone(),
            },
            http,
            secrets,
        )),
        ChannelConfig::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
            ..
        } => Box::new(email::EmailChannel::new(
            id,
            email::EmailSettings {
                host: host.clone(),
                port: *port,
                security: security.clone(),
                username: username.clone(),
                password: password.clone(),
                from: from.clone(),
                to: to.clone(),
            },
            secrets,
        )),
        ChannelConfig::Sns { .. } | ChannelConfig::Ses { .. } => {
            return Err(NotifyError::Config {
                channel: id,
                reason: format!(
                    "{} channels are delivered by the AWS adapters",
                    config.kind()
                ),
            })
        }
    })
}

/// Resolves a setting, mapping failures to [`NotifyError::Secret`].
pub(crate) fn resolve(
    channel: &str,
    value: &str,
    secrets: &dyn SecretResolver,
) -> Result<String, NotifyError> {
    secrets::expand(value, secrets).map_err(|reason| NotifyError::Secret {
        channel: channel.to_string(),
        reason,
    })
}
