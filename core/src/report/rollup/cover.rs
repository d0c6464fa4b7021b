//! Which buckets and which raw executions make up a window: the coarsest whole buckets
//! that fit, finer ones towards the edges, and raw executions for the partial 5-minute
//! pieces at either end. A 90-day window reads about 90 daily, 46 hourly and 22
//! five-minute rollups per check and region, plus at most 10 minutes of raw executions.

use serde::Serialize;

use crate::read::model::{Resolution, Window};

/// A bucket width the store keeps rollups at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// 5 minutes.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// 1 hour.
    #[serde(rename = "1h")]
    Hour,
    /// 1 UTC day.
    #[serde(rename = "1d")]
    Day,
}

impl Level {
    /// Every level, finest first.
    pub const ALL: [Level; 3] = [Level::FiveMinutes, Level::Hour, Level::Day];

    /// Bucket width, ms.
    pub fn width_ms(self) -> i64 {
        match self {
            Level::FiveMinutes => 300_000,
            Level::Hour => 3_600_000,
            Level::Day => 86_400_000,
        }
    }

    /// Short label: `5m`, `1h`, `1d`.
    pub fn label(self) -> &'static str {
        match self {
            Level::FiveMinutes => "5m",
            Level::Hour => "1h",
            Level::Day => "1d",
        }
    }

    /// The start of the bucket holding `at_ms`.
    pub fn start_of(self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.width_ms())
    }

    /// The level whose width is `width_ms`.
    pub fn of_width(width_ms: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.width_ms() == width_ms)
    }
}

/// A window split into rollup buckets and raw ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// Raw time ranges, `[from, to)` in Unix milliseconds.
    pub raw: Vec<(i64, i64)>,
    /// Rollup ranges: the level and the first and last bucket start (both included).
    pub rollups: Vec<(Level, i64, i64)>,
    /// Some edge was older than the raw retention, so a whole 5-minute bucket stands
    /// for a part of one: the window is widened by up to 5 minutes at that edge.
    pub widened: bool,
}

impl Cover {
    /// What a view read through this cover is computed from.
    pub fn resolution(&self) -> Resolution {
        let mut levels: Vec<Level> = self.rollups.iter().map(|r| r.0).collect();
        levels.sort();
        levels.dedup();
        Resolution {
            rollups: levels.iter().rev().map(|l| l.label().to_string()).collect(),
            raw: !self.raw.is_empty(),
            widened: self.widened,
            in_store: false,
        }
    }

    /// Whether the window is read from raw executions only.
    pub fn is_raw_only(&self) -> bool {
        self.rollups.is_empty()
    }

    fn push_raw(&mut self, from: i64, to: i64) {
        match self.raw.last_mut() {
            Some(last) if last.1 == from => last.1 = to,
            _ => self.raw.push((from, to)),
        }
    }

    fn push_rollup(&mut self, level: Level, start: i64) {
        match self.rollups.last_mut() {
            Some(last) if last.0 == level && last.2 + level.width_ms() == start => last.2 = start,
            _ => self.rollups.push((level, start, start)),
        }
    }
}

/// Splits `window` into rollup buckets of width at most `max_width_ms` and raw ranges.
///
/// - `raw_from_ms`: raw executions are kept from here on (older ones were deleted).
/// - `rolled_to_ms`: rollups are complete for buckets ending at or before this; newer
///   time is read raw.
/// - A window of at most `min_raw_ms` is read raw whole, exactly.
pub fn cover(
    window: Window,
    raw_from_ms: i64,
    rolled_to_ms: i64,
    max_width_ms: i64,
    min_raw_ms: i64,
) -> Cover {
    let mut out = Cover::default();
    let end = window.to_ms + 1;
    if window.span_ms() <= min_raw_ms && window.from_ms >= raw_from_ms {
        out.push_raw(window.from_ms, end);
        return out;
    }
    let finest = Level::FiveMinutes;
    let mut t = window.from_ms;
    while t < end {
        let whole = Level::ALL.into_iter().rev().find(|l| {
            let w = l.width_ms();
            w <= max_width_ms && t.rem_euclid(w) == 0 && t + w <= end && t + w <= rolled_to_ms
        });
        if let Some(level) = whole {
            out.push_rollup(level, t);
            t += level.width_ms();
            continue;
        }
        let next = (finest.start_of(t) + finest.width_ms()).min(end);
        if t >= raw_from_ms || finest.start_of(t) + finest.width_ms() > rolled_to_ms {
            out.push_raw(t, next);
        } else {
            // The raw executions of this edge are gone: the whole bucket stands in.
            out.push_rollup(finest, finest.start_of(t));
            out.widened = true;
        }
        t = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    fn window(from_ms: i64, to_ms: i64) -> Window {
        Window { from_ms, to_ms }
    }

    #[test]
    fn a_long_window_takes_whole_buckets_and_raw_edges() {
        // From day 10, 03:07 to day 100, 05:12 (inclusive), everything rolled up, raw
        // kept for the last 7 days.
        let from = 10 * DAY + 3 * HOUR + 7 * MIN;
        let to = 100 * DAY + 5 * HOUR + 12 * MIN - 1;
        let c = cover(
            window(from, to),
            93 * DAY,
            100 * DAY + 5 * HOUR + 10 * MIN,
            i64::MAX,
            HOUR,
        );
        assert_eq!(
            c.rollups,
            vec![
                (
                    Level::FiveMinutes,
                    from - 2 * MIN,
                    10 * DAY + 3 * HOUR + 55 * MIN
                ),
                (Level::Hour, 10 * DAY + 4 * HOUR, 10 * DAY + 23 * HOUR),
                (Level::Day, 11 * DAY, 99 * DAY),
                (Level::Hour, 100 * DAY, 100 * DAY + 4 * HOUR),
                (
                    Level::FiveMinutes,
                    100 * DAY + 5 * HOUR,
                    100 * DAY + 5 * HOUR + 5 * MIN
                ),
            ]
        );
        // The start is older than raw retention: its partial bucket stands in whole.
        assert!(c.widened);
        assert_eq!(c.resolution().rollups, ["1d", "1h", "5m"]);
        // The end: 05:10 to 05:12 is not rolled up yet, read raw.
        assert_eq!(c.raw, vec![(100 * DAY + 5 * HOUR + 10 * MIN, to + 1)]);
    }

    #[test]
    fn short_windows_and_unrolled_time_are_raw() {
        let w = window(5 * DAY + 7 * MIN, 5 * DAY + 37 * MIN);
        let c = cover(w, 0, 6 * DAY, i64::MAX, HOUR);
        assert!(c.is_raw_only());
        assert_eq!(c.raw, vec![(w.from_ms, w.to_ms + 1)]);
        // Nothing rolled up yet: a day is read raw, exactly.
        let day = window(5 * DAY, 6 * DAY - 1);
        let c = cover(day, 0, 0, i64::MAX, HOUR);
        assert_eq!(c.raw, vec![(5 * DAY, 6 * DAY)]);
        assert!(c.rollups.is_empty() && !c.widened);
    }

    #[test]
    fn series_buckets_bound_the_level() {
        // A 30-day series in 3-hour buckets reads hourly rollups, never daily ones.
        let to = 40 * DAY;
        let c = cover(window(to - 30 * DAY, to - 1), 0, to, 3 * HOUR, HOUR);
        assert_eq!(c.rollups, vec![(Level::Hour, 10 * DAY, to - HOUR)]);
        assert!(c.raw.is_empty());
    }
}
