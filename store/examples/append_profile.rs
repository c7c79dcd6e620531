//! Ad-hoc profiling driver: N async 1 KiB puts on one thread, prints the rate.
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ferrumq_store::{MessageStore, MessageToStore, StoreConfig};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let dir = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "/tmp/prof/store".into());
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 256 << 20,
        max_hash_slot_num: 500_000,
        max_index_num: 2_000_000,
        ..StoreConfig::with_root(&dir)
    };
    let store = MessageStore::open(cfg).unwrap();
    let body = Bytes::from(vec![b'x'; 1024]);
    let m = MessageToStore {
        topic: "BenchTopic".into(),
        queue_id: 0,
        flag: 0,
        body,
        properties: "TAGS\u{1}TagA\u{2}KEYS\u{1}k1".into(),
        sys_flag: 0,
        born_timestamp_ms: 0,
        born_host: SocketAddr::from(([127, 0, 0, 1], 1)),
        store_host: SocketAddr::from(([127, 0, 0, 1], 2)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    let start = Instant::now();
    for i in 0..n {
        let mut x = m.clone();
        x.queue_id = (i % 8) as i32;
        store.put_message(x).unwrap();
    }
    let t = start.elapsed();
    println!("append: {n} in {t:?} = {:.0}/s", n as f64 / t.as_secs_f64());
    let start = Instant::now();
    store.debug_wait_dispatched();
    println!("dispatch drain after: {:?}", start.elapsed());
    store.shutdown();
}
