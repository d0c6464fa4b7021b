//! Shared by the dashboard tests: a seeded SQLite store, a running dashboard on
//! `127.0.0.1:0`, and a minimal HTTP/1.1 client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use webmon_core::alert::{evaluate, load_alerting, AlertState};
use webmon_core::check::parse_checks_document;
use webmon_core::ports::{Clock, ResultStore};
use webmon_core::result::{
    ErrorClass, LatencyStats, Phases, ProbeHealth, ProbeResult, RESULT_VERSION,
};
use webmon_dashboard::{ConfiguredCheck, PublicChecks, ServeOptions};
use webmon_local::store::{AlertCommit, SqliteStore};

/// Regions, sorted.
pub const REGIONS: [&str; 3] = ["ap-southeast-2", "eu-west-1", "us-east-1"];
/// Base latency per region, ms.
pub const BASE_MS: [f64; 3] = [180.0, 40.0, 90.0];
/// Executions per check and region, 30 s apart.
pub const EXECUTIONS: i64 = 60;
/// Interval between executions, ms.
pub const INTERVAL_MS: i64 = 30_000;
/// A failure message that would inject markup if rendered as HTML.
pub const HOSTILE_MESSAGE: &str = "<img src=x onerror=alert(1)> connection timed out";

/// A fixed clock: the dashboard's `since` windows end here.
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn result(check: &str, region_index: usize, i: i64, now_ms: i64) -> ProbeResult {
    result_at(
        check,
        region_index,
        now_ms - (EXECUTIONS - i) * INTERVAL_MS,
        i,
    )
}

/// A passing result of `check` in `REGIONS[region_index]` scheduled at `at`, its latency
/// `BASE_MS[region_index] + i % 10`.
pub fn result_at(check: &str, region_index: usize, at: i64, i: i64) -> ProbeResult {
    // Latency cycles through base + 0..9 ms, so percentiles are exact.
    let latency = BASE_MS[region_index] + (i % 10) as f64;
    let dns = 1.0 + region_index as f64;
    ProbeResult {
        version: RESULT_VERSION,
        region: REGIONS[region_index].to_string(),
        check_id: check.to_string(),
        url: format!("https://{check}.example.test/health"),
        scheduled_at_ms: at,
        started_at_ms: at + 3,
        available: true,
        status_code: Some(200),
        error_class: None,
        error_message: None,
        requests: 5,
        latency: LatencyStats {
            avg_ms: latency,
            min_ms: latency - 1.0,
            max_ms: latency + 5.0,
            p50_ms: latency,
        },
        cold: Phases {
            dns_ms: dns,
            connect_ms: latency / 4.0,
            tls_ms: latency / 4.0,
            ttfb_ms: latency / 3.0,
            transfer_ms: 2.0,
        },
        warm_ttfb_ms: Some(latency / 5.0),
        bytes: 512,
        remote_ip: Some("192.0.2.10".into()),
        http_version: Some("HTTP/2".into()),
        tls_cert_days_left: Some(60),
        redirects: 0,
        attempts: 1,
        tags: Default::default(),
        probe: ProbeHealth::default(),
    }
}

/// Results for checks `api` (always up) and `web` (failures in two regions) in three
/// regions, every 30 s over the 30 minutes before `now_ms`.
///
/// `web`: in ap-southeast-2 every 10th execution times out (no answer); in us-east-1 the
/// last execution answers 503.
pub fn seed_results(now_ms: i64) -> Vec<ProbeResult> {
    let mut all = Vec::new();
    for check in ["api", "web"] {
        for (r, region) in REGIONS.iter().enumerate() {
            for i in 0..EXECUTIONS {
                let mut res = result(check, r, i, now_ms);
                if check == "web" && *region == "ap-southeast-2" && i % 10 == 5 {
                    res.available = false;
                    res.status_code = None;
                    res.error_class = Some(ErrorClass::Timeout);
                    res.error_message = Some(HOSTILE_MESSAGE.to_string());
                    res.warm_ttfb_ms = None;
                }
                if check == "web" && *region == "us-east-1" && i == EXECUTIONS - 1 {
                    res.available = false;
                    res.status_code = Some(503);
                    res.error_class = Some(ErrorClass::HttpStatus);
                    res.error_message =
                        Some("status 503 is not accepted (expected 200-299)".into());
                }
                all.push(res);
            }
        }
    }
    all
}

/// The alerting configuration of the seeded checks.
const ALERTING: &str = "
alert_defaults:
  failure_threshold: 1
  success_threshold: 1
  settle: 0s
  group: {threshold: 0}
checks:
  - {id: api, url: 'https://api.example.test/health', interval: 30s}
  - {id: web, url: 'https://web.example.test/health', interval: 30s}
";

/// Runs `results` through the evaluator round by round, as `webmon run` does after each
/// stored batch, committing each evaluation; the last one runs at `now_ms`.
async fn evaluate_and_commit(store: &SqliteStore, results: &[ProbeResult], now_ms: i64) {
    let regions: Vec<String> = REGIONS.iter().map(|r| r.to_string()).collect();
    let checks = parse_checks_document(ALERTING).checks;
    let outcome = load_alerting(ALERTING, &checks, &regions);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let mut rounds: std::collections::BTreeMap<i64, Vec<ProbeResult>> = Default::default();
    for r in results {
        rounds.entry(r.scheduled_at_ms).or_default().push(r.clone());
    }
    let mut state = AlertState::default();
    let last = *rounds.keys().last().unwrap();
    for (at, round) in rounds {
        let eval_at = if at == last { now_ms } else { at + 1 };
        let (next, intents) = evaluate(&state, &round, eval_at, &outcome.config, &[]);
        let commit = AlertCommit::new(&state, &next, &intents, 0, eval_at).unwrap();
        store.commit_alerting(commit).await.unwrap();
        state = next;
    }
}

/// What a test dashboard has beyond the seeded results.
#[derive(Default)]
pub struct Setup {
    /// Results stored besides [`seed_results`].
    pub extra: Vec<ProbeResult>,
    /// The configured checks (none: no catalog).
    pub catalog: Option<Vec<ConfiguredCheck>>,
    /// The checks of the status page.
    pub public: PublicChecks,
    /// Serve only the status page.
    pub status_only: bool,
    /// Evaluate the seeded results and serve the alert state (see
    /// [`Running::start_with_alerts`]).
    pub alerting: bool,
}

/// A running dashboard over a seeded store.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store's clock: windows end here.
    pub now_ms: i64,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Starts a dashboard over a fresh store seeded with [`seed_results`], with the
    /// clock at `now_ms`.
    pub async fn start(now_ms: i64) -> Self {
        Self::serve(now_ms, false).await
    }

    /// [`Running::start`], and the seeded results evaluated by the real alert
    /// evaluator (failure and success thresholds of 1, majority quorum) and committed to
    /// the store, which the dashboard reads as its alert state.
    pub async fn start_with_alerts(now_ms: i64) -> Self {
        Self::serve(now_ms, true).await
    }

    async fn serve(now_ms: i64, alerting: bool) -> Self {
        Self::start_with(
            now_ms,
            Setup {
                alerting,
                ..Default::default()
            },
        )
        .await
    }

    /// A dashboard over a fresh store seeded with [`seed_results`] and `setup.extra`,
    /// served with `setup`'s options, the clock at `now_ms`.
    pub async fn start_with(now_ms: i64, setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("webmon.db")).unwrap();
        let results = seed_results(now_ms);
        store.write(&results).await.unwrap();
        if !setup.extra.is_empty() {
            store.write(&setup.extra).await.unwrap();
        }
        let mut options = ServeOptions {
            clock: Arc::new(FixedClock(now_ms)),
            catalog: setup
                .catalog
                .map(|c| Arc::new(c) as Arc<dyn webmon_dashboard::CheckCatalog>),
            public: setup.public,
            status_only: setup.status_only,
            ..Default::default()
        };
        if setup.alerting {
            evaluate_and_commit(&store, &results, now_ms).await;
            options.alerts = Some(Arc::new(store.clone()));
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(webmon_dashboard::serve_with(
            listener,
            Arc::new(store),
            options,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            now_ms,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:port` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks the server to stop and waits for it (bounded).
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

/// A response: status, headers (lower-case names) and body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// A header value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request and reads the whole response (the server closes the connection).
pub async fn request(addr: SocketAddr, method: &str, path: &str, host: &str) -> Reply {
    request_with(addr, method, path, host, &[]).await
}

/// [`request`] with extra request headers.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let fut = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let extra: String = extra.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let head =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("response within 10 s")
}

/// `GET path` with the usual loopback Host header.
pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &addr.to_string()).await
}
