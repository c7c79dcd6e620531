//! Delayed messages and CONSUMER_SEND_MSG_BACK over TCP: a DELAY message shows up on its
//! topic only after the level's delay; a sent-back message comes back on %RETRY%<group>.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::RequestCode;
use ferrumq_store::message::decode_records;

fn short_levels(cfg: &mut ferrumq::broker::BrokerConfig) {
    // Level 1 = 400 ms, level 2..4 short as well, so send-back (3 + reconsumeTimes) is quick.
    cfg.store.message_delay_level_ms = vec![400, 200, 200, 200, 200];
}

/// Level 1 is an hour on a clock the test moves: the message cannot show up before the test
/// advances it, however slow the machine, and shows up once it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_message_arrives_after_its_delay() {
    let clock = ferrumq::broker::clock::BrokerClock::shiftable();
    let mut c = Cluster::start_with(|cfg| {
        cfg.store.message_delay_level_ms = vec![3_600_000, 200, 200, 200, 200];
    })
    .await;
    // Cluster::start_with takes a fn pointer: restart the broker on the shiftable clock.
    c.restart_broker_with(|cfg| cfg.clock = clock.clone()).await;
    let r = c
        .call(send_request(
            "T_delay",
            0,
            &props(&[("DELAY", "1"), ("TAGS", "A")]),
            b"later".to_vec(),
            false,
        ))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    c.wait_dispatched("SCHEDULE_TOPIC_XXXX", 0, 1).await;
    let p = c
        .call(pull_request("g", "T_delay", 0, 0, 0x4, "*", 0))
        .await;
    assert_eq!(p.code, 19, "not visible before its delay");
    clock.advance(3_600_000);
    c.wait_dispatched("T_delay", 0, 1).await;
    let p = c
        .call(pull_request("g", "T_delay", 0, 0, 0x4, "A", 0))
        .await;
    assert_eq!(p.code, 0, "tag code recomputed on delivery: {:?}", p.remark);
    let recs = decode_records(&p.body).unwrap();
    assert_eq!(recs[0].body, b"later");
    assert_eq!(recs[0].property("REAL_TOPIC"), Some("T_delay"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_goes_to_retry_topic() {
    let c = Cluster::start_with(short_levels).await;
    let r = c.send_to("T_back", 0, "", b"fail me").await;
    let (_, phys) = ferrumq_store::decode_offset_msg_id(field(&r, "msgId")).unwrap();
    let back = request(
        RequestCode::ConsumerSendMsgBack,
        &[
            ("group", "g_back"),
            ("offset", &phys.to_string()),
            ("delayLevel", "0"),
        ],
    );
    let resp = c.call(back).await;
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
    c.wait_dispatched("%RETRY%g_back", 0, 1).await;
    let p = c
        .call(pull_request("g_back", "%RETRY%g_back", 0, 0, 0x4, "*", 0))
        .await;
    assert_eq!(p.code, 0);
    let recs = decode_records(&p.body).unwrap();
    assert_eq!(recs[0].body, b"fail me");
    assert_eq!(recs[0].reconsume_times, 1);
    assert_eq!(recs[0].property("RETRY_TOPIC"), Some("T_back"));
    assert!(recs[0].property("ORIGIN_MESSAGE_ID").is_some());

    let bad = request(
        RequestCode::ConsumerSendMsgBack,
        &[
            ("group", "g_back"),
            ("offset", "987654321"),
            ("delayLevel", "0"),
        ],
    );
    assert_eq!(
        c.call(bad).await.code,
        1,
        "no message at that offset: SYSTEM_ERROR"
    );
    c.shutdown().await;
}
