//! `webmon bench probe`: how exactly the probe engine measures time to first byte, and
//! what a request costs in CPU, with curl measured in the same run as the reference.
//!
//! The target runs in a child process (this binary with a hidden flag), so the process
//! CPU time measured here (`getrusage(RUSAGE_SELF)`) is the prober's alone and
//! `RUSAGE_CHILDREN` counts only the curl processes (the target is reaped last). It is
//! the purpose-built delay server of [`target`]: delays start at the request's kernel
//! arrival stamp and a real-time timer thread writes each response at its deadline, so
//! the target's own lateness stays out of the figures.
//!
//! For each injected delay: sequential probes (1 in flight) and one batch of N checks
//! through [`run_scheduled`] with concurrency N, all due at the same moment, so all N are
//! started at once (each takes its permit immediately) and each makes one request on a
//! fresh connection; then the same with curl, whose ttfb is `time_starttransfer -
//! time_pretransfer` (request sent to first byte, like ours: connection set-up excluded).
//! curl's concurrent run uses `--parallel` (at most 250 transfers per process). After
//! each run the target reports the most requests it held waiting for their deadline at
//! the same moment, which shows how many were really in flight together.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};

use anyhow::{bail, Context};
use webmon_core::check::{Check, RawCheck};
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{run_scheduled, ProbeOptions, Prober};

mod blackbox;
mod curl;

use blackbox::Blackbox;
use curl::{curl_run, curl_version};

/// Arguments of `webmon bench probe`.
#[derive(clap::Args)]
pub struct Args {
    /// A small run: 10 samples per delay and 200 checks in flight.
    #[arg(long)]
    quick: bool,
    /// Injected delays, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "20,50,100")]
    delays: Vec<u64>,
    /// Sequential samples per delay and client [default: 100, 10 with --quick].
    #[arg(long)]
    samples: Option<usize>,
    /// Checks in flight in the concurrent run [default: 1000, 200 with --quick].
    #[arg(long)]
    in_flight: Option<usize>,
    /// Serve the benchmark target in this process and print its address (internal).
    #[arg(long, hide = true)]
    serve_target: bool,
}

/// Runs `webmon bench probe`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.serve_target {
        return serve_target().await;
    }
    let samples = args
        .samples
        .unwrap_or(if args.quick { 10 } else { 100 })
        .max(1);
    let in_flight = args
        .in_flight
        .unwrap_or(if args.quick { 200 } else { 1000 })
        .max(1);
    let curl = curl_version()?;
    let mut target = TargetProcess::spawn()?;
    let prober = Prober::new(ProbeOptions {
        region: "bench".into(),
        allow_private: true,
        ..Default::default()
    });
    eprintln!(
        "target at {} ({}); {curl}; {samples} sequential samples and {in_flight} in flight per delay",
        target.base,
        if target.realtime {
            "target threads SCHED_FIFO"
        } else {
            "target threads at normal priority: SCHED_FIFO refused"
        }
    );

    // The peer, where it is installed (a row of its own; no target depends on it).
    let blackbox = Blackbox::start()?;
    match &blackbox {
        Some(_) => eprintln!("peer: {}", Blackbox::version()),
        None => eprintln!(
            "peer: blackbox_exporter not installed, its rows are left out \
             (apt-get install prometheus-blackbox-exporter)"
        ),
    }

    // Warm up every client (page cache, allocator, the target's first connections).
    webmon_run(&prober, &target.url("/ok"), 20, 1, 0).await?;
    curl_run(&target.url("/ok"), 5, 1, 0)?;
    if let Some(b) = &blackbox {
        b.run(&target.url("/ok"), 5, 1, 0).await?;
    }
    target.peak()?;
    let mut peer_phases = Vec::new();

    let mut rows = Vec::new();
    for &delay in &args.delays {
        let url = target.url(&format!("/delay/{delay}"));
        for (client, count, n) in [
            ("webmon", samples, 1),
            ("curl", samples, 1),
            ("blackbox", samples, 1),
            ("webmon", in_flight, in_flight),
            ("curl", in_flight, in_flight),
            ("blackbox", in_flight, in_flight),
        ] {
            let mut row = match (client, &blackbox) {
                ("webmon", _) => webmon_run(&prober, &url, count, n, delay).await?,
                ("curl", _) => curl_run(&url, count, n, delay)?,
                (_, Some(b)) => {
                    let (row, phases) = b.run(&url, count, n, delay).await?;
                    if n == 1 {
                        peer_phases.push((delay, phases));
                    }
                    row
                }
                (_, None) => continue,
            };
            row.peak_at_target = target.peak()?;
            rows.push(row);
        }
    }
    print_table(&rows);
    print_peer_phases(&peer_phases);
    let met = print_targets(&rows, in_flight);
    drop(target);
    // A missed target fails the run, so a script or CI step cannot pass over it.
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The figures of one client at one delay and concurrency.
struct Row {
    client: &'static str,
    delay_ms: u64,
    in_flight: usize,
    /// |ttfb - delay| per successful request, sorted, in ms.
    errors_ms: Vec<f64>,
    mean_ttfb_ms: f64,
    failures: usize,
    /// CPU seconds per request (webmon: this process; curl: per curl process).
    cpu_per_request_s: f64,
    /// Most requests the target held waiting for their deadline at the same time.
    peak_at_target: usize,
}

impl Row {
    fn new(
        client: &'static str,
        delay_ms: u64,
        in_flight: usize,
        ttfbs: &[f64],
        failures: usize,
        cpu_s: f64,
        runs: usize,
    ) -> Self {
        let mut errors_ms: Vec<f64> = ttfbs.iter().map(|t| (t - delay_ms as f64).abs()).collect();
        errors_ms.sort_by(f64::total_cmp);
        let mean_ttfb_ms = ttfbs.iter().sum::<f64>() / ttfbs.len().max(1) as f64;
        Self {
            client,
            delay_ms,
            in_flight,
            errors_ms,
            mean_ttfb_ms,
            failures,
            cpu_per_request_s: cpu_s / runs.max(1) as f64,
            peak_at_target: 0,
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.errors_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.errors_ms.len() as f64).ceil() as usize;
        self.errors_ms[rank.clamp(1, self.errors_ms.len()) - 1]
    }
}

pub(super) fn bench_check(id: String, url: &str) -> anyhow::Result<Check> {
    let raw = RawCheck {
        id,
        url: url.to_string(),
        requests: Some(1),
        timeout: Some("30s".into()),
        allow_private: Some(true),
        ..Default::default()
    };
    raw.validate()
        .map_err(|errors| anyhow::anyhow!("failed to build the benchmark check: {}", errors[0]))
}

/// `count` probes of `url`, `in_flight` at a time (all at once when equal).
async fn webmon_run(
    prober: &Prober,
    url: &str,
    count: usize,
    in_flight: usize,
    delay_ms: u64,
) -> anyhow::Result<Row> {
    let now = SystemClock.now_ms();
    let jobs = (0..count)
        .map(|i| Ok((bench_check(format!("bench-{i}"), url)?, now)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(count);
    let cpu_before = cpu_seconds(libc::RUSAGE_SELF);
    run_scheduled(prober, jobs, in_flight, &SystemClock, tx).await;
    let cpu = cpu_seconds(libc::RUSAGE_SELF) - cpu_before;
    let (mut ttfbs, mut failures) = (Vec::with_capacity(count), 0);
    while let Some(result) = rx.recv().await {
        match result.error_class {
            None => ttfbs.push(result.cold.ttfb_ms),
            Some(class) => {
                failures += 1;
                if failures == 1 {
                    eprintln!(
                        "webmon: first failure: {}: {}",
                        class.as_str(),
                        result.error_message.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(Row::new(
        "webmon", delay_ms, in_flight, &ttfbs, failures, cpu, count,
    ))
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| delay | client | in flight | peak at target | samples | failed | median err | p99 err | mean ttfb | CPU / request |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} ms | {} | {} | {} | {} | {} | {:.3} ms | {:.3} ms | {:.2} ms | {:.0} µs |",
            r.delay_ms,
            r.client,
            r.in_flight,
            r.peak_at_target,
            r.errors_ms.len(),
            r.failures,
            r.percentile(50.0),
            r.percentile(99.0),
            r.mean_ttfb_ms,
            r.cpu_per_request_s * 1e6
        );
    }
}

/// blackbox_exporter's own phase medians at 1 in flight, per delay.
fn print_peer_phases(per_delay: &[(u64, Vec<blackbox::Phases>)]) {
    for (delay, phases) in per_delay {
        let median = |f: fn(&blackbox::Phases) -> f64| {
            let mut v: Vec<f64> = phases.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        println!(
            "blackbox_exporter phases at {delay} ms, 1 in flight (median): connect {:.3} ms, \
             processing {:.3} ms, transfer {:.3} ms",
            median(|p| p.connect_ms),
            median(|p| p.processing_ms),
            median(|p| p.transfer_ms)
        );
    }
}

/// Prints each target's verdict; whether every one was met.
fn print_targets(rows: &[Row], in_flight: usize) -> bool {
    let find = |client: &str, delay: u64, n: usize| {
        rows.iter()
            .find(|r| r.client == client && r.delay_ms == delay && r.in_flight == n)
    };
    let all_met = std::cell::Cell::new(true);
    let verdict = |ok: bool| {
        if ok {
            "met"
        } else {
            all_met.set(false);
            "MISSED"
        }
    };
    println!();
    for delay in rows
        .iter()
        .map(|r| r.delay_ms)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (Some(w1), Some(c1), Some(wn)) = (
            find("webmon", delay, 1),
            find("curl", delay, 1),
            find("webmon", delay, in_flight),
        ) else {
            continue;
        };
        let (median, p99) = (wn.percentile(50.0), wn.percentile(99.0));
        println!("{delay} ms, {in_flight} in flight: median err {median:.3} ms (target <= 1: {}), p99 {p99:.3} ms (target <= 5: {})",
            verdict(median <= 1.0), verdict(p99 <= 5.0));
        let gap = w1.percentile(50.0) - c1.percentile(50.0);
        println!("{delay} ms, 1 in flight: webmon median err - curl median err = {gap:+.3} ms (target <= 0.3: {})", verdict(gap <= 0.3));
        let ratio = w1.cpu_per_request_s / c1.cpu_per_request_s;
        println!(
            "{delay} ms: CPU per request {:.0} µs vs {:.0} µs per curl process = {ratio:.3} (target <= 0.1: {})",
            w1.cpu_per_request_s * 1e6,
            c1.cpu_per_request_s * 1e6,
            verdict(ratio <= 0.1)
        );
    }
    all_met.get()
}

/// User plus system CPU seconds of this process or of its waited-for children.
pub(super) fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the rusage struct we own; zeroed is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return f64::NAN;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The benchmark target ([`target`]) in a child process; stops when dropped. The child
/// prints `ADDR REALTIME` on start and answers each `peak` line on its stdin with the peak
/// number of requests it held at once since the previous one.
pub(super) struct TargetProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub(super) base: String,
    realtime: bool,
}

impl TargetProcess {
    pub(super) fn spawn() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("failed to find the webmon binary")?;
        let mut child = Command::new(exe)
            .args(["bench", "probe", "--serve-target"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("failed to start the benchmark target process")?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .context("failed to read the target's address")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .context("failed to read the target's address")?;
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else {
            bail!("failed to start the benchmark target: it printed no address");
        };
        Ok(Self {
            base: format!("http://{addr}"),
            realtime: words.next() == Some("realtime"),
            child,
            stdin,
            stdout,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Peak requests held at once since the last call.
    fn peak(&mut self) -> anyhow::Result<usize> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the target's stdin is closed")?;
        writeln!(stdin, "peak").context("failed to ask the target for its peak")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .context("failed to read the target's peak")?;
        line.trim()
            .parse()
            .with_context(|| format!("failed to read the target's peak from {line:?}"))
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        // Closing stdin tells the target to exit.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Child side: serve until stdin closes, answering `peak` requests.
async fn serve_target() -> anyhow::Result<ExitCode> {
    let (addr, pending, realtime) =
        webmon_testkit::bench_target::start().context("failed to start the benchmark target")?;
    let mut stdout = std::io::stdout();
    let priority = if realtime { "realtime" } else { "normal" };
    writeln!(stdout, "{addr} {priority}")?;
    stdout.flush()?;
    // Blocks this thread only; the runtime's other workers serve the target.
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        for line in std::io::stdin().lock().lines() {
            if line?.trim() == "peak" {
                writeln!(stdout, "{}", pending.take_peak())?;
                stdout.flush()?;
            }
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
