//! Transactional messages over TCP (features sheet §2): half messages invisible until
//! END_TRANSACTION, commit once, rollback never, check-back to a live producer, unanswered
//! checks kept on TRANS_CHECK_MAX_TIME_TOPIC, and all of it across a broker restart.

mod broker_util;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use ferrumq_store::message::{decode_records, find_property};

const TOPIC: &str = "TxTopic";

/// A half message: TRAN_MSG=true (what decides, not the sysFlag bit), producer group "pg".
async fn send_half(c: &Cluster, uniq: &str, body: &str) -> (i64, i64) {
    let p = props(&[("TRAN_MSG", "true"), ("PGROUP", "pg"), ("UNIQ_KEY", uniq)]);
    let r = c
        .call(send_request(TOPIC, 0, &p, body.as_bytes().to_vec(), false))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    let (_, physical) = ferrumq_store::decode_offset_msg_id(field(&r, "msgId")).expect("msgId");
    (field_i64(&r, "queueOffset"), physical)
}

fn end(uniq: &str, (table, physical): (i64, i64), decision: i32) -> RemotingCommand {
    request(
        RequestCode::EndTransaction,
        &[
            ("producerGroup", "pg"),
            ("tranStateTableOffset", &table.to_string()),
            ("commitLogOffset", &physical.to_string()),
            ("commitOrRollback", &decision.to_string()),
            ("fromTransactionCheck", "false"),
            ("msgId", uniq),
        ],
    )
}

/// Bodies delivered on queue 0 of `topic`, from offset 0.
async fn delivered(c: &Cluster, topic: &str) -> Vec<String> {
    let r = c.call(pull_request("txc", topic, 0, 0, 0x4, "*", 0)).await;
    if r.response_code() != ResponseCode::Success {
        return Vec::new();
    }
    decode_records(&r.body)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(m.body).into_owned())
        .collect()
}

async fn eventually_delivered(c: &Cluster, topic: &str, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = delivered(c, topic).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{topic}: {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn commit_delivers_once_and_rollback_never() {
    let c = Cluster::start().await;
    let a = send_half(&c, "UA", "a").await;
    let b = send_half(&c, "UB", "b").await;
    assert!(
        delivered(&c, TOPIC).await.is_empty(),
        "a half message is invisible"
    );

    assert_eq!(c.call(end("UA", a, 8)).await.code, 0);
    assert_eq!(
        c.call(end("UA", a, 8)).await.code,
        0,
        "a repeated commit is harmless"
    );
    assert_eq!(c.call(end("UB", b, 12)).await.code, 0);
    assert_eq!(
        c.call(end("UB", b, 8)).await.code,
        0,
        "a late commit after rollback"
    );
    eventually_delivered(&c, TOPIC, &["a"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(delivered(&c, TOPIC).await, ["a"], "delivered exactly once");

    // The committed message keeps its key and says which half it came from.
    let r = c.call(pull_request("txc", TOPIC, 0, 0, 0x4, "*", 0)).await;
    let recs = decode_records(&r.body).unwrap();
    assert_eq!(find_property(recs[0].properties, "UNIQ_KEY"), Some("UA"));
    assert_eq!(recs[0].prepared_transaction_offset, a.1);

    // Wrong group or offsets: refused, nothing stored.
    let mut wrong = end("UC", a, 8);
    wrong.ext_fields.insert("producerGroup", "other");
    let r = c.call(wrong).await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert_eq!(r.remark.as_deref(), Some("The producer group wrong"));
    let r = c.call(end("UA", (a.0 + 1, a.1), 8)).await;
    assert_eq!(
        r.remark.as_deref(),
        Some("The transaction state table offset wrong")
    );
    c.shutdown().await;
}

#[tokio::test]
async fn resolution_survives_a_restart() {
    let mut c = Cluster::start().await;
    let a = send_half(&c, "RA", "a").await;
    let b = send_half(&c, "RB", "b").await;
    assert_eq!(c.call(end("RA", a, 8)).await.code, 0);
    eventually_delivered(&c, TOPIC, &["a"]).await;
    c.restart_broker().await;
    // A late duplicate commit after the restart changes nothing; the other half is still
    // there to commit.
    assert_eq!(c.call(end("RA", a, 8)).await.code, 0);
    assert_eq!(c.call(end("RB", b, 8)).await.code, 0);
    eventually_delivered(&c, TOPIC, &["a", "b"]).await;
    c.shutdown().await;
}

fn quick_checks(cfg: &mut ferrumq::broker::BrokerConfig) {
    cfg.transaction_check_interval_ms = 100;
    cfg.transaction_timeout_ms = 50;
    cfg.transaction_check_max = 2;
}

/// A producer of group "pg" that answers every CHECK_TRANSACTION_STATE with `decision`.
async fn checking_producer(c: &Cluster, decision: i32) -> (RemotingClient, Arc<Mutex<u32>>) {
    let checks = Arc::new(Mutex::new(0));
    let seen = checks.clone();
    let addr = c.addr();
    let client = RemotingClient::new(ClientConfig {
        push_handler: Some(Arc::new(move |req: RemotingCommand| {
            if req.request_code() == RequestCode::CheckTransactionState {
                *seen.lock().unwrap() += 1;
                let ext = &req.ext_fields;
                let table: i64 = ext.get("tranStateTableOffset").unwrap().parse().unwrap();
                let physical: i64 = ext.get("commitLogOffset").unwrap().parse().unwrap();
                let uniq = ext.get("msgId").unwrap().to_string();
                // The body shows the message under its real topic.
                let recs = decode_records(&req.body).unwrap();
                assert_eq!(recs[0].topic, TOPIC);
                let mut answer = end(&uniq, (table, physical), decision);
                answer.ext_fields.insert("fromTransactionCheck", "true");
                let addr = addr.clone();
                tokio::spawn(async move {
                    let c = RemotingClient::new(ClientConfig::default());
                    let _ = c.invoke(&addr, answer, Duration::from_secs(3)).await;
                });
            }
            None
        })),
        ..Default::default()
    });
    let hb = r#"{"clientID":"prod@1","producerDataSet":[{"groupName":"pg"}],"consumerDataSet":[]}"#;
    let r = client
        .invoke(
            &c.addr(),
            request(RequestCode::HeartBeat, &[]).with_body(hb.as_bytes().to_vec()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.code, 0);
    (client, checks)
}

#[tokio::test]
async fn an_unresolved_half_is_checked_with_its_producer() {
    let c = Cluster::start_with(quick_checks).await;
    let (_producer, checks) = checking_producer(&c, 8).await;
    send_half(&c, "CA", "checked").await;
    eventually_delivered(&c, TOPIC, &["checked"]).await;
    assert!(*checks.lock().unwrap() >= 1);
    c.shutdown().await;
}

#[tokio::test]
async fn unanswered_checks_keep_the_message_for_an_operator() {
    let c = Cluster::start_with(quick_checks).await;
    let a = send_half(&c, "MA", "kept").await;
    // No producer online: after transactionCheckMax checks the half message moves.
    eventually_delivered(&c, "TRANS_CHECK_MAX_TIME_TOPIC", &["kept"]).await;
    let r = c
        .call(pull_request(
            "txc",
            "TRANS_CHECK_MAX_TIME_TOPIC",
            0,
            0,
            0x4,
            "*",
            0,
        ))
        .await;
    let recs = decode_records(&r.body).unwrap();
    assert_eq!(
        find_property(recs[0].properties, "TRANSACTION_CHECK_TIMES"),
        Some("2")
    );
    // A commit that comes after that is not delivered.
    assert_eq!(c.call(end("MA", a, 8)).await.code, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(delivered(&c, TOPIC).await.is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn rejected_when_the_broker_refuses_transactions() {
    let c = Cluster::start_with(|cfg| cfg.reject_transaction_message = true).await;
    let p = props(&[("TRAN_MSG", "true"), ("PGROUP", "pg")]);
    let r = c
        .call(send_request(TOPIC, 0, &p, b"x".to_vec(), false))
        .await;
    assert_eq!(r.response_code(), ResponseCode::NoPermission);
    c.shutdown().await;
}

/// Power lost after a commit record reached the disk but before its op record: after the
/// restart, a duplicate END_TRANSACTION (or a check answered "commit") must not store the
/// message again.
#[tokio::test]
async fn a_commit_without_its_op_record_is_completed_at_start() {
    let mut c = Cluster::start().await;
    let a = send_half(&c, "PA", "a").await;
    let inner = c.broker.as_ref().expect("broker").inner().clone();
    inner
        .tx
        .debug_drop_next_op
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(c.call(end("PA", a, 8)).await.code, 0);
    eventually_delivered(&c, TOPIC, &["a"]).await;
    drop(inner);
    c.restart_broker().await;
    assert_eq!(c.call(end("PA", a, 8)).await.code, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivered(&c, TOPIC).await, ["a"], "not stored twice");
    c.shutdown().await;
}

/// Once the check service has moved past a resolved message, its key is pruned from memory;
/// a late duplicate END_TRANSACTION is still recognised (it lies below the check position).
#[tokio::test]
async fn a_late_commit_after_pruning_changes_nothing() {
    let c = Cluster::start_with(quick_checks).await;
    let a = send_half(&c, "LA", "a").await;
    assert_eq!(c.call(end("LA", a, 8)).await.code, 0);
    eventually_delivered(&c, TOPIC, &["a"]).await;
    // A few check runs (100 ms apart) move the position past the resolved half.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.call(end("LA", a, 8)).await.code, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivered(&c, TOPIC).await, ["a"], "not stored twice");
    c.shutdown().await;
}
