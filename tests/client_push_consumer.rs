//! The SDK's push consumer against a real NameServer and broker: two consumers of a group
//! split the queues with RocketMQ's average allocation and consume everything once; a
//! "reconsume later" comes back through the retry topic; shutdown commits and leaves.

mod broker_util;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_util::*;
use ferrumq::client::{
    allocate_averagely, ConsumeResult, Message, MessageQueue, Producer, PushConsumer,
};

fn mq(id: i32) -> MessageQueue {
    MessageQueue {
        topic: "T".into(),
        broker_name: "b".into(),
        queue_id: id,
    }
}

#[test]
fn average_allocation_matches_rocketmq() {
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let eight: Vec<MessageQueue> = (0..8).map(mq).collect();
    let share = |me| allocate_averagely(&eight, &ids, me);
    assert_eq!(share("a"), (0..3).map(mq).collect::<Vec<_>>());
    assert_eq!(share("b"), (3..6).map(mq).collect::<Vec<_>>());
    assert_eq!(share("c"), (6..8).map(mq).collect::<Vec<_>>());
    let two: Vec<MessageQueue> = (0..2).map(mq).collect();
    assert_eq!(allocate_averagely(&two, &ids, "c"), Vec::new());
    assert_eq!(
        allocate_averagely(&two, &ids, "x"),
        Vec::new(),
        "not in the group"
    );
}

async fn start(c: &Cluster, seen: Seen) -> PushConsumer {
    PushConsumer::builder(&c.namesrv_addr())
        .group("push-g")
        .subscribe("PushTopic", "*")
        .start(counting(seen))
        .await
        .unwrap()
}

async fn wait_until(what: &str, ok: impl FnMut() -> bool) {
    wait_until_within(what, Duration::from_secs(15), ok).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_splits_the_queues_and_consumes_everything_once() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    // The topic exists (4 queues) before the consumers look for it.
    p.send(Message::new("PushTopic", "warm-up")).await.unwrap();
    let seen: Seen = Default::default();
    let a = start(&c, seen.clone()).await;
    let b = start(&c, seen.clone()).await;
    // B's arrival is announced to A (NOTIFY_CONSUMER_IDS_CHANGED): both rebalance.
    wait_until("a split of the 4 queues", || {
        let (qa, qb) = (a.assigned(), b.assigned());
        let user = |s: &BTreeSet<MessageQueue>| s.iter().filter(|q| q.topic == "PushTopic").count();
        user(&qa) == 2 && user(&qb) == 2 && qa.is_disjoint(&qb)
    })
    .await;
    for i in 0..40 {
        p.send(Message::new("PushTopic", format!("m{i}")))
            .await
            .unwrap();
    }
    wait_until("40 messages", || {
        (0..40).all(|i| seen.lock().unwrap().contains_key(&format!("m{i}")))
    })
    .await;
    let dup: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, n)| k.starts_with('m') && **n > 1)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(dup.is_empty(), "delivered twice: {dup:?}");
    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconsume_later_comes_back_through_the_retry_topic() {
    let c = Cluster::start_with(|cfg| {
        cfg.store.message_delay_level_ms = vec![100; 18];
    })
    .await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("PushTopic", "warm-up")).await.unwrap();
    let attempts: Arc<Mutex<Vec<(i32, String, String)>>> = Default::default();
    let seen = attempts.clone();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("push-retry")
        .subscribe("PushTopic", "*")
        .start(move |m| {
            let seen = seen.clone();
            async move {
                if &m.body[..] != b"again" {
                    return ConsumeResult::Success;
                }
                seen.lock().unwrap().push((
                    m.reconsume_times,
                    m.topic.clone(),
                    m.queue.topic.clone(),
                ));
                if m.reconsume_times == 0 {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .await
        .unwrap();
    wait_until("queues assigned", || {
        assigned_count(&consumer, "PushTopic") == 4
    })
    .await;
    p.send(Message::new("PushTopic", "again")).await.unwrap();
    wait_until("a second delivery", || attempts.lock().unwrap().len() >= 2).await;
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts[0], (0, "PushTopic".into(), "PushTopic".into()));
    // The redelivery comes through the retry topic, shown under its own topic.
    assert_eq!(
        attempts[1],
        (1, "PushTopic".into(), "%RETRY%push-retry".into())
    );
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_running_info_and_applies_an_offset_reset() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("PushAdmin", "warm-up")).await.unwrap();
    let seen: Seen = Default::default();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("push-admin")
        .subscribe("PushAdmin", "*")
        .start(counting(seen.clone()))
        .await
        .unwrap();
    wait_until("queues assigned", || {
        assigned_count(&consumer, "PushAdmin") == 4
    })
    .await;
    for i in 0..5 {
        p.send(Message::new("PushAdmin", format!("r{i}")))
            .await
            .unwrap();
    }
    wait_until("5 messages", || seen.lock().unwrap().len() >= 5).await;

    // mqadmin consumerStatus: the broker forwards the question to this client.
    let r = c
        .call(request(
            ferrumq::protocol::RequestCode::GetConsumerRunningInfo,
            &[
                ("consumerGroup", "push-admin"),
                ("clientId", consumer.client_id()),
            ],
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    let info = String::from_utf8_lossy(&r.body).into_owned();
    assert!(info.contains(r#""PROP_CLIENT_VERSION":"V4_9_8""#), "{info}");
    assert!(info.contains(r#""topic":"PushAdmin"}:{"#), "{info}");

    // mqadmin resetOffsetByTime to the start: every message comes again.
    let r = c
        .call(request(
            ferrumq::protocol::RequestCode::InvokeBrokerToResetOffset,
            &[
                ("topic", "PushAdmin"),
                ("group", "push-admin"),
                ("timestamp", "0"),
                ("isForce", "true"),
            ],
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    wait_until("redelivery after the reset", || {
        let s = seen.lock().unwrap();
        (0..5).all(|i| s.get(&format!("r{i}")).copied().unwrap_or(0) >= 2)
    })
    .await;
    consumer.shutdown().await;
    c.shutdown().await;
}

async fn broadcaster(c: &Cluster, file: std::path::PathBuf, seen: Seen) -> PushConsumer {
    PushConsumer::builder(&c.namesrv_addr())
        .group("push-bc")
        .subscribe("PushBc", "*")
        .broadcasting(file)
        .start(counting(seen))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_gives_every_consumer_every_message() {
    let c = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("PushBc", "warm-up")).await.unwrap();
    let (sa, sb): (Seen, Seen) = Default::default();
    let a = broadcaster(&c, dir.path().join("a.json"), sa.clone()).await;
    let b = broadcaster(&c, dir.path().join("b.json"), sb.clone()).await;
    assert_eq!(a.assigned().len(), 4, "all queues, not a share");
    assert_eq!(b.assigned().len(), 4);
    for i in 0..10 {
        p.send(Message::new("PushBc", format!("m{i}")))
            .await
            .unwrap();
    }
    let all = |s: &Seen| (0..10).all(|i| s.lock().unwrap().get(&format!("m{i}")) == Some(&1));
    wait_until("both got all 10", || all(&sa) && all(&sb)).await;
    a.shutdown().await;
    b.shutdown().await;
    // Positions were saved locally: a consumer on a's file does not see them again.
    let again: Seen = Default::default();
    let a2 = broadcaster(&c, dir.path().join("a.json"), again.clone()).await;
    p.send(Message::new("PushBc", "new")).await.unwrap();
    wait_until("the new one", || again.lock().unwrap().contains_key("new")).await;
    assert_eq!(
        again.lock().unwrap().len(),
        1,
        "{:?}",
        again.lock().unwrap()
    );
    a2.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_consumption_keeps_order_and_moves_a_poison_message_to_the_dlq() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("PushOrder", "warm-up")).await.unwrap();
    let order: Arc<Mutex<Vec<String>>> = Default::default();
    let seen = order.clone();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("push-order")
        .subscribe("PushOrder", "*")
        .orderly()
        .max_reconsume_times(2)
        .start(move |m| {
            let seen = seen.clone();
            async move {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                seen.lock().unwrap().push(body.clone());
                if body == "poison" {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .await
        .unwrap();
    wait_until("locked queues", || {
        assigned_count(&consumer, "PushOrder") == 4
    })
    .await;
    let mut queue = None;
    for body in ["o0", "o1", "poison", "o2", "o3"] {
        let sent = p
            .send_orderly(Message::new("PushOrder", body), "customer-9")
            .await
            .unwrap();
        queue = Some(sent.queue);
    }
    wait_until("o3 after the poison", || {
        order.lock().unwrap().contains(&"o3".to_string())
    })
    .await;
    let got = order.lock().unwrap().clone();
    let mine: Vec<&str> = got
        .iter()
        .map(String::as_str)
        .filter(|b| *b != "warm-up")
        .collect();
    assert_eq!(
        mine,
        ["o0", "o1", "poison", "poison", "poison", "o2", "o3"],
        "in order; the poison tried 1 + 2 times"
    );
    // The poison message waits in the group's DLQ.
    let q = queue.unwrap();
    let mut in_dlq = false;
    for _ in 0..50 {
        let r = c
            .call(pull_request(
                "dlq-reader",
                "%DLQ%push-order",
                0,
                0,
                0x4,
                "*",
                0,
            ))
            .await;
        if r.response_code() == ferrumq::protocol::ResponseCode::Success {
            let recs = ferrumq_store::message::decode_records(&r.body).unwrap();
            in_dlq = recs.iter().any(|m| m.body == b"poison");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(in_dlq, "poison not in the DLQ (queue {q:?})");
    consumer.shutdown().await;
    c.shutdown().await;
}
