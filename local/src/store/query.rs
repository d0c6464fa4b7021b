//! The read side of [`SqliteStore`], used by `webmon report` and by dashboards.
//!
//! Every query is async (it runs on the blocking pool) and takes a lower time bound in
//! Unix milliseconds on the *scheduled* time, so two regions' results for the same
//! execution fall in the same window.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::compact::{result, sample, RESULT_COLUMNS, RESULT_FROM, SAMPLE_COLUMNS};
use super::{sql_error, SqliteStore};
use webmon_core::ports::PortError;
use webmon_core::report::Sample;
use webmon_core::result::ProbeResult;

/// A check and a region that have results.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CheckRegion {
    /// Check id.
    pub check_id: String,
    /// Probe region.
    pub region: String,
}

fn results(rows: Vec<(i64, ProbeResult)>) -> Vec<ProbeResult> {
    rows.into_iter().map(|(_, r)| r).collect()
}

fn collect<T>(
    conn: &Connection,
    label: &str,
    sql: &str,
    args: impl rusqlite::Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, PortError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| sql_error("prepare a query", label, e))?;
    let rows = stmt
        .query_map(args, map)
        .map_err(|e| sql_error("run a query", label, e))?;
    rows.collect::<rusqlite::Result<Vec<T>>>()
        .map_err(|e| sql_error("read a row", label, e))
}

impl SqliteStore {
    /// Report samples scheduled at or after `since_ms`, optionally for one check,
    /// ordered by check, region and scheduled time.
    pub async fn samples_since(
        &self,
        since_ms: i64,
        check: Option<&str>,
    ) -> Result<Vec<Sample>, PortError> {
        self.samples_between(since_ms, i64::MAX, check).await
    }

    /// Report samples scheduled in `[from_ms, to_ms)`, optionally for one check, ordered
    /// by check, region and scheduled time. Each series is read through its
    /// (series, time) index.
    pub async fn samples_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        check: Option<&str>,
    ) -> Result<Vec<Sample>, PortError> {
        let check = check.map(str::to_string);
        self.with_read_conn(move |conn, label| {
            let sql = format!(
                "SELECT {SAMPLE_COLUMNS} FROM series s CROSS JOIN executions e
                   ON e.series = s.id AND e.at >= ?1 AND e.at < ?2
                 WHERE (?3 IS NULL OR s.check_id = ?3)
                 ORDER BY s.check_id, s.region, e.at"
            );
            collect(conn, label, &sql, params![from_ms, to_ms, check], sample)
        })
        .await
    }

    /// Full results scheduled at or after `since_ms`, optionally for one check, ordered
    /// by check, region and scheduled time.
    pub async fn results_since(
        &self,
        since_ms: i64,
        check: Option<&str>,
    ) -> Result<Vec<ProbeResult>, PortError> {
        let check = check.map(str::to_string);
        self.with_read_conn(move |conn, label| {
            let sql = format!(
                "SELECT {RESULT_COLUMNS} FROM {RESULT_FROM}
                 WHERE e.at >= ?1 AND (?2 IS NULL OR s.check_id = ?2)
                 ORDER BY s.check_id, s.region, e.at"
            );
            collect(conn, label, &sql, params![since_ms, check], result).map(results)
        })
        .await
    }

    /// Every (check, region) pair that has at least one result, sorted.
    pub async fn checks_and_regions(&self) -> Result<Vec<CheckRegion>, PortError> {
        self.with_read_conn(|conn, label| {
            collect(
                conn,
                label,
                "SELECT check_id, region FROM series s
                 WHERE EXISTS (SELECT 1 FROM executions WHERE series = s.id)
                    OR EXISTS (SELECT 1 FROM rollups WHERE level = 86400 AND series = s.id)
                 ORDER BY check_id, region",
                [],
                |row| {
                    Ok(CheckRegion {
                        check_id: row.get(0)?,
                        region: row.get(1)?,
                    })
                },
            )
        })
        .await
    }

    /// The most recent result (by scheduled time) of each check in each region.
    pub async fn latest(&self) -> Result<Vec<ProbeResult>, PortError> {
        self.with_read_conn(|conn, label| {
            let sql = format!(
                "SELECT {RESULT_COLUMNS} FROM {RESULT_FROM}
                 WHERE e.id IN (SELECT (SELECT id FROM executions WHERE series = x.id
                                        ORDER BY at DESC LIMIT 1) FROM series x)
                 ORDER BY s.check_id, s.region"
            );
            collect(conn, label, &sql, [], result).map(results)
        })
        .await
    }

    /// The most recent result of one check in one region.
    pub async fn latest_for(
        &self,
        check_id: &str,
        region: &str,
    ) -> Result<Option<ProbeResult>, PortError> {
        let (check_id, region) = (check_id.to_string(), region.to_string());
        self.with_read_conn(move |conn, label| {
            let sql = format!(
                "SELECT {RESULT_COLUMNS} FROM {RESULT_FROM}
                 WHERE s.check_id = ?1 AND s.region = ?2 ORDER BY e.at DESC LIMIT 1"
            );
            conn.query_row(&sql, params![check_id, region], result)
                .optional()
                .map(|r| r.map(|(_, r)| r))
                .map_err(|e| sql_error("read the latest result", label, e))
        })
        .await
    }

    /// Number of stored (raw) executions.
    pub async fn count(&self) -> Result<u64, PortError> {
        self.with_read_conn(|conn, label| {
            conn.query_row("SELECT COUNT(*) FROM executions", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| sql_error("count results", label, e))
        })
        .await
    }
}
