//! Logs and traces for the Lambdas: `tracing` JSON lines (check id, region and request
//! id travel as span fields), and spans for each invocation and each AWS call.
//!
//! Spans are exported over OTLP (HTTP/protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise no exporter, no thread
//! and no OpenTelemetry layer exist, and spans are only the context of the log lines.
//!
//! Lambda freezes the process as soon as an invocation returns, so spans cannot wait for
//! a timer: when a span named [`INVOCATION_SPAN`] closes, every finished span is sent
//! before the handler's answer leaves ([`flush`] does the same on demand). The export runs
//! on a private single-threaded runtime, so flushing from the Lambda's own runtime thread
//! cannot wait on itself.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::span;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::https::HttpsClient;
use crate::AwsError;

/// Environment variable that turns span export on (base URL; `/v1/traces` is appended).
pub const OTLP_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Full traces URL, used as is; takes precedence over [`OTLP_ENV`].
pub const OTLP_TRACES_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Service name override; else the Lambda function name, else the binary's name.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";
/// Name of the span each handler runs in; its end sends the spans.
pub const INVOCATION_SPAN: &str = "invocation";
/// Longest wait for one export request.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// Full URL of the traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub traces_url: String,
    /// `service.name` of the resource.
    pub service_name: String,
}

impl OtlpConfig {
    /// Reads the standard variables; `None` when no endpoint is set (export off).
    pub fn from_env(default_service: &str) -> Option<Self> {
        Self::from_lookup(default_service, |name| std::env::var(name).ok())
    }

    /// Same as [`OtlpConfig::from_env`] over any variable lookup.
    pub fn from_lookup(
        default_service: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let traces_url = match get(OTLP_TRACES_ENV) {
            Some(url) => url,
            None => format!("{}/v1/traces", get(OTLP_ENV)?.trim_end_matches('/')),
        };
        let service_name = get(SERVICE_NAME_ENV)
            .or_else(|| get("AWS_LAMBDA_FUNCTION_NAME"))
            .unwrap_or_else(|| default_service.to_string());
        Some(Self {
            traces_url,
            service_name,
        })
    }
}

/// Builds a tracer provider exporting to `config` in batches; nothing is sent until
/// spans end. Headers from `OTEL_EXPORTER_OTLP_HEADERS` (e.g. an API key) are added by
/// the exporter itself.
pub fn otlp_provider(config: &OtlpConfig) -> Result<SdkTracerProvider, AwsError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.traces_url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(ExportClient::start()?)
        .build()
        .map_err(|e| AwsError::Setting {
            name: OTLP_ENV.into(),
            reason: e.to_string(),
        })?;
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans for `provider`, and
/// sends them when an [`INVOCATION_SPAN`] ends.
pub fn otlp_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("webmon"))
        .and_then(FlushOnInvocationEnd {
            provider: provider.clone(),
        })
}

/// Sets up JSON logs (level from `RUST_LOG`, default `info`) and, when an OTLP endpoint
/// is set, span export. Safe to call twice (the second call changes nothing).
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false);
    let (otlp, problem) = match OtlpConfig::from_env(service) {
        None => (None, None),
        Some(config) => match otlp_provider(&config) {
            Ok(provider) => {
                let layer = otlp_layer(&provider);
                let _ = PROVIDER.set(provider);
                (Some(layer), None)
            }
            Err(e) => (None, Some(e)),
        },
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otlp)
        .try_init()
        .is_ok();
    if let Some(e) = problem {
        tracing::error!(service, error = %e, "span export is off");
    } else if installed && PROVIDER.get().is_some() {
        tracing::info!(service, "spans are exported over OTLP");
    }
}

/// Sends every finished span now (no-op when export is off). Runs the blocking flush off
/// the async worker.
pub async fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let provider = provider.clone();
        let _ = tokio::task::spawn_blocking(move || flush_provider(&provider)).await;
    }
}

fn flush_provider(provider: &SdkTracerProvider) {
    if let Err(e) = provider.force_flush() {
        // Logged outside any span on purpose: this runs while a span closes.
        tracing::warn!(error = %e, "failed to export spans");
    }
}

/// Flushes the provider when an invocation span closes (after the OpenTelemetry layer,
/// which sits inside this one, has ended it).
struct FlushOnInvocationEnd {
    provider: SdkTracerProvider,
}

impl<S> Layer<S> for FlushOnInvocationEnd
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if ctx
            .span(&id)
            .is_some_and(|span| span.name() == INVOCATION_SPAN)
        {
            flush_provider(&self.provider);
        }
    }
}

/// The exporter's HTTP client. The SDK exports from its own thread, outside any Tokio
/// runtime, and a flush blocks the thread that asks for it; so requests run on a private
/// current-thread runtime, driven by a thread of its own that lives as long as the process.
#[derive(Debug, Clone)]
struct ExportClient {
    client: HttpsClient,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn start() -> Result<Self, AwsError> {
        let failed = |e: std::io::Error| AwsError::Setting {
            name: OTLP_ENV.into(),
            reason: format!("failed to start the export thread: {e}"),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(failed)?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .map_err(failed)?;
        Ok(Self {
            client: HttpsClient::new(EXPORT_TIMEOUT),
            runtime: handle,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let sent = self
            .runtime
            .spawn(async move { client.send(request).await })
            .await?;
        Ok(sent?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn export_is_off_without_an_endpoint() {
        assert_eq!(OtlpConfig::from_lookup("writer-lambda", lookup(&[])), None);
        assert_eq!(
            OtlpConfig::from_lookup("writer-lambda", lookup(&[(OTLP_ENV, " ")])),
            None
        );
    }

    #[test]
    fn endpoint_and_service_name_follow_the_standard_variables() {
        let c = OtlpConfig::from_lookup(
            "writer-lambda",
            lookup(&[
                (OTLP_ENV, "http://127.0.0.1:4318/"),
                ("AWS_LAMBDA_FUNCTION_NAME", "webmon-writer"),
            ]),
        )
        .unwrap();
        assert_eq!(c.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(c.service_name, "webmon-writer");
        let c = OtlpConfig::from_lookup(
            "writer-lambda",
            lookup(&[
                (OTLP_ENV, "http://a:4318"),
                (OTLP_TRACES_ENV, "http://b:4318/custom"),
                (SERVICE_NAME_ENV, "webmon"),
                ("AWS_LAMBDA_FUNCTION_NAME", "webmon-writer"),
            ]),
        )
        .unwrap();
        assert_eq!(c.traces_url, "http://b:4318/custom");
        assert_eq!(c.service_name, "webmon");
        let c = OtlpConfig::from_lookup("probe-lambda", lookup(&[(OTLP_ENV, "http://a:4318")]))
            .unwrap();
        assert_eq!(c.service_name, "probe-lambda");
    }
}
