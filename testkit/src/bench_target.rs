//! The benchmark's delay server: a minimal HTTP/1.1 server built to answer exactly
//! `delay` after each request arrived, so that what the benchmark reports is the client's
//! error and not the server's.
//!
//! The demo target (`webmon_demo_target`) times delays on a thread but writes responses
//! from Tokio tasks; with a thousand requests in flight on two cores the write waits for a
//! worker, and the wait is charged to the client being measured. Here:
//!
//! - the delay starts at the request's arrival as stamped by the kernel
//!   (`SO_TIMESTAMPING`, [`webmon_core::probe::kernel_time`]), not when a task read it;
//! - one timer thread keeps the pending deadlines and writes each response itself, with a
//!   non-blocking `send` on the connection's socket, at its deadline. It asks for
//!   real-time scheduling (`SCHED_FIFO`) and a 1 ns timer slack so that a machine busy
//!   with the clients does not delay it; where that is refused (no `CAP_SYS_NICE`) the
//!   threads run at normal priority and the benchmark says so;
//! - Tokio tasks, on a single-threaded runtime of their own in a second real-time thread
//!   (below the timer's priority), only accept connections and read requests, so a
//!   machine busy with other work does not hold requests unread past their deadline.
//!
//! Routes: `/delay/{ms}` and anything else (answered at once). Responses are
//! `200 ok`, kept alive. The server counts the requests waiting for their deadline and
//! reports the peak, which is how many checks really were in flight at the same time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use webmon_core::probe::kernel_time::{self, ClockMap};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n";

/// A response due at `at` on socket `fd`; `done` gets how many bytes were written.
struct Due {
    at: Instant,
    seq: u64,
    fd: RawFd,
    done: oneshot::Sender<usize>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Requests waiting for their deadline: now and at the peak since the last reset.
#[derive(Default)]
pub struct Pending {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Pending {
    fn add(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn remove(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }

    /// The peak since the last call, then starts counting afresh.
    pub fn take_peak(&self) -> usize {
        self.peak
            .swap(self.now.load(Ordering::Relaxed), Ordering::Relaxed)
    }
}

/// Starts the server on 127.0.0.1; returns its address, the pending counter and whether
/// both of its threads got real-time scheduling.
pub fn start() -> io::Result<(SocketAddr, Arc<Pending>, bool)> {
    let pending = Arc::new(Pending::default());
    let (timer_tx, timer_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let timer_pending = pending.clone();
    std::thread::Builder::new()
        .name("bench-target-timer".into())
        .spawn(move || {
            let _ = ready_tx.send(prioritise_this_thread(TIMER_PRIORITY));
            timer_loop(timer_rx, &timer_pending);
        })?;
    let timer_realtime = ready_rx.recv().unwrap_or(false);

    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let io_pending = pending.clone();
    std::thread::Builder::new()
        .name("bench-target-io".into())
        .spawn(move || {
            let realtime = prioritise_this_thread(IO_PRIORITY);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                match listen() {
                    Ok(listener) => {
                        let addr = listener.local_addr();
                        let _ = ready_tx.send(addr.map(|a| (a, realtime)));
                        accept_loop(listener, timer_tx, io_pending).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
    let (addr, io_realtime) = ready_rx.recv().map_err(io::Error::other)??;
    Ok((addr, pending, timer_realtime && io_realtime))
}

/// Real-time priorities: the timer thread above the thread that accepts and reads.
const TIMER_PRIORITY: i32 = 20;
const IO_PRIORITY: i32 = 10;

fn listen() -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind("127.0.0.1:0".parse().expect("valid address"))?;
    // Enabling stamps on the listener switches the kernel's stamping on before the first
    // request arrives; accepted sockets are enabled again below to be sure.
    #[cfg(target_os = "linux")]
    kernel_time::enable(socket.as_raw_fd());
    // A deep backlog: a thousand connections arrive at once.
    socket.listen(4096)
}

/// `SCHED_FIFO` at `priority` and a 1 ns timer slack for the calling thread; true when
/// real-time.
fn prioritise_this_thread(priority: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread with values we own.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
            let param = libc::sched_param {
                sched_priority: priority,
            };
            libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = priority;
        false
    }
}

fn timer_loop(rx: mpsc::Receiver<Due>, pending: &Pending) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Reverse(due) = heap.pop().expect("peeked");
            // SAFETY: the connection's task keeps the socket open until `done` answers.
            let sent = unsafe {
                libc::send(
                    due.fd,
                    RESPONSE.as_ptr().cast(),
                    RESPONSE.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            pending.remove();
            let _ = due.done.send(sent.max(0) as usize);
        }
        let received = match heap.peek() {
            Some(Reverse(next)) => rx.recv_timeout(next.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(due) => heap.push(Reverse(due)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

async fn accept_loop(listener: TcpListener, timer: mpsc::Sender<Due>, pending: Arc<Pending>) {
    let mut seq = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        seq += 1;
        tokio::spawn(serve(stream, timer.clone(), pending.clone(), seq << 32));
    }
}

/// Reads requests on one connection and hands each to the timer thread.
async fn serve(stream: TcpStream, timer: mpsc::Sender<Due>, pending: Arc<Pending>, mut seq: u64) {
    #[cfg(target_os = "linux")]
    let kernel = kernel_time::enable(stream.as_raw_fd());
    #[cfg(not(target_os = "linux"))]
    let kernel = false;
    let clock = ClockMap::sample();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let Some(arrived) = read_request(&stream, &mut buf, kernel, &clock).await else {
            return;
        };
        let head_end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(buf.len(), |p| p + 4);
        let delay_ms = parse_delay(&buf[..head_end]);
        buf.drain(..head_end);
        let (done, written) = oneshot::channel();
        seq += 1;
        pending.add();
        let due = Due {
            at: arrived + Duration::from_millis(delay_ms),
            seq,
            fd: stream.as_raw_fd(),
            done,
        };
        if timer.send(due).is_err() {
            return;
        }
        let Ok(sent) = written.await else { return };
        if sent < RESPONSE.len() && write_rest(&stream, &RESPONSE[sent..]).await.is_err() {
            return;
        }
    }
}

/// Reads until `buf` holds a whole request head; returns when its last bytes arrived
/// (kernel stamp where available), or `None` at end of stream.
async fn read_request(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    kernel: bool,
    clock: &ClockMap,
) -> Option<Instant> {
    let mut arrived = Instant::now();
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        stream.readable().await.ok()?;
        let mut chunk = [0u8; 2048];
        let read = stream.try_io(tokio::io::Interest::READABLE, || {
            recv(stream.as_raw_fd(), &mut chunk, kernel)
        });
        match read {
            Ok((0, _)) => return None,
            Ok((n, stamp)) => {
                buf.extend_from_slice(&chunk[..n]);
                arrived = stamp
                    .and_then(|ns| clock.to_instant(ns))
                    .unwrap_or_else(Instant::now);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
    Some(arrived)
}

#[cfg(target_os = "linux")]
fn recv(fd: RawFd, chunk: &mut [u8], kernel: bool) -> io::Result<(usize, Option<i128>)> {
    if kernel {
        // SAFETY: an initialised byte slice viewed as possibly-uninitialised bytes.
        let uninit = unsafe { &mut *(chunk as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
        return kernel_time::recv(fd, uninit);
    }
    // SAFETY: reads at most chunk.len() bytes into chunk.
    let n = unsafe {
        libc::recv(
            fd,
            chunk.as_mut_ptr().cast(),
            chunk.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, None))
}

#[cfg(not(target_os = "linux"))]
fn recv(fd: RawFd, chunk: &mut [u8], _kernel: bool) -> io::Result<(usize, Option<i128>)> {
    // SAFETY: reads at most chunk.len() bytes into chunk.
    let n = unsafe {
        libc::recv(
            fd,
            chunk.as_mut_ptr().cast(),
            chunk.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, None))
}

async fn write_rest(stream: &TcpStream, mut rest: &[u8]) -> io::Result<()> {
    while !rest.is_empty() {
        stream.writable().await?;
        match stream.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The delay of `GET /delay/{ms} ...`; 0 for any other request.
fn parse_delay(head: &[u8]) -> u64 {
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let path = line.split(|b| *b == b' ').nth(1).unwrap_or_default();
    std::str::from_utf8(path)
        .ok()
        .and_then(|p| p.strip_prefix("/delay/"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::parse_delay;

    #[test]
    fn delay_from_the_request_line() {
        assert_eq!(
            parse_delay(b"GET /delay/20 HTTP/1.1\r\nhost: x\r\n\r\n"),
            20
        );
        assert_eq!(parse_delay(b"GET /ok HTTP/1.1\r\n\r\n"), 0);
        assert_eq!(parse_delay(b"GET /delay/x HTTP/1.1\r\n\r\n"), 0);
    }
}
