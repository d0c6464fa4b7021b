//! A tiny HTTP(S) target server for the demo (`webmon run --demo-target`), the tests and
//! the benchmarks.
//!
//! HTTP/1.1 and HTTP/2 (ALPN `h2` over TLS, prior knowledge over plain TCP). Routes:
//!
//! | route | answer |
//! |---|---|
//! | `/ok` | 200 `ok` |
//! | `/delay/{ms}` | 200 after `ms` milliseconds, timed by a dedicated thread (sub-ms precision) |
//! | `/status/{code}` | that status (200-599) |
//! | `/redirect/{n}` | 302 to `/redirect/{n-1}`, `/redirect/1` to `/ok` (n hops) |
//! | `/redirect-loop` | 302 to itself |
//! | `/redirect-to?url=U` | 302 to `U` |
//! | `/hang` | never answers |
//! | `/trickle/{bytes}/{ms_per_byte}` | 200, then one byte every `ms_per_byte` ms |
//! | `/bytes/{n}` | 200 with `n` bytes |
//! | `/gzip` | gzip-encoded text (`Content-Encoding: gzip`) |
//! | `/chunked` | a body in several chunks, no `Content-Length` |
//! | `/json` | `{"status":"ok",...}` |
//! | `/headers` | the request headers as a JSON object |
//! | `/delays/{ms},{ms},...` | 200 after the listed delays in turn: the n-th request to a `/delays` route waits the n-th delay of its list (cycling) |
//! | `/alternate` | 200, `{"phase":"first"}` with `x-phase: first` on odd-numbered requests to this route (1st, 3rd, ...), `{"phase":"second"}` with `x-phase: second` on even-numbered ones |
//!
//! Every response carries `x-webmon-target: 1`. The server counts the connections it
//! accepted ([`TargetServer::connections_accepted`]) and the most requests it was
//! answering at once ([`TargetServer::peak_in_flight`]). The server stops when dropped.
//! Start it from inside a Tokio runtime.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;

mod timer;

use timer::PreciseTimer;

type Body = BoxBody<Bytes, Infallible>;

/// A running target server; dropping it stops the server and every open connection.
pub struct TargetServer {
    addr: SocketAddr,
    scheme: &'static str,
    task: tokio::task::JoinHandle<()>,
    counters: Arc<Counters>,
}

/// What the server counts, shared by its connections.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    alternate: AtomicU64,
    delays: AtomicU64,
}

/// Holds one request in the in-flight count while it is answered.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TargetServer {
    /// Starts a plain HTTP server on `addr` (port 0 picks a free port).
    pub fn start(addr: SocketAddr) -> io::Result<Self> {
        Self::spawn(addr, None)
    }

    /// Starts an HTTPS server on `addr` with a PEM certificate chain (leaf first) and a
    /// PEM private key; ALPN offers `h2` and `http/1.1`.
    pub fn start_tls(addr: SocketAddr, cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("failed to read the {what}: {e}"),
            )
        };
        let certs = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("certificate chain PEM", &e))?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid("private key PEM", &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS versions", &e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid("certificate and key", &e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self::spawn(
            addr,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
    }

    fn spawn(addr: SocketAddr, tls: Option<tokio_rustls::TlsAcceptor>) -> io::Result<Self> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        // A deep backlog: benchmarks open a thousand connections at once.
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let timer = PreciseTimer::spawn()?;
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(listener, tls, timer, counters.clone()));
        Ok(Self {
            addr,
            scheme,
            task,
            counters,
        })
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// The most requests being answered at the same time so far (a request counts from
    /// its headers' arrival until its response is ready to send).
    pub fn peak_in_flight(&self) -> u64 {
        self.counters.peak_in_flight.load(Ordering::SeqCst)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http(s)://addr{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    timer: PreciseTimer,
    counters: Arc<Counters>,
) {
    // Connections live in this set, so aborting the loop stops them all.
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let timer = timer.clone();
        let counters = counters.clone();
        match tls.clone() {
            None => {
                connections.spawn(serve(stream, timer, counters));
            }
            Some(acceptor) => {
                connections.spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(stream, timer, counters).await;
                    }
                });
            }
        }
    }
}

async fn serve<S>(stream: S, timer: PreciseTimer, counters: Arc<Counters>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let timer = timer.clone();
        let counters = counters.clone();
        async move {
            let _in_flight = InFlight::enter(&counters);
            Ok::<_, Infallible>(route(req, timer, &counters).await)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
}

fn redirect(location: &str) -> Response<Body> {
    let mut response = full(StatusCode::FOUND, "redirecting\n");
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

fn streamed(chunks: Vec<Bytes>, gap: Duration) -> Body {
    let stream = futures::stream::unfold(chunks.into_iter(), move |mut it| async move {
        let chunk = it.next()?;
        tokio::time::sleep(gap).await;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), it))
    });
    StreamBody::new(stream).boxed()
}

const GZIP_TEXT: &str =
    "webmon target: this body travelled gzip-encoded and was decoded by the probe.\n";

async fn route(req: Request<Incoming>, timer: PreciseTimer, counters: &Counters) -> Response<Body> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
    let mut response = match (parts[0], parts.len()) {
        ("ok", 1) => full(StatusCode::OK, "ok\n"),
        ("delay", 2) if num(1).is_some() => {
            timer
                .sleep(Duration::from_millis(num(1).unwrap_or(0)))
                .await;
            full(StatusCode::OK, "ok\n")
        }
        ("status", 2) => match num(1)
            .and_then(|c| StatusCode::from_u16(c as u16).ok())
            .filter(|c| c.as_u16() >= 200)
        {
            Some(code) => full(code, format!("status {}\n", code.as_u16())),
            None => full(StatusCode::BAD_REQUEST, "status must be 200-599\n"),
        },
        ("redirect", 2) => match num(1) {
            Some(0) => full(StatusCode::OK, "ok\n"),
            Some(1) => redirect("/ok"),
            Some(n) => redirect(&format!("/redirect/{}", n - 1)),
            None => full(StatusCode::BAD_REQUEST, "hops must be a number\n"),
        },
        ("redirect-loop", 1) => redirect("/redirect-loop"),
        ("redirect-to", 1) => {
            let query = req.uri().query().unwrap_or_default();
            match url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "url") {
                Some((_, target)) => redirect(&target),
                None => full(StatusCode::BAD_REQUEST, "missing ?url=\n"),
            }
        }
        ("hang", 1) => std::future::pending().await,
        ("trickle", 3) if num(1).is_some() && num(2).is_some() => {
            let chunks = vec![Bytes::from_static(b"x"); num(1).unwrap_or(0) as usize];
            let mut response =
                Response::new(streamed(chunks, Duration::from_millis(num(2).unwrap_or(0))));
            response
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, num(1).unwrap_or(0).into());
            response
        }
        ("bytes", 2) if num(1).is_some_and(|n| n <= 256 << 20) => {
            full(StatusCode::OK, vec![b'x'; num(1).unwrap_or(0) as usize])
        }
        ("gzip", 1) => {
            let mut encoded = Vec::new();
            let text = GZIP_TEXT.repeat(20).into_bytes();
            let mut encoder = async_compression::tokio::bufread::GzipEncoder::new(text.as_slice());
            let _ = encoder.read_to_end(&mut encoded).await;
            let mut response = full(StatusCode::OK, encoded);
            response.headers_mut().insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static("gzip"),
            );
            response
        }
        ("chunked", 1) => {
            let chunks = (1..=5)
                .map(|i| Bytes::from(format!("chunk {i} of 5\n")))
                .collect();
            Response::new(streamed(chunks, Duration::from_millis(2)))
        }
        ("json", 1) => {
            let mut response = full(
                StatusCode::OK,
                r#"{"status":"ok","service":"webmon-target","checks":[1,2,3]}"#,
            );
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        ("headers", 1) => {
            let echoed: BTreeMap<&str, &str> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<binary>")))
                .collect();
            let mut response = full(
                StatusCode::OK,
                serde_json::to_vec(&echoed).unwrap_or_default(),
            );
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        ("delays", 2) => {
            let list: Option<Vec<u64>> = parts[1].split(',').map(|d| d.parse().ok()).collect();
            match list.filter(|l| !l.is_empty() && l.iter().all(|&d| d <= 60_000)) {
                Some(list) => {
                    let n = counters.delays.fetch_add(1, Ordering::SeqCst) as usize;
                    timer
                        .sleep(Duration::from_millis(list[n % list.len()]))
                        .await;
                    full(StatusCode::OK, "ok\n")
                }
                None => full(
                    StatusCode::BAD_REQUEST,
                    "delays must be numbers up to 60000\n",
                ),
            }
        }
        ("alternate", 1) => {
            let n = counters.alternate.fetch_add(1, Ordering::SeqCst) + 1;
            let phase = if n % 2 == 1 { "first" } else { "second" };
            let mut response = full(StatusCode::OK, format!(r#"{{"phase":"{phase}"}}"#));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert("x-phase", http::HeaderValue::from_static(phase));
            response
        }
        _ => full(StatusCode::NOT_FOUND, "no such route\n"),
    };
    response
        .headers_mut()
        .insert("x-webmon-target", http::HeaderValue::from_static("1"));
    response
}
