//! The crate's one error type, and the retry decision for SDK errors.

use std::error::Error as StdError;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use webmon_core::ports::PortError;

/// Error codes AWS services use for throttling and their own failures: worth retrying.
const RETRIABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalServerException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ConcurrentModificationException",
];

/// Failures of the AWS adapters.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A required setting is missing or malformed.
    #[error("failed to read setting {name}: {reason}")]
    Setting {
        /// Environment variable or option name.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// An AWS API call failed.
    #[error("failed to call {service} {operation}: {message}")]
    Call {
        /// Service, e.g. `sqs`.
        service: &'static str,
        /// Operation, e.g. `SendMessageBatch`.
        operation: &'static str,
        /// The SDK's message with its error code.
        message: String,
        /// Whether a retry may succeed.
        retriable: bool,
    },
    /// Some entries of a batch call still failed after every retry.
    #[error("failed to {what}: {failed} of {total} entries still failing after {attempts} attempts: {reason}")]
    Partial {
        /// What was being done.
        what: String,
        /// Entries still failing.
        failed: usize,
        /// Entries in the call.
        total: usize,
        /// Attempts made.
        attempts: u32,
        /// The last reason given.
        reason: String,
    },
    /// Data could not be encoded or decoded.
    #[error("failed to {what}: {reason}")]
    Codec {
        /// What was being encoded or decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

impl AwsError {
    /// Builds a [`AwsError::Call`] from an SDK error, deciding whether it is retriable.
    pub fn call<E, R>(service: &'static str, operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let retriable = is_retriable(&err);
        let message = DisplayErrorContext(&err).to_string();
        Self::Call {
            service,
            operation,
            message,
            retriable,
        }
    }

    /// Whether a retry may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Call { retriable, .. } => *retriable,
            Self::Partial { .. } => true,
            Self::Setting { .. } | Self::Codec { .. } => false,
        }
    }
}

/// The explicit retry decision: network failures, timeouts, throttling and 5xx are
/// retriable; everything else (validation, missing resources, permissions) is not.
pub fn is_retriable<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            RETRIABLE_CODES.contains(&code)
        }
        _ => false,
    }
}

/// Whether an error code (as found in batch entry failures) is worth retrying.
pub fn is_retriable_code(code: &str) -> bool {
    RETRIABLE_CODES.contains(&code)
}

impl From<AwsError> for PortError {
    fn from(err: AwsError) -> Self {
        if err.is_retriable() {
            PortError::Transient(err.to_string())
        } else {
            PortError::Permanent(err.to_string())
        }
    }
}
