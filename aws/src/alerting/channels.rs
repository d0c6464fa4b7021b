//! The channels of the notifier: those of `webmon-notify`, plus Amazon SNS and SES,
//! with `${secret:NAME}` read from Secrets Manager under the deployment's channel
//! prefix (`webmon/<tenant>/channel/NAME`; the notifier role may read nothing else).
//!
//! `${env:NAME}` is refused here: the notifier's environment is the operator's, and a
//! channel definition must not be a way to read it. A secret is the plain string, or
//! JSON whose `value` field is the string.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use webmon_core::alert::channels::channel_secret_refs;
use webmon_core::alert::ChannelConfig;
use webmon_notify::{build_channel, Channel, ChannelContext, MapResolver, NotifyError};

use super::ses::SesChannel;
use super::sns::SnsChannel;

use crate::AwsError;

/// Environment variable naming the Secrets Manager prefix of channel secrets.
pub const CHANNEL_SECRETS_PREFIX_ENV: &str = "WEBMON_CHANNEL_SECRETS_PREFIX";

/// The AWS clients channels use.
#[derive(Debug, Clone)]
pub struct AwsChannelClients {
    /// SNS.
    pub sns: super::sns::Client,
    /// SES (v2 API).
    pub ses: super::ses::Client,
    /// Secrets Manager, for `${secret:NAME}`.
    pub secrets: Client,
    /// Prefix of channel secret names.
    pub secrets_prefix: String,
}

impl AwsChannelClients {
    /// Clients from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig, secrets_prefix: impl Into<String>) -> Self {
        Self {
            sns: super::sns::Client::new(config),
            ses: super::ses::Client::new(config),
            secrets: Client::new(config),
            secrets_prefix: secrets_prefix.into(),
        }
    }

    /// Reads every `${secret:NAME}` the channels use. A reference that cannot be read is
    /// left out, so the channels using it fail with a secret error naming it.
    async fn secrets(&self, channels: &[ChannelConfig]) -> MapResolver {
        let mut values = BTreeMap::new();
        for channel in channels {
            for (_, kind, name) in channel_secret_refs(channel) {
                let key = format!("{kind}:{name}");
                if kind != "secret" || values.contains_key(&key) {
                    continue;
                }
                match self.read(&name).await {
                    Ok(v) => {
                        values.insert(key, v);
                    }
                    Err(e) => {
                        tracing::error!(channel = channel.id(), secret = %name, error = %e, "channel secret cannot be read")
                    }
                }
            }
        }
        MapResolver(values)
    }

    async fn read(&self, name: &str) -> Result<String, AwsError> {
        let client: &Client = &self.secrets;
        let out = client
            .get_secret_value()
            .secret_id(format!("{}{name}", self.secrets_prefix))
            .send()
            .await
            .map_err(|e| AwsError::call("secretsmanager", "GetSecretValue", e))?;
        let text = out.secret_string().unwrap_or_default();
        Ok(match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => map
                .get("value")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            _ => text.trim().to_string(),
        })
    }

    /// Builds every channel; one that cannot be built is logged and left out (its
    /// deliveries fail with "no such channel").
    pub async fn build(&self, channels: &[ChannelConfig]) -> BTreeMap<String, Arc<dyn Channel>> {
        let ctx = ChannelContext {
            secrets: Arc::new(EnvRefused(self.secrets(channels).await)),
            ..ChannelContext::default()
        };
        let mut built: BTreeMap<String, Arc<dyn Channel>> = BTreeMap::new();
        for config in channels {
            let channel: Result<Arc<dyn Channel>, NotifyError> = match config {
                ChannelConfig::Sns { id, topic_arn } => Ok(Arc::new(SnsChannel::new(
                    id.clone(),
                    topic_arn.clone(),
                    self.sns.clone(),
                ))),
                ChannelConfig::Ses { id, from, to } => Ok(Arc::new(SesChannel::new(
                    id.clone(),
                    from.clone(),
                    to.clone(),
                    self.ses.clone(),
                ))),
                other => build_channel(other, &ctx).map(Arc::from),
            };
            match channel {
                Ok(c) => {
                    built.insert(config.id().to_string(), c);
                }
                Err(e) => {
                    tracing::error!(channel = config.id(), error = %e, "channel cannot be used")
                }
            }
        }
        built
    }
}

/// Secrets read beforehand; `${env:...}` refused.
struct EnvRefused(MapResolver);

impl webmon_notify::SecretResolver for EnvRefused {
    fn resolve(&self, kind: &str, name: &str) -> Result<String, String> {
        match kind {
            "secret" => self
                .0
                 .0
                .get(&format!("secret:{name}"))
                .cloned()
                .ok_or_else(|| format!("secret {name} cannot be read (see the notifier's log)")),
            _ => Err(format!(
                "${{{kind}:{name}}} is not available to channels on AWS; store the value in Secrets Manager and use ${{secret:{name}}}"
            )),
        }
    }
}

/// A failed SNS or SES call as a channel error: retriable (transport) when the AWS call
/// is, else a configuration error (a wrong topic, an unverified sender).
pub(super) fn aws_failure<E, R>(
    channel: &str,
    err: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> NotifyError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retriable = crate::error::is_retriable(&err);
    let reason = aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string();
    if retriable {
        NotifyError::Transport {
            channel: channel.to_string(),
            reason,
        }
    } else {
        NotifyError::Config {
            channel: channel.to_string(),
            reason,
        }
    }
}
