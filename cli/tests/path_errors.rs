//! Paths named for what is wrong with them, by the binary: a directory given where a
//! checks file, a CA file or a database file is expected, and a `--db` whose directory
//! does not exist. Each exits 2 before anything is created or contacted.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use webmon_testkit::process::output_within;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");

/// Runs `webmon` to completion, killing it past a minute.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(WEBMON);
    command
        .args(args)
        .env_remove("WEBMON_DB")
        .env_remove("WEBMON_AWS_ENDPOINT_URL");
    output_within(
        command,
        Duration::from_secs(60),
        &format!("webmon {args:?}"),
    )
}

/// Asserts exit 2 and that stderr holds `expected`.
fn refused(args: &[&str], expected: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_directory_where_a_file_is_expected_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = s(dir.path());
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        "checks:\n- {id: a, url: 'https://a.example.test/'}\n",
    )
    .unwrap();
    let file = s(&checks);
    let dir_msg = format!("failed to read the checks file {d}: it is a directory, not a file");

    refused(&["validate", d], &dir_msg);
    refused(&["test", d], &dir_msg);
    refused(&["run", d, "--no-ui", "--duration", "1s"], &dir_msg);
    // The commands that read the file through the loader say the same in its words.
    refused(
        &[
            "checks",
            "plan",
            d,
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        "is a directory, not a checks file",
    );
    refused(
        &["check", "https://a.example.test/", "--ca-file", d],
        &format!("failed to read the CA file {d}: it is a directory, not a PEM file"),
    );

    // --db naming a directory, for the command that writes it and those that read it.
    let db_msg = format!(
        "failed to open the result store {d}: it is a directory, not a database file; give a file such as {}",
        s(&dir.path().join("webmon.db"))
    );
    refused(
        &["run", file, "--db", d, "--no-ui", "--duration", "1s"],
        &db_msg,
    );
    refused(&["report", "--db", d], &db_msg);
    refused(&["alerts", "status", "--db", d], &db_msg);
    assert!(!dir.path().join("webmon.db").exists());
}

#[test]
fn a_missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.yaml");
    std::fs::write(
        &checks,
        "checks:\n- {id: a, url: 'https://a.example.test/'}\n",
    )
    .unwrap();
    let file = s(&checks);
    let missing = dir.path().join("not-yet");
    let db = missing.join("webmon.db");
    let expected = format!(
        "failed to open the result store {}: the directory {} does not exist; create it first (mkdir -p {})",
        s(&db),
        s(&missing),
        s(&missing)
    );
    refused(
        &["run", file, "--db", s(&db), "--no-ui", "--duration", "1s"],
        &expected,
    );
    refused(&["report", "--db", s(&db)], &expected);
    assert!(!missing.exists(), "nothing is created");

    let absent = missing.join("checks.yaml");
    refused(
        &["validate", s(&absent)],
        &format!(
            "failed to read the checks file {}: the directory {} does not exist",
            s(&absent),
            s(&missing)
        ),
    );
    refused(&["test", s(&dir.path().join("nope.yaml"))], "checks file");
}
