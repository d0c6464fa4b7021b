//! Logs and traces for the Lambdas: `tracing` JSON lines (check id, region and request
//! id travel as span fields), and spans for each invocation and each AWS call.
//!
//! Spans are exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; otherwise
//! they are only the context of the JSON log lines, and cost nothing else.

use tracing_subscriber::EnvFilter;

/// Environment variable that turns span export on.
pub const OTLP_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Sets up JSON logs (level from `RUST_LOG`, default `info`). Safe to call twice.
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .try_init();
    if let Ok(endpoint) = std::env::var(OTLP_ENV) {
        tracing::warn!(
            service,
            endpoint,
            "span export over OTLP is not built into this binary; spans stay in the logs"
        );
    }
}
