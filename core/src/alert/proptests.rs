//! Property tests: for the same evaluation times, the same results, duplicated,
//! reordered or split differently between evaluations (within the settle window), give
//! the same incidents and notifications; replaying them afterwards changes nothing.

use proptest::prelude::*;

use super::policy::AlertConfig;
use super::state::AlertState;
use super::testkit::{check, config, result, MIN};
use super::{evaluate, NotificationIntent};
use crate::result::ProbeResult;

const PAIRS: [(&str, &str); 5] = [("x", "a"), ("x", "b"), ("x", "c"), ("y", "a"), ("y", "b")];
const ROUNDS: i64 = 12;

fn cfg() -> AlertConfig {
    let mut y = check("y", &["a", "b"]);
    y.policy.failure_window = 3;
    config(vec![check("x", &["a", "b", "c"]), y])
}

/// Results of one round from the generated codes: 0 absent, 1 fail, 2 slow, else pass.
fn round_results(codes: &[u8], round: i64) -> Vec<ProbeResult> {
    PAIRS
        .iter()
        .enumerate()
        .filter_map(
            |(i, (c, r))| match codes[(round as usize - 1) * PAIRS.len() + i] {
                0 => None,
                1 => Some(result(c, r, round, false, 0.0)),
                2 => Some(result(c, r, round, true, 900.0)),
                _ => Some(result(c, r, round, true, 100.0)),
            },
        )
        .collect()
}

/// What must not depend on delivery: intent ids, kinds, levels and channels (sorted:
/// two checks whose rounds complete in different evaluations may swap places).
fn key(intents: &[NotificationIntent]) -> Vec<String> {
    let mut keys: Vec<String> = intents
        .iter()
        .map(|i| {
            format!(
                "{} {:?} {:?}<-{:?} {:?}",
                i.id, i.kind, i.level, i.previous_level, i.channels
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The state without wall-clock stamps of when notifications were made.
fn incidents(state: &AlertState) -> String {
    let mut s = state.clone();
    s.late_ignored = 0;
    for cs in s.checks.values_mut() {
        if let Some(inc) = cs.incident.as_mut() {
            inc.last_notified_at_ms = None;
        }
    }
    serde_json::to_string(&s).unwrap()
}

/// Evaluates at the same times as the property (+2 s and +10 s after each round), with
/// each round's results, in order and once, all in the second evaluation.
fn baseline(codes: &[u8]) -> (AlertState, Vec<NotificationIntent>) {
    let cfg = cfg();
    let (mut state, mut all) = evaluate(&AlertState::default(), &[], 0, &cfg, &[]);
    for round in 1..=ROUNDS {
        for (results, at) in [(Vec::new(), 2_000), (round_results(codes, round), 10_000)] {
            let (s, i) = evaluate(&state, &results, round * MIN + at, &cfg, &[]);
            state = s;
            all.extend(i);
        }
    }
    (state, all)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn delivery_order_and_duplicates_do_not_matter(
        codes in prop::collection::vec(0u8..6, PAIRS.len() * ROUNDS as usize),
        order in prop::collection::vec(any::<u32>(), PAIRS.len() * 2),
        dups in prop::collection::vec(any::<bool>(), PAIRS.len()),
        splits in prop::collection::vec(0usize..=(PAIRS.len() * 2), ROUNDS as usize),
    ) {
        let (want_state, want) = baseline(&codes);
        let cfg = cfg();
        let (mut state, mut got) = evaluate(&AlertState::default(), &[], 0, &cfg, &[]);
        for round in 1..=ROUNDS {
            // Duplicate some results, shuffle, and deliver in two evaluations.
            let mut results = round_results(&codes, round);
            let extra: Vec<ProbeResult> = results
                .iter()
                .zip(&dups)
                .filter(|(_, d)| **d)
                .map(|(r, _)| r.clone())
                .collect();
            results.extend(extra);
            let mut keyed: Vec<(u32, ProbeResult)> =
                results.into_iter().enumerate().map(|(i, r)| (order[i], r)).collect();
            keyed.sort_by_key(|(k, r)| (*k, r.region.clone(), r.check_id.clone()));
            let results: Vec<ProbeResult> = keyed.into_iter().map(|(_, r)| r).collect();
            let split = splits[round as usize - 1].min(results.len());
            for (batch, at) in [(&results[..split], 2_000), (&results[split..], 10_000)] {
                let (s, i) = evaluate(&state, batch, round * MIN + at, &cfg, &[]);
                state = s;
                got.extend(i);
            }
        }
        prop_assert_eq!(key(&got), key(&want));
        prop_assert_eq!(incidents(&state), incidents(&want_state));

        // Replaying everything afterwards, in any order, is a no-op.
        let mut replay: Vec<ProbeResult> = (1..=ROUNDS).flat_map(|r| round_results(&codes, r)).collect();
        replay.reverse();
        let (after, again) = evaluate(&state, &replay, ROUNDS * MIN + 10_000, &cfg, &[]);
        prop_assert!(again.is_empty(), "{:?}", key(&again));
        prop_assert_eq!(incidents(&after), incidents(&state));
    }

    #[test]
    fn one_evaluation_of_everything_is_order_free(
        codes in prop::collection::vec(0u8..6, PAIRS.len() * ROUNDS as usize),
        seed in any::<u64>(),
    ) {
        let cfg = cfg();
        let all: Vec<ProbeResult> = (1..=ROUNDS).flat_map(|r| round_results(&codes, r)).collect();
        let mut mixed = all.clone();
        mixed.extend(all.iter().step_by(3).cloned());
        // A deterministic shuffle from the seed (xorshift keys).
        let mut x = seed | 1;
        let mut keyed: Vec<(u64, ProbeResult)> = mixed
            .into_iter()
            .map(|r| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x, r)
            })
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let mixed: Vec<ProbeResult> = keyed.into_iter().map(|(_, r)| r).collect();
        let start = evaluate(&AlertState::default(), &[], 0, &cfg, &[]).0;
        let end = ROUNDS * MIN + 10 * MIN;
        let (s1, i1) = evaluate(&start, &all, end, &cfg, &[]);
        let (s2, i2) = evaluate(&start, &mixed, end, &cfg, &[]);
        prop_assert_eq!(&s1, &s2);
        prop_assert_eq!(i1, i2);
    }
}
