//! Incidents: one per check at a time, spanning every region.
//!
//! An incident opens when the check's level becomes DEGRADED, REGIONAL or DOWN and
//! resolves when it is UP again (UNKNOWN neither opens nor resolves one). Its id is
//! `{check_id}:{opened_at_ms}` (the scheduled time of the round that opened it): stable
//! across replays and restarts, and the dedup key of every channel (PagerDuty
//! `dedup_key`, webhook `incident.id`).
//!
//! The incident keeps two levels: the actual one and the one last *notified*. Every
//! notification moves the notified level to the actual one, so quiet periods (maintenance,
//! silences, dependencies, flapping) simply hold the difference, and when they end one
//! notification reconciles it, or none when nothing changed.
//!
//! An incident whose resolution was not notified yet (held) reopens under the same id
//! when the check fails again, so receivers never see two open incidents for one check.

use serde::{Deserialize, Serialize};

use super::check::Level;

/// Most level changes kept in an incident's timeline.
pub const MAX_TIMELINE: usize = 100;

/// A level change inside an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Scheduled time of the round (or evaluation time for time-driven changes).
    pub at_ms: i64,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `{check_id}:{opened_at_ms}`.
    pub id: String,
    /// Scheduled time of the round that opened it.
    pub opened_at_ms: i64,
    /// Actual level (UP once resolved).
    pub level: Level,
    /// Worst level reached.
    pub worst: Level,
    /// When it resolved.
    pub resolved_at_ms: Option<i64>,
    /// Level last notified (UP = nothing notified yet, or the resolution was).
    pub notified_level: Level,
    /// Events notified so far; the next event's sequence number is `seq + 1`.
    pub seq: u32,
    /// When the last notification was made.
    pub last_notified_at_ms: Option<i64>,
    /// Reminders sent.
    pub reminders_sent: u32,
    /// Every channel that received an event of this incident (resolutions go to all).
    pub notified_channels: Vec<String>,
    /// Why the latest change is held, if it is.
    pub held_by: Option<String>,
    /// Level changes.
    pub timeline: Vec<Transition>,
    /// Regions failing or slow at any of its level changes, sorted (an incident opened
    /// before this field existed has none).
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Incident {
    /// Stable id.
    pub fn id_for(check_id: &str, opened_at_ms: i64) -> String {
        format!("{check_id}:{opened_at_ms}")
    }

    /// Whether it is open.
    pub fn is_open(&self) -> bool {
        self.resolved_at_ms.is_none()
    }

    /// Updates (or opens, reopens, resolves) the incident for a level change.
    pub fn on_level(
        slot: &mut Option<Incident>,
        check_id: &str,
        from: Level,
        to: Level,
        at: i64,
        regions: &[String],
    ) {
        if to == Level::Unknown {
            return;
        }
        let transition = Transition {
            at_ms: at,
            from,
            to,
        };
        match slot {
            Some(inc) if to.is_problem() && (inc.is_open() || inc.notified_level != Level::Up) => {
                inc.resolved_at_ms = None;
                inc.level = to;
                inc.worst = inc.worst.max(to);
                inc.push(transition);
                inc.add_regions(regions);
            }
            Some(inc) if to == Level::Up && inc.is_open() => {
                inc.resolved_at_ms = Some(at);
                inc.level = Level::Up;
                inc.push(transition);
            }
            _ if to.is_problem() => {
                *slot = Some(Incident {
                    id: Self::id_for(check_id, at),
                    opened_at_ms: at,
                    level: to,
                    worst: to,
                    resolved_at_ms: None,
                    notified_level: Level::Up,
                    seq: 0,
                    last_notified_at_ms: None,
                    reminders_sent: 0,
                    notified_channels: Vec::new(),
                    held_by: None,
                    timeline: vec![transition],
                    regions: Vec::new(),
                });
                if let Some(inc) = slot {
                    inc.add_regions(regions);
                }
            }
            _ => {}
        }
    }

    fn add_regions(&mut self, regions: &[String]) {
        for r in regions {
            if let Err(at) = self.regions.binary_search(r) {
                self.regions.insert(at, r.clone());
            }
        }
    }

    fn push(&mut self, t: Transition) {
        self.timeline.push(t);
        if self.timeline.len() > MAX_TIMELINE {
            self.timeline.remove(0);
        }
    }
}
