//! Retention (DESIGN.md §8): delete old CommitLog files at the deleteWhen hour, or at once while
//! the disk is too full; then ConsumeQueue and index files wholly below the new minimum.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::config::DiskFullPolicy;
use crate::error::StoreError;
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
        disk_used_ratio_of(st.f_blocks as f64, st.f_bfree as f64, st.f_bavail as f64)
    }
}

/// Used fraction as `df` reports it: used / (used + available to us). Blocks reserved for
/// root count as neither, so an ordinary ext4 disk does not look 5% fuller than it is (the
/// old `1 - avail/total` read 75% on a disk that was 11% used, and retention deleted
/// acknowledged messages to make room).
fn disk_used_ratio_of(blocks: f64, free: f64, avail: f64) -> f64 {
    let used = (blocks - free).max(0.0);
    let usable = used + avail;
    if usable <= 0.0 {
        return 0.0;
    }
    used / usable
}

/// Disk usage as last measured, whether appends are refused for it, and what retention
/// deleted (runtime info).
#[derive(Default)]
pub(crate) struct DiskState {
    /// used fraction × 1000 at the last check
    pub used_permille: AtomicU32,
    /// above diskSpaceWarningLevelRatio: appends are refused
    pub full: AtomicBool,
    /// CommitLog files deleted by retention since start, by reason
    pub deleted_expired: AtomicU64,
    pub deleted_forced: AtomicU64,
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
    /// Measures the disk and sets the disk-full state (appends refused above
    /// diskSpaceWarningLevelRatio, accepted again below it). Returns the used fraction.
    pub(crate) fn check_disk(&self) -> f64 {
        let probe = self.probe.read().clone();
        let ratio = probe.disk_used_ratio(&self.config.commit_log_dir());
        let limit = f64::from(self.config.disk_space_warning_level_ratio) / 100.0;
        let full = ratio > limit;
        self.disk
            .used_permille
            .store((ratio * 1000.0).round() as u32, Ordering::Release);
        if self.disk.full.swap(full, Ordering::AcqRel) != full {
            if full {
                tracing::error!(used = ratio, limit, "disk full: refusing new messages");
            } else {
                tracing::info!(used = ratio, limit, "disk space back: accepting messages");
            }
        }
        ratio
    }

    /// `DiskFull` while the last check found the disk over its warning ratio.
    pub(crate) fn check_disk_space(&self) -> Result<(), StoreError> {
        if !self.disk.full.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(StoreError::DiskFull {
            used_percent: self.disk.used_permille.load(Ordering::Acquire) / 10,
            limit_percent: self.config.disk_space_warning_level_ratio,
        })
    }

    /// One retention pass. Expired CommitLog files (older than fileReservedTime) go at the
    /// deleteWhen hour, or at once above diskMaxUsedSpaceRatio. An unexpired file goes only
    /// with `diskFullPolicy=deleteOldest` above diskSpaceCleanForciblyRatio: by default a
    /// filling disk refuses new messages instead of dropping acknowledged ones.
    pub(crate) fn run_retention(&self) -> RetentionReport {
        let now = self.probe.read().now_ms();
        let local_hour = self.probe.read().local_hour();
        let ratio = self.check_disk();
        let cfg = &self.config;
        let over = |percent: u32| ratio > f64::from(percent) / 100.0;
        let expired_now =
            is_delete_hour(&cfg.delete_when, local_hour) || over(cfg.disk_max_used_space_ratio);
        let forced = cfg.disk_full_policy == DiskFullPolicy::DeleteOldest
            && over(cfg.disk_space_clean_forcibly_ratio);
        let mut report = RetentionReport::default();
        let reserved_ms = (cfg.file_reserved_time_hours as i64).saturating_mul(3_600_000);
        let dispatched = self.dispatched.load(Ordering::Acquire);
        let files = self.commit_log.files();
        if expired_now {
            // Never a file the dispatcher has not passed; never the last (the queue keeps it).
            report.commit_log_files = files.delete_front_while(usize::MAX, |f| {
                f.end_offset() <= dispatched && f.mtime_ms().saturating_add(reserved_ms) <= now
            });
            self.disk
                .deleted_expired
                .fetch_add(report.commit_log_files as u64, Ordering::Relaxed);
        }
        if forced {
            let n =
                files.delete_front_while(FORCED_DELETES_PER_RUN, |f| f.end_offset() <= dispatched);
            self.disk
                .deleted_forced
                .fetch_add(n as u64, Ordering::Relaxed);
            if n > 0 {
                tracing::warn!(
                    files = n,
                    used = ratio,
                    "diskFullPolicy=deleteOldest: deleted unexpired commit log files"
                );
            }
            report.commit_log_files += n;
        }
        if report.commit_log_files > 0 {
            tracing::info!(
                files = report.commit_log_files,
                used = ratio,
                forced,
                "retention deleted commit log files"
            );
            self.check_disk();
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
    fn used_ratio_leaves_out_root_reserved_blocks() {
        // 1000 blocks, 110 used, 890 free of which 840 available to us (50 reserved).
        let r = disk_used_ratio_of(1000.0, 890.0, 840.0);
        assert!((r - 110.0 / 950.0).abs() < 1e-9, "{r}");
        assert_eq!(disk_used_ratio_of(0.0, 0.0, 0.0), 0.0);
        assert_eq!(
            disk_used_ratio_of(100.0, 0.0, 0.0),
            1.0,
            "full, nothing available"
        );
    }

    #[test]
    fn delete_when_hours() {
        assert!(is_delete_hour("04", 4));
        assert!(is_delete_hour("04;16", 16));
        assert!(!is_delete_hour("04", 5));
    }
}
