//! One module per subcommand.

pub mod alerts;
#[cfg(feature = "bench")]
pub mod bench;
pub mod check;
pub mod checks;
pub mod dashboard;
pub mod regions;
pub mod report;
pub mod resync;
pub mod run;
pub mod secrets;
pub mod source;
pub mod validate;

/// Sets up `tracing`: human-readable by default, JSON lines with `--log-json`.
/// The level comes from `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
