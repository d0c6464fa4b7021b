//! Rollups: what reports and dashboards need of many executions, in a few bytes, and
//! mergeable, so any window can be assembled from buckets of several widths.
//!
//! - [`Aggregate`]: counts, availability, a [`Sketch`] of the latency and of each cold
//!   phase (percentiles within 0.5 % of the exact nearest-rank value over any merge),
//!   the sum of the latency (for means), failures by error class, and the last
//!   execution. [`Aggregate::encode`] is its compact byte form (a summary, and the
//!   phase sketches apart, so the overview reads a quarter of the bytes).
//! - [`Level`]: the bucket widths a store keeps (5 minutes, 1 hour, 1 day), and
//!   [`cover()`](cover::cover), which splits a window into the fewest whole buckets plus
//!   raw executions at the edges.
//! - [`views`]: the dashboard's views and the report's statistics from aggregates.

pub mod codec;
pub mod cover;
pub mod sketch;
pub mod views;

use std::collections::BTreeMap;

pub use cover::{cover, Cover, Level};
pub use sketch::{Sketch, RELATIVE_ACCURACY};

use crate::read::model::LastResult;
use crate::read::Sample;
use codec::{Reader, Writer};

/// What a rollup keeps of a set of executions (one check, one region, one bucket).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    /// Executions.
    pub samples: u64,
    /// Executions that passed.
    pub passed: u64,
    /// Sum of the answered executions' average latency, ms (for means).
    pub latency_sum_ms: f64,
    /// Average latency of the answered executions (those with a status code).
    pub latency: Sketch,
    /// Cold time to first byte of the answered executions.
    pub cold_ttfb: Sketch,
    /// Warm time to first byte, where warm requests were made.
    pub warm_ttfb: Sketch,
    /// Cold DNS phase of the answered executions.
    pub dns: Sketch,
    /// Cold connect phase.
    pub connect: Sketch,
    /// Cold TLS phase.
    pub tls: Sketch,
    /// Cold transfer phase.
    pub transfer: Sketch,
    /// Failed executions by error class (`timeout`, `http_status`...; `unknown` when a
    /// failure has no class).
    pub errors: BTreeMap<String, u64>,
    /// The most recent execution (by scheduled time).
    pub last: Option<LastResult>,
}

impl Aggregate {
    /// Adds one execution.
    pub fn add(&mut self, s: &Sample) {
        self.samples += 1;
        if s.available {
            self.passed += 1;
        } else {
            let class = s.error_class.as_deref().unwrap_or("unknown");
            *self.errors.entry(class.to_string()).or_default() += 1;
        }
        if s.status_code.is_some() {
            self.latency_sum_ms += s.latency_avg_ms;
            self.latency.add(s.latency_avg_ms);
            self.cold_ttfb.add(s.cold_ttfb_ms);
            self.dns.add(s.dns_ms);
            self.connect.add(s.connect_ms);
            self.tls.add(s.tls_ms);
            self.transfer.add(s.transfer_ms);
        }
        if let Some(warm) = s.warm_ttfb_ms {
            self.warm_ttfb.add(warm);
        }
        if self
            .last
            .as_ref()
            .is_none_or(|l| s.scheduled_at_ms >= l.at_ms)
        {
            self.last = Some(LastResult {
                at_ms: s.scheduled_at_ms,
                available: s.available,
                status_code: s.status_code,
                error_class: s.error_class.clone(),
                error_message: s.error_message.clone(),
            });
        }
    }

    /// Adds every execution of `other`.
    pub fn merge(&mut self, other: &Aggregate) {
        self.samples += other.samples;
        self.passed += other.passed;
        self.latency_sum_ms += other.latency_sum_ms;
        self.latency.merge(&other.latency);
        self.cold_ttfb.merge(&other.cold_ttfb);
        self.warm_ttfb.merge(&other.warm_ttfb);
        self.dns.merge(&other.dns);
        self.connect.merge(&other.connect);
        self.tls.merge(&other.tls);
        self.transfer.merge(&other.transfer);
        for (class, n) in &other.errors {
            *self.errors.entry(class.clone()).or_default() += n;
        }
        if let Some(theirs) = &other.last {
            if self.last.as_ref().is_none_or(|l| theirs.at_ms >= l.at_ms) {
                self.last = Some(theirs.clone());
            }
        }
    }

    /// Answered executions (those the latency percentiles are over).
    pub fn answered(&self) -> u64 {
        self.latency.count()
    }

    /// The compact byte form, in two parts: the summary (counts, latency sum in
    /// microseconds, latency sketch, failures by class, last execution), which the
    /// overview, series and uptime read, and the phase sketches, which only phase
    /// medians and the report read. Varints throughout.
    pub fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let mut w = Writer::default();
        w.u64(self.samples);
        w.u64(self.passed);
        w.u64((self.latency_sum_ms * 1000.0).round().max(0.0) as u64);
        self.latency.encode(&mut w);
        w.u64(self.errors.len() as u64);
        for (class, n) in &self.errors {
            w.str(class);
            w.u64(*n);
        }
        match &self.last {
            None => w.u64(0),
            Some(l) => {
                w.u64(1 + u64::from(l.available));
                w.i64(l.at_ms);
                w.u64(l.status_code.map_or(0, |c| u64::from(c) + 1));
                w.opt_str(l.error_class.as_deref());
                w.opt_str(l.error_message.as_deref());
            }
        }
        let mut phases = Writer::default();
        for sketch in self.phase_sketches() {
            sketch.encode(&mut phases);
        }
        (w.finish(), phases.finish())
    }

    /// Reads what [`Aggregate::encode`] wrote: the summary, and the phases when given
    /// (without them the phase sketches stay empty). The error says what is wrong.
    pub fn decode(summary: &[u8], phases: Option<&[u8]>) -> Result<Self, String> {
        let mut r = Reader::new(summary);
        let mut a = Aggregate {
            samples: r.u64()?,
            passed: r.u64()?,
            latency_sum_ms: r.u64()? as f64 / 1000.0,
            latency: Sketch::decode(&mut r)?,
            ..Default::default()
        };
        for _ in 0..r.u64()? {
            let class = r.str()?;
            a.errors.insert(class, r.u64()?);
        }
        a.last = match r.u64()? {
            0 => None,
            tag => Some(LastResult {
                available: tag == 2,
                at_ms: r.i64()?,
                status_code: match r.u64()? {
                    0 => None,
                    c => Some(u16::try_from(c - 1).map_err(|_| "a status code is out of range")?),
                },
                error_class: r.opt_str()?,
                error_message: r.opt_str()?,
            }),
        };
        if !r.is_empty() {
            return Err("the rollup has bytes after its end".into());
        }
        if let Some(phases) = phases {
            let mut r = Reader::new(phases);
            for sketch in a.phase_sketches_mut() {
                *sketch = Sketch::decode(&mut r)?;
            }
            if !r.is_empty() {
                return Err("the rollup's phases have bytes after their end".into());
            }
        }
        Ok(a)
    }

    fn phase_sketches(&self) -> [&Sketch; 6] {
        [
            &self.cold_ttfb,
            &self.warm_ttfb,
            &self.dns,
            &self.connect,
            &self.tls,
            &self.transfer,
        ]
    }

    fn phase_sketches_mut(&mut self) -> [&mut Sketch; 6] {
        [
            &mut self.cold_ttfb,
            &mut self.warm_ttfb,
            &mut self.dns,
            &mut self.connect,
            &mut self.tls,
            &mut self.transfer,
        ]
    }
}

/// One stored rollup: an aggregate of one check in one region over one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Check id.
    pub check_id: String,
    /// Probe region.
    pub region: String,
    /// Start of the bucket, Unix milliseconds.
    pub start_ms: i64,
    /// What the bucket holds.
    pub aggregate: Aggregate,
}

/// Groups raw `samples` and stored `rollups` by `key(check, region, time)` (a sample's
/// scheduled time, a rollup's bucket start) and merges each group.
pub fn group<K: Ord>(
    samples: &[Sample],
    rollups: &[Rollup],
    key: impl Fn(&str, &str, i64) -> K,
) -> BTreeMap<K, Aggregate> {
    let mut groups: BTreeMap<K, Aggregate> = BTreeMap::new();
    for s in samples {
        groups
            .entry(key(&s.check_id, &s.region, s.scheduled_at_ms))
            .or_default()
            .add(s);
    }
    for r in rollups {
        groups
            .entry(key(&r.check_id, &r.region, r.start_ms))
            .or_default()
            .merge(&r.aggregate);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(at: i64, latency: f64, available: bool) -> Sample {
        Sample {
            check_id: "api".into(),
            region: "eu-west-1".into(),
            scheduled_at_ms: at,
            available,
            status_code: Some(if available { 200 } else { 503 }),
            error_class: (!available).then(|| "http_status".to_string()),
            error_message: (!available).then(|| "status 503 is not accepted".to_string()),
            latency_avg_ms: latency,
            cold_ttfb_ms: latency / 2.0,
            warm_ttfb_ms: Some(latency / 4.0),
            dns_ms: 1.5,
            connect_ms: 2.5,
            tls_ms: 3.5,
            transfer_ms: 0.5,
        }
    }

    #[test]
    fn merging_two_halves_equals_adding_everything() {
        let all: Vec<Sample> = (0..40)
            .map(|i| sample(i * 30_000, 80.0 + i as f64, i % 7 != 3))
            .collect();
        let mut whole = Aggregate::default();
        all.iter().for_each(|s| whole.add(s));
        let (mut a, mut b) = (Aggregate::default(), Aggregate::default());
        all[..25].iter().for_each(|s| a.add(s));
        all[25..].iter().for_each(|s| b.add(s));
        b.merge(&a);
        assert_eq!(b, whole);
        assert_eq!(whole.samples, 40);
        assert_eq!(whole.passed, 34);
        assert_eq!(whole.errors["http_status"], 6);
        assert_eq!(whole.last.as_ref().unwrap().at_ms, 39 * 30_000);
    }

    #[test]
    fn encoding_round_trips_and_is_small() {
        let mut a = Aggregate::default();
        for i in 0..10 {
            a.add(&sample(i * 30_000, 120.0 + (i % 3) as f64, i != 4));
        }
        let (summary, phases) = a.encode();
        let back = Aggregate::decode(&summary, Some(&phases)).unwrap();
        assert_eq!(back.samples, 10);
        assert_eq!(back.passed, 9);
        assert!((back.latency_sum_ms - a.latency_sum_ms).abs() < 0.001);
        assert_eq!(back.latency, a.latency);
        assert_eq!(back.warm_ttfb, a.warm_ttfb);
        assert_eq!(back.errors, a.errors);
        assert_eq!(back.last, a.last);
        // Without the phases: the summary alone, phase sketches empty.
        let lean = Aggregate::decode(&summary, None).unwrap();
        assert_eq!(
            (lean.latency.clone(), lean.cold_ttfb.count()),
            (a.latency.clone(), 0)
        );
        // Ten executions of a steady check: well under 100 bytes in all.
        assert!(
            summary.len() + phases.len() < 100,
            "{} + {} bytes",
            summary.len(),
            phases.len()
        );
        assert!(Aggregate::decode(&summary[..summary.len() - 1], None).is_err());
        let mut longer = summary.clone();
        longer.push(0);
        assert!(Aggregate::decode(&longer, None)
            .unwrap_err()
            .contains("after its end"));
    }
}
