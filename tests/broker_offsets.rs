//! Offset requests over TCP: the "answer 0" rule, commits, persistence across a clean
//! restart (config/consumerOffset.json), max/min offsets, time search, earliest time.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::RequestCode;

fn tq<'a>(topic: &'a str, queue: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("topic", topic), ("queueId", queue)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_update_and_persist_across_restart() {
    let mut c = Cluster::start().await;
    for _ in 0..3 {
        c.send_to("T_off", 0, "", b"x").await;
    }
    let query = || {
        request(
            RequestCode::QueryConsumerOffset,
            &[("consumerGroup", "g"), ("topic", "T_off"), ("queueId", "0")],
        )
    };
    let r = c.call(query()).await;
    assert_eq!(
        (r.code, field_i64(&r, "offset")),
        (0, 0),
        "new group, queue starts at 0: offset 0"
    );

    let mut upd = request(
        RequestCode::UpdateConsumerOffset,
        &[
            ("consumerGroup", "g"),
            ("topic", "T_off"),
            ("queueId", "0"),
            ("commitOffset", "2"),
        ],
    );
    upd.mark_oneway();
    c.client.invoke_oneway(&c.addr(), upd).await.unwrap();
    // A request on the same connection after the oneway one is processed later or at once.
    let mut got = 0;
    for _ in 0..50 {
        let r = c.call(query()).await;
        got = field_i64(&r, "offset");
        if got == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got, 2);

    c.restart_broker().await;
    let file = c.dir.path().join("store/config/consumerOffset.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("T_off@g"), "{text}");
    let r = c.call(query()).await;
    assert_eq!(
        field_i64(&r, "offset"),
        2,
        "offset survives a clean restart"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_min_search_earliest() {
    let c = Cluster::start().await;
    let before = ferrumq::broker::topic_config::now_ms();
    for _ in 0..5 {
        c.send_to("T_mm", 1, "", b"x").await;
    }
    let r = c
        .call(request(RequestCode::GetMaxOffset, &tq("T_mm", "1")))
        .await;
    assert_eq!((r.code, field_i64(&r, "offset")), (0, 5));
    let r = c
        .call(request(RequestCode::GetMinOffset, &tq("T_mm", "1")))
        .await;
    assert_eq!((r.code, field_i64(&r, "offset")), (0, 0));
    let r = c
        .call(request(
            RequestCode::GetEarliestMsgStoretime,
            &tq("T_mm", "1"),
        ))
        .await;
    assert_eq!(r.code, 0);
    assert!(field_i64(&r, "timestamp") >= before - 1000);
    let mut fields = tq("T_mm", "1");
    fields.push(("timestamp", "0"));
    let r = c
        .call(request(RequestCode::SearchOffsetByTimestamp, &fields))
        .await;
    assert_eq!((r.code, field_i64(&r, "offset")), (0, 0));
    let r = c
        .call(request(RequestCode::GetMaxOffset, &[("topic", "T_mm")]))
        .await;
    assert_eq!(r.code, 1, "missing queueId: SYSTEM_ERROR");
    let r = c
        .call(request(RequestCode::GetAllConsumerOffset, &[]))
        .await;
    assert_eq!(r.code, 0);
    assert!(String::from_utf8_lossy(&r.body).contains("offsetTable"));
    c.shutdown().await;
}
