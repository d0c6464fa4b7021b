//! The embedded result store of the one-machine mode: SQLite (bundled) with schema
//! migrations, WAL and a busy timeout.
//!
//! - [`SqliteStore`] implements [`ResultStore`]: a batch is written in one transaction,
//!   and writing the same execution (check id, region, scheduled time) twice keeps the
//!   first copy, so retried batches never duplicate rows.
//! - Executions are kept compact (`compact`: about 65 bytes each, timings to the
//!   microsecond) for the raw retention, and rolled up into 5-minute, hourly and daily
//!   aggregates (`rollup`) kept far longer. The read side is in `query`, and `reader`
//!   implements the read ports over it, reading rollups for long windows.
//! - The writing connection sits behind a mutex and each call runs on tokio's blocking
//!   pool, so the async runtime never waits on disk. Reads of a file store go through a
//!   second, read-only connection: under WAL a dashboard query never holds the writer's
//!   lock, so it can neither stall the batching writer nor probing behind it.
//! - [`SqliteStore::open_read_only`] opens a file without writing to it (`report`,
//!   `dashboard`), so they work on a database they cannot write.
//! - The alerting tables of `webmon run` (evaluator state, incidents, outbox, silences)
//!   are in `alert_state` and `alert_outbox`.

mod alert_outbox;
mod alert_state;
#[cfg(test)]
mod alert_tests;
mod compact;
mod open;
mod query;
mod reader;
mod rollup;
mod schema;

pub use alert_outbox::OutboxCounts;
pub use alert_state::{AlertCommit, IncidentRecord, StoredAlerting};
pub use open::open_existing;
pub use query::CheckRegion;
pub use rollup::{
    maintain_every, Retention, RetentionRun, RollupBounds, RollupImport, RollupRun, ROLLUP_BATCH,
};

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::ProbeResult;

/// How long a writer waits for another connection's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite result store. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    /// The connection queries use: read-only on a file, the writer's one in memory.
    /// Declared first so it closes first: the writing connection, closing last,
    /// checkpoints the WAL and removes it.
    reader: Arc<Mutex<Connection>>,
    conn: Arc<Mutex<Connection>>,
    label: Arc<str>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.label)
            .finish()
    }
}

fn sql_error(what: &str, label: &str, e: rusqlite::Error) -> PortError {
    let message = format!("failed to {what} in the SQLite store {label}: {e}");
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            PortError::Transient(message)
        }
        _ => PortError::Permanent(message),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, switches it to WAL and
    /// applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, PortError> {
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| sql_error("open the database", &label, e))?;
        let mut store = Self::init(conn, label, true)?;
        store.reader = Arc::new(Mutex::new(read_only(path)?));
        Ok(store)
    }

    /// Opens an existing database file for reading only: nothing is created, migrated or
    /// written, so a file (or a directory) the process cannot write is fine. Writes
    /// through this store fail.
    pub fn open_read_only(path: &Path) -> Result<Self, PortError> {
        let conn = Arc::new(Mutex::new(read_only(path)?));
        Ok(Self {
            conn: conn.clone(),
            reader: conn,
            label: path.display().to_string().into(),
        })
    }

    /// An in-memory database, for tests and one-off runs.
    pub fn open_in_memory() -> Result<Self, PortError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| sql_error("open the database", ":memory:", e))?;
        Self::init(conn, ":memory:".into(), false)
    }

    fn init(mut conn: Connection, label: String, wal: bool) -> Result<Self, PortError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql_error("set the busy timeout", &label, e))?;
        if wal {
            // WAL lets a report or a dashboard read while `webmon run` writes.
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|e| sql_error("switch to WAL", &label, e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(PortError::Permanent(format!(
                    "failed to switch the SQLite store {label} to WAL (got {mode})"
                )));
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| sql_error("set synchronous", &label, e))?;
            // 32 MiB of page cache for the writer (SQLite's default is 2 MiB): rollup
            // upserts land all over the rollup tables, and with the default cache each
            // one reads its pages back from the file.
            conn.pragma_update(None, "cache_size", -32_768)
                .map_err(|e| sql_error("set the cache size", &label, e))?;
        }
        schema::migrations().to_latest(&mut conn).map_err(|e| {
            PortError::Permanent(format!("failed to migrate the SQLite store {label}: {e}"))
        })?;
        let moved = carry_forward(&mut conn, &label)?;
        if moved > 0 {
            tracing::info!(store = %label, results = moved, "carried stored results forward into the compact form");
        }
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            conn: conn.clone(),
            reader: conn,
            label: label.into(),
        })
    }

    /// Where the database lives (`:memory:` for an in-memory one).
    pub fn path_label(&self) -> &str {
        &self.label
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll
        // back), so a poisoned mutex is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the writing connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, PortError> + Send + 'static,
    {
        self.on(self.conn.clone(), f).await
    }

    /// Runs `f` with the reading connection on the blocking pool.
    async fn with_read_conn<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, PortError> + Send + 'static,
    {
        self.on(self.reader.clone(), f).await
    }

    async fn on<T, F>(&self, conn: Arc<Mutex<Connection>>, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, PortError> + Send + 'static,
    {
        let label = self.label.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite consistent (transactions roll
            // back), so a poisoned mutex is safe to reuse.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &label)
        })
        .await
        .map_err(|e| PortError::Transient(format!("failed to run a SQLite task: {e}")))?
    }

    /// Writes results synchronously; returns how many rows were new.
    pub fn write_blocking(&self, results: &[ProbeResult]) -> Result<usize, PortError> {
        let mut conn = self.lock();
        insert_batch(&mut conn, &self.label, results)
    }
}

/// A read-only connection to the file at `path`, with the busy timeout.
fn read_only(path: &Path) -> Result<Connection, PortError> {
    let label = path.display().to_string();
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| sql_error("open the database for reading", &label, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sql_error("set the busy timeout", &label, e))?;
    Ok(conn)
}

fn insert_batch(
    conn: &mut Connection,
    label: &str,
    results: &[ProbeResult],
) -> Result<usize, PortError> {
    // Immediate: the write lock is taken (waiting up to the busy timeout) before the
    // series lookups read, so a busy database is a clean, retryable error.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| sql_error("begin a transaction", label, e))?;
    let inserted = insert_rows(&tx, label, results.iter().map(|r| (None, r)))?;
    tx.commit()
        .map_err(|e| sql_error("commit a batch", label, e))?;
    Ok(inserted)
}

/// The id of the row of `table` keyed by `key` (two text columns or one), inserted when
/// missing.
fn id_of(tx: &Transaction<'_>, label: &str, table: Key<'_>) -> Result<i64, PortError> {
    let (select, insert, args): (&str, &str, Vec<&str>) = match table {
        Key::Series(check, region) => (
            "SELECT id FROM series WHERE check_id = ?1 AND region = ?2",
            "INSERT INTO series (check_id, region) VALUES (?1, ?2)",
            vec![check, region],
        ),
        Key::Variant(json) => (
            "SELECT id FROM variants WHERE json = ?1",
            "INSERT INTO variants (json) VALUES (?1)",
            vec![json],
        ),
    };
    let found = tx
        .prepare_cached(select)
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params_from_iter(&args), |row| row.get(0))
                .optional()
        })
        .map_err(|e| sql_error("look up a series", label, e))?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.prepare_cached(insert)
        .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(&args)))
        .map_err(|e| sql_error("add a series", label, e))?;
    Ok(tx.last_insert_rowid())
}

/// The id of the series of `check` in `region`, added when missing.
fn series_id(
    tx: &Transaction<'_>,
    label: &str,
    check: &str,
    region: &str,
) -> Result<i64, PortError> {
    id_of(tx, label, Key::Series(check, region))
}

/// A row keyed by text in [`id_of`].
enum Key<'a> {
    Series(&'a str, &'a str),
    Variant(&'a str),
}

/// Inserts results in their compact form (with a given row id, when carrying old rows
/// forward); an execution already stored is left as it is. Returns how many were new.
fn insert_rows<'r>(
    tx: &Transaction<'_>,
    label: &str,
    rows: impl Iterator<Item = (Option<i64>, &'r ProbeResult)>,
) -> Result<usize, PortError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO executions (id, series, at, started, available, status,
                error_class, error_message, requests, timings, bytes, redirects, attempts,
                cert_days, flags, variant)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .map_err(|e| sql_error("prepare the insert", label, e))?;
    let mut inserted = 0;
    for (id, r) in rows {
        let series = id_of(tx, label, Key::Series(&r.check_id, &r.region))?;
        let variant = id_of(tx, label, Key::Variant(&compact::Variant::json_of(r)))?;
        inserted += stmt
            .execute(params![
                id,
                series,
                r.scheduled_at_ms,
                r.started_at_ms - r.scheduled_at_ms,
                r.available,
                r.status_code,
                r.error_class.map(|c| c.as_str()),
                r.error_message,
                r.requests,
                compact::timings_of(r),
                r.bytes as i64,
                r.redirects,
                r.attempts,
                r.tls_cert_days_left,
                compact::flags_of(r),
                variant,
            ])
            .map_err(|e| sql_error(&format!("insert the result of {}", r.check_id), label, e))?;
    }
    Ok(inserted)
}

/// Moves the rows of a schema-3 database (`results_v3`, every column plus JSON) into
/// the compact form, keeping their ids, then drops the old table. One transaction, so
/// an interrupted open leaves the old rows where they were.
fn carry_forward(conn: &mut Connection, label: &str) -> Result<u64, PortError> {
    let exists: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'results_v3'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| sql_error("look for old results", label, e))?;
    if !exists {
        return Ok(0);
    }
    let tx = conn
        .transaction()
        .map_err(|e| sql_error("begin a transaction", label, e))?;
    let old: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, result_json FROM results_v3 ORDER BY id")
            .map_err(|e| sql_error("read old results", label, e))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| sql_error("read old results", label, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| sql_error("read old results", label, e))?
    };
    let mut parsed = Vec::with_capacity(old.len());
    for (id, json) in old {
        let result: ProbeResult = serde_json::from_str(&json).map_err(|e| {
            PortError::Permanent(format!(
                "failed to carry forward result {id} of the SQLite store {label}: {e}"
            ))
        })?;
        parsed.push((Some(id), result));
    }
    let moved = insert_rows(&tx, label, parsed.iter().map(|(id, r)| (*id, r)))?;
    tx.execute_batch("DROP TABLE results_v3")
        .map_err(|e| sql_error("drop the old results table", label, e))?;
    tx.commit()
        .map_err(|e| sql_error("commit the carried-forward results", label, e))?;
    Ok(moved as u64)
}

impl ResultStore for SqliteStore {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        if results.is_empty() {
            return Ok(());
        }
        let batch = results.to_vec();
        self.with_conn(move |conn, label| insert_batch(conn, label, &batch).map(|_| ()))
            .await
    }
}
