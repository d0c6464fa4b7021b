//! Notifier Lambda: wiring only. Builds the notifier from the settings and serves the
//! alert table's stream batches with [`webmon_aws::alerting::deliver`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::AwsTarget;
use webmon_core::ports::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("notifier-lambda");
    let target = AwsTarget::from_env(None);
    let notifier = webmon_aws::alerting::notifier_from_env(&target).await?;
    let notifier = &notifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
            let (response, done) = notifier
                .handle_stream(event.payload, &SystemClock)
                .instrument(span)
                .await;
            tracing::info!(
                sent = done.sent,
                retry = done.retry,
                failed = done.failed,
                waiting = done.waiting,
                skipped = done.skipped,
                "notifier invocation done"
            );
            Ok::<_, Error>(response)
        },
    ))
    .await
}
