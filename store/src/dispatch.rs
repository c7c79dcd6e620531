//! The dispatcher: tails the CommitLog and writes ConsumeQueue and index entries, then tells the
//! arrival listener (DESIGN.md §5).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::commitlog::NextRecord;
use crate::consume_queue::{ConsumeQueue, CqEntry};
use crate::error::StoreError;
use crate::index::index_key_hash;
use crate::message::{
    decode_record, iter_properties, tag_code, DecodedRecord, PROPERTY_DELAY, PROPERTY_KEYS,
    PROPERTY_TAGS, PROPERTY_UNIQ_KEY, SCHEDULE_TOPIC, TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use crate::store::{ArrivalListener, Inner};

/// Queues remembered by one dispatch run.
const CQ_CACHE_LEN: usize = 16;

/// Buffers reused across the records of one dispatch run.
#[derive(Default)]
struct Scratch {
    hashes: Vec<u32>,
    cqs: Vec<Arc<ConsumeQueue>>,
}

/// The properties the dispatcher needs, found in one pass.
#[derive(Default)]
struct DispatchProps<'a> {
    tags: Option<&'a str>,
    keys: Option<&'a str>,
    uniq_key: Option<&'a str>,
    delay: Option<&'a str>,
}

fn dispatch_props(props: &str) -> DispatchProps<'_> {
    let mut p = DispatchProps::default();
    for (k, v) in iter_properties(props) {
        match k {
            PROPERTY_TAGS => p.tags = Some(v),
            PROPERTY_KEYS => p.keys = Some(v),
            PROPERTY_UNIQ_KEY => p.uniq_key = Some(v),
            PROPERTY_DELAY => p.delay = Some(v),
            _ => {}
        }
    }
    p
}

impl Inner {
    /// Tag code per wire doc §5.5.1 (schedule topic: due time).
    fn tag_code_for(&self, rec: &DecodedRecord<'_>, props: &DispatchProps<'_>) -> i64 {
        if rec.topic == SCHEDULE_TOPIC {
            let level = props
                .delay
                .and_then(|d| d.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let levels = &self.config.message_delay_level_ms;
            if level > 0 && !levels.is_empty() {
                let idx = level.min(levels.len()) - 1;
                let delay = levels.get(idx).copied().unwrap_or(0);
                return rec.store_timestamp_ms.saturating_add(delay as i64);
            }
        }
        props.tags.map_or(0, tag_code)
    }

    /// The queue for a record, from a small most-recently-used list before the shared table.
    fn cq_for(
        &self,
        cache: &mut Vec<Arc<ConsumeQueue>>,
        topic: &str,
        queue_id: i32,
    ) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = cache.iter().find(|c| c.is(topic, queue_id)) {
            return Ok(cq.clone());
        }
        let cq = self.find_or_create_cq(topic, queue_id)?;
        if cache.len() >= CQ_CACHE_LEN {
            cache.remove(0);
        }
        cache.push(cq.clone());
        Ok(cq)
    }

    /// Writes one record's ConsumeQueue entry and index keys. An error leaves the dispatch
    /// position on this record: it is retried, never skipped (re-running it is harmless: the
    /// ConsumeQueue ignores an offset it already has).
    fn dispatch_record(
        &self,
        bytes: &[u8],
        scratch: &mut Scratch,
        listener: Option<&ArrivalListener>,
    ) -> Result<(), StoreError> {
        let rec = match decode_record(bytes) {
            Ok(r) => r,
            Err(e) => {
                // The bytes cannot change by retrying; recovery validated them already.
                tracing::error!(error = %e, "undecodable record in the commit log; not dispatched");
                return Ok(());
            }
        };
        if self.is_fenced(rec.topic, rec.physical_offset) {
            return Ok(()); // a deleted topic's record (P2)
        }
        let props = dispatch_props(rec.properties);
        let tx = rec.transaction_type();
        if matches!(tx, TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE) {
            let entry = CqEntry {
                physical_offset: rec.physical_offset,
                size: rec.total_size as i32,
                tag_code: self.tag_code_for(&rec, &props),
            };
            if self.put_entry(scratch, &rec, entry)? {
                if let Some(l) = listener {
                    l(rec.topic, rec.queue_id, rec.queue_offset + 1);
                }
            }
        }
        if self.config.message_index_enable && tx != TRANSACTION_ROLLBACK_TYPE {
            let hashes = &mut scratch.hashes;
            hashes.clear();
            if let Some(u) = props.uniq_key {
                hashes.push(index_key_hash(rec.topic, u));
            }
            if let Some(keys) = props.keys {
                hashes.extend(
                    keys.split(' ')
                        .filter(|k| !k.is_empty())
                        .map(|k| index_key_hash(rec.topic, k)),
                );
            }
            if !hashes.is_empty() {
                self.index
                    .put(hashes, rec.physical_offset, rec.store_timestamp_ms)?;
            }
        }
        Ok(())
    }

    /// Writes a CQ entry; a queue deleted under our feet (its topic was deleted and maybe
    /// recreated) is looked up again rather than written into.
    fn put_entry(
        &self,
        scratch: &mut Scratch,
        rec: &DecodedRecord<'_>,
        entry: CqEntry,
    ) -> Result<bool, StoreError> {
        for _ in 0..2 {
            let cq = self.cq_for(&mut scratch.cqs, rec.topic, rec.queue_id)?;
            match cq.put(rec.queue_offset, entry) {
                Err(StoreError::QueueDeleted) => scratch.cqs.retain(|c| !Arc::ptr_eq(c, &cq)),
                other => return other,
            }
        }
        Err(StoreError::QueueDeleted)
    }

    /// Whether a record at `physical_offset` belongs to a deleted incarnation of `topic`.
    fn is_fenced(&self, topic: &str, physical_offset: i64) -> bool {
        // The common case (no topic deleted lately) costs one atomic load per record.
        self.any_topic_fence.load(Ordering::Acquire)
            && self
                .topic_fences
                .lock()
                .get(topic)
                .is_some_and(|&fence| (physical_offset as u64) < fence)
    }

    /// Dispatches every published record past the dispatched offset; returns how many.
    pub(crate) fn dispatch_available(&self) -> usize {
        let listener = self.listener.read().clone();
        let mut offset = self.dispatched.load(Ordering::Acquire);
        let mut scratch = Scratch::default();
        let mut n = 0;
        let mut file_hint = None;
        loop {
            match self.commit_log.next_record_hinted(offset, &mut file_hint) {
                NextRecord::Record(file, pos, len) => {
                    if let Some(bytes) = file.read(pos, len) {
                        if let Err(e) = self.dispatch_record(bytes, &mut scratch, listener.as_ref())
                        {
                            self.dispatch_failed(offset, &e);
                            return n;
                        }
                    }
                    offset += len as u64;
                    n += 1;
                }
                NextRecord::Skip(next) => offset = next,
                NextRecord::NotReady => break,
                NextRecord::Corrupt => {
                    tracing::error!(
                        offset,
                        "corrupt bytes at the dispatch position; dispatcher waits"
                    );
                    break;
                }
            }
            self.dispatched.store(offset, Ordering::Release);
        }
        if self.dispatch_error.lock().take().is_some() {
            tracing::info!(offset, "dispatching resumed");
        }
        if self.any_topic_fence.load(Ordering::Acquire) {
            let mut fences = self.topic_fences.lock();
            fences.retain(|_, fence| *fence > offset);
            self.any_topic_fence
                .store(!fences.is_empty(), Ordering::Release);
        }
        n
    }

    /// Records the stall (runtime info `dispatchError`), logging it once per kind of error.
    fn dispatch_failed(&self, offset: u64, e: &StoreError) {
        let text = e.to_string();
        let mut last = self.dispatch_error.lock();
        if last.as_deref() != Some(text.as_str()) {
            tracing::error!(offset, error = %text, "consume queue / index write failed; dispatching stalls and retries this record");
        }
        *last = Some(text);
    }
}
