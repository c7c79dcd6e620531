//! Queue locks for orderly consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, wire doc §7.8).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A lock not renewed for this long may be taken by another client
/// (`rocketmq.broker.rebalance.lockMaxLiveTime`).
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

/// (topic, brokerName, queueId) as the client names it.
pub type QueueKey = (String, String, i32);

struct Holder {
    client_id: String,
    renewed: Instant,
}

#[derive(Default)]
pub struct RebalanceLockManager {
    /// group → queue → holder
    groups: Mutex<HashMap<String, HashMap<QueueKey, Holder>>>,
}

impl RebalanceLockManager {
    /// Grants each queue that is free, expired or already held by `client_id` (renewing
    /// it) and returns the queues `client_id` now holds, in request order.
    pub fn lock_batch(&self, group: &str, client_id: &str, queues: &[QueueKey]) -> Vec<QueueKey> {
        self.lock_batch_at(group, client_id, queues, Instant::now())
    }

    fn lock_batch_at(
        &self,
        group: &str,
        client_id: &str,
        queues: &[QueueKey],
        now: Instant,
    ) -> Vec<QueueKey> {
        let mut groups = self.groups.lock();
        let table = groups.entry(group.to_string()).or_default();
        let mut granted = Vec::with_capacity(queues.len());
        for q in queues {
            let free = match table.get(q) {
                None => true,
                Some(h) => {
                    h.client_id == client_id || now.duration_since(h.renewed) > LOCK_MAX_LIVE
                }
            };
            if free {
                table.insert(
                    q.clone(),
                    Holder {
                        client_id: client_id.to_string(),
                        renewed: now,
                    },
                );
                granted.push(q.clone());
            }
        }
        granted
    }

    /// Releases the queues held by `client_id`; others' locks are untouched.
    pub fn unlock_batch(&self, group: &str, client_id: &str, queues: &[QueueKey]) {
        let mut groups = self.groups.lock();
        if let Some(table) = groups.get_mut(group) {
            for q in queues {
                if table.get(q).is_some_and(|h| h.client_id == client_id) {
                    table.remove(q);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn q(i: i32) -> QueueKey {
        ("T".into(), "b".into(), i)
    }

    #[test]
    fn exclusive_until_expiry_or_unlock() {
        let m = RebalanceLockManager::default();
        let t0 = Instant::now();
        assert_eq!(
            m.lock_batch_at("g", "c1", &[q(0), q(1)], t0),
            vec![q(0), q(1)]
        );
        assert_eq!(m.lock_batch_at("g", "c2", &[q(1), q(2)], t0), vec![q(2)]);
        assert_eq!(
            m.lock_batch_at("g", "c1", &[q(1)], t0),
            vec![q(1)],
            "re-lock renews"
        );
        let later = t0 + LOCK_MAX_LIVE + Duration::from_secs(1);
        assert_eq!(
            m.lock_batch_at("g", "c2", &[q(0)], later),
            vec![q(0)],
            "expired lock taken"
        );
        m.unlock_batch("g", "c2", &[q(1)]);
        assert!(
            m.lock_batch_at("g", "c2", &[q(1)], t0).is_empty(),
            "c2 cannot unlock c1's queue"
        );
        m.unlock_batch("g", "c1", &[q(1)]);
        assert_eq!(m.lock_batch_at("g", "c2", &[q(1)], t0), vec![q(1)]);
    }
}
