//! The compact form of a stored execution (schema 4): one row of small integers, the
//! eleven timings as one blob of microsecond varints, and the fields that rarely change
//! between executions (URL, remote address, HTTP version, tags, wire version) in a
//! shared `variants` row. About 53 bytes a row plus 12 of index, where the old form
//! (every column plus the whole result again as JSON) took about 900.
//!
//! Timings are kept to the microsecond; everything else round-trips exactly.

use std::collections::BTreeMap;

use rusqlite::Row;
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use webmon_core::report::rollup::codec::{Reader, Writer};
use webmon_core::report::Sample;
use webmon_core::result::{ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult};

/// The fields of a result that rarely change from one execution to the next.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Variant {
    version: u32,
    url: String,
    remote_ip: Option<String>,
    http_version: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl Variant {
    /// The variant of `r`, as the JSON text that keys the `variants` table.
    pub(super) fn json_of(r: &ProbeResult) -> String {
        let v = Variant {
            version: r.version,
            url: r.url.clone(),
            remote_ip: r.remote_ip.clone(),
            http_version: r.http_version.clone(),
            tags: r.tags.clone(),
        };
        serde_json::to_string(&v).expect("a variant always serialises")
    }
}

fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round().max(0.0) as u64
}

fn millis(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The timings of `r` as varints of microseconds.
pub(super) fn timings_of(r: &ProbeResult) -> Vec<u8> {
    let mut w = Writer::default();
    for ms in [
        r.latency.avg_ms,
        r.latency.min_ms,
        r.latency.max_ms,
        r.latency.p50_ms,
        r.cold.dns_ms,
        r.cold.connect_ms,
        r.cold.tls_ms,
        r.cold.ttfb_ms,
        r.cold.transfer_ms,
    ] {
        w.u64(micros(ms));
    }
    w.u64(r.warm_ttfb_ms.map_or(0, |ms| micros(ms) + 1));
    w.i64((r.probe.start_delay_ms * 1000.0).round() as i64);
    w.finish()
}

/// Decoded timings, ms.
struct Timings {
    values: [f64; 9],
    warm_ttfb_ms: Option<f64>,
    start_delay_ms: f64,
}

fn timings(bytes: &[u8]) -> Result<Timings, String> {
    let mut r = Reader::new(bytes);
    let mut values = [0.0; 9];
    for v in &mut values {
        *v = millis(r.u64()?);
    }
    let warm_ttfb_ms = match r.u64()? {
        0 => None,
        us => Some(millis(us - 1)),
    };
    let start_delay_ms = r.i64()? as f64 / 1000.0;
    Ok(Timings {
        values,
        warm_ttfb_ms,
        start_delay_ms,
    })
}

/// Flags of a result: 1 cold start, 2 kernel timestamps.
pub(super) fn flags_of(r: &ProbeResult) -> i64 {
    i64::from(r.probe.cold_start) | (i64::from(r.probe.kernel_timestamps) << 1)
}

fn conversion(column: usize, e: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Blob, e.into())
}

/// The columns [`sample`] reads, in order, from `executions e JOIN series s`.
pub(super) const SAMPLE_COLUMNS: &str =
    "s.check_id, s.region, e.at, e.available, e.status, e.error_class, e.error_message, e.timings";

/// A report sample from a row of [`SAMPLE_COLUMNS`].
pub(super) fn sample(row: &Row<'_>) -> rusqlite::Result<Sample> {
    sample_at(row, 0)
}

/// A report sample from the [`SAMPLE_COLUMNS`] starting at column `o` of a row.
pub(super) fn sample_at(row: &Row<'_>, o: usize) -> rusqlite::Result<Sample> {
    let t = timings(&row.get::<_, Vec<u8>>(o + 7)?).map_err(|e| conversion(o + 7, e))?;
    Ok(Sample {
        check_id: row.get(o)?,
        region: row.get(o + 1)?,
        scheduled_at_ms: row.get(o + 2)?,
        available: row.get(o + 3)?,
        status_code: row.get(o + 4)?,
        error_class: row.get(o + 5)?,
        error_message: row.get(o + 6)?,
        latency_avg_ms: t.values[0],
        cold_ttfb_ms: t.values[7],
        warm_ttfb_ms: t.warm_ttfb_ms,
        dns_ms: t.values[4],
        connect_ms: t.values[5],
        tls_ms: t.values[6],
        transfer_ms: t.values[8],
    })
}

/// The columns [`result`] reads, in order, from
/// `executions e JOIN series s JOIN variants v`; the first is the row id.
pub(super) const RESULT_COLUMNS: &str =
    "e.id, s.check_id, s.region, v.json, e.at, e.started, e.available, e.status, \
     e.error_class, e.error_message, e.requests, e.timings, e.bytes, e.redirects, e.attempts, \
     e.cert_days, e.flags";

/// The joins [`RESULT_COLUMNS`] need.
pub(super) const RESULT_FROM: &str =
    "executions e JOIN series s ON s.id = e.series JOIN variants v ON v.id = e.variant";

/// A whole result (and its row id) from a row of [`RESULT_COLUMNS`].
pub(super) fn result(row: &Row<'_>) -> rusqlite::Result<(i64, ProbeResult)> {
    let variant: Variant = serde_json::from_str(&row.get::<_, String>(3)?)
        .map_err(|e| conversion(3, format!("a stored variant is not valid: {e}")))?;
    let t = timings(&row.get::<_, Vec<u8>>(11)?).map_err(|e| conversion(11, e))?;
    let error_class = match row.get::<_, Option<String>>(8)? {
        None => None,
        Some(text) => Some(
            ErrorClass::deserialize(text.as_str().into_deserializer())
                .map_err(|e: serde::de::value::Error| conversion(8, e.to_string()))?,
        ),
    };
    let at: i64 = row.get(4)?;
    let flags: i64 = row.get(16)?;
    let [avg_ms, min_ms, max_ms, p50_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms] =
        t.values;
    Ok((
        row.get(0)?,
        ProbeResult {
            version: variant.version,
            check_id: row.get(1)?,
            region: row.get(2)?,
            url: variant.url,
            scheduled_at_ms: at,
            started_at_ms: at + row.get::<_, i64>(5)?,
            available: row.get(6)?,
            status_code: row.get(7)?,
            error_class,
            error_message: row.get(9)?,
            requests: row.get(10)?,
            latency: LatencyStats {
                avg_ms,
                min_ms,
                max_ms,
                p50_ms,
            },
            cold: Phases {
                dns_ms,
                connect_ms,
                tls_ms,
                ttfb_ms,
                transfer_ms,
            },
            warm_ttfb_ms: t.warm_ttfb_ms,
            bytes: row.get::<_, i64>(12)? as u64,
            remote_ip: variant.remote_ip,
            http_version: variant.http_version,
            tls_cert_days_left: row.get(15)?,
            redirects: row.get(13)?,
            attempts: row.get(14)?,
            tags: variant.tags,
            probe: ProbeHealth {
                cold_start: flags & 1 != 0,
                start_delay_ms: t.start_delay_ms,
                kernel_timestamps: flags & 2 != 0,
            },
        },
    ))
}
