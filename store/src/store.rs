//! `MessageStore`: the facade the broker uses.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::message::{BatchToStore, MessageToStore, PutResult};
use crate::waiter::FlushWaiter;

/// RocketMQ's GetMessageStatus (wire doc §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetMessageStatus {
    /// at least one message
    Found,
    /// entries scanned, none matched the filter
    NoMatchedMessage,
    /// the CommitLog data was already deleted
    MessageWasRemoving,
    /// the ConsumeQueue file for the offset is missing
    OffsetFoundNull,
    /// offset > max
    OffsetOverflowBadly,
    /// offset == max
    OffsetOverflowOne,
    /// offset < min
    OffsetTooSmall,
    /// no such topic/queue
    NoMatchedLogicQueue,
    /// the queue is empty
    NoMessageInQueue,
}

/// Answer of `get_message`.
#[derive(Clone, Debug)]
pub struct GetMessageResult {
    /// status per wire doc §7.3
    pub status: GetMessageStatus,
    /// where the next pull should start
    pub next_begin_offset: i64,
    /// queue min offset
    pub min_offset: i64,
    /// queue max offset (next to write)
    pub max_offset: i64,
    /// whole stored records, zero-copy slices of the mapping
    pub messages: Vec<Bytes>,
    /// sum of the records' sizes
    pub total_bytes: usize,
}

/// Answer of `query_message`.
#[derive(Clone, Debug, Default)]
pub struct QueryMessageResult {
    /// whole stored records
    pub messages: Vec<Bytes>,
    /// store time of the newest indexed record
    pub index_last_update_timestamp: i64,
    /// physical offset of the newest indexed record
    pub index_last_update_phy_offset: i64,
}

/// Listener the dispatcher calls after entries are in a ConsumeQueue.
pub type ArrivalListener = Arc<dyn Fn(&str, i32, i64) + Send + Sync>;

/// The storage engine.
pub struct MessageStore {
    #[allow(dead_code)]
    config: StoreConfig,
}

impl MessageStore {
    /// Opens (recovering if needed) the store under `config.store_path_root_dir`.
    pub fn open(config: StoreConfig) -> Result<Arc<MessageStore>, StoreError> {
        Ok(Arc::new(Self { config }))
    }

    /// Called by the dispatcher thread after entries are in a ConsumeQueue.
    pub fn set_arrival_listener(&self, _f: ArrivalListener) {}

    /// Appends one message; see the API doc.
    pub fn put_message(&self, _msg: MessageToStore) -> Result<(PutResult, FlushWaiter), StoreError> {
        Err(StoreError::ServiceNotAvailable("not implemented yet".into()))
    }

    /// Appends a batch to one queue.
    pub fn put_messages(&self, _batch: BatchToStore) -> Result<(PutResult, FlushWaiter), StoreError> {
        Err(StoreError::ServiceNotAvailable("not implemented yet".into()))
    }

    /// Reads from a ConsumeQueue; statuses per wire doc §7.3.
    pub fn get_message(
        &self,
        _topic: &str,
        _queue_id: i32,
        _offset: i64,
        _max_msg_nums: i32,
        _max_total_bytes: usize,
        _filter: &dyn Fn(i64) -> bool,
    ) -> GetMessageResult {
        GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            total_bytes: 0,
        }
    }

    /// Next offset to write in the queue.
    pub fn max_offset_in_queue(&self, _topic: &str, _queue_id: i32) -> i64 {
        0
    }

    /// First offset still stored.
    pub fn min_offset_in_queue(&self, _topic: &str, _queue_id: i32) -> i64 {
        0
    }

    /// First offset whose store time is >= `timestamp_ms`.
    pub fn offset_by_time(&self, _topic: &str, _queue_id: i32, _timestamp_ms: i64) -> i64 {
        0
    }

    /// Store time of the queue's first message.
    pub fn earliest_message_time(&self, _topic: &str, _queue_id: i32) -> Option<i64> {
        None
    }

    /// Store time of the message at `offset`.
    pub fn store_time_at(&self, _topic: &str, _queue_id: i32, _offset: i64) -> Option<i64> {
        None
    }

    /// One stored record at a physical offset.
    pub fn lookup_message_by_offset(&self, _physical_offset: i64) -> Option<Bytes> {
        None
    }

    /// Records whose KEYS or UNIQ_KEY equal `key`, newest index files first.
    pub fn query_message(
        &self,
        _topic: &str,
        _key: &str,
        _max_num: usize,
        _begin_ms: i64,
        _end_ms: i64,
    ) -> QueryMessageResult {
        QueryMessageResult::default()
    }

    /// Smallest physical offset still stored.
    pub fn commit_log_min_offset(&self) -> i64 {
        0
    }

    /// Physical offset after the last record.
    pub fn commit_log_max_offset(&self) -> i64 {
        0
    }

    /// CommitLog bytes not yet in ConsumeQueues.
    pub fn dispatch_behind_bytes(&self) -> i64 {
        0
    }

    /// Drops the topics' ConsumeQueues.
    pub fn delete_topics(&self, _topics: &[String]) {}

    /// Key/value pairs for GET_BROKER_RUNTIME_INFO.
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Flushes everything, writes the checkpoint and removes `abort`.
    pub fn shutdown(&self) {}
}
