//! The reference client: curl processes timed with `-w`, their CPU from
//! `getrusage(RUSAGE_CHILDREN)`.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::{cpu_seconds, Row};

const CURL_FORMAT: &str = "%{time_pretransfer} %{time_starttransfer}\n";
const CURL_PARALLEL_MAX: usize = 250;

/// `count` curl transfers of `url`: one process each when `in_flight` is 1, otherwise
/// `--parallel` processes of up to 250 transfers running together.
pub(super) fn curl_run(
    url: &str,
    count: usize,
    in_flight: usize,
    delay_ms: u64,
) -> anyhow::Result<Row> {
    let cpu_before = cpu_seconds(libc::RUSAGE_CHILDREN);
    let mut output = String::new();
    let mut processes = 0;
    if in_flight == 1 {
        for _ in 0..count {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", CURL_FORMAT, url])
                .output()
                .context("failed to run curl")?;
            output.push_str(&String::from_utf8_lossy(&out.stdout));
            processes += 1;
        }
    } else {
        let mut children = Vec::new();
        let mut left = count;
        while left > 0 {
            let n = left.min(CURL_PARALLEL_MAX);
            left -= n;
            let mut cmd = Command::new("curl");
            cmd.args([
                "-s",
                "--parallel",
                "--parallel-immediate",
                "--parallel-max",
                &n.to_string(),
                "-w",
                CURL_FORMAT,
            ]);
            for _ in 0..n {
                cmd.args(["-o", "/dev/null", url]);
            }
            children.push(
                cmd.stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("failed to run curl")?,
            );
        }
        for child in children {
            let out = child
                .wait_with_output()
                .context("failed to wait for curl")?;
            output.push_str(&String::from_utf8_lossy(&out.stdout));
            processes += 1;
        }
    }
    let cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - cpu_before;
    let mut ttfbs = Vec::with_capacity(count);
    for line in output.lines() {
        let mut parts = line.split_whitespace().map(|p| p.parse::<f64>());
        if let (Some(Ok(pre)), Some(Ok(start))) = (parts.next(), parts.next()) {
            if start > 0.0 {
                ttfbs.push((start - pre) * 1e3);
            }
        }
    }
    let failures = count.saturating_sub(ttfbs.len());
    // CPU per curl *process* for the sequential run, per transfer for the parallel one.
    let runs = if in_flight == 1 { processes } else { count };
    Ok(Row::new(
        "curl", delay_ms, in_flight, &ttfbs, failures, cpu, runs,
    ))
}

pub(super) fn curl_version() -> anyhow::Result<String> {
    match Command::new("curl").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("curl")
            .chars()
            .take(12)
            .collect()),
        _ => bail!("failed to run curl, the reference client: install curl: apt-get install curl"),
    }
}
