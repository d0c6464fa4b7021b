//! One check's regions side by side, with the fastest and the slowest region marked.
//!
//! Regions are ranked by **median latency** (`latency_p50_ms`), ties broken by p95 and
//! then by region name. The median is what a typical user in that region waits; the
//! p95 of a short window rests on a handful of samples and moves with one slow
//! request, so it breaks ties rather than deciding. Regions without an answered
//! execution (everything failed) are listed last and never marked. Marks are only
//! given when at least two regions are ranked and the two ends differ.

use std::cmp::Ordering;

use serde::Serialize;

use super::CheckRegionStats;

/// The figure regions are ranked by, as named in the JSON output.
pub const RANKED_BY: &str = "latency_p50_ms";

/// How a region compares with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// Lowest median latency.
    Fastest,
    /// Highest median latency.
    Slowest,
}

impl Mark {
    /// `fastest` or `slowest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fastest => "fastest",
            Self::Slowest => "slowest",
        }
    }
}

/// One region of the view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionColumn {
    /// The region's statistics.
    #[serde(flatten)]
    pub stats: CheckRegionStats,
    /// Fastest or slowest, when the region is at one end of the ranking.
    pub mark: Option<Mark>,
    /// This region's median latency over the fastest region's (1.0 for the fastest).
    pub p50_vs_fastest: Option<f64>,
}

/// One check, its regions ordered fastest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ByRegion {
    /// Check id.
    pub check_id: String,
    /// The figure regions are ranked by ([`RANKED_BY`]).
    pub ranked_by: &'static str,
    /// Fastest region, when marked.
    pub fastest: Option<String>,
    /// Slowest region, when marked.
    pub slowest: Option<String>,
    /// Regions, fastest first; regions without latency last, by name.
    pub regions: Vec<RegionColumn>,
}

fn rank(a: &CheckRegionStats, b: &CheckRegionStats) -> Ordering {
    match (a.latency_p50_ms, b.latency_p50_ms) {
        (Some(x), Some(y)) => x
            .total_cmp(&y)
            .then_with(|| {
                let (p, q) = (a.latency_p95_ms.unwrap_or(x), b.latency_p95_ms.unwrap_or(y));
                p.total_cmp(&q)
            })
            .then_with(|| a.region.cmp(&b.region)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.region.cmp(&b.region),
    }
}

fn same_speed(a: &CheckRegionStats, b: &CheckRegionStats) -> bool {
    a.latency_p50_ms == b.latency_p50_ms && a.latency_p95_ms == b.latency_p95_ms
}

/// The by-region view of `check_id` from a report's rows; `None` when the check has no
/// row.
pub fn by_region(stats: &[CheckRegionStats], check_id: &str) -> Option<ByRegion> {
    let mut rows: Vec<&CheckRegionStats> =
        stats.iter().filter(|s| s.check_id == check_id).collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| rank(a, b));
    let ranked = rows.iter().filter(|s| s.latency_p50_ms.is_some()).count();
    let marked = ranked >= 2 && !same_speed(rows[0], rows[ranked - 1]);
    let fastest_p50 = rows[0].latency_p50_ms;
    let regions: Vec<RegionColumn> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| RegionColumn {
            stats: (*s).clone(),
            mark: match i {
                _ if !marked => None,
                0 => Some(Mark::Fastest),
                i if i == ranked - 1 => Some(Mark::Slowest),
                _ => None,
            },
            p50_vs_fastest: match (s.latency_p50_ms, fastest_p50) {
                (Some(p), Some(f)) if f > 0.0 => Some(p / f),
                _ => None,
            },
        })
        .collect();
    Some(ByRegion {
        check_id: check_id.to_string(),
        ranked_by: RANKED_BY,
        fastest: marked.then(|| rows[0].region.clone()),
        slowest: marked.then(|| rows[ranked - 1].region.clone()),
        regions,
    })
}
