//! `webmon bench alerts`: the cost of alert evaluation at many checks, the way
//! `webmon run` does it (one evaluation per stored batch, then the commit of the changed
//! state and intents to SQLite), beside a reference measured in the same run: parsing
//! the same results from JSON, their wire format. Memory per check is the growth of the resident set while the state is built,
//! and the size of its stored JSON.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use webmon_core::alert::{evaluate, load_alerting, AlertState};
use webmon_core::check::parse_checks_document;
use webmon_core::result::ProbeResult;
use webmon_local::store::{AlertCommit, SqliteStore};
use webmon_testkit::conformance::result;

/// Arguments of `webmon bench alerts`.
#[derive(clap::Args)]
pub struct Args {
    /// Checks evaluated.
    #[arg(long, default_value_t = 10_000)]
    checks: usize,
    /// Rounds (one result per check each); every fifth round 5% of the checks fail.
    #[arg(long, default_value_t = 20)]
    rounds: i64,
}

const BASE_MS: i64 = 1_767_225_600_000;
const STEP_MS: i64 = 10_000;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn per(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Runs `webmon bench alerts`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let n = args.checks.max(1);
    let mut yaml = String::from(
        "channels:\n  - {id: hook, type: webhook, url: 'http://127.0.0.1:9/', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg=='}\n\
         alert_defaults: {channels: [hook], failure_threshold: 2, success_threshold: 2, settle: 0s, group: {threshold: 0}}\nchecks:\n",
    );
    for i in 0..n {
        let _ = writeln!(
            yaml,
            "  - {{id: c{i}, url: 'http://127.0.0.1:9/c{i}', interval: 10s}}"
        );
    }
    let checks = parse_checks_document(&yaml).checks;
    let outcome = load_alerting(&yaml, &checks, &["local".to_string()]);
    anyhow::ensure!(outcome.errors.is_empty(), "{:?}", outcome.errors.first());
    let config = outcome.config;

    let rounds: Vec<Vec<String>> = (0..args.rounds)
        .map(|k| {
            (0..n)
                .map(|i| {
                    let mut r = result(&format!("c{i}"), "local", BASE_MS, k);
                    r.available = !(k % 5 >= 3 && i % 20 == 0);
                    serde_json::to_string(&r).expect("a result serialises")
                })
                .collect()
        })
        .collect();

    let store = SqliteStore::open_in_memory()?;
    let rss_before = rss_kib();
    let (mut parse, mut eval, mut commit) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut state, mut intents_total, mut rows) = (AlertState::default(), 0, 0);
    for (k, round) in rounds.iter().enumerate() {
        let t = Instant::now();
        let results: Vec<ProbeResult> = round
            .iter()
            .map(|j| serde_json::from_str(j))
            .collect::<Result<_, _>>()?;
        parse += t.elapsed();
        let now = BASE_MS + k as i64 * STEP_MS + 1;
        let t = Instant::now();
        let (next, intents) = evaluate(&state, &results, now, &config, &[]);
        eval += t.elapsed();
        let t = Instant::now();
        let c = AlertCommit::new(&state, &next, &intents, k as i64, now)?;
        rows += c.changed_checks();
        store.commit_alerting(c).await?;
        commit += t.elapsed();
        intents_total += intents.len();
        state = next;
    }
    let rss_after = rss_kib();
    let state_json = serde_json::to_string(&state)?.len();
    let total = n * rounds.len();

    println!(
        "alert evaluation: {n} checks x {} rounds = {total} results, {intents_total} notifications",
        rounds.len()
    );
    println!(
        "  reference, parse result JSON : {:>9.0} ns/result",
        per(parse, total)
    );
    println!(
        "  evaluate                     : {:>9.0} ns/result",
        per(eval, total)
    );
    println!(
        "  commit (changed state, SQLite): {:>8.0} ns/result ({rows} check states written)",
        per(commit, total)
    );
    println!(
        "  evaluate / parse             : {:>9.2}",
        eval.as_secs_f64() / parse.as_secs_f64().max(1e-9)
    );
    println!(
        "  state, stored JSON           : {:>9.0} bytes/check",
        state_json as f64 / n as f64
    );
    match (rss_before, rss_after) {
        (Some(a), Some(b)) => println!(
            "  resident set growth          : {:>9.0} bytes/check (state, previous state and the store's cache)",
            (b.saturating_sub(a) * 1024) as f64 / n as f64
        ),
        _ => println!("  resident set growth          : unknown (no /proc)"),
    }
    Ok(ExitCode::SUCCESS)
}
