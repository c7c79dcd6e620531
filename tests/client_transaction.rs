//! The SDK's transactional producer against a real broker: commit, rollback, and an
//! unknown outcome settled by the broker's check-back reaching the checker.

mod broker_util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::client::{Message, Producer, TransactionState};
use ferrumq::protocol::ResponseCode;
use ferrumq_store::message::decode_records;

async fn bodies(c: &Cluster, topic: &str, queue: i32) -> Vec<String> {
    let r = c
        .call(pull_request("txsdk", topic, queue, 0, 0x4, "*", 0))
        .await;
    if r.response_code() != ResponseCode::Success {
        return Vec::new();
    }
    decode_records(&r.body)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(m.body).into_owned())
        .collect()
}

async fn eventually(c: &Cluster, topic: &str, queue: i32, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = bodies(c, topic, queue).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_and_rollback() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr())
        .group("tx-sdk")
        .build_transactional(|_| TransactionState::Unknown)
        .unwrap();
    let (sent, state) = p
        .send_in_transaction(Message::new("TxSdk", "kept"), |r| {
            assert!(!r.msg_id.is_empty());
            TransactionState::Commit
        })
        .await
        .unwrap();
    assert_eq!(state, TransactionState::Commit);
    let q = sent.queue.queue_id;
    eventually(&c, "TxSdk", q, &["kept"]).await;
    let (sent, _) = p
        .send_in_transaction(Message::new("TxSdk", "dropped"), |_| {
            TransactionState::Rollback
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!bodies(&c, "TxSdk", sent.queue.queue_id)
        .await
        .contains(&"dropped".to_string()));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_settled_by_the_checker() {
    let c = Cluster::start_with(|cfg| {
        cfg.transaction_check_interval_ms = 100;
        cfg.transaction_timeout_ms = 50;
    })
    .await;
    let checks = Arc::new(AtomicUsize::new(0));
    let seen = checks.clone();
    let p = Producer::builder(&c.namesrv_addr())
        .group("tx-sdk-check")
        .build_transactional(move |m| {
            seen.fetch_add(1, Ordering::SeqCst);
            assert_eq!(m.queue.topic, "TxSdkCheck", "shown under its real topic");
            TransactionState::Commit
        })
        .unwrap();
    let (sent, _) = p
        .send_in_transaction(Message::new("TxSdkCheck", "checked"), |_| {
            TransactionState::Unknown
        })
        .await
        .unwrap();
    eventually(&c, "TxSdkCheck", sent.queue.queue_id, &["checked"]).await;
    assert!(checks.load(Ordering::SeqCst) >= 1);
    c.shutdown().await;
}
