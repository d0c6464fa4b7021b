//! A name server that never answers fails its own probe with `dns` within the timeout and
//! stalls nothing else. The name server is a UDP socket on 127.0.0.1 that reads and drops.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tokio::sync::mpsc;
use webmon_core::ports::SystemClock;
use webmon_core::probe::run_scheduled;

/// A UDP socket on 127.0.0.1 that swallows every query; stops when dropped.
struct BlackHole {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn black_hole() -> BlackHole {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while socket.recv_from(&mut buf).await.is_ok() {}
    });
    BlackHole { addr, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_name_server_fails_its_probe_and_stalls_no_other() {
    let hole = black_hole().await;
    let server = Server::start(|_| respond(200, &[], full("ok"))).await;
    let prober = prober(|o| {
        o.name_servers = vec![hole.addr];
        o.dns_query_timeout = Some(Duration::from_secs(1));
    });
    let timeout = Duration::from_secs(3);
    let named = check("http://unanswered.webmon.test/", |c| {
        c.id = "named".into();
        c.timeout = Some("3s".into());
    });
    let literal = check(&server.url("/"), |c| c.id = "literal".into());

    // Many lookups at once may not hold up the probe of an address.
    let mut jobs: Vec<_> = (0..16).map(|_| (named.clone(), 0)).collect();
    jobs.push((literal.clone(), 0));
    let (tx, mut rx) = mpsc::channel(64);
    let started = Instant::now();
    let batch = tokio::spawn({
        let prober = prober.clone();
        async move { run_scheduled(&prober, jobs, 64, &SystemClock, tx).await }
    });
    let mut literal_at = None;
    let mut named_results = Vec::new();
    while let Some(r) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("every probe ends within its timeout")
    {
        if r.check_id == "literal" {
            assert_available(&r);
            literal_at = Some(started.elapsed());
        } else {
            named_results.push((r, started.elapsed()));
        }
    }
    batch.await.unwrap();

    let literal_at = literal_at.expect("the literal probe ran");
    assert!(
        literal_at < Duration::from_millis(500),
        "the probe of 127.0.0.1 took {literal_at:?}"
    );
    assert_eq!(named_results.len(), 16);
    for (r, at) in named_results {
        assert_eq!(class(&r), Some("dns"), "{r:#?}");
        assert!(at < timeout, "dns failure after {at:?}");
        assert!(r.error_message.unwrap().contains("unanswered.webmon.test"));
    }
}

#[tokio::test]
async fn localhost_still_resolves() {
    let server = Server::start(|_| respond(200, &[], full("ok"))).await;
    let url = format!("http://localhost:{}/", server.addr().port());
    let r = probe(&prober(|_| {}), &check(&url, |_| {})).await;
    assert_available(&r);
    assert!(r
        .remote_ip
        .as_deref()
        .is_some_and(|ip| ip == "127.0.0.1" || ip == "::1"));
}
