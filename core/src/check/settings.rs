//! The optional top-level `settings:` block of a checks file: how `webmon run` runs
//! (`db`, `port`, `bind`, `region`, `concurrency`), so one file describes a monitor.
//! `report`, `dashboard` and `alerts` read `db` from it too.
//!
//! Precedence, per setting: a command-line flag, then its environment variable, then
//! this block, then the built-in default. Errors are document errors (`<file>`) on the
//! field `settings.NAME`, located by [`locate_setting`]; an unknown key is refused with
//! a "did you mean" for a near miss.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::{did_you_mean, ValidationError};

/// The keys a `settings:` block may hold.
pub const SETTINGS_KEYS: [&str; 5] = ["db", "port", "bind", "region", "concurrency"];

/// Most probes in flight a file may ask for.
pub const MAX_CONCURRENCY: u64 = 65_536;

/// Longest `region` label, in bytes.
const MAX_REGION_BYTES: usize = 64;

/// What the `settings:` block sets; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSettings {
    /// The SQLite database of `webmon run`, `report`, `dashboard` and `alerts`; a
    /// relative path is taken from the checks file's directory.
    pub db: Option<PathBuf>,
    /// Port of the dashboard `webmon run` serves (0 picks a free one).
    pub port: Option<u16>,
    /// Address the dashboard binds to.
    pub bind: Option<IpAddr>,
    /// Region label written into results.
    pub region: Option<String>,
    /// Most probes in flight at once (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: Option<usize>,
}

/// Reads the `settings:` value of a document (a mapping, or absent). Every problem is
/// returned; the settings hold the valid fields.
pub fn parse_settings(value: &Value) -> (RunSettings, Vec<ValidationError>) {
    let mut settings = RunSettings::default();
    let mut errors = Vec::new();
    let error = |field: &str, value: &Value, reason: String| {
        ValidationError::new("<file>", &format!("settings.{field}"), shown(value), reason)
    };
    let map = match value {
        Value::Null => return (settings, errors),
        Value::Mapping(map) => map,
        other => {
            errors.push(ValidationError::new(
                "<file>",
                "settings",
                shown(other),
                format!("must be a mapping of {}", SETTINGS_KEYS.join(", ")),
            ));
            return (settings, errors);
        }
    };
    for (key, value) in map {
        let Some(name) = key.as_str() else {
            errors.push(error("<key>", key, "setting names are strings".into()));
            continue;
        };
        match name {
            "db" => match value.as_str().map(str::trim) {
                Some(path) if !path.is_empty() => settings.db = Some(PathBuf::from(path)),
                _ => errors.push(error(name, value, "must be a file path".into())),
            },
            "port" => match value.as_u64().map(u16::try_from) {
                Some(Ok(port)) => settings.port = Some(port),
                _ => errors.push(error(
                    name,
                    value,
                    "must be a port number from 0 to 65535 (0 picks a free one)".into(),
                )),
            },
            "bind" => match value.as_str().map(|s| s.trim().parse::<IpAddr>()) {
                Some(Ok(ip)) => settings.bind = Some(ip),
                _ => errors.push(error(
                    name,
                    value,
                    "must be an IP address such as 127.0.0.1 or ::1".into(),
                )),
            },
            "region" => match value.as_str() {
                Some(region) if valid_region(region) => settings.region = Some(region.into()),
                _ => errors.push(error(
                    name,
                    value,
                    format!(
                        "must be a region label of 1 to {MAX_REGION_BYTES} letters, digits, `-` or `_`"
                    ),
                )),
            },
            "concurrency" => match value.as_u64() {
                Some(n) if (1..=MAX_CONCURRENCY).contains(&n) => {
                    settings.concurrency = Some(n as usize)
                }
                _ => errors.push(error(
                    name,
                    value,
                    format!("must be a whole number from 1 to {MAX_CONCURRENCY}"),
                )),
            },
            other => {
                let reason = match did_you_mean(other, SETTINGS_KEYS) {
                    Some(guess) => format!("unknown setting; did you mean `{guess}`?"),
                    None => format!(
                        "unknown setting; expected one of {}",
                        SETTINGS_KEYS.join(", ")
                    ),
                };
                errors.push(error(other, value, reason));
            }
        }
    }
    (settings, errors)
}

/// The settings of a checks document's text (default when it has none, or is no
/// mapping: the checks' own validation reports that).
pub fn settings_of_document(text: &str) -> (RunSettings, Vec<ValidationError>) {
    match serde_yaml::from_str::<Value>(text) {
        Ok(doc) => match doc.get("settings") {
            Some(value) => parse_settings(value),
            None => (RunSettings::default(), Vec::new()),
        },
        Err(_) => (RunSettings::default(), Vec::new()),
    }
}

/// Reads the settings of a checks file. A relative `db` is resolved against the file's
/// directory, so the monitor finds the same database wherever it is started.
pub fn load_settings(path: &Path) -> Result<RunSettings, Vec<ValidationError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ValidationError::new(
            "<file>",
            "settings",
            path.display(),
            format!("cannot read the file: {e}"),
        )]
    })?;
    let (mut settings, errors) = settings_of_document(&text);
    if !errors.is_empty() {
        return Err(errors);
    }
    if let (Some(db), Some(dir)) = (settings.db.as_mut(), path.parent()) {
        if db.is_relative() && !dir.as_os_str().is_empty() {
            *db = dir.join(&*db);
        }
    }
    Ok(settings)
}

/// Line and column (from 1) of `field` (`settings` or `settings.NAME`) in the text of a
/// block-style `settings:` mapping, if found.
pub fn locate_setting(text: &str, field: &str) -> Option<(usize, usize)> {
    let name = field.strip_prefix("settings")?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("settings:") || l.starts_with("settings :"))?;
    let Some(name) = name.strip_prefix('.') else {
        return Some((start + 1, 1));
    };
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            break; // the next top-level key
        }
        let key = trimmed.trim_start_matches(['"', '\'']);
        if key.strip_prefix(name).is_some_and(|rest| {
            rest.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        }) {
            return Some((i + 1, line.len() - trimmed.len() + 1));
        }
    }
    // A flow mapping (`settings: {port: 1}`): the key on the `settings:` line.
    let line = lines[start];
    line.find(&format!("{name}:"))
        .map(|col| (start + 1, col + 1))
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= MAX_REGION_BYTES
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A value as written, for messages.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "<empty>".into(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| "<value>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> (RunSettings, Vec<ValidationError>) {
        settings_of_document(yaml)
    }

    #[test]
    fn valid_settings_are_read() {
        let (s, errors) = parse(
            "settings:\n  db: data/webmon.db\n  port: 0\n  bind: '::1'\n  region: home-lab\n  concurrency: 8\nchecks: []\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            s,
            RunSettings {
                db: Some("data/webmon.db".into()),
                port: Some(0),
                bind: Some("::1".parse().unwrap()),
                region: Some("home-lab".into()),
                concurrency: Some(8),
            }
        );
        assert_eq!(parse("checks: []\n").0, RunSettings::default());
    }

    #[test]
    fn bad_settings_name_the_field_and_reason() {
        let text = "checks: []\nsettings:\n  prt: 8081\n  port: 70000\n  bind: localhost\n  concurrency: 0\n  region: 'a b'\n  db: ''\n";
        let (s, errors) = parse(text);
        assert_eq!(s, RunSettings::default());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.prt",
                "settings.port",
                "settings.bind",
                "settings.concurrency",
                "settings.region",
                "settings.db"
            ]
        );
        assert_eq!(errors[0].reason, "unknown setting; did you mean `port`?");
        assert_eq!(errors[1].value, "70000");
        assert!(errors[1].reason.contains("0 to 65535"));
        assert!(errors[2].reason.contains("IP address"));
        assert!(errors[3].reason.contains("from 1 to 65536"));
        assert_eq!(locate_setting(text, "settings.prt"), Some((3, 3)));
        assert_eq!(locate_setting(text, "settings.port"), Some((4, 3)));
        assert_eq!(locate_setting(text, "settings.db"), Some((8, 3)));
        assert_eq!(locate_setting(text, "settings"), Some((2, 1)));
        let flow = "settings: {port: x}\nchecks: []\n";
        assert_eq!(locate_setting(flow, "settings.port"), Some((1, 12)));
        let (_, errors) = parse("settings: [1]\nchecks: []\n");
        assert_eq!(errors[0].field, "settings");
        let (_, errors) = parse("settings:\n  zzzzzz: 1\nchecks: []\n");
        assert!(errors[0]
            .reason
            .starts_with("unknown setting; expected one of db, port"));
    }
}
