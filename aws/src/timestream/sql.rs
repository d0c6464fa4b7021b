//! The dashboard's Timestream SQL: one query per dashboard call, bound to the window,
//! over the columns the table has. The writer leaves out measures without a value
//! (`status_code` when nothing answered, `error_class` and `error_message` before the
//! first failure, `warm_ttfb_ms` without warm requests), and Timestream refuses a query
//! naming a column that was never written, so an absent measure is selected as a typed
//! NULL (`CAST(NULL AS VARCHAR)`) under the same name.

use super::samples::{literal, ReportQuery};
use webmon_core::read::model::Window;

/// The SQL of each dashboard call over one table, selecting from the `columns` the table
/// has (the rows of [`TimestreamQueries::describe`] read by
/// [`super::samples::parse_columns`]); an absent measure reads as NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestreamQueries {
    query: ReportQuery,
}

/// The columns a table has, answering each measure the dashboard reads.
struct Cols<'a>(&'a [String]);

impl Cols<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c == name)
    }
    /// `expr` with `name` in it when the table has `name`, else a NULL of type `ty`.
    fn or_null(&self, name: &str, ty: &str, expr: impl FnOnce(&str) -> String) -> String {
        if self.has(name) {
            expr(name)
        } else {
            format!("CAST(NULL AS {ty})")
        }
    }
    fn col(&self, name: &str, ty: &str) -> String {
        self.or_null(name, ty, str::to_string)
    }
    /// `f(latency of answered executions)`, or a NULL double when the table has no
    /// answered execution (no `status_code`) or no latency.
    fn of_latency(&self, f: impl FnOnce(&str) -> String) -> String {
        self.of_answered("latency_avg_ms", f)
    }
    /// `f(measure of answered executions)`, or a NULL double when the table has no
    /// answered execution or not the measure.
    fn of_answered(&self, name: &str, f: impl FnOnce(&str) -> String) -> String {
        if self.has("status_code") && self.has(name) {
            f(&format!(
                "CASE WHEN status_code IS NOT NULL THEN {name} END"
            ))
        } else {
            "CAST(NULL AS DOUBLE)".to_string()
        }
    }
}

impl TimestreamQueries {
    /// Queries over `database`.`table`; the error names a name that is refused (the
    /// report's naming rule, [`ReportQuery::new`]).
    pub fn new(database: &str, table: &str) -> Result<Self, String> {
        Ok(Self {
            query: ReportQuery::new(database, table)?,
        })
    }

    /// The quoted `"database"."table"`.
    pub fn table(&self) -> &str {
        self.query.table()
    }

    /// The table's columns, the report's `DESCRIBE` ([`ReportQuery::describe`]).
    pub fn describe(&self) -> String {
        self.query.describe()
    }

    /// One row per execution scheduled in `window` (the report's samples), selecting
    /// only `columns` the table has.
    pub fn samples(&self, window: &Window, check_id: Option<&str>, columns: &[String]) -> String {
        self.query.samples(window, check_id, columns)
    }

    fn filter(&self, window: Window, check_id: Option<&str>) -> String {
        let check = check_id
            .map(|c| format!(" AND check_id = {}", literal(c)))
            .unwrap_or_default();
        format!(
            "FROM {} WHERE measure_name = 'probe' AND time BETWEEN from_milliseconds({}) AND from_milliseconds({}){check}",
            self.table(), window.from_ms, window.to_ms
        )
    }

    /// Per check and region: samples, passes, p50/p95 and the last result, over a table
    /// with `columns`.
    pub fn overview(&self, window: Window, columns: &[String]) -> String {
        let c = Cols(columns);
        let available = c.col("available", "BOOLEAN");
        let p = |q: &str| c.of_latency(|l| format!("approx_percentile({l}, {q})"));
        let last = |name: &str, ty: &str| c.or_null(name, ty, |n| format!("max_by({n}, time)"));
        format!(
            "SELECT check_id, region, max_by(url, time) AS url, COUNT(*) AS samples, \
             SUM(CASE WHEN {available} THEN 1 ELSE 0 END) AS passed, \
             {} AS p50_ms, {} AS p95_ms, \
             to_milliseconds(max(time)) AS last_at_ms, max_by({available}, time) AS last_available, \
             {} AS last_status_code, {} AS last_error_class, \
             {} AS last_error_message \
             {} GROUP BY check_id, region ORDER BY check_id, region",
            p("0.5"),
            p("0.95"),
            last("status_code", "BIGINT"),
            last("error_class", "VARCHAR"),
            last("error_message", "VARCHAR"),
            self.filter(window, None)
        )
    }

    /// Mean answered latency and failures per region and [`Window::bucket_ms`] bucket.
    pub fn series(&self, check_id: &str, window: Window, columns: &[String]) -> String {
        let c = Cols(columns);
        let bin = format!("bin(time, {}ms)", window.bucket_ms());
        format!(
            "SELECT region, to_milliseconds({bin}) AS t_ms, {} AS latency_ms, \
             SUM(CASE WHEN {} THEN 0 ELSE 1 END) AS failures \
             {} GROUP BY region, {bin} ORDER BY region, t_ms",
            c.of_latency(|l| format!("avg({l})")),
            c.col("available", "BOOLEAN"),
            self.filter(window, Some(check_id))
        )
    }

    /// Median cold phases of answered executions per region.
    pub fn phases(&self, check_id: &str, window: Window, columns: &[String]) -> String {
        let c = Cols(columns);
        let median = |name: &str| {
            let expr = c.or_null(name, "DOUBLE", |n| format!("approx_percentile({n}, 0.5)"));
            format!("{expr} AS {name}")
        };
        let phases = [
            "dns_ms",
            "connect_ms",
            "tls_ms",
            "ttfb_ms",
            "transfer_ms",
            "warm_ttfb_ms",
        ]
        .map(median)
        .join(", ");
        format!(
            "SELECT region, COUNT(*) AS samples, {phases} \
             {} AND {} IS NOT NULL GROUP BY region ORDER BY region",
            self.filter(window, Some(check_id)),
            c.col("status_code", "BIGINT")
        )
    }

    /// The report's statistics aggregated in Timestream, one row per check and region
    /// (or per check, every region together, labelled `all`): counts, `approx_percentile`
    /// latencies and phase medians over answered executions, the mean, and the last
    /// execution. For long windows, where one row per execution would be millions.
    pub fn stats(
        &self,
        window: Window,
        check_id: Option<&str>,
        regions_together: bool,
        columns: &[String],
    ) -> String {
        let c = Cols(columns);
        let available = c.col("available", "BOOLEAN");
        let p = |q: &str| c.of_latency(|l| format!("approx_percentile({l}, {q})"));
        let median = |name: &str| c.of_answered(name, |m| format!("approx_percentile({m}, 0.5)"));
        let last = |name: &str, ty: &str| c.or_null(name, ty, |n| format!("max_by({n}, time)"));
        let (region, group) = if regions_together {
            ("'all'", "check_id")
        } else {
            ("region", "check_id, region")
        };
        format!(
            "SELECT check_id, {region} AS region, COUNT(*) AS samples, \
             SUM(CASE WHEN {available} THEN 1 ELSE 0 END) AS passed, \
             {} AS p50_ms, {} AS p95_ms, {} AS p99_ms, {} AS avg_ms, \
             {} AS ttfb_p50_ms, {} AS warm_ttfb_p50_ms, {} AS dns_p50_ms, \
             {} AS connect_p50_ms, {} AS tls_p50_ms, {} AS transfer_p50_ms, \
             to_milliseconds(max(time)) AS last_at_ms, max_by({available}, time) AS last_available, \
             {} AS last_status_code, {} AS last_error_class, {} AS last_error_message \
             {} GROUP BY {group} ORDER BY {group}",
            p("0.5"),
            p("0.95"),
            p("0.99"),
            c.of_latency(|l| format!("avg({l})")),
            median("ttfb_ms"),
            c.or_null("warm_ttfb_ms", "DOUBLE", |n| format!("approx_percentile({n}, 0.5)")),
            median("dns_ms"),
            median("connect_ms"),
            median("tls_ms"),
            median("transfer_ms"),
            last("status_code", "BIGINT"),
            last("error_class", "VARCHAR"),
            last("error_message", "VARCHAR"),
            self.filter(window, check_id)
        )
    }

    /// Executions and passes per check and UTC day, every region together.
    pub fn uptime(&self, window: Window, columns: &[String]) -> String {
        let c = Cols(columns);
        let day = "bin(time, 86400000ms)";
        format!(
            "SELECT check_id, to_milliseconds({day}) AS day_ms, COUNT(*) AS samples, \
             SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS passed \
             {} GROUP BY check_id, {day} ORDER BY check_id, day_ms",
            c.col("available", "BOOLEAN"),
            self.filter(window, None)
        )
    }

    /// The newest `limit` failures.
    pub fn failures(
        &self,
        check_id: &str,
        window: Window,
        limit: usize,
        columns: &[String],
    ) -> String {
        let c = Cols(columns);
        format!(
            "SELECT to_milliseconds(time) AS at_ms, region, {} AS status_code, {} AS error_class, \
             {} AS error_message \
             {} AND {} = false ORDER BY time DESC, region LIMIT {limit}",
            c.col("status_code", "BIGINT"),
            c.col("error_class", "VARCHAR"),
            c.col("error_message", "VARCHAR"),
            self.filter(window, Some(check_id)),
            c.col("available", "BOOLEAN"),
        )
    }
}
