//! What the dashboard knows beyond stored results: the configured checks (from
//! `webmon run`, or a checks file), so a check that has not run yet shows as pending,
//! and its interval, so a check without a fresh result shows as stale.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use webmon_core::check::Check;
use webmon_core::read::Overview;

/// Staleness threshold when a check's interval is unknown.
pub const DEFAULT_STALE_AFTER_MS: i64 = 5 * 60 * 1000;

/// A configured check, as the dashboard needs it: its id, URL and settings, never its
/// request headers or body (where secrets live).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfiguredCheck {
    /// Check id.
    #[serde(rename = "check_id")]
    pub id: String,
    /// The URL it probes.
    pub url: String,
    /// Its interval, in milliseconds.
    pub interval_ms: i64,
    /// HTTP method (`GET`, `HEAD`...).
    pub method: String,
    /// Requests per execution (the first cold, the others warm).
    pub requests: u32,
    /// Time allowed for one execution, in milliseconds.
    pub timeout_ms: i64,
    /// Regions it runs in (empty: every region).
    pub regions: Vec<String>,
    /// Its tags (`team: web`).
    pub tags: BTreeMap<String, String>,
}

impl From<&Check> for ConfiguredCheck {
    fn from(check: &Check) -> Self {
        Self {
            id: check.id.clone(),
            url: check.url.to_string(),
            interval_ms: check.interval.seconds() as i64 * 1000,
            method: check.method.to_string(),
            requests: check.requests,
            timeout_ms: i64::try_from(check.timeout.as_millis()).unwrap_or(i64::MAX),
            regions: check.regions.clone(),
            tags: check.tags.clone(),
        }
    }
}

/// The configured checks, asked on every overview (the set may change on reload).
pub trait CheckCatalog: Send + Sync {
    /// The checks configured now.
    fn checks(&self) -> Vec<ConfiguredCheck>;
}

/// A fixed list of checks (a checks file read once).
impl CheckCatalog for Vec<ConfiguredCheck> {
    fn checks(&self) -> Vec<ConfiguredCheck> {
        self.clone()
    }
}

/// When a result at `at_ms` of a check with `interval_ms` is no longer fresh: two
/// intervals and a few seconds for the probe and the writer.
pub fn stale_after_ms(interval_ms: Option<i64>) -> i64 {
    interval_ms.map_or(DEFAULT_STALE_AFTER_MS, |i| 2 * i + 5_000)
}

/// The configured checks by id (none without a catalog).
pub fn by_id(catalog: Option<&Arc<dyn CheckCatalog>>) -> BTreeMap<String, ConfiguredCheck> {
    catalog
        .map(|c| c.checks().into_iter().map(|c| (c.id.clone(), c)).collect())
        .unwrap_or_default()
}

/// The states counted as the overview's `summary` shows them, in this order.
pub const STATES: [&str; 5] = ["up", "down", "degraded", "stale", "pending"];

/// The overview as JSON, each check with a `state`: `up`, `degraded`, `down` (its
/// health), `stale` (no result within [`stale_after_ms`]) or `pending` (configured,
/// no result yet; listed with no regions), and its `tags` (from the catalog; empty when
/// unknown). `summary` counts the checks by state.
pub fn annotate(
    overview: &Overview,
    catalog: Option<&Arc<dyn CheckCatalog>>,
    now_ms: i64,
) -> Value {
    let configured = by_id(catalog);
    let mut checks: Vec<Value> = Vec::new();
    for check in &overview.checks {
        let mut value = serde_json::to_value(check).unwrap_or(Value::Null);
        let newest = check.regions.iter().map(|r| r.last.at_ms).max();
        let interval = configured.get(&check.check_id).map(|c| c.interval_ms);
        let limit = stale_after_ms(interval);
        let stale = newest.is_none_or(|at| now_ms - at > limit);
        let state = if stale {
            json!("stale")
        } else {
            serde_json::to_value(check.health).unwrap_or(Value::Null)
        };
        if let Value::Object(map) = &mut value {
            map.insert("state".into(), state);
            map.insert("stale_after_ms".into(), json!(limit));
            map.insert(
                "configured".into(),
                json!(configured.contains_key(&check.check_id)),
            );
            let tags = configured.get(&check.check_id).map(|c| &c.tags);
            map.insert("tags".into(), json!(tags.cloned().unwrap_or_default()));
        }
        checks.push(value);
    }
    for (id, c) in &configured {
        if overview.checks.iter().any(|o| &o.check_id == id) {
            continue;
        }
        checks.push(json!({
            "check_id": id,
            "url": c.url,
            "health": null,
            "state": "pending",
            "stale_after_ms": stale_after_ms(Some(c.interval_ms)),
            "configured": true,
            "tags": c.tags,
            "regions": [],
        }));
    }
    checks.sort_by(|a, b| a["check_id"].as_str().cmp(&b["check_id"].as_str()));
    let mut summary = serde_json::Map::new();
    summary.insert("total".into(), json!(checks.len()));
    for state in STATES {
        let n = checks.iter().filter(|c| c["state"] == state).count();
        summary.insert(state.into(), json!(n));
    }
    json!({ "window": overview.window, "summary": summary, "checks": checks })
}
