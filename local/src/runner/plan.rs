//! The schedule of the running checks: each check's next run on its stable grid
//! ([`webmon_core::schedule::next_run_at_or_after`]), kept in a min-heap. A check new
//! to the plan runs at once, then settles on its grid: its next run is the first grid
//! time at least half an interval later, so it never runs twice in a row.
//!
//! "At once" is paced: the new checks of one load start [`FIRST_RUNS_PER_SECOND`] a
//! second, in id order (10 checks within 50 ms), and a check whose grid time comes
//! before its paced slot simply starts on the grid. So 10,000 new checks never start in
//! the same instant (which delayed every run behind them by seconds), and none waits
//! longer than one interval.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use webmon_core::check::Check;
use webmon_core::schedule::next_run_at_or_after;

/// How many first runs of new checks start per second.
pub const FIRST_RUNS_PER_SECOND: i64 = 200;

struct Entry {
    check: Arc<Check>,
    due_ms: i64,
    /// The next run is the immediate first run of a new check, off the grid.
    immediate: bool,
}

/// Next runs of the checks of one region.
pub struct Plan {
    region: String,
    entries: HashMap<String, Entry>,
    heap: BinaryHeap<Reverse<(i64, String)>>,
}

impl Plan {
    /// An empty plan for `region`.
    pub fn new(region: &str) -> Self {
        Self {
            region: region.to_string(),
            entries: HashMap::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// The running checks, by id.
    pub fn checks(&self) -> HashMap<String, Arc<Check>> {
        self.entries
            .iter()
            .map(|(id, e)| (id.clone(), e.check.clone()))
            .collect()
    }

    /// Number of checks scheduled in this region.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Replaces the checks. A check that keeps its interval keeps its next run, so a
    /// reload neither skips nor repeats an execution; a check whose interval changed
    /// moves to its new grid; a new check runs from `now_ms`, paced at
    /// [`FIRST_RUNS_PER_SECOND`]; checks that do not run in this region (or are
    /// disabled) are left out.
    pub fn replace(&mut self, mut checks: Vec<Arc<Check>>, now_ms: i64) {
        checks.sort_by(|a, b| a.id.cmp(&b.id));
        let mut entries = HashMap::with_capacity(checks.len());
        let mut new = 0i64;
        for check in checks.into_iter().filter(|c| c.runs_in(&self.region)) {
            let (due_ms, immediate) = match self.entries.get(&check.id) {
                Some(old) if old.check.interval == check.interval => (old.due_ms, old.immediate),
                Some(_) => (
                    next_run_at_or_after(&check.id, check.interval, now_ms),
                    false,
                ),
                None => {
                    // The paced slot, unless the check's own grid time comes first: then
                    // that is its first run, and nothing piles up at any instant.
                    let paced = now_ms + new * 1000 / FIRST_RUNS_PER_SECOND;
                    new += 1;
                    let grid = next_run_at_or_after(&check.id, check.interval, now_ms);
                    if paced < grid {
                        (paced, true)
                    } else {
                        (grid, false)
                    }
                }
            };
            entries.insert(
                check.id.clone(),
                Entry {
                    check,
                    due_ms,
                    immediate,
                },
            );
        }
        self.heap = entries
            .iter()
            .map(|(id, e)| Reverse((e.due_ms, id.clone())))
            .collect();
        self.entries = entries;
    }

    fn is_current(&self, due_ms: i64, id: &str) -> bool {
        self.entries.get(id).is_some_and(|e| e.due_ms == due_ms)
    }

    /// The earliest next run, if any check is scheduled.
    pub fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, id))) = self.heap.peek() {
            if self.is_current(*due, id) {
                return Some(*due);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes every execution due at or before `now_ms` and schedules each check's next
    /// run on its grid. Runs missed by more than one interval (a suspended machine) are
    /// skipped rather than fired in a burst.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<(Arc<Check>, i64)> {
        let mut due = Vec::new();
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > now_ms {
                break;
            }
            let Some(Reverse((at, id))) = self.heap.pop() else {
                break;
            };
            if !self.is_current(at, &id) {
                continue;
            }
            let entry = self.entries.get_mut(&id).expect("current entries exist");
            let after = if entry.immediate {
                at.max(now_ms) + (entry.check.interval.seconds() as i64 * 1000) / 2
            } else {
                at.max(now_ms) + 1
            };
            let next = next_run_at_or_after(&id, entry.check.interval, after);
            entry.due_ms = next;
            entry.immediate = false;
            due.push((entry.check.clone(), at));
            self.heap.push(Reverse((next, id)));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::check::parse_checks_document;

    fn checks(text: &str) -> Vec<Arc<Check>> {
        parse_checks_document(text)
            .checks
            .into_iter()
            .map(Arc::new)
            .collect()
    }

    #[test]
    fn runs_each_check_on_its_grid() {
        let mut plan = Plan::new("local");
        plan.replace(checks("checks:\n  - {id: a, url: 'http://a.test/', interval: 10s, timeout: 2s}\n  - {id: b, url: 'http://b.test/', interval: 10s, timeout: 2s, regions: [eu-west-1]}\n"), 0);
        assert_eq!(plan.len(), 1, "b runs in another region only");
        let mut times = Vec::new();
        for now in (0..=30_000).step_by(100) {
            times.extend(plan.take_due(now).into_iter().map(|(_, at)| at));
        }
        assert_eq!(times[0], 0, "a new check runs at once");
        let grid = &times[1..];
        assert!(grid.len() >= 2, "{times:?}");
        assert!(
            grid[0] >= 5_000,
            "the next run is half an interval later at least"
        );
        assert!(grid.windows(2).all(|w| w[1] - w[0] == 10_000));
        assert_eq!(
            grid[0] % 10_000,
            webmon_core::schedule::offset_ms(
                "a",
                webmon_core::check::Interval::parse("10s").unwrap()
            ) as i64
        );
    }

    #[test]
    fn reload_keeps_the_next_run_and_skips_backlog() {
        let mut plan = Plan::new("local");
        let set =
            checks("checks:\n  - {id: a, url: 'http://a.test/', interval: 10s, timeout: 2s}\n");
        plan.replace(set.clone(), 1_000_000);
        assert_eq!(plan.next_due(), Some(1_000_000), "runs at once");
        assert_eq!(plan.take_due(1_000_000).len(), 1);
        let due = plan.next_due().unwrap();
        plan.replace(set, 1_000_000);
        assert_eq!(plan.next_due(), Some(due));
        // An hour late: one execution, then back on the grid after now.
        let late = due + 3_600_000;
        assert_eq!(plan.take_due(late).len(), 1);
        assert!(plan.next_due().unwrap() > late);
        plan.replace(Vec::new(), late);
        assert_eq!(plan.next_due(), None);
    }

    #[test]
    fn first_runs_are_paced_in_id_order_within_one_interval() {
        let mut plan = Plan::new("local");
        let mut yaml = String::from("checks:\n");
        for i in 0..3_000 {
            yaml.push_str(&format!(
                "  - {{id: c{i:04}, url: 'http://c.test/', interval: 10s, timeout: 1s}}\n"
            ));
        }
        let set = checks(&yaml);
        plan.replace(set.clone(), 0);
        // Each check starts at its paced slot (5 ms apart in id order) or its grid time,
        // whichever comes first: once each within the interval, never in a pile.
        let mut firsts: HashMap<String, i64> = HashMap::new();
        let mut per_second = [0u32; 10];
        for now in (0..=10_000).step_by(50) {
            for (check, at) in plan.take_due(now) {
                if !firsts.contains_key(&check.id) {
                    firsts.insert(check.id.clone(), at);
                    per_second[(at / 1000).min(9) as usize] += 1;
                }
            }
        }
        assert_eq!(firsts.len(), 3_000, "every check ran within one interval");
        for (i, check) in set.iter().enumerate() {
            let grid = next_run_at_or_after(&check.id, check.interval, 0);
            let paced = i as i64 * 1000 / FIRST_RUNS_PER_SECOND;
            assert_eq!(firsts[&check.id], paced.min(grid), "{}", check.id);
        }
        assert_eq!(firsts["c0000"], 0);
        // At most the paced 200 plus the grid's share (300 a second at 3,000 checks).
        assert!(per_second.iter().all(|n| *n <= 500), "{per_second:?}");
    }
}
