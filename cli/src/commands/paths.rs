//! Paths given on the command line, checked before use so a mistake is named as such:
//! a directory where a file is expected, a directory on the path that does not exist.

use std::path::Path;

use super::bad_input;

/// Refuses a checks file that is a directory or does not exist (exit 2).
pub fn checks_file(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    if path.is_dir() {
        return Err(bad_input(format!(
            "failed to read the checks file {shown}: it is a directory, not a file; give the YAML file itself"
        )));
    }
    if !path.exists() {
        return Err(bad_input(match missing_parent(path) {
            Some(parent) => format!(
                "failed to read the checks file {shown}: the directory {} does not exist",
                parent.display()
            ),
            None => format!("failed to read the checks file {shown}: no such file"),
        }));
    }
    Ok(())
}

/// Refuses a `--db` path that is a directory, or (when the command would create the
/// file) whose directory does not exist (exit 2).
pub fn database(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    if path.is_dir() {
        return Err(bad_input(format!(
            "failed to open the result store {shown}: it is a directory, not a database file; give a file such as {}",
            path.join("webmon.db").display()
        )));
    }
    if let Some(parent) = missing_parent(path) {
        return Err(bad_input(format!(
            "failed to open the result store {shown}: the directory {} does not exist; create it first (mkdir -p {})",
            parent.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// The directory of `path` when it is named and is no directory.
fn missing_parent(path: &Path) -> Option<&Path> {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.is_dir())
}
