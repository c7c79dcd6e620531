//! Counters shared by the bench tasks, the once-a-second progress line and the summary.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::histogram::{AtomicHistogram, Histogram};
use super::plot::{self, Second};
use super::Options;

#[derive(Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
    rt_sum_us: AtomicU64,
    rt_count: AtomicU64,
    rt_max_us: AtomicU64,
    latency: Mutex<Histogram>,
    /// Only with `--plot`.
    per_second: Option<PerSecond>,
}

/// This second's latencies, and the seconds so far, for `--plot`.
struct PerSecond {
    window: AtomicHistogram,
    seconds: Mutex<Vec<Second>>,
}

impl Counters {
    /// `plot`: also keep per-second percentiles for `--plot` (one more relaxed add per
    /// sample).
    pub fn new(plot: bool) -> Self {
        Counters {
            per_second: plot.then(|| PerSecond {
                window: AtomicHistogram::default(),
                seconds: Mutex::default(),
            }),
            ..Default::default()
        }
    }

    /// Records one latency sample for the per-second line (the summary uses `merge`).
    pub fn sample(&self, latency_us: u64) {
        self.rt_sum_us.fetch_add(latency_us, Relaxed);
        self.rt_count.fetch_add(1, Relaxed);
        self.rt_max_us.fetch_max(latency_us, Relaxed);
        if let Some(p) = &self.per_second {
            p.window.record(latency_us);
        }
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
                let elapsed = start.elapsed();
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
                    elapsed.as_secs(),
                    ok - last_ok,
                    (bytes - last_bytes) as f64 / 1e6,
                    avg_ms,
                    max as f64 / 1000.0,
                    counters.failed.load(Relaxed),
                );
                if let Some(p) = &counters.per_second {
                    let h = p.window.take();
                    let ms = |us: u64| us as f64 / 1000.0;
                    p.seconds.lock().push(Second {
                        t_s: elapsed.as_secs_f64(),
                        msgs: (ok - last_ok) as f64,
                        p50_ms: ms(h.percentile_us(0.50)),
                        p99_ms: ms(h.percentile_us(0.99)),
                        p999_ms: ms(h.percentile_us(0.999)),
                        // The window and the max are swapped a moment apart: take the larger.
                        max_ms: ms(max.max(h.max_us())),
                    });
                }
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

/// Writes the `--plot` SVG of the seconds recorded so far; nothing without `--plot`.
pub fn write_plot(counters: &Counters, opts: &Options, mode: &str) -> Result<(), String> {
    let (Some(path), Some(p)) = (&opts.plot, &counters.per_second) else {
        return Ok(());
    };
    let mut title = format!("mqbench {mode}: {}, {} B", opts.topic_label(), opts.size);
    if mode != "consume" {
        title += &format!(", {} x {} in flight", opts.connections, opts.in_flight);
    }
    if opts.batch > 1 && mode != "consume" {
        title += &format!(", batches of {}", opts.batch);
    }
    if let Some(rate) = opts.rate {
        title += &format!(", {rate} msg/s");
    }
    let svg = plot::render(&title, &p.seconds.lock());
    std::fs::write(path, svg).map_err(|e| format!("--plot {}: {e}", path.display()))?;
    println!("plot          {}", path.display());
    Ok(())
}
