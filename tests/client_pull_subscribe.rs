//! The SDK's pull consumer in subscribe mode, against a real NameServer and broker: two
//! consumers of a group split a topic's queues and read every message once; when one shuts
//! down the other takes its queues from the committed positions; tag filters apply; assign
//! and subscribe do not mix.

mod broker_util;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{Message, Producer, PullConsumer};

fn consumer(c: &Cluster) -> PullConsumer {
    PullConsumer::builder(&c.namesrv_addr())
        .group("lite-sub")
        .build()
        .unwrap()
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls both until `n` bodies starting with `prefix` were seen; body → times seen.
async fn read_all(
    consumers: &[&PullConsumer],
    prefix: &str,
    n: usize,
    seen: &mut BTreeMap<String, usize>,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.keys().filter(|k| k.starts_with(prefix)).count() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} {prefix} read",
            seen.len()
        );
        for c in consumers {
            for m in c.poll(Duration::from_millis(50)).await.unwrap() {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                *seen.entry(body).or_insert(0) += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_splits_the_queues_and_hands_them_over_on_shutdown() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("LiteSub", "warm-up")).await.unwrap();
    let a = consumer(&c);
    let b = consumer(&c);
    a.subscribe("LiteSub", "*").await.unwrap();
    b.subscribe("LiteSub", "*").await.unwrap();
    // B's arrival is announced to A: both hold two of the four queues.
    wait_until("a 2 + 2 split", || {
        let (qa, qb) = (a.assignment(), b.assignment());
        qa.len() == 2 && qb.len() == 2 && qa.iter().all(|q| !qb.contains(q))
    })
    .await;
    for i in 0..40 {
        p.send(Message::new("LiteSub", format!("s{i:03}")))
            .await
            .unwrap();
    }
    let mut seen = BTreeMap::new();
    read_all(&[&a, &b], "s", 40, &mut seen).await;

    // A leaves after committing; B takes all four queues and goes on from A's positions.
    a.shutdown().await.unwrap();
    wait_until("B owns the 4 queues", || b.assignment().len() == 4).await;
    for i in 0..40 {
        p.send(Message::new("LiteSub", format!("t{i:03}")))
            .await
            .unwrap();
    }
    read_all(&[&b], "t", 40, &mut seen).await;
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read twice: {twice:?}");
    b.shutdown().await.unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_filters_by_tag_and_does_not_mix_with_assign() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("LiteTags", "warm-up")).await.unwrap();
    let x = consumer(&c);
    x.subscribe("LiteTags", "TagA || TagC").await.unwrap();
    let queues = x.queues("LiteTags").await.unwrap();
    let err = x.assign(queues.clone()).await.unwrap_err();
    assert!(err.to_string().contains("subscribed"), "{err}");
    for (i, tag) in ["TagA", "TagB", "TagC", "TagB"]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        p.send(Message::new("LiteTags", format!("{tag}-{i}")).with_tags(*tag))
            .await
            .unwrap();
    }
    let mut seen = BTreeMap::new();
    read_all(&[&x], "Tag", 20, &mut seen).await;
    assert!(seen.keys().all(|k| !k.starts_with("TagB")), "{seen:?}");

    let y = PullConsumer::builder(&c.namesrv_addr())
        .group("lite-assign")
        .build()
        .unwrap();
    y.assign(queues).await.unwrap();
    let err = y.subscribe("LiteTags", "*").await.unwrap_err();
    assert!(err.to_string().contains("assign"), "{err}");
    x.shutdown().await.unwrap();
    c.shutdown().await;
}
