//! Consumer habits of the Java client family (Apache Java 4.9.x / 5.x over remoting), one
//! test per habit, in raw frames as the Java client writes them. `docs/compatibility.md`
//! lists each habit with the test named after it.

mod broker_util;
mod java_frames;

use std::time::Duration;

use broker_util::Cluster;
use java_frames::*;

const HEART_BEAT: i32 = 34;
const PULL_MESSAGE: i32 = 11;
const LITE_PULL_MESSAGE: i32 = 361;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const UPDATE_CONSUMER_OFFSET: i32 = 15;
const UNREGISTER_CLIENT: i32 = 35;
const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
const CHECK_CLIENT_CONFIG: i32 = 46;

/// Java's PullSysFlag bits.
const COMMIT_OFFSET: i32 = 0x1;
const SUSPEND: i32 = 0x2;
const SUBSCRIPTION: i32 = 0x4;
const LITE_PULL: i32 = 0x10;

/// `n` messages on queue 0 of `topic`, tagged `tags` in turn; waits until dispatched.
async fn fill(c: &Cluster, topic: &str, tags: &[&str], n: usize) {
    for i in 0..n {
        let tag = tags.get(i % tags.len()).copied().unwrap_or("");
        let r = c.send_to(topic, 0, tag, format!("m{i}").as_bytes()).await;
        assert_eq!(r.code, 0, "setup send: {:?}", r.remark);
    }
}

async fn heartbeat(conn: &mut JavaConn, id: &str, group: &str, subs: &[(&str, &str, i64)]) {
    let r = conn
        .call(HEART_BEAT, &[], &consumer_heartbeat(id, group, subs))
        .await;
    assert_eq!(r.code(), 0, "heartbeat: {}", r.remark());
}

async fn pull(
    conn: &mut JavaConn,
    group: &str,
    topic: &str,
    offset: i64,
    flag: i32,
    version: i64,
) -> Frame {
    let mut f = pull_fields(group, topic, 0, offset, flag, version);
    // Java's push consumer leaves `subscription` null unless postSubscriptionWhenPull.
    if flag & SUBSCRIPTION == 0 {
        f.retain(|(k, _)| k != "subscription");
    }
    conn.call(PULL_MESSAGE, &pairs(&f), &[]).await
}

/// RebalancePushImpl.messageQueueChanged: every rebalance that changes the queues sets
/// subVersion to now, sends a heartbeat, then pulls with the new version and no
/// subscription in the pull. Regression: the broker kept the first version and answered
/// every later pull with 25 SUBSCRIPTION_NOT_LATEST, so a Java consumer starved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_raises_sub_version() {
    let c = Cluster::start().await;
    fill(&c, "JRebal", &["a"], 4).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let v1 = 1_700_000_000_000;
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &[("JRebal", "*", v1)]).await;
    let r = pull(&mut j, "jg", "JRebal", 0, SUSPEND, v1).await;
    assert_eq!(r.code(), 0, "{}", r.remark());

    let v2 = v1 + 3_000;
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &[("JRebal", "*", v2)]).await;
    let r = pull(&mut j, "jg", "JRebal", 0, SUSPEND, v2).await;
    assert_eq!(r.code(), 0, "pull after the raise: {}", r.remark());
    assert_eq!(records(&r.body).len(), 4);

    // Another member's older heartbeat does not roll the version back.
    let mut k = JavaConn::connect(&c.addr(), V4_9_8).await;
    heartbeat(&mut k, "10.0.0.2@1#1", "jg", &[("JRebal", "*", v1)]).await;
    let r = pull(&mut j, "jg", "JRebal", 0, SUSPEND, v2).await;
    assert_eq!(
        r.code(),
        0,
        "older heartbeat must be ignored: {}",
        r.remark()
    );

    // A version no heartbeat announced is still refused.
    let r = pull(&mut j, "jg", "JRebal", 0, SUSPEND, v2 + 60_000).await;
    assert_eq!(r.code(), 25, "SUBSCRIPTION_NOT_LATEST: {}", r.remark());
    c.shutdown().await;
}

/// ConsumerGroupInfo.updateSubscription drops a topic the heartbeat no longer lists; a pull
/// that relies on it then gets 24 SUBSCRIPTION_NOT_EXIST (the client re-heartbeats).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_drops_topic() {
    let c = Cluster::start().await;
    fill(&c, "JUnsubA", &["a"], 1).await;
    fill(&c, "JUnsubB", &["a"], 1).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let subs = [("JUnsubA", "*", 1), ("JUnsubB", "*", 1)];
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &subs).await;
    assert_eq!(pull(&mut j, "jg", "JUnsubB", 0, SUSPEND, 1).await.code(), 0);
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &subs[..1]).await;
    let r = pull(&mut j, "jg", "JUnsubB", 0, SUSPEND, 1).await;
    assert_eq!(r.code(), 24, "SUBSCRIPTION_NOT_EXIST: {}", r.remark());
    assert_eq!(pull(&mut j, "jg", "JUnsubA", 0, SUSPEND, 1).await.code(), 0);
    c.shutdown().await;
}

/// Without the subscription bit the broker filters with the heartbeat's tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_filters_by_heartbeat_tags() {
    let c = Cluster::start().await;
    fill(&c, "JTags", &["TagA", "TagB"], 6).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    heartbeat(
        &mut j,
        "10.0.0.1@1#1",
        "jg",
        &[("JTags", "TagA || TagC", 5)],
    )
    .await;
    let r = pull(&mut j, "jg", "JTags", 0, SUSPEND, 5).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let got = records(&r.body);
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|(_, props, _)| props.contains("TAGS\u{1}TagA\u{2}")));
    assert_eq!(r.num("nextBeginOffset"), 6, "scanned past the TagB entries");
    c.shutdown().await;
}

/// sysFlag bit0: the pull carries the consumer's committed offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_commits_offset() {
    let c = Cluster::start().await;
    fill(&c, "JCommit", &["a"], 3).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &[("JCommit", "*", 1)]).await;
    let mut f = pull_fields("jg", "JCommit", 0, 2, COMMIT_OFFSET | SUSPEND, 1);
    f.retain(|(k, _)| k != "subscription");
    for (k, v) in f.iter_mut() {
        if k == "commitOffset" {
            *v = "2".into();
        }
    }
    assert_eq!(j.call(PULL_MESSAGE, &pairs(&f), &[]).await.code(), 0);
    let q = [
        ("consumerGroup", "jg"),
        ("topic", "JCommit"),
        ("queueId", "0"),
    ];
    let r = j.call(QUERY_CONSUMER_OFFSET, &q, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 2));
    c.shutdown().await;
}

/// Every pull reply carries the four @CFNotNull fields, whatever its status, and
/// PULL_OFFSET_MOVED points nextBeginOffset where the client should go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_reply_fields_every_status() {
    let c = Cluster::start().await;
    fill(&c, "JStat", &["a"], 2).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    heartbeat(&mut j, "10.0.0.1@1#1", "jg", &[("JStat", "*", 1)]).await;
    for (offset, code, next) in [(0, 0, 2), (2, 19, 2), (9, 21, 2)] {
        let r = pull(&mut j, "jg", "JStat", offset, 0, 1).await;
        assert_eq!(r.code(), code, "offset {offset}: {}", r.remark());
        assert_eq!(r.num("nextBeginOffset"), next, "offset {offset}");
        assert_eq!(r.num("suggestWhichBrokerId"), 0);
        assert_eq!((r.num("minOffset"), r.num("maxOffset")), (0, 2));
    }
    c.shutdown().await;
}

/// LITE_PULL_MESSAGE (361): the lite pull consumer's code, subscription in the pull, bit4 set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_pull_message() {
    let c = Cluster::start().await;
    fill(&c, "JLite", &["TagA", "TagB"], 4).await;
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let mut f = pull_fields("jlite", "JLite", 0, 0, SUBSCRIPTION | LITE_PULL, 0);
    for (k, v) in f.iter_mut() {
        if k == "subscription" {
            *v = "TagB".into();
        }
    }
    let r = j.call(LITE_PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(records(&r.body).len(), 2);
    c.shutdown().await;
}

/// 5.x `maxMsgBytes` caps the bytes of one pull (the first message always goes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_max_msg_bytes() {
    let c = Cluster::start().await;
    for i in 0..5 {
        let r = c.send_to("JBytes", 0, "a", &vec![b'x'; 1000 + i]).await;
        assert_eq!(r.code, 0);
    }
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let mut f = pull_fields("jbytes", "JBytes", 0, 0, SUBSCRIPTION, 0);
    f.push(("maxMsgBytes".into(), "3000".into()));
    let r = j.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let n = records(&r.body).len();
    assert_eq!(n, 2, "two ~1.2 KiB records fit in 3000 bytes, three do not");
    assert_eq!(r.num("nextBeginOffset"), 2);
    f.retain(|(k, _)| k != "maxMsgBytes");
    f.push(("maxMsgBytes".into(), "1".into()));
    let r = j.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(
        records(&r.body).len(),
        1,
        "the first message is always taken"
    );
    c.shutdown().await;
}

/// QUERY_CONSUMER_OFFSET: 4.x answers 0 for a new group on a queue that still starts at 0;
/// 5.x clients send `setZeroIfNotFound=false` to get 22 QUERY_NOT_FOUND and apply their own
/// ConsumeFromWhere. Offsets committed by oneway UPDATE_CONSUMER_OFFSET are read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_offset_set_zero_if_not_found() {
    let c = Cluster::start().await;
    fill(&c, "JQuery", &["a"], 1).await;
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let q = [
        ("consumerGroup", "jq"),
        ("topic", "JQuery"),
        ("queueId", "0"),
    ];
    let r = j.call(QUERY_CONSUMER_OFFSET, &q, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 0), "4.x rule");
    let mut q5 = q.to_vec();
    q5.push(("setZeroIfNotFound", "false"));
    let r = j.call(QUERY_CONSUMER_OFFSET, &q5, &[]).await;
    assert_eq!(r.code(), 22, "QUERY_NOT_FOUND: {}", r.remark());

    let mut u = q.to_vec();
    u.push(("commitOffset", "1"));
    j.oneway(UPDATE_CONSUMER_OFFSET, &u, &[]).await;
    let mut offset = -1;
    for _ in 0..100 {
        let r = j.call(QUERY_CONSUMER_OFFSET, &q5, &[]).await;
        if r.code() == 0 {
            offset = r.num("offset");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(offset, 1, "oneway commit is stored");
    c.shutdown().await;
}

/// UNREGISTER_CLIENT (`clientID`, `consumerGroup`, `producerGroup`) at shutdown: the client
/// leaves GET_CONSUMER_LIST_BY_GROUP and the rest of the group is told to rebalance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregister_client_notifies_group() {
    let c = Cluster::start().await;
    let mut a = JavaConn::connect(&c.addr(), V4_9_8).await;
    let mut b = JavaConn::connect(&c.addr(), V4_9_8).await;
    heartbeat(&mut a, "10.0.0.1@1#1", "jun", &[("JUnreg", "*", 1)]).await;
    heartbeat(&mut b, "10.0.0.2@2#2", "jun", &[("JUnreg", "*", 1)]).await;
    let r = a
        .call(GET_CONSUMER_LIST_BY_GROUP, &[("consumerGroup", "jun")], &[])
        .await;
    assert_eq!(r.code(), 0);
    assert_eq!(
        r.json_body()["consumerIdList"].as_array().map(Vec::len),
        Some(2)
    );
    a.pushed.clear();

    let unreg = [
        ("clientID", "10.0.0.2@2#2"),
        ("consumerGroup", "jun"),
        ("producerGroup", "CLIENT_INNER_PRODUCER"),
    ];
    assert_eq!(b.call(UNREGISTER_CLIENT, &unreg, &[]).await.code(), 0);
    let n = a
        .expect_push(NOTIFY_CONSUMER_IDS_CHANGED, Duration::from_secs(5))
        .await
        .expect("NOTIFY_CONSUMER_IDS_CHANGED to the member left");
    assert_eq!(n.field("consumerGroup"), "jun");
    assert_eq!(n.header["flag"].as_i64().map(|f| f & 2), Some(2), "oneway");
    let r = a
        .call(GET_CONSUMER_LIST_BY_GROUP, &[("consumerGroup", "jun")], &[])
        .await;
    assert_eq!(
        r.json_body()["consumerIdList"],
        serde_json::json!(["10.0.0.1@1#1"])
    );
    c.shutdown().await;
}

/// A SQL92 subscription is refused where the client sees it (CHECK_CLIENT_CONFIG at start,
/// or the pull), with RocketMQ's remark; never silently treated as a tag expression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_refused_clearly() {
    let c = Cluster::start().await;
    fill(&c, "JSql", &["a"], 1).await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let check = serde_json::json!({"clientId": "10.0.0.1@1#1", "group": "jsql",
        "subscriptionData": {"topic": "JSql", "subString": "a > 1", "expressionType": "SQL92",
            "subVersion": 1, "tagsSet": [], "codeSet": [], "classFilterMode": false}});
    let r = j
        .call(CHECK_CLIENT_CONFIG, &[], check.to_string().as_bytes())
        .await;
    assert_eq!(r.code(), 1, "SYSTEM_ERROR: {}", r.remark());
    assert!(r.remark().contains("SQL92"), "{}", r.remark());
    let tag = serde_json::json!({"clientId": "x", "group": "jsql",
        "subscriptionData": {"topic": "JSql", "subString": "*", "expressionType": "TAG"}});
    assert_eq!(
        j.call(CHECK_CLIENT_CONFIG, &[], tag.to_string().as_bytes())
            .await
            .code(),
        0
    );

    let hb = serde_json::json!({"clientID": "10.0.0.1@1#1", "producerDataSet": [],
        "consumerDataSet": [{"groupName": "jsql", "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING", "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "unitMode": false, "subscriptionDataSet": [{"topic": "JSql", "subString": "a > 1",
                "expressionType": "SQL92", "subVersion": 1, "tagsSet": [], "codeSet": [],
                "classFilterMode": false}]}]});
    assert_eq!(
        j.call(HEART_BEAT, &[], hb.to_string().as_bytes())
            .await
            .code(),
        0
    );
    let r = pull(&mut j, "jsql", "JSql", 0, 0, 1).await;
    assert_eq!(r.code(), 1, "{}", r.remark());
    assert!(r.remark().contains("SQL92"), "{}", r.remark());
    // The lite pull consumer sends the expression in the pull itself.
    let mut f = pull_fields("jsql", "JSql", 0, 0, SUBSCRIPTION, 1);
    for (k, v) in f.iter_mut() {
        match k.as_str() {
            "subscription" => *v = "a > 1".into(),
            "expressionType" => *v = "SQL92".into(),
            _ => {}
        }
    }
    let r = j.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 1, "{}", r.remark());
    assert!(r.remark().contains("SQL92"), "{}", r.remark());
    c.shutdown().await;
}

const LOCK_BATCH_MQ: i32 = 41;
const UNLOCK_BATCH_MQ: i32 = 42;

/// Orderly consumers: LOCK_BATCH_MQ (sync, fastjson body without `onlyThisBroker`) answers
/// the queues now held; UNLOCK_BATCH_MQ comes oneway when a queue is dropped (and sync at
/// shutdown) and frees the queue for the next member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_batch_and_oneway_unlock() {
    let c = Cluster::start().await;
    let body = |client: &str| {
        serde_json::json!({"clientId": client, "consumerGroup": "jlock",
            "mqSet": [{"brokerName": "broker-t", "queueId": 0, "topic": "JLock"},
                      {"brokerName": "broker-t", "queueId": 1, "topic": "JLock"}]})
        .to_string()
    };
    let held = |r: &Frame| r.json_body()["lockOKMQSet"].as_array().map_or(0, Vec::len);
    let mut a = JavaConn::connect(&c.addr(), V4_9_8).await;
    let mut b = JavaConn::connect(&c.addr(), V4_9_8).await;
    let r = a.call(LOCK_BATCH_MQ, &[], body("A").as_bytes()).await;
    assert_eq!((r.code(), held(&r)), (0, 2));
    let r = b.call(LOCK_BATCH_MQ, &[], body("B").as_bytes()).await;
    assert_eq!((r.code(), held(&r)), (0, 0), "held by A");
    a.oneway(UNLOCK_BATCH_MQ, &[], body("A").as_bytes()).await;
    let mut got = 0;
    for _ in 0..100 {
        let r = b.call(LOCK_BATCH_MQ, &[], body("B").as_bytes()).await;
        got = held(&r);
        if got == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got, 2, "the oneway unlock freed both queues");
    c.shutdown().await;
}
