//! Process test with the real binaries: a SYNC_MASTER's slave reaches it through a TCP proxy
//! that cuts the replication connection again and again under a stream of sends. The slave
//! resumes at its own offset every time: at the end it holds every acknowledged message at
//! its queue offset, once, with no hole, and the same log as the master.

use std::time::{Duration, Instant};

use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::ha::{node, proxy};
use process_util::load::{check_acked, Load, TIMEOUT};
use process_util::start_namesrv;

mod process_util;

const TOPIC: &str = "HaProxy";
const QUEUES: i32 = 4;
const PRODUCERS: u64 = 4;

/// A broker's runtime-info value.
async fn runtime(client: &RemotingClient, addr: &str, key: &str) -> String {
    let req = RemotingCommand::new_request(RequestCode::GetBrokerRuntimeInfo, ExtFields::new());
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    v["table"][key].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_behind_a_cutting_proxy_ends_with_every_acknowledged_message() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(root.path());
    let (mut master, mut slave) = (node(root.path(), "master"), node(root.path(), "slave"));
    master.start(ns_port, "SYNC_MASTER");
    let client = RemotingClient::new(ClientConfig::default());
    let ha: std::net::SocketAddr = runtime(&client, &master.addr(), "haServerAddr")
        .await
        .parse()
        .unwrap();
    let (via, cut) = proxy(ha).await;
    slave.start_with(ns_port, "SLAVE", &format!("haMasterAddress={via}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime(&client, &master.addr(), "haSlaveCount").await != "1" {
        assert!(
            Instant::now() < deadline,
            "the slave never connected through the proxy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let load = Load::start(&client, &master.addr(), TOPIC, QUEUES, PRODUCERS, 0);
    // Cut the replication connection five times while sends flow (each cut: sends wait for
    // the slave or fail without SEND_OK until it is back).
    for round in 1..=5u32 {
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        cut.send_replace(round);
    }
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let acked = load.finish().await;
    assert!(acked.len() > 100, "only {} sends acknowledged", acked.len());
    let reconnects = runtime(&client, &master.addr(), "haSlaveCount").await;
    eprintln!(
        "{} sends acknowledged across 5 cuts (slaves now {reconnects})",
        acked.len()
    );

    // The slave holds every acknowledged message, and ends with the master's log.
    check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = runtime(&client, &master.addr(), "commitLogMaxOffset").await;
        let s = runtime(&client, &slave.addr(), "commitLogMaxOffset").await;
        if m == s {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slave log ends at {s}, master's at {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let on_master = check_acked(&client, &master.addr(), TOPIC, QUEUES, &acked).await;
    let on_slave = check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;
    assert_eq!(on_master, on_slave);
}
