//! Counters shared by the bench tasks, the once-a-second progress line and the summary.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::histogram::Histogram;

#[derive(Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
    rt_sum_us: AtomicU64,
    rt_count: AtomicU64,
    rt_max_us: AtomicU64,
    latency: Mutex<Histogram>,
}

impl Counters {
    /// Records one latency sample for the per-second line (the summary uses `merge`).
    pub fn sample(&self, latency_us: u64) {
        self.rt_sum_us.fetch_add(latency_us, Relaxed);
        self.rt_count.fetch_add(1, Relaxed);
        self.rt_max_us.fetch_max(latency_us, Relaxed);
    }

    /// Tasks keep their own histogram and merge it once at the end: no lock per message.
    pub fn merge(&self, h: &Histogram) {
        self.latency.lock().merge(h);
    }
}

/// Prints `[  Ns] <what>: N msg/s ...` every second until dropped.
pub struct Progress {
    stop: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(what: &'static str, counters: Arc<Counters>) -> Self {
        let stop = Arc::new(AtomicU64::new(0));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            let (mut last_ok, mut last_bytes) = (0u64, 0u64);
            while flag.load(Relaxed) == 0 {
                tick.tick().await;
                let ok = counters.ok.load(Relaxed);
                let bytes = counters.bytes.load(Relaxed);
                let count = counters.rt_count.swap(0, Relaxed);
                let sum = counters.rt_sum_us.swap(0, Relaxed);
                let max = counters.rt_max_us.swap(0, Relaxed);
                let avg_ms = if count == 0 {
                    0.0
                } else {
                    sum as f64 / count as f64 / 1000.0
                };
                println!(
                    "[{:>4}s] {what}: {:>9} msg/s {:>8.1} MB/s  avg {:>7.2} ms  max {:>8.2} ms  failed {}",
                    start.elapsed().as_secs(),
                    ok - last_ok,
                    (bytes - last_bytes) as f64 / 1e6,
                    avg_ms,
                    max as f64 / 1000.0,
                    counters.failed.load(Relaxed),
                );
                (last_ok, last_bytes) = (ok, bytes);
            }
        });
        Progress { stop, task }
    }

    pub fn finish(self) {
        self.stop.store(1, Relaxed);
        self.task.abort();
    }
}

/// The closing table: RocketMQ's benchmark columns plus percentiles.
pub fn summary(what: &str, counters: &Counters, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ok = counters.ok.load(Relaxed);
    let h = counters.latency.lock();
    let ms = |us: u64| us as f64 / 1000.0;
    println!("---- {what} summary ----");
    println!(
        "messages      {ok} ok, {} failed, in {secs:.2} s",
        counters.failed.load(Relaxed)
    );
    println!("TPS           {:.0} msg/s", ok as f64 / secs);
    println!(
        "throughput    {:.1} MB/s",
        counters.bytes.load(Relaxed) as f64 / 1e6 / secs
    );
    println!(
        "latency (ms)  avg {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        h.mean_us() / 1000.0,
        ms(h.percentile_us(0.50)),
        ms(h.percentile_us(0.90)),
        ms(h.percentile_us(0.99)),
        ms(h.percentile_us(0.999)),
        ms(h.max_us()),
    );
}
