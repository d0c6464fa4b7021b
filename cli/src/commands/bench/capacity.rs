//! `webmon bench capacity`: how many check executions one probe invocation carries per
//! trigger minute, against the Lambda's memory size and the CPU share that comes with
//! it (1 vCPU at 1,769 MB, proportional below).
//!
//! The probe engine runs in a child process (`--worker`) confined to that CPU share by a
//! cgroup CPU quota (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`; needs root), with the
//! Lambda's 256 probes in flight. It runs executions at a steady rate for `--seconds`
//! (a trigger minute compressed: offsets are spread evenly over the minute, so the rate
//! is what loads the engine) against the benchmark's delay server in this process,
//! with delays cycling through 20-300 ms. A rate passes when the p99 start lateness
//! (started minus scheduled) and the p99 |ttfb - delay| stay within their limits and
//! nothing fails. Capacity per trigger minute = the highest passing rate x 60.
//!
//! With `--tls` the target is the demo target over HTTPS (a CA made for the run, trusted
//! by the worker): every execution then pays a full TLS handshake, as a cold probe of a
//! real site does, which is where most of a probe's CPU goes.
//!
//! Where no cgroup can be written, the rows run at the machine's full CPU and say so.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::probe::{run_scheduled, ProbeOptions, Prober};

use super::probe::{bench_check, cpu_seconds, TargetProcess};

/// Lambda's memory size at which a function gets one full vCPU.
const FULL_VCPU_MB: f64 = 1769.0;
/// CFS period used for the quota, µs.
const PERIOD_US: u64 = 100_000;

/// Arguments of `webmon bench capacity`.
#[derive(clap::Args)]
pub struct Args {
    /// Lambda memory sizes to emulate, MB.
    #[arg(long, value_delimiter = ',', default_value = "128,256,512,1024,1769")]
    memory: Vec<u32>,
    /// Execution rates to try, per second, ascending (stops at the first that fails).
    #[arg(long, value_delimiter = ',', default_value = "5,10,25,50,100,200,400")]
    rates: Vec<u32>,
    /// Seconds each rate runs.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Injected delays, cycled, ms.
    #[arg(long, value_delimiter = ',', default_value = "20,50,100,200,300")]
    delays: Vec<u64>,
    /// Highest p99 start lateness that passes, ms.
    #[arg(long, default_value_t = 100.0)]
    max_late_p99_ms: f64,
    /// Highest p99 |ttfb - delay| that passes, ms.
    #[arg(long, default_value_t = 10.0)]
    max_error_p99_ms: f64,
    /// Probe an HTTPS target (a full TLS handshake per execution) instead of plain HTTP.
    #[arg(long)]
    tls: bool,
    /// Internal: run as the confined worker against this target base URL.
    #[arg(long, hide = true)]
    worker: Option<String>,
    /// Internal: the worker trusts this CA certificate (DER file).
    #[arg(long, hide = true)]
    ca_der: Option<PathBuf>,
    /// Internal: the worker's rate.
    #[arg(long, hide = true, default_value_t = 10)]
    rate: u32,
}

/// What a worker measured at one rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    executions: usize,
    failures: usize,
    late_p50_ms: f64,
    late_p99_ms: f64,
    error_p50_ms: f64,
    error_p99_ms: f64,
    cpu_s: f64,
}

/// Runs `webmon bench capacity`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(base) = &args.worker {
        return worker(base, &args).await;
    }
    if args.memory.is_empty() || args.rates.is_empty() || args.delays.is_empty() {
        bail!("failed to start: --memory, --rates and --delays must not be empty");
    }
    let target = Target::start(args.tls)?;
    let cgroups = CgroupRoot::find();
    match &cgroups {
        Some(root) => eprintln!("CPU shares through {}", root.describe()),
        None => eprintln!(
            "no writable cgroup CPU controller (run as root on a machine with cgroups): \
             every row runs at the machine's full CPU"
        ),
    }
    println!("| memory | vCPU share | highest passing rate | executions per trigger minute | p99 late | p99 error | CPU per execution | first failing rate |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut curve = Vec::new();
    for &mb in &args.memory {
        let share = (f64::from(mb) / FULL_VCPU_MB).min(1.0);
        let mut best: Option<(u32, Measured)> = None;
        let mut failed_at = None;
        for &rate in &args.rates {
            let m = confined(&target, &args, rate, share, cgroups.as_ref())?;
            let pass = m.failures == 0
                && m.late_p99_ms <= args.max_late_p99_ms
                && m.error_p99_ms <= args.max_error_p99_ms;
            eprintln!(
                "{mb} MB at {rate}/s: {} executions, {} failed, late p50/p99 {:.1}/{:.1} ms, error p50/p99 {:.2}/{:.2} ms, CPU {:.2} s{}",
                m.executions,
                m.failures,
                m.late_p50_ms,
                m.late_p99_ms,
                m.error_p50_ms,
                m.error_p99_ms,
                m.cpu_s,
                if pass { "" } else { ": fails" }
            );
            if !pass {
                failed_at = Some(rate);
                break;
            }
            best = Some((rate, m));
        }
        let row = match &best {
            Some((rate, m)) => format!(
                "| {mb} MB | {share:.3} | {rate}/s | {} | {:.1} ms | {:.2} ms | {:.0} µs | {} |",
                rate * 60,
                m.late_p99_ms,
                m.error_p99_ms,
                m.cpu_s / m.executions.max(1) as f64 * 1e6,
                failed_at.map_or("none tried".into(), |r| format!("{r}/s"))
            ),
            None => format!(
                "| {mb} MB | {share:.3} | none | 0 | | | | {}/s |",
                args.rates[0]
            ),
        };
        println!("{row}");
        curve.push((mb, best.map_or(0, |(rate, _)| rate * 60)));
    }
    println!();
    println!(
        "curve (memory MB, executions per trigger minute): {}",
        curve
            .iter()
            .map(|(mb, n)| format!("({mb}, {n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "compare: webmon_core::reconcile::PROBE_CAPACITY_CURVE holds the committed curve (half of each measured figure)"
    );
    drop(target);
    Ok(ExitCode::SUCCESS)
}

/// The target: the delay server in a child process (plain HTTP), or the demo target
/// over HTTPS in this process with the CA written to a file for the worker.
enum Target {
    Plain(TargetProcess),
    Tls {
        server: webmon_demo_target::TargetServer,
        ca: tempfile::NamedTempFile,
    },
}

impl Target {
    fn start(tls: bool) -> anyhow::Result<Self> {
        if !tls {
            return Ok(Self::Plain(TargetProcess::spawn()?));
        }
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "webmon bench CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate()?;
        let leaf =
            CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(&leaf_key, &issuer)?;
        let server = webmon_demo_target::TargetServer::start_tls(
            "127.0.0.1:0".parse()?,
            leaf.pem().as_bytes(),
            leaf_key.serialize_pem().as_bytes(),
        )
        .context("failed to start the HTTPS target")?;
        let mut ca = tempfile::NamedTempFile::new()?;
        ca.write_all(ca_cert.der())?;
        Ok(Self::Tls { server, ca })
    }

    fn base(&self) -> String {
        match self {
            Self::Plain(p) => p.base.clone(),
            Self::Tls { server, .. } => server.url("").trim_end_matches('/').to_string(),
        }
    }

    fn ca(&self) -> Option<&Path> {
        match self {
            Self::Plain(_) => None,
            Self::Tls { ca, .. } => Some(ca.path()),
        }
    }
}

/// Runs one worker at `rate` confined to `share` of a CPU; returns what it measured.
fn confined(
    target: &Target,
    args: &Args,
    rate: u32,
    share: f64,
    cgroups: Option<&CgroupRoot>,
) -> anyhow::Result<Measured> {
    let exe = std::env::current_exe().context("failed to find the webmon binary")?;
    let delays: Vec<String> = args.delays.iter().map(u64::to_string).collect();
    let mut command = Command::new(exe);
    command.args(["bench", "capacity", "--worker", &target.base()]);
    if let Some(ca) = target.ca() {
        command.arg("--ca-der").arg(ca);
    }
    let mut child = command
        .args(["--rate", &rate.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--delays", &delays.join(",")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("failed to start the worker")?;
    let group = match cgroups {
        Some(root) => Some(root.confine(child.id(), share)?),
        None => None,
    };
    // The worker starts once it is inside its cgroup.
    writeln!(child.stdin.as_mut().context("worker stdin")?, "go")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("worker stdout")?).read_line(&mut line)?;
    let status = child.wait()?;
    if let Some(group) = group {
        group.remove();
    }
    if !status.success() {
        bail!("the worker at {rate}/s failed ({status})");
    }
    serde_json::from_str(&line).with_context(|| format!("the worker printed {line:?}"))
}

/// The worker: waits for `go`, then probes at `rate` for `seconds`.
async fn worker(base: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;
    let extra_roots_der =
        match &args.ca_der {
            Some(path) => vec![std::fs::read(path)
                .with_context(|| format!("failed to read {}", path.display()))?],
            None => Vec::new(),
        };
    let prober = Prober::new(ProbeOptions {
        region: "bench".into(),
        allow_private: true,
        extra_roots_der,
        ..Default::default()
    });
    let rate = args.rate.max(1);
    let count = (rate * args.seconds.max(1)) as usize;
    let start = SystemClock.now_ms() + 200;
    let mut delay_of = std::collections::HashMap::new();
    let jobs = (0..count)
        .map(|i| {
            let delay = args.delays[i % args.delays.len()];
            let id = format!("cap-{i}");
            delay_of.insert(id.clone(), delay);
            let at = start + (i as i64 * 1000) / i64::from(rate);
            Ok((bench_check(id, &format!("{base}/delay/{delay}"))?, at))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(count);
    let cpu_before = cpu_seconds(libc::RUSAGE_SELF);
    run_scheduled(&prober, jobs, 256, &SystemClock, tx).await;
    let cpu_s = cpu_seconds(libc::RUSAGE_SELF) - cpu_before;
    let (mut late, mut errors, mut failures) = (Vec::new(), Vec::new(), 0);
    while let Some(r) = rx.recv().await {
        late.push(r.probe.start_delay_ms);
        match r.error_class {
            None => errors.push((r.cold.ttfb_ms - delay_of[&r.check_id] as f64).abs()),
            Some(_) => failures += 1,
        }
    }
    let measured = Measured {
        executions: late.len(),
        failures,
        late_p50_ms: percentile(&mut late, 50.0),
        late_p99_ms: percentile(&mut late, 99.0),
        error_p50_ms: percentile(&mut errors, 50.0),
        error_p99_ms: percentile(&mut errors, 99.0),
        cpu_s,
    };
    println!("{}", serde_json::to_string(&measured)?);
    Ok(ExitCode::SUCCESS)
}

/// Nearest-rank percentile (NaN when empty).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Where CPU-limited cgroups can be made.
enum CgroupRoot {
    /// cgroup v2: `cpu.max` in a child of the root.
    V2(PathBuf),
    /// cgroup v1: the `cpu` controller's hierarchy.
    V1(PathBuf),
}

impl CgroupRoot {
    fn find() -> Option<Self> {
        let v2 = Path::new("/sys/fs/cgroup");
        let candidates = [
            (v2.join("cgroup.controllers"), Self::V2(v2.to_path_buf())),
            (v2.join("cpu/cpu.cfs_quota_us"), Self::V1(v2.join("cpu"))),
            (
                v2.join("cpu,cpuacct/cpu.cfs_quota_us"),
                Self::V1(v2.join("cpu,cpuacct")),
            ),
        ];
        candidates.into_iter().find_map(|(probe, root)| {
            let dir = root
                .path()
                .join(format!("webmon-probe-{}", std::process::id()));
            let usable = probe.exists() && std::fs::create_dir(&dir).is_ok();
            let _ = std::fs::remove_dir(&dir);
            usable.then_some(root)
        })
    }

    fn path(&self) -> &Path {
        match self {
            Self::V2(p) | Self::V1(p) => p,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::V2(p) => format!("cgroup v2 cpu.max under {}", p.display()),
            Self::V1(p) => format!("cgroup v1 cpu.cfs_quota_us under {}", p.display()),
        }
    }

    /// A cgroup limited to `share` of one CPU, holding process `pid`.
    fn confine(&self, pid: u32, share: f64) -> anyhow::Result<Group> {
        let dir = self.path().join(format!("webmon-bench-{pid}"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let quota = ((share * PERIOD_US as f64) as u64).max(1000);
        let write = |file: &str, value: String| {
            std::fs::write(dir.join(file), &value)
                .with_context(|| format!("failed to write {value:?} to {}/{file}", dir.display()))
        };
        match self {
            Self::V2(_) => write("cpu.max", format!("{quota} {PERIOD_US}"))?,
            Self::V1(_) => {
                write("cpu.cfs_period_us", PERIOD_US.to_string())?;
                write("cpu.cfs_quota_us", quota.to_string())?;
            }
        }
        write("cgroup.procs", pid.to_string())?;
        Ok(Group { dir })
    }
}

/// A cgroup made for one worker; removed once the worker exited.
struct Group {
    dir: PathBuf,
}

impl Group {
    fn remove(self) {
        // Empty once its process exited; a failure only leaves an empty directory.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
