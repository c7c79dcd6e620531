//! Start-up recovery (wire doc §6.7, DESIGN.md §7): CommitLog, then ConsumeQueues and index,
//! then re-dispatch of what the logical queues miss, then the queue offset table.

use std::sync::atomic::Ordering;

use crate::checkpoint::Checkpoint;
use crate::commitlog::RecoverLimits;
use crate::consume_queue::{ConsumeQueue, CqEntry, DeepCheck};
use crate::error::StoreError;
use crate::message::decode_record;
use crate::store::{queue_offsets_from, Inner};

/// How many trailing CommitLog files are re-validated after a clean shutdown.
const CLEAN_RECOVERY_FILES: usize = 3;

impl Inner {
    /// Whether a ConsumeQueue entry points at the record it names: a whole record of that
    /// size, of that queue, at that queue offset.
    fn entry_matches(&self, cq: &ConsumeQueue, queue_offset: i64, e: &CqEntry) -> bool {
        let Ok(offset) = u64::try_from(e.physical_offset) else {
            return false;
        };
        let Some(bytes) = self.commit_log.read_record(offset) else {
            return false;
        };
        decode_record(&bytes).is_ok_and(|r| {
            r.total_size == e.size as usize
                && r.queue_offset == queue_offset
                && cq.is(r.topic, r.queue_id)
        })
    }

    pub(crate) fn recover(&self) -> Result<(), StoreError> {
        let crashed = self.abort_path().exists();
        let cp = Checkpoint::load(&self.checkpoint_path());
        let files = self.commit_log.files().snapshot();
        let start_index = match (crashed, cp) {
            (false, Some(_)) => files.len().saturating_sub(CLEAN_RECOVERY_FILES),
            (_, Some(c)) => {
                // Everything below the checkpoint's safe point was durable and dispatched.
                let safe = c.commit_log_flushed_offset.min(c.dispatched_offset);
                files
                    .iter()
                    .rposition(|f| f.start_offset() <= safe)
                    .unwrap_or(0)
            }
            (_, None) => 0,
        };
        if crashed {
            tracing::warn!(root = %self.root.display(), "abort file present: last exit was a crash; recovering");
        }
        let mut end = self.commit_log.recover(
            start_index,
            RecoverLimits {
                check_crc: self.config.check_crc_on_recover,
                durable_end: cp.map_or(0, |c| c.commit_log_flushed_offset),
                policy: self.config.recover_corrupt_policy,
            },
        )?;
        let truncate = self.root.join(crate::epoch::TRUNCATE_FILE);
        if let Some(cut) = std::fs::read_to_string(&truncate)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .filter(|&cut| cut < end)
        {
            tracing::warn!(
                from = cut,
                to = end,
                "cutting the tail this slave's master never had"
            );
            self.commit_log.cut_for_replica(cut)?;
            end = cut;
        }
        let min = self.commit_log.min_offset();
        let mut from = cp.map_or(min, |c| c.dispatched_offset).min(end);
        // Before recovery cuts or deletes ConsumeQueue or index entries, the checkpoint on
        // disk is lowered to where re-dispatch must start: a second crash before the redone
        // entries reach the disk then redoes them again, instead of trusting the old
        // checkpoint past the hole (D3).
        let on_disk = std::cell::Cell::new(cp);
        let lower = |to: u64| {
            let Some(mut c) = on_disk.get() else {
                return; // no checkpoint: a restart re-dispatches from the first file anyway
            };
            if c.dispatched_offset <= to {
                return;
            }
            c.dispatched_offset = to;
            c.commit_log_flushed_offset = c.commit_log_flushed_offset.min(end);
            if let Err(e) = c.store(&self.checkpoint_path(), &self.io) {
                tracing::error!(error = %e, "cannot lower the checkpoint before recovery cuts");
            }
            on_disk.set(Some(c));
        };
        // Records past the recovered end are gone: the next appends reuse their offsets.
        lower(end);
        // Entries for records below this were flushed before the checkpoint was written.
        let flushed_below = cp.map_or(0, |c| c.commit_log_flushed_offset.min(c.dispatched_offset));
        for cq in self.all_cqs() {
            // After a crash the queue tails may have been written only partly, or torn: the
            // files written since the checkpoint are checked entry by entry (Q6).
            let check = |queue_offset: i64, e: &CqEntry| self.entry_matches(&cq, queue_offset, e);
            let deep = crashed.then_some(DeepCheck {
                matches: &check,
                durable_below: flushed_below,
                log_min: min,
            });
            if let Some(redo) = cq.recover(end, min, deep, &lower)? {
                from = from.min(redo);
            }
        }
        self.drop_fenced_queues();
        if let Some(redo) = self.index.truncate_after(end, &lower) {
            from = from.min(redo);
        }
        if crashed && cp.is_none_or(|c| c.dispatched_offset < end) {
            if let Some(redo) = self.index.drop_newest(&lower) {
                from = from.min(redo);
            }
        }
        if self.index.take_rebuild_all(&|| lower(min)) {
            from = min; // ConsumeQueue entries already there are kept as they are
        }
        let from = from.max(min);
        self.dispatched.store(from, Ordering::Release);
        let redispatched = self.dispatch_available();
        if redispatched > 0 {
            tracing::info!(
                from,
                end,
                records = redispatched,
                "re-dispatched records into consume queues and index"
            );
        }
        self.commit_log
            .set_queue_offsets(queue_offsets_from(&self.cqs.read()));
        if truncate.exists() {
            self.io
                .remove_file(&truncate)
                .and_then(|()| self.io.sync_dir(&self.root))
                .map_err(|e| StoreError::io(&truncate, e))?;
        }
        Ok(())
    }
}
