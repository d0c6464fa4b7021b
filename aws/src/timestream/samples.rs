//! `webmon report` over Amazon Timestream, without an AWS dependency: the SQL and the
//! parsing of its rows into [`Sample`]s, run through the dashboard's
//! [`QueryRunner`] port (implemented with aws-sdk-timestreamquery in `webmon-aws`).
//!
//! The report fetches **one row per execution** in the window and computes its figures
//! with the same functions as the local report ([`webmon_core::report::summarize`]), so both stores
//! give exact nearest-rank percentiles, not Timestream's `approx_percentile`. The cost
//! is one row per execution: a window of an hour with 100 checks every 10 s in three
//! regions is 108,000 rows; `--check` narrows it, and the adapter refuses to fetch more
//! than a bounded number of rows.
//!
//! A multi-measure table only has the columns of measures that were ever written (no
//! `error_class` before the first failure), so the report first asks `DESCRIBE` for the
//! table's columns and selects the ones it knows that exist; an absent column reads as
//! NULL. `DESCRIBE` also tells a missing table apart from an empty window.

use super::read::{QueryRunner, Rows};
use webmon_core::ports::PortError;
use webmon_core::report::window::Window;
use webmon_core::report::Sample;

/// The dimensions a webmon table must have.
const REQUIRED: [&str; 2] = ["check_id", "region"];
/// The measures a sample is read from, in select order.
const MEASURES: [&str; 11] = [
    "available",
    "status_code",
    "error_class",
    "error_message",
    "latency_avg_ms",
    "ttfb_ms",
    "warm_ttfb_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "transfer_ms",
];

/// The report's queries over one Timestream table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    table: String,
}

/// Quotes a Timestream database or table name after checking it against the service's
/// naming rule (3 to 256 of `a-z A-Z 0-9 _ . -`), so nothing else reaches the SQL.
pub fn quote_ident(kind: &str, name: &str) -> Result<String, String> {
    let valid = (3..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(format!(
            "Timestream {kind} name {name:?} is not 3 to 256 letters, digits, '_', '.' or '-'"
        ));
    }
    Ok(format!("\"{name}\""))
}

/// A SQL string literal: single quotes doubled.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl ReportQuery {
    /// Queries over `database`.`table`; the error names a name that is refused.
    pub fn new(database: &str, table: &str) -> Result<Self, String> {
        Ok(Self {
            table: format!(
                "{}.{}",
                quote_ident("database", database)?,
                quote_ident("table", table)?
            ),
        })
    }

    /// The quoted `"database"."table"`.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table's columns: one row per column, its name first.
    pub fn describe(&self) -> String {
        format!("DESCRIBE {}", self.table)
    }

    /// One row per execution scheduled in `window` (both ends included), optionally of
    /// one check, selecting the known columns among `columns` (from [`parse_columns`]).
    pub fn samples(&self, window: &Window, check_id: Option<&str>, columns: &[String]) -> String {
        let has = |c: &str| columns.iter().any(|x| x == c);
        let mut select = vec![
            "check_id".to_string(),
            "region".to_string(),
            "to_milliseconds(time) AS at_ms".to_string(),
        ];
        select.extend(MEASURES.iter().filter(|m| has(m)).map(|m| m.to_string()));
        let check = check_id
            .map(|c| format!(" AND check_id = {}", literal(c)))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {} WHERE measure_name = 'probe' AND time BETWEEN from_milliseconds({}) AND from_milliseconds({}){check}",
            select.join(", "),
            self.table,
            window.from_ms,
            window.to_ms
        )
    }
}

/// Column names from the rows of [`ReportQuery::describe`]. A table without the
/// `check_id` and `region` dimensions (or a `DESCRIBE` answered with no rows) is an
/// error naming the table.
pub fn parse_columns(rows: &Rows, table: &str) -> Result<Vec<String>, PortError> {
    let columns: Vec<String> = rows
        .rows
        .iter()
        .filter_map(|r| r.first().cloned().flatten())
        .collect();
    if columns.is_empty() {
        return Err(PortError::Permanent(format!(
            "failed to read the Timestream table {table}: it does not exist or has no columns"
        )));
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !columns.iter().any(|x| x == *c)) {
        return Err(PortError::Permanent(format!(
            "failed to read the Timestream table {table}: it has no {missing} column, so no webmon result was written to it"
        )));
    }
    Ok(columns)
}

fn bad(column: &str, value: &str, what: &str) -> PortError {
    PortError::Permanent(format!(
        "failed to read Timestream column {column}: {value:?} is not {what}"
    ))
}

struct Row<'a> {
    columns: &'a [String],
    values: &'a [Option<String>],
}

impl Row<'_> {
    /// The value of `column`; an absent column reads as NULL.
    fn raw(&self, column: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.values.get(i).and_then(|v| v.as_deref())
    }
    fn text(&self, column: &str) -> Option<String> {
        self.raw(column).map(str::to_string)
    }
    fn f64(&self, column: &str) -> Result<Option<f64>, PortError> {
        self.raw(column)
            .map(|v| v.parse().map_err(|_| bad(column, v, "a number")))
            .transpose()
    }
}

/// Samples from the rows of [`ReportQuery::samples`]. A row without `check_id`,
/// `region` or `at_ms`, or with a value of the wrong type, is an error naming the column.
pub fn parse_samples(rows: &Rows) -> Result<Vec<Sample>, PortError> {
    rows.rows
        .iter()
        .map(|values| {
            let row = Row {
                columns: &rows.columns,
                values,
            };
            let required = |c: &str| {
                row.text(c).ok_or_else(|| {
                    PortError::Permanent(format!(
                        "failed to read the Timestream result: a row has no {c}"
                    ))
                })
            };
            let at = required("at_ms")?;
            Ok(Sample {
                check_id: required("check_id")?,
                region: required("region")?,
                scheduled_at_ms: at.parse().map_err(|_| bad("at_ms", &at, "an integer"))?,
                available: match row.raw("available") {
                    Some("true") => true,
                    Some("false") | None => false,
                    Some(v) => return Err(bad("available", v, "a boolean")),
                },
                status_code: row
                    .raw("status_code")
                    .map(|v| {
                        v.parse()
                            .map_err(|_| bad("status_code", v, "a status code"))
                    })
                    .transpose()?,
                error_class: row.text("error_class"),
                error_message: row.text("error_message"),
                latency_avg_ms: row.f64("latency_avg_ms")?.unwrap_or(0.0),
                cold_ttfb_ms: row.f64("ttfb_ms")?.unwrap_or(0.0),
                warm_ttfb_ms: row.f64("warm_ttfb_ms")?,
                dns_ms: row.f64("dns_ms")?.unwrap_or(0.0),
                connect_ms: row.f64("connect_ms")?.unwrap_or(0.0),
                tls_ms: row.f64("tls_ms")?.unwrap_or(0.0),
                transfer_ms: row.f64("transfer_ms")?.unwrap_or(0.0),
            })
        })
        .collect()
}

/// Runs the report's two queries through `runner`: the table's columns, then one row
/// per execution in `window`.
pub async fn fetch_samples(
    runner: &dyn QueryRunner,
    query: &ReportQuery,
    window: &Window,
    check_id: Option<&str>,
) -> Result<Vec<Sample>, PortError> {
    let columns = parse_columns(&runner.query(query.describe()).await?, query.table())?;
    let rows = runner
        .query(query.samples(window, check_id, &columns))
        .await?;
    parse_samples(&rows)
}
