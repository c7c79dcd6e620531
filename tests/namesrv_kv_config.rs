//! NameServer KV config over TCP: put/get/list/delete, persistence across restarts,
//! orderTopicConf in routes and register replies, UPDATE/GET_NAMESRV_CONFIG (wire doc §9).

mod namesrv_support;

use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};
use namesrv_support::*;

const ORDER: &str = "ORDER_TOPIC_CONFIG";

fn kv_get(namespace: &str, key: &str) -> GetKvConfigRequestHeader {
    GetKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
    }
}

fn kv_put(namespace: &str, key: &str, value: &str) -> PutKvConfigRequestHeader {
    PutKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
        value: value.into(),
    }
}

#[tokio::test]
async fn put_get_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let r = call(
        &c,
        &addr,
        RequestCode::PutKvConfig,
        &kv_put(ORDER, "A", "broker-a:4"),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::Success);
    let r = call(&c, &addr, RequestCode::GetKvConfig, &kv_get(ORDER, "A")).await;
    let value = r
        .decode_header::<GetKvConfigResponseHeader>()
        .unwrap()
        .value;
    assert_eq!(value.as_deref(), Some("broker-a:4"));
    let r = call(&c, &addr, RequestCode::GetKvConfig, &kv_get("x", "y")).await;
    assert_eq!(r.response_code(), ResponseCode::QueryNotFound);

    let h = GetKvListByNamespaceRequestHeader {
        namespace: ORDER.into(),
    };
    let list = call(&c, &addr, RequestCode::GetKvlistByNamespace, &h).await;
    assert_eq!(
        KvTable::decode(&list.body).unwrap().table["A"],
        "broker-a:4"
    );
    let h = GetKvListByNamespaceRequestHeader {
        namespace: "empty".into(),
    };
    let list = call(&c, &addr, RequestCode::GetKvlistByNamespace, &h).await;
    assert_eq!(list.response_code(), ResponseCode::QueryNotFound);

    let del = DeleteKvConfigRequestHeader {
        namespace: ORDER.into(),
        key: "A".into(),
    };
    call(&c, &addr, RequestCode::DeleteKvConfig, &del).await;
    let r = call(&c, &addr, RequestCode::GetKvConfig, &kv_get(ORDER, "A")).await;
    assert_eq!(r.response_code(), ResponseCode::QueryNotFound);
    ns.shutdown().await;
    let text = std::fs::read_to_string(dir.path().join("kvConfig.json")).unwrap();
    assert!(!text.contains("broker-a:4"), "delete persisted: {text}");
}

#[tokio::test]
async fn kv_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = RemotingClient::new(ClientConfig::default());
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    call(&c, &addr, RequestCode::PutKvConfig, &kv_put("ns", "k", "v")).await;
    ns.shutdown().await;

    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let r = call(&c, &addr, RequestCode::GetKvConfig, &kv_get("ns", "k")).await;
    assert_eq!(r.ext_fields.get("value"), Some("v"));
    ns.shutdown().await;
}

#[tokio::test]
async fn order_conf_in_register_reply_and_routes_and_namesrv_config() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir).await;
    let addr = ns.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    call(
        &c,
        &addr,
        RequestCode::PutKvConfig,
        &kv_put(ORDER, "A", "broker-a:4"),
    )
    .await;

    // The register reply carries the ORDER_TOPIC_CONFIG namespace.
    let reg = register_req("broker-a", "10.0.0.1:10911", 0, &topics(&["A"], 1), false);
    let r = c.invoke(&addr, reg, T).await.unwrap();
    assert_eq!(KvTable::decode(&r.body).unwrap().table["A"], "broker-a:4");
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(
        rd.order_topic_conf, None,
        "orderMessageEnable is off by default"
    );

    // orderMessageEnable via UPDATE_NAMESRV_CONFIG, then the route has orderTopicConf.
    let upd = RemotingCommand::new_request(RequestCode::UpdateNamesrvConfig, Default::default())
        .with_body("orderMessageEnable=true\n");
    assert_eq!(
        c.invoke(&addr, upd, T).await.unwrap().response_code(),
        ResponseCode::Success
    );
    let rd = TopicRouteData::decode(&route(&c, &addr, "A", 409).await.body).unwrap();
    assert_eq!(rd.order_topic_conf.as_deref(), Some("broker-a:4"));
    let cfg = call(&c, &addr, RequestCode::GetNamesrvConfig, &()).await;
    assert!(String::from_utf8_lossy(&cfg.body).contains("orderMessageEnable=true"));
    assert!(
        dir.path().join("namesrv.properties").exists(),
        "update persisted"
    );

    let black = RemotingCommand::new_request(RequestCode::UpdateNamesrvConfig, Default::default())
        .with_body("kvConfigPath=/etc/x\n");
    let r = c.invoke(&addr, black, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::NoPermission);
    ns.shutdown().await;
}
