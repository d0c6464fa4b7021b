//! The dashboard in a real headless browser (Debian's `chromium`): the overview lists
//! the checks with their summary, uptime bars, search and tag filter, a check page draws
//! a uPlot chart with one series per region over the selected window, failure messages
//! are shown as text, never as markup, and the status page lists the public checks.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`); fails with that hint when
//! it is missing. Set `WEBMON_UPDATE_SCREENSHOTS=1` to refresh `docs/screenshot-*.png`.

mod dashboard_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dashboard_support::{Running, Setup, REGIONS};
use webmon_dashboard::{ConfiguredCheck, PublicChecks};

const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium`"
    );
    CHROMIUM
}

/// Runs headless chromium on `url` with `extra` flags; returns stdout and the page's
/// console messages and errors (Chromium's log on stderr). Bounded by
/// [`BROWSER_TIMEOUT`]; the profile lives in a fresh temporary directory.
fn browse(url: &str, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start chromium");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err_reader = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than {BROWSER_TIMEOUT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        status.success(),
        "chromium failed on {url}: {status}\n{stderr}"
    );
    (stdout, stderr)
}

/// Console lines that mean the page broke: script errors, CSP violations, failed loads.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Content Security Policy"))
        .filter(|l| {
            [
                "Uncaught",
                "Content Security Policy",
                "Failed to load",
                "Refused to",
            ]
            .iter()
            .any(|bad| l.contains(bad))
        })
        .collect()
}

/// Runs chromium off the async runtime, so the dashboard keeps serving meanwhile.
async fn browse_async(url: String, extra: Vec<String>) -> String {
    let (stdout, stderr) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || browse(&url, &extra.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let errors = page_errors(&stderr);
    assert!(
        errors.is_empty(),
        "{url} logged errors:\n{}",
        errors.join("\n")
    );
    stdout
}

fn screenshot_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    if std::env::var_os("WEBMON_UPDATE_SCREENSHOTS").is_some() {
        (Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs"), None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        (dir.path().to_path_buf(), Some(dir))
    }
}

fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    assert!(
        bytes.len() > 10_000,
        "{} is suspiciously small ({} bytes)",
        path.display(),
        bytes.len()
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `api` (team core) and `web` (team web), both public.
fn setup() -> Setup {
    let check = |id: &str, team: &str| ConfiguredCheck {
        id: id.to_string(),
        url: format!("https://{id}.example.test/health"),
        interval_ms: 30_000,
        method: "GET".into(),
        requests: 5,
        timeout_ms: 10_000,
        regions: vec![],
        tags: [("team".to_string(), team.to_string())].into(),
    };
    Setup {
        catalog: Some(vec![check("api", "core"), check("web", "web")]),
        public: PublicChecks::parse(["api", "web"]),
        ..Default::default()
    }
}

/// Per seeded check, its UTC days (`YYYY-MM-DD`) with (passed, samples) on each.
fn uptime_days(now: i64) -> BTreeMap<String, BTreeMap<String, (u64, u64)>> {
    let mut days: BTreeMap<String, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    for result in dashboard_support::seed_results(now) {
        let day = chrono::DateTime::from_timestamp_millis(result.scheduled_at_ms)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        let entry = days
            .entry(result.check_id.clone())
            .or_default()
            .entry(day)
            .or_default();
        entry.0 += u64::from(result.available);
        entry.1 += 1;
    }
    days
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_and_check_page_render_in_chromium() {
    chromium();
    // The page computes "ago" from the browser's clock: seed around the real now (on a
    // whole second, so the chart's window is a whole number of seconds).
    let now = now_ms() / 1000 * 1000;
    let app = Running::start_with(now, setup()).await;

    let overview = browse_async(app.url("/"), vec!["--dump-dom".into()]).await;
    assert!(
        overview.contains(r#"data-check-count="2""#),
        "overview did not render:\n{overview}"
    );
    for id in ["api", "web"] {
        assert!(
            overview.contains(&format!(r#"data-check-id="{id}""#)),
            "check {id} missing:\n{overview}"
        );
        assert!(
            overview.contains(&format!(r#"href="/check/{id}?since=1h""#)),
            "link to {id} missing"
        );
    }
    for region in REGIONS {
        assert!(
            overview.contains(region),
            "region {region} missing from the overview"
        );
    }
    assert!(
        overview.contains("degraded"),
        "web should be degraded:\n{overview}"
    );
    // 2 checks: 1 up, 0 down, 1 degraded, 0 stale, 0 pending; the degraded one first.
    assert!(
        overview.contains(r#"data-summary="2:1,0,1,0,0""#),
        "summary missing:\n{overview}"
    );
    assert!(overview.contains("2 checks</span>: 1 up, 0 down, 1 degraded, 0 stale, 0 pending"));
    assert!(
        overview.contains(r#"data-check-order="web,api""#),
        "web (degraded) should come first"
    );
    // 90 daily bars per check. The seed covers the 30 minutes before now, so one UTC
    // day has data, or two right after midnight: expect exactly the seed's days.
    for (id, days) in uptime_days(now) {
        let no_data = 90 - days.len();
        assert!(
            overview.contains(&format!(
                r#"data-day-count="90" data-no-data-count="{no_data}""#
            )),
            "uptime bars of {id} missing:\n{overview}"
        );
        for (day, (passed, samples)) in days {
            let pct = passed as f64 * 100.0 / samples as f64;
            let figure = if pct >= 99.995 {
                "100%".to_string()
            } else {
                format!("{pct:.2}%")
            };
            let class = match pct {
                p if p >= 99.9 => "good",
                p if p >= 99.0 => "fair",
                p if p >= 95.0 => "poor",
                _ => "bad",
            };
            let tip = format!("{day}: {figure} ({passed} of {samples} passed)");
            assert!(
                overview.contains(&format!(r#"<span class="{class}" title="{tip}""#)),
                "{id}'s bar for {day} is not {class} with \"{tip}\":\n{overview}"
            );
        }
    }
    if uptime_days(now).iter().all(|(_, days)| days.len() == 1) {
        // The figure the seed was built for: web passes 173 of 180, amber.
        assert!(overview.contains(": 96.11% (173 of 180 passed)"));
    }

    // Search and tag filter.
    let searched = browse_async(app.url("/?q=API.example"), vec!["--dump-dom".into()]).await;
    assert!(
        searched.contains(r#"data-check-order="api""#),
        "search by URL:\n{searched}"
    );
    let tagged = browse_async(app.url("/?tag=team%3Dweb"), vec!["--dump-dom".into()]).await;
    assert!(
        tagged.contains(r#"data-check-order="web""#),
        "tag filter:\n{tagged}"
    );
    assert!(tagged.contains(r#"<option value="team=web">team=web</option>"#));

    let check = browse_async(app.url("/check/web"), vec!["--dump-dom".into()]).await;
    assert!(
        check.contains(r#"data-series-count="3""#),
        "chart did not render 3 series:\n{check}"
    );
    assert!(
        check.contains(&format!(r#"data-series-labels="{}""#, REGIONS.join(","))),
        "series labels missing"
    );
    assert!(check.contains("<canvas"), "uPlot drew no canvas");
    assert!(check.contains(r#"class="uplot"#), "no uPlot root element");
    for region in REGIONS {
        assert!(
            check.contains(&format!(">{region}<")),
            "legend or table lacks {region}"
        );
    }
    // Seven failures listed; the hostile message is text, not an element.
    assert!(
        check.contains(r#"data-failure-count="7""#),
        "failures missing:\n{check}"
    );
    assert!(
        check.contains("&lt;img src=x onerror=alert(1)&gt; connection timed out"),
        "message not shown as text"
    );
    assert!(
        !check.contains("<img src=\"x\""),
        "a failure message was rendered as markup"
    );
    assert!(
        check.contains("status 503 is not accepted"),
        "503 failure missing"
    );
    // The time axis spans the window (1 h), settings and bars are shown.
    let from_s = (now - 3_600_000) / 1000;
    assert!(
        check.contains(&format!(
            r#"data-x-min="{from_s}" data-x-max="{}""#,
            now / 1000
        )),
        "chart axis does not follow the window:\n{check}"
    );
    assert!(
        check.contains(r#"data-configured="true""#),
        "settings missing"
    );
    assert!(
        check.contains(">https://web.example.test/health<"),
        "URL missing"
    );
    assert!(check.contains("<td>team=web</td>"), "tags missing");
    assert!(
        check.contains(r#"class="uptime wide" data-day-count="90""#),
        "bars missing"
    );

    let status = browse_async(app.url("/status"), vec!["--dump-dom".into()]).await;
    assert!(
        status.contains(r#"data-check-count="2""#),
        "status page did not render:\n{status}"
    );
    assert!(
        status.contains("1 of 2 services have problems"),
        "headline:\n{status}"
    );
    assert!(status.contains(r#"data-state="degraded""#));
    assert_eq!(status.matches(r#"data-day-count="90""#).count(), 2);
    assert!(
        !status.contains("example.test"),
        "the status page shows a URL"
    );

    let (dir, _keep) = screenshot_dir();
    for (page, file) in [
        ("/check/web", "screenshot-check.png"),
        ("/", "screenshot-overview.png"),
        ("/status", "screenshot-status.png"),
    ] {
        let path = dir.join(file);
        let args = vec![
            format!("--screenshot={}", path.display()),
            "--window-size=1280,900".into(),
        ];
        browse_async(app.url(page), args).await;
        assert_png(&path);
    }
    app.stop().await;
}
