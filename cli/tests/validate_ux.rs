//! `webmon validate` on files with many problems: every error of every check, even next
//! to an unknown field or a value of the wrong type, with line and column, a "did you
//! mean" for misspelled fields and words a person reads; friendly forms accepted;
//! stdin; warnings for an empty file and for private addresses.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn webmon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webmon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

const FILE: &str = "checks:
  - id: typo
    url: https://typo.example
    intervall: 1m
    requests: many
    timeout: 90s
  - id: friendly
    url: https://friendly.example
    interval: 30
    assertions:
      status: 200
      body_contains: ok
  - id: wrong-type
    url: https://wrong.example
    enabled: maybe
    max_redirects: 99
";

#[test]
fn validate_lists_every_error_with_its_place_and_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(&file, FILE).unwrap();
    let out = webmon(&["validate", file.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let f = file.display();
    for expected in [
        format!("{f}:4:5: error: check \"typo\": field `intervall` = \"1m\": unknown field; did you mean `interval`?"),
        format!("{f}:5:5: error: check \"typo\": field `requests` = \"many\": expected a whole number"),
        format!("{f}:6:5: error: check \"typo\": field `timeout` = \"90s\""),
        format!("{f}:15:5: error: check \"wrong-type\": field `enabled` = \"maybe\": expected true or false"),
        format!("{f}:16:5: error: check \"wrong-type\": field `max_redirects` = \"99\""),
    ] {
        assert!(stdout.contains(&expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("friendly"),
        "single values and plain seconds are fine: {stdout}"
    );
    assert!(!stdout.contains("u32"), "{stdout}");

    // The same from stdin, as JSON with lines and columns.
    let out = webmon(&["validate", "--json", "-"], Some(FILE));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], 1);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 5, "{doc}");
    assert_eq!(doc["errors"][0]["line"], 4);
    assert_eq!(doc["errors"][0]["column"], 5);
}

#[test]
fn validate_warns_about_an_empty_file_and_private_addresses() {
    let out = webmon(&["validate", "-"], Some("checks: []\n"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("warning: the file has no valid checks"),
        "{stdout}"
    );

    let text = "checks:\n  - {id: local, url: 'http://127.0.0.1:8089/ok'}\n  - {id: lan, url: 'http://10.1.2.3/', allow_private: true}\n  - {id: public, url: 'https://example.com/'}\n";
    let out = webmon(&["validate", "-"], Some(text));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("check \"local\": url http://127.0.0.1:8089/ok is a loopback address"),
        "{stdout}"
    );
    assert!(
        stdout.contains("check \"lan\": url http://10.1.2.3/ is a private address"),
        "{stdout}"
    );
    assert!(!stdout.contains("\"public\""), "{stdout}");
    let out = webmon(&["validate", "--allow-private", "-"], Some(text));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("\"lan\""), "allowed by both: {stdout}");

    let out = webmon(&["validate", "/no/such/file.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to read the checks file"));
}
