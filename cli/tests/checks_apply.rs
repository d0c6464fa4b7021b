//! `webmon checks plan` and `webmon checks apply` as processes against moto's server:
//! the plan lists adds, changes (with the fields that differ) and the removals a prune
//! would make; apply makes the table match, a second apply changes nothing and says
//! so; an invalid file exits 2 and leaves the table untouched; a missing table points
//! to `webmon checks create-table`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use webmon_testkit::emulator::Emulator;
use webmon_testkit::process::output_within;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");
const REGION: &str = "eu-west-1";

/// Runs `webmon` against the emulator to completion, killing it past a minute.
fn run(endpoint: &str, table: &str, args: &[&str]) -> Output {
    let mut command = Command::new(WEBMON);
    command
        .args(args)
        .args([
            "--table",
            table,
            "--region",
            REGION,
            "--endpoint-url",
            endpoint,
        ])
        .env_remove("WEBMON_AWS_ENDPOINT_URL")
        .env_remove("WEBMON_TABLE");
    output_within(
        command,
        Duration::from_secs(60),
        &format!("webmon {args:?}"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(path: &Path, yaml: &str) -> String {
    std::fs::write(path, yaml).unwrap();
    path.to_str().unwrap().to_string()
}

/// The table's checks as `checks list --json` gives them: id -> (url, interval).
fn listed(endpoint: &str, table: &str) -> Vec<(String, String, String)> {
    let out = run(endpoint, table, &["checks", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["url"].as_str().unwrap().to_string(),
                c["interval"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn check(id: &str, url: &str, interval: &str) -> (String, String, String) {
    (id.into(), url.into(), interval.into())
}

// The emulator's proxy runs on the runtime while the test blocks on child processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_apply_make_the_table_match_the_file() {
    let emulator = Emulator::start()
        .await
        .expect("moto_server (pip install 'moto[server]')");
    let endpoint = emulator.endpoint_url();
    let dir = tempfile::tempdir().unwrap();
    let table = "webmon-checks";

    // No table yet: the plan says how to create it.
    let first = write(
        &dir.path().join("first.yaml"),
        "checks:\n\
         - {id: api, url: 'https://api.example.test/health', interval: 60s}\n\
         - {id: shop, url: 'https://shop.example.test/'}\n\
         - {id: old, url: 'https://old.example.test/'}\n",
    );
    let out = run(&endpoint, table, &["checks", "plan", &first]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the table webmon-checks does not exist")
            && stderr.contains("webmon checks create-table --table webmon-checks"),
        "{stderr}"
    );
    assert!(!stderr.contains("ServiceError {"), "a debug dump: {stderr}");
    for args in [
        vec!["checks", "list"],
        vec!["checks", "apply", &first],
        vec!["checks", "put", &first],
    ] {
        let out = run(&endpoint, table, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("does not exist; create it with `webmon checks create-table"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("ServiceError {"), "a debug dump: {stderr}");
    }

    let out = run(&endpoint, table, &["checks", "create-table"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // An empty table: everything is an add.
    let out = run(&endpoint, table, &["checks", "plan", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("+ add api (1m in group"), "{stdout}");
    assert!(
        stdout.contains("3 to add, 0 to change, 0 to remove with --prune, 0 unchanged"),
        "{stdout}"
    );
    assert!(
        listed(&endpoint, table).is_empty(),
        "plan wrote to the table"
    );

    let out = run(&endpoint, table, &["checks", "apply", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3 added, 0 changed, 0 removed, 0 unchanged"));
    assert_eq!(
        listed(&endpoint, table),
        [
            check("api", "https://api.example.test/health", "1m"),
            check("old", "https://old.example.test/", "1m"),
            check("shop", "https://shop.example.test/", "1m"),
        ]
    );

    // The same file again: nothing to do, and it says so.
    let out = run(&endpoint, table, &["checks", "apply", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "no changes: webmon-checks already matches {first} (3 checks)"
        )),
        "{stdout}"
    );

    // A changed file: api moves to 30s with a new path, shop stays, old is gone, new
    // is added.
    let second = write(
        &dir.path().join("second.yaml"),
        "checks:\n\
         - {id: api, url: 'https://api.example.test/ready', interval: 30s}\n\
         - {id: shop, url: 'https://shop.example.test/'}\n\
         - {id: new, url: 'https://new.example.test/'}\n",
    );
    let out = run(&endpoint, table, &["checks", "plan", &second]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("+ add new ("), "{stdout}");
    assert!(
        stdout.contains("~ change api: interval, schedule_group, url"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    interval: \"60s\" -> \"30s\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "    url: \"https://api.example.test/health\" -> \"https://api.example.test/ready\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("- remove old (not in the file; only with --prune)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 to add, 1 to change, 1 to remove with --prune, 1 unchanged"),
        "{stdout}"
    );

    // Without --prune the absent check stays, and the output names it.
    let out = run(&endpoint, table, &["checks", "apply", &second]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 added, 1 changed, 0 removed, 1 unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kept 1 not in the file (--prune deletes them): old"),
        "{stdout}"
    );
    assert_eq!(
        listed(&endpoint, table),
        [
            check("api", "https://api.example.test/ready", "30s"),
            check("new", "https://new.example.test/", "1m"),
            check("old", "https://old.example.test/", "1m"),
            check("shop", "https://shop.example.test/", "1m"),
        ]
    );
    let out = run(&endpoint, table, &["checks", "apply", &second]);
    assert!(
        text(&out.stdout).contains("no changes"),
        "{}",
        text(&out.stdout)
    );

    // With --prune it goes; then a second prune has nothing left to do.
    let out = run(&endpoint, table, &["checks", "apply", &second, "--prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("removed old") && stdout.contains("0 added, 0 changed, 1 removed"),
        "{stdout}"
    );
    let out = run(&endpoint, table, &["checks", "apply", &second, "--prune"]);
    assert!(
        text(&out.stdout).contains("no changes: webmon-checks already matches"),
        "{}",
        text(&out.stdout)
    );
    let settled = listed(&endpoint, table);
    assert_eq!(
        settled.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["api", "new", "shop"]
    );

    // An invalid file: every error, exit 2, the table untouched (even with --prune).
    let bad = write(
        &dir.path().join("bad.yaml"),
        "checks:\n\
         - {id: api, url: 'https://api.example.test/', interval: 7s}\n",
    );
    for args in [
        vec!["checks", "plan", &bad],
        vec!["checks", "apply", &bad, "--prune"],
    ] {
        let out = run(&endpoint, table, &args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("api") && stderr.contains("interval") && stderr.contains("7s"),
            "{stderr}"
        );
        assert!(stderr.contains("the table was not touched"), "{stderr}");
    }
    assert_eq!(listed(&endpoint, table), settled);
}
