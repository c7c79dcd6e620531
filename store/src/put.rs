//! The put path: validate, encode outside the lock into a reused per-thread buffer, append.

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use crate::commitlog::AppendRequest;
use crate::error::StoreError;
use crate::message::{
    encode_record, push_offset_msg_id, record_len, store_timestamp_pos, validate_topic,
    BatchToStore, MessageToStore, PutResult, PutStatus, RecordInput, FLAG_BORNHOST_V6,
    MAX_PROPERTIES_LEN, TRANSACTION_TYPE_MASK,
};
use crate::store::{Inner, MessageStore};
use crate::waiter::FlushWaiter;

/// Queue ids accepted: 0..MAX_QUEUE_ID.
pub const MAX_QUEUE_ID: i32 = 65_536;
/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 65_536;
/// Per-thread encode buffers above this are released after use.
const KEEP_BUFFER_BYTES: usize = 8 * 1024 * 1024;

thread_local! {
    static ENCODE: RefCell<(Vec<u8>, Vec<usize>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn record_input<'a>(
    m: &'a MessageToStore,
    flag: i32,
    body: &'a [u8],
    properties: &'a str,
) -> RecordInput<'a> {
    RecordInput {
        queue_id: m.queue_id,
        flag,
        sys_flag: m.sys_flag,
        born_timestamp_ms: m.born_timestamp_ms,
        born_host: m.born_host,
        store_host: m.store_host,
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: m.prepared_transaction_offset,
        body,
        topic: &m.topic,
        properties,
    }
}

fn check_common(m: &MessageToStore) -> Result<(), StoreError> {
    validate_topic(&m.topic)?;
    if !(0..MAX_QUEUE_ID).contains(&m.queue_id) {
        return Err(StoreError::IllegalQueueId(m.queue_id));
    }
    Ok(())
}

fn check_properties(p: &str) -> Result<(), StoreError> {
    if p.len() > MAX_PROPERTIES_LEN {
        return Err(StoreError::PropertiesSizeExceeded(p.len()));
    }
    Ok(())
}

impl Inner {
    pub(crate) fn check_writable(&self) -> Result<(), StoreError> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(StoreError::ServiceNotAvailable("store is shut down".into()));
        }
        if self.flush_failed.load(Ordering::Acquire) {
            return Err(StoreError::ServiceNotAvailable(
                "an earlier commit log flush failed".into(),
            ));
        }
        self.check_disk_space()
    }

    /// Encodes `inputs` back to back and appends them as one unit.
    fn append_records<'a>(
        &self,
        common: &MessageToStore,
        inputs: impl Iterator<Item = RecordInput<'a>>,
    ) -> Result<(PutResult, FlushWaiter), StoreError> {
        self.check_writable()?;
        let (appended, ids, count, wrote) = ENCODE.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (buf, starts) = &mut *guard;
            buf.clear();
            starts.clear();
            for r in inputs {
                starts.push(buf.len());
                buf.reserve(record_len(&r));
                encode_record(buf, &r);
            }
            let born_v6 = if common.born_host.is_ipv6() {
                FLAG_BORNHOST_V6
            } else {
                0
            };
            let res = self.commit_log.append(AppendRequest {
                buf: buf.as_mut_slice(),
                record_starts: starts,
                topic: &common.topic,
                queue_id: common.queue_id,
                tx_type: common.sys_flag & TRANSACTION_TYPE_MASK,
                store_timestamp_ms: common.store_timestamp_ms,
                store_ts_pos: store_timestamp_pos(born_v6),
            });
            let out = res.map(|a| {
                let id_len = if common.store_host.is_ipv4() { 32 } else { 56 };
                let mut ids = String::with_capacity(starts.len() * (id_len + 1));
                for (i, s) in starts.iter().enumerate() {
                    if i > 0 {
                        ids.push(',');
                    }
                    let offset = (a.physical_offset + *s as u64) as i64;
                    push_offset_msg_id(&mut ids, common.store_host, offset);
                }
                (a, ids, starts.len(), buf.len())
            });
            if buf.capacity() > KEEP_BUFFER_BYTES {
                *buf = Vec::new();
            }
            out
        })?;
        self.wake_dispatcher();
        self.wake_warmer_if_needed();
        if let Some(f) = self.append_listener.get() {
            f(appended.end_offset);
        }
        let result = PutResult {
            status: PutStatus::PutOk,
            physical_offset: appended.physical_offset as i64,
            queue_offset: appended.queue_offset,
            msg_count: count,
            wrote_bytes: wrote,
            store_timestamp_ms: appended.store_timestamp_ms,
            msg_ids: ids,
        };
        Ok((result, self.flush_waiter(appended.end_offset)))
    }
}

impl MessageStore {
    /// Appends; returns at once after the in-memory append. The returned future resolves when
    /// the record is durable per flushDiskType (immediately for ASYNC_FLUSH) and turns the
    /// status into FlushDiskTimeout on timeout. Never blocks a tokio worker (the append lock is
    /// held for a memcpy).
    pub fn put_message(&self, msg: MessageToStore) -> Result<(PutResult, FlushWaiter), StoreError> {
        check_common(&msg)?;
        if msg.body.len() > self.inner.config.max_message_size {
            return Err(StoreError::MessageIllegal(format!(
                "body of {} bytes exceeds maxMessageSize {}",
                msg.body.len(),
                self.inner.config.max_message_size
            )));
        }
        check_properties(&msg.properties)?;
        let input = record_input(&msg, msg.flag, &msg.body, &msg.properties);
        self.inner.append_records(&msg, std::iter::once(input))
    }

    /// Appends a batch to one queue: consecutive queue offsets, one store timestamp, one file.
    pub fn put_messages(
        &self,
        batch: BatchToStore,
    ) -> Result<(PutResult, FlushWaiter), StoreError> {
        let common = &batch.common;
        check_common(common)?;
        if batch.entries.is_empty() || batch.entries.len() > MAX_BATCH_RECORDS {
            return Err(StoreError::MessageIllegal(format!(
                "batch of {} records",
                batch.entries.len()
            )));
        }
        if common.sys_flag & TRANSACTION_TYPE_MASK != 0 {
            return Err(StoreError::MessageIllegal(
                "batch with transaction flags".into(),
            ));
        }
        let body_total: usize = batch.entries.iter().map(|e| e.body.len()).sum();
        if body_total > self.inner.config.max_message_size {
            return Err(StoreError::MessageIllegal(format!(
                "batch body of {body_total} bytes exceeds maxMessageSize"
            )));
        }
        for e in &batch.entries {
            check_properties(&e.properties)?;
        }
        let inputs = batch
            .entries
            .iter()
            .map(|e| record_input(common, e.flag, &e.body, &e.properties));
        self.inner.append_records(common, inputs)
    }
}
