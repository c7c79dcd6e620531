//! Reads: zero-copy record slices, and the walk the dispatcher uses.

use std::sync::Arc;

use bytes::Bytes;

use crate::mapped_file::MappedFile;
use crate::message::{
    peek_header, store_timestamp_pos, FIXED_LEN_V4, MAGIC_BLANK, MAGIC_V1, POS_SYS_FLAG,
};

use super::CommitLog;

/// What is at a physical offset, for a sequential reader.
pub(crate) enum NextRecord {
    /// a record: its file, position in the file and length
    Record(Arc<MappedFile>, usize, usize),
    /// a blank marker or file end: continue at this offset
    Skip(u64),
    /// nothing published there yet
    NotReady,
    /// the bytes there are not a record (should not happen for published data)
    Corrupt,
}

impl CommitLog {
    /// `len` published bytes at `offset` as a zero-copy slice.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Option<Bytes> {
        let file = self.files.find(offset)?;
        let pos = usize::try_from(offset - file.start_offset()).ok()?;
        file.slice(pos, len)
    }

    /// The whole record starting at `offset` (checks magic and size bounds).
    pub(crate) fn read_record(&self, offset: u64) -> Option<Bytes> {
        match self.next_record(offset) {
            NextRecord::Record(file, pos, len) => file.slice(pos, len),
            _ => None,
        }
    }

    /// Classifies what is at `offset`.
    pub(crate) fn next_record(&self, offset: u64) -> NextRecord {
        self.next_record_hinted(offset, &mut None)
    }

    /// `next_record` for sequential readers: `hint` caches the last file (no list lock while
    /// the offset stays in it).
    pub(crate) fn next_record_hinted(
        &self,
        offset: u64,
        hint: &mut Option<Arc<MappedFile>>,
    ) -> NextRecord {
        if offset >= self.max_offset() {
            return NextRecord::NotReady;
        }
        let cached = hint
            .as_ref()
            .filter(|f| f.start_offset() <= offset && offset < f.end_offset())
            .cloned();
        let found = cached.or_else(|| self.files.find(offset));
        hint.clone_from(&found);
        let Some(file) = found else {
            // Below the first file (deleted) or a gap: continue at the next file start.
            return match self.files.first() {
                Some(f) if offset < f.start_offset() => NextRecord::Skip(f.start_offset()),
                _ => NextRecord::Corrupt,
            };
        };
        let pos = (offset - file.start_offset()) as usize;
        let Some(head) = file.read(pos, 8) else {
            return if file.is_full() {
                NextRecord::Skip(file.end_offset())
            } else {
                NextRecord::NotReady
            };
        };
        let Ok((size, magic)) = peek_header(head) else {
            return NextRecord::Corrupt;
        };
        match magic {
            MAGIC_BLANK => NextRecord::Skip(file.end_offset()),
            MAGIC_V1 => match usize::try_from(size) {
                Ok(len) if len >= FIXED_LEN_V4 && file.read(pos, len).is_some() => {
                    NextRecord::Record(file, pos, len)
                }
                _ => NextRecord::Corrupt,
            },
            _ => NextRecord::Corrupt,
        }
    }

    /// STORETIMESTAMP of the record at `offset`.
    pub(crate) fn store_timestamp_at(&self, offset: u64) -> Option<i64> {
        let file = self.files.find(offset)?;
        let pos = usize::try_from(offset - file.start_offset()).ok()?;
        let flag_bytes = file.read(pos + POS_SYS_FLAG, 4)?;
        let sys_flag = i32::from_be_bytes(flag_bytes.try_into().ok()?);
        let ts = file.read(pos + store_timestamp_pos(sys_flag), 8)?;
        Some(i64::from_be_bytes(ts.try_into().ok()?))
    }
}
