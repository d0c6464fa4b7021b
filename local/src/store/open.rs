//! Reading a report from the embedded SQLite store.
//!
//! A report never creates a store: the file must exist and hold the `executions` table
//! written by `webmon run`. The store is opened read-only
//! ([`SqliteStore::open_read_only`]): nothing is written, so a file the reader cannot
//! write works.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use webmon_core::ports::PortError;

/// Opens the store at `path` for a report. The error names the file and says why it
/// cannot be read: missing, not a SQLite database, or without an `executions` table.
pub fn open_existing(path: &Path) -> Result<SqliteStore, PortError> {
    let label = path.display();
    if !path.is_file() {
        return Err(PortError::Permanent(format!(
            "failed to open the result store {label}: no such file (start `webmon run --db {label}` first, or pass --db)"
        )));
    }
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            PortError::Permanent(format!("failed to open the result store {label}: {e}"))
        })?;
    let tables: Result<i64, _> = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'executions'",
        [],
        |row| row.get(0),
    );
    match tables {
        Ok(1) => {}
        Ok(_) => {
            return Err(PortError::Permanent(format!(
                "failed to read the result store {label}: it has no executions table (is it a database written by `webmon run`?)"
            )))
        }
        Err(e) => {
            return Err(PortError::Permanent(format!(
                "failed to read the result store {label}: {e}"
            )))
        }
    }
    drop(conn);
    SqliteStore::open_read_only(path)
}
