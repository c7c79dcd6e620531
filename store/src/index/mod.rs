//! Index service: key and unique-id lookup over a list of IndexFiles (DESIGN.md §4).

mod file;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::disk::Disk;
use crate::error::StoreError;
use file::{key_hash, IndexFile};

/// Java hash of `topic + "#" + key` without building the string.
pub(crate) fn index_key_hash(topic: &str, key: &str) -> u32 {
    let h = topic
        .encode_utf16()
        .chain("#".encode_utf16())
        .chain(key.encode_utf16())
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    key_hash(h)
}

pub(crate) struct IndexService {
    dir: PathBuf,
    slot_num: u32,
    index_num: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
    write: Mutex<()>,
    /// An index file was unusable at open: all are dropped (by recovery, once it has made
    /// sure a later crash re-indexes too) and recovery re-indexes the log.
    rebuild_all: AtomicBool,
    /// the files to delete for `rebuild_all`
    unusable: Mutex<Vec<PathBuf>>,
    disk: Disk,
}

/// (year, month 1..=12, day 1..=31) of a day counted from 1970-01-01, proleptic Gregorian
/// (Howard Hinnant's civil-from-days).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `yyyyMMddHHmmssSSS` in UTC for a time in ms.
fn file_name_for(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}{:03}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

impl IndexService {
    pub(crate) fn load(
        dir: &Path,
        slot_num: u32,
        index_num: u32,
        disk: &Disk,
    ) -> Result<Self, StoreError> {
        disk.create_dir_all(dir)
            .map_err(|e| StoreError::io(dir, e))?;
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| StoreError::io(dir, e))?
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.len() == 17 && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|e| e.path())
            .collect();
        names.sort();
        let mut files = Vec::new();
        let mut damaged = false;
        for p in &names {
            match IndexFile::open(p, slot_num.max(1), index_num.max(2), disk) {
                Ok(f) => files.push(Arc::new(f)),
                Err(e) => {
                    tracing::warn!(error = %e, "unusable index file");
                    damaged = true;
                }
            }
        }
        if damaged {
            // Its range is unknown (the header is what is damaged), so rebuilding only it
            // could leave gaps or duplicates: drop every index file, re-index from the log.
            tracing::warn!("dropping all index files; recovery rebuilds them from the commit log");
            files.clear();
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            slot_num: slot_num.max(1),
            index_num: index_num.max(2),
            files: RwLock::new(files),
            write: Mutex::new(()),
            rebuild_all: AtomicBool::new(damaged),
            unusable: Mutex::new(if damaged { names } else { Vec::new() }),
            disk: disk.clone(),
        })
    }

    /// The file to index a record with `need` keys into. A record's keys never straddle two
    /// files, and a file is made durable in full before the next one gets an entry: after
    /// power loss only the newest file can be incomplete (invariant I5).
    fn writable_file(&self, now_ms: i64, need: usize) -> Result<Arc<IndexFile>, StoreError> {
        let last = self.files.read().last().cloned();
        if let Some(f) = last {
            if f.room() >= need.max(1) || (f.is_empty() && !f.is_full()) {
                return Ok(f);
            }
            f.flush().map_err(|e| StoreError::io(f.path(), e))?;
        }
        let mut ms = now_ms;
        let path = loop {
            let p = self.dir.join(file_name_for(ms));
            if !p.exists() {
                break p;
            }
            ms += 1;
        };
        let f = Arc::new(IndexFile::open(
            &path,
            self.slot_num,
            self.index_num,
            &self.disk,
        )?);
        self.files.write().push(f.clone());
        Ok(f)
    }

    /// End physical offset of the newest indexed record (re-dispatch skips up to it).
    pub(crate) fn end_phy_offset(&self) -> i64 {
        self.files
            .read()
            .iter()
            .rev()
            .find(|f| !f.is_empty())
            .map_or(-1, |f| f.end_phy_offset())
    }

    /// (endTimestamp, endPhyOffset) of the newest file.
    pub(crate) fn last_update(&self) -> (i64, i64) {
        self.files
            .read()
            .iter()
            .rev()
            .find(|f| !f.is_empty())
            .map_or((0, 0), |f| (f.end_timestamp(), f.end_phy_offset()))
    }

    /// Indexes a record under each key hash. Records must come in log order.
    pub(crate) fn put(
        &self,
        hashes: &[u32],
        phy_offset: i64,
        store_ts: i64,
    ) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let _g = self.write.lock();
        if phy_offset <= self.end_phy_offset() {
            return Ok(()); // already indexed (re-dispatch)
        }
        let mut f = self.writable_file(store_ts, hashes.len())?;
        for &h in hashes {
            // Only a record with more keys than a whole file holds gets here full.
            if !f.put(h, phy_offset, store_ts) {
                f = self.writable_file(store_ts, 1)?;
                f.put(h, phy_offset, store_ts);
            }
        }
        Ok(())
    }

    /// Candidate physical offsets for `topic#key`, newest files first.
    pub(crate) fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Vec<i64> {
        let hash = index_key_hash(topic, key);
        let files = self.files.read().clone();
        let mut out = Vec::new();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.time_matches(begin_ms, end_ms) {
                f.query(hash, max, begin_ms, end_ms, &mut out);
            }
        }
        out
    }

    /// Deletes files whose entries all point below `commit_log_min`; never the newest.
    pub(crate) fn delete_expired(&self, commit_log_min: u64) -> usize {
        let _g = self.write.lock();
        let mut files = self.files.write();
        let mut n = 0;
        while files.len() > 1 {
            match files.first() {
                Some(f) if f.end_phy_offset() < commit_log_min as i64 => {
                    let _ = self.disk.remove_file(f.path());
                    files.remove(0);
                    n += 1;
                }
                _ => break,
            }
        }
        n
    }

    /// Recovery after a crash with records past the checkpoint: the newest file may hold
    /// entries, slots or a header from after it in any mix (its pages reach the disk in any
    /// order), so a slot could lead to an entry that never got there and lose the older
    /// entries behind it. It is deleted; returns the offset to re-index from, the end of the
    /// file before it, which is complete (I5). `before_delete(redo)` runs first, so a crash
    /// after the deletion still re-indexes from there.
    pub(crate) fn drop_newest(&self, before_delete: &dyn Fn(u64)) -> Option<u64> {
        let mut files = self.files.write();
        let newest = files.pop()?;
        let redo = files.last().map_or(0, |f| f.end_phy_offset().max(0) as u64);
        tracing::warn!(file = %newest.path().display(), "rebuilding the newest index file after a crash");
        before_delete(redo);
        let _ = self.disk.remove_file(newest.path());
        Some(redo)
    }

    /// Recovery: whether the index must be rebuilt from the start of the log (once); the
    /// unusable files are deleted after `before_delete`.
    pub(crate) fn take_rebuild_all(&self, before_delete: &dyn Fn()) -> bool {
        if !self.rebuild_all.swap(false, Ordering::AcqRel) {
            return false;
        }
        before_delete();
        for p in self.unusable.lock().drain(..) {
            let _ = self.disk.remove_file(&p);
        }
        true
    }

    /// Recovery: deletes files holding entries at or past `end` (after `before_delete(redo)`);
    /// returns the smallest physical offset that must be re-indexed, if any was deleted.
    pub(crate) fn truncate_after(&self, end: u64, before_delete: &dyn Fn(u64)) -> Option<u64> {
        let mut files = self.files.write();
        let mut redo: Option<u64> = None;
        while let Some(f) = files.last() {
            if f.is_empty() || f.end_phy_offset() < end as i64 {
                break;
            }
            tracing::warn!(file = %f.path().display(), "index file has entries past the log end; rebuilding it");
            let from = f.begin_phy_offset().max(0) as u64;
            before_delete(from);
            redo = Some(from);
            let _ = self.disk.remove_file(f.path());
            files.pop();
        }
        redo
    }

    pub(crate) fn flush(&self) -> std::io::Result<()> {
        let files = self.files.read().clone();
        for f in files.iter().rev().take(2) {
            f.flush()?;
        }
        Ok(())
    }

    pub(crate) fn file_count(&self) -> usize {
        self.files.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_is_utc_civil_time() {
        assert_eq!(file_name_for(0), "19700101000000000");
        assert_eq!(file_name_for(1_706_702_400_123), "20240131120000123");
    }
}
