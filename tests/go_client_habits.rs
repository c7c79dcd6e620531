//! Habits of rocketmq-client-go v2 where it differs from the Java client (wire doc §10.5),
//! in raw frames as the Go client writes them: language "GO", version 317, `remark` "",
//! every optional string field present and empty, and replies read as `map[string]string`.

mod broker_util;
mod java_frames;

use broker_util::Cluster;
use java_frames::*;
use serde_json::json;

const SEND_MESSAGE: i32 = 10;
const SEND_BATCH_MESSAGE: i32 = 320;
const PULL_MESSAGE: i32 = 11;
const HEART_BEAT: i32 = 34;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const GET_ROUTEINFO_BY_TOPIC: i32 = 105;

/// `SendMessageRequestHeader` as Go encodes it: long names, `defaultTopic` hard-coded
/// TBW102, `bname`, unset strings as "".
fn go_send_fields<'a>(topic: &'a str, props: &'a str, batch: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("producerGroup", "go_pg"),
        ("topic", topic),
        ("queueId", "0"),
        ("sysFlag", "0"),
        ("bornTimestamp", "1700000000000"),
        ("flag", "0"),
        ("reconsumeTimes", "0"),
        ("unitMode", "false"),
        ("maxReconsumeTimes", "0"),
        ("defaultTopic", "TBW102"),
        ("defaultTopicQueueNums", "4"),
        ("batch", batch),
        ("properties", props),
        ("bname", ""),
    ]
}

/// Go's push consumer pull: sysFlag 0x2 with `subscription` "" (not absent), `expressionType`
/// TAG and `subVersion` 0 always.
fn go_pull<'a>(group: &'a str, topic: &'a str, offset: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("consumerGroup", group),
        ("topic", topic),
        ("queueId", "0"),
        ("queueOffset", offset),
        ("maxMsgNums", "32"),
        ("sysFlag", "2"),
        ("commitOffset", "0"),
        ("suspendTimeoutMillis", "20000"),
        ("subscription", ""),
        ("subVersion", "0"),
        ("expressionType", "TAG"),
        ("bname", "broker-t"),
    ]
}

/// A Go heartbeat: enum names, `codeSet` as strings, `subVersion` in nanoseconds.
fn go_heartbeat(group: &str, topic: &str, tag: &str) -> Vec<u8> {
    let code = ferrumq_store::message::java_string_hash(tag).to_string();
    serde_json::to_vec(
        &json!({"clientID": "10.0.0.8@4242", "producerDataSet": [{"groupName": "go_pg"}],
        "consumerDataSet": [{"groupName": group, "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING", "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
            "unitMode": false, "subscriptionDataSet": [{"classFilterMode": false, "topic": topic,
                "subString": tag, "tagsSet": [tag], "codeSet": [code],
                "subVersion": 1_700_000_000_123_456_789_i64, "expressionType": "TAG"}]}]}),
    )
    .expect("json")
}

/// SEND_MESSAGE (10) with long names and empty optional strings; the reply carries
/// `msgId`, `queueId`, `queueOffset` and `TRACE_ON` (Go's producer records no trace
/// without it) as strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_send_message_v1() {
    let c = Cluster::start().await;
    let mut g = JavaConn::connect_go(&c.addr()).await;
    let props = java_props(&[("UNIQ_KEY", "GO1"), ("TAGS", "t")]);
    let r = g
        .call(
            SEND_MESSAGE,
            &go_send_fields("GoSend", &props, "false"),
            b"go",
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(
        r.field("TRACE_ON"),
        "true",
        "Go reads a missing or empty TRACE_ON as off"
    );
    for k in ["msgId", "queueId", "queueOffset", "MSG_REGION"] {
        assert!(r.opt_field(k).is_some(), "send reply lacks {k}");
    }
    c.shutdown().await;
}

/// SEND_BATCH_MESSAGE (320) from Go: one-letter header with `i` "" (no batch-level
/// properties, no UNIQ_KEY), never compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_batch_empty_properties() {
    let c = Cluster::start().await;
    let mut g = JavaConn::connect_go(&c.addr()).await;
    let msgs: Vec<(&[u8], String)> = vec![
        (b"a", java_props(&[("UNIQ_KEY", "G1")])),
        (b"b", java_props(&[("UNIQ_KEY", "G2")])),
    ];
    let mut f = send_v2_fields("GoBatch", 0, "", true);
    f.retain(|(k, _)| k != "n");
    f.push(("n".into(), String::new()));
    let r = g
        .call(SEND_BATCH_MESSAGE, &pairs(&f), &java_batch(&msgs))
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(r.field("msgId").split(',').count(), 2);
    c.shutdown().await;
}

/// Go's heartbeat (string `codeSet`, nanosecond `subVersion`) and push pull (`subscription`
/// "" without the subscription bit, `subVersion` 0): the broker filters with the heartbeat's
/// tag, and the four pull fields are strings on every status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_heartbeat_and_pull() {
    let c = Cluster::start().await;
    for (i, tag) in ["TagA", "TagB", "TagA"].iter().enumerate() {
        assert_eq!(
            c.send_to("GoPull", 0, tag, format!("{i}").as_bytes())
                .await
                .code,
            0
        );
    }
    let mut g = JavaConn::connect_go(&c.addr()).await;
    let r = g
        .call(HEART_BEAT, &[], &go_heartbeat("go_cg", "GoPull", "TagA"))
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let r = g
        .call(PULL_MESSAGE, &go_pull("go_cg", "GoPull", "0"), &[])
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(records(&r.body).len(), 2, "TagA only");
    // Past the end (no long poll): PULL_OFFSET_MOVED, pointing at the end.
    let r = g
        .call(PULL_MESSAGE, &go_pull("go_cg", "GoPull", "9"), &[])
        .await;
    assert_eq!((r.code(), r.field("nextBeginOffset")), (21, "3"));
    for k in [
        "nextBeginOffset",
        "minOffset",
        "maxOffset",
        "suggestWhichBrokerId",
    ] {
        assert!(r.opt_field(k).is_some(), "pull reply lacks {k}");
    }
    let q = [
        ("consumerGroup", "go_cg"),
        ("topic", "GoPull"),
        ("queueId", "0"),
        ("bname", ""),
    ];
    let r = g.call(QUERY_CONSUMER_OFFSET, &q, &[]).await;
    assert_eq!((r.code(), r.field("offset")), (0, "0"));
    c.shutdown().await;
}

/// Go's route parser (`internal/route.go`): `brokerAddrs` is cut out of the text and split on
/// `,` and the first `:` by hand, so the NameServer must answer a version-317 client with
/// compact JSON, `brokerAddrs` in every brokerData and `queueDatas` as an array.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_route_parse() {
    let c = Cluster::start().await;
    assert_eq!(c.send_to("GoRoute", 0, "a", b"x").await.code, 0);
    let mut g = JavaConn::connect_go(&c.namesrv_addr()).await;
    let r = g
        .call(GET_ROUTEINFO_BY_TOPIC, &[("topic", "GoRoute")], &[])
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let text = String::from_utf8(r.body.clone()).expect("utf-8");
    assert!(text.contains("\"queueDatas\":["), "{text}");
    let start = text.find("\"brokerAddrs\":").expect("brokerAddrs") + "\"brokerAddrs\":".len();
    let end = start + text[start..].find('}').expect("end of brokerAddrs") + 1;
    let addrs = &text[start..end];
    let mut parsed = std::collections::BTreeMap::new();
    for part in addrs[1..addrs.len() - 1].split(',') {
        let i = part.find(':').expect("key:value");
        let id: i64 = part[..i]
            .replace('"', "")
            .parse()
            .expect("numeric broker id, no blanks");
        parsed.insert(id, part[i + 1..].replace('"', ""));
    }
    assert_eq!(
        parsed.get(&0).map(String::as_str),
        Some(c.addr().as_str()),
        "{text}"
    );
    c.shutdown().await;
}
