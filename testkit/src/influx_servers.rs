//! Real InfluxDB-compatible servers for the tests, each a child process on a free
//! 127.0.0.1 port with its data in a temporary directory, stopped (and its data
//! removed) on drop:
//!
//! - [`Influxd`]: InfluxDB 1.x (`influxd`, Debian package `influxdb`), from a generated
//!   configuration: usage reporting, the monitor, subscribers, continuous queries and
//!   every listener but HTTP turned off, HTTP and the backup service on loopback only.
//! - [`VictoriaMetrics`] (`victoria-metrics`): the InfluxDB write APIs (`/write`,
//!   `/api/v2/write`), read back through its own export API (it has no InfluxQL).
//!
//! A missing binary is an error saying how to install it, never a skipped test.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use webmon_aws::https::HttpsClient;

/// How to install the servers (Debian).
pub const INSTALL_HINT: &str = "apt-get install -y influxdb victoria-metrics";

/// Longest wait for a server to answer after its start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process and its data directory.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("failed to find a free port: {e}"))?;
    Ok(socket.local_addr().map_err(|e| e.to_string())?.port())
}

fn client() -> HttpsClient {
    HttpsClient::new(Duration::from_secs(10)).with_max_response_bytes(64 << 20)
}

/// Sends a request to a test server and returns its status and body.
async fn call(method: &str, url: &str, body: &str) -> Result<(u16, String), String> {
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Bytes::from(body.to_string()))
        .map_err(|e| e.to_string())?;
    let answer = client().send(request).await.map_err(|e| e.to_string())?;
    Ok((
        answer.status().as_u16(),
        String::from_utf8_lossy(answer.body()).into_owned(),
    ))
}

/// Starts `program` with `args`, then waits until `GET path` answers with a success.
async fn start(
    program: &str,
    args: &[String],
    port: u16,
    path: &str,
    dir: tempfile::TempDir,
) -> Result<Server, String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("{program} not found: install it with `{INSTALL_HINT}` (as root)")
            } else {
                format!("failed to start {program}: {e}")
            }
        })?;
    let mut server = Server {
        child,
        addr: ([127, 0, 0, 1], port).into(),
        _dir: dir,
    };
    let url = format!("http://{}{path}", server.addr);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok((status, _)) = call("GET", &url, "").await {
            if (200..300).contains(&status) {
                return Ok(server);
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("{program} exited at start ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!("{program} did not answer within {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("failed to create a data directory: {e}"))
}

/// A running InfluxDB 1.x (`influxd`), without authentication.
pub struct Influxd {
    server: Server,
}

impl Influxd {
    /// Starts `influxd` on a free 127.0.0.1 port. Fails with [`INSTALL_HINT`] when the
    /// binary is missing.
    pub async fn start() -> Result<Self, String> {
        let dir = temp_dir("webmon-influxd-")?;
        let (http, rpc) = (free_port()?, free_port()?);
        let root = dir.path().display().to_string();
        let config = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "error"
  suppress-logo = true
"#
        );
        let path = dir.path().join("influxdb.conf");
        std::fs::write(&path, config).map_err(|e| format!("failed to write the config: {e}"))?;
        let args = vec![
            "run".to_string(),
            "-config".to_string(),
            path.display().to_string(),
        ];
        let server = start("influxd", &args, http, "/ping", dir).await?;
        Ok(Self { server })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Runs one InfluxQL statement through `POST /query` and returns the JSON answer.
    pub async fn query(&self, db: &str, q: &str) -> Result<serde_json::Value, String> {
        let body = format!(
            "db={}&epoch=ms&q={}",
            webmon_aws::influx::query_encode(db),
            webmon_aws::influx::query_encode(q)
        );
        let (status, text) = call("POST", &format!("{}/query", self.url()), &body).await?;
        if status != 200 {
            return Err(format!("influxd answered {status} to {q:?}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("influxd answered {text:?}: {e}"))
    }

    /// Creates a database.
    pub async fn create_database(&self, name: &str) -> Result<(), String> {
        let q = format!(
            "CREATE DATABASE {}",
            webmon_aws::influx::influxql::quote_ident(name)
        );
        let answer = self.query("", &q).await?;
        match answer["results"][0]["error"].as_str() {
            Some(e) => Err(format!("CREATE DATABASE {name}: {e}")),
            None => Ok(()),
        }
    }
}

/// A running VictoriaMetrics (single node).
pub struct VictoriaMetrics {
    server: Server,
}

impl VictoriaMetrics {
    /// Starts `victoria-metrics` on a free 127.0.0.1 port, keeping data for 100 years.
    /// Fails with [`INSTALL_HINT`] when the binary is missing.
    pub async fn start() -> Result<Self, String> {
        let dir = temp_dir("webmon-victoria-")?;
        let port = free_port()?;
        let args = vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}", dir.path().display()),
            "-retentionPeriod=100y".to_string(),
            "-loggerLevel=ERROR".to_string(),
        ];
        let server = start("victoria-metrics", &args, port, "/health", dir).await?;
        Ok(Self { server })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Every stored series whose metric name matches the regex `name`, as exported by
    /// `/api/v1/export` (one JSON object per series: `metric`, `values`, `timestamps`),
    /// after flushing what was just written.
    pub async fn export(&self, name: &str) -> Result<Vec<serde_json::Value>, String> {
        let (status, text) =
            call("GET", &format!("{}/internal/force_flush", self.url()), "").await?;
        if status != 200 {
            return Err(format!("force_flush answered {status}: {text}"));
        }
        let selector = format!("{{__name__=~\"{name}\"}}");
        let body = format!("match[]={}", webmon_aws::influx::query_encode(&selector));
        let (status, text) = call("POST", &format!("{}/api/v1/export", self.url()), &body).await?;
        if status != 200 {
            return Err(format!("export answered {status}: {text}"));
        }
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| format!("export line {l:?}: {e}")))
            .collect()
    }
}
