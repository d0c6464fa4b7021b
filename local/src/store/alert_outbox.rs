//! The delivery outbox and the ad-hoc silences of `webmon run`, in SQLite.
//!
//! Outbox rows are inserted by the evaluation commit (one per notification and channel,
//! never twice); the delivery task reads the due ones and writes each attempt's outcome
//! back. A crash between a send and its record sends that notification once more, with
//! the same id (the receivers' dedup key): at most one duplicate, nothing lost.

use rusqlite::{params, Row};
use serde::Serialize;

use super::{sql_error, SqliteStore};
use webmon_core::alert::Silence;
use webmon_core::ports::PortError;
use webmon_notify::{OutboxEntry, OutboxStatus};

const OUTBOX_COLUMNS: &str = "intent_id, channel_id, notification_json, attempts, created_at_ms, \
     next_attempt_at_ms, status, last_error, reference";

fn status_str(s: OutboxStatus) -> &'static str {
    match s {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Sent => "sent",
        OutboxStatus::Failed => "failed",
    }
}

fn entry(row: &Row<'_>) -> rusqlite::Result<(OutboxEntry, String)> {
    let json: String = row.get(2)?;
    let status: String = row.get(6)?;
    let notification = serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok((
        OutboxEntry {
            intent_id: row.get(0)?,
            channel_id: row.get(1)?,
            notification,
            attempts: row.get(3)?,
            created_at_ms: row.get(4)?,
            next_attempt_at_ms: row.get(5)?,
            status: match status.as_str() {
                "sent" => OutboxStatus::Sent,
                "failed" => OutboxStatus::Failed,
                _ => OutboxStatus::Pending,
            },
            last_error: row.get(7)?,
            reference: row.get(8)?,
        },
        status,
    ))
}

/// Outbox entries per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting for an attempt.
    pub pending: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
}

impl SqliteStore {
    /// Pending entries (due or not), oldest first, at most `limit`.
    pub async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, PortError> {
        self.outbox_query(
            format!("SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE status = 'pending' AND ?1 = ?1 ORDER BY created_at_ms, rowid LIMIT ?2"),
            0,
            limit,
        )
        .await
    }

    /// The newest entries, newest first, at most `limit`.
    pub async fn outbox_recent(&self, limit: usize) -> Result<Vec<OutboxEntry>, PortError> {
        self.outbox_query(
            format!("SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE ?1 = ?1 ORDER BY created_at_ms DESC, rowid DESC LIMIT ?2"),
            0,
            limit,
        )
        .await
    }

    async fn outbox_query(
        &self,
        sql: String,
        arg: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, PortError> {
        self.with_conn(move |conn, label| {
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(|e| sql_error("prepare an outbox query", label, e))?;
            let rows = stmt
                .query_map(params![arg, limit as i64], entry)
                .map_err(|e| sql_error("read the outbox", label, e))?;
            rows.map(|r| r.map(|(entry, _)| entry))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| sql_error("read an outbox entry", label, e))
        })
        .await
    }

    /// Records the outcome of an attempt (attempts, status, next attempt, error).
    pub async fn outbox_update(&self, e: &OutboxEntry) -> Result<(), PortError> {
        let e = e.clone();
        self.with_conn(move |conn, label| {
            conn.execute(
                "UPDATE alert_outbox SET attempts = ?3, next_attempt_at_ms = ?4, status = ?5, last_error = ?6, reference = ?7
                 WHERE intent_id = ?1 AND channel_id = ?2",
                params![
                    e.intent_id,
                    e.channel_id,
                    e.attempts,
                    e.next_attempt_at_ms,
                    status_str(e.status),
                    e.last_error,
                    e.reference
                ],
            )
            .map(|_| ())
            .map_err(|err| sql_error("record a delivery", label, err))
        })
        .await
    }

    /// Entries per status.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, PortError> {
        self.with_conn(|conn, label| {
            let mut stmt = conn
                .prepare("SELECT status, COUNT(*) FROM alert_outbox GROUP BY status")
                .map_err(|e| sql_error("count the outbox", label, e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
                .map_err(|e| sql_error("count the outbox", label, e))?;
            let mut counts = OutboxCounts::default();
            for row in rows {
                let (status, n) = row.map_err(|e| sql_error("count the outbox", label, e))?;
                match status.as_str() {
                    "sent" => counts.sent = n,
                    "failed" => counts.failed = n,
                    _ => counts.pending += n,
                }
            }
            Ok(counts)
        })
        .await
    }

    /// Forgets sent and failed entries created before `before_ms`; returns how many.
    pub async fn outbox_prune(&self, before_ms: i64) -> Result<u64, PortError> {
        self.with_conn(move |conn, label| {
            conn.execute(
                "DELETE FROM alert_outbox WHERE status != 'pending' AND created_at_ms < ?1",
                [before_ms],
            )
            .map(|n| n as u64)
            .map_err(|e| sql_error("prune the outbox", label, e))
        })
        .await
    }

    /// Adds a silence; an existing id is replaced.
    pub async fn add_silence(&self, s: &Silence) -> Result<(), PortError> {
        let s = s.clone();
        self.with_conn(move |conn, label| {
            let (key, value) = s.tag.clone().unzip();
            conn.execute(
                "INSERT OR REPLACE INTO alert_silences (id, check_id, tag_key, tag_value, starts_at_ms, ends_at_ms, comment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![s.id, s.check_id, key, value, s.starts_at_ms, s.ends_at_ms, s.comment],
            )
            .map(|_| ())
            .map_err(|e| sql_error("add a silence", label, e))
        })
        .await
    }

    /// Silences that end after `after_ms` (every silence with `i64::MIN`), by start.
    pub async fn silences(&self, after_ms: i64) -> Result<Vec<Silence>, PortError> {
        self.with_conn(move |conn, label| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, check_id, tag_key, tag_value, starts_at_ms, ends_at_ms, comment
                     FROM alert_silences WHERE ends_at_ms > ?1 ORDER BY starts_at_ms, id",
                )
                .map_err(|e| sql_error("read silences", label, e))?;
            let rows = stmt
                .query_map([after_ms], |r| {
                    let key: Option<String> = r.get(2)?;
                    let value: Option<String> = r.get(3)?;
                    Ok(Silence {
                        id: r.get(0)?,
                        check_id: r.get(1)?,
                        tag: key.zip(value),
                        starts_at_ms: r.get(4)?,
                        ends_at_ms: r.get(5)?,
                        comment: r.get(6)?,
                    })
                })
                .map_err(|e| sql_error("read silences", label, e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| sql_error("read a silence", label, e))
        })
        .await
    }

    /// Ends the silence `id` at `now_ms` if it is still in force; returns whether it was.
    pub async fn expire_silence(&self, id: &str, now_ms: i64) -> Result<bool, PortError> {
        let id = id.to_string();
        self.with_conn(move |conn, label| {
            conn.execute(
                "UPDATE alert_silences SET ends_at_ms = ?2 WHERE id = ?1 AND ends_at_ms > ?2",
                params![id, now_ms],
            )
            .map(|n| n > 0)
            .map_err(|e| sql_error("expire a silence", label, e))
        })
        .await
    }
}
