//! The crate's one error type. Every variant names the channel; [`NotifyError::is_retriable`]
//! says whether trying again may help and [`NotifyError::retry_after`] carries the
//! provider's `Retry-After`.

use std::time::Duration;

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A secret reference could not be resolved (retrying will not help until the
    /// environment or secret store changes).
    #[error("channel {channel}: failed to resolve a secret: {reason}")]
    Secret {
        /// Channel id.
        channel: String,
        /// What is missing (never the value).
        reason: String,
    },
    /// No answer: connect, TLS, timeout, reading the response.
    #[error("channel {channel}: failed to reach the receiver: {reason}")]
    Transport {
        /// Channel id.
        channel: String,
        /// What went wrong.
        reason: String,
    },
    /// The receiver answered with a non-success status.
    #[error("channel {channel}: the receiver answered {status}: {body}")]
    Rejected {
        /// Channel id.
        channel: String,
        /// HTTP status (or SMTP reply code).
        status: u16,
        /// Start of the response body.
        body: String,
        /// How long the receiver asked to wait.
        retry_after: Option<Duration>,
    },
    /// The SMTP exchange failed.
    #[error("channel {channel}: SMTP failed: {reason}")]
    Smtp {
        /// Channel id.
        channel: String,
        /// What the server or the connection said.
        reason: String,
        /// A transient failure (4xx reply, network); permanent ones (5xx) are not retried.
        transient: bool,
    },
    /// The configuration cannot work (bad URL after resolving secrets, a type this crate
    /// does not deliver).
    #[error("channel {channel}: {reason}")]
    Config {
        /// Channel id.
        channel: String,
        /// Why.
        reason: String,
    },
}

impl NotifyError {
    /// Whether a later attempt may succeed: network failures, HTTP 408, 429 and 5xx,
    /// transient SMTP failures. Other 4xx, bad secrets and bad configuration are final.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Rejected { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::Smtp { transient, .. } => *transient,
            Self::Secret { .. } | Self::Config { .. } => false,
        }
    }

    /// The delay the receiver asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The channel id.
    pub fn channel(&self) -> &str {
        match self {
            Self::Secret { channel, .. }
            | Self::Transport { channel, .. }
            | Self::Rejected { channel, .. }
            | Self::Smtp { channel, .. }
            | Self::Config { channel, .. } => channel,
        }
    }
}
