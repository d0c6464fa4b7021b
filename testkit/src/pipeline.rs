//! The AWS pipeline's set-up on the emulator, shared by the end-to-end tests of
//! `webmon-aws` and of the CLI: a probe region's adapters, the home queue, checks
//! against local targets, stream events and the rules' rendered inputs.

use crate::emulator::Emulator;
use aws_lambda_events::event::dynamodb::Event;
use webmon_aws::dynamodb::{check_to_item, DynamoCheckRepository};
use webmon_aws::eventbridge::EventBridgeRules;
use webmon_aws::sqs::SqsResultQueue;
use webmon_core::check::{Check, RawCheck};
use webmon_core::reconcile::RULE_PREFIX;

/// One probe region's adapters on the emulator.
pub struct Region {
    /// The region's name.
    pub name: String,
    /// Its checks table (a replica of the global table).
    pub table: DynamoCheckRepository,
    /// Its EventBridge rules, targeting its probe Lambda.
    pub rules: EventBridgeRules,
    /// Its EventBridge client.
    pub events: aws_sdk_eventbridge::Client,
    /// Its DynamoDB client.
    pub ddb: aws_sdk_dynamodb::Client,
}

/// The adapters of probe region `name`, with its checks table created.
pub async fn region(emulator: &Emulator, name: &str) -> Region {
    let config = emulator.target(name).load().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let table = DynamoCheckRepository::new(ddb.clone(), "webmon-checks");
    table.ensure_table().await.unwrap();
    let arn = format!("arn:aws:lambda:{name}:123456789012:function:webmon-probe");
    Region {
        name: name.into(),
        table,
        rules: EventBridgeRules::new(events.clone(), RULE_PREFIX, arn),
        events,
        ddb,
    }
}

/// Probe region `name` with every one of `checks` written to its table (as global-table
/// replication would) and its rules reconciled from the stream batch of those writes, as
/// its config Lambda would.
pub async fn configured_region(emulator: &Emulator, name: &str, checks: &[Check]) -> Region {
    let region = region(emulator, name).await;
    for check in checks {
        region.table.put(check).await.unwrap();
    }
    let (response, _) = webmon_aws::service::reconcile::handle_stream(
        &region.table,
        &region.rules,
        name,
        insert_event(name, checks),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{name}: {:?}",
        response.batch_item_failures
    );
    region
}

/// The home region's queue (with its dead-letter queue).
pub async fn home_queue(emulator: &Emulator, region: &str) -> (SqsResultQueue, SqsResultQueue) {
    let sqs = aws_sdk_sqs::Client::new(&emulator.target(region).load().await);
    let (url, dlq) = webmon_aws::sqs::create_queue_with_dlq(&sqs, "webmon-results", 3)
        .await
        .unwrap();
    (
        SqsResultQueue::new(sqs.clone(), url),
        SqsResultQueue::new(sqs, dlq),
    )
}

/// A check against a local target (private addresses allowed), tagged `suite: e2e`.
pub fn check(id: &str, url: &str, interval: &str, regions: &[&str]) -> Check {
    RawCheck {
        id: id.into(),
        url: url.into(),
        interval: Some(interval.into()),
        requests: Some(1),
        timeout: Some("2s".into()),
        allow_private: Some(true),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        tags: [("suite".to_string(), "e2e".to_string())].into(),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

/// A DynamoDB stream batch of INSERTs for `checks`, as the table's stream delivers it.
pub fn insert_event(region: &str, checks: &[Check]) -> Event {
    let records: Vec<serde_json::Value> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let image = serde_json::to_value(serde_dynamo::Item::from(check_to_item(c).unwrap())).unwrap();
            serde_json::json!({
                "eventID": format!("e{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "eventSourceARN": format!("arn:aws:dynamodb:{region}:123456789012:table/webmon-checks/stream/2026-01-01T00:00:00.000"),
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": { "pk": { "S": c.id } },
                    "NewImage": image,
                    "SequenceNumber": format!("{}", 1000 + i),
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// Every `webmon-` rule of a region with the input its target receives for an event
/// at `time` (RFC 3339), as EventBridge renders the input transformer.
pub async fn rule_inputs(
    events: &aws_sdk_eventbridge::Client,
    time: &str,
) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    let rules = events
        .list_rules()
        .name_prefix(RULE_PREFIX)
        .send()
        .await
        .unwrap()
        .rules
        .unwrap_or_default();
    for rule in rules {
        let name = rule.name.unwrap();
        let targets = events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap()
            .targets
            .unwrap_or_default();
        let template = targets[0]
            .input_transformer
            .as_ref()
            .map(|t| t.input_template.clone())
            .or_else(|| targets[0].input.clone())
            .unwrap();
        let rendered = webmon_aws::eventbridge::render_input(&template, time);
        let input = serde_json::from_str(&rendered).unwrap();
        out.push((name, input));
    }
    out
}
