//! The dashboard in a real headless browser (Debian's `chromium`): the overview lists
//! the checks, a check page draws a uPlot chart with one series per region, and
//! failure messages are shown as text, never as markup.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`); fails with that hint when
//! it is missing. Set `WEBMON_UPDATE_SCREENSHOTS=1` to refresh `docs/screenshot-*.png`.

mod dashboard_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dashboard_support::{Running, REGIONS};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_and_check_page_render_in_chromium() {
    chromium();
    // The page computes "ago" from the browser's clock: seed around the real now.
    let app = Running::start(now_ms()).await;

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

    let (dir, _keep) = screenshot_dir();
    for (page, file) in [
        ("/check/web", "screenshot-check.png"),
        ("/", "screenshot-overview.png"),
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
