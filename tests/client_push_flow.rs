//! The SDK's push consumer under pressure, against a real NameServer and broker: flow control
//! bounds what a slow handler leaves cached per queue (count and bytes); SQL92
//! subscriptions; a consumer joining and leaving mid-stream loses nothing; a broker restart
//! mid-stream loses nothing.

mod broker_util;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{Admin, ConsumeResult, Message, Producer, PushConsumer, PushConsumerBuilder};
use ferrumq::protocol::ResponseCode;
use tokio::sync::Semaphore;

async fn wait_until(what: &str, ok: impl FnMut() -> bool) {
    wait_until_within(what, Duration::from_secs(20), ok).await
}

async fn one_queue_topic(c: &Cluster, topic: &str) {
    let admin = Admin::new(&c.namesrv_addr()).unwrap();
    admin.create_topic("TestCluster", topic, 1).await.unwrap();
}

/// A consumer whose handler waits for a permit from `gate` for every message, counting
/// bodies in `seen`.
async fn gated(builder: PushConsumerBuilder, gate: Arc<Semaphore>, seen: Seen) -> PushConsumer {
    builder
        .start(move |m| {
            let (gate, seen) = (gate.clone(), seen.clone());
            async move {
                if let Ok(p) = gate.acquire().await {
                    p.forget();
                }
                let body = String::from_utf8_lossy(&m.body[..m.body.len().min(16)]).into_owned();
                *seen.lock().unwrap().entry(body).or_insert(0) += 1;
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

/// Most messages and bytes cached at once on any queue, watched for `settle` after the cache
/// first reached `reached` messages.
async fn watch_cache(consumer: &PushConsumer, reached: usize, settle: Duration) -> (usize, usize) {
    let peak = || {
        consumer
            .cached()
            .values()
            .fold((0, 0), |(m, b), (n, bytes)| (m.max(*n), b.max(*bytes)))
    };
    wait_until("the cache to fill", || peak().0 >= reached).await;
    let mut most = peak();
    let end = Instant::now() + settle;
    while Instant::now() < end {
        let now = peak();
        most = (most.0.max(now.0), most.1.max(now.1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_holds_back_pulls_by_message_count() {
    let c = Cluster::start().await;
    one_queue_topic(&c, "FlowCount").await;
    let gate = Arc::new(Semaphore::new(0));
    let seen: Seen = Default::default();
    let builder = PushConsumer::builder(&c.namesrv_addr())
        .group("flow-count")
        .subscribe("FlowCount", "*")
        .concurrency(2)
        .queue_max_messages(10)
        .pull_batch(4);
    let consumer = gated(builder, gate.clone(), seen.clone()).await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    for i in 0..200 {
        p.send(Message::new("FlowCount", format!("m{i:03}")))
            .await
            .unwrap();
    }
    // A pull starts only below 10 cached; it brings at most 4.
    let (most, _) = watch_cache(&consumer, 10, Duration::from_millis(800)).await;
    assert!(
        most <= 13,
        "{most} messages cached on one queue (limit 10 + a pull of 4)"
    );
    gate.add_permits(1_000);
    wait_until("all 200 handled", || seen.lock().unwrap().len() == 200).await;
    let twice: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(twice.is_empty(), "handled twice: {twice:?}");
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_holds_back_pulls_by_bytes() {
    let c = Cluster::start().await;
    one_queue_topic(&c, "FlowBytes").await;
    let gate = Arc::new(Semaphore::new(0));
    let seen: Seen = Default::default();
    let builder = PushConsumer::builder(&c.namesrv_addr())
        .group("flow-bytes")
        .subscribe("FlowBytes", "*")
        .concurrency(1)
        .queue_max_bytes(64 * 1024)
        .pull_batch(2);
    let consumer = gated(builder, gate.clone(), seen.clone()).await;
    let p = Producer::builder(&c.namesrv_addr())
        .compress_over(usize::MAX)
        .build()
        .unwrap();
    for i in 0..40 {
        let mut body = format!("b{i:03}").into_bytes();
        body.resize(16 * 1024, b'.');
        p.send(Message::new("FlowBytes", body)).await.unwrap();
    }
    let (_, bytes) = watch_cache(&consumer, 4, Duration::from_millis(800)).await;
    assert!(
        bytes <= 96 * 1024,
        "{bytes} bytes cached on one queue (limit 64 KiB + a pull of 2 x 16 KiB)"
    );
    gate.add_permits(1_000);
    wait_until("all 40 handled", || seen.lock().unwrap().len() == 40).await;
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_subscription_gets_only_matching_messages() {
    let c = Cluster::start_with(|cfg| cfg.enable_property_filter = true).await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("SqlPush", "warm-up")).await.unwrap();

    let bad = PushConsumer::builder(&c.namesrv_addr())
        .group("sql-bad")
        .subscribe_sql("SqlPush", "a >")
        .start(|_| async { ConsumeResult::Success })
        .await;
    let err = bad.err().expect("an expression that does not compile");
    assert_eq!(
        err.code(),
        Some(ResponseCode::SubscriptionParseFailed),
        "{err}"
    );

    let seen: Seen = Default::default();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("sql-good")
        .subscribe_sql("SqlPush", "a > 5 AND region = 'eu'")
        .start(counting(seen.clone()))
        .await
        .unwrap();
    wait_until("queues assigned", || {
        assigned_count(&consumer, "SqlPush") == 4
    })
    .await;
    for a in 1..=10 {
        for region in ["eu", "us"] {
            let m = Message::new("SqlPush", format!("{a}-{region}"))
                .with_property("a", a.to_string())
                .with_property("region", region);
            p.send(m).await.unwrap();
        }
    }
    let last = Message::new("SqlPush", "last")
        .with_property("a", "100")
        .with_property("region", "eu");
    p.send(last).await.unwrap();
    wait_until("the last message", || {
        seen.lock().unwrap().contains_key("last")
    })
    .await;
    let got: BTreeSet<String> = seen.lock().unwrap().keys().cloned().collect();
    let want: BTreeSet<String> = (6..=10)
        .map(|a| format!("{a}-eu"))
        .chain(["last".to_string()])
        .collect();
    assert_eq!(got, want);
    consumer.shutdown().await;
    c.shutdown().await;
}

/// Every message of `0..n` seen; returns how many were seen more than once.
fn duplicates(seen: &Seen, n: usize) -> usize {
    let seen = seen.lock().unwrap();
    let missing: Vec<_> = (0..n)
        .map(|i| format!("s{i:04}"))
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(missing.is_empty(), "never consumed: {missing:?}");
    seen.values().filter(|n| **n > 1).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_joining_and_leaving_mid_stream_lose_nothing() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("Churn", "warm-up")).await.unwrap();
    let seen: Seen = Default::default();
    let start = |group: &'static str| {
        PushConsumer::builder(&c.namesrv_addr())
            .group(group)
            .subscribe("Churn", "*")
            .start(counting(seen.clone()))
    };
    let a = start("churn").await.unwrap();
    wait_until("A owns the 4 queues", || assigned_count(&a, "Churn") == 4).await;
    let n = 600;
    let mut b = None;
    for i in 0..n {
        p.send(Message::new("Churn", format!("s{i:04}")))
            .await
            .unwrap();
        if i == 200 {
            b = Some(start("churn").await.unwrap());
        }
        if i == 400 {
            // A leaves while messages keep coming: B takes its queues from A's commit.
            a.shutdown().await;
        }
    }
    let b = b.unwrap();
    wait_until("B owns the 4 queues", || assigned_count(&b, "Churn") == 4).await;
    wait_until("all messages", || {
        let seen = seen.lock().unwrap();
        (0..n).all(|i| seen.contains_key(&format!("s{i:04}")))
    })
    .await;
    let dup = duplicates(&seen, n);
    eprintln!("join and leave: {n} messages, {dup} delivered more than once");
    // Duplicates come only from handoffs (a queue's uncommitted tail); never most of it.
    assert!(dup < n / 4, "{dup} of {n} delivered twice");
    b.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let mut c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    p.send(Message::new("Restart", "warm-up")).await.unwrap();
    let seen: Seen = Default::default();
    let consumer = PushConsumer::builder(&c.namesrv_addr())
        .group("restart")
        .subscribe("Restart", "*")
        .start(counting(seen.clone()))
        .await
        .unwrap();
    wait_until("queues assigned", || {
        assigned_count(&consumer, "Restart") == 4
    })
    .await;
    for i in 0..100 {
        p.send(Message::new("Restart", format!("s{i:04}")))
            .await
            .unwrap();
    }
    // The broker comes back on another port: the consumer finds it through the NameServer.
    c.restart_broker().await;
    for i in 100..200 {
        p.send(Message::new("Restart", format!("s{i:04}")))
            .await
            .unwrap();
    }
    wait_until("all 200 messages", || {
        let seen = seen.lock().unwrap();
        (0..200).all(|i| seen.contains_key(&format!("s{i:04}")))
    })
    .await;
    let dup = duplicates(&seen, 200);
    eprintln!("broker restart: 200 messages, {dup} delivered more than once");
    consumer.shutdown().await;
    c.shutdown().await;
}
