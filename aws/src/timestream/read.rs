//! [`ResultReader`] over Amazon Timestream, without an AWS dependency: this module
//! builds the SQL (one query per dashboard call, bound to the window) and turns the
//! result rows into the dashboard model. Running a query (the SDK call, endpoint
//! discovery, pagination) is behind [`QueryRunner`], which `webmon-aws` implements with
//! aws-sdk-timestreamquery.
//!
//! The table is the one the writer Lambda fills: multi-measure records named `probe`,
//! time = scheduled time, dimensions `check_id`, `url`, `region`. Percentiles use
//! Timestream's `approx_percentile`, so they may differ slightly from the SQLite source's
//! exact nearest-rank figures.
//!
//! Each call selects only the measures the table has: the source asks the report's
//! `DESCRIBE` ([`super::samples::parse_columns`]) first and reuses the column
//! list for [`COLUMNS_TTL`], so a page load does not describe the table every time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::samples::{parse_columns, parse_samples};
use webmon_core::ports::PortError;
use webmon_core::read::model::{
    Failure, Failures, LastResult, Overview, Phases, RegionOverview, RegionPhases, RegionSeries,
    Resolution, Series, Uptime, Window,
};
use webmon_core::read::ResultReader;
use webmon_core::report::Sample;
use webmon_core::report::{
    availability_pct, derive, error_text, stats_from_samples, CheckRegionStats, Stats, StatsReader,
};

pub use super::sql::TimestreamQueries;

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
    /// A count: a whole number, negative read as 0.
    fn count(&self, column: &str) -> Result<u64, PortError> {
        Ok(self.i64(column)?.max(0) as u64)
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
    // The URL of a check: from its first row (the first region's latest execution).
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut regions = Vec::new();
    for row in rows(r) {
        let (samples, passed) = (row.count("samples")?, row.count("passed")?);
        let region = RegionOverview {
            region: row.text("region")?,
            samples,
            passed,
            availability_pct: availability_pct(samples, passed),
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
        if !urls.contains_key(&check_id) {
            urls.insert(check_id.clone(), row.text("url")?);
        }
        regions.push((check_id, region));
    }
    Ok(Overview {
        window,
        checks: derive::checks_of(regions, &urls),
        resolution: Resolution::raw(),
    })
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
        s.failures.push(row.count("failures")?);
    }
    Ok(Series {
        check_id: check_id.to_string(),
        window,
        bucket_ms: window.bucket_ms(),
        regions,
        resolution: Resolution::raw(),
    })
}

/// The phases from the rows of [`TimestreamQueries::phases`].
pub fn parse_phases(r: &Rows, check_id: &str, window: Window) -> Result<Phases, PortError> {
    let regions = rows(r)
        .map(|row| {
            Ok(RegionPhases {
                region: row.text("region")?,
                samples: row.count("samples")?,
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
        resolution: Resolution::raw(),
    })
}

/// The report's statistics from the rows of [`TimestreamQueries::stats`].
pub fn parse_stats(r: &Rows) -> Result<Vec<CheckRegionStats>, PortError> {
    rows(r)
        .map(|row| {
            let (samples, available) = (row.count("samples")?, row.count("passed")?);
            Ok(CheckRegionStats {
                check_id: row.text("check_id")?,
                region: row.text("region")?,
                samples,
                available,
                availability_pct: availability_pct(samples, available),
                latency_p50_ms: row.opt_f64("p50_ms")?,
                latency_p95_ms: row.opt_f64("p95_ms")?,
                latency_p99_ms: row.opt_f64("p99_ms")?,
                latency_avg_ms: row.opt_f64("avg_ms")?,
                cold_ttfb_p50_ms: row.opt_f64("ttfb_p50_ms")?,
                warm_ttfb_p50_ms: row.opt_f64("warm_ttfb_p50_ms")?,
                dns_p50_ms: row.opt_f64("dns_p50_ms")?,
                connect_p50_ms: row.opt_f64("connect_p50_ms")?,
                tls_p50_ms: row.opt_f64("tls_p50_ms")?,
                transfer_p50_ms: row.opt_f64("transfer_p50_ms")?,
                last_scheduled_at_ms: row.i64("last_at_ms")?,
                last_available: row.bool("last_available")?,
                last_status: row.opt_u16("last_status_code")?,
                last_error: error_text(
                    row.opt_text("last_error_class")?,
                    row.opt_text("last_error_message")?,
                ),
            })
        })
        .collect()
}

/// The daily uptime from the rows of [`TimestreamQueries::uptime`].
pub fn parse_uptime(r: &Rows, days: u32, now_ms: i64) -> Result<Uptime, PortError> {
    let counts = rows(r)
        .map(|row| {
            Ok((
                row.text("check_id")?,
                row.i64("day_ms")?,
                row.count("samples")?,
                row.count("passed")?,
            ))
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    Ok(derive::uptime_from_counts(
        counts.iter().map(|(c, d, n, p)| (c.as_str(), *d, *n, *p)),
        days,
        now_ms,
    ))
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

/// How long a source reuses a table's column list before asking `DESCRIBE` again: a
/// measure written for the first time (the first failure) shows within this time.
pub const COLUMNS_TTL: Duration = Duration::from_secs(60);

/// The dashboard over a Timestream table, through any [`QueryRunner`]. The table's
/// columns are asked once per [`COLUMNS_TTL`], not on every call.
pub struct TimestreamReader {
    runner: Arc<dyn QueryRunner>,
    queries: TimestreamQueries,
    ttl: Duration,
    columns: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl TimestreamReader {
    /// A source reading `queries`' table through `runner`.
    pub fn new(runner: Arc<dyn QueryRunner>, queries: TimestreamQueries) -> Self {
        Self {
            runner,
            queries,
            ttl: COLUMNS_TTL,
            columns: Mutex::new(None),
        }
    }

    /// Reuses the column list for `ttl` instead of [`COLUMNS_TTL`].
    pub fn with_columns_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The table's columns: cached ones younger than the TTL, else a `DESCRIBE`. A
    /// missing table is an error naming it (and is not cached).
    async fn columns(&self) -> Result<Arc<Vec<String>>, PortError> {
        let cached = self
            .columns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, columns)) = cached {
            if at.elapsed() < self.ttl {
                return Ok(columns);
            }
        }
        let rows = self.runner.query(self.queries.describe()).await?;
        let columns = Arc::new(parse_columns(&rows, self.queries.table())?);
        *self.columns.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), columns.clone()));
        Ok(columns)
    }

    async fn run(&self, sql: impl FnOnce(&[String]) -> String) -> Result<Rows, PortError> {
        let columns = self.columns().await?;
        self.runner.query(sql(&columns)).await
    }
}

/// Windows of at most this fetch one row per execution for exact percentiles; longer
/// ones are aggregated by Timestream.
pub const EXACT_WINDOW_MS: i64 = 3_600_000;

/// Statistics and uptime aggregated by Timestream for long windows (one row per check
/// and region, or per check and day), exact from samples for short ones.
impl StatsReader for TimestreamReader {
    fn stats<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
        regions_together: bool,
    ) -> BoxFuture<'a, Result<Stats, PortError>> {
        Box::pin(async move {
            if window.span_ms() <= EXACT_WINDOW_MS {
                return stats_from_samples(self, window, check_id, regions_together).await;
            }
            let rows = self
                .run(|c| self.queries.stats(window, check_id, regions_together, c))
                .await?;
            Ok(Stats {
                rows: parse_stats(&rows)?,
                resolution: Resolution::in_store(),
            })
        })
    }

    fn uptime(&self, days: u32, now_ms: i64) -> BoxFuture<'_, Result<Uptime, PortError>> {
        Box::pin(async move {
            let window = Uptime::window(days, now_ms);
            let rows = self.run(|c| self.queries.uptime(window, c)).await?;
            parse_uptime(&rows, days, now_ms)
        })
    }
}

impl ResultReader for TimestreamReader {
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>> {
        Box::pin(async move {
            let rows = self.run(|c| self.queries.overview(window, c)).await?;
            parse_overview(&rows, window)
        })
    }

    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>> {
        Box::pin(async move {
            let rows = self
                .run(|c| self.queries.series(check_id, window, c))
                .await?;
            parse_series(&rows, check_id, window)
        })
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(async move {
            let rows = self
                .run(|c| self.queries.phases(check_id, window, c))
                .await?;
            parse_phases(&rows, check_id, window)
        })
    }

    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        Box::pin(async move {
            let rows = self
                .run(|c| self.queries.failures(check_id, window, limit, c))
                .await?;
            parse_failures(&rows, check_id, window)
        })
    }

    fn samples<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, PortError>> {
        Box::pin(async move {
            let rows = self
                .run(|c| self.queries.samples(&window, check_id, c))
                .await?;
            parse_samples(&rows)
        })
    }

    fn describe(&self) -> String {
        format!("the Timestream table {}", self.queries.table())
    }
}
