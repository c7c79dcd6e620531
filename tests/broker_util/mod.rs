//! Shared by the broker integration tests: an in-process NameServer and broker on
//! ephemeral ports, and helpers that speak to them over TCP like the C++ client does.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrumq::broker::{start_broker, BrokerConfig, BrokerHandle};
use ferrumq::client::{ConsumeResult, PushConsumer, ReceivedMessage};
use ferrumq::namesrv::{start_namesrv, NamesrvConfig, NamesrvHandle};
use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Cluster {
    pub namesrv: NamesrvHandle,
    pub broker: Option<BrokerHandle>,
    pub dir: tempfile::TempDir,
    pub client: RemotingClient,
    pub tweak: fn(&mut BrokerConfig),
}

fn no_tweak(_: &mut BrokerConfig) {}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(no_tweak).await
    }

    /// NameServer + broker; `tweak` adjusts the broker config (kept for restarts).
    pub async fn start_with(tweak: fn(&mut BrokerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns_cfg = NamesrvConfig {
            listen_port: 0,
            bind_address: "127.0.0.1".parse().expect("ip"),
            kv_config_path: dir.path().join("namesrv/kvConfig.json"),
            config_store_path: dir.path().join("namesrv/namesrv.properties"),
            ..Default::default()
        };
        let namesrv = start_namesrv(ns_cfg).await.expect("namesrv");
        let mut c = Cluster {
            namesrv,
            broker: None,
            dir,
            client: RemotingClient::new(ClientConfig::default()),
            tweak,
        };
        c.start_broker().await;
        c
    }

    pub fn broker_config(&self) -> BrokerConfig {
        let mut cfg = BrokerConfig {
            broker_cluster_name: "TestCluster".into(),
            broker_name: "broker-t".into(),
            broker_ip1: "127.0.0.1".into(),
            listen_port: 0,
            namesrv_addr: vec![self.namesrv_addr()],
            ..Default::default()
        };
        cfg.store.store_path_root_dir = self.dir.path().join("store");
        cfg.store.mapped_file_size_commit_log = 8 * 1024 * 1024;
        cfg.store.mapped_file_size_consume_queue_entries = 10_000;
        cfg.store.max_hash_slot_num = 1_000;
        cfg.store.max_index_num = 4_000;
        (self.tweak)(&mut cfg);
        cfg
    }

    pub async fn start_broker(&mut self) {
        let b = start_broker(self.broker_config())
            .await
            .expect("broker start");
        self.broker = Some(b);
    }

    /// Clean shutdown, then a new broker on the same store (new port).
    pub async fn restart_broker(&mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        self.start_broker().await;
    }

    /// Like `restart_broker`, with a further config change that may capture state (the
    /// start tweak is a plain fn).
    pub async fn restart_broker_with(&mut self, extra: impl FnOnce(&mut BrokerConfig)) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        let mut cfg = self.broker_config();
        extra(&mut cfg);
        self.broker = Some(start_broker(cfg).await.expect("broker start"));
    }

    pub fn namesrv_addr(&self) -> String {
        format!("127.0.0.1:{}", self.namesrv.local_addr().port())
    }

    pub fn addr(&self) -> String {
        self.broker
            .as_ref()
            .expect("broker running")
            .local_addr()
            .to_string()
    }

    pub async fn call(&self, req: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.addr(), req, TIMEOUT)
            .await
            .expect("broker answered")
    }

    pub async fn call_namesrv(&self, req: RemotingCommand) -> RemotingCommand {
        self.client
            .invoke(&self.namesrv_addr(), req, TIMEOUT)
            .await
            .expect("namesrv answered")
    }

    pub async fn send(&self, topic: &str, tags: &str, body: &[u8]) -> RemotingCommand {
        self.send_to(topic, -1, tags, body).await
    }

    /// Sends and, on success, waits until the message is dispatched to its consume queue
    /// (the dispatcher runs behind the append), so a pull right after sees it.
    pub async fn send_to(
        &self,
        topic: &str,
        queue_id: i32,
        tags: &str,
        body: &[u8],
    ) -> RemotingCommand {
        let r = self
            .call(send_request(
                topic,
                queue_id,
                &props(&[("TAGS", tags)]),
                body.to_vec(),
                false,
            ))
            .await;
        if r.code == 0 {
            let q: i32 = field(&r, "queueId").parse().expect("queueId");
            let n = field_i64(&r, "queueOffset") + field(&r, "msgId").split(',').count() as i64;
            self.wait_dispatched(topic, q, n).await;
        }
        r
    }

    /// Waits (bounded) until the queue's max offset reaches `n`.
    pub async fn wait_dispatched(&self, topic: &str, queue_id: i32, n: i64) {
        let q = queue_id.to_string();
        for _ in 0..500 {
            let r = self
                .call(request(
                    RequestCode::GetMaxOffset,
                    &[("topic", topic), ("queueId", &q)],
                ))
                .await;
            if r.code == 0 && field_i64(&r, "offset") >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{topic}/{queue_id} never reached offset {n}");
    }

    /// Waits (bounded) until the broker holds `n` suspended pulls (runtime info
    /// `pullSuspendedCount`): an event to wait on instead of a guessed sleep.
    pub async fn wait_suspended(&self, n: usize) {
        for _ in 0..500 {
            let r = self
                .call(request(RequestCode::GetBrokerRuntimeInfo, &[]))
                .await;
            let kv: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let held = kv["table"]["pullSuspendedCount"]
                .as_str()
                .and_then(|v| v.parse::<usize>().ok());
            if held == Some(n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the broker never held {n} suspended pulls");
    }

    /// Whether the NameServer has a route for `topic`.
    pub async fn route_exists(&self, topic: &str) -> bool {
        let req = request(RequestCode::GetRouteinfoByTopic, &[("topic", topic)]);
        self.call_namesrv(req).await.code == 0
    }

    pub async fn shutdown(mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        self.namesrv.shutdown().await;
    }
}

/// A request with C++-style extFields (ACL placeholders included).
pub fn request(code: RequestCode, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut ext: ExtFields = fields.iter().copied().collect();
    for k in ["AccessKey", "Signature", "OnsChannel"] {
        ext.insert(k, "");
    }
    RemotingCommand::new_request(code, ext)
}

/// RocketMQ properties text.
pub fn props(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
        .collect()
}

/// SEND_MESSAGE (10) the way C++ 1.2 sends it: long names, batch "0"/"1".
pub fn send_request(
    topic: &str,
    queue_id: i32,
    properties: &str,
    body: Vec<u8>,
    batch: bool,
) -> RemotingCommand {
    let q = queue_id.to_string();
    let born = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        .to_string();
    request(
        RequestCode::SendMessage,
        &[
            ("producerGroup", "pg"),
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", &q),
            ("sysFlag", "0"),
            ("bornTimestamp", &born),
            ("flag", "0"),
            ("properties", properties),
            ("reconsumeTimes", "0"),
            ("unitMode", "0"),
            ("batch", if batch { "1" } else { "0" }),
        ],
    )
    .with_body(body)
}

/// One batch entry (wire doc §5.6).
pub fn batch_entry(body: &[u8], properties: &str) -> Vec<u8> {
    let total = 20 + body.len() + 2 + properties.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(total as i32).to_be_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&0i32.to_be_bytes());
    v.extend_from_slice(&(body.len() as i32).to_be_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&(properties.len() as i16).to_be_bytes());
    v.extend_from_slice(properties.as_bytes());
    v
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("deflate");
    z.finish().expect("deflate")
}

/// PULL_MESSAGE with the header subscription (sysFlag bit2), as C++ sends it.
pub fn pull_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
    sub: &str,
    suspend_ms: u64,
) -> RemotingCommand {
    request(
        RequestCode::PullMessage,
        &[
            ("consumerGroup", group),
            ("topic", topic),
            ("queueId", &queue_id.to_string()),
            ("queueOffset", &offset.to_string()),
            ("maxMsgNums", "32"),
            ("sysFlag", &sys_flag.to_string()),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", &suspend_ms.to_string()),
            ("subscription", sub),
            ("subVersion", "0"),
        ],
    )
}

pub fn field<'a>(resp: &'a RemotingCommand, key: &str) -> &'a str {
    resp.ext_fields
        .get(key)
        .unwrap_or_else(|| panic!("missing {key} in {resp:?}"))
}

pub fn field_i64(resp: &RemotingCommand, key: &str) -> i64 {
    field(resp, key).parse().expect("number")
}

/// A C++-style heartbeat body: enum ordinals, subVersion as a string, bogus codeSet.
pub fn heartbeat_body(client_id: &str, group: &str, topic: &str, sub: &str) -> Vec<u8> {
    format!(
        r#"{{"clientID":"{client_id}","consumerDataSet":[{{"consumeFromWhere":0,"consumeType":1,"groupName":"{group}","messageModel":1,"subscriptionDataSet":[{{"codeSet":[0],"subString":"{sub}","subVersion":"1700000000000","tagsSet":["{sub}"],"topic":"{topic}"}}]}}]}}"#
    )
    .into_bytes()
}

/// Message bodies a test consumer handled, with how many times each.
pub type Seen = Arc<Mutex<BTreeMap<String, usize>>>;

/// A push-consumer handler that records each body in `seen` and succeeds.
pub fn counting(seen: Seen) -> impl Fn(ReceivedMessage) -> std::future::Ready<ConsumeResult> {
    move |m| {
        let body = String::from_utf8_lossy(&m.body).into_owned();
        *seen.lock().unwrap().entry(body).or_insert(0) += 1;
        std::future::ready(ConsumeResult::Success)
    }
}

/// Polls `ok` every 50 ms; panics naming `what` once `limit` has passed.
pub async fn wait_until_within(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of `topic`'s queues `consumer` is assigned.
pub fn assigned_count(consumer: &PushConsumer, topic: &str) -> usize {
    consumer
        .assigned()
        .iter()
        .filter(|q| q.topic == topic)
        .count()
}
