//! One HTTP exchange on an open connection: send the request, time the response head,
//! read the body under a cap and decode gzip.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncReadExt;
use url::Url;

use super::connect::{Conn, Sender};
use super::timed_io::Stamp;
use super::{Failure, Stage};
use crate::result::ErrorClass;

/// What one exchange returned.
pub(crate) struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// Decoded body.
    pub body: Vec<u8>,
    /// First request byte written to first response byte received, in ms.
    pub ttfb_ms: f64,
    /// First response byte to last body byte received, in ms.
    pub transfer_ms: f64,
    /// The first response byte was timed by a kernel receive stamp.
    pub kernel_timestamps: bool,
}

/// The parts of a request that do not change between hops.
pub(crate) struct RequestSpec<'a> {
    pub method: http::Method,
    pub headers: &'a [(http::HeaderName, http::HeaderValue)],
    pub body: Option<Bytes>,
    pub max_body_bytes: u64,
}

/// Whether a send error means the (reused) connection was closed under us, so a fresh
/// connection may succeed.
pub(crate) fn is_stale_connection(e: &hyper::Error) -> bool {
    e.is_canceled() || e.is_closed() || e.is_incomplete_message()
}

/// Errors of [`send`]: either a failure to report or a stale reused connection.
pub(crate) enum SendError {
    Failed(Failure),
    Stale(hyper::Error),
}

/// Sends one request for `url` on `conn` and reads the whole response.
pub(crate) async fn send(
    conn: &mut Conn,
    url: &Url,
    spec: &RequestSpec<'_>,
    stage: &mut Stage,
) -> Result<Response, SendError> {
    let h2 = matches!(conn.sender, Sender::H2(_));
    let target = if h2 {
        url.as_str().to_string()
    } else {
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        path
    };
    let mut builder = http::Request::builder()
        .method(spec.method.clone())
        .uri(target);
    if !h2 {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        builder = builder.header(http::header::HOST, host);
    }
    builder = builder
        .header(
            http::header::USER_AGENT,
            concat!("webmon/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::ACCEPT_ENCODING, "gzip");
    for (name, value) in spec.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(spec.body.clone().unwrap_or_default()))
        .map_err(|e| {
            SendError::Failed(Failure::new(
                ErrorClass::Other,
                format!("failed to build the request for {url}: {e}"),
            ))
        })?;

    *stage = Stage::WaitingForHeaders;
    let sent = Instant::now();
    conn.marks.arm();
    let result = match &mut conn.sender {
        Sender::H1(s) => s.send_request(request).await,
        Sender::H2(s) => s.send_request(request).await,
    };
    let response = match result {
        Ok(r) => r,
        Err(e) if is_stale_connection(&e) => return Err(SendError::Stale(e)),
        Err(e) => {
            return Err(SendError::Failed(Failure::new(
                ErrorClass::Other,
                format!("failed to get a response from {url}: {e}"),
            )))
        }
    };
    let delivered = Instant::now();
    // Socket-level times (see `timed_io`): the clock just before the first request byte
    // was written, to the kernel's receive stamp of the first response bytes. Task-level
    // times where a mark is missing or does not belong to this request.
    let written = conn
        .marks
        .first_write()
        .filter(|w| *w >= sent && *w <= delivered)
        .unwrap_or(sent);
    let tolerance = conn.marks.tolerance();
    let head = conn
        .marks
        .response_start()
        .filter(|s| s.at <= delivered && s.at + tolerance >= written)
        .map_or(
            Stamp {
                at: delivered,
                kernel: false,
            },
            |s| Stamp {
                at: s.at.max(written),
                kernel: s.kernel,
            },
        );
    let ttfb_ms = (head.at - written).as_secs_f64() * 1e3;

    *stage = Stage::ReadingBody;
    let (parts, mut body) = response.into_parts();
    let cap = spec.max_body_bytes;
    let too_large = || {
        Failure::new(
            ErrorClass::BodyTooLarge,
            format!("body of {url} is larger than {cap} bytes"),
        )
    };
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if len > cap {
            return Err(SendError::Failed(too_large()));
        }
    }
    let mut raw = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            SendError::Failed(Failure::new(
                ErrorClass::Other,
                format!("failed to read the body of {url}: {e}"),
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            if raw.len() as u64 + data.len() as u64 > cap {
                return Err(SendError::Failed(too_large()));
            }
            raw.extend_from_slice(&data);
        }
    }
    // The last bytes that arrived before the body ended, on the same clock as the head.
    let body_done = conn
        .marks
        .last_read()
        .filter(|r| r.kernel == head.kernel && r.at >= head.at)
        .map_or(head.at, |r| r.at);
    let transfer_ms = (body_done - head.at).as_secs_f64() * 1e3;

    let gzip = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = if gzip {
        gunzip(&raw, cap, url).await.map_err(SendError::Failed)?
    } else {
        raw
    };
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        ttfb_ms,
        transfer_ms,
        kernel_timestamps: head.kernel,
    })
}

/// Decodes a gzip body, refusing to inflate past `cap` bytes.
async fn gunzip(raw: &[u8], cap: u64, url: &Url) -> Result<Vec<u8>, Failure> {
    let decoder = async_compression::tokio::bufread::GzipDecoder::new(raw);
    let mut out = Vec::new();
    decoder
        .take(cap + 1)
        .read_to_end(&mut out)
        .await
        .map_err(|e| {
            Failure::new(
                ErrorClass::Other,
                format!("failed to decode the gzip body of {url}: {e}"),
            )
        })?;
    if out.len() as u64 > cap {
        return Err(Failure::new(
            ErrorClass::BodyTooLarge,
            format!("decoded body of {url} is larger than {cap} bytes"),
        ));
    }
    Ok(out)
}
