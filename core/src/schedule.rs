//! When a check runs.
//!
//! Every check gets a stable offset inside its interval from a hash of its id. The hash
//! is the same in every region and every release (xxh3, fixed seed), so all regions probe
//! a check at the same moment and their latencies are comparable, while different checks
//! are spread over the interval.

use xxhash_rust::xxh3::xxh3_64;

use crate::check::{Check, Interval};

/// Number of shards a schedule group is split into. With the allowed intervals this
/// keeps a region's trigger rules well under EventBridge's 300-rules-per-bus quota.
pub const SHARDS: u32 = 8;

/// Stable hash of a check id.
pub fn id_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

/// The check's offset within its interval, in milliseconds.
pub fn offset_ms(id: &str, interval: Interval) -> u64 {
    id_hash(id) % (interval.seconds() * 1000)
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
        Self { interval, shard: ((id_hash(id) >> 32) % SHARDS as u64) as u32 }
    }

    /// Text form, `30s-3`, used as a table key and in rule names.
    pub fn name(&self) -> String {
        format!("{}-{}", self.interval, self.shard)
    }

    /// Parses [`GroupKey::name`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let (interval, shard) = text.rsplit_once('-').ok_or_else(|| format!("group {text:?} is not <interval>-<shard>"))?;
        let interval = Interval::parse(interval).map_err(|e| format!("group {text:?}: {e}"))?;
        let shard: u32 = shard.parse().map_err(|_| format!("group {text:?}: shard is not a number"))?;
        if shard >= SHARDS {
            return Err(format!("group {text:?}: shard must be below {SHARDS}"));
        }
        Ok(Self { interval, shard })
    }

    /// How often the trigger fires: every minute for sub-minute intervals (the
    /// invocation runs the rounds), otherwise once per interval.
    pub fn trigger_seconds(&self) -> u64 {
        self.interval.seconds().max(60)
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
        // Pinned so a change of hash (which would shift every region's schedule) is caught.
        assert_eq!(id_hash("api-health"), xxh3_64(b"api-health"));
    }

    #[test]
    fn offsets_spread_checks() {
        let i = Interval::parse("10s").unwrap();
        let mut buckets = [0u32; 10];
        for n in 0..1000 {
            buckets[(offset_ms(&format!("check-{n}"), i) / 1000) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| (60..=140).contains(&b)), "{buckets:?}");
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
    fn group_names_round_trip() {
        let key = GroupKey::for_id("abc", Interval::parse("5m").unwrap());
        assert_eq!(GroupKey::parse(&key.name()).unwrap(), key);
        assert!(GroupKey::parse("5m-99").is_err());
    }
}
