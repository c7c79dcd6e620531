//! The push consumer, clustering mode: heartbeats announce the group's subscriptions, the
//! group's queues are shared by RocketMQ's average allocation (so FerrumQ and Java/C++
//! consumers can share a group), each owned queue is long-polled, messages go to the handler
//! with bounded concurrency, a "reconsume later" answer sends the message back to the broker
//! (its retry topic, then the DLQ after the group's max reconsume times), and offsets are
//! committed every few seconds and at shutdown.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::error::ClientError;
use super::message::MessageQueue;
use super::pull_consumer::{decode, ReceivedMessage};
use super::route::RouteCache;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::{ClientConfig, RemotingClient};

const REBALANCE_EVERY: Duration = Duration::from_secs(20);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
const COMMIT_EVERY: Duration = Duration::from_secs(5);
/// Orderly: broker locks last 60 s; renewed well before.
const LOCK_RENEW_EVERY: Duration = Duration::from_secs(20);
/// Orderly: pause before a refused message is handled again.
const ORDERLY_RETRY_PAUSE: Duration = Duration::from_millis(200);
const SUSPEND_MS: u64 = 15_000;
/// Pull flags: commit offset, suspend (long poll), subscription in the request.
const PULL_FLAGS: i32 = 0x1 | 0x2 | 0x4;

/// What the handler says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
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
    /// topic → tag expression
    subscriptions: BTreeMap<String, String>,
    concurrency: usize,
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

    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Consumes `topic` filtered by a tag expression (`*`, or `TagA || TagB`).
    pub fn subscribe(mut self, topic: impl Into<String>, tags: impl Into<String>) -> Self {
        self.subscriptions.insert(topic.into(), tags.into());
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
            subscriptions.insert(format!("%RETRY%{}", self.group), "*".into());
        }
        let routes = RouteCache::new(
            self.namesrv.clone(),
            client.clone(),
            Duration::from_secs(3),
            4,
        );
        let concurrency = self.concurrency;
        let inner = Arc::new(Inner {
            client_id: format!(
                "{}@{}#{}",
                super::msg_id::local_ipv4(),
                std::process::id(),
                super::msg_id::new_id()
            ),
            cfg: self,
            subscriptions,
            client,
            routes,
            handler,
            permits: Arc::new(Semaphore::new(concurrency)),
            owned: Mutex::new(HashMap::new()),
            masters: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            rebalance_now,
        });
        let _ = this.set(Arc::downgrade(&inner));
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
    /// Next offset to pull.
    next: Arc<Mutex<i64>>,
    /// Offset committed last.
    committed: i64,
    task: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    /// Told when an offset reset moves the queue: a held pull is abandoned.
    moved: Arc<Notify>,
}

struct Inner {
    cfg: PushConsumerBuilder,
    client_id: String,
    /// The user's subscriptions plus the group's retry topic.
    subscriptions: BTreeMap<String, String>,
    client: RemotingClient,
    routes: RouteCache,
    handler: Handler,
    /// One per message being handled.
    permits: Arc<Semaphore>,
    owned: Mutex<HashMap<MessageQueue, Owned>>,
    masters: Mutex<HashMap<String, String>>,
    stopping: AtomicBool,
    rebalance_now: Arc<Notify>,
}

impl PushConsumer {
    /// A builder; `namesrv` is one address or several separated by `;`.
    pub fn builder(namesrv: &str) -> PushConsumerBuilder {
        PushConsumerBuilder {
            namesrv: super::namesrv_list(namesrv),
            group: "DEFAULT_CONSUMER".into(),
            subscriptions: BTreeMap::new(),
            concurrency: 20,
            max_reconsume_times: 16,
            broadcast_offsets: None,
            orderly: false,
        }
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The queues this consumer owns now.
    pub fn assigned(&self) -> BTreeSet<MessageQueue> {
        self.inner.owned.lock().keys().cloned().collect()
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
            o.stop.store(true, Ordering::Release);
        }
        // In-flight handlers hold permits: all back means all done.
        let _all = self
            .inner
            .permits
            .acquire_many(self.inner.cfg.concurrency as u32)
            .await;
        for (q, o) in owned {
            o.task.abort();
            let next = *o.next.lock();
            self.inner.commit(&q, next).await;
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
            o.stop.store(true, Ordering::Release);
            o.task.abort();
        }
    }
}

impl Inner {
    async fn brokers(&self) -> HashMap<String, String> {
        for topic in self.subscriptions.keys() {
            if let Ok(info) = self.routes.subscribe_info(topic).await {
                self.masters.lock().extend(info.masters);
            }
        }
        self.masters.lock().clone()
    }

    async fn heartbeat(&self) -> Result<(), ClientError> {
        let subs: Vec<_> = self
            .subscriptions
            .iter()
            .map(|(topic, expr)| {
                let tags: Vec<&str> = if expr.trim() == "*" {
                    Vec::new()
                } else {
                    expr.split("||")
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .collect()
                };
                json!({"topic": topic, "subString": expr, "tagsSet": tags, "codeSet": [],
                    "subVersion": 0, "expressionType": "TAG", "classFilterMode": false})
            })
            .collect();
        let body = json!({"clientID": self.client_id, "producerDataSet": [],
            "consumerDataSet": [{"groupName": self.cfg.group, "consumeType": "CONSUME_PASSIVELY",
                "messageModel": self.model(), "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
                "unitMode": false, "subscriptionDataSet": subs}]});
        let mut last = Err(ClientError::NoRoute(self.cfg.group.clone()));
        for addr in self.brokers().await.values() {
            let req = RemotingCommand::new_request(RequestCode::HeartBeat, ExtFields::new())
                .with_body(body.to_string().into_bytes());
            last = self
                .client
                .invoke(addr, req, Duration::from_secs(3))
                .await
                .map(|_| ())
                .map_err(Into::into);
        }
        last
    }

    async fn unregister(&self) {
        for addr in self.brokers().await.values() {
            let mut ext = ExtFields::with_capacity(2);
            ext.insert("clientID", &self.client_id);
            ext.insert("consumerGroup", &self.cfg.group);
            let req = RemotingCommand::new_request(RequestCode::UnregisterClient, ext);
            let _ = self.client.invoke(addr, req, Duration::from_secs(3)).await;
        }
    }

    /// The group's consumer ids, sorted, from a broker of the topic.
    async fn consumer_ids(&self, addr: &str) -> Option<Vec<String>> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("consumerGroup", &self.cfg.group);
        let req = RemotingCommand::new_request(RequestCode::GetConsumerListByGroup, ext);
        let resp = self
            .client
            .invoke(addr, req, Duration::from_secs(3))
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
        let mut ids: Vec<String> = v
            .get("consumerIdList")?
            .as_array()?
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect();
        ids.sort();
        Some(ids)
    }

    /// GET_CONSUMER_RUNNING_INFO's ConsumerRunningInfo: properties, subscriptions and the
    /// owned queues with their positions (fastjson's MessageQueue-object keys).
    fn running_info(&self) -> Vec<u8> {
        let subs: Vec<_> = self
            .subscriptions
            .iter()
            .map(|(t, e)| json!({"topic": t, "subString": e, "expressionType": "TAG"}))
            .collect();
        let rows: Vec<String> = self
            .owned
            .lock()
            .iter()
            .map(|(q, o)| {
                let key =
                    json!({"brokerName": q.broker_name, "queueId": q.queue_id, "topic": q.topic});
                let next = *o.next.lock();
                let val = json!({"commitOffset": o.committed, "cachedMsgMinOffset": next,
                    "cachedMsgMaxOffset": next, "cachedMsgCount": 0, "droped": false,
                    "locked": false});
                format!("{key}:{val}")
            })
            .collect();
        let properties = json!({
            "consumerGroup": self.cfg.group,
            "messageModel": self.model(),
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "PROP_CONSUME_TYPE": "CONSUME_PASSIVELY",
            "PROP_CONSUMEORDERLY": "false",
            "PROP_THREADPOOL_CORE_SIZE": self.cfg.concurrency.to_string(),
            "PROP_NAMESERVER_ADDR": self.cfg.namesrv.join(";"),
            "PROP_CLIENT_VERSION": "V4_9_8",
        });
        format!(
            "{{\"jstack\":\"\",\"mqTable\":{{{}}},\"properties\":{properties},\"statusTable\":{{}},\"subscriptionSet\":{}}}",
            rows.join(","),
            serde_json::Value::from(subs)
        )
        .into_bytes()
    }

    /// RESET_CONSUMER_CLIENT_OFFSET: owned queues move to the offsets in the body (either the
    /// object-keyed ResetOffsetBody or the C++ array form).
    fn reset_offsets(&self, body: &[u8]) {
        let fixed = crate::protocol::lenient::quote_bare_keys(body);
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&fixed) else {
            return;
        };
        let mut offsets = Vec::new();
        match v.get("offsetTable") {
            Some(serde_json::Value::Object(map)) => {
                for (key, offset) in map {
                    let Ok(mq) = serde_json::from_str::<serde_json::Value>(key) else {
                        continue;
                    };
                    offsets.push((mq, offset.as_i64()));
                }
            }
            Some(serde_json::Value::Array(rows)) => {
                for row in rows {
                    offsets.push((row.clone(), row.get("offset").and_then(|o| o.as_i64())));
                }
            }
            _ => return,
        }
        let owned = self.owned.lock();
        for (mq, offset) in offsets {
            let Some(offset) = offset else { continue };
            let q = MessageQueue {
                topic: mq
                    .get("topic")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
                broker_name: mq
                    .get("brokerName")
                    .and_then(|b| b.as_str())
                    .unwrap_or_default()
                    .to_string(),
                queue_id: mq.get("queueId").and_then(|q| q.as_i64()).unwrap_or(-1) as i32,
            };
            if let Some(o) = owned.get(&q) {
                *o.next.lock() = offset;
                o.moved.notify_one();
            }
        }
    }

    /// LOCK_BATCH_MQ / UNLOCK_BATCH_MQ per broker; returns the queues locked (all, for an
    /// unlock).
    async fn lock_queues(&self, code: RequestCode, queues: &[MessageQueue]) -> Vec<MessageQueue> {
        let mut by_broker: BTreeMap<&str, Vec<&MessageQueue>> = BTreeMap::new();
        for q in queues {
            by_broker.entry(q.broker_name.as_str()).or_default().push(q);
        }
        let mut locked = Vec::new();
        for (broker, qs) in by_broker {
            let Some(addr) = self.masters.lock().get(broker).cloned() else {
                continue;
            };
            let set: Vec<_> = qs
                .iter()
                .map(|q| json!({"brokerName": q.broker_name, "queueId": q.queue_id, "topic": q.topic}))
                .collect();
            let body = json!({"consumerGroup": self.cfg.group, "clientId": self.client_id,
                "mqSet": set, "onlyThisBroker": false});
            let req = RemotingCommand::new_request(code, ExtFields::new())
                .with_body(body.to_string().into_bytes());
            let Ok(resp) = self.client.invoke(&addr, req, Duration::from_secs(3)).await else {
                continue;
            };
            if code == RequestCode::UnlockBatchMq {
                continue;
            }
            let ok: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
            let granted: BTreeSet<(String, i32)> = ok
                .get("lockOKMQSet")
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|m| {
                            Some((
                                m.get("topic")?.as_str()?.to_string(),
                                i32::try_from(m.get("queueId")?.as_i64()?).ok()?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            locked.extend(
                qs.into_iter()
                    .filter(|q| granted.contains(&(q.topic.clone(), q.queue_id)))
                    .cloned(),
            );
        }
        locked
    }

    /// Renews the locks of the owned queues (orderly); a queue whose lock went to another
    /// consumer is given up.
    async fn renew_locks(self: &Arc<Self>) {
        if !self.cfg.orderly {
            return;
        }
        let owned: Vec<MessageQueue> = self.owned.lock().keys().cloned().collect();
        let kept: BTreeSet<MessageQueue> = self
            .lock_queues(RequestCode::LockBatchMq, &owned)
            .await
            .into_iter()
            .collect();
        for q in owned.into_iter().filter(|q| !kept.contains(q)) {
            let removed = self.owned.lock().remove(&q);
            if let Some(o) = removed {
                o.stop.store(true, Ordering::Release);
                o.task.abort();
            }
        }
    }

    fn model(&self) -> &'static str {
        if self.cfg.broadcast_offsets.is_some() {
            "BROADCASTING"
        } else {
            "CLUSTERING"
        }
    }

    /// Broadcasting: the positions saved on this machine (empty in clustering mode).
    fn local_offsets(&self) -> BTreeMap<String, i64> {
        self.cfg
            .broadcast_offsets
            .as_ref()
            .and_then(|p| crate::config_file::load(p).ok().flatten())
            .unwrap_or_default()
    }

    /// Takes this consumer's share of every subscribed topic's queues.
    async fn rebalance(self: &Arc<Self>) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let mut wanted = BTreeSet::new();
        for topic in self.subscriptions.keys() {
            let Ok(info) = self.routes.subscribe_info(topic).await else {
                continue;
            };
            self.masters.lock().extend(info.masters.clone());
            let mut queues = info.queues.clone();
            queues.sort();
            if self.cfg.broadcast_offsets.is_some() {
                wanted.extend(queues);
                continue;
            }
            let Some(addr) = info.masters.values().next() else {
                continue;
            };
            let Some(ids) = self.consumer_ids(addr).await else {
                continue;
            };
            wanted.extend(allocate_averagely(&queues, &ids, &self.client_id));
        }
        let (gone, new): (Vec<_>, Vec<_>) = {
            let owned = self.owned.lock();
            let gone = owned
                .keys()
                .filter(|q| !wanted.contains(*q))
                .cloned()
                .collect();
            let new = wanted
                .iter()
                .filter(|q| !owned.contains_key(*q))
                .cloned()
                .collect();
            (gone, new)
        };
        for q in gone {
            let removed = self.owned.lock().remove(&q);
            if let Some(o) = removed {
                o.stop.store(true, Ordering::Release);
                o.task.abort();
                let next = *o.next.lock();
                self.commit(&q, next).await;
                if self.cfg.orderly {
                    self.lock_queues(RequestCode::UnlockBatchMq, std::slice::from_ref(&q))
                        .await;
                }
            }
        }
        // Orderly: only the queues whose broker lock this consumer got.
        let new = if self.cfg.orderly {
            self.lock_queues(RequestCode::LockBatchMq, &new).await
        } else {
            new
        };
        for q in new {
            let start = self.start_offset(&q).await;
            let next = Arc::new(Mutex::new(start));
            let stop = Arc::new(AtomicBool::new(false));
            let moved = Arc::new(Notify::new());
            let task = tokio::spawn(pull_loop(
                self.clone(),
                q.clone(),
                next.clone(),
                stop.clone(),
                moved.clone(),
            ));
            self.owned.lock().insert(
                q,
                Owned {
                    next,
                    committed: start,
                    task,
                    stop,
                    moved,
                },
            );
        }
    }

    /// The committed offset, or the end of the queue for a group new to it (the retry topic:
    /// its start), as CONSUME_FROM_LAST_OFFSET.
    async fn start_offset(&self, q: &MessageQueue) -> i64 {
        let Some(addr) = self.masters.lock().get(&q.broker_name).cloned() else {
            return 0;
        };
        if let Some(o) = self.local_offsets().get(&local_key(q)) {
            return *o;
        }
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("consumerGroup", &self.cfg.group);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        let req = RemotingCommand::new_request(RequestCode::QueryConsumerOffset, ext);
        if let Ok(resp) = self.client.invoke(&addr, req, Duration::from_secs(3)).await {
            if resp.response_code() == ResponseCode::Success {
                if let Ok(Some(o)) = resp.ext_fields.opt_num::<i64>("offset") {
                    return o;
                }
            }
        }
        if q.topic.starts_with("%RETRY%") {
            return 0;
        }
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        let req = RemotingCommand::new_request(RequestCode::GetMaxOffset, ext);
        match self.client.invoke(&addr, req, Duration::from_secs(3)).await {
            Ok(resp) => resp
                .ext_fields
                .opt_num("offset")
                .ok()
                .flatten()
                .unwrap_or(0),
            Err(_) => 0,
        }
    }

    async fn commit(&self, q: &MessageQueue, offset: i64) {
        if let Some(path) = self.cfg.broadcast_offsets.clone() {
            let mut all = self.local_offsets();
            all.insert(local_key(q), offset);
            let text = serde_json::to_string_pretty(&all).unwrap_or_default();
            // An fsynced write: not on the runtime's threads.
            let saved = tokio::task::spawn_blocking(move || {
                crate::config_file::write_atomic(&path, &text)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "offsets not saved"),
                Err(e) => tracing::warn!(error = %e, "offset save task failed"),
            }
            return;
        }
        let Some(addr) = self.masters.lock().get(&q.broker_name).cloned() else {
            return;
        };
        let mut ext = ExtFields::with_capacity(4);
        ext.insert("consumerGroup", &self.cfg.group);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        ext.insert_display("commitOffset", offset);
        let req = RemotingCommand::new_request(RequestCode::UpdateConsumerOffset, ext);
        if let Err(e) = self.client.invoke(&addr, req, Duration::from_secs(3)).await {
            tracing::warn!(queue = ?q, error = %e, "offset commit failed");
        }
    }

    async fn commit_all(&self) {
        let dirty: Vec<(MessageQueue, i64)> = {
            let mut owned = self.owned.lock();
            owned
                .iter_mut()
                .filter_map(|(q, o)| {
                    let next = *o.next.lock();
                    (next != o.committed).then(|| {
                        o.committed = next;
                        (q.clone(), next)
                    })
                })
                .collect()
        };
        for (q, next) in dirty {
            self.commit(&q, next).await;
        }
    }

    /// Orderly poison message: straight to the DLQ (send-back with delay level -1).
    async fn send_to_dlq(&self, m: &ReceivedMessage, physical_offset: i64) -> bool {
        self.send_back_at(m, physical_offset, -1).await
    }

    /// CONSUMER_SEND_MSG_BACK: the broker redelivers it through the retry topic (or the DLQ).
    async fn send_back(&self, m: &ReceivedMessage, physical_offset: i64) -> bool {
        self.send_back_at(m, physical_offset, 0).await
    }

    async fn send_back_at(&self, m: &ReceivedMessage, physical_offset: i64, level: i32) -> bool {
        let Some(addr) = self.masters.lock().get(&m.queue.broker_name).cloned() else {
            return false;
        };
        let mut ext = ExtFields::with_capacity(6);
        ext.insert_display("offset", physical_offset);
        ext.insert("group", &self.cfg.group);
        ext.insert_display("delayLevel", level);
        ext.insert("originMsgId", &m.msg_id);
        ext.insert(
            "originTopic",
            m.properties.get("RETRY_TOPIC").unwrap_or(&m.queue.topic),
        );
        ext.insert_display("maxReconsumeTimes", self.cfg.max_reconsume_times);
        let req = RemotingCommand::new_request(RequestCode::ConsumerSendMsgBack, ext);
        matches!(self.client.invoke(&addr, req, Duration::from_secs(3)).await,
            Ok(r) if r.response_code() == ResponseCode::Success)
    }
}

/// A queue's key in the broadcasting offset file.
fn local_key(q: &MessageQueue) -> String {
    format!("{}@{}@{}", q.topic, q.broker_name, q.queue_id)
}

/// RocketMQ's AllocateMessageQueueAveragely: contiguous shares, the first `n % ids` consumers
/// one queue more.
pub fn allocate_averagely(queues: &[MessageQueue], ids: &[String], me: &str) -> Vec<MessageQueue> {
    let Some(index) = ids.iter().position(|i| i == me) else {
        return Vec::new();
    };
    let (n, c) = (queues.len(), ids.len());
    if n == 0 {
        return Vec::new();
    }
    let rem = n % c;
    let average = if n <= c {
        1
    } else if rem > 0 && index < rem {
        n / c + 1
    } else {
        n / c
    };
    let start = if rem > 0 && index < rem {
        index * average
    } else {
        index * average + rem
    };
    let range = average.min(n.saturating_sub(start));
    (0..range)
        .filter_map(|i| queues.get((start + i) % n).cloned())
        .collect()
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
            _ = commit.tick() => inner.commit_all().await,
        }
    }
}

/// Long-polls one queue and hands each batch to the handler, the batch finished before the
/// next pull (the committed offset never passes an unhandled message).
async fn pull_loop(
    inner: Arc<Inner>,
    q: MessageQueue,
    next: Arc<Mutex<i64>>,
    stop: Arc<AtomicBool>,
    moved: Arc<Notify>,
) {
    let expr = inner
        .subscriptions
        .get(&q.topic)
        .cloned()
        .unwrap_or_else(|| "*".into());
    while !stop.load(Ordering::Acquire) {
        let Some(addr) = inner.masters.lock().get(&q.broker_name).cloned() else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let offset = *next.lock();
        let mut ext = ExtFields::with_capacity(10);
        ext.insert("consumerGroup", &inner.cfg.group);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        ext.insert_display("queueOffset", offset);
        ext.insert("maxMsgNums", "32");
        // Broadcasting keeps offsets here: the pull must not commit one on the broker.
        let flags = if inner.cfg.broadcast_offsets.is_some() {
            PULL_FLAGS & !0x1
        } else {
            PULL_FLAGS
        };
        ext.insert_display("sysFlag", flags);
        ext.insert_display("commitOffset", offset);
        ext.insert_display("suspendTimeoutMillis", SUSPEND_MS);
        ext.insert("subscription", &expr);
        ext.insert("subVersion", "0");
        let req = RemotingCommand::new_request(RequestCode::PullMessage, ext);
        let pull = inner
            .client
            .invoke(&addr, req, Duration::from_millis(SUSPEND_MS + 5_000));
        let resp = tokio::select! {
            r = pull => match r {
                Ok(r) => r,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            // An offset reset: pull again from the new position at once.
            _ = moved.notified() => continue,
        };
        let new_next: Option<i64> = resp.ext_fields.opt_num("nextBeginOffset").ok().flatten();
        if resp.response_code() == ResponseCode::Success {
            let Ok(batch) = decode(&q, &resp.body) else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let offsets = physical_offsets(&resp.body);
            if inner.cfg.orderly {
                for (m, physical) in batch.into_iter().zip(offsets) {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    consume_in_order(&inner, m, physical).await;
                }
                if let Some(n) = new_next {
                    let mut next = next.lock();
                    if *next == offset {
                        *next = n;
                    }
                }
                continue;
            }
            let mut running = Vec::with_capacity(batch.len());
            for (m, physical) in batch.into_iter().zip(offsets) {
                let Ok(permit) = inner.permits.clone().acquire_owned().await else {
                    return;
                };
                let inner = inner.clone();
                running.push(tokio::spawn(async move {
                    let result = (inner.handler)(m.clone()).await;
                    if result == ConsumeResult::ReconsumeLater
                        && inner.cfg.broadcast_offsets.is_none()
                        && !inner.send_back(&m, physical).await
                    {
                        // The broker did not take it back: handle it again here, once.
                        let _ = (inner.handler)(m).await;
                    }
                    drop(permit);
                }));
            }
            for r in running {
                let _ = r.await;
            }
        } else if !matches!(
            resp.response_code(),
            ResponseCode::PullNotFound
                | ResponseCode::PullRetryImmediately
                | ResponseCode::PullOffsetMoved
        ) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if let Some(n) = new_next {
            let mut next = next.lock();
            // Unless an offset reset moved the queue while this pull was out.
            if *next == offset {
                *next = n;
            }
        }
    }
}

/// Orderly: the handler is asked again (after a pause) until it accepts the message or has
/// refused it `max_reconsume_times` times; then the message goes to the group's DLQ and the
/// queue moves on.
async fn consume_in_order(inner: &Arc<Inner>, mut m: ReceivedMessage, physical: i64) {
    let Ok(_permit) = inner.permits.acquire().await else {
        return;
    };
    let mut refused = 0;
    loop {
        if (inner.handler)(m.clone()).await == ConsumeResult::Success {
            return;
        }
        refused += 1;
        if refused > inner.cfg.max_reconsume_times {
            if !inner.send_to_dlq(&m, physical).await {
                tracing::error!(msg = %m.msg_id, "poison message not moved to the DLQ; skipped");
            }
            return;
        }
        m.reconsume_times += 1;
        tokio::time::sleep(ORDERLY_RETRY_PAUSE).await;
    }
}

fn physical_offsets(body: &bytes::Bytes) -> Vec<i64> {
    ferrumq_store::message::decode_records(body)
        .map(|rs| rs.iter().map(|r| r.physical_offset).collect())
        .unwrap_or_default()
}
