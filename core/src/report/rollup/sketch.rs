//! A mergeable latency distribution with a relative-error guarantee (the DDSketch
//! mapping): a value `v` falls in bucket `ceil(log_γ v)` with `γ = (1 + α) / (1 - α)`,
//! and a quantile returns its bucket's representative `2γ^i / (γ + 1)`, which is within
//! `α` of every value of the bucket. Two sketches merge by adding counts, so the
//! percentiles of any window assembled from rollups stay within `α` of the exact
//! nearest-rank percentile of the raw values ([`RELATIVE_ACCURACY`] = 0.5 %, inside the
//! 1 % promised in the docs).
//!
//! Written here rather than taken from a crate: the rollups need a compact, stable byte
//! encoding (delta-encoded varints, a few bytes per bucket) that the sketch crates do
//! not offer.

use super::codec::{Reader, Writer};

/// The largest relative error of a quantile: 0.5 %.
pub const RELATIVE_ACCURACY: f64 = 0.005;
/// Values at or below this (ms) count as zero: 1 µs, below any latency measured.
const MIN_VALUE: f64 = 0.001;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// A mergeable distribution of non-negative values (milliseconds). The buckets are a
/// dense run of counts from `offset`: latencies of one check fall in a narrow band, so
/// the run is short, and merging and decoding are plain vector additions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    zeros: u64,
    offset: i32,
    counts: Vec<u64>,
}

impl Sketch {
    /// Adds one value; negative and non-finite values count as zero.
    pub fn add(&mut self, v: f64) {
        if !v.is_finite() || v <= MIN_VALUE {
            self.zeros += 1;
            return;
        }
        let index = (v.ln() / gamma().ln()).ceil() as i32;
        self.add_count(index, 1);
    }

    fn add_count(&mut self, index: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = index;
        } else if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let at = (index - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += n;
    }

    fn bins(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (self.offset + i as i32, *n))
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        self.zeros += other.zeros;
        if other.counts.is_empty() {
            return;
        }
        // Make room for other's run once, then add element by element.
        let last = other.offset + other.counts.len() as i32 - 1;
        self.add_count(other.offset, 0);
        self.add_count(last, 0);
        let start = (other.offset - self.offset) as usize;
        for (mine, theirs) in self.counts[start..].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.zeros + self.counts.iter().sum::<u64>()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100), within [`RELATIVE_ACCURACY`] of
    /// the exact one; `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n);
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (i, count) in self.bins() {
            seen += count;
            if seen >= rank {
                let g = gamma();
                return Some(2.0 * g.powi(i) / (g + 1.0));
            }
        }
        None
    }

    /// Appends the encoding: zero count, bucket count, then (index delta, count) pairs
    /// of the non-empty buckets.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.zeros);
        w.u64(self.bins().count() as u64);
        let mut previous = 0i64;
        for (i, n) in self.bins() {
            w.i64(i64::from(i) - previous);
            w.u64(n);
            previous = i64::from(i);
        }
    }

    /// Reads what [`Sketch::encode`] wrote.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, String> {
        let mut sketch = Sketch {
            zeros: r.u64()?,
            ..Default::default()
        };
        let len = r.u64()?;
        let mut index = 0i64;
        let mut previous: Option<i32> = None;
        for _ in 0..len {
            index += r.i64()?;
            let i = i32::try_from(index).map_err(|_| "a sketch bucket is out of range")?;
            // Buckets come in ascending order, and a run longer than any latency needs
            // (100,000 buckets span a factor of 10^434) is damage, not data.
            if previous.is_some_and(|p| i <= p) || i - sketch.offset > 100_000 {
                return Err("the sketch buckets are out of order or out of range".into());
            }
            previous = Some(i);
            sketch.add_count(i, r.u64()?);
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::percentile;

    /// A deterministic spread of latencies from 0.05 ms to 30 s (xorshift).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                0.05 * (1.0 + (x % 1_000_000) as f64).powf(0.82)
            })
            .collect()
    }

    #[test]
    fn percentiles_stay_within_the_relative_accuracy_after_merging() {
        let (a, b) = (values(5_000, 7), values(3_000, 11));
        let mut left = Sketch::default();
        a.iter().for_each(|v| left.add(*v));
        let mut right = Sketch::default();
        b.iter().for_each(|v| right.add(*v));
        left.merge(&right);
        let mut all: Vec<f64> = a.into_iter().chain(b).collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(left.count(), 8_000);
        for p in [1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
            let exact = percentile(&all, p).unwrap();
            let approx = left.percentile(p).unwrap();
            let error = (approx - exact).abs() / exact;
            assert!(
                error <= RELATIVE_ACCURACY,
                "p{p}: {approx} vs exact {exact}, error {error}"
            );
        }
    }

    #[test]
    fn zeros_empty_and_encoding() {
        let mut s = Sketch::default();
        assert_eq!(s.percentile(50.0), None);
        s.add(0.0);
        s.add(-3.0);
        s.add(120.0);
        assert_eq!(s.percentile(50.0), Some(0.0));
        let p100 = s.percentile(100.0).unwrap();
        assert!((p100 - 120.0).abs() <= 120.0 * RELATIVE_ACCURACY);
        let mut w = Writer::default();
        s.encode(&mut w);
        let bytes = w.finish();
        // zeros, length, one (delta, count) pair: 1 + 1 + 2 + 1.
        assert_eq!(bytes.len(), 5);
        assert_eq!(Sketch::decode(&mut Reader::new(&bytes)).unwrap(), s);
    }
}
