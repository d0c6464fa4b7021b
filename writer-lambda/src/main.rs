//! Writer Lambda entry point: read the settings, build the store, serve events.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use tracing::Instrument;
use webmon_aws::config::{env_or, AwsTarget};
use webmon_aws::timestream::{TimestreamStore, DATABASE_ENV, TABLE_ENV};

#[tokio::main]
async fn main() -> Result<(), Error> {
    webmon_aws::telemetry::init("writer-lambda");
    let target = AwsTarget::from_env(None);
    let client = TimestreamStore::client(&target).await?;
    let store = TimestreamStore::new(
        client,
        env_or(DATABASE_ENV, "webmon"),
        env_or(TABLE_ENV, "results"),
    );
    let store = &store;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
            let (response, _) = writer_lambda::handle(store, event.payload)
                .instrument(span)
                .await;
            Ok::<_, Error>(response)
        },
    ))
    .await
}
