//! What the dashboard shows, as serialisable types: the JSON API returns them as they
//! are, and the pages render them. None of them carries a check's request headers.

use std::time::Duration;

use serde::Serialize;

/// Window used when a request names none.
pub const DEFAULT_SINCE: &str = "1h";
/// Longest window a request may ask for: the rollups are kept 400 days.
pub const MAX_SINCE: Duration = Duration::from_secs(400 * 24 * 3600);
/// Most failures returned when a request names no limit.
pub const DEFAULT_FAILURE_LIMIT: usize = 50;
/// Most failures a request may ask for.
pub const MAX_FAILURE_LIMIT: usize = 1000;
/// Most points per region in a latency series; longer windows are bucketed.
pub const MAX_POINTS: i64 = 240;

/// A time window, `[from_ms, to_ms]` in Unix milliseconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start, inclusive.
    pub from_ms: i64,
    /// End, inclusive.
    pub to_ms: i64,
}

impl Window {
    /// The window ending at `now_ms` and reaching back `since` (`15m`, `1h`, `7d`...;
    /// [`DEFAULT_SINCE`] when absent). The error names the value and the reason.
    pub fn since(since: Option<&str>, now_ms: i64) -> Result<Self, String> {
        let text = since.unwrap_or(DEFAULT_SINCE).trim();
        let span = humantime::parse_duration(text)
            .map_err(|e| format!("since={text:?} is not a duration like 15m, 1h or 7d ({e})"))?;
        if span.is_zero() || span > MAX_SINCE {
            return Err(format!(
                "since={text:?} must be more than 0 and at most 400d"
            ));
        }
        let span_ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        Ok(Self {
            from_ms: now_ms - span_ms,
            to_ms: now_ms,
        })
    }

    /// Length in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }

    /// Bucket width for a latency series over this window: the smallest of a few round
    /// widths that keeps at most [`MAX_POINTS`] buckets.
    pub fn bucket_ms(&self) -> i64 {
        const WIDTHS_S: [i64; 13] = [
            1,
            5,
            10,
            15,
            30,
            60,
            300,
            600,
            900,
            1800,
            3600,
            3 * 3600,
            6 * 3600,
        ];
        let needed = (self.span_ms() + MAX_POINTS - 1) / MAX_POINTS;
        WIDTHS_S
            .iter()
            .map(|s| s * 1000)
            .find(|w| *w >= needed)
            .unwrap_or(24 * 3600 * 1000)
    }
}

/// What a view was computed from: raw executions, rollups, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The rollup widths used, coarsest first (`1d`, `1h`, `5m`); empty when the view
    /// was computed from raw executions only.
    pub rollups: Vec<String>,
    /// Raw executions were read: the whole window, or its edges when rollups were used.
    pub raw: bool,
    /// An edge older than the raw retention was read from its whole 5-minute bucket,
    /// widening the window by up to 5 minutes there.
    pub widened: bool,
    /// The store aggregated the raw executions itself (Timestream's
    /// `approx_percentile`), returning one row per group instead of one per execution.
    pub in_store: bool,
}

impl Resolution {
    /// Raw executions only: exact figures.
    pub fn raw() -> Self {
        Self {
            rollups: vec![],
            raw: true,
            widened: false,
            in_store: false,
        }
    }

    /// Raw executions aggregated by the store.
    pub fn in_store() -> Self {
        Self {
            in_store: true,
            ..Self::raw()
        }
    }

    /// For a person: `raw executions`, or `1d, 1h and 5m rollups and raw executions at
    /// the edges (percentiles within 0.5%)`.
    pub fn describe(&self) -> String {
        if self.in_store {
            return "raw executions aggregated in the store (approximate percentiles: rank \
                    error up to 1%)"
                .into();
        }
        if self.rollups.is_empty() {
            return "raw executions".into();
        }
        let mut levels = self.rollups.join(", ");
        if let Some(i) = levels.rfind(", ") {
            levels.replace_range(i..i + 2, " and ");
        }
        let mut text = format!("{levels} rollups");
        if self.raw {
            text.push_str(" and raw executions at the edges");
        }
        text.push_str(" (percentiles within 0.5%");
        if self.widened {
            text.push_str("; an edge older than the raw retention widened to 5 minutes");
        }
        text.push(')');
        text
    }
}

/// How a check is doing across its regions, from each region's last result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every region's last result passed.
    Up,
    /// Some regions' last result failed.
    Degraded,
    /// Every region's last result failed.
    Down,
}

impl Health {
    /// From the last outcome of each region.
    pub fn from_last(available: impl IntoIterator<Item = bool>) -> Self {
        let (mut up, mut down) = (0, 0);
        for a in available {
            if a {
                up += 1;
            } else {
                down += 1;
            }
        }
        match (up, down) {
            (_, 0) => Self::Up,
            (0, _) => Self::Down,
            _ => Self::Degraded,
        }
    }
}

/// The last result of one check in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastResult {
    /// Scheduled time, Unix milliseconds.
    pub at_ms: i64,
    /// Whether it passed.
    pub available: bool,
    /// Last status code seen.
    pub status_code: Option<u16>,
    /// Why it failed (`timeout`, `http_status`...).
    pub error_class: Option<String>,
    /// What went wrong, for a person.
    pub error_message: Option<String>,
}

/// One check in one region over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionOverview {
    /// Region label.
    pub region: String,
    /// Executions in the window.
    pub samples: u64,
    /// Executions that passed.
    pub passed: u64,
    /// `passed / samples`, in percent.
    pub availability_pct: f64,
    /// Median latency of the answered executions (each execution's average over its
    /// requests; nearest rank, as `webmon report`), ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile of the same, ms.
    pub p95_ms: Option<f64>,
    /// The most recent result.
    pub last: LastResult,
}

/// One check across its regions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOverview {
    /// Check id.
    pub check_id: String,
    /// URL of the most recent result.
    pub url: String,
    /// Up, degraded or down, from each region's last result.
    pub health: Health,
    /// Per region, sorted by region.
    pub regions: Vec<RegionOverview>,
}

/// Every check with results in the window, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// The window.
    pub window: Window,
    /// The checks.
    pub checks: Vec<CheckOverview>,
    /// What the figures were computed from.
    pub resolution: Resolution,
}

/// Latency over time for one region, as columns: `t_ms[i]` is the start of a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionSeries {
    /// Region label.
    pub region: String,
    /// Bucket starts, Unix milliseconds, ascending; buckets without results are absent.
    pub t_ms: Vec<i64>,
    /// Mean latency of the answered executions in the bucket (null when none got an
    /// HTTP answer), ms.
    pub latency_ms: Vec<Option<f64>>,
    /// Failed executions in the bucket.
    pub failures: Vec<u64>,
}

/// Latency over time for one check, one series per region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Check id.
    pub check_id: String,
    /// The window.
    pub window: Window,
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Per region, sorted by region.
    pub regions: Vec<RegionSeries>,
    /// What the figures were computed from.
    pub resolution: Resolution,
}

/// Median cold-request phase timings of one region's answered executions, ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionPhases {
    /// Region label.
    pub region: String,
    /// Answered executions the medians are taken over.
    pub samples: u64,
    /// Name resolution.
    pub dns_ms: f64,
    /// TCP connect.
    pub connect_ms: f64,
    /// TLS handshake.
    pub tls_ms: f64,
    /// Time to first byte.
    pub ttfb_ms: f64,
    /// Body transfer.
    pub transfer_ms: f64,
    /// Time to first byte on a reused connection, when warm requests were made.
    pub warm_ttfb_ms: Option<f64>,
}

/// Phase breakdown for one check, per region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phases {
    /// Check id.
    pub check_id: String,
    /// The window.
    pub window: Window,
    /// Per region, sorted by region.
    pub regions: Vec<RegionPhases>,
    /// What the figures were computed from.
    pub resolution: Resolution,
}

/// One failed execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// Scheduled time, Unix milliseconds.
    pub at_ms: i64,
    /// Region label.
    pub region: String,
    /// Last status code seen.
    pub status_code: Option<u16>,
    /// Why it failed.
    pub error_class: Option<String>,
    /// What went wrong, for a person.
    pub error_message: Option<String>,
}

/// Recent failures of one check, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failures {
    /// Check id.
    pub check_id: String,
    /// The window.
    pub window: Window,
    /// The failures.
    pub failures: Vec<Failure>,
}

/// One UTC day, in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;
/// Most days an uptime history may cover.
pub const MAX_UPTIME_DAYS: u32 = 366;

/// The executions of one check on one UTC day, all regions together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUptime {
    /// Start of the day (00:00 UTC), Unix milliseconds.
    pub day_ms: i64,
    /// Executions scheduled that day.
    pub samples: u64,
    /// Executions that passed.
    pub passed: u64,
    /// `passed / samples`, in percent; `None` when the day has no executions.
    pub availability_pct: Option<f64>,
}

/// The daily availability of one check, oldest day first, one entry per day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckUptime {
    /// Check id.
    pub check_id: String,
    /// Executions over every day together.
    pub samples: u64,
    /// Passed executions over every day together.
    pub passed: u64,
    /// `passed / samples` over every day, in percent; `None` without executions.
    pub availability_pct: Option<f64>,
    /// One entry per UTC day of the history, oldest first.
    pub days: Vec<DayUptime>,
}

/// Daily availability of every check with executions in the history, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// From the start of the first day to now.
    pub window: Window,
    /// Days covered (the last one is today, still running).
    pub days: u32,
    /// Per check, sorted by id.
    pub checks: Vec<CheckUptime>,
}

impl Uptime {
    /// The window of a history of `days` UTC days ending at `now_ms`: from 00:00 UTC
    /// `days - 1` days before today to `now_ms`.
    pub fn window(days: u32, now_ms: i64) -> Window {
        let today = now_ms - now_ms.rem_euclid(DAY_MS);
        Window {
            from_ms: today - (i64::from(days.max(1)) - 1) * DAY_MS,
            to_ms: now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_parses_and_bounds() {
        let w = Window::since(Some("1h"), 10_000_000).unwrap();
        assert_eq!(
            w,
            Window {
                from_ms: 10_000_000 - 3_600_000,
                to_ms: 10_000_000
            }
        );
        assert_eq!(Window::since(None, 5_000_000).unwrap().span_ms(), 3_600_000);
        assert!(Window::since(Some("soon"), 0)
            .unwrap_err()
            .contains("since=\"soon\""));
        assert!(Window::since(Some("0s"), 0).is_err());
        assert!(Window::since(Some("401d"), 0).is_err());
        assert!(Window::since(Some("90d"), 0).is_ok());
    }

    #[test]
    fn buckets_keep_points_bounded() {
        for since in ["5m", "1h", "6h", "24h", "7d", "31d"] {
            let w = Window::since(Some(since), 1_000_000_000_000).unwrap();
            assert!(w.span_ms() / w.bucket_ms() <= MAX_POINTS, "{since}");
        }
        assert_eq!(Window::since(Some("1h"), 0).unwrap().bucket_ms(), 15_000);
    }

    #[test]
    fn health_from_last_results() {
        assert_eq!(Health::from_last([true, true]), Health::Up);
        assert_eq!(Health::from_last([true, false]), Health::Degraded);
        assert_eq!(Health::from_last([false]), Health::Down);
    }
}
