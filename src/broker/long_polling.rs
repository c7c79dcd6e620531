//! Suspended pulls (long polling): a pull that found nothing waits here until the
//! dispatcher reports new entries in its topic/queue, or its time is up.

use std::collections::HashMap;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// At most this many pulls are suspended at once; beyond it a pull is answered at once
/// (PULL_NOT_FOUND) instead of holding more memory.
pub const MAX_SUSPENDED_PULLS: usize = 10_000;

/// Longest a pull is held, whatever the client asks for (clients ask 15 s and time the
/// call out after 30 s).
pub const MAX_SUSPEND: Duration = Duration::from_secs(30);

struct Waiter {
    /// Wake once the queue's max offset is beyond this offset.
    offset: i64,
    tx: oneshot::Sender<()>,
}

#[derive(Default)]
pub struct PullHoldService {
    waiters: Mutex<HashMap<(String, i32), Vec<Waiter>>>,
    suspended: AtomicUsize,
}

impl PullHoldService {
    /// Registers a pull waiting for entries past `offset`. `None` when the limit is reached.
    pub fn suspend(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Option<oneshot::Receiver<()>> {
        if self.suspended.load(Ordering::Relaxed) >= MAX_SUSPENDED_PULLS {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.waiters.lock();
        let list = waiters.entry((topic.to_string(), queue_id)).or_default();
        // Drop waiters whose pull already timed out, so a queue that never gets data does
        // not accumulate them.
        let before = list.len();
        list.retain(|w| !w.tx.is_closed());
        self.suspended
            .fetch_sub(before - list.len(), Ordering::Relaxed);
        list.push(Waiter { offset, tx });
        self.suspended.fetch_add(1, Ordering::Relaxed);
        Some(rx)
    }

    /// Holds a pull until its queue gets past `offset` or `hold` ends; false (not held) when
    /// MAX_SUSPENDED_PULLS are held already. `arrived` looks at the queue once the waiter is
    /// registered: an entry dispatched between the pull's read and the registration would
    /// wake nobody. Every way out except a notify purges the waiter, so a finished pull never
    /// counts toward the limit (an early re-check hit used to leave it until the queue's
    /// next entry).
    pub async fn hold(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        hold: Duration,
        arrived: impl FnOnce() -> bool,
    ) -> bool {
        let Some(rx) = self.suspend(topic, queue_id, offset) else {
            return false;
        };
        // Pairs with the fence in `notify`: either the dispatcher sees this waiter counted,
        // or `arrived` sees the entry the dispatcher stored before it looked.
        fence(Ordering::SeqCst);
        let notified = if arrived() {
            drop(rx); // closed, so the purge below removes it
            false
        } else {
            tokio::time::timeout(hold, rx).await.is_ok()
        };
        if !notified {
            self.purge(topic, queue_id);
        }
        true
    }

    /// Called by the store's dispatcher: wakes the pulls of this queue waiting below
    /// `max_offset`. Cheap and non-blocking (the dispatcher thread calls it per entry).
    pub fn notify(&self, topic: &str, queue_id: i32, max_offset: i64) {
        // Nobody held (the usual case under produce load): no lock, no key to build.
        fence(Ordering::SeqCst);
        if self.suspended.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut waiters = self.waiters.lock();
        let Some(list) = waiters.get_mut(&(topic.to_string(), queue_id)) else {
            return;
        };
        let before = list.len();
        let mut kept = Vec::with_capacity(list.len());
        for w in list.drain(..) {
            if w.offset < max_offset {
                let _ = w.tx.send(());
            } else if !w.tx.is_closed() {
                kept.push(w);
            }
        }
        self.suspended
            .fetch_sub(before - kept.len(), Ordering::Relaxed);
        if kept.is_empty() {
            waiters.remove(&(topic.to_string(), queue_id));
        } else {
            *list = kept;
        }
    }

    /// Forgets timed-out waiters of one queue (called after a wait ends by timeout).
    pub fn purge(&self, topic: &str, queue_id: i32) {
        let mut waiters = self.waiters.lock();
        let key = (topic.to_string(), queue_id);
        if let Some(list) = waiters.get_mut(&key) {
            let before = list.len();
            list.retain(|w| !w.tx.is_closed());
            self.suspended
                .fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                waiters.remove(&key);
            }
        }
    }

    /// Wakes everything (shutdown): held pulls answer now.
    pub fn wake_all(&self) {
        let mut waiters = self.waiters.lock();
        for (_, list) in waiters.drain() {
            for w in list {
                let _ = w.tx.send(());
            }
        }
        self.suspended.store(0, Ordering::Relaxed);
    }

    pub fn suspended(&self) -> usize {
        self.suspended.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_past_offset_and_purges() {
        let s = PullHoldService::default();
        let mut a = s.suspend("T", 0, 5).unwrap();
        let b = s.suspend("T", 1, 5).unwrap();
        assert_eq!(s.suspended(), 2);
        s.notify("T", 0, 5);
        assert!(a.try_recv().is_err(), "max 5 is not beyond offset 5");
        s.notify("T", 0, 6);
        assert!(a.await.is_ok());
        drop(b);
        s.purge("T", 1);
        assert_eq!(s.suspended(), 0);
    }

    /// Regression (issue 9): a pull whose re-check found data left its waiter behind, counting
    /// toward MAX_SUSPENDED_PULLS until the queue's next entry.
    #[tokio::test]
    async fn a_hold_leaves_no_waiter_behind() {
        let s = PullHoldService::default();
        assert!(s.hold("T", 0, 5, Duration::from_secs(5), || true).await);
        assert_eq!(s.suspended(), 0, "data found by the re-check");
        assert!(s.hold("T", 0, 5, Duration::from_millis(5), || false).await);
        assert_eq!(s.suspended(), 0, "timed out");
    }
}
