//! Sweeper Lambda: wiring only. Runs [`webmon_aws::alerting::sweep`] on each scheduled
//! event (EventBridge, every minute).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::AwsTarget;
use webmon_aws::AwsError;

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("sweeper-lambda");
    let target = AwsTarget::from_env(None);
    let evaluator = webmon_aws::alerting::evaluator_from_env(&target)
        .await?
        .ok_or_else(|| AwsError::Setting {
            name: webmon_aws::alerting::ALERT_TABLE_ENV.into(),
            reason: "the sweeper needs the alert table".into(),
        })?;
    let notifier = webmon_aws::alerting::notifier_from_env(&target).await?;
    let (evaluator, notifier) = (&evaluator, &notifier);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
            // A failed sweep fails the invocation (alarmed); the next minute tries again.
            webmon_aws::alerting::sweep::sweep(evaluator, notifier)
                .instrument(span)
                .await?;
            Ok::<_, Error>(())
        },
    ))
    .await
}
