//! A sub-millisecond timer for injected delays.
//!
//! Tokio's timer wheel has a 1 ms resolution and rounds deadlines up, which would add up
//! to a millisecond of error to every injected delay and blur the latency benchmarks. One
//! thread per server keeps the pending deadlines in a heap and sleeps on a channel with
//! a timeout (futex precision, tens of microseconds).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Entry {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Handle to the timer thread; the thread exits when every handle is dropped.
#[derive(Clone)]
pub(super) struct PreciseTimer {
    tx: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl PreciseTimer {
    /// Starts the timer thread.
    pub(super) fn spawn() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new()
            .name("webmon-target-timer".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
                let mut seq = 0u64;
                loop {
                    let now = Instant::now();
                    while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
                        let Reverse(entry) = heap.pop().expect("peeked");
                        let _ = entry.wake.send(());
                    }
                    let received = match heap.peek() {
                        Some(Reverse(next)) => {
                            rx.recv_timeout(next.at.saturating_duration_since(now))
                        }
                        None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    };
                    match received {
                        Ok((at, wake)) => {
                            seq += 1;
                            heap.push(Reverse(Entry { at, seq, wake }));
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Sleeps for `delay`, measured from now.
    pub(super) async fn sleep(&self, delay: Duration) {
        let at = Instant::now() + delay;
        let (wake, woken) = oneshot::channel();
        if self.tx.send((at, wake)).is_ok() && woken.await.is_ok() {
            return;
        }
        // The timer thread is gone (it never exits while handles exist): fall back.
        tokio::time::sleep_until(at.into()).await;
    }
}
