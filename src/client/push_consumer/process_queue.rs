//! One owned queue's state (RocketMQ's ProcessQueue): where the next pull starts, the messages
//! pulled and not yet handled, and from those the offset that is safe to commit. The pull
//! loop pauses while the cache is over its count or byte threshold, so a slow handler holds
//! back the broker instead of filling this process's memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

pub(super) struct ProcessQueue {
    state: Mutex<State>,
    /// Set when the queue is given up (rebalance, lost lock, shutdown): its pull stops and
    /// messages not yet started are left for the next owner.
    dropped: AtomicBool,
    /// Told when a handled message leaves the cache: a paused pull may go on.
    pub(super) room: Notify,
    /// Told when an offset reset moves the queue or it is given up: a held pull is abandoned.
    pub(super) moved: Notify,
}

struct State {
    next: i64,
    /// Pulled and not yet handled: queue offset → body bytes.
    cached: BTreeMap<i64, usize>,
    bytes: usize,
    /// Raised by an offset reset: what an older pull brought or finished no longer counts.
    generation: u64,
    committed: i64,
}

/// Where a pull starts; `generation` ties its results to this position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub offset: i64,
    pub generation: u64,
}

/// What GET_CONSUMER_RUNNING_INFO reports of a queue.
pub(super) struct Snapshot {
    pub committed: i64,
    pub count: usize,
    pub bytes: usize,
    pub min: i64,
    pub max: i64,
}

impl ProcessQueue {
    pub fn new(start: i64) -> Self {
        ProcessQueue {
            state: Mutex::new(State {
                next: start,
                cached: BTreeMap::new(),
                bytes: 0,
                generation: 0,
                committed: start,
            }),
            dropped: AtomicBool::new(false),
            room: Notify::new(),
            moved: Notify::new(),
        }
    }

    pub fn position(&self) -> Position {
        let s = self.state.lock();
        Position {
            offset: s.next,
            generation: s.generation,
        }
    }

    /// Over either threshold: the next pull waits until handled messages leave.
    pub fn full(&self, max_messages: usize, max_bytes: usize) -> bool {
        let s = self.state.lock();
        s.cached.len() >= max_messages || s.bytes >= max_bytes
    }

    /// Caches a pulled batch (offset, body size) and moves the pull position to `next`;
    /// false when an offset reset moved the queue while the pull was out (drop the batch).
    pub fn accept(&self, at: Position, batch: &[(i64, usize)], next: Option<i64>) -> bool {
        let mut s = self.state.lock();
        if s.generation != at.generation || s.next != at.offset {
            return false;
        }
        for &(offset, size) in batch {
            if s.cached.insert(offset, size).is_none() {
                s.bytes += size;
            }
        }
        if let Some(n) = next {
            s.next = n;
        } else if let Some(last) = batch.last() {
            s.next = last.0 + 1;
        }
        true
    }

    /// A handled message leaves the cache (unless a reset already cleared it).
    pub fn done(&self, generation: u64, offset: i64) {
        {
            let mut s = self.state.lock();
            if s.generation != generation {
                return;
            }
            if let Some(size) = s.cached.remove(&offset) {
                s.bytes -= size;
            }
        }
        self.room.notify_one();
    }

    /// RESET_CONSUMER_CLIENT_OFFSET: pull from `offset`; what was cached is forgotten.
    pub fn reset(&self, offset: i64) {
        {
            let mut s = self.state.lock();
            s.generation += 1;
            s.next = offset;
            s.cached.clear();
            s.bytes = 0;
        }
        self.moved.notify_one();
    }

    /// The offset to commit: the oldest message not yet handled, or the pull position when
    /// everything pulled is handled (so filtered-out messages are not read again).
    pub fn commit_offset(&self) -> i64 {
        let s = self.state.lock();
        s.cached.keys().next().copied().unwrap_or(s.next)
    }

    /// The commit offset if it moved since the last call.
    pub fn take_dirty(&self) -> Option<i64> {
        let mut s = self.state.lock();
        let offset = s.cached.keys().next().copied().unwrap_or(s.next);
        (offset != s.committed).then(|| {
            s.committed = offset;
            offset
        })
    }

    /// A commit of `offset` did not reach the broker: `take_dirty` offers it again.
    pub fn commit_failed(&self, offset: i64) {
        let mut s = self.state.lock();
        if s.committed == offset {
            s.committed = i64::MIN;
        }
    }

    pub fn drop_queue(&self) {
        self.dropped.store(true, Ordering::Release);
        self.moved.notify_one();
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state.lock();
        Snapshot {
            committed: s.committed,
            count: s.cached.len(),
            bytes: s.bytes,
            min: s.cached.keys().next().copied().unwrap_or(s.next),
            max: s.cached.keys().next_back().copied().unwrap_or(s.next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_the_oldest_unhandled_message() {
        let pq = ProcessQueue::new(10);
        let at = pq.position();
        assert!(pq.accept(at, &[(10, 5), (11, 5), (12, 5)], Some(13)));
        assert_eq!(pq.commit_offset(), 10);
        pq.done(at.generation, 11);
        assert_eq!(pq.commit_offset(), 10, "10 is not handled yet");
        pq.done(at.generation, 10);
        assert_eq!(pq.commit_offset(), 12);
        pq.done(at.generation, 12);
        assert_eq!(pq.commit_offset(), 13, "all handled: the pull position");
        assert_eq!(pq.take_dirty(), Some(13));
        assert_eq!(pq.take_dirty(), None);
    }

    #[test]
    fn a_failed_commit_is_offered_again() {
        let pq = ProcessQueue::new(0);
        let at = pq.position();
        assert!(pq.accept(at, &[(0, 1)], Some(1)));
        pq.done(at.generation, 0);
        assert_eq!(pq.take_dirty(), Some(1));
        assert_eq!(pq.take_dirty(), None, "committed");
        pq.commit_failed(1);
        assert_eq!(pq.take_dirty(), Some(1), "the broker never got it");
    }

    #[test]
    fn thresholds_count_messages_and_bytes() {
        let pq = ProcessQueue::new(0);
        let at = pq.position();
        assert!(pq.accept(at, &[(0, 600), (1, 600)], Some(2)));
        assert!(!pq.full(3, 2_000));
        assert!(pq.full(2, 2_000), "two messages cached");
        assert!(pq.full(3, 1_200), "1,200 bytes cached");
        pq.done(at.generation, 0);
        assert!(!pq.full(2, 1_200));
    }

    #[test]
    fn a_reset_discards_what_an_older_pull_brought() {
        let pq = ProcessQueue::new(0);
        let at = pq.position();
        assert!(pq.accept(at, &[(0, 1), (1, 1)], Some(2)));
        pq.reset(100);
        assert_eq!(pq.commit_offset(), 100);
        assert!(
            !pq.accept(at, &[(2, 1)], Some(3)),
            "a pull from before the reset"
        );
        pq.done(at.generation, 0);
        assert_eq!(pq.position().offset, 100);
        assert_eq!(pq.snapshot().count, 0);
    }
}
