//! NameServer topic administration over TCP: oneway and incremental registration,
//! topic lists, write perms, deletion, unregistration (wire doc §9).

mod namesrv_support;

use ferrumq::namesrv::NamesrvHandle;
use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};
use namesrv_support::*;

/// broker-a has A, B (oneway registration) and D (incremental); broker-b has B, C.
async fn two_brokers(dir: &tempfile::TempDir) -> (NamesrvHandle, String, RemotingClient) {
    let ns = start(dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let a = register_req(
        "broker-a",
        "10.0.0.1:10911",
        0,
        &topics(&["A", "B"], 1),
        false,
    );
    c.invoke_oneway(&addr, a).await.unwrap();
    let b = register_req(
        "broker-b",
        "10.0.0.3:10911",
        0,
        &topics(&["B", "C"], 1),
        false,
    );
    c.invoke(&addr, b, T).await.unwrap();
    // Incremental registration (admin topic creation) adds, never removes.
    let d = register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["D"], 2), false);
    c.invoke(&addr, d, T).await.unwrap();
    (ns, addr, c)
}

#[tokio::test]
async fn topic_lists_after_oneway_and_incremental_registration() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, addr, c) = two_brokers(&dir).await;
    let all = call(&c, &addr, RequestCode::GetAllTopicListFromNameserver, &()).await;
    let list = TopicList::decode(&all.body).unwrap();
    let names: Vec<&str> = list.topic_list.iter().map(String::as_str).collect();
    assert_eq!(names, ["A", "B", "C", "D"]);

    let h = GetTopicsByClusterRequestHeader {
        cluster: "DefaultCluster".into(),
    };
    let by = call(&c, &addr, RequestCode::GetTopicsByCluster, &h).await;
    assert_eq!(TopicList::decode(&by.body).unwrap().topic_list.len(), 4);
    let h = GetTopicsByClusterRequestHeader {
        cluster: "Nope".into(),
    };
    let by = call(&c, &addr, RequestCode::GetTopicsByCluster, &h).await;
    assert!(TopicList::decode(&by.body).unwrap().topic_list.is_empty());

    let sys = call(&c, &addr, RequestCode::GetSystemTopicListFromNs, &()).await;
    let sys = TopicList::decode(&sys.body).unwrap();
    assert!(sys.topic_list.contains("DefaultCluster") && sys.topic_list.contains("broker-b"));
    assert!(sys.broker_addr.is_some());
    ns.shutdown().await;
}

#[tokio::test]
async fn wipe_and_add_write_perm() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, addr, c) = two_brokers(&dir).await;
    let h = WipeWritePermOfBrokerRequestHeader {
        broker_name: "broker-a".into(),
    };
    let w = call(&c, &addr, RequestCode::WipeWritePermOfBroker, &h).await;
    let wiped: WipeWritePermOfBrokerResponseHeader = w.decode_header().unwrap();
    assert_eq!(wiped.wipe_topic_count, 3);
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.queue_datas[0].perm, perm::READ);

    let h = AddWritePermOfBrokerRequestHeader {
        broker_name: "broker-a".into(),
    };
    let a = call(&c, &addr, RequestCode::AddWritePermOfBroker, &h).await;
    let added: AddWritePermOfBrokerResponseHeader = a.decode_header().unwrap();
    assert_eq!(added.add_topic_count, 3);
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.queue_datas[0].perm, perm::READ | perm::WRITE);
    ns.shutdown().await;
}

#[tokio::test]
async fn delete_topic_and_unregister_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, addr, c) = two_brokers(&dir).await;
    // Only broker-b's cluster part of B would go with a cluster name; none given: all of B.
    let del = DeleteTopicFromNamesrvRequestHeader {
        topic: "B".into(),
        cluster_name: None,
    };
    call(&c, &addr, RequestCode::DeleteTopicInNamesrv, &del).await;
    let gone = route(&c, &addr, "B", 409).await;
    assert_eq!(gone.response_code(), ResponseCode::TopicNotExist);

    let un = UnRegisterBrokerRequestHeader {
        broker_name: "broker-b".into(),
        broker_addr: "10.0.0.3:10911".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    call(&c, &addr, RequestCode::UnregisterBroker, &un).await;
    let c_route = route(&c, &addr, "C", 409).await;
    assert_eq!(c_route.response_code(), ResponseCode::TopicNotExist);
    let a_route = route(&c, &addr, "A", 409).await;
    assert_eq!(a_route.response_code(), ResponseCode::Success);
    ns.shutdown().await;
}
