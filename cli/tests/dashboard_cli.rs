//! `webmon dashboard` as a process: serves a store on a free loopback port, and refuses
//! a missing database or an unavailable source with a clear message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

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
    std::fs::File::create(&db).unwrap();
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
        stderr.contains("failed to open the SQLite store") && stderr.contains("nope.db"),
        "{stderr}"
    );
    assert!(!missing.exists(), "a missing database must not be created");

    let out = Command::new(WEBMON)
        .args(["dashboard", "--port", "0", "--source", "timestream"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timestream source needs"), "{stderr}");
}
