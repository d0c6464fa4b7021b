//! The writer's result store, chosen by `WEBMON_SINK`: `timestream` (the default),
//! `influx`, or `both`. With both, a result counts as written only when each store took
//! it; a message is retried otherwise, which is harmless as both stores overwrite an
//! identical point or record.

use std::collections::BTreeMap;

use webmon_core::ports::{PortError, ResultStore};
use webmon_core::result::ProbeResult;

use crate::config::{env_or, AwsTarget};
use crate::influx::{InfluxConfig, InfluxStore};
use crate::store::{BatchStore, WriteReport};
use crate::timestream::{TimestreamStore, DATABASE_ENV, TABLE_ENV};
use crate::AwsError;

/// Environment variable choosing the store.
pub const SINK_ENV: &str = "WEBMON_SINK";

/// Which stores the writer writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// Timestream for LiveAnalytics.
    Timestream,
    /// An InfluxDB-compatible database.
    Influx,
    /// Both, each result to each.
    Both,
}

impl SinkKind {
    /// Parses `timestream`, `influx` or `both` (case-insensitive; empty is the default).
    pub fn parse(value: &str) -> Result<Self, AwsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "timestream" => Ok(Self::Timestream),
            "influx" | "influxdb" => Ok(Self::Influx),
            "both" => Ok(Self::Both),
            other => Err(AwsError::Setting {
                name: SINK_ENV.into(),
                reason: format!("{other:?} is not one of timestream, influx, both"),
            }),
        }
    }
}

/// The store(s) the writer was configured with.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Timestream only.
    Timestream(TimestreamStore),
    /// InfluxDB only.
    Influx(InfluxStore),
    /// Both.
    Both(Both<TimestreamStore, InfluxStore>),
}

impl Sink {
    /// Builds the stores named by `WEBMON_SINK` from their settings.
    pub async fn from_env(target: &AwsTarget) -> Result<Self, AwsError> {
        let kind = SinkKind::parse(&env_or(SINK_ENV, "timestream"))?;
        let influx = || async { InfluxStore::new(InfluxConfig::from_env(target).await?) };
        Ok(match kind {
            SinkKind::Timestream => Self::Timestream(timestream(target).await?),
            SinkKind::Influx => Self::Influx(influx().await?),
            SinkKind::Both => Self::Both(Both(timestream(target).await?, influx().await?)),
        })
    }
}

async fn timestream(target: &AwsTarget) -> Result<TimestreamStore, AwsError> {
    Ok(TimestreamStore::new(
        TimestreamStore::client(target).await?,
        env_or(DATABASE_ENV, "webmon"),
        env_or(TABLE_ENV, "results"),
    ))
}

impl BatchStore for Sink {
    async fn write_detailed(&self, results: &[ProbeResult]) -> WriteReport {
        match self {
            Self::Timestream(s) => s.write_detailed(results).await,
            Self::Influx(s) => s.write_detailed(results).await,
            Self::Both(s) => s.write_detailed(results).await,
        }
    }
}

impl ResultStore for Sink {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        match self {
            Self::Timestream(s) => s.write(results).await,
            Self::Influx(s) => s.write(results).await,
            Self::Both(s) => s.write(results).await,
        }
    }
}

/// Two stores written concurrently; see [`merge`] for how their reports combine.
#[derive(Debug, Clone)]
pub struct Both<A, B>(pub A, pub B);

impl<A: BatchStore, B: BatchStore> BatchStore for Both<A, B> {
    async fn write_detailed(&self, results: &[ProbeResult]) -> WriteReport {
        let (a, b) = tokio::join!(
            self.0.write_detailed(results),
            self.1.write_detailed(results)
        );
        merge(results.len(), a, b)
    }
}

impl<A: ResultStore, B: ResultStore> ResultStore for Both<A, B> {
    async fn write(&self, results: &[ProbeResult]) -> Result<(), PortError> {
        let (a, b) = tokio::join!(self.0.write(results), self.1.write(results));
        match (a, b) {
            (Err(e @ PortError::Permanent(_)), _) | (_, Err(e @ PortError::Permanent(_))) => Err(e),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

/// Combines the reports of two stores over the same `total` results: refused by either
/// is refused (reasons joined), else failed in either is failed, else written.
pub fn merge(total: usize, a: WriteReport, b: WriteReport) -> WriteReport {
    let mut rejected: BTreeMap<usize, String> = BTreeMap::new();
    for (index, reason) in a.rejected.into_iter().chain(b.rejected) {
        rejected
            .entry(index)
            .and_modify(|r| {
                r.push_str("; ");
                r.push_str(&reason);
            })
            .or_insert(reason);
    }
    let mut failed: Vec<usize> = a
        .failed
        .into_iter()
        .chain(b.failed)
        .filter(|i| !rejected.contains_key(i))
        .collect();
    failed.sort_unstable();
    failed.dedup();
    let error = match (a.error, b.error) {
        (Some(x), Some(y)) => Some(format!("{x}; {y}")),
        (x, y) => x.or(y),
    };
    WriteReport {
        written: total - rejected.len() - failed.len(),
        rejected: rejected.into_iter().collect(),
        failed,
        error,
        calls: a.calls + b.calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_kinds() {
        assert_eq!(SinkKind::parse("").unwrap(), SinkKind::Timestream);
        assert_eq!(SinkKind::parse("Influx").unwrap(), SinkKind::Influx);
        assert_eq!(SinkKind::parse(" both ").unwrap(), SinkKind::Both);
        let err = SinkKind::parse("prometheus").unwrap_err().to_string();
        assert!(
            err.contains(SINK_ENV) && err.contains("prometheus"),
            "{err}"
        );
    }

    #[test]
    fn merged_report_is_the_worse_of_the_two() {
        let a = WriteReport {
            written: 3,
            rejected: vec![(1, "ts: bad".into())],
            failed: vec![],
            error: None,
            calls: 1,
        };
        let b = WriteReport {
            written: 1,
            rejected: vec![(1, "influx: bad".into())],
            failed: vec![1, 2, 3],
            error: Some("503".into()),
            calls: 2,
        };
        let m = merge(5, a, b);
        assert_eq!(m.rejected, vec![(1, "ts: bad; influx: bad".to_string())]);
        assert_eq!(m.failed, vec![2, 3]);
        assert_eq!(m.written, 2);
        assert_eq!(m.calls, 3);
        assert_eq!(m.error.as_deref(), Some("503"));
    }
}
