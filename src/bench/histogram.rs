//! A fixed-size latency histogram in microseconds: log-linear buckets (64 sub-buckets per
//! power of two, so any reported percentile is within ~1.6% of the true value), no
//! allocation per sample, mergeable across tasks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BUCKETS: u64 = 64;
/// Values below 64 µs get a bucket each; above, each power of two is split into 64 buckets.
/// 58 doublings above 64 cover every u64.
const BUCKETS: usize = 64 * 59;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    max_us: u64,
    sum_us: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max_us: 0,
            sum_us: 0,
        }
    }

    fn bucket_of(value_us: u64) -> usize {
        if value_us < SUB_BUCKETS {
            return value_us as usize;
        }
        // Keep the 7 most significant bits: `top` is in 64..128.
        let shift = 64 - value_us.leading_zeros() - 7;
        let top = value_us >> shift;
        (SUB_BUCKETS + u64::from(shift) * SUB_BUCKETS + (top - SUB_BUCKETS)) as usize
    }

    /// The smallest value that falls into `index` (the value reported for it).
    fn value_of(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB_BUCKETS {
            return index;
        }
        let shift = (index - SUB_BUCKETS) / SUB_BUCKETS;
        let top = (index - SUB_BUCKETS) % SUB_BUCKETS + SUB_BUCKETS;
        top << shift
    }

    pub fn record(&mut self, value_us: u64) {
        if let Some(slot) = self.counts.get_mut(Self::bucket_of(value_us)) {
            *slot += 1;
        }
        self.total += 1;
        self.max_us = self.max_us.max(value_us);
        self.sum_us += u128::from(value_us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
        self.sum_us += other.sum_us;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    pub fn mean_us(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` in [0, 1]; 0 when empty.
    pub fn percentile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value_of(index).min(self.max_us);
            }
        }
        self.max_us
    }
}

/// The same buckets with atomic counts: the per-second window of `--plot`. Every task records
/// into it with one relaxed add (no lock per message) and the progress task empties it once a
/// second.
pub struct AtomicHistogram {
    counts: Box<[AtomicU64]>,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl AtomicHistogram {
    pub fn record(&self, value_us: u64) {
        if let Some(slot) = self.counts.get(Histogram::bucket_of(value_us)) {
            slot.fetch_add(1, Relaxed);
        }
    }

    /// Empties the window into a plain histogram. A sample counts as the lowest value of its
    /// bucket (what percentiles report anyway), so `max_us` and the mean are bucket floors.
    pub fn take(&self) -> Histogram {
        let mut h = Histogram::new();
        for (index, (slot, count)) in self.counts.iter().zip(h.counts.iter_mut()).enumerate() {
            let n = slot.swap(0, Relaxed);
            if n > 0 {
                let value = Histogram::value_of(index);
                *count = n;
                h.total += n;
                h.max_us = value;
                h.sum_us += u128::from(value) * u128::from(n);
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 0..64 {
            h.record(v);
        }
        assert_eq!(h.percentile_us(0.5), 31);
        assert_eq!(h.percentile_us(1.0), 63);
    }

    #[test]
    fn large_values_are_within_two_percent() {
        for v in [100u64, 1_000, 12_345, 999_999, 50_000_000] {
            let mut h = Histogram::new();
            h.record(v);
            h.record(v * 2);
            let p = h.percentile_us(0.5);
            let err = (v as f64 - p as f64).abs() / v as f64;
            assert!(err < 0.02, "value {v} reported as {p}");
        }
    }

    #[test]
    fn percentiles_follow_the_distribution() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p99 = h.percentile_us(0.99) as f64;
        assert!((p99 - 9_900.0).abs() / 9_900.0 < 0.02, "p99 {p99}");
        let mut other = Histogram::new();
        other.record(1_000_000);
        h.merge(&other);
        assert_eq!(h.count(), 10_001);
        assert_eq!(h.max_us(), 1_000_000);
    }

    #[test]
    fn the_atomic_window_reports_like_a_histogram_and_empties() {
        let window = AtomicHistogram::default();
        let mut plain = Histogram::new();
        for v in (1..=5_000u64).map(|v| v * 7) {
            window.record(v);
            plain.record(v);
        }
        let taken = window.take();
        assert_eq!(taken.count(), 5_000);
        for q in [0.5, 0.99, 0.999] {
            assert_eq!(taken.percentile_us(q), plain.percentile_us(q));
        }
        assert!(taken.max_us() <= plain.max_us());
        assert_eq!(window.take().count(), 0);
    }
}
