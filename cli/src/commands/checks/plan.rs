//! `webmon checks plan` and `webmon checks apply`: make the table match a checks file.
//! The file is validated first; an invalid file exits 2 before the table is read.

use std::path::Path;
use std::process::ExitCode;

use webmon_aws::check_plan::{Change, FieldChange, Plan};
use webmon_aws::dynamodb::DynamoCheckRepository;
use webmon_core::check::{load_checks_file, Check};
use webmon_core::ports::CheckRepository;
use webmon_core::schedule::GroupKey;

use super::table_error;

/// The file's valid checks, or `None` after listing its errors (exit 2).
fn load(file: &Path) -> Option<Vec<Check>> {
    let outcome = load_checks_file(file);
    if outcome.errors.is_empty() {
        return Some(outcome.checks);
    }
    for e in &outcome.errors {
        eprintln!("{e}");
    }
    eprintln!(
        "{} in {}; the table was not touched",
        outcome.summary(),
        file.display()
    );
    None
}

/// Reads the table and compares it with the file.
async fn plan_of(repo: &DynamoCheckRepository, checks: &[Check]) -> anyhow::Result<Plan> {
    let loaded = repo
        .all()
        .await
        .map_err(|e| table_error(repo, "read", e.to_string()))?;
    Ok(Plan::of(checks, &loaded)?)
}

/// Runs `webmon checks plan FILE`: prints what `apply` would do; writes nothing.
pub async fn plan(repo: &DynamoCheckRepository, file: &Path) -> anyhow::Result<ExitCode> {
    let Some(checks) = load(file) else {
        return Ok(ExitCode::from(2));
    };
    let plan = plan_of(repo, &checks).await?;
    for check in &plan.adds {
        println!("+ add {} ({})", check.id, describe(check));
    }
    for change in &plan.changes {
        print_change(change);
    }
    for id in &plan.removals {
        println!("- remove {id} (not in the file; only with --prune)");
    }
    println!(
        "{} to add, {} to change, {} to remove with --prune, {} unchanged in {}",
        plan.adds.len(),
        plan.changes.len(),
        plan.removals.len(),
        plan.unchanged,
        repo.table()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `webmon checks apply FILE [--prune]`: puts new and changed checks, deletes the
/// ones the file lacks with `prune`; a second run finds nothing to do and says so.
pub async fn apply(
    repo: &DynamoCheckRepository,
    file: &Path,
    prune: bool,
) -> anyhow::Result<ExitCode> {
    let Some(checks) = load(file) else {
        return Ok(ExitCode::from(2));
    };
    let plan = plan_of(repo, &checks).await?;
    if plan.is_empty(prune) {
        println!(
            "no changes: {} already matches {} ({} checks)",
            repo.table(),
            file.display(),
            plan.unchanged
        );
        print_kept(&plan, prune);
        return Ok(ExitCode::SUCCESS);
    }
    for check in &plan.adds {
        put(repo, "added", check).await?;
    }
    for change in &plan.changes {
        put(repo, "changed", &change.check).await?;
    }
    let mut removed = 0;
    if prune {
        for id in &plan.removals {
            repo.delete(id)
                .await
                .map_err(|e| table_error(repo, "write", e.to_string()))?;
            println!("removed {id}");
            removed += 1;
        }
    }
    println!(
        "{} added, {} changed, {} removed, {} unchanged in {}",
        plan.adds.len(),
        plan.changes.len(),
        removed,
        plan.unchanged,
        repo.table()
    );
    print_kept(&plan, prune);
    Ok(ExitCode::SUCCESS)
}

async fn put(repo: &DynamoCheckRepository, verb: &str, check: &Check) -> anyhow::Result<()> {
    repo.put(check)
        .await
        .map_err(|e| table_error(repo, "write", e.to_string()))?;
    println!("{verb} {} ({})", check.id, describe(check));
    Ok(())
}

/// Names the checks an apply without `--prune` leaves in the table.
fn print_kept(plan: &Plan, prune: bool) {
    if !prune && !plan.removals.is_empty() {
        println!(
            "kept {} not in the file (--prune deletes them): {}",
            plan.removals.len(),
            plan.removals.join(", ")
        );
    }
}

fn describe(check: &Check) -> String {
    format!("{} in group {}", check.interval, GroupKey::of(check).name())
}

fn print_change(change: &Change) {
    if let Some(reason) = &change.invalid {
        println!(
            "~ change {}: replaces an invalid item ({reason})",
            change.check.id
        );
        return;
    }
    let names: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
    println!("~ change {}: {}", change.check.id, names.join(", "));
    for field in &change.fields {
        println!("    {}", field_line(field));
    }
}

fn field_line(field: &FieldChange) -> String {
    let show = |v: &Option<serde_json::Value>| match v {
        None => "(unset)".to_string(),
        Some(v) => v.to_string(),
    };
    format!(
        "{}: {} -> {}",
        field.field,
        show(&field.table),
        show(&field.file)
    )
}
