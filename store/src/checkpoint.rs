//! The `checkpoint` file (DESIGN.md §6): flushed positions, written atomically.

use std::path::Path;

use crate::disk::Disk;

use crate::message::Reader;

const SIZE: usize = 4096;
const MAGIC: u32 = 0x4651_434B; // "FQCK"
const CRC_POS: usize = 88;

/// What a checkpoint records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// store time of the newest flushed CommitLog record (RocketMQ field)
    pub physic_msg_timestamp: i64,
    /// store time of the newest record in flushed ConsumeQueues (RocketMQ field)
    pub logics_msg_timestamp: i64,
    /// store time of the newest record in flushed index files (RocketMQ field)
    pub index_msg_timestamp: i64,
    /// CommitLog bytes below this were durable
    pub commit_log_flushed_offset: u64,
    /// CommitLog bytes below this had durable ConsumeQueue and index entries
    pub dispatched_offset: u64,
}

impl Checkpoint {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SIZE);
        b.extend_from_slice(&self.physic_msg_timestamp.to_be_bytes());
        b.extend_from_slice(&self.logics_msg_timestamp.to_be_bytes());
        b.extend_from_slice(&self.index_msg_timestamp.to_be_bytes());
        b.extend_from_slice(&(self.commit_log_flushed_offset as i64).to_be_bytes()); // masterFlushedOffset
        b.extend_from_slice(&0i64.to_be_bytes()); // confirmPhyOffset
        b.resize(64, 0);
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&self.commit_log_flushed_offset.to_be_bytes());
        b.extend_from_slice(&self.dispatched_offset.to_be_bytes());
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b.resize(SIZE, 0);
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let head = b.get(..CRC_POS)?;
        let mut r = Reader { buf: b, pos: 0 };
        let physic = r.i64().ok()?;
        let logics = r.i64().ok()?;
        let index = r.i64().ok()?;
        r.pos = 64;
        if r.u32().ok()? != MAGIC {
            return None;
        }
        let _version = r.u32().ok()?;
        let flushed = r.i64().ok()? as u64;
        let dispatched = r.i64().ok()? as u64;
        if r.u32().ok()? != crc32c::crc32c(head) {
            return None;
        }
        Some(Self {
            physic_msg_timestamp: physic,
            logics_msg_timestamp: logics,
            index_msg_timestamp: index,
            commit_log_flushed_offset: flushed,
            dispatched_offset: dispatched,
        })
    }

    /// Reads the checkpoint; None if missing or damaged (recovery then starts from the
    /// first CommitLog file).
    pub(crate) fn load(path: &Path) -> Option<Self> {
        let b = std::fs::read(path).ok()?;
        let cp = Self::decode(&b);
        if cp.is_none() {
            tracing::warn!(path = %path.display(), "checkpoint missing fields or damaged; ignoring it");
        }
        cp
    }

    /// Writes `path.tmp`, fsyncs it, renames it over `path`, fsyncs the folder (invariant K1:
    /// a reader sees the old or the new checkpoint, never a mix, also after power loss).
    pub(crate) fn store(&self, path: &Path, disk: &Disk) -> std::io::Result<()> {
        disk.write_atomic(path, &self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_detected() {
        let cp = Checkpoint {
            physic_msg_timestamp: 1,
            logics_msg_timestamp: 2,
            index_msg_timestamp: 3,
            commit_log_flushed_offset: 4096,
            dispatched_offset: 2048,
        };
        let mut b = cp.encode();
        assert_eq!(b.len(), SIZE);
        assert_eq!(Checkpoint::decode(&b), Some(cp));
        b[80] ^= 1;
        assert_eq!(Checkpoint::decode(&b), None);
    }
}
