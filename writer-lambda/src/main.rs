//! Writer Lambda: wiring only. Reads the settings, builds the store (and, with
//! `WEBMON_ALERT_TABLE` set, the alert evaluator) and serves SQS batches with
//! [`webmon_aws::service::write`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::AwsTarget;
use webmon_aws::service::write::{AfterStore, StoreOnly};
use webmon_aws::sink::Sink;

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("writer-lambda");
    let target = AwsTarget::from_env(None);
    // WEBMON_SINK: timestream (default), influx or both.
    let store = Sink::from_env(&target).await?;
    let store = &store;
    let after: Box<dyn AfterStore> = match webmon_aws::alerting::evaluator_from_env(&target).await?
    {
        Some(evaluator) => Box::new(evaluator),
        None => Box::new(StoreOnly),
    };
    let after = &*after;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
            let (response, _) =
                webmon_aws::service::write::handle_then(store, after, event.payload)
                    .instrument(span)
                    .await;
            Ok::<_, Error>(response)
        },
    ))
    .await
}
