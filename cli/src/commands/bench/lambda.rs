//! `webmon bench lambda`: each Lambda binary's deployment zip size and cold start.
//!
//! Zip size: `target/lambda-zip/<function>/bootstrap.zip` as written by
//! `cargo lambda build --release --arm64 --output-format zip --lambda-dir target/lambda-zip`
//! (a directory of its own: `target/lambda/<function>/` holds the `bootstrap` that the
//! Pulumi programs archive).
//!
//! Cold start: the host-built release binary (`target/release/<function>`) is spawned
//! with `AWS_LAMBDA_RUNTIME_API` pointing at a listener on 127.0.0.1 in this process;
//! the time from just before the spawn to the arrival of its first
//! `GET /2018-06-01/runtime/invocation/next` request is the cold start (process start,
//! settings, SDK clients, runtime loop). The environment is cleared and replaced with
//! dummy credentials and an endpoint override to a closed loopback port, so nothing
//! can reach AWS; no function calls AWS before its first event anyway.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

const FUNCTIONS: [&str; 5] = [
    "probe-lambda",
    "writer-lambda",
    "config-lambda",
    "notifier-lambda",
    "sweeper-lambda",
];
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next";
const ZIP_TARGET_BYTES: u64 = 8 * 1024 * 1024;
const COLD_TARGET_MS: f64 = 25.0;
const BUILD_HINT: &str = "build them with `cargo build --release -p probe-lambda -p writer-lambda -p config-lambda -p notifier-lambda -p sweeper-lambda` (cold start) and `cargo lambda build --release --arm64 --output-format zip --lambda-dir target/lambda-zip -p probe-lambda -p writer-lambda -p config-lambda -p notifier-lambda -p sweeper-lambda` (zips; pip install cargo-lambda)";

/// Arguments of `webmon bench lambda`.
#[derive(clap::Args)]
pub struct Args {
    /// Timed starts per binary (after one untimed start).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Directory of the host-built release binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Directory of the zips written by `cargo lambda build --output-format zip`.
    #[arg(long, default_value = "target/lambda-zip")]
    zip_dir: PathBuf,
}

/// Runs `webmon bench lambda`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runs = args.runs.max(1);
    println!("| function | zip (arm64, MiB) | cold start median | p90 | min | max |");
    println!("|---|---|---|---|---|---|");
    let mut missed = Vec::new();
    for name in FUNCTIONS {
        let zip = args.zip_dir.join(name).join("bootstrap.zip");
        let size = std::fs::metadata(&zip)
            .with_context(|| format!("failed to read {}: {BUILD_HINT}", zip.display()))?
            .len();
        let bin = args.bin_dir.join(name);
        if !bin.is_file() {
            bail!("failed to find {}: {BUILD_HINT}", bin.display());
        }
        let bin2 = bin.clone();
        let mut samples = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
            cold_start(&bin2, name)?;
            (0..runs).map(|_| cold_start(&bin2, name)).collect()
        })
        .await??;
        samples.sort_by(f64::total_cmp);
        let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {:.2} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            size as f64 / 1024.0 / 1024.0,
            pick(0.5),
            pick(0.9),
            samples[0],
            samples[samples.len() - 1]
        );
        if size > ZIP_TARGET_BYTES {
            missed.push(format!("{name} zip above 8 MB"));
        }
        if pick(0.5) > COLD_TARGET_MS {
            missed.push(format!(
                "{name} median cold start above {COLD_TARGET_MS} ms"
            ));
        }
    }
    println!();
    println!(
        "targets (zip <= 8 MB, median cold start <= {COLD_TARGET_MS} ms): {}",
        if missed.is_empty() {
            "met".to_string()
        } else {
            format!("MISSED: {}", missed.join("; "))
        }
    );
    // A missed target fails the run, so a script or CI step cannot pass over it.
    Ok(if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One start of `bin`: milliseconds from spawn to its first `next` request.
fn cold_start(bin: &std::path::Path, name: &str) -> anyhow::Result<f64> {
    let api = TcpListener::bind("127.0.0.1:0").context("failed to bind the runtime API")?;
    let api_addr = api.local_addr()?;
    // A port nothing listens on (the listener is dropped at once): any AWS call would
    // fail at once and never leave the host.
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok((stream, _)) = api.accept() {
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with(NEXT) {
                let _ = tx.send(Instant::now());
                // Keep the connection open: the runtime waits for an event that never comes.
                std::thread::sleep(Duration::from_secs(6));
                return;
            }
        }
    });
    let endpoint = format!("http://{closed}");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api_addr.to_string().as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("WEBMON_AWS_ENDPOINT_URL", endpoint.as_str()),
            (
                "WEBMON_QUEUE_URL",
                format!("{endpoint}/123456789012/webmon-results").as_str(),
            ),
            (
                "WEBMON_PROBE_ARN",
                "arn:aws:lambda:eu-west-1:123456789012:function:webmon-probe",
            ),
            ("RUST_LOG", "warn"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("failed to start {}", bin.display()))?;
    let got = rx.recv_timeout(Duration::from_secs(5));
    let status = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    match got {
        Ok(at) => Ok(at.duration_since(started).as_secs_f64() * 1000.0),
        Err(_) => bail!(
            "{name} made no `next` request within 5 s (exit status {status:?}); run it by hand with AWS_LAMBDA_RUNTIME_API set to see why"
        ),
    }
}
