//! [`DashboardSource`] over Amazon Timestream, without an AWS dependency: this module
//! builds the SQL (one query per dashboard call, bound to the window) and turns the
//! result rows into the dashboard model. Running a query (the SDK call, endpoint
//! discovery, pagination) is behind [`QueryRunner`], which `webmon-aws` implements with
//! aws-sdk-timestreamquery.
//!
//! The table is the one the writer Lambda fills: multi-measure records named `probe`,
//! time = scheduled time, dimensions `check_id`, `url`, `region`. Percentiles use
//! Timestream's `approx_percentile`, so they may differ slightly from the SQLite source's
//! exact nearest-rank figures.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::model::{
    CheckOverview, Failure, Failures, Health, LastResult, Overview, Phases, RegionOverview,
    RegionPhases, RegionSeries, Series, Window,
};
use super::source::DashboardSource;
use crate::ports::PortError;

/// The rows of one query result, every page joined: column names and, per row, each
/// column's scalar value as text (`None` for SQL NULL), as Timestream returns them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// Column names, in select order.
    pub columns: Vec<String>,
    /// Rows; each has one entry per column.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs one Timestream query to completion (all pages).
pub trait QueryRunner: Send + Sync {
    /// Runs `sql`; a table that does not exist or a bad query is a
    /// [`PortError::Permanent`] naming it.
    fn query(&self, sql: String) -> BoxFuture<'_, Result<Rows, PortError>>;
}

/// The SQL of each dashboard call over one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestreamQueries {
    table: String,
}

fn quote_ident(name: &str) -> Result<String, String> {
    if name.is_empty() || name.contains(['"', '\0']) {
        return Err(format!(
            "{name:?} is not a usable Timestream database or table name"
        ));
    }
    Ok(format!("\"{name}\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const LATENCY: &str = "CASE WHEN status_code IS NOT NULL THEN latency_avg_ms END";

impl TimestreamQueries {
    /// Queries over `database`.`table`; the error names a name that cannot be quoted.
    pub fn new(database: &str, table: &str) -> Result<Self, String> {
        Ok(Self {
            table: format!("{}.{}", quote_ident(database)?, quote_ident(table)?),
        })
    }

    fn filter(&self, window: Window, check_id: Option<&str>) -> String {
        let check = check_id
            .map(|c| format!(" AND check_id = {}", literal(c)))
            .unwrap_or_default();
        format!(
            "FROM {} WHERE measure_name = 'probe' AND time BETWEEN from_milliseconds({}) AND from_milliseconds({}){check}",
            self.table, window.from_ms, window.to_ms
        )
    }

    /// Per check and region: samples, passes, p50/p95 and the last result.
    pub fn overview(&self, window: Window) -> String {
        format!(
            "SELECT check_id, region, max_by(url, time) AS url, COUNT(*) AS samples, \
             SUM(CASE WHEN available THEN 1 ELSE 0 END) AS passed, \
             approx_percentile({LATENCY}, 0.5) AS p50_ms, approx_percentile({LATENCY}, 0.95) AS p95_ms, \
             to_milliseconds(max(time)) AS last_at_ms, max_by(available, time) AS last_available, \
             max_by(status_code, time) AS last_status_code, max_by(error_class, time) AS last_error_class, \
             max_by(error_message, time) AS last_error_message \
             {} GROUP BY check_id, region ORDER BY check_id, region",
            self.filter(window, None)
        )
    }

    /// Mean answered latency and failures per region and [`Window::bucket_ms`] bucket.
    pub fn series(&self, check_id: &str, window: Window) -> String {
        let bin = format!("bin(time, {}ms)", window.bucket_ms());
        format!(
            "SELECT region, to_milliseconds({bin}) AS t_ms, avg({LATENCY}) AS latency_ms, \
             SUM(CASE WHEN available THEN 0 ELSE 1 END) AS failures \
             {} GROUP BY region, {bin} ORDER BY region, t_ms",
            self.filter(window, Some(check_id))
        )
    }

    /// Median cold phases of answered executions per region.
    pub fn phases(&self, check_id: &str, window: Window) -> String {
        format!(
            "SELECT region, COUNT(*) AS samples, approx_percentile(dns_ms, 0.5) AS dns_ms, \
             approx_percentile(connect_ms, 0.5) AS connect_ms, approx_percentile(tls_ms, 0.5) AS tls_ms, \
             approx_percentile(ttfb_ms, 0.5) AS ttfb_ms, approx_percentile(transfer_ms, 0.5) AS transfer_ms, \
             approx_percentile(warm_ttfb_ms, 0.5) AS warm_ttfb_ms \
             {} AND status_code IS NOT NULL GROUP BY region ORDER BY region",
            self.filter(window, Some(check_id))
        )
    }

    /// The newest `limit` failures.
    pub fn failures(&self, check_id: &str, window: Window, limit: usize) -> String {
        format!(
            "SELECT to_milliseconds(time) AS at_ms, region, status_code, error_class, error_message \
             {} AND available = false ORDER BY time DESC, region LIMIT {limit}",
            self.filter(window, Some(check_id))
        )
    }
}

/// Typed access to one row by column name; errors name the column and the value.
struct Row<'a> {
    columns: &'a [String],
    values: &'a [Option<String>],
}

fn bad(column: &str, value: &str, what: &str) -> PortError {
    PortError::Permanent(format!(
        "failed to read Timestream column {column}: {value:?} is not {what}"
    ))
}

impl Row<'_> {
    fn raw(&self, column: &str) -> Result<Option<&str>, PortError> {
        let i = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| {
                PortError::Permanent(format!(
                    "failed to read the Timestream result: no column {column}"
                ))
            })?;
        Ok(self.values.get(i).and_then(|v| v.as_deref()))
    }
    fn text(&self, column: &str) -> Result<String, PortError> {
        Ok(self.raw(column)?.unwrap_or_default().to_string())
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, PortError> {
        Ok(self.raw(column)?.map(str::to_string))
    }
    fn opt_f64(&self, column: &str) -> Result<Option<f64>, PortError> {
        self.raw(column)?
            .map(|v| v.parse().map_err(|_| bad(column, v, "a number")))
            .transpose()
    }
    fn f64(&self, column: &str) -> Result<f64, PortError> {
        Ok(self.opt_f64(column)?.unwrap_or(0.0))
    }
    fn i64(&self, column: &str) -> Result<i64, PortError> {
        // BIGINT arrives as an integer; aggregates over it may arrive as a double.
        let v = self.raw(column)?.unwrap_or("0");
        v.parse::<i64>()
            .or_else(|_| v.parse::<f64>().map(|f| f as i64))
            .map_err(|_| bad(column, v, "an integer"))
    }
    fn opt_u16(&self, column: &str) -> Result<Option<u16>, PortError> {
        self.raw(column)?
            .map(|v| v.parse().map_err(|_| bad(column, v, "a status code")))
            .transpose()
    }
    fn bool(&self, column: &str) -> Result<bool, PortError> {
        match self.raw(column)? {
            Some("true") => Ok(true),
            Some("false") | None => Ok(false),
            Some(v) => Err(bad(column, v, "a boolean")),
        }
    }
}

fn rows(r: &Rows) -> impl Iterator<Item = Row<'_>> {
    r.rows.iter().map(|values| Row {
        columns: &r.columns,
        values,
    })
}

/// The overview from the rows of [`TimestreamQueries::overview`].
pub fn parse_overview(r: &Rows, window: Window) -> Result<Overview, PortError> {
    let mut checks: Vec<CheckOverview> = Vec::new();
    for row in rows(r) {
        let (samples, passed) = (
            row.i64("samples")?.max(0) as u64,
            row.i64("passed")?.max(0) as u64,
        );
        let region = RegionOverview {
            region: row.text("region")?,
            samples,
            passed,
            availability_pct: if samples == 0 {
                0.0
            } else {
                passed as f64 * 100.0 / samples as f64
            },
            p50_ms: row.opt_f64("p50_ms")?,
            p95_ms: row.opt_f64("p95_ms")?,
            last: LastResult {
                at_ms: row.i64("last_at_ms")?,
                available: row.bool("last_available")?,
                status_code: row.opt_u16("last_status_code")?,
                error_class: row.opt_text("last_error_class")?,
                error_message: row.opt_text("last_error_message")?,
            },
        };
        let check_id = row.text("check_id")?;
        match checks.last_mut() {
            Some(c) if c.check_id == check_id => c.regions.push(region),
            _ => checks.push(CheckOverview {
                check_id,
                url: row.text("url")?,
                health: Health::Up,
                regions: vec![region],
            }),
        }
    }
    for c in &mut checks {
        c.health = Health::from_last(c.regions.iter().map(|r| r.last.available));
    }
    Ok(Overview { window, checks })
}

/// The series from the rows of [`TimestreamQueries::series`].
pub fn parse_series(r: &Rows, check_id: &str, window: Window) -> Result<Series, PortError> {
    let mut regions: Vec<RegionSeries> = Vec::new();
    for row in rows(r) {
        let region = row.text("region")?;
        if regions.last().is_none_or(|s| s.region != region) {
            regions.push(RegionSeries {
                region,
                t_ms: vec![],
                latency_ms: vec![],
                failures: vec![],
            });
        }
        let s = regions.last_mut().expect("pushed above");
        s.t_ms.push(row.i64("t_ms")?);
        s.latency_ms.push(row.opt_f64("latency_ms")?);
        s.failures.push(row.i64("failures")?.max(0) as u64);
    }
    Ok(Series {
        check_id: check_id.to_string(),
        window,
        bucket_ms: window.bucket_ms(),
        regions,
    })
}

/// The phases from the rows of [`TimestreamQueries::phases`].
pub fn parse_phases(r: &Rows, check_id: &str, window: Window) -> Result<Phases, PortError> {
    let regions = rows(r)
        .map(|row| {
            Ok(RegionPhases {
                region: row.text("region")?,
                samples: row.i64("samples")?.max(0) as u64,
                dns_ms: row.f64("dns_ms")?,
                connect_ms: row.f64("connect_ms")?,
                tls_ms: row.f64("tls_ms")?,
                ttfb_ms: row.f64("ttfb_ms")?,
                transfer_ms: row.f64("transfer_ms")?,
                warm_ttfb_ms: row.opt_f64("warm_ttfb_ms")?,
            })
        })
        .collect::<Result<_, PortError>>()?;
    Ok(Phases {
        check_id: check_id.to_string(),
        window,
        regions,
    })
}

/// The failures from the rows of [`TimestreamQueries::failures`].
pub fn parse_failures(r: &Rows, check_id: &str, window: Window) -> Result<Failures, PortError> {
    let failures = rows(r)
        .map(|row| {
            Ok(Failure {
                at_ms: row.i64("at_ms")?,
                region: row.text("region")?,
                status_code: row.opt_u16("status_code")?,
                error_class: row.opt_text("error_class")?,
                error_message: row.opt_text("error_message")?,
            })
        })
        .collect::<Result<_, PortError>>()?;
    Ok(Failures {
        check_id: check_id.to_string(),
        window,
        failures,
    })
}

/// The dashboard over a Timestream table, through any [`QueryRunner`].
pub struct TimestreamSource {
    runner: Arc<dyn QueryRunner>,
    queries: TimestreamQueries,
}

impl TimestreamSource {
    /// A source reading `queries`' table through `runner`.
    pub fn new(runner: Arc<dyn QueryRunner>, queries: TimestreamQueries) -> Self {
        Self { runner, queries }
    }
}

impl DashboardSource for TimestreamSource {
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>> {
        Box::pin(async move {
            parse_overview(
                &self.runner.query(self.queries.overview(window)).await?,
                window,
            )
        })
    }

    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>> {
        Box::pin(async move {
            parse_series(
                &self
                    .runner
                    .query(self.queries.series(check_id, window))
                    .await?,
                check_id,
                window,
            )
        })
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(async move {
            parse_phases(
                &self
                    .runner
                    .query(self.queries.phases(check_id, window))
                    .await?,
                check_id,
                window,
            )
        })
    }

    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        Box::pin(async move {
            let sql = self.queries.failures(check_id, window, limit);
            parse_failures(&self.runner.query(sql).await?, check_id, window)
        })
    }
}
