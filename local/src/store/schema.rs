//! The SQLite schema, as an ordered list of migrations. Append new migrations at the
//! end; never edit one that has shipped (`rusqlite_migration` tracks the version in
//! `PRAGMA user_version`).

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        check_id TEXT NOT NULL,
        region TEXT NOT NULL,
        scheduled_at_ms INTEGER NOT NULL,
        started_at_ms INTEGER NOT NULL,
        url TEXT NOT NULL,
        available INTEGER NOT NULL,
        status_code INTEGER,
        error_class TEXT,
        error_message TEXT,
        requests INTEGER NOT NULL,
        latency_avg_ms REAL NOT NULL,
        latency_min_ms REAL NOT NULL,
        latency_max_ms REAL NOT NULL,
        latency_p50_ms REAL NOT NULL,
        dns_ms REAL NOT NULL,
        connect_ms REAL NOT NULL,
        tls_ms REAL NOT NULL,
        ttfb_ms REAL NOT NULL,
        transfer_ms REAL NOT NULL,
        warm_ttfb_ms REAL,
        bytes INTEGER NOT NULL,
        remote_ip TEXT,
        http_version TEXT,
        tls_cert_days_left INTEGER,
        redirects INTEGER NOT NULL,
        result_json TEXT NOT NULL
    );
    -- One row per execution: a retried batch never duplicates results.
    CREATE UNIQUE INDEX results_execution ON results (check_id, region, scheduled_at_ms);
    -- Reports and dashboards read a time window across every check.
    CREATE INDEX results_scheduled ON results (scheduled_at_ms);",
    ),
    // Alerting (`webmon run`): the evaluator's state per check, the cursor of the last
    // result evaluated, incidents, the delivery outbox and ad-hoc silences.
    M::up(
        "CREATE TABLE alert_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cursor INTEGER NOT NULL,
        global_json TEXT NOT NULL,
        evaluated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE alert_checks (
        check_id TEXT PRIMARY KEY,
        state_json TEXT NOT NULL
    );
    CREATE TABLE alert_incidents (
        id TEXT PRIMARY KEY,
        check_id TEXT NOT NULL,
        level TEXT NOT NULL,
        worst TEXT NOT NULL,
        notified_level TEXT NOT NULL,
        opened_at_ms INTEGER NOT NULL,
        resolved_at_ms INTEGER,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX alert_incidents_opened ON alert_incidents (opened_at_ms);
    CREATE TABLE alert_outbox (
        intent_id TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        notification_json TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        next_attempt_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        last_error TEXT,
        reference TEXT,
        PRIMARY KEY (intent_id, channel_id)
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at_ms);
    CREATE TABLE alert_silences (
        id TEXT PRIMARY KEY,
        check_id TEXT,
        tag_key TEXT,
        tag_value TEXT,
        starts_at_ms INTEGER NOT NULL,
        ends_at_ms INTEGER NOT NULL,
        comment TEXT NOT NULL
    );",
    ),
    // 3: the regions each incident affected (comma-separated), for the dashboard's
    // incident history. Incidents recorded before have none.
    M::up("ALTER TABLE alert_incidents ADD COLUMN regions TEXT NOT NULL DEFAULT '';"),
    // 4: compact executions and rollups (docs/storage.md). Each check and region is a
    // `series`; the fields that rarely change are shared `variants`; the timings are a
    // blob of microsecond varints. The old rows move over when the store opens
    // (`carry_forward`), keeping their ids, so the alert evaluator's cursor holds.
    M::up(
        "ALTER TABLE results RENAME TO results_v3;
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        check_id TEXT NOT NULL,
        region TEXT NOT NULL,
        UNIQUE (check_id, region)
    );
    CREATE TABLE variants (
        id INTEGER PRIMARY KEY,
        json TEXT NOT NULL UNIQUE
    );
    CREATE TABLE executions (
        id INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        at INTEGER NOT NULL,
        started INTEGER NOT NULL,
        available INTEGER NOT NULL,
        status INTEGER,
        error_class TEXT,
        error_message TEXT,
        requests INTEGER NOT NULL,
        timings BLOB NOT NULL,
        bytes INTEGER NOT NULL,
        redirects INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        cert_days INTEGER,
        flags INTEGER NOT NULL,
        variant INTEGER NOT NULL
    );
    -- One row per execution: a retried batch never duplicates results.
    CREATE UNIQUE INDEX executions_series_at ON executions (series, at);
    -- Rollups: level is the bucket width in seconds (300, 3600, 86400). The summary
    -- (counts, latency sketch, failures, last execution) and the phase sketches live
    -- apart, so the overview reads only the summaries.
    CREATE TABLE rollups (
        level INTEGER NOT NULL,
        series INTEGER NOT NULL,
        start INTEGER NOT NULL,
        summary BLOB NOT NULL,
        PRIMARY KEY (level, series, start)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_phases (
        level INTEGER NOT NULL,
        series INTEGER NOT NULL,
        start INTEGER NOT NULL,
        phases BLOB NOT NULL,
        PRIMARY KEY (level, series, start)
    ) WITHOUT ROWID;
    -- Executions with an id up to rolled_id are in the rollups; executions scheduled
    -- before raw_before were deleted by retention.
    CREATE TABLE rollup_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        rolled_id INTEGER NOT NULL,
        raw_before INTEGER NOT NULL
    );
    INSERT INTO rollup_meta VALUES (1, 0, 0);",
    ),
];

/// The migrations, for [`Migrations::to_latest`].
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    #[test]
    fn a_database_of_the_first_version_carries_forward() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        rusqlite_migration::Migrations::from_slice(&super::MIGRATIONS[..1])
            .to_latest(&mut conn)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO results (check_id, region, scheduled_at_ms, started_at_ms, url, available,
                requests, latency_avg_ms, latency_min_ms, latency_max_ms, latency_p50_ms, dns_ms,
                connect_ms, tls_ms, ttfb_ms, transfer_ms, bytes, redirects, result_json)
             VALUES ('a', 'local', 1, 1, 'http://a/', 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, '{}')",
        )
        .unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let kept: i64 = conn
            .query_row("SELECT COUNT(*) FROM results_v3", [], |r| r.get(0))
            .unwrap();
        // Kept aside for the store to carry forward into the compact form when it opens.
        assert_eq!(kept, 1);
        let outbox: i64 = conn
            .query_row("SELECT COUNT(*) FROM alert_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(outbox, 0);
    }
}
