//! Check definitions.
//!
//! A check is read as a [`RawCheck`] (serde, unknown fields rejected) and turned into a
//! [`Check`] by [`RawCheck::validate`], which reports every problem as a
//! [`ValidationError`] naming the check id, the field, the value and the reason.

mod file;
mod interval;
mod locate;
mod raw;
mod retry;
pub mod secret;
mod settings;
mod shape;
mod status;
mod validate;

pub use file::{
    load_checks_file, load_checks_file_with, parse_checks_document, parse_checks_document_with,
    ChecksFile, LoadOutcome, LoadSummary,
};
pub use interval::Interval;
pub use locate::locate;
pub use raw::{RawAssertions, RawCheck, RawJsonPointer, StatusEntry};
pub use retry::{
    parse_retries, retries_of, Backoff, RawRetries, RetryOn, RetryPolicy, MAX_RETRIES,
    MAX_RETRY_DELAY_MS,
};
pub use secret::{SecretKind, SecretPolicy, SecretRef};
pub use settings::{
    load_settings, locate_setting, parse_settings, settings_of_document, RunSettings,
    MAX_CONCURRENCY, SETTINGS_KEYS,
};
pub use shape::did_you_mean;
pub use status::{StatusRange, StatusSet};
pub use validate::{
    default_timeout, dimension_bytes, resolve_secrets, valid_tag_key, Assertions, Check,
    JsonPointerEquals, ValidationError, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_REDIRECTS,
    DEFAULT_REQUESTS, DEFAULT_TIMEOUT, FORBIDDEN_REQUEST_HEADERS, MAX_BODY_BYTES_LIMIT,
    MAX_DIMENSION_BYTES, MAX_REGION_BYTES, MAX_TAGS, MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES,
    MAX_TIMEOUT, MAX_URL_BYTES,
};
