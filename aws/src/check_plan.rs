//! What `webmon checks plan` shows and `webmon checks apply` does: the difference
//! between a checks file and the check table.
//!
//! Both sides are compared as the items [`check_to_item`] writes (the check's source as
//! written, plus `pk` and `schedule_group`), field by field, so a change lists exactly
//! the fields a put would rewrite. An item of the table that fails validation is
//! replaced when the file has a check with its id, and removed by a prune otherwise.

use std::collections::{BTreeMap, BTreeSet};

use webmon_core::check::Check;
use webmon_core::ports::LoadedChecks;

use crate::dynamodb::{check_to_item, PK};
use crate::AwsError;

/// One field that differs between the table's item and the file's check.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The field (item attribute), e.g. `interval`.
    pub field: String,
    /// The table's value (`None`: the item lacks the field).
    pub table: Option<serde_json::Value>,
    /// The file's value (`None`: the check no longer sets the field).
    pub file: Option<serde_json::Value>,
}

/// A check the file and the table disagree on.
#[derive(Debug, Clone)]
pub struct Change {
    /// The check as the file has it (what a put writes).
    pub check: Check,
    /// The fields that differ, sorted by name. Empty when the table's item is invalid.
    pub fields: Vec<FieldChange>,
    /// Why the table's item failed validation, when it did (the put replaces it).
    pub invalid: Option<String>,
}

/// The difference between a checks file and the table.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Checks of the file the table lacks, in file order.
    pub adds: Vec<Check>,
    /// Checks of both that differ, in file order.
    pub changes: Vec<Change>,
    /// Ids in the table the file lacks (deleted only by a prune), sorted.
    pub removals: Vec<String>,
    /// Checks of both that are the same.
    pub unchanged: usize,
}

impl Plan {
    /// Compares the valid checks of a file with what the table holds.
    pub fn of(file: &[Check], table: &LoadedChecks) -> Result<Self, AwsError> {
        let mut stored = BTreeMap::new();
        for check in &table.checks {
            stored.insert(check.id.clone(), fields(check)?);
        }
        let mut invalid: BTreeMap<&str, String> = BTreeMap::new();
        for e in &table.errors {
            if e.check_id.starts_with('<') {
                continue; // no id: nothing a put or delete could address
            }
            let reason = format!("{} = {:?}: {}", e.field, e.value, e.reason);
            invalid
                .entry(e.check_id.as_str())
                .and_modify(|r| {
                    r.push_str("; ");
                    r.push_str(&reason)
                })
                .or_insert(reason);
        }
        let mut plan = Plan::default();
        let mut in_file = BTreeSet::new();
        for check in file {
            in_file.insert(check.id.as_str());
            if let Some(reason) = invalid.get(check.id.as_str()) {
                plan.changes.push(Change {
                    check: check.clone(),
                    fields: Vec::new(),
                    invalid: Some(reason.clone()),
                });
                continue;
            }
            let Some(old) = stored.get(&check.id) else {
                plan.adds.push(check.clone());
                continue;
            };
            let new = fields(check)?;
            let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            let differing: Vec<FieldChange> = names
                .into_iter()
                .filter(|name| old.get(*name) != new.get(*name))
                .map(|name| FieldChange {
                    field: name.clone(),
                    table: old.get(name).cloned(),
                    file: new.get(name).cloned(),
                })
                .collect();
            if differing.is_empty() {
                plan.unchanged += 1;
            } else {
                plan.changes.push(Change {
                    check: check.clone(),
                    fields: differing,
                    invalid: None,
                });
            }
        }
        let mut removals: BTreeSet<String> = stored
            .keys()
            .filter(|id| !in_file.contains(id.as_str()))
            .cloned()
            .collect();
        removals.extend(
            invalid
                .keys()
                .filter(|id| !in_file.contains(*id))
                .map(|id| id.to_string()),
        );
        plan.removals = removals.into_iter().collect();
        Ok(plan)
    }

    /// Whether applying (with `prune` or without) would write nothing.
    pub fn is_empty(&self, prune: bool) -> bool {
        self.adds.is_empty() && self.changes.is_empty() && (!prune || self.removals.is_empty())
    }
}

/// A check's item as JSON fields, without the key (`pk` names the check already).
fn fields(check: &Check) -> Result<BTreeMap<String, serde_json::Value>, AwsError> {
    let item = serde_dynamo::Item::from(check_to_item(check)?);
    let value: serde_json::Value = serde_dynamo::from_item(item).map_err(|e| AwsError::Codec {
        what: format!("decode the item of check {}", check.id),
        reason: e.to_string(),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(AwsError::Codec {
            what: format!("decode the item of check {}", check.id),
            reason: "an item is not a map".into(),
        });
    };
    Ok(map.into_iter().filter(|(k, _)| k != PK).collect())
}

#[cfg(test)]
mod tests {
    use webmon_core::check::{parse_checks_document, ValidationError};

    use super::*;

    fn checks(yaml: &str) -> Vec<Check> {
        let outcome = parse_checks_document(yaml);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        outcome.checks
    }

    #[test]
    fn adds_changes_removals_and_unchanged() {
        let table = LoadedChecks {
            checks: checks(
                "checks:\n- {id: same, url: 'https://a.example/'}\n\
                 - {id: moved, url: 'https://b.example/', interval: 60s}\n\
                 - {id: gone, url: 'https://c.example/'}\n",
            ),
            errors: vec![
                ValidationError::new("broken", "interval", "7s", "is not an interval"),
                ValidationError::new("stale", "url", "ftp://x", "must be http(s)"),
                ValidationError::new("<item without id>", "id", "<missing>", "required"),
            ],
        };
        let file = checks(
            "checks:\n- {id: same, url: 'https://a.example/'}\n\
             - {id: moved, url: 'https://b.example/x', interval: 30s}\n\
             - {id: fresh, url: 'https://d.example/'}\n\
             - {id: broken, url: 'https://e.example/'}\n",
        );
        let plan = Plan::of(&file, &table).unwrap();
        assert_eq!(
            plan.adds.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["fresh"]
        );
        assert_eq!(plan.changes.len(), 2);
        let moved = &plan.changes[0];
        assert_eq!(moved.check.id, "moved");
        assert_eq!(
            moved
                .fields
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>(),
            ["interval", "schedule_group", "url"]
        );
        assert_eq!(moved.fields[0].table, Some(serde_json::json!("60s")));
        assert_eq!(moved.fields[0].file, Some(serde_json::json!("30s")));
        let broken = &plan.changes[1];
        assert_eq!(
            broken.invalid.as_deref(),
            Some("interval = \"7s\": is not an interval")
        );
        assert_eq!(plan.removals, ["gone", "stale"]);
        assert_eq!(plan.unchanged, 1);
        assert!(!plan.is_empty(false));

        let settled = Plan::of(
            &table.checks,
            &LoadedChecks {
                checks: table.checks.clone(),
                errors: Vec::new(),
            },
        )
        .unwrap();
        assert!(settled.is_empty(true));
        assert_eq!(settled.unchanged, 3);
        let only_removals = Plan::of(
            &table.checks[..1],
            &LoadedChecks {
                checks: table.checks.clone(),
                errors: Vec::new(),
            },
        )
        .unwrap();
        assert!(only_removals.is_empty(false) && !only_removals.is_empty(true));
    }
}
