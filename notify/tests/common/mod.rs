//! Test machinery: an HTTP receiver on 127.0.0.1 that records requests and answers from
//! a script, and a sample notification.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use webmon_core::alert::{
    CheckRef, EventKind, Level, NotificationIntent, QuorumCount, RegionState, RegionStatus,
};
use webmon_notify::{ChannelContext, MapResolver};

/// A channel context with a 5 s client and these `kind:name` secrets.
pub fn ctx(secrets: &[(&str, &str)]) -> ChannelContext {
    let map = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>();
    ChannelContext {
        http: webmon_notify::http::HttpClient::new(Duration::from_secs(5)),
        secrets: Arc::new(MapResolver(map)),
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A scripted answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// The receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts on 127.0.0.1; answers from `script` in order, then 200 `ok`.
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (reqs, scr) = (requests.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (reqs, scr) = (reqs.clone(), scr.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (reqs, scr) = (reqs.clone(), scr.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            reqs.lock().unwrap().push(Received {
                                method: parts.method.to_string(),
                                path: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            });
                            let (status, headers, text) = scr
                                .lock()
                                .unwrap()
                                .pop_front()
                                .unwrap_or((200, vec![], "ok"));
                            let mut response = Response::builder().status(status);
                            for (k, v) in headers {
                                response = response.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(Bytes::from(text))).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

/// 2025-08-17T12:01:00Z.
pub const OPENED: i64 = 1_755_432_060_000;

/// A DOWN incident in two of three regions.
pub fn sample() -> NotificationIntent {
    let region = |name: &str, state, error: Option<&str>| RegionStatus {
        region: name.into(),
        state,
        since_ms: OPENED,
        last_error: error.map(str::to_string),
        latency_ms: Some(120.0),
        suspect: false,
    };
    NotificationIntent {
        id: format!("api:{OPENED}:1"),
        kind: EventKind::Triggered,
        at_ms: OPENED + 10_000,
        check: Some(CheckRef {
            id: "api".into(),
            url: "https://api.example/health".into(),
            tags: BTreeMap::from([("team".to_string(), "payments".to_string())]),
        }),
        incident_id: Some(format!("api:{OPENED}")),
        seq: 1,
        level: Level::Down,
        previous_level: Level::Up,
        opened_at_ms: Some(OPENED),
        regions: vec![
            region("ap-southeast-1", RegionState::Ok, None),
            region(
                "eu-west-1",
                RegionState::Failing,
                Some("timeout: no answer"),
            ),
            region("us-east-1", RegionState::Failing, Some("connect: refused")),
        ],
        quorum: Some(QuorumCount {
            required: 2,
            configured: 3,
            failing: 2,
            degraded: 0,
            no_data: 0,
        }),
        region: None,
        tls_days_left: None,
        note: None,
        channels: vec!["hooks".into()],
        members: Vec::new(),
    }
}

/// The sample's resolution.
pub fn resolved() -> NotificationIntent {
    let mut n = sample();
    n.id = format!("api:{OPENED}:2");
    n.kind = EventKind::Resolved;
    n.seq = 2;
    n.level = Level::Up;
    n.previous_level = Level::Down;
    for r in &mut n.regions {
        r.state = RegionState::Ok;
    }
    n.quorum.as_mut().unwrap().failing = 0;
    n
}
