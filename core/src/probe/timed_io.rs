//! Socket-level timestamps for ttfb.
//!
//! hyper writes requests and reads responses in its connection task; the request future
//! only learns about the response when that task hands it over. Under load (a thousand
//! checks in flight on two cores) the hand-over waits for the scheduler, so timing at the
//! request future would count scheduling as server latency. This wrapper around the TCP
//! stream records when bytes actually left (the first write after the request was
//! handed to hyper) and when bytes last arrived, and the exchange times ttfb between the
//! two.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Read and write marks shared between the connection task and the exchange.
#[derive(Debug)]
pub(crate) struct IoMarks {
    base: Instant,
    /// Nanoseconds after `base` (+1, so 0 means "not yet") of the first write since `arm`.
    first_write: AtomicU64,
    /// Nanoseconds after `base` (+1) of the latest read that returned bytes.
    last_read: AtomicU64,
}

impl IoMarks {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            first_write: AtomicU64::new(0),
            last_read: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64 + 1
    }

    fn at(&self, mark: u64) -> Option<Instant> {
        (mark > 0).then(|| self.base + Duration::from_nanos(mark - 1))
    }

    /// Forgets the previous write mark; call just before handing a request to hyper.
    pub(crate) fn arm(&self) {
        self.first_write.store(0, Ordering::Relaxed);
    }

    /// When the first bytes were written since [`IoMarks::arm`].
    pub(crate) fn first_write(&self) -> Option<Instant> {
        self.at(self.first_write.load(Ordering::Relaxed))
    }

    /// When bytes last arrived.
    pub(crate) fn last_read(&self) -> Option<Instant> {
        self.at(self.last_read.load(Ordering::Relaxed))
    }
}

/// A stream that updates [`IoMarks`] as bytes move.
pub(crate) struct TimedIo<S> {
    inner: S,
    marks: Arc<IoMarks>,
}

impl<S> TimedIo<S> {
    pub(crate) fn new(inner: S, marks: Arc<IoMarks>) -> Self {
        Self { inner, marks }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            let now = self.marks.now();
            let _ = self.marks.first_write.compare_exchange(
                0,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.marks
                .last_read
                .store(self.marks.now(), Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.wrote(n);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.wrote(n);
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
