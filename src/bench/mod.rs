//! `mqbench`: a load generator for any RocketMQ-compatible cluster. It speaks only the
//! remoting protocol (NameServer routes, SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE, PULL_MESSAGE),
//! prints a progress line per second, then TPS, MB/s and latency percentiles.

mod consume;
mod histogram;
pub mod null_server;
mod payload;
mod plot;
mod produce;
mod report;
mod route;
mod sdk_consume;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

pub use histogram::Histogram;

#[derive(Parser, Debug)]
#[command(
    name = "mqbench",
    version,
    about = "Load generator for RocketMQ-compatible brokers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Subcommand, Debug)]
pub enum Mode {
    /// Send sequence-stamped messages as fast as allowed.
    Produce(Options),
    /// Read a topic from its oldest offsets; check sequence numbers for gaps and duplicates.
    Consume(Options),
    /// Produce and consume together; report end-to-end latency.
    E2e(Options),
    /// Serve as a do-nothing broker and NameServer (one thread, nothing stored): the ceiling
    /// a broker's figures are compared with in the same run.
    NullServer(null_server::NullOptions),
}

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// NameServer address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    /// Topic (created on the first send when the broker allows auto-creation).
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    pub topic: String,
    /// Spread sends round-robin over N topics named {topic}-0 .. {topic}-{N-1}; 1 means
    /// exactly --topic (produce only).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub topics: u32,
    /// Queues a topic gets when the first send creates it ("defaultTopicQueueNums" of the
    /// send; the broker caps it at its own defaultTopicQueueNums). 4, as the official clients.
    #[arg(long = "queues-per-topic", value_name = "Q", default_value_t = 4,
          value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub queues_per_topic: i32,
    /// Body size in bytes (at least the 28-byte sequence stamp).
    #[arg(short = 's', long, default_value_t = 1024)]
    pub size: usize,
    /// TCP connections (producer).
    #[arg(short = 'c', long, default_value_t = 4)]
    pub connections: usize,
    /// Requests in flight per connection (producer).
    #[arg(short = 'k', long = "in-flight", default_value_t = 32)]
    pub in_flight: usize,
    /// Messages per request (SEND_BATCH_MESSAGE when above 1).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Stop after this many messages.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Stop after this many seconds (default 10 when --messages is not given).
    #[arg(long = "duration")]
    pub duration_s: Option<u64>,
    /// Limit the producer to this many messages per second.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Producer / consumer group name.
    #[arg(short = 'g', long, default_value = "mqbench")]
    pub group: String,
    /// Per-request timeout in milliseconds.
    #[arg(long = "timeout-ms", default_value_t = 3000)]
    pub timeout_ms: u64,
    /// Write an SVG of the run's per-second rate and latency percentiles to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Send transactional half messages, each committed with END_TRANSACTION (oneway, as
    /// producers send it) once stored; latency is the half message's (produce only).
    #[arg(long)]
    pub transaction: bool,
    /// Timer messages: message k of --messages N is due at run start + 2 s + k x MS / N
    /// (TIMER_DELIVER_MS) and stamped with its due time, so e2e reports the lateness of
    /// delivery, not the time since sending.
    #[arg(long = "timer-spread-ms", value_name = "MS", requires = "messages")]
    pub timer_spread_ms: Option<u64>,
    /// Go through the Rust SDK instead of mqbench's own code, so the SDK is measured: its
    /// `Producer` (one per connection; single sends only), its pull consumer (consume) and
    /// its push consumer (e2e).
    #[arg(long, conflicts_with_all = ["transaction", "timer_spread_ms", "batch"])]
    pub sdk: bool,
    /// mqbench's own sender adds a message id (UNIQ_KEY) to each single send, as every
    /// RocketMQ client does (the broker then indexes it): the like-for-like row for --sdk.
    #[arg(long = "uniq-key", conflicts_with_all = ["sdk", "batch"])]
    pub uniq_key: bool,
}

/// Timer mode: the first message is due this long after the run starts.
pub(crate) const TIMER_LEAD_MS: u64 = 2_000;

impl Options {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The topics a producer sends to.
    pub fn topic_names(&self) -> Vec<String> {
        if self.topics <= 1 {
            return vec![self.topic.clone()];
        }
        (0..self.topics)
            .map(|i| format!("{}-{i}", self.topic))
            .collect()
    }

    /// The topics, for a log line or a title.
    pub fn topic_label(&self) -> String {
        match self.topics {
            0 | 1 => self.topic.clone(),
            n => format!("{0}-0..{0}-{1} ({n} topics)", self.topic, n - 1),
        }
    }
}

/// When a producer stops, and how fast it may go.
pub(crate) struct Limits {
    messages: Option<u64>,
    deadline: Option<Instant>,
    rate: Option<u64>,
    start: Instant,
}

impl Limits {
    fn from_options(o: &Options) -> Self {
        let start = Instant::now();
        let duration_s = match (o.messages, o.duration_s) {
            (None, None) => Some(10),
            (_, d) => d,
        };
        Limits {
            messages: o.messages,
            deadline: duration_s.map(|s| start + Duration::from_secs(s)),
            rate: o.rate.filter(|&r| r > 0),
            start,
        }
    }

    /// Whether the messages from `first_seq` may be sent; waits for their turn under `--rate`.
    async fn admit(&self, first_seq: u64, _batch: u64) -> bool {
        if self.messages.is_some_and(|n| first_seq >= n) {
            return false;
        }
        if let Some(rate) = self.rate {
            let due = self.start + Duration::from_secs_f64(first_seq as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        self.deadline.is_none_or(|d| Instant::now() < d)
    }
}

/// Runs one mode to completion; the error is one readable line.
pub async fn run(cli: Cli) -> Result<(), String> {
    match &cli.mode {
        Mode::Consume(o) | Mode::E2e(o) if o.topics > 1 => {
            return Err("--topics is for produce: consume and e2e read one topic".into())
        }
        _ => {}
    }
    match cli.mode {
        Mode::Produce(opts) => produce::run(opts).await.map(|_| ()),
        Mode::Consume(opts) => consume::run(opts).await,
        Mode::E2e(opts) => e2e(opts).await,
        Mode::NullServer(_) => Err("null-server runs on its own thread: use `main`".into()),
    }
}

async fn e2e(opts: Options) -> Result<(), String> {
    produce::warm_up(&opts).await?;
    let consumer = consume::Consumer::new(
        Options {
            messages: None,
            duration_s: None,
            ..opts.clone()
        },
        consume::StartAt::Newest,
    );
    let pulling = tokio::spawn(consumer.clone().consume());
    // Let every pull loop fetch its start offset before the first timed send.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e2e_progress = report::Progress::start("e2e", consumer.counters.clone());
    let started = Instant::now();
    // The plot is the consumer's: end-to-end latency and messages received.
    let sent = produce::run(Options {
        plot: None,
        ..opts.clone()
    })
    .await?;
    let sent_ok = sent.ok.load(Relaxed);
    // Timer messages are due up to lead + spread after the start.
    let timer_wait = opts
        .timer_spread_ms
        .map_or(Duration::ZERO, |s| Duration::from_millis(TIMER_LEAD_MS + s));
    let drain_until = started + timer_wait + Duration::from_secs(5);
    let drain_until = drain_until.max(Instant::now() + Duration::from_secs(5));
    while consumer.received() < sent_ok && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.stop.store(true, Relaxed);
    let _ = pulling.await;
    e2e_progress.finish();
    report::summary("end-to-end", &consumer.counters, started.elapsed());
    consumer.print_check();
    report::write_plot(&consumer.counters, &opts, "e2e")
}
