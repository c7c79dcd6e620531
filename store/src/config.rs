//! Store configuration, RocketMQ property names in the comments.

use std::path::PathBuf;

/// When a put is acknowledged. `SyncFlush` survives power loss (the record is on disk when the
/// put future resolves); `AsyncFlush` survives a process crash only (page cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushDiskType {
    /// "SYNC_FLUSH"
    SyncFlush,
    /// "ASYNC_FLUSH"
    AsyncFlush,
}

impl FlushDiskType {
    /// Parses RocketMQ's spelling ("SYNC_FLUSH" / "ASYNC_FLUSH").
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "SYNC_FLUSH" => Some(Self::SyncFlush),
            "ASYNC_FLUSH" => Some(Self::AsyncFlush),
            _ => None,
        }
    }
}

/// Store settings. Defaults are RocketMQ 4.9's.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// storePathRootDir
    pub store_path_root_dir: PathBuf,
    /// storePathCommitLog (None: root/commitlog)
    pub store_path_commit_log: Option<PathBuf>,
    /// mappedFileSizeCommitLog, bytes
    pub mapped_file_size_commit_log: u64,
    /// mappedFileSizeConsumeQueue / 20: entries per ConsumeQueue file
    pub mapped_file_size_consume_queue_entries: u64,
    /// flushDiskType
    pub flush_disk_type: FlushDiskType,
    /// syncFlushTimeout
    pub sync_flush_timeout_ms: u64,
    /// flushIntervalCommitLog
    pub flush_interval_commit_log_ms: u64,
    /// flushIntervalConsumeQueue
    pub flush_interval_consume_queue_ms: u64,
    /// maxMessageSize (body bytes)
    pub max_message_size: usize,
    /// fileReservedTime
    pub file_reserved_time_hours: u64,
    /// deleteWhen: hours of the local day, separated by ';'
    pub delete_when: String,
    /// diskMaxUsedSpaceRatio, percent: above it, expired CommitLog files are deleted at once
    /// instead of waiting for `deleteWhen`
    pub disk_max_used_space_ratio: u32,
    /// diskSpaceWarningLevelRatio, percent: above it the store refuses appends (disk full)
    /// until usage falls below it again
    pub disk_space_warning_level_ratio: u32,
    /// diskSpaceCleanForciblyRatio, percent: above it, and only with
    /// `DiskFullPolicy::DeleteOldest`, unexpired files are deleted oldest first
    pub disk_space_clean_forcibly_ratio: u32,
    /// diskFullPolicy: what a filling disk may cost (FerrumQ's; RocketMQ always deletes)
    pub disk_full_policy: DiskFullPolicy,
    /// recoverCorruptPolicy: damage below the checkpoint stops the start (FerrumQ's)
    pub recover_corrupt_policy: RecoverCorruptPolicy,
    /// maxHashSlotNum
    pub max_hash_slot_num: u32,
    /// maxIndexNum
    pub max_index_num: u32,
    /// messageIndexEnable
    pub message_index_enable: bool,
    /// checkCRCOnRecover
    pub check_crc_on_recover: bool,
    /// parsed messageDelayLevel, for SCHEDULE_TOPIC_XXXX tag codes
    pub message_delay_level_ms: Vec<u64>,
    /// cleanResourceInterval: how often the retention thread looks at the files
    pub clean_resource_interval_ms: u64,
}

/// What the store does when its disk fills with messages that have not expired yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DiskFullPolicy {
    /// Refuse new messages above `diskSpaceWarningLevelRatio`; never delete an unexpired file.
    /// Acknowledged messages stay until `fileReservedTime`, whoever has read them.
    #[default]
    Reject,
    /// RocketMQ's behaviour: above `diskSpaceCleanForciblyRatio` delete the oldest files even
    /// if unexpired (their messages are lost to consumers that have not read them yet).
    DeleteOldest,
}

impl DiskFullPolicy {
    /// `reject` or `deleteOldest` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reject" => Some(Self::Reject),
            "deleteoldest" => Some(Self::DeleteOldest),
            _ => None,
        }
    }

    /// The property value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::DeleteOldest => "deleteOldest",
        }
    }
}

/// What start-up does with a CommitLog that is damaged where the checkpoint says it was
/// durable (a bad record in an early file, a gap between files, files missing): there, unlike
/// in the tail a crash may leave unfinished, cutting the log would delete acknowledged
/// messages (RocketMQ cuts silently).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoverCorruptPolicy {
    /// Refuse to start, naming the file and offset, so the operator can restore or copy
    /// the files before anything is deleted.
    #[default]
    Refuse,
    /// Cut the log at the damage, deleting everything after it, and start.
    Truncate,
}

impl RecoverCorruptPolicy {
    /// `refuse` or `truncate` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "refuse" => Some(Self::Refuse),
            "truncate" => Some(Self::Truncate),
            _ => None,
        }
    }

    /// The property value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Truncate => "truncate",
        }
    }
}

/// RocketMQ's default `messageDelayLevel`.
pub const DEFAULT_DELAY_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// Parses a `messageDelayLevel` string ("1s 5m 2h 1d") into milliseconds; bad items are skipped.
pub fn parse_delay_levels(s: &str) -> Vec<u64> {
    s.split_whitespace()
        .filter_map(|item| {
            let unit = item.chars().last()?;
            let num: u64 = item.get(..item.len() - unit.len_utf8())?.parse().ok()?;
            let mul = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => return None,
            };
            num.checked_mul(mul)
        })
        .collect()
}

impl Default for StoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        Self {
            store_path_root_dir: home.join("store"),
            store_path_commit_log: None,
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            mapped_file_size_consume_queue_entries: 300_000,
            flush_disk_type: FlushDiskType::AsyncFlush,
            sync_flush_timeout_ms: 5_000,
            flush_interval_commit_log_ms: 500,
            flush_interval_consume_queue_ms: 1_000,
            max_message_size: 4 * 1024 * 1024,
            file_reserved_time_hours: 72,
            delete_when: "04".to_string(),
            disk_max_used_space_ratio: 75,
            disk_space_warning_level_ratio: 90,
            disk_space_clean_forcibly_ratio: 85,
            disk_full_policy: DiskFullPolicy::Reject,
            recover_corrupt_policy: RecoverCorruptPolicy::Refuse,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            message_index_enable: true,
            check_crc_on_recover: true,
            message_delay_level_ms: parse_delay_levels(DEFAULT_DELAY_LEVELS),
            clean_resource_interval_ms: 10_000,
        }
    }
}

impl StoreConfig {
    /// A config rooted at `root` with the defaults otherwise.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self {
            store_path_root_dir: root.into(),
            ..Self::default()
        }
    }

    /// The CommitLog directory.
    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_commit_log
            .clone()
            .unwrap_or_else(|| self.store_path_root_dir.join("commitlog"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_levels_parse() {
        let v = parse_delay_levels(DEFAULT_DELAY_LEVELS);
        assert_eq!(v.len(), 18);
        assert_eq!(v[0], 1_000);
        assert_eq!(v[17], 7_200_000);
        assert_eq!(parse_delay_levels("3x 2m"), vec![120_000]);
    }
}
