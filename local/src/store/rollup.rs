//! The write side of rollups and retention (docs/storage.md).
//!
//! - [`SqliteStore::roll_up`] folds executions stored since the last run into their
//!   5-minute, hourly and daily rollups, in batches. The batch's rollups and the new
//!   high-water mark (`rollup_meta.rolled_id`) commit in one transaction, so every
//!   execution is counted exactly once, late arrivals included.
//! - [`SqliteStore::apply_retention`] deletes raw executions older than the raw
//!   retention (only those already rolled up) and rollups older than theirs, one series
//!   at a time, so the writer never waits long for the lock.
//! - [`SqliteStore::rollup_bounds`] and [`SqliteStore::rollups_between`] serve the read
//!   side.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::compact::{sample_at, SAMPLE_COLUMNS};
use super::{sql_error, SqliteStore};
use webmon_core::ports::PortError;
use webmon_core::report::rollup::{Aggregate, Level, Rollup};

/// The level column of a rollup: its width in seconds.
pub(super) fn level_code(level: Level) -> i64 {
    level.width_ms() / 1000
}

/// What one [`SqliteStore::roll_up`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupRun {
    /// Executions folded into rollups.
    pub executions: u64,
    /// Rollup rows written (new or updated).
    pub rollups: u64,
}

/// What one [`SqliteStore::apply_retention`] call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionRun {
    /// Raw executions deleted.
    pub executions: u64,
    /// Rollup rows deleted.
    pub rollups: u64,
}

/// Where the read side may use rollups and raw executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupBounds {
    /// Raw executions are kept from here on.
    pub raw_from_ms: i64,
    /// Rollups are complete for buckets ending at or before this.
    pub rolled_to_ms: i64,
}

impl SqliteStore {
    /// Folds up to `batch` executions not yet rolled up into their rollups. Call it until
    /// it returns fewer than `batch` executions to catch up.
    pub async fn roll_up(&self, batch: usize) -> Result<RollupRun, PortError> {
        self.with_conn(move |conn, label| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| sql_error("begin a transaction", label, e))?;
            let rolled: i64 = tx
                .query_row("SELECT rolled_id FROM rollup_meta", [], |r| r.get(0))
                .map_err(|e| sql_error("read the rollup mark", label, e))?;
            let sql = format!(
                "SELECT e.id, e.series, {SAMPLE_COLUMNS} FROM executions e JOIN series s ON s.id = e.series
                 WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
            );
            let rows: Vec<(i64, i64, webmon_core::report::Sample)> = {
                let mut stmt = tx
                    .prepare_cached(&sql)
                    .map_err(|e| sql_error("prepare a query", label, e))?;
                let rows = stmt
                    .query_map(params![rolled, batch as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, sample_at(row, 2)?))
                    })
                    .map_err(|e| sql_error("read executions to roll up", label, e))?;
                rows.collect::<rusqlite::Result<_>>()
                    .map_err(|e| sql_error("read an execution to roll up", label, e))?
            };
            let Some(last_id) = rows.last().map(|r| r.0) else {
                return Ok(RollupRun::default());
            };
            let mut buckets: BTreeMap<(i64, i64, i64), Aggregate> = BTreeMap::new();
            for (_, series, s) in &rows {
                for level in Level::ALL {
                    buckets
                        .entry((level_code(level), *series, level.start_of(s.scheduled_at_ms)))
                        .or_default()
                        .add(s);
                }
            }
            let written = buckets.len() as u64;
            for ((level, series, start), mut aggregate) in buckets {
                if let Some(old) = read_rollup(&tx, label, level, series, start)? {
                    aggregate.merge(&old);
                }
                write_rollup(&tx, label, level, series, start, &aggregate)?;
            }
            tx.execute("UPDATE rollup_meta SET rolled_id = ?1", params![last_id])
                .map_err(|e| sql_error("move the rollup mark", label, e))?;
            tx.commit()
                .map_err(|e| sql_error("commit rollups", label, e))?;
            Ok(RollupRun {
                executions: rows.len() as u64,
                rollups: written,
            })
        })
        .await
    }

    /// Deletes raw executions scheduled before `raw_before_ms` that are rolled up, and
    /// rollups starting before `rollups_before_ms`. One short transaction per series.
    pub async fn apply_retention(
        &self,
        raw_before_ms: i64,
        rollups_before_ms: i64,
    ) -> Result<RetentionRun, PortError> {
        let series: Vec<i64> = self
            .with_conn(|conn, label| {
                let mut stmt = conn
                    .prepare_cached("SELECT id FROM series ORDER BY id")
                    .map_err(|e| sql_error("prepare a query", label, e))?;
                let ids = stmt
                    .query_map([], |r| r.get(0))
                    .map_err(|e| sql_error("list series", label, e))?;
                ids.collect::<rusqlite::Result<_>>()
                    .map_err(|e| sql_error("list series", label, e))
            })
            .await?;
        let mut run = RetentionRun::default();
        for id in series {
            let (executions, rollups) = self
                .with_conn(move |conn, label| {
                    let tx = conn
                        .transaction()
                        .map_err(|e| sql_error("begin a transaction", label, e))?;
                    let executions = tx
                        .execute(
                            "DELETE FROM executions WHERE series = ?1 AND at < ?2
                               AND id <= (SELECT rolled_id FROM rollup_meta)",
                            params![id, raw_before_ms],
                        )
                        .map_err(|e| sql_error("delete old executions", label, e))?;
                    let mut rollups = 0;
                    for level in Level::ALL {
                        rollups += tx
                            .execute(
                                "DELETE FROM rollups WHERE level = ?1 AND series = ?2 AND start < ?3",
                                params![level_code(level), id, rollups_before_ms],
                            )
                            .map_err(|e| sql_error("delete old rollups", label, e))?;
                        tx.execute(
                            "DELETE FROM rollup_phases WHERE level = ?1 AND series = ?2 AND start < ?3",
                            params![level_code(level), id, rollups_before_ms],
                        )
                        .map_err(|e| sql_error("delete old rollups", label, e))?;
                    }
                    tx.commit()
                        .map_err(|e| sql_error("commit the retention", label, e))?;
                    Ok((executions as u64, rollups as u64))
                })
                .await?;
            run.executions += executions;
            run.rollups += rollups;
        }
        self.with_conn(move |conn, label| {
            conn.execute(
                "UPDATE rollup_meta SET raw_before = MAX(raw_before, ?1)",
                params![raw_before_ms],
            )
            .map_err(|e| sql_error("record the raw retention", label, e))
        })
        .await?;
        Ok(run)
    }

    /// Where raw executions start and how far the rollups are complete.
    pub async fn rollup_bounds(&self) -> Result<RollupBounds, PortError> {
        self.with_read_conn(|conn, label| {
            let (rolled_id, raw_before): (i64, i64) = conn
                .query_row("SELECT rolled_id, raw_before FROM rollup_meta", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(|e| sql_error("read the rollup mark", label, e))?;
            let oldest_unrolled: Option<i64> = conn
                .query_row(
                    "SELECT MIN(at) FROM executions WHERE id > ?1",
                    params![rolled_id],
                    |r| r.get(0),
                )
                .map_err(|e| sql_error("read the rollup mark", label, e))?;
            Ok(RollupBounds {
                raw_from_ms: raw_before,
                rolled_to_ms: oldest_unrolled
                    .map_or(i64::MAX, |at| Level::FiveMinutes.start_of(at)),
            })
        })
        .await
    }

    /// The rollups of `level` with a bucket start in `[first, last]`, optionally of one
    /// check; with `phases`, their phase sketches too (otherwise left empty).
    pub async fn rollups_between(
        &self,
        level: Level,
        first: i64,
        last: i64,
        check: Option<&str>,
        phases: bool,
    ) -> Result<Vec<Rollup>, PortError> {
        let check = check.map(str::to_string);
        self.with_read_conn(move |conn, label| {
            let sql = if phases {
                "SELECT s.check_id, s.region, r.start, r.summary, p.phases
                 FROM series s CROSS JOIN rollups r
                   ON r.level = ?1 AND r.series = s.id AND r.start >= ?2 AND r.start <= ?3
                 LEFT JOIN rollup_phases p ON p.level = r.level AND p.series = r.series AND p.start = r.start
                 WHERE (?4 IS NULL OR s.check_id = ?4)"
            } else {
                "SELECT s.check_id, s.region, r.start, r.summary, NULL
                 FROM series s CROSS JOIN rollups r
                   ON r.level = ?1 AND r.series = s.id AND r.start >= ?2 AND r.start <= ?3
                 WHERE (?4 IS NULL OR s.check_id = ?4)"
            };
            let mut stmt = conn
                .prepare_cached(sql)
                .map_err(|e| sql_error("prepare a query", label, e))?;
            let rows = stmt
                .query_map(params![level_code(level), first, last, check], |r| {
                    let check_id: String = r.get(0)?;
                    let region: String = r.get(1)?;
                    let start_ms: i64 = r.get(2)?;
                    let summary = r.get_ref(3)?.as_blob()?;
                    let phases = r.get_ref(4)?.as_blob_or_null()?;
                    Ok((check_id, region, start_ms, Aggregate::decode(summary, phases)))
                })
                .map_err(|e| sql_error("read rollups", label, e))?;
            let mut out = Vec::new();
            for row in rows {
                let (check_id, region, start_ms, aggregate) =
                    row.map_err(|e| sql_error("read a rollup", label, e))?;
                let aggregate = aggregate.map_err(|e| {
                    PortError::Permanent(format!(
                        "the rollup of {check_id} in {region} at {start_ms} in {label} is damaged: {e}"
                    ))
                })?;
                out.push(Rollup {
                    check_id,
                    region,
                    start_ms,
                    aggregate,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// The stored rollup at (level, series, start), with its phases.
fn read_rollup(
    tx: &rusqlite::Transaction<'_>,
    label: &str,
    level: i64,
    series: i64,
    start: i64,
) -> Result<Option<Aggregate>, PortError> {
    let found: Option<(Vec<u8>, Option<Vec<u8>>)> = tx
        .prepare_cached(
            "SELECT r.summary, p.phases FROM rollups r
             LEFT JOIN rollup_phases p ON p.level = r.level AND p.series = r.series AND p.start = r.start
             WHERE r.level = ?1 AND r.series = ?2 AND r.start = ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![level, series, start], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| sql_error("read a rollup", label, e))?;
    found
        .map(|(summary, phases)| {
            Aggregate::decode(&summary, phases.as_deref()).map_err(|e| {
                PortError::Permanent(format!(
                    "the rollup of series {series} at {start} in {label} is damaged: {e}"
                ))
            })
        })
        .transpose()
}

/// Writes (replacing) the rollup at (level, series, start).
fn write_rollup(
    tx: &rusqlite::Transaction<'_>,
    label: &str,
    level: i64,
    series: i64,
    start: i64,
    aggregate: &Aggregate,
) -> Result<(), PortError> {
    let (summary, phases) = aggregate.encode();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO rollups (level, series, start, summary) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![level, series, start, summary]))
    .and_then(|_| {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO rollup_phases (level, series, start, phases) VALUES (?1, ?2, ?3, ?4)",
        )
    })
    .and_then(|mut stmt| stmt.execute(params![level, series, start, phases]))
    .map_err(|e| sql_error("write a rollup", label, e))?;
    Ok(())
}

/// How long `webmon run` keeps raw executions and rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw executions (default 7 days).
    pub raw: std::time::Duration,
    /// Rollups (default 400 days).
    pub rollups: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw: std::time::Duration::from_secs(7 * 86_400),
            rollups: std::time::Duration::from_secs(400 * 86_400),
        }
    }
}

/// Executions folded per rollup transaction: short enough that the batching writer
/// waits at most tens of milliseconds for the lock.
pub const ROLLUP_BATCH: usize = 5_000;

impl SqliteStore {
    /// One maintenance pass: rolls up everything stored so far, in batches, then applies
    /// `retention` as of `now_ms`. Returns what it did.
    pub async fn maintain(
        &self,
        retention: Retention,
        now_ms: i64,
    ) -> Result<(RollupRun, RetentionRun), PortError> {
        let mut rolled = RollupRun::default();
        loop {
            let run = self.roll_up(ROLLUP_BATCH).await?;
            rolled.executions += run.executions;
            rolled.rollups += run.rollups;
            if run.executions < ROLLUP_BATCH as u64 {
                break;
            }
            // Let the writer in between batches.
            tokio::task::yield_now().await;
        }
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let kept = self
            .apply_retention(
                now_ms.saturating_sub(ms(retention.raw)),
                now_ms.saturating_sub(ms(retention.rollups)),
            )
            .await?;
        Ok((rolled, kept))
    }
}

/// Runs [`SqliteStore::maintain`] every `every` until the task is dropped; a failed
/// pass is logged and retried at the next tick (nothing is lost: the rollup mark only
/// moves with a committed batch).
pub async fn maintain_every(
    store: SqliteStore,
    retention: Retention,
    every: std::time::Duration,
    clock: std::sync::Arc<dyn webmon_core::ports::Clock>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.maintain(retention, clock.now_ms()).await {
            Ok((rolled, kept)) => tracing::debug!(
                rolled_up = rolled.executions,
                rollups_written = rolled.rollups,
                raw_deleted = kept.executions,
                rollups_deleted = kept.rollups,
                "store maintenance"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "store maintenance failed; retrying at the next pass")
            }
        }
    }
}

/// A rollup to import: check, region, level, bucket start and the aggregate.
pub type RollupImport = (String, String, Level, i64, Aggregate);

impl SqliteStore {
    /// Writes rollups directly (replacing any at the same bucket), for history imported
    /// from elsewhere and for `webmon bench store`, which builds 90 days of rollups
    /// without storing every execution first. One transaction.
    pub async fn import_rollups(&self, rollups: Vec<RollupImport>) -> Result<usize, PortError> {
        self.with_conn(move |conn, label| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| sql_error("begin a transaction", label, e))?;
            for (check, region, level, start, aggregate) in &rollups {
                let series = super::series_id(&tx, label, check, region)?;
                write_rollup(&tx, label, level_code(*level), series, *start, aggregate)?;
            }
            tx.commit()
                .map_err(|e| sql_error("commit rollups", label, e))?;
            Ok(rollups.len())
        })
        .await
    }

    /// Bytes of the database file (after checkpointing the WAL into it) and the rows
    /// of each kind: raw executions and rollups.
    pub async fn footprint(&self) -> Result<(u64, u64, u64), PortError> {
        self.with_conn(|conn, label| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| sql_error("checkpoint", label, e))?;
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .map_err(|e| sql_error("read the page count", label, e))?;
            let size: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(|e| sql_error("read the page size", label, e))?;
            let count = |table: &str| -> Result<u64, PortError> {
                conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(|e| sql_error("count rows", label, e))
            };
            Ok((
                (pages * size) as u64,
                count("executions")?,
                count("rollups")?,
            ))
        })
        .await
    }
}
