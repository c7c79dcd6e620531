//! Helpers shared by the store benchmarks (included with `#[path]`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferrumq_store::{FlushDiskType, MessageStore, MessageToStore, StoreConfig};

pub fn config(root: &Path, flush: FlushDiskType) -> StoreConfig {
    StoreConfig {
        flush_disk_type: flush,
        mapped_file_size_commit_log: 256 * 1024 * 1024,
        max_hash_slot_num: 500_000,
        max_index_num: 2_000_000,
        clean_resource_interval_ms: 3_600_000,
        ..StoreConfig::with_root(root)
    }
}

pub fn msg(queue_id: i32, body: Bytes) -> MessageToStore {
    MessageToStore {
        topic: "BenchTopic".to_string(),
        queue_id,
        flag: 0,
        body,
        properties: "TAGS\u{1}TagA\u{2}KEYS\u{1}k1".to_string(),
        sys_flag: 0,
        born_timestamp_ms: 1_700_000_000_000,
        born_host: SocketAddr::from(([127, 0, 0, 1], 5555)),
        store_host: SocketAddr::from(([127, 0, 0, 1], 10911)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    }
}

pub fn body_1k() -> Bytes {
    Bytes::from(vec![b'x'; 1024])
}

pub fn open(root: &Path, flush: FlushDiskType) -> Arc<MessageStore> {
    MessageStore::open(config(root, flush)).expect("open store")
}

/// Appends `n` 1 KiB records to 8 queues.
pub fn fill(store: &MessageStore, n: u64) {
    let body = body_1k();
    for i in 0..n {
        store
            .put_message(msg((i % 8) as i32, body.clone()))
            .expect("put");
    }
}
