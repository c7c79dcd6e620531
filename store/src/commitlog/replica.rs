//! Replication's view of the CommitLog. A master hands out raw published bytes, file by
//! file; a slave appends its master's bytes verbatim at the same offsets and publishes only
//! whole records, so its dispatcher and readers never meet half a record.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::error::StoreError;
use crate::message::{peek_header, FIXED_LEN_V4, MAGIC_BLANK, MAGIC_V1};

use super::CommitLog;

impl CommitLog {
    /// Up to `max` bytes from `offset` that a slave may copy, never across a file end: a
    /// full file to its very end (its blank tail included), the current file up to the last
    /// published record. None when nothing is there yet or `offset` is not stored.
    pub(crate) fn read_for_replica(&self, offset: u64, max: usize) -> Option<Bytes> {
        let file = self.files.find(offset)?;
        let start = file.start_offset();
        let pos = usize::try_from(offset - start).ok()?;
        let end = if file.is_full() {
            file.size()
        } else {
            let published = usize::try_from(self.max_offset().saturating_sub(start)).ok()?;
            published.min(file.wrote_pos())
        };
        let len = end.checked_sub(pos)?.min(max);
        if len == 0 {
            return None;
        }
        file.slice(pos, len)
    }

    /// Where the bytes received from the master end (a slave; `max_offset` on a master).
    pub(crate) fn received_offset(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// A slave appends `data`, copied from its master's CommitLog at `offset`, which must be
    /// where its own bytes end (or, for an empty log, the start of a file: a new slave's copy
    /// may begin after the master's deleted files). The chunk must lie in one file. Whole
    /// records in it are published; returns the new received offset.
    pub(crate) fn append_replica(&self, offset: u64, data: &[u8]) -> Result<u64, StoreError> {
        let state = self.append.lock();
        let received = self.received_offset();
        let empty = self.files.last().is_none();
        if offset != received && !(empty && offset.is_multiple_of(self.file_size)) {
            return Err(StoreError::ReplicaGap {
                expected: received,
                got: offset,
            });
        }
        if data.is_empty() {
            return Ok(received);
        }
        let file = match self.files.last() {
            Some(f) if offset >= f.start_offset() && offset < f.end_offset() => f,
            Some(f) if offset == f.end_offset() => self.roll_to(offset)?,
            Some(_) => {
                return Err(StoreError::ReplicaGap {
                    expected: received,
                    got: offset,
                })
            }
            None => {
                let f = self.roll_to(offset)?;
                self.max_offset.store(offset, Ordering::Release);
                self.flushed_offset.store(offset, Ordering::Release);
                f
            }
        };
        let pos = (offset - file.start_offset()) as usize;
        if pos != file.wrote_pos() || !file.write_at(pos, data) {
            return Err(StoreError::MessageIllegal(format!(
                "replica chunk of {} bytes at {offset} does not fit its file",
                data.len()
            )));
        }
        let received = offset + data.len() as u64;
        self.received.store(received, Ordering::Release);
        drop(state);
        self.publish_received()?;
        Ok(received)
    }

    /// Moves `max_offset` over every whole record (and blank file tail) received.
    fn publish_received(&self) -> Result<(), StoreError> {
        let received = self.received_offset();
        let mut at = self.max_offset();
        while at < received {
            let Some(file) = self.files.find(at) else {
                break;
            };
            let pos = (at - file.start_offset()) as usize;
            let Some(head) = file.read(pos, 8) else {
                break;
            };
            let corrupt =
                |why: &str| StoreError::MessageIllegal(format!("replica bytes at {at}: {why}"));
            let (size, magic) = peek_header(head).map_err(|e| corrupt(&e.to_string()))?;
            let next = match magic {
                // The rest of the file is the blank tail: complete once the file is.
                MAGIC_BLANK if file.is_full() => file.end_offset(),
                MAGIC_BLANK => break,
                MAGIC_V1 => match usize::try_from(size) {
                    Ok(len) if len >= FIXED_LEN_V4 && pos + len <= file.size() => {
                        if file.read(pos, len).is_none() {
                            break;
                        }
                        at + len as u64
                    }
                    _ => return Err(corrupt("bad record size")),
                },
                _ => return Err(corrupt("bad magic")),
            };
            at = next;
        }
        self.max_offset.fetch_max(at, Ordering::AcqRel);
        Ok(())
    }
}
