//! Subscribe mode of the pull consumer (DefaultLitePullConsumer.subscribe): the consumer joins
//! its group with heartbeats (CONSUME_ACTIVELY), takes its share of each subscribed topic's
//! queues by RocketMQ's average allocation (so it can share a group with other clients), and
//! rebalances every 20 s and at once when the broker says the group changed. A queue it gives
//! up has its position committed first, so the next owner goes on from there.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Inner, PullConsumer};
use crate::client::error::ClientError;
use crate::client::group::{self, Subscription};
use crate::client::message::MessageQueue;
use crate::protocol::RequestCode;

const REBALANCE_EVERY: Duration = Duration::from_secs(20);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

impl PullConsumer {
    /// Joins the group for `topic`, filtered by a tag expression (`*`, `TagA || TagB`): from
    /// now on `poll` reads this consumer's share of the topic's queues, each from the group's
    /// committed offset (a group new to a queue starts at its end, as
    /// CONSUME_FROM_LAST_OFFSET). Not with `assign`.
    pub async fn subscribe(&self, topic: &str, tags: &str) -> Result<(), ClientError> {
        self.join(topic, Subscription::tags(tags)).await
    }

    /// Like `subscribe`, with a SQL92 property filter (the broker needs
    /// `enablePropertyFilter=true`).
    pub async fn subscribe_sql(&self, topic: &str, expression: &str) -> Result<(), ClientError> {
        self.join(topic, Subscription::sql(expression)).await
    }

    /// Subscribe mode: commits every position, leaves the group (its other members take the
    /// queues at once) and stops heartbeats. Assign mode: commits.
    pub async fn shutdown(&self) -> Result<(), ClientError> {
        let background = self.inner.background.lock().take();
        if let Some(task) = background {
            task.abort();
        }
        let committed = self.commit().await;
        if !self.inner.state.lock().subscriptions.is_empty() {
            for addr in self.masters().await {
                group::unregister(
                    &self.inner.client,
                    &addr,
                    &self.inner.client_id,
                    &self.inner.cfg.group,
                )
                .await;
            }
        }
        committed
    }

    async fn join(&self, topic: &str, sub: Subscription) -> Result<(), ClientError> {
        {
            let mut state = self.inner.state.lock();
            if state.subscriptions.is_empty() && !state.positions.is_empty() {
                return Err(ClientError::Config(
                    "this consumer has assigned queues: subscribe or assign, not both".into(),
                ));
            }
            state.subscriptions.insert(topic.to_string(), sub);
        }
        self.queues(topic).await?;
        heartbeat(&self.inner).await?;
        rebalance(&self.inner).await;
        let mut background = self.inner.background.lock();
        if background.is_none() {
            *background = Some(tokio::spawn(run(Arc::downgrade(&self.inner))));
        }
        Ok(())
    }

    /// The masters of the subscribed topics' brokers.
    async fn masters(&self) -> Vec<String> {
        self.inner.state.lock().masters.values().cloned().collect()
    }
}

async fn heartbeat(inner: &Arc<Inner>) -> Result<(), ClientError> {
    let (body, masters) = {
        let state = inner.state.lock();
        let body = group::heartbeat_body(
            &inner.client_id,
            &inner.cfg.group,
            true,
            "CLUSTERING",
            state.subscriptions.iter(),
        );
        (body, state.masters.values().cloned().collect::<Vec<_>>())
    };
    let mut result = Err(ClientError::NoRoute(inner.cfg.group.clone()));
    for addr in masters {
        match group::heartbeat(&inner.client, &addr, &body).await {
            Ok(()) => result = Ok(()),
            Err(e) if result.is_err() => result = Err(e),
            Err(e) => tracing::warn!(broker = %addr, error = %e, "heartbeat refused"),
        }
    }
    result
}

/// Takes this consumer's share of every subscribed topic; a queue given up has its position
/// committed, a new one starts at the group's committed offset.
async fn rebalance(inner: &Arc<Inner>) {
    let consumer = PullConsumer {
        inner: inner.clone(),
    };
    let topics: Vec<String> = inner.state.lock().subscriptions.keys().cloned().collect();
    let mut wanted = BTreeSet::new();
    for topic in topics {
        let Ok(info) = inner.routes.subscribe_info(&topic).await else {
            continue;
        };
        inner.state.lock().masters.extend(info.masters.clone());
        let mut queues = info.queues.clone();
        queues.sort();
        let Some(addr) = info.masters.values().next() else {
            continue;
        };
        let Some(ids) = group::consumer_ids(&inner.client, addr, &inner.cfg.group).await else {
            // Keep what it has rather than give everything up on one failed question.
            return;
        };
        wanted.extend(group::allocate_averagely(&queues, &ids, &inner.client_id));
    }
    let (gone, new): (Vec<(MessageQueue, i64)>, Vec<MessageQueue>) = {
        let state = inner.state.lock();
        let gone = state
            .positions
            .iter()
            .filter(|(q, _)| !wanted.contains(*q))
            .map(|(q, o)| (q.clone(), *o))
            .collect();
        let new = wanted
            .iter()
            .filter(|q| !state.positions.contains_key(*q))
            .cloned()
            .collect();
        (gone, new)
    };
    for (q, offset) in gone {
        inner.state.lock().positions.remove(&q);
        if let Err(e) = consumer.commit_one(&q, offset).await {
            tracing::warn!(queue = ?q, error = %e, "offset of a given-up queue not committed");
        }
    }
    for q in new {
        match consumer.start_offset(&q, RequestCode::GetMaxOffset).await {
            Ok(start) => {
                inner.state.lock().positions.insert(q, start);
            }
            Err(e) => tracing::warn!(queue = ?q, error = %e, "queue not taken; next rebalance"),
        }
    }
}

/// Heartbeats and rebalances until the consumer is dropped or shut down.
async fn run(inner: Weak<Inner>) {
    let mut rebalance_tick = tokio::time::interval(REBALANCE_EVERY);
    let mut heartbeat_tick = tokio::time::interval(HEARTBEAT_EVERY);
    let Some(notify) = inner.upgrade().map(|i| i.rebalance_now.clone()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = rebalance_tick.tick() => {}
            _ = notify.notified() => {}
            _ = heartbeat_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                let _ = heartbeat(&inner).await;
                continue;
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        rebalance(&inner).await;
    }
}
