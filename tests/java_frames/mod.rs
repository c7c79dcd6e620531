//! Raw remoting frames as the Java client writes them (fastjson JSON header: `language`
//! "JAVA", a 4.9.x/5.x `version`, `serializeTypeCurrentRPC` "JSON", every extField a string),
//! built by hand rather than with our codec, so the tests see exactly what a Java client puts
//! on the wire. Every reply is checked the way the strictest remoting client (Java 5.x)
//! decodes it before the test looks at it.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `MQVersion.Version.V4_9_8.ordinal()` (wire doc §1.7): what a 4.9.8 client sends.
pub const V4_9_8: i32 = 409;
/// `V5_3_3.ordinal()`: the 5.x client at HEAD.
pub const V5_3_3: i32 = 479;

const WAIT: Duration = Duration::from_secs(10);

/// Request codes the shared helpers send (test files may shadow these names).
pub const SEND_MESSAGE_V2: i32 = 310;
pub const PULL_MESSAGE: i32 = 11;
pub const GET_MAX_OFFSET: i32 = 30;

/// One frame read back: the header as JSON, and the body.
#[derive(Debug)]
pub struct Frame {
    pub header: Value,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn code(&self) -> i64 {
        self.header["code"].as_i64().unwrap_or(-1)
    }

    pub fn remark(&self) -> &str {
        self.header["remark"].as_str().unwrap_or("")
    }

    /// An extField; panics with the whole header when missing (Java's `@CFNotNull`).
    pub fn field(&self, key: &str) -> &str {
        self.header["extFields"][key]
            .as_str()
            .unwrap_or_else(|| panic!("reply lacks extField {key}: {}", self.header))
    }

    pub fn opt_field(&self, key: &str) -> Option<&str> {
        self.header["extFields"][key].as_str()
    }

    pub fn num(&self, key: &str) -> i64 {
        self.field(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number: {}", self.header))
    }

    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not standard JSON ({e}): {:?}", self.body))
    }
}

/// A connection speaking like the Java client (or, with `connect_go`, like
/// rocketmq-client-go: language "GO", `remark` "", no `serializeTypeCurrentRPC`).
pub struct JavaConn {
    stream: TcpStream,
    opaque: i64,
    pub version: i32,
    go: bool,
    /// Requests the server pushed while we waited for a reply (NOTIFY_CONSUMER_IDS_CHANGED…).
    pub pushed: Vec<Frame>,
}

impl JavaConn {
    pub async fn connect(addr: &str, version: i32) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self {
            stream,
            opaque: 0,
            version,
            go: false,
            pushed: Vec::new(),
        }
    }

    /// rocketmq-client-go v2: `_Version = 317`, JSON headers only.
    pub async fn connect_go(addr: &str) -> Self {
        let mut c = Self::connect(addr, 317).await;
        c.go = true;
        c
    }

    fn header(&mut self, code: i32, ext: &[(&str, &str)], oneway: bool) -> Value {
        self.opaque += 1;
        let ext: Map<String, Value> = ext
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let flag = if oneway { 2 } else { 0 };
        if self.go {
            return json!({"code": code, "language": "GO", "version": self.version,
                "opaque": self.opaque, "flag": flag, "remark": "", "extFields": ext});
        }
        json!({"code": code, "extFields": ext, "flag": flag,
            "language": "JAVA", "opaque": self.opaque, "serializeTypeCurrentRPC": "JSON",
            "version": self.version})
    }

    async fn write(&mut self, header: &Value, body: &[u8]) {
        let h = serde_json::to_vec(header).expect("json");
        let mut frame = Vec::with_capacity(8 + h.len() + body.len());
        frame.extend_from_slice(&((4 + h.len() + body.len()) as i32).to_be_bytes());
        frame.extend_from_slice(&(h.len() as i32).to_be_bytes());
        frame.extend_from_slice(&h);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame).await.expect("write");
    }

    /// A request; returns its reply (pushed requests met on the way are kept in `pushed`).
    pub async fn call(&mut self, code: i32, ext: &[(&str, &str)], body: &[u8]) -> Frame {
        let header = self.header(code, ext, false);
        self.write(&header, body).await;
        let opaque = header["opaque"].as_i64();
        loop {
            let f = self.read().await.expect("broker closed the connection");
            if f.header["flag"].as_i64().unwrap_or(0) & 1 == 1
                && f.header["opaque"].as_i64() == opaque
            {
                return f;
            }
            self.pushed.push(f);
        }
    }

    pub async fn oneway(&mut self, code: i32, ext: &[(&str, &str)], body: &[u8]) {
        let header = self.header(code, ext, true);
        self.write(&header, body).await;
    }

    /// Answers a request the server pushed (its opaque, the response flag, a JSON header).
    pub async fn respond(&mut self, request: &Frame, code: i32) {
        let header = json!({"code": code, "extFields": {}, "flag": 1, "language": "JAVA",
            "opaque": request.header["opaque"], "serializeTypeCurrentRPC": "JSON",
            "version": self.version});
        self.write(&header, &[]).await;
    }

    /// Next frame within `WAIT`, None if the connection closed.
    pub async fn read(&mut self) -> Option<Frame> {
        tokio::time::timeout(WAIT, self.read_frame())
            .await
            .expect("a frame within the timeout")
    }

    /// Waits up to `wait` for a server-initiated request with `code`.
    pub async fn expect_push(&mut self, code: i32, wait: Duration) -> Option<Frame> {
        if let Some(i) = self.pushed.iter().position(|f| f.code() == i64::from(code)) {
            return Some(self.pushed.remove(i));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let f = tokio::time::timeout_at(deadline, self.read_frame())
                .await
                .ok()??;
            if f.code() == i64::from(code) && f.header["flag"].as_i64().unwrap_or(0) & 1 == 0 {
                return Some(f);
            }
            self.pushed.push(f);
        }
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.ok()?;
        let len = u32::from_be_bytes(len) as usize;
        let mut data = vec![0u8; len];
        self.stream.read_exact(&mut data).await.ok()?;
        let (mark, rest) = data.split_at(4);
        let mark = u32::from_be_bytes(mark.try_into().expect("4 bytes"));
        assert_eq!(
            mark >> 24,
            0,
            "reply must use the JSON header its request used"
        );
        let (h, body) = rest.split_at((mark & 0xFF_FFFF) as usize);
        let header: Value = serde_json::from_slice(h).expect("header is standard JSON");
        check_strict_header(&header);
        Some(Frame {
            header,
            body: body.to_vec(),
        })
    }
}

/// What Java 5.x's `RemotingCommand` decoding needs (wire doc §10.6): a numeric code, opaque
/// and flag, a known language name, `serializeTypeCurrentRPC`, string-only extFields.
fn check_strict_header(h: &Value) {
    for k in ["code", "opaque", "flag", "version"] {
        assert!(h[k].is_i64(), "header {k} must be a number: {h}");
    }
    // The Go client decodes code and version as int16.
    for k in ["code", "version"] {
        assert!(
            h[k].as_i64().is_some_and(|v| i16::try_from(v).is_ok()),
            "{k} over int16: {h}"
        );
    }
    let lang = h["language"].as_str().unwrap_or_default();
    assert!(
        [
            "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
            "PHP", "OMS", "RUST"
        ]
        .contains(&lang),
        "unknown language in {h}"
    );
    assert_eq!(h["serializeTypeCurrentRPC"], "JSON", "{h}");
    if let Some(ext) = h.get("extFields").filter(|v| !v.is_null()) {
        let ext = ext.as_object().expect("extFields object");
        for (k, v) in ext {
            assert!(v.is_string(), "extField {k} must be a string: {h}");
        }
    }
}

/// A HeartbeatData body as Java's fastjson writes it (enum names, numbers as numbers).
pub fn consumer_heartbeat(client_id: &str, group: &str, subs: &[(&str, &str, i64)]) -> Vec<u8> {
    let subs: Vec<Value> = subs
        .iter()
        .map(|(topic, expr, version)| {
            json!({"classFilterMode": false, "codeSet": [], "expressionType": "TAG",
                "subString": expr, "subVersion": version, "tagsSet": [], "topic": topic})
        })
        .collect();
    serde_json::to_vec(&json!({
        "clientID": client_id,
        "consumerDataSet": [{"consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "consumeType": "CONSUME_PASSIVELY", "groupName": group,
            "messageModel": "CLUSTERING", "subscriptionDataSet": subs, "unitMode": false}],
        "producerDataSet": [{"groupName": "CLIENT_INNER_PRODUCER"}]
    }))
    .expect("json")
}

/// A producer-only heartbeat.
pub fn producer_heartbeat(client_id: &str, group: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"clientID": client_id, "consumerDataSet": [],
        "producerDataSet": [{"groupName": group}, {"groupName": "CLIENT_INNER_PRODUCER"}]}))
    .expect("json")
}

/// PullMessageRequestHeader as the Java consumers fill it: `subscription` ("*") only with
/// sysFlag bit 2, as `postSubscriptionWhenPull=false` push consumers leave it null.
pub fn pull_fields(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
    sub_version: i64,
) -> Vec<(String, String)> {
    [
        ("consumerGroup", group.to_string()),
        ("topic", topic.to_string()),
        ("queueId", queue_id.to_string()),
        ("queueOffset", offset.to_string()),
        ("maxMsgNums", "32".to_string()),
        ("sysFlag", sys_flag.to_string()),
        ("commitOffset", "0".to_string()),
        ("suspendTimeoutMillis", "1000".to_string()),
        ("subscription", "*".to_string()),
        ("subVersion", sub_version.to_string()),
        ("expressionType", "TAG".to_string()),
    ]
    .into_iter()
    .filter(|(k, _)| sys_flag & 0x4 != 0 || *k != "subscription")
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Borrowed view of owned pairs, for `call`.
pub fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// SendMessageRequestHeaderV2 (one-letter names) as `DefaultMQProducerImpl` fills it, with
/// the 4.9.8+ broker name `n`.
pub fn send_v2_fields(
    topic: &str,
    queue_id: i32,
    properties: &str,
    batch: bool,
) -> Vec<(String, String)> {
    let born = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    [
        ("a", "java_pg".to_string()),
        ("b", topic.to_string()),
        ("c", "TBW102".to_string()),
        ("d", "4".to_string()),
        ("e", queue_id.to_string()),
        ("f", "0".to_string()),
        ("g", born.to_string()),
        ("h", "0".to_string()),
        ("i", properties.to_string()),
        ("j", "0".to_string()),
        ("k", "false".to_string()),
        ("m", batch.to_string()),
        ("n", "broker-t".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Java's properties string: `k\u0001v\u0002` pairs.
pub fn java_props(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
        .collect()
}

/// A MessageBatch body as `MessageDecoder.encodeMessages` writes it (wire doc §5.6).
pub fn java_batch(messages: &[(&[u8], String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (body, props) in messages {
        let total = 4 + 4 + 4 + 4 + 4 + body.len() + 2 + props.len();
        out.extend_from_slice(&(total as i32).to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes()); // MAGICCODE: unused
        out.extend_from_slice(&0i32.to_be_bytes()); // BODYCRC: unused
        out.extend_from_slice(&0i32.to_be_bytes()); // FLAG
        out.extend_from_slice(&(body.len() as i32).to_be_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&(props.len() as i16).to_be_bytes());
        out.extend_from_slice(props.as_bytes());
    }
    out
}

/// Decodes the records of a pull body: (queue offset, properties text, body) of each.
pub fn records(body: &[u8]) -> Vec<(i64, String, Vec<u8>)> {
    let msgs = ferrumq_store::message::decode_records(body).expect("pull body decodes");
    msgs.into_iter()
        .map(|m| (m.queue_offset, m.properties.to_string(), m.body.to_vec()))
        .collect()
}

pub async fn send_v2(conn: &mut JavaConn, topic: &str, props: &str, body: &[u8]) -> Frame {
    let f = send_v2_fields(topic, -1, props, false);
    conn.call(SEND_MESSAGE_V2, &pairs(&f), body).await
}

/// Pulls queue `q` of `topic` from `offset` with the subscription in the pull.
pub async fn pull_all(
    conn: &mut JavaConn,
    topic: &str,
    q: i32,
    offset: i64,
) -> Vec<(i64, String, Vec<u8>)> {
    let f = pull_fields("jpull", topic, q, offset, 0x4, 0);
    let r = conn.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 0, "pull {topic}/{q}: {}", r.remark());
    records(&r.body)
}

/// Waits until queue `q` of `topic` holds `n` entries (the dispatcher runs behind the append).
pub async fn wait_max(conn: &mut JavaConn, topic: &str, q: i32, n: i64) {
    let qs = q.to_string();
    for _ in 0..500 {
        let r = conn
            .call(GET_MAX_OFFSET, &[("topic", topic), ("queueId", &qs)], &[])
            .await;
        if r.code() == 0 && r.num("offset") >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{topic}/{q} never reached {n}");
}
