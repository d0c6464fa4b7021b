//! The config Lambda against moto's server: real stream event fixtures and the stream
//! records moto itself produced for puts, updates and deletes, bin-packed rules and
//! targets read back from EventBridge, API calls counted by the emulator's proxy.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use webmon_aws::dynamodb::{DynamoCheckRepository, Item, GROUP_ATTR};
use webmon_aws::eventbridge::EventBridgeRules;
use webmon_core::check::RawCheck;
use webmon_core::reconcile::RULE_PREFIX;
use webmon_core::schedule::GroupKey;
use webmon_testkit::emulator::{Emulator, Fault};

const REGION: &str = "eu-west-1";
const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:webmon-probe";
/// The one rule of the every-minute schedule.
const RULE: &str = "webmon-every-1m-0";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/config-lambda/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn group_of(id: &str, interval: &str) -> GroupKey {
    RawCheck {
        id: id.into(),
        url: "https://example.com".into(),
        interval: Some(interval.into()),
        timeout: Some("1s".into()),
        ..Default::default()
    }
    .validate()
    .map(|c| GroupKey::of(&c))
    .unwrap()
}

struct Setup {
    emulator: Emulator,
    table: DynamoCheckRepository,
    rules: EventBridgeRules,
    ddb: aws_sdk_dynamodb::Client,
    events: aws_sdk_eventbridge::Client,
}

async fn setup() -> Setup {
    let emulator = Emulator::start().await.expect("emulator");
    let config = emulator.target(REGION).load().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let table = DynamoCheckRepository::new(ddb.clone(), "webmon-checks");
    table.ensure_table().await.unwrap();
    // Items as a user writes them with `aws dynamodb put-item`: no schedule_group.
    let items: HashMap<String, serde_json::Value> =
        serde_json::from_str(&fixture("items.json")).unwrap();
    for value in items.values() {
        let item: Item = serde_dynamo::to_item(value).unwrap();
        ddb.put_item()
            .table_name("webmon-checks")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let rules = EventBridgeRules::new(events.clone(), RULE_PREFIX, ARN);
    Setup {
        emulator,
        table,
        rules,
        ddb,
        events,
    }
}

fn mutations(emulator: &Emulator) -> u64 {
    ["PutRule", "PutTargets", "DeleteRule", "RemoveTargets"]
        .iter()
        .map(|op| emulator.count("events", op))
        .sum()
}

async fn rule_names(events: &aws_sdk_eventbridge::Client) -> Vec<String> {
    let out = events.list_rules().send().await.unwrap();
    let mut names: Vec<String> = out
        .rules
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.name)
        .collect();
    names.sort();
    names
}

async fn input_of(events: &aws_sdk_eventbridge::Client) -> serde_json::Value {
    let targets = events
        .list_targets_by_rule()
        .rule(RULE)
        .send()
        .await
        .unwrap()
        .targets
        .unwrap();
    // The rule's input is a template EventBridge fills with the event's time, so a
    // retried invocation probes the minute it was triggered for.
    let transformer = targets[0]
        .input_transformer
        .as_ref()
        .expect("an input transformer");
    assert_eq!(
        transformer
            .input_paths_map
            .as_ref()
            .and_then(|m| m.get("time"))
            .map(String::as_str),
        Some("$.time")
    );
    assert!(targets[0].input.is_none());
    serde_json::from_str(&transformer.input_template).unwrap()
}

#[tokio::test]
async fn stream_creates_rules_replay_changes_nothing_and_removal_deletes() {
    let s = setup().await;
    let event: Event = serde_json::from_str(&fixture("stream_insert.json")).unwrap();
    let (response, summary) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, event.clone())
            .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        summary.invalid_items, 1,
        "the broken item is reported and skipped"
    );
    assert_eq!(summary.groups_backfilled, 3);

    // home (1 min) and api (30 s) both fire every minute: one rule carries both groups.
    let (home, api) = (group_of("home", "1m"), group_of("api", "30s"));
    assert_eq!(
        rule_names(&s.events).await,
        [RULE],
        "us-only runs elsewhere; broken is invalid"
    );
    let rule = s.events.describe_rule().name(RULE).send().await.unwrap();
    assert_eq!(
        rule.schedule_expression.as_deref(),
        Some("cron(* * * * ? *)")
    );
    let targets = s
        .events
        .list_targets_by_rule()
        .rule(RULE)
        .send()
        .await
        .unwrap()
        .targets
        .unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].arn, ARN);
    let mut groups = [home, api];
    groups.sort();
    assert_eq!(
        input_of(&s.events).await,
        serde_json::json!({ "groups": groups.iter().map(GroupKey::name).collect::<Vec<_>>(), "time": "<time>" })
    );

    // The items now carry their group, so the probe's index query finds them.
    let item = s
        .ddb
        .get_item()
        .table_name("webmon-checks")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("api".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(item.item.unwrap()[GROUP_ATTR].as_s().unwrap(), &api.name());

    // Replay: nothing changes, no rule is written.
    let before = mutations(&s.emulator);
    let (response, summary) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((summary.rules_put, summary.rules_deleted), (0, 0));
    assert_eq!(
        mutations(&s.emulator),
        before,
        "a replay makes no EventBridge change"
    );

    // Removing the group's last check drops the group from the rule's input.
    s.table.delete("api").await.unwrap();
    let remove: Event = serde_json::from_str(&fixture("stream_remove.json")).unwrap();
    let (response, summary) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, remove.clone())
            .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((summary.rules_put, summary.rules_deleted), (1, 0));
    assert_eq!(rule_names(&s.events).await, [RULE]);
    assert_eq!(
        input_of(&s.events).await,
        serde_json::json!({ "groups": [home.name()], "time": "<time>" })
    );

    // The schedule's last check gone, its rule goes too.
    s.table.delete("home").await.unwrap();
    let mut last = remove;
    let home_item: Item = serde_dynamo::to_item(
        serde_json::from_str::<HashMap<String, serde_json::Value>>(&fixture("items.json")).unwrap()
            ["home"]
            .clone(),
    )
    .unwrap();
    last.records[0].change.keys = serde_dynamo::Item::from(HashMap::from([(
        "pk".to_string(),
        aws_sdk_dynamodb::types::AttributeValue::S("home".into()),
    )]));
    last.records[0].change.old_image = serde_dynamo::Item::from(home_item);
    let (response, summary) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, last).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((summary.rules_put, summary.rules_deleted), (0, 1));
    assert!(rule_names(&s.events).await.is_empty());
}

#[tokio::test]
async fn resync_restores_missing_rules_and_removes_orphans_only() {
    let s = setup().await;
    s.events
        .put_rule()
        .name("webmon-junk")
        .schedule_expression("rate(5 minutes)")
        .send()
        .await
        .unwrap();
    // A rule of an older release (one per group) and an item with a stale group.
    s.events
        .put_rule()
        .name("webmon-1m-3")
        .schedule_expression("cron(* * * * ? *)")
        .send()
        .await
        .unwrap();
    s.ddb
        .update_item()
        .table_name("webmon-checks")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("home".into()),
        )
        .update_expression("SET schedule_group = :g")
        .expression_attribute_values(
            ":g",
            aws_sdk_dynamodb::types::AttributeValue::S("1m-40".into()),
        )
        .send()
        .await
        .unwrap();
    s.events
        .put_rule()
        .name("someone-elses-rule")
        .schedule_expression("rate(5 minutes)")
        .send()
        .await
        .unwrap();
    let payload = serde_json::json!({ "resync": true });
    let out = webmon_aws::service::reconcile::handle(&s.table, &s.rules, REGION, payload.clone())
        .await
        .unwrap();
    assert_eq!(out["rules_put"], 1);
    assert_eq!(out["rules"], 1);
    assert_eq!(out["rules_deleted"], 2, "the orphan and the one-group rule");
    assert_eq!(out["invalid_items"], 1);
    assert_eq!(
        out["groups_backfilled"], 3,
        "home, api and us-only had no group, or a stale one"
    );
    assert_eq!(rule_names(&s.events).await, ["someone-elses-rule", RULE]);
    let before = mutations(&s.emulator);
    let again = webmon_aws::service::reconcile::handle(&s.table, &s.rules, REGION, payload)
        .await
        .unwrap();
    assert_eq!(
        (
            again["rules_put"].as_u64(),
            again["rules_deleted"].as_u64(),
            again["groups_backfilled"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(mutations(&s.emulator), before);
}

#[tokio::test]
async fn transient_failures_are_reported_for_retry_by_sequence_number() {
    let s = setup().await;
    s.emulator.inject(Fault::ServerError {
        operation: "PutRule".into(),
        calls: 100,
    });
    let event: Event = serde_json::from_str(&fixture("stream_insert.json")).unwrap();
    let (response, summary) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, event.clone())
            .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    let home_seq = event.records[0].change.sequence_number.clone().unwrap();
    assert!(failed.contains(&home_seq), "{failed:?}");
    assert_eq!(summary.failed_records, failed.len());
    // The retry succeeds once the service is back.
    s.emulator.clear_faults();
    let (response, _) =
        webmon_aws::service::reconcile::handle_stream(&s.table, &s.rules, REGION, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(rule_names(&s.events).await, [RULE]);
}

/// DynamoDB Streams on moto's server, read as Lambda's event source mapping reads them:
/// `DescribeStream`, `GetShardIterator` (from the start of the shard) and `GetRecords`
/// from each batch's `NextShardIterator`, each record given the stream's ARN as
/// `eventSourceARN`, the batch delivered as `{"Records": [...]}`. Moto answers unsigned
/// JSON requests that name the service in the credential scope.
struct StreamReader {
    moto: std::net::SocketAddr,
    stream_arn: String,
    iterator: String,
}

/// One JSON call to moto's streams API over plain HTTP/1.1.
fn streams_call(
    moto: std::net::SocketAddr,
    operation: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut conn = std::net::TcpStream::connect(moto).unwrap();
    write!(
        conn,
        "POST / HTTP/1.1\r\nHost: {moto}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDBStreams_20120810.{operation}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/dynamodb/aws4_request\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{operation}: {answer}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{operation}: {e}: {body}"))
}

impl StreamReader {
    async fn open(emulator: &Emulator, ddb: &aws_sdk_dynamodb::Client) -> Self {
        let table = ddb
            .describe_table()
            .table_name("webmon-checks")
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(
            table
                .stream_specification
                .as_ref()
                .map(|s| s.stream_enabled),
            Some(true),
            "the table's stream is on"
        );
        let stream_arn = table.latest_stream_arn.expect("a stream ARN");
        let moto: std::net::SocketAddr = emulator
            .moto_url()
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let described = streams_call(
            moto,
            "DescribeStream",
            &serde_json::json!({ "StreamArn": stream_arn }),
        );
        assert_eq!(
            described["StreamDescription"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        let shard = described["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .expect("a shard")
            .to_string();
        let iterator = streams_call(
            moto,
            "GetShardIterator",
            &serde_json::json!({ "StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" }),
        )["ShardIterator"]
            .as_str()
            .unwrap()
            .to_string();
        Self {
            moto,
            stream_arn,
            iterator,
        }
    }

    /// The records written since the last batch, as the event Lambda delivers.
    fn next_batch(&mut self) -> Event {
        let answer = streams_call(
            self.moto,
            "GetRecords",
            &serde_json::json!({ "ShardIterator": self.iterator }),
        );
        self.iterator = answer["NextShardIterator"].as_str().unwrap().to_string();
        let records: Vec<serde_json::Value> = answer["Records"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(|mut r| {
                r["eventSourceARN"] = self.stream_arn.clone().into();
                r
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records }))
            .expect("moto's stream records read as Lambda's DynamoDB event")
    }
}

/// `"<event name> <check id>"` per record.
fn event_names(event: &Event) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| {
            let key: HashMap<String, serde_json::Value> =
                serde_dynamo::from_item(r.change.keys.clone()).unwrap();
            format!("{} {}", r.event_name, key["pk"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn stream_records_moto_produced_create_update_and_remove_rules() {
    let emulator = Emulator::start().await.expect("emulator");
    let config = emulator.target(REGION).load().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let table = DynamoCheckRepository::new(ddb.clone(), "webmon-checks");
    table.ensure_table().await.unwrap();
    let rules = EventBridgeRules::new(events.clone(), RULE_PREFIX, ARN);
    let mut stream = StreamReader::open(&emulator, &ddb).await;
    let (t, r) = (&table, &rules);
    let handle =
        move |event: Event| webmon_aws::service::reconcile::handle_stream(t, r, REGION, event);

    // Inserts, as a user writes items (no schedule_group).
    let items: HashMap<String, serde_json::Value> =
        serde_json::from_str(&fixture("items.json")).unwrap();
    for id in ["home", "api", "us-only", "broken"] {
        let item: Item = serde_dynamo::to_item(&items[id]).unwrap();
        ddb.put_item()
            .table_name("webmon-checks")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let inserts = stream.next_batch();
    assert_eq!(
        event_names(&inserts),
        [
            "INSERT home",
            "INSERT api",
            "INSERT us-only",
            "INSERT broken"
        ]
    );
    let (response, summary) = handle(inserts).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!((summary.invalid_items, summary.groups_backfilled), (1, 3));
    let (home, api) = (group_of("home", "1m"), group_of("api", "30s"));
    let mut groups = [home, api];
    groups.sort();
    assert_eq!(rule_names(&events).await, [RULE]);
    assert_eq!(
        input_of(&events).await,
        serde_json::json!({ "groups": groups.iter().map(GroupKey::name).collect::<Vec<_>>(), "time": "<time>" })
    );

    // The backfill of schedule_group is itself a change the stream delivers: that batch
    // of MODIFY records changes no rule.
    let backfill = stream.next_batch();
    assert_eq!(
        event_names(&backfill),
        ["MODIFY home", "MODIFY api", "MODIFY us-only"]
    );
    let before = mutations(&emulator);
    let (response, summary) = handle(backfill).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((summary.rules_put, summary.rules_deleted), (0, 0));
    assert_eq!(mutations(&emulator), before);

    // An update: api moves from 30 s to 5 min, so from the every-minute rule to a
    // rule of its own period.
    ddb.update_item()
        .table_name("webmon-checks")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("api".into()),
        )
        .update_expression("SET #i = :i")
        .expression_attribute_names("#i", "interval")
        .expression_attribute_values(
            ":i",
            aws_sdk_dynamodb::types::AttributeValue::S("5m".into()),
        )
        .send()
        .await
        .unwrap();
    let update = stream.next_batch();
    assert_eq!(event_names(&update), ["MODIFY api"]);
    let (response, summary) = handle(update).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        summary.groups_backfilled, 1,
        "api's new group is written back"
    );
    assert_eq!(rule_names(&events).await, [RULE, "webmon-every-5m-0"]);
    assert_eq!(
        input_of(&events).await,
        serde_json::json!({ "groups": [home.name()], "time": "<time>" })
    );
    let five = events
        .list_targets_by_rule()
        .rule("webmon-every-5m-0")
        .send()
        .await
        .unwrap()
        .targets
        .unwrap();
    let template: serde_json::Value =
        serde_json::from_str(&five[0].input_transformer.as_ref().unwrap().input_template).unwrap();
    assert_eq!(
        template["groups"],
        serde_json::json!([group_of("api", "5m").name()])
    );
    let (response, _) = handle(stream.next_batch()).await;
    assert!(response.batch_item_failures.is_empty());

    // Removals: with home and api gone, no rule is left.
    for id in ["home", "api"] {
        ddb.delete_item()
            .table_name("webmon-checks")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
            .send()
            .await
            .unwrap();
    }
    let removals = stream.next_batch();
    assert_eq!(event_names(&removals), ["REMOVE home", "REMOVE api"]);
    let (response, summary) = handle(removals).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(summary.rules_deleted, 2);
    assert!(rule_names(&events).await.is_empty());
}
