//! ConsumeQueue recovery: find the valid end, drop entries past the CommitLog end.

use std::sync::atomic::Ordering;

use crate::error::StoreError;
use crate::mapped_file::MappedFile;

use super::{ConsumeQueue, CqEntry, CQ_UNIT};

/// Checks one entry against the CommitLog record it points at (queue offset, entry).
pub(crate) type EntryCheck<'a> = &'a dyn Fn(i64, &CqEntry) -> bool;

/// What recovery after an abnormal stop knows to check ConsumeQueue entries with.
#[derive(Clone, Copy)]
pub(crate) struct DeepCheck<'a> {
    /// whether the entry names the record it points at
    pub matches: EntryCheck<'a>,
    /// entries of records below this were durable at the last checkpoint
    pub durable_below: u64,
    /// records below this were deleted by retention and cannot be checked
    pub log_min: u64,
}

impl DeepCheck<'_> {
    fn entry_ok(&self, queue_offset: i64, e: &CqEntry) -> bool {
        (e.physical_offset as u64) < self.log_min || (self.matches)(queue_offset, e)
    }

    /// Whether `f` was complete and durable at the last checkpoint: its last slot holds the
    /// entry of a record below the checkpoint, and it is that record's real entry (a torn
    /// entry, part new bytes and part zeros, names a different record or none).
    fn file_trusted(&self, f: &MappedFile, first_queue_offset: i64) -> bool {
        let slots = f.size() / CQ_UNIT;
        let Some(last) = slots.checked_sub(1) else {
            return false;
        };
        f.read(last * CQ_UNIT, CQ_UNIT)
            .and_then(CqEntry::decode)
            .is_some_and(|e| {
                e.is_valid()
                    && !e.is_filler()
                    && (e.physical_offset as u64).saturating_add(e.size as u64)
                        <= self.durable_below
                    && self.entry_ok(first_queue_offset + last as i64, &e)
            })
    }
}

/// Number of leading entries of `f` that are valid and end at or before `commit_log_end`
/// (invariants Q1, Q2). With `deep`, every entry is checked against the record it points at
/// (after power loss an entry can be torn: some of its bytes new, some still zero, which
/// can make a different, plausible offset); otherwise a file whose first and last entries
/// are good counts as good.
fn valid_prefix(
    f: &MappedFile,
    commit_log_end: u64,
    first_queue_offset: i64,
    deep: Option<DeepCheck<'_>>,
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
                            && deep.is_none_or(|d| d.entry_ok(first_queue_offset + i as i64, &e))))
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
    /// and everything after them are dropped. With `deep` (after an abnormal stop) every file
    /// after the last one that was complete at the checkpoint is checked entry by entry
    /// against the CommitLog. Returns the CommitLog offset to re-dispatch from when entries
    /// were dropped, so none of them stays missing (Q6); `before_cut(redo)` runs before
    /// anything is cut, so a crash after the cut still re-dispatches from there.
    pub(crate) fn recover(
        &self,
        commit_log_end: u64,
        commit_log_min: u64,
        deep: Option<DeepCheck<'_>>,
        before_cut: &dyn Fn(u64),
    ) -> Result<Option<u64>, StoreError> {
        let _g = self.write.lock();
        let files = self.files.snapshot();
        let first_qo = |f: &MappedFile| (f.start_offset() / CQ_UNIT as u64) as i64;
        let deep_from = match deep {
            None => files.len(),
            Some(d) => files
                .iter()
                .rposition(|f| d.file_trusted(f, first_qo(f)))
                .map_or(0, |i| i + 1),
        };
        let mut cut: Option<(u64, u64)> = None;
        for (idx, f) in files.iter().enumerate() {
            f.set_recovered_pos(f.size());
            let first_queue_offset = first_qo(f);
            let check = if idx >= deep_from { deep } else { None };
            let n = valid_prefix(f, commit_log_end, first_queue_offset, check);
            if n * CQ_UNIT < f.size() {
                let redo = redo_after_cut(f, n, commit_log_min);
                before_cut(redo);
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
