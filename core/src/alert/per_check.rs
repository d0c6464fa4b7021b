//! The evaluator one check at a time, for stores that keep one item per check (the
//! DynamoDB alert table of the AWS pipeline).
//!
//! [`evaluate_check`] runs [`super::evaluate()`] on a state holding only that check, so
//! two writers updating two checks never touch the same item. Cross-check decisions
//! (suspect probe regions, grouping into digests) need every check at once and are
//! therefore not made here; a runner that evaluates per check says so in its docs.
//!
//! Most executions change nothing that matters: a check that is UP, with every region
//! OK and nothing pending, stays so after a passing, fast execution. [`is_settled`] and
//! [`is_routine`] name that case so a runner can skip reading and writing the state for
//! it. The only things such a skip leaves behind are time stamps (when each region was
//! last seen); [`evaluate_check`] moves them forward when it next evaluates a settled
//! state, so a skipped stretch of passing executions never looks like silence.

use super::check::{Level, RegionState};
use super::evaluate::evaluate;
use super::intent::NotificationIntent;
use super::policy::{AlertConfig, CheckAlerting};
use super::quiet::Silence;
use super::region::{Observation, Outcome};
use super::state::{AlertState, CheckState};
use crate::result::ProbeResult;

/// Whether the state needs no attention while executions keep passing: level UP, no
/// round waiting, no incident left to notify, every region OK with no failure or slow
/// execution in its window, no TLS warning outstanding, not flapping.
pub fn is_settled(cs: &CheckState) -> bool {
    cs.level == Level::Up
        && cs.pending.is_empty()
        && !cs.flapping
        && cs.gap_notified.is_none()
        && cs.log.is_empty()
        && cs.tls.warned_days.is_none()
        && cs
            .incident
            .as_ref()
            .is_none_or(|i| !i.is_open() && i.notified_level == Level::Up && i.held_by.is_none())
        && cs.regions.values().all(|t| {
            t.state == RegionState::Ok && t.slow_streak == 0 && !t.window.iter().any(|f| *f)
        })
}

/// Whether `result` would leave a settled state settled: it passed, was not slow, and
/// its certificate (if any) is further from expiry than every TLS threshold.
pub fn is_routine(result: &ProbeResult, check: &CheckAlerting) -> bool {
    let obs = Observation::from_result(result, &check.policy);
    let tls_far = match (obs.tls_days_left, check.policy.tls_days.first()) {
        (Some(days), Some(&largest)) => days > i64::from(largest),
        _ => true,
    };
    obs.outcome == Outcome::Pass && tls_far
}

/// The outcome of [`evaluate_check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckEvaluation {
    /// The next state.
    pub state: CheckState,
    /// What to notify.
    pub intents: Vec<NotificationIntent>,
}

/// Evaluates one check: `state` is its stored state (`None` for a check seen for the
/// first time), `results` its new results (other checks' results are ignored). Returns
/// `None` when the check has no alerting configuration (disabled or unknown).
///
/// A settled state whose skipped executions were all routine is first brought forward:
/// every region counts as seen just before the oldest new result (or `now - settle`
/// when there is none), which is what evaluating the skipped executions would have done.
pub fn evaluate_check(
    check_id: &str,
    state: Option<&CheckState>,
    results: &[ProbeResult],
    now_ms: i64,
    config: &AlertConfig,
    silences: &[Silence],
) -> Option<CheckEvaluation> {
    let check = config.checks.get(check_id)?;
    let own: Vec<ProbeResult> = results
        .iter()
        .filter(|r| r.check_id == check_id)
        .cloned()
        .collect();
    let mut cs = state.cloned().unwrap_or_else(|| CheckState::new(now_ms));
    if state.is_some() && is_settled(&cs) {
        let oldest = own.iter().map(|r| r.scheduled_at_ms).min();
        bring_forward(
            &mut cs,
            oldest.map_or(now_ms - check.policy.settle_ms, |t| t - 1),
        );
    }
    let view = single(config, check);
    let mut all = AlertState::default();
    all.checks.insert(check_id.to_string(), cs);
    let (mut next, intents) = evaluate(&all, &own, now_ms, &view, silences);
    let state = next
        .checks
        .remove(check_id)
        .expect("the check is configured");
    Some(CheckEvaluation { state, intents })
}

/// Marks every region as fresh up to `to_ms` and moves the watermark there (never back).
fn bring_forward(cs: &mut CheckState, to_ms: i64) {
    if cs.closed_through_ms.is_some_and(|c| c >= to_ms) {
        return;
    }
    cs.fresh_from_ms = cs.fresh_from_ms.max(to_ms);
    cs.closed_through_ms = Some(to_ms);
}

/// The configuration with only `check` in it (cross-check settings off).
fn single(config: &AlertConfig, check: &CheckAlerting) -> AlertConfig {
    let mut global = config.global.clone();
    global.group_threshold = 0;
    global.suspect_min_checks = u32::MAX;
    AlertConfig {
        channels: config.channels.clone(),
        checks: [(check.check_id.clone(), check.clone())].into(),
        maintenance: config.maintenance.clone(),
        global,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{check, config, describe, result, Harness, MIN};
    use super::*;

    /// Feeds the same rounds to the whole-state evaluator and to a per-check runner
    /// that, like the DynamoDB one, skips routine results on a settled state and
    /// evaluates each region's results on their own (one SQS message per region).
    fn both(rounds: &[(i64, [bool; 2])]) -> (Vec<String>, Vec<String>, usize) {
        let regions = ["eu", "us"];
        let cfg = config(vec![check("api", &regions)]);
        let mut whole = Harness::new(cfg.clone());
        let mut stored: Option<CheckState> = None;
        let mut per = Vec::new();
        let mut skipped = 0;
        for (round, up) in rounds {
            whole.round("api", *round, &regions, up);
            // Regions arrive in opposite orders on odd rounds.
            let mut order = [0usize, 1];
            if round % 2 == 1 {
                order.reverse();
            }
            for (n, i) in order.into_iter().enumerate() {
                let r = result("api", regions[i], *round, up[i], 100.0);
                let settled = stored.as_ref().is_some_and(is_settled);
                if settled && is_routine(&r, &cfg.checks["api"]) {
                    skipped += 1;
                    continue;
                }
                let now = round * MIN + 5_000 + 5_000 * n as i64;
                let e = evaluate_check("api", stored.as_ref(), &[r], now, &cfg, &[]).unwrap();
                per.extend(e.intents);
                stored = Some(e.state);
            }
        }
        (describe(&whole.sent), describe(&per), skipped)
    }

    #[test]
    fn per_check_with_skips_notifies_like_the_whole_state() {
        let mut rounds: Vec<(i64, [bool; 2])> = (1..=20).map(|r| (r, [true, true])).collect();
        rounds.extend((21..=23).map(|r| (r, [false, true])));
        rounds.extend((24..=26).map(|r| (r, [false, false])));
        rounds.extend((27..=40).map(|r| (r, [true, true])));
        let (whole, per, skipped) = both(&rounds);
        assert_eq!(
            per,
            [
                "triggered REGIONAL api",
                "escalated DOWN api",
                "resolved UP api"
            ],
            "whole-state evaluator said {whole:?}"
        );
        assert_eq!(per, whole);
        // Rounds 1-20 and the settled rounds after recovery were skipped.
        assert!(skipped >= 40, "{skipped}");
    }

    #[test]
    fn a_settled_state_is_brought_forward_so_skipped_time_is_not_silence() {
        let cfg = config(vec![check("api", &["eu", "us"])]);
        let first = evaluate_check(
            "api",
            None,
            &[
                result("api", "eu", 1, true, 100.0),
                result("api", "us", 1, true, 100.0),
            ],
            MIN + 10_000,
            &cfg,
            &[],
        )
        .unwrap();
        assert!(is_settled(&first.state));
        // An hour of routine results is skipped; then one region fails.
        let later = evaluate_check(
            "api",
            Some(&first.state),
            &[result("api", "eu", 61, false, 100.0)],
            61 * MIN + 5_000,
            &cfg,
            &[],
        )
        .unwrap();
        assert!(later.intents.is_empty(), "{:?}", describe(&later.intents));
        assert_eq!(later.state.level, Level::Up);
        assert!(!is_settled(&later.state), "a failure is pending");
        // Without bringing forward, both regions would have gone stale an hour ago.
        let mut stale = first.state.clone();
        stale.fresh_from_ms = i64::MIN / 2;
        stale.incident = None;
        stale.gap_notified = Some(0);
        let unsettled = evaluate_check(
            "api",
            Some(&stale),
            &[result("api", "eu", 61, false, 100.0)],
            61 * MIN + 5_000,
            &cfg,
            &[],
        )
        .unwrap();
        assert_eq!(unsettled.state.level, Level::Unknown);
    }

    #[test]
    fn routine_means_passing_fast_and_far_from_certificate_expiry() {
        let c = check("api", &["eu"]);
        assert!(is_routine(&result("api", "eu", 1, true, 100.0), &c));
        assert!(!is_routine(&result("api", "eu", 1, false, 100.0), &c));
        assert!(
            !is_routine(&result("api", "eu", 1, true, 900.0), &c),
            "slow"
        );
        let mut near = result("api", "eu", 1, true, 100.0);
        near.tls_cert_days_left = Some(20);
        assert!(!is_routine(&near, &c), "inside the 30-day warning");
        assert!(evaluate_check("other", None, &[], 0, &config(vec![c]), &[]).is_none());
    }
}
