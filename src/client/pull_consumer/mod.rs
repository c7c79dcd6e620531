//! The pull consumer (RocketMQ's lite pull): the application either picks the queues
//! (`assign`) or joins the group and gets its share (`subscribe`, in `subscribe.rs`), polls
//! batches, moves positions (`seek`, `seek_to_timestamp`) and commits them to the broker,
//! where other consumers of the group and admin tools see them.

mod subscribe;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::error::{decode_records, ClientError};
use super::group::Subscription;
use super::message::MessageQueue;
use super::route::RouteCache;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::PushHandler;
use crate::remoting::{ClientConfig, RemotingClient};

/// Pull flags: the subscription travels in the request (no heartbeat needed).
const FLAG_SUBSCRIPTION: i32 = 0x4;
/// Largest body a compressed message may inflate to.
const MAX_INFLATED: usize = 64 * 1024 * 1024;
/// How long `poll` rests between rounds that found nothing.
const IDLE_PAUSE: Duration = Duration::from_millis(20);

/// A consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message's topic: the one it was sent to, also when it is redelivered through the
    /// group's retry topic (as the Java and C++ clients show it).
    pub topic: String,
    /// The queue it was read from (for a redelivery, a queue of `%RETRY%group`).
    pub queue: MessageQueue,
    /// Its offset in that queue.
    pub queue_offset: i64,
    /// UNIQ_KEY when the producer set one, else the broker's offset id.
    pub msg_id: String,
    /// Where the broker stored it in its CommitLog (RocketMQ's `commitLogOffset`); a
    /// send-back names the message by it.
    pub commit_log_offset: i64,
    /// The body (inflated when the producer compressed it).
    pub body: bytes::Bytes,
    /// User and system properties (`TAGS`, `KEYS`, `UNIQ_KEY`, ...).
    pub properties: BTreeMap<String, String>,
    /// When the producer made it (ms since the epoch).
    pub born_timestamp_ms: i64,
    /// When the broker stored it (ms since the epoch).
    pub store_timestamp_ms: i64,
    /// Deliveries before this one (0 the first time).
    pub reconsume_times: i32,
}

impl ReceivedMessage {
    /// The message's tag, if it has one.
    pub fn tags(&self) -> Option<&str> {
        self.properties.get("TAGS").map(String::as_str)
    }

    /// The message's keys (space-separated in `KEYS`).
    pub fn keys(&self) -> Vec<&str> {
        self.properties
            .get("KEYS")
            .map(|k| k.split(' ').filter(|k| !k.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// Builds a [`PullConsumer`].
#[derive(Debug, Clone)]
pub struct PullConsumerBuilder {
    namesrv: Vec<String>,
    group: String,
    timeout: Duration,
    batch: i32,
}

impl PullConsumerBuilder {
    /// The consumer group whose offsets are read and committed.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Time allowed for each request (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Most messages one pull of one queue returns (default 32, RocketMQ's).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.batch = n.clamp(1, 1024);
        self
    }

    /// The consumer; fails on an unusable configuration (no NameServer, empty group).
    pub fn build(self) -> Result<PullConsumer, ClientError> {
        if self.namesrv.is_empty() {
            return Err(ClientError::Config("no NameServer address".into()));
        }
        if self.group.trim().is_empty() {
            return Err(ClientError::Config("the consumer group is empty".into()));
        }
        let rebalance_now = Arc::new(Notify::new());
        let notify = rebalance_now.clone();
        // A subscribing consumer rebalances at once when the group changes.
        let push_handler: PushHandler = Arc::new(move |req: RemotingCommand| {
            if req.request_code() == RequestCode::NotifyConsumerIdsChanged {
                notify.notify_one();
            }
            None
        });
        let client = RemotingClient::new(ClientConfig {
            push_handler: Some(push_handler),
            ..Default::default()
        });
        let routes = RouteCache::new(self.namesrv.clone(), client.clone(), self.timeout, 4);
        Ok(PullConsumer {
            inner: Arc::new(Inner {
                cfg: self,
                client,
                routes,
                state: Mutex::new(State::default()),
                client_id: super::group::new_client_id(),
                rebalance_now,
                background: Mutex::new(None),
            }),
        })
    }
}

#[derive(Default)]
struct State {
    /// Assigned queue → next offset to read.
    positions: BTreeMap<MessageQueue, i64>,
    /// Subscribe mode: topic → what of it (empty in assign mode).
    subscriptions: BTreeMap<String, Subscription>,
    /// Broker name → master address.
    masters: HashMap<String, String>,
    turn: usize,
}

/// Reads assigned queues; cheap to clone.
#[derive(Clone)]
pub struct PullConsumer {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: PullConsumerBuilder,
    client: RemotingClient,
    routes: RouteCache,
    state: Mutex<State>,
    client_id: String,
    rebalance_now: Arc<Notify>,
    /// Subscribe mode: heartbeats and rebalancing.
    background: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.background.lock().take() {
            task.abort();
        }
    }
}

impl PullConsumer {
    /// A builder; `namesrv` is one address or several separated by `;`.
    pub fn builder(namesrv: &str) -> PullConsumerBuilder {
        PullConsumerBuilder {
            namesrv: super::namesrv_list(namesrv),
            group: "DEFAULT_CONSUMER".into(),
            timeout: Duration::from_secs(3),
            batch: 32,
        }
    }

    /// The readable queues of a topic.
    pub async fn queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        let info = self.inner.routes.subscribe_info(topic).await?;
        self.inner.state.lock().masters.extend(info.masters.clone());
        Ok(info.queues.clone())
    }

    /// Reads these queues from now on, each from the group's committed offset, or from its
    /// first stored message when the group has none.
    pub async fn assign(&self, queues: Vec<MessageQueue>) -> Result<(), ClientError> {
        if !self.inner.state.lock().subscriptions.is_empty() {
            return Err(ClientError::Config(
                "this consumer subscribed: the group assigns its queues".into(),
            ));
        }
        // The brokers' addresses, for queues listed by someone else.
        let topics: std::collections::BTreeSet<&str> =
            queues.iter().map(|q| q.topic.as_str()).collect();
        for topic in topics {
            self.queues(topic).await?;
        }
        let mut positions = BTreeMap::new();
        for q in queues {
            let start = self.start_offset(&q, RequestCode::GetMinOffset).await?;
            positions.insert(q, start);
        }
        self.inner.state.lock().positions = positions;
        Ok(())
    }

    /// Moves a queue's position.
    pub fn seek(&self, queue: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let mut state = self.inner.state.lock();
        match state.positions.get_mut(queue) {
            Some(p) => {
                *p = offset.max(0);
                Ok(())
            }
            None => Err(ClientError::Config(format!("{queue:?} is not assigned"))),
        }
    }

    /// Moves a queue's position to the first message stored at or after `timestamp_ms`.
    pub async fn seek_to_timestamp(
        &self,
        queue: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<(), ClientError> {
        let mut ext = self.queue_fields(queue);
        ext.insert_display("timestamp", timestamp_ms);
        let resp = self
            .call(queue, RequestCode::SearchOffsetByTimestamp, ext)
            .await?;
        let offset = resp
            .ext_fields
            .opt_num("offset")
            .ok()
            .flatten()
            .unwrap_or(0);
        self.seek(queue, offset)
    }

    /// Moves a queue's position to its oldest stored message.
    pub async fn seek_to_begin(&self, queue: &MessageQueue) -> Result<(), ClientError> {
        let offset = self.queue_offset(RequestCode::GetMinOffset, queue).await?;
        self.seek(queue, offset)
    }

    /// Moves a queue's position past its newest message: only what is sent from now on.
    pub async fn seek_to_end(&self, queue: &MessageQueue) -> Result<(), ClientError> {
        let offset = self.queue_offset(RequestCode::GetMaxOffset, queue).await?;
        self.seek(queue, offset)
    }

    /// The queues `poll` reads now (assigned, or this consumer's share of its group).
    pub fn assignment(&self) -> Vec<MessageQueue> {
        self.inner.state.lock().positions.keys().cloned().collect()
    }

    /// The position of a queue (the next offset `poll` reads).
    pub fn position(&self, queue: &MessageQueue) -> Option<i64> {
        self.inner.state.lock().positions.get(queue).copied()
    }

    /// Up to one batch per assigned queue (pulled at once, in parallel), waiting up to
    /// `timeout` for the first message.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ReceivedMessage>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let queues: Vec<(MessageQueue, i64)> = {
                let mut state = self.inner.state.lock();
                state.turn = state.turn.wrapping_add(1);
                let n = state.positions.len().max(1);
                let start = state.turn % n;
                let all: Vec<_> = state
                    .positions
                    .iter()
                    .map(|(q, o)| (q.clone(), *o))
                    .collect();
                all.iter()
                    .cycle()
                    .skip(start)
                    .take(all.len())
                    .cloned()
                    .collect()
            };
            let pulls = queues
                .iter()
                .map(|(queue, offset)| self.pull(queue, *offset));
            let mut out = Vec::new();
            let mut failed = None;
            for batch in futures::future::join_all(pulls).await {
                match batch {
                    Ok(b) => out.extend(b),
                    Err(e) => failed = Some(e),
                }
            }
            // What other queues returned has moved their positions: it must reach the
            // application even when one queue failed.
            match failed {
                Some(e) if out.is_empty() => return Err(e),
                Some(e) => {
                    tracing::warn!(error = %e, "a queue's pull failed; the others' returned")
                }
                None => {}
            }
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            tokio::time::sleep(IDLE_PAUSE.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// Stores every assigned queue's position on its broker as the group's offset.
    pub async fn commit(&self) -> Result<(), ClientError> {
        let positions: Vec<(MessageQueue, i64)> = {
            let state = self.inner.state.lock();
            state
                .positions
                .iter()
                .map(|(q, o)| (q.clone(), *o))
                .collect()
        };
        for (queue, offset) in positions {
            self.commit_one(&queue, offset).await?;
        }
        Ok(())
    }

    async fn commit_one(&self, queue: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let mut ext = self.queue_fields(queue);
        ext.insert("consumerGroup", &self.inner.cfg.group);
        ext.insert_display("commitOffset", offset);
        self.call(queue, RequestCode::UpdateConsumerOffset, ext)
            .await?;
        Ok(())
    }

    async fn pull(
        &self,
        queue: &MessageQueue,
        offset: i64,
    ) -> Result<Vec<ReceivedMessage>, ClientError> {
        let mut ext = self.queue_fields(queue);
        ext.insert("consumerGroup", &self.inner.cfg.group);
        ext.insert_display("queueOffset", offset);
        ext.insert_display("maxMsgNums", self.inner.cfg.batch);
        ext.insert_display("sysFlag", FLAG_SUBSCRIPTION);
        ext.insert("commitOffset", "0");
        ext.insert("suspendTimeoutMillis", "0");
        let sub = self
            .inner
            .state
            .lock()
            .subscriptions
            .get(&queue.topic)
            .cloned();
        let sub = sub.unwrap_or_else(|| Subscription::tags("*"));
        ext.insert("subscription", &sub.expression);
        ext.insert("subVersion", "0");
        ext.insert("expressionType", sub.kind());
        let addr = self.master(queue)?;
        let req = RemotingCommand::new_request(RequestCode::PullMessage, ext);
        let resp = self
            .inner
            .client
            .invoke(&addr, req, self.inner.cfg.timeout)
            .await?;
        let next: Option<i64> = resp.ext_fields.opt_num("nextBeginOffset").ok().flatten();
        let messages = match resp.response_code() {
            ResponseCode::Success => decode(queue, &resp.body)?,
            ResponseCode::PullNotFound
            | ResponseCode::PullRetryImmediately
            | ResponseCode::PullOffsetMoved => Vec::new(),
            code => {
                return Err(ClientError::Broker {
                    what: format!("pull {queue:?} at {offset}"),
                    code,
                    remark: resp.remark.unwrap_or_default(),
                })
            }
        };
        if let Some(next) = next {
            let mut state = self.inner.state.lock();
            if let Some(p) = state.positions.get_mut(queue) {
                // Unless the application sought elsewhere meanwhile.
                if *p == offset {
                    *p = next;
                }
            }
        }
        Ok(messages)
    }

    fn queue_fields(&self, queue: &MessageQueue) -> ExtFields {
        let mut ext = ExtFields::with_capacity(10);
        ext.insert("topic", &queue.topic);
        ext.insert_display("queueId", queue.queue_id);
        ext
    }

    fn master(&self, queue: &MessageQueue) -> Result<String, ClientError> {
        self.inner
            .state
            .lock()
            .masters
            .get(&queue.broker_name)
            .cloned()
            .ok_or_else(|| ClientError::NoRoute(queue.topic.clone()))
    }

    async fn call(
        &self,
        queue: &MessageQueue,
        code: RequestCode,
        ext: ExtFields,
    ) -> Result<RemotingCommand, ClientError> {
        let addr = self.master(queue)?;
        let resp = self
            .inner
            .client
            .invoke(
                &addr,
                RemotingCommand::new_request(code, ext),
                self.inner.cfg.timeout,
            )
            .await?;
        if resp.response_code() != ResponseCode::Success {
            return Err(ClientError::Broker {
                what: format!("{code:?} {queue:?}"),
                code: resp.response_code(),
                remark: resp.remark.unwrap_or_default(),
            });
        }
        Ok(resp)
    }

    /// The group's committed offset, or where `otherwise` (GET_MIN_OFFSET or GET_MAX_OFFSET)
    /// says when it has none.
    async fn start_offset(
        &self,
        queue: &MessageQueue,
        otherwise: RequestCode,
    ) -> Result<i64, ClientError> {
        match self.query_offset(queue).await? {
            Some(o) => Ok(o),
            None => self.queue_offset(otherwise, queue).await,
        }
    }

    async fn query_offset(&self, queue: &MessageQueue) -> Result<Option<i64>, ClientError> {
        let mut ext = self.queue_fields(queue);
        ext.insert("consumerGroup", &self.inner.cfg.group);
        match self
            .call(queue, RequestCode::QueryConsumerOffset, ext)
            .await
        {
            Ok(resp) => Ok(resp.ext_fields.opt_num("offset").ok().flatten()),
            Err(ClientError::Broker {
                code: ResponseCode::QueryNotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn queue_offset(
        &self,
        code: RequestCode,
        queue: &MessageQueue,
    ) -> Result<i64, ClientError> {
        let resp = self.call(queue, code, self.queue_fields(queue)).await?;
        Ok(resp
            .ext_fields
            .opt_num("offset")
            .ok()
            .flatten()
            .unwrap_or(0))
    }
}

pub(crate) fn decode(
    queue: &MessageQueue,
    body: &bytes::Bytes,
) -> Result<Vec<ReceivedMessage>, ClientError> {
    let records = decode_records(body, || format!("records of {queue:?}"))?;
    Ok(records
        .into_iter()
        .map(|r| {
            let properties: BTreeMap<String, String> =
                ferrumq_store::message::iter_properties(r.properties)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            let msg_id = properties
                .get("UNIQ_KEY")
                .cloned()
                .unwrap_or_else(|| ferrumq_store::offset_msg_id(r.store_host, r.physical_offset));
            // A compressed body (sysFlag 0x1) is inflated, bounded by the broker's limit.
            let data = if r.sys_flag & 0x1 != 0 {
                crate::protocol::inflate_bounded(r.body, MAX_INFLATED)
                    .map(bytes::Bytes::from)
                    .unwrap_or_else(|_| body.slice_ref(r.body))
            } else {
                body.slice_ref(r.body)
            };
            let topic = match properties.get("RETRY_TOPIC") {
                Some(t) if queue.topic.starts_with("%RETRY%") => t.clone(),
                _ => queue.topic.clone(),
            };
            ReceivedMessage {
                topic,
                queue: queue.clone(),
                queue_offset: r.queue_offset,
                msg_id,
                commit_log_offset: r.physical_offset,
                body: data,
                properties,
                born_timestamp_ms: r.born_timestamp_ms,
                store_timestamp_ms: r.store_timestamp_ms,
                reconsume_times: r.reconsume_times,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn queue() -> MessageQueue {
        MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: 0,
        }
    }

    proptest! {
        /// A pull body is the broker's bytes: whatever arrives, decoding answers (an error or
        /// messages) and never panics.
        #[test]
        fn any_pull_body_decodes_or_fails_cleanly(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&queue(), &bytes::Bytes::from(body));
        }

        /// The same for a well-formed record (compressed flag set, properties) with one byte
        /// changed and cut short anywhere: every length and flag path is reached.
        #[test]
        fn a_damaged_record_decodes_or_fails_cleanly(cut in 0usize..160, at in 0usize..160, byte in any::<u8>()) {
            let mut record = record();
            let whole = decode(&queue(), &bytes::Bytes::from(record.clone()));
            prop_assert_eq!(whole.map(|m| m.len()).ok(), Some(1));
            if let Some(b) = record.get_mut(at) {
                *b = byte;
            }
            record.truncate(cut.max(1).min(record.len()));
            let _ = decode(&queue(), &bytes::Bytes::from(record));
        }
    }

    /// One stored record as a pull body carries it: sysFlag says compressed (the body is not
    /// zlib, so inflating fails and must fall back), with properties.
    fn record() -> Vec<u8> {
        let (body, topic, props) = (
            b"not zlib".as_slice(),
            b"T".as_slice(),
            "KEYS\u{1}k\u{2}UNIQ_KEY\u{1}AB",
        );
        let mut r = Vec::new();
        r.extend_from_slice(&0i32.to_be_bytes()); // total size, set below
        r.extend_from_slice(&0xDAA3_20A7u32.to_be_bytes());
        r.extend_from_slice(&0u32.to_be_bytes()); // body CRC
        r.extend_from_slice(&0i32.to_be_bytes()); // queue id
        r.extend_from_slice(&0i32.to_be_bytes()); // flag
        r.extend_from_slice(&7i64.to_be_bytes()); // queue offset
        r.extend_from_slice(&4096i64.to_be_bytes()); // physical offset
        r.extend_from_slice(&1i32.to_be_bytes()); // sysFlag: compressed
        r.extend_from_slice(&1i64.to_be_bytes()); // born
        r.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x27, 0x10]);
        r.extend_from_slice(&2i64.to_be_bytes()); // stored
        r.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x2A, 0xF7]);
        r.extend_from_slice(&0i32.to_be_bytes()); // reconsume times
        r.extend_from_slice(&0i64.to_be_bytes()); // prepared transaction offset
        r.extend_from_slice(&(body.len() as i32).to_be_bytes());
        r.extend_from_slice(body);
        r.push(topic.len() as u8);
        r.extend_from_slice(topic);
        r.extend_from_slice(&(props.len() as i16).to_be_bytes());
        r.extend_from_slice(props.as_bytes());
        let total = r.len() as i32;
        r[..4].copy_from_slice(&total.to_be_bytes());
        r
    }
}
