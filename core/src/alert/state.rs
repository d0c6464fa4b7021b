//! The evaluator's memory: serialisable (serde) so a runner persists it after every
//! evaluation and restarts without re-notifying. Versioned like results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::{Level, QuorumCount};
use super::incident::Incident;
use super::region::{Observation, RegionTrack};

/// Version of the [`AlertState`] format. Bump on incompatible changes.
pub const STATE_VERSION: u32 = 1;

/// Rounds kept waiting per check; beyond this the oldest is evaluated at once.
pub const MAX_PENDING_ROUNDS: usize = 64;

/// Level changes remembered per check for flap detection.
pub const MAX_CHANGES: usize = 64;

/// Everything the evaluator remembers between calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Per check id.
    pub checks: BTreeMap<String, CheckState>,
    /// Probe regions currently suspect, with the time they became so.
    pub suspect_regions: BTreeMap<String, i64>,
    /// Results ignored because their round had already been evaluated.
    pub late_ignored: u64,
}

impl Default for AlertState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            checks: BTreeMap::new(),
            suspect_regions: BTreeMap::new(),
            late_ignored: 0,
        }
    }
}

/// TLS warning progress of a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsState {
    /// Smallest threshold (days) already warned about since the last renewal.
    pub warned_days: Option<u32>,
    /// Renewals seen, part of the warning ids so a new certificate warns again.
    pub cycle: u32,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    /// When the evaluator first saw the check (regions that never report count as
    /// having no data only after `stale_after` from here).
    pub since_ms: i64,
    /// The check's watermark: rounds and staleness up to here are evaluated; results at
    /// or before it are ignored.
    pub closed_through_ms: Option<i64>,
    /// Rounds waiting for every region: scheduled time -> region -> observation.
    pub pending: BTreeMap<i64, BTreeMap<String, Observation>>,
    /// Per-region state machines.
    pub regions: BTreeMap<String, RegionTrack>,
    /// Current level.
    pub level: Level,
    /// When it was entered.
    pub level_since_ms: i64,
    /// Region counts behind the level.
    pub quorum: QuorumCount,
    /// Times of recent level changes (flap detection).
    pub changes: Vec<i64>,
    /// Notifications are held because the level flaps.
    pub flapping: bool,
    /// The open incident, or the last one while its resolution is not yet notified.
    pub incident: Option<Incident>,
    /// Level changes of this evaluation, consumed by the notification phase (empty
    /// between evaluations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LevelChange>,
    /// Start of the UNKNOWN period a notification was sent for.
    pub gap_notified: Option<i64>,
    /// TLS warnings.
    pub tls: TlsState,
    /// End of the last pause window: staleness counts from here.
    pub fresh_from_ms: i64,
}

impl CheckState {
    /// A check seen for the first time at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            since_ms: now_ms,
            closed_through_ms: None,
            pending: BTreeMap::new(),
            regions: BTreeMap::new(),
            level: Level::Up,
            level_since_ms: now_ms,
            quorum: QuorumCount::default(),
            changes: Vec::new(),
            flapping: false,
            incident: None,
            log: Vec::new(),
            gap_notified: None,
            tls: TlsState::default(),
            fresh_from_ms: now_ms,
        }
    }

    /// Records a level change (logged for the notification phase).
    /// `regions` names the regions failing or slow at that moment.
    pub fn set_level(&mut self, level: Level, q: QuorumCount, at_ms: i64, regions: Vec<String>) {
        self.quorum = q;
        if level == self.level {
            return;
        }
        let from = std::mem::replace(&mut self.level, level);
        self.level_since_ms = at_ms;
        self.log.push(LevelChange {
            at_ms,
            from,
            to: level,
            quorum: q,
            regions,
        });
    }

    /// Remembers a change for flap detection.
    pub fn remember_change(&mut self, at_ms: i64) {
        self.changes.push(at_ms);
        if self.changes.len() > MAX_CHANGES {
            self.changes.remove(0);
        }
    }
}

/// A level change, with the region counts behind the new level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChange {
    /// Scheduled time of the round, or the moment a region went stale.
    pub at_ms: i64,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
    /// Region counts after.
    pub quorum: QuorumCount,
    /// Regions failing or slow after, sorted.
    #[serde(default)]
    pub regions: Vec<String>,
}
