//! Small local servers for the probe tests: plain or TLS HTTP/1.1 on 127.0.0.1 with a
//! handler per test that records every request it sees. Nothing here leaves the machine.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use webmon_core::check::{Check, RawCheck};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;

/// A response body.
pub type Body = BoxBody<Bytes, Infallible>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: http::Method,
    /// Path and query.
    pub path: String,
    /// Request headers.
    pub headers: http::HeaderMap,
}

type Handler = dyn Fn(&Seen) -> http::Response<Body> + Send + Sync;

/// A server on 127.0.0.1 that answers with a handler and records requests.
pub struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// A plain HTTP server.
    pub async fn start(
        handler: impl Fn(&Seen) -> http::Response<Body> + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(handler, None).await
    }

    /// An HTTPS server with `chain_pem` and `key_pem`.
    pub async fn start_tls(
        chain_pem: &str,
        key_pem: &str,
        handler: impl Fn(&Seen) -> http::Response<Body> + Send + Sync + 'static,
    ) -> Self {
        let certs = rustls_pemfile(chain_pem);
        let key = rustls::pki_types::PrivateKeyDer::try_from(pem_der(key_pem)).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self::spawn(handler, Some(Arc::new(config))).await
    }

    async fn spawn(
        handler: impl Fn(&Seen) -> http::Response<Body> + Send + Sync + 'static,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let seen = seen.clone();
                    let handler = handler.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |req: http::Request<hyper::body::Incoming>| {
                                let s = Seen {
                                    method: req.method().clone(),
                                    path: req
                                        .uri()
                                        .path_and_query()
                                        .map(|p| p.to_string())
                                        .unwrap_or_default(),
                                    headers: req.headers().clone(),
                                };
                                seen.lock().unwrap().push(s.clone());
                                let response = handler(&s);
                                async move { Ok::<_, Infallible>(response) }
                            });
                        let builder = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(config) => {
                                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    let _ = builder
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                }
                            }
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                            }
                        }
                    });
                }
            })
        };
        Self {
            addr,
            scheme,
            seen,
            task,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `scheme://127.0.0.1:port` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    use base64_lite::decode;
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            current = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(b64) = current.take() {
                out.push(decode(&b64));
            }
        } else if let Some(b64) = current.as_mut() {
            b64.push_str(line.trim());
        }
    }
    out
}

fn rustls_pemfile(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    pem_blocks(pem)
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect()
}

fn pem_der(pem: &str) -> Vec<u8> {
    pem_blocks(pem).remove(0)
}

/// A tiny base64 decoder for PEM blocks (standard alphabet, padding ignored).
mod base64_lite {
    pub fn decode(text: &str) -> Vec<u8> {
        let value = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            })
        };
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0u32);
        for v in text.bytes().filter_map(value) {
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }
}

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body made of `head`, then `chunk` `count` times, then `tail`, streamed (never held
/// whole by the server).
pub fn streamed(head: &'static [u8], chunk: Bytes, count: usize, tail: &'static [u8]) -> Body {
    let frames = std::iter::once(Bytes::from_static(head))
        .chain(std::iter::repeat_n(chunk, count))
        .chain(std::iter::once(Bytes::from_static(tail)))
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    StreamBody::new(futures::stream::iter(frames)).boxed()
}

/// A response with `status`, `headers` and `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: Body) -> http::Response<Body> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap()
}

/// A raw check for `url`: one request, a 3 s timeout, private targets asked for.
pub fn raw(url: &str, edit: impl FnOnce(&mut RawCheck)) -> RawCheck {
    let mut raw = RawCheck {
        id: "sec-test".into(),
        url: url.into(),
        requests: Some(1),
        timeout: Some("3s".into()),
        allow_private: Some(true),
        ..Default::default()
    };
    edit(&mut raw);
    raw
}

/// A validated check (see [`raw`]).
pub fn check(url: &str, edit: impl FnOnce(&mut RawCheck)) -> Check {
    raw(url, edit).validate().expect("test check is valid")
}

/// A prober whose deployment allows private targets, adjusted by `edit`.
pub fn prober(edit: impl FnOnce(&mut ProbeOptions)) -> Prober {
    let mut options = ProbeOptions {
        region: "test".into(),
        allow_private: true,
        ..Default::default()
    };
    edit(&mut options);
    Prober::new(options)
}

/// Probes `check` now.
pub async fn probe(prober: &Prober, check: &Check) -> ProbeResult {
    prober
        .probe(check, chrono::Utc::now().timestamp_millis())
        .await
}

/// The result's error class, as text.
pub fn class(result: &ProbeResult) -> Option<&'static str> {
    result.error_class.map(|c| c.as_str())
}

/// Asserts the result is available, printing it otherwise.
pub fn assert_available(result: &ProbeResult) {
    assert!(
        result.available && result.error_class.is_none(),
        "unexpected failure: {result:#?}"
    );
}

/// A CA-signed certificate for `names` valid for a year: (CA DER, chain PEM, key PEM).
pub fn pki(names: &[&str]) -> (Vec<u8>, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    leaf.not_before = rcgen::date_time_ymd(1970, 1, 1) + (now - Duration::from_secs(86_400));
    leaf.not_after = rcgen::date_time_ymd(1970, 1, 1) + (now + Duration::from_secs(365 * 86_400));
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (
        ca_cert.der().to_vec(),
        leaf_cert.pem(),
        leaf_key.serialize_pem(),
    )
}
