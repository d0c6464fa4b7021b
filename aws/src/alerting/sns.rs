//! The Amazon SNS channel: publishes the title as subject, the plain text as message,
//! and the notification id as the message attribute `webmon_id` (subscribers dedupe
//! on it).

use async_trait::async_trait;
pub use aws_sdk_sns::Client;
use webmon_notify::render::plain_text;
use webmon_notify::{Channel, Delivery, Notification, NotifyError};

use super::channels::aws_failure;

/// Longest SNS subject.
const MAX_SUBJECT_CHARS: usize = 99;

/// Publishes to one topic.
pub struct SnsChannel {
    id: String,
    topic_arn: String,
    client: Client,
}

impl SnsChannel {
    /// The channel `id` publishing to `topic_arn`.
    pub fn new(id: String, topic_arn: String, client: Client) -> Self {
        Self {
            id,
            topic_arn,
            client,
        }
    }
}

#[async_trait]
impl Channel for SnsChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let subject: String = n
            .title()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_SUBJECT_CHARS)
            .collect();
        let client = &self.client;
        let out = client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(plain_text(n))
            .message_attributes(
                "webmon_id",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(&n.id)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| aws_failure(&self.id, e))?;
        Ok(Delivery {
            status: 200,
            reference: out.message_id,
        })
    }
}
