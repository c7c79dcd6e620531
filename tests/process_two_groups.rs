//! Process test with the real binaries: one cluster of two broker groups. The SDK's producer
//! spreads sends over both groups and, when one group's master is killed, goes on sending
//! to the other (no send fails); the SDK's consumer allocates the queues of both groups and
//! receives every acknowledged message once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrumq::client::{ConsumeResult, Message, Producer, PushConsumer, SendStatus};
use process_util::{start_broker, start_namesrv};

mod process_util;

const TOPIC: &str = "TwoGroups";

type Seen = Arc<Mutex<BTreeMap<String, usize>>>;

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `n` messages `{prefix}{i}`; every one must be acknowledged. Returns how many went
/// to each group.
async fn send_all(p: &Producer, prefix: &str, n: usize) -> BTreeMap<String, usize> {
    let mut per_group = BTreeMap::new();
    for i in 0..n {
        let r = p
            .send(Message::new(TOPIC, format!("{prefix}{i:03}")))
            .await
            .unwrap_or_else(|e| panic!("{prefix}{i}: {e}"));
        assert_eq!(r.status, SendStatus::SendOk);
        *per_group.entry(r.queue.broker_name).or_insert(0) += 1;
    }
    per_group
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_move_to_the_other_group_when_one_master_dies() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(root.path());
    let ns = format!("127.0.0.1:{ns_port}");
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let (a, _) = start_broker(&a_dir, ns_port, "brokerName=group-a");
    let (_b, _) = start_broker(&b_dir, ns_port, "brokerName=group-b");
    let mut a = Some(a);

    // The producer retries a failed send on another group once (the one that just failed
    // is avoided, then paused for 30 s).
    let producer = Producer::builder(&ns).build().unwrap();
    // The topic on both groups, 4 queues each.
    let admin = ferrumq::client::Admin::new(&ns).unwrap();
    admin.create_topic("PC", TOPIC, 4).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while admin
        .topic_route(TOPIC)
        .await
        .map_or(0, |r| r.broker_datas.len())
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the route never listed both groups"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let seen: Seen = Default::default();
    let counted = seen.clone();
    let consumer = PushConsumer::builder(&ns)
        .group("two-groups")
        .subscribe(TOPIC, "*")
        .start(move |m| {
            let seen = counted.clone();
            async move {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                *seen.lock().unwrap().entry(body).or_insert(0) += 1;
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    // Its share: every queue of both groups.
    until("8 queues assigned", || {
        consumer
            .assigned()
            .iter()
            .filter(|q| q.topic == TOPIC)
            .count()
            == 8
    })
    .await;

    let spread = send_all(&producer, "x", 200).await;
    assert_eq!(spread.len(), 2, "sends did not use both groups: {spread:?}");
    until("the first 200", || {
        seen.lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with('x'))
            .count()
            == 200
    })
    .await;

    // Group a's master dies: the producer moves to group b, none of its sends fails.
    drop(a.take()); // kill -9
    let after = send_all(&producer, "y", 200).await;
    assert_eq!(
        after.get("group-a"),
        None,
        "sent to the dead group: {after:?}"
    );
    until("the next 200", || {
        seen.lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with('y'))
            .count()
            == 200
    })
    .await;
    let twice: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(twice.is_empty(), "consumed twice: {twice:?}");
    consumer.shutdown().await;
}
