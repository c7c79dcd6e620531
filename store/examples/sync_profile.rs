//! Ad-hoc driver: SYNC_FLUSH with W writer threads, prints rate and flush stats.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferrumq_store::{FlushDiskType, MessageStore, MessageToStore, PutStatus, StoreConfig};

fn main() {
    let writers: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let per: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let dir = "/tmp/prof/sync";
    let _ = std::fs::remove_dir_all(dir);
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        mapped_file_size_commit_log: 256 << 20,
        max_hash_slot_num: 500_000,
        max_index_num: 2_000_000,
        ..StoreConfig::with_root(dir)
    };
    let store = MessageStore::open(cfg).unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..per {
                    let m = MessageToStore {
                        topic: "BenchTopic".into(),
                        queue_id: (t % 8) as i32,
                        flag: 0,
                        body: Bytes::from(vec![b'x'; 1024]),
                        properties: std::env::var("PROPS")
                            .unwrap_or_else(|_| "TAGS\u{1}TagA".into()),
                        sys_flag: 0,
                        born_timestamp_ms: 0,
                        born_host: SocketAddr::from(([127, 0, 0, 1], 1)),
                        store_host: SocketAddr::from(([127, 0, 0, 1], 2)),
                        reconsume_times: 0,
                        prepared_transaction_offset: 0,
                        store_timestamp_ms: None,
                    };
                    let (_, w) = store.put_message(m).unwrap();
                    assert_eq!(w.wait_blocking(), PutStatus::PutOk);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let t = start.elapsed();
    let n = writers * per;
    println!("sync: {n} in {t:?} = {:.0}/s", n as f64 / t.as_secs_f64());
    for (k, v) in store.runtime_info() {
        if k.contains("Flush") {
            println!("  {k} = {v}");
        }
    }
    store.shutdown();
}
