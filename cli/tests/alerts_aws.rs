//! `webmon checks put --alert-table`, `webmon alerts test` and `webmon alerts status`
//! against an AWS deployment on moto's server: the alerting document lands in the alert
//! table (and a bad one is refused with nothing written), a test notification is
//! enqueued there and delivered by the notifier (played here from the table's real
//! stream) to a signed webhook on 127.0.0.1, and the status shows the delivery.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webmon_aws::alerting::channels::AwsChannelClients;
use webmon_aws::alerting::deliver::{DeliverySettings, Notifier};
use webmon_aws::alerting::table::AlertTable;
use webmon_core::ports::SystemClock;
use webmon_testkit::emulator::Emulator;
use webmon_testkit::http_recorder::Recorder;
use webmon_testkit::process::output_within;
use webmon_testkit::signature::standard_webhook_signature;
use webmon_testkit::streams::StreamReader;

const WEBMON: &str = env!("CARGO_BIN_EXE_webmon");
const REGION: &str = "eu-central-1";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PREFIX: &str = "webmon/cli/channel/";

fn command(endpoint: &str, args: &[&str]) -> Command {
    let mut c = Command::new(WEBMON);
    c.args(args)
        .env("WEBMON_AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", REGION)
        .env("WEBMON_ALERT_TABLE", "webmon-alerts")
        .env_remove("WEBMON_TABLE");
    c
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    output_within(
        command(endpoint, args),
        Duration::from_secs(60),
        &format!("webmon {args:?}"),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn checks_file(dir: &Path, receiver: &str, defaults_channel: &str) -> String {
    let path = dir.join(format!("checks-{defaults_channel}.yaml"));
    std::fs::write(
        &path,
        format!(
            "channels:\n  - {{type: webhook, id: hook, url: \"{receiver}\", secret: \"${{secret:hook}}\"}}\n\
             alert_defaults:\n  channels: [{defaults_channel}]\n\
             checks:\n  - {{id: shop, url: \"https://shop.example/\", interval: 1m}}\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerting_document_a_test_notification_and_the_status_on_aws() {
    let emulator = Emulator::start().await.expect("emulator");
    let endpoint = emulator.endpoint_url();
    let receiver = Recorder::start(Vec::new());
    let config = emulator.target(REGION).load().await;
    let table = AlertTable::new(aws_sdk_dynamodb::Client::new(&config), "webmon-alerts");
    table.ensure_table().await.unwrap();
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("{PREFIX}hook"))
        .secret_string(json!({ "value": SECRET }).to_string())
        .send()
        .await
        .unwrap();
    let out = run(&endpoint, &["checks", "create-table"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();

    // A document naming a channel that does not exist: refused, nothing written.
    let bad = checks_file(dir.path(), &receiver.url(), "pager");
    let out = run(&endpoint, &["checks", "put", &bad]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pager") && stderr.contains("nothing written"),
        "{stderr}"
    );
    assert!(table.document().await.unwrap().is_none());

    // The good one: checks in the checks table, the document in the alert table.
    let good = checks_file(dir.path(), &receiver.url(), "hook");
    let out = run(&endpoint, &["checks", "put", &good]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("alerting written to webmon-alerts: 1 channels"));
    let document = table.document().await.unwrap().expect("stored");
    assert_eq!(document.channels[0].id(), "hook");

    // `alerts test` enqueues and waits; the notifier delivers from the stream.
    let child = command(
        &endpoint,
        &[
            "alerts",
            "test",
            "hook",
            "--source",
            "timestream",
            "--wait",
            "30s",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let notifier = Notifier::new(
        table.clone(),
        AwsChannelClients::new(&config, PREFIX),
        DeliverySettings::default(),
    );
    let mut stream = StreamReader::open(&emulator.target(REGION), "webmon-alerts").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.requests().is_empty() && Instant::now() < deadline {
        let (response, _) = notifier
            .handle_stream(stream.next_event().await, &SystemClock)
            .await;
        assert!(response.batch_item_failures.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = tokio::task::spawn_blocking(move || {
        // Bounded: the command waits at most 30 s for the delivery (`--wait`).
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("delivered by the notifier"));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    let (id, ts) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
    );
    assert_eq!(
        r.header("webhook-signature").unwrap(),
        standard_webhook_signature(SECRET, id, ts, &r.body)
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "test");

    let out = run(
        &endpoint,
        &["alerts", "status", "--source", "timestream", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["deliveries"]["by_status"]["sent"], 1, "{status}");
}
