//! The one-machine product behind `webmon run`: the scheduler loop, its batching
//! writer, and the embedded SQLite result store.
//!
//! It may import `webmon-core`, `webmon-notify` and SQLite; it may not import an AWS SDK, the dashboard
//! or the CLI (the CLI composes this crate with the dashboard).
//!
//! Layout:
//! - [`runner`]: schedules the checks of a file on the shared grid, probes them with
//!   bounded concurrency, reloads the file on change and drains on shutdown.
//! - [`alerting`]: evaluates stored results against the alerting configuration, keeps
//!   the alert state and outbox in the store and delivers notifications.
//! - [`disk`]: the database's size, growth and free disk space, watched during a run.
//! - [`store`]: [`store::SqliteStore`], the write port ([`webmon_core::ports::ResultStore`])
//!   and the read port ([`webmon_core::read::ResultReader`]) over one SQLite file.

pub mod alerting;
pub mod disk;
pub mod runner;
pub mod store;
