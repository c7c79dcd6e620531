//! ConsumeQueue recovery: find the valid end, drop entries past the CommitLog end.

use std::sync::atomic::Ordering;

use crate::error::StoreError;
use crate::mapped_file::MappedFile;

use super::{ConsumeQueue, CqEntry, CQ_UNIT};

/// Checks one entry against the CommitLog record it points at (queue offset, entry).
pub(crate) type EntryCheck<'a> = &'a dyn Fn(i64, &CqEntry) -> bool;

/// Files at the end of a queue checked entry by entry after an abnormal stop.
const DEEP_CHECKED_FILES: usize = 2;

/// Number of leading entries of `f` that are valid and end at or before `commit_log_end`
/// (invariants Q1, Q2). With `deep`, every entry is checked, also against the record it
/// points at; otherwise a file whose first and last entries are good counts as good.
fn valid_prefix(
    f: &MappedFile,
    commit_log_end: u64,
    first_queue_offset: i64,
    deep: Option<EntryCheck<'_>>,
) -> usize {
    let slots = f.size() / CQ_UNIT;
    let ok = |i: usize| {
        f.read(i * CQ_UNIT, CQ_UNIT)
            .and_then(CqEntry::decode)
            .is_some_and(|e| {
                e.is_valid()
                    && (e.is_filler()
                        || ((e.physical_offset as u64).saturating_add(e.size as u64)
                            <= commit_log_end
                            && deep.is_none_or(|check| check(first_queue_offset + i as i64, &e))))
            })
    };
    if deep.is_none() && slots > 0 && ok(slots - 1) && ok(0) {
        return slots;
    }
    (0..slots).find(|&i| !ok(i)).unwrap_or(slots)
}

/// Where re-dispatch must start so the entries cut at `n` of `f` come back: just after the
/// last good record entry before them, or `fallback` when there is none in the file.
fn redo_after_cut(f: &MappedFile, n: usize, fallback: u64) -> u64 {
    (0..n)
        .rev()
        .filter_map(|i| f.read(i * CQ_UNIT, CQ_UNIT).and_then(CqEntry::decode))
        .find(|e| e.is_valid() && !e.is_filler())
        .map_or(fallback, |e| {
            (e.physical_offset as u64).saturating_add(e.size as u64)
        })
}

impl ConsumeQueue {
    /// Recovers positions and min/max offsets; entries pointing at or past `commit_log_end`
    /// and everything after them are dropped. With `deep` (after an abnormal stop) the last
    /// files are checked entry by entry against the CommitLog. Returns the CommitLog offset to
    /// re-dispatch from when entries were dropped, so none of them stays missing (Q6).
    pub(crate) fn recover(
        &self,
        commit_log_end: u64,
        commit_log_min: u64,
        deep: Option<EntryCheck<'_>>,
    ) -> Result<Option<u64>, StoreError> {
        let _g = self.write.lock();
        let files = self.files.snapshot();
        let deep_from = files.len().saturating_sub(DEEP_CHECKED_FILES);
        let mut cut: Option<(u64, u64)> = None;
        for (idx, f) in files.iter().enumerate() {
            f.set_recovered_pos(f.size());
            let first_queue_offset = (f.start_offset() / CQ_UNIT as u64) as i64;
            let check = if idx >= deep_from { deep } else { None };
            let n = valid_prefix(f, commit_log_end, first_queue_offset, check);
            if n * CQ_UNIT < f.size() {
                let redo = redo_after_cut(f, n, commit_log_min);
                // SAFETY: recovery runs inside `MessageStore::open`, before any reader exists.
                unsafe { f.truncate_to(n * CQ_UNIT)? };
                cut = Some((f.start_offset(), redo));
                break;
            }
        }
        if let Some((start, _)) = cut {
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
        Ok(cut.map(|(_, redo)| redo))
    }
}
