//! Alerting on AWS, in the home region: the evaluator of `webmon_core::alert` run per
//! check against a DynamoDB table, a transactional outbox, and delivery.
//!
//! ```text
//! writer Lambda: store results -> AlertEvaluator::apply -> per check: GetItem,
//!     evaluate_check, TransactWriteItems(state if ver unchanged, NOTIFY# items if new)
//! alert table stream (INSERT NOTIFY#) -> notifier Lambda -> claim, send, record
//! EventBridge rate(1 minute) -> sweeper Lambda -> active checks, region liveness, due deliveries
//! ```
//!
//! - [`table`]: the table, its items and the conditional commit.
//! - [`evaluate`]: evaluation after results are stored (the writer).
//! - [`liveness`]: probe-region liveness and "probe region silent" incidents.
//! - [`outbox`]: claiming and recording deliveries.
//! - `channels`, `sns`, `ses`, `deliver`, `sweep` (feature `notify`): channel
//!   building with Secrets Manager, the SNS and SES channels, the notifier, the sweeper.
//!
//! See `docs/aws.md` ("Alerting") for the design and its guarantees.

#[cfg(feature = "notify")]
pub mod channels;
#[cfg(feature = "notify")]
pub mod deliver;
pub mod evaluate;
pub mod liveness;
pub mod outbox;
#[cfg(feature = "notify")]
pub mod ses;
#[cfg(feature = "notify")]
pub mod sns;
#[cfg(feature = "notify")]
pub mod sweep;
pub mod table;

pub use evaluate::{AlertEvaluator, Applied};
pub use table::{AlertTable, ALERT_TABLE_ENV, DEFAULT_ALERT_TABLE};

use crate::config::{env_or, AwsTarget};
use crate::dynamodb::{DynamoCheckRepository, DEFAULT_TABLE, TABLE_ENV};
use crate::AwsError;

/// Environment variable listing every probe region, comma-separated (a check without
/// `regions` is probed from all of them).
pub const PROBE_REGIONS_ENV: &str = "WEBMON_PROBE_REGIONS";

/// The alert table named by [`ALERT_TABLE_ENV`], if alerting is on.
pub async fn table_from_env(target: &AwsTarget) -> Option<AlertTable> {
    let name = env_or(ALERT_TABLE_ENV, "");
    if name.is_empty() {
        return None;
    }
    let client = aws_sdk_dynamodb::Client::new(&target.load().await);
    Some(AlertTable::new(client, name))
}

/// The evaluator the writer and the sweeper use: the alert table of
/// [`ALERT_TABLE_ENV`], the checks table of `WEBMON_TABLE` (its home-region replica)
/// and the regions of [`PROBE_REGIONS_ENV`]. `None` when alerting is off.
pub async fn evaluator_from_env(
    target: &AwsTarget,
) -> Result<Option<AlertEvaluator<DynamoCheckRepository>>, AwsError> {
    let Some(table) = table_from_env(target).await else {
        return Ok(None);
    };
    let regions: Vec<String> = env_or(PROBE_REGIONS_ENV, "")
        .split(',')
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if regions.is_empty() {
        return Err(AwsError::Setting {
            name: PROBE_REGIONS_ENV.into(),
            reason: "alerting needs the list of probe regions (e.g. eu-west-1,us-east-1)".into(),
        });
    }
    let client = aws_sdk_dynamodb::Client::new(&target.load().await);
    let checks = DynamoCheckRepository::new(client, env_or(TABLE_ENV, DEFAULT_TABLE));
    Ok(Some(AlertEvaluator::new(table, checks, regions)))
}

/// The notifier of the notifier and sweeper Lambdas: channel secrets under
/// `WEBMON_CHANNEL_SECRETS_PREFIX`.
#[cfg(feature = "notify")]
pub async fn notifier_from_env(target: &AwsTarget) -> Result<deliver::Notifier, AwsError> {
    let table = table_from_env(target)
        .await
        .ok_or_else(|| AwsError::Setting {
            name: ALERT_TABLE_ENV.into(),
            reason: "the notifier needs the alert table".into(),
        })?;
    let prefix = crate::config::env(channels::CHANNEL_SECRETS_PREFIX_ENV)?;
    let clients = channels::AwsChannelClients::new(&target.load().await, prefix);
    Ok(deliver::Notifier::new(
        table,
        clients,
        deliver::DeliverySettings::default(),
    ))
}
