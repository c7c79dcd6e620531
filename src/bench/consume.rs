//! `mqbench consume`: one pull loop per queue, checking the producer's sequence numbers;
//! with `--sdk`, the SDK's consumers instead (`sdk_consume`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::histogram::Histogram;
use super::payload::{self, SeqTracker};
use super::report::{self, Counters, Progress};
use super::route::{self, QueueTarget};
use super::Options;
use crate::protocol::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, RemotingCommand, RequestCode,
    ResponseCode,
};
use crate::remoting::{ClientConfig, RemotingClient};

/// Pull flags (wire doc §7.3): long polling allowed, subscription carried in the request.
const PULL_SYS_FLAG: i32 = 0x2 | 0x4;
const PULL_BATCH: i32 = 32;
const SUSPEND_MS: i64 = 1000;
/// With `--messages`, give up after this long without a single message.
const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// Where each queue's pull loop starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The queue's min offset: read the whole backlog.
    Oldest,
    /// The queue's max offset: only what is sent from now on (e2e).
    Newest,
}

pub struct Consumer {
    opts: Options,
    start_at: StartAt,
    pub counters: Arc<Counters>,
    pub tracker: Mutex<SeqTracker>,
    /// Set by e2e once the producer is done and the consumer has caught up.
    pub stop: AtomicBool,
    last_message: Mutex<Instant>,
    received: AtomicU64,
    deadline: Option<Instant>,
}

pub async fn run(opts: Options) -> Result<(), String> {
    let consumer = Consumer::new(opts, StartAt::Oldest);
    let started = Instant::now();
    let progress = Progress::start("consume", consumer.counters.clone());
    consumer.clone().consume().await?;
    progress.finish();
    report::summary("consume", &consumer.counters, started.elapsed());
    consumer.print_check();
    report::write_plot(&consumer.counters, &consumer.opts, "consume")
}

impl Consumer {
    pub fn new(opts: Options, start_at: StartAt) -> Arc<Self> {
        let deadline = opts
            .duration_s
            .map(|s| Instant::now() + Duration::from_secs(s));
        Arc::new(Consumer {
            // Before `opts` moves in.
            counters: Arc::new(Counters::new(opts.plot.is_some())),
            opts,
            start_at,
            tracker: Mutex::new(SeqTracker::default()),
            stop: AtomicBool::new(false),
            last_message: Mutex::new(Instant::now()),
            received: AtomicU64::new(0),
            deadline,
        })
    }

    pub fn received(&self) -> u64 {
        self.received.load(Relaxed)
    }

    /// Pulls every readable queue of the topic until done; returns when all loops end.
    pub async fn consume(self: Arc<Self>) -> Result<(), String> {
        if self.opts.sdk {
            return super::sdk_consume::consume(self).await;
        }
        let client = RemotingClient::new(ClientConfig::default());
        let queues = route::subscribe_queues(&client, &self.opts.namesrv, &self.opts.topic).await?;
        let mut tasks = Vec::new();
        for target in queues {
            let offset = self.start_offset(&client, &target).await?;
            let me = self.clone();
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                me.pull_loop(client, target, offset).await
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }

    pub fn print_check(&self) {
        let t = self.tracker.lock();
        println!(
            "check         {} runs, gaps {}, duplicates {}, foreign bodies {}",
            t.runs(),
            t.gaps(),
            t.duplicates,
            t.foreign
        );
    }

    async fn start_offset(&self, client: &RemotingClient, q: &QueueTarget) -> Result<i64, String> {
        let (code, ext) = match self.start_at {
            StartAt::Oldest => (
                RequestCode::GetMinOffset,
                crate::protocol::CommandHeader::to_ext(&GetMinOffsetRequestHeader {
                    topic: self.opts.topic.clone(),
                    queue_id: q.queue_id,
                }),
            ),
            StartAt::Newest => (
                RequestCode::GetMaxOffset,
                crate::protocol::CommandHeader::to_ext(&GetMaxOffsetRequestHeader {
                    topic: self.opts.topic.clone(),
                    queue_id: q.queue_id,
                    committed: None,
                }),
            ),
        };
        let resp = client
            .invoke(
                &q.broker_addr,
                RemotingCommand::new_request(code, ext),
                self.opts.timeout(),
            )
            .await
            .map_err(|e| format!("{}: {e}", q.broker_addr))?;
        resp.decode_header::<OffsetResponseHeader>()
            .map(|h| h.offset)
            .map_err(|e| format!("offset of queue {}: {e}", q.queue_id))
    }

    pub(super) fn opts(&self) -> &Options {
        &self.opts
    }

    pub(super) fn start_at(&self) -> StartAt {
        self.start_at
    }

    pub(super) fn done(&self) -> bool {
        if self.stop.load(Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return true;
        }
        match self.opts.messages {
            Some(n) => self.received() >= n || self.last_message.lock().elapsed() > IDLE_LIMIT,
            None => false,
        }
    }

    async fn pull_loop(self: Arc<Self>, client: RemotingClient, q: QueueTarget, mut offset: i64) {
        let mut latency = Histogram::new();
        let timeout = Duration::from_millis(SUSPEND_MS as u64) + self.opts.timeout();
        while !self.done() {
            let header = PullMessageRequestHeader {
                consumer_group: self.opts.group.clone(),
                topic: self.opts.topic.clone(),
                queue_id: q.queue_id,
                queue_offset: offset,
                max_msg_nums: PULL_BATCH,
                sys_flag: PULL_SYS_FLAG,
                commit_offset: 0,
                suspend_timeout_millis: SUSPEND_MS,
                subscription: Some("*".into()),
                sub_version: 0,
                expression_type: Some("TAG".into()),
                max_msg_bytes: None,
            };
            let req = RemotingCommand::new_request(RequestCode::PullMessage, Default::default())
                .with_header(&header);
            let resp = match client.invoke(&q.broker_addr, req, timeout).await {
                Ok(resp) => resp,
                Err(e) => {
                    self.fail(&format!("pull {}: {e}", q.queue_id)).await;
                    continue;
                }
            };
            let next = resp
                .decode_header::<PullMessageResponseHeader>()
                .map(|h| h.next_begin_offset);
            match (resp.response_code(), next) {
                (ResponseCode::Success, Ok(next)) => {
                    self.take(&resp.body, &mut latency);
                    offset = next;
                }
                (ResponseCode::PullNotFound, Ok(next)) => {
                    offset = next;
                    // Catching up without a count: an empty queue is a finished queue.
                    if self.opts.messages.is_none() && self.start_at == StartAt::Oldest {
                        break;
                    }
                }
                (ResponseCode::PullRetryImmediately | ResponseCode::PullOffsetMoved, Ok(next)) => {
                    offset = next
                }
                (code, _) => {
                    let remark = resp.remark.clone().unwrap_or_default();
                    self.fail(&format!("pull {}: {code:?} {remark}", q.queue_id))
                        .await;
                }
            }
        }
        self.counters.merge(&latency);
    }

    fn take(&self, body: &[u8], latency: &mut Histogram) {
        let records = match ferrumq_store::message::decode_records(body) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("undecodable pull body: {e}");
                self.counters.failed.fetch_add(1, Relaxed);
                return;
            }
        };
        self.observe(
            records.iter().map(|r| (r.body, r.total_size as u64)),
            latency,
        );
    }

    /// Counts received messages (body, stored size): latency from each stamp, sequence
    /// check, bytes.
    pub(super) fn observe<'a>(
        &self,
        messages: impl Iterator<Item = (&'a [u8], u64)>,
        latency: &mut Histogram,
    ) {
        let now = payload::now_us();
        let mut tracker = self.tracker.lock();
        let mut n = 0;
        for (body, size) in messages {
            let stamp = payload::decode(body);
            if let Some(s) = stamp {
                let us = now.saturating_sub(s.sent_at_us);
                latency.record(us);
                self.counters.sample(us);
            }
            tracker.observe(stamp);
            self.counters.bytes.fetch_add(size, Relaxed);
            n += 1;
        }
        drop(tracker);
        self.counters.ok.fetch_add(n, Relaxed);
        self.received.fetch_add(n, Relaxed);
        *self.last_message.lock() = Instant::now();
    }

    pub(super) async fn fail(&self, what: &str) {
        if self.counters.failed.fetch_add(1, Relaxed) == 0 {
            eprintln!("{what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
