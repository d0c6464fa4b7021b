//! Alerting: a pure evaluator from probe results to incidents and notification intents.
//!
//! No I/O happens here: [`evaluate`] takes the previous [`AlertState`], new results, the
//! time and the configuration, and returns the next state and the [`NotificationIntent`]s
//! to deliver. A runner persists the state, stores intents in an outbox and hands them
//! to the channels of `webmon-notify`. See `docs/alerting.md` for the semantics.
//!
//! Layout:
//! - [`config`]: the raw `alert:`, `alert_defaults:`, `channels:` and `maintenance:`
//!   blocks (serde, unknown fields rejected); [`load`] validates them into an
//!   [`AlertConfig`] ([`policy`]), with `parse` and `channels` doing the field work.
//! - [`region`]: per-region state machine; [`check`]: levels and the region quorum.
//! - [`incident`]: incidents and their stable ids; [`state`]: the persisted state.
//! - [`quiet`]: maintenance windows and silences; `notify`, `suspect` and `tls`: what
//!   to notify; [`intent`]: what is asked to be sent.
//! - [`evaluate()`]: the entry point; [`replay()`] runs stored results through a policy.

#![warn(missing_docs)]

pub mod channels;
pub mod check;
pub mod config;
mod evaluate;
mod group;
pub mod incident;
pub mod intent;
pub mod load;
mod notify;
mod parse;
pub mod per_check;
pub mod policy;
pub mod quiet;
pub mod region;
pub mod replay;
pub mod state;
mod suspect;
mod tls;
mod windows;

#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_quiet;

pub use check::{Level, QuorumCount, RegionState};
pub use config::{ChannelConfig, RawAlertPolicy, RawMaintenance};
pub use evaluate::evaluate;
pub use incident::Incident;
pub use intent::{CheckRef, EventKind, NotificationIntent, RegionStatus};
pub use load::{build_alerting, load_alerting, AlertDocument, AlertingOutcome};
pub use per_check::{evaluate_check, is_routine, is_settled, CheckEvaluation};
pub use policy::{AlertConfig, AlertPolicy, CheckAlerting, GlobalPolicy, Quorum, RetryPolicy};
pub use quiet::{quiet_at, MaintenanceMode, MaintenanceWindow, Quiet, Silence};
pub use replay::replay;
pub use state::{AlertState, CheckState};
