//! Probe Lambda: wiring only. Reads the settings, builds the check table, queue and
//! probe engine, and serves triggers with [`webmon_aws::service::probe`].

#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::{current_region, env, env_or, AwsTarget};
use webmon_aws::dynamodb::{DynamoCheckRepository, DEFAULT_TABLE, TABLE_ENV};
use webmon_aws::secrets::{SecretsManagerSource, CHECK_SECRETS_PREFIX_ENV};
use webmon_aws::service::probe::Limits;
use webmon_aws::sqs::{SqsResultQueue, QUEUE_REGION_ENV, QUEUE_URL_ENV};
use webmon_core::check::SecretPolicy;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{ProbeOptions, Prober};

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("probe-lambda");
    let region = current_region()?;
    let queue_url = env(QUEUE_URL_ENV)?;
    let queue_region = std::env::var(QUEUE_REGION_ENV)
        .ok()
        .or_else(|| SqsResultQueue::region_of_url(&queue_url))
        .unwrap_or(region.clone());
    let local = AwsTarget::from_env(Some(&region)).load().await;
    let home = AwsTarget::from_env(Some(&queue_region)).load().await;
    let repo = DynamoCheckRepository::new(
        aws_sdk_dynamodb::Client::new(&local),
        env_or(TABLE_ENV, DEFAULT_TABLE),
    );
    let queue = SqsResultQueue::new(aws_sdk_sqs::Client::new(&home), queue_url);
    // Operator settings from the stack; check authors cannot change them.
    let secrets = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&local),
        env_or(CHECK_SECRETS_PREFIX_ENV, "webmon/default/check/"),
        SecretPolicy::default(),
    ));
    let prober = Prober::new(ProbeOptions {
        region: region.clone(),
        cold_start: true,
        allow_private: env_or("WEBMON_ALLOW_PRIVATE", "false") == "true",
        max_body_bytes_cap: Some(env_or("WEBMON_MAX_BODY_BYTES", "8388608").parse()?),
        body_budget_bytes: Some(env_or("WEBMON_BODY_BUDGET_BYTES", "134217728").parse()?),
        secret_source: Some(secrets.clone()),
        ..Default::default()
    });
    let settings = webmon_aws::service::probe::Settings {
        region,
        concurrency: env_or("WEBMON_CONCURRENCY", "256").parse()?,
    };
    let (repo, queue, prober, settings, secrets) = (&repo, &queue, &prober, &settings, &secrets);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        secrets.clear();
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id, region = %settings.region);
        // Lambda ends the invocation at the context's deadline: cancel and flush before it.
        let limits = Limits::until_unix_ms(event.context.deadline, SystemClock.now_ms());
        let summary = webmon_aws::service::probe::handle_with(repo, queue, prober, &SystemClock, settings, event.payload, &limits).instrument(span).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
