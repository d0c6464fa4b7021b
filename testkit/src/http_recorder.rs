//! A real HTTP/1.1 server on 127.0.0.1 that records every request (gzip bodies decoded)
//! and answers from a script of statuses, then 204. It runs on a runtime of its own, so
//! a test may block its own thread (a span flush) while the server answers.

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header values by lower-case name.
    pub headers: Vec<(String, String)>,
    /// The body, gunzipped when it came gzipped.
    pub body: Vec<u8>,
    /// Whether it came gzipped.
    pub gzipped: bool,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, extra headers and body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Answer>,
}

/// The running server; it stops with the process.
#[derive(Clone)]
pub struct Recorder {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Recorder {
    /// Starts on a free port; `script` answers the first requests, 204 the rest.
    pub fn start(script: Vec<Answer>) -> Self {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: script.into(),
        }));
        let shared = state.clone();
        let addr = serve_on_thread(move |req| {
            let shared = shared.clone();
            async move { answer(&shared, req).await }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Waits (bounded) until at least `n` requests arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + within;
        loop {
            let requests = self.requests();
            if requests.len() >= n || Instant::now() > deadline {
                return requests;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Serves HTTP/1.1 on a free port of 127.0.0.1 from a thread with a runtime of its own
/// (so a test may block its own thread while the server answers); `handle` answers each
/// request. Returns the address; the server stops with the process.
pub(crate) fn serve_on_thread<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let answer = handle(req);
                        async move { Ok::<_, hyper::Error>(answer.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

async fn answer(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let raw = req.into_body().collect().await.unwrap().to_bytes();
    let gzipped = headers
        .iter()
        .any(|(k, v)| k == "content-encoding" && v == "gzip");
    let body = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("a valid gzip body");
        out
    } else {
        raw.to_vec()
    };
    let mut state = state.lock().unwrap();
    state.requests.push(Recorded {
        method,
        target,
        headers,
        body,
        gzipped,
    });
    let (status, extra, text) =
        state
            .script
            .pop_front()
            .unwrap_or((204, Vec::new(), String::new()));
    let mut response = Response::builder().status(status);
    for (name, value) in extra {
        response = response.header(name, value);
    }
    response.body(Full::new(Bytes::from(text))).unwrap()
}
