//! The SDK and the official Apache RocketMQ C++ client (rocketmq-client-cpp, through the
//! PyPI `rocketmq` 0.4.4 binding; see tests/interop/) on one FerrumQ broker over TCP:
//! what the SDK producer sends reaches a C++ push consumer intact (tags, keys, properties,
//! body, message id), and an SDK push consumer and a C++ one share a clustering group's
//! queues by RocketMQ's average allocation, together consuming every message once.
//!
//! Needs the C++ client venv (`scripts/cpp-client-venv`); without it the tests print a skip
//! line and pass, unless `FERRUMQ_REQUIRE_INTEROP=1` (CI), which makes them fail.

mod broker_util;
mod interop;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{
    allocate_averagely, Admin, ConsumeResult, Message, MessageQueue, Producer, PushConsumer,
    SendResult,
};
use ferrumq::protocol::RequestCode;
use interop::{python_or_skip, running_info_queues, CppConsumer, CppConsumerArgs};
use serde_json::Value;

/// Deadline for something that should happen (a route, a rebalance, a delivery): only a
/// failure waits this long.
const DEADLINE: Duration = Duration::from_secs(60);

/// Creates `topic` with `queues` queues on the test cluster and waits for its route.
async fn create_topic(c: &Cluster, topic: &str, queues: i32) {
    let admin = Admin::new(&c.namesrv_addr()).unwrap();
    admin
        .create_topic("TestCluster", topic, queues)
        .await
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !c.route_exists(topic).await {
        assert!(Instant::now() < deadline, "no route for {topic}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Message `i`'s body: no NUL byte (the Python binding reads bodies as C strings), invalid
/// UTF-8 in places, and every 10th one 8 KiB, over the SDK's 4 KiB compression threshold.
fn body(i: usize) -> Vec<u8> {
    let len = if i % 10 == 7 { 8192 } else { 10 + i * 3 };
    let mut b = format!("body-{i}-").into_bytes();
    b.extend((0..len).map(|k| (1 + (i * 31 + k * 7) % 255) as u8));
    b
}

/// Two tags, alternating.
fn tag(i: usize) -> &'static str {
    ["TagA", "TagB"][i % 2]
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// What a C++ consumer must report for SDK message `i`, sent as `sent`.
fn check_delivery(i: usize, got: &Value, sent: &SendResult, topic: &str) {
    assert_eq!(s(&got["topic"]), topic, "#{i}: {got}");
    assert_eq!(s(&got["tags"]), tag(i), "#{i}: {got}");
    assert_eq!(s(&got["keys"]), format!("订单-{i} key-{i}"), "#{i}: {got}");
    assert_eq!(s(&got["props"]["idx"]), i.to_string(), "#{i}: {got}");
    assert_eq!(s(&got["props"]["城市"]), format!("北京-{i}"), "#{i}: {got}");
    assert_eq!(s(&got["props"]["note"]), "a b=c;d:e", "#{i}: {got}");
    assert_eq!(s(&got["body_hex"]), hex(&body(i)), "#{i}: body differs");
    assert_eq!(s(&got["uniq_key"]), sent.msg_id, "#{i}: UNIQ_KEY");
    assert_eq!(got["queue_id"], sent.queue.queue_id, "#{i}: {got}");
    assert_eq!(got["queue_offset"], sent.queue_offset, "#{i}: {got}");
    assert_eq!(got["reconsume_times"], 0, "#{i}: {got}");
}

/// Waits until `missing()` (indices of messages not yet delivered) is empty; fails naming
/// them if the deadline passes first.
async fn wait_all(what: &str, cpp: &CppConsumer, mut missing: impl FnMut() -> Vec<usize>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = missing();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} never delivered: {left:?}{}",
            left.len(),
            cpp.diag()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends messages 0..n with two tags, UTF-8 keys, user properties and binary bodies.
async fn send_described(p: &Producer, topic: &str, n: usize) -> BTreeMap<usize, SendResult> {
    let mut sent = BTreeMap::new();
    for i in 0..n {
        let m = Message::new(topic, body(i))
            .with_tags(tag(i))
            .with_keys([format!("订单-{i}"), format!("key-{i}")])
            .with_property("idx", i.to_string())
            .with_property("城市", format!("北京-{i}"))
            .with_property("note", "a b=c;d:e");
        sent.insert(i, p.send(m).await.unwrap());
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_producer_to_cpp_push_consumer() {
    let Some(python) = python_or_skip("sdk_producer_to_cpp_push_consumer") else {
        return;
    };
    let c = Cluster::start().await;
    let (topic, group, n) = ("InteropToCpp", "cpp-interop-a", 50);
    create_topic(&c, topic, 8).await;
    let ns = c.namesrv_addr();
    let args = CppConsumerArgs {
        namesrv: &ns,
        group,
        topic,
        props: &["idx", "城市", "note"],
        expect: Some(n),
    };
    let cpp = CppConsumer::start(&python, args).await;
    // Its queues are all assigned (and their offsets known) before anything is sent.
    wait_cpp_queues(&c, &cpp, group, topic, &(0..8).collect()).await;

    let p = Producer::builder(&ns)
        .group("sdk-interop-pg")
        .build()
        .unwrap();
    let sent = send_described(&p, topic, n).await;
    let by_id: BTreeMap<&str, usize> = sent.iter().map(|(i, r)| (r.msg_id.as_str(), *i)).collect();
    assert_eq!(by_id.len(), n, "the SDK returned duplicate message ids");
    wait_all("SDK to C++", &cpp, || {
        let ids: BTreeSet<String> = cpp.messages().iter().map(|m| s(&m["id"]).into()).collect();
        let missing = sent.iter().filter(|(_, r)| !ids.contains(&r.msg_id));
        missing.map(|(i, _)| *i).collect()
    })
    .await;
    // It stops by itself a moment after the 50th delivery (a duplicate would still show).
    let got = cpp.finished().await;
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for m in &got {
        let i = *by_id
            .get(s(&m["id"]))
            .unwrap_or_else(|| panic!("a message id the SDK never returned: {m}"));
        *seen.entry(i).or_default() += 1;
        check_delivery(i, m, &sent[&i], topic);
    }
    let twice: Vec<usize> = seen
        .iter()
        .filter(|(_, k)| **k > 1)
        .map(|(i, _)| *i)
        .collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(got.len(), n);
    c.shutdown().await;
}

/// The group's consumer ids, as the broker lists them (empty before any heartbeat).
async fn consumer_ids(c: &Cluster, group: &str) -> Vec<String> {
    let r = c
        .call(request(
            RequestCode::GetConsumerListByGroup,
            &[("consumerGroup", group)],
        ))
        .await;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let mut ids: Vec<String> = v["consumerIdList"]
        .as_array()
        .map(|a| a.iter().map(|i| s(i).to_string()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The C++ consumer's queues of `topic`, from its own running info (asked through the broker).
async fn cpp_queues(c: &Cluster, group: &str, client_id: &str, topic: &str) -> BTreeSet<i32> {
    let r = c
        .call(request(
            RequestCode::GetConsumerRunningInfo,
            &[
                ("consumerGroup", group),
                ("clientId", client_id),
                ("jstackEnable", "false"),
            ],
        ))
        .await;
    if r.code != 0 {
        return BTreeSet::new();
    }
    running_info_queues(&String::from_utf8_lossy(&r.body), topic)
}

/// Waits until the C++ consumer is the group's only member and owns exactly `want` of
/// `topic`'s queues.
async fn wait_cpp_queues(
    c: &Cluster,
    cpp: &CppConsumer,
    group: &str,
    topic: &str,
    want: &BTreeSet<i32>,
) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ids = consumer_ids(c, group).await;
        let have = match &ids[..] {
            [only] => cpp_queues(c, group, only, topic).await,
            _ => BTreeSet::new(),
        };
        if &have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the C++ consumer never owned queues {want:?} of {topic} alone: consumer ids \
             {ids:?}, C++ queues {have:?}{}",
            cpp.diag()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (message id, queue id) of each SDK delivery.
type Received = Arc<Mutex<Vec<(String, i32)>>>;

async fn start_sdk_consumer(ns: &str, group: &str, topic: &str, sink: Received) -> PushConsumer {
    PushConsumer::builder(ns)
        .group(group)
        .subscribe(topic, "*")
        .start(move |m| {
            let sink = sink.clone();
            async move {
                let got = (m.msg_id.clone(), m.queue.queue_id);
                sink.lock().unwrap().push(got);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

/// Queue ids of `topic` each side owns once the group has settled.
struct Split {
    sdk: BTreeSet<i32>,
    cpp: BTreeSet<i32>,
}

/// Waits until the broker lists exactly the SDK and the C++ consumer and each owns its
/// average share of `topic`'s 8 queues (RocketMQ's AllocateMessageQueueAveragely over the
/// sorted ids), nothing more.
async fn wait_split(
    c: &Cluster,
    cpp: &CppConsumer,
    sdk: &PushConsumer,
    group: &str,
    topic: &str,
) -> Split {
    let queues: Vec<MessageQueue> = (0..8)
        .map(|q| MessageQueue {
            topic: topic.into(),
            broker_name: "broker-t".into(),
            queue_id: q,
        })
        .collect();
    let share = |ids: &[String], me: &str| -> BTreeSet<i32> {
        let mine = allocate_averagely(&queues, ids, me);
        mine.iter().map(|q| q.queue_id).collect()
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ids = consumer_ids(c, group).await;
        let sdk_has: BTreeSet<i32> = sdk
            .assigned()
            .iter()
            .filter(|q| q.topic == topic)
            .map(|q| q.queue_id)
            .collect();
        if ids.len() == 2 && ids.iter().any(|i| i == sdk.client_id()) {
            let cpp_id = ids.iter().find(|i| *i != sdk.client_id()).unwrap();
            let split = Split {
                sdk: share(&ids, sdk.client_id()),
                cpp: share(&ids, cpp_id),
            };
            if sdk_has == split.sdk && cpp_queues(c, group, cpp_id, topic).await == split.cpp {
                return split;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no settled split: ids {ids:?}, SDK owns {sdk_has:?}{}",
            cpp.diag()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends bodies `m{i}` for `range`; message id → (i, queue id).
async fn send_numbered(
    p: &Producer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> BTreeMap<String, (usize, i32)> {
    let mut sent = BTreeMap::new();
    for i in range.clone() {
        let r = p.send(Message::new(topic, format!("m{i}"))).await.unwrap();
        sent.insert(r.msg_id, (i, r.queue.queue_id));
    }
    assert_eq!(sent.len(), range.len(), "the SDK returned duplicate ids");
    sent
}

/// Indices of `sent` that neither consumer has reported yet.
fn not_yet(sent: &BTreeMap<String, (usize, i32)>, sdk: &Received, cpp: &CppConsumer) -> Vec<usize> {
    let mut ids: BTreeSet<String> = sdk.lock().unwrap().iter().map(|m| m.0.clone()).collect();
    ids.extend(cpp.messages().iter().map(|m| s(&m["id"]).to_string()));
    let missing = sent.iter().filter(|(id, _)| !ids.contains(*id));
    missing.map(|(_, (i, _))| *i).collect()
}

/// Waits until the SDK consumer owns all of `topic`'s 8 queues.
async fn wait_sdk_owns_all(sdk: &PushConsumer, topic: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let owned = sdk.assigned().iter().filter(|q| q.topic == topic).count();
        if owned == 8 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the SDK owns {owned} of 8 queues"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_consumer_joins_an_sdk_group() {
    if let Some(python) = python_or_skip("cpp_consumer_joins_an_sdk_group") {
        mixed_group(&python, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_consumer_joins_a_cpp_group() {
    if let Some(python) = python_or_skip("sdk_consumer_joins_a_cpp_group") {
        mixed_group(&python, false).await;
    }
}

/// One SDK and one C++ push consumer in a clustering group on an 8-queue topic, the second
/// joining once the first owns every queue: after the rebalance each owns its average share
/// and together they consume 400 messages once each. Then the SDK leaves and the C++
/// consumer takes over its queues from the offsets the SDK committed.
async fn mixed_group(python: &std::path::Path, sdk_first: bool) {
    let c = Cluster::start().await;
    let (topic, group) = ("InteropShared", "mixed-interop-g");
    create_topic(&c, topic, 8).await;
    let ns = c.namesrv_addr();
    let args = CppConsumerArgs {
        namesrv: &ns,
        group,
        topic,
        props: &[],
        expect: None,
    };
    let sdk_got: Received = Default::default();
    let (cpp, sdk) = if sdk_first {
        let sdk = start_sdk_consumer(&ns, group, topic, sdk_got.clone()).await;
        wait_sdk_owns_all(&sdk, topic).await;
        (CppConsumer::start(python, args).await, sdk)
    } else {
        let cpp = CppConsumer::start(python, args).await;
        wait_cpp_queues(&c, &cpp, group, topic, &(0..8).collect()).await;
        (
            cpp,
            start_sdk_consumer(&ns, group, topic, sdk_got.clone()).await,
        )
    };
    let split = wait_split(&c, &cpp, &sdk, group, topic).await;
    assert_eq!((split.sdk.len(), split.cpp.len()), (4, 4));

    let p = Producer::builder(&ns)
        .group("mixed-interop-pg")
        .build()
        .unwrap();
    let shared = send_numbered(&p, topic, 0..400).await;
    wait_all("shared group", &cpp, || not_yet(&shared, &sdk_got, &cpp)).await;

    // Handover: the SDK commits and leaves; the C++ consumer takes all 8 queues, starting
    // where the SDK committed (a message read again would show up as a duplicate).
    sdk.shutdown().await;
    wait_cpp_queues(&c, &cpp, group, topic, &(0..8).collect()).await;
    let after = send_numbered(&p, topic, 400..440).await;
    wait_all("after the SDK left", &cpp, || {
        not_yet(&after, &sdk_got, &cpp)
    })
    .await;

    let cpp_got: Vec<(String, i32)> = cpp
        .stop()
        .await
        .iter()
        .map(|m| {
            (
                s(&m["id"]).to_string(),
                m["queue_id"].as_i64().unwrap() as i32,
            )
        })
        .collect();
    let sdk_got = sdk_got.lock().unwrap().clone();
    let mut all = shared.clone();
    all.extend(after.clone());
    check_once(&all, &sdk_got, &cpp_got);
    check_split(&shared, &sdk_got, &cpp_got, &split);
    c.shutdown().await;
}

/// Every message sent reached exactly one consumer exactly once, on the queue it was sent to.
fn check_once(
    sent: &BTreeMap<String, (usize, i32)>,
    sdk_got: &[(String, i32)],
    cpp_got: &[(String, i32)],
) {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, q) in sdk_got.iter().chain(cpp_got) {
        let (i, sent_q) = sent
            .get(id)
            .unwrap_or_else(|| panic!("a message that was never sent: {id}"));
        assert_eq!(q, sent_q, "message {i} reported on another queue");
        *count.entry(id).or_default() += 1;
    }
    let by_index = |pick: &dyn Fn(usize) -> bool| -> Vec<usize> {
        let mut v: Vec<usize> = sent
            .iter()
            .filter(|(id, _)| pick(count.get(id.as_str()).copied().unwrap_or(0)))
            .map(|(_, (i, _))| *i)
            .collect();
        v.sort();
        v
    };
    let twice = by_index(&|k| k > 1);
    let missing = by_index(&|k| k == 0);
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(sdk_got.len() + cpp_got.len(), sent.len());
}

/// While both were in the group, each consumed only its own share of the queues.
fn check_split(
    shared: &BTreeMap<String, (usize, i32)>,
    sdk_got: &[(String, i32)],
    cpp_got: &[(String, i32)],
    split: &Split,
) {
    let queues = |got: &[(String, i32)]| -> BTreeSet<i32> {
        let during = got.iter().filter(|(id, _)| shared.contains_key(id));
        during.map(|(_, q)| *q).collect()
    };
    let (sdk_q, cpp_q) = (queues(sdk_got), queues(cpp_got));
    let both: Vec<&i32> = sdk_q.intersection(&cpp_q).collect();
    assert!(both.is_empty(), "queues consumed by both: {both:?}");
    assert_eq!(sdk_q, split.sdk, "queues the SDK consumed vs owned");
    assert_eq!(cpp_q, split.cpp, "queues C++ consumed vs owned");
}
