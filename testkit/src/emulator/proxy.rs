//! The counting, fault-injecting HTTP proxy in front of moto.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::Shared;

/// A fault moto cannot produce by itself.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `WriteRecords`: records whose `check_id` dimension equals `check_id` are rejected
    /// with `reason` (a `RejectedRecordsException`); the other records are written.
    RejectRecords {
        /// Check id to reject.
        check_id: String,
        /// Reason given.
        reason: String,
    },
    /// `SendMessageBatch`: the first entry of the next `calls` calls is not sent and is
    /// reported failed with a retriable `InternalError`.
    FailFirstSqsEntry {
        /// Calls left to fail.
        calls: usize,
    },
    /// `WriteRecords`: the next `calls` calls write nothing and answer a
    /// `RejectedRecordsException` naming record `index` (which may lie outside the call)
    /// with `existing_version`, as Timestream does for a version conflict.
    RejectIndex {
        /// `RecordIndex` answered.
        index: i64,
        /// `ExistingVersion` answered, if any.
        existing_version: Option<i64>,
        /// Calls left.
        calls: usize,
    },
    /// `WriteRecords`: the next `calls` calls answer 400 `ThrottlingException`.
    ThrottleWrites {
        /// Calls left to throttle.
        calls: usize,
    },
    /// The next `calls` calls of `operation` whose request body contains `contains`
    /// answer 500 `InternalServerException` (e.g. only the `UpdateItem` recording a
    /// delivery as sent).
    ServerErrorIfBodyContains {
        /// Operation name, e.g. `UpdateItem`.
        operation: String,
        /// Text the request body must contain.
        contains: String,
        /// Calls left to fail.
        calls: usize,
    },
    /// The next `calls` calls of `operation` answer 500 `InternalServerException`.
    ServerError {
        /// Operation name, e.g. `WriteRecords`.
        operation: String,
        /// Calls left to fail.
        calls: usize,
    },
}

type Body = Full<Bytes>;

pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    moto: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, moto, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `(region, service)` from a SigV4 Authorization header.
fn scope(req: &Request<Incoming>) -> Option<(String, String)> {
    let auth = req.headers().get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = credential.split('/').collect();
    Some((parts.get(2)?.to_string(), parts.get(3)?.to_string()))
}

async fn handle(
    req: Request<Incoming>,
    moto: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Body>, hyper::Error> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let operation = target.rsplit('.').next().unwrap_or_default().to_string();
    let (region, service) = scope(&req).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let mut body = body.collect().await?.to_bytes();
    if !service.is_empty() {
        let mut s = shared.lock().expect("not poisoned");
        *s.counts
            .entry((region, service, operation.clone()))
            .or_default() += 1;
        if operation == "SendMessageBatch" || operation == "SendMessage" {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut sizes: Vec<usize> = v["Entries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["MessageBody"].as_str().map_or(0, str::len))
                .collect();
            if let Some(b) = v["MessageBody"].as_str() {
                sizes.push(b.len());
            }
            s.sqs_message_bytes.extend(sizes);
        }
    }
    // Decide the fault, if any, before forwarding.
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut failed_entry: Option<String> = None;
    {
        let mut s = shared.lock().expect("not poisoned");
        for fault in s.faults.iter_mut() {
            match fault {
                Fault::ServerError {
                    operation: op,
                    calls,
                } if *op == operation && *calls > 0 => {
                    *calls -= 1;
                    return Ok(error(
                        500,
                        "InternalServerException",
                        "injected server error",
                    ));
                }
                Fault::ServerErrorIfBodyContains {
                    operation: op,
                    contains,
                    calls,
                } if *op == operation
                    && *calls > 0
                    && String::from_utf8_lossy(&body).contains(contains.as_str()) =>
                {
                    *calls -= 1;
                    return Ok(error(
                        500,
                        "InternalServerException",
                        "injected server error",
                    ));
                }
                Fault::RejectIndex {
                    index,
                    existing_version,
                    calls,
                } if operation == "WriteRecords" && *calls > 0 => {
                    *calls -= 1;
                    let mut record =
                        json!({ "RecordIndex": index, "Reason": "injected rejection" });
                    if let Some(v) = existing_version {
                        record["ExistingVersion"] = json!(v);
                    }
                    let body = json!({ "__type": "RejectedRecordsException", "Message": "One or more records have been rejected.", "RejectedRecords": [record] });
                    return Ok(json_response(419, "RejectedRecordsException", body));
                }
                Fault::ThrottleWrites { calls } if operation == "WriteRecords" && *calls > 0 => {
                    *calls -= 1;
                    return Ok(error(400, "ThrottlingException", "injected throttling"));
                }
                Fault::FailFirstSqsEntry { calls }
                    if operation == "SendMessageBatch" && *calls > 0 =>
                {
                    let mut v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    if let Some(entries) = v["Entries"].as_array_mut().filter(|e| !e.is_empty()) {
                        *calls -= 1;
                        let first = entries.remove(0);
                        failed_entry = first["Id"].as_str().map(str::to_string);
                        if entries.is_empty() {
                            let failed = json!({ "Id": failed_entry, "SenderFault": false, "Code": "InternalError", "Message": "injected entry failure" });
                            return Ok(json_response(
                                200,
                                "",
                                json!({ "Successful": [], "Failed": [failed] }),
                            ));
                        }
                        body = Bytes::from(serde_json::to_vec(&v).expect("json"));
                    }
                }
                Fault::RejectRecords { check_id, reason } if operation == "WriteRecords" => {
                    let mut v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    if let Some(records) = v["Records"].as_array_mut() {
                        let mut kept = Vec::new();
                        for (i, record) in records.drain(..).enumerate() {
                            let matches = record["Dimensions"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|d| {
                                    d["Name"] == "check_id" && d["Value"] == check_id.as_str()
                                });
                            if matches {
                                rejected.push((i, reason.clone()));
                            } else {
                                kept.push(record);
                            }
                        }
                        *records = kept;
                        body = Bytes::from(serde_json::to_vec(&v).expect("json"));
                    }
                }
                _ => {}
            }
        }
    }
    let records_left = !rejected.is_empty()
        && serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["Records"].as_array().map(|r| !r.is_empty()))
            .unwrap_or(false);
    let mut response = if rejected.is_empty() || records_left {
        forward(parts, body, moto).await
    } else {
        Ok(error(200, "", ""))
    };
    if !rejected.is_empty() {
        let list: Vec<Value> = rejected
            .iter()
            .map(|(i, r)| json!({ "RecordIndex": i, "Reason": r }))
            .collect();
        let body = json!({ "__type": "RejectedRecordsException", "Message": "One or more records have been rejected.", "RejectedRecords": list });
        return Ok(json_response(419, "RejectedRecordsException", body));
    }
    if let (Some(id), Ok(resp)) = (failed_entry, response.as_mut()) {
        let bytes = std::mem::take(resp.body_mut())
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
        let failed = json!({ "Id": id, "SenderFault": false, "Code": "InternalError", "Message": "injected entry failure" });
        match v["Failed"].as_array_mut() {
            Some(list) => list.push(failed),
            None => v["Failed"] = json!([failed]),
        }
        *resp.body_mut() = Full::new(Bytes::from(serde_json::to_vec(&v).expect("json")));
        resp.headers_mut().remove("content-length");
    }
    Ok(response.unwrap_or_else(|e| error(502, "BadGateway", &e)))
}

fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    json_response(status, code, json!({ "__type": code, "message": message }))
}

fn json_response(status: u16, code: &str, body: Value) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0");
    if !code.is_empty() {
        builder = builder.header("x-amzn-errortype", code);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

async fn forward(
    mut parts: http::request::Parts,
    body: Bytes,
    moto: SocketAddr,
) -> Result<Response<Body>, String> {
    parts.headers.remove("content-length");
    parts.headers.insert("content-length", body.len().into());
    let req = Request::from_parts(parts, Full::new(body));
    let stream = tokio::net::TcpStream::connect(moto)
        .await
        .map_err(|e| format!("failed to reach moto: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (mut parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    parts.headers.remove("content-length");
    parts.headers.remove("transfer-encoding");
    Ok(Response::from_parts(parts, Full::new(bytes)))
}

/// A plain GET to moto, returning the body.
pub(super) async fn get(moto: SocketAddr, path: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(moto)
        .await
        .map_err(|e| format!("failed to reach moto: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", moto.to_string())
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("GET {path} answered {}", resp.status()));
    }
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
