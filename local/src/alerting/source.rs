//! The alerting configuration, reloaded with the checks file: the checks are loaded and
//! merged the way the runner does (a check whose new version is invalid keeps its
//! previous one), then `load_alerting` reads `channels:`, `alert_defaults:`,
//! `maintenance:` and each `alert:` block. A file that cannot be parsed keeps the
//! previous configuration.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runner::config::{merge, ConfigSource};
use webmon_core::alert::{load_alerting, AlertingOutcome};
use webmon_core::check::{Check, LoadOutcome, SecretPolicy, ValidationError};

/// The checks file, watched for alerting.
#[derive(Debug)]
pub struct AlertSource {
    path: PathBuf,
    region: String,
    source: ConfigSource,
    checks: HashMap<String, Arc<Check>>,
}

impl AlertSource {
    /// Watches `path` for the runner of `region`.
    pub fn new(path: &Path, region: &str, secrets: SecretPolicy) -> Self {
        Self {
            path: path.to_path_buf(),
            region: region.to_string(),
            source: ConfigSource::new(path.to_path_buf(), secrets),
            checks: HashMap::new(),
        }
    }

    /// The new alerting configuration if the file changed (its errors logged), `None`
    /// when it did not or when it cannot be parsed as a whole.
    pub fn poll(&mut self) -> Option<AlertingOutcome> {
        let outcome = self.source.poll()?;
        let unparsable =
            outcome.checks.is_empty() && outcome.errors.iter().any(|e| e.check_id == "<file>");
        let (checks, _) = merge(&self.checks, outcome);
        if unparsable {
            tracing::warn!("the checks file cannot be read; alerting keeps its configuration");
            return None;
        }
        self.checks = checks.iter().map(|c| (c.id.clone(), c.clone())).collect();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(error = %e, "the checks file cannot be read; alerting keeps its configuration");
                return None;
            }
        };
        let checks = for_region(checks.iter().map(|c| c.as_ref()), &self.region);
        let outcome = load_alerting(&text, &checks, std::slice::from_ref(&self.region));
        log_errors(&outcome.errors);
        tracing::info!(
            checks = outcome.config.checks.len(),
            channels = outcome.config.channels.len(),
            errors = outcome.errors.len(),
            "alerting config loaded"
        );
        Some(outcome)
    }
}

/// The checks that run in `region`, each with that one region (the evaluator waits for
/// every configured region, and a one-machine runner probes from one).
pub fn for_region<'a>(checks: impl Iterator<Item = &'a Check>, region: &str) -> Vec<Check> {
    checks
        .filter(|c| c.runs_in(region))
        .map(|c| {
            let mut c = c.clone();
            c.regions = vec![region.to_string()];
            c
        })
        .collect()
}

/// The alerting configuration of a checks document as `webmon run` would load it.
pub fn load_for_region(text: &str, checks: &LoadOutcome, region: &str) -> AlertingOutcome {
    let checks = for_region(checks.checks.iter(), region);
    load_alerting(text, &checks, &[region.to_string()])
}

fn log_errors(errors: &[ValidationError]) {
    for e in errors {
        tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid alerting config");
    }
}
