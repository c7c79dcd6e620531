//! ConsumeQueue: per topic/queue, 20-byte entries (physical offset, size, tag code), DESIGN.md §3.

mod recovery;

pub(crate) use recovery::DeepCheck;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::disk::Disk;
use crate::error::StoreError;
use crate::mapped_file::{Allocation, MappedFile, MappedFileQueue};

/// Bytes per entry.
pub(crate) const CQ_UNIT: usize = 20;
/// Size field of a filler entry written before the first real entry of a queue.
pub(crate) const FILLER_SIZE: i32 = i32::MAX;

/// One ConsumeQueue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CqEntry {
    pub physical_offset: i64,
    pub size: i32,
    pub tag_code: i64,
}

impl CqEntry {
    pub(crate) fn encode(&self) -> [u8; CQ_UNIT] {
        let mut b = [0u8; CQ_UNIT];
        b[..8].copy_from_slice(&self.physical_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..].copy_from_slice(&self.tag_code.to_be_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            physical_offset: i64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            size: i32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
            tag_code: i64::from_be_bytes(b.get(12..20)?.try_into().ok()?),
        })
    }

    /// Invariant Q1: offset >= 0 and size > 0 (zero bytes end a queue).
    pub(crate) fn is_valid(&self) -> bool {
        self.physical_offset >= 0 && self.size > 0
    }

    pub(crate) fn is_filler(&self) -> bool {
        self.size == FILLER_SIZE
    }
}

/// One topic/queue's index into the CommitLog.
pub(crate) struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    files: MappedFileQueue,
    entries_per_file: u64,
    /// next queue offset to write (= max offset)
    max_offset: AtomicI64,
    /// first stored queue offset
    min_offset: AtomicI64,
    write: Mutex<()>,
    /// set when its topic is deleted; later writes fail with `QueueDeleted`
    destroyed: AtomicBool,
}

/// A run of entries inside one CQ file, starting at a queue offset.
pub(crate) struct EntryRun {
    pub file: Arc<MappedFile>,
    pub pos: usize,
    pub count: usize,
}

impl EntryRun {
    pub(crate) fn entry(&self, i: usize) -> Option<CqEntry> {
        if i >= self.count {
            return None;
        }
        CqEntry::decode(self.file.read(self.pos + i * CQ_UNIT, CQ_UNIT)?)
    }
}

impl ConsumeQueue {
    pub(crate) fn open(
        topic: &str,
        queue_id: i32,
        dir: &Path,
        entries_per_file: u64,
        disk: &Disk,
    ) -> Result<Self, StoreError> {
        let files = MappedFileQueue::load(
            dir,
            entries_per_file as usize * CQ_UNIT,
            Allocation::Chunks,
            disk,
        )?;
        Ok(Self {
            topic: topic.to_string(),
            queue_id,
            files,
            entries_per_file,
            max_offset: AtomicI64::new(0),
            min_offset: AtomicI64::new(0),
            write: Mutex::new(()),
            destroyed: AtomicBool::new(false),
        })
    }

    pub(crate) fn is(&self, topic: &str, queue_id: i32) -> bool {
        self.queue_id == queue_id && self.topic == topic
    }

    pub(crate) fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }
    pub(crate) fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    fn file_bytes(&self) -> u64 {
        self.entries_per_file * CQ_UNIT as u64
    }

    /// Writes the entry for `queue_offset`. Entries already present are skipped (re-dispatch is
    /// idempotent); returns true if written.
    pub(crate) fn put(&self, queue_offset: i64, entry: CqEntry) -> Result<bool, StoreError> {
        let _g = self.write.lock();
        if self.destroyed.load(Ordering::Acquire) {
            return Err(StoreError::QueueDeleted);
        }
        let max = self.max_offset();
        if queue_offset < max || queue_offset < 0 {
            return Ok(false);
        }
        let byte_offset = queue_offset as u64 * CQ_UNIT as u64;
        let file_start = byte_offset - byte_offset % self.file_bytes();
        let empty = self.files.len() == 0;
        let file = match self.files.last() {
            Some(f) if f.start_offset() == file_start => f,
            Some(f) if f.start_offset() > file_start => {
                return Err(StoreError::MessageIllegal(format!(
                    "queue offset {queue_offset} behind the last consume queue file of {}-{}",
                    self.topic, self.queue_id
                )))
            }
            _ => self.files.create(file_start)?,
        };
        let pos = (byte_offset - file_start) as usize;
        file.ensure_allocated(pos + CQ_UNIT)?;
        if queue_offset > max {
            if !empty {
                tracing::warn!(topic = %self.topic, queue = self.queue_id, expected = max, got = queue_offset,
                    "gap in consume queue; filling");
            }
            self.fill(&file, pos)?;
            if empty {
                self.min_offset.store(queue_offset, Ordering::Release);
            }
        }
        if !file.write_at(pos, &entry.encode()) {
            return Err(StoreError::MessageIllegal(
                "consume queue entry does not fit".into(),
            ));
        }
        self.max_offset.store(queue_offset + 1, Ordering::Release);
        Ok(true)
    }

    /// Writes filler entries from the file's write position up to `pos`.
    fn fill(&self, file: &MappedFile, pos: usize) -> Result<(), StoreError> {
        let filler = CqEntry {
            physical_offset: 0,
            size: FILLER_SIZE,
            tag_code: 0,
        }
        .encode();
        let mut at = file.wrote_pos();
        while at + CQ_UNIT <= pos {
            if !file.write_at(at, &filler) {
                return Err(StoreError::MessageIllegal(
                    "consume queue filler does not fit".into(),
                ));
            }
            at += CQ_UNIT;
        }
        Ok(())
    }

    /// Entries from `queue_offset` to the end of the written part of the file holding it.
    /// None if that file is missing.
    pub(crate) fn entries_from(&self, queue_offset: i64) -> Option<EntryRun> {
        let byte_offset = u64::try_from(queue_offset).ok()? * CQ_UNIT as u64;
        let file = self.files.find(byte_offset)?;
        let pos = (byte_offset - file.start_offset()) as usize;
        let wrote = file.wrote_pos();
        if pos >= wrote {
            return None;
        }
        Some(EntryRun {
            count: (wrote - pos) / CQ_UNIT,
            file,
            pos,
        })
    }

    /// The entry at `queue_offset`.
    pub(crate) fn entry(&self, queue_offset: i64) -> Option<CqEntry> {
        self.entries_from(queue_offset)?.entry(0)
    }

    /// The queue offset where the file after the one holding `queue_offset` starts.
    pub(crate) fn roll_next_file(&self, queue_offset: i64) -> i64 {
        let per = self.entries_per_file as i64;
        queue_offset + per - queue_offset.rem_euclid(per)
    }

    /// Deletes files whose entries all point below `commit_log_min`; never the last file.
    pub(crate) fn delete_expired(&self, commit_log_min: u64) -> usize {
        let _g = self.write.lock();
        let n = self.files.delete_front_while(usize::MAX, |f| {
            let wrote = f.wrote_pos();
            wrote >= CQ_UNIT
                && f.read(wrote - CQ_UNIT, CQ_UNIT)
                    .and_then(CqEntry::decode)
                    .is_some_and(|e| {
                        (e.physical_offset as u64).saturating_add(e.size as u64) <= commit_log_min
                    })
        });
        self.correct_min_offset(commit_log_min);
        n
    }

    /// Sets the min offset to the first real entry at or above `commit_log_min`.
    pub(crate) fn correct_min_offset(&self, commit_log_min: u64) {
        let Some(first) = self.files.first() else {
            return;
        };
        let base = (first.start_offset() / CQ_UNIT as u64) as i64;
        let count = first.wrote_pos() / CQ_UNIT;
        let mut min = base + count as i64;
        for i in 0..count {
            let e = first.read(i * CQ_UNIT, CQ_UNIT).and_then(CqEntry::decode);
            if e.is_some_and(|e| !e.is_filler() && e.physical_offset as u64 >= commit_log_min) {
                min = base + i as i64;
                break;
            }
        }
        self.min_offset
            .store(min.min(self.max_offset()), Ordering::Release);
    }

    /// msync of unflushed entries.
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        self.files.flush()
    }

    /// Its topic was deleted: later writes fail with `QueueDeleted`. The files go with the
    /// topic's folder (see `MessageStore::delete_topics`); readers keep their mappings.
    pub(crate) fn retire(&self) {
        let _g = self.write.lock();
        self.destroyed.store(true, Ordering::Release);
    }
}
