//! CommitLog recovery: validate records from a start file, cut the log after the last good one.

use std::sync::atomic::Ordering;

use crate::error::StoreError;
use crate::mapped_file::MappedFile;
use crate::message::{decode_record_checked, peek_header, RecordError, MAGIC_BLANK};

use super::CommitLog;

/// How one file's walk ended.
enum FileEnd {
    /// reached a blank marker or the end of the file: continue with the next file
    Continue,
    /// first invalid position in the file
    Stop(usize),
}

impl CommitLog {
    /// Validates records from the start of file `start_index` (earlier files are trusted),
    /// truncates after the last valid record (zeroing the rest, invariant R2), deletes later
    /// files, and returns the end offset.
    pub(crate) fn recover(&self, start_index: usize, check_crc: bool) -> Result<u64, StoreError> {
        let files = self.files.snapshot();
        let start_index = start_index.min(files.len().saturating_sub(1));
        let mut end = files.get(start_index).map_or(0, |f| f.start_offset());
        for f in files.iter().take(start_index) {
            f.set_recovered_pos(f.size());
        }
        for f in files.iter().skip(start_index) {
            if f.start_offset() != end {
                tracing::warn!(file = %f.path().display(), expected = end, "gap in commit log files; cutting here");
                break;
            }
            // Publish the whole file to the walk; no reader exists yet during recovery.
            f.set_recovered_pos(f.size());
            match walk_file(f, check_crc) {
                FileEnd::Continue => end = f.end_offset(),
                FileEnd::Stop(pos) => {
                    end = f.start_offset() + pos as u64;
                    break;
                }
            }
        }
        self.cut_at(end)?;
        self.max_offset.store(end, Ordering::Release);
        self.flushed_offset.store(end, Ordering::Release);
        if let Some(ts) = self.last_timestamp_before(end) {
            self.last_store_ts.store(ts, Ordering::Release);
        }
        Ok(end)
    }

    /// Truncates the file holding `end` at `end` and deletes files after it.
    fn cut_at(&self, end: u64) -> Result<(), StoreError> {
        for f in self.files.snapshot() {
            if f.start_offset() <= end && end < f.end_offset() {
                let pos = (end - f.start_offset()) as usize;
                // SAFETY: recovery runs inside `MessageStore::open`, before any reader or
                // writer can reach the file.
                unsafe { f.truncate_to(pos)? };
            }
        }
        // Later files hold nothing valid (a file starting exactly at `end` was cut to 0 above).
        self.files.delete_from(end + 1);
        Ok(())
    }

    fn last_timestamp_before(&self, end: u64) -> Option<i64> {
        let f = self.files.find(end.checked_sub(1)?)?;
        let mut pos = 0usize;
        let mut last = None;
        while let Some(head) = f.read(pos, 8) {
            let Ok((size, magic)) = peek_header(head) else {
                break;
            };
            if magic == MAGIC_BLANK || size <= 0 {
                break;
            }
            last = self
                .store_timestamp_at(f.start_offset() + pos as u64)
                .or(last);
            pos += size as usize;
        }
        last
    }
}

/// Walks one file's records from position 0.
fn walk_file(f: &MappedFile, check_crc: bool) -> FileEnd {
    let mut pos = 0usize;
    loop {
        let Some(rest) = f.read(pos, f.size() - pos) else {
            return FileEnd::Stop(pos);
        };
        if rest.len() < 8 {
            return if rest.is_empty() {
                FileEnd::Continue
            } else {
                FileEnd::Stop(pos)
            };
        }
        match decode_record_checked(rest, check_crc) {
            Ok(rec) if rec.physical_offset == (f.start_offset() + pos as u64) as i64 => {
                pos += rec.total_size;
            }
            Ok(rec) => {
                tracing::warn!(file = %f.path().display(), pos, stored = rec.physical_offset,
                    "record's physical offset field does not match its position; cutting here");
                return FileEnd::Stop(pos);
            }
            Err(RecordError::Blank) => {
                return match peek_header(rest) {
                    Ok((size, _)) if size as usize == rest.len() => FileEnd::Continue,
                    _ => {
                        tracing::warn!(file = %f.path().display(), pos, "blank marker with wrong size; cutting here");
                        FileEnd::Stop(pos)
                    }
                };
            }
            Err(RecordError::BadMagic(0)) if rest.iter().take(8).all(|b| *b == 0) => {
                return FileEnd::Stop(pos); // clean end of written data
            }
            Err(e) => {
                tracing::warn!(file = %f.path().display(), pos, error = %e, "corrupt record; cutting the log here");
                return FileEnd::Stop(pos);
            }
        }
    }
}
