//! The CommitLog: every topic's records, appended into one queue of mapped files.

mod append;
mod read;
mod recovery;
mod replica;
mod warm;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::disk::Disk;
use crate::error::StoreError;
use crate::mapped_file::{Allocation, MappedFile, MappedFileQueue};
use std::sync::Arc;

pub(crate) use append::{now_ms, AppendRequest};
pub(crate) use read::NextRecord;
pub(crate) use recovery::RecoverLimits;

/// Per topic, per queue: the next queue offset to assign.
pub(crate) type QueueOffsetTable = HashMap<String, HashMap<i32, i64>>;

/// State under the append lock.
#[derive(Default)]
pub(crate) struct AppendState {
    pub queues: QueueOffsetTable,
    /// The file being appended to (saves the file list's lock on the hot path).
    pub current: Option<Arc<MappedFile>>,
}

pub(crate) struct CommitLog {
    files: MappedFileQueue,
    file_size: u64,
    /// The append lock: held while assigning offsets/timestamp and copying bytes in.
    append: Mutex<AppendState>,
    /// End of the last published record (Release after the bytes are in).
    max_offset: AtomicU64,
    /// A slave's end of the bytes copied from its master: past `max_offset` by the part of a
    /// record still arriving. Equal to `max_offset` on a master.
    received: AtomicU64,
    /// Everything below is durable (msync'ed).
    flushed_offset: AtomicU64,
    /// Store time of the newest record (for the checkpoint's timestamps).
    last_store_ts: AtomicI64,
    /// The next file, created ahead of need by the warm-up thread.
    next_file: Mutex<Option<Arc<MappedFile>>>,
    /// Offset up to which pages were pre-faulted.
    warmed_offset: AtomicU64,
    /// After a failed pre-create or pre-fault, warm-up rests until then (ms since the epoch)
    /// and tries again: a full disk or an old kernel now is not a reason to stop for good.
    warm_paused_until_ms: AtomicI64,
}

impl CommitLog {
    pub(crate) fn load(dir: &Path, file_size: u64, disk: &Disk) -> Result<Self, StoreError> {
        let size = usize::try_from(file_size)
            .map_err(|_| StoreError::MessageIllegal("commit log file size too large".into()))?;
        Ok(Self {
            files: MappedFileQueue::load(dir, size, Allocation::Whole, disk)?,
            file_size,
            append: Mutex::new(AppendState::default()),
            max_offset: AtomicU64::new(0),
            received: AtomicU64::new(0),
            flushed_offset: AtomicU64::new(0),
            last_store_ts: AtomicI64::new(0),
            next_file: Mutex::new(None),
            warmed_offset: AtomicU64::new(0),
            warm_paused_until_ms: AtomicI64::new(0),
        })
    }

    pub(crate) fn files(&self) -> &MappedFileQueue {
        &self.files
    }

    /// Smallest stored offset (start of the first file).
    pub(crate) fn min_offset(&self) -> u64 {
        self.files.first().map_or(0, |f| f.start_offset())
    }

    /// End of the last published record.
    pub(crate) fn max_offset(&self) -> u64 {
        self.max_offset.load(Ordering::Acquire)
    }

    pub(crate) fn flushed_offset(&self) -> u64 {
        self.flushed_offset.load(Ordering::Acquire)
    }

    pub(crate) fn last_store_timestamp(&self) -> i64 {
        self.last_store_ts.load(Ordering::Acquire)
    }

    /// Replaces the queue offset table (after recovery).
    pub(crate) fn set_queue_offsets(&self, table: QueueOffsetTable) {
        self.append.lock().queues = table;
    }

    /// Forgets a deleted topic's queue offsets and runs `then(fence)` under the append lock:
    /// every record of the old topic lies below `fence`, every record of a recreated one at
    /// or above it.
    pub(crate) fn remove_topic(&self, topic: &str, then: impl FnOnce(u64)) {
        let state = &mut *self.append.lock();
        state.queues.remove(topic);
        then(self.max_offset());
    }

    /// msyncs everything appended so far; returns the new durable offset.
    pub(crate) fn flush(&self) -> std::io::Result<u64> {
        let target = self.max_offset();
        let from = self.flushed_offset();
        if target <= from {
            return Ok(from);
        }
        for f in self.files.snapshot() {
            if f.end_offset() > from && f.wrote_pos() > f.flushed_pos() {
                f.flush()?;
            }
        }
        self.flushed_offset.fetch_max(target, Ordering::AcqRel);
        Ok(target)
    }
}
