//! Canned Timestream query results on moto's server (feature `emulator`): moto has no
//! time-series engine, so tests register the answer to an exact query string with
//! `POST /moto-api/static/timestream/query-results`. Moto answers a query with the next
//! page registered for that exact text, so a query the project builds differently gets
//! no rows, and pages are served in order whatever `NextToken` the client sends.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use webmon_aws::timestream::Rows;

use webmon_aws::AwsError;

/// One `Query` answer as moto returns it: `rows` as scalars (`None` as NULL), with
/// `next_token` when another page follows.
pub fn page(rows: &Rows, next_token: Option<&str>) -> Value {
    let mut page = json!({
        "QueryId": "webmon-canned",
        "ColumnInfo": rows.columns.iter()
            .map(|c| json!({"Name": c, "Type": {"ScalarType": "VARCHAR"}}))
            .collect::<Vec<_>>(),
        "Rows": rows.rows.iter().map(|r| json!({
            "Data": r.iter().map(|v| match v {
                Some(v) => json!({"ScalarValue": v}),
                None => json!({"NullValue": true}),
            }).collect::<Vec<_>>()
        })).collect::<Vec<_>>(),
    });
    if let Some(token) = next_token {
        page["NextToken"] = json!(token);
    }
    page
}

/// Registers `pages` as the answers to `query` in `region`, at moto's own address
/// (`moto_url`, an `http://127.0.0.1:port` URL).
pub async fn register(
    moto_url: &str,
    region: &str,
    query: &str,
    pages: Vec<Value>,
) -> Result<(), AwsError> {
    let failed = |reason: String| AwsError::Setting {
        name: "moto timestream query results".into(),
        reason,
    };
    let addr = moto_url
        .strip_prefix("http://")
        .ok_or_else(|| failed(format!("{moto_url} is not an http:// URL")))?;
    let body = json!({"region": region, "results": {query: pages}}).to_string();
    let request = format!(
        "POST /moto-api/static/timestream/query-results HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| failed(format!("failed to connect to {addr}: {e}")))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| failed(format!("failed to send: {e}")))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| failed(format!("failed to read the answer: {e}")))?;
    let status = answer.lines().next().unwrap_or_default();
    if !status.contains(" 201") && !status.contains(" 200") {
        return Err(failed(format!("moto answered {status:?}")));
    }
    Ok(())
}
