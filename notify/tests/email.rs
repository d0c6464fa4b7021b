//! The email channel against a small SMTP responder on 127.0.0.1 started by the test.

mod common;

use std::sync::{Arc, Mutex};

use common::{resolved, sample};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use webmon_core::alert::ChannelConfig;
use webmon_notify::{build_channel, ChannelContext, MapResolver, NotifyError};

/// What the responder saw: commands, and the message after DATA.
#[derive(Debug, Default, Clone)]
struct Transcript {
    commands: Vec<String>,
    data: String,
}

/// Serves SMTP sessions on 127.0.0.1; `rcpt_reply` answers RCPT TO.
async fn responder(
    rcpt_reply: &'static str,
) -> (u16, Arc<Mutex<Transcript>>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Transcript::default()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        // Bounded: a test makes at most a few connections.
        for _ in 0..8 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write
                .write_all(b"220 localhost ESMTP test\r\n")
                .await
                .unwrap();
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                if in_data {
                    if line == "." {
                        in_data = false;
                        write
                            .write_all(b"250 2.0.0 queued as 1234\r\n")
                            .await
                            .unwrap();
                    } else {
                        let mut t = log.lock().unwrap();
                        t.data.push_str(&line);
                        t.data.push('\n');
                    }
                    continue;
                }
                log.lock().unwrap().commands.push(line.clone());
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                    "AUTH" => b"235 2.7.0 authenticated\r\n",
                    "MAIL" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
                    "RCPT" => rcpt_reply.as_bytes(),
                    "DATA" => {
                        in_data = true;
                        b"354 end with .\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"502 unknown\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
        }
    });
    (port, seen, task)
}

fn channel(port: u16) -> Box<dyn webmon_notify::Channel> {
    let config = ChannelConfig::Email {
        id: "mail".into(),
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Some("none".into()),
        username: Some("ops".into()),
        password: Some("${secret:smtp}".into()),
        from: "webmon@example.com".into(),
        to: vec!["oncall@example.com".into(), "team@example.com".into()],
    };
    let secrets = MapResolver([("secret:smtp".to_string(), "s3cret".to_string())].into());
    let ctx = ChannelContext {
        secrets: Arc::new(secrets),
        ..ChannelContext::default()
    };
    build_channel(&config, &ctx).unwrap()
}

#[tokio::test]
async fn sends_one_message_to_every_recipient() {
    let (port, seen, task) = responder("250 2.1.5 ok\r\n").await;
    let d = channel(port).send(&sample()).await.unwrap();
    assert_eq!(d.status, 250);
    assert_eq!(d.reference.as_deref(), Some("2.0.0 queued as 1234"));
    let t = seen.lock().unwrap().clone();
    let plain = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "\0ops\0s3cret");
    assert!(
        t.commands.contains(&format!("AUTH PLAIN {plain}")),
        "{:?}",
        t.commands
    );
    assert!(
        t.commands
            .contains(&"MAIL FROM:<webmon@example.com>".to_string()),
        "{:?}",
        t.commands
    );
    assert!(t
        .commands
        .contains(&"RCPT TO:<oncall@example.com>".to_string()));
    assert!(t
        .commands
        .contains(&"RCPT TO:<team@example.com>".to_string()));
    assert!(
        t.data
            .contains("Subject: [webmon] DOWN api: 2/3 regions failing\n"),
        "{}",
        t.data
    );
    assert!(
        t.data
            .contains("Message-ID: <api.1755432060000.1@webmon>\n"),
        "{}",
        t.data
    );
    assert!(
        t.data.contains("\nRegions failing: eu-west-1, us-east-1\n"),
        "{}",
        t.data
    );
    assert!(
        t.data
            .contains("\nFirst error: eu-west-1: timeout: no answer\n"),
        "{}",
        t.data
    );
    task.abort();
}

#[tokio::test]
async fn resolution_subject_says_resolved() {
    let (port, seen, task) = responder("250 2.1.5 ok\r\n").await;
    channel(port).send(&resolved()).await.unwrap();
    assert!(seen
        .lock()
        .unwrap()
        .data
        .contains("Subject: [webmon] RESOLVED api\n"));
    task.abort();
}

#[tokio::test]
async fn smtp_replies_decide_retries() {
    let (port, _, task) = responder("550 5.1.1 no such user\r\n").await;
    let e = channel(port).send(&sample()).await.unwrap_err();
    assert!(
        matches!(
            e,
            NotifyError::Smtp {
                transient: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.is_retriable());
    task.abort();
    let (port, _, task) = responder("451 4.3.0 try again later\r\n").await;
    let e = channel(port).send(&sample()).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    task.abort();
}
