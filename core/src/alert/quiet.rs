//! Quiet times: maintenance windows (one-off or weekly, `silence` or `pause`) and ad-hoc
//! silences (by check or tag, always with an expiry). Both only answer "is this check
//! quiet at time T, and why"; holding and end-of-window reconciliation are in
//! [`super::notify`].
//!
//! Weekly windows use a fixed UTC offset rather than a time-zone name: the offset is
//! explicit, needs no time-zone database, and a window that should follow daylight saving
//! is written twice (one per season) or widened.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a maintenance window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceMode {
    /// Keep probing and evaluating; hold notifications until the window ends.
    Silence,
    /// Skip probes; the check's state is frozen (results inside the window are ignored).
    Pause,
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSchedule {
    /// From `start_ms` (included) to `end_ms` (excluded).
    Once {
        /// Unix milliseconds.
        start_ms: i64,
        /// Unix milliseconds.
        end_ms: i64,
    },
    /// Every listed weekday (0 = Monday) at `minute_of_day` local time, for `duration_ms`.
    Weekly {
        /// Weekdays, 0 = Monday .. 6 = Sunday.
        days: Vec<u8>,
        /// Local start, minutes after midnight.
        minute_of_day: u32,
        /// Offset of local time from UTC, minutes.
        utc_offset_minutes: i32,
        /// Length, milliseconds (at most one day).
        duration_ms: i64,
    },
}

const DAY_MS: i64 = 86_400_000;

impl WindowSchedule {
    /// The open occurrence containing `at_ms`, as `(start, end)`.
    pub fn occurrence_at(&self, at_ms: i64) -> Option<(i64, i64)> {
        match self {
            Self::Once { start_ms, end_ms } => {
                (*start_ms <= at_ms && at_ms < *end_ms).then_some((*start_ms, *end_ms))
            }
            Self::Weekly {
                days,
                minute_of_day,
                utc_offset_minutes,
                duration_ms,
            } => {
                let offset_ms = *utc_offset_minutes as i64 * 60_000;
                let local = at_ms + offset_ms;
                let local_day = local.div_euclid(DAY_MS);
                // A window lasts at most a day, so only today's and yesterday's can be open.
                for day in [local_day, local_day - 1] {
                    // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
                    let weekday = (day + 3).rem_euclid(7) as u8;
                    if !days.is_empty() && !days.contains(&weekday) {
                        continue;
                    }
                    let start = day * DAY_MS + *minute_of_day as i64 * 60_000 - offset_ms;
                    let end = start + duration_ms;
                    if start <= at_ms && at_ms < end {
                        return Some((start, end));
                    }
                }
                None
            }
        }
    }
}

/// A maintenance window from the `maintenance:` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Unique id.
    pub id: String,
    /// Check ids covered.
    pub checks: Vec<String>,
    /// A check carrying all these tags is covered.
    pub tags: BTreeMap<String, String>,
    /// Silence or pause.
    pub mode: MaintenanceMode,
    /// When it is open.
    pub schedule: WindowSchedule,
}

impl MaintenanceWindow {
    /// Whether the window covers the check.
    pub fn covers(&self, check_id: &str, tags: &BTreeMap<String, String>) -> bool {
        self.checks.iter().any(|c| c == check_id)
            || (!self.tags.is_empty() && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
    }
}

/// An ad-hoc silence, created at run time (`webmon silence add`), persisted by the runner
/// and passed to every evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Unique id.
    pub id: String,
    /// Silence this check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    /// Silence checks carrying this tag (`key`, `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<(String, String)>,
    /// Start, Unix milliseconds.
    pub starts_at_ms: i64,
    /// Expiry, Unix milliseconds (required: a silence never lasts forever).
    pub ends_at_ms: i64,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    /// Whether the silence is in force for the check at `at_ms`.
    pub fn applies(&self, check_id: &str, tags: &BTreeMap<String, String>, at_ms: i64) -> bool {
        let matches = self.check_id.as_deref() == Some(check_id)
            || self
                .tag
                .as_ref()
                .is_some_and(|(k, v)| tags.get(k) == Some(v));
        matches && self.starts_at_ms <= at_ms && at_ms < self.ends_at_ms
    }
}

/// Why a check is quiet at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quiet {
    /// A `pause` window, with its end.
    Paused {
        /// Window id.
        id: String,
        /// End of the occurrence, Unix milliseconds.
        until_ms: i64,
    },
    /// A `silence` window.
    Maintenance(String),
    /// An ad-hoc silence.
    Silenced(String),
}

impl Quiet {
    /// A short reason, e.g. `maintenance db-upgrade`.
    pub fn reason(&self) -> String {
        match self {
            Self::Paused { id, .. } => format!("maintenance {id} (pause)"),
            Self::Maintenance(id) => format!("maintenance {id}"),
            Self::Silenced(id) => format!("silence {id}"),
        }
    }
}

/// The strongest quiet reason for a check at `at_ms`: pause, then silence windows, then
/// ad-hoc silences (the first matching in list order within each kind).
pub fn quiet_at(
    windows: &[MaintenanceWindow],
    silences: &[Silence],
    check_id: &str,
    tags: &BTreeMap<String, String>,
    at_ms: i64,
) -> Option<Quiet> {
    let open = |mode: MaintenanceMode| {
        windows
            .iter()
            .filter(move |w| w.mode == mode && w.covers(check_id, tags))
            .find_map(move |w| w.schedule.occurrence_at(at_ms).map(|o| (w, o)))
    };
    if let Some((w, (_, end))) = open(MaintenanceMode::Pause) {
        return Some(Quiet::Paused {
            id: w.id.clone(),
            until_ms: end,
        });
    }
    if let Some((w, _)) = open(MaintenanceMode::Silence) {
        return Some(Quiet::Maintenance(w.id.clone()));
    }
    silences
        .iter()
        .find(|s| s.applies(check_id, tags, at_ms))
        .map(|s| Quiet::Silenced(s.id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_window_with_offset_spans_midnight() {
        // Mondays 23:30 at UTC+02:00 for one hour = Monday 21:30-22:30 UTC.
        let w = WindowSchedule::Weekly {
            days: vec![0],
            minute_of_day: 23 * 60 + 30,
            utc_offset_minutes: 120,
            duration_ms: 3_600_000,
        };
        // 2024-01-01 was a Monday; 21:45 UTC.
        let monday = 1_704_067_200_000;
        let at = monday + (21 * 60 + 45) * 60_000;
        assert_eq!(
            w.occurrence_at(at),
            Some((
                monday + (21 * 60 + 30) * 60_000,
                monday + (22 * 60 + 30) * 60_000
            ))
        );
        assert_eq!(w.occurrence_at(monday + 23 * 3_600_000), None);
        assert_eq!(w.occurrence_at(at + DAY_MS), None, "Tuesday is not listed");
    }

    #[test]
    fn pause_beats_silence_beats_adhoc() {
        let tags = BTreeMap::from([("team".to_string(), "pay".to_string())]);
        let once = WindowSchedule::Once {
            start_ms: 0,
            end_ms: 100,
        };
        let silence_w = MaintenanceWindow {
            id: "m".into(),
            checks: vec![],
            tags: tags.clone(),
            mode: MaintenanceMode::Silence,
            schedule: once.clone(),
        };
        let adhoc = Silence {
            id: "s".into(),
            check_id: Some("a".into()),
            tag: None,
            starts_at_ms: 0,
            ends_at_ms: 200,
            comment: String::new(),
        };
        let q = quiet_at(
            std::slice::from_ref(&silence_w),
            std::slice::from_ref(&adhoc),
            "a",
            &tags,
            50,
        );
        assert_eq!(q, Some(Quiet::Maintenance("m".into())));
        let q = quiet_at(&[silence_w], &[adhoc], "a", &tags, 150);
        assert_eq!(q, Some(Quiet::Silenced("s".into())));
        assert_eq!(quiet_at(&[], &[], "a", &tags, 150), None);
    }
}
