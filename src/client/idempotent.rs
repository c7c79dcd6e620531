//! At-least-once delivery means a message can arrive twice (a rebalance, a crash before the
//! offset commit, a producer retry). The standard answer is an idempotent consumer: remember
//! the ids handled recently and skip repeats. This window is bounded: it keeps the last
//! `capacity` ids, so memory stays flat however long the consumer runs.

use std::collections::{HashSet, VecDeque};

use parking_lot::Mutex;

/// Recently handled message ids, the oldest forgotten first.
pub struct IdempotentWindow {
    capacity: usize,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl IdempotentWindow {
    /// A window that remembers the last `capacity` message ids.
    pub fn new(capacity: usize) -> Self {
        IdempotentWindow {
            capacity: capacity.max(1),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True the first time an id is offered (handle the message), false for a repeat within
    /// the window (skip it).
    pub fn first_time(&self, msg_id: &str) -> bool {
        let mut g = self.seen.lock();
        let (set, order) = &mut *g;
        if set.contains(msg_id) {
            return false;
        }
        set.insert(msg_id.to_string());
        order.push_back(msg_id.to_string());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    /// Forgets an id (its handling failed and it should be handled when it comes again).
    pub fn forget(&self, msg_id: &str) {
        let mut g = self.seen.lock();
        let (set, order) = &mut *g;
        if set.remove(msg_id) {
            order.retain(|id| id != msg_id);
        }
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.seen.lock().1.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_skipped_within_the_window_only() {
        let w = IdempotentWindow::new(2);
        assert!(w.first_time("a"));
        assert!(!w.first_time("a"));
        assert!(w.first_time("b"));
        assert!(w.first_time("c")); // "a" falls out of the window
        assert_eq!(w.len(), 2);
        assert!(w.first_time("a"));
        w.forget("a");
        assert!(w.first_time("a"), "forgotten after a failure");
    }
}
