//! Timestream queries through aws-sdk-timestreamquery: the [`QueryRunner`] behind
//! `webmon dashboard --source timestream` and `webmon report --source timestream`.
//!
//! - The client uses endpoint discovery for real AWS (as the writer's client does) and
//!   none with an endpoint override (an emulator answers at the override itself).
//! - A query runs to completion: every page is fetched by its `NextToken` (Timestream
//!   may answer pages without rows while the query runs), bounded by a row limit and a
//!   page limit; past the row limit the query is cancelled and refused, so a report
//!   never pulls an unbounded table into memory.
//! - `canned` (feature `emulator`): registering query answers on moto's server.

use std::future::Future;
use std::pin::Pin;

use super::read::{QueryRunner, Rows};
use aws_sdk_timestreamquery::types::{Datum, Row};
use aws_sdk_timestreamquery::Client;
use tracing::Instrument;
use webmon_core::ports::PortError;

use crate::config::AwsTarget;
use crate::AwsError;

/// Rows one query may return before it is refused (one row per execution: a day of
/// 100 checks every 10 s in 3 regions is 2.6 M, a week of 10 checks every minute in
/// 3 regions is 0.2 M).
pub const DEFAULT_MAX_ROWS: usize = 2_000_000;
/// Pages one query may take, empty ones included.
pub const MAX_PAGES: usize = 100_000;

/// Runs SQL on Timestream for LiveAnalytics.
#[derive(Debug, Clone)]
pub struct TimestreamQuery {
    client: Client,
    max_rows: usize,
}

impl TimestreamQuery {
    /// Wraps a client that is ready to use (see [`TimestreamQuery::client`]).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }

    /// Refuses queries returning more than `max_rows` rows.
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// Builds a client: endpoint discovery for real AWS (its refresh task is spawned),
    /// none with an endpoint override.
    pub async fn client(target: &AwsTarget) -> Result<Client, AwsError> {
        let config = target.load().await;
        let client = Client::new(&config);
        if target.is_overridden() {
            return Ok(client);
        }
        let (client, reload) = client
            .with_endpoint_discovery_enabled()
            .await
            .map_err(|e| AwsError::Setting {
                name: "timestream query endpoint discovery".into(),
                reason: e.to_string(),
            })?;
        tokio::spawn(reload.reload_task());
        Ok(client)
    }

    /// [`TimestreamQuery::client`] wrapped, with the default row limit.
    pub async fn connect(target: &AwsTarget) -> Result<Self, AwsError> {
        Ok(Self::new(Self::client(target).await?))
    }

    /// Runs `sql` and joins every page's rows.
    pub async fn query_all(&self, sql: &str) -> Result<Rows, AwsError> {
        let mut out = Rows::default();
        let mut next_token: Option<String> = None;
        let mut last_token: Option<String> = None;
        for page in 1..=MAX_PAGES {
            let answer = self
                .client
                .query()
                .query_string(sql)
                .set_next_token(next_token.take())
                .send()
                .instrument(tracing::debug_span!("aws.timestream.Query", page))
                .await
                .map_err(|e| AwsError::call("timestream", "Query", e))?;
            if out.columns.is_empty() {
                out.columns = answer
                    .column_info()
                    .iter()
                    .map(|c| c.name().unwrap_or_default().to_string())
                    .collect();
            }
            for row in answer.rows() {
                out.rows.push(scalars(row)?);
            }
            if out.rows.len() > self.max_rows {
                self.cancel(answer.query_id()).await;
                return Err(refused(format!(
                    "more than {} rows; narrow the window or pick one check",
                    self.max_rows
                )));
            }
            match answer.next_token() {
                // The same token twice would page forever (an emulator can answer so).
                Some(token) if !token.is_empty() && last_token.as_deref() == Some(token) => {
                    return Err(refused(format!(
                        "the same NextToken came back twice after page {page}"
                    )));
                }
                Some(token) if !token.is_empty() => {
                    last_token = Some(token.to_string());
                    next_token = last_token.clone();
                }
                _ => {
                    tracing::debug!(pages = page, rows = out.rows.len(), "query done");
                    return Ok(out);
                }
            }
        }
        Err(refused(format!("more than {MAX_PAGES} pages")))
    }

    /// Stops a query we no longer read, so it is not billed further. Best effort.
    async fn cancel(&self, query_id: &str) {
        if query_id.is_empty() {
            return;
        }
        if let Err(e) = self.client.cancel_query().query_id(query_id).send().await {
            tracing::debug!(error = %AwsError::call("timestream", "CancelQuery", e), "cancel failed");
        }
    }
}

fn refused(message: String) -> AwsError {
    AwsError::Call {
        service: "timestream",
        operation: "Query",
        message,
        retriable: false,
    }
}

/// One row as text scalars (`None` for NULL); the queries select scalars only.
fn scalars(row: &Row) -> Result<Vec<Option<String>>, AwsError> {
    row.data()
        .iter()
        .map(|d: &Datum| match (d.scalar_value(), d.null_value()) {
            (Some(v), _) => Ok(Some(v.to_string())),
            (None, Some(true)) => Ok(None),
            _ => Err(AwsError::Codec {
                what: "read a Timestream row".into(),
                reason: "a value is an array, row or time series, not a scalar".into(),
            }),
        })
        .collect()
}

impl QueryRunner for TimestreamQuery {
    fn query(
        &self,
        sql: String,
    ) -> Pin<Box<dyn Future<Output = Result<Rows, PortError>> + Send + '_>> {
        Box::pin(async move { self.query_all(&sql).await.map_err(PortError::from) })
    }
}
