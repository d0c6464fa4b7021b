//! The read side of [`SqliteStore`], used by `webmon report` and by dashboards.
//!
//! Every query is async (it runs on the blocking pool) and takes a lower time bound in
//! Unix milliseconds on the *scheduled* time, so two regions' results for the same
//! execution fall in the same window.

use rusqlite::{params, Connection, OptionalExtension, Row};

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

const SAMPLE_COLUMNS: &str =
    "check_id, region, scheduled_at_ms, available, status_code, error_class, \
     error_message, latency_avg_ms, ttfb_ms, warm_ttfb_ms, dns_ms, connect_ms, tls_ms, transfer_ms";

fn sample(row: &Row<'_>) -> rusqlite::Result<Sample> {
    Ok(Sample {
        check_id: row.get(0)?,
        region: row.get(1)?,
        scheduled_at_ms: row.get(2)?,
        available: row.get(3)?,
        status_code: row.get(4)?,
        error_class: row.get(5)?,
        error_message: row.get(6)?,
        latency_avg_ms: row.get(7)?,
        cold_ttfb_ms: row.get(8)?,
        warm_ttfb_ms: row.get(9)?,
        dns_ms: row.get(10)?,
        connect_ms: row.get(11)?,
        tls_ms: row.get(12)?,
        transfer_ms: row.get(13)?,
    })
}

fn parse_results(label: &str, rows: Vec<String>) -> Result<Vec<ProbeResult>, PortError> {
    rows.into_iter()
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| {
                PortError::Permanent(format!("failed to parse a stored result in {label}: {e}"))
            })
        })
        .collect()
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
        let check = check.map(str::to_string);
        self.with_read_conn(move |conn, label| {
            let sql = format!(
                "SELECT {SAMPLE_COLUMNS} FROM results WHERE scheduled_at_ms >= ?1 AND (?2 IS NULL OR check_id = ?2)
                 ORDER BY check_id, region, scheduled_at_ms"
            );
            collect(conn, label, &sql, params![since_ms, check], sample)
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
            let rows = collect(
                conn,
                label,
                "SELECT result_json FROM results WHERE scheduled_at_ms >= ?1 AND (?2 IS NULL OR check_id = ?2)
                 ORDER BY check_id, region, scheduled_at_ms",
                params![since_ms, check],
                |row| row.get(0),
            )?;
            parse_results(label, rows)
        })
        .await
    }

    /// Every (check, region) pair that has at least one result, sorted.
    pub async fn checks_and_regions(&self) -> Result<Vec<CheckRegion>, PortError> {
        self.with_read_conn(|conn, label| {
            collect(
                conn,
                label,
                "SELECT DISTINCT check_id, region FROM results ORDER BY check_id, region",
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
            let rows = collect(
                conn,
                label,
                "SELECT r.result_json FROM results r
                 JOIN (SELECT check_id, region, MAX(scheduled_at_ms) AS at FROM results GROUP BY check_id, region) l
                   ON r.check_id = l.check_id AND r.region = l.region AND r.scheduled_at_ms = l.at
                 ORDER BY r.check_id, r.region",
                [],
                |row| row.get(0),
            )?;
            parse_results(label, rows)
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
            let json: Option<String> = conn
                .query_row(
                    "SELECT result_json FROM results WHERE check_id = ?1 AND region = ?2
                     ORDER BY scheduled_at_ms DESC LIMIT 1",
                    params![check_id, region],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sql_error("read the latest result", label, e))?;
            Ok(parse_results(label, json.into_iter().collect())?.pop())
        })
        .await
    }

    /// Number of stored results.
    pub async fn count(&self) -> Result<u64, PortError> {
        self.with_read_conn(|conn, label| {
            conn.query_row("SELECT COUNT(*) FROM results", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| sql_error("count results", label, e))
        })
        .await
    }

    /// Deletes results scheduled before `before_ms` (retention); returns how many.
    pub async fn delete_before(&self, before_ms: i64) -> Result<u64, PortError> {
        self.with_conn(move |conn, label| {
            conn.execute(
                "DELETE FROM results WHERE scheduled_at_ms < ?1",
                params![before_ms],
            )
            .map(|n| n as u64)
            .map_err(|e| sql_error("delete old results", label, e))
        })
        .await
    }
}
