//! Shared helpers for the store's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferrumq_store::message::decode_record;
use ferrumq_store::{FlushDiskType, GetMessageStatus, MessageStore, MessageToStore, StoreConfig};

pub fn small_config(root: &Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 4096,
        mapped_file_size_consume_queue_entries: 16,
        max_hash_slot_num: 64,
        max_index_num: 256,
        flush_interval_consume_queue_ms: 50,
        flush_interval_commit_log_ms: 50,
        clean_resource_interval_ms: 3_600_000,
        ..StoreConfig::with_root(root)
    }
}

pub fn msg(topic: &str, queue_id: i32, body: impl Into<Bytes>) -> MessageToStore {
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 0,
        body: body.into(),
        properties: String::new(),
        sys_flag: 0,
        born_timestamp_ms: 1_700_000_000_000,
        born_host: "127.0.0.1:5555".parse::<SocketAddr>().unwrap(),
        store_host: "127.0.0.1:10911".parse::<SocketAddr>().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    }
}

pub fn put(store: &MessageStore, m: MessageToStore) -> (i64, i64) {
    let (r, w) = store.put_message(m).unwrap();
    assert_eq!(w.wait_blocking(), ferrumq_store::PutStatus::PutOk);
    (r.physical_offset, r.queue_offset)
}

/// Every body in the queue from offset 0, in order.
pub fn read_all_bodies(store: &MessageStore, topic: &str, queue_id: i32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = store.min_offset_in_queue(topic, queue_id);
    loop {
        let r = store.get_message(topic, queue_id, offset, 32, usize::MAX, &|_| true);
        match r.status {
            GetMessageStatus::Found => {
                for m in &r.messages {
                    let rec = decode_record(m).unwrap();
                    assert_eq!(rec.topic, topic);
                    out.push(rec.body.to_vec());
                }
                offset = r.next_begin_offset;
            }
            GetMessageStatus::OffsetFoundNull => offset = r.next_begin_offset,
            _ => return out,
        }
    }
}

pub fn open(cfg: &StoreConfig) -> Arc<MessageStore> {
    MessageStore::open(cfg.clone()).unwrap()
}

pub fn sync_config(root: &Path) -> StoreConfig {
    StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..small_config(root)
    }
}
