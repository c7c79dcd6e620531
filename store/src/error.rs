//! Typed store errors.

use std::path::PathBuf;

use crate::message::PutStatus;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a named file.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// the file or directory
        path: PathBuf,
        /// the OS error
        source: std::io::Error,
    },
    /// Another process holds the store's `lock` file.
    #[error("store at {0} is locked by another process")]
    Locked(PathBuf),
    /// Topic name outside `[%|a-zA-Z0-9_-]{1,127}`.
    #[error("illegal topic name {0:?}")]
    IllegalTopic(String),
    /// Queue id out of range.
    #[error("illegal queue id {0}")]
    IllegalQueueId(i32),
    /// Body too large, empty batch, record larger than a CommitLog file, ...
    #[error("message illegal: {0}")]
    MessageIllegal(String),
    /// Properties longer than 32767 bytes.
    #[error("properties too long: {0} bytes")]
    PropertiesSizeExceeded(usize),
    /// The store is shut down, or a flush failed earlier (sticky).
    #[error("store not available: {0}")]
    ServiceNotAvailable(String),
    /// Replication: bytes from the master do not continue this slave's CommitLog.
    #[error(
        "replica bytes at offset {got} do not continue the commit log, which ends at {expected}"
    )]
    ReplicaGap {
        /// where this slave's bytes end
        expected: u64,
        /// where the master's chunk starts
        got: u64,
    },
    /// The ConsumeQueue was deleted (with its topic) while a writer still held it; the
    /// dispatcher looks the queue up again.
    #[error("consume queue deleted")]
    QueueDeleted,
    /// No disk space left to allocate a file (ENOSPC when pre-allocating it); writes resume
    /// once space is freed.
    #[error("disk full: no space left to allocate {0}; sends resume when space is freed")]
    NoSpace(PathBuf),
    /// The file system is fuller than `diskSpaceWarningLevelRatio`; appends resume by
    /// themselves once it is below again.
    #[error("disk full: the store's file system is {used_percent}% used, above diskSpaceWarningLevelRatio {limit_percent}%; sends resume when space is freed")]
    DiskFull {
        /// used percentage at the last check
        used_percent: u32,
        /// the configured limit
        limit_percent: u32,
    },
    /// The CommitLog is damaged where the checkpoint says it was durable; with
    /// `recoverCorruptPolicy=refuse` the store does not open rather than delete what follows.
    #[error("commit log damaged at offset {offset} ({path}): {reason}; below the checkpoint's durable offset {durable}, so nothing was deleted. Restore the file, or set recoverCorruptPolicy=truncate to cut the log there (losing every message after it)")]
    Corrupt {
        /// the file holding the damage (or the one expected there)
        path: PathBuf,
        /// CommitLog offset of the damage
        offset: u64,
        /// what is wrong
        reason: String,
        /// the checkpoint's flushed offset
        durable: u64,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The RocketMQ put status this error answers with.
    pub fn put_status(&self) -> PutStatus {
        match self {
            Self::IllegalTopic(_) | Self::IllegalQueueId(_) | Self::MessageIllegal(_) => {
                PutStatus::MessageIllegal
            }
            Self::PropertiesSizeExceeded(_) => PutStatus::PropertiesSizeExceeded,
            Self::ServiceNotAvailable(_)
            | Self::Locked(_)
            | Self::DiskFull { .. }
            | Self::NoSpace(_)
            | Self::QueueDeleted
            | Self::ReplicaGap { .. } => PutStatus::ServiceNotAvailable,
            Self::Io { .. } | Self::Corrupt { .. } => PutStatus::UnknownError,
        }
    }
}

/// Why a stored record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Fewer bytes than the fixed part or than TOTALSIZE.
    #[error("record truncated: need {need} bytes, have {have}")]
    Truncated {
        /// bytes needed
        need: usize,
        /// bytes present
        have: usize,
    },
    /// Magic is neither v1 nor the blank marker.
    #[error("bad magic {0:#010x}")]
    BadMagic(u32),
    /// The blank end-of-file marker (not a record).
    #[error("blank end-of-file marker")]
    Blank,
    /// TOTALSIZE disagrees with the length fields, or a length is negative.
    #[error("bad length field: {0}")]
    BadLength(&'static str),
    /// BODYCRC mismatch.
    #[error("body crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc {
        /// from the record
        stored: u32,
        /// over the body
        computed: u32,
    },
    /// Topic or properties are not UTF-8.
    #[error("not utf-8: {0}")]
    NotUtf8(&'static str),
}
