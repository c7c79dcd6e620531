//! PULL_MESSAGE over TCP: tag filtering, the status table, heartbeat subscriptions,
//! the commit-offset flag, and long polling woken by a send.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::RequestCode;
use ferrumq_store::message::decode_records;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filter_and_status_codes() {
    let c = Cluster::start().await;
    for i in 0..9 {
        let tag = ["TagA", "TagB", "TagC"][i % 3];
        assert_eq!(
            c.send_to("T_tags", 0, tag, format!("{i}").as_bytes())
                .await
                .code,
            0
        );
    }
    // Expression with blanks around `||`, as C++ sends it.
    let p = c
        .call(pull_request("g", "T_tags", 0, 0, 0x4, "TagA || TagC", 0))
        .await;
    assert_eq!(p.code, 0, "{:?}", p.remark);
    let tags: Vec<String> = decode_records(&p.body)
        .unwrap()
        .iter()
        .map(|r| r.property("TAGS").unwrap().to_string())
        .collect();
    assert_eq!(tags.len(), 6);
    assert!(tags.iter().all(|t| t == "TagA" || t == "TagC"));
    assert_eq!(field_i64(&p, "nextBeginOffset"), 9);
    assert_eq!(field_i64(&p, "maxOffset"), 9);
    assert_eq!(field_i64(&p, "minOffset"), 0);
    assert_eq!(field(&p, "suggestWhichBrokerId"), "0");

    let p = c.call(pull_request("g", "T_tags", 0, 9, 0x4, "*", 0)).await;
    assert_eq!(p.code, 19, "at the end without suspend: PULL_NOT_FOUND");
    let p = c
        .call(pull_request("g", "T_tags", 0, 50, 0x4, "*", 0))
        .await;
    assert_eq!(p.code, 21, "past the end: PULL_OFFSET_MOVED");
    assert_eq!(field_i64(&p, "nextBeginOffset"), 9);
    let p = c
        .call(pull_request("g", "T_tags", 0, 0, 0x4, "TagZ", 0))
        .await;
    assert_eq!(p.code, 20, "nothing matched: PULL_RETRY_IMMEDIATELY");
    let p = c.call(pull_request("g", "T_tags", 1, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 19, "empty queue at offset 0: PULL_NOT_FOUND");
    let p = c.call(pull_request("g", "T_tags", 7, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 1, "queue id out of range: SYSTEM_ERROR");
    let p = c.call(pull_request("g", "T_none", 0, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 17, "unknown topic: TOPIC_NOT_EXIST");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_subscription_is_used_without_flag() {
    let c = Cluster::start().await;
    c.send_to("T_hb", 0, "TagA", b"a").await;
    c.send_to("T_hb", 0, "TagB", b"b").await;
    let p = c.call(pull_request("g_hb", "T_hb", 0, 0, 0, "", 0)).await;
    assert_eq!(p.code, 24, "no heartbeat yet: SUBSCRIPTION_NOT_EXIST");
    let hb = request(RequestCode::HeartBeat, &[])
        .with_body(heartbeat_body("c1", "g_hb", "T_hb", "TagB"));
    assert_eq!(c.call(hb).await.code, 0);
    let p = c.call(pull_request("g_hb", "T_hb", 0, 0, 0, "", 0)).await;
    assert_eq!(p.code, 0, "{:?}", p.remark);
    let recs = decode_records(&p.body).unwrap();
    assert_eq!(
        recs.len(),
        1,
        "the heartbeat's TagB subscription filters (codes recomputed)"
    );
    assert_eq!(recs[0].body, b"b");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_offset_flag_stores_offset() {
    let c = Cluster::start().await;
    c.send_to("T_commit", 0, "", b"a").await;
    let mut req = pull_request("g_c", "T_commit", 0, 1, 0x1 | 0x4, "*", 0);
    req.ext_fields.insert("commitOffset", "1");
    assert_eq!(c.call(req).await.code, 19);
    let q = request(
        RequestCode::QueryConsumerOffset,
        &[
            ("consumerGroup", "g_c"),
            ("topic", "T_commit"),
            ("queueId", "0"),
        ],
    );
    let r = c.call(q).await;
    assert_eq!(r.code, 0);
    assert_eq!(field_i64(&r, "offset"), 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_is_answered_by_a_send() {
    let c = Cluster::start().await;
    assert_eq!(c.send_to("T_lp", 0, "", b"first").await.code, 0);
    // Held for up to 20 s; a timeout would answer PULL_NOT_FOUND, the send must wake it.
    let pull = pull_request("g_lp", "T_lp", 0, 1, 0x2 | 0x4, "*", 20_000);
    let client = c.client.clone();
    let addr = c.addr();
    let held = tokio::spawn(async move { client.invoke(&addr, pull, TIMEOUT * 3).await });
    c.wait_suspended(1).await;
    assert!(!held.is_finished(), "the pull was not suspended");
    assert_eq!(c.send_to("T_lp", 0, "", b"second").await.code, 0);
    let p = held.await.unwrap().unwrap();
    assert_eq!(
        p.code, 0,
        "woken pull found the new message: {:?}",
        p.remark
    );
    let recs = decode_records(&p.body).unwrap();
    assert_eq!(recs[0].body, b"second");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_suspend_times_out_not_found() {
    let c = Cluster::start().await;
    c.send_to("T_to", 0, "", b"x").await;
    let p = c
        .call(pull_request("g", "T_to", 0, 1, 0x2 | 0x4, "*", 200))
        .await;
    assert_eq!(
        p.code, 19,
        "suspended pull with no data ends PULL_NOT_FOUND"
    );
    c.shutdown().await;
}
