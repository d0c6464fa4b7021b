//! Socket-level timestamps for ttfb and transfer.
//!
//! hyper writes requests and reads responses in its connection task; the request future
//! only learns about the response when that task hands it over, and the task itself only
//! reads when the runtime gets round to it. Under load (a thousand checks in flight on
//! two cores) both wait for the scheduler, so a clock read at either point counts
//! scheduling as server latency. Instead:
//!
//! - **Request sent**: [`TimedIo`] reads the clock just before the `write` that sends the
//!   first request bytes after [`IoMarks::arm`]. With `TCP_NODELAY` the bytes leave
//!   inside that system call (on loopback they reach the peer's socket before it
//!   returns), so the mark is early by the call's duration, microseconds. Kernel transmit
//!   stamps (`SOF_TIMESTAMPING_TX_SOFTWARE`) would only move it inside the same call, at
//!   the price of draining the socket's error queue, so they are not used.
//! - **Bytes received**: [`TimedIo`] reads with `recvmsg` and takes the kernel's receive
//!   stamp of the data ([`super::kernel_time`]), which says when the packets arrived, not
//!   when the task read them. Where the kernel gives none (not Linux, or no control
//!   message) the read falls back to `Instant::now()` after the read, and the mark says so.
//! - **First response byte**: the receive stamp of the first read after the request was
//!   sent that carried response bytes. On plain HTTP/1.1 that is the first read with any
//!   bytes. Over TLS, records that are not response data can arrive after the request
//!   (TLS 1.3 session tickets, HTTP/2 SETTINGS and WINDOW_UPDATE frames), so [`PlainTap`]
//!   watches the decrypted stream above rustls and picks the TCP read that delivered the
//!   first response bytes (HTTP/1.1) or the first HEADERS frame (HTTP/2).
//!
//! TCP reports the stamp of the *last* packet a read copied from, so when a late read
//! drains several packets at once the mark is that of the latest; for the first read of a
//! response this matters only when the head and further segments were both waiting.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::kernel_time::ClockMap;

/// A point in time and whether it came from a kernel receive stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub at: Instant,
    pub kernel: bool,
}

#[derive(Debug, Default)]
struct State {
    /// Clock just before the first write since `arm`.
    first_write: Option<Instant>,
    /// The latest read that returned bytes.
    last_read: Option<Stamp>,
    /// The read that delivered the first response bytes since the first write.
    response_start: Option<Stamp>,
}

/// Read and write marks shared between the connection task and the exchange.
#[derive(Debug)]
pub(crate) struct IoMarks {
    clock: ClockMap,
    created: Instant,
    /// Kernel receive stamps were switched on for the socket.
    kernel: bool,
    /// Every byte read from TCP is response data (plain HTTP/1.1), so the TCP layer marks
    /// the response start itself; otherwise [`PlainTap`] does.
    tcp_is_plain_h1: bool,
    state: Mutex<State>,
}

impl IoMarks {
    /// Marks for a new connection; `kernel`: receive stamps are enabled on its socket.
    pub(crate) fn new(kernel: bool, tcp_is_plain_h1: bool) -> Arc<Self> {
        Arc::new(Self {
            clock: ClockMap::sample(),
            created: Instant::now(),
            kernel,
            tcp_is_plain_h1,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How far a kernel stamp may sit before the write mark and still be trusted: the
    /// clock mapping's error plus a little slack for the clock reads themselves.
    pub(crate) fn tolerance(&self) -> Duration {
        self.clock.error_bound() + Duration::from_micros(20)
    }

    /// Forgets the previous request's marks; call just before handing a request to hyper.
    pub(crate) fn arm(&self) {
        let mut state = self.state();
        state.first_write = None;
        state.response_start = None;
    }

    /// When the first bytes were written since [`IoMarks::arm`].
    pub(crate) fn first_write(&self) -> Option<Instant> {
        self.state().first_write
    }

    /// When the first response bytes arrived since the first write.
    pub(crate) fn response_start(&self) -> Option<Stamp> {
        self.state().response_start
    }

    /// When bytes last arrived.
    pub(crate) fn last_read(&self) -> Option<Stamp> {
        self.state().last_read
    }

    fn wrote(&self, before: Instant) {
        let mut state = self.state();
        if state.first_write.is_none() {
            state.first_write = Some(before);
        }
    }

    /// Records a read that returned bytes, with the kernel's stamp if it gave one.
    fn read(&self, kernel_ns: Option<i128>) {
        let now = Instant::now();
        let stamp = kernel_ns
            .and_then(|ns| self.clock.to_instant(ns))
            // A stamp from the future or from before the connection existed means the
            // wall clock was stepped: do not trust it.
            .filter(|at| *at <= now && *at + Duration::from_millis(1) >= self.created)
            .map_or(
                Stamp {
                    at: now,
                    kernel: false,
                },
                |at| Stamp { at, kernel: true },
            );
        let mut state = self.state();
        state.last_read = Some(stamp);
        if self.tcp_is_plain_h1 && state.first_write.is_some() && state.response_start.is_none() {
            state.response_start = Some(stamp);
        }
    }

    /// The decrypted stream just yielded response bytes: the latest TCP read brought them.
    fn response_bytes(&self) {
        let mut state = self.state();
        if state.first_write.is_some() && state.response_start.is_none() {
            state.response_start = state.last_read;
        }
    }
}

/// The TCP stream of a probe connection, recording [`IoMarks`] as bytes move.
pub(crate) struct TimedIo {
    inner: TcpStream,
    marks: Arc<IoMarks>,
}

impl TimedIo {
    pub(crate) fn new(inner: TcpStream, marks: Arc<IoMarks>) -> Self {
        Self { inner, marks }
    }

    #[cfg(target_os = "linux")]
    fn poll_read_stamped(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        use std::os::fd::AsRawFd;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let fd = self.inner.as_raw_fd();
        loop {
            ready!(self.inner.poll_read_ready(cx))?;
            // SAFETY: recvmsg only writes initialised bytes into the unfilled part, and
            // exactly `n` of them are marked initialised below.
            let unfilled = unsafe { buf.unfilled_mut() };
            let read = self.inner.try_io(tokio::io::Interest::READABLE, || {
                super::kernel_time::recv(fd, unfilled)
            });
            match read {
                Ok((n, stamp)) => {
                    // SAFETY: the kernel wrote `n` bytes into the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if n > 0 {
                        self.marks.read(stamp);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        #[cfg(target_os = "linux")]
        if self.marks.kernel {
            return self.poll_read_stamped(cx, buf);
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.marks.read(None);
        }
        poll
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let before = Instant::now();
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.marks.wrote(before);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let before = Instant::now();
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.marks.wrote(before);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const H2_FRAME_HEADER: usize = 9;
const H2_HEADERS: u8 = 0x1;

/// Watches the decrypted server-to-client stream of a TLS connection and tells
/// [`IoMarks`] when response bytes first come through: any bytes for HTTP/1.1, the first
/// HEADERS frame for HTTP/2 (the server's stream is a plain sequence of frames, so frame
/// boundaries are followed from the first byte on).
pub(crate) struct PlainTap<S> {
    inner: S,
    marks: Arc<IoMarks>,
    h2: bool,
    header: [u8; H2_FRAME_HEADER],
    header_len: usize,
    payload_left: usize,
}

impl<S> PlainTap<S> {
    pub(crate) fn new(inner: S, marks: Arc<IoMarks>, h2: bool) -> Self {
        Self {
            inner,
            marks,
            h2,
            header: [0; H2_FRAME_HEADER],
            header_len: 0,
            payload_left: 0,
        }
    }

    /// Follows HTTP/2 frames through `bytes`; true when a HEADERS frame header was seen.
    fn saw_h2_headers(&mut self, mut bytes: &[u8]) -> bool {
        let mut seen = false;
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skip = self.payload_left.min(bytes.len());
                self.payload_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let take = (H2_FRAME_HEADER - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
            self.header_len += take;
            bytes = &bytes[take..];
            if self.header_len == H2_FRAME_HEADER {
                let h = self.header;
                self.payload_left =
                    usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                seen |= h[3] == H2_HEADERS;
                self.header_len = 0;
            }
        }
        seen
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PlainTap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            let response = if self.h2 {
                let this = &mut *self;
                this.saw_h2_headers(new)
            } else {
                true
            };
            if response {
                self.marks.response_bytes();
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PlainTap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, len: usize) -> Vec<u8> {
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            0,
            0,
            0,
            0,
            1,
        ];
        f.extend(std::iter::repeat_n(0u8, len));
        f
    }

    #[test]
    fn h2_tap_finds_headers_after_settings_split_anywhere() {
        let mut stream = frame(0x4, 18); // SETTINGS
        stream.extend(frame(0x8, 4)); // WINDOW_UPDATE
        let headers_at = stream.len();
        stream.extend(frame(H2_HEADERS, 30));
        stream.extend(frame(0x0, 100)); // DATA
        for split in 1..stream.len() {
            let mut tap = PlainTap::new((), IoMarks::new(false, false), true);
            let first = tap.saw_h2_headers(&stream[..split]);
            let second = tap.saw_h2_headers(&stream[split..]);
            assert_eq!(
                first,
                split >= headers_at + H2_FRAME_HEADER,
                "split {split}"
            );
            assert_eq!(
                second,
                split < headers_at + H2_FRAME_HEADER,
                "split {split}"
            );
        }
    }

    #[test]
    fn response_start_waits_for_the_write() {
        let marks = IoMarks::new(false, true);
        marks.arm();
        marks.read(None);
        assert!(marks.response_start().is_none());
        marks.wrote(Instant::now());
        marks.read(None);
        let start = marks.response_start().expect("set after the write");
        assert!(!start.kernel);
        marks.read(None);
        assert_eq!(marks.response_start(), Some(start));
    }
}
