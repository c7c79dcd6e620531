//! Request-reply and message trace habits of the Java client family (and Go's), in raw
//! frames (`docs/compatibility.md` names the test of each habit).

mod broker_util;
mod java_frames;

use broker_util::Cluster;
use ferrumq::broker::BrokerConfig;
use java_frames::*;

const SEND_MESSAGE_V2: i32 = 310;
const HEART_BEAT: i32 = 34;

/// Message trace: with `enableMsgTrace` the client sends trace records to
/// RMQ_SYS_TRACE_TOPIC, through TBW102 when the topic has no route (auto-created), or to the
/// topic the broker creates at start with `traceTopicEnable` (`msgTraceTopicName`). A broker
/// with `traceOn=false` says so in every send reply (`TRACE_ON`), and the client then skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_topic() {
    let c = Cluster::start().await;
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let r = send_v2(&mut j, "RMQ_SYS_TRACE_TOPIC", "", b"Pub\x01trace").await;
    assert_eq!(r.code(), 0, "auto-created trace topic: {}", r.remark());
    assert!(c.route_exists("RMQ_SYS_TRACE_TOPIC").await);
    c.shutdown().await;

    fn no_auto_create(cfg: &mut BrokerConfig) {
        cfg.auto_create_topic_enable = false;
        cfg.trace_topic_enable = true;
        cfg.msg_trace_topic_name = "MyTrace".into();
        cfg.trace_on = false;
    }
    let c = Cluster::start_with(no_auto_create).await;
    assert!(
        c.route_exists("MyTrace").await,
        "trace topic registered at start"
    );
    let mut j = JavaConn::connect(&c.addr(), V4_9_8).await;
    let r = send_v2(&mut j, "MyTrace", "", b"Pub\x01trace").await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(r.field("TRACE_ON"), "false");
    c.shutdown().await;
}

/// Request-reply: the requester's message carries CORRELATION_ID, REPLY_TO_CLIENT and TTL;
/// the broker stamps CLUSTER on it (the replier needs it to build `<cluster>_REPLY_TOPIC`);
/// the replier's SEND_REPLY_MESSAGE_V2 (325) is pushed to the requester's connection as
/// PUSH_REPLY_MESSAGE_TO_CLIENT (326) with every field the Java and Go requesters unbox,
/// stored on the reply topic, and answered like a send. A reply to a client the broker does
/// not know is refused with RocketMQ's remark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply() {
    let c = Cluster::start().await;
    let mut req = JavaConn::connect(&c.addr(), V4_9_8).await;
    let hb = producer_heartbeat("10.0.0.7@req", "req_pg");
    assert_eq!(req.call(HEART_BEAT, &[], &hb).await.code(), 0);
    let props = java_props(&[
        ("CORRELATION_ID", "corr-1"),
        ("REPLY_TO_CLIENT", "10.0.0.7@req"),
        ("TTL", "3000"),
    ]);
    let f = send_v2_fields("JReq", 0, &props, false);
    assert_eq!(
        req.call(SEND_MESSAGE_V2, &pairs(&f), b"ping").await.code(),
        0
    );

    let mut rep = JavaConn::connect(&c.addr(), V4_9_8).await;
    wait_max(&mut rep, "JReq", 0, 1).await;
    let request = pull_all(&mut rep, "JReq", 0, 0).await.remove(0);
    assert!(
        request.1.contains("CLUSTER\u{1}TestCluster\u{2}"),
        "{:?}",
        request.1
    );

    let requester = tokio::spawn(async move {
        let push = req
            .expect_push(326, std::time::Duration::from_secs(10))
            .await
            .expect("PUSH_REPLY_MESSAGE_TO_CLIENT");
        req.respond(&push, 0).await;
        push
    });
    let reply_props = java_props(&[
        ("MSG_TYPE", "reply"),
        ("CORRELATION_ID", "corr-1"),
        ("REPLY_TO_CLIENT", "10.0.0.7@req"),
        ("TTL", "3000"),
    ]);
    let f = send_v2_fields("TestCluster_REPLY_TOPIC", -1, &reply_props, false);
    let r = rep.call(325, &pairs(&f), b"pong").await;
    assert_eq!(r.code(), 0, "{}", r.remark());
    assert_eq!(r.field("queueId"), "0");
    let push = requester.await.expect("requester task");
    assert_eq!(push.body, b"pong");
    for k in [
        "topic",
        "queueId",
        "sysFlag",
        "bornTimestamp",
        "flag",
        "bornHost",
        "storeHost",
        "storeTimestamp",
    ] {
        assert!(
            push.opt_field(k).is_some(),
            "push lacks {k}: {}",
            push.header
        );
    }
    assert!(push
        .field("properties")
        .contains("CORRELATION_ID\u{1}corr-1"));
    assert!(push.field("properties").contains("PUSH_REPLY_TIME\u{1}"));
    assert_eq!(push.field("topic"), "TestCluster_REPLY_TOPIC");
    assert_eq!(push.field("queueId"), r.field("queueId"));
    assert_eq!(push.field("storeHost"), c.addr());
    assert!(
        push.field("bornHost").starts_with("127.0.0.1:"),
        "{}",
        push.header
    );
    assert!(push.num("storeTimestamp") > 0 && push.num("bornTimestamp") > 0);
    assert_eq!((push.num("sysFlag"), push.num("flag")), (0, 0));
    wait_max(&mut rep, "TestCluster_REPLY_TOPIC", 0, 1).await;
    let stored = pull_all(&mut rep, "TestCluster_REPLY_TOPIC", 0, 0).await;
    assert_eq!(
        stored[0].2, b"pong",
        "the reply is stored on the reply topic"
    );

    // A requester that refuses the push: the replier hears why.
    let mut refusing = JavaConn::connect(&c.addr(), V4_9_8).await;
    let hb = producer_heartbeat("10.0.0.8@req", "req_pg");
    assert_eq!(refusing.call(HEART_BEAT, &[], &hb).await.code(), 0);
    let task = tokio::spawn(async move {
        let push = refusing
            .expect_push(326, std::time::Duration::from_secs(10))
            .await;
        if let Some(push) = push {
            refusing.respond(&push, 1).await;
        }
    });
    let props = java_props(&[
        ("MSG_TYPE", "reply"),
        ("CORRELATION_ID", "c3"),
        ("REPLY_TO_CLIENT", "10.0.0.8@req"),
    ]);
    let f = send_v2_fields("TestCluster_REPLY_TOPIC", -1, &props, false);
    let r = rep.call(325, &pairs(&f), b"pong").await;
    assert_eq!(r.code(), 1, "{}", r.remark());
    assert!(r.remark().contains("return code: 1"), "{}", r.remark());
    task.await.expect("refusing requester");

    let lost = java_props(&[
        ("MSG_TYPE", "reply"),
        ("CORRELATION_ID", "c2"),
        ("REPLY_TO_CLIENT", "10.9.9.9@gone"),
    ]);
    let f = send_v2_fields("TestCluster_REPLY_TOPIC", -1, &lost, false);
    let r = rep.call(325, &pairs(&f), b"pong").await;
    assert_eq!(r.code(), 1);
    assert!(
        r.remark().contains("channel of <10.9.9.9@gone> not found"),
        "{}",
        r.remark()
    );
    wait_max(&mut rep, "TestCluster_REPLY_TOPIC", 0, 3).await; // stored all the same
    c.shutdown().await;
}
