//! Producer habits of the Java client family, one test per habit, in raw frames as the Java
//! client writes them (`docs/compatibility.md` names the test of each habit).

mod broker_util;
mod java_frames;

use broker_util::Cluster;
use java_frames::*;

const SEND_MESSAGE_V2: i32 = 310;
const SEND_BATCH_MESSAGE: i32 = 320;
const PULL_MESSAGE: i32 = 11;
const CONSUMER_SEND_MSG_BACK: i32 = 36;
const GET_MAX_OFFSET: i32 = 30;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
const HEART_BEAT: i32 = 34;

/// SEND_MESSAGE_V2 with one-letter fields (and 4.9.5's `n` broker name): the reply carries the
/// @CFNotNull `msgId` (a real offset id END_TRANSACTION and viewMessage decode), `queueId`,
/// `queueOffset`, and the raw `MSG_REGION` / `TRACE_ON` the client reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_v2_reply_fields() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let props = java_props(&[
        ("UNIQ_KEY", "AC11000100002A9F0000000000000001"),
        ("WAIT", "true"),
        ("TAGS", "t"),
    ]);
    let r = send_v2(&mut j, "JSendV2", &props, b"hello").await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let (host, offset) =
        ferrumq_store::decode_offset_msg_id(r.field("msgId")).expect("offset msg id");
    assert_eq!(host, c.broker.as_ref().expect("broker").local_addr());
    assert!(offset >= 0);
    let q: i32 = r.field("queueId").parse().expect("queueId");
    assert!((0..4).contains(&q), "one of the 4 auto-created queues: {q}");
    assert_eq!(r.num("queueOffset"), 0);
    assert_eq!(r.field("MSG_REGION"), "DefaultRegion");
    assert_eq!(r.field("TRACE_ON"), "true");
    wait_max(&mut j, "JSendV2", q, 1).await;
    let got = pull_all(&mut j, "JSendV2", q, 0).await;
    assert_eq!(got[0].2, b"hello");
    assert!(got[0]
        .1
        .contains("UNIQ_KEY\u{1}AC11000100002A9F0000000000000001"));
    assert!(
        !got[0].1.contains("WAIT\u{1}"),
        "WAIT is dropped from the stored record"
    );
    // What the broker stamps on every message: Java 5.x and Go consumers drop their trace
    // records for a message without MSG_REGION; request-reply needs CLUSTER.
    for p in [
        "CLUSTER\u{1}TestCluster",
        "MSG_REGION\u{1}DefaultRegion",
        "TRACE_ON\u{1}true",
    ] {
        assert!(
            got[0].1.contains(p),
            "stored properties lack {p:?}: {:?}",
            got[0].1
        );
    }
    c.shutdown().await;
}

/// SEND_BATCH_MESSAGE (320) with `m=true`: each message keeps its own UNIQ_KEY; the reply's
/// `msgId` lists one offset id per message and `queueOffset` is the first one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_batch_message() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let msgs: Vec<(&[u8], String)> = (0..3)
        .map(|i| {
            (
                b"b".as_slice(),
                // An entry's own MSG_REGION does not survive: the broker stamps its own.
                java_props(&[("UNIQ_KEY", &format!("U{i}")), ("MSG_REGION", "Elsewhere")]),
            )
        })
        .collect();
    let f = send_v2_fields("JBatch", 1, &java_props(&[("WAIT", "true")]), true);
    let r = j
        .call(SEND_BATCH_MESSAGE, &pairs(&f), &java_batch(&msgs))
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    let ids: Vec<&str> = r.field("msgId").split(',').collect();
    assert_eq!(ids.len(), 3);
    assert!(ids
        .iter()
        .all(|id| ferrumq_store::decode_offset_msg_id(id).is_some()));
    assert_eq!((r.field("queueId"), r.num("queueOffset")), ("1", 0));
    wait_max(&mut j, "JBatch", 1, 3).await;
    let got = pull_all(&mut j, "JBatch", 1, 0).await;
    for (i, (offset, props, _)) in got.iter().enumerate() {
        assert_eq!(*offset, i as i64);
        assert!(
            props.contains(&format!("UNIQ_KEY\u{1}U{i}\u{2}")),
            "{props:?}"
        );
        assert!(
            props.contains("MSG_REGION\u{1}DefaultRegion\u{2}"),
            "{props:?}"
        );
        assert!(!props.contains("Elsewhere"), "{props:?}");
    }
    c.shutdown().await;
}

/// 4.9.4+ producers mark compressed bodies with the compression type in sysFlag bits 8-10
/// (ZLIB = 0x300): the record keeps the flag and the body as sent, for the consumer to inflate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_type_bits() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let body = broker_util::zlib(&[b'z'; 8192]);
    let mut f = send_v2_fields("JZip", 0, "", false);
    for (k, v) in f.iter_mut() {
        if k == "f" {
            *v = (0x1 | 0x300).to_string();
        }
    }
    let r = j.call(SEND_MESSAGE_V2, &pairs(&f), &body).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    wait_max(&mut j, "JZip", 0, 1).await;
    let pulled = {
        let f = pull_fields("jpull", "JZip", 0, 0, 0x4, 0);
        j.call(PULL_MESSAGE, &pairs(&f), &[]).await
    };
    let recs = ferrumq_store::message::decode_records(&pulled.body).expect("records");
    assert_eq!(recs[0].sys_flag & 0x301, 0x301);
    assert_eq!(recs[0].body, body.as_slice());
    c.shutdown().await;
}

/// Java ≤ 4.5.0 (`vipChannelEnabled` default true) sends to listenPort-2: sends, offsets,
/// consumer lists and send-backs work there; pulls are refused there, as RocketMQ's fast
/// port does, and go to the main port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vip_channel() {
    let mut c = Cluster::start().await;
    let mut vip = None;
    for _ in 0..5 {
        vip = c.broker.as_ref().and_then(|b| b.vip_addr());
        if vip.is_some() {
            break;
        }
        c.restart_broker().await; // listenPort-2 was taken: try another port
    }
    let vip = vip.expect("a VIP port could be bound").to_string();
    let mut v = JavaConn::connect(&vip, V4_9_8).await;
    let r = send_v2(&mut v, "JVip", "", b"via vip").await;
    assert_eq!(r.code(), 0, "send on the VIP port: {}", r.remark());
    let q: i32 = r.field("queueId").parse().expect("queueId");
    wait_max(&mut v, "JVip", q, 1).await;
    let qs = q.to_string();
    let r = v
        .call(
            QUERY_CONSUMER_OFFSET,
            &[
                ("consumerGroup", "jvip"),
                ("topic", "JVip"),
                ("queueId", &qs),
            ],
            &[],
        )
        .await;
    assert_eq!(r.code(), 0, "offsets on the VIP port: {}", r.remark());

    let mut m = JavaConn::connect(&c.addr(), V4_9_8).await;
    let hb = consumer_heartbeat("10.0.0.9@1#1", "jvip", &[("JVip", "*", 1)]);
    assert_eq!(m.call(HEART_BEAT, &[], &hb).await.code(), 0);
    let r = v
        .call(
            GET_CONSUMER_LIST_BY_GROUP,
            &[("consumerGroup", "jvip")],
            &[],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());

    let f = pull_fields("jvip", "JVip", q, 0, 0x4, 0);
    let r = v.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 3, "pulls are not served on the VIP port");
    let r = m.call(PULL_MESSAGE, &pairs(&f), &[]).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    c.shutdown().await;
}

/// The push consumer's failed message: CONSUMER_SEND_MSG_BACK with every field Java fills
/// (`originMsgId`, `originTopic`, `unitMode`, `maxReconsumeTimes`, `bname`). With
/// maxReconsumeTimes 0 it goes straight to `%DLQ%<group>`, keeping where it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_msg_back_java_fields() {
    let c = Cluster::start().await;
    let sent = c.send_to("JBack", 0, "t", b"poison").await;
    assert_eq!(sent.code, 0);
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let (_, physical) =
        ferrumq_store::decode_offset_msg_id(broker_util::field(&sent, "msgId")).expect("id");
    let phys = physical.to_string();
    let back = [
        ("offset", phys.as_str()),
        ("group", "jback"),
        ("delayLevel", "0"),
        ("originMsgId", "U-1"),
        ("originTopic", "JBack"),
        ("unitMode", "false"),
        ("maxReconsumeTimes", "0"),
        ("bname", "broker-t"),
    ];
    let r = j.call(CONSUMER_SEND_MSG_BACK, &back, &[]).await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    wait_max(&mut j, "%DLQ%jback", 0, 1).await;
    let got = pull_all(&mut j, "%DLQ%jback", 0, 0).await;
    assert_eq!(got[0].2, b"poison");
    assert!(
        got[0].1.contains("RETRY_TOPIC\u{1}JBack\u{2}"),
        "{:?}",
        got[0].1
    );
    c.shutdown().await;
}

/// An orderly consumer past its retries sends the message itself to `%RETRY%<group>` with
/// `j` (reconsumeTimes) and `l` (maxReconsumeTimes) in the V2 header: the broker redirects it
/// to `%DLQ%<group>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_topic_send_to_dlq() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let hb = consumer_heartbeat("10.0.0.3@1#1", "jord", &[("JOrd", "*", 1)]);
    assert_eq!(j.call(HEART_BEAT, &[], &hb).await.code(), 0);
    let mut f = send_v2_fields(
        "%RETRY%jord",
        0,
        &java_props(&[("RETRY_TOPIC", "JOrd")]),
        false,
    );
    for (k, v) in f.iter_mut() {
        match k.as_str() {
            "j" => *v = "16".into(),
            "a" => *v = "jord".into(),
            _ => {}
        }
    }
    f.push(("l".into(), "16".into()));
    let r = j.call(SEND_MESSAGE_V2, &pairs(&f), b"stuck").await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    wait_max(&mut j, "%DLQ%jord", 0, 1).await;
    assert_eq!(pull_all(&mut j, "%DLQ%jord", 0, 0).await[0].2, b"stuck");
    c.shutdown().await;
}

const QUERY_MESSAGE: i32 = 12;
const VIEW_MESSAGE_BY_ID: i32 = 33;
const GET_MIN_OFFSET: i32 = 31;
const GET_EARLIEST_MSG_STORETIME: i32 = 32;
const SEARCH_OFFSET_BY_TIMESTAMP: i32 = 29;

/// `MQAdminImpl`: viewMessage decodes the send reply's offset msgId and asks that broker for
/// the physical offset; queryMessage asks by key, or by UNIQ_KEY with `_UNIQUE_KEY_QUERY`,
/// and reads the two @CFNotNull index fields; a miss is QUERY_NOT_FOUND.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_view_message() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let props = java_props(&[("UNIQ_KEY", "UQ-1"), ("KEYS", "order-7 order-8")]);
    let sent = send_v2(&mut j, "JQueryMsg", &props, b"find me").await;
    assert_eq!(sent.code(), 0, "{}", sent.remark());
    let q: i32 = sent.field("queueId").parse().expect("queueId");
    wait_max(&mut j, "JQueryMsg", q, 1).await;
    let (_, offset) = ferrumq_store::decode_offset_msg_id(sent.field("msgId")).expect("offset id");
    let r = j
        .call(VIEW_MESSAGE_BY_ID, &[("offset", &offset.to_string())], &[])
        .await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(records(&r.body)[0].2, b"find me");

    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        + 60_000)
        .to_string();
    let by = |key: &'static str, unique: &'static str| {
        vec![
            ("topic", "JQueryMsg"),
            ("key", key),
            ("maxNum", "32"),
            ("beginTimestamp", "0"),
            ("endTimestamp", "END"),
            ("_UNIQUE_KEY_QUERY", unique),
        ]
    };
    for (key, unique) in [("order-8", "false"), ("UQ-1", "true")] {
        let mut f = by(key, unique);
        f[4].1 = &now;
        // The dispatcher writes index keys just after the queue entry wait_max saw.
        let mut r = j.call(QUERY_MESSAGE, &f, &[]).await;
        for _ in 0..200 {
            if r.code() != 22 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            r = j.call(QUERY_MESSAGE, &f, &[]).await;
        }
        assert_eq!(r.code(), 0, "{key}: {}", r.remark());
        r.num("indexLastUpdateTimestamp");
        r.num("indexLastUpdatePhyoffset");
        assert_eq!(records(&r.body)[0].2, b"find me");
    }
    let mut f = by("no-such-key", "false");
    f[4].1 = &now;
    assert_eq!(j.call(QUERY_MESSAGE, &f, &[]).await.code(), 22);
    c.shutdown().await;
}

/// `MQAdminImpl` offset lookups (seek, seekToBegin/End, CONSUME_FROM_TIMESTAMP): min, max,
/// earliest store time and search by time, each with its @CFNotNull reply field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_lookups() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    for i in 0..3 {
        assert_eq!(
            c.send_to("JSeek", 0, "a", format!("{i}").as_bytes())
                .await
                .code,
            0
        );
    }
    let tq = [("topic", "JSeek"), ("queueId", "0"), ("bname", "broker-t")];
    let r = j.call(GET_MIN_OFFSET, &tq, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 0));
    let r = j.call(GET_MAX_OFFSET, &tq, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 3));
    let r = j.call(GET_EARLIEST_MSG_STORETIME, &tq, &[]).await;
    assert_eq!(r.code(), 0);
    let first = r.num("timestamp");
    assert!(first > 0);
    let mut s = tq.to_vec();
    let ts = first.to_string();
    s.push(("timestamp", &ts));
    let r = j.call(SEARCH_OFFSET_BY_TIMESTAMP, &s, &[]).await;
    assert_eq!((r.code(), r.num("offset")), (0, 0));
    c.shutdown().await;
}

/// A transactional half message (`TRAN_MSG=true`, sysFlag 0x4) as a Java producer sends it
/// gets SEND_OK and is kept on the half topic, never as a visible message of its topic
/// (commit, rollback and check-back: tests/broker_transaction.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_half_message_is_stored_invisible() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let props = java_props(&[
        ("TRAN_MSG", "true"),
        ("PGROUP", "tx_pg"),
        ("UNIQ_KEY", "TX1"),
    ]);
    let mut f = send_v2_fields("JTx", 0, &props, false);
    for (k, v) in f.iter_mut() {
        if k == "f" {
            *v = "4".into();
        }
    }
    let r = j.call(SEND_MESSAGE_V2, &pairs(&f), b"half").await;
    assert_eq!(r.code(), 0, "SEND_OK for the half message: {}", r.remark());
    // Dispatched to the half queue shortly after the reply.
    let mut half = 0;
    for _ in 0..100 {
        let r = j
            .call(
                GET_MAX_OFFSET,
                &[("topic", "RMQ_SYS_TRANS_HALF_TOPIC"), ("queueId", "0")],
                &[],
            )
            .await;
        half = r.num("offset");
        if half == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(half, 1, "kept as a half message");
    let r = j
        .call(GET_MAX_OFFSET, &[("topic", "JTx"), ("queueId", "0")], &[])
        .await;
    assert_eq!(r.num("offset"), 0, "invisible on its topic until committed");
    c.shutdown().await;
}
