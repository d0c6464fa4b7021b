//! Where `webmon report` and `webmon dashboard` read results from: the flags they share
//! (`--source`, `--db`, the Timestream table, the InfluxDB database) and the one place
//! that turns them into a [`ResultReader`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use webmon_aws::config::{AwsTarget, ENDPOINT_ENV};
use webmon_aws::influx::{InfluxReader, Token, BUCKET_ENV, ORG_ENV, TOKEN_ENV, URL_ENV};
use webmon_aws::timestream::query::TimestreamQuery;
use webmon_aws::timestream::{TimestreamQueries, TimestreamReader, DATABASE_ENV, TABLE_ENV};
use webmon_core::read::AlertReader;
use webmon_core::report::StatsReader;
use webmon_local::store::open_existing;

use super::DEFAULT_DB;

/// Which store to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The embedded SQLite store written by `webmon run` (`--db`).
    Sqlite,
    /// Amazon Timestream, written by the writer Lambda (`--database`, `--table`).
    Timestream,
    /// InfluxDB 1.x, 2.x or 3.x, written by the writer Lambda (`--influx-url`,
    /// `--influx-bucket`, `--influx-token`).
    Influxdb,
}

/// Where the InfluxDB database is (`--source influxdb`). Reads go through InfluxQL on
/// the `/query` endpoint (docs/influxdb.md).
#[derive(clap::Args, Debug, Clone)]
pub struct InfluxArgs {
    /// InfluxDB base URL, e.g. `https://host:8086` (with `--source influxdb`).
    #[arg(long, env = URL_ENV, value_name = "URL")]
    pub influx_url: Option<String>,
    /// InfluxDB 2.x organisation: only named in error hints (reads need no org).
    #[arg(long, env = ORG_ENV, value_name = "ORG")]
    pub influx_org: Option<String>,
    /// Bucket (2.x, through its DBRP mapping) or database (1.x, 3.x) to read.
    #[arg(
        long,
        visible_alias = "influx-database",
        env = BUCKET_ENV,
        default_value = "webmon",
        value_name = "BUCKET"
    )]
    pub influx_bucket: String,
    /// API token, or the ARN of a Secrets Manager secret holding it; prefer the
    /// environment variable to the flag (a flag shows in the process list). Empty for
    /// InfluxDB 1.x without authentication.
    #[arg(
        long,
        env = TOKEN_ENV,
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_token
    )]
    pub influx_token: Option<Token>,
}

fn parse_token(value: &str) -> Result<Token, String> {
    Ok(Token::new(value))
}

/// Where the Timestream table is (`--source timestream`).
#[derive(clap::Args, Debug, Clone)]
pub struct TimestreamArgs {
    /// Timestream database (with `--source timestream`).
    #[arg(long, env = DATABASE_ENV, default_value = "webmon")]
    pub database: String,
    /// Timestream table (with `--source timestream`).
    #[arg(long, env = TABLE_ENV, default_value = "results")]
    pub table: String,
    /// AWS region of the Timestream table (default: the SDK's, e.g. AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint override (an emulator such as moto's server); turns endpoint discovery off.
    #[arg(long, env = ENDPOINT_ENV)]
    pub endpoint_url: Option<String>,
}

/// The flags naming a result store, shared by `report` and `dashboard`.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Where to read results from.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub source: Source,
    /// SQLite database written by `webmon run` (with `--source sqlite`) [default:
    /// the `settings.db` of the checks file, else webmon.db].
    #[arg(long, env = "WEBMON_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The Timestream table (with `--source timestream`).
    #[command(flatten)]
    pub timestream: TimestreamArgs,
    /// The InfluxDB database (with `--source influxdb`).
    #[command(flatten)]
    pub influx: InfluxArgs,
}

/// How a command opens an SQLite file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteOpen {
    /// The file must hold the results table written by `webmon run` (`report`).
    WithResults,
    /// The file must exist and hold the results table (`dashboard`); `webmon run`
    /// creates it before the first result is stored.
    Existing,
}

impl SourceArgs {
    /// The SQLite file: `--db` (or `WEBMON_DB`), else [`DEFAULT_DB`].
    pub fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }

    /// Takes `db` from the `settings:` block of a checks file unless `--db` or
    /// `WEBMON_DB` gave one. A file with bad settings is refused (exit 2).
    pub fn apply_settings(&mut self, config: &Path) -> anyhow::Result<()> {
        if self.db.is_none() {
            self.db = super::settings_of(config)?.db;
        }
        Ok(())
    }

    /// Opens the chosen store for reading. A missing SQLite file is an error naming it
    /// (never created); a Timestream table name must follow the service's naming rule.
    /// The alert evaluator's state, which only the SQLite store of `webmon run` keeps
    /// (read-only, like the results).
    pub fn alerts(&self) -> anyhow::Result<Option<Arc<dyn AlertReader>>> {
        Ok(match self.source {
            Source::Sqlite => {
                let db = self.db_path();
                super::paths::database(&db)?;
                Some(Arc::new(open_existing(&db)?))
            }
            Source::Timestream | Source::Influxdb => None,
        })
    }

    pub async fn open(&self, sqlite: SqliteOpen) -> anyhow::Result<Arc<dyn StatsReader>> {
        match self.source {
            // Read-only either way: a report or a dashboard never writes the store.
            Source::Sqlite => {
                let _ = sqlite;
                let db = self.db_path();
                super::paths::database(&db)?;
                Ok(Arc::new(open_existing(&db)?))
            }
            Source::Timestream => {
                let t = &self.timestream;
                let queries = TimestreamQueries::new(&t.database, &t.table)
                    .map_err(|e| anyhow::anyhow!("failed to read --database/--table: {e}"))?;
                let target = AwsTarget {
                    region: t.region.clone(),
                    endpoint_url: t.endpoint_url.clone().filter(|u| !u.is_empty()),
                };
                let runner = TimestreamQuery::connect(&target)
                    .await
                    .context("failed to set up the Timestream query client")?;
                Ok(Arc::new(TimestreamReader::new(Arc::new(runner), queries)))
            }
            Source::Influxdb => {
                let i = &self.influx;
                let url = i
                    .influx_url
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                        "failed to open the InfluxDB store: --influx-url (or {URL_ENV}) is not set"
                    )
                    })?;
                let token = match &i.influx_token {
                    None => Token::default(),
                    Some(token) => {
                        let target = AwsTarget {
                            region: self.timestream.region.clone(),
                            endpoint_url: self
                                .timestream
                                .endpoint_url
                                .clone()
                                .filter(|u| !u.is_empty()),
                        };
                        token
                            .resolve(&target)
                            .await
                            .context("failed to read the InfluxDB token")?
                    }
                };
                let reader = InfluxReader::new(url, &i.influx_bucket, token)
                    .context("failed to open the InfluxDB store")?;
                Ok(Arc::new(reader.with_org_hint(i.influx_org.clone())))
            }
        }
    }
}
