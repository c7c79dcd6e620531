//! The producer: SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE to the master of a queue chosen in
//! turn; a send that fails is retried on another broker, and a broker that failed or answered
//! slowly is passed over for a while (RocketMQ's latency fault tolerance, `fault`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::ClientError;
use super::fault::LatencyFaults;
use super::message::{Message, MessageQueue, SendResult, SendStatus};
use super::msg_id::new_id;
use super::route::{PublishInfo, RouteCache};
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode, SendMessageRequestHeader};
use crate::remoting::{ClientConfig, RemotingClient};
use bytes::{BufMut, BytesMut};

/// sysFlag bit of a zlib-compressed body.
pub(crate) const SYSFLAG_COMPRESSED: i32 = 0x1;

/// The body zlib-compressed when it is over `threshold` and compression pays.
fn compress(body: &bytes::Bytes, threshold: usize) -> Option<bytes::Bytes> {
    use std::io::Write;
    if body.len() <= threshold {
        return None;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(5));
    z.write_all(body).ok()?;
    let out = z.finish().ok()?;
    (out.len() < body.len()).then(|| bytes::Bytes::from(out))
}

/// Builds a [`Producer`].
#[derive(Debug, Clone)]
pub struct ProducerBuilder {
    namesrv: Vec<String>,
    group: String,
    send_timeout: Duration,
    retries: u32,
    max_message_size: usize,
    new_topic_queues: i32,
    compress_over: usize,
}

impl ProducerBuilder {
    /// Bodies larger than this are sent zlib-compressed (sysFlag 0x1), as RocketMQ's
    /// `compressMsgBodyOverHowmuch` (default 4 KiB); consumers inflate them.
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.compress_over = bytes;
        self
    }

    /// The producer group (RocketMQ's `producerGroup`; transactions are checked by group).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Time allowed for each attempt of a send (default 3 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Further attempts on another broker after a failed send (default 2).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Largest body accepted (default 4 MiB, the broker's default).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Queues per broker for a topic the first send creates (default 4).
    pub fn default_topic_queue_nums(mut self, queues: i32) -> Self {
        self.new_topic_queues = queues;
        self
    }

    /// The producer; fails on an unusable configuration (no NameServer, empty group).
    pub fn build(self) -> Result<Producer, ClientError> {
        self.build_with(ClientConfig::default())
    }

    /// A producer whose connections take broker requests with `config.push_handler`.
    pub(crate) fn build_with(self, config: ClientConfig) -> Result<Producer, ClientError> {
        if self.namesrv.is_empty() {
            return Err(ClientError::Config("no NameServer address".into()));
        }
        if self.group.trim().is_empty() {
            return Err(ClientError::Config("the producer group is empty".into()));
        }
        let client = RemotingClient::new(config);
        let routes = RouteCache::new(
            self.namesrv.clone(),
            client.clone(),
            self.send_timeout,
            self.new_topic_queues.max(1),
        );
        Ok(Producer {
            inner: Arc::new(Inner {
                cfg: self,
                client,
                routes,
                // A random first queue, as RocketMQ: short-lived producers (a CLI, a cron
                // job) do not all start on the same one.
                turn: AtomicUsize::new(random_start()),
                faults: LatencyFaults::default(),
            }),
        })
    }
}

/// Sends messages; cheap to clone, share it between tasks.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ProducerBuilder,
    client: RemotingClient,
    routes: RouteCache,
    turn: AtomicUsize,
    faults: LatencyFaults,
}

fn random_start() -> usize {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos as usize ^ std::process::id() as usize).wrapping_mul(0x9E37_79B9)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Failures worth another broker: no answer, or an answer saying this broker cannot take it
/// now (what RocketMQ's producer retries on).
fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Remoting(_) => true,
        ClientError::Broker { code, .. } => matches!(
            code,
            ResponseCode::SystemError
                | ResponseCode::SystemBusy
                | ResponseCode::ServiceNotAvailable
                | ResponseCode::NoPermission
                | ResponseCode::TopicNotExist
        ),
        _ => false,
    }
}

impl Producer {
    /// A builder; `namesrv` is one address or several separated by `;` (as NAMESRV_ADDR).
    pub fn builder(namesrv: &str) -> ProducerBuilder {
        ProducerBuilder {
            namesrv: super::namesrv_list(namesrv),
            group: "DEFAULT_PRODUCER".into(),
            send_timeout: Duration::from_secs(3),
            retries: 2,
            max_message_size: 4 * 1024 * 1024,
            new_topic_queues: 4,
            compress_over: 4 * 1024,
        }
    }

    /// Sends and waits for the broker's answer; retried on another broker on failure.
    pub async fn send(&self, msg: Message) -> Result<SendResult, ClientError> {
        self.send_with_flags(msg, 0).await
    }

    /// `send` with a sysFlag (0x4: a transactional half message).
    pub(crate) async fn send_with_flags(
        &self,
        msg: Message,
        sys_flag: i32,
    ) -> Result<SendResult, ClientError> {
        msg.validate(self.inner.cfg.max_message_size)
            .map_err(ClientError::InvalidMessage)?;
        let uniq = new_id();
        let properties = msg.encode_properties(&uniq);
        let (body, sys_flag) = match compress(&msg.body, self.inner.cfg.compress_over) {
            Some(z) => (z, sys_flag | SYSFLAG_COMPRESSED),
            None => (msg.body.clone(), sys_flag),
        };
        let request = |queue: &MessageQueue| {
            let mut header = self.header(&msg, queue, &properties, false);
            header.sys_flag = sys_flag;
            RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
                .with_body(body.clone())
        };
        self.with_retries(&msg.topic, &uniq, request).await
    }

    pub(crate) fn group(&self) -> &str {
        &self.inner.cfg.group
    }

    pub(crate) fn client(&self) -> &RemotingClient {
        &self.inner.client
    }

    /// The master address of a broker a topic was sent to.
    pub(crate) async fn master_of(&self, topic: &str, broker: &str) -> Option<String> {
        let info = self.inner.routes.publish_info(topic).await.ok()?;
        info.masters.get(broker).cloned()
    }

    /// Sends without waiting for an answer (no retry, no result).
    pub async fn send_oneway(&self, msg: Message) -> Result<(), ClientError> {
        msg.validate(self.inner.cfg.max_message_size)
            .map_err(ClientError::InvalidMessage)?;
        let uniq = new_id();
        let properties = msg.encode_properties(&uniq);
        let info = self.inner.routes.publish_info(&msg.topic).await?;
        let queue = self.pick(&info, None)?;
        let header = self.header(&msg, queue, &properties, false);
        let req = RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
            .with_body(msg.body.clone());
        let addr = master(&info, queue)?;
        self.inner.client.invoke_oneway(addr, req).await?;
        Ok(())
    }

    /// Sends to one queue (no failover: the caller chose the queue).
    pub async fn send_to_queue(
        &self,
        msg: Message,
        queue: &MessageQueue,
    ) -> Result<SendResult, ClientError> {
        msg.validate(self.inner.cfg.max_message_size)
            .map_err(ClientError::InvalidMessage)?;
        if queue.topic != msg.topic {
            return Err(ClientError::InvalidMessage(format!(
                "queue of topic {} for a message of topic {}",
                queue.topic, msg.topic
            )));
        }
        let uniq = new_id();
        let properties = msg.encode_properties(&uniq);
        let info = self.inner.routes.publish_info(&msg.topic).await?;
        let header = self.header(&msg, queue, &properties, false);
        let req = RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
            .with_body(msg.body.clone());
        let result = self.attempt(&info, queue, req, &uniq).await;
        if result.is_err() {
            self.inner.routes.invalidate(&msg.topic);
        }
        result
    }

    /// Sends to the queue `key` maps to (RocketMQ's hash selector): every message with the
    /// same key goes to the same queue, in order, as long as the topic's queues stay the same.
    pub async fn send_orderly(&self, msg: Message, key: &str) -> Result<SendResult, ClientError> {
        let info = self.inner.routes.publish_info(&msg.topic).await?;
        if info.queues.is_empty() {
            return Err(ClientError::NoRoute(msg.topic.clone()));
        }
        let hash = ferrumq_store::java_string_hash(key).unsigned_abs() as usize;
        let queue = info
            .queues
            .get(hash % info.queues.len())
            .cloned()
            .ok_or_else(|| ClientError::NoRoute(msg.topic.clone()))?;
        self.send_to_queue(msg, &queue).await
    }

    /// Sends messages of one topic as one batch (SEND_BATCH_MESSAGE): stored together on
    /// one queue. `msg_id` of the result lists the ids, comma-separated.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, ClientError> {
        let first = msgs
            .first()
            .ok_or_else(|| ClientError::InvalidMessage("an empty batch".into()))?;
        let topic = first.topic.clone();
        let mut body = BytesMut::new();
        let mut ids = Vec::with_capacity(msgs.len());
        for m in &msgs {
            m.validate(self.inner.cfg.max_message_size)
                .map_err(ClientError::InvalidMessage)?;
            if m.topic != topic {
                return Err(ClientError::InvalidMessage(
                    "a batch holds messages of one topic".into(),
                ));
            }
            if m.properties.contains_key("DELAY")
                || m.properties.keys().any(|k| k.starts_with("TIMER_"))
            {
                return Err(ClientError::InvalidMessage(
                    "a batch cannot hold delayed or timer messages".into(),
                ));
            }
            let uniq = new_id();
            put_batch_entry(&mut body, m, &m.encode_properties(&uniq));
            ids.push(uniq);
        }
        if body.len() > self.inner.cfg.max_message_size {
            return Err(ClientError::InvalidMessage(format!(
                "the batch is {} bytes, over the limit of {}",
                body.len(),
                self.inner.cfg.max_message_size
            )));
        }
        let body = body.freeze();
        let uniq = ids.join(",");
        let request = |queue: &MessageQueue| {
            let header = self.header(first, queue, "", true);
            RemotingCommand::new_request(RequestCode::SendBatchMessage, header.to_ext(true))
                .with_body(body.clone())
        };
        self.with_retries(&topic, &uniq, request).await
    }

    fn header<'a>(
        &'a self,
        msg: &'a Message,
        queue: &MessageQueue,
        properties: &'a str,
        batch: bool,
    ) -> SendMessageRequestHeader<'a> {
        SendMessageRequestHeader {
            producer_group: &self.inner.cfg.group,
            topic: msg.topic.as_str().into(),
            default_topic_queue_nums: self.inner.cfg.new_topic_queues,
            queue_id: queue.queue_id,
            born_timestamp: Some(now_ms()),
            flag: msg.flag,
            properties,
            batch,
            ..Default::default()
        }
    }

    async fn with_retries(
        &self,
        topic: &str,
        uniq: &str,
        request: impl Fn(&MessageQueue) -> RemotingCommand,
    ) -> Result<SendResult, ClientError> {
        let span = tracing::debug_span!("producer.send", topic, msg_id = uniq);
        tracing::Instrument::instrument(self.retry_loop(topic, uniq, request), span).await
    }

    async fn retry_loop(
        &self,
        topic: &str,
        uniq: &str,
        request: impl Fn(&MessageQueue) -> RemotingCommand,
    ) -> Result<SendResult, ClientError> {
        let mut avoid: Option<String> = None;
        let mut last = None;
        for _ in 0..=self.inner.cfg.retries {
            let info = self.inner.routes.publish_info(topic).await?;
            let queue = self.pick(&info, avoid.as_deref())?;
            let began = Instant::now();
            let result = self.attempt(&info, queue, request(queue), uniq).await;
            let failed = matches!(&result, Err(e) if retryable(e));
            self.inner
                .faults
                .record(&queue.broker_name, began.elapsed(), failed);
            match result {
                Ok(r) => return Ok(r),
                Err(e) if failed => {
                    tracing::debug!(broker = %queue.broker_name, error = %e, "send failed; trying another broker");
                    self.inner.routes.invalidate(topic);
                    avoid = Some(queue.broker_name.clone());
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::NoRoute(topic.to_string())))
    }

    /// The next queue in turn, skipping `avoid` (the broker that just failed this send) and
    /// brokers paused by the fault tolerance while another one is left.
    fn pick<'a>(
        &self,
        info: &'a PublishInfo,
        avoid: Option<&str>,
    ) -> Result<&'a MessageQueue, ClientError> {
        let n = info.queues.len();
        let start = self.inner.turn.fetch_add(1, Ordering::Relaxed);
        let in_turn = || (0..n).filter_map(|i| info.queues.get((start + i) % n));
        let first = in_turn()
            .next()
            .ok_or_else(|| ClientError::NoRoute(String::new()))?;
        if avoid.is_none() && self.inner.faults.none() {
            return Ok(first);
        }
        let others = in_turn()
            .map(|q| q.broker_name.as_str())
            .filter(|b| Some(*b) != avoid);
        let Some(broker) = self.inner.faults.choose(others) else {
            return Ok(first);
        };
        Ok(in_turn().find(|q| q.broker_name == broker).unwrap_or(first))
    }

    async fn attempt(
        &self,
        info: &PublishInfo,
        queue: &MessageQueue,
        req: RemotingCommand,
        uniq: &str,
    ) -> Result<SendResult, ClientError> {
        let addr = master(info, queue)?;
        let resp = self
            .inner
            .client
            .invoke(addr, req, self.inner.cfg.send_timeout)
            .await?;
        let status = match resp.response_code() {
            ResponseCode::Success => SendStatus::SendOk,
            ResponseCode::FlushDiskTimeout => SendStatus::FlushDiskTimeout,
            ResponseCode::FlushSlaveTimeout => SendStatus::FlushSlaveTimeout,
            ResponseCode::SlaveNotAvailable => SendStatus::SlaveNotAvailable,
            code => {
                return Err(ClientError::Broker {
                    what: format!("send to {} ({addr})", queue.broker_name),
                    code,
                    remark: resp.remark.unwrap_or_default(),
                })
            }
        };
        let ext = &resp.ext_fields;
        let queue_id = ext
            .opt_num("queueId")
            .ok()
            .flatten()
            .unwrap_or(queue.queue_id);
        Ok(SendResult {
            status,
            msg_id: uniq.to_string(),
            offset_msg_id: ext.get("msgId").unwrap_or_default().to_string(),
            queue: MessageQueue {
                queue_id,
                ..queue.clone()
            },
            queue_offset: ext.opt_num("queueOffset").ok().flatten().unwrap_or(-1),
        })
    }
}

fn master<'a>(info: &'a PublishInfo, queue: &MessageQueue) -> Result<&'a str, ClientError> {
    info.masters
        .get(&queue.broker_name)
        .map(String::as_str)
        .ok_or_else(|| ClientError::NoRoute(queue.topic.clone()))
}

/// One entry of a batch body (wire doc §5.6).
fn put_batch_entry(buf: &mut BytesMut, m: &Message, properties: &str) {
    let total = 20 + m.body.len() + 2 + properties.len();
    buf.put_i32(total as i32);
    buf.put_i32(0); // magic: clients write 0
    buf.put_i32(0); // body CRC: the broker computes it
    buf.put_i32(m.flag);
    buf.put_i32(m.body.len() as i32);
    buf.put_slice(&m.body);
    buf.put_i16(properties.len() as i16);
    buf.put_slice(properties.as_bytes());
}
