//! The local AWS emulator harness: moto's server as a child process, behind a proxy
//! that counts every API call (per region, service and operation) and can inject the
//! faults moto never produces (Timestream record rejections, SQS entry failures, 5xx).
//!
//! Used by the tests and by `webmon bench cost`. Only 127.0.0.1 is ever contacted.

mod proxy;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use webmon_aws::config::AwsTarget;
use webmon_aws::AwsError;

pub use proxy::Fault;

/// Install hint shown when moto's server is missing.
pub const MOTO_HINT: &str = "moto_server not found: pip install 'moto[server]'";

/// Calls counted by the proxy: `(region, service, operation)` -> count.
pub type CallCounts = BTreeMap<(String, String, String), u64>;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) counts: CallCounts,
    pub(crate) faults: Vec<Fault>,
    /// Payload bytes of every SQS message sent, for billing.
    pub(crate) sqs_message_bytes: Vec<usize>,
}

/// A running moto server and its counting proxy. Both stop when this is dropped.
pub struct Emulator {
    child: Child,
    moto: SocketAddr,
    proxy: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _proxy_task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Starts `moto_server` on a free 127.0.0.1 port and the proxy in front of it.
    /// Fails with [`MOTO_HINT`] if the server is not installed.
    pub async fn start() -> Result<Self, AwsError> {
        let port = free_port()?;
        let child = spawn_moto(port).await?;
        let moto: SocketAddr = ([127, 0, 0, 1], port).into();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| AwsError::Setting {
                name: "emulator proxy".into(),
                reason: format!("failed to bind: {e}"),
            })?;
        let proxy = listener.local_addr().expect("bound");
        let task = tokio::spawn(proxy::serve(listener, moto, shared.clone()));
        Ok(Self {
            child,
            moto,
            proxy,
            shared,
            _proxy_task: task,
        })
    }

    /// Kills moto's process and starts a new one on the same port, behind the same
    /// proxy: calls in flight fail, calls meanwhile get 502 from the proxy, and moto's
    /// state (queues, tables, records) starts empty again. Returns once it answers.
    pub async fn restart(&mut self) -> Result<(), AwsError> {
        self.kill_moto();
        self.start_moto().await
    }

    /// Kills moto's process (the proxy stays up and answers 502 until
    /// [`Emulator::start_moto`]).
    pub fn kill_moto(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a new moto on the same port after [`Emulator::kill_moto`], with empty state.
    pub async fn start_moto(&mut self) -> Result<(), AwsError> {
        if matches!(self.child.try_wait(), Ok(None)) {
            return Ok(());
        }
        self.child = spawn_moto(self.moto.port()).await?;
        Ok(())
    }

    /// The endpoint clients should use (the counting proxy).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// Moto's own address, bypassing the proxy.
    pub fn moto_url(&self) -> String {
        format!("http://{}", self.moto)
    }

    /// A client target for one region.
    pub fn target(&self, region: &str) -> AwsTarget {
        AwsTarget::emulator(&self.endpoint_url(), region)
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().expect("not poisoned").faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().expect("not poisoned").faults.clear();
    }

    /// Counts one call that did not go through the proxy (e.g. a Lambda invocation).
    pub fn record(&self, region: &str, service: &str, operation: &str) {
        let mut shared = self.shared.lock().expect("not poisoned");
        *shared
            .counts
            .entry((region.into(), service.into(), operation.into()))
            .or_default() += 1;
    }

    /// A snapshot of the call counts.
    pub fn counts(&self) -> CallCounts {
        self.shared.lock().expect("not poisoned").counts.clone()
    }

    /// Sum of the counts of one service and operation over every region.
    pub fn count(&self, service: &str, operation: &str) -> u64 {
        self.counts()
            .iter()
            .filter(|((_, s, o), _)| s == service && o == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Payload sizes of the SQS messages sent so far.
    pub fn sqs_message_bytes(&self) -> Vec<usize> {
        self.shared
            .lock()
            .expect("not poisoned")
            .sqs_message_bytes
            .clone()
    }

    /// Resets the counts (not moto's state).
    pub fn reset_counts(&self) {
        let mut shared = self.shared.lock().expect("not poisoned");
        shared.counts.clear();
        shared.sqs_message_bytes.clear();
    }

    /// moto's whole state, `/moto-api/data.json` (what a test reads back).
    pub async fn state(&self) -> Result<serde_json::Value, AwsError> {
        let text = proxy::get(self.moto, "/moto-api/data.json")
            .await
            .map_err(|e| AwsError::Setting {
                name: "moto data".into(),
                reason: e,
            })?;
        serde_json::from_str(&text).map_err(|e| AwsError::Codec {
            what: "read moto's data.json".into(),
            reason: e.to_string(),
        })
    }

    /// Every Timestream record in moto, as `(table region, record JSON)`, read from
    /// `/moto-api/data.json`.
    pub async fn timestream_records(&self) -> Result<Vec<(String, serde_json::Value)>, AwsError> {
        let data = self.state().await?;
        let mut out = Vec::new();
        for table in data["timestreamwrite"]["TimestreamTable"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let region = table["region_name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for record in table["records"].as_array().into_iter().flatten() {
                out.push((region.clone(), record.clone()));
            }
        }
        Ok(out)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self._proxy_task.abort();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `moto_server` on `port` of 127.0.0.1 and waits until it answers (30 s at most;
/// a port still held by a dying server is retried meanwhile).
async fn spawn_moto(port: u16) -> Result<Child, AwsError> {
    let spawn = || {
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| AwsError::Setting {
                name: "moto_server".into(),
                reason: if e.kind() == std::io::ErrorKind::NotFound {
                    MOTO_HINT.into()
                } else {
                    format!("failed to start: {e}")
                },
            })
    };
    let mut child = spawn()?;
    let moto: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if proxy::get(moto, "/moto-api/").await.is_ok() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            if Instant::now() > deadline {
                return Err(AwsError::Setting {
                    name: "moto_server".into(),
                    reason: format!("exited at start ({status}); {MOTO_HINT}"),
                });
            }
            // The port may still be held by the process just killed: try again.
            tokio::time::sleep(Duration::from_millis(200)).await;
            child = spawn()?;
            continue;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(AwsError::Setting {
                name: "moto_server".into(),
                reason: "did not answer within 30 s".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> Result<u16, AwsError> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| AwsError::Setting {
        name: "emulator port".into(),
        reason: format!("failed to bind: {e}"),
    })?;
    Ok(socket.local_addr().expect("bound").port())
}
