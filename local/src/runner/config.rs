//! Watching the checks file: change detection (mtime, then a content hash so a touch
//! without edits is ignored) and merging a new file into the running set.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use xxhash_rust::xxh3::xxh3_64;

use webmon_core::check::{
    load_checks_file_with, Check, LoadOutcome, SecretPolicy, ValidationError,
};

/// The label file-level errors carry instead of a check id.
const FILE_LABEL: &str = "<file>";

/// A checks file polled for changes.
#[derive(Debug)]
pub struct ConfigSource {
    path: PathBuf,
    secrets: SecretPolicy,
    stamp: Option<(SystemTime, u64)>,
    hash: Option<u64>,
}

impl ConfigSource {
    /// Watches `path`; the first [`ConfigSource::poll`] always loads it. Checks are
    /// validated with the operator's `secrets` policy.
    pub fn new(path: PathBuf, secrets: SecretPolicy) -> Self {
        Self {
            path,
            secrets,
            stamp: None,
            hash: None,
        }
    }

    /// The checks of the file if it changed since the last poll, `None` otherwise.
    /// A file that cannot be read yields an outcome holding one file-level error (once
    /// per distinct failure, so a missing file is not logged every poll).
    pub fn poll(&mut self) -> Option<LoadOutcome> {
        // mtime and length first: cheap, and enough to skip the read almost always.
        let stamp = std::fs::metadata(&self.path)
            .and_then(|m| Ok((m.modified()?, m.len())))
            .ok();
        if stamp.is_some() && stamp == self.stamp {
            return None;
        }
        self.stamp = stamp;
        let (hash, text) = match std::fs::read(&self.path) {
            Ok(bytes) => (xxh3_64(&bytes), Ok(bytes)),
            Err(e) => (xxh3_64(format!("unreadable: {e}").as_bytes()), Err(e)),
        };
        if Some(hash) == self.hash {
            return None;
        }
        self.hash = Some(hash);
        Some(match text {
            Ok(_) => load_checks_file_with(&self.path, &self.secrets),
            Err(e) => LoadOutcome {
                checks: Vec::new(),
                errors: vec![ValidationError::new(
                    FILE_LABEL,
                    "checks",
                    self.path.display(),
                    format!("cannot read the file: {e}"),
                )],
            },
        })
    }
}

/// The checks to run after loading `outcome` while `current` runs:
/// - a file that cannot be read or parsed as a whole (a file-level error and no valid
///   check) keeps `current` unchanged;
/// - otherwise the valid checks of the new file run, and a check whose new version is
///   invalid keeps running its previous version (a bad edit never stops a check).
///
/// Returns the merged set and the ids kept at their previous version.
pub fn merge(
    current: &HashMap<String, Arc<Check>>,
    outcome: LoadOutcome,
) -> (Vec<Arc<Check>>, Vec<String>) {
    if outcome.checks.is_empty() && outcome.errors.iter().any(|e| e.check_id == FILE_LABEL) {
        let mut kept: Vec<String> = current.keys().cloned().collect();
        kept.sort();
        return (current.values().cloned().collect(), kept);
    }
    let mut merged: Vec<Arc<Check>> = outcome.checks.into_iter().map(Arc::new).collect();
    let mut kept = Vec::new();
    for error in &outcome.errors {
        let id = &error.check_id;
        if kept.contains(id) || merged.iter().any(|c| &c.id == id) {
            continue;
        }
        if let Some(previous) = current.get(id) {
            merged.push(previous.clone());
            kept.push(id.clone());
        }
    }
    (merged, kept)
}

/// Logs every validation error with its check id, field, value and reason.
pub fn log_errors(errors: &[ValidationError]) {
    for e in errors {
        tracing::error!(check_id = %e.check_id, field = %e.field, value = %e.value, reason = %e.reason, "invalid check");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::check::parse_checks_document;

    fn current(text: &str) -> HashMap<String, Arc<Check>> {
        parse_checks_document(text)
            .checks
            .into_iter()
            .map(|c| (c.id.clone(), Arc::new(c)))
            .collect()
    }

    #[test]
    fn a_broken_item_keeps_its_previous_version() {
        let old = current("checks:\n  - {id: a, url: 'http://a.test/', interval: 10s, timeout: 2s}\n  - {id: b, url: 'http://b.test/'}\n");
        let new = parse_checks_document("checks:\n  - {id: a, url: 'http://a.test/', interval: 45s}\n  - {id: c, url: 'http://c.test/'}\n");
        let (merged, kept) = merge(&old, new);
        let mut ids: Vec<&str> = merged.iter().map(|c| c.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(kept, ["a"]);
        assert_eq!(
            merged
                .iter()
                .find(|c| c.id == "a")
                .unwrap()
                .interval
                .seconds(),
            10
        );
    }

    #[test]
    fn an_unparsable_file_keeps_everything() {
        let old = current("checks:\n  - {id: a, url: 'http://a.test/'}\n");
        let (merged, kept) = merge(&old, parse_checks_document("checks: [ {id: "));
        assert_eq!(merged.len(), 1);
        assert_eq!(kept, ["a"]);
    }
}
