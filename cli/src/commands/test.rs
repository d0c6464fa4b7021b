//! `webmon test FILE`: every enabled check of a file, once, now and concurrently; a
//! table (or JSON) of the outcomes; exit 0 when all pass, 1 when any fails, 2 when the
//! file has an invalid check.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use futures::StreamExt;
use webmon_core::check::load_checks_file_with;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{EnvSecrets, ProbeOptions, Prober};
use webmon_core::result::ProbeResult;

use super::check::{error_text, read_ca_file};
use super::secrets::SecretArgs;

/// Most checks probed at once.
const CONCURRENCY: usize = 64;

/// Arguments of `webmon test`.
#[derive(clap::Args)]
pub struct Args {
    /// The checks file.
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Let checks that set `allow_private: true` reach loopback and private addresses.
    #[arg(long)]
    pub allow_private: bool,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Region label written into the results.
    #[arg(long, default_value = "local")]
    pub region: String,
    /// Which `${env:NAME}` references the checks may use.
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Print the results as a JSON list.
    #[arg(long)]
    pub json: bool,
}

/// Runs `webmon test`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.config.path()?;
    super::paths::checks_file(&path)?;
    let policy = args.secrets.policy();
    let outcome = load_checks_file_with(&path, &policy);
    for e in &outcome.errors {
        eprintln!("error: {e}");
    }
    let extra_roots_der = match &args.ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let prober = Prober::new(ProbeOptions {
        region: args.region.clone(),
        extra_roots_der,
        allow_private: args.allow_private,
        secret_source: Some(Arc::new(EnvSecrets::new(policy))),
        ..Default::default()
    });
    let checks: Vec<_> = outcome.checks.into_iter().filter(|c| c.enabled).collect();
    let now = SystemClock.now_ms();
    let mut results: Vec<ProbeResult> = futures::stream::iter(checks.iter())
        .map(|check| {
            let prober = prober.clone();
            async move { prober.probe(check, now).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.sort_by(|a, b| a.check_id.cmp(&b.check_id));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", table(&results));
    }
    let failed = results.iter().filter(|r| !r.available).count();
    if !args.json {
        println!(
            "{} checks: {} passed, {} failed{}",
            results.len(),
            results.len() - failed,
            failed,
            match outcome.errors.len() {
                0 => String::new(),
                n => format!("; {n} errors in the file (not run)"),
            }
        );
    }
    Ok(if !outcome.errors.is_empty() {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per result: check, outcome, status, latency, error.
fn table(results: &[ProbeResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.check_id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<width$}  {:<6}  {:>6}  {:>10}  {}\n",
        "CHECK", "RESULT", "STATUS", "LATENCY", "ERROR"
    );
    for r in results {
        let latency = match r.status_code {
            Some(_) => format!("{:.1} ms", r.latency.avg_ms),
            None => "-".into(),
        };
        out += &format!(
            "{:<width$}  {:<6}  {:>6}  {:>10}  {}\n",
            r.check_id,
            if r.available { "pass" } else { "FAIL" },
            r.status_code.map_or("-".into(), |s| s.to_string()),
            latency,
            error_text(r).unwrap_or_default(),
        );
    }
    out
}
