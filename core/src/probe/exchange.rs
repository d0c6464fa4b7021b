//! One HTTP exchange on an open connection: send the request, time the response head,
//! read the body under a cap and the engine's memory budget, and decode gzip.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncReadExt;
use url::Url;

use super::budget::{BodyBudget, Hold, OverBudget};
use super::connect::{Conn, Sender};
use super::secrets::OutHeader;
use super::timed_io::Stamp;
use super::{Failure, Stage};
use crate::result::{excerpt, ErrorClass};

/// Bytes decoded per step of a gzip body.
const GUNZIP_STEP: usize = 64 * 1024;

/// What one exchange returned.
pub(crate) struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// Decoded body.
    pub body: Vec<u8>,
    /// The body's bytes held in the engine's budget, given back when the response goes.
    pub _hold: Hold,
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
    pub headers: &'a [OutHeader],
    pub body: Option<Bytes>,
    pub max_body_bytes: u64,
    pub budget: &'a BodyBudget,
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
    for header in spec.headers {
        builder = builder.header(&header.name, &header.value);
    }
    let request = builder
        .body(Full::new(spec.body.clone().unwrap_or_default()))
        .map_err(|e| {
            SendError::Failed(Failure::new(
                ErrorClass::Other,
                format!(
                    "failed to build the request for {}: {e}",
                    excerpt(url.as_str())
                ),
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
                format!(
                    "failed to get a response from {}: {e}",
                    excerpt(url.as_str())
                ),
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
    let shown = excerpt(url.as_str());
    let too_large = || {
        Failure::new(
            ErrorClass::BodyTooLarge,
            format!("body of {shown} is larger than {cap} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(SendError::Failed(too_large()));
    }
    let over_budget = |_: OverBudget| {
        SendError::Failed(Failure::new(
            ErrorClass::BodyTooLarge,
            format!("body of {shown} does not fit the engine's body memory budget"),
        ))
    };
    let mut hold = spec.budget.hold();
    let mut raw = Vec::new();
    if let Some(len) = declared.filter(|len| *len > 0) {
        *stage = Stage::WaitingForMemory;
        hold.grow_to(len, len).await.map_err(over_budget)?;
        *stage = Stage::ReadingBody;
        raw.reserve_exact(len as usize);
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            SendError::Failed(Failure::new(
                ErrorClass::Other,
                format!("failed to read the body of {shown}: {e}"),
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            let len = raw.len() as u64 + data.len() as u64;
            if len > cap {
                return Err(SendError::Failed(too_large()));
            }
            reserve(&mut raw, &mut hold, len, cap, 0, stage)
                .await
                .map_err(over_budget)?;
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
    // An empty body has nothing to decode: HEAD, 204, 304 and empty redirects often carry
    // `Content-Encoding: gzip` with no bytes at all.
    let body = if gzip && !raw.is_empty() {
        let decoded = gunzip(&raw, cap, &shown, &mut hold, stage)
            .await
            .map_err(SendError::Failed)?;
        drop(raw);
        hold.shrink_to(decoded.capacity() as u64);
        decoded
    } else {
        raw
    };
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        _hold: hold,
        ttfb_ms,
        transfer_ms,
        kernel_timestamps: head.kernel,
    })
}

/// Makes room in `buf` for `len` bytes, holding its capacity in the budget on top of
/// `other` bytes the same hold already covers. The capacity at most doubles and never
/// passes `cap`.
async fn reserve(
    buf: &mut Vec<u8>,
    hold: &mut Hold,
    len: u64,
    cap: u64,
    other: u64,
    stage: &mut Stage,
) -> Result<(), OverBudget> {
    if len <= buf.capacity() as u64 {
        return Ok(());
    }
    let target = len
        .max((buf.capacity() as u64 * 2).min(cap))
        .max((8 * 1024u64).min(cap));
    if other + target > hold.held() {
        let before = *stage;
        *stage = Stage::WaitingForMemory;
        let grown = hold.grow_to(other + target, other + cap).await;
        *stage = before;
        grown?;
    }
    buf.reserve_exact(target as usize - buf.len());
    Ok(())
}

/// Decodes a gzip body step by step, refusing to inflate past `cap` bytes and holding the
/// decoded bytes in the budget, in the same hold as the raw bytes.
async fn gunzip(
    raw: &[u8],
    cap: u64,
    shown: &str,
    hold: &mut Hold,
    stage: &mut Stage,
) -> Result<Vec<u8>, Failure> {
    let raw_held = hold.held();
    let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(raw);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; GUNZIP_STEP];
    loop {
        let n = decoder.read(&mut chunk).await.map_err(|e| {
            Failure::new(
                ErrorClass::Other,
                format!("failed to decode the gzip body of {shown}: {e}"),
            )
        })?;
        if n == 0 {
            return Ok(out);
        }
        let len = out.len() as u64 + n as u64;
        if len > cap {
            return Err(Failure::new(
                ErrorClass::BodyTooLarge,
                format!("decoded body of {shown} is larger than {cap} bytes"),
            ));
        }
        reserve(&mut out, hold, len, cap, raw_held, stage)
            .await
            .map_err(|_| {
                Failure::new(
                    ErrorClass::BodyTooLarge,
                    format!("decoded body of {shown} does not fit the engine's body memory budget"),
                )
            })?;
        out.extend_from_slice(&chunk[..n]);
    }
}
