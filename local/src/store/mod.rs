//! The embedded result store of the one-machine mode: SQLite (bundled) with schema
//! migrations, WAL and a busy timeout.
//!
//! - [`SqliteStore`] implements [`ResultStore`]: a batch is written in one transaction,
//!   and writing the same execution (check id, region, scheduled time) twice keeps the
//!   first copy, so retried batches never duplicate rows.
//! - Every reported field has its own column, and the full result is kept as JSON so
//!   nothing is lost when the result type grows. The read side is in `query`, and `reader` implements the read port
//!   ([`webmon_core::read::ResultReader`]) over it.
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
mod open;
mod query;
mod reader;
mod schema;

pub use alert_outbox::OutboxCounts;
pub use alert_state::{AlertCommit, IncidentRecord, StoredAlerting};
pub use open::open_existing;
pub use query::CheckRegion;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

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
        }
        schema::migrations().to_latest(&mut conn).map_err(|e| {
            PortError::Permanent(format!("failed to migrate the SQLite store {label}: {e}"))
        })?;
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
    let tx = conn
        .transaction()
        .map_err(|e| sql_error("begin a transaction", label, e))?;
    let mut inserted = 0;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO results (check_id, region, scheduled_at_ms, started_at_ms, url, available,
                    status_code, error_class, error_message, requests, latency_avg_ms, latency_min_ms,
                    latency_max_ms, latency_p50_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms,
                    warm_ttfb_ms, bytes, remote_ip, http_version, tls_cert_days_left, redirects, result_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                    ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
            )
            .map_err(|e| sql_error("prepare the insert", label, e))?;
        for r in results {
            let json = serde_json::to_string(r).map_err(|e| {
                PortError::Permanent(format!(
                    "failed to serialise the result of {}: {e}",
                    r.check_id
                ))
            })?;
            inserted += stmt
                .execute(params![
                    r.check_id,
                    r.region,
                    r.scheduled_at_ms,
                    r.started_at_ms,
                    r.url,
                    r.available,
                    r.status_code,
                    r.error_class.map(|c| c.as_str()),
                    r.error_message,
                    r.requests,
                    r.latency.avg_ms,
                    r.latency.min_ms,
                    r.latency.max_ms,
                    r.latency.p50_ms,
                    r.cold.dns_ms,
                    r.cold.connect_ms,
                    r.cold.tls_ms,
                    r.cold.ttfb_ms,
                    r.cold.transfer_ms,
                    r.warm_ttfb_ms,
                    r.bytes as i64,
                    r.remote_ip,
                    r.http_version,
                    r.tls_cert_days_left,
                    r.redirects,
                    json,
                ])
                .map_err(|e| {
                    sql_error(&format!("insert the result of {}", r.check_id), label, e)
                })?;
        }
    }
    tx.commit()
        .map_err(|e| sql_error("commit a batch", label, e))?;
    Ok(inserted)
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
