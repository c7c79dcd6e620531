//! Append under the short lock: assign offsets and timestamp, patch, copy in.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::StoreError;
use crate::mapped_file::MappedFile;
use crate::message::{
    BLANK_MIN_LEN, MAGIC_BLANK, POS_PHYSICAL_OFFSET, POS_QUEUE_OFFSET, TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE,
};

use super::CommitLog;

/// Encoded records for one topic/queue, to be appended contiguously.
pub(crate) struct AppendRequest<'a> {
    /// records back to back, offsets/timestamp zero
    pub buf: &'a mut [u8],
    /// start of each record in `buf`
    pub record_starts: &'a [usize],
    pub topic: &'a str,
    pub queue_id: i32,
    /// transaction type bits of sysFlag
    pub tx_type: i32,
    /// Some: keep this store time
    pub store_timestamp_ms: Option<i64>,
    /// position of STORETIMESTAMP inside each record
    pub store_ts_pos: usize,
}

/// What the append assigned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Appended {
    pub physical_offset: u64,
    pub queue_offset: i64,
    pub store_timestamp_ms: i64,
    /// end of the last record
    pub end_offset: u64,
}

fn patch_i64(buf: &mut [u8], pos: usize, v: i64) {
    if let Some(dst) = buf.get_mut(pos..pos + 8) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl CommitLog {
    /// Starts the file at `start`: the pre-created one if the warm-up thread made it.
    pub(super) fn roll_to(&self, start: u64) -> Result<Arc<MappedFile>, StoreError> {
        let ready = self
            .next_file
            .lock()
            .take()
            .filter(|f| f.start_offset() == start);
        match ready {
            Some(f) => self.files.push(f),
            None => self.files.create(start),
        }
    }

    /// Appends the records; they all land in one file (a blank marker closes the previous one
    /// if they do not fit, invariant C2).
    pub(crate) fn append(&self, req: AppendRequest<'_>) -> Result<Appended, StoreError> {
        let total = req.buf.len();
        if (total + BLANK_MIN_LEN) as u64 > self.file_size {
            return Err(StoreError::MessageIllegal(format!(
                "{total} bytes do not fit a commit log file of {} bytes",
                self.file_size
            )));
        }
        let mut state = self.append.lock();
        let current = match state.current.take() {
            Some(f) => Some(f),
            None => self.files.last(),
        };
        let mut file = match current {
            Some(f) if !f.is_full() => f,
            Some(f) => self.roll_to(f.end_offset())?,
            None => self.roll_to(0)?,
        };
        let mut pos = file.wrote_pos();
        let left = file.size() - pos;
        if total + BLANK_MIN_LEN > left {
            let mut blank = [0u8; BLANK_MIN_LEN];
            blank[..4].copy_from_slice(&(left as i32).to_be_bytes());
            blank[4..].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
            file.write_at(pos, &blank);
            file.mark_full();
            file = self.roll_to(file.end_offset())?;
            pos = 0;
        }
        let physical_offset = file.start_offset() + pos as u64;
        let counts = matches!(req.tx_type, TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE);
        let n = req.record_starts.len() as i64;
        let queue_offset = if counts {
            let queues = match state.queues.get_mut(req.topic) {
                Some(q) => q,
                None => state.queues.entry(req.topic.to_string()).or_default(),
            };
            let next = queues.entry(req.queue_id).or_insert(0);
            let first = *next;
            *next += n;
            first
        } else {
            0
        };
        let store_ts = req.store_timestamp_ms.unwrap_or_else(now_ms);
        for (i, &start) in req.record_starts.iter().enumerate() {
            let qo = if counts { queue_offset + i as i64 } else { 0 };
            patch_i64(req.buf, start + POS_QUEUE_OFFSET, qo);
            patch_i64(
                req.buf,
                start + POS_PHYSICAL_OFFSET,
                (physical_offset + start as u64) as i64,
            );
            patch_i64(req.buf, start + req.store_ts_pos, store_ts);
        }
        if !file.write_at(pos, req.buf) {
            // Unreachable: the space was checked under this lock.
            return Err(StoreError::ServiceNotAvailable(
                "append did not fit after check".into(),
            ));
        }
        let end_offset = physical_offset + total as u64;
        self.last_store_ts.store(store_ts, Ordering::Release);
        self.max_offset.store(end_offset, Ordering::Release);
        state.current = Some(file);
        drop(state);
        Ok(Appended {
            physical_offset,
            queue_offset,
            store_timestamp_ms: store_ts,
            end_offset,
        })
    }
}
