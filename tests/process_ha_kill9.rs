//! Process tests with the real binaries: a SYNC_MASTER and its slave under a stream of sends.
//!
//! - `kill -9` of the master: every message the master acknowledged is on the slave, at its
//!   queue offset, once; the master restarted on its store catches up with no hole, and the
//!   pair goes on.
//! - `kill -9` of the slave: the master stops answering SEND_OK (SLAVE_NOT_AVAILABLE) until
//!   the slave is back; the restarted slave continues from its own offset, not from zero.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrumq::protocol::{ResponseCode, SendMessageResponseHeader};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::ha::{node, Node};
use process_util::load::{check_acked, send_request, Acked, Load, TIMEOUT};
use process_util::{start_namesrv, Proc};

mod process_util;

const TOPIC: &str = "HaKill9";
const QUEUES: i32 = 4;
const PRODUCERS: u64 = 6;

/// Sends probe messages (each its own body) until one is answered with `want` (the pair
/// settling); records the probes acknowledged with SEND_OK in `acked`.
async fn until_send_answers(
    client: &RemotingClient,
    addr: &str,
    want: ResponseCode,
    acked: &mut Acked,
) {
    static PROBE: AtomicU64 = AtomicU64::new(100_000_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seq = PROBE.fetch_add(1, Ordering::Relaxed);
        let resp = client
            .invoke(addr, send_request(TOPIC, QUEUES, 0, seq), TIMEOUT)
            .await;
        let code = resp.as_ref().map(|r| r.response_code());
        if let Ok(r) = &resp {
            if r.response_code() == ResponseCode::Success {
                let h: SendMessageResponseHeader = r.decode_header().unwrap();
                acked.insert((0, h.queue_offset), format!("message {seq}"));
            }
        }
        if code.as_ref().ok() == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sends still answer {code:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `addr` (a slave) knows the topic: it copies its master's topics every 10 s.
async fn until_topic_known(client: &RemotingClient, addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let req = ferrumq::protocol::RemotingCommand::new_request(
            ferrumq::protocol::RequestCode::GetTopicStatsInfo,
            [("topic", TOPIC)].into_iter().collect(),
        );
        let code = client
            .invoke(addr, req, TIMEOUT)
            .await
            .map(|r| r.response_code());
        if code.as_ref().ok() == Some(&ResponseCode::Success) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} does not know {TOPIC}: {code:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn load_for(client: &RemotingClient, addr: &str, run: Duration, first: u64) -> Acked {
    let load = Load::start(client, addr, TOPIC, QUEUES, PRODUCERS, first);
    tokio::time::sleep(run).await;
    load.finish().await
}

/// A NameServer, then a SYNC_MASTER and its SLAVE under `root`, once the master acknowledges
/// a send.
async fn start_pair(root: &Path) -> (Proc, u16, Node, Node, RemotingClient, Acked) {
    let (ns, ns_port) = start_namesrv(root);
    let (mut master, mut slave) = (node(root, "master"), node(root, "slave"));
    master.start(ns_port, "SYNC_MASTER");
    slave.start(ns_port, "SLAVE");
    let client = RemotingClient::new(ClientConfig::default());
    let mut acked = Acked::new();
    until_send_answers(&client, &master.addr(), ResponseCode::Success, &mut acked).await;
    (ns, ns_port, master, slave, client, acked)
}

/// After a restart: waits for the master to acknowledge sends again, then adds 500 ms of
/// load (ids from `first`) to `acked`.
async fn until_acknowledged_again(
    client: &RemotingClient,
    master_addr: &str,
    first: u64,
    acked: &mut Acked,
) {
    until_send_answers(client, master_addr, ResponseCode::Success, acked).await;
    acked.extend(load_for(client, master_addr, Duration::from_millis(500), first).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_the_sync_master_loses_no_acknowledged_message() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port, mut master, slave, client, mut acked) = start_pair(root.path()).await;

    // Sends in flight when the master dies.
    let load = Load::start(&client, &master.addr(), TOPIC, QUEUES, PRODUCERS, 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    master.kill9();
    tokio::time::sleep(Duration::from_millis(200)).await;
    acked.extend(load.finish().await);
    assert!(acked.len() > 100, "only {} sends acknowledged", acked.len());
    eprintln!(
        "{} sends acknowledged before kill -9 of the master",
        acked.len()
    );

    // The slave has every one of them, without the master.
    until_topic_known(&client, &slave.addr()).await;
    let on_slave = check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;

    // The master comes back on its own store: it holds at least what the slave has, the slave
    // follows it again, and new sends are acknowledged.
    master.start(ns_port, "SYNC_MASTER");
    until_acknowledged_again(&client, &master.addr(), 3_000_000, &mut acked).await;
    let on_master = check_acked(&client, &master.addr(), TOPIC, QUEUES, &acked).await;
    assert!(on_master > on_slave);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let master_total = check_acked(&client, &master.addr(), TOPIC, QUEUES, &acked).await;
        let slave_total = check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;
        if master_total == slave_total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slave {slave_total} != master {master_total}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_the_slave_stops_send_ok_until_it_is_back() {
    let root = tempfile::tempdir().unwrap();
    let (_ns, ns_port, master, mut slave, client, mut acked) = start_pair(root.path()).await;
    acked.extend(load_for(&client, &master.addr(), Duration::from_millis(700), 0).await);
    until_topic_known(&client, &slave.addr()).await;
    let before = check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;

    slave.kill9();
    // No SEND_OK without a slave (the master sees the connection close).
    until_send_answers(
        &client,
        &master.addr(),
        ResponseCode::SlaveNotAvailable,
        &mut acked,
    )
    .await;
    // Restarted on its own store: it goes on from its offset (a copy from zero would
    // duplicate nothing here, but its log would not continue: ReplicaGap), and sends are
    // acknowledged again.
    slave.start(ns_port, "SLAVE");
    until_acknowledged_again(&client, &master.addr(), 7_000_000, &mut acked).await;
    let after = check_acked(&client, &slave.addr(), TOPIC, QUEUES, &acked).await;
    assert!(after > before, "{after} <= {before}");
}
