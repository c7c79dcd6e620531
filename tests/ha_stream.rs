//! The replication stream over TCP between two stores: a slave following a master ends with
//! the same CommitLog and queues, also for what is appended while it follows; SYNC_MASTER
//! waits are answered by the slave's acknowledgements, refused without a slave, and time out
//! when the slave stops acknowledging; a slave cut off mid-stream (a proxy in between) picks
//! up at its own offset, never applying a byte twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrumq::broker::ha::{slave, HaService, Replicated};
use ferrumq_store::{GetMessageStatus, MessageStore, MessageToStore, StoreConfig};
use process_util::ha::proxy;
use tokio::io::AsyncWriteExt;

mod process_util;
use tokio::net::TcpStream;

fn config(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 64 * 1024,
        mapped_file_size_consume_queue_entries: 1_000,
        max_hash_slot_num: 64,
        max_index_num: 256,
        ..StoreConfig::with_root(root)
    }
}

fn put(store: &MessageStore, i: usize) -> u64 {
    let m = MessageToStore {
        topic: "Ha".into(),
        queue_id: (i % 4) as i32,
        flag: 0,
        body: vec![b'0' + (i % 10) as u8; 100 + (i * 53) % 900].into(),
        properties: String::new(),
        sys_flag: 0,
        born_timestamp_ms: 1_700_000_000_000,
        born_host: "127.0.0.1:5555".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    let (r, _) = store.put_message(m).unwrap();
    (r.physical_offset + r.wrote_bytes as i64) as u64
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every queue's (offset, body length) list: equal lists mean the same messages.
fn queues(store: &MessageStore) -> Vec<Vec<(i64, usize)>> {
    (0..4)
        .map(|q| {
            let r = store.get_message("Ha", q, 0, 10_000, usize::MAX, &|_| true);
            assert_eq!(r.status, GetMessageStatus::Found, "queue {q}");
            r.messages
                .iter()
                .map(|m| {
                    let rec = ferrumq_store::message::decode_record(m).unwrap();
                    (rec.queue_offset, rec.body.len())
                })
                .collect()
        })
        .collect()
}

struct Pair {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    master: Arc<MessageStore>,
    slave: Arc<MessageStore>,
    ha: Arc<HaService>,
    ha_addr: SocketAddr,
}

async fn pair() -> Pair {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = MessageStore::open(config(dirs.0.path())).unwrap();
    let slave = MessageStore::open(config(dirs.1.path())).unwrap();
    let ha = HaService::new(master.clone(), 256 << 20);
    let ha_addr = ha.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Pair {
        _dirs: dirs,
        master,
        slave,
        ha,
        ha_addr,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_follows_its_master() {
    let p = pair().await;
    for i in 0..300 {
        put(&p.master, i);
    }
    let addr = p.ha_addr.to_string();
    let follower = tokio::spawn(slave::follow(
        p.slave.clone(),
        move || Some(addr.clone()),
        Default::default(),
    ));
    let caught_up = |p: &Pair| p.slave.commit_log_max_offset() == p.master.commit_log_max_offset();
    until("the backlog copied", || caught_up(&p)).await;
    // Appends while it follows reach it too, across file ends.
    for i in 300..600 {
        put(&p.master, i);
    }
    until("the new messages copied", || caught_up(&p)).await;
    p.master.debug_wait_dispatched();
    p.slave.debug_wait_dispatched();
    assert_eq!(queues(&p.slave), queues(&p.master));
    until("the slave's ack", || {
        p.ha.acked_offset() == p.master.commit_log_max_offset() as u64
    })
    .await;
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_waits_for_the_slave() {
    let p = pair().await;
    let end = put(&p.master, 0);
    assert_eq!(
        p.ha.wait_replicated(end, Duration::from_secs(3)).await,
        Replicated::NoSlave,
        "no slave connected"
    );
    let addr = p.ha_addr.to_string();
    let follower = tokio::spawn(slave::follow(
        p.slave.clone(),
        move || Some(addr.clone()),
        Default::default(),
    ));
    until("the slave connected", || p.ha.slaves() == 1).await;
    let end = put(&p.master, 1);
    assert_eq!(
        p.ha.wait_replicated(end, Duration::from_secs(10)).await,
        Replicated::Yes
    );
    assert!(p.slave.replica_received_offset() >= end);

    // A slave that reports once and then never acknowledges: the wait times out.
    follower.abort();
    until("the slave gone", || p.ha.slaves() == 0).await;
    let mut mute = TcpStream::connect(p.ha_addr).await.unwrap();
    mute.write_all(&(end as i64).to_be_bytes()).await.unwrap();
    until("the mute slave connected", || p.ha.slaves() == 1).await;
    let end = put(&p.master, 2);
    assert_eq!(
        p.ha.wait_replicated(end, Duration::from_millis(300)).await,
        Replicated::Timeout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_resumes_at_the_slaves_offset() {
    let p = pair().await;
    let (via, cut) = proxy(p.ha_addr).await;
    let addr = via.to_string();
    let follower = tokio::spawn(slave::follow(
        p.slave.clone(),
        move || Some(addr.clone()),
        Default::default(),
    ));
    until("connected", || p.ha.connections_accepted() == 1).await;
    for round in 0..3u32 {
        for i in 0..200 {
            put(&p.master, round as usize * 200 + i);
        }
        // Cut while bytes are in flight: the slave reconnects and goes on from its own end.
        tokio::time::sleep(Duration::from_millis(2)).await;
        cut.send_replace(round + 1);
        until("reconnected", || {
            p.ha.connections_accepted() == u64::from(round) + 2
        })
        .await;
    }
    until("everything copied", || {
        p.slave.commit_log_max_offset() == p.master.commit_log_max_offset()
    })
    .await;
    p.master.debug_wait_dispatched();
    p.slave.debug_wait_dispatched();
    // A byte applied twice or out of place would break a record or shift the queues.
    assert_eq!(queues(&p.slave), queues(&p.master));
    follower.abort();
    // The raw bytes match as well.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut at = p.master.commit_log_min_offset() as u64;
    while let Some(chunk) = p.master.replica_read(at, 1 << 20) {
        a.extend_from_slice(&chunk);
        at += chunk.len() as u64;
    }
    let mut at = p.slave.commit_log_min_offset() as u64;
    while let Some(chunk) = p.slave.replica_read(at, 1 << 20) {
        b.extend_from_slice(&chunk);
        at += chunk.len() as u64;
    }
    assert!(
        a == b,
        "CommitLogs differ ({} vs {} bytes)",
        a.len(),
        b.len()
    );
}

/// Everything a store's CommitLog holds, from its first byte.
fn log_bytes(store: &MessageStore) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = store.commit_log_min_offset() as u64;
    while let Some(chunk) = store.replica_read(at, 1 << 20) {
        out.extend_from_slice(&chunk);
        at += chunk.len() as u64;
    }
    out
}

fn reopen(store: Arc<MessageStore>, dir: &std::path::Path) -> Arc<MessageStore> {
    store.shutdown();
    drop(store);
    MessageStore::open(config(dir)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_master_with_an_unreplicated_tail_cuts_it_before_following() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A is master (term 1); B follows it.
    let a = MessageStore::open(config(a_dir.path())).unwrap();
    a.begin_epoch().unwrap();
    let ha_a = HaService::new(a.clone(), 256 << 20);
    let addr_a = ha_a
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .to_string();
    let b = MessageStore::open(config(b_dir.path())).unwrap();
    for i in 0..100 {
        put(&a, i);
    }
    let follower = tokio::spawn(slave::follow(
        b.clone(),
        move || Some(addr_a.clone()),
        Default::default(),
    ));
    until("B caught up", || {
        b.commit_log_max_offset() == a.commit_log_max_offset()
    })
    .await;
    follower.abort();
    ha_a.shutdown();
    let agreed = b.commit_log_max_offset() as u64;
    // A writes a tail B never gets, then dies; B is promoted (term 2) and takes writes.
    for i in 100..130 {
        put(&a, i);
    }
    let a_end = a.commit_log_max_offset() as u64;
    assert!(a_end > agreed);
    let b = reopen(b, b_dir.path());
    assert_eq!(b.begin_epoch().unwrap().start, agreed);
    for i in 500..540 {
        put(&b, i);
    }
    let ha_b = HaService::new(b.clone(), 256 << 20);
    let addr_b = ha_b
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .to_string();

    // A comes back as B's slave: its tail (from `agreed`) is not B's log. It is told to cut
    // there, stops following, and has changed nothing yet.
    let a = reopen(a, a_dir.path());
    let addr = addr_b.clone();
    let follower = tokio::spawn(slave::follow(
        a.clone(),
        move || Some(addr.clone()),
        Default::default(),
    ));
    tokio::time::timeout(Duration::from_secs(20), follower)
        .await
        .expect("A stops following a master it disagrees with")
        .unwrap();
    assert_eq!(
        a.commit_log_max_offset() as u64,
        a_end,
        "nothing cut while open"
    );

    // Restarted, A has cut its tail, follows B and ends with B's log byte for byte.
    let a = reopen(a, a_dir.path());
    assert_eq!(a.commit_log_max_offset() as u64, agreed);
    let addr = addr_b.clone();
    let follower = tokio::spawn(slave::follow(
        a.clone(),
        move || Some(addr.clone()),
        Default::default(),
    ));
    until("A caught up with B", || {
        a.commit_log_max_offset() == b.commit_log_max_offset()
    })
    .await;
    follower.abort();
    a.debug_wait_dispatched();
    b.debug_wait_dispatched();
    assert!(log_bytes(&a) == log_bytes(&b), "the logs differ");
    assert_eq!(queues(&a), queues(&b));
    assert_eq!(a.epochs(), b.epochs());
}
