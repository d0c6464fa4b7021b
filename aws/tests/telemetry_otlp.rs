//! OTLP span export against a real collector stand-in on 127.0.0.1: spans end, the
//! invocation span closes, and the protobuf request is already there, with the span
//! names, their parent link and the service name.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tracing_subscriber::layer::SubscriberExt;
use webmon_aws::telemetry::{otlp_layer, otlp_provider, OtlpConfig, INVOCATION_SPAN};
use webmon_testkit::http_recorder::Recorder;

fn config(collector: &Recorder) -> OtlpConfig {
    OtlpConfig {
        traces_url: format!("{}/v1/traces", collector.url()),
        service_name: "webmon-writer-test".into(),
    }
}

fn decode(body: &[u8]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request")
}

fn spans(request: &ExportTraceServiceRequest) -> Vec<&opentelemetry_proto::tonic::trace::v1::Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn service_name(request: &ExportTraceServiceRequest) -> Option<String> {
    let resource = request.resource_spans.first()?.resource.as_ref()?;
    let attr = resource
        .attributes
        .iter()
        .find(|a| a.key == "service.name")?;
    match attr.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

// A current-thread runtime on purpose: the flush blocks the only worker, as it may in a
// Lambda, and must still complete (the export has a runtime of its own).
#[tokio::test(flavor = "current_thread")]
async fn invocation_end_sends_its_spans_before_returning() {
    let collector = Recorder::start(vec![]);
    let provider = otlp_provider(&config(&collector)).expect("provider");
    let subscriber = tracing_subscriber::registry().with(otlp_layer(&provider));
    {
        let _default = tracing::subscriber::set_default(subscriber);
        let invocation = tracing::info_span!(INVOCATION_SPAN, request_id = "req-42");
        let entered = invocation.enter();
        tracing::info_span!("aws.timestream.WriteRecords", records = 3).in_scope(|| {
            tracing::info!("written");
        });
        drop(entered);
        let flush = std::time::Instant::now();
        drop(invocation); // closes the invocation: the flush happens here
        eprintln!("flush at invocation end: {:?}", flush.elapsed());
        // No wait: the request must have been answered before the span's close returned.
        let requests = collector.requests();
        assert_eq!(requests.len(), 1, "one export request at invocation end");
    }
    let requests = collector.requests();
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/traces");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    let exported = decode(&request.body);
    assert_eq!(
        service_name(&exported).as_deref(),
        Some("webmon-writer-test")
    );
    let spans = spans(&exported);
    let invocation = spans
        .iter()
        .find(|s| s.name == INVOCATION_SPAN)
        .expect("invocation span exported");
    let call = spans
        .iter()
        .find(|s| s.name == "aws.timestream.WriteRecords")
        .expect("AWS call span exported");
    assert_eq!(call.parent_span_id, invocation.span_id);
    assert_eq!(call.trace_id, invocation.trace_id);
    assert!(invocation.attributes.iter().any(|a| a.key == "request_id"
        && a.value.as_ref().and_then(|v| v.value.as_ref())
            == Some(&Value::StringValue("req-42".into()))));
    provider.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_outside_an_invocation_wait_for_an_explicit_flush() {
    let collector = Recorder::start(vec![]);
    let provider = otlp_provider(&config(&collector)).expect("provider");
    let subscriber = tracing_subscriber::registry().with(otlp_layer(&provider));
    {
        let _default = tracing::subscriber::set_default(subscriber);
        tracing::info_span!("startup").in_scope(|| {});
    }
    // The batch delay is seconds: nothing is sent yet.
    assert!(collector.requests().is_empty());
    let flushing = provider.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush())
        .await
        .unwrap()
        .expect("flush");
    let requests = collector.wait_for(1, Duration::from_secs(5));
    let exported = decode(&requests[0].body);
    assert!(spans(&exported).iter().any(|s| s.name == "startup"));
    provider.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_collector_does_not_hold_the_invocation() {
    // A port that was free a moment ago: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let provider = otlp_provider(&OtlpConfig {
        traces_url: format!("http://127.0.0.1:{port}/v1/traces"),
        service_name: "webmon-test".into(),
    })
    .expect("provider");
    let subscriber = tracing_subscriber::registry().with(otlp_layer(&provider));
    let started = std::time::Instant::now();
    {
        let _default = tracing::subscriber::set_default(subscriber);
        tracing::info_span!(INVOCATION_SPAN).in_scope(|| {});
    }
    let spent = started.elapsed();
    // A refused connection gives up in about a second (docs/aws.md): well below the 5 s
    // export timeout that only a collector that accepts and never answers can cost.
    eprintln!("flush against a refused collector took {spent:?}");
    assert!(spent < Duration::from_secs(2), "flush took {spent:?}");
    let _ = provider.shutdown();
}
