//! Validation of `maintenance:` windows: one-off (`start` with `end` or `duration`) or
//! weekly (`weekly: {days, at, utc_offset}` with `duration`).

use std::collections::BTreeSet;

use super::config::RawMaintenance;
use super::parse::duration_ms;
use super::quiet::{MaintenanceMode, MaintenanceWindow, WindowSchedule};

fn weekday(name: &str) -> Option<u8> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| name.eq_ignore_ascii_case(d) || name.to_ascii_lowercase().starts_with(d))
        .map(|i| i as u8)
}

fn clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60 && text.trim().len() == 5).then_some(h * 60 + m)
}

fn offset(text: &str) -> Option<i32> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    clock(&text[1..])
        .filter(|m| *m <= 14 * 60)
        .map(|m| sign * m as i32)
}

fn instant(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("is not an RFC 3339 time like 2025-09-01T02:00:00Z ({e})"))
}

/// Validates maintenance windows; bad ones are left out.
pub(super) fn maintenance(
    raw: &[RawMaintenance],
    checks: &BTreeSet<&str>,
    err: &mut dyn FnMut(String, String, String),
) -> Vec<MaintenanceWindow> {
    let mut out: Vec<MaintenanceWindow> = Vec::new();
    for (i, m) in raw.iter().enumerate() {
        let f = |name: &str| format!("maintenance[{i}].{name}");
        let mut ok = true;
        let mut bad = |field: String, value: String, reason: &str| {
            err(field, value, reason.to_string());
            ok = false;
        };
        if m.id.is_empty() || out.iter().any(|w| w.id == m.id) {
            bad(f("id"), m.id.clone(), "must be a unique, non-empty id");
        }
        for (j, c) in m.checks.iter().enumerate() {
            if !checks.contains(c.as_str()) {
                bad(
                    f(&format!("checks[{j}]")),
                    c.clone(),
                    "is not a check in this file",
                );
            }
        }
        if m.checks.is_empty() && m.tags.is_empty() {
            bad(
                f("checks"),
                String::new(),
                "a window must name checks or tags",
            );
        }
        let mode = match m.mode.as_deref() {
            None | Some("silence") => MaintenanceMode::Silence,
            Some("pause") => MaintenanceMode::Pause,
            Some(other) => {
                bad(f("mode"), other.into(), "must be silence or pause");
                MaintenanceMode::Silence
            }
        };
        let duration = m.duration.as_deref().map(|d| (d, duration_ms(d)));
        if let Some((text, Ok(0) | Err(_))) = duration {
            bad(
                f("duration"),
                text.into(),
                "must be a duration of more than 0, like 2h",
            );
        }
        let duration = duration.and_then(|(_, d)| d.ok()).filter(|d| *d > 0);
        let schedule = match (&m.start, &m.weekly) {
            (Some(start), None) => {
                let start_ms = instant(start)
                    .map_err(|r| bad(f("start"), start.clone(), &r))
                    .ok();
                let end_ms = match (&m.end, duration) {
                    (Some(end), None) => instant(end)
                        .map_err(|r| bad(f("end"), end.clone(), &r))
                        .ok(),
                    (None, Some(d)) => start_ms.map(|s| s + d),
                    _ => {
                        bad(
                            f("end"),
                            m.end.clone().unwrap_or_default(),
                            "give exactly one of `end` and `duration`",
                        );
                        None
                    }
                };
                match (start_ms, end_ms) {
                    (Some(s), Some(e)) if e > s => Some(WindowSchedule::Once {
                        start_ms: s,
                        end_ms: e,
                    }),
                    (Some(_), Some(_)) => {
                        bad(
                            f("end"),
                            m.end.clone().unwrap_or_default(),
                            "must be after `start`",
                        );
                        None
                    }
                    _ => None,
                }
            }
            (None, Some(w)) => {
                let days: Vec<u8> = w
                    .days
                    .iter()
                    .enumerate()
                    .filter_map(|(j, d)| {
                        let day = weekday(d);
                        if day.is_none() {
                            bad(
                                f(&format!("weekly.days[{j}]")),
                                d.clone(),
                                "must be a weekday: mon, tue, wed, thu, fri, sat or sun",
                            );
                        }
                        day
                    })
                    .collect();
                let at = clock(&w.at);
                if at.is_none() {
                    bad(f("weekly.at"), w.at.clone(), "must be a time HH:MM");
                }
                let utc = w.utc_offset.as_deref().map_or(Some(0), offset);
                if utc.is_none() {
                    bad(
                        f("weekly.utc_offset"),
                        w.utc_offset.clone().unwrap_or_default(),
                        "must be an offset like +02:00 or -05:30",
                    );
                }
                match duration {
                    Some(d) if d <= 86_400_000 => {}
                    _ => bad(
                        f("duration"),
                        m.duration.clone().unwrap_or_default(),
                        "a weekly window needs a duration of at most 24h",
                    ),
                }
                match (at, utc, duration) {
                    (Some(at), Some(utc), Some(d)) => Some(WindowSchedule::Weekly {
                        days,
                        minute_of_day: at,
                        utc_offset_minutes: utc,
                        duration_ms: d,
                    }),
                    _ => None,
                }
            }
            _ => {
                bad(
                    f("start"),
                    String::new(),
                    "give either `start` (one-off) or `weekly` (recurring)",
                );
                None
            }
        };
        if let (true, Some(schedule)) = (ok, schedule) {
            out.push(MaintenanceWindow {
                id: m.id.clone(),
                checks: m.checks.clone(),
                tags: m.tags.clone(),
                mode,
                schedule,
            });
        }
    }
    out
}
