//! `webmon check URL`: one execution of a one-off check (method, headers, body and
//! assertions from flags), or of one check of a file (`--config FILE --id ID`),
//! printed as a table or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use webmon_core::check::{load_checks_file, Check, RawAssertions, RawCheck, StatusEntry};
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{ProbeOptions, Prober};
use webmon_core::result::ProbeResult;

/// Arguments of `webmon check`.
#[derive(clap::Args)]
pub struct Args {
    /// The http:// or https:// URL to probe (or `--config FILE --id ID`).
    #[arg(required_unless_present = "config")]
    pub url: Option<String>,
    /// Run one check of this checks file (with `--id`).
    #[arg(long, value_name = "FILE", requires = "id", conflicts_with = "url")]
    pub config: Option<PathBuf>,
    /// The id of the check to run from `--config`.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long)]
    pub body: Option<String>,
    /// Accepted status codes or ranges, e.g. `200-299` (repeatable; default 200-399).
    #[arg(long, value_name = "CODES")]
    pub status: Vec<String>,
    /// Text the body must contain (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub body_contains: Vec<String>,
    /// Regex the body must match (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub body_regex: Vec<String>,
    /// A response header that must equal a value, `Name: value` (repeatable).
    #[arg(long, value_name = "NAME: VALUE")]
    pub expect_header: Vec<String>,
    /// Largest acceptable average latency, e.g. `500ms`.
    #[arg(long, value_name = "DURATION")]
    pub max_latency: Option<String>,
    /// Fewest days the TLS certificate must still be valid.
    #[arg(long, value_name = "DAYS")]
    pub tls_min_days: Option<u32>,
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
    if path.is_dir() {
        return Err(super::bad_input(format!(
            "failed to read the CA file {}: it is a directory, not a PEM file",
            path.display()
        )));
    }
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
    let check = match &args.config {
        Some(path) => from_file(path, args.id.as_deref().unwrap_or_default())?,
        None => {
            let raw = one_off(&args)?;
            match raw.validate() {
                Ok(check) => check,
                Err(errors) => {
                    for e in &errors {
                        eprintln!(
                            "error: {} = {:?}: {}",
                            flag_name(&e.field),
                            e.value,
                            e.reason
                        );
                    }
                    return Ok(ExitCode::from(2));
                }
            }
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
    if !result.available && !args.json {
        if let Some(text) = error_text(&result) {
            eprintln!("error: {} is down: {text}", check.url);
        }
    }
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

/// `Name: value` as a pair.
fn header_pair(text: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(super::bad_input(format!(
            "failed to read {flag} {text:?}: expected `Name: value`"
        ))),
    }
}

/// The check the flags describe.
fn one_off(args: &Args) -> anyhow::Result<RawCheck> {
    let headers = args
        .headers
        .iter()
        .map(|h| header_pair(h, "--header"))
        .collect::<anyhow::Result<_>>()?;
    let expect_headers: std::collections::BTreeMap<String, String> = args
        .expect_header
        .iter()
        .map(|h| header_pair(h, "--expect-header"))
        .collect::<anyhow::Result<_>>()?;
    let assertions = RawAssertions {
        status: args
            .status
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| StatusEntry::Text(s.trim().to_string()))
            .collect(),
        body_contains: args.body_contains.clone(),
        body_regex: args.body_regex.clone(),
        headers: expect_headers,
        max_latency: args.max_latency.clone(),
        tls_min_days: args.tls_min_days,
        ..Default::default()
    };
    Ok(RawCheck {
        id: "cli".into(),
        url: args.url.clone().unwrap_or_default(),
        method: Some(args.method.clone()),
        headers,
        body: args.body.clone(),
        requests: Some(args.requests),
        timeout: Some(humantime::format_duration(args.timeout).to_string()),
        // A one-off check has no schedule; the longest interval lifts the
        // "requests x timeout fits in the interval" rule.
        interval: Some("1d".into()),
        allow_private: Some(args.allow_private),
        assertions: (assertions != RawAssertions::default()).then_some(assertions),
        ..Default::default()
    })
}

/// The check `id` of the file at `path`, or a bad-input error saying why not.
fn from_file(path: &Path, id: &str) -> anyhow::Result<Check> {
    if !path.is_file() {
        return Err(super::bad_input(format!(
            "failed to read the checks file {}: no such file",
            path.display()
        )));
    }
    let outcome = load_checks_file(path);
    if let Some(check) = outcome.checks.into_iter().find(|c| c.id == id) {
        return Ok(check);
    }
    let errors: Vec<String> = outcome
        .errors
        .iter()
        .filter(|e| e.check_id == id)
        .map(|e| e.to_string())
        .collect();
    Err(super::bad_input(if errors.is_empty() {
        format!("no check {id:?} in {}", path.display())
    } else {
        format!(
            "check {id:?} in {} is invalid: {}",
            path.display(),
            errors.join("; ")
        )
    }))
}

fn flag_name(field: &str) -> String {
    match field {
        "url" => "URL".into(),
        "requests" => "--requests".into(),
        "timeout" => "--timeout".into(),
        "method" => "--method".into(),
        "body" => "--body".into(),
        f if f.starts_with("headers") => "--header".into(),
        f if f.starts_with("assertions.headers") => "--expect-header".into(),
        f => match f.strip_prefix("assertions.") {
            Some(rest) => {
                let name = rest.split(['[', '.']).next().unwrap_or(rest);
                format!("--{}", name.replace('_', "-"))
            }
            None => format!("--{}", f.replace('_', "-")),
        },
    }
}

fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}

/// A phase of a request that got no answer: `-` when it was not reached.
fn phase(r: &ProbeResult, value: f64) -> String {
    if r.status_code.is_none() && value == 0.0 {
        "-".into()
    } else {
        ms(value)
    }
}

/// A result's error: `class: message`. The engine words its messages itself (a TLS
/// failure says what is wrong with the certificate, with a hint to `--ca-file` where a
/// private CA may be the cause), so every place that shows a result says the same.
pub fn error_text(r: &ProbeResult) -> Option<String> {
    let class = r.error_class?;
    let message = r.error_message.as_deref().unwrap_or("");
    Some(format!("{}: {message}", class.as_str()))
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
    if let Some(text) = error_text(r) {
        rows.push(("error", text));
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
                phase(r, r.latency.avg_ms),
                phase(r, r.latency.min_ms),
                phase(r, r.latency.max_ms),
                phase(r, r.latency.p50_ms)
            ),
        ),
        (
            "cold phases",
            format!(
                "dns {}, connect {}, tls {}, ttfb {}, transfer {}",
                phase(r, r.cold.dns_ms),
                phase(r, r.cold.connect_ms),
                phase(r, r.cold.tls_ms),
                phase(r, r.cold.ttfb_ms),
                phase(r, r.cold.transfer_ms)
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
