//! The SDK's producer against a real NameServer and broker over TCP: what it stores (tags,
//! keys, properties, message id), ordering by key, batches, delay and timer messages,
//! refusals, and a broker restart mid-stream (the route is looked up again).

mod broker_util;

use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{ClientError, Message, Producer, SendStatus};
use ferrumq::protocol::ResponseCode;
use ferrumq_store::message::{decode_records, find_property};

fn producer(c: &Cluster) -> Producer {
    Producer::builder(&c.namesrv_addr())
        .group("sdk-pg")
        .send_timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// (body, properties) of everything on one queue.
async fn queue_contents(c: &Cluster, topic: &str, queue: i32) -> Vec<(String, String)> {
    let r = c
        .call(pull_request("sdk-check", topic, queue, 0, 0x4, "*", 0))
        .await;
    if r.response_code() != ResponseCode::Success {
        return Vec::new();
    }
    decode_records(&r.body)
        .unwrap()
        .iter()
        .map(|m| {
            (
                String::from_utf8_lossy(m.body).into_owned(),
                m.properties.to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn send_stores_tags_keys_properties_and_a_message_id() {
    let c = Cluster::start().await;
    let p = producer(&c);
    let sent = p
        .send(
            Message::new("SdkTopic", "hello")
                .with_tags("TagA")
                .with_keys(["k1", "k2"])
                .with_property("region", "hz"),
        )
        .await
        .unwrap();
    assert_eq!(sent.status, SendStatus::SendOk);
    assert_eq!(sent.msg_id.len(), 32);
    assert_eq!(sent.queue.topic, "SdkTopic");
    c.wait_dispatched("SdkTopic", sent.queue.queue_id, sent.queue_offset + 1)
        .await;
    let stored = queue_contents(&c, "SdkTopic", sent.queue.queue_id).await;
    let (body, props) = stored.last().unwrap();
    assert_eq!(body, "hello");
    assert_eq!(find_property(props, "TAGS"), Some("TagA"));
    assert_eq!(find_property(props, "KEYS"), Some("k1 k2"));
    assert_eq!(find_property(props, "region"), Some("hz"));
    assert_eq!(find_property(props, "UNIQ_KEY"), Some(sent.msg_id.as_str()));
    // Found by key, as QUERY_MESSAGE tools look it up.
    c.shutdown().await;
}

#[tokio::test]
async fn the_same_key_goes_to_the_same_queue_in_order() {
    let c = Cluster::start().await;
    let p = producer(&c);
    let mut queue = None;
    for i in 0..10 {
        let sent = p
            .send_orderly(Message::new("SdkOrder", format!("o{i}")), "order-7")
            .await
            .unwrap();
        assert!(queue.is_none() || queue == Some(sent.queue.clone()));
        queue = Some(sent.queue);
    }
    let q = queue.unwrap();
    c.wait_dispatched("SdkOrder", q.queue_id, 10).await;
    let bodies: Vec<String> = queue_contents(&c, "SdkOrder", q.queue_id)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    let want: Vec<String> = (0..10).map(|i| format!("o{i}")).collect();
    assert_eq!(bodies, want);
    c.shutdown().await;
}

#[tokio::test]
async fn a_batch_is_stored_together() {
    let c = Cluster::start().await;
    let p = producer(&c);
    let msgs = (0..3)
        .map(|i| Message::new("SdkBatch", format!("b{i}")).with_tags("T"))
        .collect();
    let sent = p.send_batch(msgs).await.unwrap();
    assert_eq!(sent.msg_id.split(',').count(), 3);
    c.wait_dispatched("SdkBatch", sent.queue.queue_id, sent.queue_offset + 3)
        .await;
    let stored = queue_contents(&c, "SdkBatch", sent.queue.queue_id).await;
    let bodies: Vec<&str> = stored.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(bodies, ["b0", "b1", "b2"]);
    let ids: Vec<&str> = sent.msg_id.split(',').collect();
    for ((_, props), id) in stored.iter().zip(ids) {
        assert_eq!(find_property(props, "UNIQ_KEY"), Some(id));
    }
    c.shutdown().await;
}

#[tokio::test]
async fn timer_messages_arrive_after_their_delay() {
    let c = Cluster::start().await;
    let p = producer(&c);
    let begin = Instant::now();
    let sent = p
        .send(Message::new("SdkTimer", "later").deliver_after(Duration::from_millis(700)))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = queue_contents(&c, "SdkTimer", sent.queue.queue_id).await;
        if !got.is_empty() {
            assert_eq!(got[0].0, "later");
            break;
        }
        assert!(Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        begin.elapsed() >= Duration::from_millis(700),
        "delivered early"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn bad_messages_and_configs_are_refused_before_sending() {
    let c = Cluster::start().await;
    let p = producer(&c);
    for (msg, why) in [
        (Message::new("", "x"), "topic"),
        (Message::new("T", ""), "empty"),
        (
            Message::new("T", "x").with_property("UNIQ_KEY", "mine"),
            "reserved",
        ),
        (
            Message::new("T", "x").with_property("a\u{1}b", "v"),
            "separator",
        ),
    ] {
        let e = p.send(msg).await.unwrap_err();
        assert!(
            matches!(&e, ClientError::InvalidMessage(m) if m.contains(why)),
            "{e}"
        );
    }
    let small = Producer::builder(&c.namesrv_addr())
        .max_message_size(4)
        .build()
        .unwrap();
    assert!(small.send(Message::new("T", "12345")).await.is_err());
    assert!(Producer::builder("").build().is_err());
    assert!(Producer::builder("127.0.0.1:1").group(" ").build().is_err());
    // Beyond the broker's timer limit: the broker's code and remark come back.
    let e = p
        .send(Message::new("SdkTimer", "far").deliver_after(Duration::from_secs(400 * 86_400)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ResponseCode::MessageIllegal), "{e}");
    c.shutdown().await;
}

#[tokio::test]
async fn sends_go_on_after_a_broker_restart() {
    let mut c = Cluster::start().await;
    let p = producer(&c);
    p.send(Message::new("SdkRestart", "before")).await.unwrap();
    // The restarted broker listens on a new port: the cached route is stale, the failed
    // attempt drops it, and a retry finds the broker again once it has registered.
    c.restart_broker().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match p.send(Message::new("SdkRestart", "after")).await {
            Ok(sent) => {
                assert_eq!(sent.status, SendStatus::SendOk);
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "still failing: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    c.shutdown().await;
}

#[tokio::test]
async fn fresh_producers_do_not_all_start_on_the_same_queue() {
    let c = Cluster::start().await;
    let first = Producer::builder(&c.namesrv_addr()).build().unwrap();
    first.send(Message::new("Spread", "create")).await.unwrap();
    // Ten short-lived producers (a CLI run each), one send each: with RocketMQ's random
    // first queue they land on several of the 4 queues (all on one: 1 in 4^9).
    let mut queues = std::collections::BTreeSet::new();
    for i in 0..10 {
        let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
        let sent = p
            .send(Message::new("Spread", format!("m{i}")))
            .await
            .unwrap();
        queues.insert(sent.queue.queue_id);
    }
    assert!(
        queues.len() > 1,
        "every fresh producer chose queue {queues:?}"
    );
    c.shutdown().await;
}
