//! Reads a table's DynamoDB stream from the emulator and hands the records over in the
//! shape Lambda's stream poller delivers (`aws_lambda_events` `Event`), keys only, so a
//! test plays the event source mapping of a stream consumer.
//!
//! Each read asks for a new iterator after the last sequence number seen (rather than
//! following `NextShardIterator`): moto's server replaces a table's stream shard when
//! it rolls back a cancelled transaction, and an old iterator would then read nothing.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use serde_json::{json, Value};
use webmon_aws::config::AwsTarget;

/// A reader positioned after the records it returned.
pub struct StreamReader {
    client: Client,
    /// Last sequence number read per shard.
    last: HashMap<String, String>,
    arn: String,
}

impl StreamReader {
    /// Opens the stream of `table` in the target's region, at its beginning.
    pub async fn open(target: &AwsTarget, table: &str) -> Self {
        let client = Client::new(&target.load().await);
        let streams = client
            .list_streams()
            .table_name(table)
            .send()
            .await
            .expect("ListStreams");
        let arn = streams
            .streams()
            .first()
            .and_then(|s| s.stream_arn())
            .expect("the table has a stream")
            .to_string();
        Self {
            client,
            last: HashMap::new(),
            arn,
        }
    }

    /// Every record written since the last call, in shard order, as one Lambda event.
    pub async fn next_event(&mut self) -> Event {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .expect("DescribeStream");
        let shards: Vec<String> = described
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            let request = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.arn)
                .shard_id(&shard);
            let request = match self.last.get(&shard) {
                Some(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = request
                .send()
                .await
                .expect("GetShardIterator")
                .shard_iterator;
            let Some(iterator) = iterator else { continue };
            let out = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .expect("GetRecords");
            if let Some(seq) = out
                .records()
                .iter()
                .filter_map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
                .next_back()
            {
                self.last.insert(shard.clone(), seq.to_string());
            }
            for r in out.records() {
                let Some(change) = r.dynamodb() else { continue };
                let keys: serde_json::Map<String, Value> = change
                    .keys()
                    .map(|k| {
                        k.iter()
                            .filter_map(|(name, v)| match v {
                                AttributeValue::S(s) => Some((name.clone(), json!({"S": s}))),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(json!({
                    "eventID": r.event_id().unwrap_or_default(),
                    "eventName": r.event_name().map(|n| n.as_str().to_string()).unwrap_or_default(),
                    "eventSource": "aws:dynamodb",
                    "eventVersion": "1.1",
                    "awsRegion": r.aws_region().unwrap_or_default(),
                    "eventSourceARN": self.arn,
                    "dynamodb": {
                        "Keys": keys,
                        "SequenceNumber": change.sequence_number().unwrap_or_default(),
                        "SizeBytes": change.size_bytes().unwrap_or_default(),
                        "StreamViewType": "NEW_IMAGE",
                        "ApproximateCreationDateTime": 0,
                    },
                }));
            }
        }
        serde_json::from_value(json!({ "Records": records })).expect("a stream event")
    }
}
