//! ConsumeQueue recovery: find the valid end, drop entries past the CommitLog end.

use std::sync::atomic::Ordering;

use crate::error::StoreError;
use crate::mapped_file::MappedFile;

use super::{ConsumeQueue, CqEntry, CQ_UNIT};

/// Number of leading entries of `f` that are valid and end at or before `commit_log_end`
/// (invariants Q1, Q2).
fn valid_prefix(f: &MappedFile, commit_log_end: u64) -> usize {
    let slots = f.size() / CQ_UNIT;
    let ok = |i: usize| {
        f.read(i * CQ_UNIT, CQ_UNIT)
            .and_then(CqEntry::decode)
            .is_some_and(|e| {
                e.is_valid()
                    && (e.is_filler()
                        || (e.physical_offset as u64).saturating_add(e.size as u64)
                            <= commit_log_end)
            })
    };
    // Fast path: a full, good file.
    if slots > 0 && ok(slots - 1) && ok(0) {
        return slots;
    }
    (0..slots).find(|&i| !ok(i)).unwrap_or(slots)
}

impl ConsumeQueue {
    /// Recovers positions and min/max offsets; entries pointing at or past `commit_log_end`
    /// and everything after them are dropped.
    pub(crate) fn recover(
        &self,
        commit_log_end: u64,
        commit_log_min: u64,
    ) -> Result<(), StoreError> {
        let _g = self.write.lock();
        let files = self.files.snapshot();
        let mut cut: Option<u64> = None;
        for f in &files {
            f.set_recovered_pos(f.size());
            let n = valid_prefix(f, commit_log_end);
            if n * CQ_UNIT < f.size() {
                // SAFETY: recovery runs inside `MessageStore::open`, before any reader exists.
                unsafe { f.truncate_to(n * CQ_UNIT)? };
                cut = Some(f.start_offset());
                break;
            }
        }
        if let Some(start) = cut {
            self.files.delete_from(start + 1);
        }
        let max = self.files.last().map_or(0, |f| {
            ((f.start_offset() + f.wrote_pos() as u64) / CQ_UNIT as u64) as i64
        });
        self.max_offset.store(max, Ordering::Release);
        let first_start = self
            .files
            .first()
            .map_or(0, |f| (f.start_offset() / CQ_UNIT as u64) as i64);
        self.min_offset.store(first_start, Ordering::Release);
        drop(_g);
        self.correct_min_offset(commit_log_min);
        Ok(())
    }
}
