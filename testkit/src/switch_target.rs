//! A probe target on 127.0.0.1 whose answer a test switches between calls: every
//! request gets the current status (and counts).

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use crate::http_recorder::serve_on_thread;

/// The running target; it stops with the process.
#[derive(Clone)]
pub struct SwitchTarget {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    status: Arc<AtomicU16>,
    requests: Arc<AtomicUsize>,
}

impl SwitchTarget {
    /// Starts on a free port, answering 200 until switched.
    pub fn start() -> Self {
        let status = Arc::new(AtomicU16::new(200));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, r) = (status.clone(), requests.clone());
        let addr = serve_on_thread(move |_req| {
            r.fetch_add(1, Ordering::SeqCst);
            let code = StatusCode::from_u16(s.load(Ordering::SeqCst))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = Response::new(Full::new(Bytes::from(format!(
                "status {}\n",
                code.as_u16()
            ))));
            *response.status_mut() = code;
            async move { response }
        });
        Self {
            addr,
            status,
            requests,
        }
    }

    /// `http://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answers `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
