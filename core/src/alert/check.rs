//! Check level from region states: the k-of-n quorum.
//!
//! With `n` configured regions, `k` the quorum, and `F`, `D`, `Z` the regions failing,
//! degraded and without fresh data:
//!
//! | condition | level |
//! | --- | --- |
//! | `F >= k` | DOWN |
//! | `1 <= F < k` | REGIONAL |
//! | `F = 0` and `n - Z < k` | UNKNOWN (too few regions reporting to decide) |
//! | `F = 0` and a region that fell silent was FAILING | UNKNOWN (silence is no recovery) |
//! | `F = 0` and `D >= kd` (degraded quorum) | DEGRADED |
//! | otherwise | UP |
//!
//! `k` is taken over the configured regions, not the reporting ones, so silent regions
//! never turn one failing region into a global DOWN.

use serde::{Deserialize, Serialize};

use super::policy::AlertPolicy;

/// The state of a check as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// Every region fine (or too few problems to matter).
    Up,
    /// Slow in at least the degraded quorum of regions.
    Degraded,
    /// Failing in some regions, fewer than the quorum.
    Regional,
    /// Failing in at least the quorum of regions.
    Down,
    /// Not enough fresh results to decide.
    Unknown,
}

impl Level {
    /// Severity for escalation: UP 0, DEGRADED 1, REGIONAL 2, DOWN 3 (UNKNOWN 0).
    pub fn severity(self) -> u8 {
        match self {
            Self::Up | Self::Unknown => 0,
            Self::Degraded => 1,
            Self::Regional => 2,
            Self::Down => 3,
        }
    }

    /// Whether the level is a problem that opens or keeps an incident.
    pub fn is_problem(self) -> bool {
        self.severity() > 0
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "UP",
            Self::Degraded => "DEGRADED",
            Self::Regional => "REGIONAL",
            Self::Down => "DOWN",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// The state of one check in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegionState {
    /// Passing.
    Ok,
    /// Passing, but slower than the region's threshold.
    Degraded,
    /// Failing per the failure threshold.
    Failing,
    /// No fresh result.
    NoData,
}

impl RegionState {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Degraded => "DEGRADED",
            Self::Failing => "FAILING",
            Self::NoData => "NO_DATA",
        }
    }
}

/// Region counts behind a level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumCount {
    /// Failing regions needed for DOWN.
    pub required: usize,
    /// Configured regions.
    pub configured: usize,
    /// Failing.
    pub failing: usize,
    /// Degraded.
    pub degraded: usize,
    /// Without fresh data.
    pub no_data: usize,
}

/// The level for the given region states (one per configured region). `silent_failing`
/// says that a region without fresh data was FAILING when it fell silent: then the
/// check is not UP (nor DEGRADED) on the word of the others alone, it is UNKNOWN, so an
/// open incident is neither resolved nor confirmed by silence.
pub fn level_of(
    states: &[RegionState],
    silent_failing: bool,
    policy: &AlertPolicy,
) -> (Level, QuorumCount) {
    let n = states.len();
    let count = |s: RegionState| states.iter().filter(|x| **x == s).count();
    let q = QuorumCount {
        required: policy.quorum.required(n),
        configured: n,
        failing: count(RegionState::Failing),
        degraded: count(RegionState::Degraded),
        no_data: count(RegionState::NoData),
    };
    let kd = policy
        .degraded
        .as_ref()
        .map_or(q.required, |d| d.quorum.required(n));
    let level = if n == 0 {
        Level::Unknown
    } else if q.failing >= q.required {
        Level::Down
    } else if q.failing >= 1 {
        Level::Regional
    } else if n - q.no_data < q.required || silent_failing {
        Level::Unknown
    } else if q.degraded >= kd {
        Level::Degraded
    } else {
        Level::Up
    };
    (level, q)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::policy;
    use super::*;
    use RegionState::*;

    #[test]
    fn quorum_table_for_four_regions() {
        let p = policy(); // majority: k = 3 of 4
        let cases = [
            (vec![Ok, Ok, Ok, Ok], Level::Up),
            (vec![Ok, Ok, Ok, Degraded], Level::Up),
            (vec![Ok, Degraded, Degraded, Degraded], Level::Degraded),
            (vec![Failing, Ok, Ok, Ok], Level::Regional),
            (vec![Failing, Failing, Degraded, Ok], Level::Regional),
            (vec![Failing, Failing, Failing, Ok], Level::Down),
            (vec![Ok, Ok, NoData, NoData], Level::Unknown),
            (vec![Failing, NoData, NoData, NoData], Level::Regional),
        ];
        assert_eq!(level_of(&[Ok, Ok, Ok, NoData], true, &p).0, Level::Unknown);
        for (states, want) in cases {
            assert_eq!(level_of(&states, false, &p).0, want, "{states:?}");
        }
    }

    #[test]
    fn quorum_forms_resolve_to_counts() {
        use super::super::policy::Quorum;
        for (q, n, want) in [
            (Quorum::Majority, 1, 1),
            (Quorum::Majority, 2, 2),
            (Quorum::Majority, 5, 3),
            (Quorum::Count(2), 5, 2),
            (Quorum::Count(9), 3, 3),
            (Quorum::Percent(50), 5, 3),
            (Quorum::Percent(100), 4, 4),
            (Quorum::Percent(1), 4, 1),
        ] {
            assert_eq!(q.required(n), want, "{q:?} of {n}");
        }
    }
}
