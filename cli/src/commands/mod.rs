//! One module per subcommand.

pub mod alerts;
#[cfg(feature = "bench")]
pub mod bench;
pub mod check;
pub mod checks;
pub mod dashboard;
pub mod paths;
pub mod regions;
pub mod report;
pub mod resync;
pub mod run;
pub mod secrets;
pub mod source;
pub mod test;
pub mod validate;

use std::path::PathBuf;

/// The checks file of a command: `--config FILE` or a positional `FILE`, alike in
/// every command that reads one.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArg {
    /// The checks file (YAML with a top-level `checks:` list).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The checks file, as a flag (same as the positional FILE).
    #[arg(long = "config", value_name = "FILE", conflicts_with = "file")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file given, or a bad-input error asking for one.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        self.file
            .clone()
            .or_else(|| self.config.clone())
            .ok_or_else(|| bad_input("a checks file is needed: pass FILE or --config FILE"))
    }
}

/// The SQLite file of `run`, `report`, `dashboard` and `alerts` when neither `--db`,
/// `WEBMON_DB` nor the checks file's `settings.db` names one.
pub const DEFAULT_DB: &str = "webmon.db";

/// The `settings:` block of a checks file; bad settings are a bad-input error (exit 2)
/// listing each with its line and column.
pub fn settings_of(config: &std::path::Path) -> anyhow::Result<webmon_core::check::RunSettings> {
    paths::checks_file(config)?;
    webmon_core::check::load_settings(config).map_err(|errors| {
        let text = std::fs::read_to_string(config).unwrap_or_default();
        let lines: Vec<String> = errors
            .iter()
            .map(
                |e| match webmon_core::check::locate_setting(&text, &e.field) {
                    Some((line, column)) => format!("{}:{line}:{column}: {e}", config.display()),
                    None => format!("{}: {e}", config.display()),
                },
            )
            .collect();
        bad_input(format!(
            "the settings of {} are invalid:\n{}",
            config.display(),
            lines.join("\n")
        ))
    })
}

/// An error caused by the command's input (flags, files): exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A [`BadInput`] error as an `anyhow::Error`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

/// Whether stderr is a terminal (colours only then).
pub fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Sets up `tracing`: human-readable by default, JSON lines with `--log-json`.
/// The level comes from `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
