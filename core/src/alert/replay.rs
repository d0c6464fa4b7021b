//! Replaying stored results through a policy (`webmon alerts replay`): what would this
//! configuration have notified? Results are fed in scheduled order, each scheduled time
//! evaluated at that time, as a runner evaluating after every batch would have, then the
//! evaluation steps to `end_ms`. Wall-clock events (reminders, window ends) happen at
//! those evaluation times.

use super::policy::AlertConfig;
use super::quiet::Silence;
use super::{evaluate, AlertState, NotificationIntent};
use crate::result::ProbeResult;

/// Evaluations made between two scheduled times at most, for wall-clock events.
const MAX_STEPS_BETWEEN: i64 = 60;

/// Replays `results` (any order) from an empty state; returns the final state and every
/// intent, in order. `step_ms` adds evaluations between distant scheduled times (at most
/// [`MAX_STEPS_BETWEEN`] per gap) so that time-driven events are not lumped together.
pub fn replay(
    config: &AlertConfig,
    results: &[ProbeResult],
    silences: &[Silence],
    step_ms: i64,
    end_ms: i64,
) -> (AlertState, Vec<NotificationIntent>) {
    let mut sorted: Vec<&ProbeResult> = results.iter().collect();
    sorted.sort_by_key(|r| r.scheduled_at_ms);
    let start = sorted.first().map_or(end_ms, |r| r.scheduled_at_ms) - 1;
    let (mut state, mut all) = evaluate(&AlertState::default(), &[], start, config, silences);
    let mut now = start;
    let mut run = |state: &mut AlertState, batch: &[ProbeResult], at: i64| {
        let (next, intents) = evaluate(state, batch, at, config, silences);
        *state = next;
        all.extend(intents);
    };
    let mut i = 0;
    while i < sorted.len() {
        let tick = sorted[i].scheduled_at_ms;
        let batch: Vec<ProbeResult> = sorted[i..]
            .iter()
            .take_while(|r| r.scheduled_at_ms == tick)
            .map(|r| (*r).clone())
            .collect();
        i += batch.len();
        if step_ms > 0 {
            let steps = ((tick - now) / step_ms).min(MAX_STEPS_BETWEEN);
            for k in 1..steps {
                run(&mut state, &[], now + k * step_ms);
            }
        }
        run(&mut state, &batch, tick);
        now = tick;
    }
    run(&mut state, &[], end_ms.max(now));
    (state, all)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{check, config, describe, result, MIN};
    use super::*;

    #[test]
    fn replay_finds_the_outage() {
        let cfg = config(vec![check("web", &["a", "b", "c"])]);
        let mut results = Vec::new();
        for round in 1..=8 {
            for region in ["a", "b", "c"] {
                results.push(result(
                    "web",
                    region,
                    round,
                    !(3..=5).contains(&round),
                    100.0,
                ));
            }
        }
        results.reverse();
        let (state, intents) = replay(&cfg, &results, &[], 10_000, 10 * MIN);
        assert_eq!(
            describe(&intents),
            ["triggered DOWN web", "resolved UP web"]
        );
        assert_eq!(intents[0].incident_id.as_deref(), Some("web:240000"));
        assert!(state.checks["web"].incident.is_none());
    }
}
