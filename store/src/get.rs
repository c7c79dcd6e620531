//! Reads: get_message (wire doc §7.3), offsets, time lookups, key queries.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::consume_queue::{ConsumeQueue, CQ_UNIT};
use crate::message::{decode_record, find_property, PROPERTY_KEYS, PROPERTY_UNIQ_KEY};
use crate::store::{
    GetMessageResult, GetMessageStatus, MessageStore, QueryMessageResult, DELETED_PREFIX,
};

/// Least CQ bytes one pull may scan (RocketMQ's 16000).
const MIN_SCAN_BYTES: usize = 16_000;

impl GetMessageResult {
    fn empty(status: GetMessageStatus, next: i64, min: i64, max: i64) -> Self {
        Self {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            total_bytes: 0,
        }
    }
}

/// A filter on a whole stored record (its bytes), after the tag-code filter.
pub type RecordFilter<'a> = &'a dyn Fn(&[u8]) -> bool;

impl MessageStore {
    /// Reads from a ConsumeQueue; statuses and next_begin_offset per wire doc §7.3.
    pub fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetMessageResult {
        self.get_message_filtered(
            topic,
            queue_id,
            offset,
            max_msg_nums,
            max_total_bytes,
            filter,
            None,
        )
    }

    /// `get_message` with a second filter on each record that passed the tag filter (a
    /// property filter such as SQL92 needs the stored properties, not only the tag code).
    #[allow(clippy::too_many_arguments)]
    pub fn get_message_filtered(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
        record_filter: Option<RecordFilter<'_>>,
    ) -> GetMessageResult {
        let Some(cq) = self.inner.find_cq(topic, queue_id) else {
            return GetMessageResult::empty(GetMessageStatus::NoMatchedLogicQueue, 0, 0, 0);
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        let empty = |s, next| GetMessageResult::empty(s, next, min, max);
        if max == 0 {
            return empty(GetMessageStatus::NoMessageInQueue, 0);
        }
        if offset < min {
            return empty(GetMessageStatus::OffsetTooSmall, min);
        }
        if offset == max {
            return empty(GetMessageStatus::OffsetOverflowOne, offset);
        }
        if offset > max {
            return empty(GetMessageStatus::OffsetOverflowBadly, max);
        }
        self.scan(
            &cq,
            offset,
            max_msg_nums.max(1) as usize,
            max_total_bytes,
            (filter, record_filter),
            min,
            max,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        cq: &ConsumeQueue,
        offset: i64,
        max_msgs: usize,
        max_bytes: usize,
        (filter, record_filter): (&dyn Fn(i64) -> bool, Option<RecordFilter<'_>>),
        min: i64,
        max: i64,
    ) -> GetMessageResult {
        let Some(run) = cq.entries_from(offset) else {
            return GetMessageResult::empty(
                GetMessageStatus::OffsetFoundNull,
                cq.roll_next_file(offset),
                min,
                max,
            );
        };
        let cl = &self.inner.commit_log;
        let cl_min = cl.min_offset();
        let scan_limit = MIN_SCAN_BYTES.max(max_msgs.saturating_mul(20)) / CQ_UNIT;
        let mut out = GetMessageResult::empty(GetMessageStatus::NoMatchedMessage, offset, min, max);
        let mut consumed = 0usize;
        while consumed < run.count.min(scan_limit) {
            let Some(e) = run.entry(consumed) else { break };
            let size = usize::try_from(e.size).unwrap_or(0);
            let taken = out.messages.len();
            if taken >= max_msgs || (taken > 0 && out.total_bytes + size > max_bytes) {
                break; // this entry is not consumed
            }
            consumed += 1;
            if !e.is_filler() && !filter(e.tag_code) {
                if taken == 0 {
                    out.status = GetMessageStatus::NoMatchedMessage;
                }
                continue;
            }
            if e.is_filler() || (e.physical_offset as u64) < cl_min {
                if taken == 0 {
                    out.status = GetMessageStatus::MessageWasRemoving;
                }
                continue;
            }
            match cl.read(e.physical_offset as u64, size) {
                Some(b) => {
                    if record_filter.is_some_and(|f| !f(&b)) {
                        if taken == 0 {
                            out.status = GetMessageStatus::NoMatchedMessage;
                        }
                        continue;
                    }
                    out.total_bytes += b.len();
                    out.messages.push(b);
                    out.status = GetMessageStatus::Found;
                }
                None if taken == 0 => out.status = GetMessageStatus::MessageWasRemoving,
                None => {}
            }
        }
        out.next_begin_offset = offset + consumed as i64;
        out
    }

    /// Next offset to write in the queue.
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_cq(topic, queue_id)
            .map_or(0, |c| c.max_offset())
    }

    /// First offset still stored.
    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_cq(topic, queue_id)
            .map_or(0, |c| c.min_offset())
    }

    /// Store time of the message at `offset`.
    pub fn store_time_at(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let cq = self.inner.find_cq(topic, queue_id)?;
        let e = cq.entry(offset)?;
        if e.is_filler() {
            return None;
        }
        self.inner
            .commit_log
            .store_timestamp_at(u64::try_from(e.physical_offset).ok()?)
    }

    /// Store time of the queue's first message.
    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.store_time_at(topic, queue_id, self.min_offset_in_queue(topic, queue_id))
    }

    /// First offset whose store time is >= `timestamp_ms` (max offset if none).
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> i64 {
        self.first_offset_where(topic, queue_id, |t| t >= timestamp_ms)
    }

    /// The last queue offset stored at or before `timestamp_ms` (RocketMQ 5's UPPER
    /// boundary); the queue's min offset when every entry is newer.
    pub fn offset_by_time_upper(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> i64 {
        let after = self.first_offset_where(topic, queue_id, |t| t > timestamp_ms);
        let min = self
            .inner
            .find_cq(topic, queue_id)
            .map_or(0, |cq| cq.min_offset());
        (after - 1).max(min)
    }

    /// Binary search over store times (monotonic in a queue) for the first offset whose time
    /// satisfies `newer`; unreadable entries count as old. The max offset if none does.
    fn first_offset_where(&self, topic: &str, queue_id: i32, newer: impl Fn(i64) -> bool) -> i64 {
        let Some(cq) = self.inner.find_cq(topic, queue_id) else {
            return 0;
        };
        let (mut lo, mut hi) = (cq.min_offset(), cq.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.store_time_at(topic, queue_id, mid) {
                Some(t) if newer(t) => hi = mid,
                _ => lo = mid + 1,
            }
        }
        lo
    }

    /// Calls `f` with each stored record from physical offset `from` to the end, in order,
    /// until it returns false (start-up scans; reads the mapped files, no copy).
    pub fn scan_records(&self, from: i64, mut f: impl FnMut(&[u8]) -> bool) {
        use crate::commitlog::NextRecord;
        let cl = &self.inner.commit_log;
        let mut at = u64::try_from(from).unwrap_or(0).max(cl.min_offset());
        let mut hint = None;
        loop {
            match cl.next_record_hinted(at, &mut hint) {
                NextRecord::Record(file, pos, len) => {
                    let Some(bytes) = file.slice(pos, len) else {
                        return;
                    };
                    if !f(&bytes) {
                        return;
                    }
                    at += len as u64;
                }
                NextRecord::Skip(next) if next > at => at = next,
                _ => return,
            }
        }
    }

    /// One stored record at a physical offset.
    pub fn lookup_message_by_offset(&self, physical_offset: i64) -> Option<Bytes> {
        let off = u64::try_from(physical_offset).ok()?;
        if off < self.inner.commit_log.min_offset() {
            return None;
        }
        self.inner.commit_log.read_record(off)
    }

    /// Records of `topic` whose UNIQ_KEY or one of whose KEYS equals `key`, stored within
    /// [begin_ms, end_ms], newest index files first, at most `max_num`.
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> QueryMessageResult {
        let (ts, phy) = self.inner.index.last_update();
        let mut res = QueryMessageResult {
            messages: Vec::new(),
            index_last_update_timestamp: ts,
            index_last_update_phy_offset: phy,
        };
        // Hash collisions are filtered below, so ask the index for a few more candidates.
        let candidates = self.inner.index.query(
            topic,
            key,
            max_num.saturating_mul(4).max(32),
            begin_ms,
            end_ms,
        );
        let mut seen = std::collections::HashSet::new();
        for phys in candidates {
            if res.messages.len() >= max_num {
                break;
            }
            if !seen.insert(phys) {
                continue;
            }
            let Some(bytes) = self.lookup_message_by_offset(phys) else {
                continue;
            };
            let Ok(rec) = decode_record(&bytes) else {
                continue;
            };
            let key_match = find_property(rec.properties, PROPERTY_UNIQ_KEY) == Some(key)
                || find_property(rec.properties, PROPERTY_KEYS)
                    .is_some_and(|ks| ks.split(' ').any(|k| k == key));
            let in_time = rec.store_timestamp_ms >= begin_ms && rec.store_timestamp_ms <= end_ms;
            if rec.topic == topic && key_match && in_time {
                res.messages.push(bytes);
            }
        }
        res
    }

    /// Smallest physical offset still stored.
    pub fn commit_log_min_offset(&self) -> i64 {
        self.inner.commit_log.min_offset() as i64
    }

    /// Physical offset after the last record.
    pub fn commit_log_max_offset(&self) -> i64 {
        self.inner.commit_log.max_offset() as i64
    }

    /// CommitLog bytes below this are durable (msync'ed): they survive power loss.
    pub fn commit_log_flushed_offset(&self) -> i64 {
        self.inner.commit_log.flushed_offset() as i64
    }

    /// CommitLog bytes not yet in ConsumeQueues.
    pub fn dispatch_behind_bytes(&self) -> i64 {
        let max = self.inner.commit_log.max_offset();
        let d = self.inner.dispatched.load(Ordering::Acquire);
        max.saturating_sub(d) as i64
    }

    /// Deletes topics' ConsumeQueues. Their records stay in the CommitLog until retention;
    /// the ones not dispatched yet are fenced off (DESIGN.md P2), so a topic recreated at once
    /// never gets the old topic's entries, nor loses its own to them.
    pub fn delete_topics(&self, topics: &[String]) {
        let inner = &self.inner;
        for t in topics {
            let cq_root = inner.root.join("consumequeue");
            let tombstone = cq_root.join(format!(
                "{DELETED_PREFIX}{t}-{}",
                crate::commitlog::now_ms()
            ));
            let mut moved = false;
            inner.commit_log.remove_topic(t, |fence| {
                // Under the append lock: no record of a recreated topic exists yet.
                inner.topic_fences.lock().insert(t.clone(), fence);
                inner.any_topic_fence.store(true, Ordering::Release);
                // Saved before the folder moves: a restart must know the fence whenever it
                // could re-dispatch the old records (P2).
                let mut saved = inner.saved_fences.lock();
                saved.insert(t.clone(), fence);
                crate::fences::store(&inner.root, &inner.io, &saved);
                drop(saved);
                if let Some(queues) = inner.cqs.write().remove(t.as_str()) {
                    for cq in queues.values() {
                        cq.retire();
                    }
                }
                // One rename under the lock moves the folder out of a recreated topic's way
                // (its first queue file reuses the same names); the removal itself, as long
                // as the topic has files, happens after the lock, so sends do not wait on it.
                moved = inner
                    .io
                    .rename_unsynced(&cq_root.join(t), &tombstone)
                    .is_ok();
            });
            if moved {
                // A tombstone that survives a power cut is removed at the next open.
                if let Err(e) = inner.io.remove_dir_all(&tombstone) {
                    tracing::warn!(dir = %tombstone.display(), error = %e, "cannot remove a deleted topic's queues; removed at the next start");
                }
            }
        }
    }

    /// Key/value pairs for GET_BROKER_RUNTIME_INFO.
    pub fn runtime_info(&self) -> Vec<(String, String)> {
        let i = &self.inner;
        vec![
            (
                "commitLogMinOffset".into(),
                i.commit_log.min_offset().to_string(),
            ),
            (
                "commitLogMaxOffset".into(),
                i.commit_log.max_offset().to_string(),
            ),
            (
                "commitLogFlushedOffset".into(),
                i.commit_log.flushed_offset().to_string(),
            ),
            (
                "dispatchBehindBytes".into(),
                self.dispatch_behind_bytes().to_string(),
            ),
            (
                "commitLogFileCount".into(),
                i.commit_log.files().len().to_string(),
            ),
            ("consumeQueueCount".into(), i.all_cqs().len().to_string()),
            ("indexFileCount".into(), i.index.file_count().to_string()),
            (
                "flushFailed".into(),
                i.flush_failed.load(Ordering::Acquire).to_string(),
            ),
            (
                "commitLogFlushCount".into(),
                i.flush.flush_count.load(Ordering::Relaxed).to_string(),
            ),
            (
                "commitLogFlushTimeUs".into(),
                i.flush.flush_time_us.load(Ordering::Relaxed).to_string(),
            ),
            (
                "syncFlushWaitersCompleted".into(),
                i.flush
                    .waiters_completed
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "diskUsedPermille".into(),
                i.disk.used_permille.load(Ordering::Acquire).to_string(),
            ),
            (
                "diskFull".into(),
                i.disk.full.load(Ordering::Acquire).to_string(),
            ),
            (
                "dispatchError".into(),
                i.dispatch_error.lock().clone().unwrap_or_default(),
            ),
            (
                "retentionDeletedExpiredFiles".into(),
                i.disk.deleted_expired.load(Ordering::Relaxed).to_string(),
            ),
            (
                "retentionDeletedUnexpiredFiles".into(),
                i.disk.deleted_forced.load(Ordering::Relaxed).to_string(),
            ),
        ]
    }
}
