//! Which queues this consumer owns: RocketMQ's average allocation over the group's members
//! (clustering), every queue (broadcasting), and for orderly consumption only those whose
//! broker lock it holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::process_queue::ProcessQueue;
use super::pull::pull_loop;
use super::{Inner, Owned};
use crate::client::group::allocate_averagely;
use crate::client::message::MessageQueue;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode};

/// How long a rebalance waits for a given-up queue's running handler.
const ORDERLY_HANDOFF_WAIT: Duration = Duration::from_secs(10);

impl Inner {
    /// Takes this consumer's share of every subscribed topic's queues.
    pub(super) async fn rebalance(self: &Arc<Self>) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let mut wanted = BTreeSet::new();
        for topic in self.subscriptions.keys() {
            let Ok(info) = self.routes.subscribe_info(topic).await else {
                continue;
            };
            self.remember(&info);
            let mut queues = info.queues.clone();
            queues.sort();
            if self.cfg.broadcast_offsets.is_some() {
                wanted.extend(queues);
                continue;
            }
            let Some(addr) = info.masters.values().next() else {
                continue;
            };
            let Some(ids) = self.consumer_ids(addr).await else {
                continue;
            };
            wanted.extend(allocate_averagely(&queues, &ids, &self.client_id));
        }
        let (gone, new): (Vec<_>, Vec<_>) = {
            let owned = self.owned.lock();
            let gone = owned
                .keys()
                .filter(|q| !wanted.contains(*q))
                .cloned()
                .collect();
            let new = wanted
                .iter()
                .filter(|q| !owned.contains_key(*q))
                .cloned()
                .collect();
            (gone, new)
        };
        for q in gone {
            let removed = self.owned.lock().remove(&q);
            if let Some(o) = removed {
                o.give_up();
                // Orderly: the message being handled finishes before the lock is released,
                // or the next owner could run the following one at the same time. One that
                // takes too long keeps the lock until the broker expires it.
                let finished = tokio::time::timeout(ORDERLY_HANDOFF_WAIT, o.task)
                    .await
                    .is_ok();
                self.commit(&q, o.pq.commit_offset()).await;
                if self.cfg.orderly && finished {
                    self.lock_queues(RequestCode::UnlockBatchMq, std::slice::from_ref(&q))
                        .await;
                }
            }
        }
        // Orderly: only the queues whose broker lock this consumer got.
        let new = if self.cfg.orderly {
            self.lock_queues(RequestCode::LockBatchMq, &new).await
        } else {
            new
        };
        for q in new {
            let pq = Arc::new(ProcessQueue::new(self.start_offset(&q).await));
            let task = tokio::spawn(pull_loop(self.clone(), q.clone(), pq.clone()));
            self.owned.lock().insert(q, Owned { pq, task });
        }
    }

    /// LOCK_BATCH_MQ / UNLOCK_BATCH_MQ per broker; returns the queues locked (all, for an
    /// unlock).
    pub(super) async fn lock_queues(
        &self,
        code: RequestCode,
        queues: &[MessageQueue],
    ) -> Vec<MessageQueue> {
        let mut by_broker: BTreeMap<&str, Vec<&MessageQueue>> = BTreeMap::new();
        for q in queues {
            by_broker.entry(q.broker_name.as_str()).or_default().push(q);
        }
        let mut locked = Vec::new();
        for (broker, qs) in by_broker {
            let Some(addr) = self.master(broker) else {
                continue;
            };
            let set: Vec<_> = qs
                .iter()
                .map(|q| json!({"brokerName": q.broker_name, "queueId": q.queue_id, "topic": q.topic}))
                .collect();
            let body = json!({"consumerGroup": self.cfg.group, "clientId": self.client_id,
                "mqSet": set, "onlyThisBroker": false});
            let req = RemotingCommand::new_request(code, ExtFields::new())
                .with_body(body.to_string().into_bytes());
            let Ok(resp) = self.client.invoke(&addr, req, Duration::from_secs(3)).await else {
                continue;
            };
            if code == RequestCode::UnlockBatchMq {
                continue;
            }
            let ok: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
            let granted: BTreeSet<(String, i32)> = ok
                .get("lockOKMQSet")
                .and_then(|s| s.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|m| {
                            Some((
                                m.get("topic")?.as_str()?.to_string(),
                                i32::try_from(m.get("queueId")?.as_i64()?).ok()?,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            locked.extend(
                qs.into_iter()
                    .filter(|q| granted.contains(&(q.topic.clone(), q.queue_id)))
                    .cloned(),
            );
        }
        locked
    }

    /// Renews the locks of the owned queues (orderly); a queue whose lock went to another
    /// consumer is given up.
    pub(super) async fn renew_locks(self: &Arc<Self>) {
        if !self.cfg.orderly {
            return;
        }
        let owned: Vec<MessageQueue> = self.owned.lock().keys().cloned().collect();
        let kept: BTreeSet<MessageQueue> = self
            .lock_queues(RequestCode::LockBatchMq, &owned)
            .await
            .into_iter()
            .collect();
        for q in owned.into_iter().filter(|q| !kept.contains(q)) {
            let removed = self.owned.lock().remove(&q);
            if let Some(o) = removed {
                o.give_up();
            }
        }
    }
}
