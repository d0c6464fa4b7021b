//! The result store in an InfluxDB-compatible database (InfluxDB 1.x, 2.x, 3.x,
//! Timestream for InfluxDB), writes and reads: a [`ResultStore`] and a [`BatchStore`]
//! like the Timestream one, and a [`ResultReader`] ([`read`], over InfluxQL: [`influxql`]).
//! The versions each part works with are in docs/influxdb.md.
//!
//! One line-protocol point per result ([`line`]): measurement `probe`, tags `check_id`,
//! `region`, `url` and `tag_<name>` per check tag, the same measures as the Timestream
//! record as fields, timestamp = scheduled time in milliseconds. Points go by `POST
//! /api/v2/write?org=..&bucket=..&precision=ms` or, with [`WriteApi::V1`], `POST
//! /write?db=..&precision=ms`, up to 5,000 per request, gzipped above 1 KiB. A point
//! written twice with the same tags and time is overwritten, so replays are harmless.
//! 429 and 5xx answers and transport failures are retried with backoff
//! ([`is_retriable_status`]); other 4xx answers are refused for good, with the answer's
//! body as the reason. The token never reaches a log line or an error message.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tracing::Instrument;
use webmon_core::ports::{PortError, ResultStore};
use webmon_core::read::model::{Failures, Overview, Phases, Series, Uptime, Window};
use webmon_core::read::{ResultReader, Sample};
use webmon_core::result::ProbeResult;

use crate::https::HttpsClient;
use crate::store::{BatchStore, WriteReport};
use crate::AwsError;

mod config;
pub mod influxql;
pub mod line;
pub mod read;

pub use config::{
    query_encode, resolve_token, InfluxConfig, Token, WriteApi, API_ENV, BUCKET_ENV, MAX_LINES,
    ORG_ENV, TOKEN_ENV, URL_ENV,
};
pub use line::to_line;
pub use read::InfluxReader;

/// Bodies at least this long are gzipped.
const GZIP_FROM: usize = 1024;
/// Longest answer body kept in a reason.
const MAX_REASON: usize = 512;

/// The retry decision for an answer: throttling, timeouts and server failures may pass
/// later; any other 4xx (bad point, bad token, missing bucket) will not.
pub fn is_retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status) && status != 501
}

/// The InfluxDB store: writes through the configured write API, reads through
/// [`InfluxReader`] (InfluxQL over `/query`) on the same URL, bucket and token.
#[derive(Debug, Clone)]
pub struct InfluxStore {
    config: InfluxConfig,
    client: HttpsClient,
    write_url: String,
    reader: InfluxReader,
}

/// What became of one request.
enum Outcome {
    Written,
    Refused(String),
    Failed(String),
}

impl InfluxStore {
    /// A store writing with `config` (validated).
    pub fn new(config: InfluxConfig) -> Result<Self, AwsError> {
        config.validate()?;
        Ok(Self {
            client: HttpsClient::new(config.timeout),
            write_url: config.write_url(),
            reader: InfluxReader::new(&config.url, &config.bucket, config.token.clone())?
                .with_timeout(config.timeout.max(Duration::from_secs(30))),
            config,
        })
    }

    /// Writes results in requests of up to `max_lines` points and reports each one's fate.
    pub async fn write_batch(&self, results: &[ProbeResult]) -> WriteReport {
        let mut report = WriteReport::default();
        for (chunk_no, chunk) in results.chunks(self.config.max_lines).enumerate() {
            let base = chunk_no * self.config.max_lines;
            let mut body = String::with_capacity(chunk.len() * 400);
            for r in chunk {
                body.push_str(&to_line(r));
                body.push('\n');
            }
            let span = tracing::info_span!("influx.write", points = chunk.len());
            let (outcome, calls) = self.send(body).instrument(span).await;
            report.calls += calls;
            match outcome {
                Outcome::Written => report.written += chunk.len(),
                Outcome::Refused(reason) => {
                    tracing::error!(points = chunk.len(), reason = %reason, "InfluxDB refused the points");
                    report
                        .rejected
                        .extend((base..base + chunk.len()).map(|i| (i, reason.clone())));
                }
                Outcome::Failed(reason) => {
                    tracing::warn!(points = chunk.len(), error = %reason, "InfluxDB write failed");
                    report.failed.extend(base..base + chunk.len());
                    report.error = Some(reason);
                }
            }
        }
        report
    }

    /// Sends one body, retrying what may pass later; returns the outcome and the calls.
    async fn send(&self, body: String) -> (Outcome, usize) {
        let gzip = body.len() >= GZIP_FROM;
        let payload = if gzip {
            Bytes::from(gzip_bytes(body.as_bytes()))
        } else {
            Bytes::from(body)
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut request = http::Request::post(&self.write_url)
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header(http::header::ACCEPT, "application/json");
            if gzip {
                request = request.header(http::header::CONTENT_ENCODING, "gzip");
            }
            if let Some(auth) = self.config.token.header() {
                request = request.header(http::header::AUTHORIZATION, auth);
            }
            let request = match request.body(payload.clone()) {
                Ok(r) => r,
                Err(e) => {
                    return (
                        Outcome::Refused(format!("failed to build the request: {e}")),
                        0,
                    )
                }
            };
            let (reason, retriable, retry_after) = match self.client.send(request).await {
                Ok(answer) if answer.status().is_success() => {
                    return (Outcome::Written, attempt as usize)
                }
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let retry_after = answer
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = String::from_utf8_lossy(answer.body());
                    let mut reason = format!(
                        "failed to write to InfluxDB bucket {}: status {status}: {}",
                        self.config.bucket,
                        clip(text.trim())
                    );
                    if status == 404 && self.config.api == WriteApi::V2 {
                        reason.push_str(&format!(
                            " (no /api/v2/write here: InfluxDB 1.7 and older have only the v1 API; set {API_ENV}=v1)"
                        ));
                    }
                    (reason, is_retriable_status(status), retry_after)
                }
                Err(e) => (e.to_string(), true, None),
            };
            if !retriable {
                return (Outcome::Refused(reason), attempt as usize);
            }
            if attempt >= self.config.max_attempts {
                return (
                    Outcome::Failed(format!("{reason} (after {attempt} attempts)")),
                    attempt as usize,
                );
            }
            let delay = retry_after
                .unwrap_or(self.config.backoff * 2u32.pow(attempt - 1))
                .min(Duration::from_secs(5));
            tracing::info!(attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "retrying the InfluxDB write");
            tokio::time::sleep(delay).await;
        }
    }
}

impl BatchStore for InfluxStore {
    async fn write_detailed(&self, results: &[ProbeResult]) -> WriteReport {
        self.write_batch(results).await
    }
}

impl ResultStore for InfluxStore {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        self.write_batch(results).await.into_port_result(results)
    }
}

impl InfluxStore {
    /// The reader over the same database.
    pub fn reader(&self) -> &InfluxReader {
        &self.reader
    }
}

impl webmon_core::report::StatsReader for InfluxStore {
    fn uptime(&self, days: u32, now_ms: i64) -> BoxFuture<'_, Result<Uptime, PortError>> {
        self.reader.uptime(days, now_ms)
    }
}

impl ResultReader for InfluxStore {
    fn overview(&self, window: Window) -> BoxFuture<'_, Result<Overview, PortError>> {
        self.reader.overview(window)
    }

    fn series<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Series, PortError>> {
        self.reader.series(check_id, window)
    }

    fn phases<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<Phases, PortError>> {
        self.reader.phases(check_id, window)
    }

    fn failures<'a>(
        &'a self,
        check_id: &'a str,
        window: Window,
        limit: usize,
    ) -> BoxFuture<'a, Result<Failures, PortError>> {
        self.reader.failures(check_id, window, limit)
    }

    fn samples<'a>(
        &'a self,
        window: Window,
        check_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Sample>, PortError>> {
        self.reader.samples(window, check_id)
    }

    fn describe(&self) -> String {
        self.reader.describe()
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(data)
        .and_then(|_| encoder.finish())
        .expect("writing to memory does not fail")
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_REASON {
        return text;
    }
    let mut end = MAX_REASON;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_decision() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retriable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422, 501] {
            assert!(!is_retriable_status(s), "{s}");
        }
    }
}
