//! Persistence of the alert evaluator (`webmon run`): its state, one row per check plus
//! one row of cross-check data with the cursor (the id of the last result evaluated),
//! and the incidents it opened.
//!
//! One evaluation is one [`AlertCommit`], written in one transaction: the checks whose
//! state changed, the cursor, the incidents and the outbox entries of the intents. A
//! crash before the commit loses nothing (the results are evaluated again from the
//! cursor, giving the same intents); after it, nothing is evaluated twice.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::compact::{result, RESULT_COLUMNS, RESULT_FROM};
use super::{sql_error, SqliteStore};
use webmon_core::alert::state::STATE_VERSION;
use webmon_core::alert::{AlertState, NotificationIntent};
use webmon_core::ports::PortError;
pub use webmon_core::read::IncidentRecord;
use webmon_core::result::ProbeResult;

/// The evaluator's memory as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlerting {
    /// The state to continue from.
    pub state: AlertState,
    /// Id of the last result evaluated.
    pub cursor: i64,
    /// When the last evaluation ran, Unix milliseconds.
    pub evaluated_at_ms: i64,
}

/// The part of [`AlertState`] that is not per check.
#[derive(Debug, Serialize, Deserialize)]
struct GlobalPart {
    version: u32,
    suspect_regions: BTreeMap<String, i64>,
    late_ignored: u64,
}

/// One outbox row to insert (ignored when the same intent and channel exist).
#[derive(Debug, Clone)]
struct NewDelivery {
    intent_id: String,
    channel_id: String,
    kind: &'static str,
    json: String,
}

/// Everything one evaluation changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct AlertCommit {
    cursor: i64,
    evaluated_at_ms: i64,
    global_json: String,
    changed: Vec<(String, String)>,
    removed: Vec<String>,
    incidents: Vec<IncidentRecord>,
    closed: Vec<(String, i64)>,
    deliveries: Vec<NewDelivery>,
}

impl AlertCommit {
    /// The difference between `prev` and `next` (only changed checks are written), the
    /// incidents they hold, and one outbox entry per channel of each intent.
    pub fn new(
        prev: &AlertState,
        next: &AlertState,
        intents: &[NotificationIntent],
        cursor: i64,
        now_ms: i64,
    ) -> Result<Self, PortError> {
        let json_err = |e: serde_json::Error| {
            PortError::Permanent(format!("failed to encode alert state: {e}"))
        };
        let global = GlobalPart {
            version: next.version,
            suspect_regions: next.suspect_regions.clone(),
            late_ignored: next.late_ignored,
        };
        let mut commit = Self {
            cursor,
            evaluated_at_ms: now_ms,
            global_json: serde_json::to_string(&global).map_err(json_err)?,
            ..Self::default()
        };
        for (id, cs) in &next.checks {
            let before = prev.checks.get(id);
            if before != Some(cs) {
                commit
                    .changed
                    .push((id.clone(), serde_json::to_string(cs).map_err(json_err)?));
            }
            let old = before.and_then(|b| b.incident.as_ref());
            if let Some(inc) = &cs.incident {
                if old != Some(inc) {
                    commit.incidents.push(IncidentRecord::of(id, inc));
                }
            }
        }
        for (id, cs) in &prev.checks {
            if !next.checks.contains_key(id) {
                commit.removed.push(id.clone());
            }
            let Some(old) = &cs.incident else { continue };
            let now = next.checks.get(id);
            let same = now.and_then(|n| n.incident.as_ref()).map(|i| &i.id) == Some(&old.id);
            if !same {
                let at = old
                    .resolved_at_ms
                    .or(now.map(|n| n.level_since_ms))
                    .unwrap_or(now_ms);
                commit.closed.push((old.id.clone(), at));
            }
        }
        for n in intents {
            let json = serde_json::to_string(n).map_err(json_err)?;
            for channel in &n.channels {
                commit.deliveries.push(NewDelivery {
                    intent_id: n.id.clone(),
                    channel_id: channel.clone(),
                    kind: n.kind.as_str(),
                    json: json.clone(),
                });
            }
        }
        Ok(commit)
    }

    /// Check states written by this commit.
    pub fn changed_checks(&self) -> usize {
        self.changed.len()
    }

    fn write(&self, tx: &Transaction<'_>, label: &str) -> Result<(), PortError> {
        let e = |what: &str| {
            let what = what.to_string();
            move |err| sql_error(&what, label, err)
        };
        tx.execute(
            "INSERT INTO alert_meta (id, cursor, global_json, evaluated_at_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET cursor = ?1, global_json = ?2, evaluated_at_ms = ?3",
            params![self.cursor, self.global_json, self.evaluated_at_ms],
        )
        .map_err(e("write the alert cursor"))?;
        let mut put = tx
            .prepare_cached(
                "INSERT INTO alert_checks (check_id, state_json) VALUES (?1, ?2)
                 ON CONFLICT (check_id) DO UPDATE SET state_json = ?2",
            )
            .map_err(e("prepare the alert state write"))?;
        for (id, json) in &self.changed {
            put.execute(params![id, json])
                .map_err(e("write an alert state"))?;
        }
        for id in &self.removed {
            tx.execute("DELETE FROM alert_checks WHERE check_id = ?1", [id])
                .map_err(e("forget an alert state"))?;
        }
        let mut inc = tx
            .prepare_cached(
                "INSERT INTO alert_incidents (id, check_id, level, worst, notified_level, opened_at_ms, resolved_at_ms, updated_at_ms, regions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET level = ?3, worst = ?4, notified_level = ?5, resolved_at_ms = ?7, updated_at_ms = ?8, regions = ?9",
            )
            .map_err(e("prepare the incident write"))?;
        for r in &self.incidents {
            inc.execute(params![
                r.id,
                r.check_id,
                r.level,
                r.worst,
                r.notified_level,
                r.opened_at_ms,
                r.resolved_at_ms,
                self.evaluated_at_ms,
                r.regions.join(",")
            ])
            .map_err(e("write an incident"))?;
        }
        for (id, at) in &self.closed {
            tx.execute(
                "UPDATE alert_incidents SET resolved_at_ms = COALESCE(resolved_at_ms, ?2), level = 'UP', updated_at_ms = ?3 WHERE id = ?1",
                params![id, at, self.evaluated_at_ms],
            )
            .map_err(e("close an incident"))?;
        }
        let mut out = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO alert_outbox (intent_id, channel_id, kind, notification_json, attempts,
                    created_at_ms, next_attempt_at_ms, status)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5, 'pending')",
            )
            .map_err(e("prepare the outbox write"))?;
        for d in &self.deliveries {
            out.execute(params![
                d.intent_id,
                d.channel_id,
                d.kind,
                d.json,
                self.evaluated_at_ms
            ])
            .map_err(e("enqueue a notification"))?;
        }
        Ok(())
    }
}

fn load(conn: &Connection, label: &str) -> Result<Option<StoredAlerting>, PortError> {
    let meta: Option<(i64, String, i64)> = conn
        .query_row(
            "SELECT cursor, global_json, evaluated_at_ms FROM alert_meta WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(|e| sql_error("read the alert cursor", label, e))?;
    let Some((cursor, global_json, evaluated_at_ms)) = meta else {
        return Ok(None);
    };
    let bad = |e: serde_json::Error| {
        PortError::Permanent(format!("failed to parse the alert state in {label}: {e}"))
    };
    let global: GlobalPart = serde_json::from_str(&global_json).map_err(bad)?;
    if global.version != STATE_VERSION {
        return Err(PortError::Permanent(format!(
            "the alert state in {label} has version {}, this webmon reads {STATE_VERSION}",
            global.version
        )));
    }
    let mut state = AlertState {
        version: global.version,
        suspect_regions: global.suspect_regions,
        late_ignored: global.late_ignored,
        ..AlertState::default()
    };
    let mut stmt = conn
        .prepare("SELECT check_id, state_json FROM alert_checks")
        .map_err(|e| sql_error("read alert states", label, e))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(|e| sql_error("read alert states", label, e))?;
    for row in rows {
        let (id, json) = row.map_err(|e| sql_error("read an alert state", label, e))?;
        state
            .checks
            .insert(id, serde_json::from_str(&json).map_err(bad)?);
    }
    Ok(Some(StoredAlerting {
        state,
        cursor,
        evaluated_at_ms,
    }))
}

impl SqliteStore {
    /// The persisted evaluator state, `None` before the first evaluation.
    pub async fn load_alerting(&self) -> Result<Option<StoredAlerting>, PortError> {
        self.with_conn(|conn, label| load(conn, label)).await
    }

    /// Writes one evaluation in one transaction.
    pub async fn commit_alerting(&self, commit: AlertCommit) -> Result<(), PortError> {
        self.with_conn(move |conn, label| {
            let tx = conn
                .transaction()
                .map_err(|e| sql_error("begin a transaction", label, e))?;
            commit.write(&tx, label)?;
            tx.commit()
                .map_err(|e| sql_error("commit an evaluation", label, e))
        })
        .await
    }

    /// The id of the newest stored result (0 when there is none).
    pub async fn last_result_id(&self) -> Result<i64, PortError> {
        self.with_conn(|conn, label| {
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM executions", [], |r| {
                r.get(0)
            })
            .map_err(|e| sql_error("read the newest result", label, e))
        })
        .await
    }

    /// Up to `limit` results stored after the result `cursor`, in storage order, with
    /// the id of the last one returned (`cursor` when none).
    pub async fn results_after(
        &self,
        cursor: i64,
        limit: usize,
    ) -> Result<(Vec<ProbeResult>, i64), PortError> {
        self.with_conn(move |conn, label| {
            let sql = format!(
                "SELECT {RESULT_COLUMNS} FROM {RESULT_FROM} WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
            );
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(|e| sql_error("prepare a query", label, e))?;
            let rows = stmt
                .query_map(params![cursor, limit as i64], result)
                .map_err(|e| sql_error("read results", label, e))?;
            let mut last = cursor;
            let mut out = Vec::new();
            for row in rows {
                let (id, r) = row.map_err(|e| sql_error("read a result", label, e))?;
                last = id;
                out.push(r);
            }
            Ok((out, last))
        })
        .await
    }

    /// Incidents open now or opened or resolved at or after `since_ms`, oldest first.
    pub async fn incidents_since(&self, since_ms: i64) -> Result<Vec<IncidentRecord>, PortError> {
        self.with_conn(move |conn, label| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, check_id, level, worst, notified_level, opened_at_ms, resolved_at_ms, regions
                     FROM alert_incidents
                     WHERE resolved_at_ms IS NULL OR resolved_at_ms >= ?1 OR opened_at_ms >= ?1
                     ORDER BY opened_at_ms, id",
                )
                .map_err(|e| sql_error("prepare a query", label, e))?;
            let rows = stmt
                .query_map([since_ms], |row| {
                    Ok(IncidentRecord {
                        id: row.get(0)?,
                        check_id: row.get(1)?,
                        level: row.get(2)?,
                        worst: row.get(3)?,
                        notified_level: row.get(4)?,
                        opened_at_ms: row.get(5)?,
                        resolved_at_ms: row.get(6)?,
                        regions: split_regions(&row.get::<_, String>(7)?),
                    })
                })
                .map_err(|e| sql_error("read incidents", label, e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| sql_error("read an incident", label, e))
        })
        .await
    }
}

/// The stored comma-separated region list.
fn split_regions(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}
