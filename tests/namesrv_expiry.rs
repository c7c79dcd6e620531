//! Brokers leave the routes when they go silent past the expiry, or when their connection
//! closes (wire doc §9). Timers are shortened through the config.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrumq::namesrv::{start_namesrv, NamesrvConfig, NamesrvHandle};
use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};

const T: Duration = Duration::from_secs(3);

async fn start(dir: &tempfile::TempDir, expiry_ms: u64) -> NamesrvHandle {
    start_namesrv(NamesrvConfig {
        listen_port: 0,
        bind_address: "127.0.0.1".parse().unwrap(),
        kv_config_path: dir.path().join("kv.json"),
        scan_not_active_broker_interval_ms: 50,
        broker_channel_expired_time_ms: expiry_ms,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn register(name: &str, addr: &str, topic: &str) -> RemotingCommand {
    let mut table = BTreeMap::new();
    table.insert(topic.to_owned(), TopicConfig::new(topic));
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion::default(),
            topic_config_table: table,
        },
    };
    RemotingCommand::new_request(RequestCode::RegisterBroker, Default::default())
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: name.into(),
            broker_addr: addr.into(),
            cluster_name: "C".into(),
            ha_server_addr: String::new(),
            broker_id: 0,
            ..Default::default()
        })
        .with_body(body.encode())
}

async fn route_code(c: &RemotingClient, ns: &str, topic: &str) -> ResponseCode {
    let r = RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, Default::default())
        .with_header(&GetRouteInfoRequestHeader {
            topic: topic.into(),
            ..Default::default()
        });
    c.invoke(ns, r, T).await.unwrap().response_code()
}

#[tokio::test]
async fn silent_broker_expires_while_a_live_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir, 600).await;
    let addr = ns.local_addr().to_string();
    let silent = RemotingClient::new(ClientConfig::default());
    let live = RemotingClient::new(ClientConfig::default());
    silent
        .invoke(&addr, register("silent", "10.0.0.9:10911", "Gone"), T)
        .await
        .unwrap();
    live.invoke(&addr, register("live", "10.0.0.8:10911", "Kept"), T)
        .await
        .unwrap();
    assert_eq!(
        route_code(&live, &addr, "Gone").await,
        ResponseCode::Success
    );
    // The live broker keeps registering; the silent one (connection still open) does not.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        live.invoke(&addr, register("live", "10.0.0.8:10911", "Kept"), T)
            .await
            .unwrap();
    }
    assert_eq!(
        route_code(&live, &addr, "Gone").await,
        ResponseCode::TopicNotExist
    );
    assert_eq!(
        route_code(&live, &addr, "Kept").await,
        ResponseCode::Success
    );
    assert!(!ns
        .routes()
        .cluster_info()
        .broker_addr_table
        .contains_key("silent"));
    ns.shutdown().await;
}

#[tokio::test]
async fn closed_connection_removes_broker_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ns = start(&dir, 120_000).await;
    let addr = ns.local_addr().to_string();
    let broker = RemotingClient::new(ClientConfig::default());
    broker
        .invoke(&addr, register("b", "10.0.0.7:10911", "Tc"), T)
        .await
        .unwrap();
    let client = RemotingClient::new(ClientConfig::default());
    assert_eq!(
        route_code(&client, &addr, "Tc").await,
        ResponseCode::Success
    );
    drop(broker);
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if route_code(&client, &addr, "Tc").await == ResponseCode::TopicNotExist {
            gone = true;
            break;
        }
    }
    assert!(gone, "broker removed when its connection closed");
    ns.shutdown().await;
}
