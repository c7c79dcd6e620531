//! CommitLog flushing: SYNC_FLUSH group commit (one msync serves every waiter up to the flushed
//! offset) and the ASYNC_FLUSH timer. A failed flush is sticky (invariant F2).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::config::FlushDiskType;
use crate::message::PutStatus;
use crate::store::Inner;
use crate::waiter::{FlushWaiter, WaiterShared};

/// Most SYNC_FLUSH puts waiting at once; more answer OsPageCacheBusy.
pub(crate) const MAX_FLUSH_WAITERS: usize = 100_000;
/// Longest a flush waits for the previous group's writers to come back.
const GROUP_GATHER: Duration = Duration::from_micros(500);

struct Waiting {
    target: u64,
    deadline: Instant,
    shared: Arc<WaiterShared>,
}

#[derive(Default)]
pub(crate) struct FlushService {
    waiters: Mutex<Vec<Waiting>>,
    cond: Condvar,
    /// test hook: the next flush fails
    pub(crate) fail_next: AtomicBool,
    /// test hook: sleep this long (ms) before each flush
    pub(crate) stall_ms: AtomicU64,
    /// test hook: flush rounds that began their stall
    pub(crate) stalled_rounds: AtomicU64,
    /// metrics: flushes done, time spent in them, waiters completed
    pub(crate) flush_count: AtomicU64,
    pub(crate) flush_time_us: AtomicU64,
    pub(crate) waiters_completed: AtomicU64,
    /// the flusher is gathering until this many waiters are queued
    gather_target: std::sync::atomic::AtomicUsize,
}

impl FlushService {
    pub(crate) fn wake_all(&self) {
        // Under the lock so the flusher cannot miss it between its check and its wait.
        let _g = self.waiters.lock();
        self.cond.notify_all();
    }
}

impl Inner {
    /// The future for a put whose last byte is at `target`.
    pub(crate) fn flush_waiter(&self, target: u64) -> FlushWaiter {
        if self.config.flush_disk_type == FlushDiskType::AsyncFlush
            || self.commit_log.flushed_offset() >= target
        {
            return FlushWaiter::ready(PutStatus::PutOk);
        }
        let (waiter, shared) = FlushWaiter::pending();
        let timeout = Duration::from_millis(self.config.sync_flush_timeout_ms);
        {
            let mut w = self.flush.waiters.lock();
            // Checked under the lock: once `stopping` is set the flusher may already have done
            // its last round, so a waiter queued now would never be completed.
            if self.stopping.load(Ordering::Acquire) {
                return FlushWaiter::ready(PutStatus::ServiceNotAvailable);
            }
            if w.len() >= MAX_FLUSH_WAITERS {
                return FlushWaiter::ready(PutStatus::OsPageCacheBusy);
            }
            w.push(Waiting {
                target,
                deadline: Instant::now() + timeout,
                shared,
            });
            // Wake the flusher only when it has something to decide: the first waiter (it may
            // be idle) or the group it is gathering is complete.
            if w.len() == 1 || w.len() >= self.flush.gather_target.load(Ordering::Relaxed) {
                self.flush.cond.notify_one();
            }
        }
        waiter
    }

    /// Completes waiters covered by `flushed` (with `failed`, every waiter); returns how many.
    fn complete_waiters(&self, flushed: u64, failed: bool) -> usize {
        let mut w = self.flush.waiters.lock();
        let before = w.len();
        w.retain(|x| {
            if failed {
                x.shared.complete(PutStatus::ServiceNotAvailable);
                false
            } else if x.target <= flushed {
                x.shared.complete(PutStatus::PutOk);
                self.flush.waiters_completed.fetch_add(1, Ordering::Relaxed);
                false
            } else {
                true
            }
        });
        before - w.len()
    }

    /// Ends waits past syncFlushTimeout with FlushDiskTimeout (the record stays stored).
    pub(crate) fn expire_flush_waiters(&self) {
        let now = Instant::now();
        let mut w = self.flush.waiters.lock();
        w.retain(|x| {
            if x.deadline <= now {
                x.shared.complete(PutStatus::FlushDiskTimeout);
                false
            } else {
                true
            }
        });
    }

    fn flush_once(&self) -> std::io::Result<u64> {
        let stall = self.flush.stall_ms.load(Ordering::Relaxed);
        if stall > 0 {
            self.flush.stalled_rounds.fetch_add(1, Ordering::AcqRel);
            std::thread::sleep(Duration::from_millis(stall));
        }
        // Only a flush with bytes to write takes the injected failure: an idle periodic flush
        // taking it would make the failure land before the append a test meant it for.
        let pending = self.commit_log.max_offset() > self.commit_log.flushed_offset();
        if pending && self.flush.fail_next.swap(false, Ordering::AcqRel) {
            return Err(std::io::Error::other("injected flush failure"));
        }
        let start = Instant::now();
        let res = self.commit_log.flush();
        self.flush.flush_count.fetch_add(1, Ordering::Relaxed);
        self.flush
            .flush_time_us
            .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        res
    }

    /// The flusher thread.
    pub(crate) fn flush_loop(&self) {
        let interval = Duration::from_millis(self.config.flush_interval_commit_log_ms.max(1));
        let mut last_group = 0usize;
        loop {
            {
                let mut w = self.flush.waiters.lock();
                if w.is_empty() && !self.stopping.load(Ordering::Acquire) {
                    self.flush.cond.wait_for(&mut w, interval);
                }
                // Group commit: the writers just released by the previous flush are coming
                // back; wait briefly until about as many are queued, so one flush serves them
                // all instead of two half-empty flushes.
                let gather_until = Instant::now() + GROUP_GATHER;
                self.flush
                    .gather_target
                    .store(last_group.max(1), Ordering::Relaxed);
                while !w.is_empty()
                    && w.len() < last_group
                    && !self.stopping.load(Ordering::Acquire)
                {
                    if self.flush.cond.wait_until(&mut w, gather_until).timed_out() {
                        break;
                    }
                }
            }
            let stopping = self.stopping.load(Ordering::Acquire);
            if self.flush_failed.load(Ordering::Acquire) {
                self.complete_waiters(0, true);
            } else {
                match self.flush_once() {
                    Ok(flushed) => last_group = self.complete_waiters(flushed, false),
                    Err(e) => {
                        tracing::error!(error = %e, "commit log flush failed; refusing further puts");
                        self.flush_failed.store(true, Ordering::Release);
                        self.complete_waiters(0, true);
                        last_group = 0;
                    }
                }
            }
            if stopping {
                break;
            }
        }
    }
}
