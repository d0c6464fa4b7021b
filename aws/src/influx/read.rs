//! [`ResultReader`] over InfluxDB: one InfluxQL query ([`super::influxql`]) per call
//! through the v1-compatible `GET /query?db=..&epoch=ms` endpoint, which InfluxDB 1.x,
//! 2.x (bucket reached through a DBRP mapping) and 3.x all serve.
//!
//! The query returns **one row per execution** and the figures are computed here, from
//! the rows, with the report's own functions ([`webmon_core::report`] for `samples`,
//! [`webmon_core::report::derive`] for the dashboard): exact nearest-rank percentiles,
//! the same as the SQLite store and the Timestream report, on every InfluxDB version.
//! The cost is one row per execution; a reader refuses answers of more than
//! [`DEFAULT_MAX_ROWS`] rows (or [`MAX_ANSWER_BYTES`]), asking for a narrower window.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde_json::Value;
use webmon_core::ports::PortError;
use webmon_core::read::model::{Failures, Overview, Phases, Series, Uptime, Window};
use webmon_core::read::{ResultReader, Sample};
use webmon_core::report::{derive, StatsReader};

use super::config::{query_encode, Token};
use super::influxql::InfluxQueries;
use crate::https::HttpsClient;
use crate::AwsError;

/// Most rows one answer may hold.
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;
/// Largest answer read, bytes.
pub const MAX_ANSWER_BYTES: usize = 512 << 20;
/// Longest server message kept in an error.
const MAX_REASON: usize = 512;

/// One stored execution and the URL it probed.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The URL tag.
    pub url: String,
    /// The execution.
    pub sample: Sample,
}

/// Reads results from an InfluxDB database (a bucket on 2.x) with InfluxQL.
#[derive(Debug, Clone)]
pub struct InfluxReader {
    client: HttpsClient,
    url: String,
    database: String,
    token: Token,
    queries: InfluxQueries,
    max_rows: usize,
    org: Option<String>,
}

impl InfluxReader {
    /// A reader of `database` (the bucket on 2.x) at `url` (`http(s)://host:port`),
    /// sending `token` when it is not empty.
    pub fn new(url: &str, database: &str, token: Token) -> Result<Self, AwsError> {
        let url = url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(AwsError::Setting {
                name: "InfluxDB URL".into(),
                reason: format!("{url:?} is not an http(s) URL"),
            });
        }
        if database.is_empty() {
            return Err(AwsError::Setting {
                name: "InfluxDB bucket".into(),
                reason: "is empty".into(),
            });
        }
        Ok(Self {
            client: Self::client(Duration::from_secs(60)),
            url,
            database: database.to_string(),
            token,
            queries: InfluxQueries::default(),
            max_rows: DEFAULT_MAX_ROWS,
            org: None,
        })
    }

    fn client(timeout: Duration) -> HttpsClient {
        HttpsClient::new(timeout).with_max_response_bytes(MAX_ANSWER_BYTES)
    }

    /// Ends each query after `timeout` instead of 60 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = Self::client(timeout);
        self
    }

    /// Names the InfluxDB 2.x organisation in the hint of a missing DBRP mapping.
    pub fn with_org_hint(mut self, org: Option<String>) -> Self {
        self.org = org.filter(|o| !o.is_empty());
        self
    }

    /// Refuses answers of more than `max_rows` rows.
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// Runs one InfluxQL statement and returns the answer's JSON. Errors name the
    /// database and say what to do; transport failures, 429 and 5xx are transient.
    pub async fn query(&self, q: &str) -> Result<Value, PortError> {
        let uri = format!(
            "{}/query?db={}&epoch=ms&q={}",
            self.url,
            query_encode(&self.database),
            query_encode(q)
        );
        let mut request = http::Request::get(uri).header(http::header::ACCEPT, "application/json");
        if let Some(auth) = self.token.header() {
            request = request.header(http::header::AUTHORIZATION, auth);
        }
        let request = request
            .body(Bytes::new())
            .map_err(|e| PortError::Permanent(format!("failed to build the query: {e}")))?;
        let answer = self
            .client
            .send(request)
            .await
            .map_err(|e| PortError::Transient(e.to_string()))?;
        let status = answer.status().as_u16();
        let body: Option<Value> = serde_json::from_slice(answer.body()).ok();
        let message = body
            .as_ref()
            .and_then(|b| b["error"].as_str().or(b["message"].as_str()))
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(answer.body()).trim().to_string());
        let what = format!("failed to query {}", self.describe());
        match status {
            200..=299 => {}
            401 | 403 => {
                return Err(PortError::Permanent(format!(
                    "{what}: status {status}, the token was refused: {}",
                    clip(&message)
                )))
            }
            404 => {
                return Err(PortError::Permanent(format!(
                    "{what}: status 404, the server has no InfluxQL /query endpoint (InfluxDB 1.x, 2.x and 3.x have one): {}",
                    clip(&message)
                )))
            }
            408 | 429 | 500..=599 => {
                return Err(PortError::Transient(format!(
                    "{what}: status {status}: {}",
                    clip(&message)
                )))
            }
            _ => {
                return Err(PortError::Permanent(format!(
                    "{what}: status {status}: {}",
                    clip(&message)
                )))
            }
        }
        body.ok_or_else(|| PortError::Permanent(format!("{what}: the answer is not JSON")))
    }

    /// Every execution scheduled in `window`, optionally of one check.
    pub async fn rows(
        &self,
        window: &Window,
        check_id: Option<&str>,
    ) -> Result<Vec<Row>, PortError> {
        let answer = self.query(&self.queries.samples(window, check_id)).await?;
        parse_rows(&answer, &self.database, self.max_rows).map_err(|e| match (&self.org, e) {
            (Some(org), PortError::Permanent(m)) => PortError::Permanent(m.replace(
                "influx v1 dbrp create",
                &format!("influx v1 dbrp create --org {org}"),
            )),
            (_, e) => e,
        })
    }
}

fn clip(text: &str) -> &str {
    let mut end = text.len().min(MAX_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The rows of an answer to [`InfluxQueries::samples`]. An error in the answer (a
/// missing database, a cut-short answer) is an error naming `database` and the fix.
pub fn parse_rows(answer: &Value, database: &str, max_rows: usize) -> Result<Vec<Row>, PortError> {
    let fail = |reason: String| {
        PortError::Permanent(format!(
            "failed to read the InfluxDB database {database}: {reason}"
        ))
    };
    let mut rows = Vec::new();
    for result in answer["results"].as_array().into_iter().flatten() {
        if let Some(error) = result["error"].as_str() {
            return Err(fail(if error.contains("database not found") {
                format!("{error} (create it, or on InfluxDB 2.x map it to the bucket: influx v1 dbrp create --db {database} --rp autogen --bucket-id <id> --default)")
            } else {
                error.to_string()
            }));
        }
        if result["partial"].as_bool() == Some(true) {
            return Err(fail(
                "the server cut the answer short (its max-row-limit); narrow the window or pick one check".into(),
            ));
        }
        for series in result["series"].as_array().into_iter().flatten() {
            if series["partial"].as_bool() == Some(true) {
                return Err(fail(
                    "the server cut the answer short (its max-row-limit); narrow the window or pick one check".into(),
                ));
            }
            let columns: Vec<&str> = series["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or_default())
                .collect();
            for values in series["values"].as_array().into_iter().flatten() {
                let row = SeriesRow {
                    tags: &series["tags"],
                    columns: &columns,
                    values: values.as_array().map(Vec::as_slice).unwrap_or_default(),
                };
                rows.push(row.parse().map_err(fail)?);
                if rows.len() > max_rows {
                    return Err(fail(format!(
                        "more than {max_rows} rows; narrow the window or pick one check"
                    )));
                }
            }
        }
    }
    Ok(rows)
}

/// One row of a series: its tags, the column names and the row's values.
struct SeriesRow<'a> {
    tags: &'a Value,
    columns: &'a [&'a str],
    values: &'a [Value],
}

impl SeriesRow<'_> {
    /// The value of a column, or of a tag (grouped tags are in the series' `tags`).
    fn get(&self, name: &str) -> &Value {
        match self.columns.iter().position(|c| *c == name) {
            Some(i) if !self.values.get(i).is_none_or(Value::is_null) => &self.values[i],
            _ => &self.tags[name],
        }
    }
    fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
    fn f64(&self, name: &str) -> Result<Option<f64>, String> {
        match self.get(name) {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_f64()),
            v => Err(format!("field {name}: {v} is not a number")),
        }
    }
    fn parse(&self) -> Result<Row, String> {
        let required = |name: &str| {
            self.text(name)
                .ok_or_else(|| format!("a row has no {name} tag, so it was not written by webmon"))
        };
        let scheduled_at_ms = match self.get("time") {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| format!("time {n} is not in milliseconds"))?,
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("time {s:?}: {e}"))?
                .timestamp_millis(),
            v => return Err(format!("time {v} is not a timestamp")),
        };
        let available = match self.get("available") {
            Value::Bool(b) => *b,
            Value::Null => false,
            v => return Err(format!("field available: {v} is not a boolean")),
        };
        let status_code = match self.f64("status_code")? {
            None => None,
            Some(code) if (0.0..=65535.0).contains(&code) => Some(code as u16),
            Some(code) => return Err(format!("field status_code: {code} is not a status code")),
        };
        Ok(Row {
            url: self.text("url").unwrap_or_default(),
            sample: Sample {
                check_id: required("check_id")?,
                region: required("region")?,
                scheduled_at_ms,
                available,
                status_code,
                error_class: self.text("error_class"),
                error_message: self.text("error_message"),
                latency_avg_ms: self.f64("latency_avg_ms")?.unwrap_or(0.0),
                cold_ttfb_ms: self.f64("ttfb_ms")?.unwrap_or(0.0),
                warm_ttfb_ms: self.f64("warm_ttfb_ms")?,
                dns_ms: self.f64("dns_ms")?.unwrap_or(0.0),
                connect_ms: self.f64("connect_ms")?.unwrap_or(0.0),
                tls_ms: self.f64("tls_ms")?.unwrap_or(0.0),
                transfer_ms: self.f64("transfer_ms")?.unwrap_or(0.0),
            },
        })
    }
}

/// The daily uptime from the answer to [`InfluxQueries::uptime`]: the first statement's
/// counts are the executions, the second's the passes.
pub fn parse_uptime(
    answer: &Value,
    database: &str,
    days: u32,
    now_ms: i64,
) -> Result<Uptime, PortError> {
    let fail = |reason: String| {
        PortError::Permanent(format!(
            "failed to read the InfluxDB database {database}: {reason}"
        ))
    };
    let mut counts: BTreeMap<(String, i64), (u64, u64)> = BTreeMap::new();
    for (statement, result) in answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(error) = result["error"].as_str() {
            return Err(fail(error.to_string()));
        }
        for series in result["series"].as_array().into_iter().flatten() {
            let check = series["tags"]["check_id"]
                .as_str()
                .ok_or_else(|| fail("a daily count has no check_id tag".into()))?;
            for values in series["values"].as_array().into_iter().flatten() {
                let (Some(day), Some(n)) = (values[0].as_i64(), values[1].as_u64()) else {
                    return Err(fail(format!(
                        "a daily count is not (time, count): {values}"
                    )));
                };
                let entry = counts.entry((check.to_string(), day)).or_default();
                match statement {
                    0 => entry.0 += n,
                    _ => entry.1 += n,
                }
            }
        }
    }
    Ok(derive::uptime_from_counts(
        counts
            .iter()
            .map(|((c, d), (n, p))| (c.as_str(), *d, *n, *p)),
        days,
        now_ms,
    ))
}

fn samples_of(rows: Vec<Row>) -> Vec<Sample> {
    rows.into_iter().map(|r| r.sample).collect()
}

/// Statistics from the samples (one row per execution, exact); the daily uptime counted
/// by the server per UTC day, so 90 days of bars fetch one row per check and day.
impl StatsReader for InfluxReader {
    fn uptime(&self, days: u32, now_ms: i64) -> BoxFuture<'_, Result<Uptime, PortError>> {
        Box::pin(async move {
            let window = Uptime::window(days, now_ms);
            let answer = self.query(&self.queries.uptime(&window)).await?;
            parse_uptime(&answer, &self.database, days, now_ms)
        })
    }
}

impl ResultReader for InfluxReader {
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>> {
        Box::pin(async move {
            let rows = self.rows(&window, None).await?;
            // The URL of each check's most recent execution.
            let mut urls: BTreeMap<String, (i64, String)> = BTreeMap::new();
            for r in &rows {
                let e = urls
                    .entry(r.sample.check_id.clone())
                    .or_insert((i64::MIN, String::new()));
                if r.sample.scheduled_at_ms >= e.0 {
                    *e = (r.sample.scheduled_at_ms, r.url.clone());
                }
            }
            let urls = urls.into_iter().map(|(k, (_, u))| (k, u)).collect();
            Ok(derive::overview(&samples_of(rows), &urls, window))
        })
    }

    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>> {
        Box::pin(async move {
            let rows = self.rows(&window, Some(check_id)).await?;
            Ok(derive::series(&samples_of(rows), check_id, window))
        })
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        Box::pin(async move {
            let rows = self.rows(&window, Some(check_id)).await?;
            Ok(derive::phases(&samples_of(rows), check_id, window))
        })
    }

    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        Box::pin(async move {
            let rows = self.rows(&window, Some(check_id)).await?;
            Ok(derive::failures(&samples_of(rows), check_id, window, limit))
        })
    }

    fn samples<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, PortError>> {
        Box::pin(async move { Ok(samples_of(self.rows(&window, check_id).await?)) })
    }

    fn describe(&self) -> String {
        format!("the InfluxDB database {} at {}", self.database, self.url)
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
