//! `webmon dashboard` as a process: serves a store on a free loopback port, and refuses
//! a missing database or an unavailable source with a clear message. `webmon run`
//! serves the same dashboard while it probes, and never shows a check's header values.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_a_store_on_a_free_port() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webmon.db");
    // What `webmon run` leaves before its first result: the schema, no rows.
    drop(webmon_local::store::SqliteStore::open(&db).unwrap());
    let mut child = Command::new(WEBMON)
        .args(["dashboard", "--port", "0", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let outcome = std::panic::catch_unwind(|| {
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let overview = http_get(&addr, "/api/overview?since=1h");
        assert!(overview.starts_with("HTTP/1.1 200"), "{overview}");
        assert!(overview.contains("\"checks\":[]"), "{overview}");
        let page = http_get(&addr, "/");
        assert!(page.contains("/assets/app.js"), "{page}");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    outcome.unwrap();
}

#[test]
fn missing_database_and_timestream_source_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let out = Command::new(WEBMON)
        .args(["dashboard", "--port", "0", "--db"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to open the result store") && stderr.contains("nope.db"),
        "{stderr}"
    );
    assert!(!missing.exists(), "a missing database must not be created");

    // A table name Timestream would refuse is refused before any AWS call.
    let out = Command::new(WEBMON)
        .args([
            "dashboard",
            "--port",
            "0",
            "--source",
            "timestream",
            "--table",
            "a b",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to read --database/--table") && stderr.contains("\"a b\""),
        "{stderr}"
    );
}

/// Reads stdout lines until one holds the dashboard's address.
fn dashboard_addr(stdout: impl Read) -> String {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no dashboard address printed"
        );
        if let Some(rest) = line.split("webmon dashboard on http://").nth(1) {
            return rest.split('/').next().unwrap().to_string();
        }
    }
}

#[test]
fn run_serves_the_dashboard_without_header_secrets() {
    const SECRET: &str = "s3cr3t-token-7d1f0c";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    // An echoing target on loopback: it keeps every request head it receives and
    // answers 200 with that head as the body, so the secret travels to the target and
    // back in the response.
    let (target, heads) = echo_target(Duration::from_secs(60));
    std::fs::write(
        &config,
        format!(
            "checks:\n  - id: secret-api\n    url: http://{target}/private\n    interval: 10s\n    \
             requests: 1\n    timeout: 1s\n    allow_private: true\n    headers:\n      authorization: \"Bearer ${{env:WEBMON_SECRET_TEST_TOKEN}}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(WEBMON)
        .args([
            "run",
            "--allow-private",
            "--port",
            "0",
            "--duration",
            "30s",
            "--config",
        ])
        .arg(&config)
        .arg("--db")
        .arg(dir.path().join("webmon.db"))
        .env("WEBMON_SECRET_TEST_TOKEN", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let outcome = std::panic::catch_unwind(move || {
        let addr = dashboard_addr(stdout);
        // The first execution comes within one interval (10 s) of the start.
        let started = Instant::now();
        let overview = loop {
            let overview = http_get(&addr, "/api/overview?since=1h");
            // Pending (configured, not run yet) until its first result.
            if overview.contains("\"health\":\"down\"")
                || started.elapsed() > Duration::from_secs(25)
            {
                break overview;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        assert!(
            overview.contains("\"check_id\":\"secret-api\""),
            "{overview}"
        );
        // The secret reached the target (resolved from the environment) and came back.
        let received = heads.lock().unwrap().join("\n");
        assert!(
            received.contains(&format!("Bearer {SECRET}")),
            "the target never received the secret header: {received}"
        );
        assert!(overview.contains("\"health\":\"up\""), "{overview}");
        for path in [
            "/",
            "/check/secret-api",
            "/api/checks/secret-api/series",
            "/api/checks/secret-api/phases",
            "/api/checks/secret-api/failures",
        ] {
            let body = http_get(&addr, path);
            assert!(body.starts_with("HTTP/1.1 200"), "{path}: {body}");
            assert!(
                !body.contains(SECRET),
                "{path} shows a header value: {body}"
            );
        }
        assert!(!overview.contains(SECRET));
    });
    child.kill().unwrap();
    child.wait().unwrap();
    outcome.unwrap();
}

/// A loopback HTTP/1.1 target that records each request head and answers 200 with the
/// head as its body; it stops accepting after `lifetime`.
fn echo_target(
    lifetime: Duration,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = heads.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + lifetime;
        while Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                head.len()
            );
            let _ = stream.write_all(response.as_bytes());
            kept.lock().unwrap().push(head);
        }
    });
    (addr, heads)
}
