//! NameServer in-process on 127.0.0.1:0, driven over TCP: registration (plain,
//! compressed, slave), routes, cluster info, errors, data versions (wire doc §9).

mod namesrv_support;

use std::collections::BTreeMap;

use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};
use namesrv_support::*;

#[tokio::test]
async fn register_then_route_and_cluster_info() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());

    let body = topics(&["TopicA", "TBW102"], 1);
    let r = c
        .invoke(
            &addr,
            register_req("broker-a", "10.0.0.1:10911", 0, &body, false),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::Success, "{:?}", r.remark);
    let r = c
        .invoke(
            &addr,
            register_req("broker-a", "10.0.0.2:10911", 1, &body, true),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::Success);
    let slave: RegisterBrokerResponseHeader = r.decode_header().unwrap();
    assert_eq!(slave.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(slave.ha_server_addr.as_deref(), Some("10.0.0.1:10912"));

    // Old clients (C++ reports 63): bare numeric keys, no whitespace.
    let r = route(&c, &addr, "TopicA", 63).await;
    assert_eq!(r.response_code(), ResponseCode::Success);
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(
        text.contains(r#""brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}"#),
        "{text}"
    );
    assert!(text.contains(r#""filterServerTable":{}"#) && !text.contains(' '));
    let rd = TopicRouteData::decode(&r.body).unwrap();
    assert_eq!(rd.queue_datas.len(), 1);
    assert_eq!(
        (rd.queue_datas[0].read_queue_nums, rd.queue_datas[0].perm),
        (4, 6)
    );

    // 4.9.4+ clients: standard JSON.
    let r = route(&c, &addr, "TopicA", 409).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["brokerDatas"][0]["brokerAddrs"]["1"], "10.0.0.2:10911");

    let r = route(&c, &addr, "NoSuchTopic", 409).await;
    assert_eq!(r.response_code(), ResponseCode::TopicNotExist);
    assert!(r.remark.unwrap().contains("NoSuchTopic"));

    let r = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::GetBrokerClusterInfo, Default::default()),
            T,
        )
        .await
        .unwrap();
    let ci: ClusterInfo = serde_json::from_slice(&r.body).unwrap();
    assert!(ci.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert_eq!(ci.broker_addr_table["broker-a"].broker_addrs.len(), 2);
    ns.shutdown().await;
}

#[tokio::test]
async fn crc_mismatch_bad_body_and_missing_fields_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let mut bad = register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["T"], 1), false);
    bad.ext_fields.insert("bodyCrc32", "12345");
    let r = c.invoke(&addr, bad, T).await.unwrap();
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (ResponseCode::SystemError, Some("crc32 not match"))
    );

    let mut garbage = register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["T"], 1), true);
    garbage.body = bytes::Bytes::from_static(b"not zlib");
    garbage.ext_fields.insert("bodyCrc32", "0");
    let r = c.invoke(&addr, garbage, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SystemError);

    let r = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, Default::default()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (
            ResponseCode::SystemError,
            Some("the custom field <topic> is null")
        )
    );
    let mut junk = register_req("b", "1.1.1.1:1", 0, &topics(&[], 1), false);
    junk.ext_fields.insert("brokerId", "zero");
    let r = c.invoke(&addr, junk, T).await.unwrap();
    assert!(r.remark.unwrap().contains("<brokerId>"));
    let r = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::PullMessage, Default::default()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::RequestCodeNotSupported);
    ns.shutdown().await;
}

#[tokio::test]
async fn query_data_version_and_slave_to_master_switch() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let body = topics(&["A"], 7);
    c.invoke(
        &addr,
        register_req("broker-a", "10.0.0.1:10911", 0, &body, false),
        T,
    )
    .await
    .unwrap();
    let q = QueryDataVersionRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: "10.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    let same = req(RequestCode::QueryDataVersion, &q)
        .with_body(body.topic_config_serialize_wrapper.data_version.encode());
    let r = c.invoke(&addr, same, T).await.unwrap();
    assert!(
        !r.decode_header::<QueryDataVersionResponseHeader>()
            .unwrap()
            .changed
    );
    let other = req(RequestCode::QueryDataVersion, &q).with_body(
        DataVersion {
            counter: 8,
            state_version: None,
            timestamp: 1,
        }
        .encode(),
    );
    let r = c.invoke(&addr, other, T).await.unwrap();
    assert!(
        r.decode_header::<QueryDataVersionResponseHeader>()
            .unwrap()
            .changed
    );
    assert_eq!(DataVersion::decode(&r.body).unwrap().counter, 7);

    // The slave at .2 becomes master: its old id entry goes.
    c.invoke(
        &addr,
        register_req("broker-a", "10.0.0.2:10911", 1, &body, false),
        T,
    )
    .await
    .unwrap();
    c.invoke(
        &addr,
        register_req("broker-a", "10.0.0.2:10911", 0, &body, false),
        T,
    )
    .await
    .unwrap();
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(
        rd.broker_datas[0].broker_addrs,
        BTreeMap::from([(0, "10.0.0.2:10911".to_owned())])
    );
    ns.shutdown().await;
}
