//! The checks file: a top-level `checks:` list in YAML (JSON is YAML too).
//!
//! Each item is parsed on its own, so one bad item never hides or blocks the others.

use std::path::Path;

use serde::Deserialize;

use super::{shape, Check, RawCheck, SecretPolicy, ValidationError};

/// The document shape, for documentation and serialisation.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
///
/// The alerting keys are kept as opaque values here, so checks do not depend on the
/// alerting module (which depends on checks): `alert::load_alerting` parses them.
pub struct ChecksFile {
    /// The checks.
    pub checks: Vec<RawCheck>,
    /// Notification channels (validated by `alert::load_alerting`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<serde_json::Value>,
    /// Alerting policy applied to every check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_defaults: Option<serde_json::Value>,
    /// Maintenance windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<serde_json::Value>,
    /// How `webmon run` runs (validated by [`super::settings::parse_settings`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

/// The top-level key of the run settings ([`super::settings`]).
const SETTINGS_KEY: &str = "settings";

/// Top-level keys besides `checks`, read by `alert::load_alerting`.
const ALERTING_KEYS: [&str; 3] = ["channels", "alert_defaults", "maintenance"];

/// What loading a file gives: the valid checks and every error, side by side.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Checks that passed validation, in file order.
    pub checks: Vec<Check>,
    /// Every problem found, in file order.
    pub errors: Vec<ValidationError>,
}

impl LoadOutcome {
    /// What was loaded, counted: checks, invalid items and errors.
    pub fn summary(&self) -> LoadSummary {
        LoadSummary::of(self.checks.len(), &self.errors)
    }
}

/// Counts of a load, each saying what it counts: valid checks, items refused (an item
/// with three problems is one invalid item) and errors (every problem, document-level
/// ones included). Its `Display` is the one-line summary the CLI and the Lambdas print:
/// `7 checks, 1 invalid item (3 errors)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadSummary {
    /// Valid checks.
    pub checks: usize,
    /// Items refused (each may have several errors).
    pub invalid_items: usize,
    /// Every error, item and document errors alike.
    pub errors: usize,
    /// Errors against the document itself (`<file>`), not against an item.
    pub document_errors: usize,
}

impl LoadSummary {
    /// Counts `checks` valid checks and the items behind `errors` (errors that name the
    /// same check id, or `<item N>`, belong to one item; `<file>` errors to none).
    pub fn of(checks: usize, errors: &[ValidationError]) -> Self {
        let mut items = std::collections::HashSet::new();
        let mut document_errors = 0;
        for e in errors {
            if e.check_id == "<file>" {
                document_errors += 1;
            } else {
                items.insert(e.check_id.as_str());
            }
        }
        Self {
            checks,
            invalid_items: items.len(),
            errors: errors.len(),
            document_errors,
        }
    }
}

impl std::fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, one: &'static str, many: &'static str| {
            format!("{n} {}", if n == 1 { one } else { many })
        };
        write!(
            f,
            "{}, {}",
            plural(self.checks, "check", "checks"),
            plural(self.invalid_items, "invalid item", "invalid items")
        )?;
        if self.errors > 0 {
            write!(f, " ({})", plural(self.errors, "error", "errors"))?;
        }
        if self.document_errors > 0 {
            write!(
                f,
                ", {} in the document itself",
                plural(self.document_errors, "error", "errors")
            )?;
        }
        Ok(())
    }
}

/// Reads and validates a checks file under the default [`SecretPolicy`]. Errors reading
/// or parsing the whole document are reported as one error against `<file>`; item errors
/// are reported per check.
pub fn load_checks_file(path: &Path) -> LoadOutcome {
    load_checks_file_with(path, &SecretPolicy::default())
}

/// [`load_checks_file`] under the operator's secret policy.
pub fn load_checks_file_with(path: &Path, secrets: &SecretPolicy) -> LoadOutcome {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_checks_document_with(&text, secrets),
        Err(e) => LoadOutcome {
            checks: Vec::new(),
            errors: vec![ValidationError::new(
                "<file>",
                "checks",
                path.display(),
                unreadable(path, &e),
            )],
        },
    }
}

/// Why a checks file cannot be read, in words: a directory, a missing file or a
/// missing directory on its path are named as such.
fn unreadable(path: &Path, e: &std::io::Error) -> String {
    if path.is_dir() {
        return "is a directory, not a checks file; give the YAML file itself".into();
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return format!(
                    "cannot read the file: the directory {} does not exist",
                    parent.display()
                );
            }
        }
        return "cannot read the file: no such file".into();
    }
    format!("cannot read the file: {e}")
}

/// Parses a checks document held in memory, under the default [`SecretPolicy`].
pub fn parse_checks_document(text: &str) -> LoadOutcome {
    parse_checks_document_with(text, &SecretPolicy::default())
}

/// [`parse_checks_document`] under the operator's secret policy.
pub fn parse_checks_document_with(text: &str, secrets: &SecretPolicy) -> LoadOutcome {
    let mut outcome = LoadOutcome::default();
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            outcome.errors.push(ValidationError::new(
                "<file>",
                "checks",
                "<document>",
                format!("is not valid YAML: {e}"),
            ));
            return outcome;
        }
    };
    let Some(map) = doc.as_mapping() else {
        outcome.errors.push(ValidationError::new(
            "<file>",
            "checks",
            "<document>",
            "the document must be a mapping with a `checks:` list",
        ));
        return outcome;
    };
    for key in map.keys() {
        if key.as_str() != Some("checks")
            && key.as_str() != Some(SETTINGS_KEY)
            && !key.as_str().is_some_and(|k| ALERTING_KEYS.contains(&k))
        {
            let name = key.as_str().unwrap_or("<non-string key>");
            let known = ["checks", SETTINGS_KEY].into_iter().chain(ALERTING_KEYS);
            let reason = match super::did_you_mean(name, known) {
                Some(guess) => format!("unknown top-level field; did you mean `{guess}`?"),
                None => "unknown top-level field; expected `checks`, `settings`, `channels`, `alert_defaults` or `maintenance`".to_string(),
            };
            outcome
                .errors
                .push(ValidationError::new("<file>", name, name, reason));
        }
    }
    if let Some(settings) = map.get(SETTINGS_KEY) {
        outcome
            .errors
            .extend(super::settings::parse_settings(settings).1);
    }
    let Some(items) = map.get("checks").and_then(|v| v.as_sequence()) else {
        outcome.errors.push(ValidationError::new(
            "<file>",
            "checks",
            "<missing>",
            "a top-level `checks:` list is required",
        ));
        return outcome;
    };
    // `alert_defaults.retries` reaches the engine through each check (see `retry`).
    let defaults: Option<serde_json::Value> = map
        .get("alert_defaults")
        .and_then(|v| serde_json::to_value(v).ok());
    let mut seen = std::collections::HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let label = item
            .get("id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("<item {}>", index + 1));
        match parse_item(&label, item.clone(), secrets) {
            Ok(check) if !seen.insert(check.id.clone()) => {
                outcome.errors.push(ValidationError::new(
                    &label,
                    "id",
                    &label,
                    "is used by an earlier check in this file",
                ));
            }
            Ok(mut check) => {
                check.retries = super::retries_of(check.source.alert.as_ref(), defaults.as_ref());
                outcome.checks.push(check)
            }
            Err(errors) => outcome.errors.extend(errors),
        }
    }
    outcome
}

/// Checks the item's shape (every unknown field and ill-typed value, see [`shape`]),
/// deserialises what is left (naming the field on other type errors) and validates it,
/// so every problem of the item is reported at once.
fn parse_item(
    label: &str,
    mut item: serde_yaml::Value,
    secrets: &SecretPolicy,
) -> Result<Check, Vec<ValidationError>> {
    let mut errors = shape::check_item(label, &mut item);
    let reported: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
    let is_reported = |field: &str| {
        reported.iter().any(|r| {
            field == r || field.starts_with(&format!("{r}.")) || field.starts_with(&format!("{r}["))
        })
    };
    let raw: RawCheck = match serde_path_to_error::deserialize(item.clone()) {
        Ok(raw) => raw,
        Err(e) => {
            // The path already ends with the unknown field's name when that is the problem.
            let mut field = e.path().to_string();
            let inner = e.into_inner().to_string();
            // A missing field is reported at its parent's path; name the field itself.
            if let Some(missing) = inner
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                field = match field.as_str() {
                    "." | "" => missing.to_string(),
                    parent => format!("{parent}.{missing}"),
                };
            }
            if !is_reported(&field) {
                let value = lookup(&item, &field).unwrap_or_else(|| "<missing>".into());
                errors.push(ValidationError::new(
                    label,
                    &field,
                    value,
                    shape::humanize(&inner),
                ));
            }
            return Err(errors);
        }
    };
    match raw.validate_with(secrets) {
        Ok(check) if errors.is_empty() => Ok(check),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more.into_iter().filter(|e| !is_reported(&e.field)));
            Err(errors)
        }
    }
}

/// Renders the value at a dotted path, for error messages.
fn lookup(item: &serde_yaml::Value, path: &str) -> Option<String> {
    let mut node = item;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        node = node.get(name)?;
        if let Some(i) = index {
            node = node.get(i)?;
        }
    }
    let text = serde_yaml::to_string(node).ok()?;
    Some(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bad_item_does_not_stop_the_others() {
        let text = "checks:\n  - id: good\n    url: https://example.com\n  - id: bad\n    url: https://example.com\n    colour: red\n  - id: worse\n    url: https://example.com\n    requests: many\n";
        let outcome = parse_checks_document(text);
        assert_eq!(outcome.checks.len(), 1);
        assert_eq!(outcome.checks[0].id, "good");
        assert_eq!(outcome.errors.len(), 2);
        assert_eq!(
            (
                outcome.errors[0].check_id.as_str(),
                outcome.errors[0].field.as_str()
            ),
            ("bad", "colour")
        );
        assert_eq!(outcome.errors[0].value, "red");
        assert_eq!(
            (
                outcome.errors[1].check_id.as_str(),
                outcome.errors[1].field.as_str()
            ),
            ("worse", "requests")
        );
        assert_eq!(outcome.errors[1].value, "many");
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = "checks:\n  - {id: a, url: 'https://a.example'}\n  - {id: a, url: 'https://b.example'}\n";
        let outcome = parse_checks_document(text);
        assert_eq!(outcome.checks.len(), 1);
        assert_eq!(
            outcome.errors[0].reason,
            "is used by an earlier check in this file"
        );
    }
}
