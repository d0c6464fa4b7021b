//! Check definitions.
//!
//! A check is read as a [`RawCheck`] (serde, unknown fields rejected) and turned into a
//! [`Check`] by [`RawCheck::validate`], which reports every problem as a
//! [`ValidationError`] naming the check id, the field, the value and the reason.

mod file;
mod interval;
mod raw;
mod status;
mod validate;

pub use file::{load_checks_file, parse_checks_document, ChecksFile, LoadOutcome};
pub use interval::Interval;
pub use raw::{RawAssertions, RawCheck, RawJsonPointer, StatusEntry};
pub use status::{StatusRange, StatusSet};
pub use validate::{resolve_secrets, Assertions, Check, JsonPointerEquals, ValidationError};
