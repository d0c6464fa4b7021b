//! The per-region state machine of one check, fed one execution at a time in scheduled
//! order (never arrival order; [`super::evaluate`] sorts and dedupes first).
//!
//! | from | after the execution | to |
//! | --- | --- | --- |
//! | OK / DEGRADED | failures among the last `failure_window` >= `failure_threshold` | FAILING |
//! | OK | slow streak >= `degraded.after` | DEGRADED |
//! | DEGRADED | fast streak >= `degraded.recovery` | OK |
//! | FAILING | non-failing streak >= `success_threshold` | DEGRADED if the slow streak is long enough, else OK |
//!
//! The failure window is cleared on recovery, so an M-of-N policy does not fall back
//! into FAILING on the first failure after a recovery. NO_DATA is not stored: it is a
//! function of time since the last execution (see [`RegionTrack::state_at`]).

use serde::{Deserialize, Serialize};

use super::check::RegionState;
use super::policy::AlertPolicy;
use crate::result::ProbeResult;

/// How one execution counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Available and under the latency threshold.
    Pass,
    /// Available, but its average latency is above the region's threshold.
    Slow,
    /// Not available.
    Fail,
}

/// What the evaluator keeps of one result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// How it counts.
    pub outcome: Outcome,
    /// Average latency, milliseconds.
    pub avg_ms: f64,
    /// `class: message` of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Days left on the TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_days_left: Option<i64>,
}

impl Observation {
    /// Classifies a result under the check's policy.
    pub fn from_result(r: &ProbeResult, policy: &AlertPolicy) -> Self {
        let threshold = policy
            .degraded
            .as_ref()
            .and_then(|d| d.threshold_for(&r.region));
        let outcome = if !r.available {
            Outcome::Fail
        } else if threshold.is_some_and(|t| r.latency.avg_ms > t) {
            Outcome::Slow
        } else {
            Outcome::Pass
        };
        let error = (!r.available).then(|| {
            let class = r.error_class.map_or("other", |c| c.as_str());
            let mut text = format!("{class}: {}", r.error_message.as_deref().unwrap_or(""));
            text.truncate(text.trim_end().len().min(300));
            text
        });
        Self {
            outcome,
            avg_ms: r.latency.avg_ms,
            error,
            tls_days_left: r.tls_cert_days_left,
        }
    }

    /// Orders conflicting observations of the same execution: the worse one wins, so the
    /// outcome never depends on which copy arrived first.
    pub fn rank(&self) -> (Outcome, u64, Option<&String>) {
        (self.outcome, self.avg_ms.to_bits(), self.error.as_ref())
    }
}

/// One check in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionTrack {
    /// Stored state (never NO_DATA).
    pub state: RegionState,
    /// Scheduled time the state was entered.
    pub since_ms: i64,
    /// Failure flags of the last executions, oldest first.
    pub window: Vec<bool>,
    /// Consecutive non-failing executions.
    pub pass_streak: u32,
    /// Consecutive fast executions.
    pub fast_streak: u32,
    /// Consecutive slow executions.
    pub slow_streak: u32,
    /// Scheduled time of the last execution seen.
    pub last_seen_ms: i64,
    /// The last execution.
    pub last: Observation,
}

impl RegionTrack {
    /// A track starting with its first execution.
    pub fn new(tick: i64, obs: Observation, policy: &AlertPolicy) -> Self {
        let mut track = Self {
            state: RegionState::Ok,
            since_ms: tick,
            window: Vec::new(),
            pass_streak: 0,
            fast_streak: 0,
            slow_streak: 0,
            last_seen_ms: tick,
            last: obs.clone(),
        };
        track.apply(tick, obs, policy);
        track
    }

    /// Feeds the next execution (scheduled after every one fed before).
    pub fn apply(&mut self, tick: i64, obs: Observation, policy: &AlertPolicy) {
        let fail = obs.outcome == Outcome::Fail;
        self.window.push(fail);
        let keep = policy.failure_window.max(1) as usize;
        if self.window.len() > keep {
            self.window.drain(..self.window.len() - keep);
        }
        match obs.outcome {
            Outcome::Fail => (self.pass_streak, self.fast_streak, self.slow_streak) = (0, 0, 0),
            Outcome::Slow => {
                self.pass_streak += 1;
                self.slow_streak += 1;
                self.fast_streak = 0;
            }
            Outcome::Pass => {
                self.pass_streak += 1;
                self.fast_streak += 1;
                self.slow_streak = 0;
            }
        }
        self.last_seen_ms = tick;
        self.last = obs;

        let failures = self.window.iter().filter(|f| **f).count() as u32;
        let (slow_after, fast_after) = policy
            .degraded
            .as_ref()
            .map_or((u32::MAX, 1), |d| (d.after, d.recovery));
        let next = match self.state {
            RegionState::Ok | RegionState::Degraded if failures >= policy.failure_threshold => {
                RegionState::Failing
            }
            RegionState::Failing if self.pass_streak >= policy.success_threshold => {
                self.window.clear();
                if self.slow_streak >= slow_after {
                    RegionState::Degraded
                } else {
                    RegionState::Ok
                }
            }
            RegionState::Ok if self.slow_streak >= slow_after => RegionState::Degraded,
            RegionState::Degraded if self.fast_streak >= fast_after => RegionState::Ok,
            same => same,
        };
        if next != self.state {
            self.state = next;
            self.since_ms = tick;
        }
    }

    /// The state at `at_ms`: NO_DATA once nothing was seen for `stale_after_ms` (counted
    /// from `fresh_from_ms` when later, e.g. the end of a pause).
    pub fn state_at(&self, at_ms: i64, stale_after_ms: i64, fresh_from_ms: i64) -> RegionState {
        if at_ms - self.last_seen_ms.max(fresh_from_ms) > stale_after_ms {
            RegionState::NoData
        } else {
            self.state
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::policy;
    use super::*;

    fn obs(outcome: Outcome) -> Observation {
        Observation {
            outcome,
            avg_ms: if outcome == Outcome::Slow {
                900.0
            } else {
                100.0
            },
            error: None,
            tls_days_left: None,
        }
    }

    fn run(p: &AlertPolicy, seq: &[Outcome]) -> Vec<RegionState> {
        let mut track: Option<RegionTrack> = None;
        let mut out = Vec::new();
        for (i, o) in seq.iter().enumerate() {
            let tick = i as i64 * 60_000;
            match &mut track {
                None => track = Some(RegionTrack::new(tick, obs(*o), p)),
                Some(t) => t.apply(tick, obs(*o), p),
            }
            out.push(track.as_ref().unwrap().state);
        }
        out
    }

    #[test]
    fn transitions() {
        use Outcome::*;
        use RegionState::{Degraded as D, Failing as F, Ok as K};
        let mut p = policy();
        let cases: Vec<(&str, Vec<Outcome>, Vec<RegionState>)> = vec![
            ("blip", vec![Fail, Pass, Fail, Pass], vec![K, K, K, K]),
            (
                "consecutive",
                vec![Fail, Fail, Pass, Pass],
                vec![K, F, F, K],
            ),
            ("slow", vec![Slow, Slow, Pass, Pass], vec![K, D, D, K]),
            (
                "slow recovery",
                vec![Fail, Fail, Slow, Slow],
                vec![K, F, F, D],
            ),
        ];
        for (name, seq, want) in cases {
            assert_eq!(run(&p, &seq), want, "{name}");
        }
        // 2 of 3 catches alternation that "in a row" misses, and recovers cleanly.
        p.failure_window = 3;
        let alternating = [Fail, Pass, Fail, Pass, Pass, Fail];
        assert_eq!(run(&p, &alternating), vec![K, K, F, F, K, K]);
    }
}
