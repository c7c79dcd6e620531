//! Retention (DESIGN.md §8): delete old CommitLog files at the deleteWhen hour, or at once while
//! the disk is too full; then ConsumeQueue and index files wholly below the new minimum.

use std::path::Path;
use std::sync::atomic::Ordering;

use crate::store::{Inner, MessageStore};

/// Most CommitLog files deleted per run when forced by disk usage.
const FORCED_DELETES_PER_RUN: usize = 10;

/// Clock and disk readings the retention thread uses; replace it in tests.
pub trait RetentionProbe: Send + Sync {
    /// Now, ms since the epoch.
    fn now_ms(&self) -> i64;
    /// Hour of the local day (0..24).
    fn local_hour(&self) -> u32;
    /// Used fraction (0.0..=1.0) of the file system holding `path`.
    fn disk_used_ratio(&self, path: &Path) -> f64;
}

/// The real clock and `statvfs`.
pub struct SystemProbe;

impl RetentionProbe for SystemProbe {
    fn now_ms(&self) -> i64 {
        crate::commitlog::now_ms()
    }

    fn local_hour(&self) -> u32 {
        let t: libc::time_t = (self.now_ms() / 1000) as libc::time_t;
        // SAFETY: `tm` is a plain C struct for which all-zero is valid; localtime_r only
        // writes into it and reads `t`; both outlive the call.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&t, &mut tm).is_null() {
                return ((self.now_ms() / 3_600_000) % 24) as u32;
            }
            tm.tm_hour as u32
        }
    }

    fn disk_used_ratio(&self, path: &Path) -> f64 {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return 0.0;
        };
        // SAFETY: `st` is a plain C struct for which all-zero is valid; statvfs reads the
        // NUL-terminated path and writes only into `st`.
        let st = unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(c.as_ptr(), &mut st) != 0 {
                return 0.0;
            }
            st
        };
        let total = st.f_blocks as f64;
        if total <= 0.0 {
            return 0.0;
        }
        (total - st.f_bavail as f64) / total
    }
}

/// What one retention run deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// CommitLog files
    pub commit_log_files: usize,
    /// ConsumeQueue files
    pub consume_queue_files: usize,
    /// index files
    pub index_files: usize,
}

/// True if `hour` is listed in deleteWhen ("04", "04;16").
fn is_delete_hour(delete_when: &str, hour: u32) -> bool {
    delete_when
        .split(';')
        .filter_map(|h| h.trim().parse::<u32>().ok())
        .any(|h| h == hour)
}

impl Inner {
    pub(crate) fn run_retention(&self) -> RetentionReport {
        let probe = self.probe.read().clone();
        let now = probe.now_ms();
        let cfg = &self.config;
        let disk_full = probe.disk_used_ratio(&cfg.commit_log_dir())
            > f64::from(cfg.disk_max_used_space_ratio) / 100.0;
        let time_ok = is_delete_hour(&cfg.delete_when, probe.local_hour());
        let mut report = RetentionReport::default();
        if disk_full || time_ok {
            let reserved_ms = (cfg.file_reserved_time_hours as i64).saturating_mul(3_600_000);
            let dispatched = self.dispatched.load(Ordering::Acquire);
            let max = if disk_full {
                FORCED_DELETES_PER_RUN
            } else {
                usize::MAX
            };
            report.commit_log_files = self.commit_log.files().delete_front_while(max, |f| {
                // Never a file the dispatcher has not passed; never the last (the queue keeps it).
                f.end_offset() <= dispatched
                    && (disk_full || f.mtime_ms().saturating_add(reserved_ms) <= now)
            });
            if report.commit_log_files > 0 {
                tracing::info!(
                    files = report.commit_log_files,
                    disk_full,
                    "deleted expired commit log files"
                );
            }
        }
        let min = self.commit_log.min_offset();
        for cq in self.all_cqs() {
            report.consume_queue_files += cq.delete_expired(min);
        }
        report.index_files = self.index.delete_expired(min);
        report
    }
}

impl MessageStore {
    /// Runs one retention pass now (the background thread runs it every cleanResourceInterval).
    pub fn run_retention(&self) -> RetentionReport {
        self.inner.run_retention()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_when_hours() {
        assert!(is_delete_hour("04", 4));
        assert!(is_delete_hour("04;16", 16));
        assert!(!is_delete_hour("04", 5));
    }
}
