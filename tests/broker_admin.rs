//! Admin requests over TCP: UPDATE_AND_CREATE_TOPIC (persisted, registered),
//! GET_ALL_TOPIC_CONFIG with the system topics, DELETE_TOPIC_IN_BROKER, topic permissions,
//! GET_BROKER_RUNTIME_INFO, VIEW_MESSAGE_BY_ID, shutdown leaving no abort file.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::RequestCode;

fn create(topic: &str, perm: &str) -> ferrumq::protocol::RemotingCommand {
    request(
        RequestCode::UpdateAndCreateTopic,
        &[
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "2"),
            ("writeQueueNums", "2"),
            ("perm", perm),
            ("topicFilterType", "SINGLE_TAG"),
            ("order", "false"),
        ],
    )
}

async fn all_topics(c: &Cluster) -> serde_json::Value {
    let r = c.call(request(RequestCode::GetAllTopicConfig, &[])).await;
    assert_eq!(r.code, 0);
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_delete_topic() {
    let mut c = Cluster::start().await;
    let v = all_topics(&c).await;
    let table = &v["topicConfigTable"];
    assert_eq!(table["TBW102"]["perm"], 7);
    assert_eq!(table["TBW102"]["writeQueueNums"], 8);
    assert_eq!(table["SCHEDULE_TOPIC_XXXX"]["readQueueNums"], 18);
    assert!(table.get("TestCluster_REPLY_TOPIC").is_some());

    assert_eq!(c.call(create("T_adm", "6")).await.code, 0);
    assert!(
        c.route_exists("T_adm").await,
        "created topic registered at once"
    );
    assert_eq!(c.call(create("bad name", "6")).await.code, 1);
    assert_eq!(c.call(create("SCHEDULE_TOPIC_XXXX", "6")).await.code, 1);

    c.restart_broker().await;
    let v = all_topics(&c).await;
    assert_eq!(
        v["topicConfigTable"]["T_adm"]["writeQueueNums"], 2,
        "topics.json survives restart"
    );

    let r = c
        .call(request(
            RequestCode::DeleteTopicInBroker,
            &[("topic", "T_adm")],
        ))
        .await;
    assert_eq!(r.code, 0);
    assert!(all_topics(&c).await["topicConfigTable"]
        .get("T_adm")
        .is_none());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_permissions() {
    let c = Cluster::start().await;
    assert_eq!(c.call(create("T_ro", "4")).await.code, 0);
    assert_eq!(
        c.send("T_ro", "", b"x").await.code,
        16,
        "read-only topic: NO_PERMISSION on send"
    );
    assert_eq!(c.call(create("T_wo", "2")).await.code, 0);
    assert_eq!(c.send_to("T_wo", 0, "", b"x").await.code, 0);
    let p = c.call(pull_request("g", "T_wo", 0, 0, 0x4, "*", 0)).await;
    assert_eq!(p.code, 16, "write-only topic: NO_PERMISSION on pull");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_info_and_view_by_id() {
    let c = Cluster::start().await;
    let r = c.send_to("T_view", 0, "", b"viewme").await;
    let id = field(&r, "msgId").to_string();
    let (_, phys) = ferrumq_store::decode_offset_msg_id(&id).expect("offset id");
    let v = c
        .call(request(
            RequestCode::ViewMessageById,
            &[("offset", &phys.to_string())],
        ))
        .await;
    assert_eq!(v.code, 0);
    assert_eq!(
        ferrumq_store::decode_record(&v.body).unwrap().body,
        b"viewme"
    );
    let v = c
        .call(request(
            RequestCode::ViewMessageById,
            &[("offset", "99999999")],
        ))
        .await;
    assert_eq!(v.code, 1);

    let r = c
        .call(request(RequestCode::GetBrokerRuntimeInfo, &[]))
        .await;
    assert_eq!(r.code, 0);
    let kv: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(kv["table"]["brokerVersion"], "409");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_shutdown_removes_abort_and_unregisters() {
    let mut c = Cluster::start().await;
    c.send("T_sd", "", b"x").await;
    assert!(c.route_exists("T_sd").await);
    c.broker.take().unwrap().shutdown().await;
    assert!(
        !c.dir.path().join("store/abort").exists(),
        "abort file left after clean shutdown"
    );
    assert!(
        !c.route_exists("T_sd").await,
        "broker still registered after shutdown"
    );
    c.shutdown().await;
}
