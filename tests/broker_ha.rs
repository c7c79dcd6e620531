//! A SYNC_MASTER and its slave, in process, over TCP: the slave finds its master's HA port
//! through the NameServer's registration answer and copies every message; a send is SEND_OK
//! only once the slave has it, SLAVE_NOT_AVAILABLE while no slave is connected; the slave
//! refuses sends.

mod broker_util;

use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::broker::config::BrokerRole;
use ferrumq::broker::{start_broker, BrokerConfig, BrokerHandle};

fn slave_config(c: &Cluster, dir: &std::path::Path) -> BrokerConfig {
    let mut cfg = c.broker_config();
    cfg.broker_role = BrokerRole::Slave;
    cfg.broker_id = 1;
    cfg.store.store_path_root_dir = dir.join("slave-store");
    cfg
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ha_slaves(c: &Cluster) -> usize {
    let broker = c.broker.as_ref().expect("master running");
    broker.inner().ha.as_ref().map_or(0, |ha| ha.slaves())
}

async fn send_to(addr: &str, c: &Cluster, body: &str) -> i32 {
    let req = send_request("HaTopic", 0, "", body.as_bytes().to_vec(), false);
    c.client
        .invoke(addr, req, TIMEOUT)
        .await
        .expect("an answer")
        .code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_master_answers_send_ok_only_with_its_slave() {
    let c = Cluster::start_with(|cfg| {
        cfg.broker_role = BrokerRole::SyncMaster;
        cfg.store.sync_flush_timeout_ms = 3_000;
    })
    .await;
    // Created first, while no slave is there.
    c.send("HaTopic", "", b"create").await;
    let master = c.addr();
    assert_eq!(
        send_to(&master, &c, "alone").await,
        11,
        "SLAVE_NOT_AVAILABLE"
    );

    let dir = tempfile::tempdir().unwrap();
    let slave: BrokerHandle = start_broker(slave_config(&c, dir.path())).await.unwrap();
    until("the slave connected", || ha_slaves(&c) == 1).await;
    for i in 0..20 {
        assert_eq!(send_to(&master, &c, &format!("m{i}")).await, 0, "SEND_OK");
    }
    let master_end = c
        .broker
        .as_ref()
        .unwrap()
        .inner()
        .store
        .commit_log_max_offset() as u64;
    // SEND_OK means the slave has the bytes already.
    assert!(slave.inner().store.replica_received_offset() >= master_end);
    // Its own ConsumeQueue has them all ("alone" and the 20; "create" went to a random queue).
    let master_store = c.broker.as_ref().unwrap().inner().store.clone();
    until("the slave's queue", || {
        let want = master_store.max_offset_in_queue("HaTopic", 0);
        want >= 21 && slave.inner().store.max_offset_in_queue("HaTopic", 0) == want
    })
    .await;

    let slave_addr = slave.local_addr().to_string();
    assert_eq!(
        send_to(&slave_addr, &c, "to the slave").await,
        14,
        "SERVICE_NOT_AVAILABLE"
    );

    slave.shutdown().await;
    until("the slave gone", || ha_slaves(&c) == 0).await;
    assert_eq!(send_to(&master, &c, "alone again").await, 11);
    c.shutdown().await;
}

async fn suggestion(c: &Cluster) -> String {
    let r = c
        .call(pull_request("slow-readers", "SlowTopic", 0, 0, 0x4, "*", 0))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    field(&r, "suggestWhichBrokerId").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_far_behind_is_pointed_at_the_slave_only_with_slave_read_enable() {
    // "Far behind" is any lag at accessMessageInMemoryMaxRatio 0.
    let c = Cluster::start_with(|cfg| {
        cfg.slave_read_enable = true;
        cfg.access_message_in_memory_max_ratio = 0;
    })
    .await;
    for i in 0..3 {
        c.send_to("SlowTopic", 0, "", format!("m{i}").as_bytes())
            .await;
    }
    assert_eq!(suggestion(&c).await, "1", "whichBrokerWhenConsumeSlowly");
    c.shutdown().await;

    let c = Cluster::start_with(|cfg| cfg.access_message_in_memory_max_ratio = 0).await;
    for i in 0..3 {
        c.send_to("SlowTopic", 0, "", format!("m{i}").as_bytes())
            .await;
    }
    assert_eq!(suggestion(&c).await, "0", "slaveReadEnable is off");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_follows_the_suggestion_to_read_from_the_slave() {
    // Every consumer counts as far behind: the master points it at the slave, and so does the
    // slave itself.
    let c = Cluster::start_with(|cfg| {
        cfg.slave_read_enable = true;
        cfg.access_message_in_memory_max_ratio = 0;
    })
    .await;
    c.send("SlaveRead", "", b"create").await;
    let dir = tempfile::tempdir().unwrap();
    let slave = start_broker(slave_config(&c, dir.path())).await.unwrap();
    until("the slave connected", || ha_slaves(&c) == 1).await;
    let p = ferrumq::client::Producer::builder(&c.namesrv_addr())
        .build()
        .unwrap();
    for i in 0..50 {
        p.send(ferrumq::client::Message::new("SlaveRead", format!("m{i}")))
            .await
            .unwrap();
    }
    let master_end = c
        .broker
        .as_ref()
        .unwrap()
        .inner()
        .store
        .commit_log_max_offset();
    until("the slave has them", || {
        slave.inner().store.commit_log_max_offset() == master_end
    })
    .await;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = seen.clone();
    let consumer = ferrumq::client::PushConsumer::builder(&c.namesrv_addr())
        .group("slave-readers")
        .subscribe("SlaveRead", "*")
        .pull_batch(4)
        .start(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::future::ready(ferrumq::client::ConsumeResult::Success)
        })
        .await
        .unwrap();
    // Reset to the start: a new group on a young queue may begin at 0 already.
    let admin = ferrumq::client::Admin::new(&c.namesrv_addr()).unwrap();
    until("queues assigned", || !consumer.assigned().is_empty()).await;
    admin
        .reset_offset_by_time("SlaveRead", "slave-readers", 0, true)
        .await
        .unwrap();
    until("50 consumed", || {
        seen.load(std::sync::atomic::Ordering::Relaxed) >= 50
    })
    .await;
    let served = slave
        .inner()
        .stats
        .total(ferrumq::broker::stats::Stat::BrokerGetNums, "TestCluster");
    assert!(served > 0, "the slave served no message");
    consumer.shutdown().await;
    slave.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_started_before_its_master_finds_it_without_waiting_a_period() {
    let mut c = Cluster::start_with(|cfg| cfg.broker_role = BrokerRole::SyncMaster).await;
    if let Some(master) = c.broker.take() {
        master.shutdown().await;
    }
    // The slave registers first: the NameServer's answer names no master yet.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = slave_config(&c, dir.path());
    cfg.register_name_server_period_ms = 30_000;
    let slave = start_broker(cfg).await.unwrap();
    c.start_broker().await;
    // Well before the next 30 s registration.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ha_slaves(&c) == 0 {
        assert!(
            Instant::now() < deadline,
            "the slave waited for its next registration"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slave.shutdown().await;
    c.shutdown().await;
}
