//! `webmon run` as an operator sees it: a second Ctrl-C stops at once and records the
//! probes in flight as cancelled; new checks run at once; one log line per change of
//! state, a periodic summary and a closing line whose counts say what they count;
//! `WEBMON_DB`; read-only `report`. Every target is a demo target on 127.0.0.1.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use webmon_core::check::Interval;
use webmon_core::ports::{Clock, SystemClock};
use webmon_core::schedule::next_run_at_or_after;
use webmon_local::store::SqliteStore;

fn webmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    cmd.env("RUST_LOG", "info").env_remove("WEBMON_DB");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An id with `prefix` whose next 1 m grid run is at least 30 s away: without an
/// immediate first run it would not run during the test.
fn id_not_due_soon(prefix: &str) -> String {
    let interval = Interval::parse("1m").unwrap();
    let now = SystemClock.now_ms();
    (0..10_000)
        .map(|n| format!("{prefix}-{n}"))
        .find(|id| next_run_at_or_after(id, interval, now) - now > 30_000)
        .expect("some id is not due soon")
}

fn check_yaml(id: &str, url: &str, timeout: &str) -> String {
    format!("  - {{id: {id}, url: '{url}', interval: 1m, timeout: {timeout}, requests: 1, allow_private: true}}\n")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("`kill` is needed (apt-get install procps)");
    assert!(status.success());
}

fn wait(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("webmon did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

fn stored(db: &std::path::Path) -> Vec<webmon_core::result::ProbeResult> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        SqliteStore::open_read_only(db)
            .unwrap()
            .results_since(0, None)
            .await
            .unwrap()
    })
}

/// `webmon run` of `config` into `db` in the background, with the demo target on
/// `port` and `extra` arguments; stderr piped (read by [`wait`]).
fn spawn_run(config: &std::path::Path, db: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    webmon()
        .args(["run", "--config", config.to_str().unwrap()])
        .args(["--db", db.to_str().unwrap()])
        .args(["--demo-target", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// First Ctrl-C drains; the second stops within 2 s, storing the probe in flight as
/// cancelled and saying so.
#[test]
fn a_second_ctrl_c_stops_at_once_and_records_cancelled_probes() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let port = free_port();
    let slow = id_not_due_soon("slow");
    let url = format!("http://127.0.0.1:{port}/delay/20000");
    std::fs::write(
        &config,
        format!("checks:\n{}", check_yaml(&slow, &url, "30s")),
    )
    .unwrap();

    let mut child = spawn_run(&config, &db, port, &["--no-ui"]);
    // The new check runs at once: it is in flight (a 20 s answer) after 2 s.
    std::thread::sleep(Duration::from_millis(2_000));
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first Ctrl-C drains"
    );
    signal(&child, "-TERM");
    let second = Instant::now();
    let (status, stderr) = wait(&mut child, Duration::from_secs(10));
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "stopped {:?} after the second signal: {stderr}",
        second.elapsed()
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Ctrl-C to stop"), "{stderr}");
    assert!(stderr.contains("Ctrl-C again to stop now"), "{stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    assert!(
        stderr.contains(&format!("{slow}: cancelled at shutdown")),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 executions (0 passed, 0 failed, 1 cancelled); 1 results stored, 0 could not be stored"),
        "{stderr}"
    );
    let results = stored(&db);
    assert_eq!(results.len(), 1, "{stderr}");
    let r = &results[0];
    assert_eq!(r.check_id, slow);
    assert!(!r.available);
    assert_eq!(r.error_class.map(|c| c.as_str()), Some("timeout"));
    assert_eq!(r.error_message.as_deref(), Some("cancelled at shutdown"));
}

/// New checks run at once; each change of state is one line; the summary counts up,
/// down and pending; the closing line counts passed and failed executions apart from
/// store errors. `WEBMON_DB` names the database, and `report` reads it read-only.
#[test]
fn run_says_what_happens_and_honours_webmon_db() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    let db = dir.path().join("from-env.db");
    let port = free_port();
    let (ok, down) = (id_not_due_soon("ok"), id_not_due_soon("down"));
    let mut yaml = String::from("checks:\n");
    yaml += &check_yaml(&ok, &format!("http://127.0.0.1:{port}/ok"), "5s");
    yaml += &check_yaml(&down, &format!("http://127.0.0.1:{port}/status/500"), "5s");
    std::fs::write(&config, yaml).unwrap();

    let out: Output = webmon()
        .env("WEBMON_DB", &db)
        .current_dir(dir.path())
        .args(["run", "--config", config.to_str().unwrap(), "--no-ui"])
        .args(["--demo-target", &format!("127.0.0.1:{port}")])
        .args(["--duration", "3s", "--summary-every", "1s"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("{ok} in local is UP: status 200")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{down} in local is DOWN: http_status")),
        "{stderr}"
    );
    assert!(stderr.contains("1 up, 1 down, 0 pending"), "{stderr}");
    // The disk under the database, at every summary.
    assert!(
        stderr.contains("database ") && stderr.contains("free on its disk"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 executions (1 passed, 1 failed, 0 cancelled); 2 results stored, 0 could not be stored"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\u{1b}["),
        "no colour codes into a pipe: {stderr}"
    );
    assert!(db.is_file(), "WEBMON_DB names the database: {stderr}");
    assert!(!dir.path().join("webmon.db").exists());

    // A database the reader cannot write: the report only reads it.
    use std::os::unix::fs::PermissionsExt;
    let before = std::fs::read(&db).unwrap();
    assert!(
        !dir.path().join("from-env.db-wal").exists(),
        "the writer closes last and checkpoints: {stderr}"
    );
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = webmon()
        .env("WEBMON_DB", &db)
        .args(["report", "--json", "--since", "10m"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the report wrote nothing"
    );
}

/// `webmon test FILE` runs every check once, now, and fails if any fails; `check`
/// runs one check of a file, and takes assertions as flags.
#[test]
fn test_runs_every_check_once_and_check_takes_a_file_or_flags() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let target = webmon_demo_target::TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    let mut yaml = String::from("checks:\n");
    yaml += &check_yaml("web-ok", &target.url("/ok"), "5s");
    yaml += &check_yaml("web-json", &target.url("/json"), "5s");
    yaml += &check_yaml("web-down", &target.url("/status/503"), "5s");
    std::fs::write(&config, &yaml).unwrap();

    let started = Instant::now();
    let out = webmon()
        .args(["test", config.to_str().unwrap(), "--allow-private"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20));
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {stdout}"))
            .to_string()
    };
    assert!(line("web-ok ").contains("pass"), "{stdout}");
    assert!(line("web-json").contains("pass"), "{stdout}");
    assert!(
        line("web-down").contains("FAIL") && line("web-down").contains("503"),
        "{stdout}"
    );
    assert!(stdout.contains("3 checks: 2 passed, 1 failed"), "{stdout}");

    std::fs::write(
        &config,
        yaml.replace("web-down", "web-ok2")
            .replace("/status/503", "/ok"),
    )
    .unwrap();
    let out = webmon()
        .args([
            "test",
            "--config",
            config.to_str().unwrap(),
            "--allow-private",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 3);

    let out = webmon()
        .args([
            "check",
            "--config",
            config.to_str().unwrap(),
            "--id",
            "web-json",
            "--allow-private",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["check_id"], "web-json");
    let out = webmon()
        .args([
            "check",
            "--config",
            config.to_str().unwrap(),
            "--id",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no check \"nope\""),
        "{}",
        text(&out.stderr)
    );

    let url = target.url("/ok");
    let out = webmon()
        .args([
            "check",
            &url,
            "--allow-private",
            "--requests",
            "1",
            "--status",
            "201",
            "-X",
            "GET",
            "-H",
            "X-Probe: 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("http_status"),
        "{}",
        text(&out.stdout)
    );
    let out = webmon()
        .args([
            "check",
            &url,
            "--allow-private",
            "--requests",
            "1",
            "--body-contains",
            "no such text",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("assertion"),
        "{}",
        text(&out.stdout)
    );

    // A request that got no answer shows its timings as `-`, not `0.00 ms`.
    let closed = format!("http://127.0.0.1:{}/", free_port());
    let out = webmon()
        .args(["check", &closed, "--allow-private", "--requests", "1"])
        .output()
        .unwrap();
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("tls -, ttfb -, transfer -"), "{table}");
    assert!(table.contains("avg -, min -, max -, p50 -"), "{table}");
    assert!(
        text(&out.stderr).contains("error:"),
        "failures are said on stderr too"
    );
}

/// SIGTERM alone drains like a first Ctrl-C: the probe in flight finishes and is
/// stored, the dashboard keeps answering during the drain and stops after it.
#[test]
fn sigterm_drains_and_the_dashboard_stops_after_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let (port, ui) = (free_port(), free_port());
    let slow = id_not_due_soon("drain");
    let url = format!("http://127.0.0.1:{port}/delay/3000");
    std::fs::write(
        &config,
        format!("checks:\n{}", check_yaml(&slow, &url, "10s")),
    )
    .unwrap();
    let mut child = spawn_run(&config, &db, port, &["--port", &ui.to_string()]);
    // The check runs at once; after 1.5 s its 3 s answer is still on the way.
    std::thread::sleep(Duration::from_millis(1_500));
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "SIGTERM drains");
    let health = healthz(ui);
    assert!(
        health.starts_with("HTTP/1.1 200"),
        "dashboard during the drain: {health:?}"
    );
    let (status, stderr) = wait(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let results = stored(&db);
    assert_eq!(results.len(), 1, "{stderr}");
    assert!(
        results[0].available,
        "drained, not cancelled: {:?}",
        results[0]
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", ui)).is_err(),
        "the dashboard stopped with the process"
    );
}

/// `GET /healthz` on the dashboard at `port`, the raw answer ("" if it cannot connect).
fn healthz(port: u16) -> String {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Reloads as an operator causes them: a touch without a change reloads nothing; a
/// reload that removes a check in flight lets its probe finish and be stored; a deleted
/// file is reported once (not at every poll) and the checks keep running; the file
/// back with a new check runs that check at once.
#[test]
fn reload_edge_cases_touch_removal_in_flight_deletion_and_return() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    let port = free_port();
    let slow = id_not_due_soon("inflight");
    let fast = id_not_due_soon("steady");
    let added = id_not_due_soon("added");
    let slow_line = check_yaml(&slow, &format!("http://127.0.0.1:{port}/delay/6000"), "10s");
    let fast_line = check_yaml(&fast, &format!("http://127.0.0.1:{port}/"), "5s");
    let added_line = check_yaml(&added, &format!("http://127.0.0.1:{port}/"), "5s");
    std::fs::write(&config, format!("checks:\n{slow_line}{fast_line}")).unwrap();
    let mut child = spawn_run(&config, &db, port, &["--no-ui"]);
    std::thread::sleep(Duration::from_millis(1_500));
    // A touch: a new modification time, the same bytes (the runner polls every 2 s).
    std::fs::File::options()
        .append(true)
        .open(&config)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2_500));
    // The slow check leaves the file while its probe (a 6 s answer) is in flight.
    std::fs::write(&config, format!("checks:\n{fast_line}")).unwrap();
    std::thread::sleep(Duration::from_millis(2_500));
    // Deleted for three polls.
    std::fs::remove_file(&config).unwrap();
    std::thread::sleep(Duration::from_millis(6_500));
    // Back, with a new check.
    std::fs::write(&config, format!("checks:\n{fast_line}{added_line}")).unwrap();
    std::thread::sleep(Duration::from_millis(3_000));
    signal(&child, "-INT");
    let (status, stderr) = wait(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");

    // Reloads: the removal, the deletion (checks kept) and the return; not the touch.
    assert_eq!(stderr.matches("config reloaded").count(), 3, "{stderr}");
    assert_eq!(
        stderr.matches("cannot read the file").count(),
        1,
        "{stderr}"
    );
    let results = stored(&db);
    let of = |id: &str| results.iter().filter(|r| r.check_id == id).count();
    assert_eq!(
        of(&slow),
        1,
        "the probe in flight at the reload is stored: {stderr}"
    );
    assert!(results.iter().any(|r| r.check_id == slow && r.available));
    assert_eq!(of(&fast), 1, "{stderr}");
    assert_eq!(
        of(&added),
        1,
        "the returning file's new check ran at once: {stderr}"
    );
}

/// Results the store refuses are lost, and `webmon run` says so in its exit code: a
/// SQLite trigger refuses one check's rows (a real store error), the other check's rows
/// are stored, and the run exits 1 naming how many results it lost.
#[test]
fn run_exits_non_zero_when_results_could_not_be_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = (dir.path().join("checks.yaml"), dir.path().join("webmon.db"));
    drop(SqliteStore::open(&db).unwrap());
    let (kept, lost) = (id_not_due_soon("kept"), id_not_due_soon("lost"));
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_lost BEFORE INSERT ON executions
             WHEN (SELECT check_id FROM series WHERE id = NEW.series) = '{lost}'
             BEGIN SELECT RAISE(ABORT, 'row refused by the test trigger'); END;"
        ))
        .unwrap();
    let port = free_port();
    let mut yaml = String::from("checks:\n");
    yaml += &check_yaml(&kept, &format!("http://127.0.0.1:{port}/ok"), "5s");
    yaml += &check_yaml(&lost, &format!("http://127.0.0.1:{port}/ok"), "5s");
    std::fs::write(&config, yaml).unwrap();

    let out: Output = webmon()
        .args(["run", "--config", config.to_str().unwrap(), "--no-ui"])
        .args(["--db", db.to_str().unwrap()])
        .args(["--demo-target", &format!("127.0.0.1:{port}")])
        .args(["--duration", "3s"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 executions (2 passed, 0 failed, 0 cancelled); 1 results stored, 1 could not be stored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: failed to store 1 results"),
        "{stderr}"
    );
    let ids: Vec<String> = stored(&db).into_iter().map(|r| r.check_id).collect();
    assert_eq!(ids, [kept]);
}
