//! Habits of Java 5.x clients over remoting (and of every client: unknown requests), one test
//! per habit, in raw frames (`docs/compatibility.md` names the test of each habit).

mod broker_util;
mod java_frames;

use broker_util::Cluster;
use java_frames::*;
use serde_json::{json, Value};

const HEART_BEAT: i32 = 34;
const PULL_MESSAGE: i32 = 11;
const GET_MAX_OFFSET: i32 = 30;
const SEARCH_OFFSET_BY_TIMESTAMP: i32 = 29;
const GET_ROUTEINFO_BY_TOPIC: i32 = 105;

/// A 5.x HeartbeatData: fingerprint and withoutSub always present (fastjson writes
/// primitives); a light heartbeat has an empty subscription set.
fn heartbeat_v2(group: &str, topic: &str, fingerprint: i64, without_sub: bool) -> Vec<u8> {
    let subs = if without_sub {
        json!([])
    } else {
        json!([{"classFilterMode": false, "codeSet": [], "expressionType": "TAG",
            "subString": "*", "subVersion": 1, "tagsSet": [], "topic": topic}])
    };
    serde_json::to_vec(&json!({"clientID": "10.0.0.5@5#5",
        "consumerDataSet": [{"consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "consumeType": "CONSUME_PASSIVELY", "groupName": group, "messageModel": "CLUSTERING",
            "subscriptionDataSet": subs, "unitMode": false}],
        "heartbeatFingerprint": fingerprint, "producerDataSet": [], "withoutSub": without_sub}))
    .expect("json")
}

/// Heartbeat v2: the reply advertises it (`IS_SUPPORT_HEART_BEAT_V2`) with a version ≥ 232
/// (the client's SQL92 gate); a light heartbeat with the stored fingerprint keeps the
/// subscriptions (pulls without the subscription bit still work); an unknown fingerprint or
/// a restarted broker answers `IS_SUB_CHANGE=true`, so the client sends them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_v2_fingerprint() {
    let mut c = Cluster::start().await;
    let r = c.send_to("JHb2", 0, "a", b"x").await;
    assert_eq!(r.code, 0);
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let full = j
        .call(HEART_BEAT, &[], &heartbeat_v2("g5", "JHb2", 42, false))
        .await;
    assert_eq!(full.code(), 0);
    assert_eq!(full.field("IS_SUPPORT_HEART_BEAT_V2"), "true");
    assert_eq!(full.field("IS_SUB_CHANGE"), "false");
    assert!(full.header["version"].as_i64().unwrap_or(0) >= 232);

    let light = j
        .call(HEART_BEAT, &[], &heartbeat_v2("g5", "JHb2", 42, true))
        .await;
    assert_eq!(light.field("IS_SUB_CHANGE"), "false");
    // fastjson may name the flag after its getter, isWithoutSub(): same meaning.
    let getter_named = String::from_utf8(heartbeat_v2("g5", "JHb2", 42, true))
        .expect("utf-8")
        .replace("\"withoutSub\"", "\"isWithoutSub\"");
    let light = j.call(HEART_BEAT, &[], getter_named.as_bytes()).await;
    assert_eq!(light.field("IS_SUB_CHANGE"), "false");
    let pull = pull_fields("g5", "JHb2", 0, 0, 0x2, 1);
    let mut pull = pairs(&pull);
    pull.retain(|(k, _)| *k != "subscription");
    let r = j.call(PULL_MESSAGE, &pull, &[]).await;
    assert_eq!(
        r.code(),
        0,
        "light heartbeat kept the subscription: {}",
        r.remark()
    );

    // A rebalance's full heartbeat was skipped (the client heartbeats under a try-lock), so
    // a pull carries a version the broker never heard of: 25, and the next light heartbeat
    // asks for a full one instead of leaving the consumer stuck on 25.
    let stale = pull_fields("g5", "JHb2", 0, 0, 0x2, 99);
    let mut stale = pairs(&stale);
    stale.retain(|(k, _)| *k != "subscription");
    assert_eq!(j.call(PULL_MESSAGE, &stale, &[]).await.code(), 25);
    let light = j
        .call(HEART_BEAT, &[], &heartbeat_v2("g5", "JHb2", 42, true))
        .await;
    assert_eq!(
        light.field("IS_SUB_CHANGE"),
        "true",
        "after a 25, ask for the subscriptions"
    );

    let other = j
        .call(HEART_BEAT, &[], &heartbeat_v2("g5", "JHb2", 43, true))
        .await;
    assert_eq!(other.field("IS_SUB_CHANGE"), "true");

    c.restart_broker().await;
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let after = j
        .call(HEART_BEAT, &[], &heartbeat_v2("g5", "JHb2", 42, true))
        .await;
    assert_eq!(
        after.field("IS_SUB_CHANGE"),
        "true",
        "nothing cached after a restart"
    );
    // A 4.x heartbeat (no fingerprint) is answered the way a 5.x broker does.
    let v1 = j
        .call(
            HEART_BEAT,
            &[],
            &consumer_heartbeat("10.0.0.5@5#5", "g5", &[("JHb2", "*", 1)]),
        )
        .await;
    assert_eq!(v1.field("IS_SUB_CHANGE"), "true");
    c.shutdown().await;
}

/// Pop consumption and broker-side assignment (opt-in on 5.x clients) are refused with
/// REQUEST_CODE_NOT_SUPPORTED and a remark that says what to use; the connection stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_requests_refused_clearly() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let pop = [
        ("consumerGroup", "g"),
        ("topic", "T"),
        ("queueId", "-1"),
        ("maxMsgNums", "32"),
        ("invisibleTime", "60000"),
        ("pollTime", "15000"),
        ("bornTime", "1"),
        ("initMode", "0"),
    ];
    for (code, hint) in [
        (200_050, "pop consumption"),
        (200_051, "pop consumption"),
        (400, "clientRebalance"),
    ] {
        let r = j.call(code, &pop, &[]).await;
        assert_eq!(r.code(), 3, "code {code}");
        assert!(
            r.remark().contains("not supported") && r.remark().contains(hint),
            "{}",
            r.remark()
        );
    }
    let r = j
        .call(GET_MAX_OFFSET, &[("topic", "T"), ("queueId", "0")], &[])
        .await;
    assert_eq!(r.code(), 0, "connection still serves");
    c.shutdown().await;
}

/// An unknown oneway request gets no reply at all (a reply to a oneway confuses clients);
/// an unknown two-way request gets 3 with RocketMQ's remark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_requests() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    j.oneway(9_999, &[("x", "y")], &[]).await;
    let r = j.call(9_998, &[], &[]).await;
    assert_eq!(r.code(), 3);
    assert_eq!(r.remark(), " request type 9998 not supported");
    // One more round trip, so a late answer to the oneway would have arrived by now.
    let r = j
        .call(GET_MAX_OFFSET, &[("topic", "T"), ("queueId", "0")], &[])
        .await;
    assert_eq!(r.code(), 0);
    assert!(
        j.pushed.is_empty(),
        "the oneway request was answered: {:?}",
        j.pushed
    );
    c.shutdown().await;
}

/// 5.x header extras are accepted and ignored where they have no meaning here: the
/// RpcRequestHeader fields (`ns`, `nsd`, `bname`, `oway`, `lo`), GET_MAX_OFFSET's
/// `committed`, SEARCH_OFFSET_BY_TIMESTAMP's `boundaryType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_header_extras() {
    let c = Cluster::start().await;
    for i in 0..3 {
        assert_eq!(
            c.send_to("JExtra", 0, "a", format!("{i}").as_bytes())
                .await
                .code,
            0
        );
    }
    let mut j = JavaConn::connect(&c.addr(), V5_3_3).await;
    let rpc = [
        ("ns", "n1"),
        ("nsd", "false"),
        ("bname", "broker-t"),
        ("oway", "false"),
        ("lo", "true"),
    ];
    let mut max = vec![("topic", "JExtra"), ("queueId", "0"), ("committed", "true")];
    max.extend(rpc);
    let r = j.call(GET_MAX_OFFSET, &max, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 3));
    let mut search = vec![
        ("topic", "JExtra"),
        ("queueId", "0"),
        ("timestamp", "0"),
        ("boundaryType", "LOWER"),
    ];
    search.extend(rpc);
    let r = j.call(SEARCH_OFFSET_BY_TIMESTAMP, &search, &[]).await;
    assert_eq!(
        (r.code(), r.num("offset")),
        (0, 0),
        "LOWER: first stored at or after"
    );
    let far = i64::MAX.to_string();
    let upper = [
        ("topic", "JExtra"),
        ("queueId", "0"),
        ("timestamp", far.as_str()),
        ("boundaryType", "UPPER"),
    ];
    let r = j.call(SEARCH_OFFSET_BY_TIMESTAMP, &upper, &[]).await;
    assert_eq!(
        (r.code(), r.num("offset")),
        (0, 2),
        "UPPER: last stored at or before"
    );
    let lower = [
        ("topic", "JExtra"),
        ("queueId", "0"),
        ("timestamp", far.as_str()),
        ("boundaryType", "LOWER"),
    ];
    let r = j.call(SEARCH_OFFSET_BY_TIMESTAMP, &lower, &[]).await;
    assert_eq!(
        r.num("offset"),
        3,
        "LOWER past the end: the next offset to be written"
    );
    let mut pull = pull_fields("gx", "JExtra", 0, 0, 0x4, 0);
    pull.extend(rpc.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pull.push(("requestSource".into(), "-1".into()));
    pull.push(("proxyFrowardClientId".into(), "p".into()));
    let r = j.call(PULL_MESSAGE, &pairs(&pull), &[]).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(records(&r.body).len(), 3);
    c.shutdown().await;
}

/// The fields of a route every remoting client family reads (wire doc §10.6).
fn check_route(route: &Value) {
    assert!(route["queueDatas"].is_array());
    assert!(route["filterServerTable"].is_object());
    for q in route["queueDatas"].as_array().into_iter().flatten() {
        for k in [
            "brokerName",
            "readQueueNums",
            "writeQueueNums",
            "perm",
            "topicSysFlag",
        ] {
            assert!(!q[k].is_null(), "queueData lacks {k}: {q}");
        }
    }
    for b in route["brokerDatas"].as_array().into_iter().flatten() {
        assert!(b["brokerAddrs"]["0"].is_string(), "master under key 0: {b}");
        assert_eq!(b["enableActingMaster"], false);
        assert!(
            b["cluster"].is_string() && b["brokerName"].is_string(),
            "{b}"
        );
    }
}

/// GET_ROUTEINFO_BY_TOPIC: clients ≥ 4.9.4 (version 401) and any client sending
/// `acceptStandardJsonOnly=true` get standard JSON (quoted `brokerAddrs` keys); older ones
/// get fastjson's bare keys, which fastjson and the Go client read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_standard_json() {
    let c = Cluster::start().await;
    assert_eq!(c.send_to("JRoute", 0, "a", b"x").await.code, 0);
    let mut j = JavaConn::connect(&c.namesrv_addr(), V5_3_3).await;
    let r = j
        .call(GET_ROUTEINFO_BY_TOPIC, &[("topic", "JRoute")], &[])
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    check_route(&r.json_body());

    let mut old = JavaConn::connect(&c.namesrv_addr(), 300).await;
    let r = old
        .call(GET_ROUTEINFO_BY_TOPIC, &[("topic", "JRoute")], &[])
        .await;
    assert!(
        String::from_utf8_lossy(&r.body).contains("{0:\""),
        "bare key for old clients"
    );
    let r = old
        .call(
            GET_ROUTEINFO_BY_TOPIC,
            &[("topic", "JRoute"), ("acceptStandardJsonOnly", "true")],
            &[],
        )
        .await;
    check_route(&r.json_body());
    let r = old
        .call(GET_ROUTEINFO_BY_TOPIC, &[("topic", "NoSuchTopic")], &[])
        .await;
    assert_eq!(r.code(), 17, "TOPIC_NOT_EXIST");
    c.shutdown().await;
}
