//! Process test with the real binaries: a failover by restart, as an operator runs it.
//! An ASYNC_MASTER A and its slave B; B goes down, A takes more sends (a tail B never gets),
//! then A dies. B is restarted as the master (a new replication term) and takes sends. A comes
//! back as B's slave: it is told where the logs part, records the cut and stops following;
//! restarted, it cuts its tail and ends with B's log: the same messages at the same offsets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrumq::client::{Message, Producer};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::ha::{node, Node};
use process_util::load::read_queue;
use process_util::start_namesrv;

mod process_util;

const TOPIC: &str = "Failover";

/// (queue, offset) → body of every message a broker serves.
async fn contents(client: &RemotingClient, addr: &str) -> BTreeMap<(i32, i64), String> {
    let mut out = BTreeMap::new();
    for q in 0..4 {
        for (offset, body) in read_queue(client, addr, TOPIC, q).await {
            out.insert((q, offset), body);
        }
    }
    out
}

/// Sends `message {i}` for each i, retrying each until acknowledged (the route may still
/// name a broker that just died).
async fn send(p: &Producer, range: std::ops::Range<usize>) {
    for i in range {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = p.send(Message::new(TOPIC, format!("message {i}"))).await {
            assert!(Instant::now() < deadline, "message {i}: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn until_same(client: &RemotingClient, a: &Node, b: &Node) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if contents(client, &a.addr()).await == contents(client, &b.addr()).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never caught up with {}",
            a.addr(),
            b.addr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn bodies(c: &BTreeMap<(i32, i64), String>) -> std::collections::BTreeSet<String> {
    c.values().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_slave_leads_and_the_old_master_cuts_its_tail_to_follow() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(root.path());
    let ns = format!("127.0.0.1:{ns_port}");
    let (mut a, mut b) = (node(root.path(), "a"), node(root.path(), "b"));
    a.start(ns_port, "ASYNC_MASTER");
    b.start(ns_port, "SLAVE");
    let client = RemotingClient::new(ClientConfig::default());
    let p = Producer::builder(&ns).build().unwrap();
    send(&p, 0..100).await;
    until_same(&client, &b, &a).await;

    // B stops; A takes 30 more (never replicated), then dies.
    b.kill9();
    send(&p, 100..130).await;
    let a_only: Vec<String> = (100..130).map(|i| format!("message {i}")).collect();
    assert!(bodies(&contents(&client, &a.addr()).await).contains(&a_only[0]));
    a.kill9();

    // B is restarted as the master and takes 40 more.
    b.start(ns_port, "ASYNC_MASTER");
    send(&p, 200..240).await;
    let leader = contents(&client, &b.addr()).await;
    let want: std::collections::BTreeSet<String> = (0..100)
        .chain(200..240)
        .map(|i| format!("message {i}"))
        .collect();
    assert_eq!(
        bodies(&leader),
        want,
        "the new master has the replicated and the new ones"
    );

    // A returns as B's slave: told to cut where the logs part, it stops following.
    a.start(ns_port, "SLAVE");
    let marker = a.dir.join("store").join("replica_truncate");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "A was not told to cut its tail");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Restarted, it cuts the tail and follows: the same messages at the same offsets as B.
    a.kill9();
    a.start(ns_port, "SLAVE");
    until_same(&client, &a, &b).await;
    assert!(!marker.exists(), "the cut is made once");
    let follower = contents(&client, &a.addr()).await;
    assert!(
        a_only.iter().all(|m| !bodies(&follower).contains(m)),
        "the old master kept messages the new one never had"
    );
}
