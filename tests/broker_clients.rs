//! Client bookkeeping over TCP: HEART_BEAT (C++ form), GET_CONSUMER_LIST_BY_GROUP,
//! NOTIFY_CONSUMER_IDS_CHANGED on join/leave, connection close, expiry, UNREGISTER_CLIENT,
//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ.

mod broker_util;

use std::sync::Arc;
use std::time::Duration;

use broker_util::*;
use ferrumq::protocol::{RemotingCommand, RequestCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use tokio::sync::mpsc;

/// A client connection that records the server's pushed requests.
fn listening_client() -> (RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = Arc::new(move |cmd: RemotingCommand| {
        let _ = tx.send(cmd);
        None
    });
    let client = RemotingClient::new(ClientConfig {
        push_handler: Some(handler),
        ..Default::default()
    });
    (client, rx)
}

async fn heartbeat(c: &Cluster, client: &RemotingClient, id: &str, group: &str) {
    let hb = request(RequestCode::HeartBeat, &[]).with_body(heartbeat_body(id, group, "T_c", "*"));
    let r = client.invoke(&c.addr(), hb, TIMEOUT).await.unwrap();
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

async fn consumer_ids(c: &Cluster, group: &str) -> (i32, Vec<String>) {
    let r = c
        .call(request(
            RequestCode::GetConsumerListByGroup,
            &[("consumerGroup", group)],
        ))
        .await;
    if r.code != 0 {
        return (r.code, Vec::new());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let ids = v["consumerIdList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    (0, ids)
}

async fn next_notify(rx: &mut mpsc::UnboundedReceiver<RemotingCommand>) -> RemotingCommand {
    tokio::time::timeout(TIMEOUT, rx.recv())
        .await
        .expect("notify within timeout")
        .expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_notify_close_and_list() {
    let c = Cluster::start().await;
    assert_eq!(
        consumer_ids(&c, "g1").await.0,
        1,
        "empty group: SYSTEM_ERROR"
    );
    let (c1, mut rx1) = listening_client();
    heartbeat(&c, &c1, "10.0.0.1@a", "g1").await;
    let n = next_notify(&mut rx1).await;
    assert_eq!(n.code, i32::from(RequestCode::NotifyConsumerIdsChanged));
    assert_eq!(n.ext_fields.get("consumerGroup"), Some("g1"));
    assert!(
        c.route_exists("%RETRY%g1").await,
        "retry topic created and registered"
    );

    let (c2, _rx2) = listening_client();
    heartbeat(&c, &c2, "10.0.0.2@b", "g1").await;
    next_notify(&mut rx1).await;
    assert_eq!(
        consumer_ids(&c, "g1").await.1,
        vec!["10.0.0.1@a", "10.0.0.2@b"]
    );

    // A repeated heartbeat changes nothing and notifies nobody.
    heartbeat(&c, &c1, "10.0.0.1@a", "g1").await;
    c2.close(&c.addr());
    let n = next_notify(&mut rx1).await;
    assert_eq!(n.ext_fields.get("consumerGroup"), Some("g1"));
    assert_eq!(
        consumer_ids(&c, "g1").await.1,
        vec!["10.0.0.1@a"],
        "closed connection dropped at once"
    );

    let unreg = request(
        RequestCode::UnregisterClient,
        &[("clientID", "10.0.0.1@a"), ("consumerGroup", "g1")],
    );
    assert_eq!(c1.invoke(&c.addr(), unreg, TIMEOUT).await.unwrap().code, 0);
    assert_eq!(consumer_ids(&c, "g1").await.0, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_expire() {
    let c = Cluster::start_with(|cfg| cfg.client_channel_expired_time_ms = 300).await;
    let (c1, _rx) = listening_client();
    heartbeat(&c, &c1, "10.0.0.1@a", "g_exp").await;
    assert_eq!(consumer_ids(&c, "g_exp").await.1.len(), 1);
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if consumer_ids(&c, "g_exp").await.0 != 0 {
            gone = true;
            break;
        }
    }
    assert!(gone, "client without heartbeat was not expired");
    c.shutdown().await;
}

fn lock_body(client: &str, queues: &[i32]) -> Vec<u8> {
    let mqs: Vec<serde_json::Value> = queues
        .iter()
        .map(|q| serde_json::json!({"brokerName": "broker-t", "queueId": q, "topic": "T_l"}))
        .collect();
    // No onlyThisBroker, as C++ sends it.
    serde_json::json!({"consumerGroup": "g_l", "clientId": client, "mqSet": mqs})
        .to_string()
        .into_bytes()
}

async fn lock(c: &Cluster, client: &str, queues: &[i32]) -> Vec<i64> {
    let r = c
        .call(request(RequestCode::LockBatchMq, &[]).with_body(lock_body(client, queues)))
        .await;
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let mut ids: Vec<i64> = v["lockOKMQSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["queueId"].as_i64().expect("numeric queueId"))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_unlock_batch() {
    let c = Cluster::start().await;
    assert_eq!(lock(&c, "A", &[0, 1]).await, vec![0, 1]);
    assert_eq!(
        lock(&c, "B", &[1, 2]).await,
        vec![2],
        "queue 1 is held by A"
    );
    let r = c
        .call(request(RequestCode::UnlockBatchMq, &[]).with_body(lock_body("A", &[1])))
        .await;
    assert_eq!(r.code, 0);
    assert_eq!(lock(&c, "B", &[1]).await, vec![1], "released by A");
    let r = c
        .call(request(RequestCode::LockBatchMq, &[]).with_body(b"{not json".to_vec()))
        .await;
    assert_eq!(r.code, 1, "malformed body: SYSTEM_ERROR");
    c.shutdown().await;
}
