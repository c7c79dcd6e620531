//! Process test with the real binaries: consumers keep consuming from the slave while the
//! master is down, with the SDK's push consumer, and keep their offsets: a consumer started
//! after the master came back resumes where the group was, not from the start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrumq::client::{ConsumeResult, Message, Producer, PushConsumer};
use process_util::ha::node;
use process_util::start_namesrv;
use tokio::sync::Semaphore;

mod process_util;

const TOPIC: &str = "HaRead";

type Seen = Arc<Mutex<BTreeMap<String, usize>>>;

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn consumer(ns: &str, seen: Seen, gate: Arc<Semaphore>) -> PushConsumer {
    PushConsumer::builder(ns)
        .group("ha-readers")
        .subscribe(TOPIC, "*")
        // Little prefetched: most messages are pulled after the master died.
        .queue_max_messages(8)
        .pull_batch(4)
        .start(move |m| {
            let (seen, gate) = (seen.clone(), gate.clone());
            async move {
                if let Ok(p) = gate.acquire().await {
                    p.forget();
                }
                let body = String::from_utf8_lossy(&m.body).into_owned();
                *seen.lock().unwrap().entry(body).or_insert(0) += 1;
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

fn count(seen: &Seen, prefix: &str) -> usize {
    seen.lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with(prefix))
        .count()
}

/// Waits until the group's committed offsets on `addr` add up to at least `total`.
async fn until_offsets_on(addr: &str, total: i64) {
    let client = ferrumq::remoting::RemotingClient::new(Default::default());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut sum = 0;
        for q in 0..4 {
            let mut ext = ferrumq::protocol::ExtFields::new();
            ext.insert("consumerGroup", "ha-readers");
            ext.insert("topic", TOPIC);
            ext.insert_display("queueId", q);
            let req = ferrumq::protocol::RemotingCommand::new_request(
                ferrumq::protocol::RequestCode::QueryConsumerOffset,
                ext,
            );
            if let Ok(r) = client.invoke(addr, req, Duration::from_secs(3)).await {
                sum += r
                    .ext_fields
                    .opt_num::<i64>("offset")
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
        }
        if sum >= total {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} has offsets adding to {sum}, not {total}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_read_from_the_slave_while_the_master_is_down() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(root.path());
    let ns = format!("127.0.0.1:{ns_port}");
    let (mut master, mut slave) = (node(root.path(), "master"), node(root.path(), "slave"));
    master.start(ns_port, "SYNC_MASTER");
    slave.start(ns_port, "SLAVE");

    let producer = Producer::builder(&ns).build().unwrap();
    // SEND_OK once the slave follows (SLAVE_NOT_AVAILABLE before).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = producer.send(Message::new(TOPIC, "warm-up")).await;
        if matches!(&sent, Ok(r) if r.status == ferrumq::client::SendStatus::SendOk) {
            break;
        }
        assert!(Instant::now() < deadline, "no SEND_OK: {sent:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let seen: Seen = Default::default();
    let gate = Arc::new(Semaphore::new(0));
    let c = consumer(&ns, seen.clone(), gate.clone()).await;
    until("queues assigned", || {
        c.assigned().iter().any(|q| q.topic == TOPIC)
    })
    .await;
    for i in 0..300 {
        let r = producer
            .send(Message::new(TOPIC, format!("a{i:03}")))
            .await
            .unwrap();
        assert_eq!(r.status, ferrumq::client::SendStatus::SendOk);
    }
    // A third consumed (and committed on the next pulls), then the master dies.
    gate.add_permits(100);
    // (The warm-up message may take one permit: a young queue is read from its start.)
    until("100 handled", || seen.lock().unwrap().len() >= 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    master.kill9();
    gate.add_permits(10_000);
    until("all 300 consumed from the slave", || {
        count(&seen, "a") == 300
    })
    .await;

    // The consumer leaves (its offsets go to the slave); the master returns; a new consumer
    // of the group starts from the group's offsets, not from the beginning.
    c.shutdown().await;
    // Committed on the slave, the only broker up.
    until_offsets_on(&slave.addr(), 300).await;
    master.start(ns_port, "SYNC_MASTER");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = producer.send(Message::new(TOPIC, "b-probe")).await;
        if matches!(&sent, Ok(r) if r.status == ferrumq::client::SendStatus::SendOk) {
            break;
        }
        assert!(Instant::now() < deadline, "master not back: {sent:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The offsets committed on the slave reach the master.
    let master_addr = master.addr();
    until_offsets_on(&master_addr, 300).await;
    let again: Seen = Default::default();
    let c2 = consumer(&ns, again.clone(), Arc::new(Semaphore::new(1_000_000))).await;
    for i in 0..20 {
        producer
            .send(Message::new(TOPIC, format!("b{i:03}")))
            .await
            .unwrap();
    }
    until("the 20 new ones", || count(&again, "b0") == 20).await;
    let reread = count(&again, "a");
    eprintln!("after the master returned: {reread} of 300 old messages read again");
    assert!(
        reread < 100,
        "{reread} old messages read again: offsets were lost"
    );
    c2.shutdown().await;
    drop((master, slave));
}
