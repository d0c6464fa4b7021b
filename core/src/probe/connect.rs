//! Opening a connection: resolve, guard every address, TCP connect, TLS handshake and the
//! HTTP/1.1 or HTTP/2 client handshake, timing each phase.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Url};

use super::timed_io::{IoMarks, PlainTap, TimedIo};
use super::{tls, Failure, Inner, Stage};
use crate::result::{excerpt, ErrorClass};

/// A request sender on an open connection.
pub(crate) enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// An open connection and what opening it measured.
pub(crate) struct Conn {
    pub sender: Sender,
    /// `scheme://host:port` this connection serves.
    pub origin: String,
    pub remote_ip: IpAddr,
    pub http_version: &'static str,
    pub cert_days_left: Option<i64>,
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    /// Socket-level read and write times, for ttfb.
    pub marks: Arc<IoMarks>,
    /// The task driving the connection; aborted when the connection is dropped so a
    /// hung server never keeps a task alive.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Conn {
    /// Whether the server has closed the connection.
    pub fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

/// `scheme://host:port` of a URL.
pub(crate) fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Opens a connection to `url`'s origin. `stage` is updated as phases complete so a
/// timeout can say where it happened.
pub(crate) async fn open(
    inner: &Inner,
    url: &Url,
    allow_private: bool,
    stage: &mut Stage,
) -> Result<Conn, Failure> {
    let host = url
        .host()
        .ok_or_else(|| Failure::new(ErrorClass::Other, format!("URL {url} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host_text = url.host_str().unwrap_or_default().to_string();

    *stage = Stage::Resolving;
    let t = Instant::now();
    let addrs: Vec<SocketAddr> = match &host {
        Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
        Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
        Host::Domain(name) => {
            let bound = inner.dns_lookup_bound();
            match tokio::time::timeout(bound, inner.dns.lookup(name)).await {
                Ok(Ok(found)) => found
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect(),
                Ok(Err(e)) => {
                    return Err(Failure::new(
                        ErrorClass::Dns,
                        format!("failed to resolve {}: {}", excerpt(name), excerpt(&e)),
                    ))
                }
                Err(_) => {
                    return Err(Failure::new(
                        ErrorClass::Dns,
                        format!(
                            "failed to resolve {}: no answer within {} ms",
                            excerpt(name),
                            bound.as_millis()
                        ),
                    ))
                }
            }
        }
    };
    let dns_ms = if matches!(host, Host::Domain(_)) {
        ms_since(t)
    } else {
        0.0
    };
    if addrs.is_empty() {
        return Err(Failure::new(
            ErrorClass::Dns,
            format!("failed to resolve {}: no addresses", excerpt(&host_text)),
        ));
    }

    let mut refusal = None;
    let mut allowed = Vec::with_capacity(addrs.len());
    for addr in &addrs {
        match inner.permits(*addr, allow_private) {
            Ok(()) => allowed.push(*addr),
            Err(why) => {
                refusal.get_or_insert(why);
            }
        }
    }
    if allowed.is_empty() {
        let why = refusal.unwrap_or_else(|| "non-public address".into());
        return Err(Failure::new(
            ErrorClass::Blocked,
            format!("refused to connect to {}: {why}", excerpt(&host_text)),
        ));
    }

    *stage = Stage::Connecting;
    let t = Instant::now();
    let mut last_err = None;
    let mut stream = None;
    for addr in &allowed {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some((s, addr.ip()));
                break;
            }
            Err(e) => last_err = Some((addr.ip(), e)),
        }
    }
    let (tcp, remote_ip) = match stream {
        Some(s) => s,
        None => {
            let (ip, e) = last_err.expect("at least one address was tried");
            return Err(Failure::new(
                ErrorClass::Connect,
                format!(
                    "failed to connect to {} ({ip}:{port}): {e}",
                    excerpt(&host_text)
                ),
            ));
        }
    };
    let connect_ms = ms_since(t);
    // Small requests and responses: do not let Nagle delay them and skew ttfb.
    let _ = tcp.set_nodelay(true);
    let plain = url.scheme() != "https";
    let marks = IoMarks::new(kernel_timestamps(&tcp), plain);
    let tcp = TimedIo::new(tcp, marks.clone());

    let origin = origin(url);
    if plain {
        let (sender, task) = handshake(tcp, false).await?;
        return Ok(Conn {
            sender,
            origin,
            remote_ip,
            http_version: "HTTP/1.1",
            cert_days_left: None,
            dns_ms,
            connect_ms,
            tls_ms: 0.0,
            marks,
            task,
        });
    }

    *stage = Stage::Tls;
    let t = Instant::now();
    let server_name = match host {
        Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(IpAddr::V4(ip).into()),
        Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(IpAddr::V6(ip).into()),
        Host::Domain(name) => {
            rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| {
                Failure::new(
                    ErrorClass::Tls,
                    format!("failed to use {name} as a TLS server name: {e}"),
                )
            })?
        }
    };
    let connector = tokio_rustls::TlsConnector::from(inner.tls.clone());
    let tls_stream = connector.connect(server_name, tcp).await.map_err(|e| {
        Failure::new(
            ErrorClass::Tls,
            super::tls::handshake_message(&host_text, &remote_ip.to_string(), &e.to_string()),
        )
    })?;
    let tls_ms = ms_since(t);
    let session = tls_stream.get_ref().1;
    let h2 = session.alpn_protocol() == Some(b"h2");
    let now = chrono::Utc::now().timestamp();
    let cert_days_left = session
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| tls::days_left(c, now));
    // Over TLS the response start is found in the decrypted stream (see `timed_io`).
    let tapped = PlainTap::new(tls_stream, marks.clone(), h2);
    let (sender, task) = handshake(tapped, h2).await?;
    Ok(Conn {
        sender,
        origin,
        remote_ip,
        http_version: if h2 { "HTTP/2" } else { "HTTP/1.1" },
        cert_days_left,
        dns_ms,
        connect_ms,
        tls_ms,
        marks,
        task,
    })
}

/// Switches on kernel receive timestamps for the socket; false where unavailable.
fn kernel_timestamps(tcp: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        super::kernel_time::enable(tcp.as_raw_fd())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tcp;
        false
    }
}

async fn handshake<S>(io: S, h2: bool) -> Result<(Sender, tokio::task::JoinHandle<()>), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let failed =
        |e: hyper::Error| Failure::new(ErrorClass::Other, format!("failed HTTP handshake: {e}"));
    if h2 {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(failed)?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((Sender::H2(sender), task))
    } else {
        let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((Sender::H1(sender), task))
    }
}
