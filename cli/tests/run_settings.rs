//! The `settings:` block of a checks file, read by the binary: `webmon run` takes its
//! database, region, concurrency, port and bind address from it; `report --config` and
//! `dashboard --config` take the database; a flag beats its environment variable, which
//! beats the file, which beats the default; `validate` names a bad or unknown setting
//! with its line and column, and `run` refuses to start on one. Every target is a demo
//! target on 127.0.0.1.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use webmon_testkit::process::output_within;

fn webmon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmon"));
    for var in [
        "WEBMON_DB",
        "WEBMON_REGION",
        "WEBMON_PORT",
        "WEBMON_BIND",
        "WEBMON_CONCURRENCY",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Waits for `cmd` to finish, killing it past a minute.
fn finish(cmd: Command) -> Output {
    output_within(cmd, Duration::from_secs(60), "webmon")
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

/// The region of the one row `report --json` finds in `db`.
fn reported_region(db: &Path) -> String {
    let mut cmd = webmon();
    cmd.args(["report", "--json", "--db", db.to_str().unwrap()]);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["rows"][0]["region"].as_str().unwrap().to_string()
}

/// An HTTP GET of `/` on 127.0.0.1:port: the status line, or `None` if refused.
fn get(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
}

#[test]
fn run_reads_its_settings_and_flags_and_env_override_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let target = webmon_demo_target::TargetServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ui_port = free_port();
    let config = dir.path().join("checks.yaml");
    std::fs::write(
        &config,
        format!(
            "settings:\n  db: from-file.db\n  region: file-region\n  concurrency: 2\n  port: {ui_port}\n  bind: 127.0.0.1\nchecks:\n  - {{id: ok, url: '{}', requests: 1, allow_private: true}}\n",
            target.url("/ok")
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();

    // The file alone: its database (next to the file, started from elsewhere), its
    // region and its dashboard port.
    let mut cmd = webmon();
    cmd.current_dir(std::env::temp_dir()).args([
        "run",
        config_arg,
        "--allow-private",
        "--duration",
        "3s",
    ]);
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let mut answer = None;
    while answer.is_none() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        answer = get(ui_port);
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        answer.as_deref().is_some_and(|a| a.contains(" 200 ")),
        "the dashboard on settings.port: {answer:?}; {stderr}"
    );
    assert!(stderr.contains("concurrency=2"), "{stderr}");
    let from_file = dir.path().join("from-file.db");
    assert_eq!(reported_region(&from_file), "file-region");
    // `report --config` finds the same database through the file.
    let mut cmd = webmon();
    cmd.args(["report", "--json", "--config", config_arg]);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"][0]["region"], "file-region");
    assert!(
        doc["source"].as_str().unwrap().contains("from-file.db"),
        "{doc}"
    );

    // The environment beats the file.
    let env_db = dir.path().join("env.db");
    let mut cmd = webmon();
    cmd.env("WEBMON_DB", &env_db)
        .env("WEBMON_REGION", "env-region")
        .args([
            "run",
            config_arg,
            "--allow-private",
            "--no-ui",
            "--duration",
            "1s",
        ]);
    let out = finish(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(reported_region(&env_db), "env-region");

    // A flag beats the environment.
    let flag_db = dir.path().join("flag.db");
    let mut cmd = webmon();
    cmd.env("WEBMON_DB", &env_db)
        .env("WEBMON_REGION", "env-region")
        .args([
            "run",
            config_arg,
            "--allow-private",
            "--no-ui",
            "--duration",
            "1s",
            "--db",
            flag_db.to_str().unwrap(),
            "--region",
            "flag-region",
            "--concurrency",
            "3",
        ]);
    let out = finish(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("concurrency=3"));
    assert_eq!(reported_region(&flag_db), "flag-region");
    // env.db saw one run only: the flag's run went elsewhere.
    let mut cmd = webmon();
    cmd.args(["report", "--json", "--db", env_db.to_str().unwrap()]);
    let doc: Value = serde_json::from_slice(&finish(cmd).stdout).unwrap();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 1, "{doc}");
}

#[test]
fn bad_settings_are_named_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checks.yaml");
    std::fs::write(
        &config,
        "checks:\n  - id: a\n    url: https://a.example.test/\nsettings:\n  prt: 8081\n  concurrency: 0\n  bind: localhost\nsetings: {}\n",
    )
    .unwrap();
    let name = config.to_str().unwrap();

    let mut cmd = webmon();
    cmd.args(["validate", name]);
    let out = finish(cmd);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{name}:5:3: error: check \"<file>\": field `settings.prt` = \"8081\": unknown setting; did you mean `port`?"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{name}:6:3: error: check \"<file>\": field `settings.concurrency` = \"0\": must be a whole number from 1 to 65536"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{name}:7:3: error:")) && stdout.contains("must be an IP address"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "field `setings` = \"setings\": unknown top-level field; did you mean `settings`?"
        ),
        "{stdout}"
    );

    // `run` refuses to start on bad settings, naming them the same way; nothing is
    // created.
    std::fs::write(
        &config,
        "settings:\n  port: 99999\nchecks:\n  - id: a\n    url: https://a.example.test/\n",
    )
    .unwrap();
    let mut cmd = webmon();
    cmd.current_dir(dir.path())
        .args(["run", name, "--no-ui", "--duration", "1s"]);
    let out = finish(cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{name}:2:3: check \"<file>\": field `settings.port` = \"99999\": must be a port number from 0 to 65535")),
        "{stderr}"
    );
    assert!(!dir.path().join("webmon.db").exists());
    // A flag given for the bad setting does not make the file valid.
    let mut cmd = webmon();
    cmd.current_dir(dir.path())
        .args(["report", "--config", name]);
    let out = finish(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("settings.port"));
}
