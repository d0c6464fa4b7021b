//! Suspect probe regions: a region that fails most of its checks *alone* is more likely
//! broken itself (network, DNS, a stuck probe) than every site it probes.
//!
//! Among the checks probed from region R and at least one other region (with fresh data
//! in R), count those FAILING in R while no other region fails them. When there are at
//! least `suspect.min_checks` such multi-region checks and at least `suspect.percent` %
//! of them fail only in R, R is suspect: one [`EventKind::RegionSuspect`] goes to the
//! operator channels, and a check whose failing regions are all suspect has its
//! notifications held (its level is still shown as it is). When R agrees with the others
//! again, [`EventKind::RegionCleared`] is sent and held checks reconcile.

use std::collections::BTreeSet;

use super::check::{Level, RegionState};
use super::evaluate::region_states;
use super::intent::{EventKind, NotificationIntent};
use super::policy::AlertConfig;
use super::state::AlertState;

/// Updates [`AlertState::suspect_regions`] at `now_ms`.
pub(super) fn update(
    state: &mut AlertState,
    config: &AlertConfig,
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) {
    let g = &config.global;
    let regions: BTreeSet<&String> = config.checks.values().flat_map(|c| &c.regions).collect();
    for region in regions {
        let (mut multi, mut alone) = (0u32, 0u32);
        for (id, check) in &config.checks {
            let Some(i) = check.regions.iter().position(|r| r == region) else {
                continue;
            };
            if check.regions.len() < 2 {
                continue;
            }
            let states = {
                let cs = &state.checks[id];
                region_states(cs, check, cs.closed_through_ms.unwrap_or(now_ms))
            };
            if states[i] == RegionState::NoData {
                continue;
            }
            multi += 1;
            let others_fail = states
                .iter()
                .enumerate()
                .any(|(j, s)| j != i && *s == RegionState::Failing);
            if states[i] == RegionState::Failing && !others_fail {
                alone += 1;
            }
        }
        let suspect =
            alone > 0 && multi >= g.suspect_min_checks && alone * 100 >= g.suspect_percent * multi;
        let since = state.suspect_regions.get(region).copied();
        let (kind, id) = match (suspect, since) {
            (true, None) => {
                state.suspect_regions.insert(region.clone(), now_ms);
                (
                    EventKind::RegionSuspect,
                    format!("region:{region}:suspect:{now_ms}"),
                )
            }
            (false, Some(since)) => {
                state.suspect_regions.remove(region);
                (
                    EventKind::RegionCleared,
                    format!("region:{region}:suspect:{since}:cleared"),
                )
            }
            _ => continue,
        };
        if g.operator_channels.is_empty() {
            continue;
        }
        out.push(NotificationIntent {
            id,
            kind,
            at_ms: now_ms,
            check: None,
            incident_id: None,
            seq: 0,
            level: Level::Up,
            previous_level: Level::Up,
            opened_at_ms: None,
            regions: Vec::new(),
            quorum: None,
            region: Some(region.clone()),
            tls_days_left: None,
            note: Some(format!(
                "{alone} of {multi} multi-region checks fail only there"
            )),
            channels: g.operator_channels.clone(),
            members: Vec::new(),
        });
    }
}
