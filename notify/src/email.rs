//! Email over SMTP with lettre and rustls: `starttls` (default, port 587), `tls`
//! (implicit TLS, port 465) or `none` (plain, port 25; for a relay on the same host or
//! network). The subject is `[webmon] <title>` (a resolution says RESOLVED), the body
//! plain text. The message id derives from the notification id, so a resent message is
//! recognisable.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::render::plain_text;
use crate::{resolve, Channel, Delivery, Notification, NotifyError, SecretResolver};

/// Deadline of one SMTP exchange step.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// SMTP settings (user and password may hold secret references).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// Server host.
    pub host: String,
    /// Port; default by `security`.
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    pub security: Option<String>,
    /// User.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// The email channel.
pub struct EmailChannel {
    id: String,
    settings: EmailSettings,
    secrets: Arc<dyn SecretResolver>,
}

impl EmailChannel {
    /// A channel sending through one SMTP server.
    pub fn new(id: String, settings: EmailSettings, secrets: Arc<dyn SecretResolver>) -> Self {
        Self {
            id,
            settings,
            secrets,
        }
    }

    fn config_error(&self, reason: String) -> NotifyError {
        NotifyError::Config {
            channel: self.id.clone(),
            reason,
        }
    }

    /// Builds the message.
    pub fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        let s = &self.settings;
        let parse = |a: &str| {
            a.parse()
                .map_err(|e| self.config_error(format!("bad address {a:?}: {e}")))
        };
        let atext: String =
            n.id.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '.'
                    }
                })
                .collect();
        let mut builder = Message::builder()
            .from(parse(&s.from)?)
            .subject(format!("[webmon] {}", n.title()))
            .message_id(Some(format!("<{atext}@webmon>")))
            .header(ContentType::TEXT_PLAIN);
        for to in &s.to {
            builder = builder.to(parse(to)?);
        }
        builder
            .body(plain_text(n))
            .map_err(|e| self.config_error(format!("cannot build the message: {e}")))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
        let s = &self.settings;
        let host = resolve(&self.id, &s.host, self.secrets.as_ref())?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| self.config_error(format!("TLS setup failed: {e}")))
        };
        let (security, default_port) = match s.security.as_deref().unwrap_or("starttls") {
            "tls" => (Tls::Wrapper(tls(&host)?), 465),
            "none" => (Tls::None, 25),
            _ => (Tls::Required(tls(&host)?), 587),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(s.port.unwrap_or(default_port))
            .tls(security)
            .timeout(Some(TIMEOUT));
        if let Some(user) = &s.username {
            let user = resolve(&self.id, user, self.secrets.as_ref())?;
            let password = match &s.password {
                Some(p) => resolve(&self.id, p, self.secrets.as_ref())?,
                None => String::new(),
            };
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, n: &Notification) -> Result<Delivery, NotifyError> {
        let message = self.message(n)?;
        let transport = self.transport()?;
        match transport.send(message).await {
            Ok(response) => Ok(Delivery {
                status: u16::from(response.code()),
                reference: response.first_line().map(str::to_string),
            }),
            Err(e) => Err(NotifyError::Smtp {
                channel: self.id.clone(),
                reason: e.to_string(),
                transient: !e.is_permanent(),
            }),
        }
    }
}
