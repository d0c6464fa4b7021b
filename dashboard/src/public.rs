//! The public status page (`/status`, `/api/status`): only the checks an operator marks
//! public, with their state, daily uptime and open incidents. It shows no URL, no error
//! message and no region, so it is safe to expose where the dashboard is not.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::catalog::ConfiguredCheck;
use webmon_core::read::{AlertView, CheckUptime, Uptime};

/// Which checks the status page shows. Empty (the default): none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicChecks {
    /// Checks shown by id.
    pub ids: Vec<String>,
    /// Checks shown by tag: a configured check carrying any of these `(key, value)`
    /// tags is public.
    pub tags: Vec<(String, String)>,
}

impl PublicChecks {
    /// Parses selectors: `key=value` selects by tag, anything else is a check id.
    pub fn parse<'a>(selectors: impl IntoIterator<Item = &'a str>) -> Self {
        let mut public = Self::default();
        for selector in selectors {
            match selector.split_once('=') {
                Some((key, value)) => public
                    .tags
                    .push((key.trim().to_string(), value.trim().to_string())),
                None => public.ids.push(selector.trim().to_string()),
            }
        }
        public
    }

    /// Whether the check `id` (configured as `configured`, when known) is public.
    pub fn includes(&self, id: &str, configured: Option<&ConfiguredCheck>) -> bool {
        self.ids.iter().any(|i| i == id)
            || configured.is_some_and(|c| {
                self.tags
                    .iter()
                    .any(|(k, v)| c.tags.get(k).is_some_and(|t| t == v))
            })
    }
}

/// One public check on the status page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicCheck {
    /// Check id.
    pub check_id: String,
    /// `up`, `degraded`, `down`, `stale` or `pending`, as on the overview.
    pub state: String,
    /// Availability over the history, percent; `None` without executions.
    pub availability_pct: Option<f64>,
    /// One entry per UTC day (samples, passed, availability).
    pub days: Vec<webmon_core::read::DayUptime>,
}

/// An incident of a public check, without its regions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicIncident {
    /// The check.
    pub check_id: String,
    /// Its level now (`DEGRADED`, `REGIONAL`, `DOWN`...).
    pub level: String,
    /// When it opened, Unix milliseconds.
    pub opened_at_ms: i64,
}

/// What `/api/status` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    /// Days of history per check.
    pub days: u32,
    /// Whether the store keeps alert state (incidents are listed only then).
    pub incidents_available: bool,
    /// The public checks, sorted by id.
    pub checks: Vec<PublicCheck>,
    /// Open incidents of the public checks, oldest first.
    pub incidents: Vec<PublicIncident>,
}

/// The status page's view: public checks among the annotated overview (`overview`
/// JSON, see [`super::catalog::annotate`]) and the uptime history, and the open
/// incidents of those checks.
pub fn status_view(
    public: &PublicChecks,
    configured: &BTreeMap<String, ConfiguredCheck>,
    overview: &Value,
    uptime: &Uptime,
    alerts: Option<&AlertView>,
) -> StatusView {
    let empty = Vec::new();
    let listed = overview["checks"].as_array().unwrap_or(&empty);
    let mut checks: Vec<PublicCheck> = Vec::new();
    for check in listed {
        let Some(id) = check["check_id"].as_str() else {
            continue;
        };
        if !public.includes(id, configured.get(id)) {
            continue;
        }
        let history = uptime.checks.iter().find(|c| c.check_id == id);
        let history = history
            .cloned()
            .unwrap_or_else(|| empty_history(id, uptime));
        checks.push(PublicCheck {
            check_id: id.to_string(),
            state: check["state"].as_str().unwrap_or("pending").to_string(),
            availability_pct: history.availability_pct,
            days: history.days,
        });
    }
    // A public check with history but no result in the overview's window: stale.
    for history in &uptime.checks {
        let id = history.check_id.as_str();
        if public.includes(id, configured.get(id)) && !checks.iter().any(|c| c.check_id == id) {
            checks.push(PublicCheck {
                check_id: id.to_string(),
                state: "stale".into(),
                availability_pct: history.availability_pct,
                days: history.days.clone(),
            });
        }
    }
    checks.sort_by(|a, b| a.check_id.cmp(&b.check_id));
    let incidents = alerts
        .map(|a| {
            a.incidents
                .iter()
                .filter(|i| i.resolved_at_ms.is_none())
                .filter(|i| checks.iter().any(|c| c.check_id == i.check_id))
                .map(|i| PublicIncident {
                    check_id: i.check_id.clone(),
                    level: i.level.clone(),
                    opened_at_ms: i.opened_at_ms,
                })
                .collect()
        })
        .unwrap_or_default();
    StatusView {
        days: uptime.days,
        incidents_available: alerts.is_some(),
        checks,
        incidents,
    }
}

/// The history of a check without executions in it: every day without data.
pub fn empty_history(check_id: &str, uptime: &Uptime) -> CheckUptime {
    let days = (0..uptime.days)
        .map(|i| webmon_core::read::DayUptime {
            day_ms: uptime.window.from_ms + i64::from(i) * webmon_core::read::model::DAY_MS,
            samples: 0,
            passed: 0,
            availability_pct: None,
        })
        .collect();
    CheckUptime {
        check_id: check_id.to_string(),
        samples: 0,
        passed: 0,
        availability_pct: None,
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_by_id_and_tag() {
        let public = PublicChecks::parse(["api", "public=true"]);
        assert_eq!(public.ids, ["api"]);
        let mut web = ConfiguredCheck {
            id: "web".into(),
            ..Default::default()
        };
        assert!(public.includes("api", None));
        assert!(!public.includes("web", Some(&web)));
        web.tags.insert("public".into(), "true".into());
        assert!(public.includes("web", Some(&web)));
        web.tags.insert("public".into(), "false".into());
        assert!(!public.includes("web", Some(&web)));
        assert!(!PublicChecks::default().includes("api", None));
    }
}
