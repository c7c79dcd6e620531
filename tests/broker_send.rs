//! SEND_MESSAGE over TCP: the reply, what is stored, batches (plain and zlib-compressed as
//! C++ sends them), auto-creation with immediate registration, and every error answer.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::RequestCode;
use ferrumq_store::message::decode_records;
use ferrumq_store::offset_msg_id;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reply_and_stored_record() {
    let c = Cluster::start().await;
    assert!(!c.route_exists("T_send").await);
    let r = c.send_to("T_send", 2, "TagA", b"hello").await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(field(&r, "queueId"), "2");
    assert_eq!(field(&r, "queueOffset"), "0");
    assert_eq!(field(&r, "MSG_REGION"), "DefaultRegion");
    assert_eq!(field(&r, "TRACE_ON"), "true");
    // Auto-created topics are registered before the reply: consumers look the route up next.
    assert!(
        c.route_exists("T_send").await,
        "auto-created topic not registered at once"
    );

    let p = c.call(pull_request("g", "T_send", 2, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 0, "{:?}", p.remark);
    let recs = decode_records(&p.body).expect("records");
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec.body, b"hello");
    assert_eq!(rec.topic, "T_send");
    assert_eq!(rec.property("TAGS"), Some("TagA"));
    assert_eq!(rec.property("CLUSTER"), Some("TestCluster"));
    // STOREHOST is brokerIP1 and the port actually bound (listenPort 0).
    assert_eq!(rec.store_host.to_string(), c.addr());
    assert_eq!(
        field(&r, "msgId"),
        offset_msg_id(rec.store_host, rec.physical_offset)
    );
    assert!(rec.born_host.ip().is_loopback());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queue_and_four_queues_from_tbw102() {
    let c = Cluster::start().await;
    for _ in 0..20 {
        let r = c.send("T_rand", "", b"x").await;
        assert_eq!(r.code, 0);
        let q: i32 = field(&r, "queueId").parse().unwrap();
        assert!(
            (0..4).contains(&q),
            "queue {q} outside the 4 auto-created queues"
        );
    }
    let r = c.send_to("T_rand", 4, "", b"x").await;
    assert_eq!(
        r.code, 1,
        "queue id beyond the topic's queues is SYSTEM_ERROR"
    );
    c.shutdown().await;
}

fn three_entries() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..3 {
        body.extend(batch_entry(
            format!("m{i}").as_bytes(),
            &props(&[("KEYS", &format!("k{i}"))]),
        ));
    }
    body
}

async fn check_batch_stored(c: &Cluster, topic: &str, r: &ferrumq::protocol::RemotingCommand) {
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(field(r, "msgId").split(',').count(), 3);
    c.wait_dispatched(topic, 1, 3).await;
    let p = c.call(pull_request("g", topic, 1, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 0, "{:?}", p.remark);
    let recs = decode_records(&p.body).unwrap();
    assert_eq!(recs.len(), 3);
    for (i, rec) in recs.iter().enumerate() {
        assert_eq!(rec.body, format!("m{i}").as_bytes());
        assert_eq!(rec.property("KEYS"), Some(format!("k{i}").as_str()));
        assert_eq!(rec.queue_offset, i as i64);
        assert_eq!(rec.sys_flag & 1, 0, "stored entries are not compressed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_plain_and_compressed() {
    let c = Cluster::start().await;
    let r = c
        .call(send_request("T_batch", 1, "", three_entries(), true))
        .await;
    check_batch_stored(&c, "T_batch", &r).await;

    let mut req = send_request("T_zbatch", 1, "", zlib(&three_entries()), true);
    req.ext_fields.insert("sysFlag", "1");
    let r = c.call(req).await;
    check_batch_stored(&c, "T_zbatch", &r).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_errors() {
    let c = Cluster::start_with(|cfg| cfg.store.max_message_size = 1024).await;
    let r = c.send("SCHEDULE_TOPIC_XXXX", "", b"x").await;
    assert_eq!(r.code, 16, "forbidden topic: NO_PERMISSION");
    let r = c.send("bad topic!", "", b"x").await;
    assert_eq!(r.code, 1, "illegal name: SYSTEM_ERROR");
    let r = c.send("T_big", "", &vec![7u8; 2048]).await;
    assert_eq!(r.code, 13, "oversize: MESSAGE_ILLEGAL");
    assert!(r.remark.unwrap_or_default().contains("2048"));
    let mut bad = three_entries();
    bad.truncate(bad.len() - 3);
    let r = c.call(send_request("T_b", 0, "", bad, true)).await;
    assert_eq!(r.code, 13, "malformed batch: MESSAGE_ILLEGAL");
    let mut req = send_request("T_z", 0, "", b"not zlib".to_vec(), true);
    req.ext_fields.insert("sysFlag", "1");
    assert_eq!(
        c.call(req).await.code,
        13,
        "bad compressed batch: MESSAGE_ILLEGAL"
    );
    let mut req = send_request("T_x", 0, "", b"x".to_vec(), false);
    req.ext_fields.remove("topic");
    assert_eq!(
        c.call(req).await.code,
        1,
        "missing required field: SYSTEM_ERROR"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auto_create_and_slave() {
    let c = Cluster::start_with(|cfg| cfg.auto_create_topic_enable = false).await;
    assert_eq!(
        c.send("T_unknown", "", b"x").await.code,
        17,
        "TOPIC_NOT_EXIST"
    );
    c.shutdown().await;
    let c = Cluster::start_with(|cfg| cfg.broker_role = ferrumq::broker::config::BrokerRole::Slave)
        .await;
    assert_eq!(
        c.send("T_s", "", b"x").await.code,
        14,
        "slave: SERVICE_NOT_AVAILABLE"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_code_is_not_supported() {
    let c = Cluster::start().await;
    let r = c.call(request(RequestCode::from(9999), &[])).await;
    assert_eq!(r.code, 3);
    c.shutdown().await;
}
