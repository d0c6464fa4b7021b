//! `webmon check URL`: one execution of a one-off check, printed as a table or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use webmon_core::check::RawCheck;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;

/// Arguments of `webmon check`.
#[derive(clap::Args)]
pub struct Args {
    /// The http:// or https:// URL to probe.
    pub url: String,
    /// Requests in the execution (the first on a fresh connection), 1-20.
    #[arg(long, default_value_t = 5)]
    pub requests: u32,
    /// Timeout of each request, e.g. `500ms`, `10s` (at most 60s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Allow loopback, private and link-local addresses (refused by default).
    #[arg(long)]
    pub allow_private: bool,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Region label written into the result.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// Print the full result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads every certificate of a PEM file as DER.
pub fn read_ca_file(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("failed to read the CA file {}", path.display()))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("failed to parse the CA file {}", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "failed to load the CA file {}: it holds no certificate",
        path.display()
    );
    Ok(certs)
}

/// Runs `webmon check`: exit 0 if the target is available, 1 if not, 2 if the
/// arguments do not make a valid check.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let raw = RawCheck {
        id: "cli".into(),
        url: args.url.clone(),
        requests: Some(args.requests),
        timeout: Some(humantime::format_duration(args.timeout).to_string()),
        // A one-off check has no schedule; the longest interval lifts the
        // "requests x timeout fits in the interval" rule.
        interval: Some("1d".into()),
        allow_private: Some(args.allow_private),
        ..Default::default()
    };
    let check = match raw.validate() {
        Ok(check) => check,
        Err(errors) => {
            for e in &errors {
                eprintln!(
                    "error: field `{}` = {:?}: {}",
                    flag_name(&e.field),
                    e.value,
                    e.reason
                );
            }
            return Ok(ExitCode::from(2));
        }
    };
    let extra_roots_der = match &args.ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let prober = Prober::new(ProbeOptions {
        region: args.region.clone(),
        extra_roots_der,
        allow_private: args.allow_private,
        ..Default::default()
    });
    let result = prober.probe(&check, SystemClock.now_ms()).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", table(&result));
    }
    Ok(if result.available {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn flag_name(field: &str) -> &str {
    match field {
        "url" => "URL",
        "requests" => "--requests",
        "timeout" => "--timeout",
        other => other,
    }
}

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}

/// The human-readable form of a result.
pub fn table(r: &ProbeResult) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("url", r.url.clone()),
        (
            "available",
            if r.available {
                "yes".into()
            } else {
                "NO".into()
            },
        ),
        (
            "status",
            r.status_code.map_or("-".into(), |s| s.to_string()),
        ),
    ];
    if let Some(class) = r.error_class {
        rows.push((
            "error",
            format!(
                "{}: {}",
                class.as_str(),
                r.error_message.as_deref().unwrap_or("")
            ),
        ));
    }
    rows.extend([
        (
            "http version",
            r.http_version.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "remote ip",
            r.remote_ip.clone().unwrap_or_else(|| "-".into()),
        ),
        ("requests", r.requests.to_string()),
        (
            "latency",
            format!(
                "avg {}, min {}, max {}, p50 {}",
                ms(r.latency.avg_ms),
                ms(r.latency.min_ms),
                ms(r.latency.max_ms),
                ms(r.latency.p50_ms)
            ),
        ),
        (
            "cold phases",
            format!(
                "dns {}, connect {}, tls {}, ttfb {}, transfer {}",
                ms(r.cold.dns_ms),
                ms(r.cold.connect_ms),
                ms(r.cold.tls_ms),
                ms(r.cold.ttfb_ms),
                ms(r.cold.transfer_ms)
            ),
        ),
        ("warm ttfb", r.warm_ttfb_ms.map_or("-".into(), ms)),
        ("bytes", r.bytes.to_string()),
        ("redirects", r.redirects.to_string()),
    ]);
    if let Some(days) = r.tls_cert_days_left {
        rows.push(("tls cert", format!("{days} days left")));
    }
    rows.iter()
        .map(|(name, value)| format!("{name:<13}{value}\n"))
        .collect()
}
