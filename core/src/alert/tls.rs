//! TLS certificate warnings, apart from availability (an expired certificate already
//! fails the check through its own assertions).
//!
//! `days` is the smallest `tls_cert_days_left` over the latest execution of each region
//! with fresh data (CDN edges renew unevenly). With thresholds `tls_days` (e.g.
//! `[30, 14, 7]`), one [`EventKind::TlsExpiring`] is sent when `days` first drops to or
//! below a threshold not yet warned about (so a fresh check at 5 days gets one warning,
//! for 7, not three). When `days` rises above the largest threshold again (renewal), a
//! [`EventKind::TlsRenewed`] is sent if a warning was, and the thresholds are re-armed.
//! Warnings are held while the check is quiet (maintenance, silences) and sent after.

use std::collections::BTreeMap;

use super::check::RegionState;
use super::evaluate::region_states;
use super::intent::{EventKind, NotificationIntent};
use super::notify::intent_for;
use super::policy::CheckAlerting;
use super::state::CheckState;

/// Decides TLS notifications for one check.
pub(super) fn step(
    cs: &mut CheckState,
    check: &CheckAlerting,
    quiet: bool,
    suspects: &BTreeMap<String, i64>,
    now_ms: i64,
    out: &mut Vec<NotificationIntent>,
) {
    let thresholds = &check.policy.tls_days;
    let Some(&largest) = thresholds.first() else {
        return;
    };
    let states = region_states(cs, check, cs.closed_through_ms.unwrap_or(now_ms));
    let days = check
        .regions
        .iter()
        .zip(states)
        .filter(|(_, s)| *s != RegionState::NoData)
        .filter_map(|(r, _)| cs.regions.get(r).and_then(|t| t.last.tls_days_left))
        .min();
    let Some(days) = days else { return };
    if quiet {
        return;
    }
    let channels = check.policy.routes.tls.clone();
    let cycle = cs.tls.cycle;
    if days > i64::from(largest) {
        if cs.tls.warned_days.take().is_some() {
            cs.tls.cycle += 1;
            let id = format!("{}:tls:{cycle}:renewed", check.check_id);
            let mut intent = intent_for(
                cs,
                check,
                suspects,
                EventKind::TlsRenewed,
                id,
                channels,
                now_ms,
            );
            intent.tls_days_left = Some(days);
            out.push(intent);
        }
        return;
    }
    let crossed = thresholds
        .iter()
        .copied()
        .filter(|t| days <= i64::from(*t))
        .min()
        .expect("days <= largest");
    if cs.tls.warned_days.is_none_or(|w| crossed < w) {
        cs.tls.warned_days = Some(crossed);
        let id = format!("{}:tls:{cycle}:{crossed}", check.check_id);
        let mut intent = intent_for(
            cs,
            check,
            suspects,
            EventKind::TlsExpiring,
            id,
            channels,
            now_ms,
        );
        intent.tls_days_left = Some(days);
        out.push(intent);
    }
}
