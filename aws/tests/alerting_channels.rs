//! The notifier's AWS channels on moto's server: SNS (a topic with an SQS queue
//! subscribed, read back), SES (the sent message read from the emulator's state), and
//! the refusal of `${env:...}` in a channel on AWS (the notifier's environment is the
//! operator's).

use serde_json::Value;
use webmon_aws::alerting::channels::AwsChannelClients;
use webmon_aws::alerting::deliver::{Attempt, DeliverySettings, Notifier};
use webmon_aws::alerting::outbox::Status;
use webmon_aws::alerting::table::AlertTable;
use webmon_core::alert::{AlertDocument, ChannelConfig, NotificationIntent};
use webmon_core::ports::SystemClock;
use webmon_testkit::emulator::Emulator;

const HOME: &str = "eu-central-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_ses_deliver_and_env_references_are_refused() {
    let emulator = Emulator::start().await.expect("emulator");
    let config = emulator.target(HOME).load().await;
    let table = AlertTable::new(aws_sdk_dynamodb::Client::new(&config), "webmon-alerts");
    table.ensure_table().await.unwrap();

    // SNS: a topic with a queue subscribed (raw delivery off: the queue gets the SNS
    // envelope with subject, message and attributes).
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("webmon-alerts")
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = sqs
        .create_queue()
        .queue_name("alerts-inbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{HOME}:123456789012:alerts-inbox");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();
    // SES: the sender must be a verified identity.
    let ses = aws_sdk_sesv2::Client::new(&config);
    ses.create_email_identity()
        .email_identity("alerts@example.com")
        .send()
        .await
        .unwrap();

    let document = AlertDocument {
        channels: vec![
            ChannelConfig::Sns {
                id: "topic".into(),
                topic_arn: topic_arn.clone(),
            },
            ChannelConfig::Ses {
                id: "mail".into(),
                from: "alerts@example.com".into(),
                to: vec!["oncall@example.com".into()],
            },
            ChannelConfig::Webhook {
                id: "leaky".into(),
                url: "http://127.0.0.1:9/".into(),
                secret: "${env:AWS_SECRET_ACCESS_KEY}".into(),
            },
        ],
        ..Default::default()
    };
    table.put_document(&document).await.unwrap();
    let notifier = Notifier::new(
        table.clone(),
        AwsChannelClients::new(&config, "webmon/test/channel/"),
        DeliverySettings::default(),
    );
    for channel in ["topic", "mail", "leaky"] {
        let intent = NotificationIntent::test(channel, 1_767_261_960_000);
        table.enqueue(&intent, 1_767_261_960_000).await.unwrap();
    }

    let sent = |channel: &str| format!("test:{channel}:1767261960000");
    let a = notifier
        .deliver(&sent("topic"), "topic", &SystemClock)
        .await
        .unwrap();
    assert_eq!(a, Attempt::Sent);
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let body: Value =
        serde_json::from_str(received.messages()[0].body().unwrap()).expect("SNS envelope");
    assert_eq!(body["Subject"], "webmon test notification");
    assert_eq!(
        body["MessageAttributes"]["webmon_id"]["Value"],
        sent("topic")
    );
    assert!(body["Message"]
        .as_str()
        .unwrap()
        .contains("webmon test notification"));

    let a = notifier
        .deliver(&sent("mail"), "mail", &SystemClock)
        .await
        .unwrap();
    assert_eq!(a, Attempt::Sent);
    let text = emulator.state().await.unwrap().to_string();
    assert!(
        text.contains("oncall@example.com") && text.contains("webmon test notification"),
        "the emulator holds the sent email"
    );

    // A channel secret from the notifier's environment: refused for good, naming why.
    let a = notifier
        .deliver(&sent("leaky"), "leaky", &SystemClock)
        .await
        .unwrap();
    assert_eq!(a, Attempt::Failed);
    let d = table
        .delivery(&sent("leaky"), "leaky")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, Status::Failed);
    let counts = table.delivery_counts().await.unwrap();
    let error = counts.errors.iter().find(|e| e.contains("leaky")).unwrap();
    assert!(
        error.contains("not available to channels on AWS"),
        "{error}"
    );
    assert!(!error.contains(&std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or("x".repeat(40))));
}
