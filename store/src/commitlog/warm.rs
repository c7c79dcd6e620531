//! Ahead-of-need work for the appender: pre-create the next file and pre-fault pages ahead of
//! the write position, so page allocation and zeroing happen on this thread, not under the
//! append lock (RocketMQ's AllocateMappedFileService + warmMappedFile).

use std::sync::atomic::Ordering;

use super::CommitLog;

/// How far ahead of the write position pages are pre-faulted.
pub(crate) const WARM_AHEAD_BYTES: u64 = 32 * 1024 * 1024;
/// Pre-fault granularity.
const WARM_CHUNK_BYTES: u64 = 2 * 1024 * 1024;

/// How long warm-up rests after a failure.
const WARM_RETRY_MS: i64 = 1_000;

impl CommitLog {
    fn pause_warm(&self) {
        self.warm_paused_until_ms
            .store(super::now_ms() + WARM_RETRY_MS, Ordering::Release);
    }

    /// Whether the warm-up thread has work: less than half the window ahead of the write
    /// position is warmed (the appender wakes it then, instead of it polling).
    pub(crate) fn warm_wanted(&self) -> bool {
        let ahead = WARM_AHEAD_BYTES.min(self.file_size);
        self.max_offset() + ahead / 2 > self.warmed_offset.load(Ordering::Acquire)
            && super::now_ms() >= self.warm_paused_until_ms.load(Ordering::Acquire)
    }

    /// One round of warm-up; cheap when there is nothing to do.
    pub(crate) fn warm_ahead(&self) {
        if super::now_ms() < self.warm_paused_until_ms.load(Ordering::Acquire) {
            return;
        }
        let Some(last) = self.files.last() else {
            return;
        };
        let cur = self.max_offset();
        let ahead = WARM_AHEAD_BYTES.min(self.file_size);
        // Pre-create the next file once the write position is within `ahead` of the end.
        if last.end_offset().saturating_sub(cur) < ahead {
            let mut next = self.next_file.lock();
            if next
                .as_ref()
                .is_none_or(|f| f.start_offset() != last.end_offset())
            {
                match self.files.open_detached(last.end_offset()) {
                    Ok(f) => *next = Some(f),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot pre-create the next commit log file; retrying in 1 s");
                        self.pause_warm();
                        return;
                    }
                }
            }
        }
        let target = cur + ahead;
        let mut w = self.warmed_offset.load(Ordering::Acquire).max(cur);
        while w < target {
            let file = match self.files.find(w) {
                Some(f) => f,
                None => match self.next_file.lock().clone() {
                    Some(f) if f.start_offset() <= w && w < f.end_offset() => f,
                    _ => break,
                },
            };
            let end = (w + WARM_CHUNK_BYTES).min(file.end_offset()).min(target);
            let pos = (w - file.start_offset()) as usize;
            if let Err(e) = file.warm(pos, (end - w) as usize) {
                tracing::debug!(error = %e, "page warm-up failed; retrying in 1 s");
                self.pause_warm();
                return;
            }
            w = end;
            self.warmed_offset.store(w, Ordering::Release);
        }
    }
}
