//! The SQLite schema, as an ordered list of migrations. Append new migrations at the
//! end; never edit one that has shipped (`rusqlite_migration` tracks the version in
//! `PRAGMA user_version`).

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first.
const MIGRATIONS: &[M<'static>] = &[M::up(
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
)];

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
}
