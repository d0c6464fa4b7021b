//! Retries with exponential backoff that honour the receiver's `Retry-After`, for callers
//! that deliver inline (`webmon alerts test`). A runner persisting deliveries uses
//! [`crate::outbox`] instead, which applies the same policy across restarts.

use std::time::Duration;

use crate::{Channel, Delivery, Notification, NotifyError};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub max_attempts: u32,
    /// Delay after the first failure; doubles each time.
    pub base: Duration,
    /// Longest delay, also the cap on `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based): the receiver's
    /// `Retry-After` when it gave one, else `base x 2^(attempt - 1)`, capped.
    pub fn delay(&self, attempt: u32, error: &NotifyError) -> Duration {
        let backoff = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        error.retry_after().unwrap_or(backoff).min(self.max_delay)
    }
}

/// Sends with retries: stops at success, at a non-retriable error, or after
/// `max_attempts`. Returns the last error with the number of attempts made.
pub async fn send_with_retries(
    channel: &dyn Channel,
    n: &Notification,
    policy: RetryPolicy,
) -> (Result<Delivery, NotifyError>, u32) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match channel.send(n).await {
            Ok(d) => return (Ok(d), attempt),
            Err(e) if !e.is_retriable() || attempt >= policy.max_attempts.max(1) => {
                return (Err(e), attempt)
            }
            Err(e) => {
                tracing::warn!(channel = channel.id(), attempt, error = %e, "notification failed, retrying");
                tokio::time::sleep(policy.delay(attempt, &e)).await;
            }
        }
    }
}
