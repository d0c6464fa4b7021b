//! The Amazon SES channel: one email per notification (v2 `SendEmail`, simple
//! content: the title as subject, the plain text as body).

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
pub use aws_sdk_sesv2::Client;
use webmon_notify::render::plain_text;
use webmon_notify::{Channel, Delivery, Notification, NotifyError};

use super::channels::aws_failure;

/// Sends from one address to a list.
pub struct SesChannel {
    id: String,
    from: String,
    to: Vec<String>,
    client: Client,
}

impl SesChannel {
    /// The channel `id` sending from `from` to `to`.
    pub fn new(id: String, from: String, to: Vec<String>, client: Client) -> Self {
        Self {
            id,
            from,
            to,
            client,
        }
    }
}

#[async_trait]
impl Channel for SesChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let content = |text: String| Content::builder().data(text).build().expect("complete");
        let message = Message::builder()
            .subject(content(n.title()))
            .body(Body::builder().text(content(plain_text(n))).build())
            .build();
        let client = &self.client;
        let out = client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(self.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| aws_failure(&self.id, e))?;
        Ok(Delivery {
            status: 200,
            reference: out.message_id,
        })
    }
}
