//! The peer: Prometheus's blackbox_exporter (Debian's `prometheus-blackbox-exporter`),
//! started on 127.0.0.1 with one `http` module, asked to probe the same target through
//! its `/probe` endpoint. Its time to first byte is its `processing` phase
//! (`probe_http_duration_seconds{phase="processing"}`: from the request written to the
//! first response byte), its CPU is read from `/proc/PID/stat`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Row;

/// The executable Debian installs.
const BINARY: &str = "prometheus-blackbox-exporter";

const CONFIG: &str = "modules:
  http_2xx:
    prober: http
    timeout: 30s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
";

/// A running exporter; stopped when dropped.
pub(super) struct Blackbox {
    child: Child,
    addr: String,
    config: std::path::PathBuf,
}

impl Drop for Blackbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

/// One probe's phases as the exporter reports them, in ms.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Phases {
    pub(super) connect_ms: f64,
    pub(super) processing_ms: f64,
    pub(super) transfer_ms: f64,
}

impl Blackbox {
    /// Starts the exporter, or says why it cannot (`None` when it is not installed).
    pub(super) fn start() -> anyhow::Result<Option<Self>> {
        if Command::new(BINARY).arg("--version").output().is_err() {
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let config = std::env::temp_dir().join(format!("webmon-bench-blackbox-{port}.yml"));
        std::fs::write(&config, CONFIG).context("failed to write its config")?;
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("failed to start {BINARY}"))?;
        let exporter = Self {
            child,
            addr,
            config,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&exporter.addr).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{BINARY} did not listen on {} within 10 s", exporter.addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(exporter))
    }

    /// Its version line.
    pub(super) fn version() -> String {
        Command::new(BINARY)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().next().map(|l| l.chars().take(40).collect())
            })
            .unwrap_or_else(|| BINARY.to_string())
    }

    /// CPU seconds the exporter has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which ends with ')'): utime is the 12th, stime
        // the 13th of those.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        match (ticks(11), ticks(12)) {
            (Some(u), Some(s)) if per_second > 0.0 => (u + s) / per_second,
            _ => f64::NAN,
        }
    }

    /// `count` probes of `url` through the exporter, `in_flight` at a time.
    pub(super) async fn run(
        &self,
        url: &str,
        count: usize,
        in_flight: usize,
        delay_ms: u64,
    ) -> anyhow::Result<(Row, Vec<Phases>)> {
        let path = format!("/probe?module=http_2xx&target={}", query_value(url));
        let cpu_before = self.cpu_seconds();
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..count {
            let permit = permits.clone().acquire_owned().await?;
            let (addr, path) = (self.addr.clone(), path.clone());
            tasks.spawn(async move {
                let answer = scrape(&addr, &path).await;
                drop(permit);
                answer
            });
        }
        let mut phases = Vec::with_capacity(count);
        let mut failures = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined.map_err(anyhow::Error::from).and_then(|a| a) {
                Ok(text) => match parse(&text) {
                    Some(p) => phases.push(p),
                    None => failures += 1,
                },
                Err(_) => failures += 1,
            }
        }
        let cpu = self.cpu_seconds() - cpu_before;
        let ttfbs: Vec<f64> = phases.iter().map(|p| p.processing_ms).collect();
        let row = Row::new(
            "blackbox", delay_ms, in_flight, &ttfbs, failures, cpu, count,
        );
        Ok((row, phases))
    }
}

/// `text` percent-encoded for a query value (every byte but the unreserved ones).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One GET of the exporter's `/probe`, the whole answer.
async fn scrape(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_string(&mut answer)).await??;
    Ok(answer)
}

/// The phases of a successful probe (`probe_success 1`), `None` otherwise.
fn parse(text: &str) -> Option<Phases> {
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    if value("probe_success ")? != 1.0 {
        return None;
    }
    let phase =
        |p: &str| value(&format!("probe_http_duration_seconds{{phase=\"{p}\"}} ")).map(|s| s * 1e3);
    Some(Phases {
        connect_ms: phase("connect")?,
        processing_ms: phase("processing")?,
        transfer_ms: phase("transfer")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_read_from_the_exposition_and_failures_are_none() {
        let ok = "probe_http_duration_seconds{phase=\"connect\"} 0.0002\n\
                  probe_http_duration_seconds{phase=\"processing\"} 0.0205\n\
                  probe_http_duration_seconds{phase=\"transfer\"} 0.0001\n\
                  probe_success 1\n";
        let p = parse(ok).unwrap();
        assert!((p.processing_ms - 20.5).abs() < 1e-9 && (p.connect_ms - 0.2).abs() < 1e-9);
        assert!(parse(&ok.replace("probe_success 1", "probe_success 0")).is_none());
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn the_target_is_percent_encoded() {
        assert_eq!(
            query_value("http://127.0.0.1:80/delay/20?a=b"),
            "http%3A%2F%2F127.0.0.1%3A80%2Fdelay%2F20%3Fa%3Db"
        );
    }
}
