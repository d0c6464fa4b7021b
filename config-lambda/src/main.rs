//! Config Lambda: wiring only. Reads the settings, builds the DynamoDB and EventBridge
//! adapters and serves stream batches with [`webmon_aws::service::reconcile`].

#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::{current_region, env, env_or, AwsTarget};
use webmon_aws::dynamodb::{DynamoCheckRepository, DEFAULT_TABLE, TABLE_ENV};
use webmon_aws::eventbridge::{bin_capacity_from_env, EventBridgeRules, PREFIX_ENV, PROBE_ARN_ENV};
use webmon_core::reconcile::RULE_PREFIX;

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("config-lambda");
    let region = current_region()?;
    let config = AwsTarget::from_env(Some(&region)).load().await;
    let table = DynamoCheckRepository::new(
        aws_sdk_dynamodb::Client::new(&config),
        env_or(TABLE_ENV, DEFAULT_TABLE),
    );
    let rules = EventBridgeRules::new(
        aws_sdk_eventbridge::Client::new(&config),
        env_or(PREFIX_ENV, RULE_PREFIX),
        env(PROBE_ARN_ENV)?,
    )
    // WEBMON_BIN_CAPACITY, else the capacity measured for WEBMON_PROBE_MEMORY_MB.
    .with_bin_capacity(bin_capacity_from_env()?);
    let (table, rules, region) = (&table, &rules, region.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let span =
                tracing::info_span!("invocation", request_id = %event.context.request_id, region);
            webmon_aws::service::reconcile::handle(table, rules, region, event.payload)
                .instrument(span)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
