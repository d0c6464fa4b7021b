//! When a check runs.
//!
//! Every check gets a stable offset from a hash of its id. The hash is the same in every
//! region and every release (xxh3, fixed seed), so all regions probe a check at the same
//! moment and their latencies are comparable, while different checks are spread out.
//!
//! The spread window is the interval itself for sub-minute intervals and the first minute
//! of the interval otherwise: EventBridge triggers at minute granularity, and a probe
//! invocation covers one trigger minute, so waiting longer inside it would be paid for.
//!
//! Runs fall at `k x interval + offset` on the Unix clock, in every region and in
//! `webmon run`. Trigger rules are clock-aligned cron expressions only, never
//! `rate(...)` (whose phase would depend on when each region created its rule): the
//! trigger period ([`GroupKey::trigger_seconds`]) is the largest period that divides both
//! the interval and an hour (or, for whole hours, a day), and a trigger minute runs a
//! check only when that minute starts one of the check's intervals on the grid
//! ([`GroupKey::due_in`]). A 7m check rides an every-minute trigger and runs in one
//! trigger minute out of seven; a 45m check rides an every-15-minutes trigger; a 5h check
//! an hourly one.

use xxhash_rust::xxh3::xxh3_64;

use crate::check::{Check, Interval};

/// Number of shards a schedule group is split into. Groups are the unit of storage and
/// query (the `by_group` index); trigger rules bin-pack whole groups
/// ([`crate::reconcile::pack`]), so many shards cost no rules, and a large interval can
/// be split finely across rules.
pub const SHARDS: u32 = 32;

/// Stable hash of a check id.
pub fn id_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

/// Length of the window offsets are spread over: the interval, at most one minute.
pub fn spread_ms(interval: Interval) -> u64 {
    interval.seconds().min(60) * 1000
}

/// The check's offset within its interval, in milliseconds (below [`spread_ms`]).
pub fn offset_ms(id: &str, interval: Interval) -> u64 {
    id_hash(id) % spread_ms(interval)
}

/// Whether a check of `interval` is due in the trigger minute starting at
/// `minute_start_ms`: always for sub-minute intervals, otherwise only when the minute
/// starts an interval on the Unix-clock grid (`minute_start_ms` a multiple of the
/// interval). A trigger fires more often than that for intervals such as 7m or 45m.
pub fn due_in(interval: Interval, minute_start_ms: i64) -> bool {
    interval.is_sub_minute() || minute_start_ms.rem_euclid((interval.seconds() * 1000) as i64) == 0
}

/// Scheduled times of a check inside one trigger minute starting at `minute_start_ms`
/// (minute-aligned): every round for sub-minute intervals, once if the check is due in
/// that minute ([`due_in`]), none otherwise. These are exactly the times of
/// [`next_run_at_or_after`]'s grid that fall inside the minute.
pub fn executions_in_trigger(id: &str, interval: Interval, minute_start_ms: i64) -> Vec<i64> {
    let offset = offset_ms(id, interval) as i64;
    if interval.is_sub_minute() {
        let step = (interval.seconds() * 1000) as i64;
        (0..60_000 / step)
            .map(|k| minute_start_ms + offset + k * step)
            .collect()
    } else if due_in(interval, minute_start_ms) {
        vec![minute_start_ms + offset]
    } else {
        Vec::new()
    }
}

/// The first scheduled time at or after `now_ms` (Unix milliseconds).
pub fn next_run_at_or_after(id: &str, interval: Interval, now_ms: i64) -> i64 {
    let period = (interval.seconds() * 1000) as i64;
    let offset = offset_ms(id, interval) as i64;
    let base = now_ms.div_euclid(period) * period + offset;
    if base >= now_ms {
        base
    } else {
        base + period
    }
}

/// A schedule group: the checks sharing one trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The interval of every check in the group.
    pub interval: Interval,
    /// Shard number, `0..SHARDS`.
    pub shard: u32,
}

impl GroupKey {
    /// The group a check belongs to.
    pub fn of(check: &Check) -> Self {
        Self::for_id(&check.id, check.interval)
    }

    /// The group for an id and interval.
    pub fn for_id(id: &str, interval: Interval) -> Self {
        // Use the high bits so the shard is independent of the offset (low bits).
        Self {
            interval,
            shard: ((id_hash(id) >> 32) % SHARDS as u64) as u32,
        }
    }

    /// Text form, `30s-3`, used as a table key and in rule names.
    pub fn name(&self) -> String {
        format!("{}-{}", self.interval, self.shard)
    }

    /// Parses [`GroupKey::name`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let (interval, shard) = text
            .rsplit_once('-')
            .ok_or_else(|| format!("group {text:?} is not <interval>-<shard>"))?;
        let interval = Interval::parse(interval).map_err(|e| format!("group {text:?}: {e}"))?;
        let shard: u32 = shard
            .parse()
            .map_err(|_| format!("group {text:?}: shard is not a number"))?;
        if shard >= SHARDS {
            return Err(format!("group {text:?}: shard must be below {SHARDS}"));
        }
        Ok(Self { interval, shard })
    }

    /// How often the trigger fires, in seconds: every minute for sub-minute intervals
    /// (the invocation runs the rounds); otherwise the largest period that divides the
    /// interval and can be written as a clock-aligned cron: for whole hours, the greatest
    /// common divisor of the hours and 24 (5h: every hour; 2h: every 2 hours; 1d: daily),
    /// else the greatest common divisor of the minutes and 60 (5m: every 5 minutes; 45m:
    /// every 15; 90m: every 30; 7m: every minute). Every grid time of the interval is a
    /// trigger time, in every region; trigger minutes in which the group is not due
    /// ([`GroupKey::due_in`]) run none of its checks.
    pub fn trigger_seconds(&self) -> u64 {
        let seconds = self.interval.seconds();
        if seconds < 60 {
            return 60;
        }
        let minutes = seconds / 60;
        if minutes.is_multiple_of(60) {
            gcd(minutes / 60, 24) * 3600
        } else {
            gcd(minutes, 60) * 60
        }
    }

    /// Whether the group's checks are due in the trigger minute starting at
    /// `minute_start_ms` ([`due_in`]). A probe invocation can skip (and not even read) the
    /// groups that are not.
    pub fn due_in(&self, minute_start_ms: i64) -> bool {
        due_in(self.interval, minute_start_ms)
    }

    /// Executions of one check of this group per trigger: every round of the minute for
    /// sub-minute intervals, one otherwise.
    pub fn rounds_per_trigger(&self) -> u64 {
        if self.interval.is_sub_minute() {
            60 / self.interval.seconds()
        } else {
            1
        }
    }

    /// Short name of the trigger period, for rule names: `every-1m`, `every-5m`,
    /// `every-2h`, `every-1d`. Groups share a rule only when this and
    /// [`GroupKey::schedule_expression`] are the same (both follow the trigger period).
    pub fn trigger_slug(&self) -> String {
        let minutes = self.trigger_seconds() / 60;
        if minutes.is_multiple_of(1440) {
            format!("every-{}d", minutes / 1440)
        } else if minutes.is_multiple_of(60) {
            format!("every-{}h", minutes / 60)
        } else {
            format!("every-{minutes}m")
        }
    }

    /// EventBridge schedule expression of the trigger period: always a clock-aligned
    /// cron (the period divides an hour or a day), so every region fires in the same
    /// minutes whenever it created its rule.
    pub fn schedule_expression(&self) -> String {
        let minutes = self.trigger_seconds() / 60;
        if minutes == 1 {
            "cron(* * * * ? *)".to_string()
        } else if minutes < 60 {
            format!("cron(0/{minutes} * * * ? *)")
        } else if minutes == 60 {
            "cron(0 * * * ? *)".to_string()
        } else if minutes == 1440 {
            "cron(0 0 * * ? *)".to_string()
        } else {
            format!("cron(0 0/{} * * ? *)", minutes / 60)
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_stable_and_inside_the_interval() {
        let i = Interval::parse("30s").unwrap();
        let a = offset_ms("api-health", i);
        assert_eq!(a, offset_ms("api-health", i));
        assert!(a < 30_000);
    }

    #[test]
    fn hashes_offsets_and_shards_are_pinned() {
        // Literal values: a change of hash function or seed (which would shift every
        // region's schedule and move every check to another group) fails here.
        let (s30, m5, m1) = (
            Interval::parse("30s").unwrap(),
            Interval::parse("5m").unwrap(),
            Interval::parse("1m").unwrap(),
        );
        let pins: [(&str, u64, u64, u64, u32); 3] = [
            ("api-health", 0x6e3e_5289_0107_50e8, 17_496, 47_496, 9),
            ("checkout", 0xc959_7d5d_e438_33cc, 22_572, 22_572, 29),
            ("demo-slow", 0x926e_c339_b5d8_9423, 12_803, 12_803, 25),
        ];
        for (id, hash, offset_30s, offset_5m, shard) in pins {
            assert_eq!(id_hash(id), hash, "{id}");
            assert_eq!(offset_ms(id, s30), offset_30s, "{id}");
            assert_eq!(offset_ms(id, m5), offset_5m, "{id}");
            assert_eq!(GroupKey::for_id(id, m1).shard, shard, "{id}");
            assert_eq!(GroupKey::for_id(id, m5).name(), format!("5m-{shard}"));
        }
    }

    #[test]
    fn offsets_spread_checks() {
        let i = Interval::parse("10s").unwrap();
        let mut buckets = [0u32; 10];
        for n in 0..1000 {
            buckets[(offset_ms(&format!("check-{n}"), i) / 1000) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&b| (60..=140).contains(&b)),
            "{buckets:?}"
        );
    }

    #[test]
    fn next_run_is_on_the_grid() {
        let i = Interval::parse("1m").unwrap();
        let off = offset_ms("x", i) as i64;
        let t = next_run_at_or_after("x", i, 1_000_000_000_000);
        assert!(t >= 1_000_000_000_000 && t - 1_000_000_000_000 < 60_000);
        assert_eq!(t.rem_euclid(60_000), off);
    }

    #[test]
    fn sub_minute_checks_run_every_round_of_the_trigger_minute() {
        let i = Interval::parse("15s").unwrap();
        let times = executions_in_trigger("x", i, 120_000);
        assert_eq!(times.len(), 4);
        assert!(times.windows(2).all(|w| w[1] - w[0] == 15_000));
        assert!(times[0] >= 120_000 && times[0] < 135_000);
        let hour = Interval::parse("1h").unwrap();
        let hourly = executions_in_trigger("x", hour, 3_600_000);
        assert_eq!(hourly.len(), 1);
        assert!(hourly[0] >= 3_600_000 && hourly[0] < 3_660_000);
        // Not due in a minute that does not start an hour on the grid.
        assert!(executions_in_trigger("x", hour, 3_720_000).is_empty());
        assert!(executions_in_trigger("x", Interval::parse("7m").unwrap(), 60_000).is_empty());
        assert_eq!(
            executions_in_trigger("x", Interval::parse("7m").unwrap(), 420_000).len(),
            1
        );
    }

    #[test]
    fn schedule_expressions_align_to_the_clock() {
        let expr = |t: &str| {
            GroupKey {
                interval: Interval::parse(t).unwrap(),
                shard: 0,
            }
            .schedule_expression()
        };
        assert_eq!(expr("10s"), "cron(* * * * ? *)");
        assert_eq!(expr("1m"), "cron(* * * * ? *)");
        assert_eq!(expr("5m"), "cron(0/5 * * * ? *)");
        assert_eq!(expr("2h"), "cron(0 0/2 * * ? *)");
        assert_eq!(expr("1d"), "cron(0 0 * * ? *)");
        assert_eq!(expr("7m"), "cron(* * * * ? *)");
        assert_eq!(expr("45m"), "cron(0/15 * * * ? *)");
        assert_eq!(expr("90m"), "cron(0/30 * * * ? *)");
        assert_eq!(expr("5h"), "cron(0 * * * ? *)");
        assert_eq!(expr("16h"), "cron(0 0/8 * * ? *)");
    }

    #[test]
    fn trigger_slugs_and_rounds_follow_the_trigger_period() {
        let key = |t: &str| GroupKey {
            interval: Interval::parse(t).unwrap(),
            shard: 31,
        };
        assert_eq!(key("10s").trigger_slug(), "every-1m");
        assert_eq!(key("1m").trigger_slug(), "every-1m");
        assert_eq!(key("5m").trigger_slug(), "every-5m");
        assert_eq!(key("2h").trigger_slug(), "every-2h");
        assert_eq!(key("1d").trigger_slug(), "every-1d");
        assert_eq!(key("10s").rounds_per_trigger(), 6);
        assert_eq!(key("15s").rounds_per_trigger(), 4);
        assert_eq!(key("5m").rounds_per_trigger(), 1);
    }

    #[test]
    fn group_names_round_trip() {
        let key = GroupKey::for_id("abc", Interval::parse("5m").unwrap());
        assert_eq!(GroupKey::parse(&key.name()).unwrap(), key);
        assert!(GroupKey::parse("5m-99").is_err());
        assert!(GroupKey::parse("5m-31").is_ok());
    }
}
