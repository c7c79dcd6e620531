//! NameServer in-process on 127.0.0.1:0, driven over TCP with the remoting client:
//! registration (plain, compressed, oneway, slave), routes, cluster info, topic lists,
//! KV config, perms, deletion, data versions (wire doc §9).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ferrumq::namesrv::{masked_crc32, start_namesrv, NamesrvConfig, NamesrvHandle};
use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};

const T: Duration = Duration::from_secs(3);

async fn start(dir: &tempfile::TempDir) -> NamesrvHandle {
    let config = NamesrvConfig {
        listen_port: 0,
        bind_address: "127.0.0.1".parse().unwrap(),
        kv_config_path: dir.path().join("kvConfig.json"),
        config_store_path: dir.path().join("namesrv.properties"),
        ..Default::default()
    };
    start_namesrv(config).await.unwrap()
}

fn topics(names: &[&str], counter: i64) -> RegisterBrokerBody {
    let mut table = BTreeMap::new();
    for n in names {
        let mut tc = TopicConfig::new(*n);
        tc.read_queue_nums = 4;
        tc.write_queue_nums = 4;
        table.insert((*n).to_owned(), tc);
    }
    RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter,
                state_version: None,
                timestamp: 1000,
            },
            topic_config_table: table,
        },
    }
}

fn register_req(
    name: &str,
    addr: &str,
    id: i64,
    body: &RegisterBrokerBody,
    compressed: bool,
) -> RemotingCommand {
    let bytes = if compressed {
        body.encode_compressed()
    } else {
        body.encode()
    };
    RemotingCommand::new_request(RequestCode::RegisterBroker, HashMap::new())
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: name.into(),
            broker_addr: addr.into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: addr.replace(":10911", ":10912"),
            broker_id: id,
            compressed,
            body_crc32: masked_crc32(&bytes),
            ..Default::default()
        })
        .with_body(bytes)
}

fn req<H: CommandHeader>(code: RequestCode, h: &H) -> RemotingCommand {
    RemotingCommand::new_request(code, HashMap::new()).with_header(h)
}

async fn route(c: &RemotingClient, ns: &str, topic: &str, version: i32) -> RemotingCommand {
    let mut r = req(
        RequestCode::GetRouteinfoByTopic,
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            ..Default::default()
        },
    );
    r.version = version;
    c.invoke(ns, r, T).await.unwrap()
}

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
            RemotingCommand::new_request(RequestCode::GetBrokerClusterInfo, HashMap::new()),
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
    bad.ext_fields.insert("bodyCrc32".into(), "12345".into());
    let r = c.invoke(&addr, bad, T).await.unwrap();
    assert_eq!(
        (r.response_code(), r.remark.as_deref()),
        (ResponseCode::SystemError, Some("crc32 not match"))
    );

    let mut garbage = register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["T"], 1), true);
    garbage.body = bytes::Bytes::from_static(b"not zlib");
    garbage.ext_fields.insert("bodyCrc32".into(), "0".into());
    let r = c.invoke(&addr, garbage, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SystemError);

    let r = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, HashMap::new()),
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
    junk.ext_fields.insert("brokerId".into(), "zero".into());
    let r = c.invoke(&addr, junk, T).await.unwrap();
    assert!(r.remark.unwrap().contains("<brokerId>"));
    let r = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::PullMessage, HashMap::new()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::RequestCodeNotSupported);
    ns.shutdown().await;
}

#[tokio::test]
async fn oneway_register_topic_lists_delete_and_perms() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    c.invoke_oneway(
        &addr,
        register_req(
            "broker-a",
            "10.0.0.1:10911",
            0,
            &topics(&["A", "B"], 1),
            false,
        ),
    )
    .await
    .unwrap();
    let b = register_req(
        "broker-b",
        "10.0.0.3:10911",
        0,
        &topics(&["B", "C"], 1),
        false,
    );
    c.invoke(&addr, b, T).await.unwrap();
    // Incremental registration (admin topic creation) adds, never removes.
    c.invoke(
        &addr,
        register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["D"], 2), false),
        T,
    )
    .await
    .unwrap();

    let all = c
        .invoke(
            &addr,
            RemotingCommand::new_request(
                RequestCode::GetAllTopicListFromNameserver,
                HashMap::new(),
            ),
            T,
        )
        .await
        .unwrap();
    let list = TopicList::decode(&all.body).unwrap();
    assert_eq!(
        list.topic_list
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["A", "B", "C", "D"]
    );

    let by = c
        .invoke(
            &addr,
            req(
                RequestCode::GetTopicsByCluster,
                &GetTopicsByClusterRequestHeader {
                    cluster: "DefaultCluster".into(),
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(TopicList::decode(&by.body).unwrap().topic_list.len(), 4);

    let sys = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::GetSystemTopicListFromNs, HashMap::new()),
            T,
        )
        .await
        .unwrap();
    let sys = TopicList::decode(&sys.body).unwrap();
    assert!(sys.topic_list.contains("DefaultCluster") && sys.topic_list.contains("broker-b"));
    assert!(sys.broker_addr.is_some());

    let w = c
        .invoke(
            &addr,
            req(
                RequestCode::WipeWritePermOfBroker,
                &WipeWritePermOfBrokerRequestHeader {
                    broker_name: "broker-a".into(),
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        w.decode_header::<WipeWritePermOfBrokerResponseHeader>()
            .unwrap()
            .wipe_topic_count,
        3
    );
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.queue_datas[0].perm, perm::READ);
    let a = c
        .invoke(
            &addr,
            req(
                RequestCode::AddWritePermOfBroker,
                &AddWritePermOfBrokerRequestHeader {
                    broker_name: "broker-a".into(),
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        a.decode_header::<AddWritePermOfBrokerResponseHeader>()
            .unwrap()
            .add_topic_count,
        3
    );
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.queue_datas[0].perm, perm::READ | perm::WRITE);

    let del = DeleteTopicFromNamesrvRequestHeader {
        topic: "B".into(),
        cluster_name: None,
    };
    c.invoke(&addr, req(RequestCode::DeleteTopicInNamesrv, &del), T)
        .await
        .unwrap();
    assert_eq!(
        route(&c, &addr, "B", 409).await.response_code(),
        ResponseCode::TopicNotExist
    );

    let un = UnRegisterBrokerRequestHeader {
        broker_name: "broker-b".into(),
        broker_addr: "10.0.0.3:10911".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    c.invoke(&addr, req(RequestCode::UnregisterBroker, &un), T)
        .await
        .unwrap();
    assert_eq!(
        route(&c, &addr, "C", 409).await.response_code(),
        ResponseCode::TopicNotExist
    );
    assert_eq!(
        route(&c, &addr, "A", 409).await.response_code(),
        ResponseCode::Success
    );
    ns.shutdown().await;
}

#[tokio::test]
async fn kv_config_persists_and_order_conf_reaches_routes() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let put = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "A".into(),
        value: "broker-a:4".into(),
    };
    assert_eq!(
        c.invoke(&addr, req(RequestCode::PutKvConfig, &put), T)
            .await
            .unwrap()
            .response_code(),
        ResponseCode::Success
    );
    let get = GetKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "A".into(),
    };
    let r = c
        .invoke(&addr, req(RequestCode::GetKvConfig, &get), T)
        .await
        .unwrap();
    assert_eq!(
        r.decode_header::<GetKvConfigResponseHeader>()
            .unwrap()
            .value
            .as_deref(),
        Some("broker-a:4")
    );
    let missing = GetKvConfigRequestHeader {
        namespace: "x".into(),
        key: "y".into(),
    };
    assert_eq!(
        c.invoke(&addr, req(RequestCode::GetKvConfig, &missing), T)
            .await
            .unwrap()
            .response_code(),
        ResponseCode::QueryNotFound
    );
    let list = c
        .invoke(
            &addr,
            req(
                RequestCode::GetKvlistByNamespace,
                &GetKvListByNamespaceRequestHeader {
                    namespace: "ORDER_TOPIC_CONFIG".into(),
                },
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        KvTable::decode(&list.body).unwrap().table["A"],
        "broker-a:4"
    );

    // The register reply carries the ORDER_TOPIC_CONFIG namespace.
    let r = c
        .invoke(
            &addr,
            register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["A"], 1), false),
            T,
        )
        .await
        .unwrap();
    assert_eq!(KvTable::decode(&r.body).unwrap().table["A"], "broker-a:4");

    // orderMessageEnable via UPDATE_NAMESRV_CONFIG, then the route has orderTopicConf.
    let upd = RemotingCommand::new_request(RequestCode::UpdateNamesrvConfig, HashMap::new())
        .with_body("orderMessageEnable=true\n");
    assert_eq!(
        c.invoke(&addr, upd, T).await.unwrap().response_code(),
        ResponseCode::Success
    );
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.order_topic_conf.as_deref(), Some("broker-a:4"));
    let cfg = c
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::GetNamesrvConfig, HashMap::new()),
            T,
        )
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&cfg.body).contains("orderMessageEnable=true"));
    let black = RemotingCommand::new_request(RequestCode::UpdateNamesrvConfig, HashMap::new())
        .with_body("kvConfigPath=/etc/x\n");
    assert_eq!(
        c.invoke(&addr, black, T).await.unwrap().response_code(),
        ResponseCode::NoPermission
    );

    let del = DeleteKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "A".into(),
    };
    c.invoke(&addr, req(RequestCode::DeleteKvConfig, &del), T)
        .await
        .unwrap();
    ns.shutdown().await;
    let text = std::fs::read_to_string(dir.path().join("kvConfig.json")).unwrap();
    assert!(!text.contains("broker-a:4"), "delete persisted: {text}");

    // A restarted NameServer reloads the KV file.
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let put = PutKvConfigRequestHeader {
        namespace: "ns".into(),
        key: "k".into(),
        value: "v".into(),
    };
    c.invoke(&addr, req(RequestCode::PutKvConfig, &put), T)
        .await
        .unwrap();
    ns.shutdown().await;
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let get = GetKvConfigRequestHeader {
        namespace: "ns".into(),
        key: "k".into(),
    };
    let r = c
        .invoke(&addr, req(RequestCode::GetKvConfig, &get), T)
        .await
        .unwrap();
    assert_eq!(r.ext_fields.get("value").map(String::as_str), Some("v"));
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
