//! CommitLog recovery: validate records from a start file, cut the log after the last good one.

use std::sync::atomic::Ordering;

use crate::config::RecoverCorruptPolicy;
use crate::error::StoreError;
use crate::mapped_file::MappedFile;
use crate::message::{
    decode_record_checked, peek_header, validate_topic, DecodedRecord, RecordError, MAGIC_BLANK,
};

use super::CommitLog;

/// How one file's walk ended.
enum FileEnd {
    /// reached a blank marker or the end of the file: continue with the next file
    Continue,
    /// first invalid position in the file, and why
    Stop(usize, String),
}

/// What recovery may cut.
#[derive(Clone, Copy)]
pub(crate) struct RecoverLimits {
    pub check_crc: bool,
    /// the checkpoint's flushed offset: everything below was durable
    pub durable_end: u64,
    pub policy: RecoverCorruptPolicy,
}

impl CommitLog {
    /// Validates records from the start of file `start_index` (earlier files are trusted),
    /// truncates after the last valid record (zeroing the rest, invariant R2), deletes later
    /// files, and returns the end offset. Damage below `limits.durable_end` is not a crash's
    /// unfinished tail: with `RecoverCorruptPolicy::Refuse` it fails the open instead (R3).
    pub(crate) fn recover(
        &self,
        start_index: usize,
        limits: RecoverLimits,
    ) -> Result<u64, StoreError> {
        let files = self.files.snapshot();
        let start_index = start_index.min(files.len().saturating_sub(1));
        let mut end = files.get(start_index).map_or(0, |f| f.start_offset());
        for f in files.iter().take(start_index) {
            f.set_recovered_pos(f.size());
        }
        let mut damage: Option<(std::path::PathBuf, String)> = None;
        for f in files.iter().skip(start_index) {
            if f.start_offset() != end {
                damage = Some((
                    f.path().to_path_buf(),
                    format!("gap in commit log files: expected a file at {end}"),
                ));
                break;
            }
            // Publish the whole file to the walk; no reader exists yet during recovery.
            f.set_recovered_pos(f.size());
            match walk_file(f, limits.check_crc) {
                FileEnd::Continue => end = f.end_offset(),
                FileEnd::Stop(pos, why) => {
                    end = f.start_offset() + pos as u64;
                    damage = Some((f.path().to_path_buf(), why));
                    break;
                }
            }
        }
        if end < limits.durable_end {
            let (path, reason) = damage.unwrap_or_else(|| {
                (
                    self.files.dir().join(crate::mapped_file::file_name(end)),
                    "commit log file missing".into(),
                )
            });
            if limits.policy == RecoverCorruptPolicy::Refuse {
                return Err(StoreError::Corrupt {
                    path,
                    offset: end,
                    reason,
                    durable: limits.durable_end,
                });
            }
            tracing::error!(file = %path.display(), offset = end, reason = %reason, durable = limits.durable_end,
                "recoverCorruptPolicy=truncate: cutting the commit log below the checkpoint; the messages after it are lost");
        } else if let Some((path, reason)) = damage {
            tracing::warn!(file = %path.display(), offset = end, reason = %reason,
                "unfinished tail after the last durable record; cutting the commit log here");
        }
        self.cut_at(end)?;
        self.max_offset.store(end, Ordering::Release);
        self.received.store(end, Ordering::Release);
        self.flushed_offset.store(end, Ordering::Release);
        if let Some(ts) = self.last_timestamp_before(end) {
            self.last_store_ts.store(ts, Ordering::Release);
        }
        Ok(end)
    }

    /// Truncates the file holding `end` at `end` and deletes files after it.
    /// Cuts the log at `end` below what recovery kept: a slave's tail its new master never
    /// had (`replica_truncate`). Only while opening, before any reader exists.
    pub(crate) fn cut_for_replica(&self, end: u64) -> Result<(), StoreError> {
        self.cut_at(end)?;
        self.max_offset.store(end, Ordering::Release);
        self.received.store(end, Ordering::Release);
        self.flushed_offset.fetch_min(end, Ordering::AcqRel);
        Ok(())
    }

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

/// Why a record that decodes (and whose body CRC matches) still cannot be kept: the CRC
/// covers only the body, so damage to the header or properties shows only here.
fn invalid_record(rec: &DecodedRecord<'_>, at: u64) -> Option<String> {
    if rec.physical_offset != at as i64 {
        return Some(format!(
            "record's physical offset field says {}",
            rec.physical_offset
        ));
    }
    if validate_topic(rec.topic).is_err() {
        return Some("record has an illegal topic name".into());
    }
    if !(0..crate::put::MAX_QUEUE_ID).contains(&rec.queue_id) || rec.queue_offset < 0 {
        return Some(format!(
            "record has queue id {} / queue offset {}",
            rec.queue_id, rec.queue_offset
        ));
    }
    if rec.properties.len() > crate::message::MAX_PROPERTIES_LEN {
        return Some("record's properties are too long".into());
    }
    None
}

/// Walks one file's records from position 0.
fn walk_file(f: &MappedFile, check_crc: bool) -> FileEnd {
    let mut pos = 0usize;
    loop {
        let Some(rest) = f.read(pos, f.size() - pos) else {
            return FileEnd::Stop(pos, "record runs past the file".into());
        };
        if rest.len() < 8 {
            return if rest.is_empty() {
                FileEnd::Continue
            } else {
                FileEnd::Stop(pos, "partial record header at the end of the file".into())
            };
        }
        match decode_record_checked(rest, check_crc) {
            Ok(rec) => match invalid_record(&rec, f.start_offset() + pos as u64) {
                None => pos += rec.total_size,
                Some(why) => return FileEnd::Stop(pos, why),
            },
            Err(RecordError::Blank) => {
                return match peek_header(rest) {
                    Ok((size, _)) if size as usize == rest.len() => FileEnd::Continue,
                    _ => FileEnd::Stop(pos, "blank marker with the wrong size".into()),
                };
            }
            Err(RecordError::BadMagic(0)) if rest.iter().take(8).all(|b| *b == 0) => {
                return FileEnd::Stop(pos, "end of written data".into());
            }
            Err(e) => return FileEnd::Stop(pos, format!("corrupt record: {e}")),
        }
    }
}
