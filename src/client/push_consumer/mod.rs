//! The push consumer: heartbeats announce the group's subscriptions (tags or SQL92), the
//! group's queues are shared by RocketMQ's average allocation (so FerrumQ and Java/C++
//! consumers can share a group), each owned queue is long-polled while its cache of
//! unhandled messages is under the flow-control thresholds, messages go to the handler with
//! bounded concurrency, a "reconsume later" answer sends the message back to the broker (its
//! retry topic, then the DLQ after the group's max reconsume times), and the offset of the
//! oldest unhandled message is committed every few seconds and at shutdown.
//!
//! - `rebalance`: queue allocation, orderly locks, where a new queue starts.
//! - `pull`: the per-queue pull loop and handler dispatch.
//! - `broker`: heartbeats, offsets, send-back.
//! - `admin`: the broker's requests to the client (running info, offset reset).
//! - `process_queue`: one queue's cache, thresholds and commit offset.

mod admin;
mod broker;
mod process_queue;
mod pull;
mod rebalance;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::error::ClientError;
use super::group::Subscription;
use super::message::MessageQueue;
use super::pull_consumer::ReceivedMessage;
use super::route::RouteCache;
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::{ClientConfig, RemotingClient};
use process_queue::ProcessQueue;

const REBALANCE_EVERY: Duration = Duration::from_secs(20);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
const COMMIT_EVERY: Duration = Duration::from_secs(5);
/// Orderly: broker locks last 60 s; renewed well before.
const LOCK_RENEW_EVERY: Duration = Duration::from_secs(20);
/// Orderly: pause before a refused message is handled again.
const ORDERLY_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// What the handler says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Handled: the message counts as consumed.
    Success,
    /// Deliver it again later (through the group's retry topic).
    ReconsumeLater,
}

type Handler = Arc<
    dyn Fn(ReceivedMessage) -> Pin<Box<dyn Future<Output = ConsumeResult> + Send>> + Send + Sync,
>;

/// Builds a [`PushConsumer`].
#[derive(Debug, Clone)]
pub struct PushConsumerBuilder {
    namesrv: Vec<String>,
    group: String,
    /// topic → what of it
    subscriptions: BTreeMap<String, Subscription>,
    concurrency: usize,
    /// Flow control: a queue is not pulled while this many of its messages wait or run.
    queue_max_messages: usize,
    /// … or while their bodies take this many bytes.
    queue_max_bytes: usize,
    pull_batch: u32,
    max_reconsume_times: i32,
    /// Broadcasting: every consumer reads every queue; offsets kept in this file.
    broadcast_offsets: Option<std::path::PathBuf>,
    orderly: bool,
}

impl PushConsumerBuilder {
    /// Orderly consumption: a queue is consumed only while this consumer holds its lock on
    /// the broker (LOCK_BATCH_MQ, renewed every 20 s), one message at a time, in order. A
    /// message the handler keeps refusing is retried in place, then sent to the DLQ after
    /// `max_reconsume_times` so the queue moves on (RocketMQ retries it forever).
    pub fn orderly(mut self) -> Self {
        self.orderly = true;
        self
    }

    /// Broadcasting mode: every consumer of the group gets every message; positions are kept
    /// in `offset_file` on this machine, not on the broker, and a failed message is not
    /// retried (as RocketMQ).
    pub fn broadcasting(mut self, offset_file: impl Into<std::path::PathBuf>) -> Self {
        self.broadcast_offsets = Some(offset_file.into());
        self
    }

    /// The consumer group (default `DEFAULT_CONSUMER`).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Consumes `topic` filtered by a tag expression (`*`, or `TagA || TagB`).
    pub fn subscribe(mut self, topic: impl Into<String>, tags: impl Into<String>) -> Self {
        self.subscriptions
            .insert(topic.into(), Subscription::tags(tags));
        self
    }

    /// Consumes the messages of `topic` whose properties match a SQL92 expression
    /// (`region = 'eu' AND amount > 100`); the broker filters, and needs
    /// `enablePropertyFilter=true`. An expression the broker cannot compile fails `start`.
    pub fn subscribe_sql(
        mut self,
        topic: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.subscriptions
            .insert(topic.into(), Subscription::sql(expression));
        self
    }

    /// Flow control (RocketMQ's pullThresholdForQueue): a queue's pulls pause while this many
    /// of its messages are cached unhandled. Default 1,000.
    pub fn queue_max_messages(mut self, n: usize) -> Self {
        self.queue_max_messages = n.max(1);
        self
    }

    /// Flow control (RocketMQ's pullThresholdSizeForQueue): a queue's pulls pause while its
    /// cached unhandled bodies take this many bytes. Default 100 MiB.
    pub fn queue_max_bytes(mut self, n: usize) -> Self {
        self.queue_max_bytes = n.max(1);
        self
    }

    /// Messages asked for per pull (RocketMQ's pullBatchSize). Default 32.
    pub fn pull_batch(mut self, n: u32) -> Self {
        self.pull_batch = n.clamp(1, 1024);
        self
    }

    /// Messages handled at once (default 20, RocketMQ's consumeThreadMin).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Redeliveries before a message goes to the DLQ (default 16).
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.max_reconsume_times = n;
        self
    }

    /// Starts consuming; `handler` gets every message.
    pub async fn start<F, Fut>(self, handler: F) -> Result<PushConsumer, ClientError>
    where
        F: Fn(ReceivedMessage) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        if self.namesrv.is_empty() || self.group.trim().is_empty() || self.subscriptions.is_empty()
        {
            return Err(ClientError::Config(
                "a push consumer needs a NameServer, a group and a subscription".into(),
            ));
        }
        let handler: Handler = Arc::new(move |m| Box::pin(handler(m)));
        let rebalance_now = Arc::new(Notify::new());
        let notify = rebalance_now.clone();
        // Broker requests need the consumer, which needs the client: set once it exists.
        let this: Arc<std::sync::OnceLock<std::sync::Weak<Inner>>> = Default::default();
        let me = this.clone();
        let client = RemotingClient::new(ClientConfig {
            push_handler: Some(Arc::new(move |req: RemotingCommand| {
                match req.request_code() {
                    RequestCode::NotifyConsumerIdsChanged => {
                        notify.notify_one();
                        None
                    }
                    RequestCode::GetConsumerRunningInfo => {
                        let inner = me.get()?.upgrade()?;
                        let body = inner.running_info();
                        Some(req.response_to(ResponseCode::Success, None).with_body(body))
                    }
                    RequestCode::ResetConsumerClientOffset => {
                        if let Some(inner) = me.get().and_then(|w| w.upgrade()) {
                            inner.reset_offsets(&req.body);
                        }
                        None
                    }
                    _ => None,
                }
            })),
            ..Default::default()
        });
        let mut subscriptions = self.subscriptions.clone();
        if self.broadcast_offsets.is_none() {
            subscriptions.insert(format!("%RETRY%{}", self.group), Subscription::tags("*"));
        }
        let routes = RouteCache::new(
            self.namesrv.clone(),
            client.clone(),
            Duration::from_secs(3),
            4,
        );
        let concurrency = self.concurrency;
        // Broadcasting: the positions saved on this machine, read once, off the runtime.
        let local = match self.broadcast_offsets.clone() {
            Some(path) => tokio::task::spawn_blocking(move || crate::config_file::load(&path))
                .await
                .map_err(|e| ClientError::Config(format!("offset file read: {e}")))?
                .map_err(|e| ClientError::Config(format!("offset file: {e}")))?
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let inner = Arc::new(Inner {
            client_id: super::group::new_client_id(),
            local_offsets: Mutex::new(local),
            local_file: tokio::sync::Mutex::new(()),
            cfg: self,
            subscriptions,
            client,
            routes,
            handler,
            permits: Arc::new(Semaphore::new(concurrency)),
            owned: Mutex::new(HashMap::new()),
            masters: Mutex::new(HashMap::new()),
            replicas: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            rebalance_now,
            heartbeat_now: Notify::new(),
        });
        let _ = this.set(Arc::downgrade(&inner));
        inner.check_sql_subscriptions().await?;
        inner.heartbeat().await?;
        inner.rebalance().await;
        let background = tokio::spawn(background(inner.clone()));
        Ok(PushConsumer {
            inner,
            background: Mutex::new(Some(background)),
        })
    }
}

/// A running consumer; `shutdown` finishes in-flight messages and commits.
pub struct PushConsumer {
    inner: Arc<Inner>,
    background: Mutex<Option<JoinHandle<()>>>,
}

struct Owned {
    pq: Arc<ProcessQueue>,
    task: JoinHandle<()>,
}

impl Owned {
    /// Gives the queue up: no more pulls (a held one is abandoned), a handler already
    /// running finishes, and messages not yet started stay for the next owner (the commit
    /// offset stays below them).
    fn give_up(&self) {
        self.pq.drop_queue();
    }
}

struct Inner {
    cfg: PushConsumerBuilder,
    client_id: String,
    /// The user's subscriptions plus the group's retry topic.
    subscriptions: BTreeMap<String, Subscription>,
    client: RemotingClient,
    routes: RouteCache,
    handler: Handler,
    /// One per message being handled.
    permits: Arc<Semaphore>,
    owned: Mutex<HashMap<MessageQueue, Owned>>,
    masters: Mutex<HashMap<String, String>>,
    /// Broker name → address by broker id (suggestWhichBrokerId).
    replicas: Mutex<HashMap<String, BTreeMap<i64, String>>>,
    stopping: AtomicBool,
    rebalance_now: Arc<Notify>,
    heartbeat_now: Notify,
    /// Broadcasting: queue key → position, what the offset file holds.
    local_offsets: Mutex<BTreeMap<String, i64>>,
    /// Broadcasting: one offset-file write at a time, so an older one never lands last.
    local_file: tokio::sync::Mutex<()>,
}

impl PushConsumer {
    /// A builder; `namesrv` is one address or several separated by `;`.
    pub fn builder(namesrv: &str) -> PushConsumerBuilder {
        PushConsumerBuilder {
            namesrv: super::namesrv_list(namesrv),
            group: "DEFAULT_CONSUMER".into(),
            subscriptions: BTreeMap::new(),
            concurrency: 20,
            queue_max_messages: 1_000,
            queue_max_bytes: 100 << 20,
            pull_batch: 32,
            max_reconsume_times: 16,
            broadcast_offsets: None,
            orderly: false,
        }
    }

    /// The id brokers know this consumer by (`ip@pid#unique`).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The queues this consumer owns now.
    pub fn assigned(&self) -> BTreeSet<MessageQueue> {
        self.inner.owned.lock().keys().cloned().collect()
    }

    /// Per owned queue: messages pulled and not yet handled, and their body bytes (what the
    /// flow-control thresholds bound).
    pub fn cached(&self) -> BTreeMap<MessageQueue, (usize, usize)> {
        self.inner
            .owned
            .lock()
            .iter()
            .map(|(q, o)| {
                let s = o.pq.snapshot();
                (q.clone(), (s.count, s.bytes))
            })
            .collect()
    }

    /// Stops pulling, waits for the messages being handled, commits offsets and leaves the
    /// group (the others take its queues at their next rebalance, told at once).
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        let background = self.background.lock().take();
        if let Some(bg) = background {
            bg.abort();
        }
        let owned: Vec<(MessageQueue, Owned)> = self.inner.owned.lock().drain().collect();
        for (_, o) in &owned {
            o.give_up();
        }
        // In-flight handlers hold permits: all back means all done (those still waiting for
        // a permit see their queue dropped and leave their message to the next owner).
        let _all = self
            .inner
            .permits
            .acquire_many(self.inner.cfg.concurrency as u32)
            .await;
        for (q, o) in owned {
            self.inner.commit(&q, o.pq.commit_offset()).await;
        }
        self.inner.unregister().await;
    }
}

/// Dropped without `shutdown`: the background and pull tasks stop (offsets since the last
/// periodic commit are not committed: call `shutdown` for that).
impl Drop for PushConsumer {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::Release);
        if let Some(bg) = self.background.lock().take() {
            bg.abort();
        }
        for (_, o) in self.inner.owned.lock().drain() {
            o.give_up();
            o.task.abort();
        }
    }
}

async fn background(inner: Arc<Inner>) {
    let mut rebalance = tokio::time::interval(REBALANCE_EVERY);
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    let mut commit = tokio::time::interval(COMMIT_EVERY);
    let mut locks = tokio::time::interval(LOCK_RENEW_EVERY);
    loop {
        tokio::select! {
            _ = locks.tick() => inner.renew_locks().await,
            _ = rebalance.tick() => inner.rebalance().await,
            _ = inner.rebalance_now.notified() => inner.rebalance().await,
            _ = heartbeat.tick() => { let _ = inner.heartbeat().await; }
            _ = inner.heartbeat_now.notified() => { let _ = inner.heartbeat().await; }
            _ = commit.tick() => inner.commit_all().await,
        }
    }
}
