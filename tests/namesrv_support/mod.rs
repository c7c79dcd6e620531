//! Shared helpers for the NameServer integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use ferrumq::namesrv::{masked_crc32, start_namesrv, NamesrvConfig, NamesrvHandle};
use ferrumq::protocol::*;
use ferrumq::remoting::RemotingClient;

pub const T: Duration = Duration::from_secs(3);

pub async fn start(dir: &tempfile::TempDir) -> NamesrvHandle {
    let config = NamesrvConfig {
        listen_port: 0,
        bind_address: "127.0.0.1".parse().unwrap(),
        kv_config_path: dir.path().join("kvConfig.json"),
        config_store_path: dir.path().join("namesrv.properties"),
        ..Default::default()
    };
    start_namesrv(config).await.unwrap()
}

pub fn topics(names: &[&str], counter: i64) -> RegisterBrokerBody {
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

pub fn register_req(
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
    RemotingCommand::new_request(RequestCode::RegisterBroker, Default::default())
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

pub fn req<H: CommandHeader>(code: RequestCode, h: &H) -> RemotingCommand {
    RemotingCommand::new_request(code, Default::default()).with_header(h)
}

pub async fn route(c: &RemotingClient, ns: &str, topic: &str, version: i32) -> RemotingCommand {
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

/// Sends a request with header `h` and returns the reply.
pub async fn call<H: CommandHeader>(
    c: &RemotingClient,
    ns: &str,
    code: RequestCode,
    h: &H,
) -> RemotingCommand {
    c.invoke(ns, req(code, h), T).await.unwrap()
}
